"""Benchmark: audio decoding and every audio extractor on a 60 s clip's audio, warm and cold.

    .venv/bin/python scripts/bench_audio.py            # warm
    .venv/bin/python scripts/bench_audio.py --cold     # also a first run in a fresh process with an empty numba cache

Warm: the best of 5 runs in one process after a first (warm-up) run, CPU time (process_time) and wall time.
Cold: a new Python process with NUMBA_CACHE_DIR pointing at an empty folder, timing imports + the first run, then
the same again with whatever that first run left in the cache (what a user's second `byteme score` pays). The audio
features come from engine.dsp (numpy/scipy), so neither run should import librosa or numba: the child says so.
Rhythm shows ~0 ms because speech_music (which needs the beat strength) computes the rhythm first.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))

DURATION_S = 60.0


def make_clip(folder: Path) -> Path:
    from engine import synth

    sr = 48_000
    speech = synth.speech_like(duration_s=DURATION_S, sr=sr, seed=1)
    music = synth.music_like(duration_s=DURATION_S, sr=sr, bpm=120, seed=1)
    audio = synth.scale_to_lufs(synth.mix(speech, music, gains_db=[0, -12]), sr=sr, lufs=-14)
    return synth.write_clip(folder / "bench60.m4a", width=16, height=16, fps=1, duration_s=DURATION_S, video=None,
                            audio=audio, sample_rate=sr)


def run_once(path: Path) -> dict:
    """Decode the audio and run every audio extractor; CPU and wall seconds for each part."""
    from engine.config import load_config
    from engine.extractors import ClipContext, registered
    from engine.features import FeatureVector
    from engine.media import decode, probe

    cfg = load_config()
    t = {}
    c0, w0 = time.process_time(), time.perf_counter()
    info = probe(path)
    _, audio = decode(path, info)
    t["decode"] = (time.process_time() - c0, time.perf_counter() - w0)
    ctx = ClipContext(path=path, info=info, config=cfg, audio=audio)
    fv = FeatureVector()
    c1, w1 = time.process_time(), time.perf_counter()
    for cls in registered():
        if cls.modality == "audio" and cls.__module__.split(".")[-1].startswith("audio"):
            c, w = time.process_time(), time.perf_counter()
            cls().finish(ctx, fv)
            t[cls.name] = (time.process_time() - c, time.perf_counter() - w)
    t["all extractors"] = (time.process_time() - c1, time.perf_counter() - w1)
    t["decode + extractors"] = (time.process_time() - c0, time.perf_counter() - w0)
    return t


def show(title: str, t: dict) -> None:
    print(title)
    for k, (cpu, wall) in t.items():
        print(f"  {k:22s} cpu {cpu * 1000:7.0f} ms   wall {wall * 1000:7.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", action="store_true", help="also measure a cold first run with an empty numba cache")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        c0, w0 = time.process_time(), time.perf_counter()
        t = run_once(Path(args.child))
        t["imports + first run"] = (time.process_time() - c0, time.perf_counter() - w0)
        show(f"first run in a new process (NUMBA_CACHE_DIR={os.environ['NUMBA_CACHE_DIR']})", t)
        loaded = sorted({m.split(".")[0] for m in sys.modules} & {"librosa", "numba", "llvmlite"})
        print(f"  imported librosa/numba/llvmlite: {', '.join(loaded) or 'none'}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = make_clip(Path(tmp))
        if args.cold:
            cache = Path(tmp) / "numba-empty"
            cache.mkdir()
            env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
            for label in ("cold: empty numba cache", "second process: cache filled by the first"):
                print(f"== {label}")
                subprocess.run([sys.executable, __file__, "--child", str(path)], env=env, check=True)
        run_once(path)  # warm-up
        runs = [run_once(path) for _ in range(5)]
        best = {k: min((r[k] for r in runs), key=lambda v: v[0]) for k in runs[0]}
        show(f"== warm: best of 5, {DURATION_S:.0f} s of AAC audio", best)


if __name__ == "__main__":
    main()
