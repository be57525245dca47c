"""How the scorer combines: perceived picture quality apart from platform fit, and modalities into the overall.

Known answers on feature vectors built by hand (no media): the formulas of engine/scorer.py and the properties
they promise (README "How scores are made, honestly").
"""
from __future__ import annotations

import copy
import itertools

import pytest
from scipy.stats import spearmanr

from engine import scorer
from engine.config import load_config, validate
from engine.errors import ConfigError
from engine.features import FeatureVector
from engine.feedback import build_findings


@pytest.fixture(scope="module")
def cfg():
    return load_config(use_user_file=False)


def _fv(**values) -> FeatureVector:
    fv = FeatureVector()
    for k, v in values.items():
        fv.set(k.replace("__", "."), v)
    return fv


#: A clean picture at the preset's size: every scored visual target met.
CLEAN_PICTURE = dict(visual__sharpness=0.7, visual__brightness=120.0, visual__contrast=45.0, visual__detail=1.0,
                     visual__noise_sigma=1.0, visual__blockiness=2.0, visual__resolution_pct=100.0,
                     visual__aspect_ratio=0.5625, visual__content_area_pct=100.0, visual__fps=30.0)
#: Sound that carries speech and meets every target; sound that carries nothing (wind) with flaws.
CLEAN_SPEECH = dict(audio__loudness_lufs=-14.0, audio__true_peak_dbtp=-2.0, audio__clipped_pct=0.0,
                    audio__snr_db=35.0, audio__speech_presence_pct=80.0, audio__music_presence_pct=0.0)
NOISY_AMBIENT = dict(audio__loudness_lufs=-28.0, audio__true_peak_dbtp=-2.0, audio__clipped_pct=0.0,
                     audio__snr_db=12.0, audio__speech_presence_pct=0.0, audio__music_presence_pct=0.0)
#: On-screen text but no caption (what OCR finds on many real clips).
NO_CAPTION = dict(text__caption_present=0.0, text__hashtag_count=0.0, text__unsafe_zone_text_pct=0.0)


def test_groups_are_declared_in_the_config(cfg):
    groups = {k: scorer.target_group(t) for k, t in cfg["targets"].items() if k.startswith("visual.")}
    assert {k for k, g in groups.items() if g == "platform_fit"} == {
        "visual.resolution_pct", "visual.aspect_ratio", "visual.content_area_pct", "visual.bits_per_pixel"}
    assert groups["visual.sharpness"] == groups["visual.frozen_pct"] == "quality"


def test_bad_group_and_picture_quality_source_are_refused(cfg):
    bad = copy.deepcopy(cfg)
    bad["targets"]["visual.aspect_ratio"]["group"] = "platform"
    with pytest.raises(ConfigError, match=r'targets."visual.aspect_ratio".group'):
        validate(bad)
    bad = copy.deepcopy(cfg)
    bad["scoring"]["picture_quality"] = 3
    with pytest.raises(ConfigError, match="picture_quality"):
        validate(bad)
    bad = copy.deepcopy(cfg)
    bad["targets"]["visual.duplicated_frames_pct"]["covered_by"] = "visual.fsp"  # a typo is refused, not ignored
    with pytest.raises(ConfigError, match=r'covered_by.*must name another target.*visual\.fps'):
        validate(bad)
    bad = copy.deepcopy(cfg)
    bad["scoring"]["picture_quality"] = "crystal-ball"
    with pytest.raises(ConfigError, match="crystal-ball"):
        scorer.score(_fv(**CLEAN_PICTURE), bad)


def test_visual_score_formula_known_answers():
    assert scorer.PLATFORM_FIT_MAX_SHARE == 0.25
    assert scorer.misfit_factor(0.6) == pytest.approx(0.9)
    assert scorer.visual_score(80.0, scorer.misfit_factor(0.6)) == 72.0  # 80 * (1 - 0.25 * 0.4)
    assert scorer.visual_score(80.0, scorer.misfit_factor(1.0)) == 80.0
    assert scorer.visual_score(80.0, scorer.misfit_factor(0.0)) == 60.0  # a misfit at its worst takes a quarter
    assert scorer.visual_score(None, scorer.misfit_factor(0.6)) == 90.0
    assert scorer.visual_score(80.0, None) == 80.0
    assert scorer.visual_score(None, None) is None


