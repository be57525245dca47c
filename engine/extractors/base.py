"""The extractor interface: every family of metrics is one small class that consumes the shared decoded stream.

An extractor declares its ``name``, its ``modality`` and what it writes and reads, like PySceneDetect's detectors
declare their metric keys:

    METRICS  the metrics it sets (``MetricSpec``: unit, range, direction)
    EVENTS   the event series it writes into ``fv.events`` (``EventSpec``: key, shape, description); the two
             shared lists every extractor may add to are ``FINDINGS`` and ``FINDING_MESSAGES`` below
    TEXT     the ``fv.text`` entries it writes (the gathered words: caption, subtitles, OCR lines, ...)
    needs    what its ``finish()`` reads from ``fv``: metric and event keys, and ``fv.text`` entries spelled
             ``"fv.text.<entry>"``
    after    keys written by extractors that must finish first although this one does not read them (an order
             for memory or cost, e.g. the extractor that frees a shared spectrogram goes after its readers)

The pipeline decodes each clip once and calls, for every extractor in registry order:

    begin(ctx)            once, before decoding (``ctx.info`` is the probe)
    on_frame(frame, ctx)  for each decoded video frame (``VideoFrame``: .gray / .rgb at analysis size, .full_gray)
    finish(ctx, fv)       once, after decoding: ``ctx.audio`` holds the mono audio; write metrics into ``fv``

and, optionally, while the clip decodes (provisional verdicts, ``pipeline.extract_features(provisional=...)``):

    snapshot()            between two on_frame calls: a frozen copy of what it has seen so far, whose finish()
                          summarises the clip up to that frame; None (the default) when it has no cheap summary

The registry order follows from the declarations (``registered()``): an extractor comes after every extractor
that writes what it ``needs`` (or what it runs ``after``); ties go by family (the subpackage: visual, audio, text,
crossmodal, originality), then by name, so the order is the same on every run. Extractors keep per-clip state on
``self``: the pipeline creates fresh instances for each clip.
"""
from __future__ import annotations

import copy
import heapq
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

from ..features import DERIVED_METRICS, MODALITIES, FeatureVector, MetricSpec
from ..media import DecodedAudio, MediaInfo, VideoFrame


@dataclass(frozen=True)
class EventSpec:
    """One event series an extractor writes into ``fv.events``: its key, what the value looks like (JSON shape
    and units), and what it is for."""

    key: str  # "visual.cuts_s"
    shape: str  # "[t_s]", "{step_s, t: [s], phash: [hex]}", ...
    description: str = ""


#: The findings an extractor raises itself (beside the target rules of ``engine.feedback``); any extractor may
#: append to this list, so it is declared here once and listed in the ``EVENTS`` of each that does.
FINDINGS = EventSpec("findings", "[{modality, severity, code, message, value, target, start_s, end_s, source, "
                                 "points}]", "Findings raised by the extractor itself, read by engine.feedback.")
#: An extractor's own sentence for a target rule's finding (it knows where it looked): {finding code: message}.
FINDING_MESSAGES = EventSpec("finding_messages", "{code: message}",
                             "Messages that replace a target rule's text for that finding code (engine.feedback).")
#: Event keys several extractors may write (each adds to them); every other key has one writer.
SHARED_EVENTS = (FINDINGS.key, FINDING_MESSAGES.key)
#: Tie-break order of the extractor families (the subpackages of ``engine.extractors``): the modalities, then the
#: cross-modal extractors that read them, then the originality signals for the library.
FAMILIES = (*MODALITIES, "crossmodal", "originality")
#: Prefix of an ``fv.text`` entry in ``needs`` / ``after``.
TEXT_PREFIX = "fv.text."


@dataclass
class ClipContext:
    path: Path
    info: MediaInfo
    config: dict
    audio: DecodedAudio | None = None
    frame_times_s: list = field(default_factory=list)
    cancel: threading.Event | None = None
    options: dict = field(default_factory=dict)  # run options, e.g. {"ocr": False}
    report: Callable[[str, float], None] | None = None  # (stage, fraction) for long finish() work

    def section(self, name: str) -> dict:
        """A config table by dotted name, e.g. ``ctx.section("visual")``; {} when absent."""
        node = self.config
        for part in name.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}


class Extractor:
    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    METRICS: ClassVar[tuple[MetricSpec, ...]] = ()
    #: Event series written into ``fv.events`` (see the module docstring).
    EVENTS: ClassVar[tuple[EventSpec, ...]] = ()
    #: ``fv.text`` entries written.
    TEXT: ClassVar[tuple[str, ...]] = ()
    #: Metric keys, event keys and ``fv.text.<entry>`` names that finish() reads: their writers run first.
    needs: ClassVar[tuple[str, ...]] = ()
    #: Keys whose writers must run first although finish() does not read them (order for memory or cost).
    after: ClassVar[tuple[str, ...]] = ()
    #: Stage label shown in progress (decode, visual, audio, text, ocr).
    stage: ClassVar[str] = ""
    #: False for extractors that never look at frames (audio, text): the pipeline skips their on_frame.
    wants_frames: ClassVar[bool] = True
    #: True when finish() reads only ``ctx.audio``, ``ctx.info``, ``ctx.config`` and what other audio-only
    #: extractors wrote (no frames, no other modality's features): the pipeline runs these in a thread of their
    #: own while the video decodes, in registry order among themselves.
    audio_only: ClassVar[bool] = False
    #: False for metrics that only a dedicated model reads (the perceptual statistics feed the picture-quality
    #: model): the learned scorer's inputs (``engine.model.current_feature_keys``) leave them out, so adding such
    #: metrics does not make every trained scorer stale.
    learned_inputs: ClassVar[bool] = True

    def begin(self, ctx: ClipContext) -> None:
        pass

    def on_frame(self, frame: VideoFrame, ctx: ClipContext) -> None:
        pass

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        raise NotImplementedError

    def enabled(self, ctx: ClipContext) -> bool:
        """False to skip this extractor for this run (e.g. OCR with --no-ocr)."""
        return True

    def snapshot(self) -> "Extractor | None":
        """A frozen copy of this extractor whose ``finish()`` gives a partial summary of the frames seen so far (a
        provisional verdict while the clip decodes), or None: the default, for an extractor with no cheap partial
        summary (it is then left out of the provisional verdicts until it has finished).

        Called in the thread that runs ``on_frame``, between two frames, so it must only copy (``frozen``), never
        compute; the copy's ``finish()`` runs later in another thread, on a context whose ``info.duration_s`` is
        the time decoded so far, and must leave this instance's state alone."""
        return None

    def frozen(self, *growing: str) -> "Extractor":
        """A shallow copy of this extractor whose attributes named in ``growing`` (the lists it appends to, the
        arrays it updates in place) are copies of their own: what ``snapshot()`` returns."""
        twin = copy.copy(self)
        for name in growing:
            value = getattr(self, name)
            if value is not None:
                setattr(twin, name, value.copy())
        return twin


