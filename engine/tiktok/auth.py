"""Sign-in to TikTok for a desktop app (Login Kit for Desktop, OAuth 2.0 authorization code with PKCE).

1. ``login`` makes a PKCE pair and a ``state``, listens on 127.0.0.1 (``RedirectListener``, one shot, with a
   timeout), and shows the authorize URL (printed for SSH users, opened in a browser where there is one).
2. TikTok sends the browser back to ``http://127.0.0.1:PORT/callback/?code=...&state=...``; the listener checks
   ``state`` and hands over ``code`` (a redirect pasted by hand, for a browser on another machine, works too).
3. The code is exchanged at ``/v2/oauth/token/`` (``grant_type=authorization_code`` + ``code_verifier``); the
   access and refresh tokens go to the token file (mode 0600, in the user config dir), never to the screen.
4. ``TokenKeeper`` refreshes the access token (``grant_type=refresh_token``) shortly before it expires, and once
   more when the API calls it invalid.

Client key and secret come from ``BYTEME_TIKTOK_CLIENT_KEY`` / ``BYTEME_TIKTOK_CLIENT_SECRET`` or the user's
config (``[tiktok] client_key`` / ``client_secret``), never from the repository.

PKCE: TikTok's desktop flow documents the challenge as the *hex* encoding of SHA-256 of the verifier
(developers.tiktok.com/doc/login-kit-desktop, "You must use hex encoding of SHA256"; TikTok's own Android SDK,
tiktok-opensdk-android PKCEUtils.kt, does the same), with ``code_challenge_method=S256``; RFC 7636 says
base64url. We follow TikTok, whose server checks it (``CHALLENGE_ENCODING``).
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import secrets as _secrets
import stat
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..textsafe import display_path, visible
from . import TikTokAuthError, TikTokError, scrub
from .client import DEFAULT_API_BASE, Transport, parse_json

DEFAULT_AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"
#: The authorize page's path, used under ``api_base`` when the API is pointed elsewhere (a test fake, a proxy).
AUTHORIZE_PATH = "/v2/auth/authorize/"
TOKEN_PATH = "/v2/oauth/token/"
REVOKE_PATH = "/v2/oauth/revoke/"
#: user.info.basic: open_id and display name (who signed in); video.list: the user's own videos and their counts.
SCOPES = ("user.info.basic", "video.list")
#: The redirect must be registered in the app's Login Kit settings; TikTok allows only localhost/127.0.0.1, needs
#: a port and accepts a wildcard port (login-kit-desktop): register ``http://127.0.0.1:*/callback/``.
REDIRECT_HOST = "127.0.0.1"
REDIRECT_PATH = "/callback/"
#: 0: any free port (register the wildcard port); ``[tiktok] redirect_port`` fixes one (e.g. for ssh -L).
DEFAULT_REDIRECT_PORT = 0
#: How long ``login`` waits for the browser to come back (``--timeout`` overrides): enough to sign in and approve.
LOGIN_TIMEOUT_S = 300.0
TOKEN_FILENAME = "tiktok-token.json"
#: A token this close to its expiry is refreshed first, so it does not expire in the middle of a sync.
EXPIRY_MARGIN_S = 60.0
#: RFC 7636 section 4.1: a verifier is 43-128 characters of [A-Za-z0-9-._~].
VERIFIER_LENGTH = 64
VERIFIER_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
CHALLENGE_ENCODING = "hex"
#: Bytes of randomness in ``state`` (RFC 6749 section 10.12: a value an attacker cannot guess).
STATE_BYTES = 32
CLIENT_KEY_ENV = "BYTEME_TIKTOK_CLIENT_KEY"
CLIENT_SECRET_ENV = "BYTEME_TIKTOK_CLIENT_SECRET"

#: OAuth ``error`` values (developers.tiktok.com/doc/oauth-error-handling) in plain words.
OAUTH_ERRORS = {
    "access_denied": "The sign-in was declined on TikTok's page.",
    "invalid_client": "TikTok did not accept the client key or secret: check [tiktok] client_key and client_secret "
                      f"in your config (or {CLIENT_KEY_ENV} / {CLIENT_SECRET_ENV}).",
    "invalid_grant": "TikTok no longer accepts the saved sign-in (it expired or was revoked). Run "
                     "`byteme tiktok login` again.",
    "invalid_request": "TikTok refused the sign-in request as malformed.",
    "invalid_scope": "TikTok refused the requested permissions (scopes user.info.basic, video.list): add them to "
                     "the app's Login Kit in TikTok for Developers.",
    "unauthorized_client": "This TikTok app may not sign in this way: enable Login Kit for Desktop in TikTok for "
                           "Developers.",
    "unsupported_grant_type": "TikTok refused the kind of sign-in request.",
    "unsupported_response_type": "TikTok refused the kind of sign-in request.",
    "server_error": "TikTok's sign-in service had an error; try again later.",
    "temporarily_unavailable": "TikTok's sign-in service is busy; try again later.",
}
_RETRYABLE_OAUTH = frozenset({"server_error", "temporarily_unavailable"})


# --- settings ------------------------------------------------------------------------------------

@dataclass
class Settings:
    client_key: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    api_base: str = DEFAULT_API_BASE
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    redirect_port: int = DEFAULT_REDIRECT_PORT
    token_file: Path = field(default_factory=lambda: default_token_path())

    def secrets(self) -> list[str]:
        return [self.client_secret]


def default_token_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("byteme")) / TOKEN_FILENAME


def _check_base(url: str, key: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TikTokAuthError(f"{key} must be an http(s) address such as {DEFAULT_API_BASE} (got "
                              f"{visible(url)!r}).", kind="usage")
    return url.strip().rstrip("/")


def settings_from(cfg: dict, *, api_base: str | None = None, environ=None) -> Settings:
    """The sign-in settings: ``--api-base`` over ``[tiktok] api_base``; the environment over the config for the
    client key and secret. Validation errors are plain (exit 2)."""
    environ = os.environ if environ is None else environ
    section = cfg.get("tiktok") or {}
    if not isinstance(section, dict):
        raise TikTokAuthError("[tiktok] in the config must be a table.", kind="usage")
    key = environ.get(CLIENT_KEY_ENV) or section.get("client_key") or ""
    secret = environ.get(CLIENT_SECRET_ENV) or section.get("client_secret") or ""
    if not isinstance(key, str) or not isinstance(secret, str):
        raise TikTokAuthError("[tiktok] client_key and client_secret must be text.", kind="usage")
    base = _check_base(api_base or section.get("api_base") or DEFAULT_API_BASE, "--api-base / [tiktok] api_base")
    if section.get("authorize_url"):
        authorize = _check_base(str(section["authorize_url"]), "[tiktok] authorize_url") + "/"
    elif base == DEFAULT_API_BASE:
        authorize = DEFAULT_AUTHORIZE_URL
    else:
        authorize = base + AUTHORIZE_PATH
    port = section.get("redirect_port", DEFAULT_REDIRECT_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise TikTokAuthError(f"[tiktok] redirect_port must be a port number 0-65535 (got {port!r}).", kind="usage")
    token_file = Path(os.path.expanduser(str(section["token_file"]))) if section.get("token_file") \
        else default_token_path()
    return Settings(key.strip(), secret.strip(), base, authorize, port, token_file)


def require_client(settings: Settings) -> None:
    if not settings.client_key or not settings.client_secret:
        raise TikTokAuthError(
            "No TikTok client key and secret: register an app with Login Kit at developers.tiktok.com, then put "
            f"them in your config ([tiktok] client_key = \"...\", client_secret = \"...\"; `byteme config --path` "
            f"shows where) or in {CLIENT_KEY_ENV} and {CLIENT_SECRET_ENV}.", kind="usage")


# --- PKCE and the authorize URL ------------------------------------------------------------------

def pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge): 64 random unreserved characters and the hex SHA-256 of them."""
    verifier = "".join(_secrets.choice(VERIFIER_ALPHABET) for _ in range(VERIFIER_LENGTH))
    return verifier, code_challenge(verifier)


