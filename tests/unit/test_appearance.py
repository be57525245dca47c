"""The look of the picture (engine/extractors/visual/appearance.py): fragments, frame sampling, the reading's file,
and the extractor on a real decode. The network itself is checked against its reference in test_appearance_net."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError
from engine.extractors.visual import appearance as A, appearance_net as AN

ROOT = Path(__file__).resolve().parents[2]
REALMOS = Path(os.environ.get("BYTEME_REALMOS") or ROOT.parent / "shared" / "realmos")


def test_fragments_are_native_pixels_spread_evenly_over_the_frame():
    h, w = 960, 540
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.dstack([yy % 256, xx % 256, (yy // 256) * 16 + xx // 256]).astype(np.uint8)
    out = A.fragments(img)
    assert out.shape == (A.GRID * A.PATCH_PX, A.GRID * A.PATCH_PX, 3)
    p = A.PATCH_PX
    for i, j in ((0, 0), (5, 9), (A.GRID - 1, A.GRID - 1)):
        y0 = int((h - p) * (i + 0.5) / A.GRID)
        x0 = int((w - p) * (j + 0.5) / A.GRID)
        np.testing.assert_array_equal(out[i * p:(i + 1) * p, j * p:(j + 1) * p], img[y0:y0 + p, x0:x0 + p])
    # Unscaled: neighbouring pixels inside a patch stay neighbours (no resampling).
    assert np.all(np.diff(out[:p, :p, 1].astype(int), axis=1) % 256 == 1)
    # Patches cover the frame from near the top to near the bottom.
    first_row = int(out[0, 0, 0]) + 256 * (int(out[0, 0, 2]) // 16)
    last_row = int(out[-1, 0, 0]) + 256 * (int(out[-1, 0, 2]) // 16)
    assert first_row < h * 0.1 and last_row > h * 0.9


def test_fragments_of_a_frame_smaller_than_a_patch():
    out = A.fragments(np.full((20, 10, 3), 7, np.uint8))
    assert out.shape == (A.GRID * A.PATCH_PX,) * 2 + (3,) and np.all(out == 7)


def test_sample_times_are_one_a_second_at_the_middles_of_equal_stretches():
    assert A.sample_times(8.0) == pytest.approx([0.5 + k for k in range(8)])
    assert A.sample_times(7.85) == pytest.approx([7.85 * (k + 0.5) / 8 for k in range(8)])  # the rated clips: 8
    assert A.sample_times(2.0) == pytest.approx([0.5, 1.5])
    assert A.sample_times(60.0) == pytest.approx([7.5 * k + 3.75 for k in range(A.MAX_SAMPLES)])  # capped
    assert A.sample_times(0.2) == pytest.approx([0.1])  # never none
    assert A.sample_times(0.0) == [0.0]
    assert A.sample_times(float("nan")) == [0.0]
    assert A.sample_times(8.0, n=2) == pytest.approx([2.0, 6.0])


def test_a_reading_for_another_feature_count_is_refused_in_plain_words():
    h = A.parse_head(_head())
    with pytest.raises(ModelError) as exc:
        h.predict_mos(np.zeros(5))
    assert exc.value.kind == "model_invalid" and "retrain" in exc.value.message


def _head(n=4, **over):
    d = {"format": A.HEAD_FORMAT, "scaler_mean": [0.0] * n, "scaler_scale": [1.0] * n, "coef": [0.5] * n,
         "intercept": 3.0, "target": {"lo": 1.0, "hi": 5.0}}
    d.update(over)
    return d


def test_the_reading_is_a_clamped_linear_map_of_standardised_features():
    h = A.parse_head(_head())
    assert h.predict_mos(np.zeros(4)) == pytest.approx(3.0)
    assert h.predict_mos(np.ones(4)) == pytest.approx(5.0)
    assert h.predict_mos(-np.ones(4)) == pytest.approx(1.0)
    assert h.predict_mos(np.array([1.0, 0, 0, 0])) == pytest.approx(3.5)


@pytest.mark.parametrize("bad", [{"format": "x"}, {"coef": [0.5] * 3}, {"scaler_scale": [0.0] * 4},
                                 {"coef": [float("nan")] * 4}, {"target": {}}])
def test_a_broken_reading_is_refused_in_plain_words(bad):
    with pytest.raises(ModelError, match="appearance reading"):
        A.parse_head(_head(**bad))


def test_an_unreadable_reading_file_is_a_model_error(tmp_path):
    p = tmp_path / "appearance.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not valid JSON"):
        A.load_head(p)
    with pytest.raises(ModelError, match="cannot be read"):
        A.load_head(tmp_path / "missing.json")


def test_the_shipped_reading_fits_the_network():
    h = A.load_head()
    assert h.coef.shape == (AN.FEATURE_SIZE,)
    assert json.loads(A.HEAD_PATH.read_text(encoding="utf-8"))["training"]["data"].startswith("realmos")


def test_extractor_reads_a_decoded_clip(good_clip):
    from engine.config import load_config
    from engine.pipeline import extract_features

    _, fv = extract_features(good_clip, load_config(None, use_user_file=False),
                             options={"ocr": False, A.FEATURES_OPTION: True})
    mos = fv.get("visual.appearance_mos")
    assert mos is not None and 1.0 <= mos <= 5.0
    feats = fv.events["visual.appearance_features"]
    assert len(feats) == AN.FEATURE_SIZE and all(np.isfinite(feats))
    assert np.std(feats) > 0  # the network saw a picture, not a blank
    # Without the training option the features are not kept (they would bloat every stored result).
    _, plain = extract_features(good_clip, load_config(None, use_user_file=False), options={"ocr": False})
    assert "visual.appearance_features" not in plain.events
    assert plain.get("visual.appearance_mos") == pytest.approx(mos, abs=1e-6)


@pytest.mark.skipif(not (REALMOS / "labels.csv").is_file(), reason=f"needs real rated clips at {REALMOS}")
def test_a_real_picture_reads_worse_blurred_and_worse_still_starved_of_detail():
    """On real frames (a realmos clip people rated 3.7), the shipped reading gives a blurred copy a lower MOS, and a
    heavier blur lower still: the reading follows a flaw people see, not just the content."""
    import av
    import cv2

    path = REALMOS / "konvid_10019485755.mp4"
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for i, f in zip(range(60), c.decode(video=0)) if i % 15 == 0]
    head = A.load_head()

    def read(imgs):
        return head.predict_mos(A.clip_features([A.fragments(im) for im in imgs]))

    sharp = read(frames)
    soft = read([cv2.GaussianBlur(f, (0, 0), 1.5) for f in frames])
    mush = read([cv2.GaussianBlur(f, (0, 0), 4.0) for f in frames])
    print(f"appearance MOS: as published {sharp:.2f}, blur 1.5 px {soft:.2f}, blur 4 px {mush:.2f}")
    assert sharp > soft + 0.1 > mush + 0.2
