"""Feedback rules: every point a metric loses against its target becomes a finding a creator can act on.

A finding cites the measured value, the target and where the target comes from, the time span when the flaw is
local (found from the metric's per-second series), and what to change. Findings are ranked by the overall points
they cost; the first is the top fix. Extractors may add findings of their own (``fv.events["findings"]``) for
flaws that are events rather than levels (a frozen stretch, a clipped burst); those are ranked the same way.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ModelError
from ..features import MODALITIES, PICTURE_MOS, FeatureVector, MetricSpec
from ..picture_quality import error_words, load as load_picture_model
from ..scorer import Scores, finding_cost, loss_share, metric_score, modality_value, target_group


def modality_product(metric_scores: dict, targets: dict, modality: str) -> float:
    """The config-target modality score as 0-1 (see ``scorer.modality_value``; 1 when nothing was measured)."""
    v = modality_value(metric_scores, {"targets": targets}, modality)
    return 1.0 if v is None else v


#: Findings of "platform_fit" targets open with this, so no one reads them as a verdict on the picture itself.
PLATFORM_FIT_PREFIX = "Platform fit, not picture quality: "

#: Severity by the overall points a finding costs (0-100 scale of the overall score).
HIGH_POINTS = 6.0
MEDIUM_POINTS = 2.0
#: A second counts as part of a flawed stretch when its own score is below this (0-1).
LOCAL_SCORE_BELOW = 0.5
#: A flawed stretch is reported as local only when it covers less than this share of the clip.
LOCAL_MAX_SHARE = 0.8
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


@dataclass
class Finding:
    modality: str
    severity: str  # high | medium | low | info
    code: str
    message: str
    value: float | None
    target: float | None
    start_s: float | None = None
    end_s: float | None = None
    source: str | None = None
    points: float = 0.0  # overall points this finding costs
    group: str | None = None  # for target findings: "quality" or "platform_fit" (see engine/scorer.py)
    #: Points it costs its own modality's score: orders findings that cost the overall alike (two flaws of a sound
    #: that scores above the picture cost the overall nothing; the worse of them still comes first).
    modality_points: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def clock(t: float) -> str:
    """0:04 style time."""
    t = max(0.0, float(t))
    m, s = divmod(int(round(t)), 60)
    return f"{m}:{s:02d}"


#: Units that count things: shown as whole numbers.
COUNT_UNITS = frozenset(("tags", "characters", "cuts", "frames", "px", "words"))
#: Counted units said of one thing (px is the same for one and many).
SINGULAR = {"tags": "tag", "characters": "character", "cuts": "cut", "frames": "frame", "words": "word"}


def plural(n: float, word: str) -> str:
    """``1 cut``, ``2 cuts``, ``0 cuts``: ``n`` (a count) and ``word`` (its plural), the word singular for one."""
    return f"{n:.0f} {SINGULAR.get(word, word[:-1] if word.endswith('s') else word) if round(n) == 1 else word}"


def _number(v: float, unit: str, decimals: int | None = None) -> str:
    a = abs(v)
    if decimals is not None:
        return f"{v:.{decimals}f}"
    if unit in COUNT_UNITS or v == 0 or (a >= 1 and abs(v - round(v)) < 1e-9):
        return f"{v:.0f}"
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}"


def fmt_value(v: float, unit: str, decimals: int | None = None) -> str:
    """A measured value in the user's words: 21/255 for luma, 0 tags, 1 cut, 12.5 dB, 0.48%. ``decimals`` forces
    that many decimals (see ``fmt_pair``)."""
    if v is None:
        return "n/a"
    text = _number(v, unit, decimals)
    if not unit or unit == "0-1":
        return text
    if unit == "luma 0-255":
        return f"{text}/255"
    if unit.startswith("%"):
        return f"{text}{unit}"
    if unit in COUNT_UNITS and decimals is None:
        return plural(v, unit)
    return f"{text} {unit}"


#: A value and its target are printed with up to this many decimals to tell them apart.
MAX_DECIMALS = 4


def fmt_pair(v: float, target: float, unit: str) -> tuple[str, str]:
    """A value and its target as text, with as many decimals as it takes (up to MAX_DECIMALS) to show that they
    differ: a miss never reads "0.60; target at least 0.60"."""
    a, b = fmt_value(v, unit), fmt_value(target, unit)
    if a != b or v == target:
        return a, b
    for decimals in range(1, MAX_DECIMALS + 1):
        a, b = fmt_value(v, unit, decimals), fmt_value(target, unit, decimals)
        if a != b:
            break
    return a, b


def severity_for(points: float, target: dict | None = None) -> str:
    """A finding's severity from the overall points it costs. An opinion of the whole picture (``opinion = true``)
    is never "high": high means clearly flawed, a flaw that holds the tier (``cap_tier``), and an opinion names no
    flaw and holds no tier."""
    if points >= HIGH_POINTS and not (target or {}).get("opinion"):
        return "high"
    return "medium" if points >= MEDIUM_POINTS else "low"


def _span(fv: FeatureVector, key: str, target: dict, duration_s: float):
    """(start_s, end_s) of the longest run of seconds whose own score is poor, when it is local."""
    series = fv.series.get(key)
    if series is None or not series.values:
        return None, None
    bad = [v is not None and metric_score(v, target) < LOCAL_SCORE_BELOW for v in series.values]
    best = (0, -1)
    start = None
    for i, b in enumerate(bad + [False]):
        if b and start is None:
            start = i
        elif not b and start is not None:
            if i - start > best[1] - best[0] + 1:
                best = (start, i - 1)
            start = None
    if best[1] < best[0]:
        return None, None
    s = series.start_s + best[0] * series.step_s
    e = min(series.start_s + (best[1] + 1) * series.step_s, duration_s or 1e9)
    if duration_s and (e - s) >= LOCAL_MAX_SHARE * duration_s:
        return None, None
    return round(s, 2), round(e, 2)


def _cited_target(v: float, t: dict) -> tuple[float, str, str, str]:
    """(target value to cite, code, advice, target text) for a value against a target table."""
    kind = t["kind"]
    if kind == "min":
        cited = float(t.get("target", t["good"]))
        return cited, t.get("code", ""), t.get("advice", ""), "at least {}"
    if kind == "max":
        cited = float(t.get("target", t["good"]))
        return cited, t.get("code", ""), t.get("advice", ""), "at most {}"
    low = v < t["good_low"]
    cited = float(t.get("target", t["good_low"] if low else t["good_high"]))
    side = "low" if low else "high"
    return cited, t.get(f"code_{side}", t.get("code", "")), t.get(f"advice_{side}", t.get("advice", "")), "{lo} to {hi}"


def off_target_code(key: str) -> str:
    """The code of a target's finding when its table names none."""
    return f"{key}.off_target"


