"""The library service: a folder's clips, the store's results and the job queue, behind a few blocking calls. The
terminal app's one data source (the UI only reads it and sends commands); like memray's TUI, the App receives a
service object, so tests pass a fake (``tests/fake_backend.py``) or this one with the in-thread executor. Every method may block (SQLite, starting worker processes): the UI calls them
from thread workers only, and one lock serialises them (they share one SQLite connection)."""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from .folder import shared_findings, top_fix_text
from .media import iter_clips
from .service_state import ACTIVE, ClipRow, FinishedJob, JobView, LibraryState
from .store import Store, path_from_key, path_key

#: Seconds of finished jobs that the throughput (clips per minute) is averaged over.
THROUGHPUT_WINDOW_S = 120.0
#: Finished jobs the progress screen keeps listing (newest first) until the user clears them: a screenful.
RECENT_FINISHED_MAX = 20


def queue_eta_s(*, done_media_s: float, elapsed_s: float, remaining_media_s: float) -> float | None:
    """Seconds until the queue is done: the media seconds left at the rate measured in this run (media seconds
    analysed, finished clips plus the done part of running ones, per wall second since the run started; with
    several workers that rate already includes them). None before anything has been measured."""
    if done_media_s <= 0 or elapsed_s <= 0:
        return None
    return remaining_media_s * elapsed_s / done_media_s


def media_seconds(rows: dict, keys) -> dict[str, float]:
    """Each clip's duration in seconds (``rows``: path -> ClipRow), a clip not yet probed counted at the mean of
    the folder's known durations (1 each when none is known: the estimate then counts clips)."""
    known = [r.duration_s for r in rows.values() if r.duration_s]
    mean = sum(known) / len(known) if known else 1.0
    return {k: (rows[k].duration_s if k in rows and rows[k].duration_s else mean) for k in keys}


class FeatureNotAvailable(Exception):
    """A module this action needs (report export, URL ingest) is not part of this install yet."""


def top_finding(result, shared=()) -> str | None:
    """The clip's own top fix: its highest-ranked finding that is not folder-wide (``shared``, see
    ``engine.folder``); an info line when it has nothing else."""
    text = top_fix_text(result, shared)
    if text is None and result.findings:
        return result.findings[0].message
    return text


def row_from_result(path: str, name: str, size_bytes: int, result, shared=()) -> ClipRow:
    m, s = result.media, result.scores
    err = result.error or {}
    return ClipRow(
        path=path, name=name, size_bytes=size_bytes or (m.size_bytes if m else 0),
        duration_s=m.duration_s if m else None, width=m.width if m else 0, height=m.height if m else 0,
        status="done" if result.status == "ok" else "error",
        overall=s.overall if s else None,
        visual=s.modalities.get("visual") if s else None,
        audio=s.modalities.get("audio") if s else None,
        text=s.modalities.get("text") if s else None,
        tier=s.tier if s else None, category=s.category if s else None,
        top_finding=top_finding(result, shared),
        error=f"{err.get('kind')}: {err.get('message')}" if result.status == "error" else None,
        search_text=search_text(result),
    )


def search_text(result) -> str:
    """Everything the library's ``/`` search matches in a result besides the file name, lower-cased: category,
    tier, the caption, and every finding's code and message (not only the top one), and the error if any."""
    s = result.scores
    caption = (result.features.text.get("caption") if result.features else None) or ""
    parts = [s.category if s else None, s.tier if s else None, caption if isinstance(caption, str) else None]
    for f in result.findings:
        parts += [f.code, f.message]
    err = result.error or {}
    parts += [err.get("kind"), err.get("message")]
    return "\n".join(str(p) for p in parts if p).lower()


def with_synced(row: ClipRow, reading: dict | None) -> ClipRow:
    """The row with the clip's synced TikTok numbers (``byteme tiktok sync``), when it has any."""
    if not reading:
        return row
    return replace(row, views=reading.get("view_count"), likes=reading.get("like_count"))


