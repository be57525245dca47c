"""Benchmarks of issue 21 (short clips): analysis against decoding alone per clip length and size, OCR's share, and
folder throughput. Measured, never asserted in a test.

    PYTHONPATH=. .venv/bin/python scripts/bench_short.py --only gen                 # generate the clips (once)
    PYTHONPATH=. .venv/bin/python scripts/bench_short.py --only ratio --repeat 2    # per clip: decode / score
    PYTHONPATH=. .venv/bin/python scripts/bench_short.py --only throughput          # 20 clips, 1 and 2 workers
    PYTHONPATH=. .venv/bin/python scripts/bench_short.py --only ocr                 # OCR time per clip

Sections:

- ``gen``: the clips, generated once with ``engine.synth`` and cached outside the repository (``--cache``, default
  ``$BYTEME_BENCH_CACHE`` or ``/tmp/byteme-bench``): 5, 15, 30 and 60 s at 720x1280 and 1080x1920, 30 fps, H.264
  High (libx264 veryfast, B-frames, 4 / 8 Mb/s) + AAC mono speech-like audio at -16 LUFS; a textured scene panning
  60 px/s with a hard cut every 4 s and a caption that changes every 3 s (as creators' clips do), so OCR has work.
- ``ratio``: for each clip in one run, alternating, best of ``--repeat``: (a) a decode-only pass
  (``engine.media.decode`` with no extractor: every video and audio frame, the product's threading), (b) a full
  ``byteme score CLIP --no-cache --json`` in this process (``engine.cli.main``: probe, decode, every extractor,
  scoring and the store), with OCR and (c) with ``--no-ocr``. Prints the ratios (b)/(a) and (c)/(a).
- ``ocr``: the OCR extractor's own time (``text.ocr_seconds``: reading the chosen frames) and frames read per clip.
- ``skip``: what a decoder-level skip would save: the video stream alone decoded in full, with
  ``skip_frame="NONREF"`` (no non-reference frames) and ``"NONKEY"`` (keyframes only), and with every frame but
  the deblocking filter skipped (``skip_loop_filter``), frames, seconds and CPU seconds; and how
  many frames of a full analysis get an analysis-size conversion (``VideoFrame.gray``/``rgb``: the swscale step).
- ``throughput``: 20 clips (5 s 720x1280) scored with ``byteme score FOLDER --no-cache --json`` as a fresh process,
  in-process, with ``--workers 1`` and ``--workers 2``; clips per minute, start-up included.

Every number is printed with the load average (``/proc/loadavg``) when it was taken: the machine is shared.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTIONS = ("gen", "ratio", "ocr", "throughput", "skip")
#: The issue's clip lengths and sizes.
LENGTHS_S = (5.0, 15.0, 30.0, 60.0)
SIZES = ((720, 1280), (1080, 1920))
FPS = 30.0
#: H.264 bitrates by width: what phone exports and platform re-encodes use for these sizes (8 Mb/s is
#: scripts/bench.py's 1080x1920 default; 720x1280 at half of it).
BITRATE_BPS = {720: 4_000_000, 1080: 8_000_000}
CUT_EVERY_S = 4.0
CAPTION_EVERY_S = 3.0
CAPTIONS = ("WAIT FOR IT", "THIS CHANGED EVERYTHING", "3 TIPS FOR BETTER VIDEOS", "FOLLOW FOR MORE",
            "DAY 12 OF 30", "THE SECRET INGREDIENT", "WATCH TILL THE END", "LINK IN BIO")
#: Decoder settings of the ``skip`` section: FFmpeg's ``skip_frame`` (frames not decoded) and ``skip_loop_filter``
#: (every frame decoded, deblocking skipped on non-reference frames or on all of them).
SKIP_MODES = ("DEFAULT", "NONREF", "NONKEY", "LOOPFILTER_NOREF", "LOOPFILTER_ALL")
THROUGHPUT_CLIPS = 20
THROUGHPUT_SIZE = (720, 1280)
THROUGHPUT_S = 5.0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def log(msg: str) -> None:
    print(msg, flush=True)


def cache_dir(arg: str | None) -> Path:
    d = Path(arg or os.environ.get("BYTEME_BENCH_CACHE") or "/tmp/byteme-bench")
    d.mkdir(parents=True, exist_ok=True)
    return d


def make_clip(folder: Path, width: int, height: int, duration_s: float, seed: int = 7) -> Path:
    """Generate (once) the benchmark clip of this size and length."""
    import av
    import numpy as np

    from engine import synth

    path = folder / f"short_{width}x{height}_{duration_s:g}s_seed{seed}.mp4"
    if path.exists():
        return path
    n_shots = int(duration_s // CUT_EVERY_S) + 1
    n_caps = int(duration_s // CAPTION_EVERY_S) + 1
    text = [(k * CAPTION_EVERY_S, (k + 1) * CAPTION_EVERY_S - 0.2, CAPTIONS[(k + seed) % len(CAPTIONS)])
            for k in range(n_caps)]
    video = synth.scene_sequence(width=width, height=height, seed=seed, pan_px_per_s=60.0, text=text,
                                 shots=[(CUT_EVERY_S, (k + seed) % 7) for k in range(n_shots)])
    sr = 48_000
    audio = synth.scale_to_lufs(synth.speech_like(duration_s=duration_s, sr=sr, seed=seed), sr=sr, lufs=-16.0)
    tmp = path.with_name(f".partial-{os.getpid()}-{path.name}")
    t0 = time.monotonic()
    with av.open(str(tmp), mode="w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=Fraction(FPS).limit_denominator(1001),
                            options={"preset": "veryfast", "profile": "high"})
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.bit_rate = BITRATE_BPS.get(width, 8_000_000)
        vs.thread_type = "AUTO"
        aus = out.add_stream("aac", rate=sr)
        aus.codec_context.layout = "mono"
        aus.codec_context.bit_rate = 128_000
        for i in range(round(duration_s * FPS)):
            for pkt in vs.encode(av.VideoFrame.from_ndarray(video(i, i / FPS), format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        pts = 0
        for k in range(0, len(audio), 1024):
            chunk = np.ascontiguousarray(audio[k:k + 1024].reshape(1, -1), dtype=np.float32)
            fr = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            fr.sample_rate, fr.pts = sr, pts
            pts += chunk.shape[1]
            for pkt in aus.encode(fr):
                out.mux(pkt)
        for pkt in aus.encode(None):
            out.mux(pkt)
    os.replace(tmp, path)
    log(f"  generated {path.name} in {time.monotonic() - t0:.0f} s (load {loadavg()})")
    return path


def all_clips(folder: Path, sizes=SIZES, lengths=LENGTHS_S) -> list[Path]:
    return [make_clip(folder, w, h, s) for (w, h) in sizes for s in lengths]


def throughput_folder(folder: Path) -> Path:
    d = folder / f"throughput_{THROUGHPUT_CLIPS}x{THROUGHPUT_S:g}s_{THROUGHPUT_SIZE[0]}x{THROUGHPUT_SIZE[1]}"
    d.mkdir(exist_ok=True)
    for seed in range(THROUGHPUT_CLIPS):
        p = d / f"short_{THROUGHPUT_SIZE[0]}x{THROUGHPUT_SIZE[1]}_{THROUGHPUT_S:g}s_seed{seed}.mp4"
        if not p.exists():
            make_clip(d, *THROUGHPUT_SIZE, THROUGHPUT_S, seed=seed)
    return d


# -- passes -----------------------------------------------------------------------------------------------------

def decode_only(path: Path) -> float:
    """``engine.media.decode`` with no extractor: every frame decoded, nothing converted."""
    from engine.media import decode, probe

    t0 = time.perf_counter()
    decode(path, probe(path))
    return time.perf_counter() - t0


def score_in_process(path: Path, data_dir: Path, *, ocr: bool) -> tuple[float, dict]:
    """``byteme score PATH --no-cache --json`` in this process; (seconds, the JSON result)."""
    from engine.cli import main

    argv = ["score", str(path), "--no-cache", "--json"] + ([] if ocr else ["--no-ocr"])
    buf = io.StringIO()
    os.environ["BYTEME_DATA_DIR"] = str(data_dir)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        main(argv)
    dt = time.perf_counter() - t0
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip().startswith("{")]
    return dt, (json.loads(lines[-1]) if lines else {})


def section_ratio(clips: list[Path], repeat: int, data_dir: Path) -> list[dict]:
    rows = []
    # Warm the process once (imports, the OCR engine, the model) so every clip pays the same.
    score_in_process(clips[0], data_dir, ocr=True)
    for path in clips:
        runs = {"decode": [], "score": [], "score_no_ocr": []}
        loads = []
        for _ in range(repeat):
            runs["decode"].append(decode_only(path)); loads.append(loadavg())
            runs["score"].append(score_in_process(path, data_dir, ocr=True)[0]); loads.append(loadavg())
            runs["score_no_ocr"].append(score_in_process(path, data_dir, ocr=False)[0]); loads.append(loadavg())
        best = {k: min(v) for k, v in runs.items()}
        row = {"clip": path.name, **{k: [round(x, 2) for x in v] for k, v in runs.items()},
               "ratio": round(best["score"] / best["decode"], 2),
               "ratio_no_ocr": round(best["score_no_ocr"] / best["decode"], 2), "load": loads}
        rows.append(row)
        log(f"{path.name}: decode {row['decode']} s, score {row['score']} s (x{row['ratio']}), "
            f"no OCR {row['score_no_ocr']} s (x{row['ratio_no_ocr']}); load {', '.join(loads)}")
    return rows


def section_ocr(clips: list[Path], cfg_overrides: list[str]) -> list[dict]:
    """OCR's own time per clip: the extractor alone on the decoded frames (``extract_features`` with OCR)."""
    from engine.config import load_config
    from engine.pipeline import extract_features

    cfg = load_config()
    rows = []
    for path in clips:
        t0 = time.perf_counter()
        _, fv = extract_features(path, cfg)
        dt = time.perf_counter() - t0
        row = {"clip": path.name, "ocr_s": fv.events.get("text.ocr_seconds"), "status": fv.text.get("ocr_status"),
               "analysis_s": round(dt, 2), "onscreen_text_pct": fv.values.get("text.onscreen_text_pct"),
               "load": loadavg()}
        rows.append(row)
        log(f"{path.name}: OCR {row['ocr_s']} s ({row['status']}), analysis {row['analysis_s']} s, "
            f"text {row['onscreen_text_pct']}; load {row['load']}")
    return rows


