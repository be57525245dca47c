"""Time to the first provisional verdict and to the final one, against a decode-only pass of the same clip.

    python scripts/bench_first_verdict.py CLIP [--runs 3] [--no-ocr] [--baseline-root DIR]

Each run, in turn: a decode-only pass (``engine.media.probe`` + ``engine.media.decode`` with no extractor: every
video and audio frame decoded, nothing measured) timed in a fresh process from its start, then
``byteme score CLIP --json --progressive --no-cache -q`` timed from the moment it is started to its first
``"status": "provisional"`` line and to its final line. A throwaway store in a temporary folder. The load average
(1 minute) is printed next to every number: the machine is shared, so a number means little without it. A
benchmark, not a test: nothing here passes or fails. ``--baseline-root``: also time the same ``byteme score`` (its
final line; without ``--progressive``) from another checkout, e.g. the main branch before this change.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DECODE_ONLY = ("import sys, time; t = time.monotonic(); from engine.media import probe, decode; "
               "info = probe(sys.argv[1]); decode(sys.argv[1], info); "
               "print(round(time.monotonic() - t, 3))")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def decode_only(clip: str, env: dict) -> dict:
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", DECODE_ONLY, clip], env=env, capture_output=True, text=True,
                         check=True)
    return {"decode_only_s": round(time.monotonic() - t0, 3), "decode_call_s": float(out.stdout.strip()),
            "load": load()}


def score(clip: str, env: dict, extra: list[str], progressive: bool = True) -> dict:
    cmd = [sys.executable, "-m", "engine.cli", "score", clip, "--json", "--no-cache", "-q", *extra,
           *(["--progressive"] if progressive else [])]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = final = None
    lines = []
    for line in proc.stdout:
        now = round(time.monotonic() - t0, 3)
        row = json.loads(line)
        lines.append((now, row["status"], row.get("progress")))
        if row["status"] == "provisional" and first is None:
            first = now
        elif row["status"] != "provisional":
            final = now
    proc.wait()
    return {"first_provisional_s": first, "final_s": final, "exit": proc.returncode, "load": load(),
            "lines": lines}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-ocr", action="store_true")
    ap.add_argument("--baseline-root", action="append", default=[],
                    help="a checkout to time too, without --progressive (final line only); may be repeated")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BYTEME_STORE": str(Path(tmp) / "bench.db")}
        for i in range(args.runs):
            d = decode_only(args.clip, env)
            s = score(args.clip, env, ["--no-ocr"] if args.no_ocr else [])
            ratio = round(s["final_s"] / d["decode_only_s"], 2) if s["final_s"] else None
            print(json.dumps({"run": i + 1, **d, **s, "final_over_decode_only": ratio}))
            for root in args.baseline_root:
                b = score(args.clip, {**env, "PYTHONPATH": root}, ["--no-ocr"] if args.no_ocr else [],
                          progressive=False)
                print(json.dumps({"run": i + 1, "baseline": root, "final_s": b["final_s"], "exit": b["exit"],
                                  "load": b["load"]}))


if __name__ == "__main__":
    main()
