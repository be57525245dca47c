"""Reports: ``byteme report PATH... --format md|html|csv|json``.

* html: a folder with ``index.html`` (the clips ranked by overall score, each with a thumbnail, scores, tier, its
  own top fix, rewards verdict, originality and keywords; what most clips share said once at the top, with the
  medians, copies and near-duplicate captions from ``engine.textlib``) and one page per clip (scores, hook,
  retention strip, findings, rewards checklist, originality, words, charts). Pages are Jinja2 templates
  (``engine/templates``, autoescaping on; every outside text also has its control characters made visible);
  charts are inline SVG built here with ``esc``; thumbnails are inline JPEG; there is no JavaScript and nothing
  is loaded from the network.
* md: one Markdown file with the ranking and a section per clip.
* csv: one row per clip (scores, hook, retention, rewards verdict, originality, top finding).
* json: JSON Lines, the ``byteme score --json`` object of each clip plus an ``"insights"`` object.

``write_report(results, out, fmt, cfg)`` is the entry point for other front ends (the TUI).
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import statistics
from pathlib import Path

from .errors import OutputError
from .feedback import clock, plural
from .folder import shared_findings, top_fix, top_fix_text
from .textsafe import csv_row, display_path, visible

FORMATS = ("html", "md", "csv", "json")
SCORE_KEYS = ("overall", "visual", "audio", "text", "hook")
LEVEL_COLOURS = {"low": "#5cb85c", "medium": "#f0ad4e", "high": "#d9534f"}
CSV_COLUMNS = ("rank", "path", "status", "overall", "visual", "audio", "text", "tier", "hook", "hook_summary",
               "high_risk_seconds", "peak_risk", "rewards_preset", "rewards_verdict", "rewards_failed",
               "near_duplicates", "soundtrack_matches", "watermark", "cuts_on_beat_pct", "top_finding")


def esc(text) -> str:
    """HTML-escaped, with control characters made visible."""
    return html.escape(visible("" if text is None else text), quote=True)


def _ins(r) -> dict:
    return (r.scores.extra.get("insights") if r.scores else None) or {}


def score_of(r, key: str):
    if not r.ok or r.scores is None:
        return None
    if key == "overall":
        return r.scores.overall
    if key == "hook":
        return r.scores.extra.get("hook")
    return r.scores.modalities.get(key)


def ranked(results: list) -> list:
    """OK clips by overall score (best first; unscored after), then failed ones."""
    ok = [r for r in results if r.ok]
    ok.sort(key=lambda r: (r.scores.overall is None, -(r.scores.overall or 0.0), r.path))
    return ok + [r for r in results if not r.ok]


def library_medians(results: list) -> dict:
    out = {}
    for k in SCORE_KEYS:
        vals = [v for v in (score_of(r, k) for r in results) if v is not None]
        out[k] = statistics.median(vals) if vals else None
    return out


def summary_row(r, rank: int | None = None, shared=()) -> dict:
    """One clip's row of the summary; ``shared``: the folder-wide findings (``engine.folder``), which the clip's
    top fix skips."""
    ins = _ins(r)
    ret = ins.get("retention", {})
    secs = ret.get("seconds", [])
    rewards = next(iter(ins.get("rewards", [])), None)
    orig = ins.get("originality", {})
    matches = orig.get("matches", [])
    cob = ins.get("cut_on_beat", {})
    return {
        "rank": rank, "path": r.path, "status": r.status,
        "overall": score_of(r, "overall"), "visual": score_of(r, "visual"), "audio": score_of(r, "audio"),
        "text": score_of(r, "text"), "tier": r.scores.tier if r.scores else None, "hook": score_of(r, "hook"),
        "hook_summary": ins.get("hook", {}).get("summary"),
        "high_risk_seconds": sum(1 for s in secs if s["level"] == "high") if secs else None,
        "peak_risk": max((s["risk"] for s in secs), default=None),
        "rewards_preset": rewards["preset"] if rewards else None,
        "rewards_verdict": rewards["verdict"] if rewards else None,
        "rewards_failed": "; ".join(i["label"] for i in rewards["items"] if i["status"] == "fail") if rewards else None,
        "near_duplicates": "; ".join(m["other_path"] for m in matches if m["kind"] == "near_duplicate"),
        "soundtrack_matches": "; ".join(m["other_path"] for m in matches if m["kind"] == "soundtrack"),
        "watermark": orig.get("overlay", {}).get("status"),
        "cuts_on_beat_pct": cob.get("on_beat_pct"),
        "top_finding": top_fix_text(r, shared) if r.ok else (r.error or {}).get("message"),
    }


# -- privacy: a report is meant to be shared ------------------------------------------------------------------

#: How a shared report names a match outside the reported folders (unless ``show_other_paths``).
ANOTHER_FOLDER = "a clip in another folder"


def report_roots(paths) -> list[str]:
    """The folders a report covers: each folder given, and the folder of each file given (as store path keys)."""
    from .store import path_key

    roots = []
    for p in paths:
        p = Path(p)
        roots.append(path_key(p if p.is_dir() else p.parent))
    return roots


def _common_root(results: list) -> list[str]:
    from .store import path_key

    parents = [os.path.dirname(path_key(r.path)) for r in results if r.path]
    try:
        return [os.path.commonpath(parents)] if parents else []
    except ValueError:
        return []


def shown_other_path(other: str, roots: list[str], show_other_paths: bool = False) -> str:
    """How a shared report names another clip of the store: relative to the reported folder it lies in, else
    ``ANOTHER_FOLDER`` (its absolute path only with ``show_other_paths``)."""
    if show_other_paths:
        return other
    for root in sorted(roots, key=len, reverse=True):
        try:
            rel = os.path.relpath(other, root)
        except ValueError:
            continue
        if rel != os.curdir and not rel.startswith(os.pardir + os.sep) and rel != os.pardir:
            return rel
    return ANOTHER_FOLDER


def shareable(results: list, roots: list[str] | None = None, show_other_paths: bool = False) -> list:
    """Copies of ``results`` fit to share: every near-duplicate or soundtrack match (in the originality insight,
    the findings and the rewards checklist) names a clip inside the reported folders relatively and any other one
    only as ``ANOTHER_FOLDER``. ``roots``: the reported folders (default: the folder the results have in common)."""
    import copy

    if show_other_paths:
        return list(results)
    roots = _common_root(results) if roots is None else list(roots)
    out = []
    for r in results:
        matches = ((_ins(r).get("originality") or {}).get("matches")) or []
        if not matches:
            out.append(r)
            continue
        r = copy.deepcopy(r)
        ins = _ins(r)
        names = {}
        for m in ins["originality"]["matches"]:
            other = str(m.get("other_path") or "")
            names[other] = shown_other_path(other, roots)
            m["other_path"] = names[other]
        swaps = sorted(((k, v) for k, v in names.items() if k), key=lambda kv: -len(kv[0]))

        def hide(text):
            if not isinstance(text, str):
                return text
            for other, shown in swaps:
                text = text.replace(visible(other), shown).replace(other, shown)
            return text

        for f in r.findings:
            f.message = hide(f.message)
        for checklist in ins.get("rewards", []):
            for item in checklist.get("items", []):
                item["reason"] = hide(item.get("reason"))
        out.append(r)
    return out


# -- SVG charts ----------------------------------------------------------------------------------------------

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 190, 48, 12, 24, 26


def _axes(x_max: float, y_lo: float, y_hi: float, y_label: str, title: str) -> tuple[list[str], callable, callable]:
    iw, ih = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def X(t):
        return PAD_L + iw * (t / x_max if x_max > 0 else 0)

    def Y(v):
        v = min(max(v, y_lo), y_hi)
        return PAD_T + ih * (1 - (v - y_lo) / (y_hi - y_lo if y_hi > y_lo else 1))

    parts = [f'<rect x="{PAD_L}" y="{PAD_T}" width="{iw}" height="{ih}" fill="#fafafa" stroke="#ccc"/>']
    for k in range(5):
        v = y_lo + (y_hi - y_lo) * k / 4
        parts.append(f'<text x="{PAD_L - 4}" y="{Y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.0f}</text>')
    step = max(1, int(math.ceil(x_max / 10)))
    for t in range(0, int(x_max) + 1, step):
        parts.append(f'<text x="{X(t):.1f}" y="{H - 8}" font-size="10" text-anchor="middle">{clock(t)}</text>')
    parts.append(f'<text x="4" y="12" font-size="10">{esc(y_label)}</text>')
    return parts, X, Y


def _svg(parts: list[str], title: str, height: int = H) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{W}" height="{height}" '
            f'viewBox="0 0 {W} {height}"><title>{esc(title)}</title>' + "".join(parts) + "</svg>")


def _polyline(points, colour: str) -> str:
    segs, cur = [], []
    for p in points + [None]:
        if p is None:
            if len(cur) >= 2:
                segs.append(cur)
            elif len(cur) == 1:
                segs.append(cur * 2)
            cur = []
        else:
            cur.append(p)
    return "".join(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in s) + '"/>' for s in segs)


#: Fewer short-term (3 s) loudness points than this and the chart shows momentary (400 ms) loudness instead.
MIN_CURVE_POINTS = 20


def loudness_chart(r, cfg: dict) -> str | None:
    fv, dur = r.features, float(r.media.duration_s or 0)
    s = fv.series.get("audio.loudness_short_term_lufs")
    if s is None or sum(v is not None for v in s.values) < MIN_CURVE_POINTS:  # short clips: 3 s windows are few
        s = fv.series.get("audio.loudness_momentary_lufs")
    if s is not None and sum(v is not None for v in s.values) >= 2:
        times, vals, unit = s.times(), s.values, "LUFS"
        label = "Short-term loudness (LUFS)" if s.key.endswith("short_term_lufs") else "Momentary loudness (LUFS)"
    else:
        env = fv.events.get("hash.audio_env")
        if not env:
            return None
        times = [i * env["step_s"] for i in range(len(env["db"]))]
        vals, unit, label = env["db"], "dBFS", "Level (dBFS, 50 ms RMS)"
    lo, hi = -60.0, 0.0
    parts, X, Y = _axes(max(dur, times[-1] if times else 1.0, 1.0), lo, hi, label, label)
    t = cfg.get("targets", {}).get("audio.loudness_lufs")
    if t and unit == "LUFS" and t.get("kind") == "range":
        y0, y1 = Y(t["good_high"]), Y(t["good_low"])
        parts.append(f'<rect class="target-band" x="{PAD_L}" y="{y0:.1f}" width="{W - PAD_L - PAD_R}" '
                     f'height="{y1 - y0:.1f}" fill="#5cb85c" opacity="0.18"><title>target {t["good_low"]} to '
                     f'{t["good_high"]} LUFS</title></rect>')
    pts = [(X(tt), Y(v)) if v is not None else None for tt, v in zip(times, vals)]
    parts.append(_polyline(pts, "#1f77b4"))
    return _svg(parts, label)


VISUAL_LINES = (("visual.brightness", "brightness", "#ff7f0e", 0.0, 255.0), ("visual.sharpness", "sharpness",
                "#2ca02c", 0.0, 1.0), ("visual.motion_energy", "motion", "#9467bd", 0.0, 20.0))


def visual_chart(r) -> str | None:
    fv, dur = r.features, float(r.media.duration_s or 0)
    lines = [(k, n, c, lo, hi) for k, n, c, lo, hi in VISUAL_LINES if k in fv.series]
    if not lines:
        return None
    parts, X, Y = _axes(max(dur, 1.0), 0, 100, "% of range, per second", "Visual timeline")
    for i, (k, name, colour, lo, hi) in enumerate(lines):
        s = fv.series[k]
        pts = [(X(t + s.step_s / 2), Y(100 * (v - lo) / (hi - lo))) if v is not None else None
               for t, v in zip(s.times(), s.values)]
        parts.append(_polyline(pts, colour))
        parts.append(f'<text x="{PAD_L + 160 + 90 * i}" y="12" font-size="11" fill="{colour}">{esc(name)}</text>')
    for c in fv.events.get("visual.cuts_s") or []:
        parts.append(f'<line x1="{X(c):.1f}" x2="{X(c):.1f}" y1="{PAD_T}" y2="{H - PAD_B}" stroke="#888" '
                     f'stroke-dasharray="3,3"><title>cut at {c:.2f} s</title></line>')
    return _svg(parts, "Visual timeline (brightness, sharpness, motion; dashed: cuts)")


def retention_strip(r) -> str | None:
    secs = _ins(r).get("retention", {}).get("seconds")
    if not secs:
        return None
    n = len(secs)
    iw = W - PAD_L - PAD_R
    bw = iw / n
    parts = ['<text x="4" y="24" font-size="10">risk</text>']
    for s in secs:
        why = ", ".join(s["reasons"]) or "no risk found"
        parts.append(f'<rect class="risk-{s["level"]}" x="{PAD_L + s["t"] * bw:.1f}" y="8" width="{max(1.0, bw - 1):.1f}" '
                     f'height="26" fill="{LEVEL_COLOURS[s["level"]]}"><title>{clock(s["t"])}: {s["level"]} '
                     f'({esc(why)})</title></rect>')
    step = max(1, int(math.ceil(n / 10)))
    for t in range(0, n + 1, step):
        parts.append(f'<text x="{PAD_L + t * bw:.1f}" y="48" font-size="10" text-anchor="middle">{clock(t)}</text>')
    return _svg(parts, "Retention risk per second (green low, amber medium, red high)", 56)


def scores_chart(r, medians: dict) -> str:
    rows = [(k, score_of(r, k), medians.get(k)) for k in SCORE_KEYS]
    h = 22 * len(rows) + 16
    parts = []
    x0, iw = 80, W - 80 - 60
    for i, (k, v, med) in enumerate(rows):
        y = 8 + 22 * i
        parts.append(f'<text x="{x0 - 6}" y="{y + 13}" font-size="12" text-anchor="end">{esc(k)}</text>')
        parts.append(f'<rect x="{x0}" y="{y}" width="{iw}" height="16" fill="#eee"/>')
        if v is not None:
            parts.append(f'<rect class="bar" x="{x0}" y="{y}" width="{iw * v / 100:.1f}" height="16" fill="#1f77b4">'
                         f'<title>{esc(k)}: {v:.0f}</title></rect>')
            parts.append(f'<text x="{x0 + iw + 6}" y="{y + 13}" font-size="12">{v:.0f}</text>')
        else:
            parts.append(f'<text x="{x0 + 6}" y="{y + 13}" font-size="11" fill="#777">not scored</text>')
        if med is not None:
            xm = x0 + iw * med / 100
            parts.append(f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{y - 2}" y2="{y + 18}" stroke="#d62728" stroke-width="2">'
                         f'<title>library median {med:.0f}</title></line>')
    return _svg(parts, "Scores (blue) against the library median (red line)", h)


# -- thumbnails ----------------------------------------------------------------------------------------------

#: Height of a thumbnail, px: shown at half size in the index (2x for sharp phone screens), full size on a clip page.
THUMB_HEIGHT_PX = 192
#: JPEG quality of thumbnails: ~5-8 KB for a 108x192 frame, inline in the page (the report is one folder, no
#: external files, and its Content-Security-Policy allows only data: images).
THUMB_JPEG_QUALITY = 80
#: The representative frame is looked for in the first seconds: what a viewer sees first (the hook window).
THUMB_WINDOW_S = 3.0


def representative_time_s(r, cfg: dict) -> float:
    """The time of the frame that stands for a clip: the sharpest second of the first ``THUMB_WINDOW_S`` seconds
    whose brightness is inside the config's ``visual.brightness`` bad_low..bad_high (not a black or blown frame);
    the middle of the first such window when nothing was measured."""
    dur = float(r.media.duration_s or 0) if r.media else 0.0
    fv = r.features
    fallback = min(dur / 2, THUMB_WINDOW_S / 2)
    if fv is None:
        return fallback
    sharp, bright = fv.series.get("visual.sharpness"), fv.series.get("visual.brightness")
    if sharp is None:
        return fallback
    t = cfg.get("targets", {}).get("visual.brightness", {})
    lo, hi = t.get("bad_low", 0.0), t.get("bad_high", 255.0)
    lum = dict(zip(bright.times(), bright.values)) if bright is not None else {}
    best = None
    for at, v in zip(sharp.times(), sharp.values):
        if v is None or at >= max(THUMB_WINDOW_S, sharp.step_s):
            continue
        b = lum.get(at)
        if b is not None and not lo <= b <= hi:
            continue
        if best is None or v > best[1]:
            best = (at, v)
    if best is None:
        return fallback
    return min(best[0] + sharp.step_s / 2, max(0.0, dur - 0.05))


def thumbnail_jpeg(path: str | os.PathLike, at_s: float, rotation_deg: int = 0,
                   height_px: int = THUMB_HEIGHT_PX) -> bytes | None:
    """The keyframe of ``path`` nearest ``at_s`` (the one before it, or the next within ``THUMB_WINDOW_S``) as a
    JPEG ``height_px`` tall, in displayed orientation; None when the clip has no picture or cannot be read (a report
    never fails for a thumbnail). Only keyframes are decoded (FFmpeg skips the others): 77 ms a clip on average over
    the 13 clips of ../shared/realclips against 257 ms for decoding every frame up to ``at_s`` (1.5 s), on the shared
    2-core machine under load."""
    import av
    import numpy as np
    from PIL import Image

    try:
        with av.open(str(path), metadata_errors="replace") as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            if at_s > 0 and stream.time_base:
                container.seek(int(at_s / stream.time_base) + (stream.start_time or 0), stream=stream,
                               backward=True)
            chosen = None
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else 0.0
                if chosen is None or abs(t - at_s) < abs((chosen.time or 0.0) - at_s):
                    chosen = frame
                if t >= at_s or t > at_s + THUMB_WINDOW_S:
                    break
            if chosen is None:
                return None
            k = (int(rotation_deg) // 90) % 4  # as media.VideoFrame turns frames to their displayed orientation
            w, h = chosen.width, chosen.height
            if k % 2 == 0:
                tw, th = max(2, round(w * height_px / h)), height_px
            else:  # turned a quarter: the stored width becomes the displayed height
                tw, th = height_px, max(2, round(h * height_px / w))
            rgb = chosen.reformat(width=tw, height=th, format="rgb24").to_ndarray()
            if k:
                rgb = np.ascontiguousarray(np.rot90(rgb, k))
            out = io.BytesIO()
            Image.fromarray(rgb).save(out, format="JPEG", quality=THUMB_JPEG_QUALITY)
            return out.getvalue()
    except (av.error.FFmpegError, OSError, ValueError, ZeroDivisionError):
        return None


def thumbnail_uri(r, cfg: dict) -> str | None:
    """A ``data:`` URI of the clip's representative frame, or None (no picture, unreadable, or failed)."""
    if not r.ok or r.media is None or not r.media.has_video:
        return None
    jpeg = thumbnail_jpeg(r.path, representative_time_s(r, cfg), r.media.rotation_deg)
    return None if jpeg is None else "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


