"""``byteme report PATH... --format html|md|csv|json``: engine.report over the clips (scored through the store)."""
from __future__ import annotations

import sys

from ..report import FORMATS, check_out, report_roots, write_report
from ..textsafe import display_path
from .common import config_for, model_for, no_clips, store_for
from .progress import RunProgress

NAME = "report"
HELP = "write an HTML, Markdown, CSV or JSON report of clips and the library"


def add_arguments(p) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files or folders (searched recursively)")
    p.add_argument("--format", choices=FORMATS, default="html", help="html (a folder), md, csv or json (JSON Lines)")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="where to write (default: byteme-report/ for html, byteme-report.FORMAT otherwise)")
    p.add_argument("--no-ocr", action="store_true", help="skip on-screen text recognition for clips not yet analysed")
    p.add_argument("--model", default=None, help="learned scorer to use (default from config; 'none' for targets only)")
    p.add_argument("--show-other-paths", action="store_true",
                   help="name near-duplicates in other folders of the store by their full path (by default a "
                        "report meant to be shared says only 'a clip in another folder')")


def run(args) -> int:
    from ..media import iter_clips
    from ..library import analyze

    out = args.out or ("byteme-report" if args.format == "html" else f"byteme-report.{args.format}")
    check_out(out, args.format)  # before scoring: not after an hour of work
    cfg = config_for(args)
    store = store_for(args)
    model = model_for(args, cfg)
    paths = list(iter_clips(args.paths))
    if not paths:
        return no_clips(args.paths)
    results = []
    with RunProgress(len(paths)) as progress:  # stderr: a bar on a terminal, a line per clip otherwise
        for p in paths:
            progress.starting(str(p))
            r = analyze(p, cfg, progress.clip_progress, store=store, model=model, options={"ocr": not args.no_ocr})
            results.append(r)
            progress.finished(r)
            if args.debug and r.traceback:
                sys.stderr.write(r.traceback)
    store.close()
    written = write_report(results, out, args.format, cfg, roots=report_roots(args.paths),
                           show_other_paths=args.show_other_paths)
    print(f"Report for {len(results)} clips: {display_path(written)}")
    return 0 if all(r.ok for r in results) else 1
