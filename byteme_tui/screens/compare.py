"""Two clips side by side: scores, every metric (with its target and which clip is nearer), and findings."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from engine.feedback import fmt_value

from ..format import clip_text, name_text, safe, score_text, severity_text
from ..widgets.modality_panel import span_words, target_words

BETTER_A, BETTER_B, SAME = "◀ A", "B ▶", "="


def better(a, b, higher_better) -> str:
    if a is None or b is None or higher_better is None or a == b:
        return SAME if a == b else ""
    return BETTER_A if (a > b) == bool(higher_better) else BETTER_B


def findings_text(label: str, result) -> Text:
    t = Text()
    t.append_text(safe(f"{label}: {name_text(result.path.rsplit('/', 1)[-1], 40)}", "bold"))
    t.append("\n")
    for f in result.findings:
        t.append_text(severity_text(f.severity))
        t.append(f" {span_words(f.start_s, f.end_s)} ", style="dim")
        t.append_text(safe(f.message))
        t.append("\n")
    return t


class CompareScreen(Screen):
    CSS_PATH = "compare.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("question_mark", "app.help", "Help", show=False)]

    def __init__(self, a: str, b: str):
        super().__init__()
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="findings"):
            with VerticalScroll():
                yield Static(id="fa")
            with VerticalScroll():
                yield Static(id="fb")
        yield Footer()

    def on_mount(self) -> None:
        ra, rb = self.app.backend.result(self.a), self.app.backend.result(self.b)
        specs, cfg = self.app.specs or {}, self.app.cfg or {}
        table = self.query_one(DataTable)
        # 22+12+12+6+14 plus cell padding fits 80 columns
        table.add_column("", key="what", width=22)
        table.add_column(safe("A " + name_text(self.a.rsplit("/", 1)[-1], 10)), key="a", width=12)
        table.add_column(safe("B " + name_text(self.b.rsplit("/", 1)[-1], 10)), key="b", width=12)
        table.add_column("better", key="better", width=6)
        table.add_column("target", key="target", width=14)
        sa, sb = ra.scores, rb.scores
        for name in ("overall", "visual", "audio", "text"):
            va = (sa.overall if name == "overall" else sa.modalities.get(name)) if sa else None
            vb = (sb.overall if name == "overall" else sb.modalities.get(name)) if sb else None
            table.add_row(Text(name.capitalize(), style="bold"), score_text(va, word=True), score_text(vb, word=True),
                          Text(better(va, vb, True)), Text(""))
        table.add_row(Text("Tier", style="bold"), safe(sa.tier if sa else "-"), safe(sb.tier if sb else "-"),
                      Text(""), Text(""))
        table.add_row(Text("Category", style="bold"), safe(sa.category if sa else "-"), safe(sb.category if sb else "-"),
                      Text(""), Text(""))
        va_all = ra.features.values if ra.features else {}
        vb_all = rb.features.values if rb.features else {}
        for key in sorted(set(va_all) | set(vb_all)):
            spec = specs.get(key)
            unit = spec.unit if spec else ""
            a, b = va_all.get(key), vb_all.get(key)
            ms_a = sa.metric_scores.get(key) if sa else None
            ms_b = sb.metric_scores.get(key) if sb else None
            # nearer the target wins when the metric has one; otherwise its documented direction
            mark = better(ms_a, ms_b, True) if ms_a is not None and ms_b is not None else \
                better(a, b, spec.higher_better if spec else None)
            table.add_row(Text(clip_text(spec.label if spec else key, 22)), Text(fmt_value(a, unit)), Text(fmt_value(b, unit)),
                          Text(mark), Text(target_words(cfg.get("targets", {}).get(key), unit), style="dim"))
        self.query_one("#fa", Static).update(findings_text("A", ra))
        self.query_one("#fb", Static).update(findings_text("B", rb))
        table.focus()
