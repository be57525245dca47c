"""Executors: where jobs run. One interface (capacity, submit, events, cancel, shutdown), three implementations:

- ``LocalExecutor`` (the default): N spawned worker processes, one job each at a time, talking over pipes. A worker
  that dies (SIGKILL, a decoder crash) costs only its own job, which is reported ``lost``; the slot gets a fresh
  process. (A ``ProcessPoolExecutor`` would instead fail every pending job when one worker dies.)
- ``ThreadExecutor``: jobs in threads of this process; for tests and tiny runs.
- ``RayExecutor`` (``engine.jobs.ray_executor``, the ``byteme[ray]`` extra): a pool of Ray actors.

An executor knows nothing about the store: the supervisor claims jobs, submits them, and turns events into rows.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait as mp_wait

from .worker import JobEvent, JobSpec, run_job, worker_main

from .executor import STOP_GRACE_S, Executor, drain


def make_executor(kind: str | None, workers: int, *, ray_address: str | None = None) -> Executor:
    kind = kind or "local"
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "thread":
        return ThreadExecutor(workers)
    if kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(workers, address=ray_address)
    from ..errors import BytemeError

    raise BytemeError(f"Unknown executor {kind!r}: use local, thread or ray.", kind="usage")


def default_workers() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


# -- in-thread ---------------------------------------------------------------------------------------------------

class ThreadExecutor(Executor):
    name = "thread"

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers or 1))
        self._events: queue.Queue[JobEvent] = queue.Queue()
        self._running: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def capacity(self) -> int:
        with self._lock:
            return self.workers - len(self._running)

    def submit(self, spec: JobSpec) -> str:
        cancel = threading.Event()
        label = f"thread:{os.getpid()}:{spec.job_id}"
        with self._lock:
            self._running[spec.job_id] = cancel

        def free() -> None:  # only this run's entry: a retry of the same job may already hold the id
            with self._lock:
                if self._running.get(spec.job_id) is cancel:
                    del self._running[spec.job_id]

        def emit(ev: JobEvent) -> None:
            if ev.final:
                free()  # before the supervisor sees the event, so it can claim the next job at once
            self._events.put(ev)

        def body():
            try:
                run_job(spec, emit, cancel, worker=label)
            except SystemExit as exc:  # the thread's analysis exited, as a worker process would: its job is lost
                emit(JobEvent(spec.job_id, spec.attempt, "lost", seq=10**9,
                              message=f"the worker thread exited ({exc})"))
            except BaseException as exc:
                emit(JobEvent(spec.job_id, spec.attempt, "error", seq=10**9, stage="internal",
                              message=f"The worker failed: {type(exc).__name__}: {exc}"))
            finally:
                free()

        threading.Thread(target=body, name=f"byteme-job-{spec.job_id}", daemon=True).start()
        return label

    def events(self, timeout: float) -> list[JobEvent]:
        return drain(self._events, timeout)

    def cancel(self, job_id: int, *, hard: bool = False) -> None:
        with self._lock:
            ev = self._running.get(job_id)
        if ev is not None:
            ev.set()  # a thread cannot be killed: hard is the same as soft here

    def shutdown(self, timeout: float = STOP_GRACE_S) -> None:
        with self._lock:
            evs = list(self._running.values())
        for ev in evs:
            ev.set()
        deadline = time.monotonic() + timeout
        while self.capacity() < self.workers and time.monotonic() < deadline:
            time.sleep(0.01)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "the worker process stopped"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"the worker process was killed by {name}"
    return f"the worker process exited with status {code}"


# -- local worker processes --------------------------------------------------------------------------------------

@dataclass
class _Slot:
    index: int
    process: object = None
    job_conn: object = None  # supervisor -> worker
    event_conn: object = None  # worker -> supervisor
    spec: JobSpec | None = None
    label: str = ""
    last_seq: int = 0


class LocalExecutor(Executor):
    """N spawned worker processes under this supervisor; a dead one is replaced at once."""

    name = "local"

    def __init__(self, workers: int = 2):
        self._ctx = mp.get_context("spawn")
        self._slots = [_Slot(i) for i in range(max(1, int(workers or 1)))]
        self._closing = False
        for slot in self._slots:
            self._spawn(slot)

    def _spawn(self, slot: _Slot) -> None:
        job_recv, job_send = self._ctx.Pipe(duplex=False)
        ev_recv, ev_send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=worker_main, args=(job_recv, ev_send), name=f"byteme-worker-{slot.index}",
                                 daemon=True)
        proc.start()
        job_recv.close()
        ev_send.close()
        slot.process, slot.job_conn, slot.event_conn = proc, job_send, ev_recv
        slot.spec, slot.label = None, f"{os.uname().nodename}:{proc.pid}"

    def pids(self) -> list[int]:
        return [s.process.pid for s in self._slots if s.process is not None]

    def capacity(self) -> int:
        return sum(1 for s in self._slots if s.spec is None and s.process is not None and s.process.is_alive())

    def submit(self, spec: JobSpec) -> str:
        for slot in self._slots:
            if slot.spec is None and slot.process is not None and slot.process.is_alive():
                slot.spec = spec
                try:
                    slot.job_conn.send(("run", spec))
                except OSError:
                    pass  # the process just died: its sentinel reports the job lost
                return slot.label
        raise RuntimeError("no free worker")  # the supervisor checks capacity() first

    def _slot_of(self, job_id: int) -> _Slot | None:
        return next((s for s in self._slots if s.spec is not None and s.spec.job_id == job_id), None)

    def events(self, timeout: float) -> list[JobEvent]:
        waitables = {}
        for slot in self._slots:
            if slot.process is None:
                continue
            if slot.event_conn is not None:
                waitables[slot.event_conn] = slot
            waitables[slot.process.sentinel] = slot
        out: list[JobEvent] = []
        if not waitables:
            time.sleep(timeout)
            return out
        ready = mp_wait(list(waitables), timeout)
        dead = []
        for obj in ready:
            slot = waitables[obj]
            if obj is slot.event_conn:
                self._drain(slot, out)
            elif slot not in dead:
                dead.append(slot)
        for slot in dead:
            self._drain(slot, out)  # whatever it sent before dying comes first
            slot.process.join(timeout=1.0)  # its sentinel is ready: this only reaps it
            if slot.spec is not None:
                out.append(JobEvent(slot.spec.job_id, slot.spec.attempt, "lost", seq=10**9,
                                    message=_exit_reason(slot.process.exitcode), worker=slot.label))
            self._close(slot)
            if not self._closing:
                self._spawn(slot)
        return out

    def _drain(self, slot: _Slot, out: list) -> None:
        conn = slot.event_conn
        if conn is None:
            return
        try:
            while conn.poll():
                ev = conn.recv()
                out.append(ev)
                if ev.final and slot.spec is not None and ev.job_id == slot.spec.job_id:
                    slot.spec = None
        except (EOFError, OSError):
            slot.event_conn = None
            conn.close()

    def _close(self, slot: _Slot) -> None:
        for conn in (slot.job_conn, slot.event_conn):
            if conn is not None:
                try:
                    conn.close()
                except OSError:
                    pass
        slot.process, slot.job_conn, slot.event_conn = None, None, None

    def cancel(self, job_id: int, *, hard: bool = False) -> None:
        slot = self._slot_of(job_id)
        if slot is None or slot.process is None:
            return
        if hard:
            slot.process.kill()
            return
        try:
            slot.job_conn.send(("cancel", job_id))
        except OSError:
            pass

    def shutdown(self, timeout: float = STOP_GRACE_S) -> None:
        self._closing = True
        for slot in self._slots:
            if slot.process is None:
                continue
            try:
                if slot.spec is not None:
                    slot.job_conn.send(("cancel", slot.spec.job_id))
                slot.job_conn.send(("stop",))
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            if slot.process is None:
                continue
            slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(timeout=1.0)
            self._close(slot)
