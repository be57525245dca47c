"""The plain table ``byteme score`` and ``byteme results`` print, and the CSV rows of ``score --csv``."""
from __future__ import annotations

import os

from ..textsafe import visible

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
        f"  {row['tier'] or '-':<9} {row['category'] or '-':<14} {top}\n"
    )
