"""Breakdown of one clip: overall score, tier and category; a panel per modality (metrics against targets,
findings); charts (visual timeline, loudness, versus the folder). n / N jump between findings and mark each one
on the chart of its modality."""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from engine.features import MODALITIES

from ..format import band, duration, safe, severity_text, size
from ..widgets.charts import LOUDNESS_TARGET_KEY, LoudnessPlot, TimelinePlot, VersusFolderPlot
from ..widgets.modality_panel import ModalityPanel, span_words


def finding_prompt(i: int, f) -> Text:
    t = Text(f"{i + 1:>2}. ")
    t.append_text(severity_text(f.severity))
    t.append(f" {f.modality} · {span_words(f.start_s, f.end_s)}\n    ", style="dim")
    t.append_text(safe(f.message))
    return t


class BreakdownScreen(Screen):
    CSS_PATH = "breakdown.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("n", "finding(1)", "Next finding"),
        Binding("N", "finding(-1)", "Prev finding"),
        Binding("1", "chart('timeline')", "Timeline", show=False),
        Binding("2", "chart('loudness')", "Loudness", show=False),
        Binding("3", "chart('versus')", "vs folder", show=False),
        Binding("r", "rescore", "Rescore", show=False),
        Binding("question_mark", "app.help", "Help", show=False),
    ]

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="headline")
        with Horizontal(id="main"):
            yield OptionList(id="findings")
            with VerticalScroll(id="panels"):
                for m in MODALITIES:
                    yield ModalityPanel(m, id=f"panel-{m}")
        with TabbedContent(id="charts"):
            with TabPane("1 Timeline", id="timeline"):
                yield TimelinePlot()
            with TabPane("2 Loudness", id="loudness"):
                yield LoudnessPlot()
            with TabPane("3 vs folder", id="versus"):
                yield VersusFolderPlot()
        yield Footer()

    def on_mount(self) -> None:
        self.result = self.app.backend.result(self.path)
        self.cfg = self.app.cfg or {}
        self.specs = self.app.specs or {}
        r = self.result
        s = r.scores
        head = Text()
        head.append_text(safe(r.path.rsplit("/", 1)[-1], "bold"))
        head.append("\n")
        if s:
            word, style = band(s.overall)
            head.append(f"Overall {s.overall:.0f} {word}" if s.overall is not None else "Overall n/a", style=style)
            head.append(f" · tier {s.tier} · {s.category} ({100 * s.category_confidence:.0f}% sure)")
        else:
            head.append_text(safe(f"Could not score: {(r.error or {}).get('message', '')}", "red"))
        if r.media:
            head.append(f" · {duration(r.media.duration_s)} · {r.media.width}x{r.media.height} · "
                        f"{size(r.media.size_bytes)}", style="dim")
        self.query_one("#headline", Static).update(head)
        for m in MODALITIES:
            self.query_one(f"#panel-{m}", ModalityPanel).show(r, self.cfg, self.specs)
        findings = self.query_one("#findings", OptionList)
        findings.add_options([Option(finding_prompt(i, f), id=str(i)) for i, f in enumerate(r.findings)])
        if not r.findings:
            findings.add_option(Option(Text("No findings: nothing lost points.", style="green"), disabled=True))
        self.query_one(TimelinePlot).show(r, self.specs)
        self.query_one(LoudnessPlot).show(r, self.cfg.get("targets", {}).get(LOUDNESS_TARGET_KEY))
        self.query_one(VersusFolderPlot).show(r, self.app.backend.folder_medians())
        findings.focus()
        if r.findings:
            findings.highlighted = 0

    @on(OptionList.OptionHighlighted, "#findings")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is None:
            return
        f = self.result.findings[int(event.option.id)]
        span = (f.start_s, f.end_s) if f.start_s is not None else None
        self.query_one(TimelinePlot).show(self.result, self.specs, span if f.modality != "audio" else None)
        self.query_one(LoudnessPlot).show(self.result, self.cfg.get("targets", {}).get(LOUDNESS_TARGET_KEY),
                                          span if f.modality == "audio" else None)
        self.query_one(TabbedContent).active = "loudness" if f.modality == "audio" else "timeline"
        panel = self.query_one(f"#panel-{f.modality}", ModalityPanel)
        self.query_one("#panels", VerticalScroll).scroll_to_widget(panel, animate=False)

    def action_finding(self, step: int) -> None:
        findings = self.query_one("#findings", OptionList)
        if findings.option_count:
            findings.highlighted = ((findings.highlighted or 0) + step) % findings.option_count

    def action_chart(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_rescore(self) -> None:
        self.app.enqueue([self.path], force=True)
