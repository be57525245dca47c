"""Scores: per-metric scores from config targets, per-modality scores, the overall score, tier and category.

Until a learned model is loaded (``engine.model``), a modality's score comes from its metric scores against the
targets in config.toml (``metric_score``): each metric below target multiplies it down (``metric_factor``). The overall score is the weighted mean of the
modalities that have a score; the tier comes from the thresholds in ``[tiers]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import config_hash
from .features import MODALITIES, FeatureVector

CONFIG_MODEL_NAME = "config-targets"


@dataclass
class Scores:
    overall: float | None
    modalities: dict  # {"visual": 81.0 | None, ...}
    metric_scores: dict  # {"visual.sharpness": 0.0-1.0, ...}
    tier: str
    category: str
    category_confidence: float
    model: str  # "name@version"
    extra: dict = field(default_factory=dict)  # e.g. {"hook": 62.0}


def metric_score(value: float, target: dict) -> float:
    """0-1 score of one measured value against its target table (kind min / max / range), linear between the
    good and bad bounds."""
    kind = target["kind"]
    if kind == "min":
        return _ramp(value, target["bad"], target["good"])
    if kind == "max":
        return _ramp(-value, -target["bad"], -target["good"])
    if value < target["good_low"]:
        return _ramp(value, target["bad_low"], target["good_low"])
    if value > target["good_high"]:
        return _ramp(-value, -target["bad_high"], -target["good_high"])
    return 1.0


def _ramp(x: float, bad: float, good: float) -> float:
    if good == bad:
        return 1.0 if x >= good else 0.0
    return float(min(1.0, max(0.0, (x - bad) / (good - bad))))


def metric_scores(fv: FeatureVector, cfg: dict) -> dict:
    out = {}
    for key, target in cfg.get("targets", {}).items():
        v = fv.values.get(key)
        if v is not None and target.get("weight", 1.0) > 0:
            out[key] = metric_score(v, target)
    return out


#: How much of its modality's score one metric can take away, per unit of its config weight: a metric at its
#: worst multiplies the modality score by (1 - weight * PENALTY_PER_WEIGHT). Calibrated on the demo and test clips
#: (BYTEME's own choice, not a standard): the heaviest targets (weight 3-3.5: sharpness, loudness, clipping) can
#: halve their modality on their own, so one severe flaw is never averaged away by twenty metrics that are fine;
#: light ones (0.5) cost at most 7.5%. Flaws compound: two severe ones leave about a quarter.
PENALTY_PER_WEIGHT = 0.15
#: No single metric zeroes a modality: something was still measured and may be fine.
MAX_PENALTY = 0.9


def penalty_share(target: dict) -> float:
    """The share of its modality score a metric takes away when it scores 0."""
    return min(MAX_PENALTY, PENALTY_PER_WEIGHT * float(target.get("weight", 1.0)))


def metric_factor(score_0_1: float, target: dict) -> float:
    """The factor (0-1] a metric's score multiplies its modality score by."""
    return 1.0 - penalty_share(target) * (1.0 - score_0_1)


def config_modality_scores(ms: dict, cfg: dict) -> dict:
    """Per modality: 100 times the product of its metrics' factors; None when no metric of it was measured."""
    targets = cfg.get("targets", {})
    out = {}
    for modality in MODALITIES:
        keys = [k for k in ms if k.startswith(modality + ".")]
        if not keys:
            out[modality] = None
            continue
        product = 1.0
        for key in keys:
            product *= metric_factor(ms[key], targets[key])
        out[modality] = round(100.0 * product, 1)
    return out


def overall_score(modalities: dict, cfg: dict) -> float | None:
    weights = cfg.get("scoring", {}).get("weights", {})
    num = den = 0.0
    for m, s in modalities.items():
        w = float(weights.get(m, 0.0))
        if s is not None and w > 0:
            num += w * s
            den += w
    return round(num / den, 1) if den > 0 else None


def tier_for(overall: float | None, cfg: dict) -> str:
    if overall is None:
        return "unranked"
    for name, minimum in sorted(cfg.get("tiers", {}).items(), key=lambda kv: -kv[1]):
        if overall >= minimum:
            return name
    return "unranked"


def quality_source(cfg: dict) -> str:
    """Where modality quality comes from: "targets" (config.toml, the default) or "model" (the learned scorer).

    The shipped learned model is trained on synthetic flaws only; on the demo folder's deliberately flawed clips it
    ranked 3 of 6 flaws above the clean clip (blurry and dark visuals, clipped audio), where the targets ranked all
    6 right, so by default it decides the content category and the targets decide quality. A model you train on
    your own labels (`byteme score --model NAME`) decides quality too."""
    return "model" if cfg.get("scoring", {}).get("quality") == "model" else "targets"


