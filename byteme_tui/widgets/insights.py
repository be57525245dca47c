"""The clip's insights on the breakdown (``result.scores.extra["insights"]``, see ``engine/insights.py``): the
retention-risk strip (one mark a second, wider on a short clip, the worst of a group on a long one; level as a
symbol of its height AND a colour), the hook score with its parts, the rewards checklists and the originality matches. Every string from the result is outside text (file
names in matches, reasons that quote them): it only ever becomes ``Text`` through ``format.safe``."""
from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from engine.feedback import clock

from ..format import band, safe

#: Risk level -> (symbol, colour). The symbol's height carries the level, so NO_COLOR loses nothing.
LEVEL_MARKS = {"low": ("▁", "green"), "medium": ("▄", "yellow"), "high": ("█", "bold red")}
LEVEL_ORDER = {"low": 0, "medium": 1, "high": 2}
#: Rewards rule status -> (mark, colour).
STATUS_MARKS = {"pass": ("✓ pass", "green"), "fail": ("✗ fail", "bold red"), "unknown": ("? unknown", "yellow"),
                "off": ("– not checked", "dim")}
REASON_WORDS = {
    "dead_air": "dead air", "static_shot": "static shot", "long_shot": "shot much longer than the rhythm",
    "loudness_dip": "loudness dip", "fast_text": "text too fast to read", "frozen": "frozen frame",
    "black": "black screen",
}
#: The strip never stretches one second over more than this many characters (a 5 s clip stays readable).
MAX_CHARS_PER_SECOND = 4
STRIP_LABEL = "risk "


def insights_of(result) -> dict:
    return ((result.scores.extra.get("insights") if result is not None and result.scores else None) or {})


def retention_seconds(result) -> list[dict]:
    return insights_of(result).get("retention", {}).get("seconds", []) or []


def reason_words(reasons) -> str:
    return ", ".join(REASON_WORDS.get(r, r.replace("_", " ")) for r in reasons) or "nothing flagged"


def strip_scale(per: float) -> str:
    """The strip's legend for ``per`` seconds a character (see ``strip_layout``): a mark is always one second, drawn
    wider on a short clip, or the worst second of a group on a long one."""
    if per > 1:
        return f"one mark per {per:g} s (the worst second of each)"
    if per == 1:
        return "one mark per second"
    return f"one mark per second, {round(1 / per)} characters wide"


