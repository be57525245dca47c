"""HTTP to TikTok's API with the standard library (``urllib.request``; no new dependency: a few JSON calls do
not need requests/httpx, and the stdlib keeps ``byteme`` light to start).

``Transport.request`` sends one request with a timeout and retries HTTP 429 and 5xx (and a dropped connection)
with exponential backoff within a bound; ``TikTokClient`` adds the bearer token, reads TikTok's answer envelope
``{"data": {...}, "error": {"code": "ok", "message": "", "log_id": "..."}}`` and turns every other
``error.code`` into a plain message. An ``access_token_invalid`` answer refreshes the token once and repeats
the call once.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from ..textsafe import visible
from . import TikTokAuthError, TikTokError, scrub

#: The Display API's host (developers.tiktok.com/doc/tiktok-api-v2-get-user-info, .../tiktok-api-v2-video-list).
DEFAULT_API_BASE = "https://open.tiktokapis.com"
USER_INFO_PATH = "/v2/user/info/"
VIDEO_LIST_PATH = "/v2/video/list/"
VIDEO_QUERY_PATH = "/v2/video/query/"
USER_FIELDS = ("open_id", "display_name")
#: The video fields sync reads (the issue's list; all documented for video.list and video.query).
VIDEO_FIELDS = ("id", "title", "video_description", "duration", "create_time", "cover_image_url", "share_url",
                "view_count", "like_count", "comment_count", "share_count")
#: Largest page of /v2/video/list/ and largest id list of /v2/video/query/ (TikTok's documented maximum: 20).
MAX_PAGE = 20

#: Seconds a request may take before it is given up (``--timeout`` overrides). TikTok answers in well under a
#: second normally; 30 s is the common client default (requests' docs suggest a few seconds to connect).
DEFAULT_TIMEOUT_S = 30.0
#: Attempts per request for HTTP 429, 5xx and dropped connections: 1 + 3 retries.
MAX_ATTEMPTS = 4
#: First backoff wait; doubled per retry (1, 2, 4 s) and capped. TikTok's rate limit is 600 requests per endpoint
#: in a one-minute sliding window (developers.tiktok.com/doc/tiktok-api-v2-rate-limit): a sync of 20 videos a page
#: stays far below it, so a 429 means another app of the same key is busy; a few seconds usually clear it, and a
#: longer wait is the user's to choose (run the sync again: what was read is kept).
BACKOFF_BASE_S = 1.0
#: Longest single wait, also the most of a ``Retry-After`` header that is honoured.
BACKOFF_CAP_S = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Largest answer read (bytes): a page of 20 videos is a few KB; anything near this is not TikTok's API.
MAX_BODY_BYTES = 8 << 20

#: Plain words for TikTok's documented ``error.code`` values (developers.tiktok.com/doc/tiktok-api-v2-error-handling).
API_ERRORS = {
    "access_token_invalid": "TikTok did not accept the saved sign-in (it expired or was revoked). Run "
                            "`byteme tiktok login` again.",
    "scope_not_authorized": "Your TikTok sign-in does not allow this: the permission (scope) it needs was not "
                            "granted. Run `byteme tiktok login` again and leave every requested permission ticked.",
    "scope_permission_missed": "Your TikTok app is not approved for a permission this needs: in TikTok for "
                               "Developers, add the Login Kit scopes user.info.basic and video.list to the app.",
    "rate_limit_exceeded": "TikTok's rate limit was reached (600 requests a minute per endpoint) and did not clear "
                           "after retries. Wait a minute and run the sync again; what was read is kept.",
    "invalid_params": "TikTok refused the request as invalid.",
    "internal_error": "TikTok had an internal error; try again later.",
    "invalid_file_upload": "TikTok refused an uploaded file.",
}
AUTH_CODES = frozenset({"access_token_invalid", "scope_not_authorized", "scope_permission_missed"})


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict


class Transport:
    """Sends requests with a timeout; retries HTTP 429/5xx and dropped connections with backoff. ``sleep`` is
    injectable (tests pass a recorder). ``secrets()`` returns the values to scrub from every message."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S, max_attempts: int = MAX_ATTEMPTS,
                 sleep: Callable[[float], None] = time.sleep, secrets: Callable[[], list] = list):
        if not timeout_s or timeout_s <= 0:
            raise TikTokError("--timeout must be a positive number of seconds.", kind="usage")
        self.timeout_s = float(timeout_s)
        self.max_attempts = max(1, int(max_attempts))
        self.sleep = sleep
        self.secrets = secrets
        self.opener = urllib.request.build_opener(_NoRedirect)

    def request(self, method: str, url: str, *, headers: dict | None = None, body: bytes | None = None,
                what: str = "TikTok") -> Response:
        host = urllib.parse.urlsplit(url).netloc
        last = None
        for attempt in range(self.max_attempts):
            req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
            try:
                with self.opener.open(req, timeout=self.timeout_s) as resp:
                    return Response(resp.status, _read(resp), dict(resp.headers.items()))
            except urllib.error.HTTPError as exc:
                try:
                    data = _read(exc)
                except TimeoutError:
                    raise self._timeout(what, host) from None
                resp = Response(exc.code, data, dict(exc.headers.items()) if exc.headers else {})
                if exc.code not in RETRY_STATUSES:
                    return resp
                last = resp
                wait = _retry_after_s(resp.headers.get("Retry-After"))
            except TimeoutError:  # a slow server is not retried: --timeout is the wait chosen
                raise self._timeout(what, host) from None
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError since 3.10
                    raise self._timeout(what, host) from None
                last = TikTokError(f"Could not reach {what} at {visible(host)}: "
                                   f"{visible(scrub(getattr(reason, 'strerror', None) or reason, self.secrets()))}.",
                                   kind="network")
                wait = None
            except (OSError, http.client.HTTPException) as exc:  # reset or closed mid-answer
                last = TikTokError(f"The connection to {what} at {visible(host)} broke: "
                                   f"{visible(scrub(getattr(exc, 'strerror', None) or exc, self.secrets()))}.",
                                   kind="network")
                wait = None
            if attempt + 1 < self.max_attempts:
                backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** attempt))
                self.sleep(min(BACKOFF_CAP_S, wait) if wait is not None else backoff)
        if isinstance(last, TikTokError):
            raise last
        return last  # the last 429/5xx answer: the caller reads its error code


    def _timeout(self, what: str, host: str) -> TikTokError:
        return TikTokError(f"{what} at {visible(host)} did not answer within {self.timeout_s:g} s. Check the "
                           "connection, or give it longer with --timeout.", kind="timeout")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The API never redirects; a redirect would carry the Authorization header to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _read(resp) -> bytes:
    """At most MAX_BODY_BYTES + 1 bytes of the body (a timeout propagates; a body cut off reads as malformed)."""
    try:
        return resp.read(MAX_BODY_BYTES + 1) or b""
    except TimeoutError:
        raise
    except (OSError, ValueError, http.client.HTTPException):
        return b""


