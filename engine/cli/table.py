"""The plain table ``byteme score`` and ``byteme results`` print, and the CSV rows of ``score --csv``."""
from __future__ import annotations

import csv
import os
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


def print_table_header(out) -> None:
    out.write(f"{'clip':<34} {'overall':>7} {'visual':>6} {'audio':>6} {'text':>5}  {'tier':<9} {'category':<14} top fix\n")


def print_table_row(row: dict, out) -> None:
    name = visible(os.path.basename(row["path"]) or row["path"])
    if len(name) > 34:
        name = name[:31] + "..."
    if row["status"] != "ok":
        out.write(f"{name:<34} {'error':>7}  {visible(row['error_kind'])}: {visible(row['error_message'])}\n")
        return
    top = visible(row["top_finding"] or "")
    out.write(
        f"{name:<34} {_fmt(row['overall']):>7} {_fmt(row['visual']):>6} {_fmt(row['audio']):>6} {_fmt(row['text']):>5}"
        f"  {visible(row['tier'] or '-'):<9} {visible(row['category'] or '-'):<14} {top}\n"
    )


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