def test_each_platform_misfit_costs_its_own_share(cfg):
    """Misfits compound: letterbox bars on a clip already at its worst resolution still cost (issue 15: with the
    worst misfit alone deciding, a letterboxed copy of a 360x640 clip scored above its source)."""
    small = dict(CLEAN_PICTURE, visual__resolution_pct=100 * 360 / 1080)  # below bad (40%): score 0
    barred = dict(small, visual__content_area_pct=70.0)  # (70 - 60) / (95 - 60) = 2/7
    a, b = scorer.score(_fv(**small), cfg), scorer.score(_fv(**barred), cfg)
    assert a.extra["picture"]["platform_fit"] == b.extra["picture"]["platform_fit"] == 0.0
    assert a.modalities["visual"] == pytest.approx(75.0, abs=0.06)
    assert b.modalities["visual"] == pytest.approx(75.0 * (1 - 0.25 * 5 / 7), abs=0.06)
    assert scorer.visual_score(80.0, 0.5) == 40.0


def test_fit_never_reverses_a_clear_perceived_gap():
    """Whatever one misfit's score, a picture perceived more than 1/(1 - 0.25) times better ranks above."""
    for p_low, fit_a, fit_b in itertools.product((10.0, 40.0, 74.0), (0.0, 50.0, 100.0), (0.0, 50.0, 100.0)):
        p_high = p_low / (1 - scorer.PLATFORM_FIT_MAX_SHARE) + 0.5
        assert (scorer.visual_score(p_high, scorer.misfit_factor(fit_a / 100))
                > scorer.visual_score(p_low, scorer.misfit_factor(fit_b / 100)))


def test_landscape_small_clip_keeps_its_perceived_quality(cfg):
    """A clean 960x540 landscape clip: perceived quality 100, platform fit low, findings say platform fit."""
    values = dict(CLEAN_PICTURE, visual__aspect_ratio=960 / 540, visual__resolution_pct=50.0)
    fv = _fv(**values)
    s = scorer.score(fv, cfg)
    assert s.extra["picture"]["perceived_quality"] == 100.0
    fit = s.extra["picture"]["platform_fit"]
    # the headline fit is the worst target: aspect 1.78 is past bad_high (1.0), score 0; resolution 50% of 1080
    # scores 1/6. Each misfit takes its own share: 100 x (1 - 0.25 x 1) x (1 - 0.25 x 5/6) = 59.375.
    assert fit == 0.0
    assert s.extra["picture"]["platform_factor"] == pytest.approx(0.75 * (1 - 0.25 * 5 / 6), abs=1e-4)
    assert s.modalities["visual"] == pytest.approx(100 * 0.75 * (1 - 0.25 * 5 / 6), abs=0.06)
    findings = build_findings(fv, s, cfg, {}, 8.0)
    fit_findings = [f for f in findings if f.code in ("visual.not_vertical", "visual.low_resolution")]
    assert len(fit_findings) == 2
    assert all(f.group == "platform_fit" and f.message.startswith("Platform fit, not picture quality") for f in
               fit_findings)


def test_finding_points_follow_the_visual_formula(cfg):
    """A finding's points are its share of what the overall loses, under the split formula: one flaw costs what its
    fix gives back; two flaws split what fixing both gives back by their factors' logarithms, each at least what its
    own fix alone gives."""
    def overall(**changes):
        return scorer.score(_fv(**dict(CLEAN_PICTURE, **changes)), cfg).overall

    fv = _fv(**dict(CLEAN_PICTURE, visual__sharpness=0.3))
    s = scorer.score(fv, cfg)
    blurry = next(f for f in build_findings(fv, s, cfg, {}, 8.0) if f.code == "visual.blurry")
    assert blurry.points == pytest.approx(overall() - s.overall, abs=0.15)  # two roundings to 0.1

    flawed = dict(visual__sharpness=0.3, visual__aspect_ratio=1.0)
    fv = _fv(**dict(CLEAN_PICTURE, **flawed))
    s = scorer.score(fv, cfg)
    findings = {f.code: f for f in build_findings(fv, s, cfg, {}, 8.0)}
    both = overall() - s.overall
    assert findings["visual.blurry"].points + findings["visual.not_vertical"].points == pytest.approx(both, abs=0.15)
    for code, key, fixed in (("visual.blurry", "visual__sharpness", 0.7),
                             ("visual.not_vertical", "visual__aspect_ratio", 0.5625)):
        alone = overall(**dict(flawed, **{key: fixed})) - s.overall
        assert alone < findings[code].points < both


