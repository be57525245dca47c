"""The `byteme` command: one module per command in this package; each declares ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> exit code``. Nothing in the engine imports this package: shared
services (config, store, model) live in ``engine.services``. ``score``, ``results``, ``fetch``, ``train``,
``eval`` and ``report`` never import textual.

Exit codes: 0 every clip scored, 1 some clip failed, 2 usage error (argparse), a bad config, or a model the
command was given (``--model``, ``--from``) that is missing or refused.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sqlite3
import sys
import traceback

from .. import __version__
from ..errors import BytemeError, ConfigError, ModelError, OutputError, StoreError
from ..textsafe import visible
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_common_arguments, store_path_for

#: The commands, in the order ``byteme --help`` lists them: (name, module of this package). A run imports only
#: the module of the command it was given (``byteme score`` does not import the TikTok client, the report's
#: templates, the watcher or the trainer's label readers: 0.35 s of 1.2 s of start-up at load average 11,
#: measured with ``python -X importtime -c "import engine.cli"``); ``COMMANDS`` and ``byteme --help`` import all.
COMMAND_MODULES = (("score", "score"), ("results", "results"), ("tui", "tui"), ("serve", "serve"), ("demo", "demo"),
                   ("config", "config"), ("fetch", "fetch"), ("train", "train"), ("eval", "evaluate"),
                   ("watch", "watch"), ("report", "report"), ("tiktok", "tiktok"))


def _command(module: str):
    return importlib.import_module(f"{__name__}.{module}")


def __getattr__(name: str):
    if name == "COMMANDS":  # every command module, in --help order
        return tuple(_command(m) for _, m in COMMAND_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``byteme`` parser with every command; with ``only`` (a command's name), with that command alone (what a
    run given that command needs, without importing the others)."""
    parser = argparse.ArgumentParser(
        prog="byteme",
        usage="%(prog)s [-h] [--version] [DIR | COMMAND ...]",
        description="Judge short-form vertical video before it is posted. Without a command: the terminal app "
        "on the current folder; `byteme DIR` opens it on DIR (as `byteme tui DIR` does).",
        epilog="Examples: byteme ~/clips (the app); byteme serve ~/clips (the app in a browser); byteme score "
        "clips/ --json > scores.jsonl; byteme report clips/ --out report/. `byteme COMMAND --help` for each.",
    )
    parser.add_argument("--version", action="version", version=f"byteme {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMAND_MODULES:
        if only is not None and name != only:
            continue
        command = _command(module)
        p = sub.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(p)
        add_common_arguments(p)
        p.set_defaults(run=command.run)
    parser.command_names = sub.choices  # name -> sub-parser
    return parser


def main(argv: list[str] | None = None, *, tui=None, serve=None) -> int:
    """``tui``: the function that opens the terminal app, ``(folder, args) -> exit code``; ``serve``: the one that
    serves it in a browser, same signature. The UI package passes them in (``byteme_tui.launch``), so the engine
    never imports the UI, Textual or Rich."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in dict(COMMAND_MODULES) else None)
    if argv and argv[0] not in parser.command_names and not argv[0].startswith("-") and os.path.exists(argv[0]):
        argv = ["tui", *argv]  # `byteme ~/clips` opens the app on that folder (a command's name wins)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["tui", *(argv or sys.argv[1:])])
    args.tui = tui
    args.serve = serve
    try:
        return args.run(args)
    except (ConfigError, StoreError, OutputError, ModelError) as exc:  # nothing could start, or an asked-for output or model failed
        _debug_traceback(args)
        sys.stderr.write(f"byteme: {visible(exc.message)}\n")
        return EXIT_USAGE
    except BytemeError as exc:
        _debug_traceback(args)
        sys.stderr.write(f"byteme: {visible(exc.message)}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("byteme: interrupted; finished results are kept in the store.\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except sqlite3.Error as exc:  # the store failed after it was opened (damaged pages, a full disk)
        from ..store import store_error

        _debug_traceback(args)
        sys.stderr.write(f"byteme: {visible(store_error(store_path_for(args), exc).message)}\n")
        return EXIT_USAGE
    except OSError as exc:  # a file or folder the run needed: said with its name, never as a traceback
        _debug_traceback(args)
        name = f" {visible(os.fsdecode(exc.filename))}" if exc.filename is not None else ""
        hint = " (the disk is full)" if exc.errno == errno.ENOSPC else ""
        sys.stderr.write(f"byteme: {visible(exc.strerror or exc)}{':' if name else ''}{name}{hint}.\n")
        return EXIT_FAILED


#: The exit status of a run stopped with Ctrl-C (128 + SIGINT, the shell's convention).
EXIT_INTERRUPTED = 130


def exit_process(code: int) -> None:
    """End the process with ``code``. After a Ctrl-C, a thread may still be inside native code (a decoder, OCR)
    after its grace time: interpreter shutdown would then abort in that library's destructors ("terminate called
    without an active exception", exit 134), so the process ends with ``os._exit`` once its output is flushed."""
    import threading

    if code == EXIT_INTERRUPTED and any(t.is_alive() for t in threading.enumerate()
                                        if t is not threading.main_thread()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


def _debug_traceback(args) -> None:
    if getattr(args, "debug", False):
        traceback.print_exc()


__all__ = ["COMMANDS", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "exit_process",
           "main"]
