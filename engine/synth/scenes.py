"""Synthetic frames: textured scenes with motion, shot sequences with hard cuts and timed on-screen text, and the
frame transforms tests use to add one known flaw (blur, brightness, letterbox). See ``engine.synth``."""
from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import cv2
import numpy as np

from .seeded import rng as _rng

#: A video source for ``write_clip``: (frame index, time in s) -> RGB uint8 frame in displayed orientation.
VideoSource = Callable[[int, float], np.ndarray]

#: Spectral slope of the background texture: amplitude ~ 1 / f**beta. Natural images have an amplitude
#: spectrum close to 1/f (Field 1987, "Relations between the statistics of natural images...", JOSA A 4(12)).
NATURAL_IMAGE_SPECTRAL_SLOPE = 1.0

#: Amplitude of the fine detail layer on top of the 1/f texture, in units of the texture's 0-1 tone range (0.06 of
#: 255 = ~15 luma levels before the palette): skin/fabric/foliage-like detail that blur removes.
FINE_DETAIL_AMPLITUDE = 0.06

#: Golden-ratio conjugate: stepping the hue by it per scene keeps successive scenes' palettes far apart.
_GOLDEN = 0.6180339887498949


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One colour, h in [0, 1), s and v in [0, 1] -> float RGB in [0, 1]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], dtype=np.float32)


@functools.lru_cache(maxsize=16)
def _scene_canvas(width: int, height: int, seed: int, scene: int, texture_sigma_px: float = 0.0) -> np.ndarray:
    """The static world of one scene: uint8 RGB [shape=(height, canvas_w, 3)], periodic along x.

    The texture is 1/f noise synthesised in the Fourier domain (periodic by construction, so the camera can pan
    forever by wrapping) with a fine detail layer on top, both optionally band-limited (``textured_scene``'s
    ``texture_sigma_px``), coloured through a three-colour palette picked from (seed, scene), lit by a vertical
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
    # Band limit: the transfer function of a Gaussian point spread of texture_sigma_px (1 = none).
    band = np.exp(-2.0 * (math.pi * texture_sigma_px * radius) ** 2) if texture_sigma_px > 0 else None
    spectrum = np.fft.rfft2(white) / radius**NATURAL_IMAGE_SPECTRAL_SLOPE
    if band is not None:
        spectrum *= band
    spectrum[0, 0] = 0.0
    tex = np.fft.irfft2(spectrum, s=(height, canvas_w)).astype(np.float32)
    tex = (tex - tex.mean()) / (tex.std() + 1e-6)
    # Fine detail on top (skin/fabric/foliage-like detail that blur removes): white per-pixel noise, or that noise
    # band-limited the same way (in the Fourier domain, so the world stays periodic), brought back to unit spread.
    grain = rng.standard_normal((height, canvas_w)).astype(np.float32)
    if band is not None:
        grain = np.fft.irfft2(np.fft.rfft2(grain) * band, s=(height, canvas_w)).astype(np.float32)
        grain = (grain - grain.mean()) / (grain.std() + 1e-6)
    tex = np.clip(0.5 + 0.17 * tex + FINE_DETAIL_AMPLITUDE * grain, 0.0, 1.0)

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
    texture_sigma_px: float = 0.0,
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
    texture_sigma_px : float >= 0
        Band limit of the world's texture, as a camera's optics set it: the 1/f texture and its fine detail layer
        are filtered by a Gaussian point spread of this sigma (px); the hard-edged shapes stay sharp. 0 (the
        default): no limit, and the fine layer is white noise fixed on every pixel of the world, which a
        single-frame noise estimator cannot tell from sensor grain (``visual.noise_sigma`` reads ~9-12 levels on
        worlds 1003, 1010 and 5 at 360x640). 0.8: detail a couple of pixels across that blur still removes and
        compression still blocks, and noise_sigma reads 1.5-1.8 (like a clean camera clip; 2.0-2.5 at 0.7).

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
    if texture_sigma_px < 0:
        raise ValueError(f"texture_sigma_px must be >= 0, got {texture_sigma_px}.")
    canvas = _scene_canvas(int(width), int(height), int(seed), int(scene), float(texture_sigma_px))
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
    texture_sigma_px: float = 0.0,
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
    pan_px_per_s, object_speed, texture_sigma_px : float
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
                               pan_px_per_s=pan_px_per_s, object_speed=object_speed,
                               texture_sigma_px=texture_sigma_px)
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
