"""The synthetic training corpus: clips with known, graded flaws, built reproducibly and scored by a known rule.

There are no human ratings on this machine, so the shipped model is trained the way opinion-unaware quality
models are (RankIQA, Liu et al. 2017; NIQE-style "distortion known" training): start from clean content, apply
random combinations of flaws at random strengths, and derive each clip's quality from the flaw strengths.

Content (``SOURCES``)
    Real photographs that ship inside scikit-image (``skimage.data``, no download), procedural scenes from
    ``engine.synth`` (textured scenes with pan, moving objects and cuts), a drawn talking head, flat "screen"
    graphics, rendered on-screen text; speech-like and music-like audio from ``engine.synth``; captions from
    phrase lists. Every clip is built from one *source* (a photo name or a procedural world seed); the split into
    train and held-out is by source, so the held-out score measures content the model never saw.
Flaws
    Applied in memory to the frames and samples (``FLAWS``), then the frames and audio go straight through the
    real extractors (``engine.train.adapter``). Compression is per-frame JPEG at a low quality: the same 8x8 DCT
    blocking that H.264 shows when starved of bits, without an encode/decode round trip.
Target (documented in ``engine/models/MODEL_CARD.md``)
    For each modality m, ``quality_m = 100 * prod_i (1 - weight_i * severity_i)`` over the flaws of that modality
    applied to the clip, severities in [0, 1] and the weights in ``FLAWS``. A modality the clip does not have
    (no audio track; no caption) has no target and is masked out of the loss.
Category
    Each clip is built from one category template (``CATEGORIES``), so its label is known by construction.

The corpus is seeded: the same seed and engine give the same clips and the same features, and recipe i is the
same whatever the corpus size. Features are cached in ``.cache/corpus/`` keyed by the seed, the corpus recipe
version, the engine version, the run options and the current feature keys; a bigger build reuses the clips of
a smaller one.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import __version__, synth
from ..model import CATEGORIES, current_feature_keys

#: Bump when the recipe (sources, flaws, target function) changes: it invalidates cached corpus features. 2: the
#: "other" world pans steadily (its pan speed was drawn anew for every frame, so the camera jumped about).
CORPUS_VERSION = "2"
#: Analysis-size clips: 360x640 portrait at 30 fps, 2 s, 48 kHz mono (the engine's analysis size and audio rate).
#: 2 s keeps the build within minutes on 2 shared cores (measured ~2-4 s of extractor time per clip) while every
#: whole-clip measure (loudness needs 0.4 s, beat tracking a few beats) still has enough signal.
WIDTH, HEIGHT, FPS, DURATION_S, SR = 360, 640, 30.0, 2.0, 48_000
#: Platform playback loudness the clean audio is set to (community convention, -14 LUFS; see config.toml).
CLEAN_LUFS = -14.0

#: Features the corpus cannot vary honestly: they read the container's declared size, bitrate and shape (every
#: corpus clip is a 360x640 H.264 stream at a nominal rate) or the effective resolution relative to 1080 px, which
#: a 360 px corpus clip can never reach. The default model is trained with them switched off (they stay in the
#: feature order, so a model is still refused if they disappear), and the config targets alone judge them.
CORPUS_BLIND_KEYS = ("visual.resolution_pct", "visual.aspect_ratio", "visual.bits_per_pixel",
                     "visual.effective_resolution_px", "visual.detail")
#: Photographs bundled with scikit-image (no download). Split by source: the model never sees the held-out ones.
#: Only photos that are sharp and well exposed once scaled to 360x640 are used (measured Laplacian sharpness
#: >= 0.2 on the 0-1 scale of visual.sharpness, mean luma 60-150): a soft or dark "clean" source would teach the
#: model that a flaw costs nothing. Left out for that reason: chelsea, moon, clock, colorwheel, hubble_deep_field.
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "brick", "grass", "camera", "coins")
HELDOUT_PHOTOS = ("stereo_motorcycle", "gravel", "retina")
#: Procedural world seeds: training worlds come from one range, held-out worlds from another.
TRAIN_SEED_BASE, HELDOUT_SEED_BASE = 1_000, 900_000
#: Share of clips built from held-out sources.
HELDOUT_SHARE = 0.3

#: Caption phrase lists, disjoint between the splits (the held-out captions are new wording).
CAPTIONS = {
    "train": (
        "Three ways to light your face with one window",
        "Morning routine in the mountains, slow and simple",
        "How I edit my clips on the phone in five minutes",
        "First try at this dance, be kind",
        "The view from the top was worth the climb",
        "Quick pasta for busy evenings",
        "Speedrun attempt, new personal best",
        "Cat reacts to the new sofa",
    ),
    "heldout": (
        "Two mistakes everyone makes when filming outdoors",
        "A quiet walk by the harbour at sunset",
        "Testing the new level, watch the ending",
        "Learning this routine one step at a time",
        "Setting up a small desk for reading",
    ),
}
HASHTAGS = ("fyp", "viral", "foryou", "trending", "explore", "reels", "tiktok", "shorts", "love", "instagood")
ONSCREEN = {
    "train": ("STEP 1\nCLEAN THE LENS", "STEP 2\nFACE THE WINDOW", "STEP 3\nLOCK FOCUS", "SAVE THIS TIP"),
    "heldout": ("TIP: USE A TRIPOD", "KEEP IT SHORT", "ADD SUBTITLES", "FOLLOW FOR MORE"),
}


@dataclass(frozen=True)
class Flaw:
    modality: str
    weight: float  # quality factor lost at full severity: quality *= (1 - weight * severity)
    description: str


#: The flaws and their weights in the target function. The weights are a design choice (how much each flaw at
#: full strength should cost a creator), stated here and in the model card; they are not measured opinions.
FLAWS: dict[str, Flaw] = {
    "blur": Flaw("visual", 0.70, "Gaussian blur, sigma 0.3 + 4.7 x severity px at 360x640"),
    "noise": Flaw("visual", 0.50, "Gaussian sensor-like noise, sigma 40 x severity (8-bit levels)"),
    "exposure": Flaw("visual", 0.60, "gain 1 - 0.75 x severity (under) or 1 + 1.5 x severity (over), clipped"),
    "contrast": Flaw("visual", 0.40, "tones pulled towards mid-grey by 80% x severity"),
    "compression": Flaw("visual", 0.50, "per-frame JPEG at quality 60 - 55 x severity (8x8 blocking)"),
    "downscale": Flaw("visual", 0.50, "downscaled to 1 - 0.8 x severity of the size and scaled back up"),
    "letterbox": Flaw("visual", 0.30, "landscape picture in a portrait frame: black bars, 50% x severity of the height"),
    "shake": Flaw("visual", 0.40, "camera shake: random translation up to 24 x severity px per frame"),
    "frame_drops": Flaw("visual", 0.30, "frames missing from the stream with probability 0.5 x severity"),
    "freeze": Flaw("visual", 0.50, "the picture freezes for 60% x severity of the clip"),
    "quiet": Flaw("audio", 0.60, "level lowered by 24 x severity dB from -14 LUFS"),
    "clipped": Flaw("audio", 0.70, "gain raised by 20 x severity dB, then hard-clipped at full scale"),
    "noisy": Flaw("audio", 0.60, "pink noise at SNR 30 - 30 x severity dB"),
    "silent": Flaw("audio", 0.90, "the track is digital silence (severity always 1)"),
    "weak_caption": Flaw("text", 0.70, "caption cut to (1 - severity) of its words (empty at 1)"),
    "spammy_caption": Flaw("text", 0.70, "up to 25 x severity hashtags, shouting capitals, '!!!' and a link"),
}
VISUAL_FLAWS = tuple(k for k, f in FLAWS.items() if f.modality == "visual")
AUDIO_FLAWS = tuple(k for k, f in FLAWS.items() if f.modality == "audio")
TEXT_FLAWS = tuple(k for k, f in FLAWS.items() if f.modality == "text")
#: How many flaws of a modality a clip gets (probabilities of 0, 1, 2, 3 flaws).
N_FLAWS_P = {"visual": (0.15, 0.35, 0.35, 0.15), "audio": (0.3, 0.45, 0.25, 0.0), "text": (0.35, 0.4, 0.25, 0.0)}
#: Probability that a clip has no audio track / no caption at all (the modality is then absent, not "bad").
P_NO_AUDIO, P_NO_CAPTION = 0.08, 0.12


def target_quality(flaws: dict[str, float], modality: str) -> float:
    """``100 * prod(1 - weight_i * severity_i)`` over the clip's flaws of ``modality`` (100 for a clean clip)."""
    q = 100.0
    for name, severity in flaws.items():
        f = FLAWS[name]
        if f.modality == modality:
            q *= 1.0 - f.weight * float(np.clip(severity, 0.0, 1.0))
    return q


