"""Originality: near-duplicates (re-encoded, rescaled, border-cropped, trimmed copies), shared soundtracks, corner
watermarks, and an index that answers without comparing all pairs."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from engine import synth
from engine.library import analyze
from engine.config import load_config
from engine.features import FeatureVector
from engine.originality import find_matches, hamming, index_clip, overlay_summary
from engine.pipeline import extract_features
from engine.store import Store

SR = 48000
#: The copy: 5 % of each border cropped, scaled to 288x512, the first 6 frames (0.2 s) trimmed, re-encoded at a
#: low bitrate.
CROP, COPY_W, COPY_H, TRIM_FRAMES, FPS = 0.05, 288, 512, 6, 30


@pytest.fixture(scope="module")
def cfg():
    cfg = load_config(use_user_file=False)
    cfg["presets"]["tiktok"]["rewards"]["enabled"] = True  # off by default; these tests check its originality rule
    return cfg


def _copy_of(src, dst):
    """Decode ``src``, crop, rescale, trim and re-encode it (a re-upload someone made from the original)."""
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(src)) as c:
        audio = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(audio=0)]).astype(np.float32)

    def video(i, t_s):
        f = frames[i + TRIM_FRAMES]
        h, w, _ = f.shape
        cy, cx = int(h * CROP), int(w * CROP)
        return cv2.resize(f[cy:h - cy, cx:w - cx], (COPY_W, COPY_H), interpolation=cv2.INTER_AREA)

    return synth.write_clip(dst, width=COPY_W, height=COPY_H, fps=FPS, duration_s=(len(frames) - TRIM_FRAMES) / FPS,
                            video=video, audio=audio[int(TRIM_FRAMES / FPS * SR):], bitrate=300_000)


@pytest.fixture(scope="module")
def library(clips, cfg, tmp_path_factory):
    music = synth.scale_to_lufs(synth.music_like(duration_s=3.0, sr=SR, bpm=120, seed=3), sr=SR, lufs=-16.0)
    orig = clips("orig", duration_s=3.0, seed=1, shots=[(1.2, 0), (1.0, 1), (1.0, 2)], audio=music, audio_lufs=None)
    same_music = clips("same_music", duration_s=3.0, seed=7, shots=[(1.5, 0), (2.0, 1)], audio=music, audio_lufs=None)
    unrelated = clips("unrelated", duration_s=3.0, seed=9, audio="noise")
    folder = tmp_path_factory.mktemp("orig")
    copy = _copy_of(orig, folder / "reupload.mp4")
    store = Store(folder / "store.sqlite3")
    results = {}
    for name, p in (("orig", orig), ("same_music", same_music), ("unrelated", unrelated), ("copy", copy)):
        results[name] = analyze(p, cfg, store=store, options={"ocr": False})
        assert results[name].ok, results[name].error
    yield store, results
    store.close()


def test_reencoded_rescaled_cropped_copy_is_found_as_near_duplicate(library):
    store, res = library
    copy, orig = res["copy"], res["orig"]
    matches = find_matches(store, copy.content_hash)
    dups = [m for m in matches if m.kind == "near_duplicate"]
    assert [m.other_path for m in dups] == [str(orig.path)]
    assert dups[0].similarity >= 0.6
    assert 0.0 <= dups[0].time_offset_s <= 0.5  # the copy starts 0.2 s into the original
    # the copy's analysis (run after the original was indexed) names the original in its findings
    f = next(f for f in copy.findings if f.code == "originality.near_duplicate")
    assert "orig" in f.message and "near-duplicate" in f.message
    tiktok = next(c for c in copy.scores.extra["insights"]["rewards"] if c["preset"] == "tiktok")
    assert next(i for i in tiktok["items"] if i["rule"] == "original")["status"] == "fail"


def test_different_clip_with_the_same_music_is_a_soundtrack_match_only(library):
    store, res = library
    matches = find_matches(store, res["same_music"].content_hash)
    by_path = {m.other_path: m for m in matches}
    assert by_path[str(res["orig"].path)].kind == "soundtrack"
    assert abs(by_path[str(res["orig"].path)].time_offset_s) <= 0.1
    assert not any(m.kind == "near_duplicate" for m in matches)
    assert str(res["unrelated"].path) not in by_path
    assert any(f.code == "originality.soundtrack" for f in res["same_music"].findings)


def test_unrelated_clip_matches_nothing(library):
    store, res = library
    assert find_matches(store, res["unrelated"].content_hash) == []
    assert find_matches(store, res["orig"].content_hash, FeatureVector()) == []


def test_indexing_is_idempotent(library):
    store, res = library
    r = res["orig"]
    n = store.conn.execute("SELECT COUNT(*) FROM orig_clips").fetchone()[0]
    assert index_clip(store, r.content_hash, r.path, r.features) is False
    assert store.conn.execute("SELECT COUNT(*) FROM orig_clips").fetchone()[0] == n


def _logo(frame):
    f = frame.copy()
    h, w, _ = f.shape
    x0, y0 = w - 110, h - 50
    cv2.rectangle(f, (x0, y0), (x0 + 96, y0 + 30), (20, 20, 20), -1)
    cv2.putText(f, "@app", (x0 + 6, y0 + 23), cv2.FONT_HERSHEY_DUPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    return f


def test_corner_logo_is_detected(clips, cfg):
    shots = [(1.0, 0), (1.0, 1), (1.0, 2)]
    _, marked = extract_features(clips("logo", duration_s=3.0, shots=shots, transform=_logo, audio=None), cfg,
                                 options={"ocr": False})
    _, clean = extract_features(clips("no_logo", duration_s=3.0, shots=shots, audio=None), cfg, options={"ocr": False})
    s = overlay_summary(marked)
    assert s["status"] == "overlay" and s["corners"] == ["bottom_right"]
    x0, y0, x1, y1 = s["boxes"]["bottom_right"]
    assert x0 >= 0.6 and y0 >= 0.85 and x1 <= 1.0 and y1 <= 1.0  # the logo sits at x 250-346, y 590-620 of 360x640
    assert overlay_summary(clean)["status"] == "clear"


def test_static_shot_corners_are_not_judged(clips, cfg):
    frame = synth.textured_scene(width=360, height=640, t_s=0.0, seed=4)
    _, fv = extract_features(clips("still", duration_s=2.5, video=lambda i, t: frame, audio=None), cfg,
                             options={"ocr": False})
    assert overlay_summary(fv)["status"] == "unknown"


def _synthetic_index(store, n_clips: int, frames: int, seed: int):
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**63, size=(n_clips, frames), dtype=np.int64).astype(np.uint64) * np.uint64(2) + \
        rng.integers(0, 2, size=(n_clips, frames), dtype=np.int64).astype(np.uint64)
    for k in range(n_clips):
        fv = FeatureVector()
        fv.events["hash.frames"] = {"step_s": 0.4, "t": [0.4 * i for i in range(frames)],
                                    "phash": [f"{int(h):016x}" for h in hashes[k]]}
        index_clip(store, f"c{k}", f"clip{k}.mp4", fv)
    return hashes, rng


def test_index_finds_a_planted_near_duplicate_among_many(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    hashes, rng = _synthetic_index(store, 1500, 20, seed=1)
    target = 777
    noisy = []
    for h in hashes[target]:
        flips = rng.choice(64, size=8, replace=False)  # 8 of 64 bits differ: a re-encoded, rescaled frame
        noisy.append(int(h) ^ sum(1 << int(b) for b in flips))
    q = FeatureVector()
    q.events["hash.frames"] = {"step_s": 0.4, "t": [0.4 * i for i in range(20)], "phash": [f"{h:016x}" for h in noisy]}
    assert int(hamming(np.array(noisy, np.uint64), hashes[target]).diagonal().max()) == 8
    matches = find_matches(store, "query", q)
    assert [m.other_path for m in matches] == [f"clip{target}.mp4"]
    assert matches[0].kind == "near_duplicate" and matches[0].similarity == 1.0
    store.close()
