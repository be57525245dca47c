"""Visual extractors, part 5: the look of the picture as people rate it, read by a network pretrained on photographs.

People's ratings of real clips follow what a picture *looks like* (clean detail, natural texture, no smear or
mush) more than any single statistic: on realmos (67 KoNViD-1k clips with MOS) the hand-made picture statistics
reach SRCC 0.51-0.54 alone, and the deep models trained on thousands of rated clips 0.8-0.9. With 67 ratings a
network cannot be trained here, but the features of one pretrained on ImageNet photographs can be *read* by a small
linear model (a ridge regression), which is what this extractor does:

- **Fragments at the rated size.** Each sampled frame is scaled to ``SHORT_SIDE_PX`` (540 px, the size of the rated
  clips; never upscaled) and cut into a ``GRID`` x ``GRID`` grid of ``PATCH_PX`` patches at that resolution,
  spread evenly over the frame and joined into one 448 x 448 image: the grid mini-patch sampling of FAST-VQA (Wu et
  al. 2022, "FAST-VQA: Efficient end-to-end video quality assessment with fragment sampling", ECCV), which keeps
  the pixel-level texture that a downscaled whole frame loses. Measured on realmos (10 x 5-fold, ridge; scratch
  scripts of issue 15): the whole frame at 224 px read SRCC 0.54, at 384 px 0.63, at 540 px 0.63 (6x the cost);
  7 x 7 fragments 0.65, 14 x 14 fragments 0.69 (0.07 s a frame).
- **The network**: EfficientNet-Lite0 (``appearance_net``: ImageNet weights, numpy, no torch at run time). The
  feature map of each of its levels (the seven stages' outputs and the head: fine texture to objects) is pooled to
  its per-channel mean and standard deviation (MLSP), then averaged over the sampled frames: one a second, at the
  middles of equal stretches of the clip, at most ``MAX_SAMPLES`` (the rated clips are 8 s, so 8 there; a 2 s clip
  pays for 2, a 60 s clip for 8).
- **The reading** (``engine/models/appearance.json``, trained by ``python -m engine.train.picture_quality``): ridge
  regression on the standardised 4128 features to the 1-5 opinion scale. Its number, ``visual.appearance_mos``, is one
  input of the picture-quality model (engine/picture_quality.py), never judged by a target of its own.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...errors import ModelError
from ...features import FeatureVector, MetricSpec
from ...paths import SHIPPED_MODELS_DIR
from ..base import ClipContext, EventSpec, Extractor, register
from .frames import _av_frame, _reformatter, _rotate

#: Frames sampled: one a second, spread evenly over the clip (at the middles of equal stretches), at most
#: ``MAX_SAMPLES``. The rated clips are 8 s, so the reading was trained on 8 frames a clip; a longer clip pays the
#: same fixed cost (docs/BENCHMARKS.md), a shorter one less.
SECONDS_PER_SAMPLE = 1.0
MAX_SAMPLES = 8
#: Size the fragments are cut at: the short side of the rated KoNViD-1k clips (960 x 540), so the patches show
#: texture at the scale people judged. A 1080 x 1920 clip is halved first; a smaller clip is never upscaled.
SHORT_SIDE_PX = 540
#: Fragment grid and patch size (FAST-VQA: 7 x 7 patches of 32 px; 14 x 14 agreed better with people here and
#: fills EfficientNet's 448 px input).
GRID = 14
PATCH_PX = 32
HEAD_PATH = SHIPPED_MODELS_DIR / "appearance.json"
HEAD_FORMAT = "byteme-appearance-1"
#: The run option that also writes each clip's pooled network features (``visual.appearance_features``), for
#: training the reading (engine/train/picture_quality.py); never set by the app or ``byteme score``.
FEATURES_OPTION = "appearance_features"


def sample_count(duration_s: float) -> int:
    """How many frames a clip of ``duration_s`` seconds is read from: one a second (rounded), 1 to ``MAX_SAMPLES``;
    1 when the duration is unknown."""
    d = float(duration_s)
    if not math.isfinite(d):
        return 1
    return int(min(MAX_SAMPLES, max(1, round(d / SECONDS_PER_SAMPLE))))


def sample_times(duration_s: float, n: int | None = None) -> list[float]:
    """The times (s) of the sampled frames: the middles of ``n`` (default ``sample_count``) equal stretches."""
    d = float(duration_s)
    d = d if math.isfinite(d) and d > 0 else 0.0
    n = sample_count(d) if n is None else n
    return [d * (k + 0.5) / n for k in range(n)]


def rated_size_rgb(frame) -> np.ndarray:
    """The frame in colour at ``SHORT_SIDE_PX`` short side (never upscaled), RGB uint8, displayed orientation."""
    f = _av_frame(frame)
    if f is None:  # a frame without its decoder frame (tests): its analysis-size colour
        rgb = frame.rgb
    else:
        s = min(1.0, SHORT_SIDE_PX / min(f.width, f.height))
        w, h = max(2, round(f.width * s)), max(2, round(f.height * s))
        rgb = _reformatter().reformat(f, width=w, height=h, format="rgb24").to_ndarray()
        rgb = _rotate(rgb, getattr(frame, "rotation_deg", 0))
    return rgb


def fragments(rgb: np.ndarray, grid: int = GRID, patch: int = PATCH_PX) -> np.ndarray:
    """``grid`` x ``grid`` patches of ``patch`` px spread evenly over the image (each at the centre of its cell),
    joined into one (grid*patch) square image. A side shorter than ``patch`` is padded by edge replication."""
    h, w = rgb.shape[:2]
    if h < patch or w < patch:
        rgb = cv2.copyMakeBorder(rgb, 0, max(0, patch - h), 0, max(0, patch - w), cv2.BORDER_REPLICATE)
        h, w = rgb.shape[:2]
    out = np.empty((grid * patch, grid * patch, 3), np.uint8)
    for i in range(grid):
        y0 = int((h - patch) * (i + 0.5) / grid)
        for j in range(grid):
            x0 = int((w - patch) * (j + 0.5) / grid)
            out[i * patch:(i + 1) * patch, j * patch:(j + 1) * patch] = rgb[y0:y0 + patch, x0:x0 + patch, :3]
    return out


@dataclass(frozen=True)
class AppearanceHead:
    """The ridge reading of the pooled features: standardise, clip at ``z_clip``, weigh, add the intercept."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    z_clip: float
    mos_lo: float
    mos_hi: float

    def predict_mos(self, features: np.ndarray) -> float:
        features = np.asarray(features, np.float64)
        if features.shape != self.coef.shape:
            raise ModelError(f"The appearance reading weighs {len(self.coef)} features but the network gave "
                             f"{features.size}: the reading was trained for another version of the network; "
                             "retrain it (python -m engine.train.picture_quality).", kind="model_invalid")
        z = np.clip((np.asarray(features, np.float64) - self.mean) / self.scale, -self.z_clip, self.z_clip)
        return float(min(self.mos_hi, max(self.mos_lo, z @ self.coef + self.intercept)))