def target_codes(keys, targets: dict) -> set[str]:
    """Every finding code the targets of the metric ``keys`` can raise (``code``, ``code_low``, ``code_high``, and
    ``off_target_code`` for a table that names none or not for each side)."""
    out = set()
    for key in keys:
        t = targets.get(key) or {}
        out.update(t[c] for c in ("code", "code_low", "code_high") if t.get(c))
        out.add(off_target_code(key))
    return out


def advice_values(key: str) -> dict:
    """Words an advice text may cite beside ``{gap}``, ``{value}`` and ``{target}``: for the picture MOS,
    ``{model_error}``, how far the model's predictions fell from people's mean on clips it never saw (" (on clips it
    never saw, ...)", or nothing when the model file does not say)."""
    if key != PICTURE_MOS.key:
        return {}
    try:
        words = error_words(load_picture_model())
    except ModelError:
        words = ""
    return {"model_error": f" ({words})" if words else ""}


def target_findings(fv: FeatureVector, scores: Scores, cfg: dict, specs: dict[str, MetricSpec], duration_s: float) -> list[Finding]:
    targets = cfg.get("targets", {})
    mweights = cfg.get("scoring", {}).get("weights", {})
    scored = [m for m in MODALITIES if scores.modalities.get(m) is not None]
    wsum = sum(float(mweights.get(m, 0)) for m in scored) or 1.0
    out = []
    for key, s in scores.metric_scores.items():
        if s >= 1.0:
            continue
        t = targets[key]
        modality = key.split(".", 1)[0]
        if modality not in scored:
            continue
        v = fv.values[key]
        spec = specs.get(key)
        label = spec.label if spec else key
        unit = spec.unit if spec else ""
        # Overall points this metric costs: its share of what fixing its modality gives the overall, and at least
        # what fixing it alone gives (``finding_cost``: the picture-led overall, so a flaw of a sound that scores
        # above the picture costs the overall nothing, a picture flaw costs its part of what the picture loses).
        # Without an overall from the targets (a learned scorer decides quality): the modality's weight share of the
        # same, on the modality's product.
        modality_now = modality_product(scores.metric_scores, targets, modality)
        fixed = modality_product({**scores.metric_scores, key: 1.0}, targets, modality)
        points = finding_cost(fv, scores, cfg, key)
        if points is None:
            share = float(mweights.get(modality, 0)) / wsum
            points = 100.0 * share * max(fixed - modality_now,
                                         (1.0 - modality_now) * loss_share(scores.metric_scores, targets, key))
        cited, code, advice, ttext = _cited_target(v, t)
        shown, cited_text = fmt_pair(v, cited, unit)
        if spec is not None and spec.words is not None:  # "3.36 of 5 (fair to good)"
            shown = f"{shown} ({spec.words(v)})"
        if t["kind"] == "range":
            shown = fmt_pair(v, t["good_low"] if v < t["good_low"] else t["good_high"], unit)[0]
            ttext = f"{fmt_value(t['good_low'], '')} to {fmt_value(t['good_high'], unit)}"
        else:
            ttext = ttext.format(cited_text)
        start, end = _span(fv, key, t, duration_s)
        where = f" between {clock(start)} and {clock(end)}" if start is not None else ""
        gap = abs(v - cited)
        try:
            advice = advice.format(gap=gap, gap_db=gap, value=v, target=cited, **advice_values(key))
        except (KeyError, ValueError, IndexError):
            pass
        verb = "are" if spec is not None and spec.plural else "is"
        message = f"{label} {verb} {shown}{where}; target {ttext}. {advice}".strip()
        custom = fv.events.get("finding_messages", {}).get(code)
        if custom:  # an extractor's own sentence for this flaw (it knows where it looked, what it found)
            message = custom
        group = target_group(t)
        if group == "platform_fit":
            message = PLATFORM_FIT_PREFIX + message
        out.append(Finding(modality, severity_for(points, t), code or off_target_code(key), message, round(v, 4),
                           cited, start, end, t.get("source"), round(points, 2), group,
                           round(100.0 * (fixed - modality_now), 2)))
    return out


