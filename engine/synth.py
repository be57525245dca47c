"""Synthetic media: frames, sounds and encoded clips whose content is known exactly.

Tests, the demo folder (``engine.demo``) and the synthetic training corpus (``engine.train``) all build their
media here, so a test can state what is in a clip (a scene with real texture and motion, a blur of known sigma,
speech at -23 LUFS) and check that a metric finds it.

Conventions
-----------
- Every function is pure: the same arguments give the same output, bit for bit (randomness comes only from the
  ``seed`` argument). Arguments are keyword-only, except the signal or frame a function transforms.
- Frames are ``np.ndarray [shape=(height, width, 3), dtype=uint8]`` in RGB order, in *displayed* orientation.
- Audio is ``np.ndarray [shape=(n,), dtype=float32]`` mono at sample rate ``sr`` (Hz), full scale = 1.0.
  ``write_clip`` also takes multichannel audio shaped ``(channels, n)``.
- Levels: ``*_dbfs`` is decibels relative to full scale (1.0); ``*_lufs`` is integrated loudness after ITU-R
  BS.1770-4, measured with pyloudnorm.

Nothing here imports a UI or pytest; this is product code.
"""
from __future__ import annotations

import functools
import math
import os
import struct
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import cv2
import numpy as np

__all__ = [
    "textured_scene",
    "scene_sequence",
    "render_text",
    "gaussian_blur",
    "scale_brightness",
    "letterbox",
    "sine",
    "silence",
    "pink_noise",
    "speech_like",
    "music_like",
    "click_track",
    "mix",
    "measure_lufs",
    "scale_to_lufs",
    "write_clip",
    "read_tkhd_rotation",
    "VIDEO_CODECS",
    "AUDIO_CODECS",
]

VideoSource = Callable[[int, float], np.ndarray]

# ----------------------------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------------------------

#: Spectral slope of the background texture: amplitude ~ 1 / f**beta. Natural images have an amplitude
#: spectrum close to 1/f (Field 1987, "Relations between the statistics of natural images...", JOSA A 4(12)).
NATURAL_IMAGE_SPECTRAL_SLOPE = 1.0

#: Golden-ratio conjugate: stepping the hue by it per scene keeps successive scenes' palettes far apart.
_GOLDEN = 0.6180339887498949


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One colour, h in [0, 1), s and v in [0, 1] -> float RGB in [0, 1]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], dtype=np.float32)


