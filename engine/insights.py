"""Creator insights from a clip's features: the hook, the retention-risk timeline, the rewards pre-check, the
cut-on-beat summary and (with a store) originality across the library.

Everything here reads the FeatureVector the extractors wrote during the one decode pass; nothing decodes again.
Metrics of other extractors are read defensively: when one is absent, the part that needs it is left out and the
result says so (``unused``), it is never guessed. ``enrich(result, cfg, store=)`` puts it all into a ClipResult:

* ``result.scores.extra["hook"]``: the hook score (0-100);
* ``result.scores.extra["insights"]``: {"hook", "retention", "rewards", "cut_on_beat", "originality"};
* hook, retention, rewards and originality findings join ``result.findings``, ranked with the others.

Thresholds and weights come from ``[hook]``, ``[retention]`` and ``[presets.*.rewards]`` in config.toml.
"""
from __future__ import annotations

import math

from .feedback import MEDIUM_POINTS, SEVERITY_ORDER, Finding, clock, severity_for

MODALITY_OF_REASON = {"dead_air": "audio", "loudness_dip": "audio", "static_shot": "visual", "long_shot": "visual",
                      "frozen": "visual", "black": "visual", "fast_text": "text"}
REASON_WORDS = {
    "dead_air": "dead air", "static_shot": "a static shot", "long_shot": "a shot much longer than the clip's rhythm",
    "loudness_dip": "a loudness dip", "fast_text": "text too fast to read", "frozen": "a frozen frame",
    "black": "a black screen",
}
#: Level of the 50 ms audio envelope (dBFS) under which a window is silent, when the audio extractors' own
#: silence and first-sound events are absent: -60 dBFS is below any usable recording's noise floor at phone gain.
ENVELOPE_SILENCE_DBFS = -60.0
#: Mean luma (0-255) under which a sampled frame counts as black when the visual extractors' black spans are
#: absent (BT.601 black is 16; dark footage sits well above 30).
BLACK_LUMA = 24.0
#: Thumbnail change (luma levels between samples 0.2 s apart) above which the picture visibly changes, and below
#: which it is frozen (an exact repeat re-encoded stays under 0.1; sensor noise on a 32 px thumbnail ~0.1-0.3).
VISIBLE_CHANGE = 2.0
FROZEN_CHANGE = 0.05


def _ramp(x: float, bad: float, good: float) -> float:
    if good == bad:
        return 1.0 if x >= good else 0.0
    return float(min(1.0, max(0.0, (x - bad) / (good - bad))))


def _series_window(fv, key: str, start_s: float, end_s: float):
    s = fv.series.get(key)
    if s is None:
        return None
    vals = [v for t, v in zip(s.times(), s.values) if v is not None and start_s <= t < end_s]
    return vals or None


def _per_second(fv, key: str, n: int):
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


def _signal(fv):
    d = fv.events.get("hash.signal")
    if not d or not d.get("t"):
        return None
    return d


def _first_sound(fv, duration_s: float):
    """(time of the first sound in s or None when silent throughout, source text) or (None, None) if unknown."""
    if "audio.first_sound_s" in fv.events:
        return fv.events["audio.first_sound_s"], "the audio extractor's first sound"
    env = fv.events.get("hash.audio_env")
    if env:
        for i, db in enumerate(env["db"]):
            if db > ENVELOPE_SILENCE_DBFS:
                return round(i * env["step_s"], 2), "the 50 ms level envelope"
        return None, "the 50 ms level envelope"
    return "unknown", None


def _black_opening_s(fv) -> float | None:
    spans = fv.events.get("visual.black_frames")
    if spans is not None:
        return float(spans[0][1]) if spans and float(spans[0][0]) <= 0.05 else 0.0
    sig = _signal(fv)
    if sig is None:
        return None
    for t, luma in zip(sig["t"], sig["luma"]):
        if luma >= BLACK_LUMA:
            return float(t)
    return float(sig["t"][-1]) + sig["step_s"]


def _first_change_s(fv, after_s: float) -> float | None:
    """Time of the first visible change on screen after ``after_s`` (cuts count), from the thumbnail signal."""
    sig = _signal(fv)
    cuts = [c for c in fv.events.get("visual.cuts_s") or [] if c > after_s + 0.05]
    t_change = None
    if sig is not None:
        for t, ch in zip(sig["t"][1:], sig["change"][1:]):
            if t > after_s + 0.05 and ch >= VISIBLE_CHANGE:
                t_change = float(t)
                break
    if cuts:
        t_change = min(t_change, cuts[0]) if t_change is not None else float(cuts[0])
    return t_change


