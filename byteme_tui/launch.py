"""The `byteme` command: the engine's CLI with the terminal app passed in, so that ``engine`` never imports the UI.

``byteme score|results|fetch|train|eval|report`` run exactly as ``python -m engine.cli`` does (Textual is never
imported for them); ``byteme`` alone, ``byteme tui DIR`` and ``byteme demo --open`` open the app; ``byteme serve DIR`` serves it in a
browser.
"""
from __future__ import annotations

from pathlib import Path


def run_tui(folder: Path, args) -> int:
    from .app import run_app  # Textual is imported only here, when the app really opens

    return run_app(folder, args)


def run_serve(folder: Path, args) -> int:
    from .serve import run_serve as serve  # textual-serve (and Rich) only when a browser session is served

    return serve(folder, args)


def main(argv: list[str] | None = None) -> int:
    from engine.cli import main as engine_main

    return engine_main(argv, tui=run_tui, serve=run_serve)


if __name__ == "__main__":
    raise SystemExit(main())
