"""Training: the synthetic corpus recipe, the in-memory extractor adapter, training on a small labelled set, and
`byteme train` / `byteme eval` end to end on clips with .info.json engagement sidecars."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine import synth
from engine.config import load_config
from engine.train import corpus as C
from engine.train.fit import Labels, as_scorer, correlations, model_modalities, train_model
from engine.model import CATEGORIES, build_net, FeatureEncoder


# --- the target function and the recipes -------------------------------------------------------------------
def test_target_is_the_documented_product_of_flaw_factors():
    flaws = {"blur": 0.5, "noise": 1.0, "quiet": 0.25}
    # visual: 100 * (1 - 0.7 * 0.5) * (1 - 0.5 * 1.0) = 32.5; audio: 100 * (1 - 0.6 * 0.25) = 85; text clean
    assert C.target_quality(flaws, "visual") == pytest.approx(32.5)
    assert C.target_quality(flaws, "audio") == pytest.approx(85.0)
    assert C.target_quality(flaws, "text") == pytest.approx(100.0)


def test_recipes_are_seeded_and_split_by_source():
    a, b = C.make_recipes(120, 7), C.make_recipes(120, 7)
    assert [(r.source, r.flaws, r.category) for r in a] == [(r.source, r.flaws, r.category) for r in b]
    train = {r.source for r in a if r.split == "train"}
    held = {r.source for r in a if r.split == "heldout"}
    assert train and held and not (train & held)
    assert {r.category for r in a} == set(CATEGORIES)
    for r in a:
        if not r.has_audio:
            assert math.isnan(r.targets()[1]) and not any(C.FLAWS[f].modality == "audio" for f in r.flaws)


# --- the adapter: in-memory frames through the real extractors -----------------------------------------------
def _scene(t):
    return synth.textured_scene(width=360, height=640, t_s=t, seed=5)


def test_adapter_matches_the_decoded_clip(tmp_path):
    """The same picture and sound, once encoded and decoded by the pipeline and once fed from memory, give
    nearly the same features (the difference is the codec's loss)."""
    from engine.pipeline import extract_features
    from engine.train.adapter import extract_arrays

    dur, fps, sr = 1.0, 30, 48000
    audio = synth.scale_to_lufs(synth.speech_like(duration_s=dur, sr=sr, seed=2), sr=sr, lufs=-16.0).astype(np.float32)
    path = synth.write_clip(tmp_path / "a.mp4", width=360, height=640, fps=fps, duration_s=dur,
                            video=lambda i, t: _scene(t), audio=audio, bitrate=4_000_000)
    cfg = load_config(None)
    _, decoded = extract_features(path, cfg, options={"ocr": False})
    frames = ((i / fps, _scene(i / fps)) for i in range(int(dur * fps)))
    mem = extract_arrays(frames, audio, width=360, height=640, fps=fps, duration_s=dur, config=cfg, options={"ocr": False})
    for key, tol in (("visual.brightness", 2.0), ("visual.contrast", 2.0), ("visual.sharpness", 0.08),
                     ("audio.loudness_lufs", 0.7)):
        assert mem.values[key] == pytest.approx(decoded.values[key], abs=tol), key


def test_corpus_flaws_move_the_real_features():
    cfg = load_config(None)
    base = C.make_recipes(6, 3)[4]  # a scenic clip
    assert base.category == "scenic_broll"
    clean = C.Recipe(0, base.seed, "train", base.category, base.source, {})
    blurred = C.Recipe(0, base.seed, "train", base.category, base.source, {"blur": 1.0, "quiet": 1.0})
    a = C.clip_features(clean, cfg, {"ocr": False})
    b = C.clip_features(blurred, cfg, {"ocr": False})
    assert b["visual.sharpness"] < a["visual.sharpness"] - 0.2
    # quiet at full severity lowers the level by 24 dB from -14 LUFS
    assert b["audio.loudness_lufs"] == pytest.approx(a["audio.loudness_lufs"] - 24.0, abs=1.0)


# --- training on a small generated labelled set --------------------------------------------------------------
KEYS = ["audio.level_db", "text.words", "visual.detail_a", "visual.detail_b", "visual.junk"]


def _labelled(n, seed):
    rng = np.random.default_rng(seed)
    rows, targets = [], []
    for _ in range(n):
        a, b, lvl = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(-40, -10)
        rows.append({"visual.detail_a": a, "visual.detail_b": b, "visual.junk": rng.normal(),
                     "audio.level_db": lvl, "text.words": float(rng.integers(0, 30))})
        vis = 100 * (1 - 0.7 * (1 - a)) * (1 - 0.5 * b ** 2)  # known, nonlinear
        aud = 100 * (1 - abs(lvl + 14) / 30)
        targets.append([vis + rng.normal(0, 2), aud, np.nan])
    return rows, np.array(targets)


def test_training_on_a_small_labelled_set_improves_held_out_correlation():
    cfg = load_config(None)
    rows, y = _labelled(240, 1)
    test_rows, test_y = _labelled(120, 2)
    labels = Labels(y, np.full(len(rows), np.nan), np.full(len(rows), -1), list(range(len(rows))))
    net, enc, hist = train_model(rows, labels, cfg, keys=KEYS, seed=0, max_epochs=400)
    trained = correlations(model_modalities(as_scorer(net, enc, CATEGORIES), test_rows)[:, 0], test_y[:, 0])
    untrained_enc = FeatureEncoder.fit(rows, KEYS)
    import torch

    torch.manual_seed(0)
    untrained = as_scorer(build_net(untrained_enc.n_inputs, len(CATEGORIES)), untrained_enc, CATEGORIES)
    before = correlations(model_modalities(untrained, test_rows)[:, 0], test_y[:, 0])
    assert trained["srcc"] > 0.9
    assert trained["srcc"] > abs(before["srcc"]) + 0.3


# --- byteme train / eval end to end on clips with engagement sidecars ----------------------------------------
N_CLIPS, UPLOADERS = 12, 6


@pytest.fixture(scope="module")
def engagement_folder(tmp_path_factory):
    """Twelve 1 s clips from six uploaders; sharper clips get more likes per view (a known, monotone rule)."""
    folder = tmp_path_factory.mktemp("engaged")
    sr = 48000
    for i in range(N_CLIPS):
        sigma = 0.0 if i % 3 == 0 else 1.5 * (i % 4) + 0.5 * (i % 3)
        audio = synth.scale_to_lufs(synth.speech_like(duration_s=1.0, sr=sr, seed=i), sr=sr, lufs=-14.0 - 2 * (i % 5))
        synth.write_clip(folder / f"c{i:02d}.mp4", width=180, height=320, fps=15, duration_s=1.0,
                         video=lambda k, t, s=sigma, i=i: synth.gaussian_blur(
                             synth.textured_scene(width=180, height=320, t_s=t, seed=i), sigma_px=s),
                         audio=audio.astype(np.float32))
        views = 1000 * (i + 1)
        info = {"id": f"v{i}", "uploader": f"user{i % UPLOADERS}", "view_count": views,
                "like_count": int(views * 0.1 / (1.0 + sigma)), "comment_count": i}
        (folder / f"c{i:02d}.info.json").write_text(json.dumps(info), encoding="utf-8")
    return folder


def test_byteme_train_on_clips_with_info_json_end_to_end(engagement_folder, tmp_path, monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    store = str(tmp_path / "store.sqlite3")
    rc = main(["train", str(engagement_folder), "--target", "like_rate", "--name", "mine", "--no-ocr",
               "--store", store, "--from", "none"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "Held-out correlation with like_rate" in out.out and "config-weighted score" in out.out
    assert "split by uploader" in out.out
    model_file = tmp_path / "data" / "models" / "mine.safetensors"
    assert model_file.is_file() and model_file.with_suffix(".json").is_file()
    meta = json.loads(model_file.with_suffix(".json").read_text())
    assert meta["info"]["test_clips"] >= 3 and meta["info"]["train_clips"] >= 4

    # Features came through the store: a second run decodes nothing.
    rc = main(["eval", str(engagement_folder), "--target", "like_rate", "--model", "mine", "--no-ocr", "--store", store])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "analysed" not in out.err and out.err.count("cached") == N_CLIPS
    assert "mine@user-1+" in out.out

    # --model NAME selects it in score, and its name@version goes into the result.
    rc = main(["score", str(engagement_folder / "c00.mp4"), "--json", "--model", "mine", "--no-ocr", "--store", store])
    out = capsys.readouterr()
    assert rc == 0, out.err
    result = json.loads(out.out.splitlines()[0])
    assert result["engine"]["model"] == meta["name"] + "@" + meta["version"]
    assert result["category"] in CATEGORIES


def test_csv_labels_are_read_and_scaled(tmp_path):
    from engine.train.labels import read_csv_labels

    (tmp_path / "labels.csv").write_text("path,score,category\na.mp4,1,talking_head\nb.mp4,5,\nc.mp4,3,other\n",
                                         encoding="utf-8")
    ls = read_csv_labels(tmp_path / "labels.csv")
    assert [p.name for p in ls.paths] == ["a.mp4", "b.mp4", "c.mp4"]
    assert list(ls.overall) == pytest.approx([0.0, 100.0, 50.0])  # 1-5 stars mapped linearly onto 0-100
    assert list(ls.category) == [CATEGORIES.index("talking_head"), -1, CATEGORIES.index("other")]


def test_too_few_labels_is_a_plain_error(tmp_path, capsys):
    from engine.cli import main

    (tmp_path / "labels.csv").write_text("path,score\na.mp4,50\n", encoding="utf-8")
    rc = main(["train", str(tmp_path / "labels.csv"), "--store", str(tmp_path / "s.sqlite3")])
    assert rc == 1 and "needs at least" in capsys.readouterr().err


@pytest.mark.parametrize("share", [0.1, 0.2, 0.25, 0.5, 0.75])
def test_the_minimum_number_of_clips_always_splits(share):
    """min_clips(share) clips, one per uploader, always give 3 held-out and 4 training clips (every seed); one
    fewer never does. The count and the split use the same rounding."""
    from engine.train.fit import group_split
    from engine.train.labels import MIN_TEST_CLIPS, MIN_TRAIN_CLIPS, min_clips

    n = min_clips(share)
    for seed in range(20):
        train, test = group_split([f"clip:{i}" for i in range(n)], share, seed)
        assert len(test) >= MIN_TEST_CLIPS and len(train) >= MIN_TRAIN_CLIPS
        train, test = group_split([f"clip:{i}" for i in range(n - 1)], share, seed)
        assert len(test) < MIN_TEST_CLIPS or len(train) < MIN_TRAIN_CLIPS


def _clips_without_uploader(src, dest, n: int):
    """``n`` of the engagement clips, each its own group (no uploader in the sidecar)."""
    dest.mkdir()
    for i in range(n):
        (dest / f"c{i:02d}.mp4").symlink_to(src / f"c{i:02d}.mp4")
        info = json.loads((src / f"c{i:02d}.info.json").read_text())
        info.pop("uploader")
        (dest / f"c{i:02d}.info.json").write_text(json.dumps(info))
    return dest


def test_the_documented_minimum_trains_and_one_fewer_says_how_many(engagement_folder, tmp_path, capsys):
    from engine.cli import main
    from engine.train.labels import MIN_CLIPS

    assert MIN_CLIPS == 11  # 0.25 of 11 rounds to 3 held out, 8 to train; 10 holds out only round(2.5) = 2
    few = _clips_without_uploader(engagement_folder, tmp_path / "few", MIN_CLIPS - 1)
    rc = main(["train", str(few), "--no-ocr", "--store", str(tmp_path / "s.sqlite3"), "--from", "none"])
    err = capsys.readouterr().err
    assert rc == 1 and f"{MIN_CLIPS - 1} labelled clip(s) found; training needs at least {MIN_CLIPS}" in err
    enough = _clips_without_uploader(engagement_folder, tmp_path / "enough", MIN_CLIPS)
    rc = main(["train", str(enough), "--no-ocr", "--store", str(tmp_path / "s.sqlite3"), "--from", "none",
               "--name", "minimum"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "3 test clips, split by clip" in out.out


@pytest.mark.parametrize("flag,value", [("--name", "../../../escape"), ("--name", "a/b"), ("--name", ".hidden"),
                                        ("--name", ""), ("--name", "x" * 101), ("--name", "caf\u00e9"),
                                        ("--test-share", "nan"), ("--test-share", "0"), ("--test-share", "1"),
                                        ("--test-share", "-0.5"), ("--test-share", "inf"), ("--test-share", "half")])
def test_bad_train_flags_are_usage_errors(flag, value, tmp_path, capsys):
    from engine.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", str(tmp_path), flag, value, "--store", str(tmp_path / "s.sqlite3")])
    assert exc.value.code == 2 and flag in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.safetensors"))


def test_plain_model_names_are_accepted():
    from engine.cli.train import model_name_arg

    for name in ("mine", "my-model_2.v3", "A1"):
        assert model_name_arg(name) == name


def test_a_400_digit_view_count_is_no_count(tmp_path, engagement_folder):
    from engine.sidecars import read_engagement
    from engine.train.labels import engagement_value, read_folder_labels

    side = tmp_path / "big.info.json"
    side.write_text('{"view_count": 1' + "0" * 400 + ', "like_count": 5, "comment_count": 1}')
    e = read_engagement(side)
    for target in ("like_rate", "comment_rate", "engagement_rate", "log_views"):
        assert math.isnan(engagement_value(e, target))
    assert math.isnan(engagement_value({"view_count": 10, "like_count": 10**400}, "like_rate"))
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(2):
        (folder / f"c{i}.mp4").symlink_to(engagement_folder / f"c{i:02d}.mp4")
    (folder / "c0.info.json").write_text(side.read_text())
    (folder / "c1.info.json").write_text('{"view_count": 100, "like_count": 5}')
    ls = read_folder_labels(folder, "like_rate")
    assert [p.name for p in ls.paths] == ["c1.mp4"]


def test_corpus_build_is_cached_and_a_bigger_build_reuses_it(tmp_path):
    cfg = load_config(None)
    logs = []
    a = C.build_corpus(2, 11, config=cfg, cache_dir=tmp_path, workers=1, options={"ocr": False}, log=logs.append)
    b = C.build_corpus(3, 11, config=cfg, cache_dir=tmp_path, workers=1, options={"ocr": False}, log=logs.append)
    assert "2 of 3 clips from the cache" in " ".join(logs) and "(1 rendered" in logs[-1]
    np.testing.assert_array_equal(a.values, b.values[:2])
    c = C.build_corpus(3, 11, config=cfg, cache_dir=tmp_path, workers=1, options={"ocr": False}, log=logs.append)
    assert "(0 rendered" in logs[-1]
    np.testing.assert_array_equal(b.values, c.values)
    assert list(c.targets[:, 0]) == [C.target_quality(r.flaws, "visual") for r in C.make_recipes(3, 11)]
