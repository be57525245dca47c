"""Hardening (issue 11): the hostile cases that tests/hardening/test_hostile.py leaves out.

- a 3-minute clip and a 4K clip score (the 4K one analysed at the reduced size);
- a pipe named ``.mp4`` (a reader would wait on it forever), a pipe as a caption sidecar, a decoder that is too slow
  (in this process) and one that hangs (``--workers 1``: the per-clip limit kills the worker): each gets a plain
  error and the other clips of the run still score;
- a 1 MB caption full of markup and escape codes, and malformed ``.info.json`` sidecars, in the same run as good
  clips; copies of one video with different captions (the feature cache keys the sidecars too);
- the crash loop: ``byteme score --workers 2`` killed (SIGKILL to its process group) at random points, 20 times;
  the store stays intact and every result finished before a kill survives.

Speed and memory are measured by ``scripts/bench_hardening.py``, never asserted here.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hang_guard import hang_guard

from engine import cli, pipeline, synth, library
from engine.config import load_config
from engine.media import ANALYSIS_SHORT_SIDE_PX
from engine.sidecars import MAX_CAPTION_CHARS

ROOT = Path(__file__).resolve().parents[2]

#: Tiny clips for the runs where the number of clips matters, not their content: cheap to encode and analyse.
TINY_W, TINY_H, TINY_S = 96, 160, 0.5
#: The 3-minute clip: small and at a low frame rate, because the point is its duration (memory is measured in
#: scripts/bench_hardening.py).
LONG_W, LONG_H, LONG_FPS, LONG_S = 144, 256, 5, 180.0
#: The 4K clip: UHD, portrait (2160x3840 displayed), one second.
UHD_W, UHD_H, UHD_FPS, UHD_S = 2160, 3840, 24, 1.0
#: Seconds the "slow decoder" sleeps per frame in this process: 15 frames make 7.5 s, well past the limit below.
SLOW_FRAME_S = 0.5
#: The per-clip limit of the in-process run, s: 6x what a warm tiny clip needs on a loaded 2-core machine.
IN_PROCESS_LIMIT_S = 3
#: The per-clip limit of the --workers 1 run, s: it includes a fresh worker's start (imports, numba cache load).
WORKER_LIMIT_S = 20
#: Crash loop: iterations, and a wall-time budget after which it stops early (it says how far it got).
CRASH_ITERATIONS, CRASH_BUDGET_S = 20, 100.0
#: Subprocess guard, s: a run that takes longer than this is a hang (the test fails instead of blocking CI).
RUN_GUARD_S = 240


def _noise_video(width: int, height: int, seed: int, shot_s: float = 10.0):
    """A cheap moving texture: four blurred noise images, panned 1 px a frame, a cut every ``shot_s``."""
    import cv2

    rng = np.random.default_rng(seed)
    bases = [cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 2) for _ in range(4)]
    return lambda i, t_s: np.roll(bases[int(t_s // shot_s) % 4], i % width, axis=1)


def _tiny(path: Path, seed: int) -> Path:
    audio = synth.scale_to_lufs(synth.pink_noise(duration_s=TINY_S, sr=48_000, seed=seed), sr=48_000, lufs=-20.0)
    return synth.write_clip(path, width=TINY_W, height=TINY_H, fps=30, duration_s=TINY_S,
                            video=_noise_video(TINY_W, TINY_H, seed), audio=audio)


@pytest.fixture(scope="session")
def tiny_clips(tmp_path_factory):
    """Factory: ``tiny_clips(n)`` -> n distinct (by content) 96x160 0.5 s clips, encoded once per session."""
    folder = tmp_path_factory.mktemp("tiny")
    made: list[Path] = []

    def get(n: int) -> list[Path]:
        while len(made) < n:
            made.append(_tiny(folder / f"tiny{len(made):02d}.mp4", seed=100 + len(made)))
        return made[:n]

    return get


@pytest.fixture()
def store_env(tmp_path, monkeypatch):
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BYTEME_STORE", raising=False)
    return tmp_path / "data"


def _rows(out: str) -> dict:
    return {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}




# -- long and large clips --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_three_minute_clip_scores(tmp_path_factory, store_env):
    path = tmp_path_factory.mktemp("long") / "three_minutes.mp4"
    audio = synth.scale_to_lufs(synth.pink_noise(duration_s=LONG_S, sr=48_000, seed=5), sr=48_000, lufs=-18.0)
    synth.write_clip(path, width=LONG_W, height=LONG_H, fps=LONG_FPS, duration_s=LONG_S,
                     video=_noise_video(LONG_W, LONG_H, seed=5), audio=audio)
    r = library.analyze(path, load_config(use_user_file=False), options={"ocr": False})
    assert r.ok, r.error
    assert abs(r.media.duration_s - LONG_S) < 0.5
    assert abs(r.features.events["frames_decoded"] - LONG_FPS * LONG_S) <= 2
    assert r.scores.overall is not None and r.scores.modalities.get("audio") is not None
    # The whole clip was analysed (under max_analysis_s): the per-second series reach its end.
    for key in ("audio.dead_air_pct", "visual.motion_energy"):
        series = r.features.series.get(key)
        assert series is not None and abs(len(series.values) * series.step_s - LONG_S) <= 2 * series.step_s, key
    assert not any("Only the first" in n for notes in r.features.notes.values() for n in notes)


@pytest.mark.slow
def test_4k_clip_is_analysed_at_the_reduced_size(tmp_path_factory, store_env, monkeypatch):
    path = tmp_path_factory.mktemp("uhd") / "uhd.mp4"
    import cv2

    base = cv2.resize(_noise_video(UHD_W // 8, UHD_H // 8, seed=9)(0, 0.0), (UHD_W, UHD_H))
    audio = synth.scale_to_lufs(synth.pink_noise(duration_s=UHD_S, sr=48_000, seed=9), sr=48_000, lufs=-18.0)
    synth.write_clip(path, width=UHD_W, height=UHD_H, fps=UHD_FPS, duration_s=UHD_S,
                     video=lambda i, t_s: np.roll(base, 8 * i, axis=1), audio=audio)
    shapes = []
    real_decode = pipeline.decode

    def spy(p, info, *, on_frame=None, **kw):
        def wrapped(frame):
            on_frame(frame)
            shapes.append(frame.gray.shape)
        return real_decode(p, info, on_frame=wrapped if on_frame else None, **kw)

    monkeypatch.setattr(pipeline, "decode", spy)
    r = library.analyze(path, load_config(use_user_file=False))  # OCR included: it reads full-size frames
    assert r.ok, r.error
    assert (r.media.width, r.media.height) == (UHD_W, UHD_H)
    assert len(shapes) == round(UHD_FPS * UHD_S)
    expected = (round(ANALYSIS_SHORT_SIDE_PX * UHD_H / UHD_W), ANALYSIS_SHORT_SIDE_PX)  # (640, 360)
    assert set(shapes) == {expected}
    assert r.scores.modalities.get("visual") is not None


# -- things that block or take too long ----------------------------------------------------------------------

def test_pipes_and_a_slow_decoder_in_this_process(tiny_clips, tmp_path, store_env, monkeypatch, capsys):
    """A pipe named .mp4 would block any open() until a writer comes: it is refused by type, not opened. A decoder
    slower than [engine] clip_timeout_s is stopped between packets. The other clips score."""
    a, b, c = tiny_clips(3)
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "00_good.mp4").write_bytes(a.read_bytes())
    os.mkfifo(folder / "01_pipe.mp4")
    (folder / "02_pipe_caption.mp4").write_bytes(b.read_bytes())
    os.mkfifo(folder / "02_pipe_caption.txt")
    (folder / "03_slow.mp4").write_bytes(c.read_bytes())
    limit = tmp_path / "limit.toml"
    limit.write_text(f"[engine]\nclip_timeout_s = {IN_PROCESS_LIMIT_S}\n")
    # Warm this process (imports, numba) so that the limit measures the clip, not the first import.
    assert library.analyze(a, load_config(use_user_file=False), options={"ocr": False}).ok

    real_decode = pipeline.decode

    def slow_decode(p, info, *, on_frame=None, **kw):
        if "slow" not in Path(p).name or on_frame is None:
            return real_decode(p, info, on_frame=on_frame, **kw)

        def crawling(frame):
            time.sleep(SLOW_FRAME_S)
            on_frame(frame)
        return real_decode(p, info, on_frame=crawling, **kw)

    monkeypatch.setattr(pipeline, "decode", slow_decode)
    with hang_guard(120):
        code = cli.main(["score", str(folder), "--json", "--no-ocr", "--config", str(limit), "--model", "none"])
    out, err = capsys.readouterr()
    rows = _rows(out)
    assert code == 1 and "Traceback" not in err
    assert set(rows) == {"00_good.mp4", "01_pipe.mp4", "02_pipe_caption.mp4", "03_slow.mp4"}
    assert rows["01_pipe.mp4"]["error"] == {"kind": "not_a_file",
                                           "message": "01_pipe.mp4 is a pipe, not a video file."}
    slow = rows["03_slow.mp4"]
    assert slow["status"] == "error" and slow["error"]["kind"] == "timeout", slow["error"]
    assert "clip_timeout_s" in slow["error"]["message"] and "03_slow.mp4" in slow["error"]["message"]
    assert rows["00_good.mp4"]["status"] == "ok"
    piped = rows["02_pipe_caption.mp4"]
    assert piped["status"] == "ok", piped["error"]
    assert any(f["code"] == "text.unreadable_sidecar" and "02_pipe_caption.txt" in f["message"]
               for f in piped["feedback"])


_HANG_SITECUSTOMIZE = '''
"""Test hook of tests/hardening/test_hardening.py: a decoder that hangs (blocks, deaf to any cancel) on clips named
*hang*."""
import os, time
if os.environ.get("BYTEME_TEST_HANG_ON"):
    import engine.media as _media
    _real = _media.decode
    def decode(path, *args, **kwargs):
        if os.environ["BYTEME_TEST_HANG_ON"] in os.path.basename(str(path)):
            while True:
                time.sleep(3600)
        return _real(path, *args, **kwargs)
    _media.decode = decode
'''


@pytest.mark.slow
def test_hung_decoder_and_pipe_with_a_worker(tiny_clips, tmp_path):
    """``--workers 1``: the supervisor kills a worker whose clip passes clip_timeout_s (here a decoder that never
    returns and ignores cancel), reports a timeout, and the next clip scores on a fresh worker."""
    a, b = tiny_clips(2)
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "00_good.mp4").write_bytes(a.read_bytes())
    os.mkfifo(folder / "01_pipe.mp4")
    (folder / "02_hang.mp4").write_bytes(b.read_bytes())
    (folder / "03_after.mp4").write_bytes(a.read_bytes())
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_HANG_SITECUSTOMIZE)
    limit = tmp_path / "limit.toml"
    limit.write_text(f"[engine]\nclip_timeout_s = {WORKER_LIMIT_S}\n")
    env = dict(os.environ, BYTEME_DATA_DIR=str(tmp_path / "data"), BYTEME_TEST_HANG_ON="hang",
               PYTHONPATH=os.pathsep.join([str(hook), str(ROOT)]))
    env.pop("BYTEME_STORE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "score", str(folder), "--json", "--no-ocr", "--workers", "1",
         "--config", str(limit), "--model", "none"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=RUN_GUARD_S)
    rows = _rows(proc.stdout)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert rows["01_pipe.mp4"]["error"]["kind"] == "not_a_file"
    hang = rows["02_hang.mp4"]
    assert hang["status"] == "error" and hang["error"]["kind"] == "timeout", hang["error"]
    assert "clip_timeout_s" in hang["error"]["message"] and "02_hang.mp4" in hang["error"]["message"]
    assert rows["00_good.mp4"]["status"] == "ok", rows["00_good.mp4"]["error"]
    assert rows["03_after.mp4"]["status"] == "ok", rows["03_after.mp4"]["error"]


# -- hostile sidecars ----------------------------------------------------------------------------------------

#: One unit of the hostile caption: Rich/Textual markup, an action link, CSI/OSC/C1 escape codes, a bell, a
#: right-to-left override and hashtags.
HOSTILE_CAPTION_UNIT = ("[bold red]BUY NOW[/] [@click=app.quit]quit[/] \x1b[2J\x1b[31mred\x1b[0m "
                        "\x1b]0;pwned\x07 \x9b31m \u202eevil #fyp #viral\n")


def test_big_hostile_caption_and_malformed_info_json_in_one_run(tiny_clips, tmp_path, store_env, capsys):
    clips = tiny_clips(4)
    folder = tmp_path / "clips"
    folder.mkdir()
    for i, name in enumerate(("00_good", "01_caption", "02_info", "03_deep")):
        (folder / f"{name}.mp4").write_bytes(clips[i].read_bytes())
    caption = (HOSTILE_CAPTION_UNIT * (1_048_576 // len(HOSTILE_CAPTION_UNIT) + 1))[:1_048_576]
    (folder / "01_caption.txt").write_text(caption, encoding="utf-8")
    (folder / "02_info.info.json").write_text('{"title": "cut off', encoding="utf-8")
    (folder / "03_deep.info.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")

    code = cli.main(["score", str(folder), "--json", "--no-ocr", "--model", "none"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = _rows(out)
    assert "\x1b" not in out and "\x07" not in out  # JSON escapes them (\u001b): data, never sent to a terminal
    for name, r in rows.items():
        assert r["status"] == "ok", (name, r["error"])
        assert r["scores"]["overall"] is not None
    big = rows["01_caption.mp4"]
    assert big["scores"]["text"] is not None
    assert 0 < big["metrics"]["text.caption_chars"] <= MAX_CAPTION_CHARS
    for name in ("02_info.mp4", "03_deep.mp4"):
        problems = [f for f in rows[name]["feedback"] if f["code"] == "text.unreadable_sidecar"]
        assert problems and "not valid JSON" in problems[0]["message"], rows[name]["feedback"]
        assert name.replace(".mp4", ".info.json") in problems[0]["message"]

    # The table a person reads: every finding that quotes the caption is shown escaped, never interpreted.
    code = cli.main(["score", str(folder), "--no-ocr", "--model", "none"])
    out, err = capsys.readouterr()
    assert code == 0
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in out and raw not in err, repr(raw)
    assert len(out) < 20_000  # a 1 MB caption does not flood the terminal


def test_identical_videos_with_different_captions_get_their_own_text_score(tiny_clips, tmp_path, store_env, capsys):
    """Features are cached by content hash; the sidecars are part of the key, so a copy of the same video with
    another caption, or a caption edited after scoring, is analysed again (commit 515850f)."""
    [clip] = tiny_clips(1)
    folder = tmp_path / "same"
    folder.mkdir()
    for name, text in (("a", "Three tips to light your face at home #lighting #tips"),
                       ("b", "buy now buy now #follow4follow #like4like #fyp #fyp #fyp #viral")):
        (folder / f"{name}.mp4").write_bytes(clip.read_bytes())
        (folder / f"{name}.txt").write_text(text)

    def text_metrics() -> dict:
        assert cli.main(["score", str(folder), "--json", "--no-ocr", "--model", "none"]) == 0
        rows = _rows(capsys.readouterr().out)
        return {n: {k: v for k, v in r["metrics"].items() if k.startswith("text.")} for n, r in rows.items()}

    first = text_metrics()
    assert first["a.mp4"]["text.spammy_hashtags"] == 0 < first["b.mp4"]["text.spammy_hashtags"]
    (folder / "a.txt").write_text("follow4follow #follow4follow #follow4follow")
    second = text_metrics()
    assert second["a.mp4"]["text.spammy_hashtags"] > 0 and second["b.mp4"] == first["b.mp4"]


# -- the crash loop ------------------------------------------------------------------------------------------

def _snapshot(db: Path) -> tuple[set, list]:
    """(result keys, done jobs without a result row), read with a read-only connection."""
    if not db.exists():
        return set(), []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        keys = set()
        if "results" in tables:
            keys = set(conn.execute("SELECT content_hash, path, engine_version, model, config_hash FROM results"))
        orphans = []
        if "jobs" in tables and "results" in tables:
            orphans = conn.execute(
                "SELECT j.id, j.path FROM jobs j WHERE j.state='done' AND NOT EXISTS (SELECT 1 FROM results r"
                " WHERE r.content_hash=j.content_hash AND r.path=j.path AND r.model=j.result_model"
                " AND r.config_hash=j.config_hash)"
            ).fetchall()
        return keys, orphans
    finally:
        conn.close()


def _done_jobs(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM jobs WHERE state='done'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _remux_with_tag(src: Path, dst: Path, tag: str) -> None:
    """Copy ``src`` to ``dst`` with a new comment tag: the same pictures and sound, a new content hash."""
    import av

    tmp = dst.with_name(".tmp-" + dst.name)
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
        out.metadata["comment"] = tag
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    os.replace(tmp, dst)


@pytest.mark.slow
def test_store_survives_kills_at_random_points(tiny_clips, tmp_path):
    """SIGKILL `byteme score --workers 2` and its workers at random points; after each kill the store is intact,
    every result finished before it is still there, and every job marked done has its result (one transaction).
    Kill points alternate between the start (queueing, spawning, claiming) and just after a result was written.
    Between iterations two clips get new bytes (a remux with a new tag), so every run has work to do."""
    sources = tiny_clips(6)
    folder = tmp_path / "clips"
    folder.mkdir()
    names = [f"clip{i}.mp4" for i in range(len(sources))]
    for name, src in zip(names, sources):
        (folder / name).write_bytes(src.read_bytes())
    db = tmp_path / "store.sqlite3"
    env = dict(os.environ, BYTEME_DATA_DIR=str(tmp_path / "data"))
    env.pop("BYTEME_STORE", None)
    cmd = [sys.executable, "-m", "engine.cli", "score", str(folder), "--json", "--no-ocr", "--workers", "2",
           "--model", "none", "--store", str(db)]
    rng = random.Random(11)
    seen: set = set()
    t_start = time.monotonic()
    iterations = kills_after_a_result = 0
    for it in range(CRASH_ITERATIONS):
        if time.monotonic() - t_start > CRASH_BUDGET_S:
            break
        done_before = _done_jobs(db)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
                                start_new_session=True)
        t0 = time.monotonic()
        if it % 2 == 0:
            time.sleep(rng.uniform(0.05, 2.5))
        else:  # wait for a new result (or the end of the run), then kill a moment later: mid-write territory
            while proc.poll() is None and _done_jobs(db) <= done_before and time.monotonic() - t0 < 60:
                time.sleep(0.02)
            kills_after_a_result += _done_jobs(db) > done_before
            time.sleep(rng.uniform(0.0, 0.3))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(0.1)  # let the kernel reap the spawned workers of the group
        keys, orphans = _snapshot(db)
        assert seen <= keys, f"iteration {it}: results lost after a kill: {seen - keys}"
        assert not orphans, f"iteration {it}: jobs marked done without their result: {orphans}"
        seen = keys
        iterations += 1
        for name in rng.sample(names, 2):  # new bytes for two clips: the next run has work to do
            _remux_with_tag(sources[names.index(name)], folder / name, f"iteration {it} {rng.random()}")
    print(f"crash loop: {iterations} kills in {time.monotonic() - t_start:.0f} s, {kills_after_a_result} just "
          f"after a result, {len(seen)} results kept")
    assert iterations >= 8 and kills_after_a_result >= 2

    # Run to completion: everything scores, and the store is whole.
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=RUN_GUARD_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(proc.stdout)
    assert sorted(rows) == sorted(names) and all(r["status"] == "ok" for r in rows.values())
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        keys, orphans = _snapshot(db)
        assert seen <= keys and not orphans
        from engine.store import Store, path_key

        store = Store(db)
        try:
            for name in names:
                chash = store.hash_for(folder / name)
                n = conn.execute("SELECT COUNT(*) FROM results WHERE content_hash=? AND path=? AND model=?",
                                 (chash, path_key(folder / name), rows[name]["engine"]["model"])).fetchone()[0]
                assert n == 1, (name, n)
        finally:
            store.close()
    finally:
        conn.close()
