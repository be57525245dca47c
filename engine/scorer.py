"""Scores: per-metric scores from config targets, per-modality scores, the overall score, tier and category.

Until a learned model is loaded (``engine.model``), a modality's score comes from its metric scores against the
targets in config.toml (``metric_score``): each metric below target multiplies it down (``metric_factor``).

The picture is judged twice, apart (``visual_parts``): the *perceived picture quality* (what a viewer sees: blur,
grain, blocking, exposure, shake, freezes; 0-100, from the targets whose ``group`` is "quality", or from another
source named by ``[scoring] picture_quality``) and the *platform fit* (0-100, from the targets in ``group =
"platform_fit"``: aspect ratio, size against the preset, letterbox bars, upload bitrate). The visual score is
``visual_score``: the perceived quality, which each platform misfit lowers by at most ``PLATFORM_FIT_MAX_SHARE``
(several misfits compound).

The overall score (``overall_score``) is the picture's score, lowered by sound and text that score under it, each as
far as its weight goes: the weight of ``[scoring] weights`` scaled by the modality's evidence
(``modality_evidence``) and by how remarkable its score is (``remarkability``: nothing at 90+, fully at 60 and
under); with one such modality it is the weighted mean of the two (``picture_led_overall``). Without a picture it is
the weighted mean of sound and text, each weighed by its weight and evidence only (so a better score never lowers it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .config import config_hash
from .errors import ConfigError, ModelError
from .features import MODALITIES, FeatureVector
from .picture_quality import DERIVED_METRICS, PICTURE_MOS, UNAVAILABLE_CODE, derived_values

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
    good and bad bounds; full points under ``exempt_below`` (a value so low it is a choice, not a shortfall: no
    colour at all is a black-and-white picture, not a dull one)."""
    if "exempt_below" in target and value < target["exempt_below"]:
        return 1.0
    kind = target["kind"]
    if kind == "min":
        return ramp(value, target["bad"], target["good"])
    if kind == "max":
        return ramp(-value, -target["bad"], -target["good"])
    if value < target["good_low"]:
        return ramp(value, target["bad_low"], target["good_low"])
    if value > target["good_high"]:
        return ramp(-value, -target["bad_high"], -target["good_high"])
    return 1.0


def ramp(x: float, bad: float, good: float) -> float:
    """0-1, linear from 0 at ``bad`` to 1 at ``good`` and clipped (either may be the larger; a step at ``good`` when
    they are equal)."""
    if good == bad:
        return 1.0 if x >= good else 0.0
    return float(min(1.0, max(0.0, (x - bad) / (good - bad))))


def metric_scores(fv: FeatureVector, cfg: dict) -> dict:
    """{metric key: 0-1 score against its target} of the measured metrics with a target of positive weight; a
    target with ``covered_by`` is left out while the target it names is missed (``covered``)."""
    targets = cfg.get("targets", {})
    out = {}
    for key, target in targets.items():
        v = fv.values.get(key)
        if v is not None and target.get("weight", 1.0) > 0:
            out[key] = metric_score(v, target)
    return {k: s for k, s in out.items() if not covered(k, out, targets)}


def covered(key: str, scores: dict, targets: dict) -> bool:
    """True when ``key``'s target names another in ``covered_by`` and that one is missed (scores under 1): its
    finding already names the same cause, which is charged once. The duplicated frames that judder lower the
    distinct frame rate too: with 40% repeats a 25 fps file shows 15 pictures a second, and the frame-rate finding
    says so ("the file has 25 fps, but 40% of its frames repeat"); charged by both, the same repeats cost twice."""
    other = targets.get(key, {}).get("covered_by")
    return bool(other) and other in scores and scores[other] < 1.0


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


def target_group(target: dict) -> str:
    """"quality" (the default: what a viewer perceives) or "platform_fit" (what the platform asks for)."""
    return target.get("group", "quality")


def factor_product(ms: dict, targets: dict, modality: str, group: str | None = None) -> float | None:
    """Product of the factors of ``modality``'s scored metrics (of one ``group`` when given); None when none."""
    keys = [k for k in ms if k.startswith(modality + ".") and k in targets
            and (group is None or target_group(targets[k]) == group)]
    if not keys:
        return None
    product = 1.0
    for key in keys:
        product *= metric_factor(ms[key], targets[key])
    return product


