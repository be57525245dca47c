"""Where each config value comes from (``explain_sources``), typed values (``parse_value``) and saving one value
into the user's file (``save_user_setting``): the Settings screen's engine side."""
from __future__ import annotations

import tomllib

import pytest

from engine.config_schema import PRESET_OVERRIDES
from engine.config import (CHOSEN_PRESET_SOURCE, SHIPPED_SOURCE, explain_sources, leaf_paths, load_config,
                           parse_value, save_user_setting)
from engine.errors import ConfigError


@pytest.fixture
def user_file(tmp_path, monkeypatch):
    f = tmp_path / "conf" / "config.toml"
    f.parent.mkdir()
    monkeypatch.setenv("BYTEME_CONFIG", str(f))
    return f


def test_every_value_has_its_true_source(user_file, tmp_path):
    user_file.write_text("[tiers]\ngold = 72\n")
    extra = tmp_path / "extra.toml"
    extra.write_text("[tiers]\nsilver = 50\n")
    cfg = load_config(preset="reels")
    origins = explain_sources(preset="reels")
    shown = leaf_paths({k: v for k, v in cfg.items() if not k.startswith("_")})
    assert set(shown) <= set(origins)  # every value has a source
    assert origins[("tiers", "gold")] == f"your file {user_file}"
    assert origins[("tiers", "platinum")] == SHIPPED_SOURCE
    assert origins[("platform", "preset")] == CHOSEN_PRESET_SOURCE
    # the active preset's tables replace the values above them, and say so
    # (only the tables a preset may override: reels overrides none, so nothing is said to come from it)
    reels = {k for k, v in origins.items() if v == "preset 'reels'"}
    assert all(k[0] in PRESET_OVERRIDES for k in reels)
    assert origins[("presets", "reels", "rewards", "program")] == SHIPPED_SOURCE
    # without a preset given, the config's own preset: its tables are the preset's, platform.preset is shipped
    plain = explain_sources()
    assert plain[("platform", "preset")] == SHIPPED_SOURCE
    assert ("rewards", "program") not in plain  # a preset's rewards stay under [presets.NAME.rewards]
    # --config replaces the user file (it is not read then)
    with_config = explain_sources(extra)
    assert with_config[("tiers", "silver")] == f"--config {extra}"
    assert with_config[("tiers", "gold")] == SHIPPED_SOURCE


@pytest.mark.parametrize("text, old, want", [
    ("0.7", 0.6, 0.7), ("3", 0.6, 3.0), ("72", 70, 72), ("true", False, True), ('"hello"', "x", "hello"),
    ("plain words", "x", "plain words"), ("[1, 2]", [0], [1, 2]), (" 5 ", 4, 5),
])
def test_parse_value_takes_toml_and_plain_text(text, old, want):
    got = parse_value(text, old)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("text, old, words", [
    ("yes please", 0.6, "takes a number"), ('"0.7"', 0.6, "takes a number"), ("1", True, "takes true or false"),
    ("true", 3, "takes a number"), ("7", "text", "takes text"),
])
def test_parse_value_refuses_the_wrong_type_in_words(text, old, words):
    with pytest.raises(ConfigError, match=words):
        parse_value(text, old)


def test_save_keeps_other_keys_writes_valid_toml_and_refuses_bad_values(user_file):
    user_file.write_text("# my settings\n[tiers]\ngold = 72\n\n[scoring.weights]\nvisual = 0.5\n")
    path, backup = save_user_setting(("targets", "visual.sharpness", "good"), 0.7)
    assert path == user_file and backup == user_file.with_name("config.toml.bak")
    assert backup.read_text().startswith("# my settings")  # the comments are kept beside it
    saved = tomllib.loads(user_file.read_text())
    assert saved == {"tiers": {"gold": 72}, "scoring": {"weights": {"visual": 0.5}},
                     "targets": {"visual.sharpness": {"good": 0.7}}}
    cfg = load_config()
    assert cfg["targets"]["visual.sharpness"]["good"] == 0.7 and cfg["tiers"]["gold"] == 72
    assert cfg["targets"]["visual.sharpness"]["bad"] == load_config(use_user_file=False)["targets"][
        "visual.sharpness"]["bad"]  # the rest of the table still comes from the shipped defaults
    assert explain_sources()[("targets", "visual.sharpness", "good")] == f"your file {user_file}"
    before = user_file.read_text()
    with pytest.raises(ConfigError, match=r"tiers\.gold' must be a number from 0 to 100"):
        save_user_setting(("tiers", "gold"), 200)
    with pytest.raises(ConfigError, match="unknown preset 'vine'"):
        save_user_setting(("platform", "preset"), "vine")
    assert user_file.read_text() == before  # nothing written
    # a new file (and its folder) is made; no backup without an old file
    fresh = user_file.parent / "sub" / "new.toml"
    assert save_user_setting(("tiers", "bronze"), 35, fresh) == (fresh, None)
    assert tomllib.loads(fresh.read_text()) == {"tiers": {"bronze": 35}}