def _first_words(fv):
    """(time of the first spoken or written word, "spoken"/"written") or (None, reason)."""
    cands = []
    speech = fv.events.get("audio.speech_s")
    if speech:
        cands.append((float(speech[0][0]), "spoken"))
    transcript = fv.text.get("transcript")
    if transcript:
        try:
            cands.append((float(transcript[0][0]), "spoken"))
        except (TypeError, ValueError, IndexError, KeyError):
            pass
    ocr = fv.text.get("ocr")
    if ocr:
        try:
            cands.append((min(float(line[0]) for line in ocr), "written"))
        except (TypeError, ValueError, IndexError):
            pass
    if not cands:
        known = speech is not None or ocr is not None
        return None, ("no words are spoken or shown in the clip" if known else
                      "neither speech detection nor on-screen text reading ran")
    return min(cands)


# -- hook ----------------------------------------------------------------------------------------------------

#: What to change when the opening picture is the weak part, by the metric that scored lowest.
PICTURE_ADVICE = {
    "visual.sharpness": "open on a sharp shot (clean the lens, lock focus on the subject).",
    "visual.brightness": "open on a well-lit shot (add light or raise exposure for the first seconds).",
    "visual.detail": "export from the original footage at its native resolution; an upscaled or zoomed picture "
                     "looks soft from the first frame.",
}


def _opening_picture(fv, cfg: dict, win: float):
    """(score 0-1, detail, weakest metric key) of the opening picture, or None without the series. Sharpness and
    brightness are the means of their per-second series over the first ``win`` seconds; detail is the clip's (it has
    no per-second series); each is scored against its ``[targets]`` table."""
    from .scorer import metric_score

    targets = cfg.get("targets", {})
    parts = {}
    for key in ("visual.sharpness", "visual.brightness"):
        vals = _series_window(fv, key, 0.0, win)
        if vals and key in targets:
            parts[key] = sum(vals) / len(vals)
    if not parts:
        return None
    detail = fv.values.get("visual.detail")
    if detail is not None and "visual.detail" in targets:
        parts["visual.detail"] = detail
    scores = {k: metric_score(v, targets[k]) for k, v in parts.items()}
    worst = min(scores, key=scores.get)
    words = {"visual.sharpness": "sharpness {:.2f}", "visual.brightness": "brightness {:.0f}/255",
             "visual.detail": "real detail {:.2f}"}
    text = ", ".join(words[k].format(v) for k, v in parts.items())
    return scores[worst], text, worst