#: Each platform misfit (a "platform_fit" target below its goal) can take at most this share of the visual score:
#: visual = perceived * prod over the platform-fit targets of (1 - PLATFORM_FIT_MAX_SHARE * (1 - score)). A
#: landscape or small clip can look excellent; "not vertical" or "below 1080x1920" is what a creator must fix for
#: the platform, not what a viewer sees. With a quarter, a clip whose perceived quality is more than a third higher
#: (1 / 0.75) than another's always ranks above it when they differ in one misfit (pixel count, say): pixel count
#: never buys a poor picture a better score than a clean one. BYTEME's choice (no standard), checked by
#: tests/unit/test_visual.py with generated clips.
#:
#: Misfits compound (one factor each) rather than the worst alone deciding: with the worst alone, a clip already
#: at its worst on one misfit (every 360x640 clip is below 40% of 1080 px) lost nothing more to letterbox bars or a
#: landscape frame, so a letterboxed copy of a small clip scored above its source (issue 15: 2 of the synthetic
#: flaw pairs, engine/train/picture_quality.py); fixing any one misfit must give its share back. One misfit at its
#: worst still takes the whole quarter (a letterbox alone: issue 16).
PLATFORM_FIT_MAX_SHARE = 0.25


def platform_fit_scores(ms: dict, targets: dict) -> list[float]:
    """The scores (0-1, ``metric_score``, not weighted) of the measured visual targets of the "platform_fit" group."""
    return [ms[k] for k in ms if k.startswith("visual.") and k in targets
            and target_group(targets[k]) == "platform_fit"]


def platform_fit(ms: dict, targets: dict) -> float | None:
    """Platform fit (0-1): the worst score among the "platform_fit" targets (``platform_fit_scores``); None when
    none was measured. The headline number of the picture's breakdown: the platform shows a clip as badly as its
    worst misfit (bars shrink the picture to a strip, a landscape frame is shown small, too few pixels are upscaled
    on every phone). What the visual score loses is ``platform_factor``."""
    scores = platform_fit_scores(ms, targets)
    return min(scores) if scores else None


def platform_factor(ms: dict, targets: dict) -> float | None:
    """What the perceived quality is multiplied by for the platform misfits (0.75 ** n ... 1 for n misfits): the
    product of the "platform_fit" targets' ``misfit_factor``; None when none was measured."""
    scores = platform_fit_scores(ms, targets)
    if not scores:
        return None
    f = 1.0
    for s in scores:
        f *= misfit_factor(s)
    return f


def misfit_factor(score: float) -> float:
    """The factor of one platform-fit target of score ``score`` (0-1): 1 - ``PLATFORM_FIT_MAX_SHARE`` x (1 - score)."""
    return 1.0 - PLATFORM_FIT_MAX_SHARE * (1.0 - float(score))


def visual_score(perceived: float | None, factor: float | None) -> float | None:
    """The visual score (0-100) from the perceived picture quality (0-100 or None) and what the platform misfits
    multiply it by (``platform_factor``, or None when no platform-fit target was measured)."""
    if perceived is None and factor is None:
        return None
    return round(_visual(perceived, 1.0 if factor is None else factor), 1)


def _visual(perceived: float | None, factor: float) -> float:
    p = 100.0 if perceived is None else float(perceived)
    return p * float(factor)


def targets_picture_quality(fv: FeatureVector | None, ms: dict, cfg: dict) -> float | None:
    """Perceived picture quality (0-100) from the visual targets of the "quality" group: 100 times the product of
    their factors; None when none was measured."""
    p = factor_product(ms, cfg.get("targets", {}), "visual", "quality")
    return None if p is None else round(100.0 * p, 1)


#: Where the perceived picture quality comes from, by the name in ``[scoring] picture_quality``: a function
#: (FeatureVector, metric scores, config) -> 0-100 or None. "targets" is the config targets; a learned
#: picture-quality model registers its own name here.
PICTURE_QUALITY_SOURCES = {"targets": targets_picture_quality}


def picture_quality_source(cfg: dict) -> str:
    return cfg.get("scoring", {}).get("picture_quality", "targets")


