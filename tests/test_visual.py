"""Visual metrics against known answers: estimator unit tests on arrays, and one base clip with flawed copies."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import visual_helpers as vh
from engine.extractors.visual import image as v
from engine.extractors.visual.faces import detect_faces
from engine.extractors.visual.temporal import CUT_MIN_SCORE, detect_cuts


def _texture(h=360, w=360, slope=vh.TEXTURE_SLOPE, seed=0, amp=38.0) -> np.ndarray:
    """Grain-free 1/f**slope luma texture around mid-grey, float32."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    r = np.sqrt(fx * fx + fy * fy)
    r[0, 0] = 1
    spec = np.fft.rfft2(rng.standard_normal((h, w))) / r**slope
    spec[0, 0] = 0
    t = np.fft.irfft2(spec, s=(h, w))
    return (128 + amp * (t - t.mean()) / t.std()).astype(np.float32)


# --- estimators on arrays ---------------------------------------------------------------------------------------


def test_sharpness_falls_monotonically_with_blur():
    img = np.clip(_texture(), 0, 255).astype(np.uint8)
    scores = [v.sharpness_score(v.sharpness_ratio(cv2.GaussianBlur(img, (0, 0), s) if s else img))
              for s in (0, 0.5, 1.0, 1.5, 2.0, 3.0)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    assert scores[0] > 0.6 and scores[-1] < 0.2


@pytest.mark.parametrize("sigma", [3.0, 6.0, 12.0])
def test_noise_sigma_is_estimated_within_15_percent(sigma):
    """Known Gaussian noise on a frame that is half smooth texture, half flat: estimated within 15%."""
    base = _texture(360, 640, slope=1.6)
    base[:, :320] = 100.0  # a flat wall
    noisy = np.clip(base + np.random.default_rng(1).normal(0, sigma, base.shape), 0, 255).astype(np.uint8)
    est = v.noise_sigma(noisy)
    assert est == pytest.approx(sigma, rel=0.15)


def test_fine_texture_is_not_read_as_noise():
    """Strong fine texture (1/f, full of pixel-level detail) over half the frame beside a smooth gradient, no noise:
    the estimator keeps to the flattest blocks and reads it clean, while the same texture with sigma-6 grain on
    the whole frame reads as noise. (Limitation: a frame covered edge to edge in pixel-fine texture reads as
    noisy, since one frame cannot tell static texture from grain.)"""
    img = _texture(360, 640, slope=1.0)
    img[:, :320] = np.linspace(80, 140, 320, dtype=np.float32)[None, :]
    clean = np.clip(img, 0, 255).astype(np.uint8)
    assert v.noise_sigma(clean) < 1.0
    grain = np.clip(img + np.random.default_rng(4).normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    assert v.noise_sigma(grain) == pytest.approx(6, rel=0.15)


def test_upscaled_frame_has_less_real_detail():
    img = np.clip(_texture(640, 360, slope=1.0), 0, 255).astype(np.uint8)
    up = cv2.resize(cv2.resize(img, (90, 160), interpolation=cv2.INTER_AREA), (360, 640),
                    interpolation=cv2.INTER_CUBIC)
    native, upscaled = v.effective_short_side(img), v.effective_short_side(up)
    assert native == pytest.approx(360, rel=0.05)
    assert upscaled < 150  # a 90 px source: well under half the nominal 360


def test_blockiness_finds_8px_steps():
    img = np.clip(_texture(320, 320, slope=1.6), 0, 255)
    blocky = cv2.resize(cv2.resize(img, (40, 40), interpolation=cv2.INTER_AREA), (320, 320),
                        interpolation=cv2.INTER_NEAREST)  # constant 8x8 blocks
    assert v.blockiness(img.astype(np.uint8)) < 5
    assert v.blockiness(blocky.astype(np.uint8)) > 40


def test_banding_on_flat_steps_not_on_dithered_gradient():
    ramp = np.tile(np.linspace(60, 110, 640, dtype=np.float32), (360, 1))
    banded = np.round(ramp / 4) * 4  # coarse steps: 12 px plateaus
    dithered = ramp + np.random.default_rng(2).normal(0, 1.0, ramp.shape)
    assert v.banding_pct(banded.astype(np.uint8)) > 60
    assert v.banding_pct(np.clip(dithered, 0, 255).astype(np.uint8)) < 10


def test_colourfulness_grey_vs_colour():
    grey = np.full((90, 160, 3), 128, np.uint8)
    colour = np.zeros((90, 160, 3), np.uint8)
    colour[:, :80] = (220, 40, 40)
    colour[:, 80:] = (40, 60, 220)
    c_grey, _, cast_grey = v.colour_stats(grey)
    c_col, sat, _ = v.colour_stats(colour)
    assert c_grey == pytest.approx(0, abs=0.5) and cast_grey == pytest.approx(0, abs=1)
    assert c_col > 59 and sat > 70  # "highly colourful" on Hasler & Suesstrunk's scale
    tinted = np.clip(np.full((90, 160, 3), 128.0) * (1.25, 1.0, 0.75), 0, 255).astype(np.uint8)
    assert v.colour_stats(tinted)[2] > 15  # past the colour-cast target's good bound


def test_bars_black_and_blurred():
    pic = np.clip(_texture(640, 360), 0, 255).astype(np.uint8)
    black = pic.copy()
    black[:100], black[-120:] = 0, 0
    bars, kind = v.frame_bars(black)
    assert (bars["top"], bars["bottom"], bars["left"], bars["right"], kind) == (100, 120, 0, 0, "black")
    soft = cv2.GaussianBlur(pic, (0, 0), 12)
    blurred = pic.copy()
    blurred[:150], blurred[-150:] = soft[:150], soft[-150:]  # an editor's blurred fill around a centred picture
    bars, kind = v.frame_bars(blurred)
    assert abs(bars["top"] - 150) <= 4 and abs(bars["bottom"] - 150) <= 4 and kind == "blurred"
    sky = pic.copy()
    sky[:150] = soft[:150]  # a soft area on one side only (a clear sky) is picture, not a bar
    assert v.frame_bars(sky)[0]["top"] == 0


def test_cut_detection_on_known_scores():
    rng = np.random.default_rng(3)
    scores = np.abs(rng.normal(0.05, 0.02, 90))
    scores[[30, 61]] = 0.9
    times = np.arange(90) / 30
    assert detect_cuts(scores, times) == [30, 61]
    scores[45] = CUT_MIN_SCORE * 0.9  # below the floor: motion, not a cut
    assert detect_cuts(scores, times) == [30, 61]


def test_face_is_found_on_a_portrait():
    skdata = pytest.importorskip("skimage.data")
    img = skdata.astronaut()  # Eileen Collins' NASA portrait, shipped with scikit-image
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    faces = detect_faces(gray)
    assert faces, "no face found"
    x, y, w, h = max(faces, key=lambda b: b[2] * b[3])
    # Her face is around x 0.33-0.55, y 0.06-0.40 of the 512x512 picture.
    assert 0.3 < x + w / 2 < 0.6 and 0.1 < y + h / 2 < 0.4
    assert not detect_faces(np.clip(_texture(640, 360), 0, 255).astype(np.uint8))


# --- clips: the base and its flawed copies ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def visual_set(clips):
    """name -> ClipResult (visual extractors only) for the base clip and every flawed copy."""
    out = {}
    for name in ["base", *vh.FLAWS]:
        out[name] = vh.visual_result(clips(f"vis_{name}", **vh.recipe(name)))
    return out


def _m(result, key):
    return result.features.values[f"visual.{key}"]


def test_base_clip_is_clean(visual_set):
    base = visual_set["base"]
    # Flaws compound multiplicatively (engine/scorer.py); the synthetic base loses a few points to banding in its
    # encoder-flattened gradients (~92%, weight 0.5) and slight blockiness, nothing else.
    assert base.scores.modalities["visual"] >= 85
    fv = base.features
    assert fv.events["visual.cuts_s"] == pytest.approx([1.0, 2.0], abs=1e-3)  # cuts at frames 30 and 60, exactly
    assert fv.events["visual.shots"] == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    assert fv.events["visual.frozen"] == []
    assert _m(base, "fps") == pytest.approx(30, abs=0.01)
    assert _m(base, "content_area_pct") == 100
    for key in ("visual.sharpness", "visual.brightness", "visual.motion_energy", "visual.shake_pct"):
        assert len(fv.series[key].values) == 3


@pytest.mark.parametrize("flaw", list(vh.FLAWS))
def test_flawed_copy_scores_lower_and_names_the_flaw(visual_set, flaw):
    base, bad = visual_set["base"], visual_set[flaw]
    assert bad.scores.modalities["visual"] < base.scores.modalities["visual"]
    top = next(f for f in bad.findings if f.modality == "visual")
    assert top.code in vh.FLAWS[flaw][1], top.message
    assert top.source and top.target is not None and top.value is not None


def test_letterbox_bars_found_to_a_few_pixels(visual_set):
    bars = visual_set["letterboxed"].features.events["visual.bars"]
    assert abs(bars["top"] - vh.LETTERBOX_BAR_PX) <= 3 and abs(bars["bottom"] - vh.LETTERBOX_BAR_PX) <= 3
    assert bars["left"] == bars["right"] == 0 and bars["kind"] == "black"


def test_frozen_stretch_is_located(visual_set):
    frozen = visual_set["frozen"].features.events["visual.frozen"]
    assert len(frozen) == 1
    start, end = frozen[0]
    # The picture of frame 36 (1.2 s) stays until frame 66 (2.2 s); the encoder may refine the first repeat.
    assert start == pytest.approx(vh.FREEZE_START_FRAME / vh.FPS, abs=0.1)
    assert end == pytest.approx(vh.FREEZE_END_FRAME / vh.FPS, abs=0.04)
    assert _m(visual_set["frozen"], "frozen_pct") == pytest.approx(100 / 3, abs=4)


def test_shaken_clip_scores_worse_on_shake(visual_set):
    assert _m(visual_set["shaken"], "shake_pct") > 3 * _m(visual_set["base"], "shake_pct")
    assert _m(visual_set["shaken"], "shake_pct") > 1.2


def test_upscaled_clip_has_less_detail(visual_set):
    assert _m(visual_set["upscaled"], "detail") < 0.4 < 0.9 < _m(visual_set["base"], "detail")


def test_noisy_clip_noise_estimate(visual_set):
    # Sigma 10 noise through H.264 at 8 Mb/s (the encoder removes some): read 7-11 levels; the base under 3.5.
    assert 7.0 <= _m(visual_set["noisy"], "noise_sigma") <= 11.0
    assert _m(visual_set["base"], "noise_sigma") < 3.5


def test_low_frame_rate_and_hook(visual_set):
    assert _m(visual_set["fps8"], "fps") == pytest.approx(8, abs=0.05)
    base = visual_set["base"]
    assert _m(base, "hook_cut_count") == 2
    assert _m(base, "hook_change") > 50  # two cuts in the first 3 s change nearly the whole picture
    assert _m(base, "hook_face") == 0


def test_dark_clip_finding_cites_value_target_and_advice(visual_set):
    top = next(f for f in visual_set["dark"].findings if f.modality == "visual")
    assert top.code == "visual.too_dark"
    assert 30 < top.value < 50 and "raise exposure" in top.message.lower()
