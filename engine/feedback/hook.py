"""The hook: the first ``[hook] window_s`` seconds of a clip, scored 0-100 from what happens in them (a picture
from the first frame, the opening picture's quality, something changing on screen, movement, a cut, a face, sound
and words early, a loud enough opening), with a finding for each weak part.

Reads the FeatureVector the extractors wrote during the one decode pass; nothing decodes again.
"""
from __future__ import annotations

import math

from ..scorer import metric_score, ramp
from .signals import ENVELOPE_SILENCE_DBFS, VISIBLE_CHANGE, series_window, thumbnail_signal
from .targets import Finding, severity_for

#: Mean luma (0-255) under which a sampled frame counts as black when the visual extractors' black spans are
#: absent (BT.601 black is 16; dark footage sits well above 30).
BLACK_LUMA = 24.0


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
    sig = thumbnail_signal(fv)
    if sig is None:
        return None
    for t, luma in zip(sig["t"], sig["luma"]):
        if luma >= BLACK_LUMA:
            return float(t)
    return float(sig["t"][-1]) + sig["step_s"]


def _first_change_s(fv, after_s: float) -> float | None:
    """Time of the first visible change on screen after ``after_s`` (cuts count), from the thumbnail signal."""
    sig = thumbnail_signal(fv)
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
    targets = cfg.get("targets", {})
    parts = {}
    for key in ("visual.sharpness", "visual.brightness"):
        vals = series_window(fv, key, 0.0, win)
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
        s = ramp(-black_s, -float(h.get("black_bad_s", 1.0)), -float(h.get("black_good_s", 0.1)))
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
    if info.has_video and (thumbnail_signal(fv) is not None or "visual.cuts_s" in fv.events):
        after = black_s or 0.0
        t_change = _first_change_s(fv, after)
        still_until = min(win, t_change) if t_change is not None else win
        s = ramp(-still_until, -win, -float(h.get("change_good_s", 0.5)))
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
        s = ramp(motion, float(h.get("motion_bad", 0.5)), float(h.get("motion_good", 6.0)))
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
            s = ramp(-late, -float(h.get("sound_bad_s", 1.5)), -float(h.get("sound_good_s", 0.3)))
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
        s = ramp(-t_words, -win, -float(h.get("words_good_s", 1.0)))
        add("first_words", "First words early", s, f"first {kind} words at {t_words:.1f} s", modality="text",
            code="hook.late_first_words",
            message=f"The first {kind} words come at {t_words:.1f} s: say or show the promise of the clip in the "
                    "first second.", start=0.0, end=round(min(t_words, win), 2))

    # Loudness of the opening against the whole clip.
    if info.has_audio:
        opening = series_window(fv, "audio.loudness_momentary_lufs", 0.0, win)
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
            s = ramp(gap, -float(h.get("opening_quiet_bad_db", 15.0)), -float(h.get("opening_quiet_good_db", 3.0)))
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
