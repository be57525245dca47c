"""SQLite store: the one source of truth for clips, extracted features, results (and the job queue's tables).

WAL mode with a busy timeout, so the TUI, ``byteme score`` and worker processes can share one file; every write
starts with ``BEGIN IMMEDIATE``. Features are keyed by content hash + engine version (an unchanged clip is never
decoded twice); results by content hash + the clip's path key + engine version + model + config hash (a new model
or a config change recomputes scores from the cached features, without decoding; two copies of one video with
different caption sidecars each keep their own result). A store written before results carried the path is
migrated when it is opened (``migrate_results``).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import sqlite3
import stat
import time
from dataclasses import asdict
from pathlib import Path

from .build import features_build, results_build
from .errors import StoreError
from .features import FeatureVector
from .feedback import Finding
from .media import MediaInfo
from .paths import data_dir
from .result import ClipResult
from .scorer import Scores
from .textsafe import display_path

BUSY_TIMEOUT_MS = 30_000
#: Bytes read from each of the start, middle and end of a file for its content hash: enough to tell clips apart
#: (their headers, first and last frames differ) without reading gigabytes.
HASH_CHUNK_BYTES = 1 << 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    path TEXT PRIMARY KEY,
    content_hash TEXT,
    size_bytes INTEGER,
    mtime_ns INTEGER,
    last_error TEXT,
    engagement TEXT,
    updated_at REAL
);
CREATE INDEX IF NOT EXISTS clips_hash ON clips(content_hash);
CREATE TABLE IF NOT EXISTS features (
    content_hash TEXT NOT NULL,
    engine_version TEXT NOT NULL,
    media TEXT NOT NULL,
    features TEXT NOT NULL,
    created_at REAL,
    PRIMARY KEY (content_hash, engine_version)
);
CREATE TABLE IF NOT EXISTS results (
    content_hash TEXT NOT NULL,
    path TEXT NOT NULL,
    engine_version TEXT NOT NULL,
    model TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at REAL,
    PRIMARY KEY (content_hash, path, engine_version, model, config_hash)
);
"""
#: Engagement read from a platform, one row per video per reading (``byteme tiktok sync``): the numbers with the
#: time they were read, so growth over time is kept; ``path`` is the local clip it was matched to (a ``path_key``)
#: or NULL. Added after the first stores were written: ``migrate_engagement_readings`` creates it in an old store.
ENGAGEMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS engagement_readings (
    source TEXT NOT NULL,
    video_id TEXT NOT NULL,
    read_at REAL NOT NULL,
    view_count INTEGER,
    like_count INTEGER,
    comment_count INTEGER,
    share_count INTEGER,
    title TEXT,
    create_time INTEGER,
    duration_s REAL,
    share_url TEXT,
    account TEXT,
    path TEXT,
    PRIMARY KEY (source, video_id, read_at)
);
CREATE INDEX IF NOT EXISTS engagement_readings_path ON engagement_readings(path);
"""
READING_COLUMNS = ("source", "video_id", "read_at", "view_count", "like_count", "comment_count", "share_count",
                   "title", "create_time", "duration_s", "share_url", "account", "path")
#: The columns of ``results`` in the order of ``SCHEMA`` (``put_result`` inserts them by name).
RESULT_COLUMNS = ("content_hash", "path", "engine_version", "model", "config_hash", "result", "created_at")


#: SQLite allows 999 host parameters per statement in old builds; stay under it.
SQL_CHUNK = 500


def default_store_path() -> Path:
    env = os.environ.get("BYTEME_STORE")
    if env:
        return Path(env)
    return data_dir() / "byteme.sqlite3"


def _utf8_or_replacement(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def connect(path: str | os.PathLike) -> sqlite3.Connection:
    """A connection in WAL mode with a busy timeout; autocommit (transactions are explicit)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Text is written as UTF-8 by this code; bytes damaged on disk read as U+FFFD instead of raising in the middle of a
    # query (a damaged row then fails to parse and counts as not stored).
    conn.text_factory = _utf8_or_replacement
    # Switching a database to WAL (its first open, or a store written without it) needs a lock that SQLite does not
    # wait for (no busy timeout): when another process opens it at the same moment, retry within the timeout.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextlib.contextmanager
