"""Cross-modal: do the cuts land on the beat? Reads ``fv.events["visual.cuts_s"]`` (written by the visual
extractors) and ``fv.events["audio.beats_s"]`` (written by ``audio.content.Rhythm``), so it runs after both (its
``needs``)."""
from __future__ import annotations

import numpy as np

from ...features import FeatureVector, MetricSpec
from ..base import FINDINGS, ClipContext, EventSpec, Extractor, register

#: A cut is on the beat when it is within this of a beat. ITU-R BT.1359 puts the detectability of audio/video
#: offset at about 45 ms (sound first) to 125 ms (sound late); 100 ms also covers 3 frames at 30 fps.
CUT_BEAT_TOLERANCE_S = 0.10
#: Below this share of cuts on the beat an edit to music reads as off-beat (BYTEME convention, editing practice).
ON_BEAT_GOOD_PCT = 50.0
#: Findings list at most this many missed cuts by time.
MAX_LISTED = 5


def align_cuts(cuts_s, beats_s, *, tolerance_s: float = CUT_BEAT_TOLERANCE_S) -> dict:
    """For each cut, the nearest beat and the offset (cut minus beat, s); which cuts are on the beat.

    Returns {"on_beat": [cut_s...], "missed": [{"cut_s", "nearest_beat_s", "offset_s"}...], "on_beat_pct"}.
    """
    cuts = [float(c) for c in cuts_s]
    beats = np.asarray(sorted(float(b) for b in beats_s))
    on, missed = [], []
    for c in cuts:
        i = int(np.argmin(np.abs(beats - c)))
        off = c - float(beats[i])
        if abs(off) <= tolerance_s:
            on.append(round(c, 3))
        else:
            missed.append({"cut_s": round(c, 3), "nearest_beat_s": round(float(beats[i]), 3), "offset_s": round(off, 3)})
    return {"on_beat": on, "missed": missed, "on_beat_pct": 100.0 * len(on) / len(cuts) if cuts else None}


def _clock(t: float) -> str:
    m, s = divmod(float(t), 60.0)
    return f"{int(m)}:{s:04.1f}"


@register
class CutsOnBeats(Extractor):
    """Share of visual cuts that land within 100 ms of a musical beat (only when the clip has both)."""

    name = "cuts_on_beats"
    modality = "audio"
    stage = "audio"
    EVENTS = (
        EventSpec("audio.cuts_off_beat", "[{cut_s, nearest_beat_s, offset_s}]", "The cuts that miss the beat."),
        FINDINGS,
    )
    needs = ("visual.cuts_s", "audio.beats_s")
    wants_frames = False
    METRICS = (
        MetricSpec("audio.cuts_on_beat_pct", "Cuts on the beat", "%", 0, 100, True,
                   f"Share of cuts within {CUT_BEAT_TOLERANCE_S * 1000:.0f} ms of a beat; measured only when the "
                   "clip has cuts and a clear beat."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        cuts = fv.events.get("visual.cuts_s") or []
        beats = fv.events.get("audio.beats_s") or []
        if not cuts or len(beats) < 2:
            return
        res = align_cuts(cuts, beats)
        fv.set("audio.cuts_on_beat_pct", res["on_beat_pct"])
        fv.events["audio.cuts_off_beat"] = res["missed"]
        if res["missed"] and res["on_beat_pct"] < ON_BEAT_GOOD_PCT:
            listed = ", ".join(f"{_clock(m['cut_s'])} ({m['offset_s'] * 1000:+.0f} ms)" for m in res["missed"][:MAX_LISTED])
            more = f" and {len(res['missed']) - MAX_LISTED} more" if len(res["missed"]) > MAX_LISTED else ""
            fv.events.setdefault("findings", []).append({
                "modality": "audio", "severity": "low", "code": "audio.cuts_off_beat",
                "message": (f"{len(res['on_beat'])} of {len(cuts)} cuts land within {CUT_BEAT_TOLERANCE_S * 1000:.0f} "
                            f"ms of a beat. Off the beat: {listed}{more}. Slide these cuts onto the nearest beat "
                            "so the edit moves with the music."),
                "value": round(res["on_beat_pct"], 1), "target": ON_BEAT_GOOD_PCT,
                "start_s": res["missed"][0]["cut_s"], "end_s": res["missed"][-1]["cut_s"],
                "source": "editing convention (BYTEME); sync tolerance after ITU-R BT.1359",
                "points": 0.0,
            })
