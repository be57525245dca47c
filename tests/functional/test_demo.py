"""engine.demo: the demo folder holds the clips DEMO_CLIPS promises, each with the flaw it claims, deterministically."""
from __future__ import annotations

import copy

import av
import cv2
import numpy as np
import pytest

from engine import demo, synth

#: The demo is built small here (the real one is 540x960) so the test stays quick on 2 cores.
W, H = 180, 320


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    paths = demo.make_demo_folder(folder, seed=0, width=W, height=H)
    return folder, paths


def _read(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        size = (v.width, v.height)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]
    return size, frames, audio


def _by_name(paths):
    return {p.stem[:2]: p for p in paths}


def test_folder_has_every_clip_and_caption(demo_folder):
    folder, paths = demo_folder
    assert [p.stem for p in paths] == [c.name for c in demo.DEMO_CLIPS]
    for clip, path in zip(demo.DEMO_CLIPS, paths):
        size, frames, audio = _read(path)
        assert size == (W, H)
        assert len(frames) == int(demo.DEMO_S * demo.DEMO_FPS)
        assert len(audio) / demo.DEMO_SR == pytest.approx(demo.DEMO_S, abs=0.05)
        assert (folder / f"{clip.name}.txt").read_text(encoding="utf-8").strip() == clip.caption


def test_each_flaw_is_measurable(demo_folder):
    _, paths = demo_folder
    clips = {k: _read(p) for k, p in _by_name(paths).items()}

    def sharpness(k):
        gray = cv2.cvtColor(clips[k][1][45], cv2.COLOR_RGB2GRAY)
        return cv2.Laplacian(gray, cv2.CV_64F).var()

    def luma(k):
        return float(np.mean([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).mean() for f in clips[k][1][::15]]))

    def lufs(k):
        return synth.measure_lufs(clips[k][2], sr=demo.DEMO_SR)

    assert sharpness("02") < 0.2 * sharpness("01")
    assert luma("03") < 40 < luma("01")
    assert lufs("01") == pytest.approx(demo.GOOD_LOUDNESS_LUFS, abs=1.0)
    assert lufs("04") == pytest.approx(demo.QUIET_LOUDNESS_LUFS, abs=1.0)
    assert lufs("05") > -10
    assert np.mean(np.abs(clips["05"][2]) > 0.98) > 0.001, "hard clipping at full scale"
    # No hook: the first 2 s are one still frame over silence.
    frames = clips["06"][1]
    motion = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames[:-1], frames[1:])]
    assert max(motion[:59]) < 0.25 * np.median(motion[61:]), "only coding noise while still"
    assert np.sqrt(np.mean(clips["06"][2][: int(1.9 * demo.DEMO_SR)] ** 2)) < 1e-3
    caption = demo.DEMO_CLIPS[5].caption.split()
    assert all(w.startswith("#") for w in caption) and len(caption) >= 15
    # Letterbox: black bars above and below a 16:9 picture.
    frame = clips["07"][1][30]
    bar = (H - round(W * 9 / 16)) // 2
    assert frame[: bar - 4].max() < 20 and frame[-(bar - 4):].max() < 20
    assert frame[H // 2].mean() > 40


def test_demo_is_deterministic_and_keeps_existing_files(demo_folder, tmp_path):
    folder, paths = demo_folder
    mtimes = [p.stat().st_mtime_ns for p in paths]
    again = demo.make_demo_folder(folder, seed=0, width=W, height=H)
    assert again == paths and [p.stat().st_mtime_ns for p in again] == mtimes
    # The same seed rebuilds the same picture and sound (one clip is enough to show it).
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    first = paths[3]
    for p in paths:
        if p != first:
            (fresh / p.name).write_bytes(b"")  # existing files are kept, so only the 4th clip is rebuilt
    demo.make_demo_folder(fresh, seed=0, width=W, height=H)
    a, b = _read(first), _read(fresh / first.name)
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1])) and np.array_equal(a[2], b[2])