def test_the_worst_of_many_flaws_reads_high(cfg):
    """A near-black picture that is also soft, shaky, flat, noisy, choppy, small and landscape (visual score about
    10): fixing the darkness alone gives back under 6 points (the other flaws still hold the product down; the old
    rule called it "medium"), yet it is the heaviest of flaws that together take about 90. It reads high and ranks
    first; the light ones stay below high."""
    others = dict(visual__sharpness=0.4, visual__shake_pct=3.4, visual__contrast=13.0, visual__aspect_ratio=16 / 9,
                  visual__detail=0.4, visual__resolution_pct=50.0, visual__noise_sigma=6.0, visual__fps=15.0)
    fv = _fv(**dict(CLEAN_PICTURE, visual__brightness=12.0, **others))
    s = scorer.score(fv, cfg)
    assert s.modalities["visual"] < 15
    assert scorer.score(_fv(**dict(CLEAN_PICTURE, **others)), cfg).overall - s.overall < 6
    findings = [f for f in build_findings(fv, s, cfg, {}, 8.0) if f.severity != "info"]
    dark = next(f for f in findings if f.code == "visual.too_dark")
    assert dark.severity == "high" and dark.points == max(f.points for f in findings)
    assert findings[0].points == dark.points
    assert next(f for f in findings if f.code == "visual.noisy").severity != "high"
    assert sum(f.points for f in findings) == pytest.approx(100 - s.overall, abs=0.2)


def test_repeats_that_lower_the_frame_rate_are_charged_once(cfg):
    """A 25 fps file whose frames repeat 40% of the time shows 15 pictures a second: the frame-rate finding names
    and charges the repeats, the judder target (covered_by the frame rate) does not charge them again. At a distinct
    rate that meets its target (24 fps film in a 30 fps timeline: 20% repeats) judder is the finding."""
    def codes_and_visual(**changes):
        fv = _fv(**dict(CLEAN_PICTURE, **changes))
        s = scorer.score(fv, cfg)
        return {f.code for f in build_findings(fv, s, cfg, {}, 8.0)}, s.modalities["visual"]

    codes, choppy = codes_and_visual(visual__fps=15.0, visual__duplicated_frames_pct=40.0)
    assert "visual.low_frame_rate" in codes and "visual.judder" not in codes
    assert choppy == codes_and_visual(visual__fps=15.0)[1]  # the repeats cost what the low rate costs, once
    codes, pulldown = codes_and_visual(visual__fps=24.0, visual__duplicated_frames_pct=20.0)
    assert "visual.judder" in codes and "visual.low_frame_rate" not in codes
    assert pulldown < codes_and_visual(visual__fps=24.0)[1]


def test_evidence_of_each_modality(cfg):
    ev = scorer.modality_evidence(_fv(**CLEAN_PICTURE, **CLEAN_SPEECH, text__caption_present=1.0))
    assert ev == {"visual": 1.0, "audio": 1.0, "text": 1.0}
    ev = scorer.modality_evidence(_fv(**NOISY_AMBIENT, **NO_CAPTION))
    assert ev["audio"] == 0.0 and ev["text"] == 0.0
    assert scorer.modality_evidence(_fv(audio__speech_presence_pct=10.0, audio__music_presence_pct=25.0))["audio"] == 0.5
    assert scorer.modality_evidence(_fv(audio__loudness_lufs=-14.0))["audio"] == 1.0  # presence not measured