def own_performance(rows: dict, path: str) -> dict | None:
    """How the creator's other synced clips whose overall score is near this clip's performed
    (``engine.tiktok.sync.similar_score_performance``); None when this clip has no score or none is near."""
    from engine.tiktok.sync import similar_score_performance

    me = rows.get(path)
    if me is None or me.overall is None:
        return None
    pairs = [(r.overall, {"view_count": r.views, "like_count": r.likes}) for k, r in rows.items()
             if k != path and r.overall is not None and r.views is not None]
    return similar_score_performance(pairs, me.overall)


def unreadable_text(path: Path, exc: BaseException) -> str:
    """"kind: message" for a file the library cannot read: the probe's own plain words (a dangling symlink is
    ``not_found``), else the OS error."""
    from .errors import MediaError
    from .media import probe

    if not isinstance(exc, MediaError):
        try:
            probe(path)
        except MediaError as media_error:
            exc = media_error
        except Exception:  # noqa: BLE001 - fall back to the error we have
            pass
    if isinstance(exc, MediaError):
        return f"{exc.kind}: {exc.message}"
    what = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
    return f"unreadable: {path.name} cannot be read ({what})."


def error_text(error) -> str | None:
    if not error:
        return None
    if isinstance(error, dict):
        return f"{error.get('kind', 'error')}: {error.get('message', '')}"
    return str(error)


