"""The config schema (engine/config_schema.py) and its checks (engine/config.py): every bad value is a plain
ConfigError naming the file, the line and the key; exit 2 from the CLI; engine settings key the feature cache."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import random
import tomllib

import pytest

from engine import cli, library
from engine.config import DEFAULT_CONFIG_PATH, feature_settings_hash, load_config
from engine.config_schema import SCHEMA, MapOf, Table
from engine.errors import ConfigError
from engine.features import FeatureVector
from engine.scorer import score
from engine.services import metric_names
from engine.store import Store


def load(path=None, **kw) -> dict:
    """The configuration as a run loads it (target names checked against the registered metrics), without the
    user's file."""
    return load_config(path, use_user_file=False, metric_names=metric_names, **kw)


def run_config(capsys, *args) -> tuple[int, str]:
    code = cli.main(["config", *args])
    out, err = capsys.readouterr()
    return code, err


# (file text, line the message must name, words it must hold)
BAD = [
    ("scoring = 5\n", 1, ["[scoring]", "must be a table", "not 5"]),
    ('tiers = "x"\n', 1, ["[tiers]", "must be a table"]),
    ("engine = [1, 2]\n", 1, ["[engine]", "must be a table", "array"]),
    ("[scoring.weights]\nvisual = inf\n", 2, ["scoring.weights.visual", "finite", "inf"]),
    ("[scoring]\nweights = { visual = nan }\n", 2, ["scoring.weights.visual", "finite", "nan"]),
    ('[targets."visual.sharpness"]\ngood = nan\n', 2, ['targets."visual.sharpness".good', "finite"]),
    ("[engine]\naudio_rate_hz = 1e12\n", 2, ["engine.audio_rate_hz", "from 8000 to 192000"]),
    ("[engine]\naudio_rate_hz = 1000000000000\n", 2, ["engine.audio_rate_hz", "from 8000 to 192000"]),
    ("[engine]\nanalysis_short_side_px = 0.5\n", 2, ["engine.analysis_short_side_px", "whole number from 64 to 2160"]),
    ("[engine]\nclip_timeout_s = nan\n", 2, ["engine.clip_timeout_s", "finite", "above 0"]),
    ("[engine]\nclip_timeout_s = 0\n", 2, ["engine.clip_timeout_s", "above 0"]),
    ("[engine]\nclip_timout_s = 5\n", 2, ["engine.clip_timout_s", "did you mean 'clip_timeout_s'"]),
    ("[tierz]\ngold = 50\n", 1, ["unknown section [tierz]", "did you mean [tiers]"]),
    ('[targets."visual.sharpnes"]\nkind = "min"\ngood = 1\nbad = 0\n', 1,
     ["visual.sharpnes", "no metric", "did you mean 'visual.sharpness'"]),
    ('[targets."visual.sharpness"]\nkind = "range"\n', 1, ["visual.sharpness", "needs 'good_low'"]),
    ('[targets."visual.sharpness"]\ngood = 0.1\n', 2, ["visual.sharpness", "good (0.1) must not be below bad"]),
    ("[tiers]\ngold = 'high'\n", 2, ["tiers.gold", "from 0 to 100"]),
    ("[tiers]\ngold = 1" + "0" * 400 + "\n", 2, ["tiers.gold", "401 digits"]),
    ("[tiers]\ngold = 1" + "0" * 5000 + "\n", None, ["not usable TOML", "4300 digits"]),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", None, ["cannot be read", "recursion"]),
    ("[tiers]\n\ngold = = 1\n", None, ["not valid TOML", "line 3"]),
    ("[hook]\nwindow_s = 1979-05-27T07:32:00Z\n", 2, ["hook.window_s", "date/time"]),
    ('[platform]\npreset = "tiktoc"\n', 2, ["platform.preset", "did you mean 'tiktok'"]),
    ("[scoring]\nquality = 'modle'\n", 2, ["scoring.quality", "'targets', 'model'"]),
    ("[scoring.weights]\nvisual = 0\naudio = 0\ntext = 0\n", 1, ["scoring.weights", "at least one weight above 0"]),
    ("[presets.tiktok.rewards.rules.x]\nlabel = 'a'\n", 1, ["presets.tiktok.rewards.rules.x", "needs check"]),
    ("[presets.tiktok.rewards.rules.x]\ncheck = 'aspect'\nwidth = 9\n", 1, ["rules.x", "needs 'height'"]),
    ('[presets.reels.targets."visual.fps"]\ngood = "a"\n', 2, ['presets.reels.targets."visual.fps".good']),
    ("[retention]\nmedium_at = 0.9\n", 2, ["retention.medium_at", "must not be above"]),
    ("[retention.weights]\nfrozen = 2\n", 2, ["retention.weights.frozen", "from 0 to 1"]),
    ("[text]\nocr_threads = true\n", 2, ["text.ocr_threads", "whole number", "True"]),
]


