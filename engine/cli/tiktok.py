"""``byteme tiktok login|logout|sync``: the creator's own TikTok account.

Exit codes: 0 done; 1 partly done (some pages or downloads failed, TikTok not told of a logout); 2 usage or
sign-in error (no client key, not signed in, sign-in declined/expired/revoked, a missing permission).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import sys
import threading
import webbrowser
from pathlib import Path

from ..errors import ConfigError
from ..textsafe import display_path, visible
from ..tiktok import TikTokAuthError, TikTokError, scrub
from ..tiktok.auth import (LOGIN_TIMEOUT_S, SCOPES, STATE_BYTES, RedirectListener, TokenKeeper, authorize_url,
                   delete_token, exchange_code, load_token, pkce_pair, require_client, revoke, save_token,
                   settings_from)
from ..tiktok.client import DEFAULT_TIMEOUT_S, TikTokClient, Transport

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
#: The command's name and help, as every command module declares them.
NAME = "tiktok"
HELP = "your own TikTok account: login, logout, sync your videos' numbers"


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return v


def _shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-base", default=argparse.SUPPRESS, metavar="URL",
                   help="TikTok API base address (default https://open.tiktokapis.com, or [tiktok] api_base)")
    # the common options also after the action (`byteme tiktok sync --config X`); SUPPRESS keeps the value given
    # before it (`byteme tiktok --config X sync`)
    p.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help="a config.toml")
    p.add_argument("--preset", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--store", default=argparse.SUPPRESS, metavar="FILE", help="the SQLite store")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``byteme tiktok ACTION``: login [--no-browser] [--timeout S], logout, sync [--to DIR] [--download]
    [--known] [--json] [--timeout S]."""
    parser.add_argument("--api-base", default=None, metavar="URL", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="tiktok_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("login", help="sign in to your TikTok account (opens TikTok's page; tokens stay local)")
    p.add_argument("--no-browser", action="store_true",
                   help="only print the address (over SSH): open it on any device, then paste the address it "
                        "ends on here, or forward the port")
    p.add_argument("--timeout", type=_positive_float, default=LOGIN_TIMEOUT_S, metavar="S",
                   help=f"seconds to wait for the sign-in (default {LOGIN_TIMEOUT_S:g})")
    _shared(p)
    p = sub.add_parser("logout", help="remove the saved sign-in and ask TikTok to revoke it")
    p.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"seconds per request (default {DEFAULT_TIMEOUT_S:g})")
    _shared(p)
    p = sub.add_parser("sync", help="read every video's views, likes, comments and shares into the store")
    p.add_argument("--to", dest="to_dir", type=Path, default=Path("."), metavar="DIR",
                   help="library folder whose clips are matched by TikTok id (default: the current folder)")
    p.add_argument("--download", action="store_true",
                   help="download videos that have no local clip into DIR (yt-dlp, from their share address)")
    p.add_argument("--known", action="store_true",
                   help="only refresh the videos the store already knows (by id), without paging the whole list")
    p.add_argument("--json", action="store_true", help="one JSON object per video per line on stdout")
    p.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"seconds per request (default {DEFAULT_TIMEOUT_S:g})")
    _shared(p)


def run(args) -> int:
    hidden: list = []
    try:
        from ..config import load_config

        cfg = load_config(getattr(args, "config", None), preset=getattr(args, "preset", None))
        settings = settings_from(cfg, api_base=getattr(args, "api_base", None))
        hidden.extend(settings.secrets())
        action = {"login": _login, "logout": _logout, "sync": _sync}[args.tiktok_command]
        return action(args, settings, hidden)
    except ConfigError as exc:
        _err(exc.message, hidden)
        return EXIT_USAGE
    except TikTokAuthError as exc:
        _err(exc.message, hidden)
        return EXIT_USAGE
    except TikTokError as exc:
        _err(exc.message, hidden)
        return EXIT_PARTIAL
    except OSError as exc:  # the token file or the library folder cannot be written
        where = f" ({display_path(exc.filename)})" if exc.filename else ""
        _err(f"{exc.strerror or exc}{where}.", hidden)
        return EXIT_PARTIAL
    except sqlite3.Error as exc:
        _err(f"The store could not be used: {exc}.", hidden)
        return EXIT_PARTIAL


