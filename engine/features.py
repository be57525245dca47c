"""FeatureVector: named metrics with units, ranges and direction, plus per-second series and events.

Every metric an extractor produces is declared once as a ``MetricSpec`` (like pyiqa's metric metadata): its key
(``modality.name``), a label in the user's words, the unit, the range it lives in, and whether higher is better.
The breakdown screen, the reports and the feedback rules read these specs; nothing shows a bare number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

MODALITIES = ("visual", "audio", "text")


@dataclass(frozen=True)
class MetricSpec:
    key: str  # "visual.sharpness"
    label: str  # "Sharpness"
    unit: str  # "", "LUFS", "dB", "%", "px", "s", "per min"
    lo: float
    hi: float
    higher_better: bool | None  # None: neither direction is better in itself (e.g. tempo)
    description: str = ""
    #: value -> the words that say what it means, shown beside the number in findings ("3.36 of 5 (fair to good)",
    #: "First-line hook is 0 (no question, number or promise)"); None when the number says it.
    words: Callable[[float], str] | None = field(default=None, compare=False)
    #: The label names many things ("Dropped frames"): findings say "are", not "is".
    plural: bool = False

    @property
    def modality(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


@dataclass
class Series:
    """A metric over time: ``values[i]`` at ``start_s + i * step_s`` (None where not measured)."""

    key: str
    step_s: float
    values: list
    unit: str = ""
    start_s: float = 0.0

    def times(self) -> list[float]:
        return [self.start_s + i * self.step_s for i in range(len(self.values))]

    def as_dict(self) -> dict:
        return {"step_s": self.step_s, "start_s": self.start_s, "unit": self.unit, "values": self.values}

    @classmethod
    def from_dict(cls, key: str, d: dict) -> "Series":
        return cls(key, d["step_s"], list(d["values"]), d.get("unit", ""), d.get("start_s", 0.0))


@dataclass
class FeatureVector:
    """Everything measured on one clip. Values are floats (or None when a metric could not be measured)."""

    values: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)  # e.g. {"visual.cuts_s": [...], "audio.silences": [[s, e], ...]}
    notes: dict = field(default_factory=dict)  # per modality: why something could not be measured
    text: dict = field(default_factory=dict)  # text gathered for the text modality (caption, subtitles, ocr)

    def set(self, key: str, value) -> None:
        if value is None:
            self.values[key] = None
            return
        v = float(value)
        self.values[key] = None if math.isnan(v) or math.isinf(v) else v

    def get(self, key: str, default=None):
        v = self.values.get(key)
        return default if v is None else v

    def add_series(self, key: str, values: Iterable, *, step_s: float, unit: str = "", start_s: float = 0.0) -> None:
        vals = [None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), 5) for v in values]
        self.series[key] = Series(key, step_s, vals, unit, start_s)

    def note(self, modality: str, message: str) -> None:
        self.notes.setdefault(modality, []).append(message)

    def has_modality(self, modality: str) -> bool:
        return any(k.startswith(modality + ".") and v is not None for k, v in self.values.items())

    def as_dict(self) -> dict:
        return {
            "values": self.values,
            "series": {k: s.as_dict() for k, s in self.series.items()},
            "events": self.events,
            "notes": self.notes,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureVector":
        return cls(
            values=dict(d.get("values", {})),
            series={k: Series.from_dict(k, s) for k, s in d.get("series", {}).items()},
            events=dict(d.get("events", {})),
            notes=dict(d.get("notes", {})),
            text=dict(d.get("text", {})),
        )


def per_second(times_s, values, duration_s: float, *, reduce=None) -> list:
    """Bucket (time, value) samples into whole seconds; mean per bucket by default; None for empty seconds."""
    import numpy as np

    n = max(1, int(math.ceil(duration_s))) if duration_s > 0 else 1
    buckets: list[list[float]] = [[] for _ in range(n)]
    for t, v in zip(times_s, values):
        if v is None:
            continue
        i = min(n - 1, max(0, int(t)))
        buckets[i].append(v)
    fn = reduce or (lambda b: float(np.mean(b)))
    return [fn(b) if b else None for b in buckets]


#: The words of the scale people rate with (ITU-T P.910's absolute category rating: 1 bad ... 5 excellent).
RATING_WORDS = ("bad", "poor", "fair", "good", "excellent")


#: How near a scale point a MOS must be to take its word alone (3.2: "fair"); further, it is named by the two it
#: lies between (3.71: "fair to good"). The nearest word alone called 3.71 "good" in the finding that said it fell
#: short of the 3.75 target.
RATING_WORD_REACH = 0.25


def rating_word(mos: float) -> str:
    """The rating scale's word for a mean opinion score: the nearest scale point's word within
    ``RATING_WORD_REACH`` of it (3.2: "fair"), else the two it lies between (3.36: "fair to good")."""
    v = min(5.0, max(1.0, float(mos)))
    nearest = int(math.floor(v + 0.5))
    if abs(v - nearest) <= RATING_WORD_REACH + 1e-9:
        return RATING_WORDS[nearest - 1]
    low = int(math.floor(v))
    return f"{RATING_WORDS[low - 1]} to {RATING_WORDS[low]}"


#: The model's prediction as a metric: the MOS people would likely give the picture, on their rating scale.
PICTURE_MOS = MetricSpec(
    "visual.picture_mos", "Picture as people would rate it", "of 5", 1.0, 5.0, True,
    "The mean opinion score (1 bad, 2 poor, 3 fair, 4 good, 5 excellent) people would likely give this picture, "
    "predicted by the picture-quality model (engine/models/picture_quality.json, trained on 67 KoNViD-1k clips "
    "rated by people) from the picture's natural-scene statistics and grain; derived when the clip is scored.",
    words=rating_word)


#: Metrics computed from other metrics when a clip is scored (``engine.picture_quality.derived_values``), declared beside the extracted
#: ones (``engine.extractors.metric_specs``) so targets, findings and the JSON name them alike.
DERIVED_METRICS = (PICTURE_MOS,)
