"""A deterministic in-memory backend with the same calls as ``LibraryService``: fixed clips, fixed results,
jobs that advance only when ``step()`` is called. Tests and snapshot tests drive the app with it; ``calls``
records every command the UI sent."""
from __future__ import annotations

import io
import threading
from dataclasses import replace
from pathlib import Path

from engine.features import FeatureVector
from engine.feedback import Finding
from engine.folder import shared_findings
from engine.media import MediaInfo
from engine.result import ClipResult
from engine.scorer import Scores

from engine.service import (FeatureNotAvailable, media_seconds, own_performance, queue_eta_s, row_from_result,
                            top_finding)
from engine.service_state import ACTIVE, ClipRow, FinishedJob, JobView, LibraryState

#: The fake's clock: each ``step()`` takes this many (pretend) seconds, so times and the queue's ETA are fixed.
STEP_S = 10.0

#: Names that must show literally: markup, a click action and terminal escape codes.
HOSTILE_NAMES = ("[bold red]x[@click=app.quit].mp4", "esc\x1b[31mred\x1b[0m.mp4")


def fake_result(path: str, seed: int, duration_s: float = 12.0) -> ClipResult:
    """A full result (scores, findings with time spans, per-second series and events) from a seed."""
    n = int(duration_s)
    v = 50.0 + (seed * 17) % 45
    a = 35.0 + (seed * 29) % 60
    t = 40.0 + (seed * 11) % 50
    overall = round((3 * v + 3 * a + 2 * t) / 8, 1)
    tier = "platinum" if overall >= 85 else "gold" if overall >= 70 else "silver" if overall >= 55 else \
        "bronze" if overall >= 40 else "unranked"
    fv = FeatureVector()
    fv.set("visual.sharpness", 0.3 + 0.06 * (seed % 10))
    fv.set("visual.brightness", 60 + 9 * (seed % 12))
    fv.set("audio.loudness_lufs", -30 + 1.5 * (seed % 12))
    fv.set("text.caption_words", 4 + seed % 20)
    fv.add_series("visual.sharpness", [0.3 + 0.5 * ((i * 7 + seed) % 10) / 10 for i in range(n)], step_s=1.0)
    fv.add_series("visual.brightness", [80 + 6 * ((i * 3 + seed) % 11) for i in range(n)], step_s=1.0, unit="luma")
    fv.add_series("visual.motion", [((i * 5 + seed) % 9) / 9 for i in range(n)], step_s=1.0)
    fv.add_series("audio.short_term_lufs", [-24 + 8 * ((i * 5 + seed) % 7) / 7 for i in range(4 * n)], step_s=0.25,
                  unit="LUFS")
    fv.events["visual.cuts_s"] = [2.0, 5.5, 9.0]
    if seed % 2 == 0:  # a caption on every other clip, found only by the library's search (not in any finding)
        fv.text["caption"] = f"Day {seed} of my #sourdough journey"
    fv.events["audio.silences"] = [[6.0, 7.0]]
    fv.events["audio.clipping_s"] = [3.25]
    findings = [
        Finding("audio", "high", "audio.too_quiet",
                f"Integrated loudness is {fv.values['audio.loudness_lufs']:.1f} LUFS; platforms play around -14 LUFS.",
                fv.values["audio.loudness_lufs"], -14.0, None, None, "platform guidance", 9.0),
        Finding("visual", "medium", "visual.blurry", "Sharpness is 0.42 between 0:03 and 0:07; target 0.80 or more.",
                0.42, 0.8, 3.0, 7.0, "BYTEME measurement", 4.0),
        Finding("text", "low", "text.no_hook", "No words in the first 2 s.", 0.0, 1.0, 0.0, 2.0, None, 1.0),
    ]
    media = MediaInfo(path=path, container="mp4", size_bytes=1_000_000 + seed * 4321, duration_s=duration_s,
                      bitrate_bps=2_000_000, has_video=True, has_audio=True, codec="h264",
                      width=1080 if seed % 5 else 1920, height=1920 if seed % 5 else 1080, fps=30.0)
    scores = Scores(overall=overall, modalities={"visual": v, "audio": a, "text": t},
                    metric_scores={"visual.sharpness": 0.5, "visual.brightness": 0.9, "audio.loudness_lufs": 0.2,
                                   "text.caption_words": 0.7},
                    tier=tier, category=("talking_head", "tutorial", "music", "vlog")[seed % 4],
                    category_confidence=0.8, model="fake@1")
    scores.extra["insights"] = fake_insights(seed, n)
    scores.extra["hook"] = scores.extra["insights"]["hook"]["score"]
    findings.insert(1, Finding("audio", "medium", "retention.risk",
                               "Retention risk is high from 0:06 to 0:08: dead air. Trim this stretch.", 0.5, 0.5,
                               6.0, 8.0, "[retention] in config.toml", 5.0))
    if seed % 4 == 3:  # one clip in four has a flaw of its own: the rest of its findings are folder-wide
        findings.insert(0, Finding("visual", "high", "visual.too_dark",
                                   "Mean brightness is 21/255; target 90 to 170/255.", 21.0, 90.0, None, None,
                                   "common exposure guidance", 12.0))
    findings.append(Finding("visual", "low", "hook.static_opening", "Nothing changes on screen for the first 1.5 s.",
                            0.2, 1.0, 0.0, 1.5, "[hook] in config.toml", 0.5))
    return ClipResult(path=path, status="ok", media=media, scores=scores, findings=findings, features=fv,
                      content_hash=f"h{seed}")