def parse_head(data: dict, n_features: int | None = None) -> AppearanceHead:
    if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
        raise ModelError(f"The appearance reading is not in the format {HEAD_FORMAT!r}.", kind="model_invalid")
    try:
        arrs = [np.asarray(data[k], np.float64) for k in ("scaler_mean", "scaler_scale", "coef")]
        intercept, z_clip = float(data["intercept"]), float(data.get("z_clip", 4.0))
        lo, hi = float(data["target"]["lo"]), float(data["target"]["hi"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"The appearance reading lacks {exc}.", kind="model_invalid") from None
    n = len(arrs[2])
    if (any(a.shape != (n,) or not np.all(np.isfinite(a)) for a in arrs) or np.any(arrs[1] <= 0) or hi <= lo
            or (n_features is not None and n != n_features)):
        raise ModelError("The appearance reading's weights do not match the network's features.",
                         kind="model_invalid")
    return AppearanceHead(arrs[0], arrs[1], arrs[2], intercept, z_clip, lo, hi)


_lock = threading.Lock()
_heads: dict = {}


def load_head(path: Path | None = None) -> AppearanceHead:
    """The shipped reading (or ``path``), read and checked once per process; ModelError in plain words."""
    p = Path(path) if path else HEAD_PATH
    with _lock:
        h = _heads.get(p)
        if h is None:
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ModelError(f"The appearance reading {p.name} cannot be read: {exc.strerror or exc}.",
                                 kind="model_invalid") from None
            except ValueError as exc:
                raise ModelError(f"The appearance reading {p.name} is not valid JSON ({exc}).",
                                 kind="model_invalid") from None
            h = _heads[p] = parse_head(data)
        return h


def clip_features(fragment_images: list[np.ndarray]) -> np.ndarray:
    """The clip's pooled network features: the mean over its sampled frames' fragment images of each one's pooled
    features (``appearance_net.embed``)."""
    from .appearance_net import embed

    return np.asarray(embed(np.stack(fragment_images)), np.float64).reshape(len(fragment_images), -1).mean(axis=0)


@register
class Appearance(Extractor):
    """The look of the picture: a pretrained network's features of native-resolution fragments, read as a MOS."""

    name = "visual_appearance"
    modality = "visual"
    stage = "visual"
    # An input of the picture-quality model only (like the natural-scene statistics), not of the learned scorer.
    learned_inputs = False
    METRICS = (
        MetricSpec("visual.appearance_mos", "Look of the picture (learned)", "MOS 1-5", 1, 5, True,
                   f"What people would rate the picture's look, 1-5, read from one frame a second (at most "
                   f"{MAX_SAMPLES}): EfficientNet-Lite0 (ImageNet) features, pooled at every level, of {GRID} x "
                   f"{GRID} patches of {PATCH_PX} px at {SHORT_SIDE_PX} px short side (FAST-VQA's fragments), by a "
                   "ridge regression trained on KoNViD-1k ratings (realmos). An input of the picture-quality model."),
    )
    EVENTS = (EventSpec("visual.appearance_features", "[float, ...]",
                        "The pooled network features (training runs only, option appearance_features)."),)

    def begin(self, ctx: ClipContext) -> None:
        self.times = sample_times(float(ctx.info.duration_s or 0.0))
        self.images: list[np.ndarray] = []

    def on_frame(self, frame, ctx: ClipContext) -> None:
        if len(self.images) < len(self.times) and frame.t_s + 1e-6 >= self.times[len(self.images)]:
            self.images.append(fragments(rated_size_rgb(frame)))

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        if not self.images:
            return
        try:
            feats = clip_features(self.images)
            if ctx.options.get(FEATURES_OPTION):
                fv.events["visual.appearance_features"] = [round(float(v), 6) for v in feats]
            mos = load_head().predict_mos(feats)
        except ModelError as exc:
            fv.note("visual", f"The look of the picture was not read: {exc}")
            return
        if math.isfinite(mos):
            fv.set("visual.appearance_mos", mos)
