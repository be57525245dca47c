"""Rebuild the shipped default model reproducibly: ``python -m engine.train.build_default``.

Builds (or loads from ``.cache/corpus``) the seeded synthetic corpus through the real extractors, trains on the
training sources, evaluates on the held-out sources against the plain config-weighted score, and writes
``engine/models/default.safetensors``, ``engine/models/default.json`` and the measured numbers into ``engine/models/MODEL_CARD.md``.
Run it again whenever the extractors' metric keys change (a model trained on other features is refused).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import load_config
from ..features import MODALITIES
from ..model import CATEGORIES, SHIPPED_DIR, clear_cache, load_model, save_model
from . import corpus as C
from .fit import (Labels, as_scorer, category_accuracy, config_modalities, correlations, model_modalities,
                  train_model, weighted_overall)

DEFAULT_CLIPS = 960
DEFAULT_SEED = 20261127
CARD_BEGIN, CARD_END = "<!-- measured:begin -->", "<!-- measured:end -->"


def heldout_report(model, corpus: C.Corpus, cfg: dict) -> dict:
    """Held-out correlations of the model and of the config-weighted score against the synthetic targets."""
    ho = corpus.split == "heldout"
    rows = corpus.rows(ho)
    target = corpus.targets[ho]
    pm = model_modalities(model, rows)
    pc = config_modalities(rows, cfg)
    known = ~np.isnan(target) & ~np.isnan(pm)
    out = {"clips": int(ho.sum()), "sources": sorted(set(corpus.source[ho].tolist())), "modalities": {}}
    for j, m in enumerate(MODALITIES):
        out["modalities"][m] = {"model": correlations(pm[:, j], target[:, j]),
                                "config": correlations(pc[:, j], target[:, j])}
    t_over = weighted_overall(target, known, cfg)
    out["overall"] = {"model": correlations(weighted_overall(pm, known, cfg), t_over),
                      "config": correlations(weighted_overall(pc, known & ~np.isnan(pc), cfg), t_over)}
    out["category_accuracy"] = category_accuracy(model, rows, corpus.category[ho])
    return out


def build(n: int = DEFAULT_CLIPS, seed: int = DEFAULT_SEED, *, out_dir: Path = SHIPPED_DIR, workers: int = 2,
          cache_dir: str | None = ".cache/corpus", card: bool = True, log=print) -> dict:
    try:
        import skimage.data  # noqa: F401  (the corpus's photographs ship inside scikit-image)
    except ImportError:
        from ..errors import BytemeError

        raise BytemeError("Building the synthetic corpus needs scikit-image (its bundled photographs): "
                          "install the dev extra, `pip install -e .[dev]`.", kind="missing_dependency") from None
    cfg = load_config(None)
    t0 = time.monotonic()
    corpus = C.build_corpus(n, seed, config=cfg, cache_dir=cache_dir, workers=workers, log=log)
    build_s = time.monotonic() - t0
    tr = corpus.split == "train"
    rows = corpus.rows(tr)
    labels = Labels(corpus.targets[tr], np.full(int(tr.sum()), np.nan), corpus.category[tr],
                    list(corpus.source[tr]))
    t1 = time.monotonic()
    net, encoder, hist = train_model(rows, labels, cfg, keys=corpus.keys, seed=seed, inactive=C.CORPUS_BLIND_KEYS, log=log)
    train_s = time.monotonic() - t1
    report = heldout_report(as_scorer(net, encoder, CATEGORIES), corpus, cfg)
    info = {
        "trained_on": "synthetic corpus (engine.train.corpus)",
        "corpus": {"clips": int(len(corpus.values)), "seed": seed, "recipe_version": C.CORPUS_VERSION,
                   "train_clips": int(tr.sum()), "heldout_clips": int((~tr).sum()),
                   "train_sources": sorted(set(corpus.source[tr].tolist())),
                   "heldout_sources": report["sources"], "build_s": round(build_s, 1)},
        "training": dict(hist, train_s=round(train_s, 1)),
        "heldout": {k: v for k, v in report.items() if k != "sources"},
        "version_prefix": f"synthetic-{C.CORPUS_VERSION}",
    }
    path = save_model(out_dir / "default.safetensors", net, encoder, name="default", categories=CATEGORIES, info=info)
    clear_cache()
    model = load_model(str(path), cfg)  # proves the saved file loads and passes its checks
    log(f"saved {path} as {model.name}")
    summary = summarise(report)
    log(summary)
    if card:
        write_card(out_dir / "MODEL_CARD.md", model, info, summary)
    return {"model": model.name, "path": str(path), "info": info}


def _fmt(c: dict) -> str:
    return "n/a" if c["srcc"] is None else f"SRCC {c['srcc']:.3f}, PLCC {c['plcc']:.3f} (n={c['n']})"


def summarise(report: dict) -> str:
    lines = [f"Held-out synthetic sources ({report['clips']} clips): {', '.join(report['sources'][:8])}"
             + (" ..." if len(report["sources"]) > 8 else ""),
             "| score | learned model | config-weighted score |", "|---|---|---|"]
    lines.append(f"| overall | {_fmt(report['overall']['model'])} | {_fmt(report['overall']['config'])} |")
    for m in MODALITIES:
        r = report["modalities"][m]
        lines.append(f"| {m} | {_fmt(r['model'])} | {_fmt(r['config'])} |")
    acc = report.get("category_accuracy")
    o = report["overall"]
    lines.append("")
    if o["model"]["srcc"] is not None and o["config"]["srcc"] is not None:
        verdict = "beats" if o["model"]["srcc"] > o["config"]["srcc"] else "does NOT beat"
        lines.append(f"Overall, the learned model {verdict} the config-weighted score on held-out sources "
                     f"(SRCC {o['model']['srcc']:.3f} vs {o['config']['srcc']:.3f}).")
    worse = [m for m in MODALITIES if (report["modalities"][m]["model"]["srcc"] or 0)
             < (report["modalities"][m]["config"]["srcc"] or 0)]
    if worse:
        lines.append(f"On {', '.join(worse)} alone the config targets rank held-out clips better than the model does.")
    lines.append(f"Category accuracy on held-out clips (6 classes, chance ~0.17): {acc if acc is not None else 'n/a'}")
    return "\n".join(lines)


def write_card(path: Path, model, info: dict, summary: str) -> None:
    """Replace the measured section of the model card (between the markers) with this build's numbers."""
    text = path.read_text(encoding="utf-8") if path.is_file() else f"# Model card\n\n{CARD_BEGIN}\n{CARD_END}\n"
    c = info["corpus"]
    block = "\n".join([
        CARD_BEGIN,
        f"Model `{model.name}`, engine {__version__}, {len(model.feature_keys)} feature keys.",
        f"Corpus: {c['clips']} clips (seed {c['seed']}, recipe {c['recipe_version']}), {c['train_clips']} from "
        f"training sources, {c['heldout_clips']} from held-out sources; trained in {info['training']['train_s']} s "
        f"(stopped at epoch {info['training']['epochs']}, best {info['training']['best_epoch']}).",
        "",
        summary,
        CARD_END,
    ])
    if CARD_BEGIN in text and CARD_END in text:
        text = re.sub(re.escape(CARD_BEGIN) + ".*?" + re.escape(CARD_END), lambda _: block, text, flags=re.S)
    else:
        text += "\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.train.build_default", description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=DEFAULT_CLIPS)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(SHIPPED_DIR), help="folder for the model files (default: engine/models/)")
    p.add_argument("--no-cache", action="store_true", help="rebuild the corpus features even when cached")
    p.add_argument("--no-card", action="store_true", help="do not rewrite the numbers in MODEL_CARD.md")
    p.add_argument("--json", action="store_true", help="print the training summary as JSON at the end")
    a = p.parse_args(argv)
    res = build(a.clips, a.seed, out_dir=Path(a.out), workers=a.workers, cache_dir=None if a.no_cache else ".cache/corpus",
                card=not a.no_card, log=lambda s: print(s, file=sys.stderr, flush=True))
    if a.json:
        print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