def section_skip(clips: list[Path]) -> list[dict]:
    import av

    from engine import media
    from engine.config import load_config
    from engine.pipeline import extract_features

    rows = []
    for path in clips:
        row = {"clip": path.name}
        for mode in SKIP_MODES:
            t0, c0 = time.perf_counter(), time.process_time()
            n = 0
            with av.open(str(path)) as c:
                v = c.streams.video[0]
                v.thread_type = "AUTO"
                if mode.startswith("LOOPFILTER_"):  # every frame decoded, the deblocking filter skipped
                    v.codec_context.options = {"skip_loop_filter": mode.split("_", 1)[1].lower()}
                else:
                    v.codec_context.skip_frame = mode
                for _ in c.decode(v):
                    n += 1
            row[mode] = {"frames": n, "s": round(time.perf_counter() - t0, 2),
                         "cpu_s": round(time.process_time() - c0, 2), "load": loadavg()}
        converted = set()
        gray, rgb = media.VideoFrame.gray, media.VideoFrame.rgb

        def wrap(prop, converted=converted):
            def get(self):
                converted.add(self.index)
                return prop.fget(self)
            return property(get)

        media.VideoFrame.gray, media.VideoFrame.rgb = wrap(gray), wrap(rgb)
        try:
            _, fv = extract_features(path, load_config(), options={"ocr": False})
        finally:
            media.VideoFrame.gray, media.VideoFrame.rgb = gray, rgb
        row["converted_frames"] = len(converted)
        row["frames"] = fv.events.get("frames_decoded")
        rows.append(row)
        log(f"{path.name}: " + ", ".join(f"{m} {row[m]['frames']} frames {row[m]['s']} s, {row[m]['cpu_s']} CPU-s "
                                          f"(load {row[m]['load']})" for m in SKIP_MODES)
            + f"; analysis converts {row['converted_frames']} of {row['frames']} frames")
    return rows


