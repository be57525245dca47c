"""The supervisor: claims jobs from the store, runs them on an executor, writes what happens back to the store.

It runs in a thread of the process that starts it (the TUI, ``byteme score --workers N``, ``byteme watch``) and
owns one store connection. Per claimed job it:

- skips the work when the store already holds the result (same content hash, engine, model and config), or scores
  from cached features without decoding (unless the job was queued with ``force``);
- otherwise submits a ``JobSpec`` to the executor and writes its progress to the job row, batched to about four
  writes a second;
- renews the job's lease every ``LEASE_RENEW_S`` and, if the renewal finds the job no longer its own (cancelled,
  or taken over after a stall), stops it: a cancelled job stops within about a second through the ``cancel``
  Event passed to ``analyze``, and is killed if it has not stopped after ``CANCEL_GRACE_S``;
- writes the result and the job's ``done`` in one transaction, only while it still owns the job (idempotent: the
  result row's key is content hash + the clip's path + engine version + model + config hash);
- on a lost worker, queues the job again until its attempts are used up, then fails it in plain words; a clip that
  simply cannot be read fails at once (no retry);
- stops a clip that runs longer than ``[engine] clip_timeout_s``.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..config import feature_settings_hash
from ..errors import BytemeError
from ..sidecars import fingerprint as sidecar_fingerprint
from ..library import cached_features, judge, provisional_result
from ..store import Store, path_from_key, write_tx
from .executors import Executor, default_workers, make_executor
from .queue import (LEASE_RENEW_S, LEASE_S, JobQueue, JobRow, claim, ensure_schema, expire_dead_owners, host_name,
                    work_available)
from .worker import JobEvent, JobSpec, ModelCache

#: Seconds between two progress writes of one job (about four a second, like the pipeline's own batching).
PROGRESS_WRITE_S = 0.25
#: Seconds between two looks at the in-flight jobs' rows (to see a cancel): well under the one-second promise.
CANCEL_POLL_S = 0.2
#: Seconds a job gets to stop on its cancel Event before its worker is killed.
CANCEL_GRACE_S = 1.0
#: Seconds between two looks for dead owners (another supervisor on this host that was killed).
REAP_S = 5.0
#: Seconds between two claim attempts while the queue holds nothing claimable. A job's final event (a worker is
#: free) makes the next pass claim at once, so this only paces the look for newly queued work.
IDLE_CLAIM_S = 0.2
#: Seconds an executor's events() call may block.
EVENT_WAIT_S = 0.05


@dataclass
class _InFlight:
    job: JobRow
    cfg_hash: str
    chash: str | None
    started: float
    timeout_s: float
    last_seq: int = 0
    pending: dict | None = None  # the newest progress not yet written
    last_write: float = 0.0
    cancel_sent_at: float | None = None
    killed: bool = False


class Supervisor:
    """Runs jobs from the store at ``store_path`` until stopped. ``executor``: "local" | "thread" | "ray"."""

    def __init__(
        self,
        store_path: str | os.PathLike | None = None,
        *,
        workers: int = 2,
        executor: str | None = "local",
        ray_address: str | None = None,
        lease_s: float = LEASE_S,
        provisional=None,
    ):
        """``provisional``: ``(job id, ClipResult) -> None``, given the provisional verdicts of the running jobs
        (``library.provisional_result`` of the workers' snapshots, scored here); None: the workers send none."""
        self.store_path = Path(store_path) if store_path else Store().path
        self.executor_kind = executor or "local"
        self.workers = int(workers) if workers else 0
        self.ray_address = ray_address
        self.lease_s = lease_s
        self.owner = f"{host_name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.error: BaseException | None = None
        self.executor: Executor | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cancel_running = False
        self._drain_timeout = 0.0
        self._ready = threading.Event()
        self._inflight: dict[int, _InFlight] = {}
        self._configs: dict[str, dict] = {}
        self._models = ModelCache()
        self.provisional = provisional

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, *, wait_ready: bool = True, timeout: float = 120.0) -> "Supervisor":
        if self.executor_kind == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                raise BytemeError("The Ray executor needs the optional extra: pip install 'byteme[ray]'.",
                                  kind="usage") from None
        self._thread = threading.Thread(target=self._main, name="byteme-supervisor", daemon=True)
        self._thread.start()
        if wait_ready:
            self._ready.wait(timeout)
            if self.error is not None:
                raise self.error
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, cancel_running: bool = False, timeout: float = 10.0) -> None:
        """Stop claiming. Running jobs get ``timeout`` seconds to finish; then (or at once with ``cancel_running``,
        which marks them cancelled) they are stopped. Jobs stopped without ``cancel_running`` go back to the queue
        with their attempt given back, so the next supervisor picks them up."""
        self._cancel_running = cancel_running
        self._drain_timeout = 0.0 if cancel_running else max(0.0, timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._drain_timeout + CANCEL_GRACE_S + 15.0)

    # -- the loop -------------------------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self.store = Store(self.store_path)
            self.conn = self.store.conn
            self.conn.row_factory = sqlite3.Row
            ensure_schema(self.conn)
            workers = self.workers or (0 if self.executor_kind == "ray" else default_workers())
            self.executor = make_executor(self.executor_kind, workers, ray_address=self.ray_address)
        except BaseException as exc:
            self.error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        except BaseException as exc:  # keep the reason for alive()/run_paths; the rows recover through leases
            self.error = exc
        finally:
            try:
                self._release_all()
            finally:
                self.executor.shutdown()
                self.store.close()

    def _loop(self) -> None:
        next_claim = next_cancel_poll = next_renew = next_reap = 0.0
        drain_deadline = None
        while True:
            now = time.monotonic()
            if self._stop.is_set():
                if drain_deadline is None:
                    drain_deadline = now + self._drain_timeout
                    if self._cancel_running:
                        self._cancel_inflight_as_user()
                if not self._inflight or now >= drain_deadline:
                    return
            elif now >= next_claim:
                if now >= next_reap:
                    expire_dead_owners(self.conn)
                    next_reap = now + REAP_S
                claimed = self._claim_some()
                next_claim = now if claimed else now + IDLE_CLAIM_S
            for ev in self.executor.events(EVENT_WAIT_S):
                self._on_event(ev)
                if ev.final:
                    next_claim = 0.0  # a worker is free: claim the next job now, not after IDLE_CLAIM_S
            now = time.monotonic()
            self._flush_progress(now)
            if now >= next_cancel_poll:
                self._check_cancels_and_timeouts(now)
                next_cancel_poll = now + CANCEL_POLL_S
            if now >= next_renew:
                self._renew_leases()
                next_renew = now + LEASE_RENEW_S

    def _claim_some(self) -> bool:
        claimed = False
        while self.executor.capacity() > 0 and not self._stop.is_set():
            if not work_available(self.conn, time.time()):
                break
            job = claim(self.conn, self.owner, self.lease_s)
            if job is None:
                break
            claimed = True
            self._start_job(job)
        return claimed

    def _config(self, chash_cfg: str) -> dict:
        if chash_cfg not in self._configs:
            row = self.conn.execute("SELECT config FROM job_configs WHERE config_hash=?", (chash_cfg,)).fetchone()
            if row is None:
                raise BytemeError("The job's configuration is missing from the store.", kind="internal")
            self._configs[chash_cfg] = json.loads(row[0])
        return self._configs[chash_cfg]

    def _start_job(self, job: JobRow) -> None:
        try:
            cfg = self._config(job.config_hash)
        except BytemeError as exc:
            self._finish_failed(job, exc.as_dict())
            return
        chash = None
        try:
            chash = self.store.hash_for(path_from_key(job.path))
        except OSError:
            pass  # the worker's analysis reports the file in plain words
        try:
            if chash and not job.force and self._finish_from_cache(job, cfg, chash):
                return
        except BytemeError as exc:  # e.g. the named model is not installed: the same on every attempt
            self._finish_failed(job, exc.as_dict())
            return
        timeout_s = float(cfg["engine"]["clip_timeout_s"])  # checked by engine.config: above 0
        self._inflight[job.id] = _InFlight(job, job.config_hash, chash, time.monotonic(), timeout_s)
        spec = JobSpec(job.id, job.attempt, str(path_from_key(job.path)), cfg, job.model_name, dict(job.options or {}),
                       provisional=self.provisional is not None)
        label = self.executor.submit(spec)
        self._write(
            "UPDATE jobs SET worker=?, updated_at=? WHERE id=? AND owner=? AND state='running'",
            (label, time.time(), job.id, self.owner),
        )
        try:  # load the scorer here while the worker decodes (once per model): the result then waits for nothing
            self._models.get(job.model_name, cfg)
        except BytemeError:
            pass  # said in plain words when the result comes back and the model is needed

    def _finish_from_cache(self, job: JobRow, cfg: dict, chash: str) -> bool:
        """Done without analysis when the store has the clip's features (keyed by its sidecars too: no shortcut
        through a stored result, whose caption may have been edited since); scoring them costs milliseconds."""
        _, _, cached = cached_features(self.store, path_from_key(job.path), job.options, cfg)
        if cached is None:
            return False
        info, fv = cached
        info.path = job.path
        result = self._score(job, info, fv, cfg, chash, self._models.get(job.model_name, cfg))
        result.cached = True
        self._finish_done(job, result, chash, result.scores.model, cached=True)
        return True

    def _score(self, job: JobRow, info, fv, cfg: dict, chash: str, model):
        """``library.judge`` here where the store is: the library-wide parts (originality against every indexed
        clip) need it, a worker never opens the store, and only this process loads the learned model."""
        return judge(job.path, info, fv, cfg, model=model, store=self.store, content_hash=chash)

    # -- events ---------------------------------------------------------------------------------------------
    def _on_event(self, ev: JobEvent) -> None:
        fl = self._inflight.get(ev.job_id)
        if fl is None or fl.job.attempt != ev.attempt or ev.seq <= fl.last_seq:
            return  # a job we gave up (killed, cancelled, taken over) or a stale attempt
        fl.last_seq = ev.seq
        if ev.kind == "progress":
            fl.pending = {"stage": ev.stage, "fraction": ev.fraction, "fps": ev.fps, "eta_s": ev.eta_s}
            return
        if ev.kind == "provisional":
            if self.provisional is not None:
                try:  # a provisional verdict that cannot be made is not made; the job goes on
                    cfg = self._config(fl.job.config_hash)
                    r = provisional_result(fl.job.path, ev.result, cfg,
                                           model=self._models.get(fl.job.model_name, cfg))
                    self.provisional(fl.job.id, r)
                except Exception:
                    pass
            return
        del self._inflight[ev.job_id]
        job = fl.job
        if ev.kind == "result":
            r = ev.result
            if r.status == "ok":
                chash = fl.chash
                if chash is None:
                    try:
                        chash = self.store.hash_for(path_from_key(job.path))
                    except OSError as exc:
                        self._finish_failed(job, {"kind": "not_found",
                                                  "message": f"{Path(job.path).name} disappeared: {exc.strerror}."})
                        return
                cfg = self._config(job.config_hash)
                self.store.put_features(chash, r.media, r.features, job.options,
                                        sidecar_fingerprint(path_from_key(job.path)),
                                        feature_settings_hash(cfg))  # the decode cache
                elapsed_s = r.elapsed_s
                try:
                    r = self._score(job, r.media, r.features, cfg, chash, self._models.get(job.model_name, cfg))
                except BytemeError as exc:  # e.g. the named model is not installed: the same on every attempt
                    self._finish_failed(job, exc.as_dict())
                    return
                r.elapsed_s = elapsed_s
                self._finish_done(job, r, chash, r.scores.model)
            else:
                self._finish_failed(job, r.error)
        elif ev.kind == "error":
            self._finish_failed(job, {"kind": ev.stage or "internal", "message": ev.message})
        elif ev.kind == "cancelled":
            if fl.killed:
                return
            # cancelled by the user (the row already says so) or by our own stop(): then it goes back to the queue
            self._release(job)
        elif ev.kind == "lost":
            if fl.killed:
                return
            self._on_lost(job, ev.message)

    def _on_lost(self, job: JobRow, how: str | None) -> None:
        name = Path(job.path).name
        now = time.time()
        if job.attempt >= job.max_attempts:
            times = "once" if job.attempt == 1 else f"{job.attempt} times"
            self._finish_failed(job, {
                "kind": "worker_crashed",
                "message": f"Analysing {name} made the worker process stop unexpectedly {times} ({how or 'no reason given'}"
                           f"); the file may be damaged or trip a decoder bug. The other clips are not affected.",
            })
            return
        self._write(
            "UPDATE jobs SET state='queued', owner=NULL, worker=NULL, lease_expires_at=NULL, stage='retrying',"
            " fraction=0, fps=NULL, eta_s=NULL, updated_at=? WHERE id=? AND owner=? AND state='running'",
            (now, job.id, self.owner),
        )

    def _finish_done(self, job: JobRow, result, chash: str, model_str: str, *, cached: bool = False) -> None:
        now = time.time()
        with write_tx(self.conn):
            owned = self.conn.execute(
                "UPDATE jobs SET state='done', stage='done', fraction=1, eta_s=0, finished_at=?, updated_at=?,"
                " lease_expires_at=NULL, content_hash=?, result_model=?, error=NULL"
                " WHERE id=? AND owner=? AND attempt=? AND state='running' RETURNING id",
                (now, now, chash, model_str, job.id, self.owner, job.attempt),
            ).fetchone()
            if owned is not None and result is not None:
                self.store.put_result(result, model_str, job.config_hash, conn=self.conn, path=job.path)
        if owned is not None:
            self.store.set_error(Path(job.path), None)

    def _finish_failed(self, job: JobRow, error: dict | None) -> None:
        now = time.time()
        error = error or {"kind": "internal", "message": "The analysis failed without saying why."}
        with write_tx(self.conn):
            owned = self.conn.execute(
                "UPDATE jobs SET state='failed', finished_at=?, updated_at=?, lease_expires_at=NULL, error=?"
                " WHERE id=? AND owner=? AND attempt=? AND state='running' RETURNING id",
                (now, now, json.dumps(error), job.id, self.owner, job.attempt),
            ).fetchone()
        if owned is not None:
            try:
                self.store.set_error(Path(job.path), error)
            except sqlite3.Error:
                pass

    def _release(self, job: JobRow) -> None:
        """Back to the queue, attempt given back (a stop is not the clip's fault). No-op if it is not ours."""
        self._write(
            "UPDATE jobs SET state='queued', attempt=MAX(0, attempt-1), owner=NULL, worker=NULL,"
            " lease_expires_at=NULL, stage=NULL, fraction=0, fps=NULL, eta_s=NULL, updated_at=?"
            " WHERE id=? AND owner=? AND attempt=? AND state='running'",
            (time.time(), job.id, self.owner, job.attempt),
        )

    def _release_all(self) -> None:
        for fl in list(self._inflight.values()):
            self.executor.cancel(fl.job.id, hard=True)
            try:
                self._release(fl.job)
            except sqlite3.Error:
                pass  # the lease runs out instead
        self._inflight.clear()

    def _cancel_inflight_as_user(self) -> None:
        ids = list(self._inflight)
        if ids:
            now = time.time()
            self._write(
                f"UPDATE jobs SET state='cancelled', finished_at=?, updated_at=?, lease_expires_at=NULL"
                f" WHERE state='running' AND owner=? AND id IN ({','.join('?' * len(ids))})",
                (now, now, self.owner, *ids),
            )
        for job_id in ids:
            self.executor.cancel(job_id)

    # -- periodic -------------------------------------------------------------------------------------------
    def _flush_progress(self, now: float) -> None:
        rows = []
        for fl in self._inflight.values():
            if fl.pending is not None and now - fl.last_write >= PROGRESS_WRITE_S:
                p = fl.pending
                rows.append((p["stage"], p["fraction"], p["fps"], p["eta_s"], time.time(), fl.job.id, self.owner))
                fl.pending, fl.last_write = None, now
        if rows:
            with write_tx(self.conn):
                self.conn.executemany(
                    "UPDATE jobs SET stage=?, fraction=?, fps=?, eta_s=?, updated_at=?"
                    " WHERE id=? AND owner=? AND state='running'", rows)

    def _check_cancels_and_timeouts(self, now: float) -> None:
        if not self._inflight:
            return
        ids = list(self._inflight)
        rows = self.conn.execute(
            f"SELECT id, state, owner, attempt FROM jobs WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        current = {r["id"]: r for r in rows}
        for job_id in ids:
            fl = self._inflight[job_id]
            row = current.get(job_id)
            ours = row is not None and row["state"] == "running" and row["owner"] == self.owner \
                and row["attempt"] == fl.job.attempt
            if not ours:
                # cancelled by the user, deleted, or taken over: stop it, and kill it if it does not stop
                if fl.cancel_sent_at is None:
                    fl.cancel_sent_at = now
                    self.executor.cancel(job_id)
                elif now - fl.cancel_sent_at >= CANCEL_GRACE_S:
                    fl.killed = True
                    self.executor.cancel(job_id, hard=True)
                    del self._inflight[job_id]
            elif now - fl.started > fl.timeout_s:
                fl.killed = True
                self.executor.cancel(job_id, hard=True)
                del self._inflight[job_id]
                self._finish_failed(fl.job, {
                    "kind": "timeout",
                    "message": f"{Path(fl.job.path).name} took longer than {fl.timeout_s:g} s to analyse and was "
                               f"stopped ([engine] clip_timeout_s in the config sets the limit).",
                })

    def _renew_leases(self) -> None:
        ids = list(self._inflight)
        if not ids:
            return
        with write_tx(self.conn):
            self.conn.execute(
                f"UPDATE jobs SET lease_expires_at=? WHERE owner=? AND state='running'"
                f" AND id IN ({','.join('?' * len(ids))})",
                (time.time() + self.lease_s, self.owner, *ids),
            )
        # jobs that were not renewed are no longer ours: _check_cancels_and_timeouts stops them

    def _write(self, sql: str, args: tuple) -> None:
        with write_tx(self.conn):
            self.conn.execute(sql, args)


# -- byteme score --workers N -------------------------------------------------------------------------------------

#: Seconds between two looks at the store while waiting for a clip's job.
RESULT_POLL_S = 0.05


def run_paths(
    paths,
    cfg: dict,
    *,
    store=None,
    workers: int = 0,
    executor: str | None = None,
    ray_address: str | None = None,
    use_cache: bool = True,
    options: dict | None = None,
    model_name: str | None = None,
    provisional: bool = False,
) -> Iterator:
    """Queue ``paths`` in the store, run a supervisor on it, and return an iterator of ClipResults in INPUT order,
    read back from the store. Jobs another process (the TUI) already queued or runs for the same clips are joined,
    not repeated; finished, unchanged clips are not recomputed. Interrupting (Ctrl-C) puts running jobs back in the
    queue: the next run continues from there. With ``provisional``, each clip's provisional verdicts (ClipResults
    with status "provisional", scored by the supervisor from its worker's snapshots) come before its final result;
    a clip whose job another process runs has none.
    """
    from ..result import ClipResult

    store_path = store.path if store is not None else None
    queue = JobQueue(store_path)
    if queue.is_paused():
        queue.close()
        raise BytemeError(
            "The job queue in this store is paused (from the terminal app). Resume it there, or score without "
            "--workers.", kind="usage")
    paths = [Path(p) for p in paths]
    ids = queue.enqueue(paths, options=options, config=cfg, force=not use_cache, model_name=model_name)
    if len(ids) != len(paths):  # enqueue walks folders; cmd_score passes files, so this means a bug
        raise BytemeError("Some clips could not be queued.", kind="internal")
    early: dict[int, list] = {}  # job id -> provisional verdicts not yet handed out
    early_lock = threading.Lock()

    def keep(job_id: int, r) -> None:
        with early_lock:
            early.setdefault(job_id, []).append(r)

    def take(job_id: int) -> list:
        with early_lock:
            return early.pop(job_id, [])

    sup = Supervisor(queue.path, workers=workers, executor=executor or "local", ray_address=ray_address,
                     provisional=keep if provisional else None)
    sup.start()

    def results() -> Iterator[ClipResult]:
        try:
            for path, job_id in zip(paths, ids):
                while True:
                    for r in take(job_id):
                        r.path = str(path)
                        yield r
                    job = queue.job(job_id)
                    if job is None:
                        yield ClipResult.failed(str(path), "cancelled", "Its job was removed from the queue.")
                        break
                    if job.state == "done":
                        take(job_id)  # a provisional verdict that came too late for its clip's final
                        r = queue.result(job_id)
                        if r is None:
                            r = ClipResult.failed(str(path), "internal", "The job finished but its result is missing.")
                        r.path = str(path)
                        yield r
                        break
                    if job.state == "failed":
                        err = job.error or {"kind": "internal", "message": "failed"}
                        yield ClipResult.failed(str(path), err.get("kind", "internal"), err.get("message", ""))
                        break
                    if job.state == "cancelled":
                        yield ClipResult.failed(str(path), "cancelled", "Cancelled before it finished.")
                        break
                    if not sup.alive():
                        raise _plain(sup.error, queue.path)
                    time.sleep(RESULT_POLL_S)
        finally:
            sup.stop(cancel_running=False, timeout=0)
            queue.close()

    return results()


def _plain(error: BaseException | None, store_path) -> BaseException:
    """Why the supervisor stopped, for the user: a store or disk failure (a full disk, a damaged store) as a plain
    ``StoreError`` naming the store; our own errors as they are."""
    if error is None:
        return BytemeError("The job supervisor stopped unexpectedly.", kind="internal")
    if isinstance(error, (OSError, sqlite3.Error)):
        from ..store import store_error

        return store_error(store_path, error)
    return error

