"""The schema of config.toml: every section and key with its type and allowed range, one line per key.

The *defaults* live in ``engine/config.toml`` (the shipped file is what a user copies); this module says what a
value may be. ``engine.config`` checks every layer (the shipped file, the user's file, ``--config``, the active
preset) against it: a value of the wrong type, not finite, out of range, or a key or section that is not declared
here is a ``ConfigError`` naming the file, the line and the key (with the nearest valid name for a misspelling).

To add a key: declare it here in its section (type, range, ``features=True`` when extractors read it, so that
changing it re-analyses instead of reusing cached features) and give its default in ``engine/config.toml``.
``tests/unit/test_config.py`` checks that the two agree (every shipped key declared, every declared key of a fixed
section shipped).

Kinds of entry:
  ``Num(lo, hi)``       a finite number in [lo, hi] (``above=True``: lo itself excluded; ``whole=True``: an integer)
  ``Text(choices)``     a string (one of ``choices`` when given)
  ``Flag()``            true or false
  ``Table({...})``      a table with exactly these keys (each optional in a user's file: the defaults fill in)
  ``MapOf(entry)``      a table of freely named entries, each checked by ``entry``; ``names`` says which names
                        exist ("metric": the registered metric keys, so a target for a misspelled metric is refused)
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass

#: Upper bound of relative weights and ranking points. They are shares (only their ratios matter); the bound keeps
#: sums and products of them finite in float64 and catches a typo like 1e300. BYTEME convention.
MAX_WEIGHT = 1e6
#: Largest magnitude of a target bound. No metric reaches it (the widest, bits per pixel and loudness, stay within
#: +-1e3); it keeps differences of bounds finite, so a ramp never divides inf by inf. BYTEME convention.
MAX_TARGET = 1e12
#: Longest time setting, s: one day. No short-form clip or per-clip budget comes near it. BYTEME convention.
MAX_SECONDS = 86_400.0
#: Largest frame side a platform preset may name, px: 16K (no platform accepts more). BYTEME convention.
MAX_FRAME_PX = 16_384


@dataclass(frozen=True)
class Num:
    lo: float
    hi: float
    above: bool = False  # lo itself is not allowed
    whole: bool = False  # an integer (TOML 3, not 3.0)
    features: bool = False  # extractors read it: part of the feature-cache key

    def describe(self) -> str:
        what = "a whole number" if self.whole else "a number"
        lo = f"above {_fmt(self.lo)} up to" if self.above else f"from {_fmt(self.lo)} to"
        return f"{what} {lo} {_fmt(self.hi)}"

    def problem(self, value) -> str | None:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or (self.whole and not isinstance(value, int)):
            return f"must be {self.describe()} (got {_show(value)})"
        try:
            v = float(value)
        except OverflowError:  # a 400-digit integer
            v = math.inf
        if not math.isfinite(v):
            return f"must be a finite number: {self.describe()} (got {_show(value)})"
        if v < self.lo or v > self.hi or (self.above and v <= self.lo):
            return f"must be {self.describe()} (got {_show(value)})"
        return None


@dataclass(frozen=True)
class Text:
    choices: tuple = ()
    features: bool = False

    def describe(self) -> str:
        return f"one of {', '.join(map(repr, self.choices))}" if self.choices else "a string"

    def problem(self, value) -> str | None:
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            return f"must be {self.describe()} (got {_show(value)})"
        return None


@dataclass(frozen=True)
class Flag:
    features: bool = False

    def describe(self) -> str:
        return "true or false"

    def problem(self, value) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false (got {_show(value)})"


@dataclass(frozen=True)
class Table:
    fields: dict

    def describe(self) -> str:
        return "a table"


@dataclass(frozen=True)
class MapOf:
    entry: object
    names: str = ""  # "metric": entry names must be registered metric keys
    what: str = "entry"  # the word for one entry in messages

    def describe(self) -> str:
        return "a table"


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _show(value) -> str:
    """A short description of a value for an error message (the caller escapes it for the terminal)."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return f"a date/time {value.isoformat()}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------------------------
