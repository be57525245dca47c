"""One clip from file to judgement, pure of any UI and of the store: ``extract_features`` (probe, decode once, every
extractor), ``evaluate`` (scores and findings from features) and ``failed_result`` (an exception in plain words).
``engine.library.analyze`` puts these together with the store's cache.

Progress is reported as ``Progress`` events (stage, fraction of the whole clip, frames per second, ETA),
batched by time to about four a second, so a UI never drowns in updates. Cancellation is a plain
``threading.Event``; a cancelled clip raises ``Cancelled``.

Progressive verdicts: ``extract_features(provisional=...)`` also hands out ``Snapshot``s of what is already known
while the clip is analysed (the probe and the sidecars before decoding starts, the audio when its pass ends beside
the video decode, the frame extractors' summaries of the frames decoded so far every few seconds of video, then
what the extractors have finished), each a FeatureVector of its own built from copies. The final features never
depend on them: the early extractors run on fresh instances into their own vectors, the decode-time summaries on
frozen copies (``Extractor.snapshot``) in a thread of their own, and a snapshot only reads the real vector.
"""
from __future__ import annotations

import copy
import threading
import traceback
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import BytemeError, Cancelled, MediaError
from .extractors import ClipContext, metric_specs, registered
from .extractors.base import FINDINGS, SHARED_EVENTS
from .features import FeatureVector
from .feedback import build_findings, cap_tier
from .media import decode, decode_audio, lower_thread_priority, probe
from .result import ClipResult
from .scorer import score

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
        self.stopped = False

    @property
    def expired(self) -> bool:
        return self.until is not None and time.monotonic() > self.until

    def stop(self) -> None:
        """Stop the analysis from outside (Ctrl-C in the waiting thread)."""
        self.stopped = True

    def is_set(self) -> bool:
        return self.stopped or (self.cancel is not None and self.cancel.is_set()) or self.expired


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
    provisional: Callable[["Snapshot"], None] | None = None,
):
    """Probe and decode once; run every extractor. Returns (MediaInfo, FeatureVector).

    ``provisional`` receives ``Snapshot``s of the partial features as they become known (see the module
    docstring); what it does, or raises, changes nothing in the result."""
    report = _Reporter(str(path), progress)
    report("probe", 0.0, force=True)
    info = probe(path)
    eng = cfg["engine"]  # checked by engine.config: every key present, finite and in range
    if not isinstance(cancel, Deadline):
        cancel = Deadline(cancel, float(eng["clip_timeout_s"]))
    ctx = ClipContext(path=path, info=info, config=cfg, cancel=cancel, options=dict(options or {}))
    extractors = [cls() for cls in registered()]
    extractors = [e for e in extractors if e.enabled(ctx)]
    for e in extractors:
        e.begin(ctx)
    frame_users = [e for e in extractors if e.wants_frames] if info.has_video else []
    early = _Provisional(provisional, ctx, extractors) if provisional is not None else None
    if early is not None:
        early.probe_stage()

    def on_frame(frame):
        report.frames += 1
        for e in frame_users:
            e.on_frame(frame, ctx)

    def on_decode_progress(fraction: float):
        report("decode", DECODE_SHARE * fraction)
        if early is not None:
            audio_done = audio_pass is not None and audio_pass.done.is_set()
            if audio_done:
                early.audio_stage(audio_pass, DECODE_SHARE * fraction)
            early.decode_stage(frame_users, fraction, audio_pass.fv if audio_done else None)

    max_s = float(eng["max_analysis_s"])
    rate_hz = int(eng["audio_rate_hz"])
    audio_pass = None
    if AUDIO_BESIDE_VIDEO and frame_users and info.has_audio:
        audio_pass = _AudioPass(path, info, ctx, [e for e in extractors if e.audio_only], rate_hz=rate_hz,
                                max_s=max_s, cancel=cancel)
    try:
        stats, audio = decode(
            path,
            info,
            on_frame=on_frame if frame_users else None,
            short_side_px=int(eng["analysis_short_side_px"]),
            audio_rate_hz=rate_hz,
            max_duration_s=max_s,
            progress=on_decode_progress,
            cancel=cancel,
            include_audio=audio_pass is None,
        )
    except BaseException:
        if audio_pass is not None:
            audio_pass.stop()
        raise
    finally:
        if early is not None:
            early.end_decode()  # no decode-time snapshot after this point
    audio_fv = None
    if audio_pass is not None:
        report("audio", DECODE_SHARE, force=True)
        audio, audio_errors, audio_fv = audio_pass.result()
        stats.decode_errors += audio_errors
        if early is not None:  # the audio pass ended after the last frame: its verdict now, before the finish()es
            early.audio_stage(audio_pass, DECODE_SHARE)
    ctx.audio = audio
    ctx.frame_times_s = stats.frame_times_s
    fv = FeatureVector()
    if info.duration_s <= 0:
        info.duration_s = max(stats.video_time_s, audio.duration_s if audio else 0.0)
    info.settle(stats, audio.duration_s if audio else 0.0, max_analysis_s=max_s)
    if info.truncated:
        fv.events.setdefault("findings", []).append(truncated_finding(info))
    if max_s and info.duration_s > max_s:
        fv.note("visual", f"Only the first {max_s:.0f} s of this {info.duration_s:.0f} s clip were analysed.")
    fv.events["vfr"] = stats.is_vfr()
    fv.events["decode_errors"] = stats.decode_errors
    fv.events["frames_decoded"] = stats.frames
    n = len(extractors)
    for i, e in enumerate(extractors):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if audio_pass is not None and e.audio_only:  # its finish() ran in the audio thread
            if audio_fv is not None:
                _merge(fv, audio_fv)  # at the first audio-only extractor: the same order as when run here
                audio_fv = None
            if early is not None:
                early.finished.add(e.name)
            continue
        at = DECODE_SHARE + (1 - DECODE_SHARE) * i / max(1, n)
        if early is not None:
            early.finish_stage(info, fv, audio_fv, at)
        report(e.stage or e.modality, at, force=True)
        ctx.report = lambda stage, frac, i=i: report(stage, DECODE_SHARE + (1 - DECODE_SHARE) * (i + frac) / n)
        e.finish(ctx, fv)
        if early is not None:
            early.finished.add(e.name)
    return info, fv