# -- folder-level findings -----------------------------------------------------------------------------------

def _advice_by_code(cfg: dict) -> dict:
    """code -> the config's advice for it (targets name their codes and advice)."""
    out = {}
    for t in cfg.get("targets", {}).values():
        if not isinstance(t, dict):
            continue
        for code_key, advice_key in (("code", "advice"), ("code_low", "advice_low"), ("code_high", "advice_high")):
            if t.get(code_key) and t.get(advice_key):
                out[t[code_key]] = t[advice_key]
    return out


def folder_findings(results: list, cfg: dict, shared=None) -> list[dict]:
    """The folder-wide findings (``engine.folder.shared_findings``) as the index shows them: ``{"code", "count",
    "of", "severity", "advice", "example", "example_clip"}``, most common first; the advice is said once."""
    shared = shared_findings(results) if shared is None else shared
    advice = _advice_by_code(cfg)
    out = []
    for sf in shared:
        example_r = next((r for r in results if r.ok and any(f.code == sf.code and f.message == sf.message
                                                            for f in r.findings)), None)
        tip = advice.get(sf.code)
        if tip and "{" in tip:  # a template the finding fills with the clip's numbers: the message says it
            tip = None
        example = sf.message
        if tip and example.endswith(tip):  # the measurement alone: the advice is said once
            example = example[: -len(tip)].rstrip(" .") + "."
        out.append({"code": sf.code, "count": sf.count, "of": sf.total, "severity": sf.severity, "advice": tip,
                    "example": example, "message": sf.message,
                    "example_clip": os.path.basename(example_r.path) if example_r else ""})
    return out