def score(fv: FeatureVector, cfg: dict, model=None) -> Scores:
    """Score one clip's features. ``model`` is a loaded learned scorer (``engine.model.LearnedScorer``) or None
    for the config-target scores."""
    ms = metric_scores(fv, cfg)
    targets_name = f"{CONFIG_MODEL_NAME}@{config_hash(cfg)}"
    if model is not None:
        predicted, category, confidence = model.predict(fv)
        if quality_source(cfg) == "model":
            modalities, name = predicted, model.name
        else:  # quality from the targets, the category from the model
            modalities, name = config_modality_scores(ms, cfg), f"{targets_name}+category:{model.name}"
    else:
        modalities = config_modality_scores(ms, cfg)
        category, confidence = heuristic_category(fv)
        name = targets_name
    # A modality with nothing to judge stays null whatever the model says.
    modalities = {m: (modalities.get(m) if fv.has_modality(m) else None) for m in MODALITIES}
    extra = {}
    if modalities.get("visual") is not None:
        pq = model_picture_quality(fv) if picture_quality_source(cfg) == "model" else None
        if pq is not None:
            modalities["visual"] = round(pq * visual_factor_beside_model(ms, cfg), 1)
            pq *= _factor(ms, cfg, PICTURE_METRICS_BESIDE_MODEL)
            name += f"+picture:{_picture_model_label()}"
        else:
            pq = picture_quality_from_targets(ms, cfg)
        extra["picture_quality"] = None if pq is None else round(pq, 1)
    overall = overall_score(modalities, cfg)
    return Scores(overall, modalities, ms, tier_for(overall, cfg), category, confidence, name, extra)


#: The visual targets whose job the picture-quality model takes over when it decides (structure and fidelity of
#: the picture: what its natural-scene statistics see). Every other visual target (exposure, colour, framing,
#: frame rate, freezes, shake, black frames) still multiplies the visual score as before.
MODEL_PICTURE_METRICS = ("visual.sharpness", "visual.blockiness", "visual.banding_pct", "visual.bits_per_pixel",
                         "visual.detail")
#: Picture targets kept beside the model, and counted in the picture-quality number: grain. Measured
#: (tests/test_picture_quality.py): the model alone still scores the generated clip with light added grain a
#: little above its clean source (54 against 50), because grain raises the MSCN variance like real detail does.
PICTURE_METRICS_BESIDE_MODEL = ("visual.noise_sigma",)


def _factor(ms: dict, cfg: dict, keys) -> float:
    targets = cfg.get("targets", {})
    product = 1.0
    for k in keys:
        if k in ms:
            product *= metric_factor(ms[k], targets[k])
    return product


def picture_quality_from_targets(ms: dict, cfg: dict) -> float | None:
    """Perceived picture quality by the config targets: 100 x the factors of the picture metrics."""
    keys = MODEL_PICTURE_METRICS + PICTURE_METRICS_BESIDE_MODEL
    if not any(k in ms for k in keys):
        return None
    return 100.0 * _factor(ms, cfg, keys)


def visual_factor_beside_model(ms: dict, cfg: dict) -> float:
    """The product of the visual targets' factors that the picture model does not replace (1 when all pass)."""
    targets = cfg.get("targets", {})
    product = 1.0
    for k, v in ms.items():
        if k.startswith("visual.") and k not in MODEL_PICTURE_METRICS:
            product *= metric_factor(v, targets[k])
    return product


def picture_quality_source(cfg: dict) -> str:
    """Where perceived picture quality comes from: "model" (the picture-quality model trained on human opinion,
    engine/picture_quality.py) when ``[scoring] picture_quality = "model"``, else "targets" (config.toml)."""
    return "model" if cfg.get("scoring", {}).get("picture_quality") == "model" else "targets"


def model_picture_quality(fv: FeatureVector) -> float | None:
    """Perceived picture quality 0-100 from the shipped picture-quality model; None when the model cannot be
    loaded (absent, invalid, stale: the config targets then decide) or too few of its features were measured."""
    from . import picture_quality
    from .errors import ModelError

    try:
        return picture_quality.load().predict(fv)
    except ModelError:
        return None


def _picture_model_label() -> str:
    from . import picture_quality

    return picture_quality.load().label


# Content category before the learned scorer: evidence thresholds on measured features. Each names the
# metric it reads; an absent metric never votes.
CATEGORY_RULES = (
    # (category, metric key, threshold, direction)
    ("talking_head", "visual.face_presence_pct", 50.0, "above"),
    ("tutorial_text", "text.onscreen_text_pct", 40.0, "above"),
    ("music_dance", "audio.music_presence_pct", 60.0, "above"),
    ("scenic_broll", "visual.motion_energy", 0.5, "below"),
)


def heuristic_category(fv: FeatureVector) -> tuple[str, float]:
    """The first rule whose metric is measured and passes its threshold; ("other", 0.0) when none does.
    Confidence is a rough margin (how far past the threshold, capped at 1)."""
    for category, key, threshold, direction in CATEGORY_RULES:
        v = fv.values.get(key)
        if v is None:
            continue
        margin = (v - threshold) if direction == "above" else (threshold - v)
        if margin > 0:
            return category, round(min(1.0, margin / max(abs(threshold), 1e-6)), 2)
    return "other", 0.0