class RegistryError(TypeError):
    """The extractor declarations do not add up: a duplicate name, a need nobody writes, or a cycle."""


_REGISTRY: list[type[Extractor]] = []


def register(cls: type[Extractor]) -> type[Extractor]:
    """Class decorator: add an extractor to the registry. A second extractor with a name already taken raises."""
    if not cls.name or cls.modality not in MODALITIES:
        raise RegistryError(f"{cls.__name__} needs a name and a modality (one of {', '.join(MODALITIES)})")
    for other in _REGISTRY:
        if other.name == cls.name:
            raise RegistryError(f"Two extractors are named {cls.name!r}: {_where(other)} and {_where(cls)}.")
    _REGISTRY.append(cls)
    return cls


def _where(cls: type[Extractor]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def family(cls: type[Extractor]) -> str:
    """The extractor's family: its subpackage of ``engine.extractors`` (visual, audio, text, crossmodal,
    originality); its modality when it lives elsewhere (e.g. a test's own extractor)."""
    parts = cls.__module__.split(".")
    if parts[:2] == ["engine", "extractors"] and len(parts) > 3 and parts[2] in FAMILIES:
        return parts[2]
    return cls.modality


def writes(cls: type[Extractor]) -> set[str]:
    """Every key the extractor declares it writes: metric keys, event keys and ``fv.text.<entry>`` names."""
    return ({m.key for m in cls.METRICS} | {e.key for e in cls.EVENTS}
            | {TEXT_PREFIX + t for t in cls.TEXT})


def ordered(classes: list[type[Extractor]]) -> list[type[Extractor]]:
    """``classes`` in an order where each comes after the writers of what it ``needs`` and runs ``after``
    (Kahn's algorithm; among the ready ones, by family then name). Raises ``RegistryError`` on a need nobody
    writes, on a key two extractors both write (``SHARED_EVENTS`` aside), and on a cycle."""
    writers: dict[str, list[type[Extractor]]] = {}
    for cls in classes:
        for key in writes(cls):
            if key in writers and key not in SHARED_EVENTS and writers[key][0] is not cls:
                raise RegistryError(f"{key!r} is written by two extractors: {writers[key][0].name} and {cls.name}.")
            writers.setdefault(key, []).append(cls)
    before: dict[type[Extractor], set[type[Extractor]]] = {cls: set() for cls in classes}
    for cls in classes:
        for key in (*cls.needs, *cls.after):
            if key not in writers:
                raise RegistryError(f"Extractor {cls.name!r} needs {key!r}, which no registered extractor writes.")
            before[cls].update(w for w in writers[key] if w is not cls)
    rank = {f: i for i, f in enumerate(FAMILIES)}

    def key(c):
        return rank.get(family(c), len(rank)), c.name, _where(c)

    waiting = {cls: len(deps) for cls, deps in before.items()}
    users: dict[type[Extractor], list[type[Extractor]]] = {cls: [] for cls in classes}
    for cls, deps in before.items():
        for d in deps:
            users[d].append(cls)
    ready = [(key(c), i, c) for i, c in enumerate(classes) if not waiting[c]]
    heapq.heapify(ready)
    out = []
    while ready:
        _, _, cls = heapq.heappop(ready)
        out.append(cls)
        for u in users[cls]:
            waiting[u] -= 1
            if not waiting[u]:
                heapq.heappush(ready, (key(u), classes.index(u), u))
    if len(out) < len(classes):
        stuck = sorted(c.name for c in classes if waiting[c])
        raise RegistryError(f"The extractors {', '.join(stuck)} wait on each other (a cycle in their needs/after).")
    return out


def registered() -> list[type[Extractor]]:
    """Every registered extractor, in run order (see ``ordered``)."""
    from . import load_all

    load_all()
    return ordered(list(_REGISTRY))


def metric_specs() -> dict[str, MetricSpec]:
    """Every declared metric by key: those the registered extractors measure, and those derived from them when a
    clip is scored (``engine.features.DERIVED_METRICS``: the picture MOS)."""
    specs: dict[str, MetricSpec] = {}
    for cls in registered():
        for m in cls.METRICS:
            specs[m.key] = m
    for m in DERIVED_METRICS:
        specs[m.key] = m
    return specs


def event_specs() -> dict[str, EventSpec]:
    """Every declared event series by key."""
    specs: dict[str, EventSpec] = {}
    for cls in registered():
        for e in cls.EVENTS:
            specs[e.key] = e
    return specs
