"""Charts drawn with plotext inside the terminal (textual-plotext): the per-second visual timeline with cut
markers, the short-term loudness curve against its target band with clipping and silence marked, and the clip's
modality scores against the folder's median. Each chart says plainly when the clip has no data for it."""
from __future__ import annotations

from textual_plotext import PlotextPlot

#: The visual series on the timeline, drawn as a share (0-100%) of each metric's documented range.
TIMELINE_KEYS = ("visual.sharpness", "visual.brightness", "visual.motion")
TIMELINE_COLORS = ("cyan", "yellow", "magenta")
#: Where the loudness curve is looked for, first match wins (then any audio series measured in LUFS).
LOUDNESS_KEYS = ("audio.short_term_lufs", "audio.loudness_short_term_lufs", "audio.loudness_lufs")
LOUDNESS_TARGET_KEY = "audio.loudness_lufs"


def loudness_series(fv):
    if fv is None:
        return None
    for key in LOUDNESS_KEYS:
        if key in fv.series:
            return fv.series[key]
    return next((s for k, s in sorted(fv.series.items()) if k.startswith("audio.") and s.unit.upper() == "LUFS"), None)


def event_times(fv, *, modality: str, word: str) -> list[tuple[float, float]]:
    """(start, end) spans of every event list whose key names ``word`` (a time is a zero-length span)."""
    spans = []
    for key, value in sorted((fv.events if fv else {}).items()):
        if not key.startswith(modality + ".") or word not in key or not isinstance(value, list):
            continue
        for item in value:
            if isinstance(item, (int, float)):
                spans.append((float(item), float(item)))
            elif isinstance(item, (list, tuple)) and len(item) >= 2 and all(isinstance(x, (int, float)) for x in item[:2]):
                spans.append((float(item[0]), float(item[1])))
            elif isinstance(item, dict) and "start_s" in item:
                spans.append((float(item["start_s"]), float(item.get("end_s", item["start_s"]))))
    return spans


def target_band(target: dict | None) -> tuple[float | None, float | None]:
    if not target:
        return None, None
    kind = target.get("kind")
    if kind == "range":
        return target.get("good_low"), target.get("good_high")
    if kind == "min":
        return target.get("good"), None
    if kind == "max":
        return None, target.get("good")
    return None, None


def _span_marks(plt, span, color: str) -> None:
    if span and span[0] is not None:
        plt.vline(span[0], color)
        if span[1] is not None and span[1] != span[0]:
            plt.vline(span[1], color)


class TimelinePlot(PlotextPlot):
    def show(self, result, specs: dict, highlight=None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        fv = result.features if result else None
        drawn = 0
        for key, color in zip(TIMELINE_KEYS, TIMELINE_COLORS):
            s = fv.series.get(key) if fv else None
            if not s or not any(v is not None for v in s.values):
                continue
            spec = specs.get(key)
            vals = [v for v in s.values if v is not None]
            lo, hi = (spec.lo, spec.hi) if spec else (min(vals), max(vals))
            scale = (hi - lo) or 1.0
            pts = [(t, 100.0 * (v - lo) / scale) for t, v in zip(s.times(), s.values) if v is not None]
            plt.plot([p[0] for p in pts], [p[1] for p in pts], color=color, label=key.split(".", 1)[1], marker="braille")
            drawn += 1
        for t0, _ in event_times(fv, modality="visual", word="cut"):
            plt.vline(t0, "gray")
        _span_marks(plt, highlight, "red")
        plt.title("Visual per second (% of range) · cuts grey · finding red" if drawn else
                  "No per-second visual series for this clip")
        plt.ylim(0, 100)
        plt.xlabel("seconds")
        self.refresh()


class LoudnessPlot(PlotextPlot):
    def show(self, result, target: dict | None, highlight=None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        fv = result.features if result else None
        s = loudness_series(fv)
        if s is None or not any(v is not None for v in s.values):
            plt.title("No loudness curve for this clip (no audio, or not measured)")
            self.refresh()
            return
        pts = [(t, v) for t, v in zip(s.times(), s.values) if v is not None]
        xs = [p[0] for p in pts]
        plt.plot(xs, [p[1] for p in pts], color="cyan", label="short-term LUFS", marker="braille")
        low, high = target_band(target)
        for level in (low, high):
            if level is not None:
                plt.hline(level, "green")
        for t0, t1 in event_times(fv, modality="audio", word="clip"):
            plt.vline(t0, "red")
        for t0, t1 in event_times(fv, modality="audio", word="silen"):
            plt.vline(t0, "blue")
            plt.vline(t1, "blue")
        _span_marks(plt, highlight, "magenta")
        band = f"target {low if low is not None else '…'} to {high if high is not None else '…'} LUFS (green)"
        plt.title(f"Short-term loudness · {band} · clipping red · silence blue")
        plt.xlabel("seconds")
        self.refresh()


class VersusFolderPlot(PlotextPlot):
    def show(self, result, medians: dict) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        s = result.scores if result else None
        names = ["overall", "visual", "audio", "text"]
        clip = [(s.overall if n == "overall" else s.modalities.get(n)) if s else None for n in names]
        med = [medians.get(n) for n in names]
        plt.multiple_bar(names, [[v or 0 for v in clip], [v or 0 for v in med]], labels=["this clip", "folder median"],
                         color=["cyan", "gray"])
        plt.ylim(0, 100)
        plt.title("Scores vs the folder's median (0-100; a missing score shows as 0)")
        self.refresh()
