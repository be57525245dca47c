"""CPU seconds rather than wall time (issue 21): on the shared 2-core machine, with the load average at 10-18, the
wall time of one run swings by 2x, while the CPU time a run needs moves by a few percent. The analysis is
CPU-bound (FFmpeg's decode keeps ~1.5 of 2 cores busy), so every CPU second it saves shows on an idle machine.

    PYTHONPATH=. .venv/bin/python scripts/bench_cpu.py extractors CLIP           # per extractor method, warmed
    PYTHONPATH=. .venv/bin/python scripts/bench_cpu.py cli CLIP --baseline-root /path/to/main [--rounds 3] [-- ARGS]

- ``extractors``: one warm-up ``extract_features`` (OCR off), then one more with every extractor's ``on_frame``
  and ``finish`` timed by ``time.thread_time`` (the CPU of the thread that runs it), the decode-only pass
  (``engine.media.decode`` without extractors) and the analysis timed by ``time.process_time`` (every thread).
- ``cli``: ``byteme score CLIP --no-cache --json ARGS`` as a fresh process from this checkout and from
  ``--baseline-root``, alternating, ``--rounds`` times: wall time and the child's CPU (user + system). What a
  single-clip run pays once (imports, model loading) is in it.

Every line carries the load average (1, 5, 15 minutes). A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def extractors(clip: Path) -> None:
    import engine.extractors  # noqa: F401  (registers the extractors)
    from engine.config import load_config
    from engine.extractors.base import registered
    from engine.media import decode, probe
    from engine.pipeline import extract_features

    cpu: dict[str, float] = defaultdict(float)

    def timed(cls, name):
        f = getattr(cls, name)

        def g(self, *a, **k):
            t = time.thread_time()
            try:
                return f(self, *a, **k)
            finally:
                cpu[f"{cls.name}.{name}"] += time.thread_time() - t
        setattr(cls, name, g)

    for cls in registered():
        for m in ("on_frame", "finish"):
            timed(cls, m)
    cfg = load_config(use_user_file=False)
    extract_features(clip, cfg, options={"ocr": False})  # warm-up: imports, models, caches
    cpu.clear()
    c0, t0 = time.process_time(), time.perf_counter()
    decode(clip, probe(clip))
    dec_cpu, dec_wall = time.process_time() - c0, time.perf_counter() - t0
    c0, t0 = time.process_time(), time.perf_counter()
    extract_features(clip, cfg, options={"ocr": False})
    ana_cpu, ana_wall = time.process_time() - c0, time.perf_counter() - t0
    for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]):
        if v >= 0.001:
            print(f"  {k:36s} {v:7.3f} CPU-s")
    print(f"extractors {sum(cpu.values()):.2f} CPU-s; decode-only {dec_cpu:.2f} CPU-s ({dec_wall:.2f} s wall); "
          f"analysis without OCR {ana_cpu:.2f} CPU-s ({ana_wall:.2f} s wall), CPU ratio {ana_cpu / dec_cpu:.2f}; "
          f"load {loadavg()}")


def cli(clip: Path, baseline: Path, rounds: int, args: list[str]) -> None:
    trees = {"baseline": baseline.resolve(), "this": ROOT}
    res: dict[str, list] = {k: [] for k in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            with tempfile.TemporaryDirectory(prefix="byteme-bench-cpu-") as d:
                env = {**os.environ, "PYTHONPATH": str(tree), "BYTEME_DATA_DIR": d}
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                # run from the tree itself: ``python -m`` puts the working folder before PYTHONPATH
                subprocess.run([sys.executable, "-m", "engine.cli", "score", str(clip.resolve()), "--no-cache",
                                "--json", *args], env=env, cwd=str(tree), capture_output=True, check=True)
                wall = time.perf_counter() - t0
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            res[name].append((wall, used))
            print(f"{name:8s} wall {wall:6.2f} s  CPU {used:6.2f} s  load {loadavg()}", flush=True)
    for name, v in res.items():
        cpus = sorted(c for _, c in v)
        print(f"{name}: best wall {min(w for w, _ in v):.2f} s, CPU best {cpus[0]:.2f} s, median "
              f"{cpus[len(cpus) // 2]:.2f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("extractors", "cli"))
    ap.add_argument("clip", type=Path)
    ap.add_argument("--baseline-root", type=Path, help="another checkout (cli)")
    ap.add_argument("--rounds", type=int, default=3)
    a, extra = ap.parse_known_args(argv)
    a.args = [x for x in extra if x != "--"]  # extra arguments of byteme score (cli), e.g. -- --no-ocr
    if a.what == "extractors":
        extractors(a.clip)
    else:
        if a.baseline_root is None:
            ap.error("cli needs --baseline-root")
        cli(a.clip, a.baseline_root, a.rounds, a.args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
