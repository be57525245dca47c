"""The hidden partial folder (``to_dir/.byteme-partial``) and the files of the item being downloaded: what an
error or a cancel removes, so only complete, checked videos ever appear in the library folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .names import is_inside

#: Hidden folder inside the library folder that holds every partial or unchecked file.
PARTIAL_DIRNAME = ".byteme-partial"


@dataclass
class Item:
    """Files of the item being downloaded, for the result and for cleanup on errors."""

    video_id: str
    title: str | None
    temp_path: Path
    final_path: Path
    info_path: Path | None
    subtitle_paths: list[Path]
    preexisting: set[Path]
    done_path: Path | None = None
    done_info: Path | None = None
    done_subs: list[Path] = field(default_factory=list)


def remove_item_files(item: Item, partial_dir: Path, to_dir: Path) -> None:
    """Delete what an item left: its files in the partial folder, and the files it added to the library folder
    (never one that was there before it, never one outside ``to_dir``)."""
    stem = item.temp_path.name.rsplit(".", 1)[0]
    candidates: list[Path] = []
    if partial_dir.is_dir():
        candidates += [p for p in partial_dir.iterdir() if p.name.startswith(stem)]
    candidates += [p for p in (item.final_path, item.info_path, *item.subtitle_paths)
                   if p is not None and p not in item.preexisting]
    for path in candidates:
        try:
            if path.is_file() and is_inside(path, to_dir):
                path.unlink()
        except OSError:
            pass


def remove_if_empty(partial_dir: Path) -> None:
    """Remove the partial folder when nothing is left in it."""
    try:
        partial_dir.rmdir()  # only succeeds when empty
    except OSError:
        pass
