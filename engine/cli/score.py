"""``byteme score PATH... [--json] [--csv FILE] [--workers N]``: one JSON object per clip (README, Headless)."""
from __future__ import annotations

import functools
import io
import json
import sys

from .common import EXIT_FAILED, EXIT_OK, config_for, model_for, no_clips, store_for
from .progress import RunProgress
from .table import (check_writable_file, layout_for, print_table_header, print_table_row, shown_path, table_row,
                    write_csv)

NAME = "score"
HELP = "score clips and folders; --json prints one JSON object per clip per line"


def add_arguments(p) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files or folders (searched recursively)")
    p.add_argument("--json", action="store_true", help="one JSON object per clip per line on stdout (keys: README, Headless; engine/result.py)")
    p.add_argument("--progressive", action="store_true",
                   help="with --json: lines with \"status\": \"provisional\" (and \"progress\" 0-1) before each "
                   "clip's final line, from what is known so far")
    p.add_argument("--csv", metavar="FILE", help="also write the rows as CSV to FILE")
    p.add_argument("--no-cache", action="store_true", help="decode and analyse again even when the store knows a clip")
    p.add_argument("--no-ocr", action="store_true", help="skip on-screen text recognition (the costly part)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="worker processes (default: in this process)")
    p.add_argument("--executor", choices=("local", "thread", "ray"), default=None, help="where jobs run with --workers")
    p.add_argument("--ray-address", default=None, help="with --executor ray: auto or HOST:PORT")
    p.add_argument("--model", default=None, help="learned scorer to use (default from config; 'none' for targets only)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress on stderr (by default: a bar on a terminal, a line per clip otherwise)")


def run(args) -> int:
    from ..media import iter_clips

    if args.csv:
        check_writable_file(args.csv, "--csv")  # before scoring: not after an hour of work
    cfg = config_for(args)
    if args.model not in (None, "", "none"):
        cfg.setdefault("scoring", {})["quality"] = "model"  # a model named on purpose decides quality too
    store = store_for(args)
    model = model_for(args, cfg)
    paths = list(iter_clips(args.paths))
    if not paths:
        return no_clips(args.paths)
    options = {"ocr": not args.no_ocr}
    out = sys.stdout
    progress = RunProgress(len(paths), interactive=False if args.quiet else None)
    if (args.workers and args.workers > 0) or args.executor:  # --executor alone: the queue, default workers
        from ..jobs import run_paths  # the job queue (worker processes, Ray)

        results_iter = run_paths(paths, cfg, store=store, workers=args.workers, executor=args.executor,
                                 ray_address=args.ray_address, use_cache=not args.no_cache, options=options,
                                 model_name=args.model, provisional=bool(args.progressive and args.json))
    else:
        provisional = None
        if args.progressive and args.json:
            def provisional(r) -> None:
                text = json.dumps(r.contract(), ensure_ascii=True) + "\n"
                write = functools.partial(_emit, out, text)
                write() if args.quiet else progress.interleave(write)
        results_iter = _in_process(paths, cfg, store, model, not args.no_cache, options, progress, provisional)
    failed = 0
    rows = []
    layout = None if args.json else layout_for(out, [shown_path(str(p)) for p in paths])
    if layout:
        print_table_header(out, layout)
    with progress:
        for r in results_iter:
            if r.status == "provisional":  # from the job queue's workers (in-process ones print themselves)
                if args.json:
                    text = json.dumps(r.contract(), ensure_ascii=True) + "\n"
                    write = functools.partial(_emit, out, text)
                    write() if args.quiet else progress.interleave(write)
                continue
            if r.status != "ok":
                failed += 1
            if args.json:
                text = json.dumps(r.contract(), ensure_ascii=True) + "\n"
            else:
                buf = io.StringIO()
                print_table_row(table_row(r), buf, layout)
                text = buf.getvalue()
            write = functools.partial(_emit, out, text)
            if args.quiet:
                write()
            else:
                progress.finished(r, write)
            if args.debug and r.traceback:
                sys.stderr.write(r.traceback)
            if args.csv:
                rows.append(table_row(r))
    store.close()
    if args.csv:
        write_csv(args.csv, rows, "--csv")
    return EXIT_FAILED if failed else EXIT_OK


def _emit(out, text: str) -> None:
    out.write(text)
    out.flush()


def _in_process(paths, cfg, store, model, use_cache, options, progress, provisional=None):
    """Each clip analysed here in turn, its analysis reported to ``progress`` as it goes (and its provisional
    verdicts to ``provisional``, when given)."""
    from ..library import analyze

    for p in paths:
        progress.starting(str(p))
        yield analyze(p, cfg, progress.clip_progress, store=store, model=model, use_cache=use_cache, options=options,
                      provisional=provisional)