def note_findings(fv: FeatureVector, scores: Scores) -> list[Finding]:
    """Why a modality has no score (no audio track, no text at all, ...)."""
    out = []
    for m in MODALITIES:
        if scores.modalities.get(m) is None:
            reasons = fv.notes.get(m) or [f"Nothing was measured for the {m} modality."]
            out.append(Finding(m, "info", f"{m}.not_scored", " ".join(reasons), None, None))
    return out


def build_findings(fv: FeatureVector, scores: Scores, cfg: dict, specs: dict[str, MetricSpec], duration_s: float) -> list[Finding]:
    findings = target_findings(fv, scores, cfg, specs, duration_s)
    for d in fv.events.get("findings", []):
        findings.append(Finding(**{k: d.get(k) for k in Finding.__dataclass_fields__ if k in d}))
    return rank_findings(findings, cfg) + note_findings(fv, scores)


def opinion_codes(cfg: dict) -> set[str]:
    """The finding codes of the targets marked ``opinion = true``: an opinion of the whole picture (the picture MOS
    people would give), which lowers the score but names no flaw to fix. It never holds the tier
    (``capping_findings``) and comes after the named flaws (``rank_findings``), so a clip's top fix is one it can act
    on."""
    targets = cfg.get("targets", {})
    return target_codes([k for k, t in targets.items() if t.get("opinion")], targets)


#: Findings about the file itself ("media.truncated": cut short): every other verdict describes only the part that
#: decoded, so they come first whatever points they cost (none: they take nothing from a score).
FILE_FINDING_PREFIX = "media."


def rank_findings(findings: list[Finding], cfg: dict) -> list[Finding]:
    """``findings`` best first: those about the file itself (``FILE_FINDING_PREFIX``), the named flaws by the
    overall points they cost (then by what they cost their modality, then severity), then the opinions
    (``opinion_codes``) likewise, then the info lines in their order."""
    opinions = opinion_codes(cfg)
    ranked = sorted((f for f in findings if f.severity != "info"),
                    key=lambda f: (not f.code.startswith(FILE_FINDING_PREFIX), f.code in opinions,
                                   -(f.points or 0.0), -(f.modality_points or 0.0),
                                   SEVERITY_ORDER.get(f.severity, 9)))
    return ranked + [f for f in findings if f.severity == "info"]


def capping_findings(findings: list[Finding], cfg: dict) -> list[Finding]:
    """The findings that hold a clip's tier (``cap_tier``): the high-severity ones but the opinions
    (``opinion_codes``)."""
    opinions = opinion_codes(cfg)
    return [f for f in findings if f.severity == "high" and f.code not in opinions]


def cap_tier(scores: Scores, findings: list[Finding], cfg: dict) -> Finding | None:
    """Hold a clip with a high-severity finding at ``[tier_caps] high_finding`` at most (sets ``scores.tier``).

    Returns an info finding that says so when the cap lowered the tier, else None."""
    cap = str(cfg.get("tier_caps", {}).get("high_finding", "") or "")
    tiers = cfg.get("tiers", {})
    if cap not in tiers or scores.tier not in tiers or tiers[scores.tier] <= tiers[cap]:
        return None
    worst = next(iter(capping_findings(findings, cfg)), None)
    if worst is None:
        return None
    earned = scores.tier
    scores.tier = cap
    return Finding(worst.modality, "info", "tier.capped",
                   f"Tier held at {cap}: the overall score {scores.overall:.1f} reaches {earned}, but a clearly "
                   f"flawed clip does not reach a high tier (the top flaw: {worst.message.split('. ')[0]}).",
                   None, None, None, None, "[tier_caps] in config.toml", 0.0)
