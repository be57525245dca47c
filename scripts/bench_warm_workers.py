"""Do local workers stay warm? Scores N copies of one clip with ``--workers 1`` and prints when each final line
arrives and which worker process ran each job (the store's ``jobs.worker``: host:pid).

    python scripts/bench_warm_workers.py CLIP [--copies 4] [--workers 1]

The copies have one content, so ``--no-cache`` makes each one a full analysis: the first pays the worker's
start-up (process spawn, imports, extractor registry), the others only the clip. The same run in-process for
comparison. Load average (1 minute) next to every number. A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict) -> list[float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    arrivals = []
    for line in proc.stdout:
        if json.loads(line)["status"] != "provisional":
            arrivals.append(round(time.monotonic() - t0, 3))
    proc.wait()
    return arrivals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        for i in range(args.copies):
            shutil.copy(args.clip, folder / f"copy{i}{Path(args.clip).suffix}")
        clips = sorted(str(p) for p in folder.iterdir())
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for label, extra in (("workers", ["--workers", str(args.workers)]), ("in-process", [])):
            store = Path(tmp) / f"{label}.db"
            cmd = [sys.executable, "-m", "engine.cli", "score", *clips, "--json", "--no-cache", "--no-ocr", "-q",
                   "--store", str(store), *extra]
            arrivals = timed(cmd, env)
            gaps = [round(b - a, 3) for a, b in zip([0.0, *arrivals], arrivals)]
            row = {"mode": label, "final_lines_at_s": arrivals, "per_clip_s": gaps,
                   "load": round(os.getloadavg()[0], 2)}
            if label == "workers":
                with sqlite3.connect(store) as conn:
                    row["worker_per_job"] = [w for (w,) in conn.execute("SELECT worker FROM jobs ORDER BY id")]
            print(json.dumps(row))


if __name__ == "__main__":
    main()
