"""Configuration: the shipped defaults (``engine/config.toml``), then the user's file, then the platform preset.

``load_config()`` returns a plain dict. Every value a score or finding uses comes from here, and
``value_sources()`` tells, for ``byteme config`` and the settings screen, where each value came from.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
from pathlib import Path

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG_PATH = Path(__file__).with_name("config.toml")
TARGET_KINDS = ("min", "max", "range")
_NEEDED = {"min": ("good", "bad"), "max": ("good", "bad"), "range": ("good_low", "good_high", "bad_low", "bad_high")}


def user_config_path() -> Path:
    env = os.environ.get("BYTEME_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("byteme")) / "config.toml"


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}.") from None


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _line_of(path: Path | None, key: str) -> str:
    """' (line N)' for the first line of ``path`` that mentions ``key``; '' when not found."""
    if path is None:
        return ""
    try:
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if key in line:
                return f", line {i}"
    except OSError:
        pass
    return ""


def validate(cfg: dict, origin: Path | None = None) -> None:
    """Raise ConfigError naming the file, line and key of the first value that cannot be used."""
    where = str(origin) if origin else "the configuration"

    def fail(key: str, what: str, line_key: str | None = None):
        raise ConfigError(f"{where}{_line_of(origin, line_key or key.split('.')[-1])}: key '{key}' {what}.")

    targets = cfg.get("targets", {})
    if not isinstance(targets, dict):
        fail("targets", "must be a table")
    for metric, t in targets.items():
        if not isinstance(t, dict):
            fail(f"targets.{metric}", "must be a table", metric)
        kind = t.get("kind")
        if kind not in TARGET_KINDS:
            fail(f"targets.{metric}.kind", f"must be one of {', '.join(TARGET_KINDS)} (got {kind!r})", "kind")
        for k in _NEEDED[kind]:
            if not isinstance(t.get(k), (int, float)) or isinstance(t.get(k), bool):
                fail(f"targets.{metric}.{k}", f"must be a number (got {t.get(k)!r})", k)
        if not isinstance(t.get("weight", 1.0), (int, float)) or t.get("weight", 1.0) < 0:
            fail(f"targets.{metric}.weight", "must be a number >= 0", "weight")
    weights = cfg.get("scoring", {}).get("weights", {})
    for m, w in weights.items():
        if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
            fail(f"scoring.weights.{m}", f"must be a number >= 0 (got {w!r})", m)
    for tier, v in cfg.get("tiers", {}).items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 100:
            fail(f"tiers.{tier}", f"must be a number from 0 to 100 (got {v!r})", tier)
    preset = cfg.get("platform", {}).get("preset")
    if preset is not None and preset not in cfg.get("presets", {}):
        fail("platform.preset", f"names an unknown preset {preset!r} (known: {', '.join(cfg.get('presets', {}))})", "preset")
    for key in ("analysis_short_side_px", "audio_rate_hz", "max_analysis_s", "clip_timeout_s"):
        v = cfg.get("engine", {}).get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0):
            fail(f"engine.{key}", f"must be a positive number (got {v!r})", key)


def load_config(path: str | os.PathLike | None = None, *, preset: str | None = None, use_user_file: bool = True) -> dict:
    """Defaults, then the user config file (if present), then ``path`` (if given), then the preset applied."""
    cfg = read_toml(DEFAULT_CONFIG_PATH)
    sources = [str(DEFAULT_CONFIG_PATH)]
    layers: list[Path] = []
    if use_user_file and path is None:
        up = user_config_path()
        try:
            present = up.is_file()
        except OSError:  # a folder on the way cannot be read: read_toml says so in plain words
            present = True
        if present:
            layers.append(up)
    if path is not None:
        layers.append(Path(path))
    for layer in layers:
        data = read_toml(layer)
        validate(deep_merge(cfg, data), layer)
        cfg = deep_merge(cfg, data)
        sources.append(str(layer))
    if preset is not None:
        cfg.setdefault("platform", {})["preset"] = preset
    validate(cfg, layers[-1] if layers else DEFAULT_CONFIG_PATH)
    name = cfg.get("platform", {}).get("preset")
    overrides = {k: v for k, v in cfg.get("presets", {}).get(name, {}).items() if isinstance(v, dict)}
    if overrides:
        cfg = deep_merge(cfg, overrides)
        validate(cfg)
    cfg["_sources"] = sources
    return cfg


def preset(cfg: dict) -> dict:
    """The active platform preset's table (label, target sizes, rules)."""
    return cfg.get("presets", {}).get(cfg.get("platform", {}).get("preset", ""), {})


