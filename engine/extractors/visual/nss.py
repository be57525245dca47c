"""Visual extractors, part 4: perceptual statistics (natural-scene statistics) that people's quality ratings follow.

Undistorted natural images have regular local statistics that distortions (blur, noise, compression, over-
exposure) break in characteristic ways; the blind quality models trained on human opinion read these statistics.
This family measures, on sampled analysis frames (``visual_frames.analysis_gray``, short side 360 px):

- **Spatial NSS (BRISQUE)**: Mittal, Moorthy & Bovik (2012), "No-reference image quality assessment in the spatial
  domain", IEEE TIP 21(12). Mean-subtracted contrast-normalised (MSCN) coefficients
  (I - mu) / (sigma + 1) with a 7x7 Gaussian window (sigma 7/6) follow a generalised Gaussian (GGD) whose shape
  and variance a distortion moves (blur: peakier, lower shape; noise: flatter, higher shape); the products of
  neighbouring coefficients (horizontal, vertical, two diagonals) follow an asymmetric GGD (AGGD). Measured at two
  scales (analysis size and half of it), as in the paper.
- **Gradient magnitude and Laplacian of Gaussian (GM-LOG)**: Xue, Mou, Zhang, Bovik & Feng (2014), "Blind image
  quality assessment using joint statistics of gradient magnitude and Laplacian features", IEEE TIP 23(11):
  both maps after joint adaptive normalisation, their means and the correlation between them.
- **Temporal NSS** of consecutive-frame differences, as in V-BLIINDS (Saad, Bovik & Charrier 2014, IEEE TIP
  23(3)) and TLVQM (Korhonen 2019, IEEE TIP 28(12)): the MSCN statistics of the difference between a sampled
  frame and the next decoded one.
- **Quality over time**: the spread of the per-frame MSCN variance and the softest moments (a clip that goes
  soft or noisy in places), as the temporal pooling studies recommend (Tu et al. 2021, VIDEVAL, IEEE TIP 30).

Measured on realmos (67 KoNViD-1k clips with MOS; scripts/realmos_eval.py): the MSCN variances agree best with
people one by one (Spearman 0.51-0.52 at both scales, sharpness 0.47); GM-LOG 0.26-0.40, the temporal
statistics up to 0.39. The picture-quality model (engine/picture_quality.py) reads the 12 BRISQUE statistics.

All pure measurement functions take a uint8 (or float) luma array and return plain floats, so tests can feed them
known answers (a GGD fit on samples drawn from a known GGD, a constant image, a static clip).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.special import gamma as _gamma

from ...features import FeatureVector, MetricSpec
from ..base import ClipContext, Extractor, register
from .frames import analysis_gray

#: Frames a second analysed. NSS statistics change with shots, not frames; one sample a second over 8 s gives 8
#: frames, which is as many as BRISQUE-based video models pool (VIDEVAL samples 1 frame a second). Cost measured
#: in docs/BENCHMARKS.md (issue 15 section).
SAMPLES_PER_S = 1.0
#: At most this many sampled frames a clip: longer clips are sampled evenly over their length, so the cost stays
#: bounded at ~0.25 s of CPU (docs/BENCHMARKS.md): a 60 s clip gets one frame every 5 s; the realmos clips (8 s)
#: and the synthetic corpus (2 s) keep one a second, so the picture model sees what it was trained on.
MAX_SAMPLES = 12
#: BRISQUE's local window: 7x7 Gaussian, sigma 7/6 px (Mittal et al. 2012, section III).
MSCN_WINDOW_PX = 7
MSCN_SIGMA_PX = 7.0 / 6.0
#: Stabilising constant in the MSCN denominator, luma levels (Mittal et al. 2012: C = 1 for 0-255 images).
MSCN_C = 1.0
#: GGD / AGGD shape grid of the moment-ratio lookup table (Sharifi & Leon-Garcia 1995, IEEE TCSVT 5(1); BRISQUE's
#: reference code uses 0.2:0.001:10).
SHAPE_GRID = np.arange(0.2, 10.0, 0.001)
#: GM-LOG filters: Gaussian derivative scale and the normalisation window (Xue et al. 2014, section III: sigma 0.5,
#: and a Gaussian weighting window of sigma 2 for the joint adaptive normalisation).
GMLOG_SIGMA_PX = 0.5
GMLOG_NORM_SIGMA_PX = 2.0
GMLOG_EPS = 0.2
#: Temporal NSS needs motion to measure; below this mean absolute difference (luma levels) the frame pair is still
#: and its difference is mostly coding noise (the Temporal extractor's freeze threshold, FREEZE_MEAN_DIFF = 0.3).
STILL_DIFF_LEVELS = 0.3

_R_GGD = _gamma(1.0 / SHAPE_GRID) * _gamma(3.0 / SHAPE_GRID) / _gamma(2.0 / SHAPE_GRID) ** 2
_R_AGGD = _gamma(2.0 / SHAPE_GRID) ** 2 / (_gamma(1.0 / SHAPE_GRID) * _gamma(3.0 / SHAPE_GRID))


# ============================================================================================================
# Pure measurements
# ============================================================================================================


def mscn(gray: np.ndarray) -> np.ndarray:
    """MSCN coefficients (I - mu) / (sigma + C) of a luma image (float32, same shape); all zero on a constant image."""
    g = gray.astype(np.float32)
    k = (MSCN_WINDOW_PX, MSCN_WINDOW_PX)
    mu = cv2.GaussianBlur(g, k, MSCN_SIGMA_PX, borderType=cv2.BORDER_REPLICATE)
    var = cv2.GaussianBlur(g * g, k, MSCN_SIGMA_PX, borderType=cv2.BORDER_REPLICATE) - mu * mu
    sigma = np.sqrt(np.abs(var))
    return (g - mu) / (sigma + MSCN_C)


def _moments(x: np.ndarray) -> tuple[float, float, int]:
    """(sum |x|, sum x^2, n) of a float32 array, through OpenCV's norms (double accumulators, ~10x numpy)."""
    x = np.ascontiguousarray(x, np.float32)
    return float(cv2.norm(x, cv2.NORM_L1)), float(cv2.norm(x, cv2.NORM_L2SQR)), int(x.size)


