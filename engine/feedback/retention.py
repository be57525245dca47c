"""The retention-risk timeline: per second of a clip, a risk 0-1 from what makes viewers swipe away (dead air, a
loudness dip, a static or frozen shot, a black stretch, a shot much longer than the clip's rhythm, text too fast to
read), and findings for the riskiest stretches. Weights and thresholds: ``[retention]`` in config.toml.
"""
from __future__ import annotations

import math

from .signals import ENVELOPE_SILENCE_DBFS, FROZEN_CHANGE, per_second, thumbnail_signal
from .targets import Finding, clock, severity_for, target_codes

MODALITY_OF_REASON = {"dead_air": "audio", "loudness_dip": "audio", "static_shot": "visual", "long_shot": "visual",
                      "frozen": "visual", "black": "visual", "fast_text": "text"}
#: The metrics whose own findings name a reason where it happens (their codes come from ``[targets]``), and the hook's
#: findings that do: a peak with one reason that such a finding already places on it is not said twice.
REASON_METRICS = {"dead_air": ("audio.dead_air_pct",), "black": ("visual.black_pct", "visual.black_start_s"),
                  "frozen": ("visual.frozen_pct",), "fast_text": ("text.onscreen_reading_wps",)}
REASON_HOOK_CODES = {"black": ("hook.black_opening",), "dead_air": ("hook.late_first_sound",)}
REASON_WORDS = {
    "dead_air": "dead air", "static_shot": "a static shot", "long_shot": "a shot much longer than the clip's rhythm",
    "loudness_dip": "a loudness dip", "fast_text": "text too fast to read", "frozen": "a frozen frame",
    "black": "a black screen",
}


def _spans_to_seconds(spans, n: int, min_cover: float) -> list[bool]:
    cover = [0.0] * n
    for s, e in spans or []:
        s, e = float(s), float(e)
        for i in range(max(0, int(s)), min(n, int(math.ceil(e)))):
            cover[i] += max(0.0, min(e, i + 1) - max(s, i))
    return [c >= min_cover for c in cover]


def named_by(peak: dict, findings, targets: dict) -> str | None:
    """The code of a finding in ``findings`` that already names every reason of ``peak`` where it happens (its own
    span covers at least half the peak), or None. Only one reason is ever named that way: a stretch of dead air
    that is also a static shot is worth its own line."""
    if len(peak["reasons"]) != 1:
        return None
    why = peak["reasons"][0]
    codes = target_codes(REASON_METRICS.get(why, ()), targets) | set(REASON_HOOK_CODES.get(why, ()))
    length = max(1e-9, peak["end_s"] - peak["start_s"])
    for f in findings:
        if f.code in codes and f.start_s is not None and f.end_s is not None:
            if min(f.end_s, peak["end_s"]) - max(f.start_s, peak["start_s"]) >= 0.5 * length:
                return f.code
    return None