@functools.lru_cache(maxsize=16)
def _scene_canvas(width: int, height: int, seed: int, scene: int) -> np.ndarray:
    """The static world of one scene: uint8 RGB [shape=(height, canvas_w, 3)], periodic along x.

    The texture is 1/f noise synthesised in the Fourier domain (periodic by construction, so the camera can pan
    forever by wrapping), coloured through a three-colour palette picked from (seed, scene), lit by a vertical
    gradient, with hard-edged shapes (which give edges for sharpness metrics) drawn so that they wrap too.
    """
    rng = _rng(seed, scene, 0x5CE7E)
    canvas_w = 2 * width
    # Multi-scale luminance texture: white noise shaped to 1/f in 2-D.
    white = rng.standard_normal((height, canvas_w)).astype(np.float32)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(canvas_w)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    radius[0, 0] = 1.0
    spectrum = np.fft.rfft2(white) / radius**NATURAL_IMAGE_SPECTRAL_SLOPE
    spectrum[0, 0] = 0.0
    tex = np.fft.irfft2(spectrum, s=(height, canvas_w)).astype(np.float32)
    tex = (tex - tex.mean()) / (tex.std() + 1e-6)
    # Fine grain on top (skin/fabric/foliage-like detail that blur removes).
    grain = rng.standard_normal((height, canvas_w)).astype(np.float32)
    tex = np.clip(0.5 + 0.17 * tex + 0.06 * grain, 0.0, 1.0)

    hue = (seed * 0.137 + scene * _GOLDEN) % 1.0
    palette = np.stack(
        [
            _hsv_to_rgb(hue, 0.55, 0.25),
            _hsv_to_rgb((hue + 0.08) % 1.0, 0.45, 0.65),
            _hsv_to_rgb((hue + 0.5) % 1.0, 0.25, 0.95),
        ]
    )
    # Piecewise-linear palette lookup: 0 -> dark, 0.5 -> mid, 1 -> light.
    lo = np.clip(tex * 2.0, 0.0, 1.0)[..., None]
    hi = np.clip(tex * 2.0 - 1.0, 0.0, 1.0)[..., None]
    rgb = palette[0] * (1 - lo) + palette[1] * lo
    rgb = rgb * (1 - hi) + palette[2] * hi
    # Vertical lighting gradient: brighter "sky" at the top, direction varies with the scene.
    ramp = np.linspace(1.15, 0.75, height, dtype=np.float32)
    if scene % 2:
        ramp = ramp[::-1]
    rgb = rgb * ramp[:, None, None]
    img = np.clip(rgb * 255.0, 0, 255).astype(np.uint8)

    # A few static, hard-edged shapes in world coordinates; drawn at -canvas_w, 0, +canvas_w so they wrap.
    n_shapes = 6 + int(rng.integers(0, 5))
    for _ in range(n_shapes):
        kind = int(rng.integers(0, 3))
        colour = tuple(int(c) for c in rng.integers(20, 236, size=3))
        cx, cy = int(rng.integers(0, canvas_w)), int(rng.integers(0, height))
        size = int(rng.integers(max(4, min(width, height) // 16), max(8, min(width, height) // 5)))
        for dx in (-canvas_w, 0, canvas_w):
            if kind == 0:
                cv2.rectangle(img, (cx + dx - size, cy - size // 2), (cx + dx + size, cy + size // 2), colour, -1)
            elif kind == 1:
                cv2.circle(img, (cx + dx, cy), size // 2, colour, -1)
            else:
                cv2.line(img, (cx + dx - size, cy - size), (cx + dx + size, cy + size), colour,
                         max(2, size // 10))
    return img


def textured_scene(
    *,
    width: int,
    height: int,
    t_s: float,
    seed: int = 0,
    scene: int = 0,
    pan_px_per_s: float = 24.0,
    object_speed: float = 1.0,
) -> np.ndarray:
    """A detailed, natural-looking frame of a scene at time ``t_s``, with a slow camera pan and a moving object.

    Parameters
    ----------
    width, height : int > 0
        Frame size in pixels (displayed orientation).
    t_s : float >= 0
        Time of the frame in seconds. The camera pans horizontally at ``pan_px_per_s`` and an object (a ringed
        disc) moves on a Lissajous path, so consecutive frames differ by a known, smooth motion.
    seed : int
        Random seed of the world (texture, palette, shapes).
    scene : int
        Scene (shot) id. Different ids under the same seed give clearly different frames: hue stepped by the
        golden ratio, a new texture, new shapes, the light gradient flipped on odd ids. Use it to build cuts.
    pan_px_per_s : float
        Camera pan speed in pixels per second (0 = locked-off camera). The camera pans right, so the world
        slides left: ``frame(t)[:, x] == frame(0)[:, x + round(t * pan_px_per_s)]`` away from the object.
        The world wraps, so any duration works.
    object_speed : float >= 0
        Speed multiplier of the moving object (0 = static object; 1 = one loop of the path in about 3 s).

    Returns
    -------
    frame : np.ndarray [shape=(height, width, 3), dtype=uint8]
        RGB frame. Mean luma is mid-grey (about 90-150 of 255); it has edges at all scales (1/f texture plus
        hard-edged shapes), so sharpness metrics respond to blur.

    Notes
    -----
    The static world is built once per (width, height, seed, scene) and cached (about 40 ms at 360x640; the 16
    most recent are kept), so a frame then costs a crop and a few drawing calls (about 0.2 ms at 360x640).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"Frame size must be positive, got {width}x{height}.")
    canvas = _scene_canvas(int(width), int(height), int(seed), int(scene))
    canvas_w = canvas.shape[1]
    x0 = int(round(t_s * pan_px_per_s)) % canvas_w
    if x0 + width <= canvas_w:
        frame = canvas[:, x0 : x0 + width].copy()
    else:
        frame = np.concatenate([canvas[:, x0:], canvas[:, : x0 + width - canvas_w]], axis=1)

    # Moving object: a ringed disc on a Lissajous path (frequencies 1/3 Hz and 1/2 Hz at object_speed=1).
    rng = _rng(seed, scene, 0x0B1EC7)
    phase = float(rng.uniform(0, 2 * math.pi))
    radius = max(4, min(width, height) // 8)
    tt = t_s * object_speed
    cx = width / 2 + (width / 2 - radius - 2) * math.sin(2 * math.pi * tt / 3.0 + phase)
    cy = height / 2 + (height / 3) * math.sin(2 * math.pi * tt / 2.0 + 2 * phase)
    centre = (int(round(cx)), int(round(cy)))
    colour = tuple(int(c) for c in (_hsv_to_rgb((seed * 0.137 + scene * _GOLDEN + 0.33) % 1.0, 0.8, 0.95) * 255))
    cv2.circle(frame, centre, radius, colour, -1, cv2.LINE_AA)
    cv2.circle(frame, centre, radius, (15, 15, 15), max(2, radius // 8), cv2.LINE_AA)
    cv2.circle(frame, centre, max(2, radius // 3), (245, 245, 245), -1, cv2.LINE_AA)
    return frame


def scene_sequence(
    *,
    width: int,
    height: int,
    seed: int = 0,
    shots: Sequence[tuple[float, int]] | None = None,
    text: Sequence[tuple[float, float, str]] | None = None,
    text_height_px: int | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    pan_px_per_s: float = 24.0,
    object_speed: float = 1.0,
) -> VideoSource:
    """A video source for ``write_clip``: shots of ``textured_scene`` with hard cuts and timed on-screen text.

    Parameters
    ----------
    width, height : int > 0
        Frame size in pixels (displayed orientation).
    seed : int
        World seed, passed to ``textured_scene``.
    shots : sequence of (duration_s, scene) or None
        Consecutive shots; each lasts ``duration_s`` seconds and shows scene id ``scene``. The last shot lasts
        forever. None means a single shot of scene 0. A cut happens at each shot boundary.
    text : sequence of (start_s, end_s, text) or None
        On-screen text shown in ``start_s <= t < end_s``, drawn in white on a dark box, centred horizontally
        at 15 % of the height from the top. Several lines: separate them with ``\\n``.
    text_height_px : int or None
        Cap height of the text in pixels; None = 5 % of the frame height (large and OCR-legible).
    transform : callable(frame) -> frame or None
        Applied to each frame after drawing (e.g. ``lambda f: gaussian_blur(f, sigma_px=4)``).
    pan_px_per_s, object_speed : float
        Passed to ``textured_scene``.

    Returns
    -------
    video : callable(i, t_s) -> np.ndarray [shape=(height, width, 3), dtype=uint8]
    """
    shot_list = list(shots) if shots else [(math.inf, 0)]
    starts = np.cumsum([0.0] + [float(d) for d, _ in shot_list[:-1]])
    th = text_height_px or max(12, int(round(height * 0.05)))

    def video(i: int, t_s: float) -> np.ndarray:
        k = int(np.searchsorted(starts, t_s, side="right") - 1)
        scene = shot_list[max(0, k)][1]
        frame = textured_scene(width=width, height=height, t_s=t_s, seed=seed, scene=scene,
                               pan_px_per_s=pan_px_per_s, object_speed=object_speed)
        for start_s, end_s, words in text or ():
            if start_s <= t_s < end_s:
                frame = render_text(frame, words, x=None, y=int(height * 0.15), height_px=th)
        if transform is not None:
            frame = transform(frame)
        return frame

    return video


_FONT = cv2.FONT_HERSHEY_DUPLEX


def render_text(
    frame: np.ndarray,
    text: str,
    *,
    x: int | None = None,
    y: int,
    height_px: int,
    color: tuple[int, int, int] = (255, 255, 255),
    bg: tuple[int, int, int] | None = (0, 0, 0),
    max_width_px: int | None = None,
) -> np.ndarray:
    """Draw large, OCR-legible text on a copy of ``frame``.

    Parameters
    ----------
    frame : np.ndarray [shape=(H, W, 3), dtype=uint8]
        RGB frame; it is not modified.
    text : str
        The text. ``\\n`` starts a new line. OpenCV's Hershey fonts draw printable ASCII only: any other
        character is drawn as ``?``.
    x : int or None
        Left edge of the text block in pixels; None centres each line horizontally.
    y : int
        Top edge of the first line in pixels.
    height_px : int > 0
        Cap height of the letters in pixels (the height of "H"), reduced if needed so that the widest line,
        box included, fits in ``max_width_px``. Line spacing is 1.6 x the cap height used.
    color : (r, g, b)
        Text colour, 0-255.
    bg : (r, g, b) or None
        Colour of a filled box behind each line (padding = 30 % of ``height_px``); None draws no box.
    max_width_px : int or None
        Widest a line may be; None = the frame width minus 4 % margins on each side.

    Returns
    -------
    frame : np.ndarray [shape=(H, W, 3), dtype=uint8]
        A new frame with the text drawn.
    """
    if height_px <= 0:
        raise ValueError(f"Text height must be positive, got {height_px} px.")
    out = np.ascontiguousarray(frame).copy()
    lines = ["".join(ch if 32 <= ord(ch) < 127 else "?" for ch in line) for line in str(text).split("\n")]
    limit = max_width_px if max_width_px is not None else int(out.shape[1] * 0.92)
    (_, h1), _ = cv2.getTextSize("H", _FONT, 1.0, 1)
    widest = max(cv2.getTextSize(line, _FONT, 1.0, 1)[0][0] for line in lines) / max(1, h1)  # per px of cap
    height_px = max(1, min(int(height_px), int(limit / max(widest + 0.6 + 0.15, 1e-6))))
    scale = height_px / max(1, h1)
    thickness = max(1, int(round(height_px / 9)))
    pad = max(2, int(round(height_px * 0.3)))
    line_y = int(y)
    for safe in lines:
        (w, h), base = cv2.getTextSize(safe, _FONT, scale, thickness)
        left = (out.shape[1] - w) // 2 if x is None else int(x)
        if bg is not None and safe:
            cv2.rectangle(out, (left - pad, line_y - pad), (left + w + pad, line_y + h + base + pad),
                          tuple(int(c) for c in bg), -1)
        cv2.putText(out, safe, (left, line_y + h), _FONT, scale, tuple(int(c) for c in color), thickness,
                    cv2.LINE_AA)
        line_y += int(round(height_px * 1.6)) + 2 * pad
    return out


def gaussian_blur(frame: np.ndarray, *, sigma_px: float) -> np.ndarray:
    """Gaussian blur of known standard deviation (pixels); ``sigma_px <= 0`` returns a copy.

    ``frame`` : uint8 [shape=(H, W, 3)] -> uint8 [shape=(H, W, 3)]. Kernel spans +-3 sigma.
    """
    if sigma_px <= 0:
        return frame.copy()
    return cv2.GaussianBlur(frame, (0, 0), sigmaX=float(sigma_px), sigmaY=float(sigma_px))


def scale_brightness(frame: np.ndarray, *, gain: float, gamma: float = 1.0) -> np.ndarray:
    """Exposure change: ``out = 255 * gain * (in / 255) ** gamma``, clipped to 0-255.

    ``gain < 1`` darkens (under-exposure), ``gain > 1`` brightens and clips highlights.
    ``frame`` : uint8 [shape=(H, W, 3)] -> uint8 [shape=(H, W, 3)].
    """
    lut = np.clip(255.0 * gain * (np.arange(256) / 255.0) ** gamma, 0, 255).round().astype(np.uint8)
    return lut[frame]


def letterbox(frame: np.ndarray, *, width: int, height: int, color: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Fit ``frame`` inside a ``width`` x ``height`` canvas, keeping its aspect ratio, with bars of ``color``.

    A 16:9 landscape frame in a 9:16 canvas gets black bars above and below, as when a landscape video is
    posted to a vertical platform unedited. Returns uint8 [shape=(height, width, 3)].
    """
    h, w = frame.shape[:2]
    s = min(width / w, height / h)
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    out = np.empty((height, width, 3), np.uint8)
    out[:] = color
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Audio
# ----------------------------------------------------------------------------------------------------------------


def _n(duration_s: float, sr: int) -> int:
    if sr <= 0:
        raise ValueError(f"Sample rate must be positive, got {sr} Hz.")
    if duration_s < 0:
        raise ValueError(f"Duration must not be negative, got {duration_s} s.")
    return int(round(duration_s * sr))


def _db_to_amp(level_dbfs: float) -> float:
    return float(10.0 ** (level_dbfs / 20.0))


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0


def sine(*, freq_hz: float, duration_s: float, sr: int, level_dbfs: float = -20.0) -> np.ndarray:
    """A pure tone.

    Parameters
    ----------
    freq_hz : float > 0
        Frequency in Hz (below ``sr / 2``).
    duration_s : float >= 0
    sr : int > 0
        Sample rate in Hz.
    level_dbfs : float
        *Peak* amplitude in dBFS (RMS is 3.01 dB lower). 0 dBFS = full scale.

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
    """
    n = _n(duration_s, sr)
    t = np.arange(n, dtype=np.float64) / sr
    return (_db_to_amp(level_dbfs) * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def silence(*, duration_s: float, sr: int) -> np.ndarray:
    """Digital silence: zeros [shape=(round(duration_s * sr),), dtype=float32]."""
    return np.zeros(_n(duration_s, sr), np.float32)


def pink_noise(*, duration_s: float, sr: int, level_dbfs: float = -20.0, seed: int = 0) -> np.ndarray:
    """Pink (1/f power) noise, shaped in the frequency domain from seeded white noise.

    Parameters
    ----------
    duration_s : float >= 0
    sr : int > 0
    level_dbfs : float
        *RMS* level in dBFS (peaks are about 10-12 dB higher).
    seed : int

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
        Zero mean; components below 20 Hz removed.
    """
    n = _n(duration_s, sr)
    if n == 0:
        return np.zeros(0, np.float32)
    spec = np.fft.rfft(_rng(seed, 0x914C).standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    shape = np.zeros_like(f)
    shape[f >= 20.0] = 1.0 / np.sqrt(f[f >= 20.0])
    y = np.fft.irfft(spec * shape, n=n)
    return (y * (_db_to_amp(level_dbfs) / max(_rms(y), 1e-12))).astype(np.float32)


#: Vowel formants (F1, F2, F3) in Hz, averages for adult speakers (Peterson & Barney 1952, JASA 24(2)).
VOWEL_FORMANTS_HZ = (
    (730, 1090, 2440),  # /a/
    (530, 1840, 2480),  # /e/
    (270, 2290, 3010),  # /i/
    (570, 840, 2410),  # /o/
    (300, 870, 2240),  # /u/
    (660, 1720, 2410),  # /ae/
)
#: Typical syllable rate of conversational speech, syllables per second (about 4 Hz; e.g. Greenberg 1999).
SYLLABLE_RATE_HZ = 4.0
#: Active-speech RMS level that ``speech_like`` returns, dBFS (loudness lands near -20 LUFS).
SPEECH_RMS_DBFS = -20.0


def _resonator(x: np.ndarray, freq_hz: float, bw_hz: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = math.exp(-math.pi * bw_hz / sr)
    theta = 2 * math.pi * freq_hz / sr
    a = [1.0, -2 * r * math.cos(theta), r * r]
    b = [1.0 - r]
    return lfilter(b, a, x)


def speech_like(*, duration_s: float, sr: int, seed: int = 0) -> np.ndarray:
    """A synthetic voice: voiced syllables with formants, intonation and pauses, so a VAD hears speech.

    Built as phrases of 1.2-2.8 s separated by pauses of 0.25-0.6 s. Each phrase is a run of syllables at about
    ``SYLLABLE_RATE_HZ`` (durations 0.16-0.34 s, raised-cosine envelopes, so the energy is modulated at ~4 Hz).
    A syllable is a glottal pulse train at the current pitch filtered by the three formant resonators of a
    vowel from ``VOWEL_FORMANTS_HZ``, preceded now and then by a short unvoiced (fricative-like) noise burst.
    The pitch follows a phrase contour between about 120 and 220 Hz: a rise then a falling declination, with
    small jitter, as in read speech.

    Parameters
    ----------
    duration_s : float >= 0
    sr : int > 0
        Sample rate in Hz (16000 or more recommended; formants reach 3 kHz).
    seed : int

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
        Mono. The RMS over the voiced parts is ``SPEECH_RMS_DBFS`` (-20 dBFS); pauses are exact zeros. The
        signal starts with speech at t = 0.05 s. Use ``scale_to_lufs`` for a loudness target.
    """
    n = _n(duration_s, sr)
    y = np.zeros(n, np.float64)
    if n == 0:
        return y.astype(np.float32)
    rng = _rng(seed, 0x5BEEC)
    base_f0 = float(rng.uniform(125, 175))  # speaker's mean pitch
    t = 0.05
    while t < duration_s:
        phrase_len = float(rng.uniform(1.2, 2.8))
        phrase_end = min(duration_s, t + phrase_len)
        # Pitch contour over the phrase: rise to a peak at 20-35 %, then declination to the end.
        peak_at = float(rng.uniform(0.2, 0.35))
        f0_start = base_f0 * float(rng.uniform(0.92, 1.02))
        f0_peak = min(220.0, base_f0 * float(rng.uniform(1.18, 1.32)))
        f0_end = max(120.0, base_f0 * float(rng.uniform(0.78, 0.88)))
        while t < phrase_end - 0.1:
            syl = float(rng.uniform(0.16, 0.34))
            syl = min(syl, phrase_end - t)
            i0, i1 = int(t * sr), min(n, int((t + syl) * sr))
            m = i1 - i0
            if m <= 8:
                break
            # Pitch track for this syllable (per-sample, Hz).
            u = (t - (phrase_end - phrase_len) + np.arange(m) / sr) / phrase_len
            f0 = np.where(u < peak_at,
                          f0_start + (f0_peak - f0_start) * (u / peak_at),
                          f0_peak + (f0_end - f0_peak) * ((u - peak_at) / (1 - peak_at)))
            f0 = np.clip(f0 * (1 + 0.01 * rng.standard_normal()), 110.0, 230.0)
            phase = np.cumsum(f0 / sr)
            # Glottal source: band-limited-ish sawtooth-like pulse train (sum of harmonics with 1/k roll-off).
            src = np.zeros(m)
            n_harm = int(min(40, (sr / 2 - 200) / 230))
            for k in range(1, n_harm + 1):
                src += np.sin(2 * np.pi * k * phase) / k
            f1, f2, f3 = VOWEL_FORMANTS_HZ[int(rng.integers(0, len(VOWEL_FORMANTS_HZ)))]
            voiced = (_resonator(src, f1, 90, sr) * 1.0 + _resonator(src, f2, 110, sr) * 0.5
                      + _resonator(src, f3, 170, sr) * 0.25)
            env = np.sin(np.pi * np.arange(m) / m) ** 1.5  # raised-cosine-like syllable envelope
            voiced *= env * float(rng.uniform(0.6, 1.0))
            if rng.random() < 0.35:  # unvoiced onset consonant, 30-60 ms of high-passed noise
                k = min(m, int(float(rng.uniform(0.03, 0.06)) * sr))
                noise = np.diff(rng.standard_normal(k + 1))
                voiced[:k] += 0.15 * np.std(voiced) / max(np.std(noise), 1e-9) * noise * np.hanning(k)
            y[i0:i1] += voiced
            t += syl + float(rng.uniform(0.0, 0.04))
        t = phrase_end + float(rng.uniform(0.25, 0.6))
    active = np.abs(y) > 1e-6
    if active.any():
        y *= _db_to_amp(SPEECH_RMS_DBFS) / _rms(y[active])
    return y.astype(np.float32)


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    f = 50 + 100 * np.exp(-t / 0.03)  # pitch sweep 150 -> 50 Hz
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.09)


def _hihat(sr: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.05 * sr)
    x = np.diff(rng.standard_normal(k + 1), n=1)
    return x * np.exp(-np.arange(k) / (0.012 * sr)) * 0.25


def music_like(*, duration_s: float, sr: int, bpm: float = 120.0, seed: int = 0) -> np.ndarray:
    """Synthetic pop-like music: a chord progression over a four-on-the-floor kick and off-beat hi-hats.

    One chord per bar (4 beats) cycling through I-V-vi-IV in a key picked from ``seed``; chords are additive
    tones (4 harmonics, gentle decay within the bar); a kick (pitch-swept sine, 150 -> 50 Hz) lands on every
    beat and a hi-hat (high-passed noise burst) halfway between beats, so onset and tempo estimators find
    ``bpm``. The first beat is at t = 0.

    Parameters
    ----------
    duration_s : float >= 0
    sr : int > 0
    bpm : float > 0
        Tempo in beats per minute.
    seed : int

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
        Mono, peak normalised to -3 dBFS.
    """
    if bpm <= 0:
        raise ValueError(f"Tempo must be positive, got {bpm} bpm.")
    n = _n(duration_s, sr)
    y = np.zeros(n, np.float64)
    if n == 0:
        return y.astype(np.float32)
    rng = _rng(seed, 0x30051C)
    beat_s = 60.0 / bpm
    key = int(rng.integers(0, 12))
    progression = ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))  # I V vi IV, semitones above the tonic
    bar_n = int(round(4 * beat_s * sr))
    t_bar = np.arange(bar_n) / sr
    bar = 0
    for i0 in range(0, n, bar_n):
        chord = progression[bar % 4]
        seg = np.zeros(bar_n)
        for semis in chord:
            f = 220.0 * 2 ** ((key + semis - 12 * (key + semis >= 12)) / 12.0)
            for h in range(1, 5):
                seg += np.sin(2 * np.pi * f * h * t_bar) / (h * h)
        seg *= np.exp(-t_bar / (3 * beat_s)) * 0.12
        m = min(bar_n, n - i0)
        y[i0 : i0 + m] += seg[:m]
        bar += 1
    kick, k = _kick(sr), 0
    while True:
        i0 = int(round(k * beat_s * sr))
        if i0 >= n:
            break
        m = min(len(kick), n - i0)
        y[i0 : i0 + m] += 0.8 * kick[:m]
        j0 = int(round((k + 0.5) * beat_s * sr))
        if j0 < n:
            hat = _hihat(sr, rng)
            mm = min(len(hat), n - j0)
            y[j0 : j0 + mm] += hat[:mm]
        k += 1
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y *= _db_to_amp(-3.0) / peak
    return y.astype(np.float32)


def click_track(*, bpm: float, duration_s: float, sr: int, level_dbfs: float = -6.0) -> np.ndarray:
    """A metronome: a 10 ms, 1 kHz click (1.5 kHz on each bar's first beat) at every beat from t = 0.

    Parameters
    ----------
    bpm : float > 0
        Beats per minute; clicks start at ``k * 60 / bpm`` seconds exactly (rounded to the nearest sample).
    duration_s : float >= 0
    sr : int > 0
    level_dbfs : float
        Peak level of each click in dBFS.

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
    """
    if bpm <= 0:
        raise ValueError(f"Tempo must be positive, got {bpm} bpm.")
    n = _n(duration_s, sr)
    y = np.zeros(n, np.float32)
    m = max(1, int(0.010 * sr))
    env = np.hanning(m)
    tt = np.arange(m) / sr
    k = 0
    while (i0 := int(round(k * 60.0 / bpm * sr))) < n:
        f = 1500.0 if k % 4 == 0 else 1000.0
        click = _db_to_amp(level_dbfs) * env * np.sin(2 * np.pi * f * tt)
        mm = min(m, n - i0)
        y[i0 : i0 + mm] += click[:mm].astype(np.float32)
        k += 1
    return y


#: Peak limiter timing: the gain follows a peak over this window (look-ahead and hold), then recovers with this
#: release time constant — typical settings of a mastering limiter.
LIMITER_WINDOW_S = 0.005
LIMITER_RELEASE_S = 0.05


def limit(y: np.ndarray, *, sr: int, ceiling_dbfs: float = -1.5) -> np.ndarray:
    """A peak limiter, as a creator's editor applies before export: peaks above ``ceiling_dbfs`` are turned down
    smoothly (no flat-topped clipping), quieter passages are left alone.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], float
    sr : int > 0
    ceiling_dbfs : float <= 0
        Highest sample magnitude after limiting, dBFS.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32], with ``max(|y|) <= 10 ** (ceiling_dbfs / 20)``.
    """
    from scipy.ndimage import maximum_filter1d
    from scipy.signal import lfilter

    y = np.asarray(y, dtype=np.float64)
    ceiling = 10 ** (ceiling_dbfs / 20)
    env = maximum_filter1d(np.abs(y), size=max(1, int(LIMITER_WINDOW_S * sr)))
    gain = np.minimum(1.0, ceiling / np.maximum(env, 1e-12))
    a = np.exp(-1.0 / (LIMITER_RELEASE_S * sr))
    smooth = 1.0 - lfilter([1 - a], [1, -a], 1.0 - gain)  # release: gain reduction decays towards none
    gain = np.minimum(gain, smooth)
    out = y * gain
    return np.clip(out, -ceiling, ceiling).astype(np.float32)


def mix(*signals: np.ndarray, gains_db: Sequence[float] | None = None) -> np.ndarray:
    """Sum mono signals sample by sample, padding the shorter ones with silence at the end.

    Parameters
    ----------
    *signals : np.ndarray [shape=(n_i,)]
        Mono signals at the same sample rate.
    gains_db : sequence of float or None
        Gain in dB applied to each signal before summing (default 0 dB each).

    Returns
    -------
    y : np.ndarray [shape=(max(n_i),), dtype=float32]
        Not limited: the sum may exceed 1.0 (``write_clip`` clips at full scale, as a real recorder would).
    """
    if not signals:
        return np.zeros(0, np.float32)
    gains = [0.0] * len(signals) if gains_db is None else list(gains_db)
    if len(gains) != len(signals):
        raise ValueError(f"Got {len(signals)} signals but {len(gains)} gains.")
    out = np.zeros(max(len(s) for s in signals), np.float64)
    for s, g in zip(signals, gains):
        s = np.asarray(s)
        if s.ndim != 1:
            raise ValueError(f"mix() takes mono signals shaped (n,), got shape {s.shape}.")
        out[: len(s)] += s * _db_to_amp(g)
    return out.astype(np.float32)


def measure_lufs(y: np.ndarray, *, sr: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4 via pyloudnorm).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        At least 0.4 s long (one gating block).
    sr : int > 0

    Returns
    -------
    lufs : float
        ``-inf`` for digital silence.
    """
    import pyloudnorm

    y = np.asarray(y, dtype=np.float64)
    data = y.T if y.ndim == 2 else y
    if data.shape[0] < int(0.4 * sr):
        raise ValueError(f"Loudness needs at least 0.4 s of audio, got {data.shape[0] / sr:.3f} s.")
    return float(pyloudnorm.Meter(sr).integrated_loudness(data))


def scale_to_lufs(y: np.ndarray, *, sr: int, lufs: float) -> np.ndarray:
    """Scale ``y`` by one gain so that its integrated loudness (BS.1770-4, pyloudnorm) is ``lufs``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        At least 0.4 s long and not silent.
    sr : int > 0
    lufs : float
        Target loudness, e.g. -14 (a common streaming-platform playback level; a convention, not a standard).

    Returns
    -------
    y_scaled : np.ndarray, same shape, dtype=float32
        Peaks are not limited and may exceed 1.0 for loud targets; ``write_clip`` clips at full scale.
    """
    current = measure_lufs(y, sr=sr)
    if not math.isfinite(current):
        raise ValueError("Cannot scale silence to a loudness target: the signal has no measurable loudness.")
    return (np.asarray(y, np.float64) * _db_to_amp(lufs - current)).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# Writing clips
# ----------------------------------------------------------------------------------------------------------------

#: Our codec names -> (FFmpeg encoder, encoder options when ``bitrate`` is None, options always set).
#: Presets favour speed (tests and the demo run on 2 cores): x264/x265 ``ultrafast``; libvpx ``realtime``.
#: CRF values are in each encoder's "visually good" range (x264 doc: 18-23; x265: 24-28; libvpx-vp9: 31-35).
VIDEO_CODECS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "h264": ("libx264", {"crf": "20"}, {"preset": "ultrafast"}),
    "hevc": ("libx265", {"crf": "24"}, {"preset": "ultrafast", "x265-params": "log-level=error"}),
    "vp9": ("libvpx-vp9", {"crf": "32", "b": "0"},
            {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "lag-in-frames": "0"}),
    "mpeg4": ("mpeg4", {}, {}),
}
#: Our audio codec names -> FFmpeg encoder.
AUDIO_CODECS: dict[str, str] = {"aac": "aac", "opus": "libopus", "mp3": "libmp3lame"}

#: Container by file extension -> (FFmpeg muxer, default video codec, default audio codec, subtitle codec).
_CONTAINERS: dict[str, tuple[str, str | None, str, str | None]] = {
    ".mp4": ("mp4", "h264", "aac", "mov_text"),
    ".mov": ("mov", "h264", "aac", "mov_text"),
    ".m4a": ("ipod", None, "aac", None),
    ".webm": ("webm", "vp9", "opus", "webvtt"),
    ".mkv": ("matroska", "h264", "aac", "subrip"),
    ".avi": ("avi", "mpeg4", "mp3", None),
}
#: Bits per pixel per frame used for mpeg4 when no bitrate is given (MPEG-4 Part 2 has no CRF in FFmpeg);
#: 0.25 bpp is comfortably transparent for synthetic content at these sizes (measured: no visible blocking).
_MPEG4_BITS_PER_PIXEL = 0.25
_AUDIO_BITRATE_BPS = 128_000


def _display_to_stored(frame: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Rotate a displayed frame counter-clockwise by ``rotation_deg`` to get the frame as a phone stores it."""
    k = (rotation_deg // 90) % 4
    return np.ascontiguousarray(np.rot90(frame, k=k)) if k else frame


def _add_audio_stream(container, audio: np.ndarray, *, codec: str, sample_rate: int, bitrate: int | None):
    """Add the audio stream; returns (stream, samples clipped to full scale [shape=(channels, n)], layout)."""
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[0] > 8:
        raise ValueError(f"Audio must be shaped (n,) or (channels, n), got {np.asarray(audio).shape}.")
    channels = data.shape[0]
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
    # A recorder cannot store more than full scale: clip like one (see ``mix`` and ``scale_to_lufs``).
    data = np.ascontiguousarray(np.clip(data, -1.0, 1.0))
    stream = container.add_stream(AUDIO_CODECS[codec], rate=sample_rate, layout=layout)
    stream.codec_context.bit_rate = int(bitrate or _AUDIO_BITRATE_BPS)
    return stream, data, layout


def _encode_audio(stream, data: np.ndarray, layout: str, sample_rate: int) -> list:
    """All packets of the audio, cut into the encoder's frame size (1024 for AAC, 960 for Opus...)."""
    import av

    cc = stream.codec_context
    frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=layout)
    frame.sample_rate = sample_rate
    frame.pts = 0
    frame.time_base = Fraction(1, sample_rate)
    resampler = av.AudioResampler(format=cc.format.name, layout=layout, rate=sample_rate,
                                  frame_size=cc.frame_size or None)
    packets = []
    for f in list(resampler.resample(frame)) + list(resampler.resample(None)):
        packets.extend(stream.encode(f))
    packets.extend(stream.encode(None))
    return packets


def _subtitle_payload(sub_codec: str, text: str) -> bytes:
    raw = text.encode("utf-8")
    if sub_codec == "mov_text":  # 3GPP TS 26.245 text sample: 16-bit big-endian length, then UTF-8 text
        if len(raw) > 0xFFFF:
            raise ValueError("A subtitle line is longer than 65535 bytes.")
        return struct.pack(">H", len(raw)) + raw
    return raw  # subrip / webvtt packets carry the plain text


def write_clip(
    path: str | os.PathLike,
    *,
    width: int = 360,
    height: int = 640,
    fps: float | Fraction = 30,
    duration_s: float = 2.0,
    video: VideoSource | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int = 48000,
    video_codec: str | None = None,
    pix_fmt: str | None = None,
    audio_codec: str | None = None,
    bitrate: int | None = None,
    audio_bitrate: int | None = None,
    rotation_deg: int = 0,
    frame_times_s: Sequence[float] | None = None,
    subtitles: Iterable[tuple[float, float, str]] | None = None,
    metadata: Mapping[str, str] | None = None,
    gop_frames: int | None = None,
) -> Path:
    """Encode a clip with PyAV from a frame source and/or an audio signal.

    The file is written under a temporary name next to ``path`` and renamed into place when complete, so a
    killed build never leaves a truncated clip behind.

    Parameters
    ----------
    path : path-like
        Output file. The container follows the extension: ``.mp4`` ``.mov`` ``.m4a`` (audio only) ``.webm``
        ``.mkv`` ``.avi``.
    width, height : int > 0, even
        *Displayed* frame size in pixels (what a viewer sees, after rotation).
    fps : float or Fraction > 0
        Frame rate for constant-frame-rate clips; also the nominal rate of VFR clips. Pass
        ``Fraction(30000, 1001)`` for NTSC 29.97.
    duration_s : float > 0
        Video length: ``round(duration_s * fps)`` frames. Ignored when ``frame_times_s`` is given. Audio is
        written as given (make it ``duration_s`` long yourself); an audio-only clip lasts as long as its audio.
    video : callable(i, t_s) -> np.ndarray [shape=(height, width, 3), dtype=uint8] or None
        Frame ``i`` (0-based) at time ``t_s`` in RGB, displayed orientation (e.g. from ``scene_sequence``).
        None writes no video stream (audio-only clip).
    audio : np.ndarray [shape=(n,) or (channels, n), dtype=float] or None
        Samples at ``sample_rate``, full scale 1.0; clipped to [-1, 1] before encoding. None writes no audio.
    sample_rate : int
        Audio sample rate in Hz (Opus accepts 8000, 12000, 16000, 24000 or 48000).
    video_codec : {"h264", "hevc", "vp9", "mpeg4"} or None
        None = the container's usual codec (mp4/mov/mkv: h264, webm: vp9, avi: mpeg4).
    pix_fmt : str or None
        Encoder pixel format, e.g. ``"yuv420p"`` (default) or ``"yuv420p10le"`` for 10-bit HEVC/VP9.
    audio_codec : {"aac", "opus", "mp3"} or None
        None = the container's usual codec (mp4/mov/m4a/mkv: aac, webm: opus, avi: mp3).
    bitrate : int or None
        Video bitrate in bits/s. None = constant-quality encoding that looks good (CRF, see ``VIDEO_CODECS``);
        a low value (e.g. 60_000 at 360x640) starves the encoder and gives visible blocking.
    audio_bitrate : int or None
        Audio bitrate in bits/s; None = 128 kb/s.
    rotation_deg : {0, 90, 180, 270}
        Display rotation, clockwise, as a phone records it (the legacy ``rotate`` tag; mp4/mov only). The
        frames are stored rotated counter-clockwise by this angle (a 360x640 display is stored as 640x360) and
        the track's display matrix (ISO/IEC 14496-12 ``tkhd``) tells the player to turn them back. FFmpeg and
        PyAV report it counter-clockwise: ``VideoFrame.rotation == -rotation_deg`` (mod 360).
    frame_times_s : sequence of float or None
        Explicit, strictly increasing presentation times in seconds, for variable-frame-rate clips. They are
        stored with a 1/90000 s time base (the MPEG system clock), so they read back within 1/90000 s.
    subtitles : iterable of (start_s, end_s, text) or None
        A text subtitle stream: ``mov_text`` in mp4/mov, ``subrip`` in mkv, ``webvtt`` in webm. Packets are
        muxed directly (no subtitle encoder involved); PyAV decodes them back as ``AssSubtitle.dialogue``.
    metadata : mapping of str -> str or None
        Container tags, e.g. ``{"title": ..., "comment": ...}``.
    gop_frames : int or None
        Maximum keyframe interval in frames; None = the encoder's default.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        For arguments that do not make a valid clip, in plain words.
    """
    import av

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _CONTAINERS:
        raise ValueError(f"Unsupported clip extension {path.suffix!r}; use one of {', '.join(_CONTAINERS)}.")
    muxer, default_vcodec, default_acodec, sub_codec = _CONTAINERS[ext]
    if video is None and audio is None:
        raise ValueError("A clip needs a video source, an audio signal, or both.")
    if video is not None and default_vcodec is None:
        raise ValueError(f"{ext} files hold audio only; pass video=None.")
    vcodec = video_codec or default_vcodec
    acodec = audio_codec or default_acodec
    if video is not None and vcodec not in VIDEO_CODECS:
        raise ValueError(f"Unknown video codec {vcodec!r}; use one of {', '.join(VIDEO_CODECS)}.")
    if audio is not None and acodec not in AUDIO_CODECS:
        raise ValueError(f"Unknown audio codec {acodec!r}; use one of {', '.join(AUDIO_CODECS)}.")
    if ext == ".webm" and ((video is not None and vcodec != "vp9") or (audio is not None and acodec != "opus")):
        raise ValueError("WebM holds VP9 video and Opus audio only.")
    if rotation_deg % 90 or rotation_deg not in (0, 90, 180, 270):
        raise ValueError(f"Rotation must be 0, 90, 180 or 270 degrees, got {rotation_deg}.")
    if rotation_deg and ext not in (".mp4", ".mov"):
        raise ValueError("Rotation can only be written into .mp4 or .mov files (the tkhd display matrix).")
    if fps <= 0:
        raise ValueError(f"Frame rate must be positive, got {fps}.")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"Frame size must be positive and even (4:2:0 chroma), got {width}x{height}.")
    subs = [(float(a), float(b), str(c)) for a, b, c in (subtitles or ())]
    if subs and sub_codec is None:
        raise ValueError(f"Subtitles cannot be stored in {ext} files; use .mp4, .mov, .mkv or .webm.")
    if subs and video is None:
        raise ValueError("Subtitles need a video stream to go with them.")

    if video is not None:
        if frame_times_s is not None:
            times = [float(t) for t in frame_times_s]
            if not times or any(b <= a for a, b in zip(times, times[1:])) or times[0] < 0:
                raise ValueError("frame_times_s must be non-negative and strictly increasing.")
        else:
            n_frames = int(round(duration_s * fps))
            if n_frames <= 0:
                raise ValueError(f"A {duration_s} s clip at {fps} fps has no frames.")
            times = [i / fps for i in range(n_frames)]
    else:
        times = []

    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(tmp), mode="w", format=muxer) as container:
            for key, value in (metadata or {}).items():
                container.metadata[str(key)] = str(value)
            vstream = None
            if video is not None:
                encoder, quality_opts, always_opts = VIDEO_CODECS[vcodec]
                opts = dict(always_opts)
                if bitrate is None:
                    opts.update(quality_opts)
                rate = Fraction(fps).limit_denominator(1001)
                vstream = container.add_stream(encoder, rate=rate, options=opts)
                stored_w, stored_h = (height, width) if rotation_deg in (90, 270) else (width, height)
                vstream.width, vstream.height = stored_w, stored_h
                vstream.pix_fmt = pix_fmt or "yuv420p"
                cc = vstream.codec_context
                if bitrate is not None:
                    cc.bit_rate = int(bitrate)
                elif vcodec == "mpeg4":
                    cc.bit_rate = int(_MPEG4_BITS_PER_PIXEL * stored_w * stored_h * float(rate))
                if gop_frames:
                    cc.gop_size = int(gop_frames)
                if frame_times_s is not None:
                    cc.time_base = Fraction(1, 90000)
                    vstream.time_base = Fraction(1, 90000)
                if vcodec == "hevc" and ext in (".mp4", ".mov"):
                    cc.codec_tag = "hvc1"  # the tag Apple players require for HEVC in mp4/mov
                if rotation_deg:
                    vstream.set_display_rotation(-rotation_deg)  # PyAV/FFmpeg angles are counter-clockwise
            astream = None
            if audio is not None:
                astream, adata, layout = _add_audio_stream(container, audio, codec=acodec, sample_rate=sample_rate,
                                                        bitrate=audio_bitrate)
            sstream = container.add_mux_stream(sub_codec) if subs else None
            container.start_encoding()

            pending = []  # (time_s, packet) of audio and subtitles, muxed in time order with the video
            if astream is not None:
                for p in _encode_audio(astream, adata, layout, sample_rate):
                    pending.append((float(p.pts * p.time_base) if p.pts is not None else 0.0, p))
            if sstream is not None:
                tb = sstream.time_base or Fraction(1, 1000)
                for start_s, end_s, text in sorted(subs):
                    pkt = av.Packet(_subtitle_payload(sub_codec, text))
                    pkt.stream = sstream
                    pkt.time_base = tb
                    pkt.pts = pkt.dts = int(round(start_s / tb))
                    pkt.duration = max(1, int(round((end_s - start_s) / tb)))
                    pending.append((start_s, pkt))
            pending.sort(key=lambda tp: tp[0])
            cursor = 0

            def flush_until(t_s: float) -> None:
                nonlocal cursor
                while cursor < len(pending) and pending[cursor][0] <= t_s:
                    container.mux(pending[cursor][1])
                    cursor += 1

            if vstream is not None:
                tb = vstream.codec_context.time_base
                for i, t in enumerate(times):
                    img = video(i, t)
                    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.shape != (height, width, 3):
                        got = getattr(img, "shape", type(img).__name__)
                        raise ValueError(f"The video source must return uint8 frames shaped ({height}, {width}, 3);"
                                         f" frame {i} is {got} {getattr(img, 'dtype', '')}.")
                    frame = av.VideoFrame.from_ndarray(_display_to_stored(img, rotation_deg), format="rgb24")
                    frame.pts = int(round(t / tb)) if frame_times_s is not None else i
                    frame.time_base = tb
                    flush_until(t)
                    container.mux(vstream.encode(frame))
                container.mux(vstream.encode(None))
            flush_until(math.inf)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_tkhd_rotation(path: str | os.PathLike) -> int | None:
    """Clockwise display rotation of the first video track, read straight from the mp4/mov ``tkhd`` matrix.

    An independent check of what ``write_clip`` stores, without FFmpeg: walks the ISO/IEC 14496-12 box tree
    ``moov/trak/tkhd`` and reads the 3x3 matrix {a, b, u, c, d, v, x, y, w} (16.16 fixed point for a-d). The
    angle is ``atan2(b, a)``: a phone's portrait recording has a=0, b=1, c=-1, d=0, i.e. 90 degrees.

    Returns
    -------
    rotation_deg : int in {0, 90, 180, 270} or None
        None when the file has no video track (``vmhd``) with a ``tkhd`` box.
    """
    data = Path(path).read_bytes()

    def boxes(buf: bytes, start: int, end: int):
        i = start
        while i + 8 <= end:
            size, kind = struct.unpack(">I4s", buf[i : i + 8])
            header = 8
            if size == 1:
                size = struct.unpack(">Q", buf[i + 8 : i + 16])[0]
                header = 16
            elif size == 0:
                size = end - i
            if size < header:
                return
            yield kind, i + header, i + size
            i += size

    for kind, s, e in boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for tk, ts, te in boxes(data, s, e):
            if tk != b"trak":
                continue
            tkhd = None
            is_video = False
            stack = [(ts, te)]
            while stack:
                a, b = stack.pop()
                for k, cs, ce in boxes(data, a, b):
                    if k == b"tkhd":
                        tkhd = (cs, ce)
                    elif k == b"vmhd":
                        is_video = True
                    elif k in (b"mdia", b"minf"):
                        stack.append((cs, ce))
            if not is_video or tkhd is None:
                continue
            cs, _ = tkhd
            version = data[cs]
            # version 0: 4+4+4+4+4 (flags, ctime, mtime, track_id, reserved) + 4 duration; v1 uses 8-byte times
            off = cs + (4 + 8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4 + 4)
            off += 8 + 2 + 2 + 2 + 2  # reserved[2], layer, alternate_group, volume, reserved
            m = struct.unpack(">9i", data[off : off + 36])
            a_, b_ = m[0] / 65536.0, m[1] / 65536.0
            return int(round(math.degrees(math.atan2(b_, a_)))) % 360
    return None
