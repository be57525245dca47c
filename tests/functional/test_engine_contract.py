"""The `byteme score` contract end to end: JSON shape, rotation, VFR, codecs, errors, the store's cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import cli, media, pipeline, library
from engine.config import load_config

CONTRACT_KEYS = {"path", "status", "error", "media", "scores", "tier", "category", "metrics", "feedback", "engine"}
MEDIA_KEYS = {"duration_s", "width", "height", "fps", "has_audio", "codec"}
#: Added to ``media`` since (issue 16): what the header claims against what decoded.
MEDIA_EXTRA_KEYS = {"header_duration_s", "decoded_s", "truncated"}
FINDING_KEYS = {"modality", "severity", "code", "message", "value", "target", "start_s", "end_s"}


@pytest.fixture()
def store_env(tmp_path, monkeypatch):
    """Each test gets its own store."""
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BYTEME_STORE", raising=False)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def mixed_folder(tmp_path_factory, good_clip, rotated_clip, vfr_clip, hevc10_mov, vp9_webm, audio_only_m4a):
    """The folder of the issue: good, rotated, VFR, HEVC 10-bit .mov, VP9/Opus .webm, audio-only .m4a,
    an empty file and random bytes named .mp4."""
    folder = tmp_path_factory.mktemp("mixed")
    for name, src in [("a_good.mp4", good_clip), ("b_rotated.mp4", rotated_clip), ("c_vfr.mp4", vfr_clip),
                      ("d_hevc10.mov", hevc10_mov), ("e_vp9.webm", vp9_webm), ("f_audio.m4a", audio_only_m4a)]:
        os.link(src, folder / name) if os.stat(src).st_dev == os.stat(folder).st_dev else (folder / name).write_bytes(src.read_bytes())
    (folder / "g_empty.mp4").write_bytes(b"")
    (folder / "h_random.mp4").write_bytes(np.random.default_rng(0).bytes(4096))  # seeded: noise can parse as a container
    sub = folder / "nested"
    sub.mkdir()
    (sub / "notes.txt").write_text("not a clip")
    return folder


def run_cli(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_score_folder_json_contract(mixed_folder, store_env, capsys):
    code, out, err = run_cli(["score", str(mixed_folder), "--json", "--no-ocr"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    by_name = {Path(r["path"]).name: r for r in lines}
    assert sorted(by_name) == ["a_good.mp4", "b_rotated.mp4", "c_vfr.mp4", "d_hevc10.mov", "e_vp9.webm",
                               "f_audio.m4a", "g_empty.mp4", "h_random.mp4"]
    assert code == 1, "a run with unreadable files exits 1"
    for r in lines:
        assert set(r) >= CONTRACT_KEYS
        assert r["engine"]["version"]
    for name in ("a_good.mp4", "b_rotated.mp4", "c_vfr.mp4", "d_hevc10.mov", "e_vp9.webm", "f_audio.m4a"):
        r = by_name[name]
        assert r["status"] == "ok", (name, r["error"])
        assert r["error"] is None
        assert set(r["media"]) == MEDIA_KEYS | MEDIA_EXTRA_KEYS
        assert r["media"]["truncated"] is False
        assert isinstance(r["media"]["duration_s"], float) and r["media"]["duration_s"] > 0.7
        for key, value in r["scores"].items():
            assert value is None or (isinstance(value, float) and 0 <= value <= 100), (name, key, value)
        assert r["scores"]["overall"] is not None
        assert isinstance(r["tier"], str) and isinstance(r["category"], str)
        assert all(isinstance(k, str) and (v is None or isinstance(v, float)) for k, v in r["metrics"].items())
        for f in r["feedback"]:
            assert set(f) >= FINDING_KEYS
            assert f["severity"] in ("high", "medium", "low", "info")
            assert f["message"]
    assert by_name["a_good.mp4"]["media"] | {"fps": 30.0} == by_name["a_good.mp4"]["media"]
    assert (by_name["b_rotated.mp4"]["media"]["width"], by_name["b_rotated.mp4"]["media"]["height"]) == (360, 640)
    assert by_name["d_hevc10.mov"]["media"]["codec"] == "hevc"
    assert by_name["e_vp9.webm"]["media"]["codec"] == "vp9"
    audio_only = by_name["f_audio.m4a"]
    assert audio_only["scores"]["visual"] is None and audio_only["scores"]["audio"] is not None
    assert any(f["code"] == "visual.not_scored" for f in audio_only["feedback"])
    assert by_name["g_empty.mp4"]["status"] == "error"
    assert by_name["g_empty.mp4"]["error"] == {"kind": "empty_file", "message": "g_empty.mp4 is empty (0 bytes)."}
    assert by_name["h_random.mp4"]["error"]["kind"] == "unreadable"
    assert "Traceback" not in err


def test_second_run_answers_from_store_without_decoding(mixed_folder, store_env, capsys, monkeypatch):
    code1, out1, _ = run_cli(["score", str(mixed_folder / "a_good.mp4"), "--json", "--no-ocr", "--model", "none"], capsys)

    def no_decode(*a, **k):
        raise AssertionError("decoded a clip the store already knows")

    monkeypatch.setattr(pipeline, "decode", no_decode)
    monkeypatch.setattr(pipeline, "probe", no_decode)
    code2, out2, _ = run_cli(["score", str(mixed_folder / "a_good.mp4"), "--json", "--no-ocr", "--model", "none"], capsys)
    assert code1 == code2 == 0
    assert json.loads(out1)["scores"] == json.loads(out2)["scores"]
    # A config change rescores from the stored features, still without decoding (config targets: --model none).
    strict = store_env.parent / "strict.toml"
    strict.write_text('[targets."audio.loudness_lufs"]\nkind = "range"\ngood_low = -9.0\ngood_high = -8.0\n'
                      'bad_low = -12.0\nbad_high = -6.0\n')
    code3, out3, _ = run_cli(["score", str(mixed_folder / "a_good.mp4"), "--json", "--no-ocr", "--model", "none", "--config", str(strict)], capsys)
    assert code3 == 0
    assert json.loads(out3)["scores"]["audio"] < json.loads(out1)["scores"]["audio"]
    # Features cached without OCR never serve a run that wants on-screen text: it decodes.
    code5, out5, _ = run_cli(["score", str(mixed_folder / "a_good.mp4"), "--json"], capsys)
    assert code5 == 1 and json.loads(out5)["error"]["kind"] == "internal"
    # --no-cache decodes again.
    code4, out4, _ = run_cli(["score", str(mixed_folder / "a_good.mp4"), "--json", "--no-cache"], capsys)
    assert code4 == 1 and json.loads(out4)["error"]["kind"] == "internal"  # it really tried to decode


def test_results_command_lists_the_store(mixed_folder, store_env, capsys):
    run_cli(["score", str(mixed_folder / "a_good.mp4"), "--no-ocr"], capsys)
    code, out, _ = run_cli(["results", "--json"], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 1 and rows[0]["path"].endswith("a_good.mp4")
    code, out, _ = run_cli(["results"], capsys)
    assert "a_good.mp4" in out


def test_table_and_csv(mixed_folder, store_env, capsys, tmp_path):
    csv_path = tmp_path / "out.csv"
    code, out, _ = run_cli(["score", str(mixed_folder / "a_good.mp4"), str(mixed_folder / "g_empty.mp4"),
                            "--csv", str(csv_path), "--no-ocr"], capsys)
    assert code == 1
    assert "a_good.mp4" in out and "empty_file" in out
    import csv

    rows = list(csv.DictReader(csv_path.open()))
    assert [r["status"] for r in rows] == ["ok", "error"]
    assert float(rows[0]["overall"]) > 0


def test_usage_and_config_errors_exit_2(tmp_path, store_env, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["score"])
    assert exc.value.code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[scoring]\nweights = { visual = 0.5 }\n[tiers]\ngold = 'high'\n")
    code, _, err = run_cli(["score", str(tmp_path), "--config", str(bad)], capsys)
    assert code == 2
    assert str(bad) in err and "line 4" in err and "tiers.gold" in err
    broken = tmp_path / "broken.toml"
    broken.write_text("[engine\nx = 1\n")
    code, _, err = run_cli(["score", str(tmp_path), "--config", str(broken)], capsys)
    assert code == 2 and str(broken) in err and "line 1" in err


def test_probe_reads_rotation_vfr_and_bit_depth(rotated_clip, vfr_clip, hevc10_mov, good_clip):
    info = media.probe(rotated_clip)
    assert (info.stored_width, info.stored_height) == (640, 360)
    assert (info.width, info.height) == (360, 640) and info.orientation == "portrait"
    assert media.probe(hevc10_mov).bit_depth == 10
    assert media.probe(good_clip).bit_depth == 8
    frames = []
    stats, audio = media.decode(rotated_clip, info, on_frame=lambda f: frames.append(f.gray.shape))
    assert frames[0] == (640, 360), "analysis frames are in displayed orientation"
    assert audio is not None and audio.samples.dtype.name == "float32" and audio.sample_rate_hz == 48000
    vinfo = media.probe(vfr_clip)
    vstats, _ = media.decode(vfr_clip, vinfo)
    assert vstats.is_vfr()
    gstats, _ = media.decode(good_clip, media.probe(good_clip))
    assert not gstats.is_vfr() and gstats.frames == 60


def test_analysis_size_never_upscales():
    assert media.analysis_size(1080, 1920) == (360, 640)
    assert media.analysis_size(1920, 1080) == (640, 360)
    assert media.analysis_size(240, 426) == (240, 426)


def test_iter_clips_walks_folders_and_skips_partials(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4.part").write_bytes(b"x")
    (tmp_path / "c.txt").write_text("caption")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "e.webm").write_bytes(b"x")
    (tmp_path / "d" / "loop").symlink_to(tmp_path)
    (tmp_path / "folder.mp4").mkdir()  # a folder is never a clip, whatever its name: it is walked
    (tmp_path / "folder.mp4" / "f.mov").write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in media.iter_clips([tmp_path])]
    assert found == ["a.mp4", "d/e.webm", "folder.mp4/f.mov"]


def test_engine_never_imports_textual():
    code = (
        "import sys, pkgutil, importlib, engine, engine.extractors\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "engine.extractors.load_all()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'byteme_tui')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_scores_follow_the_input(clips, store_env):
    """Same clip, louder and quieter: the audio score must move with the measured loudness."""
    cfg = load_config(use_user_file=False)
    normal = library.analyze(clips("lufs14", audio_lufs=-14.0), cfg, options={"ocr": False})
    quiet = library.analyze(clips("lufs35", audio_lufs=-35.0), cfg, options={"ocr": False})
    assert normal.ok and quiet.ok
    assert abs(normal.features.values["audio.loudness_lufs"] - -14.0) < 1.0
    assert abs(quiet.features.values["audio.loudness_lufs"] - -35.0) < 1.0
    assert quiet.scores.modalities["audio"] < normal.scores.modalities["audio"]
    top_audio = next(f for f in quiet.findings if f.modality == "audio")
    assert top_audio.code == "audio.too_quiet" and top_audio.target is not None


def test_byteme_with_a_folder_opens_the_app_on_it(tmp_path, monkeypatch):
    """`byteme DIR` is `byteme tui DIR`; a command's name wins over a folder of that name in the current folder."""
    opened = []

    def fake_tui(folder, args):
        opened.append(Path(folder))
        return 0

    (tmp_path / "clips").mkdir()
    (tmp_path / "results").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    assert cli.main([str(tmp_path / "clips")], tui=fake_tui) == 0
    assert cli.main(["clips"], tui=fake_tui) == 0
    assert opened == [tmp_path / "clips", Path("clips")]
    assert cli.main(["results", "--json"], tui=fake_tui) in (0, 1)  # the command ran, not the app
    assert len(opened) == 2
    with pytest.raises(SystemExit):
        cli.main(["no-such-folder"], tui=fake_tui)  # neither a command nor a path: argparse's usage error
