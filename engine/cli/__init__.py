"""The `byteme` command: one module per command in this package; each declares ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> exit code``. Nothing in the engine imports this package: shared
services (config, store, model) live in ``engine.services``. ``score``, ``results``, ``fetch``, ``train``,
``eval`` and ``report`` never import textual.

Exit codes: 0 every clip scored, 1 some clip failed, 2 usage error (argparse) or a bad config.
"""
from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..errors import BytemeError, ConfigError
from ..textsafe import visible
from . import config, demo, evaluate, fetch, report, results, score, serve, tiktok, train, tui, watch
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_common_arguments

#: The commands, in the order ``byteme --help`` lists them.
COMMANDS = (score, results, tui, serve, demo, config, fetch, train, evaluate, watch, report, tiktok)


def build_parser() -> argparse.ArgumentParser:
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
    for command in COMMANDS:
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
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in parser.command_names and not argv[0].startswith("-") and os.path.exists(argv[0]):
        argv = ["tui", *argv]  # `byteme ~/clips` opens the app on that folder (a command's name wins)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["tui", *(argv or sys.argv[1:])])
    args.tui = tui
    args.serve = serve
    try:
        return args.run(args)
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


__all__ = ["COMMANDS", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]