def hook_report(fv, info, cfg: dict) -> dict:
    """The hook (first ``[hook] window_s`` seconds): a 0-100 score from what happens in it, and findings.

    Returns {"window_s", "score" (None when nothing could be judged), "components": [{key, label, score 0-1,
    weight, detail}], "unused": [why a part was left out], "summary", "findings": [Finding]}.
    """
    h = cfg.get("hook", {})
    win = float(h.get("window_s", 3.0))
    w = h.get("weights", {})
    duration = float(info.duration_s or 0.0)
    comps, unused = [], []

    def add(key, label, score, detail, *, modality, code=None, message=None, start=None, end=None):
        comps.append({"key": key, "label": label, "score": round(score, 3), "weight": float(w.get(key, 1.0)),
                      "detail": detail, "modality": modality, "code": code, "message": message,
                      "start_s": start, "end_s": end})

    # Black opening.
    black_s = _black_opening_s(fv) if info.has_video else None
    if black_s is None:
        unused.append("black opening: no frames were sampled")
    else:
        black_s = min(black_s, duration or black_s)
        s = _ramp(-black_s, -float(h.get("black_bad_s", 1.0)), -float(h.get("black_good_s", 0.1)))
        add("black_opening", "Picture from the first frame", s,
            f"opens on {black_s:.1f} s of black" if black_s > 0.05 else "a picture from the first frame",
            modality="visual", code="hook.black_opening",
            message=f"The clip opens on {black_s:.1f} s of black: viewers decide in the first second. Cut the "
                    "black lead-in so the first frame already shows the subject.", start=0.0, end=round(black_s, 2))

    # Picture quality of the opening: sharpness and exposure in the first seconds (per-second series), and the
    # clip's real detail for its size, each against its [targets] table; the part is the weakest of them.
    if info.has_video:
        pic = _opening_picture(fv, cfg, win)
        if pic is None:
            unused.append("opening picture: no sharpness or brightness series")
        else:
            s, detail, worst = pic
            add("picture", "Opening picture (scales the rest)", s, detail, modality="visual",
                code="hook.poor_opening_picture",
                message=f"The opening picture is poor ({detail}): viewers judge the first frames; "
                        + PICTURE_ADVICE.get(worst, "open on your sharpest, best-lit shot."), start=0.0, end=win)

    # First visible change (after any black).
    if info.has_video and (_signal(fv) is not None or "visual.cuts_s" in fv.events):
        after = black_s or 0.0
        t_change = _first_change_s(fv, after)
        still_until = min(win, t_change) if t_change is not None else win
        s = _ramp(-still_until, -win, -float(h.get("change_good_s", 0.5)))
        detail = (f"first change on screen at {t_change:.1f} s" if t_change is not None and t_change < win
                  else f"nothing changes on screen in the first {win:.0f} s")
        add("first_change", "Something happens on screen", s, detail, modality="visual", code="hook.static_opening",
            message=(f"Nothing changes on screen for the first {still_until:.1f} s"
                     + (" after the black opening" if after > 0.05 else "")
                     + ": open on the action (movement, a cut, text appearing) within half a second."),
            start=0.0, end=round(still_until, 2))
    elif info.has_video:
        unused.append("first visible change: no frame-change data")

    # Motion and cuts in the window.
    motion = fv.values.get("visual.hook_motion")
    cuts_in = fv.values.get("visual.hook_cut_count")
    if cuts_in is None and "visual.cuts_s" in fv.events:
        cuts_in = sum(1 for c in fv.events["visual.cuts_s"] if 0 < c <= win)
    if motion is not None:
        s = _ramp(motion, float(h.get("motion_bad", 0.5)), float(h.get("motion_good", 6.0)))
        add("motion", "Movement", s, f"motion {motion:.1f} luma levels/frame", modality="visual",
            code="hook.no_motion",
            message=None if (cuts_in or 0) >= 1 else  # a cut is movement enough: no finding
            f"The first {win:.0f} s have little movement (motion {motion:.1f} luma levels/frame) and no cut: "
            "start on a moving subject or cut within the first second.", start=0.0, end=win)
    else:
        unused.append("movement: the visual motion metric is not there")
    if cuts_in is not None:
        n_cuts = int(cuts_in)
        add("cut", "A cut in the opening", 1.0 if n_cuts >= 1 else 0.0,
            f"{n_cuts} cut{'' if n_cuts == 1 else 's'} in the first {win:.0f} s", modality="visual")
    else:
        unused.append("cut: no cut data")

    # Face (a bonus: counted only when a face is there).
    face = fv.values.get("visual.hook_face")
    if face is None:
        unused.append("face: the face detector's metric is not there")
    elif face >= float(h.get("face_min_pct", 30.0)):
        add("face", "A face in the opening", 1.0, f"a face in {face:.0f}% of the opening", modality="visual")

    # First sound.
    if not info.has_audio:
        add("first_sound", "Sound from the start", 0.0, "no audio track", modality="audio", code="hook.no_sound",
            message="The clip has no sound: most viewers watch with sound on; add music or a voice.")
    else:
        t_sound, src = _first_sound(fv, duration)
        if src is None:
            unused.append("first sound: no level data")
        else:
            late = t_sound if t_sound is not None else min(win, duration or win)
            s = _ramp(-late, -float(h.get("sound_bad_s", 1.5)), -float(h.get("sound_good_s", 0.3)))
            detail = f"first sound at {t_sound:.1f} s" if t_sound is not None else "silent throughout"
            add("first_sound", "Sound from the start", s, detail, modality="audio", code="hook.late_first_sound",
                message=(f"The first sound comes at {t_sound:.1f} s" if t_sound is not None else "The clip is silent")
                + ": start the music or the first word on the first frame.", start=0.0, end=round(late, 2))

    # First words (spoken or written), when the clip has words at all.
    t_words, kind = _first_words(fv)
    if t_words is None and kind.startswith("no words"):
        add("first_words", "First words early", 0.0, f"no spoken or written words in the first {win:.0f} s",
            modality="text")
    elif t_words is None:
        unused.append(f"first words: {kind}")
    else:
        s = _ramp(-t_words, -win, -float(h.get("words_good_s", 1.0)))
        add("first_words", "First words early", s, f"first {kind} words at {t_words:.1f} s", modality="text",
            code="hook.late_first_words",
            message=f"The first {kind} words come at {t_words:.1f} s: say or show the promise of the clip in the "
                    "first second.", start=0.0, end=round(min(t_words, win), 2))

    # Loudness of the opening against the whole clip.
    if info.has_audio:
        opening = _series_window(fv, "audio.loudness_momentary_lufs", 0.0, win)
        whole = fv.values.get("audio.loudness_lufs")
        unit = "LU"
        if opening is None or whole is None:
            env = fv.events.get("hash.audio_env")
            if env:
                vals = env["db"]
                step = env["step_s"]
                opening = [v for i, v in enumerate(vals) if i * step < win]
                loud = sorted(v for v in vals if v > ENVELOPE_SILENCE_DBFS)
                whole = loud[len(loud) // 2] if loud else None
                unit = "dB"
        if opening and whole is not None:
            op = 10 * math.log10(sum(10 ** (v / 10) for v in opening) / len(opening))  # energy mean
            gap = op - whole
            s = _ramp(gap, -float(h.get("opening_quiet_bad_db", 15.0)), -float(h.get("opening_quiet_good_db", 3.0)))
            add("opening_loudness", "A loud enough opening", s, f"opening {gap:+.1f} {unit} against the clip",
                modality="audio", code="hook.quiet_opening",
                message=f"The opening is {abs(gap):.0f} {unit} quieter than the rest of the clip: start at full level.",
                start=0.0, end=win)
        else:
            unused.append("opening loudness: no loudness series")

    # The opening picture scales the rest: what happens in the opening counts only as far as it can be seen.
    pic = next((c for c in comps if c["key"] == "picture"), None)
    others = [c for c in comps if c is not pic]
    den = sum(c["weight"] for c in others)
    score = None
    if den > 0:
        floor = float(h.get("picture_floor", 0.5))
        scale = floor + (1.0 - floor) * pic["score"] if pic is not None else 1.0
        score = round(100.0 * scale * sum(c["weight"] * c["score"] for c in others) / den, 1)
    den = den + (pic["weight"] if pic is not None else 0.0)  # for ranking the picture's finding like the others
    findings = []
    below = float(h.get("finding_below", 0.5))
    rank = float(h.get("rank_weight", 0.15))
    for c in comps:
        if c["score"] < below and c["message"]:
            if c["key"] == "first_change" and black_s and black_s > 0.05 and c["end_s"] <= black_s + 0.3:
                continue  # the black opening already says it
            points = round(100.0 * rank * (c["weight"] / den) * (1.0 - c["score"]), 2)
            findings.append(Finding(c["modality"], severity_for(points), c["code"], c["message"], c["score"], 1.0,
                                    c["start_s"], c["end_s"], "[hook] in config.toml", points))
    bad = [c["detail"] for c in comps if c["score"] < below and c["key"] != "cut"]  # no cut alone is no flaw
    summary = (("; ".join(bad) + ": open on the action.") if bad else "The opening moves, sounds and speaks early.")
    return {"window_s": win, "score": score, "summary": summary, "unused": unused,
            "components": [{k: c[k] for k in ("key", "label", "score", "weight", "detail")} for c in comps],
            "findings": findings}


# -- retention -----------------------------------------------------------------------------------------------

def _spans_to_seconds(spans, n: int, min_cover: float) -> list[bool]:
    cover = [0.0] * n
    for s, e in spans or []:
        s, e = float(s), float(e)
        for i in range(max(0, int(s)), min(n, int(math.ceil(e)))):
            cover[i] += max(0.0, min(e, i + 1) - max(s, i))
    return [c >= min_cover for c in cover]


def retention_timeline(fv, info, cfg: dict) -> dict:
    """Per second: a risk 0-1, a level (low/medium/high) and its reasons. Returns {"seconds": [{t, risk, level,
    reasons}], "unused": [...], "peaks": [{start_s, end_s, risk, reasons}], "findings": [Finding]}."""
    r = cfg.get("retention", {})
    weights = r.get("weights", {})
    duration = float(info.duration_s or 0.0)
    n = max(1, int(math.ceil(duration - 1e-6))) if duration > 0 else 0
    reasons: list[set] = [set() for _ in range(n)]
    unused = []
    sig = _signal(fv)

    # Dead air.
    if info.has_audio:
        dead = _per_second(fv, "audio.dead_air_pct", n)
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
        per_s = _per_second(fv, "audio.loudness_momentary_lufs", n)
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
        motion = _per_second(fv, "visual.motion_energy", n)
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
    fast = _per_second(fv, "text.onscreen_reading_wps", n)
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


# -- rewards pre-check ---------------------------------------------------------------------------------------

def _check(rule: dict, info, fv, originality: dict | None) -> tuple[str, str]:
    """(status pass|fail|unknown, reason) of one rule."""
    kind = rule.get("check")
    if kind == "min_duration_s":
        v, lim = float(info.duration_s or 0), float(rule["value"])
        ok = v > lim if rule.get("strict", False) else v >= lim
        word = "over" if rule.get("strict", False) else "at least"
        return ("pass" if ok else "fail"), f"{v:.1f} s long; needs {word} {lim:.0f} s"
    if kind == "max_duration_s":
        v, lim = float(info.duration_s or 0), float(rule["value"])
        return ("pass" if v <= lim else "fail"), f"{v:.1f} s long; at most {lim:.0f} s"
    if kind == "aspect":
        if not info.has_video or not info.width or not info.height:
            return "unknown", "no video stream"
        want = float(rule["width"]) / float(rule["height"])
        got = info.width / info.height
        ok = abs(got - want) / want <= float(rule.get("tolerance", 0.02))
        return ("pass" if ok else "fail"), f"{info.width}x{info.height} displayed ({got:.3f}); wants {rule['width']}:{rule['height']}"
    if kind == "min_resolution":
        if not info.has_video:
            return "unknown", "no video stream"
        ok = min(info.width, info.height) >= int(rule["width"]) and max(info.width, info.height) >= int(rule["height"])
        return ("pass" if ok else "fail"), f"{info.width}x{info.height}; needs at least {rule['width']}x{rule['height']}"
    if kind == "audio_present":
        if not info.has_audio:
            return "fail", "no audio track"
        silent = fv.events.get("audio.first_sound_s", "n/a") is None
        return ("fail", "the audio track is silent") if silent else ("pass", "audio track present")
    if kind == "original":
        if originality is None or originality.get("status") == "not_indexed":
            why = "the library index was not available"
        else:
            dups = [m for m in originality.get("matches", []) if m["kind"] == "near_duplicate"]
            if dups:
                return "fail", f"near-duplicate of {dups[0]['other_path']} ({100 * dups[0]['similarity']:.0f}% of frames match)"
            ov = originality.get("overlay", {})
            if ov.get("status") == "overlay":
                return "fail", ov["reason"]
            return "pass", "no near-duplicate in the library and no other app's logo in a corner"
        return "unknown", why
    return "unknown", f"unknown check {kind!r}"


#: Checks that decide whether a clip can take part in a programme at all (its length), as opposed to how well it
#: meets the programme's rules; a programme that is off is still asked these, for its one informational line.
ELIGIBILITY_CHECKS = ("min_duration_s", "max_duration_s")


def rewards_eligibility(rw: dict, info) -> tuple[bool, str]:
    """(eligible, why) of a clip for one rewards table, from its duration rules only."""
    for key, rule in (rw.get("rules") or {}).items():
        if rule.get("check") in ELIGIBILITY_CHECKS and rule.get("required", True):
            status, reason = _check(rule, info, None, None)
            if status == "fail":
                return False, reason
    return True, "its length meets the programme's duration rules"


def rewards_checklists(info, fv, cfg: dict, originality: dict | None = None) -> list[dict]:
    """One checklist per preset that has a ``rewards`` table; the active preset first.

    A table with ``enabled = false`` (the creator does not aim at that programme) is not checked: its entry has
    ``enabled`` False, verdict ``"off"``, no items, and ``eligible`` / ``note`` (one line: whether the clip could
    take part at all, and why)."""
    active = cfg.get("platform", {}).get("preset")
    out = []
    for name, p in sorted(cfg.get("presets", {}).items(), key=lambda kv: (kv[0] != active, kv[0])):
        rw = p.get("rewards") if isinstance(p, dict) else None
        if not isinstance(rw, dict):
            continue
        if not rw.get("enabled", True):
            eligible, why = rewards_eligibility(rw, info)
            program = rw.get("program", "") or p.get("label", name)
            note = (f"{program}: not checked ([presets.{name}.rewards] enabled = false); "
                    + (f"the clip is not eligible anyway ({why})." if not eligible else
                       f"the clip could be eligible ({why}): set enabled = true to check the rest."))
            out.append({"preset": name, "label": p.get("label", name), "program": rw.get("program", ""),
                        "active": name == active, "enabled": False, "verdict": "off", "eligible": eligible,
                        "note": note, "items": []})
            continue
        items = []
        for key, rule in (rw.get("rules") or {}).items():
            status, reason = _check(rule, info, fv, originality)
            items.append({"rule": key, "label": rule.get("label", key), "status": status, "reason": reason,
                          "required": bool(rule.get("required", True)), "source": rule.get("source", "")})
        req = [i for i in items if i["required"]]
        verdict = ("fail" if any(i["status"] == "fail" for i in req) else
                   "unknown" if any(i["status"] == "unknown" for i in req) else "pass")
        out.append({"preset": name, "label": p.get("label", name), "program": rw.get("program", ""),
                    "active": name == active, "enabled": True, "verdict": verdict, "items": items})
    return out


def rewards_findings(checklists: list[dict], cfg: dict) -> list[Finding]:
    """A finding per failed rule of the active preset's checklist; when that programme is off, one info line."""
    out = []
    for c in checklists:
        if not c["active"]:
            continue
        if not c.get("enabled", True):
            out.append(Finding("visual", "info", "rewards.not_checked", c["note"], None, None, None, None,
                               f"[presets.{c['preset']}.rewards] in config.toml", 0.0))
            continue
        points = float(cfg.get("presets", {}).get(c["preset"], {}).get("rewards", {}).get("rank_points", 3.0))
        for i in c["items"]:
            if i["status"] == "fail":
                out.append(Finding("visual" if i["rule"] not in ("audio_present",) else "audio",
                                   severity_for(points if i["required"] else points / 3), f"rewards.{i['rule']}",
                                   f"{c['program'] or c['label']}: {i['label']}{'' if i['required'] else ' (recommended)'} fails "
                                   f"({i['reason']}).",
                                   None, None, None, None, i["source"], round(points if i["required"] else points / 3, 2)))
    return out


# -- cut on beat (the audio extractors measure it; this only summarises) -------------------------------------

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


# -- originality (with a store) ------------------------------------------------------------------------------

def originality_report(store, content_hash: str | None, path: str, fv) -> dict:
    from .originality import find_matches, index_clip, overlay_summary

    overlay = overlay_summary(fv)
    if store is None or not content_hash:
        return {"status": "not_indexed", "matches": [], "overlay": overlay}
    index_clip(store, content_hash, path, fv)
    matches = find_matches(store, content_hash)
    return {"status": "indexed", "matches": [m.as_dict() for m in matches], "overlay": overlay}


#: The watermark finding is a detector's guess (a static object in a corner of a tripod shot looks the same), so it
#: ranks at half the points of a measured originality problem.
WATERMARK_GUESS_SHARE = 0.5


def originality_findings(orig: dict, cfg: dict) -> list[Finding]:
    from .textsafe import visible

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


# -- all together --------------------------------------------------------------------------------------------

def compute(info, fv, cfg: dict, *, store=None, content_hash: str | None = None, path: str = "") -> dict:
    hook = hook_report(fv, info, cfg)
    retention = retention_timeline(fv, info, cfg)
    orig = originality_report(store, content_hash, path, fv)
    rewards = rewards_checklists(info, fv, cfg, orig)
    return {"hook": hook, "retention": retention, "rewards": rewards, "cut_on_beat": cut_on_beat(fv),
            "originality": orig}


def enrich(result, cfg: dict, store=None) -> None:
    """Add the insights to an analysed ClipResult (scores.extra and findings). Never raises for a clip's data:
    an insight that fails is reported as an info finding, the score stands."""
    if not result.ok or result.features is None or result.scores is None or result.media is None:
        return
    try:
        ins = compute(result.media, result.features, cfg, store=store, content_hash=result.content_hash,
                      path=result.path)
    except Exception as exc:  # keep the score; say what failed
        result.findings.append(Finding("visual", "info", "insights.failed",
                                       f"Hook, retention and originality insights could not be computed: "
                                       f"{type(exc).__name__}: {exc}", None, None))
        return
    new = (ins["hook"].pop("findings") + ins["retention"].pop("findings")
           + rewards_findings(ins["rewards"], cfg) + originality_findings(ins["originality"], cfg))
    result.scores.extra["hook"] = ins["hook"]["score"]
    result.scores.extra["insights"] = ins
    ranked = [f for f in result.findings if f.severity != "info"] + [f for f in new if f.severity != "info"]
    ranked.sort(key=lambda f: (-(f.points or 0.0), SEVERITY_ORDER.get(f.severity, 9)))
    info_f = [f for f in result.findings if f.severity == "info"] + [f for f in new if f.severity == "info"]
    result.findings = ranked + info_f