def write_tx(conn: sqlite3.Connection):
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def migrate_results(conn: sqlite3.Connection) -> int:
    """Bring a ``results`` table of the earlier layout (keyed by content hash without the clip's path, so copies
    of one video shared one row) to the current one. Each old row is copied once for every path of ``clips`` that
    has its content hash (and every path of a job row that finished with it, whose file may have changed since),
    so every copy still shows the result it showed before; a row that no clip or job has the hash of could never
    be shown (every reader goes through ``clips`` or a job's path) and is dropped.

    Call inside a write transaction (``write_tx``): the layout is checked there, so of two processes opening an
    old store at once, the first migrates and the second finds the new layout and does nothing. Returns the
    number of rows written (0 when the table already had the current layout)."""
    columns = [row[1] for row in conn.execute("PRAGMA table_info(results)").fetchall()]
    if not columns or "path" in columns:
        return 0
    conn.execute("ALTER TABLE results RENAME TO results_before_path")
    for stmt in SCHEMA.strip().split(";"):
        if "CREATE TABLE IF NOT EXISTS results" in stmt:
            conn.execute(stmt)
    owners = "SELECT path, content_hash FROM clips"
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='jobs'").fetchone():
        owners += " UNION SELECT path, content_hash FROM jobs WHERE content_hash IS NOT NULL"
    cur = conn.execute(
        "INSERT OR IGNORE INTO results(content_hash, path, engine_version, model, config_hash, result, created_at)"
        " SELECT r.content_hash, o.path, r.engine_version, r.model, r.config_hash, r.result, r.created_at"
        f" FROM results_before_path r JOIN ({owners}) o ON o.content_hash = r.content_hash")
    conn.execute("DROP TABLE results_before_path")
    return cur.rowcount


def reading_as_engagement(r: dict) -> dict:
    """An engagement reading in the shape of ``ingest.read_engagement`` (what ``byteme train`` reads): TikTok's
    shares are yt-dlp's ``repost_count`` (yt-dlp's TikTok extractor maps shareCount there)."""
    return {"view_count": r.get("view_count"), "like_count": r.get("like_count"),
            "comment_count": r.get("comment_count"), "repost_count": r.get("share_count"),
            "uploader": r.get("account"), "title": r.get("title"), "error": None}


def migrate_engagement_readings(conn: sqlite3.Connection) -> bool:
    """Give a store written before engagement readings existed its ``engagement_readings`` table (nothing else
    changes). Call inside a write transaction; True when the table was created."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='engagement_readings'").fetchone():
        return False
    for stmt in ENGAGEMENT_SCHEMA.strip().split(";"):
        if stmt.strip():
            conn.execute(stmt)
    return True


def content_hash(path: Path, size: int | None = None) -> str:
    """blake2b of the size and 1 MiB from the start, the middle and the end of the file."""
    size = path.stat().st_size if size is None else size
    h = hashlib.blake2b(digest_size=16)
    h.update(str(size).encode())
    with open(path, "rb") as fh:
        for offset in sorted({0, max(0, size // 2 - HASH_CHUNK_BYTES // 2), max(0, size - HASH_CHUNK_BYTES)}):
            fh.seek(offset)
            h.update(fh.read(HASH_CHUNK_BYTES))
    return h.hexdigest()


def feature_variant(options: dict | None) -> str:
    """What of the analysis ran, as a suffix of the features' engine version: "" for everything, "+no-ocr" when
    on-screen text recognition was skipped."""
    return "+no-ocr" if options and options.get("ocr") is False else ""


def _features_key(variant: str, sidecars: str, settings: str = "") -> str:
    """The features' key beside the content hash: engine version, what ran (``feature_variant``), the settings
    the extractors read (``engine.config.feature_settings_hash``: analysis size, audio rate, OCR, preset zones)
    and the sidecars."""
    return f"{features_build()}{variant}" + (f"#{settings}" if settings else "") + (f"/{sidecars}" if sidecars else "")


def acceptable_variants(options: dict | None) -> tuple[str, ...]:
    return ("", "+no-ocr") if feature_variant(options) else ("",)


def path_key(path: str | os.PathLike) -> str:
    """The text under which the store knows a file: its absolute path, with bytes that are not UTF-8 (legal in
    Linux file names, refused by SQLite) written as ``\\xNN``."""
    p = Path(path)
    try:
        p = p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: keep the absolute, unresolved path
        p = p.absolute()
    return os.fsencode(p).decode("utf-8", errors="backslashreplace")


_ESCAPED_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")


def path_from_key(key: str) -> Path:
    """The file a ``path_key`` names (undoes its ``\\xNN`` escapes when the literal name does not exist)."""
    p = Path(key)
    if "\\x" not in key or os.path.lexists(p):
        return p
    return Path(_ESCAPED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), key))


def result_to_json(r: ClipResult) -> str:
    return json.dumps(
        {
            "path": r.path,
            "status": r.status,
            "error": r.error,
            "media": r.media.as_dict() if r.media else None,
            "scores": asdict(r.scores) if r.scores else None,
            "findings": [f.as_dict() for f in r.findings],
            "features": r.features.as_dict() if r.features else None,
            "content_hash": r.content_hash,
            "elapsed_s": r.elapsed_s,
        }
    )


def result_from_json(text: str) -> ClipResult:
    d = json.loads(text)
    return ClipResult(
        path=d["path"],
        status=d["status"],
        error=d.get("error"),
        media=MediaInfo(**d["media"]) if d.get("media") else None,
        scores=Scores(**d["scores"]) if d.get("scores") else None,
        findings=[Finding(**f) for f in d.get("findings", [])],
        features=FeatureVector.from_dict(d["features"]) if d.get("features") else None,
        content_hash=d.get("content_hash"),
        cached=True,
        elapsed_s=d.get("elapsed_s", 0.0),
    )


# -- a store that cannot be used ------------------------------------------------------------------------------

#: SQLite's result codes for a file that is not a database or whose pages are broken (sqlite.org/rescode.html).
DAMAGE_CODES = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
#: The flag that keeps a damaged store aside and starts a fresh one (every command has it).
RESET_FLAG = "--reset-store"
#: The files SQLite keeps beside a store in WAL mode; moved aside with it.
SIDE_SUFFIXES = ("-wal", "-shm")


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` says the store file is not a database or is damaged (not: locked, read-only, full)."""
    if isinstance(exc, UnicodeDecodeError):  # SQLite's message or a schema text holds broken bytes
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    return name.startswith(DAMAGE_CODES) or "file is not a database" in text or "malformed" in text


