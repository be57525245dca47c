"""The home screen: the folder's clips, sortable and filterable, with every queue command on a key."""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from engine.tiktok.sync import short_count

from ..format import about, name_text, safe
from engine.service_state import STATUSES, ClipRow, LibraryState
from ..widgets.clip_table import ClipTable

TIERS = ("platinum", "gold", "silver", "bronze", "unranked")
SORTS = ("name", "status", "overall", "visual", "audio", "text", "tier", "duration", "size")
#: Sorts whose natural order is best first (descending); the others go A to Z, shortest or smallest first.
DESCENDING_SORTS = ("overall", "visual", "audio", "text")
STATUS_ORDER = {s: i for i, s in enumerate(("running", "queued", "failed", "error", "new", "cancelled", "done"))}
TIER_ORDER = {t: i for i, t in enumerate(TIERS)}


def sort_key(sort: str):
    if sort == "name":
        return lambda r: r.name.lower()
    if sort == "status":
        return lambda r: (STATUS_ORDER.get(r.status, 9), r.name.lower())
    if sort == "tier":
        return lambda r: (TIER_ORDER.get(r.tier, 9), r.name.lower())
    if sort == "duration":
        return lambda r: (r.duration_s is None, r.duration_s or 0.0)
    if sort == "size":
        return lambda r: r.size_bytes
    # scores: unscored clips last whatever the direction
    return lambda r: (getattr(r, sort) is None, -(getattr(r, sort) or 0.0))


def is_descending(sort: str, reverse: bool) -> bool:
    """Whether the list as sorted runs from the highest value down (what the arrow shows)."""
    return (sort in DESCENDING_SORTS) != reverse


def compare_pair(marked, cursor: str | None) -> tuple[str, str] | None:
    """The two clips ``c`` compares: the two marked ones (in the order they were marked), or the one marked clip
    and the clip under the cursor; None otherwise (none or more than two marked, or the cursor on the marked one)."""
    marked = list(marked)
    if len(marked) == 2:
        return marked[0], marked[1]
    if len(marked) == 1 and cursor and cursor != marked[0]:
        return marked[0], cursor
    return None


def visible_rows(rows, *, text: str = "", status: str | None = None, tier: str | None = None,
                 sort: str = "name", reverse: bool = False) -> list[ClipRow]:
    needle = text.strip().lower()
    out = []
    for r in rows:
        if status and r.status != status:
            continue
        if tier and (r.tier or "") != tier:
            continue
        if needle and needle not in "\n".join(
                str(x) for x in (r.name, r.category, r.tier, r.top_finding, r.error, r.status) if x).lower() \
                and needle not in r.search_text:
            continue
        out.append(r)
    out.sort(key=sort_key(sort), reverse=reverse)
    return out


#: Folder-wide findings shown in the footer; the rest are counted ("+N more"), and all are in the report summary.
SHARED_SHOWN = 2


def shared_text(shared) -> Text:
    """The findings most of the folder shares (``engine.folder``), said once here instead of as each clip's top fix."""
    out = Text()
    for i, s in enumerate(shared[:SHARED_SHOWN]):
        if i:
            out.append("\n")
        out.append("Folder-wide " if i == 0 else "            ", style="bold")
        out.append_text(safe(s.summary()))
    if len(shared) > SHARED_SHOWN:
        out.append(f"  (+{len(shared) - SHARED_SHOWN} more in the report, e)", style="dim")
    return out


