"""Download errors in plain words: every yt-dlp, network or OS exception becomes an ``IngestError`` with one of
the kinds listed in ``engine/ingest/__init__.py`` and a cleaned-up detail from the site or the library.
"""
from __future__ import annotations

import re
import socket

from ..errors import IngestError

TRANSIENT_KINDS = frozenset({"network", "timeout", "rate_limited", "server_error", "incomplete"})

KIND_TEXT = {
    "bad_url": "Not a web address BYTEME can download from",
    "unsupported": "No video found at this address (the site is not supported, or the page has no video)",
    "not_found": "Not found: the video or page does not exist or was removed",
    "private": "This video is private or needs a login; for your own videos pass a cookies file with --cookies",
    "forbidden": "The site refused access (HTTP 403)",
    "geo_blocked": "This video is not available from your country (geo-blocked)",
    "rate_limited": "The site is limiting requests (HTTP 429); wait a while and try again",
    "server_error": "The site had an internal error; try again later",
    "network": "Could not reach the site; check the address and your connection",
    "timeout": "The site did not answer in time",
    "incomplete": "The download stopped before the whole file arrived",
    "not_video": "The downloaded file is not a complete video FFmpeg can read",
    "needs_ffmpeg": ("This site offers the video and the audio only as separate streams; joining them needs "
                     "the ffmpeg program, which is not installed. Install ffmpeg, or download the clip another way"),
    "no_formats": "The site offers no format that can be downloaded",
    "cookies": "Could not read the cookies file",
    "unsafe_path": "A file name from the site would land outside the chosen folder; nothing was written",
    "disk": "Could not write the file",
    "cancelled": "Cancelled by the user",
    "download": "The download failed",
}


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BUG_REPORT = re.compile(r";?\s*please report this issue on .*$", re.IGNORECASE | re.DOTALL)


def clean_detail(text: str, limit: int = 300) -> str:
    """A yt-dlp or FFmpeg message without colour codes, tags, bug-report advice or yt-dlp's own flags, cut to
    ``limit`` characters."""
    text = _ANSI.sub("", str(text))
    text = _BUG_REPORT.sub("", text)
    text = re.sub(r"^(ERROR|WARNING):\s*", "", text.strip())
    text = re.sub(r"^\[[\w:]+\]\s*", "", text)  # yt-dlp's "[generic] " tag
    text = re.sub(r"\s*\(caused by .*\)\s*$", "", text, flags=re.DOTALL)  # repeated exception repr
    # advice naming yt-dlp's own command-line flags does not apply to byteme
    # advice naming yt-dlp's own command-line flags does not apply to byteme: drop it and what follows
    flag = re.search(r"(?:^|(?<=[.!?]))[^.!?]*\s--[a-z][\w-]*", text)
    if flag and flag.start() > 0:
        text = text[: flag.start()]
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_chain(exc: BaseException) -> list[BaseException]:
    chain, queue, seen = [], [exc], set()
    while queue:
        err = queue.pop(0)
        if err is None or id(err) in seen or not isinstance(err, BaseException):
            continue
        seen.add(id(err))
        chain.append(err)
        exc_info = getattr(err, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            queue.append(exc_info[1])
        queue.extend([getattr(err, "cause", None), err.__cause__, err.__context__])
    return chain


_TEXT_RULES: list[tuple[str, tuple[str, ...]]] = [
    ("needs_ffmpeg", ("ffmpeg is not installed", "ffmpeg not found", "merging of multiple formats")),
    ("geo_blocked", ("available in your country", "geo restrict", "geo-restrict", "from your location",
                     "not available in your region")),
    ("private", ("private video", "video is private", "this video is private", "sign in to confirm",
                 "login required", "log in to", "requires authentication", "members-only", "http error 401")),
    ("rate_limited", ("http error 429", "too many requests", "rate limit", "rate-limit")),
    ("not_found", ("http error 404", "http error 410", "404: not found", "does not exist", "has been removed",
                   "video unavailable", "no longer available")),
    ("forbidden", ("http error 403",)),
    ("server_error", ("http error 500", "http error 502", "http error 503", "http error 504")),
    ("unsupported", ("unsupported url", "no suitable extractor", "no video could be found")),
    ("no_formats", ("requested format is not available", "no video formats found")),
    ("incomplete", ("content too short", "incomplete read", "incompleteread", "did not get any data",
                    "more expected")),
    ("timeout", ("timed out", "timeout")),
    ("network", ("connection refused", "name or service not known", "temporary failure in name resolution",
                 "network is unreachable", "connection reset", "remote end closed", "errno 111",
                 "getaddrinfo", "no route to host", "unable to connect", "failed to resolve",
                 "unable to download webpage", "unable to download video data", "connection aborted")),
    ("disk", ("no space left", "unable to open for writing", "unable to write data", "permission denied")),
    ("cookies", ("cookie",)),
]


def classify_error(exc: BaseException) -> IngestError:
    """Map a yt-dlp (or network, or OS) exception to an :class:`IngestError` with a kind and plain message."""
    if isinstance(exc, IngestError):
        return exc
    chain = _error_chain(exc)
    kind = None
    detail = ""
    try:
        from yt_dlp import utils as ytu
        from yt_dlp.networking import exceptions as ytn
    except ImportError:  # pragma: no cover - yt-dlp is a dependency
        ytu = ytn = None

    for err in chain:
        if ytu is not None:
            if isinstance(err, getattr(ytu, "CookieLoadError", ())):
                kind = "cookies"
            elif isinstance(err, ytu.GeoRestrictedError):
                kind = "geo_blocked"
            elif isinstance(err, ytu.UnsupportedError):
                kind = "unsupported"
            elif isinstance(err, ytu.ContentTooShortError):
                kind = "incomplete"
            elif isinstance(err, ytn.HTTPError):
                status = getattr(err, "status", None) or 0
                kind = {404: "not_found", 410: "not_found", 401: "private", 403: "forbidden",
                        429: "rate_limited"}.get(status, "server_error" if status >= 500 else None)
            elif isinstance(err, ytn.IncompleteRead):
                kind = "incomplete"
            elif isinstance(err, (TimeoutError, socket.timeout)):
                kind = "timeout"
            elif isinstance(err, ytn.TransportError):
                kind = "timeout" if "timed out" in str(err).lower() else "network"
        if kind:
            break

    texts = []
    for err in chain:
        if "file:// urls are disabled" in str(err).lower():
            return IngestError("The page points at a file on this computer (file://); such addresses are never "
                               "fetched.", kind="bad_url")
    for err in chain:
        msg = getattr(err, "orig_msg", None) or getattr(err, "msg", None) or str(err)
        texts.append(str(msg))
    joined = " | ".join(texts).lower()
    if kind is None or kind in ("server_error", "network"):
        for rule_kind, needles in _TEXT_RULES:
            if any(n in joined for n in needles):
                # a site's own message ("private video") beats a bare transport kind
                if kind is None or rule_kind not in ("network", "timeout"):
                    kind = rule_kind
                break
    if kind is None:
        kind = "disk" if isinstance(exc, OSError) else "download"

    for err in chain:
        text = getattr(err, "orig_msg", None) or str(err)
        if text:
            detail = clean_detail(text)
            break
    message = KIND_TEXT[kind]
    if detail and detail.lower() not in message.lower():
        message = f"{message}. Details: {detail}"
    else:
        message += "."
    return IngestError(message, kind=kind)


def error_dict(err: IngestError) -> dict:
    return {"kind": err.kind, "message": err.message}
