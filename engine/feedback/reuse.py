"""Findings from the originality report (``engine.originality.originality_report``: the library index's matches
and the corner-overlay detector): a near-duplicate, a reused soundtrack, another app's watermark.
"""
from __future__ import annotations

from ..textsafe import visible
from .targets import MEDIUM_POINTS, Finding, severity_for


#: The watermark finding is a detector's guess (a static object in a corner of a tripod shot looks the same), so it
#: ranks at half the points of a measured originality problem.
WATERMARK_GUESS_SHARE = 0.5


def originality_findings(orig: dict, cfg: dict) -> list[Finding]:
    out = []
    points = float(cfg.get("retention", {}).get("originality_points", 8.0))
    for m in orig.get("matches", []):
        name = visible(m["other_path"])
        if m["kind"] == "near_duplicate":
            msg = (f"This clip is a near-duplicate of {name} ({100 * m['similarity']:.0f}% of sampled frames match"
                   + (f", offset {m['time_offset_s']:+.1f} s" if m.get("time_offset_s") else "") +
                   "). Platforms demote re-uploads; post one of them, or change it substantially.")
            out.append(Finding("visual", severity_for(points), "originality.near_duplicate", msg, m["similarity"],
                               None, None, None, "perceptual hashes of frames sampled every 0.4 s", points))
        else:
            msg = (f"The soundtrack is also used in {name} ({100 * m['similarity']:.0f}% of audio landmarks agree, "
                   f"from {m['time_offset_s']:+.1f} s in that clip). Fine for trending sounds; for your own clips, "
                   "vary the music.")
            out.append(Finding("audio", "info", "originality.soundtrack", msg, m["similarity"], None, None, None,
                               "audio landmark fingerprint", 0.0))
    ov = orig.get("overlay", {})
    if ov.get("status") == "overlay":
        # A detector's guess, not a certainty (a static object in a corner of a tripod shot can look the same):
        # at most medium, and worded so.
        guess_points = points * WATERMARK_GUESS_SHARE
        out.append(Finding("visual", "medium" if guess_points >= MEDIUM_POINTS else "low", "originality.watermark",
                           f"There seems to be {ov['reason']}. If it is another app's watermark, platforms treat "
                           "the clip as unoriginal: export without it or crop it out.", None, None, None, None,
                           "persistent-overlay detector on the corner regions", guess_points))
    return out