class LibraryScreen(Screen):
    CSS_PATH = "library.tcss"
    BINDINGS = [
        Binding("enter", "breakdown", "Breakdown"),
        Binding("space", "mark", "Mark", show=False),
        Binding("m", "mark_all", "Mark all/none", show=False),
        Binding("s", "score", "Score"),
        Binding("a", "score_all", "Score all", show=False),
        Binding("n", "score_new", "Score unscored", show=False),
        Binding("r", "rescore", "Rescore", show=False),
        Binding("x", "cancel", "Cancel"),
        Binding("X", "cancel_all", "Cancel all", show=False),
        Binding("f", "retry_failed", "Retry failed", show=False),
        Binding("c", "compare", "Compare", show=False),
        Binding("p", "app.progress", "Progress"),
        Binding("slash", "focus_filter", "Search"),
        Binding("v", "cycle_status", "Status filter", show=False),
        Binding("t", "cycle_tier", "Tier filter", show=False),
        Binding("o", "cycle_sort", "Sort", show=False),
        Binding("O", "reverse_sort", "Reverse sort", show=False),
        Binding("d", "pick_folder", "Folder", show=False),
        Binding("u", "add_url", "Add URL", show=False),
        Binding("e", "export", "Export report", show=False),
        Binding("comma", "app.settings", "Settings", show=False),
        Binding("question_mark", "app.help", "Help"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: dict[str, None] = {}  # the marked clips, in the order they were marked
        self.status_filter: str | None = None
        self.tier_filter: str | None = None
        self.sort = "name"
        self.reverse = False
        self.state: LibraryState | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="toolbar"):
            yield Static(id="folder")
            yield Input(placeholder="/ search names, captions, findings", id="filter", compact=True)
        yield Static(id="filters")
        yield ClipTable(id="clips")
        yield Static(id="current")
        yield Static(id="shared")
        yield Static(Text("Loading the folder…"), id="summary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ClipTable).focus()
        if self.app.state is not None:
            self.update_state(self.app.state)

    def on_screen_resume(self) -> None:
        if self.app.state is not None:
            self.update_state(self.app.state)

    # -- showing -------------------------------------------------------------------------------------------
    def update_state(self, state: LibraryState) -> None:
        self.state = state
        self.marked = {p: None for p in self.marked if p in state.rows}
        self._render_all()

    def _render_all(self) -> None:
        state = self.state
        if state is None:
            return
        rows = visible_rows(state.rows.values(), text=self.query_one("#filter", Input).value,
                            status=self.status_filter, tier=self.tier_filter, sort=self.sort, reverse=self.reverse)
        self.query_one(ClipTable).show(rows, self.marked)
        descending = is_descending(self.sort, self.reverse)
        self.query_one("#folder", Static).update(Text.assemble(("Folder ", "bold"), safe(state.folder)))
        arrow = "↓" if descending else "↑"
        self.query_one("#filters", Static).update(Text(
            f"status: {self.status_filter or 'all'} (v) · tier: {self.tier_filter or 'all'} (t) · "
            f"sort: {self.sort} {arrow} (o/O) · {len(rows)} of {len(state.rows)} shown"))
        self.query_one("#summary", Static).update(self._summary(state))
        shared = self.query_one("#shared", Static)
        shared.update(shared_text(state.shared_findings))
        shared.display = bool(state.shared_findings)
        self._show_current()

    @on(DataTable.RowHighlighted, "#clips")
    def _cursor_moved(self) -> None:
        self._show_current()
        if self.state is not None and len(self.marked) == 1:
            self.query_one("#summary", Static).update(self._summary(self.state))  # the pair c compares changed

    def _show_current(self) -> None:
        """The clip under the cursor and its top finding (or why it failed) in full: the table's last column is
        off-screen or cut below ~180 columns."""
        p = self.query_one(ClipTable).current_path
        row = self.state.rows.get(p) if self.state is not None and p else None
        line = Text()
        if row is not None and (row.error or row.top_finding or row.views is not None):
            line.append_text(safe(row.name, "bold"))
            if row.views is not None:  # the clip's own TikTok numbers (byteme tiktok sync)
                rate = row.like_rate
                line.append(f" · TikTok {short_count(row.views)} views"
                            + (f", {100 * rate:.1f}% likes" if rate is not None else ""), style="cyan")
            if row.error or row.top_finding:
                line.append(": ")
                line.append_text(safe(row.error or row.top_finding, "red" if row.error else ""))
        self.query_one("#current", Static).update(line)

    def _summary(self, state: LibraryState) -> Text:
        counts: dict[str, int] = {}
        for r in state.rows.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        parts = [f"{len(state.rows)} clips"] + [f"{counts[s]} {s}" for s in STATUSES if counts.get(s)]
        if self.marked:
            parts.append(f"{len(self.marked)} marked")
        text = Text(" · ".join(parts))
        if self.marked:
            text.append("  ")
            text.append_text(self._compare_hint())
        if state.batch_total and state.active_count:
            text.append(f"  ▶ run {100 * state.batch_fraction:.0f}% ({state.batch_finished}/{state.batch_total})",
                        style="bold cyan")
            if state.eta_s is not None:
                text.append(f" · {about(state.eta_s)} left", style="cyan")
        if state.paused:
            text.append("  ‖ paused", style="yellow")
        if state.problem:
            text.append("  ✗ ", style="red")
            text.append_text(safe(state.problem, "red"))
        if counts.get("new") and not state.active_count and not self.marked:
            text.append("  · a scores all, enter opens a scored clip", style="dim")
        if not state.rows:
            text = Text("No video files in this folder. Press d to pick another folder.")
        return text

    def _compare_hint(self) -> Text:
        """Which two clips c will compare, or how to get a pair."""
        pair = compare_pair(self.marked, self.query_one(ClipTable).current_path)
        if pair is None:
            hint = "c: mark one more, or move the cursor to another clip" if len(self.marked) < 2 else \
                "c compares two: unmark some (space)"
            return Text(hint, style="dim")
        names = [self.state.rows[p].name if p in self.state.rows else p for p in pair]
        return Text.assemble(("c compares ", "bold"), safe(name_text(names[0], 28), "magenta"), " with ",
                             safe(name_text(names[1], 28), "magenta"))

    # -- selection -----------------------------------------------------------------------------------------
    def selected(self) -> list[str]:
        """The marked clips, or the clip under the cursor when none is marked."""
        if self.marked:
            return [p for p in self.state.rows if p in self.marked]
        p = self.query_one(ClipTable).current_path
        return [p] if p else []

    def action_mark(self) -> None:
        p = self.query_one(ClipTable).current_path
        if p:  # the cursor stays: the marked clip and the one under the cursor are what c compares
            if p in self.marked:
                del self.marked[p]
            else:
                self.marked[p] = None
            self._render_all()

    def action_mark_all(self) -> None:
        shown = self.query_one(ClipTable)._keys
        self.marked = {} if set(shown) <= set(self.marked) else {**self.marked, **dict.fromkeys(shown)}
        self._render_all()

    # -- filters -------------------------------------------------------------------------------------------
    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._render_all()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(ClipTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.status_filter = self.tier_filter = None
        self.query_one(ClipTable).focus()
        self._render_all()

    def action_cycle_status(self) -> None:
        order = (None, *STATUSES)
        self.status_filter = order[(order.index(self.status_filter) + 1) % len(order)]
        self._render_all()

    def action_cycle_tier(self) -> None:
        order = (None, *TIERS)
        self.tier_filter = order[(order.index(self.tier_filter) + 1) % len(order)]
        self._render_all()

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._render_all()

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse
        self._render_all()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = {"duration": "duration", "size": "size"}.get(event.column_key.value, event.column_key.value)
        if key in SORTS:
            self.reverse = not self.reverse if self.sort == key else False
            self.sort = key
            self._render_all()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_breakdown()

    # -- commands ------------------------------------------------------------------------------------------
    def _paths(self, status_pred) -> list[str]:
        return [p for p, r in (self.state.rows.items() if self.state else []) if status_pred(r)]

    def action_score(self) -> None:
        self.app.enqueue(self.selected(), force=False)

    def action_score_all(self) -> None:
        self.app.enqueue(self._paths(lambda r: r.status not in ("queued", "running")), force=False)

    def action_score_new(self) -> None:
        self.app.enqueue(self._paths(lambda r: r.status in ("new", "cancelled") and not r.scored), force=False)

    def action_rescore(self) -> None:
        self.app.enqueue(self.selected(), force=True)

    def action_cancel(self) -> None:
        self.app.command("cancel", self.selected())

    def action_cancel_all(self) -> None:
        self.app.command("cancel_all")

    def action_retry_failed(self) -> None:
        self.app.command("retry_failed")

    def action_breakdown(self) -> None:
        p = self.query_one(ClipTable).current_path
        if p:
            self.app.open_breakdown(p)

    def action_compare(self) -> None:
        pair = compare_pair(self.marked, self.query_one(ClipTable).current_path)
        if pair is None:
            self.notify("Mark two clips with space (or one, with the cursor on the other), then press c.",
                        severity="warning", markup=False)
            return
        self.app.open_compare(*pair)

    def action_pick_folder(self) -> None:
        self.app.pick_folder()

    def action_add_url(self) -> None:
        self.app.add_url()

    def action_export(self) -> None:
        self.app.export_report()

    def folder_path(self) -> Path | None:
        return Path(self.state.folder) if self.state else None
