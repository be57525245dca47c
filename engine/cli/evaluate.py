"""``byteme eval LABELS``: how well each scorer ranks your labels, without training."""
from __future__ import annotations

import sys
from pathlib import Path

from ..model import DEFAULT_NAME, load_model
from ..train.labels import (ENGAGEMENT_TARGETS, LabelError, comparison, features_for, labels_for, print_comparison,
                            read_labels, shipped_model, synced_engagement)
from ..textsafe import visible
from .common import config_for, store_for

NAME = "eval"
HELP = "correlation of the scorers with your own labels, without training"


def add_arguments(p) -> None:
    p.add_argument("labels", metavar="LABELS", help="a CSV (path,score,...) or a folder of clips with .info.json sidecars")
    p.add_argument("--target", choices=("score", *ENGAGEMENT_TARGETS), default=None,
                   help="for a folder of clips: the engagement measure to rank against, from .info.json sidecars "
                        "and synced TikTok numbers (default: like_rate); a CSV's labels are its score column")
    p.add_argument("--model", default=None, help="the model to evaluate (default: the config's)")
    p.add_argument("--no-ocr", action="store_true",
                   help="skip on-screen text recognition for clips not yet analysed (faster; text scores then use "
                        "captions and subtitles only)")


def run(args) -> int:
    log = lambda s: sys.stderr.write(visible(s, keep_newlines=True) + "\n")  # noqa: E731 - names from files
    cfg = config_for(args)
    ls = read_labels(args.labels, args.target, synced_engagement(args) if Path(args.labels).is_dir() else None)
    store = store_for(args)
    try:
        rows, keep = features_for(ls, cfg, store, {"ocr": not args.no_ocr}, log)
    finally:
        store.close()
    if len(rows) < 3:
        raise LabelError(f"Only {len(rows)} labelled clip(s) could be analysed; correlations need at least 3.")
    labels = labels_for(ls, keep)
    models: dict = {}
    name = args.model or cfg.get("scoring", {}).get("model", DEFAULT_NAME)
    if name not in (None, "", "none"):
        m = load_model(name, cfg)
        models[m.name] = m
    if name != DEFAULT_NAME:
        shipped = shipped_model(cfg, log)
        if shipped is not None:
            models[f"shipped {shipped.name}"] = shipped
    models["config-weighted score"] = None
    print_comparison(comparison(models, rows, labels, cfg),
                      f"Correlation with {ls.target_name} on all {len(rows)} labelled clips:", sys.stdout)
    return 0