def fit_ggd(x: np.ndarray) -> tuple[float, float]:
    """(shape alpha, variance) of a zero-mean generalised Gaussian fitted by the moment ratio
    E[x^2] / E[|x|]^2 = Gamma(1/a) Gamma(3/a) / Gamma(2/a)^2 (lookup over ``SHAPE_GRID``). (nan, 0) for all zeros."""
    s_abs, s_sq, n = _moments(x)
    if n == 0 or s_abs <= 0 or s_sq <= 0:
        return float("nan"), 0.0
    var = s_sq / n
    rho = var / (s_abs / n) ** 2
    return float(SHAPE_GRID[int(np.argmin(np.abs(_R_GGD - rho)))]), var


def fit_aggd(x: np.ndarray) -> tuple[float, float, float, float]:
    """(shape alpha, mean eta, left variance, right variance) of an asymmetric GGD (Lasmar, Stitou & Berthoumieu
    2009, as in BRISQUE's reference code). NaNs when one side is empty."""
    x = np.ascontiguousarray(x, np.float32)
    n = x.size
    n_left = int(np.count_nonzero(x < 0))
    n_right = int(np.count_nonzero(x > 0))
    if n_left == 0 or n_right == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    s_abs, s_sq, _ = _moments(x)
    l_sq = float(cv2.norm(np.minimum(x, 0.0), cv2.NORM_L2SQR))
    r_sq = s_sq - l_sq
    l_sd = math.sqrt(l_sq / n_left)
    r_sd = math.sqrt(max(r_sq, 0.0) / n_right)
    if r_sd <= 0 or l_sd <= 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    g_hat = l_sd / r_sd
    r_hat = (s_abs / n) ** 2 / (s_sq / n)
    r_norm = r_hat * (g_hat ** 3 + 1) * (g_hat + 1) / (g_hat ** 2 + 1) ** 2
    alpha = float(SHAPE_GRID[int(np.argmin((_R_AGGD - r_norm) ** 2))])
    eta = (r_sd - l_sd) * _gamma(2.0 / alpha) / _gamma(1.0 / alpha) * math.sqrt(_gamma(1.0 / alpha) / _gamma(3.0 / alpha))
    return alpha, float(eta), l_sd * l_sd, r_sd * r_sd


def pair_products(m: np.ndarray) -> tuple[np.ndarray, ...]:
    """Products of each MSCN coefficient with its right, lower, lower-right and lower-left neighbour."""
    return (m[:, :-1] * m[:, 1:], m[:-1, :] * m[1:, :], m[:-1, :-1] * m[1:, 1:], m[:-1, 1:] * m[1:, :-1])


