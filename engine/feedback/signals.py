"""Reading a clip's series and events for the hook and the retention timeline, defensively: a part whose data is
absent reads None and is left out by its caller (said in its ``unused`` list), never guessed.
"""
from __future__ import annotations

#: Level of the 50 ms audio envelope (dBFS) under which a window is silent, when the audio extractors' own
#: silence and first-sound events are absent: -60 dBFS is below any usable recording's noise floor at phone gain.
ENVELOPE_SILENCE_DBFS = -60.0
#: Thumbnail change (luma levels between samples 0.2 s apart) above which the picture visibly changes, and below
#: which it is frozen (an exact repeat re-encoded stays under 0.1; sensor noise on a 32 px thumbnail ~0.1-0.3).
VISIBLE_CHANGE = 2.0
FROZEN_CHANGE = 0.05


def series_window(fv, key: str, start_s: float, end_s: float):
    """The values of a series from ``start_s`` up to ``end_s`` (None when the series is absent or has none there)."""
    s = fv.series.get(key)
    if s is None:
        return None
    vals = [v for t, v in zip(s.times(), s.values) if v is not None and start_s <= t < end_s]
    return vals or None


def per_second(fv, key: str, n: int):
    """A per-second list of length n from a series of any step (mean of the samples in each second)."""
    s = fv.series.get(key)
    if s is None:
        return None
    buckets = [[] for _ in range(n)]
    for t, v in zip(s.times(), s.values):
        i = int(t)
        if v is not None and 0 <= i < n:
            buckets[i].append(v)
    return [sum(b) / len(b) if b else None for b in buckets]


def thumbnail_signal(fv):
    """The frame-hash extractor's thumbnail signal (``hash.signal``: t, luma, change, step_s), or None."""
    d = fv.events.get("hash.signal")
    if not d or not d.get("t"):
        return None
    return d
