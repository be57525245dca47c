"""How well the overall score agrees with people next to the visual score, on real clips rated by people.

    python scripts/realmos_overall.py [--realmos ../shared/realmos] [--realclips ../shared/realclips]
                                      [--cache DIR] [--no-ocr] [--pairs-cache DIR]

For every clip of ``realmos`` (KoNViD-1k clips with a mean opinion score in ``labels.csv``, column ``mos``) it
extracts the features once (cached as JSON in ``--cache``, keyed by file name, size and the engine source's
digest, so a scoring change re-scores in seconds and an extractor change re-extracts), scores them with the
shipped config (the picture MOS of each rated clip from a model trained without it) and prints the Spearman rank
correlation (SRCC) with MOS of the visual score, the perceived picture
quality, the overall score and the overall score as it was before evidence weighting (the plain weighted mean).
It also counts the frozen, blocky, banding and judder findings on ``realmos`` and on ``realclips`` (real vertical
clips without labels), the false-flaw check of issue 15.

The clips are read-only data outside the repository; nothing of them is copied into it.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import scorer  # noqa: E402
from engine.build import features_build  # noqa: E402
from engine.config import load_config  # noqa: E402
from engine.extractors import metric_specs  # noqa: E402
from engine.features import FeatureVector  # noqa: E402
from engine.feedback import build_findings  # noqa: E402
from engine.media import MediaInfo  # noqa: E402
from engine.picture_quality import PICTURE_MOS  # noqa: E402
from engine.pipeline import extract_features  # noqa: E402
from engine.train import picture_quality as P  # noqa: E402

#: Findings the false-flaw check counts.
WATCHED_CODES = ("visual.frozen", "visual.blocky", "visual.banding", "visual.judder", "visual.upscaled",
                 "visual.letterboxed", "visual.crushed_shadows")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")


def features(path: Path, cfg: dict, cache: Path, digest: str, ocr: bool) -> tuple[MediaInfo, FeatureVector]:
    key = f"{path.name}-{path.stat().st_size}-{digest}-{'ocr' if ocr else 'noocr'}-net.json"
    hit = cache / key
    if hit.is_file():
        d = json.loads(hit.read_text())
        return MediaInfo(**d["media"]), FeatureVector.from_dict(d["features"])
    # With the appearance network's pooled features (as the training table has them): the rated clips' picture MOS
    # comes from a reading and a model trained without the clip (``P.out_of_fold_mos``), which read them.
    info, fv = extract_features(path, cfg, options={"ocr": ocr, P.APPEARANCE_OPTION: True})
    hit.write_text(json.dumps({"media": info.as_dict(), "features": fv.as_dict()}))
    return info, fv


def plain_overall(modalities: dict, cfg: dict) -> float:
    """The overall score before evidence weighting: the plain weighted mean of the scored modalities."""
    w = cfg["scoring"]["weights"]
    scored = [(float(w.get(m, 0.0)), v) for m, v in modalities.items() if v is not None and w.get(m, 0.0) > 0]
    return sum(a * v for a, v in scored) / sum(a for a, _ in scored)


def srcc(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realmos", type=Path, default=ROOT.parent / "shared" / "realmos")
    ap.add_argument("--realclips", type=Path, default=ROOT.parent / "shared" / "realclips")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "realmos_overall")
    ap.add_argument("--no-ocr", action="store_true", help="skip on-screen text reading")
    ap.add_argument("--pairs-cache", type=Path, default=None, help="cache of the flaw pairs (engine.train.picture_quality)")
    args = ap.parse_args(argv)
    if not (args.realmos / "labels.csv").is_file():
        print(f"No labels.csv in {args.realmos}: nothing to measure.")
        return 2
    args.cache.mkdir(parents=True, exist_ok=True)
    cfg = load_config(use_user_file=False)
    specs = metric_specs()
    digest = features_build()
    labels = {r["file"]: float(r["mos"]) for r in csv.DictReader(open(args.realmos / "labels.csv"))}
    cols: dict[str, list] = {k: [] for k in ("mos", "visual", "perceived", "overall", "plain_overall", "quiet")}
    counts = {"realmos": Counter(), "realclips": Counter()}
    folders = [("realmos", sorted(args.realmos / f for f in labels))]
    if args.realclips.is_dir():
        folders.append(("realclips", sorted(p for p in args.realclips.iterdir() if p.suffix in VIDEO_SUFFIXES)))
    for p in (p for _, paths in folders for p in paths if not p.is_file()):
        print(f"missing {p.name}", file=sys.stderr)
    measured = {name: [(p, *features(p, cfg, args.cache, digest, not args.no_ocr)) for p in paths if p.is_file()]
                for name, paths in folders}
    # The picture MOS of a rated clip comes from a model trained without it: the shipped model saw every realmos clip.
    rated = {p.name: {**P.feature_entry(fv), "mos": labels[p.name]} for p, _, fv in measured["realmos"]}
    oof = P.out_of_fold_mos(rated, P.flaw_pairs(cache_dir=args.pairs_cache))
    for name, clips in measured.items():
        for path, info, fv in clips:
            if name == "realmos":
                fv.values[PICTURE_MOS.key] = oof[path.name]
            s = scorer.score(fv, cfg, derive=name != "realmos")
            findings = build_findings(fv, s, cfg, specs, info.duration_s)
            counts[name].update(f.code for f in findings if f.code in WATCHED_CODES)
            if name == "realmos":
                cols["mos"].append(labels[path.name])
                cols["visual"].append(s.modalities["visual"])
                cols["perceived"].append(s.extra["picture"]["perceived_quality"])
                cols["overall"].append(s.overall)
                cols["plain_overall"].append(plain_overall(s.modalities, cfg))
                # Sound and text unremarkable: neither weighs in the overall (no evidence, or scores of 90+).
                w = s.extra["overall_weights"]
                cols["quiet"].append(all(w.get(m, 0.0) == 0 for m in ("audio", "text")))
    n = len(cols["mos"])
    print(f"realmos: {n} clips; SRCC with MOS")
    for k in ("visual", "perceived", "overall", "plain_overall"):
        print(f"  {k:14s} {srcc(cols[k], cols['mos']):.3f}")
    quiet = [i for i, q in enumerate(cols["quiet"]) if q]
    if len(quiet) >= 3:
        print(f"the {len(quiet)} clips whose sound and text weigh nothing (no evidence, or 90+); SRCC with MOS")
        for k in ("visual", "overall", "plain_overall"):
            print(f"  {k:14s} {srcc([cols[k][i] for i in quiet], [cols['mos'][i] for i in quiet]):.3f}")
    for name, c in counts.items():
        print(f"{name}: findings " + ", ".join(f"{code} {c.get(code, 0)}" for code in WATCHED_CODES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