def code_challenge(verifier: str) -> str:
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def authorize_url(settings: Settings, *, redirect_uri: str, state: str, challenge: str) -> str:
    query = urllib.parse.urlencode({
        "client_key": settings.client_key,
        "scope": ",".join(SCOPES),
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    return f"{settings.authorize_url}?{query}"


# --- the redirect listener -----------------------------------------------------------------------

_PAGE_OK = b"<!doctype html><title>BYTEME</title><p>Signed in to TikTok. You can close this tab and go back " \
           b"to the terminal.</p>"
_PAGE_FAILED = b"<!doctype html><title>BYTEME</title><p>The sign-in did not complete; the terminal says why.</p>"
_PAGE_STALE = b"<!doctype html><title>BYTEME</title><p>This sign-in link is not the one BYTEME is waiting for " \
              b"(an old tab?). Start again with byteme tiktok login.</p>"


class RedirectListener:
    """One-shot HTTP listener on 127.0.0.1 for TikTok's redirect. The first request on the redirect path whose
    ``state`` matches ends the wait (with the code, or TikTok's error); requests with another state get a page
    saying so and are otherwise ignored; other paths get 404. Never echoes what it receives."""

    def __init__(self, state: str, *, port: int = DEFAULT_REDIRECT_PORT, path: str = REDIRECT_PATH):
        self.state = state
        self.path = path
        self._done = threading.Event()
        self._outcome: dict | None = None
        self._lock = threading.Lock()
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != listener.path:
                    self._answer(404, b"<!doctype html><p>Not found.</p>")
                    return
                accepted = listener.deliver(parts.query)
                if accepted is None:
                    self._answer(400, _PAGE_STALE)
                else:
                    self._answer(200 if accepted else 400, _PAGE_OK if accepted else _PAGE_FAILED)

            def _answer(self, status: int, page: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):  # the query string holds the code: never logged
                pass

        try:
            self.server = http.server.HTTPServer((REDIRECT_HOST, port), Handler)
        except OSError as exc:
            raise TikTokAuthError(f"Cannot listen on {REDIRECT_HOST}:{port} for TikTok's redirect: "
                                  f"{visible(exc.strerror or exc)}. Free the port or set [tiktok] redirect_port.",
                                  kind="usage") from None
        self.port = self.server.server_address[1]
        self.redirect_uri = f"http://{REDIRECT_HOST}:{self.port}{self.path}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="tiktok-redirect", daemon=True)
        self._thread.start()

    def deliver(self, query: str) -> bool | None:
        """Take a redirect's query string (from the browser, or pasted). True: accepted code; False: TikTok's
        error for our state (ends the wait too); None: not ours (wrong or missing state), ignored."""
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        state = (params.get("state") or [""])[0]
        if not _secrets.compare_digest(state.encode(), self.state.encode()):
            return None
        with self._lock:
            if self._done.is_set():
                return None
            code = (params.get("code") or [""])[0]
            if code:
                self._outcome = {"code": code}
            else:
                self._outcome = {"error": (params.get("error") or ["access_denied"])[0],
                                 "error_description": (params.get("error_description") or [""])[0]}
            self._done.set()
        return "code" in self._outcome

    def deliver_pasted(self, text: str) -> bool | None:
        """A redirect address pasted by hand (its query part), or None when it is not one."""
        text = text.strip()
        if not text:
            return None
        return self.deliver(urllib.parse.urlsplit(text).query or text.lstrip("?"))

    def wait(self, timeout_s: float) -> str:
        """The authorization code; TikTokAuthError when TikTok reported an error or nothing came in time."""
        if not self._done.wait(timeout_s):
            raise TikTokAuthError(f"No answer from TikTok's sign-in page within {timeout_s:g} s; nothing was saved. "
                                  "Run `byteme tiktok login` again (--timeout gives more time).", kind="login_timeout")
        out = self._outcome or {}
        if "code" in out:
            return out["code"]
        err = str(out.get("error") or "")
        words = OAUTH_ERRORS.get(err) or f"TikTok's sign-in page answered with the error '{visible(err)}'."
        desc = visible(out.get("error_description") or "").strip()
        raise TikTokAuthError(words + (f" TikTok says: {desc[:300]}" if desc else ""), kind=err or "tiktok_auth")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


# --- tokens --------------------------------------------------------------------------------------

@dataclass
class Token:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # epoch seconds
    refresh_expires_at: float | None
    open_id: str = ""
    scope: str = ""
    api_base: str = DEFAULT_API_BASE  # the API the tokens were issued by: never sent anywhere else
    obtained_at: float = 0.0

    def scopes(self) -> set[str]:
        return {s.strip() for s in self.scope.replace(" ", ",").split(",") if s.strip()}

    def secrets(self) -> list[str]:
        return [self.access_token, self.refresh_token]


def token_from_answer(doc: dict, *, api_base: str, now: float, previous: Token | None = None) -> Token:
    access = doc.get("access_token")
    if not isinstance(access, str) or not access:
        raise TikTokError("TikTok's sign-in service answered without an access token; nothing was saved.",
                          kind="malformed")
    refresh = doc.get("refresh_token") if isinstance(doc.get("refresh_token"), str) and doc.get("refresh_token") \
        else (previous.refresh_token if previous else "")
    expires_in = doc.get("expires_in")
    expires_in = float(expires_in) if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) \
        and expires_in > 0 else 0.0
    refresh_in = doc.get("refresh_expires_in")
    refresh_at = now + float(refresh_in) if isinstance(refresh_in, (int, float)) and not isinstance(refresh_in, bool) \
        and refresh_in > 0 else (previous.refresh_expires_at if previous else None)
    open_id = doc.get("open_id") if isinstance(doc.get("open_id"), str) else (previous.open_id if previous else "")
    scope = doc.get("scope") if isinstance(doc.get("scope"), str) else (previous.scope if previous else "")
    return Token(access, refresh, now + expires_in, refresh_at, open_id, scope, api_base, now)


def save_token(path: Path, token: Token) -> None:
    """Write the token file with mode 0600 (created so, never readable by others even for a moment), atomically;
    its folder is created with mode 0700."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fd = -1
            json.dump(asdict(token), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def load_token(path: Path, *, warn=None) -> Token | None:
    """The saved token, or None when there is none. A file others can read is made private again (and said so);
    an unreadable or damaged file is a plain TikTokAuthError."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TikTokAuthError(f"Cannot read the TikTok token file {display_path(path)}: {visible(exc.strerror)}.",
                              kind="usage") from None
    if stat.S_IMODE(st.st_mode) & 0o077:
        try:
            os.chmod(path, 0o600)
            if warn:
                warn(f"The TikTok token file {display_path(path)} was readable by others; it is now private (0600).")
        except OSError:
            pass
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = {k: data[k] for k in Token.__dataclass_fields__ if k in data}
        token = Token(**fields)
        if not isinstance(token.access_token, str) or not isinstance(token.refresh_token, str):
            raise TypeError
        token.expires_at = float(token.expires_at)
        return token
    except (OSError, ValueError, TypeError, KeyError):
        raise TikTokAuthError(f"The TikTok token file {display_path(path)} is damaged. Run `byteme tiktok login` "
                              "again.", kind="tiktok_auth") from None