def brisque_scale(gray: np.ndarray) -> dict:
    """BRISQUE statistics of one scale, the four neighbour products pooled (their parameters are close in natural
    images; the mean over orientations keeps the feature count small for ~70 labels):
    ggd_shape, ggd_var, pair_shape, pair_mean, pair_var (mean of left and right variances), pair_asym
    (log right/left standard deviation)."""
    m = mscn(gray)
    a, v = fit_ggd(m)
    fits = [fit_aggd(p) for p in pair_products(m)]
    fits = [f for f in fits if math.isfinite(f[0])]
    if not fits:
        return {"ggd_shape": a, "ggd_var": v, "pair_shape": float("nan"), "pair_mean": float("nan"),
                "pair_var": float("nan"), "pair_asym": float("nan")}
    f = np.array(fits)
    return {
        "ggd_shape": a,
        "ggd_var": v,
        "pair_shape": float(f[:, 0].mean()),
        "pair_mean": float(f[:, 1].mean()),
        "pair_var": float((0.5 * (f[:, 2] + f[:, 3])).mean()),
        "pair_asym": float(np.mean(0.5 * np.log(np.maximum(f[:, 3], 1e-12) / np.maximum(f[:, 2], 1e-12)))),
    }


def half_scale(gray: np.ndarray) -> np.ndarray:
    """The image at half size (area average), float32: BRISQUE's second scale."""
    g = gray.astype(np.float32)
    h, w = g.shape
    return cv2.resize(g, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)