def fake_provisional(path: str, seed: int, fraction: float) -> ClipResult:
    """A running clip's provisional verdict at ``fraction`` of its analysis, shaped like
    ``engine.library.provisional_result``'s: scores so far (the picture's still moving with ``fraction``, no text
    score yet), only the findings that cannot change (the audio's), no insights."""
    final = fake_result(path, seed)
    fs = final.scores
    visual = round(fs.modalities["visual"] - 20.0 * (1.0 - fraction), 1)
    audio = fs.modalities["audio"]
    overall = round((visual + audio) / 2, 1)
    scores = Scores(overall=overall, modalities={"visual": visual, "audio": audio, "text": None},
                    metric_scores={k: v for k, v in fs.metric_scores.items() if not k.startswith("text.")},
                    tier="silver" if overall >= 55 else "bronze", category=fs.category, category_confidence=None,
                    model="fake@1")
    fv = FeatureVector({k: v for k, v in final.features.values.items() if not k.startswith("text.")})
    findings = [f for f in final.findings if f.code == "audio.too_quiet"]
    return ClipResult(path=path, status="provisional", media=final.media, scores=scores, findings=findings,
                      features=fv, progress=round(fraction, 3))


def fake_insights(seed: int, n: int) -> dict:
    """Insights shaped like ``engine.insights.compute``'s: a risk per second (dead air at 6-8 s), a hook, one
    rewards checklist with a pass, a fail and an unknown, and one near-duplicate whose name is hostile text."""
    seconds = []
    for t in range(n):
        reasons = ["dead_air"] if 6 <= t < 8 else ["static_shot"] if (t + seed) % 5 == 0 else []
        risk = 0.5 if "dead_air" in reasons else 0.3 if reasons else 0.0
        seconds.append({"t": t, "risk": risk, "level": "high" if risk >= 0.5 else "medium" if risk >= 0.3 else "low",
                        "reasons": reasons})
    hook = {"window_s": 3.0, "score": 60.0 + seed % 30, "summary": "nothing changes on screen for 1.5 s: open on the action.",
            "unused": ["face: the face detector's metric is not there"],
            "components": [{"key": "black_opening", "label": "Picture from the first frame", "score": 1.0, "weight": 2.0,
                            "detail": "a picture from the first frame"},
                           {"key": "first_change", "label": "Something happens on screen", "score": 0.2, "weight": 2.0,
                            "detail": "first change on screen at 1.5 s"},
                           {"key": "first_sound", "label": "Sound from the start", "score": 0.6, "weight": 1.5,
                            "detail": "first sound at 0.8 s"}]}
    rewards = [{"preset": "tiktok", "label": "TikTok", "program": "TikTok Creator Rewards Program", "active": True,
                "verdict": "fail", "items": [
                    {"rule": "over_one_minute", "label": "Longer than one minute", "status": "fail",
                     "reason": f"{n:.1f} s long; needs over 60 s", "required": True, "source": "TikTok Creator Rewards terms"},
                    {"rule": "aspect", "label": "Vertical 9:16", "status": "pass", "reason": "1080x1920 displayed",
                     "required": True, "source": "TikTok upload guidance"},
                    {"rule": "original", "label": "Original content", "status": "unknown",
                     "reason": "the library index was not available", "required": False, "source": "TikTok rules"}]}]
    originality = {"status": "indexed", "matches": [
        {"kind": "near_duplicate", "other_path": "/clips/[red]copy[/red].mp4", "similarity": 0.93, "time_offset_s": 0.0,
         "detail": "41 of 44 sampled frames"}],
        "overlay": {"status": "clear", "reason": "no persistent overlay in the corners"}}
    return {"hook": hook, "retention": {"seconds": seconds, "peaks": [], "unused": []}, "rewards": rewards,
            "originality": originality, "cut_on_beat": {"status": "not_measured", "reason": "the clip has no clear beat"}}


