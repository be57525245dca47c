"""Watching a folder: which new files are clips, and when a new file has settled (its size stopped changing).

A file is queued once
its size has stopped changing for ``SETTLE_S`` (a copy or a download in progress is not a clip yet); partial
download names (``.part``, ``.ytdl`` ...) are ignored, like ``byteme score`` does.
"""
from __future__ import annotations

import time
from pathlib import Path

from ..media import PARTIAL_SUFFIXES, VIDEO_EXTENSIONS

#: Seconds a new file's size must stay the same before it is queued.
SETTLE_S = 1.0


def is_clip(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in VIDEO_EXTENSIONS and suffix not in PARTIAL_SUFFIXES and not path.name.startswith(".")


def settled(path: Path) -> bool:
    try:
        before = path.stat().st_size
        time.sleep(SETTLE_S)
        return path.is_file() and path.stat().st_size == before and before > 0
    except OSError:
        return False