@pytest.mark.parametrize("text,line,words", BAD, ids=[b[0].splitlines()[-1][:30] for b in BAD])
def test_bad_values_name_file_line_and_key_and_exit_2(text, line, words, tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load(path)
    message = exc.value.message
    assert str(path) in message and (line is None or f"line {line}:" in message), message
    for w in words:
        assert w in message, (w, message)
    code, err = run_config(capsys, "--config", str(path))
    assert code == 2 and err.startswith("byteme: ") and err.count("\n") == 1 and "Traceback" not in err


def test_the_users_file_is_checked_too(tmp_path, monkeypatch):
    user = tmp_path / "user.toml"
    user.write_text("[engine]\nmax_analysis_s = -1\n")
    monkeypatch.setenv("BYTEME_CONFIG", str(user))
    with pytest.raises(ConfigError, match=r"user\.toml, line 2: 'engine.max_analysis_s'"):
        load_config(metric_names=metric_names)


def test_a_bad_preset_flag_is_a_bad_flag(capsys):
    code, err = run_config(capsys, "--preset", "reeels")
    assert code == 2
    assert "--preset 'reeels'" in err and "did you mean 'reels'" in err and "config.toml" not in err
    assert load(preset="shorts")["platform"]["preset"] == "shorts"


def test_a_pipe_or_folder_as_config_is_refused_without_waiting(tmp_path, capsys):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # nobody writes: opening it for reading would wait forever
    code, err = run_config(capsys, "--config", str(fifo))
    assert code == 2 and "not a regular file" in err
    code, err = run_config(capsys, "--config", str(tmp_path))
    assert code == 2 and "not a regular file" in err


def test_a_preset_override_applies_and_is_checked(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[presets.reels.targets."visual.fps"]\ngood = 30.0\n[presets.reels.engine]\nmax_analysis_s = 60\n')
    cfg = load(path, preset="reels")
    assert cfg["targets"]["visual.fps"]["good"] == 30.0 and cfg["engine"]["max_analysis_s"] == 60
    assert "rewards" not in cfg  # a preset's rewards table stays with the preset
    assert load(path, preset="tiktok")["targets"]["visual.fps"]["good"] == 23.5
    path.write_text('[presets.reels.targets."visual.fps"]\ngood = 1.0\n')  # below bad (12) once merged
    with pytest.raises(ConfigError, match=r"p\.toml, line 2: .*visual\.fps.*must not be below bad"):
        load(path, preset="reels")


def _leaf_paths(spec, keys=()):
    """Every declared key of the fixed tables (map entries excluded)."""
    if isinstance(spec, Table):
        for k, sub in spec.fields.items():
            yield from _leaf_paths(sub, keys + (k,))
    elif not isinstance(spec, MapOf):
        yield keys


def test_schema_and_shipped_defaults_agree():
    shipped = tomllib.loads(DEFAULT_CONFIG_PATH.read_text())
    load()  # every shipped key is declared, typed and in range
    missing = []
    for keys in _leaf_paths(SCHEMA):
        node = shipped
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        if node is None:
            missing.append(".".join(keys))
    assert not missing, f"declared in engine/config_schema.py but without a default in config.toml: {missing}"


def test_engine_settings_key_the_feature_cache(good_clip, tmp_path):
    """A changed analysis setting re-analyses (no --no-cache needed); the same settings reuse the features; a
    target change does not touch the features' key."""
    base = load()
    other = tmp_path / "rate.toml"
    other.write_text("[engine]\naudio_rate_hz = 16000\n")
    changed = load(other)
    strict = tmp_path / "strict.toml"
    strict.write_text('[targets."visual.fps"]\ngood = 50.0\n')
    assert feature_settings_hash(base) != feature_settings_hash(changed)
    assert feature_settings_hash(base) == feature_settings_hash(load(strict))
    assert feature_settings_hash(base) != feature_settings_hash(load(preset="reels"))
    store = Store(tmp_path / "s.sqlite3")
    try:
        first = library.analyze(good_clip, base, store=store, options={"ocr": False})
        again = library.analyze(good_clip, base, store=store, options={"ocr": False})
        fresh = library.analyze(good_clip, changed, store=store, options={"ocr": False})
    finally:
        store.close()
    assert first.ok and again.ok and fresh.ok
    assert not first.cached and again.cached and not fresh.cached


# -- fuzz: random TOML values of every type at every key --------------------------------------------------------

def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _random_value(rng: random.Random, depth: int = 0) -> str:
    kind = rng.choice(["str", "int", "bigint", "float", "special", "bool", "array", "table", "datetime", "date",
                       "time"] if depth < 2 else ["str", "int", "float", "bool"])
    if kind == "str":
        return json.dumps("".join(rng.choice("abc xyz-_.\\\"\u00e9\u202e\x1b") for _ in range(rng.randint(0, 12))))
    if kind == "int":
        return str(rng.choice([0, 1, -1, 3, 360, 48000, 2**31, -(2**63), 2**63 - 1, rng.randint(-10**6, 10**6)]))
    if kind == "bigint":  # beyond int64, beyond float, beyond Python's 4300-digit int() limit
        return "1" + "0" * rng.choice([rng.randint(19, 400), 5000])
    if kind == "float":
        return repr(rng.choice([0.0, -0.0, 0.5, 1e-300, 1e308, -1e308, 5e-324, rng.uniform(-1e3, 1e3)]))
    if kind == "special":
        return rng.choice(["nan", "inf", "-inf", "+nan", "+inf"])
    if kind == "bool":
        return rng.choice(["true", "false"])
    if kind == "array":
        return "[" + ", ".join(_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    if kind == "table":
        return "{ " + ", ".join(f"{k} = {_random_value(rng, depth + 1)}"
                                for k in rng.sample(["a", "kind", "good", "visual", "label"], rng.randint(0, 3))) + " }"
    return {"datetime": "1979-05-27T07:32:00Z", "date": "1979-05-27", "time": "07:32:00"}[kind]


def _fuzz_paths() -> list[tuple]:
    """Every fixed key and section, plus entries of the free tables under realistic and odd names."""
    paths = [keys for keys in _leaf_paths(SCHEMA)]
    paths += [(section,) for section in SCHEMA.fields]
    shipped = tomllib.loads(DEFAULT_CONFIG_PATH.read_text())
    for metric in list(shipped["targets"])[:6] + ["visual.nope"]:
        for k in ("kind", "good", "bad", "good_low", "bad_high", "weight", "code", "advice", "target", "weight2"):
            paths.append(("targets", metric, k))
        paths.append(("targets", metric))
    paths += [("tiers", "gold"), ("tiers", "diamond"), ("presets", "tiktok"), ("presets", "mine", "label")]
    for k in ("label", "target_width", "unsafe_top_pct", "rewards", "nope"):
        paths.append(("presets", "reels", k))
    for k in ("check", "value", "width", "height", "tolerance", "required", "strict", "label"):
        paths.append(("presets", "tiktok", "rewards", "rules", "vertical", k))
        paths.append(("presets", "shorts", "rewards", "rules", "new_rule", k))
    paths += [("presets", "tiktok", "rewards", "rank_points"), ("presets", "reels", "hook", "window_s"),
              ("presets", "shorts", "engine", "audio_rate_hz"), ("nonsense",), ("engine", "nonsense")]
    return paths


#: Cases of the fuzz test: a few hundred (seeded) keep it to seconds and reach every key with several types.
FUZZ_CASES = 400
FUZZ_SEED = 20


def test_fuzz_every_key_with_every_toml_type(tmp_path):
    rng = random.Random(FUZZ_SEED)
    paths = _fuzz_paths()
    fv = FeatureVector()
    for key, value in {"visual.sharpness": 0.5, "visual.fps": 30.0, "audio.loudness_lufs": -14.0,
                       "visual.brightness": 120.0}.items():
        fv.set(key, value)
    outcomes = {"ok": 0, "refused": 0}
    path = tmp_path / "fuzz.toml"
    for case in range(FUZZ_CASES):
        keys = paths[case] if case < len(paths) else rng.choice(paths)
        value = _random_value(rng)
        if len(keys) == 1:
            text = f"{_toml_key(keys[0])} = {value}\n"
        else:
            text = f"[{'.'.join(_toml_key(k) for k in keys[:-1])}]\n{_toml_key(keys[-1])} = {value}\n"
        path.write_text(text, encoding="utf-8")
        try:
            tomllib.loads(text)
        except ValueError:  # TOMLDecodeError, or an integer of more than 4300 digits
            with pytest.raises(ConfigError, match="TOML"):  # the loader says so in plain words
                load(path)
            continue
        try:
            cfg = load(path)
        except ConfigError as exc:
            assert str(path) in exc.message, (text, exc.message)
            outcomes["refused"] += 1
            continue
        # Accepted: the values are usable, scores and JSON stay finite.
        scores = score(fv, cfg)
        json.dumps(dataclasses.asdict(scores), allow_nan=False)
        assert scores.overall is None or math.isfinite(scores.overall), text
        outcomes["ok"] += 1
    assert outcomes["refused"] > FUZZ_CASES // 3 and outcomes["ok"] > 10, outcomes


def test_datetime_values_are_refused_not_crashed(tmp_path):
    path = tmp_path / "d.toml"
    for value in (dt.datetime(2020, 1, 1), dt.date(2020, 1, 1), dt.time(7, 32)):
        path.write_text(f"[engine]\nmax_analysis_s = {value.isoformat()}\n")
        with pytest.raises(ConfigError, match="date/time"):
            load(path)