def delete_token(path: Path) -> bool:
    try:
        Path(path).unlink()
        return True
    except FileNotFoundError:
        return False


# --- the token endpoint --------------------------------------------------------------------------

def _token_request(transport: Transport, settings: Settings, form: dict, hidden: list, *,
                   path: str = TOKEN_PATH) -> dict:
    """POST a form to TikTok's OAuth service; its JSON answer, or a plain error (OAuth ``error`` codes)."""
    body = urllib.parse.urlencode(form).encode()
    resp = transport.request("POST", settings.api_base + path, body=body, what="TikTok's sign-in service",
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      "Cache-Control": "no-cache", "Accept": "application/json"})
    secrets = [*settings.secrets(), *hidden]
    if resp.status == 200 and not resp.body.strip():
        return {}
    doc = parse_json(resp, "TikTok's sign-in service", secrets)
    err = doc.get("error")
    if isinstance(err, dict):  # the Display API's envelope shape on a gateway error
        err = err.get("code") if err.get("code") != "ok" else None
    if err:
        err = str(err)
        words = OAUTH_ERRORS.get(err) or f"TikTok's sign-in service answered with the error '{visible(err)}'."
        desc = visible(scrub(doc.get("error_description") or "", secrets)).strip()
        if desc and err != "invalid_grant":
            words += f" TikTok says: {desc[:300]}"
        if doc.get("log_id"):
            words += f" (log id {visible(doc['log_id'])[:80]})"
        cls = TikTokError if err in _RETRYABLE_OAUTH else TikTokAuthError
        raise cls(words, kind=err)
    if resp.status != 200:
        raise TikTokError(f"TikTok's sign-in service answered HTTP {resp.status}; try again later.", kind="http")
    return doc