@dataclass
class Snapshot:
    """What is known of a clip part-way through its analysis: a copy of the media info (the probe's until the
    decode settles it), features built from copies, the modalities whose findings can no longer change
    (``settled``: e.g. "audio" once the audio pass is done, or at once for a clip without an audio track) and the
    fraction of the analysis done (the ``Progress`` scale)."""

    info: object
    features: FeatureVector
    fraction: float
    settled: frozenset = field(default_factory=frozenset)
    stage: str = "probe"
    #: Metric keys whose values summarise only the frames decoded so far (the decode-time snapshots): the scores
    #: read them, but their findings may still change, so a provisional verdict leaves those out.
    partial: frozenset = field(default_factory=frozenset)


#: Extractors whose ``finish()`` can run on the probe alone (no frame, no audio) and then writes, for every key it
#: writes at all, the value it writes after decoding: ``visual_image`` (resolution, aspect ratio and bits per pixel
#: come from the probe; its frame metrics are written only when frames were seen) and ``text_sources`` (the
#: caption, .info.json, subtitle files and container tags). ``text_summary`` runs after them and is kept only when
#: some text source was found (then on-screen text and speech can add sources but not change whether there is a
#: caption); with nothing found yet, OCR may still find text, so it waits.
PROBE_EXTRACTORS = ("visual_image", "text_sources")
#: The summary of the text sources, kept in a probe snapshot only when some source is already known (above).
TEXT_SUMMARY = "text_summary"
#: Least time between two snapshots taken while the extractors finish after the decode. A snapshot costs a
#: scoring pass (1-6 ms, once 121 ms, on the 15 s 1080x1920 clip at load average 13: docs/BENCHMARKS.md, issue 21);
#: the gap is a choice, not a measurement: a person reading the lines wants news, not one line per extractor.
SNAPSHOT_GAP_S = 1.0
#: During the decode, a new summary of the frames seen so far is made when this much more video has decoded, or
#: ``DECODE_SNAPSHOT_SHARE`` of the clip if that is less (and ``SNAPSHOT_GAP_S`` has passed since the last snapshot):
#: the issue's "every ~2-3 s of video or ~25 % of the clip". A choice, not a measurement: sharpness, exposure and
#: colour change over shots (seconds), and the image extractor samples 2 frames a second, so 2.5 s adds 5 samples.
DECODE_SNAPSHOT_STEP_S = 2.5
DECODE_SNAPSHOT_SHARE = 0.25


