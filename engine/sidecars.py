"""Read the text that travels with a clip: caption sidecars, yt-dlp ``.info.json``, subtitle files and streams,
container tags. Everything here is offline, bounded in size, and never raises for a bad file: a reader returns
what it could read plus a list of ``Problem`` (a kind and a plain sentence) for the files it could not.

Text is returned as data, exactly as written (markup such as ``[bold]`` or ``<b>`` inside a caption, and
terminal control characters, are kept); the only things removed are the formatting tags of the subtitle formats
themselves (``<i>`` in SRT/VTT, ``{\\i1}`` in ASS). Code that prints any of it must go through
``engine.textsafe.visible``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

#: Caption sidecar suffixes, in the order they are looked for (``clip.txt`` next to ``clip.mp4``).
CAPTION_SUFFIXES = (".txt", ".caption", ".md")
#: Captions longer than this are cut before analysis. TikTok allows 4,000 characters (its upload form); anything
#: much bigger is not a caption but a mistake, and must not cost memory or time.
MAX_CAPTION_CHARS = 10_000
#: Bytes read from a caption sidecar at most (UTF-8 needs up to 4 bytes a character).
MAX_CAPTION_BYTES = MAX_CAPTION_CHARS * 4
#: Subtitle files larger than this are read only up to this size (a 3-minute clip's subtitles are a few kB).
MAX_SUBTITLE_BYTES = 2 * 1024 * 1024
#: At most this many subtitle cues are kept per clip (one every 0.1 s for 10 minutes).
MAX_CUES = 6000
#: Characters kept per subtitle cue or tag value.
MAX_CUE_CHARS = 2000
#: Subtitle sidecar suffixes (yt-dlp writes ``<name>.<lang>.vtt``; editors write ``<name>.srt``).
SUBTITLE_SUFFIXES = (".vtt", ".srt")
#: Container tags that carry words about the clip (not encoder names or dates).
TEXT_TAGS = ("title", "comment", "description", "synopsis", "keywords", "subject")
#: Language part of a yt-dlp subtitle name (``clip.en.vtt``, ``clip.pt-BR.srt``, ``clip.live_chat.json``).
_LANG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


@dataclass
class Problem:
    """A sidecar or stream that could not be read: ``kind`` (not_found, unreadable, malformed, too_large,
    truncated) and a plain sentence naming the file."""

    kind: str
    message: str
    source: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "source": self.source}


def _decode(raw: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM), else UTF-16 when a BOM says so; undecodable bytes become U+FFFD."""
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")


def _read_head(path: Path, limit: int) -> tuple[bytes | None, bool, Problem | None]:
    """(first ``limit`` bytes, whether the file is longer, problem)."""
    try:
        if path.exists() and not path.is_file():  # a pipe would block open() forever
            return None, False, Problem("unreadable", f"{path.name} is not a regular file.", path.name)
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except IsADirectoryError:
        return None, False, Problem("unreadable", f"{path.name} is a folder, not a text file.", path.name)
    except PermissionError:
        return None, False, Problem("unreadable", f"{path.name} cannot be read: permission denied.", path.name)
    except OSError as exc:
        return None, False, Problem("unreadable", f"{path.name} cannot be read: {exc.strerror or exc}.", path.name)
    return raw[:limit], len(raw) > limit, None


# --- captions ------------------------------------------------------------------------------------------------


@dataclass
class Caption:
    text: str | None
    source: str | None  # file name, "<name>.info.json description", or "container description tag"
    looked: list  # names looked at, in order
    truncated: bool = False


def caption_candidates(clip: Path) -> list[Path]:
    """The sidecar files a caption is looked for in, in order."""
    return [clip.with_suffix(s) for s in CAPTION_SUFFIXES]


def read_caption_sidecar(clip: Path) -> tuple[Caption, list[Problem]]:
    """The first caption sidecar next to ``clip`` (``.txt``, ``.caption``, ``.md``); cut to ``MAX_CAPTION_CHARS``."""
    problems: list[Problem] = []
    looked = []
    for side in caption_candidates(clip):
        looked.append(side.name)
        if not side.exists():
            continue
        raw, longer, problem = _read_head(side, MAX_CAPTION_BYTES)
        if problem is not None:
            problems.append(problem)
            continue
        text = _decode(raw)
        truncated = longer or len(text) > MAX_CAPTION_CHARS
        return Caption(text[:MAX_CAPTION_CHARS], side.name, looked, truncated), problems
    return Caption(None, None, looked), problems


