"""Download clips from the web with yt-dlp used as a library (``byteme fetch``).

Each URL is fetched into the library folder ``to_dir`` as:

- the video, in one file FFmpeg decodes: a single progressive file (video and audio together) at up to
  1080p is preferred (``FORMAT_SPEC``). Joining separate video and audio streams needs the ffmpeg
  *program*, which BYTEME does not require; a site that offers only separate streams gives the error kind
  ``needs_ffmpeg`` in plain words;
- ``<name>.info.json`` (title, description, tags, view/like/comment/repost counts...), read back by
  :func:`read_engagement`;
- subtitles and automatic captions when the site offers them (``<name>.<lang>.<ext>``).

Safety:

- only ``http`` and ``https`` URLs are accepted; file names come from an output template over the
  sanitised title and id (``restrictfilenames``), and every path is checked to lie inside ``to_dir``
  before anything is written and again after the move;
- partial data lives only in the hidden folder ``to_dir/.byteme-partial/`` (yt-dlp's ``.part``/``.ytdl``
  files and the finished-but-not-yet-checked file). The final name in ``to_dir`` appears only after the
  download is complete and PyAV has opened it, found a video stream, decoded a frame and seen packets up
  to the duration the container declares. On an error or a cancel the item's leftovers are deleted; a
  killed process can leave only files inside ``.byteme-partial`` (library scanners skip dot-folders).
- items already downloaded are skipped through yt-dlp's download archive (by default
  ``<data dir>/download-archive.txt``, see :func:`data_dir`).

Error kinds (``IngestError.kind`` and ``FetchResult.error["kind"]``):

``bad_url`` not an http(s) URL; ``unsupported`` no video found at the address (site not supported or page
without a video); ``not_found`` HTTP 404/410 or removed; ``private`` private or login required;
``forbidden`` HTTP 403; ``geo_blocked`` not available in this country; ``rate_limited`` HTTP 429;
``server_error`` HTTP 5xx; ``network`` site unreachable; ``timeout`` no answer in time; ``incomplete``
the transfer stopped early; ``not_video`` the file is not a complete video FFmpeg reads; ``needs_ffmpeg``
only separate video/audio streams; ``no_formats`` nothing downloadable; ``cookies`` cookies file
unreadable; ``unsafe_path`` a file name would leave the folder; ``disk`` the file cannot be written;
``cancelled`` cancelled by the user; ``download`` any other download failure; ``usage`` a bad
argument to :func:`fetch` (raised, not returned).
``network``, ``timeout``, ``rate_limited``, ``server_error`` and ``incomplete`` are retried with backoff.
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import IngestError
from .paths import data_dir
from .sidecars import read_engagement

# --- named constants -----------------------------------------------------------------------------

#: Format choice without an ffmpeg program: ``best`` = a single file holding video *and* audio. Heights
#: are capped at 1080 px (issue 9: "a single progressive file at up to 1080p"); ``<=?`` also accepts
#: formats whose height the site does not state (direct links). The last ``best`` takes a larger file
#: rather than nothing.
FORMAT_SPEC = "best[ext=mp4][height<=?1080]/best[height<=?1080]/best"

#: File name template: sanitised title and id (yt-dlp sanitises each field; restrictfilenames keeps them
#: ASCII without spaces or "&"). Byte limits keep names well under the 255-byte limit of common file systems.
OUTPUT_TEMPLATE = "%(title).80B-%(id).60B.%(ext)s"
TRIM_FILE_NAME_CHARS = 180

#: Hidden folder inside the library folder that holds every partial or unchecked file.
PARTIAL_DIRNAME = ".byteme-partial"

ARCHIVE_FILENAME = "download-archive.txt"

DEFAULT_RETRIES = 3
#: Backoff between retries: RETRY_BACKOFF_S * 2**attempt, capped (common exponential-backoff practice).
RETRY_BACKOFF_S = 1.0
RETRY_BACKOFF_CAP_S = 30.0
#: Socket timeout: yt-dlp's own default is 20 s.
DEFAULT_SOCKET_TIMEOUT_S = 20.0

#: A container that declares a stream duration but whose packets stop earlier than this is truncated.
#: Measured: complete PyAV-written MP4s end within 0.001 s of the declared duration; half a file misses > 1 s.
TRUNCATION_TOLERANCE_S = 0.25


#: Subtitle languages and formats accepted as parts of a file name.
_SAFE_SUB_LANG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_SAFE_SUB_EXTS = {"vtt", "srt", "ass", "ssa", "ttml", "dfxp", "srv1", "srv2", "srv3", "json3", "sbv", "lrc"}

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

ProgressCallback = Callable[[str, int, "int | None", "float | None"], None]


# --- public data ---------------------------------------------------------------------------------

@dataclass
class FetchResult:
    """One downloaded (or skipped, or failed) item. ``error`` is ``{"kind", "message"}`` when status is error."""

    url: str
    status: str  # "ok" | "skipped" | "error"
    path: Path | None = None
    info_path: Path | None = None
    subtitle_paths: list[Path] = field(default_factory=list)
    title: str | None = None
    error: dict | None = None


def default_archive_path() -> Path:
    return data_dir(create=False) / ARCHIVE_FILENAME


def check_url(url: str) -> str:
    """Return the URL stripped of surrounding spaces, or raise ``IngestError(kind="bad_url")``."""
    text = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:
        raise IngestError(f"{KIND_TEXT['bad_url']}: {exc}.", kind="bad_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise IngestError(
            f"Only http and https addresses can be fetched; this one has {shown}.", kind="bad_url")
    if not parts.hostname:
        raise IngestError("The address has no host name (expected e.g. https://example.com/video).",
                          kind="bad_url")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise IngestError("The address contains control characters.", kind="bad_url")
    return text


# --- text helpers --------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BUG_REPORT = re.compile(r";?\s*please report this issue on .*$", re.IGNORECASE | re.DOTALL)


def _clean_detail(text: str, limit: int = 300) -> str:
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


# --- error classification ------------------------------------------------------------------------

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
            detail = _clean_detail(text)
            break
    message = KIND_TEXT[kind]
    if detail and detail.lower() not in message.lower():
        message = f"{message}. Details: {detail}"
    else:
        message += "."
    return IngestError(message, kind=kind)


def _error_dict(err: IngestError) -> dict:
    return {"kind": err.kind, "message": err.message}


# --- the download --------------------------------------------------------------------------------

class _CancelRequested(Exception):
    """Raised from the progress hook when the cancel event is set (not an OSError: yt-dlp must not catch it)."""


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(folder)))
    except (OSError, ValueError):
        return False


def check_video_file(path: Path) -> None:
    """Raise ``IngestError(kind="not_video")`` unless PyAV opens ``path``, finds a video stream, decodes a
    frame, and finds packets up to the duration the container declares (so a cut-off download fails)."""
    import av

    try:
        with av.open(str(path)) as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise IngestError(f"{KIND_TEXT['not_video']}: it has no video stream.", kind="not_video")
            ends: dict[int, int] = {}
            decoded = False
            for packet in container.demux():
                if packet.pts is None or not packet.size:
                    continue
                index = packet.stream.index
                ends[index] = max(ends.get(index, packet.pts), packet.pts + (packet.duration or 0))
                if not decoded and index == video.index:
                    decoded = bool(packet.decode()) or decoded
            if not decoded:
                # some decoders buffer frames: flush once
                decoded = any(True for _ in video.codec_context.decode(None)) if ends.get(video.index) else False
            if not decoded:
                raise IngestError(f"{KIND_TEXT['not_video']}: no video frame could be decoded.", kind="not_video")
            for stream in container.streams:
                if stream.type not in ("video", "audio") or not stream.duration or not stream.time_base:
                    continue
                missing_s = float((stream.duration - ends.get(stream.index, 0)) * stream.time_base)
                if missing_s > TRUNCATION_TOLERANCE_S:
                    declared_s = float(stream.duration * stream.time_base)
                    raise IngestError(
                        f"{KIND_TEXT['not_video']}: the file is cut off ({stream.type} stops "
                        f"{missing_s:.2f} s before its declared {declared_s:.2f} s).", kind="incomplete")
    except IngestError:
        raise
    except Exception as exc:  # PyAV raises many FFmpeg error classes
        reason = getattr(exc, "strerror", None) or type(exc).__name__  # FFmpeg's reason, without the path
        raise IngestError(f"{KIND_TEXT['not_video']} ({_clean_detail(reason, 160)}).", kind="not_video") from None


class _Logger:
    """Collects yt-dlp's messages instead of printing them."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        self.warnings.append(_clean_detail(msg))

    def error(self, msg: str) -> None:
        self.errors.append(_clean_detail(msg))


