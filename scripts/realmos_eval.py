"""How well BYTEME's picture score agrees with people, on the realmos clips (KoNViD-1k with MOS).

    PYTHONPATH=. .venv/bin/python scripts/realmos_eval.py [../shared/realmos] [--repeats 10] [--workers 2]

Extracts every clip's features once (cached under ~/.cache/byteme/realmos, keyed by the engine version and the
visual extractors' source), then prints SRCC and PLCC (mean ± sd over repeated 5-fold CV by clip, fixed seed) for:
the config-target visual score, sharpness alone, the appearance reading alone (ridge on a pretrained network's
features), the picture-quality model (ridge on BRISQUE's 12 statistics, the grain and the appearance reading, alpha
chosen inside each fold), the visual score with the model deciding picture quality (the model times the
visual targets it does not replace), the hand-set targets without the model's, and, for comparison, SVR (RBF) on the same statistics and ridge on every
picture metric. Then the synthetic flaw pairs: how many flawed copies score below their clean source.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.train import picture_quality as P  # noqa: E402

#: For comparison only: every picture metric (the model's 12 statistics and the rest of the visual family,
#: except geometry: resolution, aspect ratio, bars).
#: Without the appearance reading: the cached value is the shipped reading's, which saw every clip.
STATS_KEYS = tuple(k for k in P.FEATURE_KEYS if k != P.APPEARANCE_KEY)
ALL_PICTURE_KEYS = STATS_KEYS + (
    "visual.sharpness", "visual.noise_sigma", "visual.blockiness", "visual.banding_pct", "visual.brightness",
    "visual.contrast", "visual.colourfulness", "visual.saturation_pct", "visual.clipped_highlights_pct",
    "visual.crushed_shadows_pct", "visual.detail", "visual.gm_norm", "visual.log_norm", "visual.gm_log_corr",
    "visual.gradient", "visual.frame_diff", "visual.diff_mscn_var", "visual.mscn_var_spread", "visual.gm_norm_p90",
    "visual.motion_energy", "visual.shake_pct")


def svr_fold(x, y, c: float):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    def f(train, test):
        xt = np.where(np.isfinite(x), x, np.nanmean(x[train], axis=0))
        m = make_pipeline(StandardScaler(), SVR(C=c, gamma="scale", epsilon=0.1)).fit(xt[train], y[train])
        return m.predict(xt[test])
    return f


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("realmos", nargs="?", default=str(ROOT.parent / "shared" / "realmos"))
    ap.add_argument("--repeats", type=int, default=P.REPEATS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--no-pairs", action="store_true", help="skip the synthetic flaw pairs (rendering ~1-2 min)")
    args = ap.parse_args(argv)
    table = P.feature_table(args.realmos, cache_dir=args.cache_dir, workers=args.workers)
    pairs = None if args.no_pairs else P.flaw_pairs(cache_dir=args.cache_dir, workers=args.workers)
    names = sorted(table)
    y = np.array([table[n]["mos"] for n in names])
    if pairs:  # the flaw pairs read by the appearance reading trained on every rated clip, as the shipped one is
        pairs = P.with_reading(pairs, P.train_appearance(table, pairs))
    rows = [table[n]["values"] for n in names]
    x = P.model_matrix(rows, STATS_KEYS)
    ev = P.evaluate(table, pairs, repeats=args.repeats)
    ev["svr_rbf_C1"] = P.repeated_kfold(svr_fold(x, y, 1.0), len(y), y, repeats=args.repeats)
    xa = P.matrix(rows, ALL_PICTURE_KEYS)
    ev["ridge_all_picture_metrics"] = P.repeated_kfold(P.ridge_fold(xa, y), len(y), y, repeats=args.repeats)
    print(f"{len(y)} clips, {args.repeats} x {P.FOLDS}-fold by clip, seed {P.SEED}")
    print(f"{'method':34s} {'SRCC':>15s} {'PLCC':>15s}")
    for k, r in ev.items():
        print(f"{k:34s} {r['srcc_mean']:.3f} ± {r['srcc_sd']:.3f}   {r['plcc_mean']:.3f} ± {r['plcc_sd']:.3f}")
    if pairs:
        model = P.train(table, pairs)
        pq = P.predictor(model)
        for label, fn, flaws in (
                ("picture model alone, flaws it replaces the targets for", pq, P.PAIR_FLAWS_TRAINED),
                ("visual score, picture_quality = model", lambda v: P.visual_with_model(pq, v), P.PAIR_FLAWS_CHECKED),
                ("visual score, config targets (the default)", P.targets_visual_with(P.mos_predictor(model)),
                 P.PAIR_FLAWS_CHECKED),
                ("visual score, hand-set targets without the model's",
                 lambda v: P.targets_visual(v, None, derive=False), P.PAIR_FLAWS_CHECKED)):
            fr = P.pair_ranking(fn, pairs, flaws, constraint_only=flaws is P.PAIR_FLAWS_TRAINED)
            print(f"flaw pairs, {label}: {fr['below']}/{fr['total']} below their source")
            for w in fr["wrong"]:
                print(f"    not below: {w}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