def test_main_writes_into_the_given_folder(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(demo, "make_demo_folder", lambda folder, **kw: calls.append((folder, kw)) or [])
    assert demo.main([str(tmp_path / "d"), "--small", "--seed", "3"]) == 0
    assert calls[0][0] == tmp_path / "d" and calls[0][1]["seed"] == 3 and calls[0][1]["width"] == 360
    assert "01_good_three_tips" in capsys.readouterr().out


#: The scored demo is built at the --small size; the preset's target size is set to it, so "meets the preset" holds
#: as it does for the full-size demo against 1080x1920 (building and scoring that takes minutes on 2 cores).
SCORED_W, SCORED_H = 360, 640
#: Each flawed clip and the finding code(s) its flaw must show up as, first among its own findings.
FLAW_CODES = {
    "02": {"visual.blurry", "visual.upscaled"},
    "03": {"visual.too_dark", "visual.low_contrast"},
    "04": {"audio.too_quiet"},
    "05": {"audio.clipping"},
    "06": {"visual.frozen", "audio.dead_air", "audio.silent_start"},
    "07": {"visual.letterboxed"},
}
#: The modality each flaw lives in: the flawed clip scores lower there than the clean clip.
FLAW_MODALITY = {"02": "visual", "03": "visual", "04": "audio", "05": "audio", "06": "audio", "07": "visual"}


@pytest.fixture(scope="module")
def scored_demo(tmp_path_factory):
    from engine.config import load_config
    from engine.library import analyze

    cfg = load_config(use_user_file=False)
    cfg["presets"][cfg["platform"]["preset"]].update(target_width=SCORED_W, target_height=SCORED_H)
    folder = tmp_path_factory.mktemp("demo_scored")
    paths = demo.make_demo_folder(folder, seed=0, width=SCORED_W, height=SCORED_H)
    return {p.stem[:2]: analyze(p, cfg, use_cache=False, options={"ocr": False}) for p in paths}


def test_the_clean_demo_clip_is_clearly_best_and_no_flawed_clip_reaches_gold(scored_demo):
    from engine.folder import shared_findings, top_fix

    results = scored_demo
    assert all(r.ok for r in results.values()), {k: r.error for k, r in results.items() if not r.ok}
    good = results["01"]
    tiers = ("unranked", "bronze", "silver", "gold", "platinum")
    assert tiers.index(good.scores.tier) >= tiers.index("gold"), (good.scores.overall, good.scores.tier)
    assert not [f.message for f in good.findings if f.severity == "high"]
    assert not any(f.code == "visual.banding" for f in good.findings)  # flat graphics are not banding
    shared = shared_findings(results.values())
    for key, r in results.items():
        if key == "01":
            continue
        s = r.scores
        assert s.overall <= good.scores.overall - 5, (key, s.overall, good.scores.overall)  # clearly below
        assert tiers.index(s.tier) <= tiers.index("silver"), (key, s.overall, s.tier)
        m = FLAW_MODALITY[key]
        assert s.modalities[m] < good.scores.modalities[m] - 10, (key, m, s.modalities[m], good.scores.modalities[m])
        top = top_fix(r, shared)
        assert top is not None and top.code in FLAW_CODES[key], (key, top and top.message)


def test_a_high_severity_flaw_holds_the_tier_at_silver_and_says_so():
    from engine.config import load_config
    from engine.feedback import Finding, cap_tier
    from engine.scorer import Scores

    cfg = load_config(use_user_file=False)

    def scores(overall, tier):
        return Scores(overall, {"visual": 50.0, "audio": 99.0, "text": 90.0}, {}, tier, "other", 0.0, "t@1")

    blur = Finding("visual", "high", "visual.blurry", "Sharpness is 0.18; target at least 0.60. Clean the lens.",
                   0.18, 0.6, None, None, "test", 9.0)
    minor = Finding("visual", "low", "visual.noisy", "Noise is 3.2.", 3.2, 3.0, None, None, "test", 0.5)
    s = scores(75.0, "gold")
    note = cap_tier(s, [blur, minor], cfg)
    assert s.tier == "silver" and note.code == "tier.capped" and note.severity == "info"
    assert "75.0 reaches gold" in note.message and "Sharpness is 0.18; target at least 0.60" in note.message
    s = scores(75.0, "gold")
    assert cap_tier(s, [minor], cfg) is None and s.tier == "gold"  # no clear flaw: the tier stands
    s = scores(50.0, "bronze")
    assert cap_tier(s, [blur], cfg) is None and s.tier == "bronze"  # already at or below the cap
    cfg_off = {**cfg, "tier_caps": {"high_finding": ""}}
    s = scores(75.0, "gold")
    assert cap_tier(s, [blur], cfg_off) is None and s.tier == "gold"
    # the picture MOS's target says opinion = true: an opinion of the whole picture lowers the score, never
    # holds the tier; the same finding under a target that is no opinion would
    opinion = Finding("visual", "high", cfg["targets"]["visual.picture_mos"]["code"], "Picture as people would rate it "
                      "is 2.10 of 5.", 2.1, 3.5, None, None, "test", 9.0)
    s = scores(75.0, "gold")
    assert cap_tier(s, [opinion, minor], cfg) is None and s.tier == "gold"
    cfg_caps = copy.deepcopy(cfg)
    cfg_caps["targets"]["visual.picture_mos"]["opinion"] = False
    assert cap_tier(s, [opinion, minor], cfg_caps) is not None and s.tier == "silver"