# The sections. Ranges: what the code can use without failing or giving a meaningless number; sources in comments.
# ---------------------------------------------------------------------------------------------------------------
ENGINE = Table({
    # 64 px: below it the 8 px block and detail measures have too few blocks to mean anything; 2160: 4K UHD.
    "analysis_short_side_px": Num(64, 2160, whole=True, features=True),
    # 8 kHz (telephone band, the lowest rate BS.1770 loudness is defined for in practice) to 192 kHz (studio).
    "audio_rate_hz": Num(8000, 192_000, whole=True, features=True),
    "max_analysis_s": Num(0, MAX_SECONDS, above=True, features=True),
    "clip_timeout_s": Num(0, MAX_SECONDS, above=True),
})

PLATFORM = Table({
    "preset": Text(),  # must name a table under [presets] (checked on the whole config)
})

SCORING = Table({
    "weights": Table({m: Num(0, MAX_WEIGHT, features=True) for m in ("visual", "audio", "text")}),
    "model": Text(),
    "quality": Text(("targets", "model")),
    # where the perceived picture quality comes from (engine.scorer): the quality-group targets or a picture model
    "picture_quality": Text(("targets", "model")),
})

CATEGORY = Table({
    "temperature": Num(0, 1e6, above=True),  # softmax temperature of the model's category head
    "min_confidence": Num(0, 1),  # a calibrated probability
    # what a named category needs in the clip: a metric at or above a minimum
    "evidence": MapOf(Table({"metric": Text(), "min": Num(-MAX_TARGET, MAX_TARGET)}), what="category"),
})

TIER_CAPS = Table({
    "high_finding": Text(),  # a tier name from [tiers], or "" (checked on the whole config)
})

TIERS = MapOf(Num(0, 100), what="tier")

TARGET = Table({
    "kind": Text(("min", "max", "range")),
    **{k: Num(-MAX_TARGET, MAX_TARGET) for k in ("good", "bad", "good_low", "good_high", "bad_low", "bad_high",
                                                  "target")},
    "weight": Num(0, MAX_WEIGHT),
    "group": Text(("quality", "platform_fit")),  # perceived picture quality or platform fit (engine.scorer)
    "opinion": Flag(),  # an opinion of the whole picture: never holds the tier, after the named flaws (feedback)
    "covered_by": Text(),  # another target: while it is missed, this one is not charged (engine.scorer.covered)
    "exempt_below": Num(-MAX_TARGET, MAX_TARGET),  # under it, full points: a look chosen (scorer.metric_score)
    **{k: Text() for k in ("code", "code_low", "code_high", "source", "advice", "advice_low", "advice_high")},
})
TARGETS = MapOf(TARGET, names="metric", what="metric")

TEXT = Table({
    "ocr_read_frames": Num(1, 100_000, whole=True, features=True),  # a work budget: the same frames on any machine
    "ocr_long_side_px": Num(64, 4096, whole=True, features=True),  # 4096: RapidOCR's detector limit is lower
    "ocr_scan_fps": Num(0, 240, above=True, features=True),  # 240 fps: the highest phone slow-motion rate
    "ocr_max_fps": Num(0, 240, above=True, features=True),
    "ocr_refresh_s": Num(0, MAX_SECONDS, above=True, features=True),
    "ocr_max_frames": Num(1, 100_000, whole=True, features=True),
    "ocr_min_confidence": Num(0, 1, features=True),  # a probability
    "ocr_threads": Num(1, 256, whole=True),
    "transcript_model": Text(features=True),
})

HOOK = Table({
    "window_s": Num(0, 60, above=True),  # the opening; 60 s is the whole of most short clips
    "picture_floor": Num(0, 1),  # the share of the hook an unusable opening picture keeps
    **{k: Num(0, 60) for k in ("black_good_s", "black_bad_s", "change_good_s", "sound_good_s", "sound_bad_s",
                               "words_good_s")},
    **{k: Num(0, 255) for k in ("motion_good", "motion_bad")},  # luma levels per frame (8-bit)
    "face_min_pct": Num(0, 100),
    **{k: Num(0, 120) for k in ("opening_quiet_good_db", "opening_quiet_bad_db")},  # LU; 120 dB spans any audio
    "finding_below": Num(0, 1),
    "rank_weight": Num(0, MAX_WEIGHT),
    "weights": Table({k: Num(0, MAX_WEIGHT) for k in ("black_opening", "first_change", "picture", "motion", "cut",
                                                      "face", "first_sound", "first_words",
                                                      "opening_loudness")}),
})

