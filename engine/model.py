"""The learned scorer: a small PyTorch network over standardised features.

Input
    The clip's ``FeatureVector`` values in a fixed order (the sorted metric keys the model was trained on, stored
    with it). Each value is standardised with the StandardScaler state saved with the weights. A value that was not
    measured is imputed to the training mean (z = 0) *and* flagged with its own missing indicator, so "missing"
    never masquerades as a real reading; a per-modality presence mask (visual, audio, text) is a further input.
    Standardised values are clipped to +-``Z_CLIP`` so a clip far outside the training range cannot dominate.
Output
    visual, audio and text quality on 0-100 (sigmoid heads) and a content category with a softmax confidence.
    The overall score and the reward tier are *not* in the network: ``engine.scorer`` computes them from these
    modality scores with the weights and thresholds in config.toml.

Files (never a pickle)
    ``NAME.safetensors`` holds the weights and the scaler (mean, scale, active mask) as tensors, and the metadata
    as JSON in the safetensors header. ``NAME.json`` beside it repeats the metadata for people to read and holds
    the SHA-256 of the ``.safetensors`` file: a file changed after training is refused. Loading checks the format,
    the checksum, the tensor shapes and that the model's feature keys are exactly the keys the current extractors
    produce: a model trained on other features is refused with a plain ``ModelError``, never silently misused.

Where models live: the shipped default in ``engine/models/`` (package data, so a wheel carries it); models trained with
``byteme train`` in ``<user data dir>/models/``. ``load_model(name, cfg)`` also accepts a path to a
``.safetensors`` file.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelError
from .paths import SHIPPED_MODELS_DIR
from .features import MODALITIES, FeatureVector

#: Identifies the file layout; a file with another format string is refused.
MODEL_FORMAT = "byteme-scorer/1"
#: The content categories of the contract (DESIGN.md), in head order for newly trained models. A loaded model
#: uses the category names stored with it.
CATEGORIES = ("talking_head", "music_dance", "tutorial_text", "gameplay_screen", "scenic_broll", "other")
#: Standardised inputs are clipped to this many standard deviations: beyond it a feature is "far outside what
#: the model saw", and a larger number would only let one feature swamp the rest.
Z_CLIP = 5.0
#: Hidden layer widths: small enough to run in well under a millisecond on one CPU thread.
HIDDEN = (64, 32)
#: Largest weight or bias a loaded model may hold. The shipped default's largest is 0.30 (measured:
#: ``max(abs(v).max() for v in load_model("default").net.state.values())``). With inputs clipped to +-Z_CLIP and
#: weights within +-1e6, every layer of HIDDEN stays below ~1e25, far from float32's 3.4e38: no score can overflow
#: to inf or NaN. A file beyond it is crafted or broken.
MAX_ABS_WEIGHT = 1e6
SHIPPED_DIR = SHIPPED_MODELS_DIR
DEFAULT_NAME = "default"


# ------------------------------------------------------------------------------------------------------------
# Feature encoding
# ------------------------------------------------------------------------------------------------------------
@dataclass
class FeatureEncoder:
    """Feature order + StandardScaler state + which features carried information in training.

    ``active[i]`` is False for a feature that was constant (or never measured) in the training data: its
    standardised value is forced to 0, so a value the model never saw vary cannot move the output.
    """

    keys: list
    mean: np.ndarray
    scale: np.ndarray
    active: np.ndarray

    @property
    def n_inputs(self) -> int:
        return 2 * len(self.keys) + len(MODALITIES)

    @classmethod
    def fit(cls, rows: list[dict], keys: list[str], *, inactive=()) -> "FeatureEncoder":
        """Fit the scaler on training rows (dicts of key -> float or None), ignoring missing values. Keys in
        ``inactive`` are kept in the order (the compatibility check) but switched off, e.g. features the training
        data cannot vary honestly."""
        from sklearn.preprocessing import StandardScaler

        x = raw_matrix(rows, keys)
        sc = StandardScaler()
        # StandardScaler ignores NaN when fitting (scikit-learn >= 0.20): missing values do not bias the mean.
        # A column never measured in training gives NaN mean/var (and a warning): it becomes inactive below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sc.fit(x)
        mean = np.nan_to_num(sc.mean_, nan=0.0)
        var = np.nan_to_num(sc.var_, nan=0.0)
        active = (var > 1e-12) & np.array([k not in set(inactive) for k in keys], dtype=bool)
        scale = np.where(active, np.sqrt(np.maximum(var, 1e-24)), 1.0)
        return cls(list(keys), mean.astype(np.float64), scale.astype(np.float64), active)

    def encode_rows(self, rows: list[dict]) -> np.ndarray:
        """[shape=(n, 2 * n_keys + 3), dtype=float32]: z-scores (missing -> 0), missing flags, modality presence."""
        x = raw_matrix(rows, self.keys)
        missing = np.isnan(x)
        z = (x - self.mean) / self.scale
        z = np.where(missing | ~self.active, 0.0, np.clip(z, -Z_CLIP, Z_CLIP))
        presence = np.array([[_present(r, m) for m in MODALITIES] for r in rows], dtype=np.float64).reshape(-1, 3)
        return np.concatenate([z, missing.astype(np.float64), presence], axis=1).astype(np.float32)


def _present(values: dict, modality: str) -> float:
    return float(any(k.startswith(modality + ".") and v is not None for k, v in values.items()))


def raw_matrix(rows: list[dict], keys: list[str]) -> np.ndarray:
    """Feature values in ``keys`` order, NaN where missing. [shape=(len(rows), len(keys)), float64]."""
    x = np.full((len(rows), len(keys)), np.nan)
    for i, r in enumerate(rows):
        for j, k in enumerate(keys):
            v = r.get(k)
            if v is not None:
                v = float(v)
                if math.isfinite(v):
                    x[i, j] = v
    return x


def current_feature_keys() -> list[str]:
    """The sorted metric keys the registered extractors produce now, as inputs of a learned scorer (extractors
    with ``learned_inputs = False`` are left out: their metrics feed a model of their own)."""
    from .extractors import registered

    return sorted(m.key for cls in registered() if cls.learned_inputs for m in cls.METRICS)


# ------------------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------------------
def build_net(n_inputs: int, n_categories: int):
    import torch
    from torch import nn

    class ScorerNet(nn.Module):
        """inputs -> 64 -> 32 -> (3 quality logits, category logits)."""

        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Linear(n_inputs, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU()
            )
            self.quality = nn.Linear(HIDDEN[1], len(MODALITIES))
            self.category = nn.Linear(HIDDEN[1], n_categories)

        def forward(self, x: torch.Tensor):
            h = self.body(x)
            return 100.0 * torch.sigmoid(self.quality(h)), self.category(h)

    return ScorerNet()


#: The tensors of ``build_net``'s network, in its ``state_dict`` names, with their shapes as functions of
#: (inputs, categories).
_NET_SHAPES = {
    "body.0.weight": lambda n, c: (HIDDEN[0], n), "body.0.bias": lambda n, c: (HIDDEN[0],),
    "body.2.weight": lambda n, c: (HIDDEN[1], HIDDEN[0]), "body.2.bias": lambda n, c: (HIDDEN[1],),
    "quality.weight": lambda n, c: (len(MODALITIES), HIDDEN[1]), "quality.bias": lambda n, c: (len(MODALITIES),),
    "category.weight": lambda n, c: (c, HIDDEN[1]), "category.bias": lambda n, c: (c,),
}


class NumpyNet:
    """``build_net``'s network for inference, in numpy: a loaded model scores without importing torch (about
    1-3 s of every process's start). Same layers, same float32 weights; ``state_dict()`` gives torch tensors back
    for fine-tuning."""

    def __init__(self, state: dict, n_inputs: int, n_categories: int):
        names = set(state)
        if names != set(_NET_SHAPES):
            missing, extra = sorted(set(_NET_SHAPES) - names), sorted(names - set(_NET_SHAPES))
            raise ValueError(f"missing tensors {missing}, unexpected tensors {extra}")
        for k, shape in _NET_SHAPES.items():
            want = shape(n_inputs, n_categories)
            if tuple(state[k].shape) != want:
                raise ValueError(f"{k} has shape {tuple(state[k].shape)}, the network needs {want}")
        self.state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}
        st = self.state
        self._w = [(st["body.0.weight"].T.copy(), st["body.0.bias"]), (st["body.2.weight"].T.copy(), st["body.2.bias"])]
        self._q = (st["quality.weight"].T.copy(), st["quality.bias"])
        self._c = (st["category.weight"].T.copy(), st["category.bias"])

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(quality [n, 3] on 0-100, category logits [n, categories]) for encoded rows [n, inputs] (float32)."""
        h = np.asarray(x, np.float32)
        for w, b in self._w:
            h = np.maximum(h @ w + b, 0.0)
        zq = np.clip(h @ self._q[0] + self._q[1], -80.0, 80.0)  # exp stays finite in float32
        return 100.0 / (1.0 + np.exp(-zq)), h @ self._c[0] + self._c[1]

    def state_dict(self) -> dict:
        import torch

        return {k: torch.from_numpy(v.copy()) for k, v in self.state.items()}


