"""Reports: ``byteme report PATH... --format md|html|csv|json``.

* html: a folder with ``index.html`` (the library ranked by overall score, scores against the library median)
  and one page per clip (scores, hook, retention strip, findings, rewards checklist, originality, charts). Charts
  are inline SVG; there is no JavaScript and nothing is loaded from the network. Every text that came from a
  file, a filename, a caption or OCR is escaped with ``html.escape``.
* md: one Markdown file with the ranking and a section per clip.
* csv: one row per clip (scores, hook, retention, rewards verdict, originality, top finding).
* json: JSON Lines, the ``byteme score --json`` object of each clip plus an ``"insights"`` object.

``write_report(results, out, fmt, cfg)`` is the entry point for other front ends (the TUI).
"""
from __future__ import annotations

import csv
import html
import json
import math
import os
import statistics
from pathlib import Path

from .feedback import clock
from .textsafe import visible

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


def summary_row(r, rank: int | None = None) -> dict:
    ins = _ins(r)
    ret = ins.get("retention", {})
    secs = ret.get("seconds", [])
    rewards = next(iter(ins.get("rewards", [])), None)
    orig = ins.get("originality", {})
    matches = orig.get("matches", [])
    cob = ins.get("cut_on_beat", {})
    top = r.top_finding()
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
        "top_finding": top.message if top else (r.error or {}).get("message"),
    }


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
    parts = [f'<text x="4" y="24" font-size="10">risk</text>']
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


# -- HTML ----------------------------------------------------------------------------------------------------

CSS = """body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;
vertical-align:top}th{background:#f4f4f4}.sev-high{color:#b52b27;font-weight:bold}.sev-medium{color:#a66b00}
.pass{color:#2e7d32}.fail{color:#b52b27;font-weight:bold}.unknown{color:#777}svg.chart{display:block;margin:.5em 0}
.muted{color:#777}h1{font-size:1.5em}code{background:#f4f4f4;padding:0 3px}"""


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def _fmt(v, nd=0) -> str:
    return "&ndash;" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else esc(v)


def clip_page_name(i: int) -> str:
    return f"clip-{i + 1:04d}.html"


def html_clip(r, medians: dict, cfg: dict, back: str = "index.html") -> str:
    name = os.path.basename(r.path) or r.path
    out = [f'<p><a href="{back}">&larr; library</a></p><h1>{esc(name)}</h1><p class="muted">{esc(r.path)}</p>']
    if not r.ok:
        out.append(f'<p class="fail">Could not be analysed ({esc((r.error or {}).get("kind"))}): '
                   f'{esc((r.error or {}).get("message"))}</p>')
        return _page(name, "\n".join(out))
    m = r.media
    out.append(f"<p>{m.width}x{m.height}, {m.duration_s:.1f} s, {m.fps:.0f} fps, {esc(m.codec)}; "
               f"tier <b>{esc(r.scores.tier)}</b>, category {esc(r.scores.category)}.</p>")
    out.append("<h2>Scores</h2>" + scores_chart(r, medians))
    ins = _ins(r)
    hook = ins.get("hook", {})
    if hook:
        out.append(f"<h2>Hook (first {hook.get('window_s', 3):.0f} s): {_fmt(hook.get('score'))}</h2>"
                   f"<p>{esc(hook.get('summary'))}</p><table><tr><th>part</th><th>score</th><th>what happens</th></tr>")
        for c in hook.get("components", []):
            out.append(f"<tr><td>{esc(c['label'])}</td><td>{100 * c['score']:.0f}</td><td>{esc(c['detail'])}</td></tr>")
        out.append("</table>")
        if hook.get("unused"):
            out.append('<p class="muted">Not judged: ' + esc("; ".join(hook["unused"])) + "</p>")
    strip = retention_strip(r)
    if strip:
        out.append("<h2>Retention risk</h2>" + strip)
        peaks = ins.get("retention", {}).get("peaks", [])
        if peaks:
            out.append("<ul>" + "".join(
                f"<li>{clock(p['start_s'])}&ndash;{clock(p['end_s'])}: risk {p['risk']:.2f} ({esc(', '.join(p['reasons']))})</li>"
                for p in peaks) + "</ul>")
        unused = ins.get("retention", {}).get("unused")
        if unused:
            out.append('<p class="muted">Not judged: ' + esc("; ".join(unused)) + "</p>")
    charts = [("Loudness", loudness_chart(r, cfg)), ("Visual timeline", visual_chart(r))]
    for title, svg in charts:
        if svg:
            out.append(f"<h2>{esc(title)}</h2>{svg}")
    out.append("<h2>Findings</h2>")
    if r.findings:
        out.append("<table><tr><th>severity</th><th>where</th><th>finding</th></tr>")
        for f in r.findings:
            where = f"{clock(f.start_s)}&ndash;{clock(f.end_s)}" if f.start_s is not None and f.end_s is not None else ""
            src = f'<br><span class="muted">source: {esc(f.source)}</span>' if f.source else ""
            out.append(f'<tr><td class="sev-{esc(f.severity)}">{esc(f.severity)}</td><td>{where}</td>'
                       f"<td>{esc(f.message)}{src}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No findings.</p>")
    cob = ins.get("cut_on_beat")
    if cob:
        out.append("<h2>Cuts on the beat</h2>")
        if cob.get("status") == "measured":
            missed = ", ".join(f"{clock(x['cut_s'])} ({1000 * x['offset_s']:+.0f} ms)" for x in cob.get("missed", [])[:12])
            out.append(f"<p>{cob['on_beat_pct']:.0f}% of {cob['cuts']} cuts land on a beat."
                       + (f" Off the beat: {esc(missed)}." if missed else "") + "</p>")
        else:
            out.append(f'<p class="muted">Not measured: {esc(cob.get("reason"))}.</p>')
    for c in ins.get("rewards", []):
        active = " (active preset)" if c.get("active") else ""
        out.append(f"<h2>{esc(c['program'] or c['label'])}{active}: <span class=\"{esc(c['verdict'])}\">"
                   f"{esc(c['verdict'])}</span></h2><table><tr><th>rule</th><th>result</th><th>why</th><th>source</th></tr>")
        for i in c["items"]:
            req = "" if i["required"] else " <span class=\"muted\">(recommended)</span>"
            out.append(f"<tr><td>{esc(i['label'])}{req}</td><td class=\"{esc(i['status'])}\">{esc(i['status'])}</td>"
                       f"<td>{esc(i['reason'])}</td><td class=\"muted\">{esc(i['source'])}</td></tr>")
        out.append("</table>")
    orig = ins.get("originality")
    if orig:
        out.append("<h2>Originality</h2>")
        if orig.get("status") == "not_indexed":
            out.append('<p class="muted">The clip was not compared with the library (no store).</p>')
        elif not orig.get("matches"):
            out.append("<p>No near-duplicate or shared soundtrack in the library.</p>")
        else:
            out.append("<ul>" + "".join(
                f"<li>{'near-duplicate of' if mm['kind'] == 'near_duplicate' else 'same soundtrack as'} "
                f"<code>{esc(mm['other_path'])}</code>: {100 * mm['similarity']:.0f}% ({esc(mm.get('detail', ''))})</li>"
                for mm in orig["matches"]) + "</ul>")
        ov = orig.get("overlay", {})
        out.append(f"<p>Corner watermark: {esc(ov.get('status'))} &mdash; {esc(ov.get('reason'))}.</p>")
    return _page(name, "\n".join(out))


