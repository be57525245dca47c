"""Visual metrics against known answers: estimator unit tests on arrays, and one base clip with flawed copies."""
from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import visual_helpers as vh
from engine import synth
from engine.extractors.visual import image as v
from engine.extractors.visual.faces import detect_faces
from engine.extractors.visual import temporal
from engine.extractors.visual.temporal import CUT_MIN_SCORE, detect_cuts, freeze_runs
from engine.feedback import opinion_codes
from engine.pipeline import evaluate


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


def test_grain_is_not_read_as_sharpness():
    """A soft picture (1/f texture blurred by 1.5 px) with grain of sigma 4 and 8 added: read with the grain taken
    out (as the extractor does, from its own grain estimate), its sharpness stays within 0.05 of the clean one's;
    read raw, the grain fills the finest octave and the picture reads far sharper (the flaw pairs' light-grain
    copies of a soft photo scored above their source that way)."""
    soft = cv2.GaussianBlur(_texture(360, 640), (0, 0), 1.5)
    clean = np.clip(soft, 0, 255).astype(np.uint8)
    base = v.sharpness_score(v.sharpness_ratio(clean, noise_sigma_levels=v.noise_sigma(clean)))
    for sigma in (4.0, 8.0):
        grain = np.clip(soft + np.random.default_rng(2).normal(0, sigma, soft.shape), 0, 255).astype(np.uint8)
        raw = v.sharpness_score(v.sharpness_ratio(grain))
        read = v.sharpness_score(v.sharpness_ratio(grain, noise_sigma_levels=v.noise_sigma(grain)))
        assert read == pytest.approx(base, abs=0.05), (sigma, base, read)
        assert raw > base + 0.15, (sigma, base, raw)


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


def test_banding_not_on_flat_graphics_beside_texture():
    """Solid shapes and text boxes are flat by design; the blurred shadow of their hard edges is not a gradient
    (the clean demo clip read 93% banding from them before BANDING_EDGE_LEVELS)."""
    img = np.clip(128 + np.random.default_rng(0).normal(0, 20, (640, 360)), 0, 255).astype(np.uint8)
    for x, y, w, h, level in ((40, 60, 200, 90, 20), (60, 300, 120, 120, 200), (200, 450, 140, 160, 90)):
        img[y:y + h, x:x + w] = level
    assert v.banding_pct(img) < 10
    # The same flat shapes over a coarsely banded gradient still leave the bands measured.
    ramp = np.tile(np.linspace(60, 110, 640, dtype=np.float32)[:, None], (1, 360))
    banded = (np.round(ramp / 4) * 4).astype(np.uint8)
    banded[40:100, 20:80] = 230
    assert v.banding_pct(banded) > 60


def test_colourfulness_grey_vs_colour():
    grey = np.full((90, 160, 3), 128, np.uint8)
    colour = np.zeros((90, 160, 3), np.uint8)
    colour[:, :80] = (220, 40, 40)
    colour[:, 80:] = (40, 60, 220)
    c_grey, _, cast_grey = v.colour_stats(grey)
    c_col, sat, _ = v.colour_stats(colour)
    assert c_grey == pytest.approx(0, abs=0.5)
    assert np.isnan(cast_grey)  # a flat frame holds no grey pixel with contrast: the cast is not measured
    assert c_col > 59 and sat > 70  # "highly colourful" on Hasler & Suesstrunk's scale


# --- colour cast: the light's colour read from grey pixels, not the content's colour ---------------------------


