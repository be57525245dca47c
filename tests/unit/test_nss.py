"""Perceptual statistics (engine/extractors/visual/nss.py) against known answers, and the picture-quality model
file's loading and checks (engine/picture_quality.py)."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from scipy.special import gamma
from scipy.stats import gennorm

from engine.errors import ModelError
from engine.extractors.visual import nss as n
from engine.features import FeatureVector


def _texture(h=360, w=640, seed=0) -> np.ndarray:
    """1/f**1.25 luma texture around mid-grey (as tests/test_visual.py), uint8."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    r = np.sqrt(fx * fx + fy * fy)
    r[0, 0] = 1
    spec = np.fft.rfft2(rng.standard_normal((h, w))) / r**1.25
    spec[0, 0] = 0
    t = np.fft.irfft2(spec, s=(h, w))
    return np.clip(128 + 38 * (t - t.mean()) / t.std(), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [0.6, 1.0, 2.0, 3.5])
def test_ggd_fit_recovers_the_shape_and_variance_of_known_samples(shape):
    x = gennorm.rvs(shape, scale=0.7, size=200_000, random_state=np.random.default_rng(1))
    a, var = n.fit_ggd(x)
    assert a == pytest.approx(shape, rel=0.05)
    # Variance of a GGD with scale s: s^2 Gamma(3/a) / Gamma(1/a).
    assert var == pytest.approx(0.49 * gamma(3 / shape) / gamma(1 / shape), rel=0.03)


def test_aggd_fit_of_an_asymmetric_sample():
    rng = np.random.default_rng(2)
    shape, left_sd, right_sd = 1.2, 0.5, 1.0
    g = np.abs(gennorm.rvs(shape, size=200_000, random_state=rng))
    g /= math.sqrt(float(np.mean(g * g)))  # unit second moment per side
    x = np.where(rng.random(g.size) < 0.5, -left_sd * g, right_sd * g)
    a, eta, lv, rv = n.fit_aggd(x)
    assert a == pytest.approx(shape, rel=0.08)
    assert lv == pytest.approx(left_sd**2, rel=0.03) and rv == pytest.approx(right_sd**2, rel=0.03)
    assert eta > 0  # heavier right side: positive mean
    # A symmetric sample: the mean is about zero and both variances agree.
    a, eta, lv, rv = n.fit_aggd(gennorm.rvs(2.0, size=200_000, random_state=rng))
    assert a == pytest.approx(2.0, rel=0.05) and abs(eta) < 0.02 and lv == pytest.approx(rv, rel=0.03)


def test_fits_of_degenerate_input():
    assert math.isnan(n.fit_ggd(np.zeros(100))[0]) and n.fit_ggd(np.zeros(100))[1] == 0.0
    assert all(math.isnan(v) for v in n.fit_aggd(np.ones(100)))  # no negative side


def test_mscn_of_a_constant_image_is_zero():
    m = n.mscn(np.full((64, 96), 137, np.uint8))
    assert m.shape == (64, 96) and np.all(m == 0)
    s = n.brisque_scale(np.full((64, 96), 137, np.uint8))
    assert math.isnan(s["ggd_shape"]) and s["ggd_var"] == 0.0


def test_mscn_of_natural_texture_is_near_gaussian_and_unit_scale():
    """Mittal et al. 2012 (fig. 2): MSCN coefficients of undistorted natural images are close to unit Gaussian;
    the 1/f texture gives a shape near 2 and a variance below 1 (the +1 in the denominator)."""
    a, var = n.fit_ggd(n.mscn(_texture()))
    assert 1.6 < a < 3.0 and 0.3 < var < 1.0


def test_blur_and_noise_move_the_statistics_the_known_way():
    img = _texture()
    clean = n.frame_stats(img)
    blurred = n.frame_stats(cv2.GaussianBlur(img, (0, 0), 2.0))
    noisy = n.frame_stats(np.clip(img + np.random.default_rng(3).normal(0, 20, img.shape), 0, 255).astype(np.uint8))
    # Blur (Mittal et al. 2012, fig. 4): peakier coefficients (lower shape), far less local contrast variance,
    # neighbour products collapse to small positive values (variance down, right side heavier), weaker gradients.
    assert blurred["s1_ggd_shape"] < clean["s1_ggd_shape"] - 0.3
    assert blurred["s1_ggd_var"] < 0.3 * clean["s1_ggd_var"] and blurred["s1_pair_var"] < 0.1 * clean["s1_pair_var"]
    assert blurred["s1_pair_asym"] > clean["s1_pair_asym"] + 0.5
    assert blurred["gm_raw"] < 0.6 * clean["gm_raw"]
    # White noise: flatter coefficients (higher shape), more variance, neighbours less alike (pair mean down).
    assert noisy["s1_ggd_shape"] > clean["s1_ggd_shape"] and noisy["s1_ggd_var"] > 1.3 * clean["s1_ggd_var"]
    assert noisy["s1_pair_mean"] < clean["s1_pair_mean"] - 0.05
    assert noisy["gm_raw"] > 1.3 * clean["gm_raw"]


def test_gm_log_of_a_constant_image():
    s = n.gm_log(np.full((64, 96), 80, np.uint8))
    assert s["gm_mean"] == 0 and s["log_mean"] == 0 and s["gm_raw"] == 0 and math.isnan(s["gm_log_corr"])


def test_temporal_statistics_are_zero_on_a_static_pair_and_grow_with_change():
    img = _texture()
    still = n.temporal_nss(img, img.copy())
    assert still["diff_mean"] == 0 and still["dmscn_var"] == 0 and math.isnan(still["dmscn_shape"])
    moved = n.temporal_nss(img, np.roll(img, 3, axis=1))
    assert moved["diff_mean"] > 5 and moved["dmscn_var"] > 0.1 and 0.2 <= moved["dmscn_shape"] <= 10


class _Frame:
    """A stand-in decoded frame: ``gray`` at analysis size (visual_frames falls back to it without a source)."""

    def __init__(self, t_s, gray):
        self.t_s, self.gray = t_s, gray


class _Info:
    has_video, duration_s = True, 3.0


def _run(frames):
    e = n.PerceptualStats()
    ctx = type("Ctx", (), {"info": _Info()})()
    e.begin(ctx)
    for f in frames:
        e.on_frame(f, ctx)
    fv = FeatureVector()
    e.finish(ctx, fv)
    return fv


def test_extractor_on_a_static_clip_has_zero_temporal_statistics():
    img = _texture(180, 320)
    fv = _run([_Frame(i / 30, img) for i in range(90)])
    assert fv.values["visual.frame_diff"] == 0 and fv.values["visual.diff_mscn_var"] == 0
    assert fv.values["visual.diff_mscn_shape"] is None  # nothing moves: no shape to fit
    assert fv.values["visual.mscn_var_spread"] == 0  # the same picture every second
    assert fv.values["visual.mscn_var"] == pytest.approx(n.fit_ggd(n.mscn(img))[1], rel=1e-6)
    # One sample a second over 3 s: frames 0, 30 and 60 (and their successors for the differences).
    assert len(fv.values) == len(n.PerceptualStats.METRICS)


def test_extractor_on_a_panning_clip_measures_motion():
    img = _texture(180, 400)
    fv = _run([_Frame(i / 30, np.ascontiguousarray(img[:, 2 * i : 2 * i + 320])) for i in range(40)])
    assert fv.values["visual.frame_diff"] > 3 and fv.values["visual.diff_mscn_var"] > 0.05