# ------------------------------------------------------------------------------------------------------------
# The loaded scorer
# ------------------------------------------------------------------------------------------------------------
@dataclass
class LearnedScorer:
    """A loaded model. ``predict(fv)`` is what ``engine.scorer.score`` calls."""

    net: object
    encoder: FeatureEncoder
    categories: list
    meta: dict
    path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """"name@version": the version includes a digest of the weights, so a retrained model under the same
        name gets a new key in the store and invalidates cached scores (cached features stay)."""
        return f"{self.meta['name']}@{self.meta['version']}"

    @property
    def feature_keys(self) -> list:
        return self.encoder.keys

    def predict_rows(self, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """(quality [n, 3] on 0-100, category probabilities [n, n_categories]) for feature dicts."""
        x = self.encoder.encode_rows(rows)
        if isinstance(self.net, NumpyNet):  # a loaded model: no torch needed
            q, logits = self.net(x)
            z = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            return q.astype(np.float64), p.astype(np.float64)
        import torch  # a network being trained (engine.train.fit.as_scorer)

        with self._lock, torch.inference_mode():
            q, logits = self.net(torch.from_numpy(x))
            p = torch.softmax(logits, dim=1)
        return q.numpy().astype(np.float64), p.numpy().astype(np.float64)

    def predict(self, fv: FeatureVector, category: dict | None = None) -> tuple[dict, str, float]:
        """(modality scores, category, confidence). ``category``: the ``[category]`` config table (temperature,
        min_confidence, see ``decide_category``); None gives the network's own argmax and softmax probability."""
        q, p = self.predict_rows([fv.values])
        modalities = {m: (round(float(q[0, i]), 1) if fv.has_modality(m) else None) for i, m in enumerate(MODALITIES)}
        c = category or {}
        name, confidence = decide_category(p[0], self.categories, temperature=float(c.get("temperature", 1.0)),
                                           min_confidence=float(c.get("min_confidence", 0.0)),
                                           evidence=c.get("evidence"), values=fv.values)
        return modalities, name, confidence


#: What the category is called when the evidence is too weak for any other (one of the contract's categories).
WEAK_EVIDENCE_CATEGORY = "other"


def decide_category(probabilities, categories, *, temperature: float = 1.0, min_confidence: float = 0.0,
                    evidence: dict | None = None, values: dict | None = None) -> tuple[str, float]:
    """(category, confidence 0-1) from the network's softmax ``probabilities`` [n_categories].

    The probabilities are first calibrated by ``temperature`` (p_i^(1/T), renormalised: Guo et al. 2017, "On
    Calibration of Modern Neural Networks"; T > 1 softens a network that is more sure than it is right). The
    evidence is weak, and the answer ``other`` with its own (low) calibrated probability instead of a confident
    wrong word, when the most likely category's calibrated probability is under ``min_confidence``, or when
    ``evidence`` names a measured feature the category needs ({category: {"metric": key, "min": value}}) and the
    clip's ``values`` do not reach it (a "talking head" with no face found, "tutorial text" with no text read)."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    z = np.log(p) / max(float(temperature), 1e-6)
    z -= z.max()
    q = np.exp(z)
    q /= q.sum()
    k = int(np.argmax(q))
    need = (evidence or {}).get(str(categories[k]))
    lacking = False
    if isinstance(need, dict) and need.get("metric"):
        v = (values or {}).get(need["metric"])
        lacking = v is None or not np.isfinite(v) or v < float(need.get("min", 0.0))
    if (q[k] < min_confidence or lacking) and categories[k] != WEAK_EVIDENCE_CATEGORY:
        other = list(categories).index(WEAK_EVIDENCE_CATEGORY) if WEAK_EVIDENCE_CATEGORY in categories else None
        return WEAK_EVIDENCE_CATEGORY, round(float(q[other]) if other is not None else 0.0, 3)
    return str(categories[k]), round(float(q[k]), 3)


# ------------------------------------------------------------------------------------------------------------
# Saving and loading
# ------------------------------------------------------------------------------------------------------------
def _open_regular(path: Path):
    """``path`` opened for reading, refused (``OSError``) unless it is a regular file: a FIFO, a device or a
    folder named as a model would block the read or never end. ``O_NONBLOCK`` makes the open itself return even
    when a FIFO was swapped in after the caller's check."""
    import os
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(0, "not a regular file (a folder, a pipe or a device)", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with _open_regular(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: A model's .json metadata is a few kB (feature keys, categories, the training summary); anything much larger is
#: not one of ours, and reading it whole would only cost memory.
MAX_SIDECAR_BYTES = 16 * 1024 * 1024


def save_model(path: str | Path, net, encoder: FeatureEncoder, *, name: str, categories, info: dict | None = None) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar. ``info`` (training summary) goes into the
    metadata. Returns the .safetensors path."""
    import torch
    from safetensors.torch import save_file

    from . import __version__

    bad = [k for k, v in net.state_dict().items() if not bool(torch.isfinite(v).all())]
    scaler_ok = np.all(np.isfinite(encoder.mean)) and np.all(np.isfinite(encoder.scale)) and np.all(encoder.scale > 0)
    if bad or not scaler_ok:
        raise ModelError(f"The trained model {name!r} holds values that are not finite numbers "
                         f"({', '.join(bad[:3]) or 'the scaler'}); it was not saved. Check the labels and features, "
                         "or train from scratch with --from none.", kind="model_invalid")
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors["scaler.mean"] = torch.from_numpy(np.asarray(encoder.mean, np.float64))
    tensors["scaler.scale"] = torch.from_numpy(np.asarray(encoder.scale, np.float64))
    tensors["scaler.active"] = torch.from_numpy(np.asarray(encoder.active, np.uint8))
    digest = hashlib.sha256()
    for k in sorted(tensors):
        digest.update(k.encode())
        digest.update(tensors[k].numpy().tobytes())
    version = f"{(info or {}).get('version_prefix', '1')}+{digest.hexdigest()[:10]}"
    meta = {
        "format": MODEL_FORMAT,
        "name": name,
        "version": version,
        "engine_version": __version__,
        "feature_keys": list(encoder.keys),
        "modalities": list(MODALITIES),
        "categories": list(categories),
        "hidden": list(HIDDEN),
        "z_clip": Z_CLIP,
        "info": {k: v for k, v in (info or {}).items() if k != "version_prefix"},
    }
    tmp = path.with_suffix(".safetensors.tmp")
    save_file(tensors, str(tmp), metadata={"byteme": json.dumps(meta, sort_keys=True)})
    _readable_by_all(tmp)
    tmp.replace(path)
    sidecar = dict(meta, sha256=file_sha256(path))
    side = path.with_suffix(".json")
    side.with_suffix(".json.tmp").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _readable_by_all(side.with_suffix(".json.tmp"))
    side.with_suffix(".json.tmp").replace(side)
    return path


def _readable_by_all(path: Path) -> None:
    """safetensors writes 0600 files; a model is not a secret, and other users (workers, a shared checkout)
    must be able to read it: 0666 minus the umask, as for any file the user creates."""
    import os

    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def user_models_dir() -> Path:
    from .paths import data_dir

    return data_dir() / "models"


def resolve_model_path(name: str) -> Path:
    """A model name or path -> its .safetensors file. Looks in the user models dir, then the shipped ``engine/models/``."""
    p = Path(name)
    if p.suffix in (".safetensors", ".json", ".pt", ".pth", ".pkl", ".bin") or len(p.parts) > 1:
        return p.with_suffix(".safetensors") if p.suffix == ".json" else p
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ModelError(f"Model name {name!r} may only hold letters, digits, '-', '_' and '.'.", kind="model_not_found")
    for folder in (user_models_dir(), SHIPPED_DIR):
        cand = folder / f"{name}.safetensors"
        if cand.is_file():
            return cand
    raise ModelError(
        f"No model named {name!r}: looked for {name}.safetensors in {user_models_dir()} and {SHIPPED_DIR}. "
        "Train one with `byteme train LABELS --name NAME`, or use --model none for the config targets.",
        kind="model_not_found",
    )


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def load_model(name: str, cfg: dict | None = None, *, feature_keys: list[str] | None = None) -> LearnedScorer:
    """Load (once per process) and check a model. Raises ``ModelError`` in plain words when the file is not a
    BYTEME model, was changed after training, or was trained on other features than ``feature_keys`` (default:
    the keys the current extractors produce)."""
    path = resolve_model_path(name)
    keys_now = list(feature_keys) if feature_keys is not None else current_feature_keys()
    try:
        st = path.stat()
    except OSError:
        raise ModelError(f"The model file {path} does not exist.", kind="model_not_found") from None
    cache_key = (str(path.resolve()), st.st_mtime_ns, st.st_size, tuple(keys_now))
    with _CACHE_LOCK:
        hit = _CACHE.get(cache_key)
        if hit is None:
            hit = _load_checked(path, keys_now)
            _CACHE[cache_key] = hit
    return hit


def _load_checked(path: Path, keys_now: list[str]) -> LearnedScorer:
    """Every check of the module docstring; any file that fails one raises ``ModelError``, never another error."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    def refuse(why: str, kind: str = "model_invalid") -> ModelError:
        return ModelError(f"{path.name}: {why}", kind=kind)

    if path.suffix != ".safetensors":
        raise ModelError(
            f"{path.name} is not a .safetensors file. BYTEME loads weights only from safetensors files and never "
            "unpickles a model file, because a pickle can run arbitrary code.",
            kind="model_invalid",
        )
    try:
        with _open_regular(path) as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ModelError(f"The model file {path} cannot be read: {exc.strerror or exc}.", kind="model_invalid") from None
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="np") as f:
            header_meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises SafetensorError, OSError or ValueError; none executes code
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise ModelError(
                f"{path.name} is a pickled Python object (or a torch.save archive), not a safetensors file. "
                "It was refused: unpickling a file can run arbitrary code.",
                kind="model_invalid",
            ) from None
        raise ModelError(f"{path.name} is not a valid safetensors file ({exc}).", kind="model_invalid") from None
    side = path.with_suffix(".json")
    try:
        with _open_regular(side) as fh:
            raw = fh.read(MAX_SIDECAR_BYTES + 1)
    except FileNotFoundError:
        raise refuse(f"no metadata file {side.name} beside it; it cannot be checked.") from None
    except OSError as exc:
        raise refuse(f"its metadata file {side.name} cannot be read ({exc.strerror or exc}).") from None
    if len(raw) > MAX_SIDECAR_BYTES:
        raise refuse(f"its metadata file {side.name} is larger than {MAX_SIDECAR_BYTES} bytes; not a BYTEME model.")
    try:
        sidecar = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise refuse(f"{side.name} is not readable JSON ({type(exc).__name__}).") from None
    if not isinstance(sidecar, dict) or not isinstance(sidecar.get("sha256"), str):
        raise refuse(f"{side.name} is not a BYTEME model's metadata (no SHA-256 of the weights).")
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ModelError(f"The model file {path} cannot be read: {exc.strerror or exc}.",
                         kind="model_invalid") from None
    if sidecar["sha256"] != digest:
        raise ModelError(
            f"{path.name} was changed after it was trained (its SHA-256 does not match {side.name}). It was refused; "
            "retrain it or restore the original file.",
            kind="model_tampered",
        )
    try:
        meta = json.loads(header_meta.get("byteme", ""))
    except (ValueError, RecursionError):
        raise ModelError(f"{path.name} holds no BYTEME metadata.", kind="model_invalid") from None
    if not isinstance(meta, dict):
        raise refuse("its metadata is not a JSON object.")
    if meta.get("format") != MODEL_FORMAT:
        fmt = meta.get("format")
        raise refuse(f"has format {fmt if isinstance(fmt, str) else type(fmt).__name__!r}; this BYTEME reads "
                     f"{MODEL_FORMAT!r}.")
    for key in ("name", "version"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise refuse(f"its metadata has no text '{key}'.")
    keys = meta.get("feature_keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise refuse("its metadata 'feature_keys' is not a list of metric names.")
    if keys != keys_now:
        missing = sorted(set(keys_now) - set(keys))
        extra = sorted(set(keys) - set(keys_now))
        detail = []
        if missing:
            detail.append(f"{len(missing)} metric(s) it never saw (e.g. {', '.join(missing[:3])})")
        if extra:
            detail.append(f"{len(extra)} metric(s) the extractors no longer produce (e.g. {', '.join(extra[:3])})")
        if not detail:
            detail.append("the same metrics in another order")
        raise ModelError(
            f"Model {meta['name']}@{meta['version']} was trained on other features than this BYTEME "
            f"measures: {'; '.join(detail)}. It was refused so it cannot misread features. Rebuild it "
            "(`python -m engine.train.build_default`, or `byteme train` for your own model).",
            kind="model_stale",
        )
    categories = meta.get("categories")
    if (not isinstance(categories, list) or not categories or not all(isinstance(c, str) and c for c in categories)
            or len(set(categories)) != len(categories)):
        raise refuse("its metadata 'categories' is not a list of distinct category names.")
    n = len(keys)
    try:
        mean = np.asarray(tensors["scaler.mean"], np.float64)
        scale = np.asarray(tensors["scaler.scale"], np.float64)
        active = np.asarray(tensors["scaler.active"])
    except KeyError as exc:
        raise refuse(f"lacks the scaler tensor {exc}.") from None
    except (TypeError, ValueError):
        raise refuse("its scaler tensors are not numbers.") from None
    if not (mean.shape == scale.shape == active.shape == (n,)):
        raise refuse(f"the scaler does not match its {n} feature keys.")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)
            and np.all((active == 0) | (active == 1))):
        raise refuse("the scaler holds values that are not finite (NaN or infinity), a scale that is not above 0, "
                     "or an active flag that is not 0 or 1. It was refused: it would turn every score into NaN.")
    encoder = FeatureEncoder(list(keys), mean, scale, active.astype(bool))
    state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    try:
        net = NumpyNet(state, encoder.n_inputs, len(categories))
    except (TypeError, ValueError) as exc:
        raise refuse(f"the weights do not fit the network ({exc}).") from None
    if not all(np.all(np.isfinite(v)) and np.all(np.abs(v) <= MAX_ABS_WEIGHT) for v in net.state.values()):
        raise refuse(f"its weights hold values that are not finite (NaN or infinity) or beyond +-{MAX_ABS_WEIGHT:g}. "
                     "It was refused: it would turn scores into NaN.")
    return LearnedScorer(net, encoder, list(categories), meta, path)


def load_model_or_fallback(name: str | None, cfg: dict) -> tuple[LearnedScorer | None, str | None]:
    """(model, None) when it loads; (None, why) when it is refused or absent, so the caller scores with the
    config targets and can say why. ``name`` None/""/"none" means the config targets on purpose: (None, None)."""
    if name in (None, "", "none"):
        return None, None
    try:
        return load_model(name, cfg), None
    except ModelError as exc:
        return None, f"Model {name!r} not used: {exc.message} Scores come from the config targets instead."


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


__all__ = ["CATEGORIES", "FeatureEncoder", "LearnedScorer", "MODEL_FORMAT", "NumpyNet", "build_net", "decide_category",
           "load_model", "load_model_or_fallback", "save_model", "current_feature_keys"]