def gm_log(gray: np.ndarray) -> dict:
    """GM-LOG statistics (Xue et al. 2014) of a luma image: gradient magnitude and |Laplacian of Gaussian| after
    joint adaptive normalisation (``gm_mean``, ``log_mean``: ~0 on flat or blurred pictures, higher with fine
    structure), their correlation ``gm_log_corr``, and the raw gradient magnitude ``gm_raw`` (luma levels / px).
    All zero (correlation NaN) on a constant image."""
    g = gray.astype(np.float32)
    s = GMLOG_SIGMA_PX
    gb = cv2.GaussianBlur(g, (0, 0), s, borderType=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(gb, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(gb, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    gm = cv2.magnitude(gx, gy)
    lg = np.abs(cv2.Laplacian(gb, cv2.CV_32F, ksize=3))
    n = np.sqrt(cv2.GaussianBlur(gm * gm + lg * lg, (0, 0), GMLOG_NORM_SIGMA_PX, borderType=cv2.BORDER_REPLICATE))
    gm_n = gm / (n + GMLOG_EPS)
    lg_n = lg / (n + GMLOG_EPS)
    inner = (slice(2, -2), slice(2, -2))
    # Statistics in float64 numpy: OpenCV's mean/meanStdDev split float32 sums across its worker threads, so their
    # last digits changed with how busy the machine was (a score must be a function of the file alone).
    a, b = gm_n[inner].astype(np.float64), lg_n[inner].astype(np.float64)
    ma, sa = float(a.mean()), float(a.std())
    mb, sb = float(b.mean()), float(b.std())
    if sa > 1e-6 and sb > 1e-6:
        corr = (float(np.mean(a * b)) - ma * mb) / (sa * sb)
    else:
        corr = float("nan")
    return {"gm_mean": ma, "log_mean": mb, "gm_log_corr": corr,
            "gm_raw": float(gm[inner].astype(np.float64).mean())}


def temporal_nss(prev: np.ndarray, cur: np.ndarray) -> dict:
    """Statistics of a frame difference: mean absolute difference ``diff_mean`` (luma levels), and the GGD shape
    and variance of the difference's MSCN coefficients (``dmscn_shape``, ``dmscn_var``; NaN and 0 on a still pair,
    where the difference is zero or only coding noise)."""
    d = cur.astype(np.float32) - prev.astype(np.float32)
    mad = float(np.mean(np.abs(d)))
    if mad < STILL_DIFF_LEVELS:
        return {"diff_mean": mad, "dmscn_shape": float("nan"), "dmscn_var": 0.0}
    # The difference is centred on 0; MSCN normalises its local energy (the same transform as on frames).
    a, v = fit_ggd(mscn(d))
    return {"diff_mean": mad, "dmscn_shape": a, "dmscn_var": v}


def frame_stats(gray: np.ndarray) -> dict:
    """Every spatial statistic of one frame, two BRISQUE scales prefixed s1_/s2_, and GM-LOG."""
    out = {f"s1_{k}": v for k, v in brisque_scale(gray).items()}
    out.update({f"s2_{k}": v for k, v in brisque_scale(half_scale(gray)).items()})
    out.update(gm_log(gray))
    return out


# ============================================================================================================
# The extractor
# ============================================================================================================

_SRC_B = "Mittal, Moorthy & Bovik 2012 (BRISQUE), IEEE TIP 21(12)"
_SRC_G = "Xue et al. 2014 (GM-LOG), IEEE TIP 23(11)"
_SRC_T = "as V-BLIINDS (Saad et al. 2014, IEEE TIP 23(3)) and TLVQM (Korhonen 2019, IEEE TIP 28(12))"

#: (metric name, frame-statistic key, label, unit, lo, hi, higher_better, description)
_SPATIAL = (
    ("mscn_shape", "s1_ggd_shape", "Local contrast shape", "", 0.2, 10, None,
     "Shape of the generalised Gaussian fitted to the MSCN coefficients at 360 px (2 = Gaussian; blur lowers it, "
     f"noise raises it). Median over sampled frames. {_SRC_B}."),
    ("mscn_var", "s1_ggd_var", "Local contrast variance", "", 0, 2, None,
     f"Variance of the MSCN coefficients at 360 px (low on flat or blurred pictures). {_SRC_B}."),
    ("mscn_pair_shape", "s1_pair_shape", "Neighbour structure shape", "", 0.2, 10, None,
     "Shape of the asymmetric GGD fitted to products of neighbouring MSCN coefficients at 360 px, mean of the "
     f"four directions. {_SRC_B}."),
    ("mscn_pair_mean", "s1_pair_mean", "Neighbour correlation", "", -1, 1, None,
     "Mean of the asymmetric GGD of neighbouring MSCN products at 360 px: how alike neighbouring pixels are after "
     f"normalisation (blur raises it). {_SRC_B}."),
    ("mscn_pair_var", "s1_pair_var", "Neighbour product variance", "", 0, 2, None,
     f"Mean left/right variance of the neighbouring MSCN products at 360 px. {_SRC_B}."),
    ("mscn_pair_asym", "s1_pair_asym", "Neighbour product asymmetry", "", -3, 3, None,
     f"Log ratio of right to left standard deviation of the neighbouring MSCN products at 360 px. {_SRC_B}."),
    ("mscn_shape_half", "s2_ggd_shape", "Local contrast shape (half size)", "", 0.2, 10, None,
     f"As 'Local contrast shape', at half the analysis size (BRISQUE's second scale). {_SRC_B}."),
    ("mscn_var_half", "s2_ggd_var", "Local contrast variance (half size)", "", 0, 2, None,
     f"As 'Local contrast variance', at half the analysis size. {_SRC_B}."),
    ("mscn_pair_shape_half", "s2_pair_shape", "Neighbour structure shape (half size)", "", 0.2, 10, None,
     f"As 'Neighbour structure shape', at half the analysis size. {_SRC_B}."),
    ("mscn_pair_mean_half", "s2_pair_mean", "Neighbour correlation (half size)", "", -1, 1, None,
     f"As 'Neighbour correlation', at half the analysis size. {_SRC_B}."),
    ("mscn_pair_var_half", "s2_pair_var", "Neighbour product variance (half size)", "", 0, 2, None,
     f"As 'Neighbour product variance', at half the analysis size. {_SRC_B}."),
    ("mscn_pair_asym_half", "s2_pair_asym", "Neighbour product asymmetry (half size)", "", -3, 3, None,
     f"As 'Neighbour product asymmetry', at half the analysis size. {_SRC_B}."),
    ("gm_norm", "gm_mean", "Normalised gradient", "", 0, 2, None,
     "Mean gradient magnitude after joint adaptive normalisation with the Laplacian of Gaussian, at 360 px: "
     "blurred pictures read higher (their Laplacian falls faster than their gradient), grain lower. "
     f"{_SRC_G}."),
    ("log_norm", "log_mean", "Normalised Laplacian", "", 0, 2, None,
     f"Mean |Laplacian of Gaussian| after joint adaptive normalisation, at 360 px. {_SRC_G}."),
    ("gm_log_corr", "gm_log_corr", "Gradient-Laplacian correlation", "", -1, 1, None,
     f"Correlation of the normalised gradient magnitude and Laplacian maps, at 360 px. {_SRC_G}."),
    ("gradient", "gm_raw", "Mean gradient", "luma levels/px", 0, 128, True,
     f"Mean gradient magnitude at 360 px after a 0.5 px Gaussian (edge strength and amount). {_SRC_G}."),
)


@register
class PerceptualStats(Extractor):
    name = "visual_nss"
    # The inputs of the picture-quality model (engine/picture_quality.py), not of the learned default scorer, which
    # was trained and calibrated (issue 16: category confidence) before these metrics existed.
    learned_inputs = False
    modality = "visual"
    stage = "visual"
    METRICS = tuple(
        MetricSpec(f"visual.{name}", label, unit, lo, hi, hb, desc)
        for name, _, label, unit, lo, hi, hb, desc in _SPATIAL
    ) + (
        MetricSpec("visual.frame_diff", "Frame difference", "luma levels", 0, 255, None,
                   "Mean absolute luma change from a sampled frame to the next decoded frame at 360 px (median over "
                   f"samples). {_SRC_T}."),
        MetricSpec("visual.diff_mscn_shape", "Frame-difference shape", "", 0.2, 10, None,
                   "Shape of the generalised Gaussian fitted to the MSCN coefficients of consecutive-frame "
                   f"differences (median over moving samples; absent on a still clip). {_SRC_T}."),
        MetricSpec("visual.diff_mscn_var", "Frame-difference variance", "", 0, 2, None,
                   "Variance of the MSCN coefficients of consecutive-frame differences (0 on a still clip). "
                   f"{_SRC_T}."),
        MetricSpec("visual.mscn_var_spread", "Picture quality variation", "", 0, 2, False,
                   "Spread over time of the per-frame MSCN variance: interquartile range over sampled frames (0 = "
                   "steady picture; Tu et al. 2021, VIDEVAL, IEEE TIP 30, on temporal pooling)."),
        MetricSpec("visual.gm_norm_p90", "Softest moments (normalised gradient, 90th percentile)", "", 0, 2, None,
                   "90th percentile over sampled frames of the normalised gradient: how soft the softest moments "
                   f"are (people weight the worst parts of a clip; Tu et al. 2021). {_SRC_G}."),
    )

    def begin(self, ctx: ClipContext) -> None:
        self.next_t = 0.0
        d = float(ctx.info.duration_s or 0.0)
        self.step_s = max(1.0 / SAMPLES_PER_S, d / MAX_SAMPLES)
        self.want_pair = False
        self.prev = None
        self.rows: list[dict] = []
        self.trows: list[dict] = []

    def on_frame(self, frame, ctx: ClipContext) -> None:
        t = frame.t_s
        if self.want_pair:
            # The decoded frame after a sample: its difference is the temporal statistic.
            self.want_pair = False
            g = analysis_gray(frame)
            if self.prev is not None and g.shape == self.prev.shape:
                self.trows.append(temporal_nss(self.prev, g))
            self.prev = None
        if t + 1e-6 >= self.next_t:
            self.next_t = t + self.step_s
            g = analysis_gray(frame)
            self.rows.append(frame_stats(g))
            self.prev = g
            self.want_pair = True

    def snapshot(self) -> "PerceptualStats | None":
        """The sampled frames' statistics so far (medians over them are the clip's up to this frame)."""
        return self.frozen("rows", "trows") if self.rows else None

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        if not ctx.info.has_video or not self.rows:
            return
        col = {k: np.array([r[k] for r in self.rows], float) for k in self.rows[0]}

        def med(v):
            v = v[np.isfinite(v)]
            return float(np.median(v)) if v.size else None

        for name, key, *_ in _SPATIAL:
            fv.set(f"visual.{name}", med(col[key]))
        var = col["s1_ggd_var"][np.isfinite(col["s1_ggd_var"])]
        if var.size:
            fv.set("visual.mscn_var_spread", float(np.subtract(*np.percentile(var, [75, 25]))))
        gm = col["gm_mean"][np.isfinite(col["gm_mean"])]
        if gm.size:
            fv.set("visual.gm_norm_p90", float(np.percentile(gm, 90)))
        if self.trows:
            tc = {k: np.array([r[k] for r in self.trows], float) for k in self.trows[0]}
            fv.set("visual.frame_diff", med(tc["diff_mean"]))
            fv.set("visual.diff_mscn_var", med(tc["dmscn_var"]))
            fv.set("visual.diff_mscn_shape", med(tc["dmscn_shape"]))