@dataclass
class _Item:
    """Files of the item being downloaded, for the result and for cleanup on errors."""

    video_id: str
    title: str | None
    temp_path: Path
    final_path: Path
    info_path: Path | None
    subtitle_paths: list[Path]
    preexisting: set[Path]
    done_path: Path | None = None
    done_info: Path | None = None
    done_subs: list[Path] = field(default_factory=list)


class _Session:
    """One yt-dlp instance plus the state its hooks and post-processors share."""

    def __init__(self, *, to_dir: Path, archive: Path | None, cookies: Path | None, limit: int | None,
                 progress: ProgressCallback | None, cancel: threading.Event | None, retries: int,
                 socket_timeout_s: float, subtitles: bool = True) -> None:
        self.to_dir = to_dir
        self.partial_dir = to_dir / PARTIAL_DIRNAME
        self.archive = archive
        self.cookies = cookies
        self.limit = limit
        self.progress = progress
        self.cancel = cancel
        self.retries = max(0, int(retries))
        self.socket_timeout_s = socket_timeout_s
        self.subtitles = subtitles
        self.logger = _Logger()
        self.item: _Item | None = None
        self.items: list[_Item] = []
        self.ydl = self._make_ydl()

    # yt-dlp setup -------------------------------------------------------------------------------
    def _make_ydl(self):
        from yt_dlp import YoutubeDL

        def backoff(n: int) -> float:  # yt-dlp calls it as f(n=attempt), attempt counting from 0
            return min(RETRY_BACKOFF_CAP_S, RETRY_BACKOFF_S * (2 ** max(0, n)))

        params = {
            "format": FORMAT_SPEC,
            "paths": {"home": str(self.to_dir), "temp": str(self.partial_dir)},
            "outtmpl": {"default": OUTPUT_TEMPLATE},
            "restrictfilenames": True,
            "windowsfilenames": True,
            "trim_file_name": TRIM_FILE_NAME_CHARS,
            "writeinfojson": True,
            "clean_infojson": True,
            "writesubtitles": self.subtitles,
            "writeautomaticsub": self.subtitles,
            "download_archive": str(self.archive) if self.archive else None,
            "cookiefile": str(self.cookies) if self.cookies else None,
            "retries": self.retries,
            "fragment_retries": self.retries,
            "extractor_retries": self.retries,
            "file_access_retries": min(self.retries, 3),
            "retry_sleep_functions": {"http": backoff, "fragment": backoff, "extractor": backoff},
            "socket_timeout": self.socket_timeout_s,
            "quiet": True,
            "noprogress": True,
            "color": "no_color",
            "logger": self.logger,
            "progress_hooks": [self._hook],
            "ignoreerrors": False,
            "noplaylist": False,
            "continuedl": True,
            "nopart": False,
            "overwrites": None,
            "updatetime": False,
            "enable_file_urls": False,
            "consoletitle": False,
            "fixup": "warn",
        }
        if self.limit:
            params["playlist_items"] = f"1:{int(self.limit)}"
        ydl = YoutubeDL({k: v for k, v in params.items() if v is not None})
        pps = self._postprocessors()
        ydl.add_post_processor(pps["video"], when="video")
        ydl.add_post_processor(pps["post_process"], when="post_process")
        ydl.add_post_processor(pps["after_move"], when="after_move")
        return ydl

    def _postprocessors(self):
        from yt_dlp.postprocessor.common import PostProcessor
        from yt_dlp.utils import subtitles_filename

        session = self

        class GuardPP(PostProcessor):
            """Before anything of the item is written: check every path, drop unsafe subtitle names."""

            def run(self, info):
                ydl = self._downloader
                final = Path(ydl.prepare_filename(info))
                temp = Path(ydl.prepare_filename(info, "temp"))
                info_path = Path(ydl.prepare_filename(info, "infojson"))
                sub_base = ydl.prepare_filename(info, "subtitle")
                subs: list[Path] = []
                requested = info.get("requested_subtitles") or {}
                for lang in list(requested):
                    sub = requested[lang] or {}
                    ext = str(sub.get("ext") or "")
                    if not _SAFE_SUB_LANG.match(str(lang)) or ext.lower() not in _SAFE_SUB_EXTS:
                        session.logger.warning(f"Skipped subtitles with an unsafe language or type: {lang!r}")
                        del requested[lang]
                        continue
                    subs.append(Path(subtitles_filename(sub_base, lang, ext, info.get("ext"))))
                for path in (final, temp, info_path, *subs):
                    if not _inside(path, session.to_dir):
                        raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                if not _inside(temp, session.partial_dir):
                    raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                paths = [final, info_path, *subs]
                session.item = _Item(
                    video_id=str(info.get("id") or ""), title=_str_or_none(info.get("title")),
                    temp_path=temp, final_path=final, info_path=info_path, subtitle_paths=subs,
                    preexisting={p for p in paths if p.exists()})
                session.items.append(session.item)
                return [], info

        class CheckPP(PostProcessor):
            """After the download, still inside .byteme-partial: is it a complete video?"""

            def run(self, info):
                path = Path(info["filepath"])
                if not _inside(path, session.partial_dir) and not _inside(path, session.to_dir):
                    raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                check_video_file(path)
                return [], info

        class RecordPP(PostProcessor):
            """After the move into the library folder: remember what landed where."""

            def run(self, info):
                item = session.item
                path = Path(info["filepath"])
                if not _inside(path, session.to_dir):
                    raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                if item is not None:
                    item.done_path = path
                    infofn = info.get("infojson_filename")
                    item.done_info = Path(infofn) if infofn and Path(infofn).exists() else None
                    # requested_subtitles[...]["filepath"] still names the temporary copy: use the final names
                    item.done_subs = [p for p in item.subtitle_paths
                                      if p.is_file() and _inside(p, session.to_dir)]
                return [], info

        return {"video": GuardPP(), "post_process": CheckPP(), "after_move": RecordPP()}

    def _hook(self, status: dict) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise _CancelRequested()
        if self.progress is None or status.get("status") not in ("downloading", "finished"):
            return
        info = status.get("info_dict") or {}
        ident = str(info.get("id") or info.get("webpage_url") or "")
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        self.progress(ident, int(status.get("downloaded_bytes") or 0),
                      int(total) if total else None, status.get("speed"))

    # per-URL work -------------------------------------------------------------------------------
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _sleep_backoff(self, attempt: int) -> None:
        delay = min(RETRY_BACKOFF_CAP_S, RETRY_BACKOFF_S * (2 ** attempt))
        if self.cancel is not None:
            self.cancel.wait(delay)
        else:
            time.sleep(delay)

    def fetch_url(self, url: str) -> list[FetchResult]:
        try:
            url = check_url(url)
        except IngestError as err:
            return [FetchResult(url=url, status="error", error=_error_dict(err))]

        raw = None
        for attempt in range(self.retries + 1):
            if self.cancelled():
                return [_cancelled_result(url)]
            try:
                raw = self.ydl.extract_info(url, download=False, process=False)
                break
            except _CancelRequested:
                return [_cancelled_result(url)]
            except Exception as exc:  # yt-dlp raises many classes; all become a kind
                err = classify_error(exc)
                if err.kind in TRANSIENT_KINDS and attempt < self.retries and not self.cancelled():
                    self._sleep_backoff(attempt)
                    continue
                return [FetchResult(url=url, status="error", error=_error_dict(err))]
        if raw is None:
            return [FetchResult(url=url, status="skipped", title=None)]

        if raw.get("_type") in ("playlist", "multi_video"):
            results = []
            extra = {k: raw.get(k) for k in ("extractor", "extractor_key", "webpage_url", "webpage_url_basename",
                                             "webpage_url_domain") if raw.get(k) is not None}
            extra.update({"playlist": raw.get("title") or raw.get("id"), "playlist_id": raw.get("id"),
                          "playlist_title": raw.get("title")})
            for index, entry in enumerate(_limited(raw.get("entries"), self.limit), start=1):
                if self.cancelled():
                    results.append(_cancelled_result(url))
                    break
                if not isinstance(entry, dict):
                    continue
                entry_url = str(entry.get("webpage_url") or entry.get("url") or url)
                results.append(self._download(entry, entry_url, dict(extra, playlist_index=index)))
            if not results:
                results.append(FetchResult(url=url, status="error", error=_error_dict(IngestError(
                    KIND_TEXT["unsupported"] + ": the playlist is empty.", kind="unsupported"))))
            return results
        return [self._download(raw, url, None)]

    def _download(self, entry: dict, url: str, extra: dict | None) -> FetchResult:
        self.item = None
        self.logger.errors.clear()
        try:
            try:
                processed = self.ydl.process_ie_result(entry, download=True, extra_info=extra)
            except Exception as exc:
                if "unable to download video subtitles" in str(exc).lower() and self.subtitles:
                    # a broken subtitle track must not cost the clip: once more without subtitles
                    self._cleanup_item()
                    self.logger.warning(f"Subtitles skipped: {_clean_detail(exc)}")
                    fallback = _Session(to_dir=self.to_dir, archive=self.archive, cookies=self.cookies,
                                        limit=self.limit, progress=self.progress, cancel=self.cancel,
                                        retries=self.retries, socket_timeout_s=self.socket_timeout_s,
                                        subtitles=False)
                    try:
                        return fallback._download(entry, url, extra)
                    finally:
                        fallback.close()
                raise
        except _CancelRequested:
            self._cleanup_item()
            return _cancelled_result(url, self._title(entry))
        except KeyboardInterrupt:
            self._cleanup_item()
            raise
        except Exception as exc:
            self._cleanup_item()
            err = classify_error(exc)
            if err.kind == "no_formats" and _only_separate_streams(entry):
                err = IngestError(KIND_TEXT["needs_ffmpeg"] + ".", kind="needs_ffmpeg")
            return FetchResult(url=url, status="error", title=self._title(entry), error=_error_dict(err))
        finally:
            self._remove_empty_partial_dir()

        item = self.item
        if item is None or item.done_path is None:
            title = _str_or_none((processed or {}).get("title")) if isinstance(processed, dict) else None
            return FetchResult(url=url, status="skipped", title=title or self._title(entry))
        return FetchResult(url=url, status="ok", path=item.done_path, info_path=item.done_info,
                           subtitle_paths=list(item.done_subs), title=item.title)

    @staticmethod
    def _title(entry: dict) -> str | None:
        return _str_or_none(entry.get("title")) if isinstance(entry, dict) else None

    def _cleanup_item(self) -> None:
        """Delete what the current item left: partial files, and new files in the library folder."""
        item = self.item
        if item is None:
            return
        stem = item.temp_path.name.rsplit(".", 1)[0]
        candidates: list[Path] = []
        if self.partial_dir.is_dir():
            candidates += [p for p in self.partial_dir.iterdir() if p.name.startswith(stem)]
        candidates += [p for p in (item.final_path, item.info_path, *item.subtitle_paths)
                       if p is not None and p not in item.preexisting]
        for path in candidates:
            try:
                if path.is_file() and _inside(path, self.to_dir):
                    path.unlink()
            except OSError:
                pass
        self.item = None

    def _remove_empty_partial_dir(self) -> None:
        try:
            self.partial_dir.rmdir()  # only succeeds when empty
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.ydl.close()
        except Exception:
            pass


