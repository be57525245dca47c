"""Configuration: the shipped defaults (``engine/config.toml``), then the user's file, then the platform preset.

``load_config()`` returns a plain dict. Every layer is checked against the one schema (``engine.config_schema``):
a value of the wrong type, not finite or out of range, and a key or section the schema does not declare, is a
``ConfigError`` naming the file, the line and the key (with the nearest valid name). After the checks every
declared key of a fixed section is present, so readers may index the dict directly; ``cfg["_sources"]`` lists
the files read, in order.
``explain_sources()`` tells, for the settings screen and ``byteme config``, where each value came from (the
shipped defaults, the user's file, ``--config``, the active preset, or a preset chosen for this run).
``save_user_setting()`` writes one value into the user's file, keeping the rest of it.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

from .config_schema import PRESET, PRESET_OVERRIDES, RULE_NEEDS, SCHEMA, MapOf, Table, _show
from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG_PATH = Path(__file__).with_name("config.toml")
TARGET_KINDS = ("min", "max", "range")
#: What a target judges: "quality" (what a viewer perceives; the default) or "platform_fit" (what the platform asks
#: for: size, shape, bars, upload bitrate). See engine/scorer.py.
TARGET_GROUPS = ("quality", "platform_fit")
_NEEDED = {"min": ("good", "bad"), "max": ("good", "bad"), "range": ("good_low", "good_high", "bad_low", "bad_high")}
#: A config file larger than this is not a config file (the shipped one is ~25 kB).
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def user_config_path() -> Path:
    env = os.environ.get("BYTEME_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("byteme")) / "config.toml"


def read_toml(path: Path) -> dict:
    """The parsed file. A FIFO, a device or a folder is refused before it is opened (reading a FIFO would wait
    for a writer forever)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"Config file {path} is not a regular file (a folder, a pipe or a device).")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"Config file {path} is {st.st_size} bytes; a config file is at most {MAX_CONFIG_BYTES}.")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # swapped for a FIFO since stat: no wait
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ConfigError(f"Config file {path} is not a regular file (a folder, a pipe or a device).")
            return tomllib.loads(fh.read(MAX_CONFIG_BYTES + 1).decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from None
    except ValueError as exc:  # tomllib's int() of more than 4300 digits
        raise ConfigError(f"Config file {path} is not usable TOML: {exc}.") from None
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}.") from None


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# ------------------------------------------------------------------------------------------------------------
# Checking against the schema
# ------------------------------------------------------------------------------------------------------------
class _Bad(Exception):
    """A value that cannot be used: ``keys`` is its path in the file, ``text`` what is wrong."""

    def __init__(self, keys: tuple, text: str, also: tuple = ()):
        super().__init__(text)
        self.keys, self.text = tuple(keys), text
        self.also = tuple(tuple(k) for k in also)  # the other keys of a rule between values (e.g. good and bad)


def key_name(keys) -> str:
    """``targets."visual.sharpness".good``: a key path as TOML writes it."""
    return ".".join(f'"{k}"' if not k.replace("_", "").replace("-", "").isalnum() else k for k in map(str, keys))


