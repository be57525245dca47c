"""The `byteme` command. `score`, `results`, `fetch`, `train`, `eval` and `report` never import textual.

Exit codes: 0 every clip scored, 1 some clip failed, 2 usage error (argparse) or a bad config.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from . import __version__
from .errors import BytemeError, ConfigError
from .textsafe import display_path, visible

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
CSV_COLUMNS = ("path", "status", "error_kind", "error_message", "duration_s", "width", "height", "fps", "has_audio",
               "codec", "overall", "visual", "audio", "text", "tier", "category", "top_finding")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="a config.toml with your targets (default: the shipped one)")
    p.add_argument("--preset", choices=None, help="platform preset: tiktok, reels or shorts")
    p.add_argument("--store", metavar="FILE", help="the SQLite store (default: $BYTEME_STORE or the user data dir)")
    p.add_argument("--debug", action="store_true", help="print tracebacks for internal errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byteme",
        description="Judge short-form vertical video before it is posted. Without a command: the terminal app "
        "on the current folder.",
    )
    parser.add_argument("--version", action="version", version=f"byteme {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.command_names = sub.choices  # name -> sub-parser, filled as commands are added below

    p = sub.add_parser("score", help="score clips and folders; --json prints one JSON object per clip per line")
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files or folders (searched recursively)")
    p.add_argument("--json", action="store_true", help="JSON Lines on stdout (the contract in DESIGN.md)")
    p.add_argument("--csv", metavar="FILE", help="also write the rows as CSV to FILE")
    p.add_argument("--no-cache", action="store_true", help="decode and analyse again even when the store knows a clip")
    p.add_argument("--no-ocr", action="store_true", help="skip on-screen text recognition (the costly part)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="worker processes (default: in this process)")
    p.add_argument("--executor", choices=("local", "thread", "ray"), default=None, help="where jobs run with --workers")
    p.add_argument("--ray-address", default=None, help="with --executor ray: auto or HOST:PORT")
    p.add_argument("--model", default=None, help="learned scorer to use (default from config; 'none' for targets only)")
    _common(p)

    p = sub.add_parser("results", help="print what the store holds")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("tui", help="open the terminal app on a folder")
    p.add_argument("folder", nargs="?", default=".", help="the folder of clips (default: the current one)")
    _common(p)

    p = sub.add_parser("demo", help="write a folder of generated demo clips (some deliberately flawed)")
    p.add_argument("folder", nargs="?", default="demo")
    p.add_argument("--open", action="store_true", help="then open the terminal app on it")
    _common(p)

    p = sub.add_parser("config", help="print the active configuration and where it came from")
    p.add_argument("--path", action="store_true", help="print the user config file's path")
    _common(p)

    _optional_commands(sub)
    return parser


def _optional_commands(sub) -> None:
    """The commands that live in their own modules: each module declares its arguments and runs itself."""
    from . import ingest, report
    from .jobs import watch
    from .tiktok import command as tiktok_command
    from .train import labels as train_labels

    for name, help_text, add_arguments, run in (
        ("fetch", "download clips with yt-dlp into the library folder", ingest.add_fetch_arguments, ingest.run_fetch),
        ("train", "train a scorer on your own labels (CSV or clips with .info.json)",
         train_labels.add_train_arguments, train_labels.run_train),
        ("eval", "correlation of the scorers with your own labels, without training",
         train_labels.add_eval_arguments, train_labels.run_eval),
        ("watch", "queue new or changed clips in a folder as they appear, and score them",
         watch.add_watch_arguments, watch.run_watch),
        ("report", "write an HTML, Markdown, CSV or JSON report of clips and the library",
         report.add_report_arguments, report.run_report),
        (tiktok_command.NAME, tiktok_command.HELP, tiktok_command.add_arguments, tiktok_command.run),
    ):
        p = sub.add_parser(name, help=help_text)
        add_arguments(p)
        _common(p)
        p.set_defaults(run=run)


def _load_config(args):
    from .config import load_config

    return load_config(args.config, preset=args.preset)


def _open_store(args):
    from .store import Store

    return Store(args.store) if args.store else Store()


def table_row(r) -> dict:
    c = r.contract()
    s = c["scores"] or {}
    m = c["media"] or {}
    top = next((f for f in c["feedback"] if f["severity"] != "info"), None) or (c["feedback"][0] if c["feedback"] else None)
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
        "top_finding": top["message"] if top else None,
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


def cmd_score(args) -> int:
    from .media import iter_clips
    from .pipeline import analyze

    cfg = _load_config(args)
    if args.model not in (None, "", "none"):
        cfg.setdefault("scoring", {})["quality"] = "model"  # a model named on purpose decides quality too
    store = _open_store(args)
    model = load_model_for(args, cfg)
    paths = list(iter_clips(args.paths))
    if not paths:
        sys.stderr.write("No video files found under: " + ", ".join(display_path(p) for p in args.paths) + "\n")
        return EXIT_FAILED
    options = {"ocr": not args.no_ocr}
    results_iter = None
    if (args.workers and args.workers > 0) or args.executor:  # --executor alone: the queue, default workers
        try:
            from .jobs import run_paths  # the job queue (worker processes, Ray)
        except ImportError:
            run_paths = None
        if run_paths is not None:
            results_iter = run_paths(paths, cfg, store=store, workers=args.workers, executor=args.executor,
                                     ray_address=args.ray_address, use_cache=not args.no_cache, options=options,
                                     model_name=args.model)
    if results_iter is None:
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


def load_model_for(args, cfg):
    """The learned scorer named by --model or the config; None (config targets) when none is installed."""
    name = getattr(args, "model", None) or cfg.get("scoring", {}).get("model", "default")
    if name in (None, "", "none"):
        return None
    try:
        from .model import load_model_or_fallback
    except ImportError:
        return None
    model, why = load_model_or_fallback(name, cfg)
    if why:  # a refused model (stale features, changed file) never stops scoring: say why, use the targets
        sys.stderr.write(f"byteme: {visible(why)}\n")
    return model


def cmd_results(args) -> int:
    store = _open_store(args)
    results = store.latest_results()
    if args.json:
        for r in results:
            sys.stdout.write(json.dumps(r.contract(), ensure_ascii=True) + "\n")
    else:
        if not results:
            sys.stdout.write(f"The store at {display_path(store.path)} holds no results yet. Run `byteme score FOLDER`.\n")
        else:
            print_table_header(sys.stdout)
            for r in results:
                print_table_row(table_row(r), sys.stdout)
    store.close()
    return EXIT_OK


def cmd_config(args) -> int:
    from .config import redacted, user_config_path

    if args.path:
        print(user_config_path())
        return EXIT_OK
    cfg = _load_config(args)
    print("# sources, later ones override earlier: " + ", ".join(cfg.pop("_sources")))
    print(json.dumps(redacted(cfg), indent=2))
    return EXIT_OK


def cmd_demo(args) -> int:
    from .demo import make_demo_folder

    folder = Path(args.folder)
    print(f"Writing the demo clips into {display_path(folder)} (seconds each, once)...", flush=True)
    made = make_demo_folder(folder, progress=_demo_progress)
    print(f"Demo folder {display_path(folder)}: {len(made)} clips.")
    if args.open:
        args.folder = str(folder)
        return cmd_tui(args)
    return EXIT_OK


def _demo_progress(done: int, total: int, path: Path) -> None:
    print(f"  {done}/{total} {display_path(path.name)}", flush=True)


def cmd_tui(args) -> int:
    tui = getattr(args, "tui", None)
    if tui is None:
        sys.stderr.write("The terminal app opens from the `byteme` command (byteme_tui.launch); this entry point "
                         "runs the headless commands only.\n")
        return EXIT_USAGE
    return tui(Path(getattr(args, "folder", ".")), args) or EXIT_OK


COMMANDS = {"score": cmd_score, "results": cmd_results, "tui": cmd_tui, "demo": cmd_demo, "config": cmd_config}


def main(argv: list[str] | None = None, *, tui=None) -> int:
    """``tui``: the function that opens the terminal app, ``(folder, args) -> exit code``; the UI package passes
    it in (``byteme_tui.launch``), so the engine never imports the UI."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in parser.command_names and not argv[0].startswith("-") and os.path.exists(argv[0]):
        argv = ["tui", *argv]  # `byteme ~/clips` opens the app on that folder (a command's name wins)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["tui", *(argv or sys.argv[1:])])
    args.tui = tui
    run = getattr(args, "run", None) or COMMANDS[args.command]
    try:
        return run(args)
    except ConfigError as exc:
        sys.stderr.write(f"byteme: {visible(exc.message)}\n")
        return EXIT_USAGE
    except BytemeError as exc:
        sys.stderr.write(f"byteme: {visible(exc.message)}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("byteme: interrupted; finished results are kept in the store.\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