def library_text(results: list):
    """``engine.textlib.analyze_library`` over the clips' text (captions, subtitles, OCR): keywords, caption
    coherence and near-duplicate captions."""
    from .textlib import analyze_library

    return analyze_library([(r.path, r.features.text if r.features is not None else None) for r in results])


#: Keywords shown per clip in the index (the clip's page shows textlib.TOP_KEYWORDS).
INDEX_KEYWORDS = 4


# -- HTML ----------------------------------------------------------------------------------------------------

#: The pages' stylesheet (inline: the Content-Security-Policy allows no other source).
CSS_FILE = "report.css"


def _finalize(value):
    """Every value a template prints: markup the code built stays, text from outside has its control characters
    made visible (then Jinja2 escapes it), None prints as nothing."""
    from markupsafe import Markup

    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return visible(value)
    return value


def _num(v, nd: int = 0) -> str:
    return "\u2013" if v is None else f"{v:.{nd}f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def environment():
    """The Jinja2 environment of the HTML report: templates from ``engine/templates`` (package data), escaping
    always on."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("engine", "templates"), autoescape=True,
                             finalize=_finalize, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = _num
    env.filters["clock"] = clock
    env.filters["plural"] = plural
    env.filters["pct"] = lambda v: _num(None if v is None else 100 * v)
    env.filters["words"] = lambda items, sep=", ": sep.join(visible(x) for x in items or [])  # escaped on output
    return env


def _safe(svg: str | None):
    from markupsafe import Markup

    return None if svg is None else Markup(svg)  # built here with every outside text through esc()


def clip_page_name(i: int) -> str:
    return f"clip-{i + 1:04d}.html"


def _folder_of(path: str, root: str | None) -> str:
    folder = os.path.dirname(path)
    if root:
        try:
            rel = os.path.relpath(folder, root)
            return "" if rel == "." else rel
        except ValueError:
            pass
    return folder


def originality_text(r) -> tuple[str, str]:
    """(short word for the index, class) from the clip's originality insight."""
    orig = _ins(r).get("originality") or {}
    if not r.ok:
        return "", ""
    if not orig or orig.get("status") == "not_indexed":
        return "not compared", "muted"
    kinds = list(orig.get("matches", []))
    dup = next((m for m in kinds if m["kind"] == "near_duplicate"), None)
    if dup:
        return f"near-duplicate of {os.path.basename(dup['other_path'])}", "fail"
    if (orig.get("overlay") or {}).get("status") == "overlay":
        return "another app's watermark", "fail"
    sound = next((m for m in kinds if m["kind"] == "soundtrack"), None)
    if sound:
        return f"same sound as {os.path.basename(sound['other_path'])}", "warn"
    return "original", "pass"


