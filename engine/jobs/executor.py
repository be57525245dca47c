"""The executor interface (capacity, submit, events, cancel, shutdown) that every place jobs run implements:
local worker processes and threads (``executors.py``), Ray actors (``ray_executor.py``)."""
from __future__ import annotations

import queue

from .worker import JobEvent, JobSpec

#: Seconds a worker process gets to exit after "stop" before it is killed.
STOP_GRACE_S = 2.0


def drain(events: "queue.Queue", timeout: float) -> list:
    """Every event waiting in ``events``, after waiting up to ``timeout`` s for the first."""
    out = []
    try:
        out.append(events.get(timeout=timeout))
        while True:
            out.append(events.get_nowait())
    except queue.Empty:
        pass
    return out


class Executor:
    """The interface. ``events`` blocks up to ``timeout`` seconds and returns what arrived, in order per job."""

    name = "base"

    def capacity(self) -> int:
        raise NotImplementedError

    def submit(self, spec: JobSpec) -> str:
        """Start a job; returns a label of the worker running it (host:pid, thread, actor)."""
        raise NotImplementedError

    def events(self, timeout: float) -> list[JobEvent]:
        raise NotImplementedError

    def cancel(self, job_id: int, *, hard: bool = False) -> None:
        """Ask a job to stop (its ``cancel`` Event). ``hard``: kill whatever runs it (the job is then ``lost``)."""
        raise NotImplementedError

    def shutdown(self, timeout: float = STOP_GRACE_S) -> None:
        raise NotImplementedError
