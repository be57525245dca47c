"""Benchmark: does on-screen text reading stay within its budget on a 60 s 1080x1920 clip?

Generates (once, cached in the temp folder) a 60 s 1080x1920 30 fps H.264 clip with a cut every 5 s and a new line
of text every 2.5 s (some in the bottom unsafe zone), then times:

  1. decoding alone;
  2. decoding with the OCR extractor's frame choice (the per-frame cost it adds);
  3. the OCR extractor's finish() (reading the chosen frames), against ``[text] ocr_budget_s``.

Usage: .venv/bin/python scripts/bench_ocr.py [--budget S] [--clip PATH]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from engine import synth
from engine.config import load_config
from engine.extractors import ClipContext
from engine.extractors.text.ocr import OnScreenText
from engine.features import FeatureVector
from engine.media import decode, probe

W, H, FPS, DUR = 1080, 1920, 30, 60.0
WORDS = ["Three tips for pasta", "Boil the water first", "Salt it like the sea", "Stir in the first minute",
         "Save this for later", "Follow for part two", "Taste before you drain", "Keep a cup of water"]


def make_clip(path: Path) -> Path:
    scenes = [synth.textured_scene(width=W + 400, height=H, t_s=0.0, seed=5, scene=k) for k in range(4)]

    def video(i, t):
        shot = int(t // 5.0) % len(scenes)
        x = int((t % 5.0) * 60)  # pan 60 px/s within a shot
        frame = np.ascontiguousarray(scenes[shot][:, x:x + W])
        k = int(t // 2.5)
        y = int(H * (0.12 if k % 3 else 0.86))  # every third line sits in the bottom unsafe zone
        return synth.render_text(frame, WORDS[k % len(WORDS)], x=None, y=y, height_px=70)

    return synth.write_clip(path, width=W, height=H, fps=FPS, duration_s=DUR, video=video, audio=None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=None, help="override [text] ocr_budget_s")
    ap.add_argument("--clip", type=Path, default=Path(tempfile.gettempdir()) / "byteme-bench-ocr-1080x1920-60s.mp4")
    args = ap.parse_args()
    if not args.clip.exists():
        t = time.monotonic()
        make_clip(args.clip)
        print(f"generated {args.clip} in {time.monotonic() - t:.1f} s")
    cfg = load_config(use_user_file=False)
    if args.budget is not None:
        cfg["text"]["ocr_budget_s"] = args.budget
    info = probe(args.clip)

    t = time.monotonic()
    decode(args.clip, info, on_frame=lambda f: f.gray)
    t_decode = time.monotonic() - t

    ctx = ClipContext(path=args.clip, info=info, config=cfg, options={})
    ext = OnScreenText()
    ext.begin(ctx)
    t = time.monotonic()
    decode(args.clip, info, on_frame=lambda f: ext.on_frame(f, ctx))
    t_choose = time.monotonic() - t
    chosen = len(ext.candidates)
    fv = FeatureVector()
    t = time.monotonic()
    ext.finish(ctx, fv)
    t_read = time.monotonic() - t

    budget = float(cfg["text"]["ocr_budget_s"])
    print(f"clip: {info.width}x{info.height}, {info.duration_s:.1f} s, {info.fps:.0f} fps")
    print(f"decode alone (with 360 px luma):   {t_decode:6.2f} s")
    print(f"decode + OCR frame choice:          {t_choose:6.2f} s  (+{t_choose - t_decode:.2f} s, {ext.scans} scans,"
          f" {chosen} frames chosen)")
    print(f"OCR finish (read chosen frames):    {t_read:6.2f} s  (budget {budget:g} s) -> "
          f"{'within' if t_read <= budget + 0.5 else 'OVER'} budget")
    print(f"status: {fv.text.get('ocr_status')}")
    print(f"lines found: {len(fv.text.get('ocr') or [])}; on-screen text {fv.values.get('text.onscreen_text_pct')}%;"
          f" unsafe {fv.values.get('text.unsafe_zone_text_pct')}%; fastest screen"
          f" {fv.values.get('text.onscreen_reading_wps')} words/s")
    for start, text, box, end in (fv.text.get("ocr") or [])[:12]:
        print(f"  {start:5.1f}-{end:5.1f}  y={box[1]:.2f}  {text!r}")


if __name__ == "__main__":
    main()
