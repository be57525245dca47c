"""``byteme serve [DIR] [--port N] [--host H]``: the terminal app in a web browser (textual-serve).

The server runs one ``byteme tui DIR`` process per browser tab. textual-serve imports Rich (and launches Textual),
so, like ``tui``, the function that serves is passed in by the ``byteme`` entry point (``byteme_tui.launch``):
the engine never imports either. This module owns the arguments and the safety rule: the app reads and scores
the folder and the store with no password, so it listens on this machine only (127.0.0.1) unless
``--allow-remote`` is given, and then it says what that means.
"""
from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from ..textsafe import display_path, visible
from .common import EXIT_OK, EXIT_USAGE

NAME = "serve"
HELP = "the terminal app in a web browser, on this machine only unless --allow-remote (textual-serve)"

#: textual-serve's own default port.
DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
REMOTE_WARNING = ("byteme: WARNING: serving on {host}:{port}, reachable from other machines. There is no password "
                  "and no encryption: anyone who can reach this address can browse {folder}, score clips, export "
                  "reports into it and change the queue. Use it only on a network you trust, or keep the default "
                  "(127.0.0.1) and forward the port over SSH: ssh -L {port}:127.0.0.1:{port} THIS_MACHINE\n")


def add_arguments(p) -> None:
    p.add_argument("folder", nargs="?", default=".", help="the folder of clips (default: the current one)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                   help=f"the port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--host", default=DEFAULT_HOST, metavar="H",
                   help="the address to listen on (default 127.0.0.1: this machine only); another address needs "
                        "--allow-remote")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow --host to be an address other machines can reach (no password: prints a warning)")
    p.add_argument("--public-url", metavar="URL", default=None,
                   help="the address browsers use to reach the server, when it differs from http://HOST:PORT "
                        "(a proxy, a host name)")


def is_local(host: str) -> bool:
    """True for a loopback address or ``localhost``: only this machine can connect."""
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check(args) -> str | None:
    """Why the arguments cannot be served (plain words), or None."""
    if not 0 < args.port < 65536:
        return f"--port must be 1-65535 (got {args.port})."
    if not Path(args.folder).expanduser().is_dir():
        return f"{display_path(args.folder)} is not a folder."
    if not is_local(args.host) and not args.allow_remote:
        return (f"--host {visible(args.host)} would let other machines reach the app, which has no password. Add "
                "--allow-remote if that is what you want, or keep the default 127.0.0.1 and forward the port "
                "over SSH (ssh -L PORT:127.0.0.1:PORT).")
    return None


def run(args) -> int:
    serve = getattr(args, "serve", None)
    if serve is None:
        sys.stderr.write("The app is served from the `byteme` command (byteme_tui.launch); this entry point runs "
                         "the headless commands only.\n")
        return EXIT_USAGE
    why = check(args)
    if why:
        sys.stderr.write(f"byteme: {why}\n")
        return EXIT_USAGE
    folder = Path(args.folder).expanduser().resolve()
    if not is_local(args.host):
        sys.stderr.write(REMOTE_WARNING.format(host=visible(args.host), port=args.port, folder=display_path(folder)))
    return serve(folder, args) or EXIT_OK
