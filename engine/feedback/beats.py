"""Cut on beat: the audio extractors measure it (``audio.cuts_on_beat_pct``); this only summarises it for the
insights, saying why when it was not measured.
"""
from __future__ import annotations


def cut_on_beat(fv) -> dict:
    pct = fv.values.get("audio.cuts_on_beat_pct")
    if pct is None:
        cuts = fv.events.get("visual.cuts_s")
        beats = fv.events.get("audio.beats_s")
        why = ("the cut-on-beat metric is not there" if cuts is None or beats is None else
               "the clip has no cuts" if not cuts else "the clip has no clear beat")
        return {"status": "not_measured", "reason": why}
    return {"status": "measured", "on_beat_pct": round(pct, 1), "cuts": len(fv.events.get("visual.cuts_s") or []),
            "missed": fv.events.get("audio.cuts_off_beat") or []}
