"""``byteme tiktok sync``: every video of the signed-in account with its numbers, stored with the time they were
read, and matched to local clips.

Paging follows ``cursor``/``has_more`` of ``/v2/video/list/`` to the end (20 videos a page, TikTok's maximum);
each page is stored as soon as it is read, so a failure later keeps what came before. A video is matched to a
local clip by its TikTok id, found in

- yt-dlp's ``<clip>.info.json`` (``id``, with a TikTok extractor), or
- ``<clip>.tiktok.json``, which sync writes next to a clip it downloads itself from the video's ``share_url``
  (``--download``; yt-dlp's generic extractor may not name the file by the TikTok id), or
- an earlier reading in the store matched to a clip that still exists.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..media import VIDEO_EXTENSIONS
from ..textsafe import display_path, visible
from . import TikTokAuthError, TikTokError

SOURCE = "tiktok"
SIDECAR_SUFFIX = ".tiktok.json"
INFO_JSON_SUFFIX = ".info.json"
#: Pages followed at most: 5,000 x 20 = 100,000 videos, far above any single account's posts; a bound against a
#: server whose ``has_more`` never ends.
MAX_PAGES = 5000
#: Sidecars larger than this are not read (a yt-dlp .info.json of one TikTok video is 10-200 kB; ingest's bound).
MAX_SIDECAR_BYTES = 64 * 1024 * 1024
#: Points either side of a clip's overall score within which the creator's own clips count as "similar" in the
#: breakdown: 10 points is about one reward tier (the tiers in config.toml are 15 points apart).
SIMILAR_SCORE_WINDOW = 10.0
COUNT_KEYS = ("view_count", "like_count", "comment_count", "share_count")


@dataclass
class SyncOutcome:
    user: dict = field(default_factory=dict)
    videos: list = field(default_factory=list)  # the --json lines
    problems: list = field(default_factory=list)  # plain sentences (already escaped)
    complete: bool = True


def _count(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return v if isinstance(v, int) and v >= 0 else None


def _text(v, limit: int = 2200) -> str | None:
    return v[:limit] if isinstance(v, str) else None


def reading_from_video(v: dict, *, read_at: float, account: str) -> dict | None:
    """A store row from one video object of the API; None when it has no usable id."""
    if not isinstance(v, dict):
        return None
    vid = v.get("id")
    if isinstance(vid, int) and not isinstance(vid, bool):
        vid = str(vid)
    if not isinstance(vid, str) or not vid.strip() or len(vid) > 64:
        return None
    duration = v.get("duration")
    duration = float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) \
        and 0 <= duration < 1e6 else None
    create = _count(v.get("create_time"))
    share_url = v.get("share_url") if isinstance(v.get("share_url"), str) else None
    return {"source": SOURCE, "video_id": vid.strip(), "read_at": read_at,
            **{k: _count(v.get(k)) for k in COUNT_KEYS},
            "title": _text(v.get("title")) or _text(v.get("video_description")), "create_time": create,
            "duration_s": duration, "share_url": share_url, "account": account or None, "path": None}


def json_line(r: dict) -> dict:
    """The ``--json`` object of one reading (the issue's keys)."""
    return {"id": r["video_id"], "title": r["title"], "create_time": r["create_time"], "duration": r["duration_s"],
            **{k: r[k] for k in COUNT_KEYS}, "read_at": iso_time(r["read_at"]),
            "path": str(r["path"]) if r.get("path") else None}


def iso_time(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- matching ------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict | None:
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return None
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _clip_for(sidecar: Path, suffix: str) -> Path | None:
    stem = sidecar.name[: -len(suffix)]
    for ext in sorted(VIDEO_EXTENSIONS):
        cand = sidecar.with_name(stem + ext)
        if cand.is_file():
            return cand
    return None


def _is_tiktok(info: dict) -> bool:
    where = " ".join(str(info.get(k) or "") for k in ("extractor_key", "extractor", "webpage_url_domain",
                                                       "webpage_url"))
    return "tiktok" in where.lower()


def local_index(folder: Path) -> dict[str, Path]:
    """TikTok video id -> local clip, from the sidecars under ``folder`` (recursive; hidden folders skipped)."""
    index: dict[str, Path] = {}
    folder = Path(folder)
    if not folder.is_dir():
        return index
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if name.endswith(SIDECAR_SUFFIX):
                data = _read_json(path)
                vid = data.get("tiktok_id") if data else None
                suffix = SIDECAR_SUFFIX
            elif name.endswith(INFO_JSON_SUFFIX):
                data = _read_json(path)
                vid = data.get("id") if data and _is_tiktok(data) else None
                suffix = INFO_JSON_SUFFIX
            else:
                continue
            if isinstance(vid, int) and not isinstance(vid, bool):
                vid = str(vid)
            if not isinstance(vid, str) or not vid:
                continue
            clip = _clip_for(path, suffix)
            if clip is not None:
                index.setdefault(vid, clip)  # our own sidecar sorts after nothing in particular: first one wins
    return index


def write_sidecar(clip: Path, reading: dict) -> Path:
    """``<clip>.tiktok.json``: the TikTok id of a clip sync downloaded (so it matches again next time)."""
    side = clip.with_name(clip.stem + SIDECAR_SUFFIX)
    side.write_text(json.dumps({"tiktok_id": reading["video_id"], "account": reading.get("account"),
                                "share_url": reading.get("share_url"), "title": reading.get("title"),
                                "written_by": "byteme tiktok sync"}, ensure_ascii=False, indent=1),
                    encoding="utf-8")
    return side


# --- the sync ------------------------------------------------------------------------------------

def sync(client, store, *, to_dir: Path, download: bool = False, fetch: Callable | None = None,
         clock: Callable[[], float] = time.time, on_video: Callable[[dict], None] | None = None,
         log: Callable[[str], None] | None = None) -> SyncOutcome:
    """Read every video of the signed-in account, store each page's readings, match them to clips under
    ``to_dir`` (downloading the unmatched ones with ``fetch`` when ``download``). ``on_video(reading)`` is called
    for each video as it is stored. TikTokAuthError propagates (what was stored stays); other API errors end the
    paging with a problem noted and ``complete`` False. ``fetch`` is ``engine.ingest.fetch`` (passed in by the
    command, so this module sits beside ingest in the engine's layers, not above it)."""
    if download and fetch is None:
        raise TikTokError("A download needs a fetch function (engine.ingest.fetch).", kind="usage")
    log = log or (lambda s: None)
    out = SyncOutcome()
    user = client.user_info()
    out.user = {"open_id": user.get("open_id") if isinstance(user.get("open_id"), str) else "",
                "display_name": user.get("display_name") if isinstance(user.get("display_name"), str) else ""}
    to_dir = Path(to_dir)
    index = local_index(to_dir)
    from ..store import path_from_key

    known = {r["video_id"]: path_from_key(r["path"]) for r in store.latest_readings(SOURCE) if r.get("path")}
    cursor = None
    seen_cursors: set = set()
    skipped = 0
    for _page in range(MAX_PAGES):
        try:
            page = client.list_videos(cursor)
        except TikTokAuthError:
            raise
        except TikTokError as exc:
            return _stopped(out, exc)
        read_at = clock()
        videos = page.get("videos")
        if not isinstance(videos, list):
            videos = []
            if page.get("has_more"):
                out.problems.append("TikTok sent a page without its video list; stopped there.")
                out.complete = False
                return out
        readings = []
        for v in videos:
            r = reading_from_video(v, read_at=read_at, account=out.user["open_id"])
            if r is None:
                skipped += 1
                continue
            r["path"] = _match(r, index, known, to_dir, download, fetch, out, log)
            readings.append(r)
        store.add_readings(readings)
        for r in readings:
            out.videos.append(json_line(r))
            if on_video:
                on_video(r)
        if page.get("has_more") is not True:
            break
        nxt = page.get("cursor")
        if isinstance(nxt, bool) or not isinstance(nxt, (int, str)) or nxt in seen_cursors or nxt == cursor:
            out.problems.append("TikTok's paging did not move on (the same or no cursor); stopped there.")
            out.complete = False
            break
        seen_cursors.add(nxt)
        cursor = nxt
    else:
        out.problems.append(f"Stopped after {MAX_PAGES} pages (the most sync follows).")
        out.complete = False
    if skipped:
        out.problems.append(f"{skipped} video object(s) without a usable id were left out.")
        out.complete = False
    return out


def _match(r: dict, index: dict, known: dict, to_dir: Path, download: bool, fetch, out: SyncOutcome, log):
    vid = r["video_id"]
    if vid in index:
        return index[vid]
    old = known.get(vid)
    if old is not None and old.is_file():
        return old
    if not download:
        return None
    if not r.get("share_url"):
        out.problems.append(f"Video {visible(vid)} has no share_url; it was not downloaded.")
        out.complete = False
        return None
    log(f"downloading {visible(vid)} from {visible(r['share_url'])}")
    results = fetch([r["share_url"]], to_dir=to_dir)
    ok = next((x for x in results if x.status == "ok" and x.path is not None), None)
    if ok is None:
        first = results[0] if results else None
        if first is not None and first.status == "skipped":
            why = "it is in the download archive (downloaded before), but no clip under the folder has its id"
        else:
            err = (first.error or {}) if first is not None else {}
            why = f"[{visible(err.get('kind', 'download'))}] {visible(err.get('message', 'no file'))}"
        out.problems.append(f"Video {visible(vid)} was not downloaded: {why}.")
        out.complete = False
        return None
    path = Path(ok.path)
    try:
        write_sidecar(path, r)
    except OSError as exc:
        out.problems.append(f"Could not write the TikTok id next to {display_path(path)}: {visible(exc.strerror)}.")
    index[vid] = path
    return path


def _stopped(out: SyncOutcome, exc: TikTokError) -> SyncOutcome:
    """An API error (not an expired sign-in, which propagates) ends the reading: said, and the outcome incomplete."""
    out.problems.append(f"Stopped after {len(out.videos)} video(s): {exc.message}")
    out.complete = False
    return out


def refresh_known(client, store, *, clock: Callable[[], float] = time.time,
                  on_video: Callable[[dict], None] | None = None) -> SyncOutcome:
    """New numbers for the videos the store already knows, by id (``/v2/video/query/``, 20 ids a request),
    without paging through the whole list. Keeps each video's matched clip."""
    out = SyncOutcome()
    known = store.latest_readings(SOURCE)
    by_id = {r["video_id"]: r for r in known}
    ids = list(by_id)
    from .client import MAX_PAGE

    for i in range(0, len(ids), MAX_PAGE):
        try:
            videos = client.query_videos(ids[i:i + MAX_PAGE])
        except TikTokAuthError:
            raise
        except TikTokError as exc:
            return _stopped(out, exc)
        read_at = clock()
        readings = []
        for v in videos if isinstance(videos, list) else []:
            r = reading_from_video(v, read_at=read_at, account=by_id.get(str(v.get("id")), {}).get("account") or "")
            if r is None or r["video_id"] not in by_id:
                continue
            old = by_id[r["video_id"]]
            r["path"] = old.get("path")
            r["title"] = r["title"] or old.get("title")
            readings.append(r)
        store.add_readings(readings)
        for r in readings:
            out.videos.append(json_line(r))
            if on_video:
                on_video(r)
    return out


# --- what the numbers say ------------------------------------------------------------------------

def like_rate(r: dict) -> float | None:
    views, likes = r.get("view_count"), r.get("like_count")
    return likes / views if isinstance(views, int) and views > 0 and isinstance(likes, int) else None


def similar_score_performance(pairs, overall: float | None, *, window: float = SIMILAR_SCORE_WINDOW) -> dict | None:
    """How the creator's own clips whose overall score is within ``window`` points of ``overall`` performed.

    ``pairs``: (overall score, reading) of the creator's synced clips (leave the clip itself out). Returns
    ``{"n", "low", "high", "median_views", "median_like_rate"}`` or None when no clip is that close."""
    if overall is None or not math.isfinite(overall):
        return None
    near = [r for s, r in pairs if s is not None and abs(s - overall) <= window]
    views = [r["view_count"] for r in near if isinstance(r.get("view_count"), int)]
    rates = [x for x in (like_rate(r) for r in near) if x is not None]
    if not near or not views:
        return None
    return {"n": len(near), "low": max(0.0, overall - window), "high": min(100.0, overall + window),
            "median_views": statistics.median(views), "median_like_rate": statistics.median(rates) if rates else None}


def short_count(n: float | None) -> str:
    """12345 -> '12.3k', 1234567 -> '1.2M' (for narrow columns)."""
    if n is None:
        return "-"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"