RETENTION = Table({
    # risk = 1 - product(1 - weight): each weight is a probability
    "weights": Table({k: Num(0, 1) for k in ("dead_air", "static_shot", "long_shot", "loudness_dip", "fast_text",
                                             "frozen", "black")}),
    "medium_at": Num(0, 1),
    "high_at": Num(0, 1),
    "dead_air_min_pct": Num(0, 100),
    "loudness_dip_db": Num(0, 120),
    "static_motion_below": Num(0, 255),
    "static_change_below": Num(0, 255),
    "static_min_s": Num(1, 3600, whole=True),
    "long_shot_factor": Num(1, 1000),
    "long_shot_min_s": Num(0, MAX_SECONDS),
    "long_shot_min_shots": Num(1, 10_000, whole=True),
    "fast_text_wps": Num(0, 100, above=True),
    "max_findings": Num(0, 1000, whole=True),
    "rank_weight": Num(0, MAX_WEIGHT),
    "originality_points": Num(0, MAX_WEIGHT),
})

#: The checks a rewards rule can run (engine.feedback.rewards._check) and the keys each one needs.
RULE_NEEDS = {"min_duration_s": ("value",), "max_duration_s": ("value",), "aspect": ("width", "height"),
              "min_resolution": ("width", "height"), "audio_present": (), "original": ()}
RULE = Table({
    "label": Text(),
    "check": Text(tuple(RULE_NEEDS)),
    "value": Num(0, MAX_SECONDS),
    "strict": Flag(),
    "width": Num(0, MAX_FRAME_PX, above=True),
    "height": Num(0, MAX_FRAME_PX, above=True),
    "tolerance": Num(0, 1),
    "required": Flag(),
    "source": Text(),
})
REWARDS = Table({
    "enabled": Flag(),  # whether the creator aims at this programme (off: one info line instead of a checklist)
    "program": Text(),
    "rank_points": Num(0, MAX_WEIGHT),
    "rules": MapOf(RULE, what="rule"),
})

TIKTOK = Table({
    # the creator's own TikTok account (engine/tiktok, `byteme tiktok`); the environment wins for key and secret
    "client_key": Text(),
    "client_secret": Text(),  # never printed (engine.config.redacted)
    "api_base": Text(),  # "" = TikTok's own
    "authorize_url": Text(),  # "" = TikTok's own
    "redirect_port": Num(0, 65_535, whole=True),  # 0 = any free port
    "token_file": Text(),  # "" = tiktok-token.json in the user config dir
})

#: Sections a preset may override while it is active ("values here replace the ones above").
PRESET_OVERRIDES = ("engine", "scoring", "tiers", "targets", "text", "hook", "retention")

#: The whole file, section by section (a preset's override tables are added below, once the sections exist).
SCHEMA = Table({
    "engine": ENGINE,
    "platform": PLATFORM,
    "scoring": SCORING,
    "tiers": TIERS,
    "category": CATEGORY,
    "tier_caps": TIER_CAPS,
    "targets": TARGETS,
    "text": TEXT,
    "hook": HOOK,
    "retention": RETENTION,
    "tiktok": TIKTOK,
})

PRESET = Table({
    "label": Text(),
    "target_width": Num(1, MAX_FRAME_PX, whole=True, features=True),
    "target_height": Num(1, MAX_FRAME_PX, whole=True, features=True),
    **{k: Num(0, 100, features=True) for k in ("unsafe_top_pct", "unsafe_bottom_pct", "unsafe_right_pct",
                                               "unsafe_right_from_pct", "unsafe_left_pct")},
    "rewards": REWARDS,
    **{k: SCHEMA.fields[k] for k in PRESET_OVERRIDES},
})
SCHEMA.fields["presets"] = MapOf(PRESET, what="preset")