def aside_path(path: Path, when: float | None = None) -> Path:
    """Where a damaged store is kept: beside it, its name + ``.damaged-YYYYmmdd-HHMMSS`` (+ ``-N`` when taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    return candidate


def move_aside(path: Path) -> Path:
    """Rename a damaged store (and its -wal/-shm files) to ``aside_path``; nothing is deleted. Returns the new path."""
    target = aside_path(path)
    os.rename(path, target)
    for suffix in SIDE_SUFFIXES:
        side = Path(f"{path}{suffix}")
        if os.path.lexists(side):
            os.rename(side, Path(f"{target}{suffix}"))
    return target


def store_error(path: str | os.PathLike, exc: BaseException) -> StoreError:
    """A plain-words StoreError naming the store file, for an error SQLite or the OS raised while using it."""
    p = Path(path)
    shown = display_path(p)
    if isinstance(exc, StoreError):
        return exc
    if is_damage(exc):
        return StoreError(
            f"The store {shown} is damaged ({exc}). Nothing was changed. To keep it aside (renamed to "
            f"{display_path(aside_path(p).name)}) and start a fresh one, run the same command again with "
            f"{RESET_FLAG}; or use another store with --store FILE.", damaged=True)
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "disk is full" in text:
        return StoreError(f"No space left on the disk for the store {shown}: free some space and run the same "
                          "command again (finished results are kept).", kind="disk_full")
    if os.path.isdir(p):
        return StoreError(f"The store {shown} is a folder, not a file: give --store a file name, such as "
                          f"{display_path(p / 'byteme.sqlite3')}.")
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text \
            or "unable to open" in text:
        folder = p.parent
        why = ("its folder cannot be written" if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK)
               else "it is read-only" if p.exists() and not os.access(p, os.W_OK) else
               f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else text}")
        return StoreError(f"The store {shown} cannot be opened for writing: {why}. Give a writable place with "
                          "--store FILE (or $BYTEME_DATA_DIR).", kind="permission_denied")
    what = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
    return StoreError(f"The store {shown} could not be used: {what}.")


def check_integrity(conn: sqlite3.Connection) -> str | None:
    """SQLite's ``quick_check`` of every page (reads the whole file): None when sound, else its first complaint."""
    row = conn.execute("PRAGMA quick_check(1)").fetchone()
    return None if row and row[0] == "ok" else (row[0] if row else "no answer")