def html_clip(r, medians: dict, cfg: dict, back: str = "index.html", *, thumb: str | None = None,
              text=None) -> str:
    ins = _ins(r)
    findings = [{"severity": f.severity, "message": f.message, "source": f.source,
                 "where": (f"{clock(f.start_s)}\u2013{clock(f.end_s)}"
                           if f.start_s is not None and f.end_s is not None else "")} for f in r.findings]
    charts = [("Loudness", _safe(loudness_chart(r, cfg))), ("Visual timeline", _safe(visual_chart(r)))] if r.ok else []
    return environment().get_template("clip.html.j2").render(
        r=r, name=os.path.basename(r.path) or r.path, back=back, ins=ins, hook=ins.get("hook") or {},
        retention=ins.get("retention") or {}, strip=_safe(retention_strip(r)) if r.ok else None,
        scores=_safe(scores_chart(r, medians)) if r.ok else None, charts=[c for c in charts if c[1]],
        findings=findings, cob=ins.get("cut_on_beat"), rewards=ins.get("rewards", []),
        orig=ins.get("originality"), thumb=thumb,
        keywords=", ".join(t for t, _ in (text.keywords.get(r.path) if text else None) or []),
        coherence=text.coherence.get(r.path) if text else None,
        shared=", ".join((text.shared_terms.get(r.path) if text else None) or []), css=_css())


