"""What the command line prints for people: the table sized to the terminal, progress on stderr (stdout stays
JSON), `byteme config` with the source of every value, and the help texts."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cli
from engine.cli.progress import CLEAR_LINE, RunProgress
from engine.cli.table import TableLayout, print_table_header, print_table_row, shown_path
from engine.config import CHOSEN_PRESET_SOURCE, ENVIRONMENT_KEYS, load_config, value_sources
from engine.config import SHIPPED_SOURCE as SHIPPED

ROOT = Path(__file__).resolve().parents[2]
#: The top fix of the issue's report: the table cut it inside "1080x1920".
LONG_FIX = ("Resolution is 540x960 against 1080x1920 for this platform; film or export at 1080x1920 so the picture "
            "is not upscaled and softened by the app.")


def _row(path="clips/a.mp4", fix=LONG_FIX, category="gameplay_screen", status="ok"):
    return {"path": path, "status": status, "error_kind": None if status == "ok" else "unreadable",
            "error_message": None if status == "ok" else "The file is not a video FFmpeg can read: " + LONG_FIX,
            "overall": 61.4, "visual": 48.0, "audio": 80.2, "text": None, "tier": "silver", "category": category,
            "top_finding": fix}


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_table_fits_the_terminal_and_never_cuts_a_word(columns):
    names = ["clips/a.mp4", "other/a.mp4"]
    layout = TableLayout(columns, names)
    out = io.StringIO()
    print_table_header(out, layout)
    print_table_row(_row(), out, layout)
    print_table_row(_row("other/a.mp4", status="error"), out, layout)
    lines = out.getvalue().splitlines()
    assert all(len(ln) <= columns for ln in lines), [ln for ln in lines if len(ln) > columns]
    error_at = next(i for i, ln in enumerate(lines) if ln.startswith("other/a.mp4"))
    header, first = lines[0], lines[1]
    fix = ([first[layout.fix_column:]] if not layout.fix_below else []) + lines[2:error_at]
    assert " ".join(part.strip() for part in fix) == LONG_FIX  # every word whole, in order, nothing lost
    assert all(part.startswith(" " * layout.fix_column) for part in lines[2:error_at])  # a hanging indent
    cat_at = header.index("category")
    assert (first + " ")[cat_at:cat_at + len("gameplay_screen") + 1] == "gameplay_screen "  # fits its column
    error = " ".join(ln.strip() for ln in lines[error_at:])
    assert "1080x1920 for this platform" in error and error.startswith("other/a.mp4")
    if columns >= 100:  # the top fix beside the scores, its continuation lines under its own column
        assert "top fix" in header and first[layout.fix_column:].startswith("Resolution is")
    else:  # too narrow: the whole top fix on indented lines below the row
        assert "top fix" not in header and lines[2].startswith("    Resolution is")


def test_a_long_clip_name_keeps_its_file_name_and_gives_way_to_the_fix():
    from engine.cli.table import PREFERRED_FIX_WIDTH

    long_name = "d" * 60 + "/clip.mp4"
    layout = TableLayout(120, [long_name])
    assert layout.clip(long_name).endswith("/clip.mp4") and len(layout.clip(long_name)) == layout.clip_width
    assert layout.fix_width >= PREFERRED_FIX_WIDTH - 1 and layout.fix_column + layout.fix_width < 120
    assert TableLayout(200, ["d" * 30 + "/clip.mp4"]).clip_width == 39  # room enough: the whole name


def test_shown_path_is_relative_to_the_current_folder(tmp_path):
    assert shown_path(str(tmp_path / "a" / "x.mp4"), cwd=str(tmp_path)) == os.path.join("a", "x.mp4")
    elsewhere = shown_path(str(tmp_path / "b" / "x.mp4"), cwd=str(tmp_path / "a"))
    assert elsewhere.endswith(os.path.join("b", "x.mp4")) and elsewhere != "x.mp4"
    assert shown_path("/tmp/\x1b[31mred.mp4", cwd="/") == "tmp/\\x1b[31mred.mp4"


@pytest.fixture()
def two_folders(good_clip, tmp_path, monkeypatch):
    """One clip under the same file name in two folders, scored into a fresh store; the current folder is their
    parent."""
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        shutil.copy(good_clip, tmp_path / name / "same.mp4")
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BYTEME_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_results_names_each_clip_by_its_folder(two_folders, capsys, monkeypatch):
    assert cli.main(["score", "one", "two", "--no-ocr", "--model", "none", "--quiet"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "120")
    assert cli.main(["results"]) == 0
    out = capsys.readouterr().out
    rows = [ln.split()[0] for ln in out.splitlines()[1:] if ln and not ln.startswith(" ")]
    assert rows == [os.path.join("one", "same.mp4"), os.path.join("two", "same.mp4")], out


def test_piped_score_keeps_stdout_json_and_reports_each_clip_on_stderr(two_folders):
    """A real pipe (not a terminal): stdout parses as JSON Lines, stderr has one plain line per finished clip."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "engine.cli", "score", "one", "two", "--json", "--no-ocr",
                          "--model", "none"], cwd=two_folders, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    objs = [json.loads(line) for line in run.stdout.splitlines()]
    assert [Path(o["path"]).parent.name for o in objs] == ["one", "two"]
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("byteme: [")]
    assert len(lines) == 2, run.stderr
    assert lines[0].startswith("byteme: [1/2] one/same.mp4: overall ") and lines[1].startswith("byteme: [2/2] two/")
    assert "\x1b" not in run.stderr and "\r" not in run.stderr  # no bar codes on a pipe
    quiet = subprocess.run([sys.executable, "-m", "engine.cli", "score", "one", "--json", "--model", "none",
                            "--no-ocr", "--quiet"], cwd=two_folders, env=env, capture_output=True, text=True,
                           timeout=600)
    assert quiet.returncode == 0 and quiet.stderr == "" and json.loads(quiet.stdout)["status"] == "ok"