def visual_parts(fv: FeatureVector | None, ms: dict, cfg: dict) -> dict:
    """{"perceived_quality": 0-100 | None, "platform_fit": 0-100 | None (the worst misfit), "platform_factor": 0-1 |
    None (what the misfits multiply the perceived quality by), "source": name} of one clip's picture."""
    source = picture_quality_source(cfg)
    if source not in PICTURE_QUALITY_SOURCES:
        raise ConfigError(f"[scoring] picture_quality = {source!r} is not a known source of picture quality "
                          f"(known: {', '.join(sorted(PICTURE_QUALITY_SOURCES))}).")
    perceived = PICTURE_QUALITY_SOURCES[source](fv, ms, cfg)
    if perceived is None and source != "targets":  # the source cannot judge this clip: the targets decide
        source, perceived = "targets", targets_picture_quality(fv, ms, cfg)
    fit = platform_fit(ms, cfg.get("targets", {}))
    factor = platform_factor(ms, cfg.get("targets", {}))
    return {"perceived_quality": perceived, "platform_fit": None if fit is None else round(100.0 * fit, 1),
            "platform_factor": None if factor is None else round(factor, 4), "source": source}


def modality_value(ms: dict, cfg: dict, modality: str) -> float | None:
    """The config-target score of one modality as 0-1 (None when nothing of it was measured): the product of its
    metrics' factors; for the picture, ``visual_score`` of the perceived-quality and platform-fit products."""
    targets = cfg.get("targets", {})
    if modality != "visual":
        return factor_product(ms, targets, modality)
    perceived = factor_product(ms, targets, "visual", "quality")
    factor = platform_factor(ms, targets)
    if perceived is None and factor is None:
        return None
    return _visual(None if perceived is None else 100.0 * perceived, 1.0 if factor is None else factor) / 100.0


def config_modality_scores(ms: dict, cfg: dict) -> dict:
    """Per modality: 100 times ``modality_value`` (rounded); None when no metric of it was measured."""
    out = {}
    for modality in MODALITIES:
        v = modality_value(ms, cfg, modality)
        out[modality] = None if v is None else round(100.0 * v, 1)
    return out


#: Sound and text weigh in the overall score only as far as they have something to say: at or above
#: UNREMARKABLE_SCORE ("nothing remarkable": every target met or missed by a little) they weigh nothing and the
#: overall is the picture's score; below it their weight grows linearly to its full value at FULL_WEIGHT_SCORE and
#: under (a clear flaw: 40% of the modality lost). So the overall never reorders clips whose sound and text are
#: unremarkable, and a real flaw in them still costs. BYTEME's choice; scripts/realmos_overall.py measures it.
UNREMARKABLE_SCORE = 90.0
FULL_WEIGHT_SCORE = 60.0
#: Sound weighs in the overall score by the share of the clip it carries speech or music, reaching its full weight
#: at this share. Sound that carries neither (wind, traffic, room tone) is measured and its findings are reported,
#: but it is not what the clip is about: on 67 KoNViD-1k clips with such sound and human picture ratings, letting
#: it weigh fully lowered the overall's rank agreement with people well below the picture's
#: (scripts/realmos_overall.py). BYTEME's choice, with that measurement.
AUDIO_CARRIES_PCT = 50.0


def modality_evidence(fv: FeatureVector | None, cfg: dict | None = None) -> dict:
    """How much each modality has to say, 0-1, which scales its weight in the overall score.

    - visual: 1 (the picture is always what the clip shows);
    - audio: the share of the clip with speech or music, over ``AUDIO_CARRIES_PCT`` (1 when not measured);
    - text: 1 with a caption; 0 without one: a missing caption is a finding (``text.no_caption``) that says so,
      not a penalty on the clip's overall score (a clip with no text at all has no text score either).
    """
    values = fv.values if fv is not None else {}
    speech, music = values.get("audio.speech_presence_pct"), values.get("audio.music_presence_pct")
    if speech is None and music is None:
        audio = 1.0
    else:
        audio = min(1.0, max(speech or 0.0, music or 0.0) / AUDIO_CARRIES_PCT)
    caption = values.get("text.caption_present")
    return {"visual": 1.0, "audio": round(audio, 3), "text": 0.0 if caption is not None and caption < 1 else 1.0}


