"""The yt-dlp session: one YoutubeDL with BYTEME's options, hooks and post-processors (paths checked before
anything is written, the video verified inside the partial folder, the .info.json moved after the video), retries
with backoff, cancel, playlists; and ``fetch``, the entry point. See ``engine/ingest/__init__.py``.
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import IngestError
from ..paths import data_dir
from .errors import KIND_TEXT, TRANSIENT_KINDS, classify_error, clean_detail, error_dict
from .names import OUTPUT_TEMPLATE, SAFE_SUB_EXTS, SAFE_SUB_LANG, TRIM_FILE_NAME_CHARS, is_inside, visible_file_name
from .partial import PARTIAL_DIRNAME, Item, remove_if_empty, remove_item_files
from .urls import check_url
from .verify import check_video_file

#: Format choice without an ffmpeg program: ``best`` = a single file holding video *and* audio. Heights
#: are capped at 1080 px (issue 9: "a single progressive file at up to 1080p"); ``<=?`` also accepts
#: formats whose height the site does not state (direct links). The last ``best`` takes a larger file
#: rather than nothing.
FORMAT_SPEC = "best[ext=mp4][height<=?1080]/best[height<=?1080]/best"

ARCHIVE_FILENAME = "download-archive.txt"

DEFAULT_RETRIES = 3
#: Backoff between retries: RETRY_BACKOFF_S * 2**attempt, capped (common exponential-backoff practice).
RETRY_BACKOFF_S = 1.0
RETRY_BACKOFF_CAP_S = 30.0
#: Socket timeout: yt-dlp's own default is 20 s.
DEFAULT_SOCKET_TIMEOUT_S = 20.0

ProgressCallback = Callable[[str, int, "int | None", "float | None"], None]


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


class _CancelRequested(Exception):
    """Raised from the progress hook when the cancel event is set (not an OSError: yt-dlp must not catch it)."""


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
        self.warnings.append(clean_detail(msg))

    def error(self, msg: str) -> None:
        self.errors.append(clean_detail(msg))




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
        self.item: Item | None = None
        self.items: list[Item] = []
        self.ydl = self._make_ydl()

    # yt-dlp setup -------------------------------------------------------------------------------
    def _make_ydl(self):
        from yt_dlp import YoutubeDL

        class VisibleNamesYDL(YoutubeDL):
            """Every name yt-dlp makes (video, temp, .info.json, subtitles) without a leading dot: a title such as
            ".x" or "../../x" must not give a hidden file that the scan, the app and ``watch`` skip."""

            def prepare_filename(self, info_dict, dir_type="", **kwargs):
                name = super().prepare_filename(info_dict, dir_type, **kwargs)
                return visible_file_name(name) if name and name != "-" else name

        def backoff(n: int) -> float:  # yt-dlp calls it as f(n=attempt), attempt counting from 0
            return min(RETRY_BACKOFF_CAP_S, RETRY_BACKOFF_S * (2 ** max(0, n)))

        params = {
            "format": FORMAT_SPEC,
            # The .info.json is written in the partial folder too (yt-dlp writes it before the download) and moved
            # beside the video after the video's own move: a process killed mid-download leaves nothing in to_dir.
            "paths": {"home": str(self.to_dir), "temp": str(self.partial_dir), "infojson": str(self.partial_dir)},
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
        ydl = VisibleNamesYDL({k: v for k, v in params.items() if v is not None})
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
                    if not SAFE_SUB_LANG.match(str(lang)) or ext.lower() not in SAFE_SUB_EXTS:
                        session.logger.warning(f"Skipped subtitles with an unsafe language or type: {lang!r}")
                        del requested[lang]
                        continue
                    subs.append(Path(subtitles_filename(sub_base, lang, ext, info.get("ext"))))
                for path in (final, temp, info_path, *subs):
                    if not is_inside(path, session.to_dir):
                        raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                if not is_inside(temp, session.partial_dir):
                    raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                if not is_inside(info_path, session.partial_dir):
                    raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                final_info = final.parent / info_path.name
                paths = [final, final_info, *subs]
                session.item = Item(
                    video_id=str(info.get("id") or ""), title=_str_or_none(info.get("title")),
                    temp_path=temp, final_path=final, info_path=final_info, subtitle_paths=subs,
                    preexisting={p for p in paths if p.exists()})
                session.items.append(session.item)
                return [], info

        class CheckPP(PostProcessor):
            """After the download, still inside .byteme-partial: is it a complete video?"""

            def run(self, info):
                path = Path(info["filepath"])
                if not is_inside(path, session.partial_dir) and not is_inside(path, session.to_dir):
                    raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                check_video_file(path)
                return [], info

        class RecordPP(PostProcessor):
            """After the move into the library folder: remember what landed where."""

            def run(self, info):
                item = session.item
                path = Path(info["filepath"])
                if not is_inside(path, session.to_dir):
                    raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                if item is not None:
                    item.done_path = path
                    infofn = info.get("infojson_filename")
                    item.done_info = None
                    if infofn and Path(infofn).is_file() and item.info_path is not None:
                        if not is_inside(item.info_path, session.to_dir):
                            raise IngestError(KIND_TEXT["unsafe_path"] + ".", kind="unsafe_path")
                        os.replace(infofn, item.info_path)  # one rename, after the video's: never half there
                        info["infojson_filename"] = str(item.info_path)
                        item.done_info = item.info_path
                    # requested_subtitles[...]["filepath"] still names the temporary copy: use the final names
                    item.done_subs = [p for p in item.subtitle_paths
                                      if p.is_file() and is_inside(p, session.to_dir)]
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
            return [FetchResult(url=url, status="error", error=error_dict(err))]

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
                return [FetchResult(url=url, status="error", error=error_dict(err))]
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
                results.append(FetchResult(url=url, status="error", error=error_dict(IngestError(
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
                    self.logger.warning(f"Subtitles skipped: {clean_detail(exc)}")
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
            return FetchResult(url=url, status="error", title=self._title(entry), error=error_dict(err))
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
        if self.item is not None:
            remove_item_files(self.item, self.partial_dir, self.to_dir)
        self.item = None

    def _remove_empty_partial_dir(self) -> None:
        remove_if_empty(self.partial_dir)

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
