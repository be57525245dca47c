"""What ``visual.colour_cast`` reads on real clips, as they are and under a known white-balance error.

    PYTHONPATH=. .venv/bin/python scripts/colour_cast_calibration.py [../shared/realclips] [../shared/realmos]

Takes a few frames of every clip in each folder (evenly spaced, resized to the colour analysis size, 180 px on the
short side), and prints the cast (median over the frames of ``engine.extractors.visual.image.colour_cast``) of the
clip as it is, and of the same frames with red gained by 1 + k and blue by 1 - k (a warm white-balance error,
k = 0.1, 0.2, 0.3) and with an offset of -k on red and +k on blue levels (k = 10, 20): percentiles over the clips.
The source line of ``[targets."visual.colour_cast"]`` in engine/config.toml quotes this output.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.extractors.visual.image import COLOUR_SHORT_SIDE_PX, colour_cast  # noqa: E402

FRAMES_PER_CLIP = 5
GAINS = (0.0, 0.1, 0.2, 0.3)
OFFSETS = (10, 20)


def frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    out = []
    for k in range(n):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int((k + 0.5) * total / n))
        ok, f = cap.read()
        if not ok:
            continue
        f = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
        h, w = f.shape[:2]
        s = COLOUR_SHORT_SIDE_PX / min(h, w)
        out.append(cv2.resize(f, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA))
    cap.release()
    return out


def gained(rgb: np.ndarray, k: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * (1.0 + k, 1.0, 1.0 - k), 0, 255).astype(np.uint8)


def offset(rgb: np.ndarray, k: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) + (-k, 0.0, k), 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="*", default=[str(ROOT.parent / "shared" / "realclips"),
                                                   str(ROOT.parent / "shared" / "realmos")])
    ap.add_argument("--frames", type=int, default=FRAMES_PER_CLIP)
    args = ap.parse_args(argv)
    variants = [(f"white balance x{1 + k:.1f}/x{1 - k:.1f}" if k else "as recorded", gained, k) for k in GAINS] + [
        (f"offset R -{k} / B +{k}", offset, k) for k in OFFSETS]
    for folder in args.folders:
        clips = sorted(Path(folder).glob("*.mp4"))
        if not clips:
            print(f"{folder}: no clips")
            continue
        table = []
        for c in clips:
            fr = frames(c, args.frames)
            row = []
            for _, fn, k in variants:
                vals = [colour_cast(fn(f, k)) for f in fr]
                vals = [v for v in vals if np.isfinite(v)]
                row.append(float(np.median(vals)) if vals else np.nan)
            table.append(row)
        m = np.array(table)
        print(f"{folder}: {len(clips)} clips, {args.frames} frames each; cast in Lab units (p10 / median / p90 / max)")
        for j, (label, _, _) in enumerate(variants):
            col = m[:, j]
            p = np.nanpercentile(col, [10, 50, 90, 100])
            print(f"  {label:28s} {p[0]:5.1f} {p[1]:5.1f} {p[2]:5.1f} {p[3]:5.1f}   (not measured: {int(np.isnan(col).sum())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
