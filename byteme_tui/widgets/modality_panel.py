"""One modality's panel on the breakdown: its score, each metric's value against its target, and its findings."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.feedback import clock, fmt_value

from ..format import PROVISIONAL_MARK, band, bar, safe, severity_text


def target_words(target: dict | None, unit: str) -> str:
    if not target:
        return "no target"
    kind = target.get("kind")
    if kind == "min":
        return f"≥ {fmt_value(target['good'], unit)}"
    if kind == "max":
        return f"≤ {fmt_value(target['good'], unit)}"
    if kind == "range":
        return f"{fmt_value(target['good_low'], '')}–{fmt_value(target['good_high'], unit)}"
    return "?"


def span_words(start_s, end_s) -> str:
    if start_s is None:
        return "whole clip"
    return clock(start_s) if end_s is None or end_s == start_s else f"{clock(start_s)}–{clock(end_s)}"


METRIC_LEGEND = Text("✓ met  ~ partly  ✗ missed  · no target", style="dim")


#: Metric score (0-1) -> mark and colour: met, part of the points, most points lost; no target -> "·".
def metric_mark(ms: float | None) -> tuple[str, str]:
    if ms is None:
        return "·", "dim"
    return ("✓", "green") if ms >= 0.99 else ("~", "yellow") if ms >= 0.5 else ("✗", "bold red")


#: Below this many columns a metric takes two lines (value and target under the label); the bar needs this many.
ONE_LINE_FROM, BAR_FROM = 53, 72


def panel_text(modality: str, result, cfg: dict, specs: dict, width: int = 80) -> Text:
    """The modality's score, one line per metric (mark, label, value, target, and a bar when there is room),
    then its findings. Readable at 80 columns: marks carry the meaning without colour."""
    s = result.scores
    score = s.modalities.get(modality) if s else None
    word, style = band(score)
    out = Text()
    out.append(f"{modality.capitalize()}  ", style="bold")
    mark = PROVISIONAL_MARK if getattr(result, "status", None) == "provisional" else ""  # a running clip's so far
    out.append(f"{mark}{score:.0f} {word}" if score is not None else "not scored yet" if mark else "not scored",
               style=style)
    out.append("\n")
    picture = (s.extra.get("picture") if s else None) if modality == "visual" else None
    if picture:
        out.append_text(picture_line(picture))
        out.append("\n")
    values = result.features.values if result.features else {}
    targets = cfg.get("targets", {})
    keys = sorted(k for k in values if k.startswith(modality + "."))
    # Platform-fit metrics last, under their own heading: they are about the platform, not the picture.
    fit_keys = [k for k in keys if targets.get(k, {}).get("group") == "platform_fit"]
    keys = [k for k in keys if k not in fit_keys] + fit_keys
    label_w = 24 if width >= BAR_FROM else 20
    for key in keys:
        if fit_keys and key == fit_keys[0]:
            out.append("Platform fit (not picture quality)\n", style="bold")
        spec = specs.get(key)
        label = spec.label if spec else key.split(".", 1)[1]
        unit = spec.unit if spec else ""
        ms = s.metric_scores.get(key) if s else None
        mark, mstyle = metric_mark(ms)
        out.append(f"{mark} ", style=mstyle)
        label = label if len(label) <= label_w else label[: label_w - 1] + "…"
        out.append(f"{label:<{label_w}} ")
        value = fmt_value(values[key], unit)
        target = target_words(targets.get(key), unit)
        if width >= ONE_LINE_FROM:
            out.append(f"{value:>12}")
            out.append(f"  {target:<16}", style="dim")
            if ms is not None and width >= BAR_FROM:
                out.append(" ")
                out.append_text(bar(ms, 6))
        else:
            out.append(f"\n    {value}", style="")
            out.append(f"  target {target}", style="dim")
        out.append("\n")
    # the findings list beside the panels has them all; a wide panel repeats its modality's under its metrics
    findings = [f for f in result.findings if f.modality == modality] if width >= BAR_FROM else []
    findings.sort(key=lambda f: getattr(f, "group", None) == "platform_fit")  # stable: quality first
    if not keys:
        out.append("  nothing measured yet\n" if mark else "  nothing measured\n", style="dim")
    for f in findings:
        out.append("  ")
        out.append_text(severity_text(f.severity))
        out.append(f" {span_words(f.start_s, f.end_s)}  ", style="dim")
        out.append_text(safe(f.message))
        out.append("\n")
    out.rstrip()
    return out


def picture_line(picture: dict) -> Text:
    """"Picture quality 92 good · platform fit 63": the two parts of the visual score (engine/scorer.py)."""
    t = Text("Picture quality ", style="bold")
    pq = picture.get("perceived_quality")
    word, style = band(pq)
    t.append(f"{pq:.0f} {word}" if pq is not None else "not judged", style=style)
    fit = picture.get("platform_fit")
    if fit is not None:
        t.append(" · platform fit ", style="bold")
        t.append(f"{fit:.0f}", style=band(fit)[1])
    source = picture.get("source")
    if source and source != "targets":
        t.append(f" ({safe(source).plain})", style="dim")
    return t


class ModalityPanel(Static):
    DEFAULT_CSS = """
    ModalityPanel { height: auto; padding: 0 1; margin-bottom: 1; border-left: wide $primary; }
    """

    def __init__(self, modality: str, **kwargs):
        super().__init__(**kwargs)
        self.modality = modality

    def show(self, result, cfg: dict, specs: dict) -> None:
        self._args = (result, cfg, specs)
        self._draw()

    def _draw(self) -> None:
        if getattr(self, "_args", None):
            self.update(panel_text(self.modality, *self._args, width=self.content_size.width or 80))

    def on_resize(self) -> None:
        self._draw()
