"""The `byteme` command: the engine's CLI with the terminal app passed in, so that ``engine`` never imports the UI.

``byteme score|results|fetch|train|eval|report`` run exactly as ``python -m engine.cli`` does (Textual is never
imported for them); ``byteme`` alone, ``byteme tui DIR`` and ``byteme demo --open`` open the app; ``byteme serve DIR`` serves it in a
browser.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


#: Exit status when the app cannot open (no terminal): the usage-error status of every byteme command.
EXIT_NO_TERMINAL = 2


def run_tui(folder: Path, args, *, stdin=None, stdout=None) -> int:
    """Open the app on ``folder``; without a terminal on both stdin and stdout (a pipe, a cron job) say so in plain
    words and return 2, before Textual writes a single escape code or waits for keys that never come. A browser
    session started by ``byteme serve`` (textual-serve sets Textual's web driver) needs no terminal."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    served = "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")  # a browser session of `byteme serve`: no terminal
    if not served and not (_is_tty(stdin) and _is_tty(stdout)):
        which = " and ".join(n for n, f in (("input", stdin), ("output", stdout)) if not _is_tty(f))
        sys.stderr.write(f"byteme: the terminal app needs a terminal, and its {which} is not one (a pipe or a "
                         "file). Use `byteme score DIR --json` or `byteme results` for output you can pipe.\n")
        return EXIT_NO_TERMINAL
    from .app import run_app  # Textual is imported only here, when the app really opens

    return run_app(folder, args)


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or not a real stream
        return False


def run_serve(folder: Path, args) -> int:
    from .serve import run_serve as serve  # textual-serve (and Rich) only when a browser session is served

    return serve(folder, args)


def main(argv: list[str] | None = None) -> int:
    from engine.cli import main as engine_main

    return engine_main(argv, tui=run_tui, serve=run_serve)


def entry() -> None:
    """The ``byteme`` console script: ``main`` and a clean end of the process (``engine.cli.exit_process``)."""
    from engine.cli import exit_process

    exit_process(main())


if __name__ == "__main__":
    entry()
