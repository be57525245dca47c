"""Visual extractors, part 1: image quality on sampled frames (technical picture quality and framing).

The visual family is three extractors that share the one decoded stream (``frames`` makes the cheap views):

    ImageQuality   image.py     resolution and real detail, sharpness, noise, compression (blockiness, bits per
                                pixel, banding), exposure, contrast, colour, framing (aspect ratio,
                                letterbox/pillarbox bars, content area)
    Temporal       temporal.py  frame rate and its regularity, motion, freezes, shake, cuts and fades, shots and
                                pacing, black/flash frames, the hook's motion
    Faces          faces.py     face presence, size and position (Haar cascade), the hook's face

Image statistics change slowly next to a frame interval, so ImageQuality looks at ``SAMPLES_PER_S`` frames a
second at the analysis size (short side 360 px), colour at ``COLOUR_SHORT_SIDE_PX``, and the full-size luma on
at most ``FULL_SAMPLES_MAX`` frames (real detail and codec block edges only exist at full size).

All pure measurement functions take a uint8 luma (or RGB) array and return plain floats, so tests can feed them
known images.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from ...config import preset
from ...features import FeatureVector, MetricSpec, per_second
from ..base import ClipContext, EventSpec, Extractor, register
from .frames import analysis_gray, full_luma, small_rgb

#: Frames analysed per second for image statistics. Sharpness, exposure and colour change over shots (seconds),
#: and 2 samples a second locate a soft or dark shot to within half a second at ~0.3 ms a frame (scripts/bench.py).
SAMPLES_PER_S = 2.0
#: Colour statistics are made on a small RGB copy: colourfulness and cast are means over the frame.
COLOUR_SHORT_SIDE_PX = 180
#: Full-size luma is read at most this often and this many times per clip (detail bands, block edges).
FULL_SAMPLES_PER_S = 0.5
FULL_SAMPLES_MAX = 24

# --- sharpness and detail -------------------------------------------------------------------------------------
#: Natural images have an amplitude spectrum ~1/f (Field 1987, JOSA A 4(12)), so every octave of a Laplacian
#: pyramid holds about the same energy; optical blur removes the finest octaves first. Sharpness is the energy of
#: the finest octave at the 360 px analysis size over the next one (gain- and contrast-invariant), mapped to
#: 0-1 as r / (r + SHARPNESS_HALF_RATIO). Measured (H.264, 360x640): generated 1/f scenes 2.7, the same with a
#: Gaussian blur of sigma 1.5 px 0.27; the real phone clips we looked at 0.9-1.4.
SHARPNESS_HALF_RATIO = 0.5
#: An octave holds real detail when its energy ratio to the next coarser octave is at least DETAIL_REAL_SHARE of
#: the same ratio in the coarsest octaves (the content's own spectral slope, which an upscale does not reach).
#: Measured on 360x640 H.264: native content keeps 0.9-2.7x the reference; the two octaves above a 4x upscale
#: (90x160 -> 360x640) 0.3x and 0.5x.
DETAIL_REAL_SHARE = 0.6
#: Octaves (counted from the coarsest measured) that give the reference slope.
DETAIL_REF_OCTAVES = 2
#: The reference ratio is capped at the natural one: a 1/f scene holds about equal energy per octave (ratio ~1,
#: Field 1987). Coarsest octaves weaker than that (a layout of flat boxes, a slide, one big uniform area) do not
#: give the content's slope: uncapped, a generated slide of flat boxes over a photo read a reference of 2.2 and
#: "upscaled 8x" (tests/unit/test_visual.py); natural clips read 0.7-0.9 (the flaw set's base), under the cap.
DETAIL_REF_MAX_RATIO = 1.0
#: Pyramid depth for detail: 5 octaves resolve real detail down to 1/32 of the nominal size.
DETAIL_OCTAVES = 5
#: Octave bands quieter than this (mean square, luma levels^2) are flat areas, not evidence either way.
BAND_FLOOR = 0.05

# --- noise --------------------------------------------------------------------------------------------------
#: Immerkaer (1996, "Fast noise variance estimation", CVIU 64(2)): sigma = sqrt(pi/2) / 6 * mean |I * M| with
#: M = [[1,-2,1],[-2,4,-2],[1,-2,1]]; the mask cancels ramps and most smooth structure. It is applied per block
#: and a low percentile of the block estimates is kept, so textured blocks (fine detail, not grain) are ignored.
NOISE_BLOCK_PX = 16
NOISE_PERCENTILE = 20
#: What ``noise_sigma`` reads of pure Gaussian grain, as a share of its sigma: the low percentile keeps the blocks
#: where the grain happens to be weakest. Measured on 360x640 mid-grey fields with grain of sigma 2-16 (3 seeds
#: each): 0.92-0.94 (0.96 at sigma 1, where rounding to 8 bits adds its own). Undone where grain is taken out of the
#: band energies (``without_grain``), so what is left of the grain is not read as sharpness or detail; the metric
#: itself stays as measured (the noise target is calibrated on it).
NOISE_ESTIMATE_BIAS = 0.925
#: Blocks this close to black or white are skipped: clipping flattens noise there.
NOISE_CLIP_MARGIN = 12

# --- exposure -----------------------------------------------------------------------------------------------
CLIPPED_HIGHLIGHT_LUMA = 250
CRUSHED_SHADOW_LUMA = 5
#: Clipped and crushed shares are counted on averages of this many px a side: grain spreads a crushed or blown area
#: over neighbouring levels without bringing its detail back, and per pixel, added grain "cured" crushed shadows on
#: a generated slide (tests/unit/test_visual.py); sigma-8 grain averages to 2 levels over 4x4.
EXPOSURE_BLOCK_PX = 4

# --- colour cast --------------------------------------------------------------------------------------------
#: The cast is the colour of the illuminant as the picture records it, estimated from its grey pixels (Yang, Gao &
#: Li 2015, "Efficient illuminant estimation for color constancy using grey pixels", CVPR): under a light of any
#: colour, a grey surface keeps the same local contrast in R, G and B (a light multiplies each channel, and a log
#: turns the multiply into an offset that a derivative removes), while an edge of a coloured object changes each
#: channel by a different amount. The local contrast is |Laplacian of Gaussian| of each channel's log at this
#: sigma (px at the 180 px colour size): 1 px keeps the edges of small objects apart.
GREY_LOG_SIGMA_PX = 1.0
#: The greyness index (spread over mean of the three channels' local contrast) is averaged over this window (px),
#: as Yang et al. do (7x7), so a lone noisy pixel is not taken for a grey area.
GREY_INDEX_WINDOW_PX = 7
#: Pixels with less local contrast than this (mean over the channels, log units: about 2% a step) are flat: their
#: contrast is noise, no evidence of grey either way.
GREY_MIN_CONTRAST = 0.02
#: Channels at or below this level are noise in the log; at or above GREY_CLIP_LEVEL they are clipped and no
#: longer record the light's colour.
GREY_DARK_LEVEL = 20
GREY_CLIP_LEVEL = 250
#: The greyest share of the candidate pixels is kept, and never fewer than GREY_MIN_PX (about 0.1% of a 180x320
#: frame, the share Yang et al. keep). Measured on the 80 clips of realclips and realmos (3-5 frames each, median
#: over them): keeping 0.5% or 5% instead of 2% moves a clip's cast by a median 0.4-0.5 Lab units (90th percentile
#: 2.5-2.6, at most 12 on one stage-lit clip); on the generated scenes of tests/unit/test_visual.py by under 1.
GREY_TOP_SHARE = 0.02
GREY_MIN_PX = 50

# --- compression --------------------------------------------------------------------------------------------
#: H.264/HEVC/VP9 transform blocks are 4-32 px on an 8 px grid (16 px macroblocks in H.264); starved encodes
#: show steps on that grid. Blockiness compares the luma step across each 8 px grid line with the steps beside it
#: (see ``blockiness``).
BLOCK_GRID_PX = 8
#: Added to both steps before the ratio: texture masks small steps, and a step below ~2 luma levels is hard to
#: see on a flat area (about the 1-2% Weber contrast threshold at mid-grey).
BLOCK_MASKING_LEVELS = 2.0
BLOCK_LINE_STRIDE = 4
#: A grid line's step is compared with the steps this many lines either side of it (inside the two blocks).
BLOCK_NEIGHBOUR_LINES = 3
#: Real detail is measured on a central crop of at most this many px a side (the spectrum does not need the
#: whole frame; a 1080x1920 pyramid costs ~4x more).
DETAIL_CROP_PX = 768
#: Codec efficiency relative to H.264 when bits per pixel are compared: HEVC and VP9 reach the same quality with
#: about half the bits (Ohm et al. 2012, IEEE TCSVT 22(12); Mukherjee et al. 2013 for VP9), AV1 ~0.4.
CODEC_EFFICIENCY = {"h264": 1.0, "hevc": 2.0, "vp9": 2.0, "av1": 2.5, "mpeg4": 0.7, "mpeg2video": 0.5}

# --- banding ------------------------------------------------------------------------------------------------
#: Gentle slopes (levels per pixel, after a 9 px box blur) are where 8-bit steps show as bands.
BANDING_SLOPE_MIN, BANDING_SLOPE_MAX = 0.04, 1.0
#: Blur (px) under which the slope is measured, and the local luma spread above which an area is texture.
BANDING_SMOOTH_PX = 32
BANDING_MAX_LOCAL_SD = 3.0
#: A pixel sits on a plateau when it lies in a run of at least this many equal pixels along its row.
BANDING_PLATEAU_PX = 9
#: Banding is only judged when gentle slopes cover at least this share of the frame.
BANDING_MIN_AREA = 0.03
#: A step larger than this (luma levels per quarter-size pixel, i.e. across 4 full pixels) is an edge, not a band:
#: 8-bit bands step by 1 level (2-3 after compression), while the edge of a flat graphic (a text box, a solid shape)
#: steps by tens. Without it, the wide blur made the flat inside of every solid shape near its edge read as a
#: "gentle slope" on plateaus: the clean demo clip (solid shapes and a text box on texture) read 93% banding.
BANDING_EDGE_LEVELS = 4.0
#: A plateau is a band only when the picture steps from it, BANDING_STEP_REACH_PX beyond each end along the row,
#: by BANDING_MIN_STEP_LEVELS to BANDING_MAX_STEP_LEVELS: a visible step of a staircase. Every smooth 8-bit
#: gradient sits on 1-level plateaus (that is the format, below the ~1-2% Weber contrast threshold at mid-grey, as
#: BLOCK_MASKING_LEVELS), and a solid fill ends in a hard edge, not a band: without this rule a grain-free
#: generated scene (gradients and solid shapes) read 92-99% banding, so added grain "cured" a flaw no one could
#: see (tests/unit/test_visual.py). Bands made by grading or compression step by 2-8 levels; a hard edge by more.
BANDING_STEP_REACH_PX = 4
BANDING_MIN_STEP_LEVELS = 2
BANDING_MAX_STEP_LEVELS = 8

# --- framing ------------------------------------------------------------------------------------------------
#: A bar row/column is near-uniform (luma std below this) or blurred (fine-band energy below BAR_BLUR_SHARE of
#: the frame's central rows). Bars narrower than BAR_MIN_SHARE of the side are ignored (edge artefacts).
BAR_UNIFORM_STD = 3.0
BAR_BLUR_SHARE = 0.08
BAR_MIN_SHARE = 0.02
#: Blurred bars on opposite sides may differ by this share of the side (rounding of the centred picture).
BAR_SYMMETRY_TOLERANCE = 0.02
#: Bars darker than this mean luma are black (PySceneDetect's ThresholdDetector takes 12/255 for black; video
#: range black is 16, plus a margin for encoder ringing).
BAR_BLACK_LUMA = 24
#: A solid bar that is not black is the design's own background, not a frame around a picture, when its colour goes
#: on inside: when more than BAR_BACKGROUND_SHARE of the frame between the bars lies within BAR_BACKGROUND_LEVELS of
#: the bar's luma. A text card with even margins (flat colour with panels and text on it) read as letterboxed
#: (picture area 53%) and its grained copy escaped that finding (issue 15, the ninth session's text-card flaw pairs).
#: A picture framed by a coloured fill rarely has that much of the fill's exact shade. Black bars are left out of
#: this test: a dark letterboxed scene can be mostly as dark as its bars.
BAR_BACKGROUND_LEVELS = 6.0
BAR_BACKGROUND_SHARE = 0.4


# ============================================================================================================
# Pure measurements
# ============================================================================================================


def band_energies(gray: np.ndarray, *, octaves: int) -> list[float]:
    """Mean-square energy of each Laplacian-pyramid band, finest first.

    ``gray`` : uint8 or float [shape=(h, w)]. Returns ``octaves`` floats (luma levels^2); fewer when the image
    becomes smaller than 8 px.
    """
    g = gray.astype(np.float32)
    out = []
    for _ in range(octaves):
        if min(g.shape) < 8:
            break
        down = cv2.pyrDown(g)
        band = cv2.pyrUp(down, dstsize=(g.shape[1], g.shape[0]))
        cv2.subtract(g, band, dst=band)  # in place: no temporaries (1.6x faster on a 768 px crop)
        # Ignore a 2 px border: pyramid edges are extrapolated.
        inner = band[2:-2, 2:-2]
        out.append(float(cv2.norm(inner, cv2.NORM_L2SQR)) / inner.size)
        g = down
    return out


def sharpness_ratio(gray: np.ndarray, *, noise_sigma_levels: float | None = None) -> float:
    """Energy of the finest octave over the next (>= 0): ~1 for sharp natural images, near 0 when blurred.
    Returns NaN for a flat image (no structure to judge). ``noise_sigma_levels``: grain measured on the same
    pixels; its share of each octave (``noise_band_gains``) is taken out first, so grain, which fills the finest
    octave most, is not read as sharpness (added grain made a soft picture read sharp and score above its source)."""
    e = band_energies(gray, octaves=2)
    if len(e) < 2 or e[1] < BAND_FLOOR:
        return float("nan")
    e = without_grain(e, noise_sigma_levels)
    if e[1] < BAND_FLOOR:
        return float("nan")
    return e[0] / e[1]


def sharpness_score(ratio: float) -> float:
    """0-1 sharpness from the octave ratio (see ``SHARPNESS_HALF_RATIO``)."""
    return ratio / (ratio + SHARPNESS_HALF_RATIO)


@functools.lru_cache(maxsize=1)
def noise_band_gains() -> tuple[float, ...]:
    """Energy (luma levels^2) each Laplacian-pyramid band holds of white noise of unit variance, finest first:
    measured once on a seeded 512x512 Gaussian field (the pyramid is linear, so sigma-s noise holds s^2 times it)."""
    field = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    return tuple(band_energies(field, octaves=DETAIL_OCTAVES + 1))


def without_grain(energies: list[float], noise_sigma_levels: float | None) -> list[float]:
    """Band energies (finest first) with the share of grain of ``noise_sigma_levels`` (as ``noise_sigma`` reads it)
    taken out of each (``noise_band_gains``, the estimate's bias ``NOISE_ESTIMATE_BIAS`` undone); unchanged without
    a grain estimate."""
    if not noise_sigma_levels or not math.isfinite(noise_sigma_levels):
        return list(energies)
    var = (float(noise_sigma_levels) / NOISE_ESTIMATE_BIAS) ** 2
    return [max(x - g * var, BAND_FLOOR * 1e-3) for x, g in zip(energies, noise_band_gains())]


def effective_short_side(luma: np.ndarray, *, nominal_px: float | None = None,
                         noise_sigma_levels: float | None = None) -> float:
    """Short side (px) of the detail a frame really holds: its nominal short side divided by 2 for each of its
    finest octaves that is empty (see ``DETAIL_REAL_SHARE``), interpolated within the first real octave.
    A 240p clip upscaled to 1080p reads about 240, a native one its full size. NaN for a flat frame.
    ``luma`` may be a crop of the frame; ``nominal_px`` is then the frame's short side (default: the crop's).
    ``noise_sigma_levels``: grain measured on the same pixels; its share of each band (``noise_band_gains``) is
    taken out first, so grain is not read as detail (added grain made flat slides read "native")."""
    e = band_energies(luma, octaves=DETAIL_OCTAVES + 1)
    short = float(nominal_px or min(luma.shape))
    if len(e) < 3 or min(e) < BAND_FLOOR:
        return float("nan")
    e = without_grain(e, noise_sigma_levels)
    r = [e[k] / e[k + 1] for k in range(len(e) - 1)]
    ref = min(DETAIL_REF_MAX_RATIO, float(np.median(r[-DETAIL_REF_OCTAVES:])))
    for k in range(len(r) - DETAIL_REF_OCTAVES):
        share = r[k] / ref
        if share >= DETAIL_REAL_SHARE:
            # Octave k is real: credit it fully when clearly so, partly when only just.
            frac = min(1.0, share / (2 * DETAIL_REAL_SHARE))
            return short / 2 ** (k + 1 - frac)
    return short / 2 ** (len(r) - DETAIL_REF_OCTAVES)


_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def noise_sigma(gray: np.ndarray) -> float:
    """Robust noise standard deviation (luma levels) of a frame, from the flattest blocks (Immerkaer 1996).
    NaN when the frame has no usable block (all clipped)."""
    g = gray.astype(np.float32)
    resp = np.abs(cv2.filter2D(g, cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REFLECT))[1:-1, 1:-1]
    h, w = resp.shape
    b = NOISE_BLOCK_PX
    hb, wb = h // b, w // b
    if hb == 0 or wb == 0:
        return float("nan")
    blocks = resp[: hb * b, : wb * b].reshape(hb, b, wb, b).mean(axis=(1, 3))
    means = g[1 : 1 + hb * b, 1 : 1 + wb * b].reshape(hb, b, wb, b).mean(axis=(1, 3))
    ok = (means > NOISE_CLIP_MARGIN) & (means < 255 - NOISE_CLIP_MARGIN)
    if not np.any(ok):
        return float("nan")
    sig = blocks[ok] * math.sqrt(math.pi / 2) / 6.0
    return float(np.percentile(sig, NOISE_PERCENTILE))


def blockiness(luma: np.ndarray, *, grid: int = BLOCK_GRID_PX) -> float:
    """Excess luma step across ``grid``-px block edges, in % (0 = no blocking), the mean of the horizontal and
    vertical directions.

    Per direction: the mean step between each pair of neighbouring lines; each grid line's step is compared with
    the steps of the lines on either side of it (``BLOCK_NEIGHBOUR_LINES``) as (on + BLOCK_MASKING_LEVELS) /
    (beside + BLOCK_MASKING_LEVELS) - 1, and the median over the grid lines is kept. A codec's blocking lifts
    nearly every grid line; a few sharp edges of the picture that happen to lie on the grid lift only those lines
    and do not move the median (a grid-aligned slide read 300%+ as a mean over lines, tests/unit/test_visual.py).
    """
    vals = []
    k = BLOCK_NEIGHBOUR_LINES
    for axis in (0, 1):
        # Every BLOCK_LINE_STRIDE-th line across is enough for the mean step profile (and 4x cheaper).
        g = (luma[:, ::BLOCK_LINE_STRIDE] if axis == 0 else luma[::BLOCK_LINE_STRIDE, :]).astype(np.int16)
        d = np.abs(np.diff(g, axis=axis)).mean(axis=1 - axis)  # mean step between line i and i+1
        on = np.arange(grid - 1, len(d) - k, grid)
        on = on[on >= k]
        if on.size == 0:
            continue
        beside = np.mean([d[on + j] for j in range(-k, k + 1) if j != 0], axis=0)
        ratios = (d[on] + BLOCK_MASKING_LEVELS) / (beside + BLOCK_MASKING_LEVELS) - 1.0
        vals.append(float(np.median(ratios)))
    return 100.0 * max(0.0, float(np.mean(vals))) if vals else 0.0


def banding_pct(gray: np.ndarray) -> float:
    """Share (%) of the gently sloped area that sits on flat 8-bit plateaus wide enough for a visible step
    (``BANDING_MIN_STEP_LEVELS``); 0 when gentle slopes cover less than ``BANDING_MIN_AREA`` of the frame."""
    g = gray.astype(np.float32)
    h, w = g.shape
    # The slope is measured at a quarter size with a wide blur, so that bands wider than the blur (flat inside)
    # still count as a gentle slope.
    small = cv2.resize(g, (max(2, w // 4), max(2, h // 4)), interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(small, (0, 0), BANDING_SMOOTH_PX / 4)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 32.0  # Sobel gain 8, and 4 px per small pixel
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 32.0
    slope = np.sqrt(gx * gx + gy * gy)
    # Thresholding at the small size and enlarging the mask (nearest neighbour) equals enlarging the slope first.
    in_range = (slope >= BANDING_SLOPE_MIN) & (slope <= BANDING_SLOPE_MAX)
    # A flat area whose gentle "slope" is only the blurred shadow of a nearby hard edge is a graphic, not a
    # gradient: drop everything within the blur's reach (2 sigma) of an edge.
    ex = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    ey = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    edge = ((np.abs(ex) > BANDING_EDGE_LEVELS) | (np.abs(ey) > BANDING_EDGE_LEVELS)).view(np.uint8)
    reach = 2 * int(math.ceil(BANDING_SMOOTH_PX / 4))  # 2 sigma of the blur, in quarter-size pixels
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    near_edge = cv2.dilate(edge, kernel).view(bool)
    in_range = (in_range & ~near_edge).view(np.uint8)
    gentle = cv2.resize(in_range, (w, h), interpolation=cv2.INTER_NEAREST).view(bool)
    # Texture is not a gradient: the local spread must stay within what 8-bit steps alone give.
    mean = cv2.blur(g, (9, 9))
    local_var = cv2.blur(g * g, (9, 9)) - mean * mean
    gentle &= local_var < BANDING_MAX_LOCAL_SD ** 2
    area = float(np.count_nonzero(gentle)) / gentle.size
    if area < BANDING_MIN_AREA:
        return 0.0
    # Bands lie across the gradient: along rows for a left-right gradient, along columns for a sky's top-bottom one.
    share_rows = _band_share(gray, gentle)
    share_cols = _band_share(np.ascontiguousarray(gray.T), np.ascontiguousarray(gentle.T))
    return 100.0 * max(share_rows, share_cols)


def _band_share(gray: np.ndarray, gentle: np.ndarray) -> float:
    """Share of the ``gentle`` pixels that sit on band plateaus along the rows of ``gray``.

    Runs of equal pixels along each row (a row always starts a new run); only those of BANDING_PLATEAU_PX or more
    can be bands: the step from each, BANDING_STEP_REACH_PX beyond its ends, decides."""
    w = gray.shape[1]
    flat = np.ascontiguousarray(gray).ravel()
    n = flat.size
    new_run = np.empty(n, bool)
    new_run[0] = True
    np.not_equal(flat[1:], flat[:-1], out=new_run[1:])
    new_run[::w] = True
    starts = np.flatnonzero(new_run)
    widths = np.diff(starts, append=n)
    wide = widths >= BANDING_PLATEAU_PX
    s0 = starts[wide]
    e0 = s0 + widths[wide] - 1  # inclusive
    row_start = (s0 // w) * w
    left = s0 - BANDING_STEP_REACH_PX
    right = e0 + BANDING_STEP_REACH_PX
    has_left = left >= row_start
    has_right = right < row_start + w
    value = flat[s0].astype(np.int16)
    step_l = np.abs(flat[np.where(has_left, left, s0)].astype(np.int16) - value)
    step_r = np.abs(flat[np.where(has_right, right, s0)].astype(np.int16) - value)
    ok_l = ~has_left | ((step_l >= BANDING_MIN_STEP_LEVELS) & (step_l <= BANDING_MAX_STEP_LEVELS))
    ok_r = ~has_right | ((step_r >= BANDING_MIN_STEP_LEVELS) & (step_r <= BANDING_MAX_STEP_LEVELS))
    band = ok_l & ok_r & (has_left | has_right)
    # Gentle pixels inside the band runs, from a running count (no per-pixel mask needed).
    counted = np.concatenate(([0], np.cumsum(gentle.ravel(), dtype=np.int32)))
    on_bands = int((counted[e0[band] + 1] - counted[s0[band]]).sum())
    return on_bands / float(np.count_nonzero(gentle))


def colour_stats(rgb: np.ndarray) -> tuple[float, float, float]:
    """(colourfulness, saturation %, colour cast) of an RGB uint8 frame.

    Colourfulness: Hasler & Suesstrunk (2003), M = sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2) with
    rg = R - G, yb = (R + G) / 2 - B; 0 grey, ~15 slightly, ~33 moderately, ~45 quite, >59 highly colourful.
    Saturation: mean HSV saturation, %. Colour cast: ``colour_cast`` (NaN when the frame has no grey evidence).
    """
    rgb = np.ascontiguousarray(rgb)
    # Separate planes, then element-wise max/min: a reduction over the 3-long colour axis (f.max(axis=2)) costs
    # ~30x more in numpy (4 ms against 0.15 ms on a 180x320 frame).
    r, g, b = (p.astype(np.float32) for p in cv2.split(rgb))
    rg = r - g
    yb = 0.5 * (r + g) - b
    colourful = math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    sat = float(np.mean(np.where(mx > 0, (mx - mn) / np.maximum(mx, 1), 0.0))) * 100.0
    return float(colourful), sat, colour_cast(rgb, lo=mn, hi=mx)


_LOG_TABLE = np.log(np.arange(256, dtype=np.float32) + 1.0)


def colour_cast(rgb: np.ndarray, *, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> float:
    """Colour cast of an RGB uint8 frame [shape=(h, w, 3)]: the distance from neutral grey (CIELAB a*, b*, Lab
    units) of the mean colour of its grey pixels (``GREY_LOG_SIGMA_PX`` and below: Yang et al. 2015), i.e. the
    colour a white-balance error gives to things that are grey. Colourful content does not read as a cast: an
    orange suit's edges change R, G and B by different amounts and are not grey pixels.

    NaN when the frame holds too little grey evidence (fewer than ``GREY_MIN_PX`` pixels that have local contrast
    and are neither too dark nor clipped: a flat frame, a black frame). ``lo`` and ``hi`` (the per-pixel min and
    max of R, G and B) may be passed when the caller has them.
    """
    if lo is None or hi is None:
        r, g, b = cv2.split(rgb)
        lo, hi = np.minimum(np.minimum(r, g), b), np.maximum(np.maximum(r, g), b)
    # All three channels at once (a 3-channel filter costs about one plane's), the log through a table.
    log_rgb = cv2.LUT(np.ascontiguousarray(rgb), _LOG_TABLE)
    ksize = 2 * int(math.ceil(2 * GREY_LOG_SIGMA_PX)) + 1  # the Gaussian to 2 sigma
    log_rgb = cv2.GaussianBlur(log_rgb, (ksize, ksize), GREY_LOG_SIGMA_PX)
    lap = cv2.Laplacian(log_rgb, cv2.CV_32F)
    cr, cg, cb = cv2.split(np.abs(lap, out=lap))
    mean = (cr + cg + cb) / 3.0
    # The spread of the three contrasts, from their squares (one pass, no stacked copy).
    spread = cv2.sqrt(np.maximum(cv2.multiply(cr, cr) + cv2.multiply(cg, cg) + cv2.multiply(cb, cb)
                                 - 3.0 * cv2.multiply(mean, mean), 0.0) / 3.0)
    greyness = cv2.blur(spread / np.maximum(mean, 1e-6), (GREY_INDEX_WINDOW_PX, GREY_INDEX_WINDOW_PX))
    ok = (lo > GREY_DARK_LEVEL) & (hi < GREY_CLIP_LEVEL) & (mean > GREY_MIN_CONTRAST)
    candidates = greyness[ok]
    if candidates.size < GREY_MIN_PX:
        return float("nan")
    keep = max(GREY_MIN_PX, int(GREY_TOP_SHARE * candidates.size))
    limit = np.partition(candidates, keep - 1)[keep - 1]
    grey = np.ascontiguousarray(rgb[ok & (greyness <= limit)])[:, None, :]
    # CIELAB of the grey pixels only; OpenCV's 8-bit Lab stores a*, b* +128 at 1 Lab unit a level.
    lab = cv2.cvtColor(grey, cv2.COLOR_RGB2LAB)
    a = float(lab[:, 0, 1].mean(dtype=np.float64)) - 128.0
    bb = float(lab[:, 0, 2].mean(dtype=np.float64)) - 128.0
    return math.hypot(a, bb)


def _edge_run(flags: np.ndarray) -> int:
    """Length of the run of True at the start of ``flags``."""
    if not flags.size or not flags[0]:
        return 0
    idx = np.flatnonzero(~flags)
    return int(idx[0]) if idx.size else int(flags.size)


def _background_goes_on(g: np.ndarray, axis: int, runs: tuple[int, int], bar_luma: float) -> bool:
    """Whether the colour of a solid bar goes on inside the frame: more than BAR_BACKGROUND_SHARE of the frame between
    the bars (``runs`` px at the start and the end of rows, ``axis`` 1, or of columns, 0) within
    BAR_BACKGROUND_LEVELS of ``bar_luma``."""
    inner = g[runs[0]:g.shape[0] - runs[1]] if axis == 1 else g[:, runs[0]:g.shape[1] - runs[1]]
    if inner.size == 0:
        return False
    return float(np.mean(np.abs(inner - bar_luma) < BAR_BACKGROUND_LEVELS)) > BAR_BACKGROUND_SHARE


def frame_bars(gray: np.ndarray) -> tuple[dict, str]:
    """Letterbox/pillarbox bars of one analysis frame: ({"top","bottom","left","right"}: px at this size, kind).

    A bar is a run of rows (columns) from an edge that are near-uniform (black or solid fill) or blurred
    (much less fine detail than the middle of the frame: a blurred copy of the video behind it).
    """
    g = gray.astype(np.float32)
    lap = np.abs(cv2.Laplacian(g, cv2.CV_32F))
    h, w = g.shape
    out = {}
    kinds = set()
    g2 = g * g
    for axis, (a, b) in ((1, ("top", "bottom")), (0, ("left", "right"))):
        # Row (axis 1) or column (axis 0) statistics through cv2.reduce with double sums: numpy's std along
        # columns of a 360x640 float32 frame makes several strided passes and cost ~4x more.
        dim = 1 if axis == 1 else 0
        mean = cv2.reduce(g, dim, cv2.REDUCE_AVG, dtype=cv2.CV_64F).ravel()
        std = np.sqrt(np.maximum(0.0, cv2.reduce(g2, dim, cv2.REDUCE_AVG, dtype=cv2.CV_64F).ravel() - mean * mean))
        fine = cv2.reduce(lap, dim, cv2.REDUCE_AVG, dtype=cv2.CV_64F).ravel()
        n = len(std)
        centre = fine[n // 3 : 2 * n // 3]
        ref = float(np.median(centre)) if centre.size else 0.0
        uniform = std < BAR_UNIFORM_STD
        blurred = fine < BAR_BLUR_SHARE * ref if ref > 1.0 else np.zeros_like(uniform)
        flags = uniform | blurred
        runs = {}
        for name, f in ((a, flags), (b, flags[::-1])):
            run = _edge_run(f)
            if run < BAR_MIN_SHARE * n or run >= 0.5 * n:
                run = 0  # an edge artefact, or a whole-frame flat picture: not a bar
            runs[name] = run
        sides = {a: slice(0, runs[a]), b: slice(n - runs[b], n)}
        solid = {k: runs[k] > 0 and bool(np.all(uniform[sides[k]])) for k in (a, b)}
        # Blurred fill is put there by an editor around a centred picture, so it is symmetric; a one-sided soft
        # area (a clear sky, a defocused floor) is picture, not a bar. Solid bars may be one-sided.
        if not (solid[a] and solid[b]) and (not solid[a] or not solid[b]):
            sym = min(runs[a], runs[b])
            for k in (a, b):
                if not solid[k]:
                    runs[k] = sym if abs(runs[k] - sym) <= BAR_SYMMETRY_TOLERANCE * n else 0
        for k in (a, b):
            if solid[k] and runs[k] and float(np.mean(mean[sides[k]])) >= BAR_BLACK_LUMA and _background_goes_on(
                    g, axis, (runs[a], runs[b]), float(np.mean(mean[sides[k]]))):
                runs[k] = 0
        # A solid bar that is not black must be matched on the opposite side too: a slide or text card with flat
        # margins of its own colour (a title band above, more space below) is picture, not bars; grain on the
        # same slide would otherwise "cure" its bars (tests/unit/test_visual.py). Black bars may be one-sided.
        lone = [k for k, other in ((a, b), (b, a)) if solid[k] and runs[k]
                and float(np.mean(mean[sides[k]])) >= BAR_BLACK_LUMA
                and abs(runs[k] - runs[other]) > BAR_SYMMETRY_TOLERANCE * n]
        for k in lone:
            runs[k] = 0
        for k in (a, b):
            out[k] = runs[k]
            if runs[k]:
                sl = slice(0, runs[k]) if k == a else slice(n - runs[k], n)
                kinds.add("black" if float(np.mean(mean[sl])) < BAR_BLACK_LUMA and bool(np.all(uniform[sl])) else
                          "solid" if bool(np.all(uniform[sl])) else "blurred")
    kind = "none" if not kinds else (kinds.pop() if len(kinds) == 1 else "mixed")
    return out, kind


# ============================================================================================================
# The extractor
# ============================================================================================================


@register
class ImageQuality(Extractor):
    name = "visual_image"
    modality = "visual"
    stage = "visual"
    EVENTS = (
        EventSpec("visual.bars", "{top, bottom, left, right: px, kind}",
                  "Letterbox/pillarbox bars in displayed pixels (median over the samples) and their kind."),
    )
    METRICS = (
        MetricSpec("visual.resolution_pct", "Resolution", "%", 0, 100, True,
                   "Short side of the displayed frame as a share of the platform's target (1080 px for 1080x1920)."),
        MetricSpec("visual.effective_resolution_px", "Real resolution (short side)", "px", 0, 4320, True,
                   "Short side (px) of the detail the picture really holds, from the energy in each octave of its "
                   "spatial spectrum at full size; an upscaled clip reads its source size."),
        MetricSpec("visual.detail", "Real detail for the size", "", 0, 1, True,
                   "Real detail (effective resolution) as a share of the clip's own short side: 1 = native, "
                   "0.25 = upscaled 4x (a 270p source in a 1080p file)."),
        MetricSpec("visual.sharpness", "Sharpness", "", 0, 1, True,
                   "Energy of the finest octave over the next at the 360 px analysis size, mapped to 0-1 "
                   "(0.5 = clearly soft); independent of brightness and contrast."),
        MetricSpec("visual.noise_sigma", "Noise", "luma levels", 0, 50, False,
                   "Robust standard deviation of grain in the flattest areas at 360 px (Immerkaer's estimator), "
                   "0-255 luma levels."),
        MetricSpec("visual.blockiness", "Blockiness", "%", 0, 100, False,
                   "How much larger luma steps are on the codec's 8 px block grid than elsewhere, full size."),
        MetricSpec("visual.bits_per_pixel", "Bits per pixel", "bpp", 0, 2, True,
                   "Video bitrate per pixel per frame, H.264-equivalent (HEVC/VP9 count double)."),
        MetricSpec("visual.banding_pct", "Banding", "%", 0, 100, False,
                   "Share of smooth gradients (sky, walls) that sit on flat 8-bit steps."),
        MetricSpec("visual.brightness", "Mean brightness", "luma 0-255", 0, 255, None,
                   "Mean luma (full-range Y) over the clip."),
        MetricSpec("visual.luma_p5", "Shadow level (5th percentile)", "luma 0-255", 0, 255, None,
                   "5th percentile of luma: where the darkest tones sit."),
        MetricSpec("visual.luma_p95", "Highlight level (95th percentile)", "luma 0-255", 0, 255, None,
                   "95th percentile of luma: where the brightest tones sit."),
        MetricSpec("visual.clipped_highlights_pct", "Clipped highlights", "%", 0, 100, False,
                   f"Share of the picture at luma >= {CLIPPED_HIGHLIGHT_LUMA} "
                   f"({EXPOSURE_BLOCK_PX}x{EXPOSURE_BLOCK_PX} px averages).",
                   plural=True),
        MetricSpec("visual.crushed_shadows_pct", "Crushed shadows", "%", 0, 100, False,
                   f"Share of the picture at luma <= {CRUSHED_SHADOW_LUMA} "
                   f"({EXPOSURE_BLOCK_PX}x{EXPOSURE_BLOCK_PX} px averages).",
                   plural=True),
        MetricSpec("visual.contrast", "Contrast", "luma std", 0, 128, True,
                   "Standard deviation of luma: how far tones spread."),
        MetricSpec("visual.colourfulness", "Colourfulness", "", 0, 150, True,
                   "Hasler & Suesstrunk colourfulness: ~15 slightly, ~33 moderately, ~45 quite colourful."),
        MetricSpec("visual.saturation_pct", "Saturation", "%", 0, 100, None, "Mean HSV saturation."),
        MetricSpec("visual.colour_cast", "Colour cast", "Lab units", 0, 128, False,
                   "How far from neutral grey (CIELAB a*/b*) the picture's grey things read: the colour of the light or a "
                   "white-balance error, estimated from its grey pixels (Yang et al. 2015), not the content's colour."),
        MetricSpec("visual.aspect_ratio", "Aspect ratio", "w/h", 0, 4, None,
                   "Displayed width over height after rotation (9:16 = 0.5625)."),
        MetricSpec("visual.content_area_pct", "Picture area", "%", 0, 100, True,
                   "Share of the frame that is real picture, not letterbox/pillarbox bars (black or blurred fill)."),
        MetricSpec("visual.letterbox_pct", "Letterbox bars", "%", 0, 100, False,
                   "Height of the bars above and below the picture, % of the frame height."),
        MetricSpec("visual.pillarbox_pct", "Pillarbox bars", "%", 0, 100, False,
                   "Width of the bars left and right of the picture, % of the frame width."),
    )

    def begin(self, ctx: ClipContext) -> None:
        self.next_t = 0.0
        self.next_full_t = 0.0
        self.t: list[float] = []
        self.rows: list[dict] = []
        self.bars: list[dict] = []
        self.bar_kinds: list[str] = []
        self.analysis_shape = None
        self.full: list[tuple[float, float]] = []  # (effective short side px, blockiness %)
        self.full_shape = None

    def on_frame(self, frame, ctx: ClipContext) -> None:
        t = frame.t_s
        if t + 1e-6 >= self.next_t:
            self.next_t = t + 1.0 / SAMPLES_PER_S
            self._sample(frame, t)
        if t + 1e-6 >= self.next_full_t and len(self.full) < FULL_SAMPLES_MAX:
            self.next_full_t = t + 1.0 / FULL_SAMPLES_PER_S
            luma = full_luma(frame)  # as stored: rotate the bars (display orientation) back
            self.full_shape = luma.shape
            b = self.bars[-1] if self.bars else {"top": 0, "bottom": 0, "left": 0, "right": 0}
            gh, gw = self.analysis_shape or luma.shape
            bv, bh = max(b["top"], b["bottom"]) / gh, max(b["left"], b["right"]) / gw
            if ctx.info.rotation_deg in (90, 270):
                bv, bh = bh, bv
            lh, lw = luma.shape
            y0, x0 = int(math.ceil(bv * lh)), int(math.ceil(bh * lw))
            inner = luma[y0 : lh - y0, x0 : lw - x0]
            if min(inner.shape) < 32:
                inner = luma
            ih, iw = inner.shape
            cy, cx = (ih - min(ih, DETAIL_CROP_PX)) // 2, (iw - min(iw, DETAIL_CROP_PX)) // 2
            crop = inner[cy : cy + min(ih, DETAIL_CROP_PX), cx : cx + min(iw, DETAIL_CROP_PX)]
            nominal = min(inner.shape)
            ch, cw = crop.shape
            grain = noise_sigma(crop[ch // 4 : ch - ch // 4, cw // 4 : cw - cw // 4])  # a quarter of it is enough
            self.full.append((effective_short_side(crop, nominal_px=nominal, noise_sigma_levels=grain),
                              blockiness(luma), nominal))

    def _sample(self, frame, t: float) -> None:
        g = analysis_gray(frame)
        self.analysis_shape = g.shape
        bars, kind = frame_bars(g)
        self.bars.append(bars)
        self.bar_kinds.append(kind)
        # Judge the picture inside the bars only (bars are framing, reported on their own).
        gh, gw = g.shape
        inner = g[bars["top"] : gh - bars["bottom"], bars["left"] : gw - bars["right"]]
        if min(inner.shape) < 32:
            inner, bars = g, {"top": 0, "bottom": 0, "left": 0, "right": 0}
        hist = np.bincount(inner.ravel(), minlength=256).astype(np.float64)
        npx = float(inner.size)
        ih, iw = inner.shape
        blocks = cv2.resize(inner, (max(1, iw // EXPOSURE_BLOCK_PX), max(1, ih // EXPOSURE_BLOCK_PX)),
                            interpolation=cv2.INTER_AREA)
        bhist = np.bincount(blocks.ravel(), minlength=256).astype(np.float64)
        nblocks = float(blocks.size)
        cdf = np.cumsum(hist) / npx
        levels = np.arange(256)
        mean = float((hist * levels).sum() / npx)
        std = float(math.sqrt(max(0.0, (hist * (levels - mean) ** 2).sum() / npx)))
        rgb = small_rgb(frame, COLOUR_SHORT_SIDE_PX)
        rh, rw = rgb.shape[:2]
        rgb = rgb[bars["top"] * rh // gh : rh - bars["bottom"] * rh // gh,
                  bars["left"] * rw // gw : rw - bars["right"] * rw // gw]
        colourful, sat, cast = colour_stats(rgb)
        grain = noise_sigma(inner)
        ratio = sharpness_ratio(inner, noise_sigma_levels=grain)
        self.t.append(t)
        self.rows.append({
            "sharp": sharpness_score(ratio) if math.isfinite(ratio) else float("nan"),
            "mean": mean,
            "std": std,
            "p5": float(np.searchsorted(cdf, 0.05)),
            "p95": float(np.searchsorted(cdf, 0.95)),
            "hi": 100.0 * float(bhist[CLIPPED_HIGHLIGHT_LUMA:].sum()) / nblocks,
            "lo": 100.0 * float(bhist[: CRUSHED_SHADOW_LUMA + 1].sum()) / nblocks,
            "noise": grain,
            "banding": banding_pct(inner),
            "colourful": colourful,
            "sat": sat,
            "cast": cast,
        })

    def snapshot(self) -> "ImageQuality | None":
        """The samples so far (their medians and means are the metrics of the clip up to this frame)."""
        return self.frozen("t", "rows", "bars", "bar_kinds", "full") if self.t else None

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        info = ctx.info
        if not info.has_video:
            fv.note("visual", "The file has no video stream, so there is no picture to judge.")
            return
        p = preset(ctx.config)
        target_w = int(p.get("target_width", 1080))
        target_h = int(p.get("target_height", 1920))
        target_short = min(target_w, target_h)
        w, h = info.width, info.height
        if w and h:
            fv.set("visual.resolution_pct", 100.0 * min(1.0, min(w, h) / target_short))
            fv.set("visual.aspect_ratio", w / h)
        if info.fps and info.stored_width and info.stored_height:
            bitrate = info.video_bitrate_bps
            if not bitrate and info.bitrate_bps:
                bitrate = max(0, info.bitrate_bps - (128_000 if info.has_audio else 0))
            if bitrate:
                eff = CODEC_EFFICIENCY.get(info.codec or "", 1.0)
                fv.set("visual.bits_per_pixel", eff * bitrate / (info.stored_width * info.stored_height * info.fps))
        if self.full:
            eff = np.array([(e, n) for e, _, n in self.full], float)
            eff = eff[np.isfinite(eff[:, 0])]
            if eff.size:
                # Real detail of the picture (inside any bars) against its own nominal short side.
                fv.set("visual.effective_resolution_px", float(np.median(eff[:, 0])))
                fv.set("visual.detail", float(np.median(np.minimum(1.0, eff[:, 0] / eff[:, 1]))))
            fv.set("visual.blockiness", float(np.median([b for _, b, _ in self.full])))
        if not self.t:
            return
        col = {k: np.array([r[k] for r in self.rows], float) for k in self.rows[0]}

        def med(k):
            v = col[k][np.isfinite(col[k])]
            return float(np.median(v)) if v.size else None

        def mean(k):
            v = col[k][np.isfinite(col[k])]
            return float(np.mean(v)) if v.size else None

        fv.set("visual.sharpness", med("sharp"))
        fv.set("visual.noise_sigma", med("noise"))
        fv.set("visual.banding_pct", med("banding"))
        fv.set("visual.brightness", mean("mean"))
        fv.set("visual.luma_p5", med("p5"))
        fv.set("visual.luma_p95", med("p95"))
        fv.set("visual.clipped_highlights_pct", mean("hi"))
        fv.set("visual.crushed_shadows_pct", mean("lo"))
        fv.set("visual.contrast", mean("std"))
        fv.set("visual.colourfulness", med("colourful"))
        fv.set("visual.saturation_pct", med("sat"))
        fv.set("visual.colour_cast", med("cast"))

        # Bars are static: the median over samples, in displayed px.
        gh, gw = self.analysis_shape
        sy, sx = (h / gh if h else 1.0), (w / gw if w else 1.0)
        bars = {k: int(np.median([b[k] for b in self.bars])) for k in ("top", "bottom", "left", "right")}
        disp = {k: int(round(v * (sy if k in ("top", "bottom") else sx))) for k, v in bars.items()}
        kinds = [k for k in self.bar_kinds if k != "none"]
        kind = max(set(kinds), key=kinds.count) if kinds and any(disp.values()) else "none"
        fv.events["visual.bars"] = {**disp, "kind": kind}
        lb = 100.0 * (bars["top"] + bars["bottom"]) / gh
        pb = 100.0 * (bars["left"] + bars["right"]) / gw
        fv.set("visual.letterbox_pct", lb)
        fv.set("visual.pillarbox_pct", pb)
        fv.set("visual.content_area_pct", (100.0 - lb) * (100.0 - pb) / 100.0)

        d = ctx.info.duration_s or (self.t[-1] + 1.0 / SAMPLES_PER_S)
        for key, k, unit in (("visual.sharpness", "sharp", ""), ("visual.brightness", "mean", "luma"),
                             ("visual.noise_sigma", "noise", "luma levels"), ("visual.contrast", "std", "luma std"),
                             ("visual.clipped_highlights_pct", "hi", "%"), ("visual.crushed_shadows_pct", "lo", "%")):
            vals = [None if not math.isfinite(v) else v for v in col[k]]
            fv.add_series(key, per_second(self.t, vals, d), step_s=1.0, unit=unit)