class _Provisional:
    """The snapshots of one clip's analysis (``extract_features(provisional=...)``). Every failure here is
    swallowed: a provisional verdict that cannot be made is not made, and the final one is unaffected."""

    def __init__(self, callback, ctx: ClipContext, extractors):
        self.callback = callback
        self.ctx = ctx
        self.extractors = extractors
        self.parts: dict[str, FeatureVector] = {}  # early extractor name -> what it wrote on the probe alone
        self.settled: set[str] = set()
        self.finished: set[str] = set()  # names of the real extractors that have finished
        self.audio_done = False
        self.last = 0.0
        self.reported: set[str] = set()  # ``finished`` at the last snapshot of the finish stage
        self.lock = threading.Lock()  # one snapshot handed out at a time, in order of progress
        self.emitted = 0.0  # the progress of the last snapshot handed out
        self.decoded_s = 0.0  # video seconds decoded at the last decode-time snapshot
        self.summaries: _Summaries | None = None  # the thread that makes the decode-time snapshots
        self.decode_over = False  # set by end_decode: no decode-time snapshot is handed out after it
        #: frame extractor name -> (its summary of the frames seen at the last decode-time snapshot, the keys in
        #: it that are partial): later snapshots keep them until the extractor has finished
        self.frame_parts: dict[str, tuple[FeatureVector, frozenset]] = {}

    def _emit(self, snap: Snapshot) -> None:
        """Hand a snapshot to the callback, one at a time; one that comes after a later one (a decode-time summary
        finished after the audio's snapshot) is dropped, so progress never goes back, and so is a decode-time one
        finished after the decode (``end_decode``)."""
        with self.lock:
            if snap.fraction < self.emitted or (snap.stage == "decode" and self.decode_over):
                return
            self.emitted = snap.fraction
            try:
                self.callback(snap)
            except Exception:
                pass
            self.last = time.monotonic()

    def probe_stage(self) -> None:
        """Before decoding: the probe's metrics, the text of the sidecars, and no audio (no picture) when there is
        none."""
        try:
            info = copy.copy(self.ctx.info)
            pctx = ClipContext(path=self.ctx.path, info=info, config=self.ctx.config, cancel=self.ctx.cancel,
                               options=dict(self.ctx.options))
            names = set(PROBE_EXTRACTORS)
            if not info.has_audio:  # what the audio extractors say of a clip without sound is known now
                names |= {e.name for e in self.extractors if e.audio_only}
                self.settled.add("audio")
            if not info.has_video:  # and what the picture's extractors say of a clip without picture
                names |= {e.name for e in self.extractors if e.wants_frames and e.modality == "visual"}
                self.settled.add("visual")
            fv = FeatureVector()
            for e in self.extractors:
                if e.name in names or e.name == TEXT_SUMMARY:
                    part = FeatureVector()
                    fresh = type(e)()
                    fresh.begin(pctx)
                    if e.name == TEXT_SUMMARY:  # reads what text_sources wrote
                        part.text.update(copy.deepcopy(fv.text))
                        fresh.finish(pctx, part)
                        if not part.text.get("sources_found"):
                            continue
                        part.text = {k: v for k, v in part.text.items() if k not in fv.text}
                    else:
                        fresh.finish(pctx, part)
                    self.parts[e.name] = part
                    _merge(fv, part)
        except Exception:
            return
        self._emit(Snapshot(info, fv, 0.0, frozenset(self.settled), "probe"))

    def audio_stage(self, audio_pass: "_AudioPass", fraction: float) -> None:
        """Once, when the audio pass beside the video decode is done (seen at a progress step of the decode, or
        after the last frame if it ends later): the probe's part and the audio's."""
        if self.audio_done:
            return
        self.audio_done = True
        try:
            fv = FeatureVector()
            for part in self.parts.values():
                _merge(fv, part)
            _merge(fv, _copied(audio_pass.fv))
            partial = self._frame_parts(fv)
            self.settled.add("audio")
        except Exception:
            return
        self._emit(Snapshot(copy.copy(self.ctx.info), fv, fraction, frozenset(self.settled), "audio", partial))

    def _frame_parts(self, fv: FeatureVector) -> frozenset:
        """Merge into ``fv`` the last decode-time summaries of the frame extractors not finished yet; their partial
        keys."""
        partial: set[str] = set()
        for name, (part, keys) in list(self.frame_parts.items()):
            if name not in self.finished:
                _merge(fv, _copied(part))
                partial |= keys
        return frozenset(partial)

    def decode_stage(self, frame_users, fraction: float, audio_fv: FeatureVector | None) -> None:
        """During the decode, in the thread that runs ``on_frame`` (between two frames): when the time has come
        (``DECODE_SNAPSHOT_STEP_S``), freeze the frame extractors that can summarise part of a clip
        (``Extractor.snapshot``: copies, no computation) and hand them to the summarising thread, which runs their
        finish() and the rest off this thread. ``fraction`` is of the decode; ``audio_fv`` the audio pass's
        features once it is done."""
        duration = float(self.ctx.info.duration_s or 0.0)
        seen_s = fraction * duration
        step = min(DECODE_SNAPSHOT_STEP_S, DECODE_SNAPSHOT_SHARE * duration)
        if (duration <= 0 or fraction >= 1.0 or seen_s - self.decoded_s < step
                or time.monotonic() - self.last < SNAPSHOT_GAP_S):
            return
        try:
            frozen = [(e.name, e.snapshot()) for e in frame_users]
        except Exception:
            return
        frozen = [(name, twin) for name, twin in frozen if twin is not None]
        if not frozen:
            return
        self.decoded_s = seen_s
        if self.summaries is None:
            self.summaries = _Summaries(self._summarise)
        self.summaries.put((frozen, seen_s, DECODE_SHARE * fraction, audio_fv, frozenset(self.settled)))

    def _summarise(self, job) -> None:
        """A decode-time snapshot (in the summarising thread): the probe's parts, the audio's when done, then the
        frozen frame extractors' finish() over the frames seen, on a context whose duration is the time decoded.
        Findings those raise themselves are left out (they judge part of the clip)."""
        frozen, seen_s, fraction, audio_fv, settled = job
        seen = copy.copy(self.ctx.info)
        seen.duration_s = seen_s
        pctx = ClipContext(path=self.ctx.path, info=seen, config=self.ctx.config, cancel=self.ctx.cancel,
                           options=dict(self.ctx.options))
        fv = FeatureVector()
        for part in self.parts.values():
            _merge(fv, part)
        final = set(fv.values)
        if audio_fv is not None:
            _merge(fv, _copied(audio_fv))
        parts = {}
        for name, twin in frozen:
            part = FeatureVector()
            twin.finish(pctx, part)
            part.events.pop(FINDINGS.key, None)
            parts[name] = (part, frozenset(k for k in part.values if k not in final))
        with self.lock:
            if self.decode_over:
                return  # too late: the extractors are finishing on the whole clip
            self.frame_parts = parts
        partial = self._frame_parts(fv)
        self._emit(Snapshot(copy.copy(self.ctx.info), fv, fraction, frozenset(settled), "decode", partial))

    def end_decode(self) -> None:
        """The decode is over (or failed): a summary not yet started is dropped, and one being made is not waited
        for (it ends in its thread, reading only its frozen copies, and is not handed out)."""
        with self.lock:
            self.decode_over = True
        if self.summaries is not None:
            self.summaries.close()
            self.summaries = None

    def finish_stage(self, info, fv: FeatureVector, audio_fv: FeatureVector | None, fraction: float) -> None:
        """Between the extractors' finish() after decoding, at most every ``SNAPSHOT_GAP_S``: what the finished
        ones wrote, the audio pass's part if not merged yet, the probe parts of those still to run and the last
        decode-time summaries of the frame extractors among them."""
        if time.monotonic() - self.last < SNAPSHOT_GAP_S or self.finished == self.reported:
            return  # too soon, or nothing finished since the last one
        self.reported = set(self.finished)
        try:
            snap = _copied(fv)
            if audio_fv is not None:
                _merge(snap, _copied(audio_fv))
            for name, part in self.parts.items():
                if name not in self.finished:
                    _merge(snap, part)
            partial = self._frame_parts(snap)
            settled = set(self.settled)
            for m in ("visual", "audio", "text"):
                if all(e.name in self.finished for e in self.extractors if e.modality == m):
                    settled.add(m)
        except Exception:
            return
        self._emit(Snapshot(copy.copy(info), snap, fraction, frozenset(settled), "finish", partial))


