"""What runs where the analysis happens (a spawned worker process, a thread, a Ray actor): one job in, events out.

A worker never touches the store and never scores: it receives a ``JobSpec`` (path, config, options), runs
``engine.pipeline.extract_features`` (probe, one decode, every extractor) and emits ``JobEvent``s (progress, then
one final event whose result carries the media info and the features, or the clip's error). The supervisor, in the
process that owns the store connection, scores the features (the learned model, loaded there once), adds the
findings and the library-wide insights, and writes the result and the job's ``done`` in one transaction. So a
worker never imports torch (2.4-3.4 s of start-up per process saved, measured for issue 11), and the same worker
code runs on another machine under Ray.

Test hooks (only active when the environment variable is set in the process that runs the supervisor; they are
copied into each ``JobSpec`` so that threads, processes and Ray actors all see them):

- ``BYTEME_TEST_CRASH_ON=text``: a worker handed a clip whose file name contains ``text`` dies at once
  (``os._exit``), as if the decoder had crashed. The in-thread executor reports it as a lost worker instead.
- ``BYTEME_TEST_HOLD_ON=text`` and ``BYTEME_TEST_HOLD_FILE=path``: a job whose file name contains ``text`` waits
  (cancellably) while ``path`` exists, so a test can act on a job in the middle of its run.
- ``BYTEME_TEST_MODULES_TO=path``: after each job the worker writes the sorted names of the top-level modules it has
  imported to ``path`` (JSON), so a test can check that a worker never imports torch.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

TEST_HOOK_VARS = ("BYTEME_TEST_CRASH_ON", "BYTEME_TEST_HOLD_ON", "BYTEME_TEST_HOLD_FILE",
                  "BYTEME_TEST_MODULES_TO")
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
    result: object = None  # ClipResult for kind == "result": media + features (unscored), or the clip's error
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
    """The supervisor loads a learned scorer once per model name and keeps it (workers never load one)."""

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
    *,
    worker: str | None = None,
    in_thread: bool = False,
) -> None:
    """Extract one clip's features and emit its events; the last one is final (result or cancelled).

    The result is an unscored ``ClipResult`` (media + features) or the clip's error, with the same kinds and words
    as ``engine.pipeline.analyze`` (``failed_result``): unreadable file, time limit, out of memory, internal.
    ``SimulatedCrash`` (test hook, threads only) propagates: the caller reports it as a lost worker.
    """
    from ..errors import Cancelled
    from ..pipeline import extract_features, failed_result
    from ..result import ClipResult

    seq = 0

    def send(kind: str, **kw) -> None:
        nonlocal seq
        seq += 1
        emit(JobEvent(spec.job_id, spec.attempt, kind, seq=seq, worker=worker, **kw))

    top = 0.0

    def on_progress(p) -> None:
        nonlocal top
        top = max(top, p.fraction)  # a bar never moves back
        send("progress", stage=p.stage, fraction=top, fps=p.fps, eta_s=p.eta_s)

    try:
        send("progress", stage="starting", fraction=0.0)
        _apply_test_hooks(spec, cancel, in_thread=in_thread)
        t0 = time.monotonic()
        try:
            info, fv = extract_features(Path(spec.path), spec.config, progress=on_progress, cancel=cancel,
                                        options=spec.options)
        except Exception as exc:  # Cancelled is one: failed_result raises a user's cancel again
            result = failed_result(exc, Path(spec.path), spec.config, cancel, t0)
        else:
            result = ClipResult(path=spec.path, status="ok", media=info, features=fv,
                                elapsed_s=round(time.monotonic() - t0, 3))
    except Cancelled:
        _report_modules(spec)
        send("cancelled", message="Cancelled.")
        return
    _report_modules(spec)
    send("result", stage="done", fraction=1.0, result=result)


def _report_modules(spec: JobSpec) -> None:
    target = spec.test_hooks.get("BYTEME_TEST_MODULES_TO")
    if target:
        import json
        import sys

        Path(target).write_text(json.dumps(sorted({m.split(".")[0] for m in list(sys.modules)})))


# -- the local worker process -------------------------------------------------------------------------------------

def worker_main(job_conn, event_conn) -> None:
    """Entry point of a spawned worker process: receive ("run", JobSpec) / ("cancel", job_id) / ("stop",), send
    JobEvents back. Exits when the supervisor closes its end (or dies)."""
    # Ctrl-C in a terminal reaches the whole process group; the supervisor decides what stops, not each worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one analysis per process: N workers must not each grab every core
    label = f"{os.uname().nodename}:{os.getpid()}"
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
            run_job(spec, emit, cancels[spec.job_id], worker=label)
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
