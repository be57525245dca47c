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
  to the duration the container declares. The ``.info.json`` is written there too and moved beside the video
  right after it. On an error or a cancel the item's leftovers are deleted; a killed process can leave only
  files inside ``.byteme-partial`` (library scanners skip dot-folders).
- no name starts with a dot (a title like ``../../.x`` would make a hidden file the scan skips): see
  :func:`visible_file_name`.
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

The package, by job: ``urls`` (which addresses are fetched), ``errors`` (error kinds and their plain words),
``names`` (file names, subtitle name parts, paths inside the folder), ``partial`` (the hidden partial folder and
cleanup), ``verify`` (a complete video?), ``session`` (the yt-dlp session and ``fetch``), ``engagement`` (counts
kept in the store).
"""
from ..sidecars import read_engagement
from .engagement import keep_engagement
from .errors import KIND_TEXT, TRANSIENT_KINDS, classify_error
from .names import OUTPUT_TEMPLATE, TRIM_FILE_NAME_CHARS, VISIBLE_NAME_PREFIX, visible_file_name
from .partial import PARTIAL_DIRNAME
from .session import (ARCHIVE_FILENAME, DEFAULT_RETRIES, DEFAULT_SOCKET_TIMEOUT_S, FORMAT_SPEC, RETRY_BACKOFF_CAP_S,
                      FetchResult, ProgressCallback, default_archive_path, fetch)
from .urls import check_url
from .verify import TRUNCATION_TOLERANCE_S, check_video_file

__all__ = ["ARCHIVE_FILENAME", "DEFAULT_RETRIES", "DEFAULT_SOCKET_TIMEOUT_S", "FORMAT_SPEC", "KIND_TEXT",
           "OUTPUT_TEMPLATE", "PARTIAL_DIRNAME", "RETRY_BACKOFF_CAP_S", "TRANSIENT_KINDS", "TRIM_FILE_NAME_CHARS",
           "TRUNCATION_TOLERANCE_S", "VISIBLE_NAME_PREFIX", "FetchResult", "ProgressCallback", "check_url",
           "check_video_file", "classify_error", "default_archive_path", "fetch", "keep_engagement",
           "read_engagement", "visible_file_name"]