# --------------------------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Recipe:
    index: int
    seed: int
    split: str  # "train" | "heldout"
    category: str
    source: str  # "photo:coffee" | "world:1003"
    flaws: dict = field(default_factory=dict)
    has_audio: bool = True
    has_caption: bool = True
    exposure_over: bool = False
    #: ``synth.textured_scene``'s texture_sigma_px for a procedural world: 0 = fixed per-pixel grain (the corpus).
    world_texture_sigma_px: float = 0.0

    def targets(self) -> tuple[float, float, float]:
        v = target_quality(self.flaws, "visual")
        a = target_quality(self.flaws, "audio") if self.has_audio else math.nan
        t = target_quality(self.flaws, "text") if self.has_caption else math.nan
        return v, a, t


def make_recipes(n: int, seed: int) -> list[Recipe]:
    """``n`` clip recipes, reproducible from ``seed``. Categories are balanced; sources split by HELDOUT_SHARE."""
    rng = np.random.default_rng([seed, 0xC0])
    out = []
    for i in range(n):
        split = "heldout" if rng.random() < HELDOUT_SHARE else "train"
        category = CATEGORIES[i % len(CATEGORIES)]
        photos = TRAIN_PHOTOS if split == "train" else HELDOUT_PHOTOS
        base = TRAIN_SEED_BASE if split == "train" else HELDOUT_SEED_BASE
        uses_photo = category in ("talking_head", "tutorial_text", "scenic_broll") or (
            category in ("music_dance", "other") and rng.random() < 0.5)
        if uses_photo:
            source = f"photo:{photos[int(rng.integers(len(photos)))]}"
        else:
            source = f"world:{base + int(rng.integers(40))}"
        r = Recipe(i, int(rng.integers(2**31)), split, category, source)
        for modality, names in (("visual", VISUAL_FLAWS), ("audio", AUDIO_FLAWS), ("text", TEXT_FLAWS)):
            k = int(rng.choice(len(N_FLAWS_P[modality]), p=N_FLAWS_P[modality]))
            for name in rng.choice(names, size=k, replace=False):
                r.flaws[str(name)] = 1.0 if name == "silent" else float(rng.uniform(0.1, 1.0))
        r.has_audio = rng.random() >= P_NO_AUDIO
        r.has_caption = rng.random() >= P_NO_CAPTION
        if not r.has_audio:
            for name in AUDIO_FLAWS:
                r.flaws.pop(name, None)
        if not r.has_caption:
            for name in TEXT_FLAWS:
                r.flaws.pop(name, None)
        r.exposure_over = bool(rng.random() < 0.5)
        out.append(r)
    return out