def test_overall_ranks_as_the_picture_when_sound_and_text_are_unremarkable(cfg):
    """Pictures of graded sharpness with (a) clean speech, varying a little, and no caption, (b) noisy ambient
    sound: the overall ranks the clips exactly as the visual score does."""
    sharp = (0.26, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
    for sound in ("speech", "ambient"):
        visual, overall = [], []
        for i, sh in enumerate(sharp):
            audio = dict(CLEAN_SPEECH, audio__snr_db=26.0 + i) if sound == "speech" else NOISY_AMBIENT
            s = scorer.score(_fv(**dict(CLEAN_PICTURE, visual__sharpness=sh), **audio, **NO_CAPTION), cfg)
            assert s.modalities["text"] is not None and s.modalities["text"] < 60  # judged, shown ...
            assert s.extra["overall_weights"]["text"] == 0.0  # ... but a missing caption is not a picture penalty
            visual.append(s.modalities["visual"])
            overall.append(s.overall)
        assert overall == visual  # nothing remarkable in the sound (or it carries nothing): the picture's score
        assert spearmanr(visual, overall)[0] == pytest.approx(1.0)
    # The missing caption is still a finding.
    fv = _fv(**CLEAN_PICTURE, **CLEAN_SPEECH, **NO_CAPTION)
    assert "text.no_caption" in {f.code for f in build_findings(fv, scorer.score(fv, cfg), cfg, {}, 8.0)}


def test_remarkable_sound_and_captions_still_count(cfg):
    """Clipped speech lowers the overall; so does a weak caption; a clean picture's overall is its full mean."""
    clean = scorer.score(_fv(**CLEAN_PICTURE, **CLEAN_SPEECH, text__caption_present=1.0), cfg)
    assert clean.overall == 100.0
    clipped = scorer.score(_fv(**CLEAN_PICTURE, **dict(CLEAN_SPEECH, audio__clipped_pct=2.0),
                               text__caption_present=1.0), cfg)
    w = cfg["scoring"]["weights"]
    assert clipped.modalities["audio"] == 47.5  # clipping at its worst: 1 - 0.15 * 3.5
    # audio under 60 weighs fully, the clean caption (100) weighs nothing
    assert clipped.overall == pytest.approx((w["visual"] * 100 + w["audio"] * 47.5) / (w["visual"] + w["audio"]),
                                            abs=0.06)
    half = scorer.score(_fv(**CLEAN_PICTURE, **dict(CLEAN_SPEECH, audio__clipped_pct=1.05),
                            text__caption_present=1.0), cfg)
    a = half.modalities["audio"]  # 100 * (1 - 0.525 / 2) = 73.75: half way from 90 to 60, so half its weight
    assert a == pytest.approx(73.8, abs=0.06)
    r = (90 - a) / 30
    assert half.overall == pytest.approx((w["visual"] * 100 + r * w["audio"] * a) / (w["visual"] + r * w["audio"]),
                                         abs=0.06)
    assert clipped.overall < half.overall < 100
    weak_caption = scorer.score(_fv(**CLEAN_PICTURE, **CLEAN_SPEECH, text__caption_present=1.0,
                                    text__hashtag_count=0.0, text__caption_chars=3.0), cfg)
    assert weak_caption.modalities["text"] < scorer.UNREMARKABLE_SCORE and weak_caption.overall < 100


def test_a_better_sound_or_caption_never_lowers_the_overall(cfg):
    """Over a grid of scores with full evidence: raising the sound's or the text's score never lowers the overall,
    which is never above the picture's. The plain weighted mean gave a real clip with a picture of 8.5 and sound of
    77.6 an overall of 25.3, and 9.1 once its sound read 89.7 (its weight shrinks towards 90)."""
    ev = {"visual": 1.0, "audio": 1.0, "text": 1.0}
    grid = [float(x) for x in range(0, 101, 5)]
    for v in grid:
        for other in grid:
            for moving in ("audio", "text"):
                fixed = "text" if moving == "audio" else "audio"
                seq = [scorer.overall_score({"visual": v, moving: x, fixed: other}, cfg, ev) for x in grid]
                assert all(b >= a - 0.1 for a, b in zip(seq, seq[1:])), (v, moving, other, seq)  # 0.1: rounding
                assert all(o <= v for o in seq), (v, moving, other, seq)
    for sound in (77.6, 89.7):
        assert scorer.overall_score({"visual": 8.5, "audio": sound, "text": None}, cfg, ev) == 8.5


def test_overall_with_nothing_weighing_falls_back_to_plain_weights(cfg):
    """Sound that carries nothing and no picture (an audio-only file of wind): the overall is the audio score."""
    s = scorer.score(_fv(**NOISY_AMBIENT), cfg)
    assert s.modalities["visual"] is None and s.overall == s.modalities["audio"]


def test_without_a_picture_a_better_sound_or_caption_never_lowers_the_overall(cfg):
    """An audio-only file with a caption: the overall is the weighted mean of sound and text, and a better score in
    either never lowers it. With the weights shrinking as a score neared 90, sound 60 and text 30 gave 45 and sound
    85 with the same text gave 38."""
    ev = {"visual": 1.0, "audio": 1.0, "text": 1.0}
    grid = [float(x) for x in range(0, 101, 5)]
    for other in grid:
        for moving in ("audio", "text"):
            fixed = "text" if moving == "audio" else "audio"
            seq = [scorer.overall_score({"visual": None, moving: x, fixed: other}, cfg, ev) for x in grid]
            assert all(b >= a - 0.1 for a, b in zip(seq, seq[1:])), (moving, other, seq)
            assert all(min(x, other) - 0.1 <= o <= max(x, other) + 0.1 for x, o in zip(grid, seq))
    w = cfg["scoring"]["weights"]
    assert scorer.overall_score({"visual": None, "audio": 85.0, "text": 30.0}, cfg, ev) == pytest.approx(
        (w["audio"] * 85 + w["text"] * 30) / (w["audio"] + w["text"]), abs=0.05)


def test_a_black_and_white_picture_is_not_dull_colour_but_a_faded_one_is(cfg):
    """Colourfulness under the target's ``exempt_below`` (no colour at all: a black-and-white clip, a look chosen)
    earns full points and no finding; a faded picture that keeps a little colour is still charged and named."""
    def judged(colourfulness):
        fv = _fv(**CLEAN_PICTURE, visual__colourfulness=colourfulness)
        s = scorer.score(fv, cfg)
        return {f.code for f in build_findings(fv, s, cfg, {}, 8.0)}, s.modalities["visual"]

    grey_codes, grey = judged(0.4)
    faded_codes, faded = judged(4.0)
    vivid_codes, vivid = judged(30.0)
    assert "visual.dull_colour" not in grey_codes and grey == vivid
    assert "visual.dull_colour" in faded_codes and faded < vivid
    assert scorer.metric_score(1.99, {"kind": "min", "good": 20, "bad": 5, "exempt_below": 2.0}) == 1.0
    assert scorer.metric_score(2.0, {"kind": "min", "good": 20, "bad": 5, "exempt_below": 2.0}) == 0.0
    bad = copy.deepcopy(cfg)
    bad["targets"]["visual.colourfulness"]["exempt_below"] = "grey"
    with pytest.raises(ConfigError):
        validate(bad)


def test_a_finding_costs_what_fixing_it_gives_the_overall(cfg):
    """A finding's points (its severity and rank) are the overall points fixing it gives, through the same
    picture-led overall as the score: realclip dover_eWgy (overall 6.4) listed its picture flaws as "low" (each a
    weight share of a tiny product) below a true peak of +0.03 dBTP on a sound that scored 90 (fixing it changes
    nothing). Checked against scoring the clip again with the flaw fixed."""
    from engine import pipeline
    from engine.extractors import metric_specs
    from engine.media import MediaInfo

    info = MediaInfo(path="x.mp4", container="mp4", size_bytes=1, duration_s=10.0, bitrate_bps=None,
                     has_video=True, has_audio=True, width=1080, height=1920)
    base = {"visual.sharpness": 0.3, "visual.brightness": 120.0, "audio.loudness_lufs": -14.0,
            "audio.true_peak_dbtp": 0.5, "audio.speech_presence_pct": 100.0}

    def evaluated(**change):
        return pipeline.evaluate("x.mp4", info, _fv(**{**base, **change}), cfg)

    r = evaluated()
    assert r.scores.modalities["audio"] > r.scores.modalities["visual"]
    found = {f.code: f for f in r.findings}
    blur, peak = found["visual.blurry"], found["audio.peaks_too_hot"]
    sharp = evaluated(**{"visual.sharpness": 0.9})
    assert blur.points == pytest.approx(sharp.scores.overall - r.scores.overall, abs=0.11)
    assert blur.points >= 6.0 and blur.severity == "high"
    limited = evaluated(**{"audio.true_peak_dbtp": -2.0})
    assert limited.scores.overall == r.scores.overall  # a sound above the picture: the overall follows the picture
    assert peak.points == 0 and peak.severity == "low"
    ranked = [f.code for f in r.findings]
    assert ranked.index("visual.blurry") < ranked.index("audio.peaks_too_hot")
