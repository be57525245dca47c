"""Configuration: the shipped defaults (``engine/config.toml``), then the user's file, then the platform preset.

``load_config()`` returns a plain dict. Every value a score or finding uses comes from here, and
``explain_sources()`` tells, for the settings screen, where each value came from (the shipped defaults, the
user's file, ``--config``, the active preset, or a preset chosen for this run). ``save_user_setting()`` writes one
value into the user's file, keeping the rest of it.
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


#: Where a value came from, as the settings screen and ``explain_sources`` word it.
SHIPPED_SOURCE = "shipped defaults"
CHOSEN_PRESET_SOURCE = "chosen for this run (--preset or Settings), not saved"


def leaf_paths(d: dict, prefix: tuple = ()) -> dict[tuple, object]:
    """Every leaf of a nested dict by its key path: ``{("targets", "visual.sharpness", "good"): 0.6, ...}``."""
    out: dict[tuple, object] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(leaf_paths(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


def _load(path, preset: str | None, use_user_file: bool) -> tuple[dict, dict[tuple, str]]:
    cfg = read_toml(DEFAULT_CONFIG_PATH)
    origins = dict.fromkeys(leaf_paths(cfg), SHIPPED_SOURCE)
    sources = [str(DEFAULT_CONFIG_PATH)]
    layers: list[tuple[Path, str]] = []
    if use_user_file and path is None:
        up = user_config_path()
        try:
            present = up.is_file()
        except OSError:  # a folder on the way cannot be read: read_toml says so in plain words
            present = True
        if present:
            layers.append((up, f"your file {up}"))
    if path is not None:
        layers.append((Path(path), f"--config {path}"))
    for layer, label in layers:
        data = read_toml(layer)
        validate(deep_merge(cfg, data), layer)
        cfg = deep_merge(cfg, data)
        origins.update(dict.fromkeys(leaf_paths(data), label))
        sources.append(str(layer))
    if preset is not None:
        cfg.setdefault("platform", {})["preset"] = preset
        origins[("platform", "preset")] = CHOSEN_PRESET_SOURCE
    validate(cfg, layers[-1][0] if layers else DEFAULT_CONFIG_PATH)
    name = cfg.get("platform", {}).get("preset")
    overrides = {k: v for k, v in cfg.get("presets", {}).get(name, {}).items() if isinstance(v, dict)}
    if overrides:
        cfg = deep_merge(cfg, overrides)
        validate(cfg)
        origins.update(dict.fromkeys(leaf_paths(overrides), f"preset '{name}'"))
    cfg["_sources"] = sources
    return cfg, origins


def load_config(path: str | os.PathLike | None = None, *, preset: str | None = None, use_user_file: bool = True) -> dict:
    """Defaults, then the user config file (if present), then ``path`` (if given), then the preset applied."""
    return _load(path, preset, use_user_file)[0]


def explain_sources(path: str | os.PathLike | None = None, *, preset: str | None = None,
                    use_user_file: bool = True) -> dict[tuple, str]:
    """Where each value of ``load_config(path, preset=..., use_user_file=...)`` came from, by key path: "shipped
    defaults", "your file PATH", "--config PATH", "preset 'reels'" (the active preset's tables replace the values
    above them), or ``CHOSEN_PRESET_SOURCE`` for a preset given for this run. The last layer that sets a key wins."""
    return _load(path, preset, use_user_file)[1]


def parse_value(text: str, old: object) -> object:
    """A value typed by a person, for a setting whose current value is ``old``: TOML syntax (``0.7``, ``true``,
    ``"text"``, ``[1, 2]``); plain words are taken as text where the setting is text. Raises ConfigError when the
    type does not fit (a number for a number, true/false for a flag)."""
    number = (int, float)
    want = "true or false" if isinstance(old, bool) else "a number" if isinstance(old, number) else \
        "text" if isinstance(old, str) else f"a {type(old).__name__}"
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        if isinstance(old, str):
            return text.strip()
        raise ConfigError(f"This setting takes {want}; {text.strip()!r} is not.") from None
    if isinstance(old, bool) or isinstance(value, bool):
        ok = isinstance(old, bool) == isinstance(value, bool)
    elif isinstance(old, number):
        ok = isinstance(value, number)
    else:
        ok = old is None or isinstance(value, type(old))
    if not ok:
        raise ConfigError(f"This setting takes {want}; {text.strip()!r} is not.")
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def save_user_setting(keys: tuple, value: object, file: str | os.PathLike | None = None) -> tuple[Path, Path | None]:
    """Set one value (by key path) in the user's config file (``user_config_path()`` unless ``file``), keeping every
    other key in it; the file is made if missing. The result must load (validated against the shipped defaults
    before writing, so a bad value never reaches the file), and is written whole to a temporary file first and then
    renamed over the old one. Comments are not kept (TOML writers do not keep them): an old file with comments is
    first copied to ``<name>.bak``. Returns (the file, the backup or None); raises ConfigError in plain words."""
    import shutil

    import tomli_w

    target = Path(file) if file is not None else user_config_path()
    existed = target.is_file()
    data = read_toml(target) if existed else {}
    backup = None
    node = data
    for k in keys[:-1]:
        nxt = node.get(k)
        if not isinstance(nxt, dict):
            nxt = node[k] = {}
        node = nxt
    node[keys[-1]] = value
    validate(deep_merge(read_toml(DEFAULT_CONFIG_PATH), data), target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if existed and "#" in target.read_text(encoding="utf-8", errors="replace"):
            backup = target.with_name(target.name + ".bak")
            shutil.copy2(target, backup)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"Config file {target} cannot be written: {exc.strerror or exc}.") from None
    return target, backup


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