def _closest(name: str, candidates) -> str | None:
    """The valid name nearest to a misspelled ``name`` (difflib's ratio of at least 0.6), or None."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return close[0] if close else None


def _nearest(name: str, candidates) -> str:
    """"; did you mean 'x'?" for the nearest valid name, or ""."""
    close = _closest(name, candidates)
    return f"; did you mean '{close}'?" if close else ""


def check_values(data, spec=SCHEMA, keys: tuple = (), *, metric_names=None) -> None:
    """Raise ``_Bad`` for the first value of ``data`` (a whole file, or a part at ``keys``) the schema refuses:
    wrong type, not finite, out of range, or an undeclared key. Missing keys are fine (the defaults fill in).
    ``metric_names``: a function giving the registered metric keys, called only when ``data`` names targets (the
    config layer sits below the extractors, so the caller passes it; ``engine.services.active_config`` does)."""
    if isinstance(spec, (Table, MapOf)):
        if not isinstance(data, dict):
            what = f"[{key_name(keys)}]" if len(keys) == 1 else f"'{key_name(keys)}'"
            raise _Bad(keys, f"{what} must be a table (a [section] or {{ key = value, ... }}), not {_show(data)}")
        if isinstance(spec, Table):
            for k, v in data.items():
                sub = spec.fields.get(k)
                if sub is None:
                    if keys:
                        raise _Bad(keys + (k,), f"unknown key '{key_name(keys + (k,))}'" + _nearest(k, spec.fields))
                    close = _closest(k, spec.fields)
                    raise _Bad((k,), f"unknown section [{k}]" + (f"; did you mean [{close}]?" if close else ""))
                check_values(v, sub, keys + (k,), metric_names=metric_names)
            return
        names = set(metric_names()) if spec.names == "metric" and metric_names is not None and data else None
        for k, v in data.items():
            if names is not None and k not in names:
                raise _Bad(keys + (k,), f"'{key_name(keys + (k,))}' names no metric BYTEME measures"
                                        + _nearest(k, names))
            check_values(v, spec.entry, keys + (k,), metric_names=metric_names)
        return
    problem = spec.problem(data)
    if problem:
        raise _Bad(keys, f"'{key_name(keys)}' {problem}")


def check_whole(cfg: dict) -> None:
    """Raise ``_Bad`` for what only the merged configuration can show: a target without the bounds its kind needs
    or with bounds in the wrong order, an unknown active preset, a rewards rule without its values, weights that
    leave no overall score."""
    presets = cfg.get("presets", {})
    name = cfg["platform"]["preset"]
    if name not in presets:
        raise _Bad(("platform", "preset"), f"'platform.preset' names an unknown preset {name!r} (known: "
                                           f"{', '.join(presets)}){_nearest(name, presets)}")
    for metric, t in cfg["targets"].items():
        _check_target(t, ("targets", metric))
        other = t.get("covered_by")
        if other is not None and (other == metric or other not in cfg["targets"]):
            keys = ("targets", metric, "covered_by")
            raise _Bad(keys, f"'{key_name(keys)}' must name another target (got {other!r})"
                             f"{_nearest(str(other), cfg['targets'])}")
    for pname, p in presets.items():
        for metric, t in (p.get("targets") or {}).items():
            if "kind" in t:  # a whole target of its own; else a change merged onto the shipped one when active
                _check_target(t, ("presets", pname, "targets", metric))
        for rname, rule in ((p.get("rewards") or {}).get("rules") or {}).items():
            keys = ("presets", pname, "rewards", "rules", rname)
            if "check" not in rule:
                raise _Bad(keys, f"rule '{key_name(keys)}' needs check = one of {', '.join(RULE_NEEDS)}")
            for k in RULE_NEEDS[rule["check"]]:
                if k not in rule:
                    raise _Bad(keys + (k,), f"rule '{key_name(keys)}' (check = {rule['check']!r}) needs '{k}'")
    if not any(v > 0 for v in cfg["scoring"]["weights"].values()):
        raise _Bad(("scoring", "weights"), "'scoring.weights' needs at least one weight above 0 (else no clip has an "
                                           "overall score)")
    cap = cfg["tier_caps"]["high_finding"]
    if cap and cap not in cfg["tiers"]:
        raise _Bad(("tier_caps", "high_finding"), f"'tier_caps.high_finding' must name a tier in [tiers] or be \"\" "
                                                  f"(got {cap!r}){_nearest(cap, cfg['tiers'])}")
    r = cfg["retention"]
    if r["medium_at"] > r["high_at"]:
        raise _Bad(("retention", "medium_at"), f"'retention.medium_at' ({r['medium_at']}) must not be above "
                                               f"'retention.high_at' ({r['high_at']})", [("retention", "high_at")])


def _check_target(t: dict, keys: tuple) -> None:
    kind = t.get("kind")
    if kind not in TARGET_KINDS:
        raise _Bad(keys + ("kind",), f"'{key_name(keys)}' needs kind = one of {', '.join(TARGET_KINDS)}")
    for k in _NEEDED[kind]:
        if k not in t:
            raise _Bad(keys + (k,), f"'{key_name(keys)}' (kind = {kind!r}) needs '{k}'")
    bounds = [keys + (k,) for k in _NEEDED[kind]]
    if kind == "min" and t["good"] < t["bad"]:
        raise _Bad(keys + ("good",), f"'{key_name(keys)}' is kind 'min': good ({t['good']}) must not be below bad "
                                     f"({t['bad']})", bounds)
    if kind == "max" and t["good"] > t["bad"]:
        raise _Bad(keys + ("good",), f"'{key_name(keys)}' is kind 'max': good ({t['good']}) must not be above bad "
                                     f"({t['bad']})", bounds)
    if kind == "range" and not t["bad_low"] <= t["good_low"] <= t["good_high"] <= t["bad_high"]:
        raise _Bad(keys + ("good_low",), f"'{key_name(keys)}' is kind 'range': needs bad_low <= good_low <= good_high "
                                         f"<= bad_high (got {t['bad_low']}, {t['good_low']}, {t['good_high']}, "
                                         f"{t['bad_high']})", bounds)


# ------------------------------------------------------------------------------------------------------------
# Where a key is written: file and line for messages
# ------------------------------------------------------------------------------------------------------------
def _split_keys(text: str) -> tuple:
    """``a."b.c".d`` -> ("a", "b.c", "d")."""
    parts, cur, quote = [], "", None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
            else:
                cur += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return tuple(parts)


def line_of(path: Path | None, keys) -> int | None:
    """The line of ``path`` that writes ``keys`` (or the nearest enclosing key or table); None when not found."""
    if path is None:
        return None
    keys = tuple(keys)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    table: tuple = ()
    best, best_len = None, 0
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("["):
            table = _split_keys(s.strip("[]").split("]")[0].strip("[ "))
            full = table
        elif "=" in s:
            full = table + _split_keys(s.split("=", 1)[0])
        else:
            continue
        n = len(full)
        if n <= len(keys) and full == keys[:n] and n > best_len:
            best, best_len = i, n
            if n == len(keys):
                break
    return best


def _has(data: dict, keys) -> int:
    """How many leading parts of ``keys`` exist in ``data``."""
    n = 0
    for k in keys:
        if not isinstance(data, dict) or k not in data:
            break
        data, n = data[k], n + 1
    return n


def _error(layers: list, bad: _Bad, *, alt_prefix: tuple = ()) -> ConfigError:
    """A ConfigError at the layer that wrote (most of) the bad key or a key of the same rule; the later layer when
    two wrote as much (it is the one that broke the rule). ``alt_prefix``: the key may also have come from there
    (a preset's override table)."""
    candidates = [bad.keys, *bad.also]
    if alt_prefix:
        candidates += [alt_prefix + k for k in candidates]
    best, best_n, best_keys = None, 0, bad.keys
    for origin, data in layers:
        for keys in candidates:
            n = _has(data, keys)
            if n and n >= best_n:
                best, best_n, best_keys = origin, n, keys
    return _error_at(best, best_keys, bad.text)


def _error_at(origin: Path | None, keys: tuple, text: str) -> ConfigError:
    line = line_of(origin, keys)
    where = f"{origin}" + (f", line {line}" if line else "") if origin else "The configuration"
    return ConfigError(f"{where}: {text}" + ("" if text.endswith("?") else "."))


# ------------------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------------------
def validate(cfg: dict, origin: Path | None = None, *, metric_names=None) -> None:
    """Raise ConfigError naming the file, line and key of the first value of ``cfg`` (a complete configuration)
    that cannot be used."""
    clean = {k: v for k, v in cfg.items() if not str(k).startswith("_")}
    try:
        check_values(clean, metric_names=metric_names)
        check_whole(clean)
    except _Bad as bad:
        raise _error_at(origin, bad.keys, bad.text) from None


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


def _load(path, preset: str | None, use_user_file: bool, metric_names) -> tuple[dict, dict[tuple, str]]:
    """(the configuration, where each value came from by key path): see ``load_config`` and ``explain_sources``."""
    layers: list[tuple[Path, dict]] = [(DEFAULT_CONFIG_PATH, read_toml(DEFAULT_CONFIG_PATH))]
    labels = [SHIPPED_SOURCE]
    if use_user_file and path is None:
        up = user_config_path()
        try:
            present = up.exists()
        except OSError:  # a folder on the way cannot be read: read_toml says so in plain words
            present = True
        if present:
            layers.append((up, read_toml(up)))
            labels.append(f"your file {up}")
    if path is not None:
        layers.append((Path(path), read_toml(Path(path))))
        labels.append(f"--config {path}")
    cfg: dict = {}
    origins: dict[tuple, str] = {}
    for (origin, data), label in zip(layers, labels):
        try:
            check_values(data, metric_names=metric_names)
        except _Bad as bad:
            raise _error_at(origin, bad.keys, bad.text) from None
        cfg = deep_merge(cfg, data)
        origins.update(dict.fromkeys(leaf_paths(data), label))
    if preset is not None:
        known = cfg.get("presets", {})
        if preset not in known:
            hint = _nearest(preset, known) or "."
            raise ConfigError(f"--preset {preset!r} is not a platform preset (known: {', '.join(known)}){hint}")
        cfg["platform"]["preset"] = preset
        origins[("platform", "preset")] = CHOSEN_PRESET_SOURCE
    try:
        check_whole(cfg)
    except _Bad as bad:
        raise _error(layers, bad) from None
    name = cfg["platform"]["preset"]
    overrides = {k: v for k, v in cfg["presets"][name].items() if k in PRESET_OVERRIDES}
    if overrides:
        cfg = deep_merge(cfg, overrides)
        try:
            check_whole(cfg)
        except _Bad as bad:
            raise _error(layers, bad, alt_prefix=("presets", name)) from None
        origins.update(dict.fromkeys(leaf_paths(overrides), f"preset '{name}'"))
    cfg["_sources"] = [str(origin) for origin, _ in layers]
    return cfg, origins


def load_config(path: str | os.PathLike | None = None, *, preset: str | None = None, use_user_file: bool = True,
                metric_names=None) -> dict:
    """Defaults, then the user config file (if present), then ``path`` (if given), then the preset applied.
    ``preset`` is the command line's ``--preset``: an unknown name is reported as a bad flag. ``metric_names``
    (a function giving the registered metric keys) checks the names of ``[targets."..."]`` tables; without it they
    are not checked (``engine.services.active_config`` passes the extractors' metrics)."""
    return _load(path, preset, use_user_file, metric_names)[0]


def explain_sources(path: str | os.PathLike | None = None, *, preset: str | None = None,
                    use_user_file: bool = True) -> dict[tuple, str]:
    """Where each value of ``load_config(path, preset=..., use_user_file=...)`` came from, by key path: "shipped
    defaults", "your file PATH", "--config PATH", "preset 'reels'" (the active preset's tables replace the values
    above them), or ``CHOSEN_PRESET_SOURCE`` for a preset given for this run. The last layer that sets a key wins."""
    return _load(path, preset, use_user_file, None)[1]


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


def feature_settings(cfg: dict) -> dict:
    """The settings extractors read (schema entries marked ``features=True``), as {dotted key: value}: what a cached
    feature vector depends on besides the file, the engine version and the options."""
    out: dict = {}

    def walk(spec, node, keys):
        if isinstance(spec, Table):
            for k, sub in spec.fields.items():
                if k not in PRESET_OVERRIDES or keys != ("preset",):  # a preset's overrides are merged already
                    walk(sub, node.get(k) if isinstance(node, dict) else None, keys + (k,))
        elif not isinstance(spec, MapOf) and spec.features:
            out[".".join(keys)] = node

    for section, spec in SCHEMA.fields.items():
        if section != "presets":
            walk(spec, cfg.get(section), (section,))
    walk(PRESET, preset(cfg), ("preset",))
    return out


def feature_settings_hash(cfg: dict | None) -> str:
    """A short hash of ``feature_settings(cfg)``: part of the feature-cache key, so a change of analysis size,
    audio rate, analysis length, OCR settings or preset frame/safe zones re-analyses instead of reusing features."""
    if cfg is None:
        return ""
    data = json.dumps(feature_settings(cfg), sort_keys=True, default=str)
    return hashlib.blake2b(data.encode(), digest_size=6).hexdigest()


#: Values the environment sets over every file: (section, key) -> variable (engine/tiktok/auth.py reads them).
ENVIRONMENT_KEYS = {("tiktok", "client_key"): "BYTEME_TIKTOK_CLIENT_KEY",
                    ("tiktok", "client_secret"): "BYTEME_TIKTOK_CLIENT_SECRET"}
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
    """Where each value of ``load_config(config_path, preset=preset)`` comes from, by dotted key (as ``flatten``):
    ``explain_sources``' labels, then ``"environment VAR"`` for a value the environment sets (``with_environment``)."""
    environ = os.environ if environ is None else environ
    out = {".".join(keys): label for keys, label in
           explain_sources(config_path, preset=preset, use_user_file=use_user_file).items()}
    for (section, key), var in ENVIRONMENT_KEYS.items():
        if environ.get(var):
            out[f"{section}.{key}"] = f"environment {var}"
    return out
