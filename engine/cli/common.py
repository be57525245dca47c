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
    p.add_argument("--debug", action="store_true", help="print tracebacks for internal errors")


def config_for(args) -> dict:
    return services.active_config(getattr(args, "config", None), getattr(args, "preset", None))


def store_for(args):
    return services.open_store(getattr(args, "store", None))


def model_for(args, cfg: dict):
    """The learned scorer named by --model or the config; None (config targets) when none is used. A refused model
    never stops scoring: the reason goes to stderr and the targets decide."""
    model, why = services.load_scorer(getattr(args, "model", None), cfg)
    if why:
        sys.stderr.write(f"byteme: {visible(why)}\n")
    return model


def no_clips(paths) -> int:
    sys.stderr.write("No video files found under: " + ", ".join(display_path(p) for p in paths) + "\n")
    return EXIT_FAILED
