"""How each visual target moves the config-target visual score's agreement with people, on the realmos clips.

    PYTHONPATH=. .venv/bin/python scripts/target_weights.py [../shared/realmos] [--sweep visual.detail]

Nothing is fitted: the visual score of every clip is computed with the shipped config (no user file), then once
more with each visual target left out (weight 0), and the Spearman correlation (SRCC) with the clips' MOS is printed
for each, beside how many clips the target charges and how its metric alone ranks with MOS. ``--sweep KEY`` also
prints the SRCC for a range of weights of one target. Features are read from the realmos cache of
``engine.train.picture_quality`` (extracted on the first run); the picture MOS of each clip is predicted by a model
trained without it (one 5-fold split, ``out_of_fold_mos``), not by the shipped model, which saw every clip. 67 clips: a difference under ~0.03 is noise, and a
weight picked on these clips is picked on them: the clips kept aside are the real check.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import load_config  # noqa: E402
from engine.features import FeatureVector  # noqa: E402
from engine.picture_quality import PICTURE_MOS  # noqa: E402
from engine.scorer import metric_scores, score  # noqa: E402
from engine.train import picture_quality as P  # noqa: E402

SWEEP_WEIGHTS = (3.5, 2.5, 1.5, 1.0, 0.5, 0.0)


def main(argv=None) -> int:
    from scipy.stats import spearmanr

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("realmos", nargs="?", default=str(ROOT.parent / "shared" / "realmos"))
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sweep", action="append", default=[], metavar="KEY", help="a target to sweep the weight of")
    args = ap.parse_args(argv)
    table = P.feature_table(args.realmos, cache_dir=args.cache_dir, workers=args.workers)
    pairs = P.flaw_pairs(cache_dir=args.cache_dir, workers=args.workers)
    oof = P.out_of_fold_mos(table, pairs)  # the picture MOS of a model that never saw the clip (the shipped one did)
    names = sorted(table)
    y = np.array([table[n]["mos"] for n in names])
    fvs = [FeatureVector(values={**table[n]["values"], PICTURE_MOS.key: oof[n]}) for n in names]
    cfg = load_config(None, use_user_file=False)

    def srcc(c: dict) -> float:
        return float(spearmanr([score(fv, c, derive=False).modalities["visual"] for fv in fvs], y)[0])

    base = srcc(cfg)
    print(f"{len(y)} clips; config-target visual score SRCC {base:.3f}")
    print(f"{'target left out':34s} {'SRCC':>6s} {'change':>7s}  charged  metric-vs-MOS")
    for key, t in cfg["targets"].items():
        if not key.startswith("visual.") or t.get("weight", 1.0) <= 0:
            continue
        c = copy.deepcopy(cfg)
        c["targets"][key]["weight"] = 0.0
        s = srcc(c)
        charged = sum(1 for fv in fvs if metric_scores(fv, cfg).get(key, 1.0) < 1.0)
        vals = np.array([fv.values.get(key, np.nan) for fv in fvs], float)
        ok = np.isfinite(vals)
        rho = float(spearmanr(vals[ok], y[ok])[0]) if ok.sum() > 2 and np.ptp(vals[ok]) > 0 else float("nan")
        print(f"{key:34s} {s:6.3f} {s - base:+7.3f}  {charged:3d}/{len(y)}   {rho:+.2f}")
    for key in args.sweep:
        for w in SWEEP_WEIGHTS:
            c = copy.deepcopy(cfg)
            c["targets"][key]["weight"] = w
            print(f"{key} weight {w:g}: SRCC {srcc(c):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