# --- yt-dlp .info.json ---------------------------------------------------------------------------------------

#: .info.json files larger than this are not read (yt-dlp's are usually < 1 MB even with all formats).
MAX_INFO_JSON_BYTES = 64 * 1024 * 1024

ENGAGEMENT_KEYS = ("view_count", "like_count", "comment_count", "repost_count", "uploader", "upload_date",
                   "duration", "title", "description", "tags")
_COUNT_KEYS = ("view_count", "like_count", "comment_count", "repost_count")


def read_engagement(info_json_path: str | os.PathLike) -> dict:
    """Read engagement numbers and text from a yt-dlp ``.info.json`` sidecar.

    Returns a dict with every key of ``ENGAGEMENT_KEYS`` (``None`` when missing or of the wrong type; counts
    are non-negative ints, ``duration`` seconds as float, ``upload_date`` "YYYYMMDD", ``tags`` a list of str)
    plus ``error``: ``None``, or ``{"kind", "message"}`` saying why nothing could be read. Never raises.
    """
    out: dict = {key: None for key in ENGAGEMENT_KEYS}
    out["tags"] = []
    out["error"] = None
    path = Path(info_json_path)

    def fail(kind: str, message: str) -> dict:
        out["error"] = {"kind": kind, "message": message}
        return out

    try:
        size = path.stat().st_size
        if not path.is_file():
            return fail("not_a_file", f"{path.name} is not a file.")
        if size > MAX_INFO_JSON_BYTES:
            return fail("too_large", f"{path.name} is {size} bytes; sidecars above {MAX_INFO_JSON_BYTES} are not read.")
        raw = path.read_bytes()
    except FileNotFoundError:
        return fail("not_found", f"No metadata file at {path}.")
    except OSError as exc:
        return fail("unreadable", f"Could not read {path.name}: {exc.strerror or exc}.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return fail("malformed", f"{path.name} is not valid JSON ({type(exc).__name__}).")
    if not isinstance(data, dict):
        return fail("malformed", f"{path.name} holds a JSON {type(data).__name__}, not an object.")

    for key in _COUNT_KEYS:
        value = data.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and value >= 0:
            out[key] = value
    for key in ("uploader", "title", "description"):
        value = data.get(key)
        if isinstance(value, str):
            out[key] = value
    if out["uploader"] is None and isinstance(data.get("channel"), str):
        out["uploader"] = data["channel"]
    date = data.get("upload_date")
    if isinstance(date, str) and re.fullmatch(r"\d{8}", date):
        out["upload_date"] = date
    duration = data.get("duration")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and 0 <= duration < 1e9:
        out["duration"] = float(duration)
    tags = data.get("tags")
    if isinstance(tags, list):
        out["tags"] = [t for t in tags if isinstance(t, str)]
    return out



def info_json_path(clip: Path) -> Path:
    """``clip.info.json`` for ``clip.mp4`` (yt-dlp's ``--write-info-json`` naming)."""
    return clip.with_suffix(".info.json")


def read_info_json(clip: Path) -> tuple[dict | None, list[Problem]]:
    """Title, description, tags, uploader, duration and view/like/comment/repost counts from ``clip.info.json``.

    Returns (None, []) when there is no such file; (fields, [problem]) when it is malformed (fields then hold
    only ``None``s). Text fields are cut to ``MAX_CAPTION_CHARS``.
    """
    path = info_json_path(clip)
    if not path.exists():
        return None, []
    data = read_engagement(path)
    error = data.pop("error", None)
    for key in ("title", "description", "uploader"):
        if isinstance(data.get(key), str):
            data[key] = data[key][:MAX_CAPTION_CHARS]
    data["tags"] = [t[:MAX_CUE_CHARS] for t in data.get("tags") or []][:500]
    data["source"] = path.name
    if error:
        return data, [Problem(error.get("kind", "malformed"), error.get("message", f"{path.name} is unreadable."),
                              path.name)]
    return data, []


# --- subtitles -----------------------------------------------------------------------------------------------

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})"
_CUE_TIMING = re.compile(_TIME + r"\s*-->\s*" + _TIME)
#: Formatting tags of SRT (<i> <b> <u> <font ...>) and WebVTT (<c.x> <v Name> <lang xx> <ruby> <rt> <00:00:01.000>).
_FORMAT_TAG = re.compile(r"</?(?:i|b|u|s|c|v|lang|ruby|rt|font)(?:[.\s][^<>]*)?>|<\d{1,2}:\d{2}(?::\d{2})?[.,]\d{1,3}>",
                         re.IGNORECASE)
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")