def remarkability(score: float) -> float:
    """0-1: how much a sound or text score has to say in the overall (see ``UNREMARKABLE_SCORE``)."""
    return min(1.0, max(0.0, (UNREMARKABLE_SCORE - score) / (UNREMARKABLE_SCORE - FULL_WEIGHT_SCORE)))


def picture_leads(modalities: dict, cfg: dict) -> bool:
    """True when the overall follows the picture (``picture_led_overall``): it has a score and a weight."""
    weight = float(cfg.get("scoring", {}).get("weights", {}).get("visual", 0.0))
    return modalities.get("visual") is not None and weight > 0


def overall_weights(modalities: dict, cfg: dict, evidence: dict | None = None) -> dict:
    """Each scored modality's weight in the overall score: ``[scoring] weights``, times its evidence when
    ``evidence`` is given, and, for sound and text beside a picture, times its ``remarkability``; the plain weights
    when ``evidence`` is None.

    Without a picture (an audio-only file, or a visual weight of 0) nothing leads, so no score's weight depends on
    the score itself: a weight that shrank as the sound got better made the overall of sound and caption fall when
    the sound rose (sound 60 and text 30 gave 45, sound 85 and text 30 gave 38)."""
    weights = cfg.get("scoring", {}).get("weights", {})
    leads = picture_leads(modalities, cfg)
    out = {}
    for m, s in modalities.items():
        if s is None:
            continue
        w = float(weights.get(m, 0.0))
        if evidence is not None:
            w *= float(evidence.get(m, 1.0))
            if leads and m != "visual":
                w *= remarkability(s)
        out[m] = w
    return out


def overall_score(modalities: dict, cfg: dict, evidence: dict | None = None, *,
                  ndigits: int | None = 1) -> float | None:
    """The overall score. With ``evidence`` and a picture: the picture's score, lowered by each sound or text score
    under it as far as it weighs (``picture_led_overall``). Otherwise the weighted mean of the modalities that have a
    score, with the weights of ``overall_weights`` (the plain weights when nothing weighs: no picture, and sound and
    text say nothing); None when no modality has a score."""
    weights = overall_weights(modalities, cfg, evidence)
    if evidence is not None and picture_leads(modalities, cfg):
        out = picture_led_overall(float(modalities["visual"]), modalities, weights)
        return out if ndigits is None else round(out, ndigits)
    num = den = 0.0
    for m, w in weights.items():
        if w > 0:
            num += w * modalities[m]
            den += w
    if den <= 0:
        return overall_score(modalities, cfg, None, ndigits=ndigits) if evidence is not None else None
    return num / den if ndigits is None else round(num / den, ndigits)


def picture_led_overall(picture: float, modalities: dict, weights: dict) -> float:
    """The picture's score times, for each other modality that weighs and scores under it, ``1 - l x gap``: gap the
    share of the picture's score it falls short by, l = w / (w_picture + w) its weight's share beside the picture.

    With one such modality this is the weighted mean of the two, as before; two compound. A sound or text score at
    or above the picture's changes nothing: the plain weighted mean let a mediocre soundtrack lift a poor picture
    (a real clip with a picture of 8.5 and sound of 77.6 scored 25.3 overall), and made the overall fall when the
    sound got better, as its weight shrank towards 90 (the same clip with its sound read at 89.7: 9.1). So raising
    any modality's score never lowers the overall, and the overall is never above the picture's score
    (tests/unit/test_scorer.py)."""
    if picture <= 0:
        return picture
    out = picture
    w_picture = weights["visual"]
    for m, w in weights.items():
        if m == "visual" or w <= 0:
            continue
        gap = max(0.0, picture - float(modalities[m])) / picture
        out *= 1.0 - w / (w_picture + w) * gap
    return out


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


