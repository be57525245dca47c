"""The rewards pre-check: one checklist per preset with a ``[presets.*.rewards]`` table (length, aspect,
resolution, sound, originality), the active preset first, and a finding per failed rule of the active one.
"""
from __future__ import annotations

from .targets import Finding, severity_for


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
