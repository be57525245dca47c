"""The library table: one row per clip, keyed by path. ``show(rows, marked)`` updates only the cells that
changed while the row order is the same, and rebuilds (keeping the cursor on the same clip) when it is not."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ..format import PROVISIONAL_MARK, clip_text, duration, name_text, safe, score_text, size, status_text
from engine.service_state import ClipRow

#: (key, label, width). Status and scores come first so they fit an 80-column terminal.
COLUMNS = (
    ("mark", " ", 1),
    ("name", "Clip", 26),
    ("status", "Status", 13),
    ("overall", "Overall", 8),
    ("visual", "Vis", 3),
    ("audio", "Aud", 3),
    ("text", "Txt", 3),
    ("tier", "Tier", 8),
    ("duration", "Dur", 5),
    ("size", "Size", 8),
    ("orientation", "Shape", 9),
    ("category", "Category", 15),
    ("finding", "Top finding", 70),
)
MARK = "●"


def cells(row: ClipRow, marked: bool) -> dict:
    status = status_text(row.status, row.fraction, None)
    p = row.provisional  # a running clip's verdict so far: "~" before each score, "provisional" before the fix
    if p:
        status.append(" " + PROVISIONAL_MARK)
    finding = row.error or row.top_finding or ""
    return {
        "mark": Text(MARK if marked else " ", style="bold magenta"),
        "name": safe(name_text(row.name, 26)),
        "status": status,
        "overall": score_text(row.overall, word=True, provisional=p),
        "visual": score_text(row.visual, provisional=p),
        "audio": score_text(row.audio, provisional=p),
        "text": score_text(row.text, provisional=p),
        "tier": safe((PROVISIONAL_MARK if p and row.tier else "") + (row.tier or "-")),
        "duration": Text(duration(row.duration_s), justify="right"),
        "size": Text(size(row.size_bytes), justify="right"),
        "orientation": Text(row.orientation),
        "category": safe(row.category or "-"),
        "finding": safe(clip_text(("provisional: " if p else "") + finding, 70), "red" if row.error else ""),
    }


class ClipTable(DataTable):
    DEFAULT_CSS = """
    ClipTable { height: 1fr; }
    """
    #: Home/End go to the first/last clip (a DataTable's own Home/End scroll sideways, which a row cursor never
    #: needs: left/right do that).
    BINDINGS = [Binding("home", "scroll_top", "First clip", show=False),
                Binding("end", "scroll_bottom", "Last clip", show=False)]

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._keys: list[str] = []
        self._shown: dict[str, tuple] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def current_path(self) -> str | None:
        if not self._keys or self.cursor_row < 0 or self.cursor_row >= len(self._keys):
            return None
        return self._keys[self.cursor_row]

    def show(self, rows: list[ClipRow], marked: set[str]) -> None:
        keys = [r.path for r in rows]
        if keys == self._keys:
            for r in rows:
                sig = (r, r.path in marked)
                if self._shown.get(r.path) != sig:
                    old = self._shown.get(r.path)
                    new_cells = cells(r, r.path in marked)
                    old_cells = cells(*old) if old else {}
                    for col, value in new_cells.items():
                        if old_cells.get(col) != value:
                            self.update_cell(r.path, col, value)
                    self._shown[r.path] = sig
            return
        current = self.current_path
        self.clear()
        self._shown = {}
        for r in rows:
            c = cells(r, r.path in marked)
            self.add_row(*c.values(), key=r.path)
            self._shown[r.path] = (r, r.path in marked)
        self._keys = keys
        if current in keys:
            self.move_cursor(row=keys.index(current), animate=False)