def score(fv: FeatureVector, cfg: dict, model=None, *, derive: bool = True) -> Scores:
    """Score one clip's features. ``model`` is a loaded learned scorer (``engine.model.LearnedScorer``) or None
    for the config-target scores.

    First the derived metrics (the picture MOS, ``engine.picture_quality.derived_values``) are computed from the
    measured ones and written into ``fv.values``, replacing any value stored with older features (one the model can
    not give is removed): the findings and the JSON read them there. ``derive=False`` keeps the ones ``fv`` holds
    (an evaluation that sets them from a model trained without the clip)."""
    if derive:
        derive_metrics(fv)
    ms = metric_scores(fv, cfg)
    targets_name = f"{CONFIG_MODEL_NAME}@{config_hash(cfg)}"
    if model is not None:
        predicted, category, confidence = model.predict(fv, cfg.get("category"))  # [category]: weak -> "other"
        if quality_source(cfg) == "model":
            modalities, name = predicted, model.name
        else:  # quality from the targets, the category from the model
            modalities, name = config_modality_scores(ms, cfg), f"{targets_name}+category:{model.name}"
    else:
        modalities = config_modality_scores(ms, cfg)
        category, confidence = heuristic_category(fv)
        name = targets_name
    picture = visual_parts(fv, ms, cfg)
    if model is None or quality_source(cfg) != "model":
        modalities = dict(modalities, visual=visual_score(picture["perceived_quality"], picture["platform_factor"]))
        if picture["source"] == "model" or DERIVED_PICTURE_KEY in ms:
            name = f"{name}+picture:{picture_model_label()}"
    # A modality with nothing to judge stays null whatever the model says.
    modalities = {m: (modalities.get(m) if fv.has_modality(m) else None) for m in MODALITIES}
    evidence = modality_evidence(fv, cfg)
    overall = overall_score(modalities, cfg, evidence)
    extra = {"picture": picture if modalities["visual"] is not None else None,
             "overall_weights": {m: round(w, 4) for m, w in overall_weights(modalities, cfg, evidence).items()}}
    return Scores(overall, modalities, ms, tier_for(overall, cfg), category, confidence, name, extra)


def loss_share(ms: dict, targets: dict, key: str) -> float:
    """The share (0-1) of what its modality loses that the metric ``key`` accounts for: its factor's part of the
    product's logarithm (-log f_key / sum of -log f over the modality's measured targets, platform fit included).

    A modality's score is a product of factors, so what fixing one flaw alone gives back depends on the others: on a
    picture with ten flaws each fix alone gives back little (a 3/100 near-black clip's "too dark" alone was worth 2
    points, a *low* finding), although together they take 97. In the logarithm the product is a sum, and each
    factor's part of it splits the loss exactly (the shares add up to 1); with one flaw the share is 1. 0 when the
    metric is on target or the modality lost nothing."""
    modality = key.split(".", 1)[0]
    logs = {}
    for k, v in ms.items():
        if not k.startswith(modality + ".") or k not in targets:
            continue
        if modality == "visual" and target_group(targets[k]) == "platform_fit":
            f = misfit_factor(v)
        else:
            f = metric_factor(v, targets[k])
        logs[k] = -math.log(max(f, 1e-9))
    total = sum(logs.values())
    return logs.get(key, 0.0) / total if total > 0 else 0.0


def finding_cost(fv: FeatureVector | None, scores: Scores, cfg: dict, key: str) -> float | None:
    """The overall points the metric ``key`` costs: the larger of what fixing it alone gives the overall (the overall
    with it on its target, its metric score 1, less the overall as it is) and its ``loss_share`` of what fixing its
    whole modality gives. Both go through the same formulas as the score (the picture's parts, the picture-led
    overall), unrounded, so two flaws of one modality are told apart. The share is at least the gain of fixing the
    metric alone (a product's gain is convex in the log of a factor), so the share decides on a clip with several
    flaws and the two agree on a clip with one. With a learned picture-quality source only the fix alone counts (the
    quality targets do not make the picture's number there). None when the modality scores come from a learned
    scorer (a target's cost is not known there) or the clip has no overall score."""
    modality = key.split(".", 1)[0]
    if scores.overall is None or not str(scores.model).startswith(CONFIG_MODEL_NAME) \
            or scores.modalities.get(modality) is None:
        return None
    evidence = modality_evidence(fv, cfg)

    def overall_with(ms: dict) -> float | None:
        modalities = dict(scores.modalities)
        if modality == "visual":
            picture = visual_parts(fv, ms, cfg)
            if picture["perceived_quality"] is None and picture["platform_factor"] is None:
                return None
            factor = 1.0 if picture["platform_factor"] is None else picture["platform_factor"]
            modalities["visual"] = _visual(picture["perceived_quality"], factor)
        else:
            v = modality_value(ms, cfg, modality)
            modalities[modality] = None if v is None else 100.0 * v
        return overall_score(modalities, cfg, evidence, ndigits=None)

    ms = scores.metric_scores
    now, met = overall_with(ms), overall_with({**ms, key: 1.0})
    if now is None or met is None:
        return None
    cost = max(0.0, met - now)
    if modality != "visual" or picture_quality_source(cfg) == "targets":
        targets = cfg.get("targets", {})
        whole = overall_with({**ms, **{k: 1.0 for k in ms if k.startswith(modality + ".") and k in targets}})
        if whole is not None:
            cost = max(cost, (whole - now) * loss_share(ms, targets, key))
    return cost


