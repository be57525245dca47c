"""How often the content category is right on a labelled set, its confusion table, and the calibration behind
``[category]`` in config.toml (the temperature and the confidence under which BYTEME says ``other``).

    python scripts/category_accuracy.py --realclips ../shared/realclips --demo demo/ [--synthetic 36]
                                        [--cache /tmp/category.pkl] [--fit]

The labelled set: ``tests/data/category_labels.csv`` (the real clips and the demo clips, labelled by looking at
them) plus held-out clips of the synthetic training corpus (``engine.train.corpus``, whose category is known by
construction; the model never saw their sources). Features are computed once (with and without on-screen text
reading) and cached with ``--cache``.

Prints, for the raw model (argmax of its softmax), the rule-based ``heuristic_category`` and the active config's
calibrated decision: accuracy per set, the confusion table, and how many clips change category with ``--no-ocr``.
With ``--fit`` it also searches the temperature and the threshold on the whole set and reports the leave-one-out
accuracy of that search (each clip predicted with values fitted without it), the honest number for a set this small.
"""
from __future__ import annotations

import argparse
import csv
import math
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import load_config  # noqa: E402
from engine.features import FeatureVector  # noqa: E402
from engine.model import decide_category, load_model  # noqa: E402
from engine.scorer import heuristic_category  # noqa: E402

LABELS = ROOT / "tests" / "data" / "category_labels.csv"
#: Grids searched by --fit: softmax temperatures and confidence thresholds.
TEMPERATURES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
THRESHOLDS = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  # 0.30 .. 0.95


def _analyse(path: Path, cfg: dict, ocr: bool) -> dict:
    from engine.library import analyze

    r = analyze(path, cfg, use_cache=False, options={"ocr": ocr})
    if not r.ok:
        raise SystemExit(f"{path}: {r.error}")
    return dict(r.features.values)