def _neutral_scene(*, dark: bool = False) -> np.ndarray:
    """A 320x180 RGB frame (the colour analysis size): grey 1/f texture (mid-grey, or dark: luma ~20-100) with a
    large saturated orange disc (40% of the frame, shaded 40-100%) on it; white-balanced (grey is R = G = B)."""
    t = _texture(320, 180, seed=3, amp=30.0)
    if dark:
        t = 0.5 * t - 10.0
    img = np.repeat(np.clip(t, 0, 255)[..., None], 3, axis=2)
    yy, xx = np.mgrid[:320, :180]
    disc = (yy - 170) ** 2 + (xx - 90) ** 2 < 75 ** 2
    shade = np.clip(1.0 - (yy - 170 + xx - 90) / 212.0 * 0.4, 0.4, 1.0)
    img[disc] = np.array([235.0, 110.0, 25.0])[None, :] * shade[disc][:, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _white_balance(rgb: np.ndarray, k: float) -> np.ndarray:
    """A warm white-balance error: red gained by 1 + k, blue by 1 - k (green kept)."""
    return np.clip(rgb.astype(np.float32) * (1.0 + k, 1.0, 1.0 - k), 0, 255).astype(np.uint8)


def _offset(rgb: np.ndarray, k: float) -> np.ndarray:
    """A cool tint: -k levels on red, +k on blue."""
    return np.clip(rgb.astype(np.float32) + (-k, 0.0, k), 0, 255).astype(np.uint8)


def _grey_world_chroma(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Distance from grey (Lab units) of the mean CIELAB a*, b* over ``mask``: the cast's known answer when the
    mask holds the scene's grey surfaces."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float64)
    return float(np.hypot(lab[..., 1][mask].mean() - 128, lab[..., 2][mask].mean() - 128))


@pytest.mark.parametrize("dark", [False, True], ids=["grey-background", "dark-background"])
def test_colourful_scene_reads_no_cast(dark):
    """A saturated orange object over 40% of a white-balanced frame: its colour is content, not a cast. The
    grey-world mean of the whole frame (BYTEME's measure before issue 15) reads it as one, 20+ Lab units."""
    img = _neutral_scene(dark=dark)
    everything = np.ones(img.shape[:2], bool)
    assert _grey_world_chroma(img, everything) > 20  # the content is colourful enough to fool grey-world
    assert v.colour_cast(img) == pytest.approx(0.0, abs=1.5)


@pytest.mark.parametrize("dark", [False, True], ids=["grey-background", "dark-background"])
def test_cast_on_a_colourful_scene_grows_with_the_tint_and_reads_it(dark):
    """The same scene under a white-balance error (R x (1+k), B x (1-k)) or an offset (R -k, B +k levels): the
    cast reads what the error did to the grey background, within 2.5 Lab units, and grows with the tint."""
    img = _neutral_scene(dark=dark)
    yy, xx = np.mgrid[:320, :180]
    background = ((yy - 170) ** 2 + (xx - 90) ** 2 > 80 ** 2) & (img.min(axis=2) > v.GREY_DARK_LEVEL)
    for tint, strengths in ((_white_balance, (0.05, 0.1, 0.2, 0.3)), (_offset, (10, 20, 30))):
        casts = []
        for k in strengths:
            tinted = tint(img, k)
            casts.append(v.colour_cast(tinted))
            assert casts[-1] == pytest.approx(_grey_world_chroma(tinted, background), abs=2.5), (tint, k)
        assert all(a < b for a, b in zip(casts, casts[1:])), casts
    if not dark:  # Lab chroma shrinks with lightness: the same error on dark greys is a smaller, fainter cast
        # a plainly visible white-balance error (k = 0.2) on mid-grey reads past the target's good bound
        assert v.colour_cast(_white_balance(img, 0.2)) > 10


def test_tinted_grey_scene_reads_the_tint():
    """A grey scene (1/f texture) read neutral, then tinted: the cast is the tint, i.e. the chroma of the tinted
    grey, within 1.5 Lab units."""
    grey = np.repeat(np.clip(_texture(320, 180, seed=5), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    assert v.colour_cast(grey) == pytest.approx(0.0, abs=0.5)
    inside = (grey.min(axis=2) > v.GREY_DARK_LEVEL) & (grey.max(axis=2) < v.GREY_CLIP_LEVEL)
    for tinted in [_white_balance(grey, k) for k in (0.1, 0.2, 0.3)] + [_offset(grey, k) for k in (10, 20)]:
        assert v.colour_cast(tinted) == pytest.approx(_grey_world_chroma(tinted, inside), abs=1.5)


def test_cast_is_not_measured_without_grey_evidence():
    """No pixel with local contrast between the dark and clipped levels: NaN (not measured), which the scorer
    leaves out, rather than a guess."""
    flat = np.full((320, 180, 3), (200, 120, 60), np.uint8)
    black = np.zeros((320, 180, 3), np.uint8)
    assert np.isnan(v.colour_cast(flat)) and np.isnan(v.colour_cast(black))


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


def test_a_text_cards_even_margins_are_not_bars_but_a_coloured_fill_around_a_picture_is():
    """A text card: a flat background with panels and text inside even margins. The margins are the card's own
    background (it goes on between the panels), not bars; the same picture framed by that colour is letterboxed."""
    card = np.full((640, 360), 150, np.uint8)
    card[48:100, 40:320] = 20  # a title box, starting 48 px from the top, 40 px from each side
    card[200:300, 60:200], card[330:420, 180:330] = 90, 220  # panels
    card[540:592, 40:320] = 20  # a footer box, ending 48 px from the bottom
    bars, kind = v.frame_bars(card)
    assert bars == {"top": 0, "bottom": 0, "left": 0, "right": 0} and kind == "none"
    pic = np.clip(_texture(640, 360), 0, 255).astype(np.uint8)
    framed = pic.copy()
    framed[:120], framed[-120:] = 150, 150  # the same colour as a fill around a picture
    bars, kind = v.frame_bars(framed)
    assert (bars["top"], bars["bottom"], kind) == (120, 120, "solid")


def test_cut_detection_on_known_scores():
    rng = np.random.default_rng(3)
    scores = np.abs(rng.normal(0.05, 0.02, 90))
    scores[[30, 61]] = 0.9
    times = np.arange(90) / 30
    assert detect_cuts(scores, times) == [30, 61]
    scores[45] = CUT_MIN_SCORE * 0.9  # below the floor: motion, not a cut
    assert detect_cuts(scores, times) == [30, 61]


def test_motion_around_a_freeze_is_not_a_cut():
    """Fast motion (scores 0.3-0.5, as the procedural world of the flaw pairs) with a frozen stretch: against the
    freeze's zero scores the moving frames on each side looked like cuts; repeated frames are left out."""
    rng = np.random.default_rng(4)
    scores = rng.uniform(0.3, 0.5, 60)
    scores[24:45] = 0.0
    scores[[23, 45]] = 0.47  # the frames on each side of it move as much as the rest
    times = np.arange(60) / 30
    still = scores == 0.0
    assert detect_cuts(scores, times, still=still) == []
    assert detect_cuts(scores, times) != []  # what it was before: the freeze's ends read as cuts


def test_judder_only_inside_motion_fast_enough_to_show():
    """A run of repeats is judder when the speed before it reaches the short side per JUDDER_CROSS_S (ASC)."""
    from engine.extractors.visual.temporal import JUDDER_CROSS_S, judder_visible

    t = np.arange(10) / 30
    still = np.zeros(10, bool)
    still[[3, 7]] = True
    limit = 90 / 30 / JUDDER_CROSS_S  # thumbnail px per frame on a 90 px short side at 30 fps
    assert judder_visible(still, {3: 0.5 * limit, 7: 2 * limit}, t, 90).tolist() == [
        False] * 7 + [True, False, False]
    assert not judder_visible(still, {}, t, 90).any()  # no speed measured: not judder


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
    # Flaws compound multiplicatively (engine/scorer.py); by the hand-set targets the synthetic base loses a few
    # points to slight blockiness and its texture's grain, nothing else. The picture model's opinion (the MOS people
    # would give it) costs it more: it names no flaw, and it comes after every named one.
    hand_set = evaluate(base.path, base.media, copy.deepcopy(base.features), vh.hand_set_config())
    assert hand_set.scores.modalities["visual"] >= 85
    opinions = opinion_codes(vh.visual_config())
    assert all(f.code in opinions or f.points < 3 for f in base.findings if f.modality == "visual"), base.findings
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
    upscaled = visual_set["upscaled"]
    hand_set = evaluate(upscaled.path, upscaled.media, copy.deepcopy(upscaled.features), vh.hand_set_config())
    up = next(f for f in hand_set.findings if f.code == "visual.upscaled")
    assert up.severity in ("medium", "high") and up.points > 5, (up.severity, up.points)
    assert "visual.upscaled" not in {f.code for f in visual_set["base"].findings}


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


def test_the_frame_rate_finding_leads_with_what_to_change():
    """A 10 fps file with 1% repeats (realclip dover_FEQ) read "9.9 distinct pictures a second: the file has 10.0
    fps, but 1.0% of its frames repeat", as if the repeats were the flaw: the file's own rate leads now. A 25 fps
    file whose repeats leave 15 pictures a second still leads with those."""
    low_file = temporal.low_frame_rate_message(10.0, 0.01, 23.5)
    assert low_file.startswith("Frame rate is 10.0 fps (9.9 distinct pictures a second: 1.0% of its frames repeat")
    assert "the file has" not in low_file and "target at least 23.5 fps" in low_file
    repeats = temporal.low_frame_rate_message(25.0, 0.4, 23.5)
    assert repeats.startswith("Frame rate is 15.0 distinct pictures a second: the file has 25.0 fps, but 40% of")


@pytest.mark.parametrize("shape", [(160, 90), (90, 160), (128, 128)])
@pytest.mark.parametrize("dx, dy", [(0, 0), (3, 0), (-2, 4)])
def test_the_camera_path_reads_a_still_frame_as_still(shape, dx, dy):
    """Thumbnail blocks of a vertical clip are 45 px wide, an odd DFT size: cv2.phaseCorrelate read two identical
    frames as a 0.5 px move right (down on a landscape clip). The shake grid reads no move, and a real one as it
    is, on both orientations."""
    rng = np.random.default_rng(4)
    h, w = shape
    scene = cv2.GaussianBlur(rng.random((h + 20, w + 20), np.float32) * 255, (5, 5), 1.5)
    a = scene[10:10 + h, 10:10 + w].copy()
    b = scene[10 - dy:10 - dy + h, 10 - dx:10 - dx + w] + rng.normal(0, 1.0, (h, w)).astype(np.float32)
    ex = temporal.Temporal()
    ex.begin(SimpleNamespace(info=SimpleNamespace(rotation_deg=0, fps=30.0)))
    ex._setup(shape)
    sx, sy, r = ex._global_motion(a, b)
    assert r > temporal.SHAKE_MIN_RESPONSE
    assert sx == pytest.approx(dx, abs=0.35) and sy == pytest.approx(dy, abs=0.35)
    ex.history.append((0.0, a))
    ex.t = [0.0, 1 / 30]
    ex._run_speed(b)  # the one kept frame is a frame step back
    assert ex.run_speed[1] == pytest.approx(math.hypot(dx, dy), abs=0.35)


def test_dark_clip_finding_cites_value_target_and_advice(visual_set):
    top = next(f for f in visual_set["dark"].findings if f.modality == "visual")
    assert top.code == "visual.too_dark"
    assert 30 < top.value < 50 and "raise exposure" in top.message.lower()


def test_a_low_key_scene_is_not_too_dark(clips):
    """Dark surroundings with bright highlights (mean about 80) are a low-key exposure, not a dark picture: 5 of the 13
    realmos clips people rated 3.7+ read 79-89 and were called too dark when the bound was 90."""
    r = vh.visual_result(clips("low_key", **dict(vh.recipe("base"), video=vh.base_video(vh.low_key))))
    assert 70 < _m(r, "brightness") < 90 and _m(r, "luma_p95") > 200
    assert "visual.too_dark" not in {f.code for f in r.findings}


def test_low_resolution_is_a_platform_fit_finding(visual_set):
    """A file below the preset's size loses points as platform fit, and its finding says so."""
    low = visual_set["low_res"]
    top = next(f for f in low.findings if f.modality == "visual")
    assert top.code == "visual.low_resolution" and top.group == "platform_fit"
    assert top.message.startswith("Platform fit, not picture quality: ")
    picture = low.scores.extra["picture"]
    assert picture["platform_fit"] < 100 and picture["source"] == "targets"


def test_visual_score_is_perceived_quality_lowered_by_platform_fit(visual_set):
    """visual = perceived * (1 - 0.25 * (1 - fit/100)), on every clip of the flaw set."""
    from engine.scorer import PLATFORM_FIT_MAX_SHARE

    for name, r in visual_set.items():
        p = r.scores.extra["picture"]
        fit = 100.0 if p["platform_fit"] is None else p["platform_fit"]
        expected = p["perceived_quality"] * (1 - PLATFORM_FIT_MAX_SHARE * (1 - fit / 100))
        assert r.scores.modalities["visual"] == pytest.approx(expected, abs=0.06), name
    # Letterbox bars and a small file are platform fit; the picture inside can be as clean as the base's.
    assert visual_set["letterboxed"].scores.extra["picture"]["platform_fit"] < 90
    assert visual_set["base"].scores.extra["picture"]["platform_fit"] == 100


# --- no reward for damage ---------------------------------------------------------------------------------------

GRAIN_SIGMAS = (2.0, 4.0, 8.0)


@pytest.fixture(scope="session")
def damage_set(clips):
    """(source, variant) -> ClipResult for a moving clip, a held photo and slides: clean, grained at each of
    GRAIN_SIGMAS, and starved of bits (all 360x640, 2 s, visual extractors only)."""
    out = {}
    for src in vh.DAMAGE_SOURCES:
        out[src, "clean"] = vh.visual_result(clips(f"dmg_{src}", **vh.damage_recipe(src)))
        for sigma in GRAIN_SIGMAS:
            out[src, f"grain{sigma:g}"] = vh.visual_result(
                clips(f"dmg_{src}_grain{sigma:g}", **vh.damage_recipe(src, grain_sigma=sigma)))
        out[src, "starved"] = vh.visual_result(clips(f"dmg_{src}_starved", **vh.damage_recipe(src, bitrate=vh.STARVED_BPS)))
    return out


def _visual(r):
    return r.scores.modalities["visual"]


@pytest.mark.parametrize("source", list(vh.DAMAGE_SOURCES))
@pytest.mark.parametrize("sigma", GRAIN_SIGMAS)
def test_added_grain_never_raises_the_picture_score(damage_set, source, sigma):
    clean, grain = damage_set[source, "clean"], damage_set[source, f"grain{sigma:g}"]
    assert _visual(grain) <= _visual(clean), [f.code for f in grain.findings]
    assert grain.scores.extra["picture"]["perceived_quality"] <= clean.scores.extra["picture"]["perceived_quality"]


@pytest.mark.parametrize("source", list(vh.DAMAGE_SOURCES))
def test_starved_copy_scores_below_its_source(damage_set, source):
    clean, starved = damage_set[source, "clean"], damage_set[source, "starved"]
    assert _visual(starved) < _visual(clean)
    assert starved.scores.extra["picture"]["perceived_quality"] < clean.scores.extra["picture"]["perceived_quality"]
    top = next(f for f in starved.findings if f.modality == "visual")
    assert top.code == "visual.blocky", top.message


@pytest.mark.parametrize("source", ["photo", "slides"])
def test_still_shots_are_not_frozen(damage_set, source):
    """A photo or slides held on purpose are still shots: no freeze, no judder, the full frame rate."""
    for variant in ("clean", "starved", "grain2"):
        r = damage_set[source, variant]
        fv = r.features
        assert fv.values["visual.frozen_pct"] == 0 and fv.events["visual.frozen"] == []
        assert fv.values["visual.fps"] == pytest.approx(vh.FPS, abs=0.01)
        assert not {f.code for f in r.findings} & {"visual.frozen", "visual.judder", "visual.low_frame_rate"}
    # (A starved encoder keeps refining the still picture for the whole 2 s: no frame repeats exactly.)
    assert damage_set[source, "clean"].features.events["visual.still_shots"], "reported as a still shot"
    if source == "slides":  # one still shot per slide, split at the cut
        shots = damage_set["slides", "clean"].features.events["visual.still_shots"]
        assert len(shots) == 2 and shots[1][1] == pytest.approx(vh.DAMAGE_S, abs=0.04)
        assert damage_set["slides", "clean"].features.events["visual.cuts_s"] == pytest.approx([vh.SLIDE_CUT_S], abs=0.04)


def _black_then_night(i, t_s):
    """0.5 s of black, then a night scene between pillarbox bars: a dark ground (luma ~8, grain seeded by the frame
    number) with a lit figure that covers a tenth of the picture; the frame's mean luma (~5) is under any mean-luma
    black threshold."""
    frame = np.zeros((vh.H, vh.W, 3), np.uint8)
    if t_s < 0.5:
        return frame
    x0, x1 = int(vh.W * 0.3), int(vh.W * 0.7)
    ground = np.clip(8 + 3 * np.random.default_rng(7 + i).standard_normal((vh.H, x1 - x0)), 0, 255)
    ground[int(vh.H * 0.4): int(vh.H * 0.5), :] = 90 + 20 * np.sin(i / 3.0)  # the lit figure, moving in brightness
    frame[:, x0:x1] = ground[..., None].astype(np.uint8)
    return frame


def test_a_night_scene_between_bars_is_not_black_but_a_black_lead_in_is(clips):
    """Black means nothing to see (FFmpeg's blackdetect: 98% of the pixels dark), not a low mean: realclip dover_FEQ,
    a night scene with people and a fire between pillarbox bars, read as 99% black frames and a 3.7 s black opening."""
    r = vh.visual_result(clips("night_between_bars", width=vh.W, height=vh.H, fps=vh.FPS, duration_s=2.0, audio=None,
                               video=_black_then_night))
    fv = r.features
    assert fv.values["visual.black_pct"] == pytest.approx(25.0, abs=4)
    assert fv.values["visual.black_start_s"] == pytest.approx(0.5, abs=0.05)
    assert fv.events["visual.black_frames"] == [[0.0, pytest.approx(0.5, abs=0.05)]]


def test_slides_held_between_transitions_are_not_frozen(clips):
    """Slides joined by pushes (no hard cut; the shot moves) are pictures held on purpose: no freeze, each hold
    reported as a still shot. Before the transition rule the holds read as freezes inside motion (a realmos
    slideshow: 62% frozen)."""
    r = vh.visual_result(clips("slideshow_push", width=vh.W, height=vh.H, fps=vh.FPS, duration_s=3.0, audio=None,
                               video=vh.slideshow_video()))
    fv = r.features
    assert fv.values["visual.frozen_pct"] == 0 and fv.events["visual.frozen"] == [], fv.events["visual.frozen"]
    assert "visual.frozen" not in {f.code for f in r.findings}
    holds = fv.events["visual.still_shots"]
    assert len(holds) == 3
    for (start, end), (a, b) in zip(holds, vh.SLIDESHOW_HOLDS):
        assert start == pytest.approx(a, abs=0.1) and end == pytest.approx(b, abs=0.1)


def _still_runs(fps: float, pattern: str):
    """(still mask, times) of a clip described by ``pattern``: one character per tenth of a second, "m" moving, "s"
    the picture repeats."""
    per = int(round(fps / 10))
    still = np.array([c == "s" for c in pattern for _ in range(per)])
    still[0] = False
    return still, np.arange(len(still)) / fps


@pytest.mark.parametrize("pattern, frozen", [
    ("mmmmmssssssmmmm", 1),  # footage, a freeze, footage (the flaw set's freeze): frozen
    ("m" * 30 + "s" * 10 + "m" * 10 + "s" * 10 + "m" * 30, 2),  # two freezes inside long footage: both frozen
    ("ssssssssmmmmsssssssssmmmmssssss", 0),  # held slides joined by 0.4 s transitions: none frozen
    ("s" * 10 + "m" * 25 + "s" * 10, 2),  # a 2.5 s moving stretch between two stills is footage, not a transition
])
def test_freeze_or_held_picture(pattern, frozen):
    fps = 30.0
    still, t = _still_runs(fps, pattern)
    diff = np.where(still, 0.0, 5.0)
    found, static, _ = freeze_runs(still, diff, t, 1 / fps, [])
    assert len(found) == frozen and len(found) + len(static) == len(_runs_of(still))


def _runs_of(still):
    from engine.extractors.visual.temporal import _runs
    return [r for r in _runs(still) if r[1] - r[0] >= 15]


def test_grid_aligned_sharp_edges_are_not_blocky(damage_set):
    """Slides with box edges on the 8 px grid: no blocking on the frames or in the clip; the codec's own blocking
    (constant 8x8 blocks) still reads far above the target."""
    for k in range(2):
        gray = cv2.cvtColor(vh._slide(k), cv2.COLOR_RGB2GRAY)
        assert v.blockiness(gray) < 5
    slides = damage_set["slides", "clean"]
    assert slides.features.values["visual.blockiness"] < 10  # well under the target's good bound (15)
    assert "visual.blocky" not in {f.code for f in slides.findings}
    gray = cv2.cvtColor(vh._slide(0), cv2.COLOR_RGB2GRAY).astype(np.float32)
    noisy = gray + 20.0 * _texture(640, 360, slope=1.6) / 38.0
    blocks = cv2.resize(cv2.resize(noisy, (45, 80), interpolation=cv2.INTER_AREA), (360, 640),
                        interpolation=cv2.INTER_NEAREST)
    assert v.blockiness(np.clip(blocks, 0, 255).astype(np.uint8)) > 40


def test_pixel_count_does_not_buy_a_poor_picture_a_better_score(clips):
    """Preset 720x1280: one 720x1280 scene, as a sharp 360x640 export (area-downscaled), a sharp 720x1280 copy and
    a visibly poor 720x1280 copy (blurred by 3 px, as 1.5 px at 360). The poor one has four times the pixels and
    full platform fit, but scores below the small sharp clip; the large sharp one scores above it (fit counts)."""
    cfg = vh.visual_config(720, 1280)
    big = dict(width=720, height=1280, fps=vh.FPS, duration_s=2.0, audio=None)
    small = vh.visual_result(clips("res_small_sharp", video=vh.base_video(vh.downscaled((vh.W, vh.H)), width=720,
                             height=1280), width=vh.W, height=vh.H, fps=vh.FPS, duration_s=2.0, audio=None), cfg)
    sharp = vh.visual_result(clips("res_big_sharp", video=vh.base_video(width=720, height=1280), **big), cfg)
    poor = vh.visual_result(clips("res_big_blurred", video=vh.base_video(
        lambda f: synth.gaussian_blur(f, sigma_px=3.0), width=720, height=1280), **big), cfg)
    pic = {k: r.scores.extra["picture"] for k, r in (("small", small), ("sharp", sharp), ("poor", poor))}
    assert pic["small"]["platform_fit"] < pic["poor"]["platform_fit"] == pic["sharp"]["platform_fit"] == 100
    assert pic["poor"]["perceived_quality"] < pic["small"]["perceived_quality"]
    assert _visual(poor) < _visual(small) < _visual(sharp)
    top = next(f for f in poor.findings if f.modality == "visual")
    assert top.code in {"visual.blurry", "visual.upscaled"}, top.message
    low = next(f for f in small.findings if f.code == "visual.low_resolution")
    assert low.group == "platform_fit"