class LibraryService:
    def __init__(self, folder: str | os.PathLike, *, store_path=None, config_path=None, preset: str | None = None,
                 model: str | None = None, workers: int = 2, executor: str = "local", thumbnail_dir=None):
        self.folder = Path(folder).expanduser().resolve()
        self.store_path = Path(store_path) if store_path else None
        self.config_path = config_path
        self.preset = preset
        self.model = model
        self.workers = workers
        self.executor = executor
        self.thumbnail_dir = Path(thumbnail_dir) if thumbnail_dir else None  # default: <data dir>/thumbnails
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._queue = None
        self._supervisor = None
        self._queue_error: str | None = None
        self._rows: dict[str, ClipRow] = {}
        self._problems: dict[str, str] = {}  # path key -> "kind: message" of a file that cannot be read or probed
        self._results: dict[str, object] = {}
        #: job id -> the newest provisional verdict of that running job (written by the supervisor's thread, read
        #: under ``_lock``; a dict assignment is atomic), dropped when the job is no longer running.
        self._provisional: dict[int, object] = {}
        self._shared: list = []  # engine.folder.SharedFinding: findings most scored clips share
        self._active: set[str] = set()
        self._finished_at: deque = deque()
        self._batch_finished = 0
        self._batch_started: float | None = None  # monotonic time the current run started
        self._batch_done_media_s = 0.0
        self._eta_s: float | None = None
        self._finished: tuple = ()
        self._version = 0
        if executor == "local":
            # Start multiprocessing's resource tracker now, while sys.stderr is the real one: inside the app,
            # Textual's print capture has fileno() == -1 and spawning the tracker then fails with
            # "bad value(s) in fds_to_keep". Worker processes started later reuse this tracker.
            from multiprocessing import resource_tracker

            resource_tracker.ensure_running()

    # -- set-up --------------------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.store_path)
            self.store_path = self._store.path
        return self._store

    @property
    def queue(self):
        if self._queue is None and self._queue_error is None:
            try:
                from .jobs import JobQueue
            except ImportError as exc:
                self._queue_error = f"the job queue is not available in this install ({exc})"
                return None
            self._queue = JobQueue(self.store.path)
        return self._queue

    def queue_problem(self) -> str | None:
        _ = self.queue
        return self._queue_error

    def _ensure_supervisor(self) -> None:
        if self.queue is None:
            return
        if self._supervisor is not None and self._supervisor.alive():
            return
        from .jobs import Supervisor

        self._supervisor = Supervisor(self.store.path, workers=self.workers, executor=self.executor,
                                      provisional=self._on_provisional)
        self._supervisor.start(wait_ready=False)  # worker processes start in the background

    def _on_provisional(self, job_id: int, result) -> None:
        """The supervisor's callback (its thread): keep the newest provisional verdict of a running job."""
        self._provisional[job_id] = result

    # -- reading -------------------------------------------------------------------------------------------
    def open(self) -> LibraryState:
        """Scan the folder and read what the store knows about each clip (fast with a warm store: no clip is
        hashed or probed here; a clip the store does not know shows as new)."""
        with self._lock:
            paths = list(iter_clips([self.folder]))
            known = self.store.known_files()
            rows: dict[str, ClipRow] = {}
            hash_of: dict[str, str] = {}
            self._problems = {}
            for p in paths:
                key = path_key(p)  # the key the store and the queue use for this file
                name = os.path.relpath(p.absolute(), self.folder)
                try:
                    st = p.stat()
                except OSError as exc:  # a dangling or looping symlink: listed, with why it cannot be read
                    self._problems[key] = unreadable_text(p, exc)
                    rows[key] = ClipRow(path=key, name=name, status="error", error=self._problems[key])
                    continue
                rows[key] = ClipRow(path=key, name=name, size_bytes=st.st_size)
                k = known.get(key)
                if k and k[0] and k[1] == st.st_size and k[2] == st.st_mtime_ns:
                    hash_of[key] = k[0]
            self._results = self.store.results_for(hash_of)
            self._shared = shared_findings(self._results.values())
            for key, result in self._results.items():
                rows[key] = row_from_result(key, rows[key].name, rows[key].size_bytes, result, self._shared)
            self._synced = self.store.readings_by_path()
            self._rows = {key: with_synced(row, self._synced.get(key)) for key, row in rows.items()}
            self._active = set()
            if self.queue is not None:
                if self.queue.jobs(states=["queued"]):
                    self._ensure_supervisor()
            return self._snapshot()

    def poll(self) -> LibraryState:
        """Merge the job queue's rows into the clip rows; re-read the results of jobs that just finished."""
        with self._lock:
            q = self.queue
            if q is None:
                return self._snapshot()
            jobs = q.jobs()
            sup = self._supervisor
            self._problem = f"the job runner stopped: {sup.error}" if sup is not None and sup.error else None
            latest: dict[str, object] = {}
            for j in sorted(jobs, key=lambda j: j.id):
                latest[self._key(j.path)] = j
            now_active = {k for k, j in latest.items() if j.state in ACTIVE}
            if now_active and not self._active:
                self._batch_finished = 0
                self._batch_started = time.monotonic()
                self._batch_done_media_s = 0.0
            finished = self._active - now_active
            if finished:
                self._batch_finished += len(finished)
                t = time.monotonic()
                self._finished_at.extend([t] * len(finished))
                self._batch_done_media_s += sum(media_seconds(self._rows, finished).values())
                self._reload(finished)
            self._active = now_active
            running = {j.id for j in latest.values() if j.state == "running"}
            for job_id in [i for i in self._provisional if i not in running]:
                self._provisional.pop(job_id, None)  # its job is done, failed or cancelled: the final row stands
            rows = dict(self._rows)
            for key, row in self._rows.items():
                j = latest.get(key)
                base = self._base_row(key)
                if j is None:
                    rows[key] = base
                elif j.state in ACTIVE:
                    early = self._provisional.get(j.id) if j.state == "running" else None
                    if early is not None:  # its scores so far, marked provisional
                        base = replace(row_from_result(key, base.name, base.size_bytes, early, self._shared),
                                       provisional=True)
                    rows[key] = replace(base, status=j.state, stage=j.stage, fraction=j.fraction, job_id=j.id)
                elif j.state == "failed":
                    rows[key] = replace(base, status="failed", error=error_text(j.error), job_id=j.id)
                elif j.state == "cancelled" and key not in self._results:
                    rows[key] = replace(base, status="cancelled", job_id=j.id)
                else:
                    rows[key] = base
            self._rows = rows
            self._jobs = tuple(
                JobView(id=j.id, path=k, name=os.path.relpath(k, self.folder) if k.startswith(str(self.folder)) else k,
                        state=j.state, stage=j.stage, fraction=j.fraction or 0.0, fps=j.fps, eta_s=j.eta_s,
                        attempt=j.attempt, max_attempts=j.max_attempts, error=error_text(j.error))
                for k, j in latest.items() if j.state in ("queued", "running", "failed"))
            self._finished = self._finished_jobs(jobs)
            self._eta_s = self._queue_eta(latest, now_active)
            return self._snapshot()

    def _finished_jobs(self, jobs) -> tuple:
        out = []
        for j in jobs:  # finished ones newest first (the queue's display order)
            if j.state not in ("done", "failed", "cancelled"):
                continue
            key = self._key(j.path)
            r = self._results.get(key) if j.state == "done" else None
            took = j.finished_at - j.started_at if j.finished_at and j.started_at else None
            out.append(FinishedJob(
                id=j.id, path=key, name=self._rows[key].name if key in self._rows else os.path.basename(key),
                state=j.state, overall=r.scores.overall if r is not None and r.scores else None,
                tier=r.scores.tier if r is not None and r.scores else None, took_s=took, error=error_text(j.error)))
            if len(out) >= RECENT_FINISHED_MAX:
                break
        return tuple(out)

    def _queue_eta(self, latest: dict, active: set) -> float | None:
        if not active or self._batch_started is None:
            return None
        done = self._batch_done_media_s
        remaining = 0.0
        for k, m in media_seconds(self._rows, active).items():
            f = (latest[k].fraction or 0.0) if latest[k].state == "running" else 0.0
            done += f * m
            remaining += (1.0 - f) * m
        return queue_eta_s(done_media_s=done, elapsed_s=time.monotonic() - self._batch_started,
                           remaining_media_s=remaining)

    def _key(self, path: str) -> str:
        return path if path in self._rows else path_key(path)

    def _base_row(self, key: str) -> ClipRow:
        old = self._rows[key]
        r = self._results.get(key)
        synced = getattr(self, "_synced", {}).get(key)
        if r is None:
            problem = self._problems.get(key)  # a file that cannot be read or probed stays shown as such
            return with_synced(ClipRow(path=key, name=old.name, size_bytes=old.size_bytes, duration_s=old.duration_s,
                                       width=old.width, height=old.height, status="error" if problem else "new",
                                       error=problem), synced)
        return with_synced(row_from_result(key, old.name, old.size_bytes, r, self._shared), synced)

    def _reload(self, keys) -> None:
        hash_of = {key: h for key in keys if (h := self.store.content_hash_of(key))}
        self._results.update(self.store.results_for(hash_of))
        self._shared = shared_findings(self._results.values())

    def _snapshot(self) -> LibraryState:
        self._version += 1
        now = time.monotonic()
        while self._finished_at and now - self._finished_at[0] > THROUGHPUT_WINDOW_S:
            self._finished_at.popleft()
        rate = None
        if len(self._finished_at) >= 2:
            span = max(now - self._finished_at[0], 1.0)
            rate = 60.0 * len(self._finished_at) / span
        jobs = getattr(self, "_jobs", ())
        active = sum(1 for j in jobs if j.state in ACTIVE)
        return LibraryState(
            folder=str(self.folder), rows=dict(self._rows), jobs=jobs,
            batch_total=self._batch_finished + active, batch_finished=self._batch_finished,
            throughput_per_min=rate, eta_s=self._eta_s, finished=self._finished, paused=bool(self._queue and self._queue.is_paused()),
            queue_available=self._queue_error is None, problem=getattr(self, "_problem", None) or self._queue_error,
            shared_findings=tuple(self._shared), version=self._version)

    def result(self, path: str):
        with self._lock:
            return self._results.get(path)

    def provisional(self, path: str):
        """The newest provisional verdict (a ``ClipResult`` with status "provisional") of the clip's running job, as
        of the last ``poll``; None when it is not running or has none yet."""
        with self._lock:
            row = self._rows.get(path)
            if row is None or row.status != "running" or row.job_id is None:
                return None
            return self._provisional.get(row.job_id)

    def thumbnail(self, path: str, t_s: float | None = None) -> tuple[bytes, float] | None:
        """A small JPEG of the scored clip's frame at ``t_s`` seconds (None: the representative frame) and the time
        it shows; None when the clip has no picture or cannot be read now. One seek and at most a group of pictures
        decoded, then cached on disk (``engine.thumbnails``); never the whole clip again. Runs without the lock:
        it reads only the file."""
        from .errors import BytemeError
        from .thumbnails import ThumbnailCache, representative_time_s

        result = self.result(path)
        if result is None or result.media is None or not result.media.has_video:
            return None
        t = representative_time_s(result) if t_s is None else max(0.0, float(t_s))
        if self.thumbnail_dir is None:
            from .paths import data_dir

            self.thumbnail_dir = data_dir() / "thumbnails"
        try:
            return ThumbnailCache(self.thumbnail_dir).picture(path, t, key=result.content_hash), t
        except (BytemeError, OSError):
            return None  # moved, deleted or damaged since it was scored: the breakdown shows no picture

    def own_performance(self, path: str) -> dict | None:
        """How this creator's own synced clips with an overall score within 10 points of this one's performed."""
        with self._lock:
            return own_performance(dict(self._rows), path)

    def folder_medians(self) -> dict:
        """Median score of each modality (and overall) over the folder's scored clips."""
        import statistics

        with self._lock:
            rows = list(self._rows.values())
        out = {}
        for m in ("overall", "visual", "audio", "text"):
            vals = [getattr(r, m) for r in rows if getattr(r, m) is not None]
            out[m] = statistics.median(vals) if vals else None
        return out

    def probe_missing(self, limit: int = 50) -> int:
        """Read duration and size of up to ``limit`` unscored clips from their headers (no decoding)."""
        from .media import probe

        with self._lock:
            todo = [r for r in self._rows.values() if r.duration_s is None and r.status != "error"][:limit]
        done, failed = {}, {}
        for r in todo:
            try:
                info = probe(path_from_key(r.path))
                done[r.path] = (info.duration_s, info.width, info.height)
            except Exception as exc:  # noqa: BLE001 - shown on the row (it would never leave "new" otherwise)
                done[r.path] = (0.0, 0, 0)
                failed[r.path] = unreadable_text(path_from_key(r.path), exc)
        with self._lock:
            for key, (d, w, h) in done.items():
                if key in self._rows:
                    self._rows[key] = replace(self._rows[key], duration_s=d, width=w, height=h)
                    if key in failed and self._rows[key].status == "new":
                        self._problems[key] = failed[key]
                        self._rows[key] = replace(self._rows[key], status="error", error=failed[key])
        return len(done)

    # -- commands ------------------------------------------------------------------------------------------
    def enqueue(self, paths: list[str], *, force: bool = False) -> int:
        with self._lock:
            if self.queue is None:
                raise FeatureNotAvailable(self._queue_error)
            before = max((j.id for j in self.queue.jobs()), default=0)
            ids = self.queue.enqueue(list(paths), config_path=self.config_path, preset=self.preset, force=force,
                                     model_name=self.model)
            self._ensure_supervisor()
            return sum(1 for i in ids if i > before)  # the others were already queued or scored

    def cancel(self, paths: list[str]) -> int:
        with self._lock:
            if self.queue is None:
                return 0
            wanted = set(paths)
            ids = [j.id for j in self.queue.jobs(states=list(ACTIVE)) if self._key(j.path) in wanted]
            if ids:
                self.queue.cancel(ids)
            return len(ids)

    def cancel_all(self) -> int:
        with self._lock:
            return self.queue.cancel_all() or 0 if self.queue is not None else 0

    def retry_failed(self) -> int:
        with self._lock:
            if self.queue is None:
                return 0
            n = self.queue.retry_failed() or 0
            self._ensure_supervisor()
            return n

    def toggle_pause(self) -> bool:
        with self._lock:
            if self.queue is None:
                return False
            if self.queue.is_paused():
                self.queue.resume()
                return False
            self.queue.pause()
            return True

    def move_to_front(self, job_id: int) -> None:
        with self._lock:
            if self.queue is not None:
                self.queue.move_to_front(job_id)

    def clear_finished(self) -> None:
        with self._lock:
            if self.queue is not None:
                self.queue.clear_finished()

    def has_running(self) -> bool:
        with self._lock:
            return self.queue is not None and bool(self.queue.jobs(states=list(ACTIVE)))

    def shutdown(self, *, cancel_jobs: bool) -> None:
        """Stop the workers. ``cancel_jobs``: cancel every queued and running job; otherwise they stay queued in
        the store and run the next time the app (or ``byteme score``) starts the queue."""
        with self._lock:
            if cancel_jobs and self.queue is not None:
                self.queue.cancel_all()
            if self._supervisor is not None:
                # timeout 0: running jobs stop now and go back to the queue with their attempt given back
                self._supervisor.stop(cancel_running=cancel_jobs, timeout=0.0)
                self._supervisor = None
            if self._queue is not None:
                self._queue.close()
                self._queue = None
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- config --------------------------------------------------------------------------------------------
    def config(self) -> dict:
        from .services import active_config

        return active_config(self.config_path, self.preset)

    def config_sources(self) -> dict[tuple, str]:
        """Where each value of ``config()`` came from, by key path (``engine.config.explain_sources``)."""
        from .config import explain_sources

        return explain_sources(self.config_path, preset=self.preset)

    def save_setting(self, keys: tuple, value) -> tuple[object, str | None]:
        """Write one value into the user's config file; (the file, a caveat or None). The caveat says when this
        session reads a ``--config`` file instead, so the user file does not change what is scored here."""
        from .config import save_user_setting

        path, backup = save_user_setting(tuple(keys), value)
        caveats = [f"its comments are not kept: the old file is {backup}" if backup else None,
                   f"this session reads --config {self.config_path} instead, so it applies when BYTEME runs without "
                   "--config" if self.config_path else None]
        return path, "; ".join(c for c in caveats if c) or None

    def set_preset(self, preset: str | None) -> None:
        self.preset = preset or None

    def set_model(self, model: str | None) -> None:
        self.model = model or None

    # -- optional features ---------------------------------------------------------------------------------
    def export_report(self, dest: Path) -> tuple[Path, int]:
        """Write the HTML report of the folder's scored clips into the folder ``dest``; (index.html, clips)."""
        try:
            from . import report
        except ImportError as exc:
            raise FeatureNotAvailable("Report export is not available in this install (engine.report is missing).") from exc
        with self._lock:
            results = [self._results[k] for k in self._rows if k in self._results]
        if not results:
            raise FeatureNotAvailable("No clip in this folder has a score yet: score some (a) before exporting.")
        return report.write_report(results, dest, "html", self.config(), roots=report.report_roots([self.folder])), \
            len(results)

    def fetch_urls(self, urls: list[str], *, progress=None, cancel: threading.Event | None = None) -> list:
        try:
            from . import ingest
        except ImportError as exc:
            raise FeatureNotAvailable("Adding URLs is not available yet (engine.ingest is missing).") from exc
        return ingest.fetch(urls, to_dir=self.folder, progress=progress, cancel=cancel)

    def describe(self) -> dict:
        return {"store": str(self.store_path or ""), "executor": self.executor, "workers": self.workers,
                "queue": self._queue_error or "ready"}

