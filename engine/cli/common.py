"""What every command shares: exit codes, the common flags, and the services (config, store, model) read from
the parsed arguments. The services themselves live in ``engine.services``: nothing below the CLI imports it."""
from __future__ import annotations

import argparse
import sys

from .. import services
from ..textsafe import display_path, visible

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="a config.toml with your targets, used instead of your user config file (over the "
                   "shipped defaults; `byteme config` shows where each value came from)")
    p.add_argument("--preset", choices=None, help="platform preset: tiktok, reels or shorts")
    p.add_argument("--store", metavar="FILE", help="the SQLite store (default: $BYTEME_STORE or the user data dir)")
    p.add_argument("--reset-store", action="store_true",
                   help="when the store is damaged: keep it aside (renamed with the time) and start a fresh one")
    p.add_argument("--debug", action="store_true", help="print tracebacks for internal errors")


def config_for(args) -> dict:
    return services.active_config(getattr(args, "config", None), getattr(args, "preset", None))


def store_for(args):
    """The run's store; with ``--reset-store`` a damaged one is kept aside (and said where) and a fresh one made."""
    store = services.open_store(getattr(args, "store", None), reset_damaged=getattr(args, "reset_store", False))
    if store.moved_aside is not None:
        sys.stderr.write(f"byteme: the damaged store was kept as {display_path(store.moved_aside)}; a fresh store "
                         f"was started at {display_path(store.path)}.\n")
    return store


def store_path_for(args):
    """The store file the run uses (for messages): ``--store`` or the default."""
    from ..store import default_store_path

    given = getattr(args, "store", None)
    if given:
        return given
    try:
        return default_store_path()
    except OSError:
        return "the default store"


def model_for(args, cfg: dict):
    """The learned scorer named by --model or the config; None (config targets) when none is used. A --model that
    is missing or refused raises ``ModelError`` (exit 2: what the user asked for cannot be done); the config's
    model that cannot be used never stops scoring: the reason goes to stderr and the targets decide."""
    model, why = services.load_scorer(getattr(args, "model", None), cfg)
    if why:
        sys.stderr.write(f"byteme: {visible(why)}\n")
    return model


def no_clips(paths) -> int:
    sys.stderr.write("No video files found under: " + ", ".join(display_path(p) for p in paths) + "\n")
    return EXIT_FAILED
