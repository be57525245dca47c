"""The numpy EfficientNet-Lite0 (engine/extractors/visual/appearance_net.py) against its torch reference.

torch and the reference architecture (PyPI ``efficientnet-lite-pytorch``) are test-only: the module reads the same
``.pth`` file without torch, and must give the reference's pooled features to float32 rounding.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import ModelError
from engine.extractors.visual import appearance_net as AN

torch = pytest.importorskip("torch")
efficientnet_lite_pytorch = pytest.importorskip("efficientnet_lite_pytorch")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One BLAS thread and one torch thread: on a busy 2-core machine spinning thread pools (OpenBLAS's and torch's
    OpenMP) make both models 5-20x slower, which is all this file's run time otherwise."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with limits:
        yield
    torch.set_num_threads(torch_threads)


@pytest.fixture(scope="module")
def weights() -> Path:
    return AN.weights_path()


@pytest.fixture(scope="module")
def net(weights):
    return AN.load_net(weights)


@pytest.fixture(scope="module")
def reference(weights):
    """The reference model, eval mode; ``dynamic`` pads for the actual input size (Conv2dDynamicSamePadding) instead
    of the 224 px the static model precomputes (the same for sides that are multiples of 32)."""
    models = {}
    taps: list = []

    def tap(_module, _inputs, output):
        taps.append(output)

    def pooled(f):
        return [f.mean(dim=(2, 3)), f.std(dim=(2, 3), unbiased=False)]

    def run(img: np.ndarray, dynamic: bool = False) -> np.ndarray:
        if dynamic not in models:
            extra = {"image_size": None} if dynamic else {}
            with contextlib.redirect_stdout(io.StringIO()):
                model = efficientnet_lite_pytorch.EfficientNet.from_pretrained(
                    "efficientnet-lite0", weights_path=str(weights), **extra).eval()
            # Each stage's last block, counted from the stage table of the reference's own block arguments.
            ends = np.cumsum([a.num_repeat for a in model._blocks_args]) - 1
            for i in ends:
                model._blocks[int(i)].register_forward_hook(tap)
            models[dynamic] = model
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0
        x = (x - 0.498) / 0.502
        taps.clear()
        with torch.no_grad():
            head = models[dynamic].extract_features(x)
        assert [t.shape[1] for t in taps] + [head.shape[1]] == list(AN.LEVEL_CHANNELS)
        return torch.cat([p for f in (*taps, head) for p in pooled(f)], dim=1)[0].double().numpy()

    return run


def _random_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _natural_image(h: int, w: int) -> np.ndarray:
    """Smooth colour gradients, a few filled shapes and a little grain, slightly blurred: photograph-like
    statistics (large flat areas, edges, texture) rather than white noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([255 * xx / w, 255 * yy / h, 128 + 100 * np.sin(xx / 37.0) * np.cos(yy / 23.0)], axis=-1)
    img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
    cv2.circle(img, (w // 3, h // 2), min(h, w) // 5, (230, 40, 60), -1)
    cv2.rectangle(img, (w // 2, h // 6), (w - w // 8, h // 2), (20, 90, 200), -1)
    cv2.line(img, (0, h - 1), (w - 1, h // 3), (250, 250, 250), 3)
    cv2.putText(img, "BYTEME", (w // 8, h - h // 8), cv2.FONT_HERSHEY_SIMPLEX, min(h, w) / 250, (10, 10, 10), 2)
    grain = np.random.default_rng(1).normal(0, 6, img.shape)
    img = np.clip(img + grain, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(img, (3, 3), 0.8)


def _assert_close(got: np.ndarray, want: np.ndarray) -> float:
    assert got.shape == want.shape == (AN.FEATURE_SIZE,)
    assert got.dtype == np.float64
    diff = float(np.max(np.abs(got - want)))
    assert diff < 1e-3 * float(np.max(np.abs(want))) + 1e-4, diff
    return diff


def test_reader_matches_torch_load(weights):
    mine = AN.read_state_dict(weights)
    ref = torch.load(str(weights), map_location="cpu")
    assert list(mine) == list(ref)
    for name, t in ref.items():
        a = mine[name]
        assert a.shape == tuple(t.shape), name
        if t.is_floating_point():
            assert a.dtype == np.float32, name
        assert np.array_equal(a, t.numpy()), name


@pytest.mark.parametrize("shape, image", [((448, 448), "random"), ((448, 448), "natural"), ((224, 320), "random"),
                                          ((224, 320), "natural")])
def test_embed_matches_reference(net, reference, shape, image):
    img = _random_image(*shape) if image == "random" else _natural_image(*shape)
    _assert_close(net.embed(img), reference(img))


def test_odd_sizes_pad_as_tensorflow_same(net, reference):
    # Sides that are not multiples of 32 get odd sizes inside the network, where SAME padding differs from the
    # reference's static padding (computed for 224 px): compare with its dynamic-padding build instead.
    img = _natural_image(201, 299)
    _assert_close(net.embed(img), reference(img, dynamic=True))


def test_batch_and_module_level_embed(net):
    imgs = np.stack([_random_image(64, 96, seed=s) for s in (2, 3)])
    out = net.embed(imgs)
    assert out.shape == (2, AN.FEATURE_SIZE)
    np.testing.assert_allclose(out[1], net.embed(imgs[1]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(AN.embed(imgs[0]), out[0], rtol=0, atol=1e-9)
    at = 0
    for c in AN.LEVEL_CHANNELS:  # each level: c means, then c standard deviations
        assert np.all(out[:, at + c:at + 2 * c] >= 0)
        at += 2 * c
    assert at == AN.FEATURE_SIZE
    assert np.all(out[:, -2 * AN.HEAD_CHANNELS:-AN.HEAD_CHANNELS] >= 0)  # the head's means follow ReLU6
    with pytest.raises(ValueError):
        net.embed(imgs.astype(np.float32))
    with pytest.raises(ValueError):
        net.embed(imgs[..., :2])


def test_load_net_is_cached(weights, net):
    assert AN.load_net(weights) is net


def test_truncated_or_garbage_weights_raise_model_error(weights, tmp_path):
    raw = weights.read_bytes()
    cases = {"truncated.pth": raw[:len(raw) // 2], "header_only.pth": raw[:200], "empty.pth": b"",
             "garbage.pth": bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8))}
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ModelError) as exc:
            AN.load_net(p)
        assert exc.value.kind == "model_invalid"
        assert name in exc.value.message
    with pytest.raises(ModelError) as exc:
        AN.load_net(tmp_path / "absent.pth")
    assert exc.value.kind == "model_invalid"


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_naming_other_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    p = tmp_path / "evil.pth"
    p.write_bytes(b"".join(pickle.dumps(v, protocol=2) for v in (
        AN._TORCH_MAGIC_NUMBER, AN._TORCH_PROTOCOL_VERSION, {"little_endian": True}, {"x": _Evil(marker)}, [])))
    with pytest.raises(ModelError) as exc:
        AN.read_state_dict(p)
    assert exc.value.kind == "model_invalid" and "system" in exc.value.message
    assert not marker.exists()


def test_wrong_shapes_raise_model_error(weights):
    sd = AN.read_state_dict(weights)
    sd["_blocks.3._depthwise_conv.weight"] = sd["_blocks.3._depthwise_conv.weight"][:, :, :3, :3]
    with pytest.raises(ModelError) as exc:
        AN.AppearanceNet(sd)
    assert exc.value.kind == "model_invalid" and "_blocks.3._depthwise_conv.weight" in exc.value.message
    sd = AN.read_state_dict(weights)
    del sd["_conv_head.weight"]
    with pytest.raises(ModelError):
        AN.AppearanceNet(sd)


def test_module_does_not_import_torch():
    code = ("import engine.extractors.visual.appearance_net as a, sys; a.load_net(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(REPO), capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr
