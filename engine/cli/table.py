"""The plain table ``byteme score`` and ``byteme results`` print, and the CSV rows of ``score --csv``."""
from __future__ import annotations

import csv
import os
import shutil
import textwrap
from pathlib import Path

from ..errors import OutputError
from ..textsafe import csv_row, display_path, visible

CSV_COLUMNS = ("path", "status", "error_kind", "error_message", "duration_s", "width", "height", "fps", "has_audio",
               "codec", "overall", "visual", "audio", "text", "tier", "category", "top_finding")


def table_row(r) -> dict:
    c = r.contract()
    s = c["scores"] or {}
    m = c["media"] or {}
    top = r.top_finding()
    return {
        "path": c["path"],
        "status": c["status"],
        "error_kind": (c["error"] or {}).get("kind"),
        "error_message": (c["error"] or {}).get("message"),
        "duration_s": m.get("duration_s"),
        "width": m.get("width"),
        "height": m.get("height"),
        "fps": m.get("fps"),
        "has_audio": m.get("has_audio"),
        "codec": m.get("codec"),
        "overall": s.get("overall"),
        "visual": s.get("visual"),
        "audio": s.get("audio"),
        "text": s.get("text"),
        "tier": c["tier"],
        "category": c["category"],
        "top_finding": top.message if top else None,
    }


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)


# -- the printed table: sized to the terminal ------------------------------------------------------------------

#: Width of the score, tier and category columns. Tier names are at most 8 letters ("platinum", "unranked"); the
#: longest category is "gameplay_screen" (15, engine.model.CATEGORIES).
SCORE_COLUMNS = (("overall", 7), ("visual", 6), ("audio", 6), ("text", 5))
TIER_WIDTH, CATEGORY_WIDTH = 9, 15
#: The clip column never gets narrower or wider than this; the top fix gets what is left beside the scores when
#: that is at least MIN_FIX_WIDTH, else it goes on indented lines below its row (80 columns: 16 + 56 fixed + 24).
MIN_CLIP_WIDTH, MAX_CLIP_WIDTH, MIN_FIX_WIDTH = 16, 48, 24
#: A long clip name gives way to the top fix down to the name's last characters before the fix gets narrower than
#: this: a 40-character line holds 5-7 words, so a typical 120-180-character fix takes 3-5 lines.
PREFERRED_FIX_WIDTH = 40
#: Used when the width cannot be read (not a terminal and no $COLUMNS): the classic 80-column terminal.
FALLBACK_COLUMNS = 80
#: Indent of a top fix printed below its row on a narrow terminal.
BELOW_INDENT = 4


class TableLayout:
    """Column widths for a terminal ``columns`` wide: the clip column fits the longest name shown (within
    ``MIN_CLIP_WIDTH``..``MAX_CLIP_WIDTH``), the top fix takes the rest and wraps on word boundaries under its
    own column (a hanging indent), or below the row on a narrow terminal, so no word is cut and no column
    overflows."""

    def __init__(self, columns: int | None = None, names: list[str] | None = None, *, ellipsis: str = "\u2026"):
        if columns is None:
            columns = shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
        self.columns = columns
        fixed = sum(w + 1 for _, w in SCORE_COLUMNS) + 2 + TIER_WIDTH + 1 + CATEGORY_WIDTH + 1
        longest = max((len(n) for n in names or ()), default=MIN_CLIP_WIDTH)
        #: Too narrow for the top fix beside the scores (under ~96 columns): it goes on the lines below the row.
        self.fix_below = columns < fixed + MIN_CLIP_WIDTH + MIN_FIX_WIDTH
        room = columns - fixed - (0 if self.fix_below else PREFERRED_FIX_WIDTH)
        self.clip_width = max(MIN_CLIP_WIDTH, min(longest, MAX_CLIP_WIDTH, room))
        self.fix_column = BELOW_INDENT if self.fix_below else self.clip_width + fixed
        self.fix_width = max(MIN_FIX_WIDTH, columns - self.fix_column - 1)
        self.ellipsis = ellipsis

    def clip(self, name: str) -> str:
        """``name`` cut to the clip column, keeping its end (the file name) and marking the cut."""
        if len(name) <= self.clip_width:
            return name
        return self.ellipsis + name[-(self.clip_width - len(self.ellipsis)):]

    def fix_lines(self, text: str) -> list[str]:
        """The top fix wrapped on word boundaries to the fix column (a word longer than the column is split)."""
        return textwrap.wrap(text, self.fix_width, break_on_hyphens=False) or [""]


