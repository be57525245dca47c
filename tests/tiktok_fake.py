"""A local fake of TikTok's documented endpoints on 127.0.0.1 (random free port), for ``--api-base``.

It behaves as the docs say (Login Kit for Desktop, OAuth error handling, Display API v2 user/info, video/list,
video/query, error handling), checks what a real server checks (client key and secret, the redirect URI, PKCE:
``code_challenge`` = hex SHA-256 of ``code_verifier``, one use per code, bearer tokens, scopes, ``max_count``
<= 20), and lets a test script faults: HTTP 429 or 5xx answers, a malformed body, a slow answer, a revoked
refresh token, a token TikTok considers invalid before it expires, a scope the user did not grant.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

CLIENT_KEY = "awfakeclientkey123"
CLIENT_SECRET = "fake-client-secret-9f8e7d"
OPEN_ID = "open-id-0001"
DISPLAY_NAME = "Creator \x1b[31m[bold]red[/bold]"  # hostile: must be shown escaped


@dataclass
class Fault:
    """Answer the next ``times`` requests to ``path`` with ``status`` and ``body`` (bytes), after ``delay_s``."""

    path: str
    status: int = 200
    body: bytes | None = None
    times: int = 1
    delay_s: float = 0.0
    headers: dict = field(default_factory=dict)


class FakeTikTok:
    def __init__(self, videos: int = 45, *, grant_scopes=("user.info.basic", "video.list")):
        self.videos = [self._video(i) for i in range(videos)]
        self.grant_scopes = tuple(grant_scopes)
        self.codes: dict[str, dict] = {}
        self.access: dict[str, dict] = {}  # token -> {"open_id", "scopes", "valid"}
        self.refresh: dict[str, dict] = {}  # token -> {"scopes", "valid"}
        self.faults: list[Fault] = []
        self.log: list[dict] = []  # every request: path, method, headers, body (for leak checks)
        self.counts: dict[str, int] = {}
        self.pkce_checked = 0
        self.revoked: list[str] = []
        self.media: dict[str, bytes] = {}  # GET /media/NAME -> these bytes (a share_url to download from)
        self.malformed_at_cursor: int | None = None  # /v2/video/list/ at this cursor answers a cut-off JSON body
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _video(i: int) -> dict:
        return {"id": str(7300000000000000000 + i), "title": f"Clip {i}",
                "video_description": f"Clip {i} #tips", "duration": 10 + i % 30,
                "create_time": 1_700_000_000 + 86_400 * (100 - i), "cover_image_url": f"https://example.invalid/c{i}",
                "share_url": f"https://www.tiktok.com/@creator/video/{7300000000000000000 + i}",
                "view_count": 1000 * (i + 1), "like_count": 37 * (i + 1) + (i % 7), "comment_count": i,
                "share_count": i // 2}

    # -- helpers for tests -------------------------------------------------------------------------------------
    def issue_tokens(self, scopes=None, open_id: str = OPEN_ID) -> dict:
        access, refresh = "act." + secrets.token_hex(16), "rft." + secrets.token_hex(16)
        scopes = tuple(self.grant_scopes if scopes is None else scopes)
        with self.lock:
            self.access[access] = {"open_id": open_id, "scopes": scopes, "valid": True}
            self.refresh[refresh] = {"open_id": open_id, "scopes": scopes, "valid": True}
        return {"access_token": access, "expires_in": 86400, "open_id": open_id, "refresh_expires_in": 31536000,
                "refresh_token": refresh, "scope": ",".join(scopes), "token_type": "Bearer"}

    def every_token(self) -> list[str]:
        with self.lock:
            return [*self.access, *self.refresh]

    def fault(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    # -- the server -------------------------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, ctype="application/json", headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def _json(self, status: int, doc: dict, headers=None):
                self._send(status, json.dumps(doc).encode(), headers=headers)

            def _api_error(self, status: int, code: str, message: str = ""):
                self._json(status, {"data": {}, "error": {"code": code, "message": message, "log_id": "LOG123"}})

            def _oauth_error(self, error: str, desc: str = "", status: int = 400):
                self._json(status, {"error": error, "error_description": desc, "log_id": "LOG456"})

            def _handle(self, method: str):
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake.lock:
                    fake.log.append({"method": method, "path": self.path, "headers": dict(self.headers.items()),
                                     "body": body})
                    fake.counts[parts.path] = fake.counts.get(parts.path, 0) + 1
                    fault = next((f for f in fake.faults if f.path == parts.path and f.times > 0), None)
                    if fault:
                        fault.times -= 1
                if fault:
                    if fault.delay_s:
                        time.sleep(fault.delay_s)
                    if fault.body is not None or fault.status != 200:
                        self._send(fault.status, fault.body or b"", headers=fault.headers)
                        return
                route = {("GET", "/v2/auth/authorize/"): self.authorize,
                         ("POST", "/v2/oauth/token/"): self.token,
                         ("POST", "/v2/oauth/revoke/"): self.revoke,
                         ("GET", "/v2/user/info/"): self.user_info,
                         ("POST", "/v2/video/list/"): self.video_list,
                         ("POST", "/v2/video/query/"): self.video_query}.get((method, parts.path))
                if route is None and method in ("GET", "HEAD") and parts.path.startswith("/media/"):
                    data = fake.media.get(parts.path[len("/media/"):])
                    if data is not None:
                        self.send_response(200)
                        self.send_header("Content-Type", "video/mp4")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        if method == "GET":
                            self.wfile.write(data)
                        return
                if route is None:
                    self._send(404, b"not found", "text/plain")
                    return
                route(urllib.parse.parse_qs(parts.query), body)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_HEAD(self):
                self._handle("HEAD")

            # -- Login Kit -------------------------------------------------------------------------------------
            def authorize(self, q, body):
                one = {k: v[0] for k, v in q.items()}
                redirect = one.get("redirect_uri", "")
                ok = (one.get("client_key") == CLIENT_KEY and one.get("response_type") == "code"
                      and one.get("code_challenge_method") == "S256" and len(one.get("code_challenge", "")) == 64
                      and urllib.parse.urlsplit(redirect).hostname in ("127.0.0.1", "localhost")
                      and set(one.get("scope", "").split(",")) >= {"user.info.basic"})
                if not ok:
                    self._send(400, b"bad authorize request", "text/plain")
                    return
                code = "code." + secrets.token_hex(8)
                granted = [s for s in one["scope"].split(",") if s in fake.grant_scopes]
                with fake.lock:
                    fake.codes[code] = {"challenge": one["code_challenge"], "redirect_uri": redirect,
                                        "scopes": granted, "used": False}
                target = redirect + "?" + urllib.parse.urlencode({"code": code, "scopes": ",".join(granted),
                                                                   "state": one.get("state", "")})
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def token(self, q, body):
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                if form.get("client_key") != CLIENT_KEY or form.get("client_secret") != CLIENT_SECRET:
                    self._oauth_error("invalid_client", "Client key or secret is incorrect.", 401)
                    return
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    with fake.lock:
                        c = fake.codes.get(form.get("code", ""))
                        if c is None or c["used"]:
                            c = None
                        else:
                            c["used"] = True
                    if c is None:
                        self._oauth_error("invalid_grant", "Authorization code is expired.")
                        return
                    if form.get("redirect_uri") != c["redirect_uri"]:
                        self._oauth_error("invalid_request", "Redirect URI does not match.")
                        return
                    verifier = form.get("code_verifier", "")
                    if hashlib.sha256(verifier.encode()).hexdigest() != c["challenge"]:
                        self._oauth_error("invalid_request", "Code verifier or code challenge is invalid.")
                        return
                    with fake.lock:
                        fake.pkce_checked += 1
                    self._json(200, fake.issue_tokens(c["scopes"]))
                elif grant == "refresh_token":
                    with fake.lock:
                        r = fake.refresh.get(form.get("refresh_token", ""))
                        valid = bool(r and r["valid"])
                        if valid:
                            r["valid"] = False  # rotated
                    if not valid:
                        self._oauth_error("invalid_grant", "Refresh token is invalid or expired.")
                        return
                    self._json(200, fake.issue_tokens(r["scopes"], r["open_id"]))
                else:
                    self._oauth_error("unsupported_grant_type")

            def revoke(self, q, body):
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                if form.get("client_key") != CLIENT_KEY or form.get("client_secret") != CLIENT_SECRET:
                    self._oauth_error("invalid_client", "", 401)
                    return
                tok = form.get("token", "")
                with fake.lock:
                    fake.revoked.append(tok)
                    if tok in fake.access:
                        fake.access[tok]["valid"] = False
                self._send(200, b"")

            # -- Display API -----------------------------------------------------------------------------------
            def _auth(self, scope: str):
                header = self.headers.get("Authorization", "")
                tok = header[len("Bearer "):] if header.startswith("Bearer ") else ""
                with fake.lock:
                    a = fake.access.get(tok)
                if not a or not a["valid"]:
                    self._api_error(401, "access_token_invalid", "The access token is invalid or not found.")
                    return None
                if scope not in a["scopes"]:
                    self._api_error(401, "scope_not_authorized", f"The user did not authorize the scope {scope}.")
                    return None
                return a

            def _fields(self, q) -> list:
                return (q.get("fields") or [""])[0].split(",")

            def user_info(self, q, body):
                a = self._auth("user.info.basic")
                if a is None:
                    return
                user = {"open_id": a["open_id"], "display_name": DISPLAY_NAME, "avatar_url": "x"}
                self._json(200, {"data": {"user": {k: user[k] for k in self._fields(q) if k in user}},
                                 "error": {"code": "ok", "message": "", "log_id": "L1"}})

            def video_list(self, q, body):
                a = self._auth("video.list")
                if a is None:
                    return
                try:
                    req = json.loads(body or b"{}")
                except ValueError:
                    self._api_error(400, "invalid_params", "Body is not JSON.")
                    return
                max_count = req.get("max_count", 10)
                if not isinstance(max_count, int) or not 1 <= max_count <= 20:
                    self._api_error(400, "invalid_params", "max_count must be 1-20.")
                    return
                start = int(req.get("cursor") or 0)
                if fake.malformed_at_cursor == start:
                    self._send(200, b'{"data": {"videos": [{"id": "1"')
                    return
                page = fake.videos[start:start + max_count]
                fields = self._fields(q)
                more = start + max_count < len(fake.videos)
                self._json(200, {"data": {"videos": [{k: v[k] for k in fields if k in v} for v in page],
                                          "cursor": start + len(page), "has_more": more},
                                 "error": {"code": "ok", "message": "", "log_id": "L2"}})

            def video_query(self, q, body):
                a = self._auth("video.list")
                if a is None:
                    return
                req = json.loads(body or b"{}")
                ids = set(req.get("filters", {}).get("video_ids", []))
                if len(ids) > 20:
                    self._api_error(400, "invalid_params", "At most 20 ids.")
                    return
                fields = self._fields(q)
                found = [{k: v[k] for k in fields if k in v} for v in fake.videos if v["id"] in ids]
                self._json(200, {"data": {"videos": found}, "error": {"code": "ok", "message": "", "log_id": "L3"}})

        return Handler