def html_index(results: list, pages: dict, cfg: dict | None = None, *, thumbs: dict | None = None,
               text=None) -> str:
    cfg = cfg or {}
    thumbs = thumbs or {}
    medians = library_medians(results)
    shared = shared_findings(results)
    wide = folder_findings(results, cfg, shared)
    paths = [r.path for r in results]
    try:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]) if paths else None
    except ValueError:
        root = None
    rows = []
    for i, r in enumerate(ranked(results)):
        row = summary_row(r, i + 1, shared)
        own = top_fix(r, shared)
        orig, orig_class = originality_text(r)
        rows.append({
            "rank": i + 1, "page": pages[id(r)], "name": os.path.basename(r.path) or r.path,
            "folder": _folder_of(os.path.abspath(r.path), root), "row": row, "r": r,
            "thumb": thumbs.get(id(r)), "fix": own, "only_wide": own is None and r.ok and bool(
                [f for f in r.findings if f.severity != "info"]),
            "orig": orig, "orig_class": orig_class,
            "keywords": ", ".join(t for t, _ in (text.keywords.get(r.path) or [])[:INDEX_KEYWORDS]) if text else "",
        })
    by_path = {r.path: os.path.basename(r.path) for r in results}
    dup_captions = [(by_path.get(a, a), by_path.get(b, b), s) for a, b, s in (text.near_duplicates if text else [])]
    copies = []
    seen = set()
    for r in results:
        for m in (_ins(r).get("originality") or {}).get("matches", []):
            pair = tuple(sorted((r.path, m["other_path"]))) + (m["kind"],)
            if pair not in seen:
                seen.add(pair)
                copies.append((os.path.basename(pair[0]), os.path.basename(pair[1]), m["kind"], m["similarity"]))
    return environment().get_template("index.html.j2").render(
        rows=rows, count=len(results), scored=sum(1 for r in results if r.ok), medians=medians, wide=wide,
        root=root, dup_captions=dup_captions, copies=copies, preset=(cfg.get("presets", {}).get(
            cfg.get("platform", {}).get("preset"), {}) or {}).get("label"),
        thumbs_missing=sum(1 for r in results if r.ok and not thumbs.get(id(r))), css=_css())


