"""analyze(path, config, progress, cancel) -> ClipResult: decode once, extract, score, explain. Pure of any UI.

Progress is reported as ``Progress`` events (stage, fraction of the whole clip, frames per second, ETA),
batched by time to about four a second, so a UI never drowns in updates. Cancellation is a plain
``threading.Event``; a cancelled clip raises ``Cancelled``.
"""
from __future__ import annotations

import threading
import traceback
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import config_hash, load_config
from .errors import BytemeError, Cancelled, MediaError
from .extractors import ClipContext, metric_specs, registered
from .features import FeatureVector
from .feedback import build_findings
from .media import decode, probe
from .result import ClipResult
from .scorer import score
from .sidecars import fingerprint as sidecar_fingerprint

#: Seconds between two progress events (about four a second, like toolong's batched updates).
PROGRESS_INTERVAL_S = 0.25
#: Share of the progress bar that decoding (with the per-frame extractors) stands for; the rest is finish().
DECODE_SHARE = 0.85
STAGES = ("probe", "decode", "visual", "audio", "text", "ocr", "scoring", "done")


class Deadline:
    """A cancel flag that is also raised when the clip's time limit passes (``[engine] clip_timeout_s``).

    Decoding and extractors only ever ask ``is_set()``, so a user's cancel and the time limit stop them the same
    way; ``expired`` tells the two apart afterwards."""

    def __init__(self, cancel: threading.Event | None, timeout_s: float | None):
        self.cancel = cancel
        self.timeout_s = timeout_s
        self.until = time.monotonic() + timeout_s if timeout_s else None

    @property
    def expired(self) -> bool:
        return self.until is not None and time.monotonic() > self.until

    def is_set(self) -> bool:
        return (self.cancel is not None and self.cancel.is_set()) or self.expired


@dataclass
class Progress:
    path: str
    stage: str
    fraction: float  # of the whole clip's analysis, 0..1
    fps: float = 0.0  # frames decoded per second of wall time
    eta_s: float | None = None
    frames: int = 0


class _Reporter:
    def __init__(self, path: str, callback: Callable[[Progress], None] | None):
        self.path = path
        self.callback = callback
        self.t0 = time.monotonic()
        self.last = 0.0
        self.frames = 0

    def __call__(self, stage: str, fraction: float, *, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        elapsed = now - self.t0
        fps = self.frames / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.02 else None
        self.callback(Progress(self.path, stage, min(1.0, max(0.0, fraction)), round(fps, 1), eta, self.frames))


def extract_features(
    path: Path,
    cfg: dict,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    options: dict | None = None,
):
    """Probe and decode once; run every extractor. Returns (MediaInfo, FeatureVector)."""
    report = _Reporter(str(path), progress)
    report("probe", 0.0, force=True)
    info = probe(path)
    eng = cfg.get("engine", {})
    if not isinstance(cancel, Deadline):
        cancel = Deadline(cancel, float(eng.get("clip_timeout_s", 0)) or None)
    ctx = ClipContext(path=path, info=info, config=cfg, cancel=cancel, options=dict(options or {}))
    extractors = [cls() for cls in registered()]
    extractors = [e for e in extractors if e.enabled(ctx)]
    for e in extractors:
        e.begin(ctx)
    frame_users = [e for e in extractors if e.wants_frames] if info.has_video else []

    def on_frame(frame):
        report.frames += 1
        for e in frame_users:
            e.on_frame(frame, ctx)

    def on_decode_progress(fraction: float):
        report("decode", DECODE_SHARE * fraction)

    max_s = float(eng.get("max_analysis_s", 0)) or None
    stats, audio = decode(
        path,
        info,
        on_frame=on_frame if frame_users else None,
        short_side_px=int(eng.get("analysis_short_side_px", 360)),
        audio_rate_hz=int(eng.get("audio_rate_hz", 48_000)),
        max_duration_s=max_s,
        progress=on_decode_progress,
        cancel=cancel,
    )
    ctx.audio = audio
    ctx.frame_times_s = stats.frame_times_s
    fv = FeatureVector()
    if info.duration_s <= 0:
        info.duration_s = max(stats.video_time_s, audio.duration_s if audio else 0.0)
    if max_s and info.duration_s > max_s:
        fv.note("visual", f"Only the first {max_s:.0f} s of this {info.duration_s:.0f} s clip were analysed.")
    fv.events["vfr"] = stats.is_vfr()
    fv.events["decode_errors"] = stats.decode_errors
    fv.events["frames_decoded"] = stats.frames
    n = len(extractors)
    for i, e in enumerate(extractors):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        report(e.stage or e.modality, DECODE_SHARE + (1 - DECODE_SHARE) * i / max(1, n), force=True)
        ctx.report = lambda stage, frac, i=i: report(stage, DECODE_SHARE + (1 - DECODE_SHARE) * (i + frac) / n)
        e.finish(ctx, fv)
    return info, fv


def evaluate(path: str, info, fv: FeatureVector, cfg: dict, *, model=None) -> ClipResult:
    """Scores and findings from features: cheap, no decoding."""
    scores = score(fv, cfg, model)
    findings = build_findings(fv, scores, cfg, metric_specs(), info.duration_s)
    return ClipResult(path=str(path), status="ok", media=info, scores=scores, findings=findings, features=fv)


def failed_result(exc: BaseException, path: Path, cfg: dict, cancel: threading.Event | None,
                  t0: float) -> ClipResult:
    """The ``ClipResult`` of an analysis of ``path`` (started at monotonic ``t0``) that raised ``exc``: the one
    mapping of exceptions to plain-words error kinds, shared by ``analyze`` and the job workers (which run only
    ``extract_features``). A ``Cancelled`` that is the user's (not the clip's time limit) is raised again."""
    path = Path(path)
    display = str(path)
    elapsed = time.monotonic() - t0
    if isinstance(exc, Cancelled):
        limit = float(cfg.get("engine", {}).get("clip_timeout_s", 0))
        if cancel is not None and cancel.is_set() or not limit or elapsed < limit:
            raise exc
        return ClipResult.failed(
            display, "timeout", f"{path.name} took longer than the {limit:.0f} s limit per clip and was stopped "
            "(raise [engine] clip_timeout_s in config.toml for very long clips).", elapsed)
    if isinstance(exc, MemoryError):
        return ClipResult.failed(display, "out_of_memory", f"{path.name} needs more memory than this machine has.")
    if isinstance(exc, BytemeError):
        return ClipResult.failed(display, exc.kind, exc.message, elapsed)
    # a bug or a decoder failure we did not foresee: report it, keep the run going
    result = ClipResult.failed(
        display, "internal", f"{path.name} could not be analysed: {type(exc).__name__}: {exc}", elapsed)
    result.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))  # CLI: --debug only
    return result