def exchange_code(transport: Transport, settings: Settings, *, code: str, verifier: str, redirect_uri: str,
                  now: float | None = None) -> Token:
    doc = _token_request(transport, settings, {
        "client_key": settings.client_key, "client_secret": settings.client_secret, "code": code,
        "grant_type": "authorization_code", "redirect_uri": redirect_uri, "code_verifier": verifier,
    }, [code, verifier])
    return token_from_answer(doc, api_base=settings.api_base, now=time.time() if now is None else now)


def refresh_token(transport: Transport, settings: Settings, token: Token, now: float | None = None) -> Token:
    doc = _token_request(transport, settings, {
        "client_key": settings.client_key, "client_secret": settings.client_secret,
        "grant_type": "refresh_token", "refresh_token": token.refresh_token,
    }, token.secrets())
    return token_from_answer(doc, api_base=settings.api_base, now=time.time() if now is None else now,
                             previous=token)


def revoke(transport: Transport, settings: Settings, token: Token) -> None:
    """Ask TikTok to revoke the access (``/v2/oauth/revoke/``); raises TikTokError when it could not."""
    _token_request(transport, settings, {
        "client_key": settings.client_key, "client_secret": settings.client_secret, "token": token.access_token,
    }, token.secrets(), path=REVOKE_PATH)


