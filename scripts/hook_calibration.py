"""How the hook score spreads over real clips, with each clip's parts: the measurement behind the [hook] bounds.

    python scripts/hook_calibration.py ../shared/realclips demo/ [--cache /tmp/hook.pkl] [--no-ocr]

Analyses every clip once (the features are cached in ``--cache`` when given, so changing ``[hook]`` in a config and
running again costs nothing), computes the hook with the active config (``--config FILE``) and prints each clip's
score and parts, then the distribution (min, median, max, standard deviation) over all clips and per folder.
"""
from __future__ import annotations

import argparse
import pickle
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import load_config  # noqa: E402
from engine.insights import hook_report  # noqa: E402
from engine.media import iter_clips  # noqa: E402
from engine.library import analyze  # noqa: E402
from engine.textsafe import display_path  # noqa: E402


def features(paths, cfg, *, ocr: bool, cache: Path | None) -> dict:
    """{path: (MediaInfo, FeatureVector)} of every clip, from the cache when it has them."""
    known = pickle.loads(cache.read_bytes()) if cache and cache.exists() else {}
    for p in paths:
        key = (str(p), ocr)
        if key not in known:
            r = analyze(p, cfg, use_cache=False, options={"ocr": ocr})
            if not r.ok:
                print(f"skipped {display_path(p)}: {r.error}", file=sys.stderr)
                continue
            known[key] = (r.media, r.features)
    if cache:
        cache.write_bytes(pickle.dumps(known))
    return {p: known[(str(p), ocr)] for p in paths if (str(p), ocr) in known}


def stats(scores: list[float]) -> str:
    if not scores:
        return "no clips"
    sd = statistics.pstdev(scores) if len(scores) > 1 else 0.0
    return (f"n={len(scores)} min {min(scores):.1f} median {statistics.median(scores):.1f} max {max(scores):.1f} "
            f"range {max(scores) - min(scores):.1f} stdev {sd:.1f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--config", default=None)
    ap.add_argument("--cache", type=Path, default=None, help="pickle of analysed features to reuse")
    ap.add_argument("--no-ocr", action="store_true")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, use_user_file=False)
    by_folder = {f: list(iter_clips([f])) for f in args.folders}
    feats = features([p for ps in by_folder.values() for p in ps], cfg, ocr=not args.no_ocr, cache=args.cache)
    every = []
    for folder, paths in by_folder.items():
        scores = []
        print(f"== {display_path(folder)}")
        for p in paths:
            if p not in feats:
                continue
            info, fv = feats[p]
            rep = hook_report(fv, info, cfg)
            if rep["score"] is None:
                continue
            scores.append(rep["score"])
            parts = " ".join(f"{c['key']}={c['score']:.2f}" for c in rep["components"])
            print(f"{display_path(p.name)[:32]:<32} {rep['score']:5.1f}  {parts}")
        print(f"   {stats(scores)}")
        every += scores
    print(f"== all: {stats(every)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
