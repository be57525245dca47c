"""One modality's panel on the breakdown: its score, each metric's value against its target, and its findings."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.feedback import clock, fmt_value

from ..format import band, bar, safe, severity_text


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


def panel_text(modality: str, result, cfg: dict, specs: dict) -> Text:
    s = result.scores
    score = s.modalities.get(modality) if s else None
    word, style = band(score)
    out = Text()
    out.append(f"{modality.capitalize()}  ", style="bold")
    out.append(f"{score:.0f} {word}" if score is not None else "not scored", style=style)
    out.append("\n")
    values = result.features.values if result.features else {}
    targets = cfg.get("targets", {})
    keys = sorted(k for k in values if k.startswith(modality + "."))
    for key in keys:
        spec = specs.get(key)
        label = spec.label if spec else key.split(".", 1)[1]
        unit = spec.unit if spec else ""
        ms = s.metric_scores.get(key) if s else None
        out.append(f"  {label[:24]:<24} ", style="")
        out.append(f"{fmt_value(values[key], unit):>11}")
        out.append(f"  target {target_words(targets.get(key), unit):<14} ", style="dim")
        if ms is not None:
            out.append_text(bar(ms, 6))
        out.append("\n")
    findings = [f for f in result.findings if f.modality == modality]
    if not keys:
        out.append("  nothing measured\n", style="dim")
    for f in findings:
        out.append("  ")
        out.append_text(severity_text(f.severity))
        out.append(f" {span_words(f.start_s, f.end_s)}  ", style="dim")
        out.append_text(safe(f.message))
        out.append("\n")
    out.rstrip()
    return out


class ModalityPanel(Static):
    DEFAULT_CSS = """
    ModalityPanel { height: auto; padding: 0 1; margin-bottom: 1; border-left: wide $primary; }
    """

    def __init__(self, modality: str, **kwargs):
        super().__init__(**kwargs)
        self.modality = modality

    def show(self, result, cfg: dict, specs: dict) -> None:
        self.update(panel_text(self.modality, result, cfg, specs))
