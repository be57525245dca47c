"""``byteme score PATH... [--json] [--csv FILE] [--workers N]``: one JSON object per clip (README, Headless)."""
from __future__ import annotations

import csv
import json
import sys

from .common import EXIT_FAILED, EXIT_OK, config_for, model_for, no_clips, store_for
from .table import CSV_COLUMNS, print_table_header, print_table_row, table_row

NAME = "score"
HELP = "score clips and folders; --json prints one JSON object per clip per line"


def add_arguments(p) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files or folders (searched recursively)")
    p.add_argument("--json", action="store_true", help="one JSON object per clip per line on stdout (keys: README, Headless; engine/result.py)")
    p.add_argument("--csv", metavar="FILE", help="also write the rows as CSV to FILE")
    p.add_argument("--no-cache", action="store_true", help="decode and analyse again even when the store knows a clip")
    p.add_argument("--no-ocr", action="store_true", help="skip on-screen text recognition (the costly part)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="worker processes (default: in this process)")
    p.add_argument("--executor", choices=("local", "thread", "ray"), default=None, help="where jobs run with --workers")
    p.add_argument("--ray-address", default=None, help="with --executor ray: auto or HOST:PORT")
    p.add_argument("--model", default=None, help="learned scorer to use (default from config; 'none' for targets only)")


def run(args) -> int:
    from ..media import iter_clips
    from ..library import analyze

    cfg = config_for(args)
    if args.model not in (None, "", "none"):
        cfg.setdefault("scoring", {})["quality"] = "model"  # a model named on purpose decides quality too
    store = store_for(args)
    model = model_for(args, cfg)
    paths = list(iter_clips(args.paths))
    if not paths:
        return no_clips(args.paths)
    options = {"ocr": not args.no_ocr}
    if (args.workers and args.workers > 0) or args.executor:  # --executor alone: the queue, default workers
        from ..jobs import run_paths  # the job queue (worker processes, Ray)

        results_iter = run_paths(paths, cfg, store=store, workers=args.workers, executor=args.executor,
                                 ray_address=args.ray_address, use_cache=not args.no_cache, options=options,
                                 model_name=args.model)
    else:
        results_iter = (analyze(p, cfg, store=store, model=model, use_cache=not args.no_cache, options=options)
                        for p in paths)
    failed = 0
    rows = []
    out = sys.stdout
    if not args.json:
        print_table_header(out)
    for r in results_iter:
        if r.status != "ok":
            failed += 1
        if args.json:
            out.write(json.dumps(r.contract(), ensure_ascii=True) + "\n")
        else:
            print_table_row(table_row(r), out)
        out.flush()
        if args.debug and r.traceback:
            sys.stderr.write(r.traceback)
        if args.csv:
            rows.append(table_row(r))
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            w.writeheader()
            w.writerows(rows)
    store.close()
    return EXIT_FAILED if failed else EXIT_OK