def _err(message: str, hidden: list) -> None:
    sys.stderr.write(f"byteme tiktok: {visible(scrub(message, hidden))}\n")


# --- login ---------------------------------------------------------------------------------------

def open_browser(url: str) -> bool:
    """Open ``url`` in a graphical browser when there is one. Over SSH (no display) nothing is started: Python's
    webbrowser would otherwise run a text browser such as lynx in this terminal, where TikTok's page cannot work."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        return bool(webbrowser.open(url, new=2))
    except webbrowser.Error:
        return False


def _paste_reader(listener: RedirectListener, stream) -> None:
    """For a browser on another machine: the address it ends on (127.0.0.1:PORT/callback/?code=...), pasted."""
    for line in iter(stream.readline, ""):
        if not line.strip():
            continue
        if listener.deliver_pasted(line) is None:
            sys.stderr.write("That is not the address of this sign-in (its state does not match); paste the whole "
                             "address the browser ended on.\n")
        else:
            return


def _login(args, settings, hidden) -> int:
    require_client(settings)
    state = secrets.token_urlsafe(STATE_BYTES)
    verifier, challenge = pkce_pair()
    hidden.append(verifier)
    listener = RedirectListener(state, port=settings.redirect_port)
    try:
        url = authorize_url(settings, redirect_uri=listener.redirect_uri, state=state, challenge=challenge)
        print("Open this address in a browser and allow BYTEME to read your profile and your videos' numbers:")
        print(f"  {url}", flush=True)
        opened = False if args.no_browser else open_browser(url)
        if opened:
            sys.stderr.write("Opened it in your browser. Waiting for TikTok to send you back...\n")
        else:
            if not args.no_browser:
                sys.stderr.write("No graphical browser here (over SSH?), so open the address on any device.\n")
            sys.stderr.write(
                f"TikTok then sends the browser to {listener.redirect_uri}?code=...: on this machine that finishes "
                f"the sign-in. From another device, either forward the port first (ssh -L {listener.port}:127.0.0.1:"
                f"{listener.port} THIS-HOST) or copy the address the browser ends on (the page will not load) and "
                f"paste it here. Waiting up to {args.timeout:g} s...\n")
            if args.no_browser and sys.stdin is not None and sys.stdin.isatty():
                threading.Thread(target=_paste_reader, args=(listener, sys.stdin), daemon=True,
                                 name="tiktok-paste").start()
        code = listener.wait(args.timeout)
        hidden.append(code)
    finally:
        listener.close()
    transport = Transport(timeout_s=DEFAULT_TIMEOUT_S, secrets=lambda: hidden)
    token = exchange_code(transport, settings, code=code, verifier=verifier, redirect_uri=listener.redirect_uri)
    hidden.extend(token.secrets())
    save_token(settings.token_file, token)
    name = ""
    try:
        keeper = TokenKeeper(settings, transport)
        name = TikTokClient(keeper, transport, settings.api_base).user_info().get("display_name") or ""
    except TikTokError:
        pass  # the sign-in worked; the name is only a courtesy
    who = f" as {visible(name)}" if isinstance(name, str) and name else ""
    print(f"Signed in to TikTok{who}. The tokens are in {display_path(settings.token_file)} (readable only by you); "
          "`byteme tiktok logout` removes them.")
    missing = [s for s in SCOPES if token.scope and s not in token.scopes()]
    if missing:
        sys.stderr.write(f"byteme tiktok: TikTok did not grant {', '.join(missing)}; sync needs it. Run "
                         "`byteme tiktok login` again and leave every permission ticked.\n")
        return EXIT_PARTIAL
    return EXIT_OK


# --- logout --------------------------------------------------------------------------------------

def _logout(args, settings, hidden) -> int:
    path = settings.token_file
    token = load_token(path)
    if token is None:
        print(f"Not signed in to TikTok (no {display_path(path)}).")
        return EXIT_OK
    hidden.extend(token.secrets())
    problem = None
    if token.api_base.rstrip("/") != settings.api_base:
        problem = f"the tokens were issued by {visible(token.api_base)}, not {visible(settings.api_base)}"
    elif not (settings.client_key and settings.client_secret):
        problem = "no client key and secret are configured to ask with"
    else:
        try:
            revoke(Transport(timeout_s=args.timeout, secrets=lambda: hidden), settings, token)
        except TikTokError as exc:
            problem = visible(scrub(exc.message, hidden))
    delete_token(path)
    print(f"Signed out of TikTok: removed {display_path(path)}.")
    if problem:
        sys.stderr.write(f"byteme tiktok: TikTok was not asked to revoke the access ({problem}). To cut it off, "
                         "remove the app in the TikTok app: Settings and privacy > Security and permissions > "
                         "Apps and services (menu names vary a little between app versions).\n")
        return EXIT_PARTIAL
    return EXIT_OK


# --- sync ----------------------------------------------------------------------------------------

def _sync(args, settings, hidden) -> int:
    from ..store import Store
    from ..tiktok.sync import SOURCE, like_rate, refresh_known, short_count, sync

    transport = Transport(timeout_s=args.timeout, secrets=lambda: hidden)
    keeper = TokenKeeper(settings, transport, warn=lambda s: sys.stderr.write(f"byteme tiktok: {s}\n"))
    hidden.extend(keeper.token.secrets())
    transport.secrets = lambda: [*hidden, *keeper.secrets()]  # the current tokens, also after a refresh
    client = TikTokClient(keeper, transport, settings.api_base)
    store = Store(getattr(args, "store", None)) if getattr(args, "store", None) else Store()
    out = sys.stdout

    def on_video(r: dict) -> None:
        from ..tiktok.sync import json_line

        if args.json:
            out.write(json.dumps(json_line(r), ensure_ascii=True) + "\n")
        else:
            rate = like_rate(r)
            title = visible((r.get("title") or "").replace("\n", " "))
            if len(title) > 48:
                title = title[:47] + "…"
            where = f"  → {display_path(r['path'])}" if r.get("path") else ""
            out.write(f"{visible(r['video_id']):<20} {short_count(r.get('view_count')):>7} views "
                      f"{(f'{100 * rate:.1f}%' if rate is not None else '-'):>6} likes  {title}{where}\n")
        out.flush()

    try:
        if args.known:
            outcome = refresh_known(client, store, on_video=on_video)
        else:
            fetch = None
            if args.download:
                from ..ingest import fetch  # yt-dlp only when a download is asked for
            outcome = sync(client, store, to_dir=args.to_dir, download=args.download, fetch=fetch,
                           on_video=on_video, log=lambda s: sys.stderr.write(s + "\n"))
        count = len(store.latest_readings(SOURCE))
    finally:
        store.close()
    hidden.extend(keeper.secrets())
    for p in outcome.problems:
        sys.stderr.write(f"byteme tiktok: {visible(scrub(p, hidden))}\n")
    matched = sum(1 for v in outcome.videos if v["path"])
    who = outcome.user.get("display_name")
    where = "" if args.known else f" under {display_path(args.to_dir)}"
    summary = (f"Read {len(outcome.videos)} video(s){' of ' + visible(who) if who else ''}; {matched} matched to a "
               f"local clip{where}; the store now knows {count}.")
    if matched and not args.known:
        summary += f" `byteme train {display_path(args.to_dir)} --target like_rate` learns from them."
    elif not matched and outcome.videos and not args.known:
        summary += (" Clips match by TikTok id (yt-dlp's .info.json or sync's .tiktok.json): give --to the folder "
                    "of your clips, or --download to fetch them.")
    summary += "\n"
    (sys.stderr if args.json else sys.stdout).write(summary)
    return EXIT_OK if outcome.complete else EXIT_PARTIAL
