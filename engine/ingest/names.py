"""The names downloaded files get: yt-dlp's output template over the sanitised title and id, never a hidden name,
subtitle languages and formats checked before they become parts of a name, and every path inside the library.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

#: File name template: sanitised title and id (yt-dlp sanitises each field; restrictfilenames keeps them
#: ASCII without spaces or "&"). Byte limits keep names well under the 255-byte limit of common file systems.
OUTPUT_TEMPLATE = "%(title).80B-%(id).60B.%(ext)s"
TRIM_FILE_NAME_CHARS = 180

#: Subtitle languages and formats accepted as parts of a file name.
SAFE_SUB_LANG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
SAFE_SUB_EXTS = {"vtt", "srt", "ass", "ssa", "ttml", "dfxp", "srv1", "srv2", "srv3", "json3", "sbv", "lrc"}


#: What replaces a file name left empty or starting with "-" once its leading dots are gone.
VISIBLE_NAME_PREFIX = "clip"


def visible_file_name(path: str) -> str:
    """``path`` with its file name's leading dots (and spaces) removed, so the file is never hidden; a name left
    empty or starting with "-" (a command-line option's look) gets ``VISIBLE_NAME_PREFIX`` in front."""
    folder, name = os.path.split(path)
    if not name.startswith((".", " ")):
        return path
    stripped = name.lstrip(". ")
    if not stripped or stripped.startswith("-"):
        stripped = VISIBLE_NAME_PREFIX + stripped
    elif "." not in stripped:  # the name was only dots and an extension (".mp4"): keep the extension
        stripped = f"{VISIBLE_NAME_PREFIX}.{stripped}"
    name = stripped
    return os.path.join(folder, name)


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies inside ``folder`` once both are resolved (links followed); False when unresolvable."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(folder)))
    except (OSError, ValueError):
        return False