def _seconds(h, m, s, ms) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000.0


def clean_cue(text: str) -> str:
    """A cue's words without the subtitle format's own formatting tags; everything else is kept as written."""
    text = _FORMAT_TAG.sub("", text)
    text = _ASS_OVERRIDE.sub("", text).replace("\\N", "\n").replace("\\n", "\n")
    return text.strip()[:MAX_CUE_CHARS]


def parse_subtitles(text: str) -> tuple[list[list], int]:
    """Cues of an SRT or WebVTT document: ([[start_s, end_s, text], ...], blocks that could not be read).

    Blocks are separated by blank lines; a block is a cue when one of its lines is a timing line
    ``00:00:01,000 --> 00:00:02,500`` (hours optional, ``,`` or ``.``); the lines after it are the text. WebVTT
    headers, NOTE, STYLE and REGION blocks are skipped. A block without a timing line that is not one of those
    counts as unreadable.
    """
    cues: list[list] = []
    bad = 0
    blocks = re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    for block in blocks:
        lines = [ln for ln in block.split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            continue
        head = lines[0].strip()
        if head.startswith("WEBVTT") or head.startswith(("NOTE", "STYLE", "REGION")) or head.startswith("X-TIMESTAMP"):
            continue
        for i, line in enumerate(lines[:3]):
            m = _CUE_TIMING.search(line)
            if m:
                start = _seconds(*m.groups()[:4])
                end = _seconds(*m.groups()[4:])
                words = clean_cue("\n".join(lines[i + 1:]))
                if end >= start and words:
                    cues.append([round(start, 3), round(end, 3), words])
                elif end < start:
                    bad += 1
                break
        else:
            bad += 1
        if len(cues) >= MAX_CUES:
            break
    cues.sort(key=lambda c: (c[0], c[1]))
    return cues, bad


def fingerprint(clip: Path) -> str:
    """A short text that changes when any sidecar of ``clip`` (caption, .info.json, subtitles) appears, disappears
    or is edited: the store keys cached features by it, so an edited caption is analysed again."""
    import hashlib

    clip = Path(clip)
    h = hashlib.blake2b(digest_size=8)
    candidates = [*caption_candidates(clip), clip.with_suffix(".info.json"), *subtitle_sidecars(clip)]
    for p in candidates:
        try:
            st = p.stat()
        except OSError:
            continue
        if not p.is_file():
            continue
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def subtitle_sidecars(clip: Path) -> list[Path]:
    """Subtitle files next to ``clip``: ``clip.vtt``/``clip.srt`` and yt-dlp's ``clip.<lang>.vtt``, sorted."""
    found = []
    for s in SUBTITLE_SUFFIXES:
        p = clip.with_suffix(s)
        if p.exists():
            found.append(p)
    try:
        siblings = sorted(os.scandir(clip.parent), key=lambda e: e.name)
    except OSError:
        return found
    prefix = clip.stem + "."
    for entry in siblings:
        name = entry.name
        if not name.startswith(prefix) or not name.lower().endswith(SUBTITLE_SUFFIXES):
            continue
        middle = name[len(prefix):].rsplit(".", 1)[0]
        if _LANG.match(middle):
            p = Path(entry.path)
            if p not in found:
                found.append(p)
    return found


def read_subtitle_file(path: Path) -> tuple[list[list], list[Problem]]:
    """Cues of one ``.vtt``/``.srt`` file; a problem when it holds no readable cue or was cut."""
    raw, longer, problem = _read_head(path, MAX_SUBTITLE_BYTES)
    if problem is not None:
        return [], [problem]
    cues, bad = parse_subtitles(_decode(raw))
    problems = []
    if longer:
        problems.append(Problem("too_large", f"{path.name} is larger than {MAX_SUBTITLE_BYTES // (1024 * 1024)} MB; "
                                             "only its beginning was read.", path.name))
    if not cues and (raw.strip() or bad):
        problems.append(Problem("malformed", f"{path.name} holds no subtitle cue that could be read "
                                             "(expected SRT or WebVTT timing lines like 00:00:01,000 --> 00:00:02,000).",
                                path.name))
    elif bad:
        problems.append(Problem("malformed", f"{path.name}: {bad} block(s) without a readable timing line were skipped.",
                                path.name))
    return cues, problems


def read_embedded_subtitles(clip: Path, *, max_duration_s: float | None = None) -> tuple[list[list], list[Problem]]:
    """Cues of every text subtitle stream in the container (mov_text, subrip, webvtt, ass), via PyAV.

    Only subtitle packets are demuxed (video and audio packets are skipped without decoding). Bitmap subtitles
    (DVD/PGS) carry pictures, not text: they are reported, not read.
    """
    import av

    cues: list[list] = []
    problems: list[Problem] = []
    try:
        container = av.open(str(clip), metadata_errors="replace")
    except Exception as exc:  # the media probe reports unreadable files; here it only means "no subtitles"
        return [], [Problem("unreadable", f"Subtitle streams of {clip.name} could not be read: {type(exc).__name__}.",
                            clip.name)]
    try:
        streams = list(container.streams.subtitles)
        text_streams = [s for s in streams if s.codec_context.name in ("mov_text", "subrip", "srt", "webvtt", "ass",
                                                                       "ssa", "text")]
        for s in streams:
            if s not in text_streams:
                problems.append(Problem("unsupported", f"{clip.name} has a {s.codec_context.name} subtitle stream "
                                                       "(pictures, not text); it was not read.", clip.name))
        if not text_streams:
            return [], problems
        try:
            for pkt in container.demux(*text_streams):
                if pkt.size == 0 or pkt.pts is None:
                    continue
                tb = float(pkt.time_base)
                start = pkt.pts * tb
                if max_duration_s is not None and start > max_duration_s:
                    continue
                end = start + (pkt.duration or 0) * tb
                try:
                    decoded = pkt.decode()
                except av.error.FFmpegError:
                    problems.append(Problem("malformed", f"A subtitle packet of {clip.name} at {start:.1f} s could "
                                                         "not be decoded.", clip.name))
                    continue
                for sub in decoded:
                    for rect in ([sub] if hasattr(sub, "dialogue") else list(sub)):
                        raw = getattr(rect, "dialogue", None) or getattr(rect, "text", None) or b""
                        words = clean_cue(raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw))
                        if words:
                            cues.append([round(start, 3), round(max(end, start), 3), words])
                if len(cues) >= MAX_CUES:
                    break
        except av.error.FFmpegError as exc:
            problems.append(Problem("malformed", f"Subtitle streams of {clip.name} stop early: {exc}.", clip.name))
    finally:
        container.close()
    cues.sort(key=lambda c: (c[0], c[1]))
    return cues, problems


def text_tags(metadata: dict) -> dict:
    """Container tags that carry words about the clip (title, comment, description, ...), cut to a safe length.

    Tags written by encoders (``encoder``, ``major_brand``, ...) are left out; so is a ``comment`` that only names
    the tool that wrote the file (``Lavf...``, ``vid:...`` ids)."""
    out = {}
    lower = {str(k).lower(): v for k, v in (metadata or {}).items()}
    for key in TEXT_TAGS:
        v = lower.get(key)
        if not isinstance(v, str) or not v.strip():
            continue
        if key == "comment" and re.fullmatch(r"(Lavf|Lavc|vid:|x264|Created with)\S*.*", v.strip(), re.IGNORECASE):
            continue
        out[key] = v[:MAX_CAPTION_CHARS]
    return out