#: Config sections that never affect a score: left out of ``config_hash`` (signing in to TikTok must not rescore).
UNSCORED_SECTIONS = ("tiktok",)
#: (section, key) of values that are secrets: ``redacted`` hides them wherever the config is shown.
SECRET_KEYS = (("tiktok", "client_secret"),)
REDACTED = "(set; hidden)"


def redacted(cfg: dict) -> dict:
    """A copy of ``cfg`` with every secret (``SECRET_KEYS``) replaced by ``REDACTED``, for ``byteme config`` and
    the settings screen."""
    out = dict(cfg)
    for section, key in SECRET_KEYS:
        if isinstance(out.get(section), dict) and out[section].get(key):
            out[section] = {**out[section], key: REDACTED}
    return out


def config_hash(cfg: dict) -> str:
    """A short hash of everything that affects scores (not where the values came from)."""
    clean = {k: v for k, v in cfg.items() if not k.startswith("_") and k not in UNSCORED_SECTIONS}
    return hashlib.blake2b(json.dumps(clean, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


#: Values the environment sets over every file: (section, key) -> variable (engine/tiktok/auth.py reads them).
ENVIRONMENT_KEYS = {("tiktok", "client_key"): "BYTEME_TIKTOK_CLIENT_KEY",
                    ("tiktok", "client_secret"): "BYTEME_TIKTOK_CLIENT_SECRET"}
#: The source label of a value nobody overrode.
SHIPPED = "shipped config.toml"


def flatten(d: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``: every leaf of a config under its dotted key (a metric's own dots
    stay: ``targets.audio.loudness_lufs.good_low``)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def with_environment(cfg: dict, environ=None) -> dict:
    """``cfg`` with the values the environment sets (``ENVIRONMENT_KEYS``), as the commands that read them see it."""
    environ = os.environ if environ is None else environ
    out = dict(cfg)
    for (section, key), var in ENVIRONMENT_KEYS.items():
        if environ.get(var):
            out[section] = {**(out.get(section) if isinstance(out.get(section), dict) else {}), key: environ[var]}
    return out


def value_sources(config_path: str | os.PathLike | None = None, preset: str | None = None, *,
                  use_user_file: bool = True, environ=None) -> dict[str, str]:
    """Where each value of ``load_config(config_path, preset=preset)`` comes from: dotted key (as ``flatten``)
    -> label, the last layer that sets a key winning, in ``load_config``'s order: ``"shipped config.toml"``,
    ``"user file PATH"``, ``"--config PATH"``, ``"--preset"`` (platform.preset given on the command line),
    ``"preset NAME"`` (the active preset's overrides), then ``"environment VAR"`` (``with_environment``).
    Files are read again here; call it after ``load_config`` has validated them."""
    environ = os.environ if environ is None else environ
    layers = [(SHIPPED, DEFAULT_CONFIG_PATH)]
    if use_user_file and config_path is None:
        up = user_config_path()
        if up.is_file():
            layers.append((f"user file {up}", up))
    if config_path is not None:
        layers.append((f"--config {config_path}", Path(config_path)))
    merged: dict = {}
    origin: dict[str, str] = {}
    for label, path in layers:
        data = read_toml(path)
        merged = deep_merge(merged, data)
        origin.update(dict.fromkeys(flatten(data), label))
    if preset is not None:
        merged.setdefault("platform", {})["preset"] = preset
        origin["platform.preset"] = "--preset"
    name = merged.get("platform", {}).get("preset")
    overrides = {k: v for k, v in merged.get("presets", {}).get(name, {}).items() if isinstance(v, dict)}
    origin.update(dict.fromkeys(flatten(overrides), f"preset {name}"))
    for (section, key), var in ENVIRONMENT_KEYS.items():
        if environ.get(var):
            origin[f"{section}.{key}"] = f"environment {var}"
    return origin
