"""Where the audio extractors' memory goes on a long clip (issue 11): in-process, no video, no decode.

    .venv/bin/python scripts/bench_audio_memory.py                  # 600 s of speech over music, 48 kHz mono
    .venv/bin/python scripts/bench_audio_memory.py --duration 180 --values out.json

The signal (``engine.synth``: speech-like voice over 120 BPM music, 48 kHz mono float32, seeded) is generated once
and cached under ``.cache/bench/``. Each audio extractor's ``finish()`` runs in registry order on one
``ClipContext``, as the pipeline runs them; for each, the script prints the peak of Python/numpy allocations
(``tracemalloc``: numpy reports its buffers to it) above what was held when the extractor started, what is still
held when it returns (arrays cached on the context), and the process's peak resident size (``VmHWM``) so far.
``--values FILE`` writes every metric value, to compare two versions of the code (``--compare A B``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE = ROOT / ".cache" / "bench"
SR = 48_000


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def long_signal(duration_s: float, seed: int = 7):
    import numpy as np

    path = CACHE / f"audio_memory_{int(duration_s)}s_{seed}.npy"
    if path.exists():
        return np.load(path)
    from engine import synth

    speech = synth.speech_like(duration_s=duration_s, sr=SR, seed=seed)
    music = synth.music_like(duration_s=duration_s, sr=SR, bpm=120.0, seed=seed)
    y = synth.scale_to_lufs(synth.mix(speech, music, gains_db=[0.0, -8.0]), sr=SR, lufs=-16.0).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, y)
    return y


def run(duration_s: float) -> dict:
    import numpy as np

    from engine.config import load_config
    from engine.extractors import ClipContext, registered
    from engine.features import FeatureVector
    from engine.media import DecodedAudio

    y = long_signal(duration_s)
    cfg = load_config(use_user_file=False)
    extractors = [cls() for cls in registered() if cls.modality == "audio"]
    peak = float(np.max(np.abs(y)))
    ctx = ClipContext(path=Path("memory.mp4"), info=None, config=cfg,
                      audio=DecodedAudio(y, SR, 1, peak))
    fv = FeatureVector()
    fv.events["visual.cuts_s"] = [float(t) for t in np.arange(4.0, duration_s, 4.0)]
    print(f"{duration_s:g} s signal: {y.nbytes / 2**20:.0f} MB float32; RSS {status_mb('VmRSS'):.0f} MB, "
          f"peak so far {status_mb('VmHWM'):.0f} MB")
    print(f"{'extractor':20s} {'time s':>7s} {'alloc peak MB':>14s} {'kept MB':>8s} {'VmHWM MB':>9s}")
    tracemalloc.start()
    rows = {}
    for e in extractors:
        tracemalloc.reset_peak()
        held0, _ = tracemalloc.get_traced_memory()
        t0 = time.perf_counter()
        e.finish(ctx, fv)
        dt = time.perf_counter() - t0
        held1, top = tracemalloc.get_traced_memory()
        rows[e.name] = {"time_s": round(dt, 2), "alloc_peak_mb": round((top - held0) / 2**20, 1),
                        "kept_mb": round((held1 - held0) / 2**20, 1), "hwm_mb": round(status_mb("VmHWM"))}
        r = rows[e.name]
        print(f"{e.name:20s} {r['time_s']:7.2f} {r['alloc_peak_mb']:14.1f} {r['kept_mb']:8.1f} {r['hwm_mb']:9d}")
    tracemalloc.stop()
    print(f"process peak RSS (VmHWM) {status_mb('VmHWM'):.0f} MB; load {Path('/proc/loadavg').read_text().split()[:3]}")
    return {"rows": rows, "values": {k: v for k, v in fv.values.items()},
            "events": {k: fv.events[k] for k in ("audio.beats_s", "audio.silences_s", "hash.audio_fp", "hash.audio_env",
                                                  "audio.speech_s", "audio.first_sound_s") if k in fv.events},
            "series": {k: list(s.values) if hasattr(s, "values") else s for k, s in fv.series.items()}}


def compare(a_path: Path, b_path: Path) -> int:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    worst = 0.0
    for key in sorted(set(a["values"]) | set(b["values"])):
        va, vb = a["values"].get(key), b["values"].get(key)
        if va is None or vb is None:
            if va != vb:
                print(f"{key}: {va} vs {vb}")
                worst = float("inf")
            continue
        rel = abs(va - vb) / max(abs(va), abs(vb), 1e-12)
        worst = max(worst, rel)
        if rel > 0:
            print(f"{key}: {va!r} vs {vb!r} (relative {rel:.2e})")
    for part in ("events", "series"):
        for key in sorted(set(a[part]) | set(b[part])):
            if a[part].get(key) != b[part].get(key):
                print(f"{part} {key} differs")
    print(f"largest relative difference of a metric: {worst:.2e}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0, help="signal length, s (default 600)")
    ap.add_argument("--values", type=Path, help="write the metric values, series and events to this JSON file")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two --values files")
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    res = run(args.duration)
    if args.values:
        args.values.write_text(json.dumps(res, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
