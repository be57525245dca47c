"""``byteme train LABELS``: fine-tune the learned scorer on your own ratings or engagement (engine.train)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..model import CATEGORIES, current_feature_keys, load_model, save_model, user_models_dir
from ..textsafe import display_path
from ..train.fit import as_scorer, group_split, train_model
from ..train.labels import (ENGAGEMENT_TARGETS, MIN_CLIPS, TEST_SHARE, LabelError, comparison, features_for,
                            labels_for, print_comparison, read_labels, shipped_model,
                            synced_engagement)
from .common import config_for, store_for

NAME = "train"
HELP = "train a scorer on your own labels (CSV or clips with .info.json)"


def add_arguments(p) -> None:
    p.add_argument("labels", nargs="?", metavar="LABELS",
                   help="a CSV (path,score[,visual,audio,text,category]) or a folder of clips with synced TikTok "
                        "numbers (byteme tiktok sync) or .info.json sidecars")
    p.add_argument("--target", choices=("score", *ENGAGEMENT_TARGETS), default=None,
                   help="for a folder: the engagement measure to learn (default like_rate)")
    p.add_argument("--name", default="mine", help="name of the new model (saved in the user data dir); default 'mine'")
    p.add_argument("--from", dest="start", default="default",
                   help="start from this model ('default' = the shipped one when its features match; 'none' = fresh)")
    p.add_argument("--test-share", type=float, default=TEST_SHARE, help="share of clips (uploaders) held out for testing")
    p.add_argument("--seed", type=int, default=None, help="seed of the split and the training (default 0)")
    p.add_argument("--no-ocr", action="store_true", help="skip on-screen text recognition when extracting features")
    p.add_argument("--synthetic", action="store_true",
                   help="rebuild the shipped default from the synthetic corpus instead (python -m engine.train.build_default)")
    p.add_argument("--clips", type=int, default=960, help="with --synthetic: corpus size")


def run(args) -> int:
    log = lambda s: sys.stderr.write(s + "\n")  # noqa: E731
    if getattr(args, "synthetic", False):
        from ..train.build_default import DEFAULT_SEED, build

        build(args.clips, DEFAULT_SEED if args.seed is None else args.seed, log=log)
        return 0
    if not args.labels:
        raise LabelError("Give LABELS (a CSV or a folder of clips with .info.json), or --synthetic.")
    cfg = config_for(args)
    ls = read_labels(args.labels, args.target, synced_engagement(args) if Path(args.labels).is_dir() else None)
    if len(ls.paths) < MIN_CLIPS:
        raise LabelError(f"{len(ls.paths)} labelled clip(s) found; training needs at least {MIN_CLIPS}.")
    store = store_for(args)
    try:
        log(f"Features of {len(ls.paths)} labelled clips (target: {ls.target_name}):")
        rows, keep = features_for(ls, cfg, store, {"ocr": not args.no_ocr}, log)
    finally:
        store.close()
    if len(rows) < MIN_CLIPS:
        raise LabelError(f"Only {len(rows)} labelled clip(s) could be analysed; training needs at least {MIN_CLIPS}.")
    labels = labels_for(ls, keep)
    args.seed = 0 if args.seed is None else args.seed
    train_idx, test_idx = group_split(labels.groups, args.test_share, args.seed)
    if len(test_idx) < 3 or len(train_idx) < 4:
        raise LabelError("Too few groups (uploaders) to hold out a test split; label more clips or more uploaders.")
    keys = current_feature_keys()
    shipped = shipped_model(cfg, log)
    init = shipped if (args.start == "default" and shipped is not None) else None
    if args.start not in ("default", "none"):
        init = load_model(args.start, cfg)
    tr_rows = [rows[i] for i in train_idx]
    net, encoder, hist = train_model(tr_rows, labels.subset(train_idx), cfg, keys=keys, init=init, seed=args.seed, log=log)
    new = as_scorer(net, encoder, init.categories if init else CATEGORIES, args.name)
    te_rows = [rows[i] for i in test_idx]
    te = labels.subset(test_idx)
    comp = comparison({f"new model '{args.name}'": new, **({f"shipped {shipped.name}": shipped} if shipped else {}),
                        "config-weighted score": None}, te_rows, te, cfg)
    print_comparison(comp, f"Held-out correlation with {ls.target_name} ({len(test_idx)} test clips, split by "
                      f"{'uploader' if any(g.startswith('uploader:') for g in labels.groups) else 'clip'}):", sys.stdout)
    info = {"trained_on": f"user labels {ls.target_name} from {Path(args.labels).name}", "training": hist,
            "heldout": comp, "train_clips": int(len(train_idx)), "test_clips": int(len(test_idx)),
            "started_from": init.name if init else None, "version_prefix": "user-1"}
    path = save_model(user_models_dir() / f"{args.name}.safetensors", net, encoder, name=args.name,
                      categories=new.categories, info=info)
    sys.stdout.write(f"Saved {display_path(path)}. Use it with: byteme score FOLDER --model {args.name}\n")
    return 0
