"""The synthetic flaw pairs that failed with the picture model deciding (issue 15), one test per cause fixed.

The clips are the flaw pairs' own (engine/train/picture_quality.py ``_pair_recipes``: 360x640, 2 s, rendered in
memory by engine/train/corpus.py and run through the real extractors), scored with ``[scoring] picture_quality =
"model"``. Each flawed copy must score below its clean source and its findings must name the flaw.
"""
from __future__ import annotations

import pytest

from engine.config import load_config
from engine.extractors import metric_specs
from engine.feedback.targets import build_findings
from engine.scorer import score

#: (source, flaw, severity) of the pairs this file renders; their clean sources are rendered too.
PAIRS = (("world:1003", "freeze", 0.6), ("world:1003", "letterbox", 0.6), ("photo:grass", "letterbox", 0.6),
         ("photo:astronaut", "noise", 0.1), ("photo:astronaut", "noise", 0.35), ("photo:astronaut", "contrast", 0.6),
         ("world:1003", "compression", 0.6), ("world:1003", "downscale", 0.6), ("world:1003", "shake", 0.6))
#: The finding that must name each flaw (engine/config.toml codes).
NAMES = {"freeze": "visual.frozen", "letterbox": "visual.letterboxed", "noise": "visual.noisy",
         "contrast": "visual.low_contrast", "compression": "visual.blocky", "downscale": "visual.upscaled",
         "shake": "visual.shaky"}


@pytest.fixture(scope="session")
def pair_results():
    """(source, flaw, severity) -> (visual score, finding codes, feature values, picture breakdown) with the model
    deciding."""
    from engine.train import corpus as C
    from engine.train import picture_quality as P
    from engine.train.adapter import extract_arrays

    cfg = load_config(None, use_user_file=False)
    cfg["scoring"]["picture_quality"] = "model"
    want = {(s, f, v) for s, f, v in PAIRS} | {(s, "clean", 0.0) for s, _, _ in PAIRS}
    specs = metric_specs()
    out = {}
    for src, flaw, sev, r in P._pair_recipes():
        if (src, flaw, sev) not in want:
            continue
        frames = C.frame_stream(r, C.content_source(r, C.clean_audio(r)))
        fv = extract_arrays(frames, None, width=C.WIDTH, height=C.HEIGHT, fps=C.FPS, duration_s=C.DURATION_S,
                            config=cfg, sample_rate_hz=C.SR, options={"ocr": False})
        s = score(fv, cfg)
        assert s.extra["picture"]["source"] == "model"
        codes = {f.code for f in build_findings(fv, s, cfg, specs, C.DURATION_S)}
        out[(src, flaw, sev)] = (s.modalities["visual"], codes, dict(fv.values), s.extra["picture"])
    assert len(out) == len(want)
    return out


@pytest.mark.parametrize("src,flaw,sev", PAIRS, ids=[f"{s}-{f}-{v:g}" for s, f, v in PAIRS])
def test_flawed_copy_scores_below_its_source(pair_results, src, flaw, sev):
    visual = pair_results[(src, flaw, sev)][0]
    clean = pair_results[(src, "clean", 0.0)][0]
    assert visual < clean, (src, flaw, sev, visual, clean)


@pytest.mark.parametrize("src,flaw,sev", PAIRS, ids=[f"{s}-{f}-{v:g}" for s, f, v in PAIRS])
def test_flawed_copy_is_named(pair_results, src, flaw, sev):
    assert NAMES[flaw] in pair_results[(src, flaw, sev)][1], pair_results[(src, flaw, sev)][1]


def test_orange_suit_is_not_a_colour_cast(pair_results):
    """The astronaut photo is white-balanced; its orange suit and flag are content. The cast, read from its grey
    pixels, stays under 5 Lab units (the grey-world mean of every pixel read 25.6, a "colour cast" finding that the
    contrast copy, its colours pulled to grey, escaped), and the copy's contrast is what its findings name."""
    _, codes, v, _ = pair_results[("photo:astronaut", "clean", 0.0)]
    assert v["visual.colour_cast"] < 5.0 and "visual.colour_cast" not in codes
    _, copy_codes, cv, _ = pair_results[("photo:astronaut", "contrast", 0.6)]
    assert cv["visual.contrast"] == pytest.approx(0.52 * v["visual.contrast"], rel=0.05)  # tones pulled 48% to grey
    assert "visual.low_contrast" in copy_codes and "visual.colour_cast" not in copy_codes