#: The metric the picture-quality model gives (``engine.picture_quality.PICTURE_MOS``), judged by its own target
#: by default. Results that read it carry the model's label (name, version, digest of its file) in their stamp, so a
#: new model re-judges them.
DERIVED_PICTURE_KEY = PICTURE_MOS.key


def derive_metrics(fv: FeatureVector) -> None:
    """Write the derived metrics of ``fv`` into ``fv.values`` (see ``score``). When the picture model cannot be read
    the clip says so in an info finding (once, however often it is scored) and is judged without them."""
    for spec in DERIVED_METRICS:
        fv.values.pop(spec.key, None)
    raised = [f for f in fv.events.get("findings", []) if f.get("code") != UNAVAILABLE_CODE]
    if "findings" in fv.events:
        fv.events["findings"] = raised
    try:
        fv.values.update(derived_values(fv.values))
    except ModelError as exc:
        if fv.has_modality("visual"):
            fv.events["findings"] = raised + [{
                "modality": "visual", "severity": "info", "code": UNAVAILABLE_CODE,
                "message": f"{exc.message} The picture was judged without the target on how people would rate it.",
                "value": None, "target": None, "source": "engine/models/picture_quality.json", "points": 0.0}]


#: The visual targets whose job the picture-quality model takes over when it decides (structure and fidelity of the
#: picture: what its natural-scene statistics see). Every other target of the "quality" group (exposure, colour,
#: grain, frame rate, freezes, shake, black frames) still multiplies the perceived quality. Grain stays beside the
#: model: measured (tests/unit/test_picture_quality.py), the model alone still scores the generated clip with added
#: grain (sigma 10) above its clean source (43.0 against 37.1 with the model retrained in issue 15's flaw-pair pass;
#: 54.2 against 50.5 before it), because grain raises the MSCN variance like real detail; its grain constraints
#: cover only the flaw pairs' sources.
MODEL_PICTURE_METRICS = ("visual.sharpness", "visual.blockiness", "visual.banding_pct", "visual.bits_per_pixel",
                         "visual.detail", DERIVED_PICTURE_KEY)


def model_picture_quality(fv: FeatureVector | None, ms: dict, cfg: dict) -> float | None:
    """Perceived picture quality (0-100) from the picture-quality model trained on people's ratings
    (engine/picture_quality.py), times the factors of the quality targets it does not replace; None when the model
    cannot be used (absent, invalid, stale) or too few of its features were measured: the targets then decide."""
    from . import picture_quality

    if fv is None:
        return None
    try:
        pq = picture_quality.load().predict(fv)
    except ModelError:
        return None
    if pq is None:
        return None
    return round(pq * quality_factor_beside_model(ms, cfg), 1)


def quality_factor_beside_model(ms: dict, cfg: dict) -> float:
    """The product of the factors of the "quality" targets the picture model does not replace (1 when all pass)."""
    rest = factor_product({k: v for k, v in ms.items() if k not in MODEL_PICTURE_METRICS},
                          cfg.get("targets", {}), "visual", "quality")
    return 1.0 if rest is None else rest


def visual_factor_beside_model(ms: dict, cfg: dict) -> float:
    """What the model's picture quality (0-100) is multiplied by to give the visual score: the quality targets
    beside it, then the platform fit (``visual_score``)."""
    factor = platform_factor(ms, cfg.get("targets", {}))
    return _visual(100.0 * quality_factor_beside_model(ms, cfg), 1.0 if factor is None else factor) / 100.0


def picture_model_label() -> str:
    """``name@version`` of the shipped picture-quality model (part of the result's model stamp when it decides)."""
    from . import picture_quality

    return picture_quality.load().label


PICTURE_QUALITY_SOURCES["model"] = model_picture_quality


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
