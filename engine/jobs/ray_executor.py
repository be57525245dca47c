"""Ray executor (the optional ``byteme[ray]`` extra): a pool of actors that extract features (the driver scores).

- One job in flight per actor, so the number of jobs in flight is bounded by the pool size.
- Progress streams back through a Ray generator method (``Analyzer.run`` yields ``JobEvent``s in order); one
  driver thread per running job reads it into the event queue.
- An actor that dies (a worker crash, a lost node) reports the job ``lost``: the supervisor retries it until its
  attempts are used up, and a fresh actor takes the slot. A clip that simply cannot be read comes back as a normal
  error result and is not retried.
- Results go to the store from the driver (the supervisor), never from the actors: the nodes need to see the clip
  files (at the same path), not the SQLite file.
"""
from __future__ import annotations

import os
import queue
import threading
import time

from .executor import STOP_GRACE_S, Executor, drain
from .worker import JobEvent, JobSpec, run_job

#: Seconds to wait for a new actor to answer its first call (its process start and imports).
ACTOR_READY_TIMEOUT_S = 120.0


class Analyzer:
    """The actor (wrapped with ``ray.remote`` at run time, so importing this module never needs Ray)."""

    def __init__(self):
        import ray

        self.cancels: dict[int, threading.Event] = {}
        self.label = f"ray:{ray.util.get_node_ip_address()}:{os.getpid()}"

    def ready(self) -> str:
        return self.label

    def run(self, spec: JobSpec):
        events: queue.Queue = queue.Queue()
        cancel = threading.Event()
        self.cancels[spec.job_id] = cancel

        def body():
            try:
                run_job(spec, events.put, cancel, worker=self.label)
            except BaseException as exc:
                events.put(JobEvent(spec.job_id, spec.attempt, "error", seq=10**9, stage="internal",
                                    message=f"The worker failed: {type(exc).__name__}: {exc}"))

        threading.Thread(target=body, daemon=True).start()
        try:
            while True:
                ev = events.get()
                yield ev
                if ev.final:
                    return
        finally:
            self.cancels.pop(spec.job_id, None)

    def cancel(self, job_id: int) -> None:
        ev = self.cancels.get(job_id)
        if ev is not None:
            ev.set()


def connect(address: str | None, num_cpus: int | None = None) -> None:
    """Attach to a Ray cluster (``auto`` or HOST:PORT), or start a local one when ``address`` is None."""
    import ray

    if ray.is_initialized():
        return
    kwargs = {"include_dashboard": False, "log_to_driver": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, **kwargs)


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, workers: int = 0, *, address: str | None = None):
        import ray

        self._ray = ray
        connect(address, num_cpus=workers or None)
        if not workers:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # max_concurrency=2: cancel() must run while run() is busy. num_cpus=1: one actor per core.
        self._remote = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=2)(Analyzer)
        self._events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._actors = [self._remote.remote() for _ in range(int(workers))]
        self._labels = ray.get([a.ready.remote() for a in self._actors], timeout=ACTOR_READY_TIMEOUT_S)
        self._busy: dict[int, int] = {}  # job id -> actor index
        self._closing = False
        self._pumps: list[threading.Thread] = []

    def capacity(self) -> int:
        with self._lock:
            return len(self._actors) - len(self._busy)

    def submit(self, spec: JobSpec) -> str:
        with self._lock:
            used = set(self._busy.values())
            index = next(i for i in range(len(self._actors)) if i not in used)
            self._busy[spec.job_id] = index
            actor = self._actors[index]
        pump = threading.Thread(target=self._pump, args=(index, actor, spec), name=f"ray-job-{spec.job_id}",
                                daemon=True)
        self._pumps.append(pump)
        pump.start()
        return self._labels[index]

    def _pump(self, index: int, actor, spec: JobSpec) -> None:
        ray = self._ray
        freed = False  # once freed, the slot (and the job id, on a retry) may already belong to another run
        try:
            for ref in actor.run.remote(spec):
                ev = ray.get(ref)
                if ev.final:  # free the slot before the supervisor sees the event, so it can claim again at once
                    with self._lock:
                        if self._busy.get(spec.job_id) == index:
                            del self._busy[spec.job_id]
                    freed = True
                    self._events.put(ev)
                    break
                self._events.put(ev)
        except ray.exceptions.RayActorError as exc:
            if self._closing:
                return
            self._events.put(JobEvent(spec.job_id, spec.attempt, "lost", seq=10**9,
                                      message=f"the Ray actor died: {type(exc).__name__}"))
            self._replace(index, actor)
        except BaseException as exc:  # a Ray-side failure: report it as a lost worker, so it is retried
            if not self._closing:  # (at shutdown Ray interrupts the blocked get(): nothing to report)
                self._events.put(JobEvent(spec.job_id, spec.attempt, "lost", seq=10**9,
                                          message=f"Ray failed: {type(exc).__name__}: {exc}"))
        finally:
            with self._lock:
                if not freed and self._busy.get(spec.job_id) == index:
                    del self._busy[spec.job_id]

    def _replace(self, index: int, dead) -> None:
        if self._closing:
            return
        try:
            self._ray.kill(dead)
        except Exception:
            pass
        actor = self._remote.remote()
        try:
            label = self._ray.get(actor.ready.remote(), timeout=ACTOR_READY_TIMEOUT_S)
        except Exception:
            label = "ray:unavailable"
        with self._lock:
            self._actors[index] = actor
            self._labels[index] = label

    def events(self, timeout: float) -> list[JobEvent]:
        return drain(self._events, timeout)

    def cancel(self, job_id: int, *, hard: bool = False) -> None:
        with self._lock:
            index = self._busy.get(job_id)
            actor = self._actors[index] if index is not None else None
        if actor is None:
            return
        if hard:
            self._ray.kill(actor)  # the pump thread sees the actor die and puts a fresh one in its slot
        else:
            actor.cancel.remote(job_id)

    def shutdown(self, timeout: float = STOP_GRACE_S) -> None:
        with self._lock:
            busy = list(self._busy)
        for job_id in busy:
            self.cancel(job_id)
        deadline = time.monotonic() + timeout
        while self.capacity() < len(self._actors) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._closing = True
        for actor in self._actors:
            try:
                self._ray.kill(actor)
            except Exception:
                pass
        for pump in self._pumps:
            pump.join(timeout=max(0.1, deadline - time.monotonic()))
