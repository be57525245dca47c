"""Time the learned scorer's per-clip prediction on one CPU thread: `python scripts/bench_model.py [MODEL]`.

Loads the model once (as `byteme score` does), then times `predict(fv)` on feature vectors drawn around the
model's own scaler state, and prints the median and 99th percentile in milliseconds.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from engine.config import load_config
from engine.features import FeatureVector
from engine.model import load_model


def main(name: str = "default", n: int = 2000) -> int:
    cfg = load_config(None)
    t0 = time.perf_counter()
    m = load_model(name, cfg)
    load_ms = 1000 * (time.perf_counter() - t0)
    rng = np.random.default_rng(0)
    enc = m.encoder
    fvs = []
    for _ in range(n):
        vals = {k: (float(mu + sd * rng.normal()) if rng.random() > 0.1 else None)
                for k, mu, sd in zip(enc.keys, enc.mean, enc.scale)}
        fvs.append(FeatureVector(values=vals))
    for fv in fvs[:50]:
        m.predict(fv)  # warm-up
    times = []
    for fv in fvs:
        t = time.perf_counter()
        m.predict(fv)
        times.append(1000 * (time.perf_counter() - t))
    print(f"{m.name}: load {load_ms:.0f} ms; predict median {np.median(times):.3f} ms, "
          f"p99 {np.percentile(times, 99):.3f} ms over {n} clips ({len(enc.keys)} features)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
