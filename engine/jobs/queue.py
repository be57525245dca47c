"""The job queue: job rows in the same SQLite file as the results (the store is the one source of truth).

A job is one analysis of one clip: ``queued`` -> ``running`` (attempt, lease, stage, fraction) -> ``done`` |
``failed`` (with a plain error) | ``cancelled``. The TUI and ``byteme score --workers`` both use ``JobQueue`` to
add and steer jobs; a ``Supervisor`` (``engine.jobs.supervisor``) claims and runs them. Every write starts with
``BEGIN IMMEDIATE`` (``engine.store.write_tx``); a job is claimed with one ``UPDATE ... RETURNING`` that also
takes back expired leases, so two processes on the same store never run the same attempt.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import config_hash
from ..services import active_config
from ..store import Store, path_key, write_tx

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED_STATES = ("done", "failed", "cancelled")
#: Attempts before a job whose worker keeps dying ends as failed (a clip that crashes the decoder).
DEFAULT_MAX_ATTEMPTS = 3
#: Seconds a claimed job stays owned without a heartbeat. The supervisor renews every LEASE_RENEW_S, so a
#: stalled or killed supervisor's jobs are taken back after at most this long (sooner on the same host, where a
#: dead owner process is detected directly).
LEASE_S = 30.0
LEASE_RENEW_S = 2.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    position REAL NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    stage TEXT,
    fraction REAL NOT NULL DEFAULT 0,
    fps REAL,
    eta_s REAL,
    error TEXT,
    owner TEXT,
    worker TEXT,
    lease_expires_at REAL,
    config_hash TEXT NOT NULL,
    model_name TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    force INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT,
    result_model TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs(state, priority, position);
CREATE INDEX IF NOT EXISTS jobs_path ON jobs(path);
CREATE TABLE IF NOT EXISTS job_configs (
    config_hash TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    created_at REAL
);
CREATE TABLE IF NOT EXISTS job_control (
    key TEXT PRIMARY KEY,
    value TEXT
)
"""


@dataclass
class JobRow:
    id: int
    path: str
    state: str  # queued | running | done | failed | cancelled
    attempt: int
    max_attempts: int
    stage: str | None
    fraction: float
    fps: float | None
    eta_s: float | None
    error: dict | None  # {"kind": ..., "message": ...} for a failed job
    worker: str | None
    lease_expires_at: float | None
    created_at: float
    updated_at: float
    finished_at: float | None
    content_hash: str | None
    priority: int = 0
    started_at: float | None = None
    model_name: str | None = None
    config_hash: str | None = None
    result_model: str | None = None
    options: dict | None = None
    force: bool = False

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> "JobRow":
        return cls(
            id=row["id"], path=row["path"], state=row["state"], attempt=row["attempt"],
            max_attempts=row["max_attempts"], stage=row["stage"], fraction=row["fraction"] or 0.0, fps=row["fps"],
            eta_s=row["eta_s"], error=json.loads(row["error"]) if row["error"] else None, worker=row["worker"],
            lease_expires_at=row["lease_expires_at"], created_at=row["created_at"], updated_at=row["updated_at"],
            finished_at=row["finished_at"], content_hash=row["content_hash"], priority=row["priority"],
            started_at=row["started_at"], model_name=row["model_name"], config_hash=row["config_hash"],
            result_model=row["result_model"], options=json.loads(row["options"] or "{}"), force=bool(row["force"]),
        )


def ensure_schema(conn: sqlite3.Connection) -> None:
    with write_tx(conn):
        for stmt in SCHEMA.strip().split(";"):
            if stmt.strip():
                conn.execute(stmt)


def clip_key(path) -> str:
    """The key a clip is stored under (the same as ``Store.hash_for``)."""
    return path_key(path)


