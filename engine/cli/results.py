"""``byteme results [--json]``: what the store already knows."""
from __future__ import annotations

import json
import sys

from ..textsafe import display_path
from .common import EXIT_OK, store_for
from .table import layout_for, print_table_header, print_table_row, shown_path, table_row

NAME = "results"
HELP = "print what the store holds: the newest result of each clip, named relative to the current folder"


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per clip per line on stdout, the `byteme score --json` shape "
                   "(keys: README, Headless)")


def run(args) -> int:
    from ..store import path_from_key

    store = store_for(args)
    results = store.latest_results()
    for r in results:  # the file's own name (a name that is not UTF-8 is kept as \xNN text in the store)
        r.path = str(path_from_key(r.path))
    if args.json:
        for r in results:
            sys.stdout.write(json.dumps(r.contract(), ensure_ascii=True) + "\n")
    elif not results:
        sys.stdout.write(f"The store at {display_path(store.path)} holds no results yet. Run `byteme score FOLDER`.\n")
    else:
        layout = layout_for(sys.stdout, [shown_path(r.path) for r in results])
        print_table_header(sys.stdout, layout)
        for r in results:
            print_table_row(table_row(r), sys.stdout, layout)
    store.close()
    return EXIT_OK
