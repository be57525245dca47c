"""Hostile input: every bad file gets a plain error kind and message, and the other clips in the run still score."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from engine import cli, library
from engine.config import load_config
from engine.textsafe import visible

HOSTILE_NAMES = {
    "newline": "line\nbreak.mp4",
    "escape": "\x1b[31mred\x1b[0m\x07.mp4",
    "markup": "[bold red]x[@click=app.quit].mp4",
    "long": ("n" * 236) + ".mp4",
}


@pytest.fixture(scope="session")
def hostile_folder(tmp_path_factory, good_clip, audio_only_m4a, video_only_mp4):
    folder = tmp_path_factory.mktemp("hostile")
    data = good_clip.read_bytes()
    (folder / "00_good.mp4").write_bytes(data)
    (folder / "01_empty.mp4").write_bytes(b"")
    # Random bytes from a fixed seed: os.urandom made this test flaky (now and then FFmpeg finds a container with
    # no stream in noise, "no_streams" instead of "unreadable": seen once in a clean-clone CI run).
    (folder / "02_random.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    (folder / "03_truncated.mp4").write_bytes(data[: len(data) // 2])
    moov = data.find(b"moov")
    assert moov > 4
    # The index box cut off (PyAV writes it last): as when a phone dies mid-recording. (Renaming it is not
    # enough: FFmpeg finds a moov hidden inside a 'free' box.)
    (folder / "04_no_moov.mp4").write_bytes(data[: moov - 4])
    (folder / "05_text.mp4").write_text("This is a caption, not a video.\n" * 20)
    (folder / "06_folder.mp4").mkdir()  # a folder is never a clip, whatever its name: it is walked
    (folder / "06_folder.mp4" / "inside.mp4").write_bytes(data)
    (folder / "07_dangling.mp4").symlink_to(folder / "does-not-exist.mp4")
    (folder / "08_loop.mp4").symlink_to(folder / "08_loop.mp4")
    (folder / "09_audio_only.m4a").write_bytes(audio_only_m4a.read_bytes())
    (folder / "10_video_only.mp4").write_bytes(video_only_mp4.read_bytes())
    for name in HOSTILE_NAMES.values():
        (folder / name).write_bytes(data)
    (folder / os.fsdecode(b"bad-\xff\xfe-bytes.mp4")).write_bytes(data)
    (folder / "tree").mkdir()
    (folder / "tree" / "back").symlink_to(folder)
    return folder


@pytest.fixture()
def store_env(tmp_path, monkeypatch):
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BYTEME_STORE", raising=False)


def test_hostile_folder_reports_each_and_scores_the_rest(hostile_folder, store_env, capsys):
    code = cli.main(["score", str(hostile_folder), "--json", "--no-ocr"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in err
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    expected_errors = {
        "01_empty.mp4": "empty_file",
        "02_random.mp4": "unreadable",
        "04_no_moov.mp4": "unreadable",
        "05_text.mp4": "unreadable",
        "07_dangling.mp4": "not_found",
        "08_loop.mp4": "not_found",
    }
    for name, kind in expected_errors.items():
        assert rows[name]["status"] == "error", name
        assert rows[name]["error"]["kind"] == kind, (name, rows[name]["error"])
        message = rows[name]["error"]["message"]
        assert name in message and "Traceback" not in message and len(message) < 300
    # Half an mp4 has its index at the end in PyAV's writer: either unreadable, or the readable half scores.
    assert rows["03_truncated.mp4"]["status"] == "ok" or rows["03_truncated.mp4"]["error"]["kind"] in (
        "unreadable", "truncated", "decode_failed")
    assert "06_folder.mp4" not in rows
    scored = ["00_good.mp4", "inside.mp4", "09_audio_only.m4a", "10_video_only.mp4", *HOSTILE_NAMES.values(),
              os.fsdecode(b"bad-\xff\xfe-bytes.mp4")]
    for name in scored:
        assert rows[name]["status"] == "ok", (name, rows[name]["error"])
        assert rows[name]["scores"]["overall"] is not None
    assert rows["10_video_only.mp4"]["scores"]["audio"] is None
    assert any(f["code"] == "audio.not_scored" and "no audio track" in f["message"]
               for f in rows["10_video_only.mp4"]["feedback"])
    # The symlink back to the folder is not walked twice.
    assert sum(1 for r in rows.values() if r["path"].endswith("00_good.mp4")) == 1


def test_table_output_shows_hostile_names_literally(hostile_folder, store_env, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no name is shortened (the table fits the terminal)
    paths = [str(hostile_folder / n) for n in HOSTILE_NAMES.values()]
    code = cli.main(["score", *paths, "--no-ocr"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31mred" in out
    assert "line\\nbreak.mp4" in out
    assert "[bold red]x[@click=app.quit].mp4" in out


def test_visible_escapes_controls_and_bad_bytes():
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("tab\there\r\n") == "tab\\there\\r\\n"
    assert visible("\x9b31m") == "\\x9b31m"
    assert visible(os.fsdecode(b"x\xff")) == "x\\xff"
    assert visible("right-to-left \u202e override") == "right-to-left \\u202e override"
    assert visible("[bold]markup[/] stays text") == "[bold]markup[/] stays text"


def test_short_clip_and_time_limit(clips, store_env, tmp_path):
    cfg = load_config(use_user_file=False)
    short = library.analyze(clips("short", duration_s=0.3, audio_lufs=None), cfg, options={"ocr": False})
    assert short.ok and short.media.duration_s < 0.5
    tight = tmp_path / "tight.toml"
    tight.write_text("[engine]\nclip_timeout_s = 0.001\n")
    r = library.analyze(clips("good_for_timeout"), load_config(tight), options={"ocr": False})
    assert r.status == "error" and r.error["kind"] == "timeout"
    assert "longer than" in r.error["message"] and "clip_timeout_s" in r.error["message"]


#: The unprivileged user the permission test runs as (nobody/nogroup on Debian).
NOBODY_ID = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY_ID}", f"--regid={NOBODY_ID}", "--clear-groups"]


def _closed_to_others(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that a user outside its owner and group cannot enter, or None."""
    path = path.resolve()
    for p in [*reversed(path.parents), path]:
        st = p.stat()
        if p.is_dir() and st.st_uid != NOBODY_ID and not st.st_mode & stat.S_IXOTH:
            return p
    return None