#: What parsing a stored row can raise when its text was damaged on disk (SQLite checks pages, not JSON).
_DAMAGED_ROW = (ValueError, TypeError, KeyError, AttributeError)


def _result_or_none(text: str) -> ClipResult | None:
    """A stored result, or None when its row is damaged (then it is computed again, as if never stored)."""
    try:
        return result_from_json(text)
    except _DAMAGED_ROW:
        return None


class Store:
    def __init__(self, path: str | os.PathLike | None = None, *, reset_damaged: bool = False):
        """Open (or create) the store. Every failure is a ``StoreError`` naming the file in plain words. A damaged
        store is never changed unless ``reset_damaged`` (the user's ``--reset-store``): then it is checked page by
        page, and if damaged, kept aside (``moved_aside`` says where) and a fresh one started."""
        self.moved_aside: Path | None = None
        try:
            self.path = Path(path) if path else default_store_path()
        except OSError as exc:  # the data folder cannot be made
            raise StoreError(f"The data folder {display_path(exc.filename or '')} cannot be made: "
                             f"{exc.strerror}. Give a writable place with --store FILE or $BYTEME_DATA_DIR.",
                             kind="permission_denied") from None
        try:
            self._open(check=reset_damaged)
        except (sqlite3.Error, OSError, UnicodeDecodeError) as exc:
            if not (reset_damaged and is_damage(exc)):
                raise store_error(self.path, exc) from None
            try:
                self.moved_aside = move_aside(self.path)
                self._open(check=False)
            except (sqlite3.Error, OSError, UnicodeDecodeError) as exc2:
                raise store_error(self.path, exc2) from None

    def _open(self, *, check: bool) -> None:
        if self.path.is_dir():
            raise StoreError(f"The store {display_path(self.path)} is a folder, not a file: give --store a file "
                             f"name, such as {display_path(self.path / 'byteme.sqlite3')}.")
        self.conn = connect(self.path)
        try:
            if check:
                problem = check_integrity(self.conn)
                if problem:
                    raise sqlite3.DatabaseError(f"database disk image is malformed: {problem}")
            with write_tx(self.conn):
                for stmt in SCHEMA.strip().split(";"):
                    if stmt.strip():
                        self.conn.execute(stmt)
                # checked under the write lock: of several processes opening an old store at once, one migrates
                self.migrated_results = migrate_results(self.conn)  # result rows written by the migration (0: none)
                migrate_engagement_readings(self.conn)
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    # -- clips ---------------------------------------------------------------------------------------------
    def hash_for(self, path: Path) -> str:
        """Content hash of a file, reusing the stored one while size and mtime are unchanged."""
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO named .mp4 would block open() forever; probe names the problem
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        key = path_key(path)
        row = self.conn.execute(
            "SELECT content_hash FROM clips WHERE path=? AND size_bytes=? AND mtime_ns=?", (key, st.st_size, st.st_mtime_ns)
        ).fetchone()
        if row and row[0]:
            return row[0]
        h = content_hash(path, st.st_size)
        with write_tx(self.conn):
            self.conn.execute(
                "INSERT INTO clips(path, content_hash, size_bytes, mtime_ns, updated_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET content_hash=excluded.content_hash, size_bytes=excluded.size_bytes, "
                "mtime_ns=excluded.mtime_ns, updated_at=excluded.updated_at",
                (key, h, st.st_size, st.st_mtime_ns, time.time()),
            )
        return h

    def set_engagement(self, path: Path, engagement: dict) -> None:
        key = path_key(path)
        with write_tx(self.conn):
            self.conn.execute(
                "INSERT INTO clips(path, engagement, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET engagement=excluded.engagement, updated_at=excluded.updated_at",
                (key, json.dumps(engagement), time.time()),
            )

    def engagement(self, path: Path) -> dict | None:
        row = self.conn.execute("SELECT engagement FROM clips WHERE path=?", (path_key(path),)).fetchone()
        try:
            return json.loads(row[0]) if row and row[0] else None
        except ValueError:  # damaged on disk
            return None

    # -- engagement readings (``byteme tiktok sync``) ----------------------------------------------------------
    def add_readings(self, readings: list[dict]) -> None:
        """Store readings (dicts with ``READING_COLUMNS`` keys; ``path`` a file path or None) in one transaction.
        The same video read at the same second twice is stored once."""
        sql = (f"INSERT OR REPLACE INTO engagement_readings({', '.join(READING_COLUMNS)})"
               f" VALUES ({', '.join('?' * len(READING_COLUMNS))})")
        rows = []
        for r in readings:
            row = dict(r)
            row["path"] = path_key(row["path"]) if row.get("path") else None
            rows.append(tuple(row.get(c) for c in READING_COLUMNS))
        with write_tx(self.conn):
            self.conn.executemany(sql, rows)

    def latest_readings(self, source: str | None = None) -> list[dict]:
        """The newest reading of each video (of ``source``, or every source), newest video first; a reading that
        was not matched to a clip keeps the path of the video's latest matched reading."""
        where, args = ("WHERE source=?", (source,)) if source else ("", ())
        rows = self.conn.execute(
            f"SELECT {', '.join(READING_COLUMNS)} FROM engagement_readings {where} ORDER BY read_at", args).fetchall()
        latest: dict[tuple, dict] = {}
        for row in rows:
            d = dict(zip(READING_COLUMNS, row))
            key = (d["source"], d["video_id"])
            if d["path"] is None and key in latest:
                d["path"] = latest[key]["path"]
            latest[key] = d
        return sorted(latest.values(), key=lambda d: (-(d["create_time"] or 0), d["video_id"]))

    def reading_history(self, source: str, video_id: str) -> list[dict]:
        rows = self.conn.execute(
            f"SELECT {', '.join(READING_COLUMNS)} FROM engagement_readings WHERE source=? AND video_id=?"
            " ORDER BY read_at", (source, video_id)).fetchall()
        return [dict(zip(READING_COLUMNS, row)) for row in rows]

    def readings_by_path(self) -> dict[str, dict]:
        """path_key -> the newest reading of the video matched to that clip (every source)."""
        out: dict[str, dict] = {}
        for d in sorted(self.latest_readings(), key=lambda d: d["read_at"]):
            if d["path"]:
                out[d["path"]] = d
        return out

    def set_error(self, path: Path, error: dict | None) -> None:
        key = path_key(path)
        with write_tx(self.conn):
            self.conn.execute(
                "INSERT INTO clips(path, last_error, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET last_error=excluded.last_error, updated_at=excluded.updated_at",
                (key, json.dumps(error) if error else None, time.time()),
            )

    # -- features ------------------------------------------------------------------------------------------
    def get_features(self, chash: str, options: dict | None = None, sidecars: str = "",
                     settings: str = "") -> tuple[MediaInfo, FeatureVector] | None:
        """Cached features of a clip analysed with ``options`` (or with more: a full analysis serves a --no-ocr run,
        never the other way round), with the same sidecars (``engine.sidecars.fingerprint``: an edited caption
        is analysed again) and the same extractor settings (``settings``: ``engine.config.feature_settings_hash``,
        so a changed analysis size or audio rate takes effect without --no-cache)."""
        for variant in acceptable_variants(options):
            row = self.conn.execute(
                "SELECT media, features FROM features WHERE content_hash=? AND engine_version=?",
                (chash, _features_key(variant, sidecars, settings)),
            ).fetchone()
            if row:
                try:
                    return MediaInfo(**json.loads(row[0])), FeatureVector.from_dict(json.loads(row[1]))
                except _DAMAGED_ROW:  # damaged on disk: analysed again
                    return None
        return None

    def put_features(self, chash: str, media: MediaInfo, fv: FeatureVector, options: dict | None = None,
                     sidecars: str = "", settings: str = "") -> None:
        """Store a clip's features, replacing what another build stored for the same bytes (nothing reads those
        again: ``get_features`` asks for this build's; kept, every upgrade added a copy of every clip analysed).
        Rows of this build with other options, sidecars or settings stay."""
        build = features_build()
        with write_tx(self.conn):
            self.conn.execute("DELETE FROM features WHERE content_hash=? AND substr(engine_version, 1, ?) != ?",
                              (chash, len(build), build))
            self.conn.execute(
                "INSERT OR REPLACE INTO features VALUES (?,?,?,?,?)",
                (chash, _features_key(feature_variant(options), sidecars, settings), json.dumps(media.as_dict()),
                 json.dumps(fv.as_dict()), time.time()),
            )

    # -- results -------------------------------------------------------------------------------------------
    def get_result(self, chash: str, model: str, cfg_hash: str, *, path: str | os.PathLike) -> ClipResult | None:
        """The stored result of the file at ``path`` (a path or its ``path_key``) with content hash ``chash``."""
        row = self.conn.execute(
            "SELECT result FROM results WHERE content_hash=? AND path=? AND engine_version=? AND model=?"
            " AND config_hash=?",
            (chash, path_key(path), results_build(), model, cfg_hash),
        ).fetchone()
        return _result_or_none(row[0]) if row else None

    def put_result(self, r: ClipResult, model: str, cfg_hash: str, conn: sqlite3.Connection | None = None, *,
                   path: str | os.PathLike | None = None) -> None:
        """Write a result idempotently, under the file it belongs to: ``path`` (a path or its ``path_key``;
        default the result's own ``path``), replacing what another build stored for the same file and bytes
        (never read again: every read asks for this build's). Pass ``conn`` inside an open transaction to make it
        part of it."""
        build, key = results_build(), path_key(r.path if path is None else path)
        sql = (f"INSERT OR REPLACE INTO results({', '.join(RESULT_COLUMNS)})"
               f" VALUES ({', '.join('?' * len(RESULT_COLUMNS))})")
        args = (r.content_hash, key, build, model, cfg_hash, result_to_json(r), time.time())
        drop = ("DELETE FROM results WHERE content_hash=? AND path=? AND engine_version != ?", (r.content_hash, key,
                                                                                                build))
        if conn is not None:
            conn.execute(*drop)
            conn.execute(sql, args)
            return
        with write_tx(self.conn):
            self.conn.execute(*drop)
            self.conn.execute(sql, args)

    def known_files(self) -> dict[str, tuple[str | None, int, int]]:
        """Every clip the store has seen: path key -> (content hash, size in bytes, mtime in ns) when it was hashed."""
        return {p: (h, sz, mt) for p, h, sz, mt in self.conn.execute(
            "SELECT path, content_hash, size_bytes, mtime_ns FROM clips")}

    def content_hash_of(self, key: str) -> str | None:
        """The content hash stored for a path key (None when the clip was never hashed)."""
        row = self.conn.execute("SELECT content_hash FROM clips WHERE path=?", (key,)).fetchone()
        return row[0] if row and row[0] else None

    def results_for(self, hash_of: dict[str, str]) -> dict[str, ClipResult]:
        """The newest result of each path key of this engine version (``hash_of``: path key -> its current content
        hash), parsed.

        A result belongs to one file: copies of one video (same content hash) with different caption sidecars each
        have their own row, so a row counts only for the path it was written for, and only while that file still
        has the hash it was scored with. Looked up by content hash, the start of the table's key, in chunks."""
        newest: dict[str, str] = {}
        hashes = sorted(set(hash_of.values()))
        for i in range(0, len(hashes), SQL_CHUNK):
            chunk = hashes[i:i + SQL_CHUNK]
            q = ",".join("?" * len(chunk))
            for h, key, text in self.conn.execute(
                    f"SELECT content_hash, path, result FROM results WHERE engine_version=? AND content_hash IN ({q})"
                    " ORDER BY created_at", (results_build(), *chunk)):
                if hash_of.get(key) == h:
                    newest[key] = text
        out = {}
        for key in hash_of:
            r = _result_or_none(newest[key]) if key in newest else None
            if r is not None:
                r.path = key
                out[key] = r
        return out

    def latest_results(self, paths: list[str] | None = None) -> list[ClipResult]:
        """The newest stored result of each known clip (for its current content hash), in path order."""
        rows = self.conn.execute(
            "SELECT c.path, r.result FROM clips c JOIN results r ON r.content_hash = c.content_hash AND r.path = c.path"
            " WHERE r.engine_version = ? ORDER BY c.path, r.created_at",
            (results_build(),),
        ).fetchall()
        latest: dict[str, str] = {}
        for path, result in rows:
            latest[path] = result
        wanted = set(paths) if paths is not None else None
        out = []
        for path, text in latest.items():
            if wanted is None or path in wanted:
                r = _result_or_none(text)
                if r is not None:
                    r.path = path
                    out.append(r)
        return out
