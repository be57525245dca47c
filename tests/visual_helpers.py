"""Helpers for the visual tests: run only the visual extractors on a clip, and the flawed-copy recipes.

The flawed copies are made from one base clip (360x640, 3 s, 30 fps, a textured panning scene with hard cuts at
1.0 s and 2.0 s) so each differs from it by exactly one known flaw.
"""
from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np

from engine import synth
from engine.config import load_config
from engine.extractors import ClipContext, registered
from engine.features import FeatureVector
from engine.media import decode, probe
from engine.pipeline import evaluate

W, H, FPS, DURATION_S = 360, 640, 30, 3.0
#: Shots of the base clip: (duration_s, scene id). Cuts at frames 30 and 60 (1.0 s, 2.0 s).
SHOTS = ((1.0, 0), (1.0, 1), (1.0, 2))
CUT_FRAMES = (30, 60)


def visual_config(target_w: int = W, target_h: int = H) -> dict:
    """The shipped config with the preset's target size set to the test clips' size (360x640), so that the base
    clip loses no points for its (deliberately small) size and a flawed copy's findings are about its flaw."""
    cfg = copy.deepcopy(load_config(use_user_file=False))
    name = cfg.get("platform", {}).get("preset", "tiktok")
    cfg.setdefault("presets", {}).setdefault(name, {}).update(target_width=target_w, target_height=target_h)
    return cfg


def hand_set_config(cfg: dict | None = None) -> dict:
    """``cfg`` (default ``visual_config()``) without the target on the picture MOS: the hand-set targets alone. The
    picture-quality model learned from real clips and reads these generated pictures as poor to fair (MOS 1.8-2.5),
    which costs every one of them a fifth or more of its score; a test about what the hand-set targets make of a
    known flaw, or of a clean clip, reads the scores without that opinion."""
    cfg = copy.deepcopy(cfg or visual_config())
    cfg["targets"]["visual.picture_mos"]["weight"] = 0.0
    return cfg


def visual_features(path: Path, cfg: dict | None = None):
    """(MediaInfo, FeatureVector) from the visual extractors only (one decode)."""
    cfg = cfg or visual_config()
    info = probe(path)
    ctx = ClipContext(path=Path(path), info=info, config=cfg)
    extractors = [cls() for cls in registered() if cls.modality == "visual"]
    for e in extractors:
        e.begin(ctx)

    def on_frame(frame):
        for e in extractors:
            e.on_frame(frame, ctx)

    stats, audio = decode(path, info, on_frame=on_frame)
    ctx.frame_times_s, ctx.audio = stats.frame_times_s, audio
    fv = FeatureVector()
    for e in extractors:
        e.finish(ctx, fv)
    return info, fv


def visual_result(path: Path, cfg: dict | None = None):
    """ClipResult (scores + findings) of the visual extractors alone."""
    cfg = cfg or visual_config()
    info, fv = visual_features(path, cfg)
    return evaluate(str(path), info, fv, cfg)


def reencoded(src: Path, dst: Path, crf: int = 16, *, max_s: float | None = None) -> Path:
    """``src``'s video re-encoded with x264 at ``crf`` (16: visually lossless), the same frames and timestamps (the
    first ``max_s`` seconds when given): what an editor's export of a finished clip does."""
    import av

    with av.open(str(src)) as ic, av.open(str(dst), "w") as oc:
        vs = ic.streams.video[0]
        ov = oc.add_stream("libx264", rate=vs.average_rate)
        ov.width, ov.height, ov.pix_fmt = vs.codec_context.width, vs.codec_context.height, "yuv420p"
        ov.time_base = vs.time_base
        ov.options = {"crf": str(crf), "preset": "fast"}
        for frame in ic.decode(vs):
            if max_s is not None and frame.time is not None and frame.time >= max_s:
                break
            oc.mux(ov.encode(frame))
        oc.mux(ov.encode())
    return dst


#: Spectral slope of the base texture: natural scenes are ~1/f (Field 1987); camera optics and demosaicing steepen
#: the finest octaves, and 1/f**1.25 gives pixel-level detail like a good phone frame's (noise reads ~1-2 levels).
TEXTURE_SLOPE = 1.25
#: Camera pan of the base clip, px/s.
PAN_PX_PER_S = 24.0
_CANVAS: dict = {}


