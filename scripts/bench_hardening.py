"""Benchmarks of issue 11 (speed and memory, measured; never asserted in a test).

    .venv/bin/python scripts/bench_hardening.py                       # every section (about 15-25 min on 2 cores)
    .venv/bin/python scripts/bench_hardening.py --only ratio cold     # some sections
    .venv/bin/python scripts/bench_hardening.py --only memory --json out.json

Sections:

- ``ratio``: full analysis (``engine.pipeline.extract_features``: probe, one decode with every extractor, finish)
  of a 60 s 1080x1920 30 fps H.264 + AAC clip (``scripts/bench.py``'s cached clip) against a decode-only pass of the
  same clip in the same run, without OCR and with OCR; the OCR cost is the difference. Passes alternate and the
  fastest of ``--repeat`` runs counts (the machine is shared: the minimum is the least disturbed).
- ``cold``: a fresh ``byteme score CLIP --json --no-cache`` process, from the command to the first result line, on a
  2 s 360x640 clip: numba cache empty (a new ``NUMBA_CACHE_DIR``) and warm, in-process and with ``--workers 1``.
  The learned scorer is a 70 kB safetensors file read by each process: there is no model cache to warm.
- ``memory``: peak RSS (the kernel's ``VmHWM``, read from /proc while the run lasts) of the ``byteme score`` process
  and of each worker process, on a 4K clip (2160x3840, 10 s, 30 fps) and a 3-minute clip (720x1280, 30 fps), with
  OCR, in-process and with ``--workers 1``.
- ``memstages``: where the memory of the 3-minute clip goes: the resident size sampled every 20 ms during one
  in-process analysis, with the stage the pipeline reported and the extractor whose finish() was running.
- ``memlong``: the same two measurements on a 10-minute clip (the ``max_analysis_s`` default, so analysed in full):
  peak RSS of ``byteme score`` in-process and of the worker with ``--workers 1``, then the memory by stage of one
  in-process analysis. 360x640 30 fps by default (generated in a few minutes); ``--memlong-size 720x1280`` adds
  that size (about 10 minutes to generate once).
- ``throughput``: 50 clips (360x640, 3 s, 30 fps) scored with ``--no-cache`` in-process, with 1 and with 2 workers
  (wall time from the command to its exit, start-up included).
- ``listing``: ``engine.media.iter_clips`` and the TUI backend's folder read (``LibraryService.open`` on a new
  store) over folders of 1,000 and 10,000 empty ``.mp4`` files.
- ``profile``: cProfile of one analysis of the 60 s clip without OCR: the top functions by own time.

Every number is printed with the load average (``/proc/loadavg``) at the time it was taken. Generated clips are
cached under ``.cache/bench/``.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CACHE = ROOT / ".cache" / "bench"
BYTEME = [sys.executable, "-m", "engine.cli"]
SECTIONS = ("ratio", "cold", "memory", "memstages", "memlong", "throughput", "listing", "profile")
#: Clips in the throughput folder (the issue's number).
THROUGHPUT_CLIPS = 50
#: Files in the listing folders.
LISTING_SIZES = (1_000, 10_000)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__().replace("'", "")


def log(msg: str) -> None:
    print(msg, flush=True)


# -- clips ------------------------------------------------------------------------------------------------------

def noise_clip(path: Path, *, width: int, height: int, fps: float, duration_s: float, seed: int = 0,
               speech: bool = True) -> Path:
    """A cheap moving texture (blurred noise panned 4 px a frame, a cut every 4 s) with speech-like audio at -16
    LUFS, H.264 ultrafast + AAC; generated once and cached."""
    if path.exists():
        return path
    import cv2
    import numpy as np

    from engine import synth

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    small = [cv2.GaussianBlur(rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8), (0, 0), 1.5)
             for _ in range(4)]
    bases = [cv2.resize(b, (width, height), interpolation=cv2.INTER_CUBIC) for b in small]

    def video(i, t_s):
        return np.roll(bases[int(t_s // 4.0) % 4], (4 * i) % width, axis=1)

    sr = 48_000
    make = synth.speech_like if speech else synth.pink_noise
    audio = synth.scale_to_lufs(make(duration_s=duration_s, sr=sr, seed=seed), sr=sr, lufs=-16.0)
    t0 = time.monotonic()
    synth.write_clip(path, width=width, height=height, fps=fps, duration_s=duration_s, video=video, audio=audio)
    if duration_s * width * height > 60 * 360 * 640:
        log(f"  generated {path.name} in {time.monotonic() - t0:.0f} s (once; cached)")
    return path


def bench_60s_clip() -> Path:
    from bench import DEFAULT_BITRATE_BPS, bench_clip

    return bench_clip(1080, 1920, 60.0, 30.0, DEFAULT_BITRATE_BPS)


# -- process helpers --------------------------------------------------------------------------------------------

def _children_of(pid: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _hwm_kb(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return cmd, int(line.split()[1])
    return None


def run_measured(cmd: list[str], env: dict, *, first_line: bool = False, timeout_s: float = 3600) -> dict:
    """Run ``cmd``; return wall time, time to the first stdout line, exit code, and the peak RSS (MB) of the
    process and of each descendant (workers), polled from /proc every 50 ms (VmHWM is the kernel's high-water
    mark, so a poll only has to see each process alive once near its end)."""
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if first_line else out_f, stderr=err_f, env=env, cwd=ROOT,
                            start_new_session=True)
    peaks: dict[int, tuple[str, int]] = {}
    t_first = None
    if first_line:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        buf = b""
    while proc.poll() is None:
        for pid in {proc.pid} | _children_of(proc.pid):
            got = _hwm_kb(pid)
            if got is not None and got[1] >= peaks.get(pid, ("", 0))[1]:
                peaks[pid] = got
        if first_line:
            for _key, _ in sel.select(timeout=0.05):
                chunk = os.read(proc.stdout.fileno(), 65536)
                buf += chunk
                if t_first is None and b"\n" in buf:
                    t_first = time.perf_counter() - t0
        else:
            time.sleep(0.05)
        if time.perf_counter() - t0 > timeout_s:
            os.killpg(proc.pid, 9)
            raise TimeoutError(" ".join(cmd))
    wall = time.perf_counter() - t0
    if first_line:
        buf += proc.stdout.read()
        out = buf
        if t_first is None and b"\n" in buf:
            t_first = wall
    else:
        out_f.seek(0)
        out = out_f.read()
    err_f.seek(0)
    err = err_f.read().decode(errors="replace")
    main = peaks.get(proc.pid, ("", 0))[1] / 1024
    workers = sorted((kb / 1024 for pid, (c, kb) in peaks.items() if pid != proc.pid and "spawn_main" in c),
                     reverse=True)  # multiprocessing's spawned workers (not its resource tracker)
    return {"wall_s": wall, "first_result_s": t_first, "rc": proc.returncode, "stdout": out.decode(errors="replace"),
            "stderr": err[-2000:], "main_rss_mb": main, "worker_rss_mb": workers}


_TEMP_DIRS: list[Path] = []


def fresh_env(tag: str, **extra) -> dict:
    """The environment of a run with its own new data folder (store, models), removed when the script ends."""
    data = Path(tempfile.mkdtemp(prefix=f"byteme-bench-{tag}-"))
    _TEMP_DIRS.append(data)
    env = dict(os.environ, BYTEME_DATA_DIR=str(data), **extra)
    env.pop("BYTEME_STORE", None)
    return env


def _statuses(stdout: str) -> str:
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        key = r["status"] if r["status"] == "ok" else f"error:{r['error']['kind']}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


# -- sections ---------------------------------------------------------------------------------------------------

def section_ratio(args, report: dict) -> None:
    from bench import decode_only

    from engine.config import load_config
    from engine.pipeline import extract_features

    path = bench_60s_clip()
    cfg = load_config(use_user_file=False)
    extract_features(path, cfg, options={"ocr": False})  # warm: imports, numba, ONNX session are not the subject
    runs = {"decode": [], "analysis_no_ocr": [], "analysis_ocr": []}
    for _ in range(args.repeat):
        runs["decode"].append((decode_only(path)[0], loadavg()))
        t0 = time.perf_counter()
        extract_features(path, cfg, options={"ocr": False})
        runs["analysis_no_ocr"].append((time.perf_counter() - t0, loadavg()))
        t0 = time.perf_counter()
        extract_features(path, cfg, options={"ocr": True})
        runs["analysis_ocr"].append((time.perf_counter() - t0, loadavg()))
    best = {k: min(v)[0] for k, v in runs.items()}
    res = {
        "clip": str(path.relative_to(ROOT)),
        "runs": {k: [(round(t, 2), la) for t, la in v] for k, v in runs.items()},
        "decode_s": round(best["decode"], 2),
        "analysis_no_ocr_s": round(best["analysis_no_ocr"], 2),
        "analysis_ocr_s": round(best["analysis_ocr"], 2),
        "ratio_no_ocr": round(best["analysis_no_ocr"] / best["decode"], 3),
        "ratio_ocr": round(best["analysis_ocr"] / best["decode"], 3),
        "ocr_cost_s": round(best["analysis_ocr"] - best["analysis_no_ocr"], 2),
    }
    report["ratio"] = res
    log(f"ratio (60 s 1080x1920 H.264, best of {args.repeat}):")
    for k, v in runs.items():
        log(f"  {k:16s} " + "  ".join(f"{t:6.2f} s (load {la})" for t, la in v))
    log(f"  ratio without OCR {res['ratio_no_ocr']}, with OCR {res['ratio_ocr']}; OCR adds {res['ocr_cost_s']} s")


def section_cold(args, report: dict) -> None:
    clip = noise_clip(CACHE / "hardening_cold_360x640_2s.mp4", width=360, height=640, fps=30, duration_s=2.0, seed=1)
    numba = Path(tempfile.mkdtemp(prefix="byteme-bench-numba-"))
    rows = []
    for label, workers, cache_state in (("in-process", 0, "cold"), ("in-process", 0, "warm"),
                                        ("in-process", 0, "warm"), ("--workers 1", 1, "warm")):
        if cache_state == "cold":
            shutil.rmtree(numba, ignore_errors=True)
            numba.mkdir()
        env = fresh_env("cold", NUMBA_CACHE_DIR=str(numba))
        cmd = BYTEME + ["score", str(clip), "--json", "--no-cache"]
        if workers:
            cmd += ["--workers", str(workers)]
        la = loadavg()
        r = run_measured(cmd, env, first_line=True)
        rows.append({"run": label, "numba_cache": cache_state, "first_result_s": round(r["first_result_s"] or -1, 2),
                     "wall_s": round(r["wall_s"], 2), "rc": r["rc"], "load": la})
        log(f"  cold start {label:12s} numba cache {cache_state}: first result {r['first_result_s'] or -1:.2f} s, "
            f"exit after {r['wall_s']:.2f} s (rc {r['rc']}, load {la})")
    shutil.rmtree(numba, ignore_errors=True)
    # How much of a fresh process is imports alone (no clip).
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import engine.pipeline, engine.extractors; engine.extractors.load_all()"],
                   cwd=ROOT, check=True)
    imports = time.perf_counter() - t0
    log(f"  python + engine + every extractor module imported: {imports:.2f} s (load {loadavg()})")
    report["cold"] = {"runs": rows, "imports_s": round(imports, 2)}


def section_memory(args, report: dict) -> None:
    uhd = noise_clip(CACHE / "hardening_uhd_2160x3840_10s.mp4", width=2160, height=3840, fps=30, duration_s=10.0,
                     seed=2)
    long = noise_clip(CACHE / "hardening_long_720x1280_180s.mp4", width=720, height=1280, fps=30, duration_s=180.0,
                      seed=3)
    report["memory"] = [row for clip in (uhd, long) for row in _peak_rss_runs(clip, "mem")]


def _peak_rss_runs(clip: Path, env_name: str) -> list[dict]:
    """``byteme score CLIP --json --no-cache`` in-process and with ``--workers 1``: peak RSS of each process."""
    rows = []
    for workers in (0, 1):
        cmd = BYTEME + ["score", str(clip), "--json", "--no-cache"]
        if workers:
            cmd += ["--workers", "1"]
        la = loadavg()
        r = run_measured(cmd, fresh_env(env_name))
        row = {"clip": clip.name, "workers": workers, "wall_s": round(r["wall_s"], 1), "rc": r["rc"],
               "main_rss_mb": round(r["main_rss_mb"]), "worker_rss_mb": [round(x) for x in r["worker_rss_mb"]],
               "status": _statuses(r["stdout"]), "load": la}
        rows.append(row)
        log(f"  memory {clip.name} workers={workers}: main {row['main_rss_mb']} MB, workers "
            f"{row['worker_rss_mb']} MB, {row['wall_s']} s, {row['status']} (load {la})")
    return rows


def _memory_by_stage(clip: Path) -> dict:
    """Resident size sampled every 20 ms during one in-process analysis of ``clip`` (OCR on): the peak (MB) under
    each stage the pipeline reported and under each extractor's finish(). A finish() that runs in another thread
    (the audio extractors beside the video decode) is named as such; the sample is the whole process's RSS."""
    import threading

    from engine.config import load_config
    from engine.extractors import registered
    from engine.pipeline import extract_features

    current = {"where": "probe"}
    running: dict[int, str] = {}  # thread id -> extractor whose finish() runs in it
    peak: dict[str, int] = {}
    stop = threading.Event()
    main_thread = threading.get_ident()

    def rss_kb() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def sample():
        while not stop.wait(0.02):
            kb = rss_kb()
            names = [current["where"]] + [f"{name} (thread)" for tid, name in list(running.items())
                                          if tid != main_thread]
            for where in names:
                peak[where] = max(peak.get(where, 0), kb)

    saved = []
    for cls in registered():  # name the extractor whose finish() runs
        orig = cls.__dict__.get("finish")
        if orig is None:
            continue
        saved.append((cls, orig))

        def finish(self_, ctx, fv, _orig=orig, _name=cls.name):
            tid = threading.get_ident()
            if tid != main_thread:
                running[tid] = f"finish:{_name}"
                try:
                    return _orig(self_, ctx, fv)
                finally:
                    running.pop(tid, None)
            before = current["where"]
            current["where"] = f"finish:{_name}"
            try:
                return _orig(self_, ctx, fv)
            finally:
                current["where"] = before
        cls.finish = finish

    def progress(p):
        if not current["where"].startswith("finish:"):
            current["where"] = p.stage

    base = rss_kb()
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        extract_features(clip, load_config(use_user_file=False), progress=progress, options={"ocr": True})
    finally:
        stop.set()
        th.join()
        for cls, orig in saved:
            cls.finish = orig
    rows = sorted(((w, round(kb / 1024)) for w, kb in peak.items()), key=lambda r: -r[1])
    return {"base_mb": base // 1024, "peak_mb_by_stage": dict(rows), "load": loadavg()}


def _log_stages(title: str, res: dict) -> None:
    log(f"{title} (RSS before: {res['base_mb']} MB, load {res['load']}):")
    for where, mb in list(res["peak_mb_by_stage"].items())[:15]:
        log(f"  {where:40s} {mb:6d} MB")


def section_memstages(args, report: dict) -> None:
    clip = noise_clip(CACHE / "hardening_long_720x1280_180s.mp4", width=720, height=1280, fps=30, duration_s=180.0,
                      seed=3)
    res = _memory_by_stage(clip)
    _log_stages("memory by stage, 3-minute 720x1280 clip, in-process", res)
    report["memstages"] = {"base_mb": res["base_mb"], "peak_mb_by_stage": res["peak_mb_by_stage"]}


#: memlong: the clip length (s), the engine's default ``max_analysis_s``: the longest clip analysed in full.
MEMLONG_DURATION_S = 600.0


def memlong_clip(width: int, height: int) -> Path:
    return noise_clip(CACHE / f"hardening_10min_{width}x{height}_600s.mp4", width=width, height=height, fps=30,
                      duration_s=MEMLONG_DURATION_S, seed=4)


def section_memlong(args, report: dict) -> None:
    sizes = [(360, 640)] + [tuple(int(v) for v in s.lower().split("x")) for s in args.memlong_size or []]
    rows = [row for width, height in sizes for row in _peak_rss_runs(memlong_clip(width, height), "memlong")]
    if not args.memlong_no_stages:
        clip = memlong_clip(*sizes[0])
        stages = _memory_by_stage(clip)
        _log_stages(f"memory by stage, {clip.name}, in-process", stages)
    else:
        stages = None
    report["memlong"] = {"runs": rows, "stages": stages}


def section_throughput(args, report: dict) -> None:
    folder = CACHE / "hardening_throughput"
    if not all((folder / f"clip{i:02d}.mp4").exists() for i in range(THROUGHPUT_CLIPS)):
        log(f"  generating {THROUGHPUT_CLIPS} clips (once) ...")
    for i in range(THROUGHPUT_CLIPS):
        noise_clip(folder / f"clip{i:02d}.mp4", width=360, height=640, fps=30, duration_s=3.0, seed=100 + i,
                   speech=i % 2 == 0)
    rows = []
    for workers in (0, 1, 2):
        cmd = BYTEME + ["score", str(folder), "--json", "--no-cache"]
        if args.no_ocr:
            cmd.append("--no-ocr")
        if workers:
            cmd += ["--workers", str(workers)]
        la = loadavg()
        r = run_measured(cmd, fresh_env("tp"))
        row = {"workers": workers, "wall_s": round(r["wall_s"], 1),
               "clips_per_min": round(60 * THROUGHPUT_CLIPS / r["wall_s"], 1), "status": _statuses(r["stdout"]),
               "main_rss_mb": round(r["main_rss_mb"]), "worker_rss_mb": [round(x) for x in r["worker_rss_mb"]],
               "load": la, "ocr": not args.no_ocr}
        rows.append(row)
        log(f"  throughput workers={workers}: {row['wall_s']} s for {THROUGHPUT_CLIPS} clips "
            f"({row['clips_per_min']} clips/min), {row['status']} (load {la})")
    report["throughput"] = rows


def section_listing(args, report: dict) -> None:
    from engine.media import iter_clips

    rows = []
    for n in LISTING_SIZES:
        folder = Path(tempfile.mkdtemp(prefix=f"byteme-bench-list{n}-"))
        for i in range(n):
            (folder / f"clip{i:05d}.mp4").touch()
        walk = []
        for _ in range(3):
            t0 = time.perf_counter()
            found = list(iter_clips([folder]))
            walk.append(time.perf_counter() - t0)
        assert len(found) == n
        backend_s = None
        try:
            from engine.service import LibraryService

            be = LibraryService(folder, store_path=folder.parent / f"{folder.name}.sqlite3")
            t0 = time.perf_counter()
            state = be.open()
            backend_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            be.open()
            backend_again_s = time.perf_counter() - t0
            be.close() if hasattr(be, "close") else None
            del state
        except ImportError:
            backend_again_s = None
        row = {"files": n, "iter_clips_s": round(min(walk), 4), "backend_open_s": round(backend_s or -1, 3),
               "backend_open_again_s": round(backend_again_s or -1, 3), "load": loadavg()}
        rows.append(row)
        log(f"  listing {n} files: iter_clips {row['iter_clips_s']:.4f} s, TUI backend open {row['backend_open_s']} s "
            f"(again {row['backend_open_again_s']} s) (load {row['load']})")
        shutil.rmtree(folder, ignore_errors=True)
        for f in folder.parent.glob(f"{folder.name}.sqlite3*"):
            f.unlink()
    report["listing"] = rows


def section_profile(args, report: dict) -> None:
    from engine.config import load_config
    from engine.pipeline import extract_features

    path = bench_60s_clip()
    cfg = load_config(use_user_file=False)
    extract_features(path, cfg, options={"ocr": False})  # warm
    prof = cProfile.Profile()
    la = loadavg()
    t0 = time.perf_counter()
    prof.enable()
    extract_features(path, cfg, options={"ocr": False})
    prof.disable()
    total = time.perf_counter() - t0
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    st.sort_stats("tottime").print_stats(args.top)
    log(f"profile (60 s 1080x1920, no OCR, under cProfile {total:.1f} s, load {la}): top {args.top} by own time")
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    for ln in lines[start:]:
        log("  " + ln)
    report["profile"] = {"total_s": round(total, 2), "load": la, "top": lines[start + 1:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    ap.add_argument("--repeat", type=int, default=2, help="ratio: runs of each pass; the fastest counts")
    ap.add_argument("--no-ocr", action="store_true", help="throughput: without OCR")
    ap.add_argument("--top", type=int, default=25, help="profile: functions to print")
    ap.add_argument("--memlong-size", nargs="*", metavar="WxH",
                    help="memlong: also measure 10-minute clips of these sizes (e.g. 720x1280); 360x640 always")
    ap.add_argument("--memlong-no-stages", action="store_true", help="memlong: skip the memory-by-stage run")
    ap.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "engine"], cwd=ROOT, capture_output=True,
                           text=True).stdout.split()[1::2]
    report: dict = {"machine": {"cpus": os.cpu_count(), "load_at_start": loadavg()},
                    "git": {"head": head, "engine_files_changed": dirty}}
    log(f"commit {head}" + (f" with uncommitted changes in {', '.join(dirty)}" if dirty else ""))
    for name in args.only or SECTIONS:
        log(f"== {name} (load {loadavg()})")
        globals()[f"section_{name}"](args, report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    for folder in _TEMP_DIRS:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
