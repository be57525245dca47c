"""``byteme tui [DIR]`` (and ``byteme DIR``): the terminal app, which the ``byteme`` entry point passes in."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import EXIT_OK, EXIT_USAGE

NAME = "tui"
HELP = "open the terminal app on a folder"


def add_arguments(p) -> None:
    p.add_argument("folder", nargs="?", default=".", help="the folder of clips (default: the current one)")


def run(args) -> int:
    tui = getattr(args, "tui", None)
    if tui is None:
        sys.stderr.write("The terminal app opens from the `byteme` command (byteme_tui.launch); this entry point "
                         "runs the headless commands only.\n")
        return EXIT_USAGE
    return tui(Path(getattr(args, "folder", ".")), args) or EXIT_OK