def _str_or_none(value) -> str | None:
    return value if isinstance(value, str) else None


def _cancelled_result(url: str, title: str | None = None) -> FetchResult:
    return FetchResult(url=url, status="error", title=title,
                       error={"kind": "cancelled", "message": KIND_TEXT["cancelled"] + "; partial files were removed."})


def _limited(entries, limit: int | None) -> Iterable:
    if entries is None:
        return []
    if hasattr(entries, "getslice"):  # yt-dlp PagedList
        return entries.getslice(0, limit) if limit else entries.getslice(0)
    return itertools.islice(entries, limit) if limit else entries


def _only_separate_streams(info: dict) -> bool:
    formats = info.get("formats") or []
    if not formats:
        return False
    video_only = any(f.get("vcodec") not in (None, "none") and f.get("acodec") == "none" for f in formats)
    audio_only = any(f.get("acodec") not in (None, "none") and f.get("vcodec") == "none" for f in formats)
    both = any(f.get("vcodec") != "none" and f.get("acodec") != "none" for f in formats)
    return video_only and audio_only and not both


def fetch(urls: list[str], *, to_dir: Path, limit: int | None = None, cookies: Path | None = None,
          archive: Path | None = None, progress: ProgressCallback | None = None,
          cancel: threading.Event | None = None, retries: int = DEFAULT_RETRIES,
          socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S) -> list[FetchResult]:
    """Download every URL into ``to_dir``; one :class:`FetchResult` per item (a playlist gives several).

    Never raises for a bad URL or a failed download (the result carries ``error``); raises
    :class:`IngestError` only for a folder or cookies file that cannot be used, and re-raises
    ``KeyboardInterrupt`` after removing the interrupted item's partial files.
    ``archive`` defaults to :func:`default_archive_path`. ``progress(id, downloaded_bytes, total_bytes,
    speed_bps)`` is called from the downloading thread; setting ``cancel`` stops the current download.
    """
    to_dir = Path(to_dir).expanduser()
    try:
        to_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IngestError(f"Cannot create the folder {to_dir}: {exc.strerror or exc}.", kind="disk") from None
    if not to_dir.is_dir():
        raise IngestError(f"{to_dir} is not a folder.", kind="disk")
    to_dir = to_dir.resolve()
    if limit is not None and int(limit) < 1:
        raise IngestError("--limit must be 1 or more.", kind="usage")
    archive = Path(archive).expanduser() if archive else default_archive_path()
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IngestError(f"Cannot create the folder for the download archive {archive.parent}: "
                          f"{exc.strerror or exc}.", kind="disk") from None

    cookie_copy = None
    if cookies is not None:
        cookies = Path(cookies).expanduser()
        if not cookies.is_file():
            raise IngestError(f"{KIND_TEXT['cookies']}: {cookies} does not exist or is not a file.", kind="cookies")
        # yt-dlp writes cookies back on close; work on a private copy so the user's file is never changed
        fd, name = tempfile.mkstemp(prefix="byteme-cookies-", suffix=".txt")
        os.close(fd)
        try:
            shutil.copyfile(cookies, name)
        except OSError as exc:
            os.unlink(name)
            raise IngestError(f"{KIND_TEXT['cookies']}: {exc.strerror or exc}.", kind="cookies") from None
        cookie_copy = Path(name)

    results: list[FetchResult] = []
    session = None
    try:
        try:
            session = _Session(to_dir=to_dir, archive=archive, cookies=cookie_copy, limit=limit,
                               progress=progress, cancel=cancel, retries=retries,
                               socket_timeout_s=socket_timeout_s)
        except Exception as exc:
            raise classify_error(exc) from None
        for url in urls:
            if session.cancelled():
                results.append(_cancelled_result(url))
                continue
            results.extend(session.fetch_url(url))
    finally:
        if session is not None:
            session.close()
            session._remove_empty_partial_dir()
        if cookie_copy is not None:
            cookie_copy.unlink(missing_ok=True)
    return results

def keep_engagement(results: list[FetchResult], store_path=None) -> None:
    """Save each download's engagement counts (from its .info.json) in the store, for ``byteme train``."""
    from .store import Store

    with_info = [r for r in results if r.status == "ok" and r.path is not None and r.info_path is not None]
    if not with_info:
        return
    store = Store(store_path or None)
    try:
        for r in with_info:
            counts = read_engagement(r.info_path)
            if counts.get("error") is None:
                store.set_engagement(r.path, counts)
    finally:
        store.close()