def strip_layout(n_seconds: int, width: int) -> tuple[float, int]:
    """(seconds per character, characters used) for ``n_seconds`` in ``width`` characters."""
    if n_seconds <= 0 or width <= 0:
        return 1.0, 0
    if n_seconds <= width:
        k = max(1, min(MAX_CHARS_PER_SECOND, width // n_seconds))
        return 1.0 / k, n_seconds * k
    per = math.ceil(n_seconds / width)
    return float(per), math.ceil(n_seconds / per)


def strip_lines(seconds: list[dict], width: int, span=None, selected: int | None = None,
                empty: str | None = None) -> Text:
    """Three lines: the risk marks; under them the selected finding's span (═) and the selected second (▲);
    then the selected second's level and reasons. ``empty``: what to say when there are no seconds (default: the
    clip was scored before insights existed)."""
    out = Text()
    if not seconds:
        out.append(empty or "Retention risk: not computed for this clip (scored before insights existed: rescore "
                   "with r).", style="dim")
        return out
    n = len(seconds)
    per, used = strip_layout(n, max(1, width - len(STRIP_LABEL)))
    out.append(STRIP_LABEL, style="bold")
    cells = []
    for c in range(used):
        lo, hi = int(c * per), max(int(c * per) + 1, int(math.ceil((c + 1) * per)))
        worst = max(seconds[lo:min(hi, n)], key=lambda s: LEVEL_ORDER.get(s["level"], 0))
        cells.append((lo, min(hi, n)))
        sym, style = LEVEL_MARKS.get(worst["level"], ("?", ""))
        out.append(sym, style=style)
    out.append("\n" + " " * len(STRIP_LABEL))
    s0, s1 = (span if span and span[0] is not None else (None, None))
    for lo, hi in cells:
        if selected is not None and lo <= selected < hi:
            out.append("▲", style="bold magenta")
        elif s0 is not None and hi > s0 and lo < (s1 if s1 is not None and s1 > s0 else s0 + 1):
            out.append("═", style="magenta")
        else:
            out.append(" ")
    out.append("\n")
    if selected is not None and 0 <= selected < n:
        s = seconds[selected]
        sym, style = LEVEL_MARKS.get(s["level"], ("?", ""))
        out.append(f"{clock(selected)} ", style="bold")
        out.append(f"{sym} {s['level']} risk {s['risk']:.2f}", style=style)
        out.append(": ")
        out.append_text(safe(reason_words(s["reasons"])))
        out.append("  ←/→ second", style="dim")
    else:
        scale = strip_scale(per)
        out.append(f"▁ low  ▄ medium  █ high, {scale}", style="dim")
    return out


class RetentionStrip(Widget):
    """The per-second retention risk, fitted to the widget's width (redrawn on resize)."""

    DEFAULT_CSS = "RetentionStrip { height: 3; padding: 0 1; }"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seconds: list[dict] = []
        self.span = None
        self.selected: int | None = None
        self.empty: str | None = None  # what to say without seconds (strip_lines' default when None)

    def show(self, seconds: list[dict], span=None, selected: int | None = None) -> None:
        self.seconds, self.span, self.selected = seconds, span, selected
        self.refresh()

    def render(self) -> Text:
        return strip_lines(self.seconds, self.content_size.width or 76, self.span, self.selected, self.empty)


def _score_words(score) -> Text:
    word, style = band(score)
    return Text(f"{score:.0f} {word}" if score is not None else "not judged", style=style)


def hook_text(result) -> Text:
    hook = insights_of(result).get("hook") or {}
    out = Text()
    if not hook:
        out.append("No hook analysis for this clip (scored before insights existed: rescore with r).", style="dim")
        return out
    out.append(f"Hook, first {hook.get('window_s', 3):.0f} s: ", style="bold")
    out.append_text(_score_words(hook.get("score")))
    out.append("\n")
    out.append_text(safe(hook.get("summary")))
    out.append("\n")
    for c in hook.get("components", []):
        sc = float(c.get("score", 0.0))
        mark, style = ("✓", "green") if sc >= 0.75 else ("~", "yellow") if sc >= 0.5 else ("✗", "bold red")
        out.append(f"{mark} {100 * sc:3.0f} ", style=style)
        out.append_text(safe(c.get("label"), "bold"))
        out.append(": ")
        out.append_text(safe(c.get("detail")))
        out.append("\n")
    if hook.get("unused"):
        out.append("Not judged: ", style="dim")
        out.append_text(safe("; ".join(hook["unused"]), "dim"))
        out.append("\n")
    findings = [f for f in result.findings if (f.code or "").startswith("hook.")]
    if findings:
        out.append("Findings: ", style="bold")
        out.append(", ".join(f"#{result.findings.index(f) + 1}" for f in findings) + " in the list (n/N)\n")
    out.rstrip()
    return out


def rewards_text(result) -> Text:
    lists = insights_of(result).get("rewards") or []
    out = Text()
    if not lists:
        out.append("No rewards checklist (no preset with a rewards table, or scored before insights existed).",
                   style="dim")
        return out
    for c in lists:
        mark, style = STATUS_MARKS.get(c.get("verdict"), (c.get("verdict", "?"), ""))
        out.append_text(safe(c.get("program") or c.get("label"), "bold"))
        out.append(" (active preset)" if c.get("active") else f" ({c.get('preset')})", style="dim")
        out.append(": ")
        out.append(mark, style=style)
        out.append("\n")
        if not c.get("enabled", True):
            out.append("  ")
            out.append_text(safe(c.get("note"), "dim"))
            out.append("\n")
        for i in c.get("items", []):
            mark, style = STATUS_MARKS.get(i.get("status"), ("? " + str(i.get("status")), ""))
            out.append(f"  {mark:<9} ", style=style)
            out.append_text(safe(i.get("label"), "bold"))
            if not i.get("required", True):
                out.append(" (recommended)", style="dim")
            out.append(": ")
            out.append_text(safe(i.get("reason")))
            out.append("\n            source: ", style="dim")
            out.append_text(safe(i.get("source") or "not given", "dim"))
            out.append("\n")
    out.rstrip()
    return out


def originality_text(result) -> Text:
    orig = insights_of(result).get("originality") or {}
    out = Text()
    if not orig:
        out.append("No originality check for this clip (scored before insights existed: rescore with r).",
                   style="dim")
        return out
    if orig.get("status") == "not_indexed":
        out.append("Not compared with the library (the clip was scored without a store).\n", style="dim")
    elif not orig.get("matches"):
        out.append("✓ No near-duplicate and no shared soundtrack in the library.\n", style="green")
    for m in orig.get("matches", []):
        dup = m.get("kind") == "near_duplicate"
        out.append("✗ near-duplicate of " if dup else "♪ same soundtrack as ", style="bold red" if dup else "yellow")
        out.append_text(safe(m.get("other_path"), "bold"))
        out.append(f"  {100 * float(m.get('similarity', 0)):.0f}%")
        if m.get("time_offset_s"):
            out.append(f", offset {float(m['time_offset_s']):+.1f} s")
        if m.get("detail"):
            out.append(" (")
            out.append_text(safe(m["detail"]))
            out.append(")")
        out.append("\n")
    ov = orig.get("overlay") or {}
    if ov:
        mark, style = {"overlay": ("✗", "bold red"), "clear": ("✓", "green")}.get(ov.get("status"), ("?", "yellow"))
        out.append(f"{mark} corner watermark: ", style=style)
        out.append_text(safe(f"{ov.get('status')}, {ov.get('reason')}"))
    out.rstrip()
    return out