def _why_nobody_cannot_run_byteme(env: dict, cwd: Path) -> str | None:
    """Why the user 'nobody' cannot run this clone's BYTEME with this Python (a clone under /root or a private
    mktemp -d folder), or None when it can."""
    for needed in (cwd, Path(sys.prefix), Path(sys.executable).parent):
        closed = _closed_to_others(needed)
        if closed is not None:
            return f"{closed} (on the way to {needed}) cannot be entered by other users"
    probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import engine.cli"], capture_output=True, text=True,
                           env=env, cwd=cwd, timeout=300)
    if probe.returncode != 0:
        return f"`import engine.cli` fails as nobody: {probe.stderr.strip()[-200:]}"
    return None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to switch to nobody")
def test_unreadable_permissions_as_a_normal_user(hostile_folder):
    # pytest's own temp root is private to root, so the user 'nobody' works in a world-readable temp folder.
    tmp_path = Path(tempfile.mkdtemp(prefix="byteme-perm-"))
    folder = tmp_path / "perm"
    folder.mkdir()
    secret = folder / "secret.mp4"
    shutil.copy(hostile_folder / "00_good.mp4", secret)
    secret.chmod(0o000)
    shutil.copy(hostile_folder / "00_good.mp4", folder / "open.mp4")
    (folder / "open.mp4").chmod(0o644)
    data = tmp_path / "data"
    data.mkdir()
    for p in (tmp_path, folder, data):
        p.chmod(0o777)
    # Every folder the run may touch is one nobody owns (the test's private home is root's).
    env = dict(os.environ, BYTEME_DATA_DIR=str(data), HOME=str(data), NUMBA_CACHE_DIR=str(data / "numba"),
               XDG_DATA_HOME=str(data / "share"), XDG_CONFIG_HOME=str(data / "config"),
               XDG_CACHE_HOME=str(data / "cache"), BYTEME_CONFIG=str(data / "no-config.toml"))
    repo = Path(__file__).resolve().parents[2]
    why = _why_nobody_cannot_run_byteme(env, repo)
    if why:
        shutil.rmtree(tmp_path, ignore_errors=True)
        pytest.skip(f"the user nobody cannot run BYTEME from this clone: {why}")
    proc = subprocess.run(
        [*AS_NOBODY, sys.executable, "-m", "engine.cli", "score", str(folder), "--json", "--no-ocr"],
        capture_output=True, text=True, env=env, cwd=repo, timeout=300,
    )
    rows = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert proc.returncode == 1, proc.stderr
    assert rows["secret.mp4"]["error"]["kind"] == "permission_denied"
    assert "permission denied" in rows["secret.mp4"]["error"]["message"]
    assert rows["open.mp4"]["status"] == "ok"
    shutil.rmtree(tmp_path, ignore_errors=True)