def analyze(
    path: str | Path,
    config: dict | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    *,
    store=None,
    model=None,
    use_cache: bool = True,
    options: dict | None = None,
) -> ClipResult:
    """Analyse one clip end to end. Never raises for a bad file: returns a ClipResult with status "error".

    With a ``store``, features are looked up by content hash (no decode for a known clip) and the result is saved.
    ``Cancelled`` is the one exception that propagates.
    """
    cfg = config if config is not None else load_config()
    t0 = time.monotonic()
    path = Path(path)
    display = str(path)
    try:
        chash = None
        cached = None
        if store is not None:
            try:
                chash = store.hash_for(path)
            except OSError:
                chash = None  # probe below reports the file in plain words
            sidecars = sidecar_fingerprint(path)
            if chash and use_cache:
                cached = store.get_features(chash, options, sidecars)
        if cached is not None:
            info, fv = cached
            info.path = display
        else:
            info, fv = extract_features(path, cfg, progress=progress, cancel=cancel, options=options)
            if store is not None and chash:
                store.put_features(chash, info, fv, options, sidecars)
        if progress is not None:
            progress(Progress(display, "scoring", 0.99))
        result = evaluate(display, info, fv, cfg, model=model)
        result.content_hash = chash
        result.cached = cached is not None
        from .insights import enrich  # hook, retention, rewards, originality (issue 10)

        enrich(result, cfg, store=store)
        result.elapsed_s = round(time.monotonic() - t0, 3)
        if store is not None and chash:
            store.put_result(result, result.scores.model, config_hash(cfg))
            store.set_error(path, None)
        if progress is not None:
            progress(Progress(display, "done", 1.0))
        return result
    except MemoryError as exc:
        return failed_result(exc, path, cfg, cancel, t0)
    except Exception as exc:  # Cancelled is one: a user's cancel propagates, the clip's time limit is a result
        result = failed_result(exc, path, cfg, cancel, t0)
    if store is not None:
        try:
            store.set_error(path, result.error)
        except Exception:
            pass
    return result


__all__ = ["Progress", "analyze", "evaluate", "extract_features", "failed_result", "MediaError"]
