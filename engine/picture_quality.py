"""Perceived picture quality (0-100) from a clip's features, by the model trained on real human opinion.

The model (``engine/models/picture_quality.json``, built by ``python -m engine.train.picture_quality``; see
engine/models/MODEL_CARD.md) is a ridge regression on standardised picture statistics and on the look of the picture as
a pretrained network's reading gives it (``visual.appearance_mos``, engine/extractors/visual/appearance.py), trained on
KoNViD-1k clips with their mean opinion scores (MOS 1-5). It is plain JSON (weights, scaler, feature keys), read once and cached;
never a pickle. The MOS is mapped linearly onto 0-100 (1 -> 0, 5 -> 100) and clamped to that range.

By default the model's predicted MOS is one more picture metric, ``visual.picture_mos`` (``PICTURE_MOS``), judged by
its target in config.toml beside the others: it is *derived* from the measured metrics when a clip is scored
(``derived_values``, called by ``engine.scorer.score``), never extracted, so a retrained model re-judges stored
features without decoding them again. With ``[scoring] picture_quality = "model"`` the model's number replaces the
picture targets instead (engine/scorer.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .features import DERIVED_METRICS, PICTURE_MOS, FeatureVector
from .paths import SHIPPED_MODELS_DIR

MODEL_PATH = SHIPPED_MODELS_DIR / "picture_quality.json"  # beside the shipped learned scorer
MODEL_FORMAT = "byteme-picture-quality-1"
#: The model's inputs (engine/train/picture_quality.py says why these): BRISQUE's statistics at two scales, the
#: grain estimate (so the model can learn from the flaw pairs that added grain is not detail), and the look of the
#: picture as the pretrained network's reading gives it (engine/extractors/visual/appearance.py).
PQ_FEATURE_KEYS = tuple(f"visual.mscn_{k}{s}" for s in ("", "_half")
                        for k in ("shape", "var", "pair_shape", "pair_mean", "pair_var", "pair_asym")) + (
    "visual.noise_sigma", "visual.appearance_mos")
#: Features read on a log scale, with the offset that keeps a zero finite. The MSCN variances span two decades
#: across real clips (0.005-0.5 on realmos) and a linear model on the raw values is driven by the few largest;
#: their offset is below the smallest measured there (0.004). Grain (luma levels) spans 0.1-30; its offset is
#: a tenth of a level, below what the estimator resolves on 8-bit video.
LOG_OFFSETS = {**{k: 1e-3 for k in PQ_FEATURE_KEYS if k.endswith(("_var", "_var_half"))},
               "visual.noise_sigma": 0.1}
#: Inputs not clipped at ``z_clip`` standard deviations. Grain on real rated clips spans little (0.2-1 level on
#: realmos), so a clip with heavy grain sits far beyond it; clipped, the model could only take a fixed amount off
#: for any grain, and measured, it then scored the generated test clip with added grain above its source.
UNCLIPPED_KEYS = ("visual.noise_sigma",)
#: A prediction needs at least this share of the model's features measured (the rest are imputed with the
#: training mean); below it the clip is too far from what the model learned on and no number is given.
MIN_MEASURED_SHARE = 0.8


def transform(values: dict, keys=PQ_FEATURE_KEYS, log_offsets: dict = LOG_OFFSETS) -> np.ndarray:
    """The model's input vector from a metric dict: NaN where not measured, log(v + offset) for the keys in
    ``log_offsets``."""
    x = np.full(len(keys), np.nan)
    for j, k in enumerate(keys):
        v = values.get(k)
        if v is not None and math.isfinite(float(v)):
            x[j] = math.log(max(float(v), 0.0) + log_offsets[k]) if k in log_offsets else float(v)
    return x


@dataclass(frozen=True)
class PictureModel:
    name: str
    version: int
    keys: tuple
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    z_clip: float
    mos_lo: float
    mos_hi: float
    log_offsets: dict = None
    unclipped: tuple = ()
    digest: str = ""  # of the model file: a retrained model has another label, so stored results are re-judged
    #: How far its predictions fell from people's mean on clips it never saw (repeated k-fold at training): the
    #: median and the 80th percentile of the absolute error, MOS; None when the file does not say.
    error_median: float | None = None
    error_p80: float | None = None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" + (f"+{self.digest}" if self.digest else "")

    def predict_mos(self, values: dict) -> float | None:
        x = transform(values, self.keys, self.log_offsets or {})
        ok = np.isfinite(x)
        if ok.mean() < MIN_MEASURED_SHARE:
            return None
        z = np.where(ok, (x - self.mean) / self.scale, 0.0)
        free = np.array([k in self.unclipped for k in self.keys])
        z = np.where(free, z, np.clip(z, -self.z_clip, self.z_clip))
        return float(z @ self.coef + self.intercept)

    def predict(self, fv: FeatureVector) -> float | None:
        """Perceived picture quality 0-100, or None when too few of the model's features were measured."""
        mos = self.predict_mos(fv.values)
        if mos is None:
            return None
        return float(min(100.0, max(0.0, 100.0 * (mos - self.mos_lo) / (self.mos_hi - self.mos_lo))))