def test_freeze_inside_fast_motion_is_a_freeze(pair_results):
    """The procedural world moves 17-31 levels a frame; before the fix the motion on each side of the frozen
    stretch read as two cuts against its zero scores, and the freeze as a still shot."""
    v = pair_results[("world:1003", "freeze", 0.6)][2]
    assert v["visual.frozen_pct"] == pytest.approx(36.0, abs=3.0)  # 0.6 x 0.6 of the clip


def test_slow_stepped_pan_is_not_judder_and_grain_hides_nothing(pair_results):
    """The photo source pans 15-40 px/s in whole-pixel steps (29% of its frames repeat exactly): slower than the
    ASC panning speed, so no judder, and its grain copies (which repeat no frame) lose nothing to hide."""
    for key in (("photo:astronaut", "clean", 0.0), ("photo:astronaut", "noise", 0.1)):
        _, codes, v, _ = pair_results[key]
        assert v["visual.duplicated_frames_pct"] == 0.0 and v["visual.fps"] == pytest.approx(30.0, abs=0.01)
        assert not codes & {"visual.judder", "visual.low_frame_rate"}


def test_small_clip_still_pays_for_its_bars(pair_results):
    """Every pair clip is 360x640, already at its worst resolution fit (platform fit 0 with or without bars): the
    bars cost their own share of the visual score."""
    for src in ("photo:grass", "world:1003"):
        clean = pair_results[(src, "clean", 0.0)][3]
        barred = pair_results[(src, "letterbox", 0.6)][3]
        assert clean["platform_fit"] == barred["platform_fit"] == 0.0
        assert clean["platform_factor"] == pytest.approx(0.75, abs=1e-4)
        # bars of 2 x 15% of the height: content 70%, scoring (70 - 60) / (95 - 60) = 2/7
        assert barred["platform_factor"] == pytest.approx(0.75 * (1 - 0.25 * 5 / 7), abs=0.01)


def test_world_source_is_grain_free_and_steady(pair_results):
    """The world's clean source had fixed per-pixel grain (noise_sigma 9.4: the grain target charged it, and its
    compressed, downscaled and shaken copies smoothed the grain away and scored above it) and a camera that jumped
    about (5.1% shake: the corpus drew the pan speed anew for every frame). Now it is rendered band-limited
    (PAIR_WORLD_TEXTURE_SIGMA_PX) and pans steadily; the shaken copy reads as shaken."""
    _, codes, v, _ = pair_results[("world:1003", "clean", 0.0)]
    assert v["visual.noise_sigma"] < 2.0
    assert v["visual.shake_pct"] == pytest.approx(0.13, abs=0.1)  # measured 0.13 with the steady pan
    assert not codes & {"visual.noisy", "visual.shaky", "visual.blocky", "visual.upscaled", "visual.blurry"}, codes
    assert pair_results[("world:1003", "shake", 0.6)][2]["visual.shake_pct"] > 2.5  # past the target's bad bound


def test_the_text_card_source_is_a_still_with_no_temporal_copies():
    """The still text card (corpus.text_card) is held for the whole clip, so it gets no frozen or frame-dropped
    copy (they would be the same clip, a pair no score can order), but every other flaw, and grain at each strength."""
    import numpy as np

    from engine.train import corpus as C
    from engine.train import picture_quality as P

    card = [(flaw, sev, r) for src, flaw, sev, r in P._pair_recipes() if src.startswith("card:")]
    flaws = {f for f, _, _ in card}
    assert not flaws & set(P.STILL_SOURCE_SKIPS)
    assert {"clean", "blur", "noise", "compression", "starved", "downscale", "contrast"} <= flaws
    assert sum(f == "noise" for f, _, _ in card) == 1 + len(P.PAIR_EXTRA_SEVERITIES["noise"])
    r = card[0][2]
    frame = C.content_source(r, None)
    a, b = frame(0.0), frame(1.9)
    assert a.shape == (C.HEIGHT, C.WIDTH, 3) and np.array_equal(a, b)
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 3  # panels and text on the background, not a blank