class _Result:
    def __init__(self, path, ok=True):
        self.path, self.ok, self.cached, self.elapsed_s = path, ok, False, 2.0
        self.error = None if ok else {"kind": "unreadable", "message": "not a video"}
        self.scores = type("S", (), {"overall": 72.4, "tier": "gold"})() if ok else None


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_on_a_terminal_counts_clips_and_estimates_the_rest():
    clock, term = _Clock(), _Terminal()
    p = RunProgress(4, term, clock=clock, columns=100)  # not started: no redraw thread, draws are explicit
    assert p.interactive and p.eta_s() is None
    p.starting("clips/\x1b[2Jwipe.mp4")
    clock.t += 10
    p.clip_progress(type("P", (), {"stage": "audio", "fraction": 0.5})())
    p.draw()
    bar = term.getvalue().split(CLEAR_LINE)[-1]
    assert "0/4 clips" in bar and "0:10 elapsed" in bar and "(audio)" in bar and "\x1b[2J" not in bar
    assert "ETA 1:10" in bar  # 10 s for half a clip: 3.5 clips left at 20 s each
    stdout = []
    p.finished(_Result("clips/a.mp4"), write=lambda: stdout.append(term.getvalue()))
    assert stdout[0].endswith(CLEAR_LINE)  # the bar was cleared before the row was written
    clock.t += 10  # 20 s for 1 clip: 3 left, 60 s
    p.finished(_Result("clips/b.mp4", ok=False))
    p.draw()
    bar = term.getvalue().split(CLEAR_LINE)[-1]
    assert "2/4 clips, 1 failed" in bar and "ETA 0:20" in bar and bar.startswith("[" + "#" * 12 + "." * 12 + "]")
    assert len(bar) < 100
    p.close()
    assert term.getvalue().endswith(CLEAR_LINE)


def test_plain_lines_off_a_terminal():
    out = io.StringIO()
    p = RunProgress(2, out, clock=_Clock())
    assert not p.interactive
    p.finished(_Result("a.mp4"))
    p.finished(_Result("b.mp4", ok=False))
    assert out.getvalue().splitlines() == ["byteme: [1/2] a.mp4: overall 72, gold (2.0 s)",
                                           "byteme: [2/2] b.mp4: error (unreadable): not a video"]


# -- byteme config -------------------------------------------------------------------------------------------

