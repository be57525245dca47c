"""Issue 20: bad names, bad stores, unwritable outputs and hostile text give a plain message and an honest exit
code; never a traceback, a hang, or a clip that silently disappears."""
from __future__ import annotations

import base64
import csv
import errno
import json
import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from engine import cli, media, library
from engine.errors import StoreError
from engine.store import Store


@pytest.fixture()
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("BYTEME_DATA_DIR", str(d))
    monkeypatch.delenv("BYTEME_STORE", raising=False)
    return d


# -- 1. a folder named like a clip -----------------------------------------------------------------------------

def test_folder_named_like_a_clip_is_walked_by_the_scan_and_the_queue(tmp_path, good_clip, data_dir, capsys):
    root = tmp_path / "r"
    (root / "x.mp4").mkdir(parents=True)
    shutil.copy(good_clip, root / "good.mp4")
    shutil.copy(good_clip, root / "x.mp4" / "inner.mp4")
    found = list(media.iter_clips([root]))
    assert found == [root / "good.mp4", root / "x.mp4" / "inner.mp4"]
    assert list(media.iter_clips(found)) == found  # what the job queue does with them
    code = cli.main(["score", str(root), "--workers", "1", "--executor", "thread", "--json", "--no-ocr"])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert sorted(Path(r["path"]).name for r in rows) == ["good.mp4", "inner.mp4"]
    assert all(r["status"] == "ok" for r in rows)


# -- 2. CSV and JSON with names that are not UTF-8, and cells a spreadsheet would run --------------------------

BAD_NAME = os.fsdecode(b"bad-\xff\xfe.mp4")
FORMULA_NAME = "=HYPERLINK(\"http-x\",\"y\").mp4"


@pytest.fixture()
def awkward_folder(tmp_path, good_clip) -> Path:
    folder = tmp_path / "awkward"
    folder.mkdir()
    for name in (BAD_NAME, FORMULA_NAME, "plain.mp4"):
        shutil.copy(good_clip, folder / name)
    return folder


def _read_csv(path: Path) -> list[dict]:
    text = path.read_bytes().decode("utf-8")  # strictly UTF-8: a spreadsheet opens it
    return list(csv.DictReader(text.splitlines()))


def test_score_csv_and_json_with_undecodable_and_formula_names(awkward_folder, tmp_path, data_dir, capsys,
                                                               monkeypatch):
    out_csv = tmp_path / "out.csv"
    monkeypatch.chdir(awkward_folder)  # relative paths: the formula name starts the path cell
    code = cli.main(["score", ".", "--no-ocr", "--json", "--csv", str(out_csv)])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert rows[BAD_NAME]["path_bytes"] is not None
    raw = base64.b64decode(rows[BAD_NAME]["path_bytes"])
    assert raw == b"bad-\xff\xfe.mp4" and os.path.exists(raw)  # a consumer can open the file
    assert rows["plain.mp4"]["path_bytes"] is None
    table = {r["path"]: r for r in _read_csv(out_csv)}
    assert set(table) == {"bad-\\xff\\xfe.mp4", "'" + FORMULA_NAME, "plain.mp4"}  # UTF-8 text; formula neutralised
    assert all(float(r["overall"]) > 0 for r in table.values())


