"""The app in a web browser: textual-serve runs ``byteme tui DIR`` once per browser tab and streams it to the page
(xterm.js). ``engine.cli.serve`` checks the arguments and the address; this module is the part that imports
textual-serve (which imports Rich), so the engine never does.
"""
from __future__ import annotations

import re
import shlex
import socket
import sys
from pathlib import Path

#: textual-serve's page loads the Roboto Mono font from Google Fonts. BYTEME works offline and tells no third party
#: what you open, so the page uses the copy of the font textual-serve ships in its static folder instead.
GOOGLE_FONTS_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="https://fonts\.googleapis\.com/[^"]*"\s*/?>')
LOCAL_FONT = ("<style>@font-face{font-family:'Roboto Mono';font-weight:100 700;"
              "src:url('{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf') format('truetype')}</style>")
#: The page template textual-serve renders.
INDEX_TEMPLATE = "app_index.html"


def app_command(folder: Path, args) -> str:
    """The shell command textual-serve runs per browser session: this Python, the app on ``folder``, and the
    config, preset and store the server was started with."""
    argv = [sys.executable, "-m", "byteme_tui.launch", "tui", str(folder)]
    for flag in ("config", "preset", "store"):
        value = getattr(args, flag, None)
        if value:
            argv += [f"--{flag}", str(Path(value).expanduser().resolve()) if flag != "preset" else str(value)]
    return shlex.join(argv)


def offline_page(template: str) -> str:
    """textual-serve's page with the Google Fonts link replaced by the bundled font."""
    return GOOGLE_FONTS_LINK.sub(LOCAL_FONT, template)


def make_server(folder: Path, args):
    """A textual-serve ``Server`` for the app on ``folder`` at ``args.host``/``args.port``."""
    import aiohttp_jinja2
    import jinja2
    from textual_serve.server import Server

    class OfflineServer(Server):
        async def _make_app(self):
            app = await super()._make_app()
            page = (Path(self.templates_path) / INDEX_TEMPLATE).read_text(encoding="utf-8")
            aiohttp_jinja2.setup(app, loader=jinja2.DictLoader({INDEX_TEMPLATE: offline_page(page)}))
            return app

    return OfflineServer(app_command(folder, args), host=args.host, port=args.port,
                         title=f"BYTEME: {folder.name or folder}", public_url=public_url(args))


def public_url(args) -> str | None:
    """The address the page tells the browser to connect back to. textual-serve builds ``http://HOST:PORT``, which
    is wrong for a wildcard bind (a browser elsewhere cannot reach 0.0.0.0: this machine's name is used) and for an
    IPv6 address (it needs brackets). None: textual-serve's own."""
    if getattr(args, "public_url", None):
        return args.public_url.rstrip("/")
    host = args.host.strip("[]")
    if host in ("0.0.0.0", "::", ""):
        return f"http://{socket.getfqdn()}:{args.port}"
    if ":" in host:
        return f"http://[{host}]:{args.port}"
    return None


def run_serve(folder: Path, args) -> int:
    server = make_server(folder, args)
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        sys.stderr.write(f"byteme: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. Another "
                         "program may use the port: try --port N.\n")
        return 1
    return 0