def layout_for(out, names: list[str] | None = None) -> TableLayout:
    """The layout for stream ``out``: its terminal's width, and an ASCII ellipsis where it cannot print one."""
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    return TableLayout(names=names, ellipsis="\u2026" if encoding.startswith("utf") else "...")


def shown_path(path: str, cwd: str | None = None) -> str:
    """How a clip is named in the table: its path relative to the current folder when it lies below it, else the
    path with the home folder shortened to ``~``; so clips of different folders with one file name differ."""
    cwd = cwd or os.getcwd()
    try:
        absolute = os.path.abspath(path)
        rel = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive (Windows)
        rel = None
    if rel is not None and not rel.startswith(os.pardir + os.sep) and rel != os.pardir:
        return visible(rel)
    home = os.path.expanduser("~")
    if home not in ("", "~", os.sep) and absolute.startswith(home + os.sep):
        return visible("~" + absolute[len(home):])
    return visible(absolute)


def print_table_header(out, layout: TableLayout | None = None) -> None:
    layout = layout or layout_for(out)
    scores = " ".join(f"{name:>{w}}" for name, w in SCORE_COLUMNS)
    fix = "" if layout.fix_below else " top fix"
    out.write(f"{'clip':<{layout.clip_width}} {scores}  {'tier':<{TIER_WIDTH}} {'category':<{CATEGORY_WIDTH}}{fix}"
              .rstrip() + "\n")


def print_table_row(row: dict, out, layout: TableLayout | None = None) -> None:
    layout = layout or layout_for(out)
    name = layout.clip(shown_path(row["path"]))
    indent = " " * layout.fix_column
    if row["status"] != "ok":
        error = f"{visible(row['error_kind'])}: {visible(row['error_message'])}"
        prefix = f"{name:<{layout.clip_width}} {'error':>7}  "
        width = max(MIN_FIX_WIDTH, layout.columns - len(prefix) - 1)
        lines = textwrap.wrap(error, width, break_on_hyphens=False) or [""]
        out.write(prefix + lines[0] + "\n" + "".join(" " * len(prefix) + ln + "\n" for ln in lines[1:]))
        return
    scores = " ".join(f"{_fmt(row[key]):>{w}}" for key, w in SCORE_COLUMNS)
    head = (f"{name:<{layout.clip_width}} {scores}  {visible(row['tier'] or '-'):<{TIER_WIDTH}} "
            f"{visible(row['category'] or '-'):<{CATEGORY_WIDTH}}")
    lines = layout.fix_lines(visible(row["top_finding"] or "")) if row["top_finding"] else []
    if layout.fix_below:
        out.write(head.rstrip() + "\n")
    else:
        out.write(f"{head} {lines[0] if lines else ''}".rstrip() + "\n")
        lines = lines[1:]
    out.writelines(indent + ln + "\n" for ln in lines)


def check_writable_file(path, flag: str) -> None:
    """Raise OutputError (plain words, naming ``flag``) when a file cannot be written at ``path``: its folder is
    missing or not writable, or the path is a folder. Checked before the work, so no result is lost to it."""
    p = Path(path)
    shown = display_path(p)
    if p.is_dir():
        raise OutputError(f"{flag} {shown} is a folder; give a file name.")
    folder = p.parent
    if not folder.is_dir():
        raise OutputError(f"{flag} {shown}: the folder {display_path(folder)} does not exist.")
    if (p.exists() and not os.access(p, os.W_OK)) or (not p.exists() and not os.access(folder, os.W_OK | os.X_OK)):
        raise OutputError(f"{flag} {shown} cannot be written (permission denied).")


def write_csv(path, rows: list[dict], flag: str = "--csv", columns=CSV_COLUMNS) -> None:
    """Write the rows as UTF-8 CSV, each cell made safe for a spreadsheet (``textsafe.csv_cell``). A failure to
    write is an OutputError naming the file."""
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            w.writerows(csv_row(r) for r in rows)
    except OSError as exc:
        raise OutputError(f"{flag} {display_path(path)} could not be written: {exc.strerror or exc}.") from None
