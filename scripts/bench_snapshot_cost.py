"""What the decode-time provisional verdicts cost, measured inside one process (issue 21).

    python scripts/bench_snapshot_cost.py CLIP [--runs 3] [--ocr]

Each run analyses CLIP twice in this process (``engine.library.analyze``, no store), once with a provisional
consumer that keeps every verdict (as ``byteme score --progressive`` does) and once without, in alternating order.
In the run with verdicts it times, with wrappers around the pipeline's own functions:

- ``freeze``: ``Extractor.snapshot()`` of the frame extractors, in the thread that runs ``on_frame`` (the only part
  on the extractors' path: it copies lists), per call;
- ``summary``: a decode-time snapshot in its own thread (the frozen extractors' finish(), merging) plus scoring it
  into a provisional verdict (``library.provisional_result``), per snapshot, wall and that thread's CPU time;
- every provisional stage in the pipeline's own threads (probe, audio, decode: the freezing, finish, and the end
  of the decode, which drops a pending summary), CPU;
- scoring each verdict (the consumer, inside ``_emit``), per stage, CPU of the thread that made it;
- the whole analysis, wall and process CPU, with and without verdicts (the difference is the noise of a shared
  machine plus the verdicts' cost: compare it with the sums above).

The load average (1 minute) is printed beside every number. A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def load() -> float:
    return round(os.getloadavg()[0], 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ocr", action="store_true", help="with on-screen text reading (off by default)")
    args = ap.parse_args()

    from engine import pipeline
    from engine.config import load_config
    from engine.extractors import registered
    from engine.library import analyze

    cfg = load_config()
    options = {"ocr": bool(args.ocr)}
    freeze: list[float] = []
    summary: list[tuple[float, float]] = []
    for cls in registered():
        own = cls.__dict__.get("snapshot")  # the extractors that give a partial summary
        if own is None:
            continue

        def timed(self, _own=own):
            t = time.perf_counter()
            try:
                return _own(self)
            finally:
                freeze.append(time.perf_counter() - t)

        cls.snapshot = timed
    inner = pipeline._Provisional._summarise

    def timed_summary(self, job):
        t, c = time.perf_counter(), time.thread_time()
        try:
            return inner(self, job)
        finally:
            summary.append((time.perf_counter() - t, time.thread_time() - c))

    pipeline._Provisional._summarise = timed_summary  # the consumer's scoring runs inside it (its callback)
    emits: list[tuple[str, float]] = []
    emit = pipeline._Provisional._emit

    def timed_emit(self, snap):
        t = time.thread_time()
        try:
            return emit(self, snap)
        finally:
            emits.append((snap.stage, time.thread_time() - t))

    pipeline._Provisional._emit = timed_emit
    stage_cpu: dict[str, list[float]] = {}

    def timed_stage(name):
        inner_stage = getattr(pipeline._Provisional, name)

        def run(self, *a, **kw):
            c = time.thread_time()
            try:
                return inner_stage(self, *a, **kw)
            finally:
                stage_cpu.setdefault(name, []).append(time.thread_time() - c)
        setattr(pipeline._Provisional, name, run)

    for name in ("probe_stage", "audio_stage", "decode_stage", "finish_stage", "end_decode"):
        timed_stage(name)  # in the pipeline's own threads: everything but the summaries

    analyze(args.clip, cfg, options=options)  # warm-up: imports, the scorer, first-use set-ups
    print(f"clip {args.clip}, OCR {'on' if args.ocr else 'off'}")
    for run in range(args.runs):
        times = {}
        for mode in (("with", "without") if run % 2 == 0 else ("without", "with")):
            if mode == "with":
                freeze.clear()
                summary.clear()
                emits.clear()
                stage_cpu.clear()
            seen = []
            t, c = time.perf_counter(), time.process_time()
            analyze(args.clip, cfg, options=options, provisional=seen.append if mode == "with" else None)
            times[mode] = (time.perf_counter() - t, time.process_time() - c, load(), len(seen))
        w, wo = times["with"], times["without"]
        decode_time = list(summary)
        print(f"run {run + 1}: with verdicts {w[0]:.2f} s wall, {w[1]:.2f} s CPU ({w[3]} verdicts, load {w[2]}); "
              f"without {wo[0]:.2f} s wall, {wo[1]:.2f} s CPU (load {wo[2]})")
        if freeze:
            print(f"  freeze: {len(freeze)} calls, total {1000 * sum(freeze):.2f} ms, max {1000 * max(freeze):.2f} ms")
        if decode_time:
            print(f"  decode-time snapshots: {len(decode_time)}, wall {', '.join(f'{1000 * s:.0f}' for s, _ in decode_time)}"
                  f" ms; CPU {', '.join(f'{1000 * c:.0f}' for _, c in decode_time)} ms "
                  f"(total CPU {1000 * sum(c for _, c in decode_time):.0f} ms)")
        stages: dict[str, list[float]] = {}
        for stage, c in emits:
            stages.setdefault(stage, []).append(c)
        print("  scoring each verdict (CPU, its thread): " + "; ".join(
            f"{stage} {len(v)}x {1000 * sum(v):.0f} ms" for stage, v in stages.items()))
        print("  in the pipeline's threads (CPU, calls include their verdict's scoring): " + "; ".join(
            f"{name} {len(v)}x {1000 * sum(v):.1f} ms" for name, v in stage_cpu.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