def parse_model(data: dict, known_keys: set | None = None) -> PictureModel:
    """A PictureModel from the model file's JSON; ModelError in plain words when it does not fit."""
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ModelError(f"The picture-quality model is not in the format {MODEL_FORMAT!r}.", kind="model_invalid")
    try:
        keys = tuple(str(k) for k in data["feature_keys"])
        arrs = [np.asarray(data[k], np.float64) for k in ("scaler_mean", "scaler_scale", "coef")]
        intercept = float(data["intercept"])
        log_offsets = {str(k): float(v) for k, v in dict(data.get("log_offsets", {})).items()}
        unclipped = tuple(str(k) for k in data.get("unclipped_keys", ()))
        target = data.get("target", {})
        lo, hi = float(target.get("lo", 1.0)), float(target.get("hi", 5.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"The picture-quality model lacks {exc}.", kind="model_invalid") from None
    n = len(keys)
    if (any(a.shape != (n,) or not np.all(np.isfinite(a)) for a in arrs) or np.any(arrs[1] <= 0) or hi <= lo
            or not set(log_offsets) <= set(keys) or not all(v > 0 for v in log_offsets.values())):
        raise ModelError(f"The picture-quality model's weights do not match its {n} feature keys.",
                         kind="model_invalid")
    if known_keys is not None:
        missing = sorted(set(keys) - known_keys)
        if missing:
            raise ModelError(
                f"The picture-quality model reads {len(missing)} metric(s) this BYTEME no longer measures (e.g. "
                f"{', '.join(missing[:3])}); rebuild it with `python -m engine.train.picture_quality`.",
                kind="model_stale")
    return PictureModel(str(data.get("name", "picture_quality")), int(data.get("version", 0)), keys, arrs[0],
                        arrs[1], arrs[2], intercept, float(data.get("z_clip", 4.0)), lo, hi, log_offsets, unclipped,
                        **dict(zip(("error_median", "error_p80"), _held_out_error(data))))


def _held_out_error(data: dict) -> tuple[float | None, float | None]:
    """(median, 80th percentile) of the model's absolute error on clips it never saw, from the training summary
    (``training.repeated_kfold.model``); (None, None) when absent or not two positive numbers."""
    try:
        ev = data["training"]["repeated_kfold"]["model"]
        med, p80 = float(ev["abs_error_median"]), float(ev["abs_error_p80"])
    except (KeyError, TypeError, ValueError):
        return None, None
    if not (math.isfinite(med) and math.isfinite(p80) and 0 < med <= p80):
        return None, None
    return med, p80


def error_words(model: PictureModel) -> str:
    """How far to trust the model's MOS, in words (empty when the model file does not say): "on clips it never saw,
    people's mean was within 0.33 of its prediction for half of them and within 0.65 for four in five"."""
    if model.error_median is None:
        return ""
    return (f"on clips it never saw, people's mean was within {model.error_median:.2f} of its prediction for half of "
            f"them and within {model.error_p80:.2f} for four in five")


_lock = threading.Lock()
_cache: dict = {}


def load(path: Path | None = None) -> PictureModel:
    """The shipped model (or ``path``), read and checked once per process. ModelError when absent or invalid."""
    from .extractors import metric_specs

    p = Path(path) if path else MODEL_PATH
    with _lock:
        m = _cache.get(p)
        if m is None:
            try:
                raw = p.read_bytes()
                data = json.loads(raw.decode("utf-8"))
            except OSError as exc:
                raise ModelError(f"The picture-quality model {p.name} cannot be read: {exc.strerror or exc}.",
                                 kind="model_invalid") from None
            except ValueError as exc:
                raise ModelError(f"The picture-quality model {p.name} is not valid JSON ({exc}).",
                                 kind="model_invalid") from None
            m = _cache[p] = dataclasses.replace(parse_model(data, set(metric_specs())),
                                                digest=hashlib.blake2b(raw, digest_size=4).hexdigest())
        return m


#: The info finding of a clip scored while the model cannot be read (``engine.scorer.derive_metrics``).
UNAVAILABLE_CODE = "visual.picture_model_unavailable"


def derived_values(values: dict) -> dict:
    """The derived metrics of a clip from its measured ones: ``{"visual.picture_mos": MOS}``, or {} when too few of
    the model's inputs were measured (no picture, a clip too short for the statistics). ModelError when the model
    cannot be read (absent, invalid or stale)."""
    mos = load().predict_mos(values)
    if mos is None:
        return {}
    return {PICTURE_MOS.key: round(min(PICTURE_MOS.hi, max(PICTURE_MOS.lo, mos)), 4)}


def derived_partial(partial_keys, measured: dict | None = None) -> set:
    """The derived metrics that summarise only part of a clip when ``partial_keys`` do (a provisional verdict):
    the picture MOS whenever one of the model's inputs is partial, or not measured yet in ``measured`` (the
    appearance reading has no partial summary: it comes when its extractor finishes, and until then the model would
    stand in its training mean for it)."""
    pending = set(partial_keys)
    if measured is not None:
        pending |= {k for k in PQ_FEATURE_KEYS if measured.get(k) is None}
    return {PICTURE_MOS.key} if pending & set(PQ_FEATURE_KEYS) else set()


def clear_cache() -> None:
    with _lock:
        _cache.clear()
