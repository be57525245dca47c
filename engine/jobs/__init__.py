"""The job queue: jobs live in the store (SQLite); supervisors run them on an executor (local worker processes,
threads for tests, or Ray). The TUI and ``byteme score --workers N`` share the same queue.

    q = JobQueue(store_path)
    ids = q.enqueue(["clips/"])              # one job per clip
    sup = Supervisor(store_path, workers=2).start()
    ...                                      # poll q.jobs() / q.counts(); q.cancel([...]), q.pause(), ...
    sup.stop()
"""
from __future__ import annotations

from .executors import Executor, LocalExecutor, ThreadExecutor, make_executor
from .queue import DEFAULT_MAX_ATTEMPTS, FINISHED_STATES, LEASE_S, STATES, JobQueue, JobRow
from .supervisor import Supervisor, run_paths
from .worker import JobEvent, JobSpec

__all__ = [
    "DEFAULT_MAX_ATTEMPTS", "FINISHED_STATES", "LEASE_S", "STATES", "Executor", "JobEvent", "JobQueue", "JobRow",
    "JobSpec", "LocalExecutor", "Supervisor", "ThreadExecutor", "make_executor", "run_paths",
]