def _css():
    from importlib import resources

    from markupsafe import Markup

    return Markup(resources.files("engine").joinpath("templates", CSS_FILE).read_text(encoding="utf-8"))


# -- other formats -------------------------------------------------------------------------------------------

def markdown(results: list, cfg: dict) -> str:
    def md(s) -> str:  # text from files: no markup, no control codes, no table breaks
        return visible("" if s is None else s).replace("|", "\\|").replace("<", "&lt;").replace("`", "'")

    lines = ["# BYTEME library report", ""]
    shared = shared_findings(results)
    if shared:
        lines += ["Folder-wide findings (most clips share these; each clip's top fix is what is specific to it):", ""]
        lines += [f"- {md(sf.summary())}" for sf in shared] + [""]
    lines += ["| # | clip | overall | visual | audio | text | hook | tier | rewards | top fix |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    order = ranked(results)
    for i, r in enumerate(order):
        row = summary_row(r, i + 1, shared)
        f = lambda v: "-" if v is None else f"{v:.0f}" if isinstance(v, float) else md(v)  # noqa: E731
        lines.append(f"| {i + 1} | {md(os.path.basename(r.path))} | {f(row['overall'])} | {f(row['visual'])} | "
                     f"{f(row['audio'])} | {f(row['text'])} | {f(row['hook'])} | {md(row['tier'] or r.status)} | "
                     f"{md(row['rewards_verdict'] or '')} | {md(row['top_finding'] or '')} |")
    for r in order:
        lines += ["", f"## {md(os.path.basename(r.path))}", ""]
        if not r.ok:
            lines.append(f"Could not be analysed: {md((r.error or {}).get('message'))}")
            continue
        ins = _ins(r)
        hook = ins.get("hook", {})
        if hook:
            lines.append(f"**Hook:** {hook.get('score')} - {md(hook.get('summary'))}")
        secs = ins.get("retention", {}).get("seconds", [])
        if secs:
            sym = {"low": ".", "medium": "o", "high": "X"}
            lines.append(f"**Retention risk** (one mark a second, X high): `{''.join(sym[s['level']] for s in secs)}`")
        lines += ["", "Findings:", ""]
        for f in r.findings:
            where = f" ({clock(f.start_s)}-{clock(f.end_s)})" if f.start_s is not None and f.end_s is not None else ""
            lines.append(f"- **{f.severity}**{where}: {md(f.message)}")
        for c in ins.get("rewards", []):
            if not c.get("enabled", True):
                lines += ["", f"{md(c['program'] or c['label'])}: not checked. {md(c.get('note'))}"]
                continue
            lines += ["", f"{md(c['program'] or c['label'])}: **{c['verdict']}**", ""]
            lines += [f"- [{'x' if i['status'] == 'pass' else ' '}] {md(i['label'])}: {i['status']} ({md(i['reason'])}) "
                      f"- source: {md(i['source'])}" for i in c["items"]]
        for mm in ins.get("originality", {}).get("matches", []):
            lines.append(f"- {mm['kind'].replace('_', ' ')}: {md(mm['other_path'])} ({100 * mm['similarity']:.0f}%)")
    return "\n".join(lines) + "\n"


def json_lines(results: list) -> str:
    out = []
    for r in results:
        d = r.contract()
        d["insights"] = _ins(r) or None
        out.append(json.dumps(d, ensure_ascii=True, default=str))
    return "\n".join(out) + "\n"


def write_report(results: list, out: str | os.PathLike, fmt: str, cfg: dict, *, roots: list | None = None,
                 show_other_paths: bool = False) -> Path:
    """Write a report; returns the file written (for html: the folder's index.html). A report is meant to be
    shared: matches with clips outside ``roots`` (the reported folders, as ``report_roots`` gives them; default
    the results' common folder) are named only as "a clip in another folder" unless ``show_other_paths``."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown report format {fmt!r}; use one of {', '.join(FORMATS)}.")
    out = Path(out)
    check_out(out, fmt)
    results = shareable(results, roots, show_other_paths)
    try:
        return _write(results, out, fmt, cfg)
    except OSError as exc:
        raise OutputError(f"The report could not be written to {display_path(exc.filename or out)}: "
                          f"{exc.strerror or exc}.") from None


def check_out(out: str | os.PathLike, fmt: str) -> None:
    """Raise OutputError in plain words when a report of ``fmt`` cannot be written at ``out`` (checked before the
    clips are scored): html needs a folder (made when missing), the other formats a file."""
    out = Path(out)
    shown = display_path(out)
    if fmt == "html":
        existing = next((p for p in (out, *out.parents) if os.path.lexists(p)), None)
        if existing is not None and not existing.is_dir():
            raise OutputError(f"--out {shown}: an HTML report is a folder, and {display_path(existing)} is a file. "
                              "Give a new or existing folder (or --format md|csv|json for one file).")
        if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
            raise OutputError(f"--out {shown}: {display_path(existing)} cannot be written (permission denied).")
        return
    if out.is_dir():
        raise OutputError(f"--out {shown} is a folder; a {fmt} report is one file: give a file name.")
    existing = next((p for p in out.parents if os.path.lexists(p)), None)
    if existing is not None and not existing.is_dir():
        raise OutputError(f"--out {shown}: {display_path(existing)} is a file, not a folder.")
    target = out if out.exists() else existing
    if target is not None and not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
        raise OutputError(f"--out {shown} cannot be written (permission denied).")


def _write(results: list, out: str | os.PathLike, fmt: str, cfg: dict) -> Path:
    if fmt not in FORMATS:
        raise ValueError(f"Unknown report format {fmt!r}; use one of {', '.join(FORMATS)}.")
    out = Path(out)
    if fmt == "html":
        out.mkdir(parents=True, exist_ok=True)
        medians = library_medians(results)
        text = library_text(results)
        pages, thumbs = {}, {}
        for i, r in enumerate(ranked(results)):
            pages[id(r)] = clip_page_name(i)
            thumbs[id(r)] = thumbnail_uri(r, cfg)
            (out / pages[id(r)]).write_text(html_clip(r, medians, cfg, thumb=thumbs[id(r)], text=text),
                                            encoding="utf-8")
        index = out / "index.html"
        index.write_text(html_index(results, pages, cfg, thumbs=thumbs, text=text), encoding="utf-8")
        return index
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "md":
        out.write_text(markdown(results, cfg), encoding="utf-8")
    elif fmt == "json":
        out.write_text(json_lines(results), encoding="utf-8")
    else:
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            w.writeheader()
            shared = shared_findings(results)
            for i, r in enumerate(ranked(results)):
                w.writerow(csv_row(summary_row(r, i + 1, shared)))
    return out