def retention_timeline(fv, info, cfg: dict, named=()) -> dict:
    """Per second: a risk 0-1, a level (low/medium/high) and its reasons. Returns {"seconds": [{t, risk, level,
    reasons}], "unused": [...], "peaks": [{start_s, end_s, risk, reasons, named_by}], "findings": [Finding]}.

    ``named``: the findings already raised (the targets' and the hook's); a peak with one reason that one of them
    already places on the same stretch ("Dead air is 36.7% between 0:07 and 0:12") keeps its place on the timeline
    but is not said again as a retention finding (``named_by`` holds that finding's code)."""
    r = cfg.get("retention", {})
    weights = r.get("weights", {})
    duration = float(info.duration_s or 0.0)
    n = max(1, int(math.ceil(duration - 1e-6))) if duration > 0 else 0
    reasons: list[set] = [set() for _ in range(n)]
    unused = []
    sig = thumbnail_signal(fv)

    # Dead air.
    if info.has_audio:
        dead = per_second(fv, "audio.dead_air_pct", n)
        if dead is not None:
            flags = [v is not None and v >= float(r.get("dead_air_min_pct", 50)) for v in dead]
        elif fv.events.get("hash.audio_env"):
            env = fv.events["hash.audio_env"]
            step = env["step_s"]
            spans = [[i * step, (i + 1) * step] for i, v in enumerate(env["db"]) if v <= ENVELOPE_SILENCE_DBFS]
            flags = _spans_to_seconds(spans, n, float(r.get("dead_air_min_pct", 50)) / 100)
        else:
            flags = None
            unused.append("dead air: no silence data")
        for i, f in enumerate(flags or []):
            if f:
                reasons[i].add("dead_air")
    # Loudness dip (against the clip's loudness; silent seconds are dead air, not a dip).
    if info.has_audio:
        per_s = per_second(fv, "audio.loudness_momentary_lufs", n)
        ref = fv.values.get("audio.loudness_lufs")
        if per_s is None or ref is None:
            env = fv.events.get("hash.audio_env")
            if env:
                k = max(1, int(round(1.0 / env["step_s"])))
                vals = env["db"]
                per_s = [sum(vals[i * k:(i + 1) * k]) / max(1, len(vals[i * k:(i + 1) * k])) if vals[i * k:(i + 1) * k]
                         else None for i in range(n)]
                loud = sorted(v for v in per_s if v is not None and v > ENVELOPE_SILENCE_DBFS)
                ref = loud[len(loud) // 2] if loud else None
        if per_s is not None and ref is not None:
            for i, v in enumerate(per_s):
                if v is not None and v <= ref - float(r.get("loudness_dip_db", 10.0)) and "dead_air" not in reasons[i]:
                    reasons[i].add("loudness_dip")
        else:
            unused.append("loudness dip: no loudness series")
    # Static shot: little motion for at least static_min_s seconds.
    if info.has_video:
        motion = per_second(fv, "visual.motion_energy", n)
        limit = float(r.get("static_motion_below", 0.5))
        if motion is None and sig is not None:
            buckets = [[] for _ in range(n)]
            for t, ch in zip(sig["t"][1:], sig["change"][1:]):
                if 0 <= int(t) < n:
                    buckets[int(t)].append(ch)
            motion = [sum(b) / len(b) if b else None for b in buckets]
            limit = float(r.get("static_change_below", 1.0))
        if motion is None:
            unused.append("static shot: no motion series")
        else:
            still = [v is not None and v < limit for v in motion]
            run_min = int(r.get("static_min_s", 2))
            i = 0
            while i < n:
                j = i
                while j < n and still[j]:
                    j += 1
                if j - i >= run_min:
                    for k in range(i, j):
                        reasons[k].add("static_shot")
                i = max(j, i + 1)
    # Frozen frames and black stretches.
    if info.has_video:
        frozen = fv.events.get("visual.frozen")
        if frozen is None and sig is not None:
            frozen, start = [], None
            for t, ch in zip(sig["t"][1:], sig["change"][1:]):
                if ch < FROZEN_CHANGE:
                    start = t - sig["step_s"] if start is None else start
                elif start is not None:
                    if t - start >= 0.5:
                        frozen.append([start, t])
                    start = None
            if start is not None and sig["t"][-1] - start >= 0.5:
                frozen.append([start, sig["t"][-1] + sig["step_s"]])
        if frozen is None:
            unused.append("frozen frame: no frame-change data")
        for i, f in enumerate(_spans_to_seconds(frozen, n, 0.3)):
            if f:
                reasons[i].add("frozen")
                reasons[i].discard("static_shot")
        for i, f in enumerate(_spans_to_seconds(fv.events.get("visual.black_frames"), n, 0.5)):
            if f:
                reasons[i].add("black")
                reasons[i].discard("frozen")  # a black stretch is also "frozen"; say it once
    # A shot much longer than the clip's rhythm.
    shots = fv.events.get("visual.shots")
    if shots is None and "visual.cuts_s" in fv.events:
        b = [0.0] + list(fv.events["visual.cuts_s"]) + [duration]
        shots = [[b[i], b[i + 1]] for i in range(len(b) - 1)]
    if shots is None:
        unused.append("long shot: no cut data")
    elif len(shots) >= int(r.get("long_shot_min_shots", 3)):
        lengths = sorted(e - s for s, e in shots)
        median = lengths[len(lengths) // 2]
        limit = max(float(r.get("long_shot_factor", 2.5)) * median, float(r.get("long_shot_min_s", 4.0)))
        for s, e in shots:
            if e - s > limit:
                for i in range(int(s + limit), min(n, int(math.ceil(e)))):
                    reasons[i].add("long_shot")
    # Unreadably fast text.
    fast = per_second(fv, "text.onscreen_reading_wps", n)
    if fast is None and "ocr_frames_s" not in fv.text:  # read, but no screen of text came and went: nothing fast
        status = str(fv.text.get("ocr_status") or "On-screen text was not read.").rstrip(".")
        unused.append("fast text: " + status[:1].lower() + status[1:])
    else:
        for i, v in enumerate(fast or []):
            if v is not None and v > float(r.get("fast_text_wps", 4.0)):
                reasons[i].add("fast_text")

    seconds = []
    high, med = float(r.get("high_at", 0.5)), float(r.get("medium_at", 0.3))
    for i in range(n):
        keep = 1.0
        for why in reasons[i]:
            keep *= 1.0 - float(weights.get(why, 0.3))
        risk = round(1.0 - keep, 3)
        level = "high" if risk >= high else "medium" if risk >= med else "low"
        seconds.append({"t": i, "risk": risk, "level": level, "reasons": sorted(reasons[i])})

    # Peaks: runs of high-risk seconds (or the single riskiest medium stretch).
    peaks = []
    i = 0
    while i < n:
        if seconds[i]["level"] == "high":
            j = i
            while j < n and seconds[j]["level"] == "high":
                j += 1
            why = sorted({x for k in range(i, j) for x in seconds[k]["reasons"]})
            peaks.append({"start_s": float(i), "end_s": float(min(j, duration or j)),
                          "risk": max(seconds[k]["risk"] for k in range(i, j)), "reasons": why})
            i = j
        else:
            i += 1
    peaks.sort(key=lambda p: (-p["risk"] * (p["end_s"] - p["start_s"]), p["start_s"]))
    peaks = peaks[: int(r.get("max_findings", 3))]
    findings = []
    rank = float(r.get("rank_weight", 10.0))
    for p in peaks:
        p["named_by"] = named_by(p, named, cfg.get("targets", {}))
        if p["named_by"]:
            continue
        length = p["end_s"] - p["start_s"]
        points = round(rank * p["risk"] * min(1.0, length / 3.0), 2)
        mods = [MODALITY_OF_REASON[x] for x in p["reasons"]]
        modality = max(set(mods), key=mods.count) if mods else "visual"
        words = ", ".join(REASON_WORDS[x] for x in p["reasons"])
        findings.append(Finding(
            modality, severity_for(points), "retention.risk",
            f"Retention risk is high from {clock(p['start_s'])} to {clock(p['end_s'])}: {words}. Viewers swipe "
            "away when nothing new happens; trim this stretch or give it movement, a cut or sound.",
            p["risk"], float(r.get("high_at", 0.5)), p["start_s"], p["end_s"], "[retention] in config.toml", points))
    return {"seconds": seconds, "peaks": peaks, "unused": unused, "findings": findings}