# --------------------------------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------------------------------
_PHOTO_CACHE: dict = {}


def photo(name: str) -> np.ndarray:
    """An RGB uint8 photograph from scikit-image's bundled data (grey images are stacked to RGB)."""
    if name not in _PHOTO_CACHE:
        import skimage.data

        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):
            img = img[0]
        img = np.asarray(img)
        if img.dtype != np.uint8:
            img = (255 * (img.astype(np.float64) / max(1e-9, float(img.max())))).astype(np.uint8)
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        _PHOTO_CACHE[name] = np.ascontiguousarray(img[..., :3])
    return _PHOTO_CACHE[name]


def _cover(img: np.ndarray, width: int, height: int, zoom: float) -> np.ndarray:
    """Scale ``img`` so that it covers width x height times ``zoom`` (room to pan)."""
    h, w = img.shape[:2]
    s = zoom * max(width / w, height / h)
    return cv2.resize(img, (max(width, int(round(w * s))), max(height, int(round(h * s)))), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def _crop(canvas: np.ndarray, x: float, y: float, width: int, height: int) -> np.ndarray:
    H, W = canvas.shape[:2]
    x0 = int(np.clip(round(x), 0, W - width))
    y0 = int(np.clip(round(y), 0, H - height))
    return canvas[y0 : y0 + height, x0 : x0 + width].copy()


def _draw_head(frame: np.ndarray, t_s: float, mouth_open: float, rng_phase: float) -> None:
    """A drawn talking head: skin-toned face with eyes, brows and a mouth that opens with the voice."""
    h, w = frame.shape[:2]
    cx = int(w / 2 + 6 * math.sin(2 * math.pi * 0.4 * t_s + rng_phase))
    cy = int(h * 0.42 + 4 * math.sin(2 * math.pi * 0.3 * t_s))
    fw, fh = int(w * 0.30), int(w * 0.40)
    cv2.ellipse(frame, (cx, cy + int(fh * 1.6)), (int(fw * 1.6), int(fh * 0.9)), 0, 180, 360, (60, 70, 110), -1, cv2.LINE_AA)
    cv2.ellipse(frame, (cx, cy), (fw, fh), 0, 0, 360, (224, 172, 140), -1, cv2.LINE_AA)
    cv2.ellipse(frame, (cx, cy - int(fh * 0.75)), (int(fw * 1.02), int(fh * 0.45)), 0, 180, 360, (50, 35, 25), -1, cv2.LINE_AA)
    for side in (-1, 1):
        ex, ey = cx + side * int(fw * 0.38), cy - int(fh * 0.12)
        cv2.ellipse(frame, (ex, ey), (int(fw * 0.16), int(fh * 0.08)), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        cv2.circle(frame, (ex, ey), int(fh * 0.06), (40, 30, 20), -1, cv2.LINE_AA)
        cv2.line(frame, (ex - int(fw * 0.18), ey - int(fh * 0.16)), (ex + int(fw * 0.18), ey - int(fh * 0.18)), (50, 35, 25), 4, cv2.LINE_AA)
    cv2.line(frame, (cx, cy - int(fh * 0.02)), (cx - int(fw * 0.06), cy + int(fh * 0.22)), (190, 130, 110), 3, cv2.LINE_AA)
    mo = max(2, int(fh * 0.16 * mouth_open))
    cv2.ellipse(frame, (cx, cy + int(fh * 0.45)), (int(fw * 0.30), mo), 0, 0, 360, (120, 40, 50), -1, cv2.LINE_AA)


def _envelope(y: np.ndarray | None, t_s: float) -> float:
    if y is None or not len(y):
        return 0.0
    i = int(t_s * SR)
    seg = y[max(0, i - 800) : i + 800]
    return float(min(1.0, 8 * np.sqrt(np.mean(seg.astype(np.float64) ** 2)))) if len(seg) else 0.0


def text_card(r: Recipe) -> np.ndarray:
    """A still text card as photo mode or a slide makes it: a flat background, a few flat panels at arbitrary
    places (not aligned to the codec's 8 px grid), and two lines of on-screen text; drawn from the recipe's seed."""
    rng = np.random.default_rng([r.seed, 4])
    W, H = WIDTH, HEIGHT
    pal = rng.integers(0, 256, size=(6, 3))
    img = np.empty((H, W, 3), np.uint8)
    img[:] = pal[0]
    for k in range(int(rng.integers(3, 6))):
        x0, y0 = int(rng.integers(0, W - 60)), int(rng.integers(60, H - 120))
        x1, y1 = min(W, x0 + int(rng.integers(50, W // 2))), min(H, y0 + int(rng.integers(30, H // 4)))
        cv2.rectangle(img, (x0, y0), (x1, y1), tuple(int(c) for c in pal[1 + k % 5]), -1)
    lines = ONSCREEN[r.split]
    title, footer = (lines[int(rng.integers(len(lines)))] for _ in range(2))
    img = synth.render_text(img, title, x=None, y=int(H * 0.08), height_px=int(H * 0.05))
    return synth.render_text(img, footer, x=None, y=int(H * 0.8), height_px=int(H * 0.035))


def content_source(r: Recipe, voice: np.ndarray | None):
    """callable(t_s) -> clean RGB frame [HEIGHT, WIDTH, 3] for the recipe's category and source."""
    rng = np.random.default_rng([r.seed, 1])
    kind, _, ref = r.source.partition(":")
    phase = float(rng.uniform(0, 2 * math.pi))
    W, H = WIDTH, HEIGHT
    if kind == "photo":
        img = photo(ref)
    if kind == "card":  # a still text card, whatever the category (the picture model's flaw pairs only)
        card = text_card(r)
        return lambda t: card
    world = int(ref) if kind == "world" else int(rng.integers(1 << 20))
    cat = r.category

    if cat == "talking_head":
        bg = _cover(img, W, H, 1.05)
        bg = cv2.GaussianBlur(bg, (0, 0), 2.0)  # background out of focus, as behind a speaker

        def frame(t):
            f = _crop(bg, (bg.shape[1] - W) / 2, (bg.shape[0] - H) / 2, W, H)
            _draw_head(f, t, _envelope(voice, t), phase)
            return f
        return frame

    if cat == "tutorial_text":
        bg = _cover(img, W, H, 1.1)
        bg = (bg.astype(np.float32) * 0.7).astype(np.uint8)  # darkened a little so the text reads
        lines = ONSCREEN[r.split]
        step = float(rng.uniform(0.8, 1.4))

        def frame(t):
            f = _crop(bg, (bg.shape[1] - W) / 2 + 8 * t, (bg.shape[0] - H) / 2, W, H)
            words = lines[int(t / step) % len(lines)]
            return synth.render_text(f, words, x=None, y=int(H * 0.35), height_px=int(H * 0.045))
        return frame

    if cat == "scenic_broll":
        zoom = float(rng.uniform(1.25, 1.5))
        bg = _cover(img, W, H, zoom)
        speed = float(rng.uniform(15, 40)) * (1 if rng.random() < 0.5 else -1)
        x0 = (bg.shape[1] - W) / 2

        def frame(t):
            return _crop(bg, x0 + speed * t, (bg.shape[0] - H) / 2 + 5 * t, W, H)
        return frame

    if cat == "gameplay_screen":
        pal = rng.integers(0, 256, size=(8, 3))
        sprites = rng.uniform(0, 1, size=(14, 4))  # x, y, vx, vy

        def frame(t):
            f = np.empty((H, W, 3), np.uint8)
            f[:] = pal[0] // 3
            tile = 48
            off = int(t * 180) % tile
            for yy in range(-tile, H, tile):
                cv2.rectangle(f, (0, yy + off), (W, yy + off + tile // 2), tuple(int(c) for c in pal[1] // 2), -1)
            for k, (x, y, vx, vy) in enumerate(sprites):
                px = int((x * W + (vx - 0.5) * 600 * t) % W)
                py = int((y * H + (vy - 0.5) * 600 * t) % H)
                col = tuple(int(c) for c in pal[2 + k % 6])
                if k % 2:
                    cv2.rectangle(f, (px, py), (px + 26, py + 26), col, -1)
                else:
                    cv2.circle(f, (px, py), 14, col, -1)
            cv2.rectangle(f, (0, 0), (W, 36), (20, 20, 20), -1)
            cv2.putText(f, f"SCORE {int(t * 1234):06d}", (10, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 80), 2)
            return f
        return frame

    if cat == "music_dance":
        beat = 60.0 / float(rng.uniform(100, 130))
        if kind == "photo":
            bg = _cover(img, W, H, 1.4)

            def frame(t):
                pulse = 1.0 + 0.08 * math.exp(-((t % beat) / 0.08))
                cx, cy = bg.shape[1] / 2 + 60 * math.sin(2 * t + phase), bg.shape[0] / 2
                cw, ch = W / pulse, H / pulse
                f = _crop(bg, cx - cw / 2, cy - ch / 2, int(cw), int(ch))
                return cv2.resize(f, (W, H), interpolation=cv2.INTER_LINEAR)
            return frame
        shots = [(2 * beat, s) for s in range(8)]
        return lambda t: synth.scene_sequence(width=W, height=H, seed=world, shots=shots, pan_px_per_s=160.0,
                                              object_speed=3.0)(0, t)

    # other: an ordinary scene, or a photo with a slow drift
    if kind == "photo":
        bg = _cover(img, W, H, 1.2)
        return lambda t: _crop(bg, (bg.shape[1] - W) / 2 + 20 * t, (bg.shape[0] - H) / 2, W, H)
    pan = float(rng.uniform(0, 60))  # drawn once: a steady pan (drawn per frame, the camera jumped about: issue 15)
    return lambda t: synth.textured_scene(width=W, height=H, t_s=t, seed=world, pan_px_per_s=pan,
                                          texture_sigma_px=r.world_texture_sigma_px)


def clean_audio(r: Recipe) -> np.ndarray:
    rng = np.random.default_rng([r.seed, 2])
    s = int(rng.integers(1 << 20))
    if r.category in ("talking_head", "tutorial_text"):
        y = synth.speech_like(duration_s=DURATION_S, sr=SR, seed=s)
        if r.category == "tutorial_text" and rng.random() < 0.4:
            y = synth.mix(y, synth.music_like(duration_s=DURATION_S, sr=SR, seed=s), gains_db=[0, -14])
    elif r.category in ("music_dance", "scenic_broll"):
        y = synth.music_like(duration_s=DURATION_S, sr=SR, bpm=float(rng.uniform(90, 130)), seed=s)
    elif r.category == "gameplay_screen":
        y = synth.mix(synth.music_like(duration_s=DURATION_S, sr=SR, bpm=140.0, seed=s),
                      synth.click_track(bpm=280.0, duration_s=DURATION_S, sr=SR), gains_db=[0, -10])
    else:
        y = synth.mix(synth.pink_noise(duration_s=DURATION_S, sr=SR, seed=s),
                      synth.speech_like(duration_s=DURATION_S, sr=SR, seed=s + 1), gains_db=[-12, 0])
    return synth.scale_to_lufs(np.asarray(y, np.float32), sr=SR, lufs=CLEAN_LUFS).astype(np.float32)


def clean_caption(r: Recipe) -> str:
    rng = np.random.default_rng([r.seed, 3])
    phrases = CAPTIONS[r.split]
    text = phrases[int(rng.integers(len(phrases)))]
    tags = rng.choice(HASHTAGS, size=int(rng.integers(1, 4)), replace=False)
    return text + " " + " ".join("#" + t for t in tags)


# --------------------------------------------------------------------------------------------------------------
# Flaws
# --------------------------------------------------------------------------------------------------------------
def degrade_audio(y: np.ndarray, r: Recipe) -> np.ndarray:
    rng = np.random.default_rng([r.seed, 4])
    f = r.flaws
    y = y.astype(np.float64)
    if "silent" in f:
        return np.zeros_like(y, dtype=np.float32)
    if "noisy" in f:
        n = synth.pink_noise(duration_s=DURATION_S, sr=SR, seed=int(rng.integers(1 << 20))).astype(np.float64)[: len(y)]
        snr_db = 30.0 - 30.0 * f["noisy"]
        ps, pn = np.mean(y**2) + 1e-12, np.mean(n**2) + 1e-12
        y = y + n * math.sqrt(ps / pn / 10 ** (snr_db / 10))
    if "quiet" in f:
        y = y * 10 ** (-24.0 * f["quiet"] / 20)
    if "clipped" in f:
        y = np.clip(y * 10 ** (20.0 * f["clipped"] / 20), -1.0, 1.0)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def degrade_caption(text: str, r: Recipe) -> str:
    rng = np.random.default_rng([r.seed, 5])
    f = r.flaws
    if "weak_caption" in f:
        words = text.split()
        text = " ".join(words[: int(round(len(words) * (1.0 - f["weak_caption"])))])
    if "spammy_caption" in f:
        s = f["spammy_caption"]
        n = int(round(25 * s))
        tags = " ".join("#" + HASHTAGS[int(i)] + ("" if k < len(HASHTAGS) else str(k)) for k, i in
                        enumerate(rng.integers(0, len(HASHTAGS), size=n)))
        if s > 0.4:
            text = text.upper()
        text = f"{text} {'!' * int(1 + 8 * s)} {tags}" + (" http://spam.example/win" if s > 0.6 else "")
    return text


def frame_stream(r: Recipe, source):
    """Yields (t_s, degraded RGB frame) for the recipe: the visual flaws in a fixed order (as a phone and an
    upload would apply them: optics, exposure, sensor noise, scaling, framing, motion, encoding, timing)."""
    rng = np.random.default_rng([r.seed, 6])
    f = r.flaws
    n = int(round(FPS * DURATION_S))
    freeze = None
    if "freeze" in f:
        length = 0.6 * DURATION_S * f["freeze"]
        start = float(rng.uniform(0, max(0.01, DURATION_S - length)))
        freeze = (start, start + length)
    shake_xy = np.zeros(2)
    held = None
    noise_rng = np.random.default_rng([r.seed, 7])
    for i in range(n):
        t = i / FPS
        if "frame_drops" in f and i > 0 and rng.random() < 0.5 * f["frame_drops"]:
            continue
        if freeze is not None and freeze[0] <= t < freeze[1] and held is not None:
            yield t, held
            continue
        img = source(t)
        if "letterbox" in f:
            bar = int(HEIGHT * 0.25 * f["letterbox"])
            if bar > 0:
                inner = cv2.resize(img, (WIDTH, HEIGHT - 2 * bar), interpolation=cv2.INTER_AREA)
                img = np.zeros_like(img)
                img[bar : HEIGHT - bar] = inner
        if "shake" in f:
            shake_xy = 0.5 * shake_xy + rng.normal(0, 24.0 * f["shake"], size=2)
            m = np.float32([[1, 0, shake_xy[0]], [0, 1, shake_xy[1]]])
            img = cv2.warpAffine(img, m, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
        if "blur" in f:
            img = synth.gaussian_blur(img, sigma_px=0.3 + 4.7 * f["blur"])
        if "exposure" in f:
            gain = 1.0 + 1.5 * f["exposure"] if r.exposure_over else 1.0 - 0.75 * f["exposure"]
            img = synth.scale_brightness(img, gain=gain)
        if "contrast" in f:
            k = 1.0 - 0.8 * f["contrast"]
            img = np.clip(128.0 + (img.astype(np.float32) - 128.0) * k, 0, 255).astype(np.uint8)
        if "noise" in f:
            img = np.clip(img + noise_rng.normal(0, 40.0 * f["noise"], size=img.shape[:2])[..., None], 0, 255).astype(np.uint8)
        if "downscale" in f:
            k = 1.0 - 0.8 * f["downscale"]
            small = cv2.resize(img, (max(8, int(WIDTH * k)), max(8, int(HEIGHT * k))), interpolation=cv2.INTER_AREA)
            img = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
        if "compression" in f:
            q = int(round(60 - 55 * f["compression"]))
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
            img = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        held = img
        yield t, img


# --------------------------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------------------------
def clip_features(r: Recipe, config: dict, options: dict | None = None) -> dict:
    """Render one recipe in memory and run the real extractors on it. Returns the feature values dict."""
    return clip_feature_vector(r, config, options).values


def clip_feature_vector(r: Recipe, config: dict, options: dict | None = None):
    """``clip_features``' whole FeatureVector (values, series, events)."""
    from .adapter import extract_arrays

    voice = clean_audio(r)
    audio = degrade_audio(voice, r) if r.has_audio else None
    caption = degrade_caption(clean_caption(r), r) if r.has_caption else None
    source = content_source(r, voice)
    fv = extract_arrays(frame_stream(r, source), audio, width=WIDTH, height=HEIGHT, fps=FPS, duration_s=DURATION_S,
                        config=config, sample_rate_hz=SR, caption=caption, options=options)
    return fv


def _worker(args):
    r, config, options = args
    try:
        return r.index, clip_features(r, config, options), None
    except Exception as exc:  # one broken recipe must not lose the corpus; it is reported and left out
        return r.index, None, f"{type(exc).__name__}: {exc}"


@dataclass
class Corpus:
    keys: list
    values: np.ndarray  # [n, k] float64, NaN where not measured
    targets: np.ndarray  # [n, 3] float64 (visual, audio, text), NaN where the clip has no such modality
    category: np.ndarray  # [n] int, index into CATEGORIES
    split: np.ndarray  # [n] str
    source: np.ndarray  # [n] str
    flaws: list  # [n] dict

    def rows(self, mask=None) -> list[dict]:
        idx = np.arange(len(self.values)) if mask is None else np.flatnonzero(mask)
        return [{k: (None if np.isnan(v) else float(v)) for k, v in zip(self.keys, self.values[i])} for i in idx]


def corpus_key(seed: int, keys: list[str], options: dict | None) -> str:
    """Cache key of a corpus: recipe version, engine version, seed, feature keys and run options. The size is
    not part of it: recipe i is the same for every corpus size, so a bigger build reuses a smaller one's clips."""
    h = hashlib.sha256(json.dumps([CORPUS_VERSION, __version__, seed, keys, options or {}]).encode())
    return h.hexdigest()[:16]


def _cached_rows(cache_dir: Path, key: str, keys: list[str], n: int) -> tuple[dict, set]:
    """{recipe index: feature row} and the set of indices known to fail, from cached builds of this corpus."""
    rows: dict = {}
    tried: set = set()
    for f in sorted(cache_dir.glob(f"corpus-{key}-n*.npz")):
        try:
            z = np.load(f, allow_pickle=False)
            if list(z["keys"]) != keys:
                continue
            size = int(z["n"])
            for i, v in zip(z["index"], z["values"]):
                if int(i) < n:
                    rows[int(i)] = v
            tried.update(range(min(size, n)))
        except (OSError, ValueError, KeyError):
            continue  # a damaged cache file is ignored and rebuilt
    return rows, tried - set(rows)


def build_corpus(n: int = 480, seed: int = 0, *, config: dict | None = None, cache_dir: str | Path | None = ".cache/corpus",
                 workers: int = 2, options: dict | None = None, log=print) -> Corpus:
    """Build (or load from the cache) ``n`` clips' features. ``workers`` processes share the rendering. Clips a
    cached build of the same corpus already has (same seed, engine, feature keys) are not rendered again."""
    from ..config import load_config

    cfg = config if config is not None else load_config()
    keys = current_feature_keys()
    options = dict(options if options is not None else {"ocr": True})
    key = corpus_key(seed, keys, options)
    recipes = make_recipes(n, seed)
    values = np.full((n, len(keys)), np.nan)
    failed: list = []
    cached, known_failed = (_cached_rows(Path(cache_dir), key, keys, n) if cache_dir and Path(cache_dir).is_dir()
                            else ({}, set()))
    for i, v in cached.items():
        values[i] = v
    failed += [(i, "failed in a cached build") for i in sorted(known_failed)]
    todo = [r for r in recipes if r.index not in cached and r.index not in known_failed]
    if cached:
        log(f"corpus: {len(cached)} of {n} clips from the cache in {cache_dir}")
    t0 = time.monotonic()
    jobs = [(r, cfg, options) for r in todo]
    if jobs and workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        # The first clip runs here, before forking: librosa's numba kernels are compiled (or loaded) once, in this
        # process, and the forked workers inherit them instead of filling the cache at the same time.
        first, jobs = jobs[0], jobs[1:]
        i, vals, err = _worker(first)
        _store(values, keys, i, vals, err, failed)
        try:
            # A worker that dies (e.g. a native crash in a library) breaks the pool with an error, never a hang.
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                futures = [pool.submit(_worker, job) for job in jobs]
                for done, fut in enumerate(as_completed(futures), 2):
                    i, vals, err = fut.result()
                    _store(values, keys, i, vals, err, failed)
                    if done % 20 == 0 or done == len(todo):
                        log(f"corpus: {done}/{len(todo)} clips, {time.monotonic() - t0:.0f} s")
        except BrokenProcessPool:
            raise RuntimeError("a corpus worker process died (a crash inside a native library); run with workers=1 "
                               "to see where") from None
    else:
        for done, job in enumerate(jobs, 1):
            i, vals, err = _worker(job)
            _store(values, keys, i, vals, err, failed)
            if done % 20 == 0 or done == len(todo):
                log(f"corpus: {done}/{len(todo)} clips, {time.monotonic() - t0:.0f} s")
    if failed:
        log(f"corpus: {len(failed)} clip(s) failed and are left out; first: {failed[0]}")
    bad = {f[0] for f in failed}
    ok = np.array([i not in bad for i in range(n)], dtype=bool)
    targets = np.array([r.targets() for r in recipes], dtype=np.float64).reshape(-1, 3)
    category = np.array([CATEGORIES.index(r.category) for r in recipes], dtype=int)
    split = np.array([r.split for r in recipes])
    source = np.array([r.source for r in recipes])
    corpus = Corpus(keys, values[ok], targets[ok], category[ok], split[ok], source[ok],
                    [r.flaws for r, k in zip(recipes, ok) if k])
    if cache_dir and todo:
        cache = Path(cache_dir) / f"corpus-{key}-n{n}.npz"
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, keys=np.array(keys), values=values[ok], index=np.flatnonzero(ok), n=np.array(n))
        tmp.replace(cache)
    log(f"corpus: {int(ok.sum())} clips ready ({len(todo)} rendered in {time.monotonic() - t0:.0f} s)")
    return corpus


def _store(values, keys, i, vals, err, failed):
    if vals is None:
        failed.append((i, err))
        return
    for j, k in enumerate(keys):
        v = vals.get(k)
        if v is not None:
            values[i, j] = float(v)