class _Summaries:
    """The thread that makes one clip's decode-time snapshots, beside the decode at the extractors' lowered
    priority. It holds one job at a time: a newer one replaces a job not yet started (the newer summary says
    more). Its failures are swallowed: a provisional verdict that cannot be made is not made."""

    def __init__(self, work: Callable):
        self.work = work
        self.job = None
        self.closed = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="byteme-snapshots", daemon=True)
        self.thread.start()

    def put(self, job) -> None:
        with self.cond:
            self.job = job
            self.cond.notify()

    def _run(self) -> None:
        lower_thread_priority()
        while True:
            with self.cond:
                while self.job is None and not self.closed:
                    self.cond.wait()
                if self.job is None:
                    return
                job, self.job = self.job, None
            try:
                self.work(job)
            except Exception:
                pass

    def close(self) -> None:
        """Drop a job not yet started; the thread ends after the one it is making, if any (not waited for)."""
        with self.cond:
            self.closed = True
            self.job = None
            self.cond.notify()


def _copied(fv: FeatureVector) -> FeatureVector:
    """A FeatureVector whose tables and shared event lists are copies (the values in them are not changed by
    scoring, so they are shared)."""
    out = FeatureVector(dict(fv.values), dict(fv.series), dict(fv.events), {m: list(n) for m, n in fv.notes.items()},
                        dict(fv.text))
    for key in SHARED_EVENTS:
        if key in out.events:
            out.events[key] = copy.copy(out.events[key])
    return out