def html_index(results: list, pages: dict) -> str:
    out = ["<h1>BYTEME library report</h1>", f"<p>{len(results)} clips, ranked by overall score.</p>",
           "<table><tr><th>#</th><th>clip</th><th>overall</th><th>visual</th><th>audio</th><th>text</th>"
           "<th>hook</th><th>tier</th><th>rewards</th><th>originality</th><th>top fix</th></tr>"]
    medians = library_medians(results)
    for i, r in enumerate(ranked(results)):
        row = summary_row(r, i + 1)
        name = esc(os.path.basename(r.path) or r.path)
        link = f'<a href="{pages[id(r)]}">{name}</a>'
        orig = "near-duplicate" if row["near_duplicates"] else "watermark" if row["watermark"] == "overlay" else \
            "shared sound" if row["soundtrack_matches"] else ""
        out.append(f"<tr><td>{i + 1}</td><td>{link}</td><td>{_fmt(row['overall'])}</td><td>{_fmt(row['visual'])}</td>"
                   f"<td>{_fmt(row['audio'])}</td><td>{_fmt(row['text'])}</td><td>{_fmt(row['hook'])}</td>"
                   f"<td>{esc(row['tier'] or r.status)}</td><td class=\"{esc(row['rewards_verdict'] or '')}\">"
                   f"{esc(row['rewards_verdict'] or '')}</td><td>{esc(orig)}</td><td>{esc(row['top_finding'] or '')}</td></tr>")
    out.append("</table><h2>Library medians</h2><p>" + ", ".join(
        f"{esc(k)} {_fmt(v)}" for k, v in medians.items()) + "</p>")
    return _page("BYTEME library report", "\n".join(out))


# -- other formats -------------------------------------------------------------------------------------------

def markdown(results: list, cfg: dict) -> str:
    def md(s) -> str:  # text from files: no markup, no control codes, no table breaks
        return visible("" if s is None else s).replace("|", "\\|").replace("<", "&lt;").replace("`", "'")

    lines = ["# BYTEME library report", "", "| # | clip | overall | visual | audio | text | hook | tier | rewards |",
             "|---|---|---|---|---|---|---|---|---|"]
    order = ranked(results)
    for i, r in enumerate(order):
        row = summary_row(r, i + 1)
        f = lambda v: "-" if v is None else f"{v:.0f}" if isinstance(v, float) else md(v)  # noqa: E731
        lines.append(f"| {i + 1} | {md(os.path.basename(r.path))} | {f(row['overall'])} | {f(row['visual'])} | "
                     f"{f(row['audio'])} | {f(row['text'])} | {f(row['hook'])} | {md(row['tier'] or r.status)} | "
                     f"{md(row['rewards_verdict'] or '')} |")
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


def write_report(results: list, out: str | os.PathLike, fmt: str, cfg: dict) -> Path:
    """Write a report; returns the file written (for html: the folder's index.html)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown report format {fmt!r}; use one of {', '.join(FORMATS)}.")
    out = Path(out)
    if fmt == "html":
        out.mkdir(parents=True, exist_ok=True)
        medians = library_medians(results)
        pages = {}
        for i, r in enumerate(ranked(results)):
            pages[id(r)] = clip_page_name(i)
            (out / pages[id(r)]).write_text(html_clip(r, medians, cfg), encoding="utf-8")
        index = out / "index.html"
        index.write_text(html_index(results, pages), encoding="utf-8")
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
            for i, r in enumerate(ranked(results)):
                w.writerow(summary_row(r, i + 1))
    return out
