"""The perceived-picture-quality model: trained on real human opinion (``realmos``), checked on synthetic flaws.

``python -m engine.train.picture_quality /path/to/realmos`` extracts every clip's features (cached outside the
repository, keyed by the engine version and the extractors' source), evaluates by repeated k-fold by clip
(fixed seed), fits the shipped model on all clips, and writes ``models/picture_quality.json`` (weights, scaler,
feature keys, version, training summary; JSON, never a pickle). ``scripts/realmos_eval.py`` prints the full
comparison table.

The realmos folder: ``labels.csv`` with ``file`` and ``mos`` (1-5) columns and the clips beside it. The model
predicts MOS; ``engine.picture_quality`` maps it linearly onto 0-100 (1 -> 0, 5 -> 100).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .. import __version__

#: The model's inputs: the perceptual statistics (visual_nss) and the existing picture metrics people respond to.
#: Chosen by nested measurement on realmos (scripts/realmos_eval.py); geometry and platform-fit metrics
#: (resolution, aspect ratio, bars) are left out on purpose: they are not perceived quality.
FEATURE_KEYS = (
    "visual.sharpness",
    "visual.noise_sigma",
    "visual.blockiness",
    "visual.banding_pct",
    "visual.brightness",
    "visual.contrast",
    "visual.colourfulness",
    "visual.saturation_pct",
    "visual.clipped_highlights_pct",
    "visual.crushed_shadows_pct",
    "visual.detail",
    "visual.mscn_shape",
    "visual.mscn_var",
    "visual.mscn_pair_shape",
    "visual.mscn_pair_mean",
    "visual.mscn_pair_var",
    "visual.mscn_pair_asym",
    "visual.mscn_shape_half",
    "visual.mscn_var_half",
    "visual.mscn_pair_shape_half",
    "visual.mscn_pair_mean_half",
    "visual.mscn_pair_var_half",
    "visual.mscn_pair_asym_half",
    "visual.gm_norm",
    "visual.log_norm",
    "visual.gm_log_corr",
    "visual.gradient",
    "visual.frame_diff",
    "visual.diff_mscn_shape",
    "visual.diff_mscn_var",
    "visual.mscn_var_spread",
    "visual.gm_norm_p10",
    "visual.motion_energy",
    "visual.shake_pct",
)
#: Fixed seed of the repeated k-fold and of the model fit.
SEED = 15
FOLDS = 5
REPEATS = 10
#: MOS scale of realmos (KoNViD-1k: absolute category rating 1-5).
MOS_LO, MOS_HI = 1.0, 5.0
#: Extractor modules whose source is part of the feature cache key (a change there invalidates the cache).
_CACHE_SOURCES = ("visual.py", "visual_nss.py", "visual_temporal.py", "visual_frames.py")


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "byteme" / "realmos"


def feature_cache_key() -> str:
    """Engine version plus a hash of the visual extractors' source: cached features are reused only while they
    would come out the same."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent.parent / "extractors"
    for name in _CACHE_SOURCES:
        h.update((here / name).read_bytes())
    return f"{__version__}-{h.hexdigest()[:12]}"


def read_realmos(folder: str | Path) -> list[tuple[Path, float]]:
    """(clip path, MOS) for every row of ``labels.csv`` whose clip exists, in file order."""
    folder = Path(folder)
    rows = []
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            p = folder / r["file"]
            if p.is_file():
                rows.append((p, float(r["mos"])))
    return rows


def _extract(path: str) -> tuple[str, dict | None, float | None, str | None]:
    from ..config import load_config
    from ..pipeline import extract_features
    from ..scorer import score

    try:
        cfg = load_config(None, use_user_file=False)
        _, fv = extract_features(Path(path), cfg, options={"ocr": False})
        vis = score(fv, cfg).modalities.get("visual")
        return path, dict(fv.values), vis, None
    except Exception as exc:  # one unreadable clip is reported and left out
        return path, None, None, f"{type(exc).__name__}: {exc}"