def section_throughput(folder: Path, data_dir: Path) -> list[dict]:
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BYTEME_DATA_DIR": str(data_dir)}
    n = len(list(folder.glob("*.mp4")))
    for workers in (0, 1, 2):
        cmd = [sys.executable, "-m", "engine.cli", "score", str(folder), "--no-cache", "--json"]
        if workers:
            cmd += ["--workers", str(workers)]
        before = loadavg()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t0
        done = sum(1 for ln in proc.stdout.splitlines() if ln.startswith("{"))
        row = {"workers": workers, "clips": done, "of": n, "s": round(dt, 1),
               "clips_per_min": round(60 * done / dt, 1), "load": f"{before} -> {loadavg()}", "rc": proc.returncode}
        rows.append(row)
        log(f"{'in-process' if not workers else f'{workers} worker(s)'}: {done}/{n} clips in {row['s']} s = "
            f"{row['clips_per_min']} clips/min; load {row['load']}; exit {proc.returncode}")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--cache", help="folder for the generated clips (default $BYTEME_BENCH_CACHE or /tmp/byteme-bench)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sizes", nargs="+", default=[f"{w}x{h}" for w, h in SIZES])
    ap.add_argument("--lengths", nargs="+", type=float, default=list(LENGTHS_S))
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    folder = cache_dir(args.cache)
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes]
    log(f"load {loadavg()}; clips under {folder}")
    out = {}
    clips = all_clips(folder, sizes, args.lengths)
    if "gen" in args.only:
        throughput_folder(folder)
    with tempfile.TemporaryDirectory(prefix="byteme-bench-data-") as data:
        if "ratio" in args.only:
            out["ratio"] = section_ratio(clips, args.repeat, Path(data))
        if "ocr" in args.only:
            out["ocr"] = section_ocr(clips, [])
        if "skip" in args.only:
            out["skip"] = section_skip(clips)
        if "throughput" in args.only:
            out["throughput"] = section_throughput(throughput_folder(folder), Path(data))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