def host_name() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobQueue:
    """Add and steer jobs. Safe to use from several processes at once (and from the TUI's thread)."""

    def __init__(self, store_path: str | os.PathLike | None = None):
        self.store = Store(store_path)
        self.path = self.store.path
        self.conn = self.store.conn
        self.conn.row_factory = sqlite3.Row
        ensure_schema(self.conn)

    def close(self) -> None:
        self.store.close()

    # -- adding ---------------------------------------------------------------------------------------------
    def enqueue(
        self,
        paths,
        *,
        options: dict | None = None,
        config_path: str | os.PathLike | None = None,
        preset: str | None = None,
        priority: int = 0,
        force: bool = False,
        config: dict | None = None,
        model_name: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> list[int]:
        """Queue one job per clip (folders are walked) and return their ids, in input order.

        Without ``force``, a clip that already has a queued or running job for the same configuration, model and
        options gets that job's id back, and so does a finished ``done`` job whose clip is unchanged (same size,
        mtime and content hash): nothing is computed twice. ``force`` queues a fresh job that ignores every cache.
        ``config`` (a loaded config dict) overrides ``config_path``/``preset``.
        """
        from ..media import iter_clips

        cfg = config if config is not None else active_config(config_path, preset)
        chash_cfg = config_hash(cfg)
        opts = json.dumps(dict(options or {}), sort_keys=True)
        now = time.time()
        keys = [clip_key(p) for p in iter_clips([Path(p) for p in paths])]
        ids: list[int] = []
        with write_tx(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO job_configs VALUES (?,?,?)",
                (chash_cfg, json.dumps(cfg, default=str), now),
            )
            position = self.conn.execute("SELECT COALESCE(MAX(position), 0) FROM jobs").fetchone()[0]
            for key in keys:
                if not force:
                    reuse = self._reusable(key, chash_cfg, model_name, opts)
                    if reuse is not None:
                        ids.append(reuse)
                        continue
                position += 1
                cur = self.conn.execute(
                    "INSERT INTO jobs(path, state, priority, position, max_attempts, config_hash, model_name, options,"
                    " force, created_at, updated_at) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, priority, position, max_attempts, chash_cfg, model_name, opts, int(force), now, now),
                )
                ids.append(cur.lastrowid)
        return ids

    def _reusable(self, key: str, chash_cfg: str, model_name: str | None, opts: str) -> int | None:
        rows = self.conn.execute(
            "SELECT id, state, content_hash FROM jobs WHERE path=? AND config_hash=? AND model_name IS ? AND options=?"
            " AND state IN ('queued', 'running', 'done') ORDER BY id DESC",
            (key, chash_cfg, model_name, opts),
        ).fetchall()
        for row in rows:
            if row["state"] in ("queued", "running"):
                return row["id"]
        for row in rows:  # a done job counts only while the file is unchanged (no read: size + mtime)
            try:
                st = os.stat(key)
            except OSError:
                return None
            known = self.conn.execute(
                "SELECT content_hash FROM clips WHERE path=? AND size_bytes=? AND mtime_ns=?",
                (key, st.st_size, st.st_mtime_ns),
            ).fetchone()
            if known and known[0] and known[0] == row["content_hash"]:
                return row["id"]
            return None
        return None

    # -- reading --------------------------------------------------------------------------------------------
    def jobs(self, states=None) -> list[JobRow]:
        """Jobs in display order: running, then queued in the order they will run, then finished (newest first)."""
        sql = "SELECT * FROM jobs"
        args: tuple = ()
        if states:
            states = [states] if isinstance(states, str) else list(states)
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args = tuple(states)
        sql += (" ORDER BY CASE state WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END,"
                " CASE WHEN state IN ('running', 'queued') THEN -priority ELSE 0 END,"
                " CASE WHEN state IN ('running', 'queued') THEN position ELSE -COALESCE(finished_at, 0) END, id")
        return [JobRow.from_sql(r) for r in self.conn.execute(sql, args).fetchall()]

    def job(self, job_id: int) -> JobRow | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return JobRow.from_sql(row) if row else None

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for state, n in self.conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[state] = n
        return out

    def result(self, job_id: int):
        """The stored ClipResult of a done job (None otherwise)."""
        job = self.job(job_id)
        if job is None or job.state != "done" or not job.content_hash:
            return None
        return self.store.get_result(job.content_hash, job.result_model, job.config_hash, path=job.path)

    def config(self, chash_cfg: str) -> dict | None:
        row = self.conn.execute("SELECT config FROM job_configs WHERE config_hash=?", (chash_cfg,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- steering -------------------------------------------------------------------------------------------
    def cancel(self, job_ids) -> int:
        """Cancel queued or running jobs; a running one stops within about a second (its supervisor sees it)."""
        ids = [int(i) for i in ([job_ids] if isinstance(job_ids, int) else job_ids)]
        if not ids:
            return 0
        now = time.time()
        with write_tx(self.conn):
            cur = self.conn.execute(
                f"UPDATE jobs SET state='cancelled', finished_at=?, updated_at=?, lease_expires_at=NULL"
                f" WHERE id IN ({','.join('?' * len(ids))}) AND state IN ('queued', 'running')",
                (now, now, *ids),
            )
        return cur.rowcount

    def cancel_all(self) -> int:
        now = time.time()
        with write_tx(self.conn):
            cur = self.conn.execute(
                "UPDATE jobs SET state='cancelled', finished_at=?, updated_at=?, lease_expires_at=NULL"
                " WHERE state IN ('queued', 'running')",
                (now, now),
            )
        return cur.rowcount

    def retry_failed(self, job_ids=None) -> int:
        """Queue failed jobs again (at the back, with fresh attempts). ``job_ids`` limits it to those jobs."""
        now = time.time()
        where, args = "state='failed'", ()
        if job_ids is not None:
            ids = [int(i) for i in job_ids]
            where += f" AND id IN ({','.join('?' * len(ids))})" if ids else " AND 0"
            args = tuple(ids)
        with write_tx(self.conn):
            top = self.conn.execute("SELECT COALESCE(MAX(position), 0) FROM jobs").fetchone()[0]
            cur = self.conn.execute(
                f"UPDATE jobs SET state='queued', attempt=0, error=NULL, stage=NULL, fraction=0, fps=NULL,"
                f" eta_s=NULL, owner=NULL, worker=NULL, lease_expires_at=NULL, finished_at=NULL, updated_at=?,"
                f" position=? + id WHERE {where}",
                (now, top, *args),
            )
        return cur.rowcount

    def pause(self) -> None:
        """Stop starting new jobs (on every supervisor of this store); running jobs finish."""
        self._set_control("paused", "1")

    def resume(self) -> None:
        self._set_control("paused", "0")

    def is_paused(self) -> bool:
        return is_paused(self.conn)

    def move_to_front(self, job_id: int) -> bool:
        """Make a queued job the next one to run."""
        now = time.time()
        with write_tx(self.conn):
            top = self.conn.execute(
                "SELECT COALESCE(MAX(priority), 0), COALESCE(MIN(position), 0) FROM jobs WHERE state='queued'"
            ).fetchone()
            cur = self.conn.execute(
                "UPDATE jobs SET priority=?, position=?, updated_at=? WHERE id=? AND state='queued'",
                (top[0], top[1] - 1, now, job_id),
            )
        return cur.rowcount == 1

    def clear_finished(self) -> int:
        """Forget done, failed and cancelled jobs (their results stay in the store)."""
        with write_tx(self.conn):
            cur = self.conn.execute("DELETE FROM jobs WHERE state IN ('done', 'failed', 'cancelled')")
        return cur.rowcount

    def _set_control(self, key: str, value: str) -> None:
        with write_tx(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO job_control VALUES (?, ?)", (key, value))


def is_paused(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM job_control WHERE key='paused'").fetchone()
    return bool(row) and row[0] == "1"


# -- what a supervisor does with the rows ------------------------------------------------------------------------

def work_available(conn: sqlite3.Connection, now: float) -> bool:
    """A cheap read (no lock) before trying to claim."""
    return conn.execute(
        "SELECT 1 FROM jobs WHERE (state='queued' OR (state='running' AND lease_expires_at < ?)) LIMIT 1", (now,)
    ).fetchone() is not None


def claim(conn: sqlite3.Connection, owner: str, lease_s: float = LEASE_S) -> JobRow | None:
    """Claim the next job in one ``UPDATE ... RETURNING``: a queued one, or a running one whose lease expired.

    In the same transaction, running jobs whose lease expired with no attempt left end as failed.
    Returns None when there is nothing to do or the queue is paused.
    """
    now = time.time()
    with write_tx(conn):
        if is_paused(conn):
            return None
        conn.execute(
            "UPDATE jobs SET state='failed', finished_at=?, updated_at=?, lease_expires_at=NULL,"
            " error=json_object('kind', 'worker_lost', 'message', 'The process analysing this clip was lost '"
            " || attempt || ' times (it crashed, or its machine stopped); the clip was given up on.')"
            " WHERE state='running' AND lease_expires_at < ? AND attempt >= max_attempts",
            (now, now, now),
        )
        row = conn.execute(
            "UPDATE jobs SET state='running', attempt=attempt+1, owner=?, worker=NULL, lease_expires_at=?,"
            " started_at=?, updated_at=?, stage='starting', fraction=0, fps=NULL, eta_s=NULL, error=NULL"
            " WHERE id = (SELECT id FROM jobs WHERE (state='queued' OR (state='running' AND lease_expires_at < ?))"
            " AND attempt < max_attempts ORDER BY priority DESC, position, id LIMIT 1)"
            " RETURNING *",
            (owner, now + lease_s, now, now, now),
        ).fetchone()
    return JobRow.from_sql(row) if row else None


def expire_dead_owners(conn: sqlite3.Connection) -> int:
    """Expire the leases of supervisors on this host whose process is gone (a killed ``byteme score``), so their
    jobs are taken back at once instead of after LEASE_S, without using up an attempt. A reused pid only delays
    this to the lease expiry."""
    prefix = host_name() + ":"
    owners = [r[0] for r in conn.execute(
        "SELECT DISTINCT owner FROM jobs WHERE state='running' AND owner LIKE ? || '%'", (prefix,)
    ).fetchall()]
    dead = []
    for owner in owners:
        try:
            pid = int(owner[len(prefix):].split(":")[0])
        except ValueError:
            continue
        if not pid_alive(pid):
            dead.append(owner)
    if not dead:
        return 0
    # The attempt is given back: the clip did not kill anything, its whole run was killed (Ctrl-C twice, a lost SSH
    # session, kill -9). Counting it would fail a healthy clip after three such interruptions.
    with write_tx(conn):
        cur = conn.execute(
            "UPDATE jobs SET lease_expires_at=0, attempt=MAX(attempt - 1, 0) WHERE state='running' AND owner IN "
            f"({','.join('?' * len(dead))})",
            dead,
        )
    return cur.rowcount
