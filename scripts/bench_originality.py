"""Near-duplicate index at library scale: index N synthetic clips (random 64-bit frame hashes), then time queries.

    .venv/bin/python scripts/bench_originality.py [--clips 10000] [--frames 60] [--queries 20]

A query is a planted near-duplicate of a random indexed clip (every frame hash with 8 of 64 bits flipped, as a
re-encoded, rescaled copy measures) or a clip that is in the library in no form; the script checks every planted
copy is found and nothing else is, and prints the median and worst query time. Synthetic hashes stand in for real
clips: the index only ever sees hashes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.features import FeatureVector  # noqa: E402
from engine.originality import ensure_schema, find_matches, index_clip  # noqa: E402
from engine.store import Store  # noqa: E402


def fv_of(hashes) -> FeatureVector:
    fv = FeatureVector()
    fv.events["hash.frames"] = {"step_s": 0.4, "t": [0.4 * i for i in range(len(hashes))],
                                "phash": [f"{int(h):016x}" for h in hashes]}
    return fv


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=10_000)
    ap.add_argument("--frames", type=int, default=60, help="sampled frames per clip (60 = a 24 s clip)")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--flip-bits", type=int, default=8)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        ensure_schema(store.conn)
        hashes = rng.integers(0, 2**64 - 1, size=(args.clips, args.frames), dtype=np.uint64, endpoint=True)
        t0 = time.perf_counter()
        store.conn.execute("PRAGMA synchronous=OFF")
        for k in range(args.clips):
            index_clip(store, f"c{k}", f"clip{k}.mp4", fv_of(hashes[k]))
        t_index = time.perf_counter() - t0
        rows = store.conn.execute("SELECT COUNT(*) FROM orig_frame_bands").fetchone()[0]
        print(f"indexed {args.clips} clips x {args.frames} frame hashes in {t_index:.1f} s ({rows} band postings)")
        times, ok = [], True
        for q in range(args.queries):
            planted = q % 2 == 0
            if planted:
                target = int(rng.integers(args.clips))
                src = hashes[target]
                noisy = [int(h) ^ sum(1 << int(b) for b in rng.choice(64, args.flip_bits, replace=False)) for h in src]
            else:
                target = None
                noisy = rng.integers(0, 2**64 - 1, size=args.frames, dtype=np.uint64, endpoint=True).tolist()
            fv = fv_of(noisy)
            t0 = time.perf_counter()
            matches = find_matches(store, f"query{q}", fv)
            times.append(time.perf_counter() - t0)
            want = [f"clip{target}.mp4"] if planted else []
            got = [m.other_path for m in matches]
            if got != want:
                ok = False
                print(f"query {q}: expected {want}, got {got}")
        store.close()
    print(f"{args.queries} queries against {args.clips} clips: median {1000 * statistics.median(times):.1f} ms, "
          f"worst {1000 * max(times):.1f} ms; all answers right: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
