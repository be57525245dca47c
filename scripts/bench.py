"""Benchmark: the full feature extraction against decoding alone, on the same clip, in the same run.

    .venv/bin/python scripts/bench.py                          # 60 s 1080x1920 30 fps H.264 + AAC (generated once)
    .venv/bin/python scripts/bench.py --width 360 --height 640 --duration 10
    .venv/bin/python scripts/bench.py --clip some/phone_clip.mp4 --no-ocr --profile
    .venv/bin/python scripts/bench.py --cli                    # also time `byteme score --no-cache` end to end
    .venv/bin/python scripts/bench.py --only visual            # one family's share (here: the visual extractors)

The decode-only pass is the physical floor (DESIGN.md): PyAV demuxes and decodes every video frame and every
audio frame with the same threading as ``engine.media.decode`` and converts nothing beyond what decoding needs.
The analysis pass is ``engine.pipeline.extract_features`` (probe, one decode with all extractors, finish()).
Each pass runs ``--repeat`` times, alternating, and the fastest run of each counts (the machine is shared, so the
minimum is the least disturbed measurement). The printed ratio is analysis time / decode time.

The generated clip is cached under ``.cache/bench/`` (keyed by its recipe): a textured, panning scene with a
cut every 4 s, encoded like a phone does (H.264 High profile, CABAC, B-frames: libx264 ``veryfast``) at
``--bitrate`` (default 8 Mb/s, in the range phones record 1080p at), with speech-like audio as AAC.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Phones record 1080p H.264 at roughly 8-17 Mb/s (e.g. iPhone "1080p HD at 30 fps" files measure ~8-10 Mb/s,
#: Android defaults 12-17 Mb/s). The lower end keeps the decode floor honest (less to decode, a stricter ratio).
DEFAULT_BITRATE_BPS = 8_000_000
#: Seconds between cuts in the generated clip: a typical short-form pace (15 cuts a minute).
CUT_EVERY_S = 4.0


def bench_clip(width: int, height: int, duration_s: float, fps: float, bitrate: int) -> Path:
    """Generate (once) and return the cached benchmark clip."""
    import av
    import numpy as np

    from engine import synth

    folder = ROOT / ".cache" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench_{width}x{height}_{duration_s:g}s_{fps:g}fps_{bitrate // 1000}k.mp4"
    if path.exists():
        return path
    n_shots = int(duration_s // CUT_EVERY_S) + 1
    video = synth.scene_sequence(width=width, height=height, seed=7, shots=[(CUT_EVERY_S, k) for k in range(n_shots)],
                                 pan_px_per_s=60.0)
    sr = 48_000
    audio = synth.scale_to_lufs(synth.speech_like(duration_s=duration_s, sr=sr, seed=7), sr=sr, lufs=-16.0)
    tmp = path.with_name(".partial-" + path.name)
    print(f"generating {path.name} (once; cached under .cache/bench) ...", flush=True)
    t0 = time.monotonic()
    with av.open(str(tmp), mode="w", format="mp4") as out:
        rate = Fraction(fps).limit_denominator(1001)
        vs = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "profile": "high"})
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.bit_rate = int(bitrate)
        vs.thread_type = "AUTO"
        aus = out.add_stream("aac", rate=sr)
        aus.codec_context.layout = "mono"
        aus.codec_context.bit_rate = 128_000
        n = int(round(duration_s * fps))
        for i in range(n):
            img = video(i, i / fps)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        hop = 1024
        pts = 0
        for k in range(0, len(audio), hop):
            chunk = np.ascontiguousarray(audio[k:k + hop].reshape(1, -1), dtype=np.float32)
            fr = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            fr.sample_rate, fr.pts = sr, pts
            pts += chunk.shape[1]
            for pkt in aus.encode(fr):
                out.mux(pkt)
        for pkt in aus.encode(None):
            out.mux(pkt)
    os.replace(tmp, path)
    print(f"  encoded in {time.monotonic() - t0:.0f} s", flush=True)
    return path


def decode_only(path: Path) -> tuple[float, int]:
    """Decode every video and audio frame (the same threading as engine.media.decode); (seconds, video frames)."""
    import av

    t0 = time.perf_counter()
    frames = 0
    with av.open(str(path)) as c:
        streams = [s for s in (c.streams.video[:1] + c.streams.audio[:1])]
        for s in streams:
            s.thread_type = "AUTO"
        for packet in c.demux(*streams):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    frames += 1
    return time.perf_counter() - t0, frames


class Profiler:
    """Wall time and CPU time (of the calling thread) spent in each extractor's on_frame and finish (installed by
    wrapping the registered classes). The extractor thread runs at a lower priority than the decoder, so its wall
    time includes the time the decoder took the core from it: the CPU time is what each extractor costs."""

    def __init__(self):
        self.times = defaultdict(float)
        self.cpu = defaultdict(float)
        self.saved = []

    def install(self):
        from engine.extractors import registered

        for cls in registered():
            for meth in ("on_frame", "finish", "begin"):
                if meth not in cls.__dict__:
                    continue
                orig = cls.__dict__[meth]
                self.saved.append((cls, meth, orig))

                def wrapper(self_, *a, _orig=orig, _key=f"{cls.name}.{meth}", **k):
                    t, c = time.perf_counter(), time.thread_time()
                    try:
                        return _orig(self_, *a, **k)
                    finally:
                        self.times[_key] += time.perf_counter() - t
                        self.cpu[_key] += time.thread_time() - c

                setattr(cls, meth, wrapper)

    def uninstall(self):
        for cls, meth, orig in self.saved:
            setattr(cls, meth, orig)
        self.saved.clear()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", type=Path, help="benchmark this clip instead of a generated one")
    ap.add_argument("--width", type=int, default=1080)
    ap.add_argument("--height", type=int, default=1920)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--bitrate", type=int, default=DEFAULT_BITRATE_BPS, help="video bits/s of the generated clip")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each pass; the fastest counts")
    ap.add_argument("--no-ocr", action="store_true", help="skip on-screen text recognition (as byteme --no-ocr)")
    ap.add_argument("--profile", action="store_true", help="print the time spent in each extractor")
    ap.add_argument("--cli", action="store_true", help="also time `byteme score --no-cache --json` end to end")
    ap.add_argument("--only", choices=("visual", "audio", "text"),
                    help="run only this modality's extractors (to measure one family's share)")
    args = ap.parse_args(argv)

    import engine.pipeline as pipeline
    from engine.config import load_config
    from engine.pipeline import extract_features

    if args.only:
        everything = pipeline.registered
        pipeline.registered = lambda: [c for c in everything() if c.modality == args.only]

    path = args.clip or bench_clip(args.width, args.height, args.duration, args.fps, args.bitrate)
    cfg = load_config()
    options = {"ocr": not args.no_ocr}
    prof = Profiler()
    dec_times, ana_times = [], []
    frames = 0
    for r in range(max(1, args.repeat)):
        dt, frames = decode_only(path)
        dec_times.append(dt)
        if args.profile and r == args.repeat - 1:
            prof.install()
        t0 = time.perf_counter()
        extract_features(path, cfg, options=options)
        ana_times.append(time.perf_counter() - t0)
        prof.uninstall()
    dec, ana = min(dec_times), min(ana_times)
    print(f"clip: {path}  ({frames} video frames)")
    print(f"decode only      : {dec:7.2f} s  ({1000 * dec / max(1, frames):.2f} ms/frame)   runs: "
          + ", ".join(f"{t:.2f}" for t in dec_times))
    print(f"extract_features : {ana:7.2f} s  ({1000 * ana / max(1, frames):.2f} ms/frame)   runs: "
          + ", ".join(f"{t:.2f}" for t in ana_times) + ("  (no OCR)" if args.no_ocr else "")
          + (f"  (only {args.only} extractors)" if args.only else ""))
    print(f"ratio            : {ana / dec:.3f}  (analysis costs {100 * (ana / dec - 1):+.1f}% over decoding)")
    if args.profile:
        print("time per extractor method (last analysis run): wall, CPU of its thread")
        for k, v in sorted(prof.times.items(), key=lambda kv: -prof.cpu[kv[0]]):
            if v >= 0.0005:
                print(f"  {k:40s} {v:7.3f} s  CPU {prof.cpu[k]:7.3f} s  ({1000 * prof.cpu[k] / max(1, frames):.3f} "
                      "ms/frame)")
        print(f"  {'total':40s} {sum(prof.times.values()):7.3f} s  CPU {sum(prof.cpu.values()):7.3f} s")
    if args.cli:
        env = dict(os.environ)
        env.setdefault("BYTEME_DATA_DIR", str(ROOT / ".cache" / "bench" / "data"))
        cmd = [str(ROOT / ".venv" / "bin" / "byteme"), "score", str(path), "--no-cache", "--json"]
        if args.no_ocr:
            cmd.append("--no-ocr")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        cli = time.perf_counter() - t0
        print(f"byteme score     : {cli:7.2f} s  (exit {proc.returncode}, includes start-up and imports)  "
              f"ratio {cli / dec:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