class TokenKeeper:
    """The saved sign-in: gives a valid access token, refreshing (and saving) it when it is about to expire."""

    def __init__(self, settings: Settings, transport: Transport, *, clock=time.time, warn=None):
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.token = load_token(settings.token_file, warn=warn)
        if self.token is None:
            raise TikTokAuthError("Not signed in to TikTok: run `byteme tiktok login` first.", kind="not_signed_in")
        if self.token.api_base.rstrip("/") != settings.api_base:
            raise TikTokAuthError(f"The saved TikTok sign-in is for {visible(self.token.api_base)}, not "
                                  f"{visible(settings.api_base)}; tokens are never sent to another address. Run "
                                  "`byteme tiktok login` again (with the same --api-base).", kind="tiktok_auth")
        self.refreshes = 0

    def secrets(self) -> list[str]:
        return [*self.settings.secrets(), *(self.token.secrets() if self.token else [])]

    def access_token(self) -> str:
        if self.clock() >= self.token.expires_at - EXPIRY_MARGIN_S:
            self.refresh_now()
        return self.token.access_token

    def refresh_now(self) -> None:
        now = self.clock()
        if self.token.refresh_expires_at is not None and now >= self.token.refresh_expires_at:
            raise TikTokAuthError("The saved TikTok sign-in has expired (TikTok keeps it for a year). Run "
                                  "`byteme tiktok login` again.", kind="invalid_grant")
        require_client(self.settings)
        self.token = refresh_token(self.transport, self.settings, self.token, now=now)
        self.refreshes += 1
        save_token(self.settings.token_file, self.token)
