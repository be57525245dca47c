"""``byteme config [--path]``: the active configuration and where it came from."""
from __future__ import annotations

import json

from .common import EXIT_OK, config_for

NAME = "config"
HELP = "print the active configuration and where it came from"


def add_arguments(p) -> None:
    p.add_argument("--path", action="store_true", help="print the user config file's path")


def run(args) -> int:
    from ..config import redacted, user_config_path

    if args.path:
        print(user_config_path())
        return EXIT_OK
    cfg = config_for(args)
    print("# sources, later ones override earlier: " + ", ".join(cfg.pop("_sources")))
    print(json.dumps(redacted(cfg), indent=2))
    return EXIT_OK