def feature_table(folder: str | Path, *, cache_dir: Path | None = None, workers: int = 2, log=print) -> dict:
    """{file name: {"values": {...}, "visual_targets": float, "mos": float}} for the realmos clips; cached per
    ``feature_cache_key()`` in ``cache_dir`` (default ~/.cache/byteme/realmos)."""
    labels = read_realmos(folder)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache = cache_dir / f"features-{feature_cache_key()}.json"
    table: dict = {}
    if cache.is_file():
        try:
            table = json.loads(cache.read_text(encoding="utf-8"))
        except ValueError:
            table = {}
    todo = [str(p) for p, _ in labels if p.name not in table]
    if todo:
        log(f"extracting features of {len(todo)} clip(s) ({workers} worker(s)); cache {cache}")
        if workers > 1:
            with ProcessPoolExecutor(workers) as ex:
                results = list(ex.map(_extract, todo))
        else:
            results = [_extract(p) for p in todo]
        for path, values, vis, err in results:
            if err:
                log(f"  {Path(path).name}: {err}")
                continue
            table[Path(path).name] = {"values": values, "visual_targets": vis}
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(table), encoding="utf-8")
        tmp.replace(cache)
    out = {}
    for p, mos in labels:
        if p.name in table:
            out[p.name] = {**table[p.name], "mos": mos}
    return out


# ------------------------------------------------------------------------------------------------------------
# Synthetic flaw pairs: a clean source and copies of it with one visual flaw each (engine/train/corpus.py)
# ------------------------------------------------------------------------------------------------------------

#: Sources of the flaw pairs: (category template, source) from the corpus's training photos and worlds.
PAIR_SOURCES = (("scenic_broll", "photo:astronaut"), ("scenic_broll", "photo:coffee"),
                ("other", "world:1003"), ("scenic_broll", "photo:grass"))
#: Severity of the single flaw in each flawed copy (corpus severities run 0.1-1; 0.6 is clearly visible for
#: every flaw at 360x640).
PAIR_SEVERITY = 0.6
#: Flaws that are about perceived picture quality. Letterbox bars are platform fit (how the picture fills a
#: portrait screen), judged by the config targets, so the picture model is checked on them but not trained to
#: push them down.
PAIR_FLAWS_TRAINED = ("blur", "noise", "exposure", "contrast", "compression", "downscale", "shake", "frame_drops",
                      "freeze")
PAIR_FLAWS_CHECKED = PAIR_FLAWS_TRAINED + ("letterbox",)
#: Cache format of the pair features (bump when PAIR_* above change).
_PAIRS_VERSION = "1"


def _pair_recipes(seed: int = SEED) -> list:
    from . import corpus as C

    out = []
    for si, (cat, src) in enumerate(PAIR_SOURCES):
        clip_seed = int(np.random.default_rng([seed, si]).integers(2**31))
        for flaw in (None, *PAIR_FLAWS_CHECKED):
            r = C.Recipe(len(out), clip_seed, "train", cat, src, {} if flaw is None else {flaw: PAIR_SEVERITY},
                         has_audio=False, has_caption=False, exposure_over=bool(si % 2))
            out.append((src, flaw or "clean", r))
    return out


def _pair_worker(args):
    from ..config import load_config
    from . import corpus as C

    src, flaw, r = args
    try:
        return src, flaw, C.clip_features(r, load_config(None, use_user_file=False), {"ocr": False}), None
    except Exception as exc:
        return src, flaw, None, f"{type(exc).__name__}: {exc}"