#: Decode the audio of a clip with video in a pass of its own and run the audio-only extractors
#: (``Extractor.audio_only``) on it in a background thread while the main thread decodes the video. Their ~0.5 s
#: (60 s 1080p clip) no longer waits for the last video frame, and the video pass's Python loop no longer
#: resamples audio. Each stream is still decoded once; what is done twice is reading the container (the audio pass
#: skips the video packets): 0.11 s CPU per minute of 1080p clip, on the background thread (measured with
#: ``media.decode_audio`` against a demux of the audio packets alone). False: one pass for both, then every
#: finish() in turn (tests compare the two).
AUDIO_BESIDE_VIDEO = True


class _AudioPass:
    """The audio of one clip, decoded and measured beside the video decode (see ``AUDIO_BESIDE_VIDEO``).

    The audio-only extractors write into a FeatureVector of their own, merged by ``extract_features`` where they
    stand in registry order. The clip's cancel (the user's, or its time limit) stops this pass too; an exception
    here is raised again by ``result()`` in the calling thread."""

    def __init__(self, path: Path, info, ctx: ClipContext, extractors, *, rate_hz: int, max_s: float | None,
                 cancel):
        self.path, self.info, self.ctx, self.extractors = path, info, ctx, extractors
        self.rate_hz, self.max_s, self.cancel = rate_hz, max_s, cancel
        self.stopped = threading.Event()
        self.fv = FeatureVector()
        self.audio = None
        self.errors = 0
        self.error: BaseException | None = None
        self.done = threading.Event()  # set when every audio-only extractor has finished (not on an error)
        self.thread = threading.Thread(target=self._run, name="byteme-audio", daemon=True)
        self.thread.start()

    def is_set(self) -> bool:
        """The cancel flag this pass obeys: the clip's, or ``stop()``."""
        return self.stopped.is_set() or (self.cancel is not None and self.cancel.is_set())

    def _run(self) -> None:
        lower_thread_priority()
        try:
            self.audio, self.errors = decode_audio(self.path, self.info, audio_rate_hz=self.rate_hz,
                                                   max_duration_s=self.max_s, cancel=self)
            self.ctx.audio = self.audio
            for e in self.extractors:
                if self.is_set():
                    raise Cancelled()
                e.finish(self.ctx, self.fv)
            self.done.set()
        except BaseException as exc:  # raised again in the caller's thread by result()
            self.error = exc

    def stop(self) -> None:
        """The video pass failed or was cancelled: end this pass (after the extractor now running) and wait."""
        self.stopped.set()
        self.thread.join()

    def result(self):
        """(audio, decode errors, features) once the pass is done; its exception, if it raised one."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.audio, self.errors, self.fv


def truncated_finding(info) -> dict:
    """The finding of a clip cut short: how much decoded against what its header claims."""
    share = 100.0 * info.decoded_s / info.header_duration_s if info.header_duration_s > 0 else 0.0
    return {"modality": "visual" if info.has_video else "audio", "severity": "high", "code": "media.truncated",
            "message": (f"Only {info.decoded_s:.1f} s of this clip could be decoded, of the "
                        f"{info.header_duration_s:.1f} s its header claims ({share:.0f}%): the file is cut short "
                        "(an interrupted download or copy). Its scores describe the part that decoded; get the whole "
                        "file again."),
            "value": round(info.decoded_s, 3), "target": round(info.header_duration_s, 3),
            "start_s": round(info.decoded_s, 3), "end_s": round(info.header_duration_s, 3),
            "source": "the container header's duration against the frames and samples that decoded",
            "points": 0.0}


def _merge(fv: FeatureVector, part: FeatureVector) -> None:
    """Add what ``part`` holds to ``fv``; the event lists several extractors add to (``SHARED_EVENTS``: the
    findings they raise, their own finding messages) are joined, as when the extractors run in turn on one vector."""
    fv.values.update(part.values)
    fv.series.update(part.series)
    for key, value in part.events.items():
        if key in SHARED_EVENTS and key in fv.events:
            if isinstance(value, dict):
                fv.events[key] = {**fv.events[key], **value}
            else:
                fv.events[key] = [*fv.events[key], *value]
        else:
            fv.events[key] = value
    fv.text.update(part.text)
    for modality, notes in part.notes.items():
        fv.notes.setdefault(modality, []).extend(notes)


def evaluate(path: str, info, fv: FeatureVector, cfg: dict, *, model=None) -> ClipResult:
    """Scores and findings from features: cheap, no decoding."""
    scores = score(fv, cfg, model)
    findings = build_findings(fv, scores, cfg, metric_specs(), info.duration_s)
    capped = cap_tier(scores, findings, cfg)
    findings += [capped] if capped else []
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
        limit = float(cfg["engine"]["clip_timeout_s"])
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


#: Once a clip passes its time limit (``[engine] clip_timeout_s``) its analysis is asked to stop, and decoding
#: stops at the next packet. If it has not ended this many seconds later it is stuck inside one library call (a
#: decoder that hangs, a read from a network mount that never returns): ``analyze`` then leaves it behind in its
#: thread, reports the clip, and the run goes on. Only spawned workers (``--workers``) can be killed outright.
STUCK_GRACE_S = 10.0


def extract_watched(path: Path, cfg: dict, *, progress, cancel, options, provisional=None):
    """``extract_features`` in a thread of its own, waited for at most the clip's time limit plus
    ``STUCK_GRACE_S`` (the limit is always set: engine.config requires it above 0)."""
    limit = float(cfg["engine"]["clip_timeout_s"])  # above 0 (engine.config)
    deadline = Deadline(cancel, limit)
    box: dict = {}
    # The thread's end is an Event of our own, not Thread.join/is_alive: before Python 3.13 a Ctrl-C that lands
    # inside join() can mark a running thread as stopped (CPython gh-90882), and the process then exits while the
    # analysis still runs in native code (onnxruntime, OpenCV), which aborts ("terminate called", exit 134).
    finished = threading.Event()

    def run():
        try:
            box["value"] = extract_features(path, cfg, progress=progress, cancel=deadline, options=options,
                                            provisional=provisional)
        except BaseException as exc:  # raised again below, in the caller's thread
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=run, name="byteme-clip", daemon=True)
    thread.start()
    give_up = time.monotonic() + limit + STUCK_GRACE_S
    try:
        while not finished.wait(0.25) and time.monotonic() < give_up:
            pass
    except BaseException:  # Ctrl-C: stop the analysis (at its next packet) and let it end before going
        deadline.stop()
        finished.wait(STUCK_GRACE_S)
        raise
    if not finished.is_set():
        deadline.stop()
        raise MediaError(
            f"{path.name} stopped responding (stuck inside the decoder or another library call) and was given up "
            f"after {limit + STUCK_GRACE_S:.0f} s; the file or the disk it is on may be damaged or unreachable. "
            "Scoring with --workers 1 stops such a clip by ending its worker process.", kind="timeout")
    if "error" in box:
        raise box["error"]
    return box["value"]


__all__ = ["Progress", "Snapshot", "evaluate", "extract_features", "extract_watched", "failed_result", "MediaError"]
