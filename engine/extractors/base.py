"""The extractor interface: every family of metrics is one small class that consumes the shared decoded stream.

An extractor declares its ``name``, its ``modality`` and the ``METRICS`` it produces (``MetricSpec``: unit, range,
direction), like PySceneDetect's detectors declare their metric keys. The pipeline decodes each clip once and
calls, for every extractor in registry order:

    begin(ctx)            once, before decoding (``ctx.info`` is the probe)
    on_frame(frame, ctx)  for each decoded video frame (``VideoFrame``: .gray / .rgb at analysis size, .full_gray)
    finish(ctx, fv)       once, after decoding: ``ctx.audio`` holds the mono audio; write metrics into ``fv``

``finish`` runs in registry order, so a later extractor may read what an earlier one wrote into ``fv`` (the OCR
extractor reads the cut times, the audio-visual metrics read the beats). Extractors keep per-clip state on
``self``: the pipeline creates fresh instances for each clip.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

from ..features import FeatureVector, MetricSpec
from ..media import DecodedAudio, MediaInfo, VideoFrame


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
    #: Stage label shown in progress (decode, visual, audio, text, ocr).
    stage: ClassVar[str] = ""
    #: False for extractors that never look at frames (audio, text): the pipeline skips their on_frame.
    wants_frames: ClassVar[bool] = True
    #: finish() runs in ascending order: visual 10-39, audio 40-59, text 60-79, OCR 80, cross-modal 90+.
    order: ClassVar[int] = 50
    #: True when finish() reads only ``ctx.audio``, ``ctx.info``, ``ctx.config`` and what other audio-only
    #: extractors wrote (no frames, no other modality's features): the pipeline runs these in a thread of their
    #: own while the video decodes, in registry order among themselves.
    audio_only: ClassVar[bool] = False

    def begin(self, ctx: ClipContext) -> None:
        pass

    def on_frame(self, frame: VideoFrame, ctx: ClipContext) -> None:
        pass

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        raise NotImplementedError

    def enabled(self, ctx: ClipContext) -> bool:
        """False to skip this extractor for this run (e.g. OCR with --no-ocr)."""
        return True


_REGISTRY: list[type[Extractor]] = []


def register(cls: type[Extractor]) -> type[Extractor]:
    """Class decorator: add an extractor to the registry."""
    if not cls.name or cls.modality not in ("visual", "audio", "text"):
        raise TypeError(f"{cls.__name__} needs a name and a modality")
    if all(c.name != cls.name for c in _REGISTRY):
        _REGISTRY.append(cls)
    return cls


def registered() -> list[type[Extractor]]:
    from . import load_all

    load_all()
    return sorted(_REGISTRY, key=lambda c: (c.order, c.name))


def metric_specs() -> dict[str, MetricSpec]:
    specs: dict[str, MetricSpec] = {}
    for cls in registered():
        for m in cls.METRICS:
            specs[m.key] = m
    return specs