def flaw_pairs(*, cache_dir: Path | None = None, workers: int = 2, log=print) -> list[dict]:
    """[{"source", "flaw", "values"}] for every clean source and each of its flawed copies; cached like
    ``feature_table``."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache = cache_dir / f"flawpairs-{_PAIRS_VERSION}-{feature_cache_key()}.json"
    if cache.is_file():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))
        except ValueError:
            pass
    jobs = _pair_recipes()
    log(f"rendering {len(jobs)} synthetic clips (clean sources and flawed copies), {workers} worker(s)")
    if workers > 1:
        with ProcessPoolExecutor(workers) as ex:
            res = list(ex.map(_pair_worker, jobs))
    else:
        res = [_pair_worker(j) for j in jobs]
    out = []
    for src, flaw, values, err in res:
        if err:
            log(f"  {src} {flaw}: {err}")
            continue
        out.append({"source": src, "flaw": flaw, "values": values})
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out), encoding="utf-8")
    return out


def pair_index(pairs: list[dict], flaws=PAIR_FLAWS_CHECKED) -> list[tuple[int, int, str, str]]:
    """(clean row, flawed row, source, flaw) for every flawed copy whose clean source is there."""
    clean = {p["source"]: i for i, p in enumerate(pairs) if p["flaw"] == "clean"}
    return [(clean[p["source"]], i, p["source"], p["flaw"]) for i, p in enumerate(pairs)
            if p["flaw"] in flaws and p["source"] in clean]


def matrix(rows: list[dict], keys) -> np.ndarray:
    x = np.full((len(rows), len(keys)), np.nan)
    for i, r in enumerate(rows):
        for j, k in enumerate(keys):
            v = r.get(k)
            if v is not None and math.isfinite(float(v)):
                x[i, j] = float(v)
    return x


# ------------------------------------------------------------------------------------------------------------
# The model: ridge regression on standardised features (closed form, numpy only)
# ------------------------------------------------------------------------------------------------------------


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> dict:
    """Ridge on standardised features. Missing values are imputed with the training mean (0 after scaling).
    Returns {"mean", "scale", "coef", "intercept"} (numpy arrays / float)."""
    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.nanstd(x, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
    z = np.where(np.isfinite(x), (x - mean) / scale, 0.0)
    y0 = float(y.mean())
    n_feat = z.shape[1]
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(n_feat), z.T @ (y - y0))
    return {"mean": mean, "scale": scale, "coef": coef, "intercept": y0}


def predict_ridge(m: dict, x: np.ndarray) -> np.ndarray:
    z = np.where(np.isfinite(x), (x - m["mean"]) / m["scale"], 0.0)
    # Standardised values beyond the training range are clipped: a clip far outside what people rated must not
    # extrapolate the linear model into nonsense.
    z = np.clip(z, -4.0, 4.0)
    return z @ m["coef"] + m["intercept"]


def srcc_plcc(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy.stats import pearsonr, spearmanr

    ok = np.isfinite(pred) & np.isfinite(y)
    if ok.sum() < 3 or np.std(pred[ok]) == 0:
        return float("nan"), float("nan")
    return float(spearmanr(pred[ok], y[ok])[0]), float(pearsonr(pred[ok], y[ok])[0])


def kfold_indices(n: int, folds: int, repeats: int, seed: int):
    """Yields (repeat, train index, test index) for ``repeats`` shuffles of ``folds``-fold CV by clip."""
    rng = np.random.default_rng(seed)
    for rep in range(repeats):
        perm = rng.permutation(n)
        for f in range(folds):
            test = np.sort(perm[f::folds])
            train = np.setdiff1d(np.arange(n), test)
            yield rep, train, test


def repeated_kfold(predict_fold, n: int, y: np.ndarray, *, folds=FOLDS, repeats=REPEATS, seed=SEED) -> dict:
    """SRCC/PLCC of ``predict_fold(train, test) -> predictions for test`` pooled over each repeat's folds
    (every clip predicted once per repeat by a model that never saw it); mean and sd over repeats."""
    per_rep: dict = {}
    for rep, train, test in kfold_indices(n, folds, repeats, seed):
        pred = per_rep.setdefault(rep, np.full(n, np.nan))
        pred[test] = predict_fold(train, test)
    s = np.array([srcc_plcc(p, y) for p in per_rep.values()])
    return {"srcc_mean": float(np.nanmean(s[:, 0])), "srcc_sd": float(np.nanstd(s[:, 0])),
            "plcc_mean": float(np.nanmean(s[:, 1])), "plcc_sd": float(np.nanstd(s[:, 1])), "repeats": repeats,
            "folds": folds, "seed": seed, "n": n}


#: Ridge strengths tried by the inner (nested) cross-validation.
ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0)


def choose_alpha(x: np.ndarray, y: np.ndarray, *, seed: int = SEED) -> float:
    """The ridge strength with the best inner 5-fold SRCC (one repeat): used inside each outer fold only."""
    best, best_s = ALPHAS[0], -2.0
    for a in ALPHAS:
        pred = np.full(len(y), np.nan)
        for _, tr, te in kfold_indices(len(y), FOLDS, 1, seed):
            pred[te] = predict_ridge(fit_ridge(x[tr], y[tr], a), x[te])
        s = srcc_plcc(pred, y)[0]
        if s > best_s:
            best, best_s = a, s
    return best


def ridge_fold(x: np.ndarray, y: np.ndarray, alpha: float | None = None):
    """A ``predict_fold`` for ``repeated_kfold``: ridge with a fixed alpha, or nested choice when None."""
    def f(train, test):
        a = alpha if alpha is not None else choose_alpha(x[train], y[train])
        return predict_ridge(fit_ridge(x[train], y[train], a), x[test])
    return f


def evaluate(table: dict, keys=FEATURE_KEYS, *, repeats=REPEATS, seed=SEED) -> dict:
    """The comparison the model card reports: config-target visual score, sharpness alone, and the model (ridge,
    nested alpha), each by repeated k-fold on the same folds (the first two have nothing to fit)."""
    names = sorted(table)
    y = np.array([table[n]["mos"] for n in names])
    rows = [table[n]["values"] for n in names]
    x = matrix(rows, keys)
    targets = np.array([np.nan if table[n]["visual_targets"] is None else table[n]["visual_targets"] for n in names])
    sharp = matrix(rows, ["visual.sharpness"])[:, 0]
    out = {
        "config_targets": repeated_kfold(lambda tr, te: targets[te], len(y), y, repeats=repeats, seed=seed),
        "sharpness": repeated_kfold(lambda tr, te: sharp[te], len(y), y, repeats=repeats, seed=seed),
        "model": repeated_kfold(ridge_fold(x, y), len(y), y, repeats=repeats, seed=seed),
    }
    return out


def train(table: dict, keys=FEATURE_KEYS) -> dict:
    """The shipped model: ridge on every realmos clip, alpha by 5-fold CV on all of them. JSON-ready dict."""
    names = sorted(table)
    y = np.array([table[n]["mos"] for n in names])
    x = matrix([table[n]["values"] for n in names], keys)
    alpha = choose_alpha(x, y)
    m = fit_ridge(x, y, alpha)
    return {
        "format": "byteme-picture-quality-1",
        "name": "picture_quality",
        "version": 1,
        "engine_version": __version__,
        "feature_cache_key": feature_cache_key(),
        "feature_keys": list(keys),
        "scaler_mean": [float(v) for v in m["mean"]],
        "scaler_scale": [float(v) for v in m["scale"]],
        "coef": [float(v) for v in m["coef"]],
        "intercept": float(m["intercept"]),
        "z_clip": 4.0,
        "target": {"name": "MOS", "lo": MOS_LO, "hi": MOS_HI, "maps_to_0_100": True},
        "training": {"data": "realmos (KoNViD-1k, 67 clips, 960x540, 8 s)", "n_clips": len(y), "alpha": alpha,
                     "method": "ridge regression on standardised features, alpha by 5-fold CV", "seed": SEED},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.train.picture_quality", description=__doc__.split("\n")[0])
    ap.add_argument("realmos", help="folder with labels.csv and the clips")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "models" / "picture_quality.json"))
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    table = feature_table(args.realmos, cache_dir=args.cache_dir, workers=args.workers)
    if len(table) < 10:
        print(f"Only {len(table)} labelled clips were readable in {args.realmos}; need at least 10.", file=sys.stderr)
        return 1
    ev = evaluate(table)
    model = train(table)
    model["training"]["repeated_kfold"] = ev
    Path(args.out).write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    for k, r in ev.items():
        print(f"{k:16s} SRCC {r['srcc_mean']:.3f} ± {r['srcc_sd']:.3f}   PLCC {r['plcc_mean']:.3f} ± {r['plcc_sd']:.3f}")
    print(f"wrote {args.out} (alpha {model['training']['alpha']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
