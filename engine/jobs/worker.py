"""What runs where the analysis happens (a spawned worker process, a thread, a Ray actor): one job in, events out.

A worker never touches the store: it receives a ``JobSpec`` (path, config, model name, options), calls
``engine.pipeline.analyze`` without a store, and emits ``JobEvent``s (progress, then one final event). The
supervisor, in the process that owns the store connection, writes progress, the result and the job's ``done`` in
one transaction. That is what lets the same worker code run on another machine under Ray.

Test hooks (only active when the environment variable is set in the process that runs the supervisor; they are
copied into each ``JobSpec`` so that threads, processes and Ray actors all see them):

- ``BYTEME_TEST_CRASH_ON=text``: a worker handed a clip whose file name contains ``text`` dies at once
  (``os._exit``), as if the decoder had crashed. The in-thread executor reports it as a lost worker instead.
- ``BYTEME_TEST_HOLD_ON=text`` and ``BYTEME_TEST_HOLD_FILE=path``: a job whose file name contains ``text`` waits
  (cancellably) while ``path`` exists, so a test can act on a job in the middle of its run.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

TEST_HOOK_VARS = ("BYTEME_TEST_CRASH_ON", "BYTEME_TEST_HOLD_ON", "BYTEME_TEST_HOLD_FILE")
#: Exit status of a worker killed by the crash test hook (any non-zero status would do).
CRASH_HOOK_EXIT_STATUS = 86
#: Seconds between two looks at the hold file (the test hook): short, so a cancel is seen at once.
HOLD_POLL_S = 0.02


@dataclass
class JobSpec:
    job_id: int
    attempt: int
    path: str
    config: dict
    model_name: str | None = None
    options: dict = field(default_factory=dict)
    test_hooks: dict = field(default_factory=dict)


@dataclass
class JobEvent:
    """``kind``: progress | result | cancelled | lost (the worker died; ``message`` says how) | error (the worker
    itself failed outside the analysis, e.g. the model would not load: not retried)."""

    job_id: int
    attempt: int
    kind: str
    seq: int = 0  # per job attempt, strictly increasing: events arrive in this order
    stage: str | None = None
    fraction: float = 0.0
    fps: float | None = None
    eta_s: float | None = None
    result: object = None  # ClipResult for kind == "result"
    message: str | None = None
    worker: str | None = None

    @property
    def final(self) -> bool:
        return self.kind != "progress"


class SimulatedCrash(BaseException):
    """Raised by the crash test hook where a real ``os._exit`` would take the test process down (threads)."""


def current_test_hooks() -> dict:
    return {k: os.environ[k] for k in TEST_HOOK_VARS if os.environ.get(k)}


class ModelCache:
    """Each worker loads a learned scorer once per model name and keeps it."""

    def __init__(self):
        self._models: dict = {}

    def get(self, name: str | None, cfg: dict):
        key = name or cfg.get("scoring", {}).get("model", "default")
        if key not in self._models:
            from types import SimpleNamespace

            from ..cli import load_model_for

            self._models[key] = load_model_for(SimpleNamespace(model=name), cfg)
        return self._models[key]


def _apply_test_hooks(spec: JobSpec, cancel: threading.Event, *, in_thread: bool) -> None:
    hooks = spec.test_hooks
    if not hooks:
        return
    name = Path(spec.path).name
    crash = hooks.get("BYTEME_TEST_CRASH_ON")
    if crash and crash in name:
        if in_thread:
            raise SimulatedCrash(f"test hook: crash on {name}")
        os._exit(CRASH_HOOK_EXIT_STATUS)
    hold, hold_file = hooks.get("BYTEME_TEST_HOLD_ON"), hooks.get("BYTEME_TEST_HOLD_FILE")
    if hold and hold_file and hold in name:
        from ..errors import Cancelled

        while os.path.exists(hold_file):
            if cancel.wait(HOLD_POLL_S):
                raise Cancelled()


def run_job(
    spec: JobSpec,
    emit: Callable[[JobEvent], None],
    cancel: threading.Event,
    models: ModelCache,
    *,
    worker: str | None = None,
    in_thread: bool = False,
) -> None:
    """Analyse one clip and emit its events; the last one is final (result, cancelled or error).

    ``SimulatedCrash`` (test hook, threads only) propagates: the caller reports it as a lost worker.
    """
    from ..errors import BytemeError, Cancelled
    from ..pipeline import analyze

    seq = 0

    def send(kind: str, **kw) -> None:
        nonlocal seq
        seq += 1
        emit(JobEvent(spec.job_id, spec.attempt, kind, seq=seq, worker=worker, **kw))

    top = 0.0

    def on_progress(p) -> None:
        nonlocal top
        top = max(top, p.fraction)  # a bar never moves back (the pipeline's "scoring" 0.99 can follow 0.9906)
        send("progress", stage=p.stage, fraction=top, fps=p.fps, eta_s=p.eta_s)

    try:
        send("progress", stage="starting", fraction=0.0)
        _apply_test_hooks(spec, cancel, in_thread=in_thread)
        model = models.get(spec.model_name, spec.config)
        result = analyze(spec.path, spec.config, on_progress, cancel, store=None, model=model, use_cache=False,
                         options=spec.options)
    except Cancelled:
        send("cancelled", message="Cancelled.")
        return
    except BytemeError as exc:  # e.g. the model would not load: the same on every attempt, so not retried
        send("error", message=exc.message, stage=exc.kind)
        return
    send("result", stage="done", fraction=1.0, result=result)


# -- the local worker process -------------------------------------------------------------------------------------

def worker_main(job_conn, event_conn) -> None:
    """Entry point of a spawned worker process: receive ("run", JobSpec) / ("cancel", job_id) / ("stop",), send
    JobEvents back. Exits when the supervisor closes its end (or dies)."""
    # Ctrl-C in a terminal reaches the whole process group; the supervisor decides what stops, not each worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one analysis per process: N workers must not each grab every core
    label = f"{os.uname().nodename}:{os.getpid()}"
    models = ModelCache()
    send_lock = threading.Lock()
    cancels: dict[int, threading.Event] = {}

    def emit(ev: JobEvent) -> None:
        with send_lock:
            try:
                event_conn.send(ev)
            except (BrokenPipeError, EOFError, OSError):
                os._exit(0)  # the supervisor is gone: nothing to report to

    def run(spec: JobSpec) -> None:
        try:
            run_job(spec, emit, cancels[spec.job_id], models, worker=label)
        except BaseException as exc:  # a bug in the worker code itself: report it, stay alive for the next job
            emit(JobEvent(spec.job_id, spec.attempt, "error", seq=10**9, worker=label,
                          message=f"The worker failed: {type(exc).__name__}: {exc}", stage="internal"))
        finally:
            cancels.pop(spec.job_id, None)

    thread: threading.Thread | None = None
    while True:
        try:
            msg = job_conn.recv()
        except (EOFError, OSError):
            break
        if msg[0] == "run":
            spec = msg[1]
            cancels[spec.job_id] = threading.Event()
            thread = threading.Thread(target=run, args=(spec,), name=f"job-{spec.job_id}", daemon=True)
            thread.start()
        elif msg[0] == "cancel":
            ev = cancels.get(msg[1])
            if ev is not None:
                ev.set()
        elif msg[0] == "stop":
            break
    for ev in list(cancels.values()):
        ev.set()
    if thread is not None:
        thread.join(timeout=2.0)
    time.sleep(0)
    os._exit(0)
