"""Breakdown of one clip: overall score, tier, category and hook; the retention-risk strip (one mark a second, wider on a short clip, grouped on a long one);
the findings list beside tabs of detail (metrics per modality, hook, rewards checklist, originality); charts
(visual timeline, loudness, versus the folder). n / N jump between findings: the strip marks the finding's span
and the chart of its modality marks it too. On a short terminal the charts take the place of the lists while
shown (1 2 3 show them, esc goes back). A thumbnail left of the findings shows the clip's typical frame, then the
frame where the selected finding starts (or the second selected on the strip); hidden when there is no room.

A clip still being analysed shows its newest provisional verdict (``byteme score --progressive``'s): its scores so far
and the findings that cannot change, marked "provisional — N% analysed", refreshed as newer ones arrive and
replaced by the final result when the job is done."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from engine.features import MODALITIES

from ..format import PROVISIONAL_MARK, band, duration, safe, severity_text, size
from ..widgets.charts import LOUDNESS_TARGET_KEY, LoudnessPlot, TimelinePlot, VersusFolderPlot
from ..widgets.insights import (RetentionStrip, hook_text, insights_of, originality_text, retention_seconds,
                                rewards_text)
from ..widgets.modality_panel import METRIC_LEGEND, ModalityPanel, span_words
from ..widgets.thumbnail import Thumbnail

#: Terminal rows from which the charts get their own area under the lists (below it, 1 2 3 toggle them in).
TALL_FROM_ROWS = 34
#: Terminal columns from which the findings list gives the detail tabs more room than itself.
WIDE_FROM_COLUMNS = 110
#: What the tabs that need the whole clip say while a provisional verdict is shown.
WHOLE_CLIP_ONLY = "Measured once the whole clip is analysed: this is a provisional verdict of a clip still running."
#: Below this size the thumbnail is left out: at 70x20 the findings list still needs its ~30 columns and the
#: thumbnail its 8 rows plus a caption (measured on the demo folder's breakdown at 80x24, where it fits).
THUMB_MIN_COLUMNS, THUMB_MIN_ROWS = 70, 20


def finding_prompt(i: int, f) -> Text:
    t = Text(f"{i + 1:>2}. ")
    t.append_text(severity_text(f.severity))
    where = "visual, platform fit" if getattr(f, "group", None) == "platform_fit" else f.modality
    t.append(f" {where} · {span_words(f.start_s, f.end_s)}\n", style="dim")
    t.append_text(safe(f.message))
    return t


def own_numbers_text(row, similar: dict | None) -> Text:
    """This clip's own TikTok numbers (``byteme tiktok sync``) and how the creator's clips with a similar overall
    score performed; empty when there is neither."""
    from engine.tiktok.sync import short_count

    t = Text()
    if row is not None and row.views is not None:
        rate = row.like_rate
        t.append(f"On TikTok: {short_count(row.views)} views" + (f", {100 * rate:.1f}% likes" if rate is not None
                                                                  else ""), style="bold")
    if similar:
        if t.plain:
            t.append(" · ")
        rate = similar["median_like_rate"]
        n = similar["n"]
        t.append(f"your clips scoring {similar['low']:.0f}-{similar['high']:.0f}: median "
                 f"{short_count(similar['median_views'])} views" + (f", {100 * rate:.1f}% likes" if rate is not None
                                                                    else "") + f" ({n} clip{'s' if n != 1 else ''})",
                 style="dim" if n < 3 else "")
    return t


class BreakdownScreen(Screen):
    CSS_PATH = "breakdown.tcss"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL_FROM_ROWS, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM_COLUMNS, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "finding(1)", "Next finding"),
        Binding("N", "finding(-1)", "Prev finding"),
        Binding("left", "second(-1)", "◀ second", show=False),
        Binding("right", "second(1)", "second ▶", show=False),
        Binding("m", "show_detail('metrics')", "Metrics", show=False),
        Binding("h", "show_detail('hook')", "Hook", show=False),
        Binding("w", "show_detail('rewards')", "Rewards", show=False),
        Binding("o", "show_detail('originality')", "Originality", show=False),
        Binding("1", "chart('timeline')", "Timeline", show=False),
        Binding("2", "chart('loudness')", "Loudness", show=False),
        Binding("3", "chart('versus')", "vs folder", show=False),
        Binding("r", "rescore", "Rescore", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.selected_second: int | None = None
        self.span = None
        self.provisional = False  # the result shown is a running job's provisional verdict

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="headline")
        yield RetentionStrip(id="strip")
        with Horizontal(id="main"):
            yield Thumbnail(getattr(self.app, "graphics", "halfcell"), id="thumb")
            yield OptionList(id="findings")
            with TabbedContent(id="detail"):
                with TabPane("Metrics", id="metrics"):
                    with VerticalScroll(id="panels"):
                        yield Static(METRIC_LEGEND, id="legend")
                        for m in MODALITIES:
                            yield ModalityPanel(m, id=f"panel-{m}")
                with TabPane("Hook", id="hook"):
                    with VerticalScroll():
                        yield Static(id="hook-text")
                with TabPane("Rewards", id="rewards"):
                    with VerticalScroll():
                        yield Static(id="rewards-text")
                with TabPane("Originality", id="originality"):
                    with VerticalScroll():
                        yield Static(id="originality-text")
        with TabbedContent(id="charts"):
            with TabPane("1 Timeline", id="timeline"):
                yield TimelinePlot()
            with TabPane("2 Loudness", id="loudness"):
                yield LoudnessPlot()
            with TabPane("3 vs folder", id="versus"):
                yield VersusFolderPlot()
        yield Footer()

    def on_mount(self) -> None:
        self.cfg = self.app.cfg or {}
        self.specs = self.app.specs or {}
        r, provisional = self._newest()
        self._show(r, provisional)
        self.query_one("#findings", OptionList).focus()
        self._fit_thumbnail()

    def _newest(self):
        """(the result to show, whether it is provisional): the final result when there is one, else the newest
        provisional verdict of the clip's running job (None when there is neither)."""
        final = self.app.backend.result(self.path)
        if final is not None:
            return final, False
        return self.app.backend.provisional(self.path), True

    def metadata_loaded(self) -> None:
        """From the app once the config targets and metric labels are read: opened before that, the screen drew
        its metrics without targets; draw them again with them."""
        self.cfg, self.specs = self.app.cfg or {}, self.app.specs or {}
        if getattr(self, "result", None) is not None:
            self._show(self.result, self.provisional)

    def update_state(self, state) -> None:
        """From the app at each poll: while a provisional verdict is shown, show a newer one when it arrives, and
        the final result once the job is done. A final result on screen stays as it is."""
        if not self.provisional:
            return
        r, provisional = self._newest()
        if r is not None and r is not self.result:
            self._show(r, provisional)

    def _show(self, r, provisional: bool) -> None:
        """Fill every part of the screen from ``r``; the highlighted finding stays where it was when it still
        exists (a newer provisional verdict is a refresh, not a new screen)."""
        was_provisional, self.provisional = self.provisional, provisional
        self.result = r
        self.set_class(provisional, "-provisional")
        state = getattr(self.app, "state", None)
        row = state.rows.get(self.path) if state is not None else None
        self.query_one("#headline", Static).update(self._headline(r, row, self.app.backend.own_performance(self.path),
                                                                  progress=(r.progress or 0.0) if provisional else None))
        for m in MODALITIES:
            self.query_one(f"#panel-{m}", ModalityPanel).show(r, self.cfg, self.specs)
        for widget, text in (("#hook-text", hook_text), ("#rewards-text", rewards_text),
                             ("#originality-text", originality_text)):
            self.query_one(widget, Static).update(Text(WHOLE_CLIP_ONLY, style="dim") if provisional else text(r))
        findings = self.query_one("#findings", OptionList)
        keep = findings.highlighted
        findings.clear_options()
        findings.add_options([Option(finding_prompt(i, f), id=str(i)) for i, f in enumerate(r.findings)])
        if not r.findings:
            findings.add_option(Option(Text("No findings that cannot change yet." if provisional else
                                            "No findings: nothing lost points.",
                                            style="dim" if provisional else "green"), disabled=True))
        strip = self.query_one(RetentionStrip)
        strip.empty = "Retention risk: " + WHOLE_CLIP_ONLY[0].lower() + WHOLE_CLIP_ONLY[1:] if provisional else None
        strip.show(retention_seconds(r))
        self.query_one(TimelinePlot).show(r, self.specs)
        self.query_one(LoudnessPlot).show(r, self.cfg.get("targets", {}).get(LOUDNESS_TARGET_KEY))
        self.query_one(VersusFolderPlot).show(r, self.app.backend.folder_medians())
        if not provisional or not was_provisional:
            self.load_thumbnail(None, "typical")  # a provisional verdict has no picture yet; the final one has
        if r.findings:
            findings.highlighted = keep if keep is not None and keep < len(r.findings) else 0

    def on_resize(self) -> None:
        self._fit_thumbnail()
        self.call_after_refresh(self.query_one(Thumbnail).fit)  # once the lists have their new height

    def _fit_thumbnail(self) -> None:
        """Leave the picture out where it does not fit, and without colour (half-blocks are colour alone)."""
        self.set_class(self.size.width < THUMB_MIN_COLUMNS or self.size.height < THUMB_MIN_ROWS
                       or self.app.no_color, "-no-thumb")

    @work(thread=True, exclusive=True, group="thumbnail")
    def load_thumbnail(self, t_s: float | None, why: str) -> None:
        """The frame at ``t_s`` (None: the clip's typical frame) from the service, drawn when it arrives."""
        try:
            got = self.app.backend.thumbnail(self.path, t_s)
        except Exception:  # noqa: BLE001 - a picture is a nicety: never an error over the breakdown
            got = None
        if get_current_worker().is_cancelled:
            return  # a newer frame was asked for meanwhile: never draw an older one over it
        picture, t = got if got else (None, None)
        self.app.call_from_thread(self.query_one(Thumbnail).show, picture, t, why)

    @staticmethod
    def _headline(r, row=None, similar: dict | None = None, *, progress: float | None = None) -> Text:
        """Name (as the library lists it: a symlinked clip by its link's name, where the result has the file's),
        then overall score, hook, tier and category; ``progress`` (0-1): a provisional verdict, said first and its
        scores marked ``~``."""
        s = r.scores
        head = Text()
        head.append_text(safe(row.name if row is not None else r.path.rsplit("/", 1)[-1], "bold"))
        head.append("\n")
        mark = ""
        if progress is not None:
            mark = PROVISIONAL_MARK
            head.append(f" provisional — {100 * progress:.0f}% analysed ", style="bold reverse")
            head.append(" ")
        if s:
            word, style = band(s.overall)
            head.append(f"Overall {mark}{s.overall:.0f} {word}" if s.overall is not None else "Overall n/a",
                        style=style)
            hook = (insights_of(r).get("hook") or {}).get("score")
            if hook is not None:
                head.append(" · hook ")
                hw, hs = band(hook)
                head.append(f"{hook:.0f} {hw}", style=hs)
            head.append(f" · {mark}{s.tier} · ")
            head.append_text(safe(s.category))
            if isinstance(s.category_confidence, (int, float)):  # calibrated ([category] in config.toml)
                head.append(f" {100 * s.category_confidence:.0f}% sure", style="dim")
        else:
            head.append_text(safe(f"Could not score: {(r.error or {}).get('message', '')}", "red"))
        if r.media:
            head.append(f" · {duration(r.media.duration_s)} · {r.media.width}x{r.media.height} · "
                        f"{size(r.media.size_bytes)}", style="dim")
        tiktok = own_numbers_text(row, similar)
        if tiktok.plain:
            head.append("\n")
            head.append_text(tiktok)
        return head

    # -- findings and the timeline -------------------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#findings")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is None:
            return
        f = self.result.findings[int(event.option.id)]
        self.span = (f.start_s, f.end_s) if f.start_s is not None else None
        self.selected_second = int(f.start_s) if f.start_s is not None else None
        if f.start_s is not None:
            self.load_thumbnail(f.start_s, "finding")
        elif self.query_one(Thumbnail).why != "typical":
            self.load_thumbnail(None, "typical")
        n = len(retention_seconds(self.result))
        if self.selected_second is not None and n:
            self.selected_second = min(self.selected_second, n - 1)
        self._show_strip()
        span = self.span
        self.query_one(TimelinePlot).show(self.result, self.specs, span if f.modality != "audio" else None)
        self.query_one(LoudnessPlot).show(self.result, self.cfg.get("targets", {}).get(LOUDNESS_TARGET_KEY),
                                          span if f.modality == "audio" else None)
        self.query_one("#charts", TabbedContent).active = "loudness" if f.modality == "audio" else "timeline"
        code = f.code or ""
        tab = "hook" if code.startswith("hook.") else "rewards" if code.startswith("rewards.") else \
            "originality" if code.startswith("originality.") else "metrics"
        self.query_one("#detail", TabbedContent).active = tab
        if tab == "metrics":
            panel = self.query_one(f"#panel-{f.modality}", ModalityPanel)
            self.query_one("#panels", VerticalScroll).scroll_to_widget(panel, animate=False, top=True)

    def _show_strip(self) -> None:
        self.query_one(RetentionStrip).show(retention_seconds(self.result), self.span, self.selected_second)

    def action_finding(self, step: int) -> None:
        findings = self.query_one("#findings", OptionList)
        if findings.option_count:
            findings.highlighted = ((findings.highlighted or 0) + step) % findings.option_count

    def action_second(self, step: int) -> None:
        n = len(retention_seconds(self.result))
        if not n:
            return
        cur = self.selected_second if self.selected_second is not None else (-1 if step > 0 else n)
        self.selected_second = max(0, min(n - 1, cur + step))
        self._show_strip()
        self.load_thumbnail(float(self.selected_second), "second")

    # -- tabs and charts -----------------------------------------------------------------------------------
    def action_show_detail(self, tab: str) -> None:
        self.remove_class("-charts")
        self.query_one("#detail", TabbedContent).active = tab

    def action_chart(self, tab: str) -> None:
        charts = self.query_one("#charts", TabbedContent)
        if self.has_class("-short") and self.has_class("-charts") and charts.active == tab:
            self.remove_class("-charts")  # the same key again hides the charts on a short terminal
            return
        charts.active = tab
        self.add_class("-charts")

    def action_back(self) -> None:
        if self.has_class("-short") and self.has_class("-charts"):
            self.remove_class("-charts")
        else:
            self.app.pop_screen()

    def action_rescore(self) -> None:
        self.app.enqueue([self.path], force=True)