class FakeBackend:
    def __init__(self, folder: str = "/clips", *, n_clips: int = 10, scored: int = 5, hostile: bool = True,
                 queue_available: bool = True, report: bool = False, synced: dict | None = None,
                 use_user_file: bool = False, provisional: bool = False):
        """``synced``: clip name -> (views, likes), the clip's own TikTok numbers as ``byteme tiktok sync``
        stores them. ``provisional``: running jobs have provisional verdicts (``fake_provisional``) once they have
        advanced, as the service keeps them from ``--progressive`` workers."""
        self.folder = Path(folder)
        self.calls: list[tuple] = []
        self.preset: str | None = None
        self.model: str | None = None
        self.report_available = report
        self.fetch_gate: threading.Semaphore | None = None  # a test releases it once per fake download step
        self.queue_available = queue_available
        self.use_user_file = use_user_file  # read (and let Settings write) the file BYTEME_CONFIG names
        self._lock = threading.RLock()
        self._results: dict[str, ClipResult] = {}
        self._rows: dict[str, ClipRow] = {}
        self._jobs: dict[int, JobView] = {}
        self._next_id = 1
        self._paused = False
        self._batch = [0, 0]  # finished, total
        self.clock_s = 0.0  # advanced by step() only
        self._batch_started_s = 0.0
        self._batch_done_media_s = 0.0
        self._started_s: dict[int, float] = {}
        self._finished: list[FinishedJob] = []
        self._version = 0
        self.provisional_on = provisional
        self._provisional: dict[str, ClipResult] = {}  # path -> the running job's newest provisional verdict
        names = [f"clip_{i:03d}.mp4" for i in range(n_clips)]
        if hostile and n_clips >= 2:
            names[-2:] = HOSTILE_NAMES
        for i, name in enumerate(names):
            path = str(self.folder / name)
            if i < scored:
                r = fake_result(path, i)
                self._results[path] = r
                self._rows[path] = row_from_result(path, name, r.media.size_bytes, r)
            else:
                self._rows[path] = ClipRow(path=path, name=name, size_bytes=500_000 + i)
        for name, (views, likes) in (synced or {}).items():
            path = str(self.folder / name)
            self._rows[path] = replace(self._rows[path], views=views, likes=likes)
        if n_clips > scored + 1:
            path = str(self.folder / names[scored])
            self._rows[path] = replace(self._rows[path], status="failed",
                                       error="media.unreadable: FFmpeg could not read [red]this[/red] file")
            j = self._add_job(path, "failed", error=self._rows[path].error)
            self._finished.append(FinishedJob(id=j.id, path=path, name=j.name, state="failed", error=j.error))

    # -- reading -------------------------------------------------------------------------------------------
    def open(self) -> LibraryState:
        self.calls.append(("open",))
        return self._snapshot()

    def poll(self) -> LibraryState:
        return self._snapshot()

    def _snapshot(self) -> LibraryState:
        with self._lock:
            self._version += 1
            shared = shared_findings(self._results.values())
            rows = {k: (replace(r, top_finding=top_finding(self._results[k], shared)) if k in self._results else r)
                    for k, r in self._rows.items()}
            return LibraryState(folder=str(self.folder), rows=rows, jobs=tuple(self._jobs.values()),
                                batch_total=self._batch[1], batch_finished=self._batch[0],
                                throughput_per_min=12.0 if self._batch[0] else None, eta_s=self._eta(),
                                finished=tuple(self._finished), paused=self._paused,
                                queue_available=self.queue_available, shared_findings=tuple(shared),
                                version=self._version)

    def _eta(self) -> float | None:
        """The service's estimate over the fake clock: media seconds done per second since the run started."""
        active = {j.path: j for j in self._jobs.values() if j.state in ACTIVE}
        if not active:
            return None
        done, remaining = self._batch_done_media_s, 0.0
        for p, m in media_seconds(self._rows, active).items():
            f = active[p].fraction if active[p].state == "running" else 0.0
            done += f * m
            remaining += (1.0 - f) * m
        return queue_eta_s(done_media_s=done, elapsed_s=self.clock_s - self._batch_started_s,
                           remaining_media_s=remaining)

    def result(self, path: str):
        return self._results.get(path)

    def provisional(self, path: str):
        with self._lock:
            return self._provisional.get(path)

    def thumbnail(self, path: str, t_s: float | None = None):
        """A drawn picture instead of a decoded frame, the shape of the clip (160 px wide), its colours fixed by
        the clip and the second (a sky, a ground and a sun that moves with time): the same picture every run."""
        import numpy as np

        from PIL import Image

        from engine.thumbnails import THUMB_WIDTH_PX, representative_time_s

        self.calls.append(("thumbnail", path, t_s))
        r = self._results.get(path)
        if r is None:
            return None
        t = representative_time_s(r) if t_s is None else t_s
        seed = list(self._rows).index(path)
        w = THUMB_WIDTH_PX
        h = w * r.media.height // r.media.width // 2 * 2
        y, x = np.mgrid[0:h, 0:w]
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = 40 + (seed * 37) % 120
        img[..., 1] = 80 + 100 * y // h
        img[..., 2] = 200 - 120 * y // h
        img[y > 2 * h // 3] = (60, 120 + (seed * 13) % 60, 40)
        sun_x, sun_y = int(w * (0.2 + 0.6 * t / r.media.duration_s)), h // 4
        img[(x - sun_x) ** 2 + (y - sun_y) ** 2 < (w // 8) ** 2] = (250, 220, 60)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")  # lossless: snapshots do not depend on a JPEG library's version
        return buf.getvalue(), t

    def folder_medians(self) -> dict:
        import statistics

        out = {}
        for m in ("overall", "visual", "audio", "text"):
            vals = [getattr(r, m) for r in self._rows.values() if getattr(r, m) is not None]
            out[m] = statistics.median(vals) if vals else None
        return out

    def own_performance(self, path: str) -> dict | None:
        return own_performance(dict(self._rows), path)

    def probe_missing(self, limit: int = 50) -> int:
        return 0

    def queue_problem(self):
        return None if self.queue_available else "the job queue is not available in this install"

    # -- jobs ----------------------------------------------------------------------------------------------
    def _add_job(self, path: str, state: str, error: str | None = None) -> JobView:
        j = JobView(id=self._next_id, path=path, name=self._rows[path].name, state=state, error=error)
        self._next_id += 1
        self._jobs[j.id] = j
        return j

    def _running_slots(self) -> None:
        running = sum(1 for j in self._jobs.values() if j.state == "running")
        for j in list(self._jobs.values()):
            if running >= 2 or self._paused:
                break
            if j.state == "queued":
                self._set_job(j, state="running", stage="decode", fraction=0.0, fps=240.0, eta_s=4.0)
                self._started_s[j.id] = self.clock_s
                running += 1

    def _set_job(self, j: JobView, **kw) -> JobView:
        j = replace(j, **kw)
        self._jobs[j.id] = j
        row = self._rows[j.path]
        if j.state in ACTIVE:
            self._rows[j.path] = replace(row, status=j.state, stage=j.stage, fraction=j.fraction, job_id=j.id)
        return j

    def enqueue(self, paths, *, force: bool = False) -> int:
        if not self.queue_available:
            raise FeatureNotAvailable("the job queue is not available in this install")
        with self._lock:
            self.calls.append(("enqueue", tuple(paths), force))
            if not any(j.state in ACTIVE for j in self._jobs.values()):
                self._batch = [0, 0]
                self._batch_started_s, self._batch_done_media_s = self.clock_s, 0.0
            n = 0
            for p in paths:
                if any(j.path == p and j.state in ACTIVE for j in self._jobs.values()):
                    continue
                self._set_job(self._add_job(p, "queued"), state="queued")
                n += 1
            self._batch[1] += n
            self._running_slots()
            return n

    def step(self, fraction: float = 0.5) -> None:
        """Advance every running job by ``fraction``; a job at 100% is done with a fixed result."""
        with self._lock:
            self.clock_s += STEP_S
            for j in list(self._jobs.values()):
                if j.state != "running":
                    continue
                f = min(1.0, j.fraction + fraction)
                if f < 1.0:
                    self._set_job(j, fraction=f, stage="visual" if f < 0.6 else "audio", eta_s=4.0 * (1 - f))
                    if self.provisional_on:  # its verdict so far, marked provisional in its row (as the service)
                        early = self._provisional[j.path] = fake_provisional(j.path, list(self._rows).index(j.path), f)
                        row = self._rows[j.path]
                        self._rows[j.path] = replace(row_from_result(j.path, row.name, row.size_bytes, early),
                                                     provisional=True, status="running", stage=row.stage,
                                                     fraction=f, job_id=j.id)
                    continue
                self._provisional.pop(j.path, None)
                del self._jobs[j.id]
                self._batch_done_media_s += media_seconds(self._rows, [j.path])[j.path]
                seed = list(self._rows).index(j.path)
                r = fake_result(j.path, seed)
                self._results[j.path] = r
                self._rows[j.path] = row_from_result(j.path, self._rows[j.path].name, r.media.size_bytes, r)
                self._batch[0] += 1
                self._finish(j, "done", overall=r.scores.overall, tier=r.scores.tier)
            self._running_slots()

    def cancel(self, paths) -> int:
        with self._lock:
            self.calls.append(("cancel", tuple(paths)))
            n = 0
            for j in list(self._jobs.values()):
                if j.path in paths and j.state in ACTIVE:
                    del self._jobs[j.id]
                    self._provisional.pop(j.path, None)
                    self._finish(j, "cancelled")
                    self._rows[j.path] = replace(self._rows[j.path], status="cancelled", stage=None, fraction=None)
                    n += 1
            return n

    def _finish(self, j: JobView, state: str, **kw) -> None:
        started = self._started_s.pop(j.id, None)
        self._finished.insert(0, FinishedJob(id=j.id, path=j.path, name=j.name, state=state,
                                             took_s=self.clock_s - started if started is not None else None, **kw))

    def cancel_all(self) -> int:
        self.calls.append(("cancel_all",))
        return self.cancel([j.path for j in self._jobs.values()])

    def retry_failed(self) -> int:
        with self._lock:
            self.calls.append(("retry_failed",))
            failed = [j for j in self._jobs.values() if j.state == "failed"]
            self._finished = [f for f in self._finished if f.state != "failed"]
            for j in failed:
                self._set_job(j, state="queued", error=None)
                self._rows[j.path] = replace(self._rows[j.path], status="queued", error=None)
            self._batch[1] += len(failed)
            self._running_slots()
            return len(failed)

    def toggle_pause(self) -> bool:
        self.calls.append(("toggle_pause",))
        self._paused = not self._paused
        return self._paused

    def move_to_front(self, job_id: int) -> None:
        self.calls.append(("move_to_front", job_id))

    def clear_finished(self) -> None:
        self.calls.append(("clear_finished",))
        with self._lock:
            for j in list(self._jobs.values()):
                if j.state == "failed":
                    del self._jobs[j.id]
            self._finished = []

    def has_running(self) -> bool:
        return any(j.state in ACTIVE for j in self._jobs.values())

    def shutdown(self, *, cancel_jobs: bool) -> None:
        self.calls.append(("shutdown", cancel_jobs))

    # -- config --------------------------------------------------------------------------------------------
    def config(self) -> dict:
        from engine.config import load_config

        return load_config(None, preset=self.preset, use_user_file=self.use_user_file)

    def config_sources(self) -> dict:
        from engine.config import explain_sources

        return explain_sources(None, preset=self.preset, use_user_file=self.use_user_file)

    def save_setting(self, keys, value):
        """The real writer, only when a test turned the user file on (and pointed ``BYTEME_CONFIG`` at a tmp file):
        the fake never writes a person's own config."""
        from engine.config import save_user_setting, user_config_path

        self.calls.append(("save_setting", tuple(keys), value))
        if not self.use_user_file:
            raise FeatureNotAvailable("This fake library has no user config file.")
        path = user_config_path()
        assert "pytest" in str(path) or "tmp" in str(path), path
        path, backup = save_user_setting(tuple(keys), value)
        return path, f"its comments are not kept: the old file is {backup}" if backup else None

    def set_preset(self, preset):
        self.calls.append(("set_preset", preset))
        self.preset = preset or None

    def set_model(self, model):
        self.calls.append(("set_model", model))
        self.model = model or None

    def export_report(self, dest: Path) -> tuple[Path, int]:
        """The real report writer over the fake results (tests read the files it writes)."""
        self.calls.append(("export_report", str(dest)))
        if not self.report_available:
            raise FeatureNotAvailable("Report export is not available in this install (engine.report is missing).")
        from engine.report import write_report

        results = list(self._results.values())
        return write_report(results, dest, "html", self.config()), len(results)

    def fetch_urls(self, urls, *, progress=None, cancel=None) -> list:
        """A download without network: each http(s) URL "downloads" in four progress steps (waiting on
        ``fetch_gate`` between them when a test sets one) and becomes a new clip in the folder; other schemes give
        the same plain error as ``engine.ingest``."""
        from engine.errors import IngestError
        from engine.ingest import FetchResult, check_url

        self.calls.append(("fetch_urls", tuple(urls)))
        out = []
        for i, url in enumerate(urls):
            try:
                check_url(url)
            except IngestError as err:
                out.append(FetchResult(url=url, status="error", error={"kind": err.kind, "message": err.message}))
                continue
            ident, total = f"vid{i}", 4_000_000
            for step in range(1, 5):
                if self.fetch_gate is not None:
                    self.fetch_gate.acquire(timeout=5)
                if cancel is not None and cancel.is_set():
                    out.append(FetchResult(url=url, status="error", error={"kind": "cancelled",
                                                                            "message": "Cancelled by the user"}))
                    break
                if progress:
                    progress(ident, step * total // 4, total, 1_000_000.0)
            else:
                path = self.folder / f"downloaded_{i}.mp4"
                with self._lock:
                    self._rows[str(path)] = ClipRow(path=str(path), name=path.name, size_bytes=total)
                out.append(FetchResult(url=url, status="ok", path=path, title=f"Downloaded [b]{i}[/b]"))
        return out

    def describe(self) -> dict:
        return {"store": "(fake)", "executor": "fake", "workers": 2, "queue": "ready"}
