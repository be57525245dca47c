"""What runs where the analysis happens (a spawned worker process, a thread, a Ray actor): one job in, events out.

A worker never touches the store and never scores: it receives a ``JobSpec`` (path, config, options), runs
``engine.pipeline.extract_features`` (probe, one decode, every extractor) and emits ``JobEvent``s (progress, then
one final event whose result carries the media info and the features, or the clip's error). The supervisor, in the
process that owns the store connection, scores the features (the learned model, loaded there once), adds the
findings and the library-wide insights, and writes the result and the job's ``done`` in one transaction. So a
worker never imports torch (2.4-3.4 s of start-up per process saved, measured for issue 11), and the same worker
code runs on another machine under Ray.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class JobSpec:
    job_id: int
    attempt: int
    path: str
    config: dict
    model_name: str | None = None
    options: dict = field(default_factory=dict)
    provisional: bool = False  # send "provisional" events (``pipeline.Snapshot``s) while the clip is analysed


@dataclass
class JobEvent:
    """``kind``: progress | provisional (``result`` is a ``pipeline.Snapshot`` of what is known so far, for the
    supervisor to score; only when the spec asks) | result | cancelled | lost (the worker died; ``message`` says
    how) | error (the worker itself failed outside the analysis, e.g. the model would not load: not retried)."""

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
        return self.kind not in ("progress", "provisional")


class ModelCache:
    """The supervisor loads a learned scorer once per model name and keeps it (workers never load one)."""

    def __init__(self):
        self._models: dict = {}

    def get(self, name: str | None, cfg: dict):
        key = name or cfg.get("scoring", {}).get("model", "default")
        if key not in self._models:
            import sys

            from ..services import load_scorer
            from ..textsafe import visible

            model, why = load_scorer(name, cfg)
            if why:  # the same words `byteme score` prints for a refused model; the targets decide
                sys.stderr.write(f"byteme: {visible(why)}\n")
            self._models[key] = model
        return self._models[key]


def run_job(
    spec: JobSpec,
    emit: Callable[[JobEvent], None],
    cancel: threading.Event,
    *,
    worker: str | None = None,
) -> None:
    """Extract one clip's features and emit its events; the last one is final (result or cancelled).

    The result is an unscored ``ClipResult`` (media + features) or the clip's error, with the same kinds and words
    as ``engine.library.analyze`` (``pipeline.failed_result``): unreadable file, time limit, out of memory, internal.
    A ``SystemExit`` raised inside the analysis propagates: a thread executor reports it as a lost worker.
    """
    from ..errors import Cancelled
    from ..pipeline import extract_features, failed_result
    from ..result import ClipResult

    seq = 0
    sending = threading.Lock()  # progress comes from the extractors' thread, snapshots from the snapshots' thread

    def send(kind: str, **kw) -> None:
        nonlocal seq
        with sending:  # numbered and emitted in one step: the supervisor drops an event numbered below the last
            seq += 1
            emit(JobEvent(spec.job_id, spec.attempt, kind, seq=seq, worker=worker, **kw))

    top = 0.0

    def on_progress(p) -> None:
        nonlocal top
        top = max(top, p.fraction)  # a bar never moves back
        send("progress", stage=p.stage, fraction=top, fps=p.fps, eta_s=p.eta_s)

    def on_snapshot(snap) -> None:
        send("provisional", stage=snap.stage, fraction=snap.fraction, result=snap)

    try:
        send("progress", stage="starting", fraction=0.0)
        t0 = time.monotonic()
        try:
            info, fv = extract_features(Path(spec.path), spec.config, progress=on_progress, cancel=cancel,
                                        options=spec.options,
                                        provisional=on_snapshot if spec.provisional else None)
        except Exception as exc:  # Cancelled is one: failed_result raises a user's cancel again
            result = failed_result(exc, Path(spec.path), spec.config, cancel, t0)
        else:
            result = ClipResult(path=spec.path, status="ok", media=info, features=fv,
                                elapsed_s=round(time.monotonic() - t0, 3))
    except Cancelled:
        send("cancelled", message="Cancelled.")
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