def test_results_json_gives_the_same_path_bytes(awkward_folder, data_dir, capsys):
    assert cli.main(["score", str(awkward_folder / BAD_NAME), "--no-ocr", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert cli.main(["results", "--json"]) == 0
    [known] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert known["path_bytes"] == scored["path_bytes"] is not None
    assert known["path"] == scored["path"]


def test_csv_cells_neutralise_formulas_and_keep_numbers(tmp_path):
    from engine.cli.table import write_csv
    from engine.textsafe import csv_cell

    for text in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"x\")"):
        assert csv_cell(text) == "'" + text
    for number in (-14.3, -3, 0.0, 78.4):
        assert csv_cell(number) == number
    for text in ("-14.3", "-3", "+2.5", "-1e-3", "plain", "a=b", ""):
        assert csv_cell(text) == text
    assert csv_cell(None) == ""
    assert csv_cell(os.fsdecode(b"x\xff")) == "x\\xff"
    path = tmp_path / "t.csv"
    write_csv(path, [{"name": "=cmd()", "lufs": -14.3, "label": "-14.3", "note": "-x"}], columns=("name", "lufs", "label", "note"))
    [row] = _read_csv(path)
    assert row == {"name": "'=cmd()", "lufs": "-14.3", "label": "-14.3", "note": "'-x"}
    assert float(row["lufs"]) == -14.3


def test_report_csv_with_undecodable_and_formula_names(awkward_folder, tmp_path, data_dir, capsys):
    out = tmp_path / "r.csv"
    code = cli.main(["report", str(awkward_folder), "--format", "csv", "--out", str(out), "--no-ocr",
                     "--model", "none"])
    assert code == 0, capsys.readouterr().err
    rows = _read_csv(out)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
    assert any(r["path"].endswith("bad-\\xff\\xfe.mp4") for r in rows)
    assert all(float(r["overall"]) >= 0 for r in rows)


# -- 3. stores and outputs that cannot be used ------------------------------------------------------------------

def _plain_failure(code: int, err: str, *names: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("byteme: "), err
    for name in names:
        assert name in err, (name, err)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory, clips) -> Path:
    """A store that holds a real result (a few hundred KB), to damage."""
    from engine.config import load_config

    path = tmp_path_factory.mktemp("real_store") / "byteme.sqlite3"
    store = Store(path)
    r = library.analyze(clips("good"), load_config(use_user_file=False), store=store, options={"ocr": False})
    assert r.ok
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


def test_garbage_store_is_named_kept_and_reset_only_when_asked(tmp_path, data_dir, capsys):
    store = tmp_path / "garbage.sqlite3"
    garbage = random.Random(20).randbytes(8192)
    store.write_bytes(garbage)
    code = cli.main(["results", "--store", str(store)])
    _plain_failure(code, capsys.readouterr().err, str(store), "damaged", "--reset-store")
    assert store.read_bytes() == garbage  # nothing changed without the user's say
    code = cli.main(["results", "--store", str(store), "--reset-store"])
    out, err = capsys.readouterr()
    assert code == 0, err
    [aside] = tmp_path.glob("garbage.sqlite3.damaged-*[0-9]")
    assert aside.read_bytes() == garbage  # kept, never deleted
    assert str(aside) in err and "fresh store" in err
    assert "holds no results" in out
    sqlite3.connect(store).execute("SELECT count(*) FROM results").fetchone()  # a fresh, working store


def test_truncated_store_is_a_plain_error_and_reset_keeps_it(real_store, tmp_path, data_dir, capsys):
    damaged = tmp_path / "cut.sqlite3"
    data = real_store.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    code = cli.main(["results", "--json", "--store", str(damaged)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    # SQLite reads pages lazily: the cut shows when a missing page is read (or not at all for what is left)
    assert code == 0 or (code == 2 and str(damaged) in err and "--reset-store" in err), (code, err)
    code = cli.main(["results", "--store", str(damaged), "--reset-store"])
    out, err = capsys.readouterr()
    assert code == 0, err
    [aside] = tmp_path.glob("cut.sqlite3.damaged-*[0-9]")  # the page-by-page check found it damaged
    assert aside.read_bytes() == data[: len(data) // 2]


def test_store_that_is_a_folder(tmp_path, data_dir, capsys):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code = cli.main(["results", "--store", str(folder)])
    _plain_failure(code, capsys.readouterr().err, str(folder), "is a folder")


def test_read_only_data_dir(tmp_path, monkeypatch, capsys):
    """A data folder that cannot be made or written (root ignores permissions: the OS error is injected)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    monkeypatch.setenv("BYTEME_DATA_DIR", str(ro / "data"))
    monkeypatch.delenv("BYTEME_STORE", raising=False)
    real_mkdir = Path.mkdir

    def refusing_mkdir(self, *a, **kw):
        if str(self).startswith(str(ro)):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", refusing_mkdir)
    code = cli.main(["results"])
    _plain_failure(code, capsys.readouterr().err, str(ro / "data"), "Permission denied")


def test_read_only_store_file(tmp_path, data_dir, monkeypatch, capsys):
    store = tmp_path / "s.sqlite3"
    Store(store).close()

    def refusing_connect(*a, **kw):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr("engine.store.connect", refusing_connect)
    code = cli.main(["results", "--store", str(store)])
    _plain_failure(code, capsys.readouterr().err, str(store), "cannot be opened for writing")


def test_full_disk_with_workers(tmp_path, good_clip, data_dir, monkeypatch, capsys):
    from engine import store as store_module

    shutil.copy(good_clip, tmp_path / "a.mp4")

    def full_disk(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.Store, "put_features", full_disk)
    code = cli.main(["score", str(tmp_path / "a.mp4"), "--workers", "1", "--executor", "thread", "--json",
                     "--no-ocr", "--no-cache"])
    _plain_failure(code, capsys.readouterr().err, "No space left", str(data_dir / "byteme.sqlite3"))


def test_full_disk_in_process_stops_the_run_in_plain_words(tmp_path, good_clip, data_dir, monkeypatch, capsys):
    from engine import store as store_module

    def full_disk(*a, **kw):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store_module.Store, "put_features", full_disk)
    code = cli.main(["score", str(good_clip), str(good_clip), "--json", "--no-ocr", "--no-cache"])
    out, err = capsys.readouterr()
    _plain_failure(code, err, "No space left", str(data_dir / "byteme.sqlite3"))
    assert out == ""  # stopped at the first clip, not one "internal" error per clip


def test_unwritable_csv_fails_before_any_clip_is_scored(tmp_path, good_clip, data_dir, monkeypatch, capsys):
    monkeypatch.setattr(library, "analyze", lambda *a, **kw: pytest.fail("scored before the --csv check"))
    for target, words in ((tmp_path / "nowhere" / "x.csv", "does not exist"), (tmp_path, "is a folder")):
        code = cli.main(["score", str(good_clip), "--csv", str(target)])
        _plain_failure(code, capsys.readouterr().err, str(target), words)


def test_csv_write_error_after_scoring_is_plain(tmp_path, good_clip, data_dir, monkeypatch, capsys):
    import builtins

    target = tmp_path / "x.csv"
    real_open = builtins.open

    def failing_open(file, mode="r", *a, **kw):
        if str(file) == str(target) and "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *a, **kw)

    monkeypatch.setattr(builtins, "open", failing_open)
    code = cli.main(["score", str(good_clip), "--no-ocr", "--csv", str(target)])
    _plain_failure(code, capsys.readouterr().err, str(target), "No space left")


def test_report_out_that_cannot_be_used(tmp_path, good_clip, data_dir, monkeypatch, capsys):
    monkeypatch.setattr(library, "analyze", lambda *a, **kw: pytest.fail("scored before the --out check"))
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    cases = [("html", a_file, "is a file"), ("html", a_file / "sub", "is a file"), ("csv", tmp_path, "is a folder"),
             ("md", a_file / "r.md", "is a file, not a folder")]
    for fmt, out, words in cases:
        code = cli.main(["report", str(good_clip), "--format", fmt, "--out", str(out)])
        _plain_failure(code, capsys.readouterr().err, str(out), words)
    assert a_file.read_text() == "not a folder"


def test_tui_on_a_garbage_store_says_so_and_exits_non_zero(tmp_path, data_dir, capsys):
    pytest.importorskip("textual")
    from byteme_tui.app import run_app

    store = tmp_path / "garbage.sqlite3"
    store.write_bytes(b"\x00garbage" * 512)
    code = cli.main(["tui", str(tmp_path), "--store", str(store)], tui=run_app)
    _plain_failure(code, capsys.readouterr().err, str(store), "damaged")


#: Fuzz cases of the store opener: how many files of each kind (seeded, so a failure can be replayed).
FUZZ_CASES = 40
FUZZ_SEED = 20


def test_store_opener_fuzz_gives_only_plain_errors(real_store, tmp_path, data_dir, capsys):
    """Random bytes, truncations and overwritten bytes of a real store: Store() opens or raises StoreError, and
    `byteme results` then works or fails in plain words. No other exception, no hang."""
    rng = random.Random(FUZZ_SEED)
    data = real_store.read_bytes()
    page = 4096
    cases = []
    for i in range(FUZZ_CASES):
        cases.append(("random", rng.randbytes(rng.choice((0, 1, 99, 100, 512, page, 3 * page)))))
        cases.append(("truncated", data[: rng.randrange(0, len(data))]))
        cases.append(("page-cut", data[: page * rng.randrange(1, max(2, len(data) // page))]))
        mutated = bytearray(data)
        for _ in range(rng.choice((1, 8, 64))):
            at = rng.randrange(0, len(mutated))
            mutated[at] = rng.randrange(256)
        cases.append(("overwritten", bytes(mutated)))
        header = bytearray(data[:100])
        at = rng.randrange(16, 100)
        header[at] = rng.randrange(256)
        cases.append(("header", bytes(header) + data[100:]))
    outcomes = {"opened": 0, "refused": 0}
    for n, (kind, blob) in enumerate(cases):
        path = tmp_path / f"fuzz-{n}-{kind}.sqlite3"
        path.write_bytes(blob)
        try:
            Store(path).close()
            outcomes["opened"] += 1
        except StoreError as exc:
            outcomes["refused"] += 1
            assert str(path) in exc.message and "Traceback" not in exc.message
        code = cli.main(["results", "--json", "--store", str(path)])
        err = capsys.readouterr().err
        assert code in (0, 2), (kind, n, code, err)
        assert "Traceback" not in err, (kind, n, err)
        if code == 2:
            assert str(path) in err, (kind, n, err)
    assert outcomes["opened"] and outcomes["refused"], outcomes  # both paths were exercised


# -- 4. names of 250-255 bytes ---------------------------------------------------------------------------------

def test_names_at_the_length_limit_have_no_sidecar_and_score(tmp_path, good_clip, data_dir, capsys):
    from engine import sidecars

    folder = tmp_path / "long"
    folder.mkdir()
    for n_bytes in (250, 255):
        shutil.copy(good_clip, folder / ("n" * (n_bytes - 4) + ".mp4"))
    for clip in folder.iterdir():
        assert sidecars.read_info_json(clip) == (None, [])
        caption, problems = sidecars.read_caption_sidecar(clip)
        assert caption.text is None and problems == []
        assert sidecars.subtitle_sidecars(clip) == []
        assert sidecars.fingerprint(clip)
    code = cli.main(["score", str(folder), "--no-ocr", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows), rows


# -- 7. text from a model or a config in the CLI table -----------------------------------------------------------

def test_table_escapes_tier_and_category_names():
    import io

    from engine.cli.table import print_table_row

    out = io.StringIO()
    hostile = "\x1b]0;pwned\x07"
    print_table_row({"path": "/x/a.mp4", "status": "ok", "overall": 50.0, "visual": 50.0, "audio": 50.0,
                     "text": None, "tier": hostile, "category": hostile + "[bold]", "top_finding": hostile}, out)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert text.count("\\x1b]0;pwned\\x07") == 3


# -- 10. privacy: a shared report does not name clips of other folders -----------------------------------------

def test_report_names_other_folders_matches_only_when_asked(tmp_path, good_clip, data_dir, capsys):
    mine, theirs = tmp_path / "mine", tmp_path / "private-elsewhere"
    mine.mkdir()
    theirs.mkdir()
    for p in (mine / "a.mp4", mine / "sub" / "a-copy.mp4", theirs / "secret-copy.mp4"):
        p.parent.mkdir(exist_ok=True)
        shutil.copy(good_clip, p)
    # the store knows all three (the other folder was scored another day)
    assert cli.main(["score", str(theirs), "--no-ocr", "--model", "none"]) == 0
    capsys.readouterr()
    outs = {}
    for fmt in ("html", "md", "csv", "json"):
        out = tmp_path / f"rep-{fmt}"
        code = cli.main(["report", str(mine), "--format", fmt, "--out", str(out), "--no-ocr", "--model", "none"])
        assert code == 0, capsys.readouterr().err
        files = sorted(out.glob("*.html")) if fmt == "html" else [out]
        outs[fmt] = "\n".join(f.read_text() for f in files)
    for fmt, text in outs.items():
        assert str(theirs) not in text and "secret-copy" not in text, fmt
        assert "a clip in another folder" in text, fmt
        assert "a-copy.mp4" in text, fmt
    # inside the reported folder, relatively; never the absolute path of the match
    assert os.path.join("sub", "a-copy.mp4") in outs["json"]
    assert str(mine / "sub" / "a-copy.mp4") not in outs["json"].replace(f'"path": "{mine}/sub/a-copy.mp4"', "")
    out = tmp_path / "rep-shown.md"
    assert cli.main(["report", str(mine), "--format", "md", "--out", str(out), "--no-ocr", "--model", "none",
                     "--show-other-paths"]) == 0
    assert str(theirs / "secret-copy.mp4") in out.read_text()


# -- 11. process hygiene ---------------------------------------------------------------------------------------

#: Seconds a subprocess may take to reach the point a test waits for, or to end: a guard against a hang (the
#: test fails with a message), never a measure of speed.
HANG_GUARD_S = 300


def _wait_for_file(path: Path, proc) -> None:
    import time

    give_up = time.monotonic() + HANG_GUARD_S
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the process ended (status {proc.returncode}) before reaching the point: "
                        f"{proc.stderr.read()[-2000:]}")
        if time.monotonic() > give_up:
            proc.kill()
            pytest.fail("the process never reached the point")
        time.sleep(0.05)


def test_ctrl_c_during_ocr_exits_130_without_abort(clips, tmp_path, faults):
    import signal
    import subprocess
    import sys

    from engine.extractors.text import ocr as ocr

    if not ocr.rapidocr_available():
        pytest.skip("rapidocr-onnxruntime is not installed")
    clip = clips("sigint_ocr", duration_s=3.0, text=[(0.0, 3.0, "READ THIS LINE")])
    started = tmp_path / "ocr-started"
    faults(ocr_started_file=started)
    env = dict(os.environ, BYTEME_DATA_DIR=str(tmp_path / "data"))
    env.pop("BYTEME_STORE", None)
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "score", str(clip), "--no-cache"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[2],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_file(started, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "terminate called" not in err and "Traceback" not in err, err[-2000:]
    assert "interrupted" in err


def test_app_without_a_terminal_says_so_and_exits_2(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, BYTEME_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-m", "byteme_tui.launch", str(tmp_path)], capture_output=True,
                          stdin=subprocess.DEVNULL, env=env, cwd=Path(__file__).resolve().parents[2],
                          timeout=HANG_GUARD_S)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout == b""  # not one escape code
    assert b"needs a terminal" in proc.stderr and b"\x1b" not in proc.stderr


def test_app_terminal_check_names_what_is_missing(tmp_path, capsys):
    import io

    from byteme_tui.launch import run_tui

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert run_tui(tmp_path, None, stdin=Tty(), stdout=io.StringIO()) == 2
    assert "its output is not one" in capsys.readouterr().err
    assert run_tui(tmp_path, None, stdin=io.StringIO(), stdout=Tty()) == 2
    assert "its input is not one" in capsys.readouterr().err


def test_library_lists_broken_symlinks_and_probe_failures_with_their_error(tmp_path, good_clip, data_dir):
    from engine.service import LibraryService

    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy(good_clip, folder / "good.mp4")
    (folder / "dangling.mp4").symlink_to(folder / "gone.mp4")
    (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    (folder / "text.mp4").write_text("not a video\n" * 50)
    service = LibraryService(folder, store_path=tmp_path / "s.sqlite3", executor="thread", workers=1)
    try:
        rows = {r.name: r for r in service.open().rows.values()}
        assert set(rows) == {"good.mp4", "dangling.mp4", "loop.mp4", "text.mp4"}
        for name in ("dangling.mp4", "loop.mp4"):
            assert rows[name].status == "error" and rows[name].error.startswith("not_found: "), rows[name]
            assert name in rows[name].error
        while service.probe_missing(limit=25):
            pass
        rows = {r.name: r for r in service.poll().rows.values()}
        assert rows["text.mp4"].status == "error" and rows["text.mp4"].error.startswith("unreadable: "), rows
        assert rows["good.mp4"].status == "new" and rows["good.mp4"].duration_s > 0
        assert rows["dangling.mp4"].status == "error"  # still shown after a poll
    finally:
        service.shutdown(cancel_jobs=True)


def test_app_store_failing_after_start_exits_2_in_plain_words(tmp_path, capsys):
    """A store that opened but fails when the library is read (a damaged page): the app ends with status 2 and a
    plain message, not a Rich traceback with locals and status 0."""
    import asyncio

    pytest.importorskip("textual")
    from byteme_tui.app import BytemeApp
    from fake_backend import FakeBackend

    class DamagedBackend(FakeBackend):
        store_path = tmp_path / "damaged.sqlite3"

        def open(self):
            raise sqlite3.DatabaseError("database disk image is malformed")

    app = BytemeApp(DamagedBackend(), poll_interval_s=None)

    async def run():
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()

    asyncio.run(run())
    assert app.return_code == 2
    err = " ".join(capsys.readouterr().err.split())  # Rich wraps the message at the terminal width
    assert str(DamagedBackend.store_path) in err and "--reset-store" in err and "Traceback" not in err
