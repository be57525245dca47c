"""``byteme demo [DIR] [--open]``: the generated demo folder."""
from __future__ import annotations

from pathlib import Path

from ..textsafe import display_path
from . import tui
from .common import EXIT_OK

NAME = "demo"
HELP = "write a folder of generated demo clips (some deliberately flawed)"


def add_arguments(p) -> None:
    p.add_argument("folder", nargs="?", default="demo", help="where to write the demo clips (default: ./demo)")
    p.add_argument("--open", action="store_true", help="then open the terminal app on it")


def run(args) -> int:
    from ..demo import make_demo_folder

    folder = Path(args.folder)
    print(f"Writing the demo clips into {display_path(folder)} (seconds each, once)...", flush=True)
    made = make_demo_folder(folder, progress=_progress)
    print(f"Demo folder {display_path(folder)}: {len(made)} clips.")
    if args.open:
        args.folder = str(folder)
        return tui.run(args)
    return EXIT_OK


def _progress(done: int, total: int, path: Path) -> None:
    print(f"  {done}/{total} {display_path(path.name)}", flush=True)