@pytest.fixture()
def user_files(tmp_path, monkeypatch):
    user = tmp_path / "user.toml"
    user.write_text('[scoring]\nmodel = "mine"\n[tiers]\ngold = 72\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('[tiers]\nsilver = 50\n[targets."audio.loudness_lufs"]\ngood_low = -15.0\n')
    monkeypatch.setenv("BYTEME_CONFIG", str(user))
    for var in ENVIRONMENT_KEYS.values():
        monkeypatch.delenv(var, raising=False)
    return user, extra


def test_value_sources_name_the_layer_each_value_came_from(user_files, monkeypatch):
    user, extra = user_files
    src = value_sources(None, None)
    assert src["scoring.model"] == f"your file {user}" and src["tiers.gold"] == f"your file {user}"
    assert src["tiers.silver"] == SHIPPED and src["platform.preset"] == SHIPPED
    src = value_sources(extra, "reels", environ={"BYTEME_TIKTOK_CLIENT_SECRET": "s3cret"})
    assert src["scoring.model"] == SHIPPED  # --config replaces the user file, as load_config does
    assert src["tiers.silver"] == f"--config {extra}" and src["targets.audio.loudness_lufs.good_low"] == f"--config {extra}"
    assert src["platform.preset"] == CHOSEN_PRESET_SOURCE
    assert "rewards.program" not in src  # a preset's own tables stay under [presets.NAME]
    assert src["tiktok.client_secret"] == "environment BYTEME_TIKTOK_CLIENT_SECRET"
    cfg = load_config(extra, preset="reels")
    assert cfg["platform"]["preset"] == "reels" and "rewards" not in cfg


def test_environment_names_match_the_tiktok_sign_in():
    from engine.tiktok import auth

    assert ENVIRONMENT_KEYS == {("tiktok", "client_key"): auth.CLIENT_KEY_ENV,
                                ("tiktok", "client_secret"): auth.CLIENT_SECRET_ENV}


def test_config_command_prints_sources_grouped_and_keeps_secrets(user_files, capsys, monkeypatch):
    user, extra = user_files
    monkeypatch.setenv("BYTEME_TIKTOK_CLIENT_SECRET", "do-not-print-me")
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "do-not-print-me" not in out
    lines = out.splitlines()
    assert any(ln.split() == ["model", "user", "file", '"mine"'] for ln in lines), out[:2000]
    assert any(ln.split() == ["silver", "shipped", "55"] for ln in lines)
    assert any(ln.split()[:2] == ["client_secret", "environment"] and "(set; hidden)" in ln for ln in lines)
    assert "[scoring]" in lines and '[targets."audio.loudness_lufs"]' in lines
    assert str(user) in out and all(len(ln) <= 100 for ln in lines)
    assert "[presets.reels]" not in lines and "Other presets (not in use): reels, shorts" in out
    assert cli.main(["config", "--config", str(extra), "--preset", "reels", "tiers", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"] == {"tiers": {"platinum": 85, "gold": 70, "silver": 50, "bronze": 40}}
    assert doc["sources"]["tiers.silver"] == f"--config {extra}" and doc["sources"]["tiers.gold"] == SHIPPED
    assert cli.main(["config", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["tiktok"]["client_secret"] == "(set; hidden)" and "do-not-print-me" not in json.dumps(doc)
    assert cli.main(["config", "no.such.key"]) == 2


# -- help ----------------------------------------------------------------------------------------------------

def _help(*argv) -> str:
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])


def test_help_texts(capsys):
    _help()
    top = capsys.readouterr().out
    assert "byteme DIR" in top and "serve" in top
    for argv, wanted in ((["results"], ["--json", "one JSON object per clip"]),
                         (["demo"], ["folder", "where to write"]),
                         (["eval"], ["--no-ocr", "--target", "like_rate", "skip on-screen text"])):
        _help(*argv)
        text = capsys.readouterr().out
        for w in wanted:
            assert w in text, (argv, w)
        section = text.split("options:")[-1]
        for flag in ("--json", "--no-ocr", "--target"):  # each flag of the command has a help line
            if flag in section:
                assert section.split(flag, 1)[1].split("\n", 1)[0].strip() or \
                    section.split(flag, 1)[1].split("\n")[1].strip(), (argv, flag)
    for argv in ([], ["score"], ["report"], ["results"], ["config"]):
        _help(*argv)
        text = capsys.readouterr().out
        assert "DESIGN.md" not in text and "http" not in text, argv
    readme = (ROOT / "README.md").read_text()
    assert "DESIGN.md" not in readme and "/work/shared" not in readme
