"""Turning data into terminal text. Outside text (file names, captions, OCR, FFmpeg errors) only ever becomes a
``rich.text.Text`` built from ``engine.textsafe.visible``: markup is never parsed and control characters show as
``\\x1b``. Scores carry their meaning in words and symbols as well as colour (NO_COLOR users lose nothing)."""
from __future__ import annotations

from rich.text import Text

from engine.textsafe import visible

#: Score bands (0-100) for the words and colours next to a score; they match the tiers in config.toml
#: (gold >= 70, bronze >= 40) so the word and the tier never disagree by much.
GOOD_FROM, OK_FROM = 70.0, 40.0
STATUS_LABELS = {
    "new": ("· new", "dim"),
    "queued": ("… queued", "cyan"),
    "running": ("▶ {pct}", "bold cyan"),
    "done": ("✓ done", "green"),
    "error": ("✗ error", "red"),
    "failed": ("✗ failed", "bold red"),
    "cancelled": ("■ cancelled", "yellow"),
}
SEVERITY_MARKS = {"high": ("▲▲ high", "bold red"), "medium": ("▲ medium", "yellow"), "low": ("△ low", "dim"),
                  "info": ("i info", "blue")}


def safe(text: object, style: str = "") -> Text:
    """Outside text as a literal ``Text``: no markup, no control characters."""
    return Text("" if text is None else visible(text), style=style)


def clip_text(text: object, width: int) -> str:
    s = "" if text is None else visible(text)
    return s if len(s) <= width else s[: max(0, width - 1)] + "…"


#: Share of a cut file name kept from its end: the part that tells copies apart ("_v2", "_final", "_crf16.mp4").
NAME_TAIL_SHARE = 0.4


def name_text(name: object, width: int) -> str:
    """A file name cut to ``width`` in the middle, keeping its start and its end: "13bdbeb5f3b1fdb…_crf16.mp4", not
    "13bdbeb5f3b1fdbda2a8fbcc6…", which showed three copies of one clip (original, re-encode, trim) alike."""
    s = "" if name is None else visible(name)
    if len(s) <= width or width < 8:
        return clip_text(s, width)
    tail = int((width - 1) * NAME_TAIL_SHARE)
    return s[: width - 1 - tail] + "…" + s[len(s) - tail:]


def band(score: float | None) -> tuple[str, str]:
    if score is None:
        return "n/a", "dim"
    if score >= GOOD_FROM:
        return "good", "green"
    if score >= OK_FROM:
        return "fair", "yellow"
    return "poor", "red"


#: Marks a provisional score (a verdict of a clip still being analysed): "~72".
PROVISIONAL_MARK = "~"


def score_text(score: float | None, *, word: bool = False, provisional: bool = False) -> Text:
    if score is None:
        return Text("-", style="dim", justify="right")
    w, style = band(score)
    mark = PROVISIONAL_MARK if provisional else ""
    return Text(f"{mark}{score:.0f} {w}" if word else f"{mark}{score:.0f}", style=style + (" italic" if mark else ""),
                justify="right")


def status_text(status: str, fraction: float | None = None, stage: str | None = None) -> Text:
    label, style = STATUS_LABELS.get(status, (status, ""))
    if status == "running":
        pct = f"{100 * (fraction or 0):.0f}%"
        label = label.format(pct=pct) + (f" {stage}" if stage else "")
    return Text(label, style=style)


def severity_text(severity: str) -> Text:
    label, style = SEVERITY_MARKS.get(severity, (severity, ""))
    return Text(label, style=style)


def bar(fraction: float | None, width: int = 12) -> Text:
    """A progress bar in characters, with its percent (readable without colour)."""
    f = min(1.0, max(0.0, fraction or 0.0))
    full = int(round(f * width))
    return Text.assemble(("█" * full, "cyan"), ("░" * (width - full), "dim"), f" {100 * f:3.0f}%")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def about(seconds: float | None) -> str:
    """A whole-queue estimate in words ("about 4 min"); rounding to minutes says it is an estimate."""
    if seconds is None:
        return "measuring…"
    if seconds < 60:
        return "under a minute"
    minutes = int(round(seconds / 60))
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"


def took(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 60 else duration(seconds)


def size(num_bytes: int | None) -> str:
    """A file's size for a column: "-" when unknown, kB under 1 MB (a 20 kB clip is not "0.0 MB"), MB above."""
    if not num_bytes:
        return "-"
    if num_bytes < 999_500:
        return f"{max(1, round(num_bytes / 1e3))} kB"
    mb = num_bytes / 1e6
    return f"{mb:.1f} MB" if mb < 99.95 else f"{mb:.0f} MB"