def _retry_after_s(value: str | None) -> float | None:
    """Seconds of an HTTP ``Retry-After`` header (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when else None


def parse_json(resp: Response, what: str, secrets: list) -> dict:
    """The JSON object of an answer, or a plain TikTokError for anything else (HTML error page, cut-off body)."""
    if len(resp.body) > MAX_BODY_BYTES:
        raise TikTokError(f"{what} sent an answer larger than {MAX_BODY_BYTES >> 20} MB; it is not read.",
                          kind="malformed")
    try:
        data = json.loads(resp.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        status = f" (HTTP {resp.status})" if resp.status != 200 else ""
        raise TikTokError(f"{what} sent an answer that is not JSON{status}; nothing of it was used. Try again "
                          "later.", kind="malformed") from None
    if not isinstance(data, dict):
        raise TikTokError(f"{what} sent a JSON {type(data).__name__}, not an object; nothing of it was used.",
                          kind="malformed")
    return data


def api_error(code: str, message: str, log_id: str, status: int, secrets: list) -> TikTokError:
    """The plain-words error for an ``error`` object of the Display API."""
    words = API_ERRORS.get(code) or f"TikTok answered with the error '{visible(code)}'."
    detail = visible(scrub(message, secrets)).strip()
    if detail and code not in ("access_token_invalid", "rate_limit_exceeded"):
        words += f" TikTok says: {detail[:300]}"
    if log_id:
        words += f" (log id {visible(log_id)[:80]})"
    cls = TikTokAuthError if code in AUTH_CODES or status == 401 else TikTokError
    return cls(words, kind=code if code in API_ERRORS else cls.kind)


class TikTokClient:
    """The Display API on behalf of the signed-in user. ``keeper`` (``auth.TokenKeeper``) gives a valid access
    token, refreshing it when it expires."""

    def __init__(self, keeper, transport: Transport, api_base: str = DEFAULT_API_BASE):
        self.keeper = keeper
        self.transport = transport
        self.api_base = api_base.rstrip("/")

    def user_info(self) -> dict:
        return self._call("GET", USER_INFO_PATH, {"fields": ",".join(USER_FIELDS)}, None).get("user") or {}

    def list_videos(self, cursor: int | None = None, max_count: int = MAX_PAGE) -> dict:
        """One page: ``{"videos": [...], "cursor": int, "has_more": bool}``."""
        body = {"max_count": int(max_count)}
        if cursor is not None:
            body["cursor"] = cursor
        return self._call("POST", VIDEO_LIST_PATH, {"fields": ",".join(VIDEO_FIELDS)}, body)

    def query_videos(self, ids: list[str]) -> list[dict]:
        """Fresh numbers of up to ``MAX_PAGE`` of the user's own videos by id."""
        body = {"filters": {"video_ids": [str(i) for i in ids[:MAX_PAGE]]}}
        return self._call("POST", VIDEO_QUERY_PATH, {"fields": ",".join(VIDEO_FIELDS)}, body).get("videos") or []

    def _call(self, method: str, path: str, params: dict, body: dict | None, *, refreshed: bool = False) -> dict:
        url = f"{self.api_base}{path}?{urllib.parse.urlencode(params)}"
        token = self.keeper.access_token()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        resp = self.transport.request(method, url, headers=headers, body=data, what="TikTok's API")
        secrets = self.keeper.secrets()
        doc = parse_json(resp, "TikTok's API", secrets)
        err = doc.get("error")
        if not isinstance(err, dict):
            if resp.status != 200:
                raise TikTokError(f"TikTok's API answered HTTP {resp.status} without an error description; try "
                                  "again later.", kind="http")
            raise TikTokError("TikTok's API sent an answer without its 'error' part; nothing of it was used.",
                              kind="malformed")
        code = str(err.get("code") or "")
        if code == "ok" and resp.status == 200:
            payload = doc.get("data")
            if not isinstance(payload, dict):
                raise TikTokError("TikTok's API sent an answer without its 'data' part; nothing of it was used.",
                                  kind="malformed")
            return payload
        if code == "access_token_invalid" and not refreshed:
            self.keeper.refresh_now()  # expired on TikTok's side before our clock said so: once, then once more
            return self._call(method, path, params, body, refreshed=True)
        if code == "ok":  # HTTP error with an "ok" code: not TikTok's documented shape
            code = "http_" + str(resp.status)
        raise api_error(code, str(err.get("message") or ""), str(err.get("log_id") or ""), resp.status, secrets)