def labelled_items(args, cfg: dict, cache: dict) -> list[dict]:
    """[{set, clip, label, values: {ocr: bool -> feature values}}] of every labelled clip found."""
    folders = {"realclips": args.realclips, "demo": args.demo}
    items = []
    with open(LABELS, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            folder = folders.get(row["set"])
            if folder is None or not (Path(folder) / row["clip"]).exists():
                continue
            path = Path(folder) / row["clip"]
            values = {}
            for ocr in (True, False):
                key = (str(path), ocr)
                if key not in cache:
                    cache[key] = _analyse(path, cfg, ocr)
                values[ocr] = cache[key]
            items.append({"set": row["set"], "clip": row["clip"], "label": row["category"], "values": values})
    if args.synthetic:
        from engine.train.corpus import clip_features, make_recipes

        per = max(1, args.synthetic // 6)
        taken: dict[str, int] = {}
        for r in make_recipes(40 * per, seed=1):
            if r.split != "heldout" or taken.get(r.category, 0) >= per:
                continue
            taken[r.category] = taken.get(r.category, 0) + 1
            key = ("synthetic", r.index)
            if key not in cache:
                cache[key] = clip_features(r, cfg)
            # the corpus reads no on-screen text: one set of values for both
            items.append({"set": "synthetic", "clip": f"recipe {r.index} ({r.source})", "label": r.category,
                          "values": {True: cache[key], False: cache[key]}})
    return items


def probabilities(model, items, ocr: bool) -> np.ndarray:
    _, p = model.predict_rows([it["values"][ocr] for it in items])
    return p


def heuristic(values: dict) -> str:
    fv = FeatureVector()
    fv.values.update(values)
    return heuristic_category(fv)[0]


def confusion(labels, preds, cats) -> str:
    cats = [c for c in cats if c in set(labels) | set(preds)]
    w = max(len(c) for c in cats) + 1
    lines = ["label \\ said".ljust(w) + " ".join(c[:12].rjust(12) for c in cats)]
    for a in cats:
        row = [sum(1 for x, y in zip(labels, preds) if x == a and y == b) for b in cats]
        if sum(row):
            lines.append(a.ljust(w) + " ".join(str(n).rjust(12) for n in row))
    return "\n".join(lines)


def report(name: str, items, preds, cats) -> None:
    labels = [it["label"] for it in items]
    print(f"\n== {name}")
    for s in ("realclips", "demo", "synthetic"):
        idx = [i for i, it in enumerate(items) if it["set"] == s]
        if idx:
            ok = sum(labels[i] == preds[i] for i in idx)
            print(f"   {s:<10} {ok}/{len(idx)} right ({100 * ok / len(idx):.0f}%)")
    ok = sum(a == b for a, b in zip(labels, preds))
    print(f"   all        {ok}/{len(items)} right ({100 * ok / len(items):.0f}%)")
    print(confusion(labels, preds, cats))


def decide_all(p: np.ndarray, cats, temperature: float, threshold: float, evidence=None, rows=None) -> list[str]:
    rows = rows if rows is not None else [None] * len(p)
    return [decide_category(row, cats, temperature=temperature, min_confidence=threshold, evidence=evidence,
                            values=v)[0] for row, v in zip(p, rows)]


def nll(p: np.ndarray, labels, cats, temperature: float) -> float:
    total = 0.0
    for row, lab in zip(p, labels):
        z = np.log(np.clip(row, 1e-12, 1.0)) / temperature
        z = z - z.max()
        q = np.exp(z) / np.exp(z).sum()
        total -= math.log(max(q[cats.index(lab)], 1e-12))
    return total / len(labels)


def fit(p: np.ndarray, labels, cats, evidence=None, rows=None) -> tuple[float, float]:
    """(temperature by least NLL, then threshold by most right; ties: the lowest threshold)."""
    t = min(TEMPERATURES, key=lambda t: nll(p, labels, cats, t))
    best = max(THRESHOLDS, key=lambda th: (sum(a == b for a, b in zip(labels, decide_all(p, cats, t, th, evidence,
                                                                                          rows))), -th))
    return t, best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realclips", default=str(ROOT.parent / "shared" / "realclips"))
    ap.add_argument("--demo", default=None, help="a demo folder (byteme demo DIR)")
    ap.add_argument("--synthetic", type=int, default=36, help="held-out corpus clips, spread over the categories")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--fit", action="store_true", help="search temperature and threshold; leave-one-out accuracy")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, use_user_file=False)
    cache = pickle.loads(args.cache.read_bytes()) if args.cache and args.cache.exists() else {}
    items = labelled_items(args, cfg, cache)
    if args.cache:
        args.cache.write_bytes(pickle.dumps(cache))
    model = load_model(cfg["scoring"].get("model", "default"), cfg)
    cats = list(model.categories)
    labels = [it["label"] for it in items]
    p_on, p_off = probabilities(model, items, True), probabilities(model, items, False)
    cat_cfg = cfg.get("category", {})
    t, th = float(cat_cfg.get("temperature", 1.0)), float(cat_cfg.get("min_confidence", 0.0))

    raw = [cats[int(np.argmax(r))] for r in p_on]
    report("model, raw argmax (before)", items, raw, cats)
    report("heuristic_category (--model none)", items, [heuristic(it["values"][True]) for it in items], cats)
    ev = cat_cfg.get("evidence")
    rows_on = [it["values"][True] for it in items]
    rows_off = [it["values"][False] for it in items]
    now = decide_all(p_on, cats, t, th)
    report(f"model, calibrated: temperature {t:g}, 'other' under confidence {th:g} (no evidence check)", items, now,
           cats)
    now = decide_all(p_on, cats, t, th, ev, rows_on)
    report(f"model, calibrated: temperature {t:g}, 'other' under confidence {th:g} or without the evidence "
           f"(config, the default)", items, now, cats)
    real = [i for i, it in enumerate(items) if it["set"] != "synthetic"]
    flips_raw = sum(raw[i] != cats[int(np.argmax(p_off[i]))] for i in real)
    flips_now = sum(now[i] != decide_all(p_off[i:i + 1], cats, t, th, ev, rows_off[i:i + 1])[0] for i in real)
    print(f"\nclips whose category changes with --no-ocr: raw {flips_raw}/{len(real)}, "
          f"calibrated {flips_now}/{len(real)}")
    if args.fit:
        ft, fth = fit(p_on, labels, cats, ev, rows_on)
        print(f"\nfit on all {len(items)}: temperature {ft:g}, threshold {fth:g} "
              f"(NLL {nll(p_on, labels, cats, 1.0):.3f} at T=1 -> {nll(p_on, labels, cats, ft):.3f})")
        loo = []
        for i in range(len(items)):
            keep = [j for j in range(len(items)) if j != i]
            lt, lth = fit(p_on[keep], [labels[j] for j in keep], cats, ev, [rows_on[j] for j in keep])
            loo.append(decide_all(p_on[i:i + 1], cats, lt, lth, ev, rows_on[i:i + 1])[0])
        report("leave-one-out (each clip predicted with temperature and threshold fitted without it)", items, loo, cats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