def _canvas(scene: int, width: int = W, height: int = H) -> np.ndarray:
    """A grain-free world for one shot: 1/f colour texture with hard-edged shapes, periodic along x.

    ``synth.textured_scene`` adds fixed per-pixel grain to its worlds, which no single-frame noise estimator can
    tell from sensor noise; the noise tests need a base whose only grain is the grain they add. Other sizes than
    360x640 get the same kind of world at their own scale (shapes scaled with the size).
    """
    key = (scene, width, height)
    if key not in _CANVAS:
        rng = np.random.default_rng(40 + scene)
        cw = 2 * width
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(cw)[None, :]
        radius = np.sqrt(fx * fx + fy * fy)
        radius[0, 0] = 1.0
        layers = []
        for _ in range(3):
            spec = np.fft.rfft2(rng.standard_normal((height, cw))) / radius ** TEXTURE_SLOPE
            spec[0, 0] = 0
            t = np.fft.irfft2(spec, s=(height, cw))
            layers.append((t - t.mean()) / t.std())
        tex = np.stack(layers, axis=-1)
        base = rng.uniform(70, 170, size=3)
        img = np.clip(base + 38.0 * tex + 10.0 * tex[..., :1], 0, 255).astype(np.uint8)
        k = width / W
        for _ in range(8):
            colour = tuple(int(c) for c in rng.integers(20, 236, size=3))
            cx, cy, size = int(rng.integers(0, cw)), int(rng.integers(0, height)), int(k * rng.integers(20, 80))
            for dx in (-cw, 0, cw):
                cv2.rectangle(img, (cx + dx - size, cy - size // 2), (cx + dx + size, cy + size // 2), colour, -1)
        _CANVAS[key] = np.ascontiguousarray(img)
    return _CANVAS[key]


def base_video(transform=None, *, width: int = W, height: int = H):
    """The base clip's frames: shots of a panning grain-free world with a moving disc, hard cuts at SHOTS.
    ``width``/``height`` give the same kind of clip at another size (motion scaled with it)."""
    starts = np.cumsum([0.0] + [d for d, _ in SHOTS[:-1]])
    k = width / W

    def video(i, t_s):
        j = int(np.searchsorted(starts, t_s + 1e-9, side="right") - 1)
        scene = SHOTS[max(0, j)][1]
        canvas = _canvas(scene, width, height)
        x0 = int(round(k * t_s * PAN_PX_PER_S)) % canvas.shape[1]
        frame = np.roll(canvas, -x0, axis=1)[:, :width].copy()
        cx = int(width / 2 + k * 120 * np.sin(2 * np.pi * t_s / 3.0 + scene))
        cy = int(height / 2 + k * 200 * np.sin(2 * np.pi * t_s / 2.0 + scene))
        cv2.circle(frame, (cx, cy), int(k * 40), (230, 200, 40), -1, cv2.LINE_AA)
        cv2.circle(frame, (cx, cy), int(k * 40), (15, 15, 15), int(k * 5), cv2.LINE_AA)
        return transform(frame) if transform is not None else frame

    return video


# --- flaws ------------------------------------------------------------------------------------------------------


def blur(frame):
    return synth.gaussian_blur(frame, sigma_px=1.5)


def darken(frame):
    return synth.scale_brightness(frame, gain=0.3)


def low_key(frame):
    """A low-key scene: the world's mid-tones darkened (gamma 2), a lamp-lit window (a near-white box, 7% of the
    frame) left bright: mean luma about 80, highlights near white: exposed right, not too dark."""
    out = synth.scale_brightness(frame, gain=1.0, gamma=2.0)
    h, w = out.shape[:2]
    out[h // 8 : h // 8 + h // 5, w // 3 : w // 3 + w // 3] = (245, 240, 225)
    return out


def wash_out(frame):
    """Lifted blacks and flat tones: out = 0.35 * in + 130."""
    return np.clip(0.35 * frame.astype(np.float32) + 130.0, 0, 255).astype(np.uint8)


def upscale_from_quarter(frame):
    """Content downscaled to 90x160 and back up: a quarter of the nominal detail (like 270p in a 1080p file)."""
    small = cv2.resize(frame, (W // 4, H // 4), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)


#: Letterbox: a 16:9 picture in the 9:16 frame; bars above and below of this height (px).
LETTERBOX_PICTURE_H = int(round(W * 9 / 16))  # 202 px
LETTERBOX_BAR_PX = (H - LETTERBOX_PICTURE_H) // 2  # 219 px


def letterbox(frame):
    wide = cv2.resize(frame[(H - W) // 2 : (H + W) // 2], (W, LETTERBOX_PICTURE_H), interpolation=cv2.INTER_AREA)
    out = np.zeros_like(frame)
    out[LETTERBOX_BAR_PX : LETTERBOX_BAR_PX + LETTERBOX_PICTURE_H] = wide
    return out


#: Noise added per frame (luma levels, Gaussian, independent per pixel and frame).
NOISE_SIGMA = 10.0


def noisy_video():
    return grained(base_video(), NOISE_SIGMA)


#: Shake: each frame shifted by a random offset of up to this many px (uniform, x and y).
SHAKE_PX = 10


def shaken_video(amplitude_px: float = SHAKE_PX):
    base = base_video()

    def video(i, t_s):
        rng = np.random.default_rng(2000 + i)
        dx, dy = rng.uniform(-amplitude_px, amplitude_px, size=2)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        return cv2.warpAffine(base(i, t_s), m, (W, H), borderMode=cv2.BORDER_REFLECT)

    return video


#: Frozen stretch: frames FREEZE_FROM..FREEZE_TO-1 repeat frame FREEZE_FROM - 1... the picture of 1.2 s stays
#: on screen until 2.2 s.
FREEZE_START_FRAME, FREEZE_END_FRAME = 36, 66


def frozen_video():
    base = base_video()

    def video(i, t_s):
        if FREEZE_START_FRAME <= i < FREEZE_END_FRAME:
            return base(FREEZE_START_FRAME, FREEZE_START_FRAME / FPS)
        return base(i, t_s)

    return video


def grained(video, sigma: float, seed: int = 1000):
    """``video`` with Gaussian grain of ``sigma`` luma levels, new each frame (film grain, high-ISO noise)."""

    def grain(i, t_s):
        rng = np.random.default_rng(seed + i)
        f = video(i, t_s).astype(np.float32)
        n = rng.normal(0.0, sigma, size=f.shape[:2]).astype(np.float32)[..., None]
        return np.clip(f + n, 0, 255).astype(np.uint8)

    return grain


#: Low resolution: the base clip scaled to half the size (180x320), below the preset's 360x640: platform fit.
LOW_RES_SIZE = (W // 2, H // 2)


def downscaled(size):
    """A transform that scales a frame to ``size`` (w, h) with area averaging, as an export at a smaller size."""
    return lambda frame: cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def low_res_video():
    return base_video(downscaled(LOW_RES_SIZE))


# --- still pictures on purpose: a photo and slides --------------------------------------------------------------


def still_photo_video():
    """A photo held for the whole clip: the base world's first frame, never changing (a still shot, not a freeze)."""
    frame = base_video()(0, 0.0)
    return lambda i, t_s: frame


#: Slides: a photo background (the base world of scene k) under flat boxes whose sharp edges lie on multiples of
#: 8 px (on the codec's block grid, as design tools lay them out), with a title and a line of text; the second
#: slide follows a cut at SLIDE_CUT_S. (Slides of flat colour alone read as "upscaled": the real-detail estimate
#: assumes a natural scene's spectrum; see the issue 15 report.)
SLIDE_CUT_S = 1.0
_SLIDES = (
    ([((32, 96), (328, 304), (40, 90, 200)), ((32, 336), (176, 560), (220, 60, 40)),
      ((184, 336), (328, 560), (30, 160, 90))], ("THREE TIPS", "light, sound, story")),
    ([((48, 128), (312, 256), (250, 200, 40)), ((48, 288), (312, 512), (240, 240, 240))],
     ("TIP ONE", "face the window")),
)


def _slide(k: int) -> np.ndarray:
    boxes, (title, line) = _SLIDES[k]
    img = _canvas(k)[:, :W].copy()
    for (x0, y0), (x1, y1), colour in boxes:
        img[y0:y1, x0:x1] = colour  # edges at multiples of 8: on the 8 px grid
    img = synth.render_text(img, title, x=None, y=24, height_px=32)
    return synth.render_text(img, line, x=None, y=584, height_px=20)


def slides_video():
    slides = [_slide(0), _slide(1)]
    return lambda i, t_s: slides[0 if t_s < SLIDE_CUT_S else 1]


#: A slideshow as photo mode or an editor's template makes it: the two slides held in turn (A, B, A), each change a
#: push (the next slide slides in from the right over SLIDE_PUSH_S), no hard cut. SLIDESHOW_HOLDS: (start, end) of
#: each held picture, s.
SLIDE_PUSH_S = 0.4
SLIDESHOW_HOLDS = ((0.0, 0.8), (1.2, 2.0), (2.4, 3.0))


def slideshow_video():
    slides = [_slide(0), _slide(1), _slide(0)]

    def video(i, t_s):
        for k, (a, b) in enumerate(SLIDESHOW_HOLDS):
            if a <= t_s < b:
                return slides[k]
            nxt = SLIDESHOW_HOLDS[k + 1][0] if k + 1 < len(SLIDESHOW_HOLDS) else None
            if nxt is not None and b <= t_s < nxt:
                x = int(round(W * (t_s - b) / SLIDE_PUSH_S))  # how far the next slide has come in, px
                return np.ascontiguousarray(np.concatenate([slides[k][:, x:], slides[k + 1][:, :x]], axis=1))
        return slides[-1]

    return video


#: The sources the "no reward for damage" tests damage: name -> video maker (2 s each).
DAMAGE_SOURCES = {"moving": base_video, "photo": still_photo_video, "slides": slides_video}
DAMAGE_S = 2.0
#: A starved encode: 40 kb/s at 360x640 30 fps (0.006 bits per pixel).
STARVED_BPS = 40_000


def damage_recipe(source: str, *, grain_sigma: float | None = None, bitrate: int | None = None) -> dict:
    video = DAMAGE_SOURCES[source]()
    if grain_sigma:
        video = grained(video, grain_sigma)
    return dict(width=W, height=H, fps=FPS, duration_s=DAMAGE_S, audio=None, video=video, bitrate=bitrate)


#: Recipes of the flawed set: name -> (keyword arguments of the clips factory, codes the top finding may carry).
FLAWS = {
    "blurred": (dict(transform=blur), {"visual.blurry", "visual.upscaled"}),
    "noisy": (dict(video=None, bitrate=8_000_000), {"visual.noisy"}),
    "dark": (dict(transform=darken), {"visual.too_dark", "visual.crushed_shadows"}),
    "washed_out": (dict(transform=wash_out), {"visual.low_contrast"}),
    # An upscale is soft at the viewing size too: sharpness may lead (it weighs more than detail, engine/config.toml);
    # tests/unit/test_visual.py checks the upscale is named among the findings either way.
    "upscaled": (dict(transform=upscale_from_quarter), {"visual.upscaled", "visual.blurry"}),
    "letterboxed": (dict(transform=letterbox), {"visual.letterboxed"}),
    "shaken": (dict(video=None), {"visual.shaky"}),
    "fps8": (dict(fps=8), {"visual.low_frame_rate"}),
    "starved": (dict(bitrate=40_000), {"visual.blocky", "visual.low_bitrate"}),
    "frozen": (dict(video=None), {"visual.frozen"}),
    "low_res": (dict(size=LOW_RES_SIZE), {"visual.low_resolution"}),
}
VIDEO_MAKERS = {"noisy": noisy_video, "shaken": shaken_video, "frozen": frozen_video, "low_res": low_res_video}


def recipe(name: str) -> dict:
    kwargs = dict(FLAWS[name][0]) if name in FLAWS else {}
    transform = kwargs.pop("transform", None)
    w, h = kwargs.pop("size", (W, H))
    if name in VIDEO_MAKERS:
        kwargs["video"] = VIDEO_MAKERS[name]()
    else:
        kwargs["video"] = base_video(transform, width=w, height=h)
    return dict(width=w, height=h, fps=kwargs.pop("fps", FPS), duration_s=DURATION_S, audio=None, **kwargs)
