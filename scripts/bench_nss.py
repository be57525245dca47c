"""CPU cost of one picture extractor alone on real clips: the perceptual statistics (engine/extractors/visual/nss.py)
or the look of the picture (engine/extractors/visual/appearance.py, the pretrained network).

    PYTHONPATH=. .venv/bin/python scripts/bench_nss.py [--appearance] [CLIP ...]   # default: three realmos clips

Decodes each clip with only that extractor attached and sums the extractor thread's CPU time
(``time.thread_time``) inside its ``on_frame`` and ``finish``; decoding is not counted. docs/BENCHMARKS.md
(issue 15 sections) has the numbers.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import load_config  # noqa: E402
from engine.extractors import ClipContext  # noqa: E402
from engine.extractors.visual.appearance import Appearance  # noqa: E402
from engine.extractors.visual.nss import PerceptualStats  # noqa: E402
from engine.features import FeatureVector  # noqa: E402
from engine.media import decode, probe  # noqa: E402

DEFAULT_CLIPS = [ROOT.parent / "shared" / "realmos" / n for n in
                 ("konvid_10016324794.mp4", "konvid_10019485755.mp4", "konvid_10102107193.mp4")]


def main(argv=None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    appearance = "--appearance" in args
    paths = [Path(a) for a in args if a != "--appearance"] or DEFAULT_CLIPS
    cfg = load_config(None, use_user_file=False)
    for path in paths:
        info = probe(path)
        ctx = ClipContext(path=path, info=info, config=cfg)
        e = Appearance() if appearance else PerceptualStats()
        e.begin(ctx)
        cpu = 0.0

        def on_frame(f):
            nonlocal cpu
            t = time.thread_time()
            e.on_frame(f, ctx)
            cpu += time.thread_time() - t

        decode(path, info, on_frame=on_frame, short_side_px=int(cfg["engine"]["analysis_short_side_px"]))
        t = time.thread_time()
        e.finish(ctx, FeatureVector())
        cpu += time.thread_time() - t
        if appearance:
            n = len(e.images)
            print(f"{path.name} ({info.width}x{info.height}): {n} frames, CPU {cpu * 1000:.0f} ms, "
                  f"{cpu * 1000 / max(1, n):.1f} ms per frame (fragments and the network)")
            continue
        print(f"{path.name}: {len(e.rows)} samples, {len(e.trows)} frame pairs, CPU {cpu * 1000:.0f} ms, "
              f"{cpu * 1000 / max(1, len(e.rows)):.1f} ms per sample (with its pair)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
