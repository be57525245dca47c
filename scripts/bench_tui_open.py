"""Measure how fast the terminal app opens a 300-clip folder with a warm store, and how smooth scrolling is.

    .venv/bin/python scripts/bench_tui_open.py [--clips 300] [--keys 200]

Builds (once, in a temp dir) a folder of N copies of one small generated clip, each made distinct by appended
bytes (so each has its own content hash), scores the first one and stores its result for every copy (a warm
store, as after `byteme score`), then runs the app headless (Textual's run_test) at 160x50 and reports:
time until the table holds every clip, the backend's open() alone, and the mean time per key press while
scrolling (down arrow and page down), which includes the redraw. Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def build_folder(root: Path, n: int) -> Path:
    from engine import synth

    folder = root / "clips"
    folder.mkdir(parents=True, exist_ok=True)
    seed_clip = root / "seed.mp4"
    if not seed_clip.exists():
        sr = 48000
        synth.write_clip(seed_clip, width=180, height=320, fps=15, duration_s=1.0,
                         video=lambda i, t: synth.textured_scene(width=180, height=320, t_s=t),
                         audio=synth.speech_like(duration_s=1.0, sr=sr), sample_rate=sr)
    data = seed_clip.read_bytes()
    for i in range(n):
        p = folder / f"clip_{i:04d}.mp4"
        if not p.exists():  # rewriting would change mtimes and make the store's hashes stale
            p.write_bytes(data + i.to_bytes(4, "big"))  # trailing bytes: a new content hash per copy
    return folder


def warm_store(folder: Path, store_path: Path, *, analyse: bool) -> None:
    """A stored result for every clip. With ``analyse`` the first clip is analysed for real and its result copied;
    otherwise each gets the fake backend's full result (scores, findings, per-second series), which is the same
    shape and about the same size."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the fake backend is a test double
    from fake_backend import fake_result
    from engine.config import config_hash, load_config
    from engine.store import Store

    cfg = load_config(None, use_user_file=False)
    store = Store(store_path)
    paths = sorted(folder.iterdir())
    template = None
    if analyse:
        from engine.library import analyze

        template = analyze(paths[0], cfg, store=store, model=None)
    for i, p in enumerate(paths):
        h = store.hash_for(p)
        r = template if template is not None else fake_result(str(p), i)
        store.put_result(replace(r, path=str(p), content_hash=h), r.scores.model, config_hash(cfg))
    store.close()


async def measure(folder: Path, store_path: Path, keys: int) -> None:
    from byteme_tui.app import BytemeApp
    from engine.service import LibraryService
    from byteme_tui.widgets.clip_table import ClipTable

    t0 = time.perf_counter()
    LibraryService(folder, store_path=store_path, executor="thread").open()
    print(f"backend.open() alone: {time.perf_counter() - t0:.3f} s")

    t0 = time.perf_counter()
    app = BytemeApp(LibraryService(folder, store_path=store_path, executor="thread"), poll_interval_s=None)
    async with app.run_test(size=(160, 50)) as pilot:
        n = len(list(folder.iterdir()))
        while True:
            await pilot.pause(0.01)
            tables = app.screen.query(ClipTable)
            if tables and tables.first().row_count >= n:
                break
        opened = time.perf_counter() - t0
        done = sum(1 for r in app.state.rows.values() if r.status == "done")
        print(f"app start to a full table of {n} clips ({done} scored): {opened:.3f} s")
        await app.workers.wait_for_complete()
        for key in ("down", "pagedown"):
            t1 = time.perf_counter()
            count = keys if key == "down" else max(1, keys // 10)
            for _ in range(count):
                await pilot.press(key)
            per = (time.perf_counter() - t1) / count
            print(f"scrolling with {key}: {1000 * per:.1f} ms per key press (press + redraw), {count} presses")
        await pilot.press("home")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=300)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--analyse", action="store_true", help="analyse one clip for real (else fixed results)")
    ap.add_argument("--dir", default=None, help="reuse this work folder (default: a fresh temp dir)")
    args = ap.parse_args()
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="byteme-bench-"))
    os.environ.setdefault("BYTEME_DATA_DIR", str(root / "data"))
    store_path = root / "store.sqlite3"
    t0 = time.perf_counter()
    folder = build_folder(root, args.clips)
    if not store_path.exists():
        warm_store(folder, store_path, analyse=args.analyse)
    print(f"folder + warm store ready in {time.perf_counter() - t0:.1f} s ({folder})")
    asyncio.run(measure(folder, store_path, args.keys))
    if not args.dir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
