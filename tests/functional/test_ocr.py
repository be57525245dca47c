"""On-screen text: RapidOCR finds text rendered into a generated clip at known times and places, lines are merged
across frames, the bottom unsafe zone is flagged; frame choice and bookkeeping are checked without OCR."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import synth
from engine.config import load_config
from engine.extractors import ClipContext
from engine.extractors.text import ocr
from engine.extractors.text.ocr import OnScreenText
from engine.extractors.text.sources import TextSources, TextSummary
from engine.features import FeatureVector
from engine.media import decode, probe
from engine.pipeline import evaluate

W, H, FPS, DUR = 360, 640, 15, 3.0
#: (start_s, end_s, text, x_px or None for centred, top y_px, cap height px)
TEXTS = ((0.4, 2.0, "PASTA NIGHT", None, int(H * 0.15), 26),
         (1.2, 3.0, "FOLLOW FOR MORE", 30, int(H * 0.88), 22))
#: A line is first read at most this long after it appears: one OCR frame gap plus one scan step, plus the scan that
#: confirms the change (``ocr.SETTLE_TEXT``).
LAG_S = 1 / ocr.DEFAULTS["ocr_max_fps"] + (2 if ocr.SETTLE_TEXT else 1) / ocr.DEFAULTS["ocr_scan_fps"] + 0.05


def _video(i, t):
    frame = synth.textured_scene(width=W, height=H, t_s=t, seed=7, scene=0)
    for start, end, words, x, y, h in TEXTS:
        if start <= t < end:
            frame = synth.render_text(frame, words, x=x, y=y, height_px=h)
    return frame


@pytest.fixture(scope="module")
def ocr_clip(clips):
    pytest.importorskip("rapidocr_onnxruntime")
    path = clips("ocr_text", width=W, height=H, fps=FPS, duration_s=DUR, video=_video, audio=None)
    (path.parent / (path.stem + ".txt")).write_text("Pasta night in 3 steps? Follow for more #pasta #cooking #dinner")
    return path


def _read_text(path, cfg=None):
    """(features, result) of the text extractors alone on ``path``."""
    cfg = cfg or load_config(use_user_file=False)
    info = probe(path)
    ctx = ClipContext(path=path, info=info, config=cfg, options={})
    extractors = [TextSources(), OnScreenText(), TextSummary()]
    for e in extractors:
        e.begin(ctx)
    decode(path, info, on_frame=lambda f: extractors[1].on_frame(f, ctx))
    fv = FeatureVector()
    for e in extractors:
        e.finish(ctx, fv)
    return fv, evaluate(str(path), info, fv, cfg)


@pytest.fixture(scope="module")
def ocr_run(ocr_clip):
    return _read_text(ocr_clip)


def _line(fv, needle):
    hits = [ln for ln in fv.text["ocr"] if needle in ln[1].upper().replace(" ", "")]
    assert hits, fv.text["ocr"]
    return hits[0]


def test_ocr_finds_text_at_known_times_and_places(ocr_run):
    fv, _ = ocr_run
    for (start, end, words, x, y, h), needle in zip(TEXTS, ("PASTANIGHT", "FOLLOWFORMORE")):
        t0, text, box, t1 = _line(fv, needle)
        assert start - 0.05 <= t0 <= start + LAG_S, (words, t0)
        assert end - 0.05 <= t1 <= min(DUR, end + LAG_S), (words, t1)
        # box in displayed-frame fractions: top edge at y, height about the cap height (+ descender, padding)
        assert box[1] == pytest.approx(y / H, abs=0.02)
        assert 0.5 * h / H <= box[3] - box[1] <= 2.0 * h / H
        if x is None:
            assert (box[0] + box[2]) / 2 == pytest.approx(0.5, abs=0.05)
        else:
            assert box[0] == pytest.approx(x / W, abs=0.03)
    # each line is one entry, not one per frame read
    assert len(fv.text["ocr"]) == 2
    assert fv.values["text.onscreen_text_pct"] == pytest.approx(100 * (3.0 - 0.4) / 3.0, abs=100 * LAG_S / 3.0)


def test_text_in_the_bottom_unsafe_zone_is_flagged(ocr_run):
    fv, result = ocr_run
    unsafe = fv.events["text.unsafe_text"]
    assert [u["zone"] for u in unsafe] == ["bottom"]
    assert "FOLLOW" in unsafe[0]["text"].upper()
    # line-seconds: the bottom line's share of all text time (about 1.8 of 3.4 s)
    assert fv.values["text.unsafe_zone_text_pct"] == pytest.approx(100 * 1.8 / 3.4, abs=15)
    f = next(f for f in result.findings if f.code == "text.text_in_unsafe_zone")
    assert f.start_s is not None and f.start_s >= 1.0
    assert fv.values["text.onscreen_reading_wps"] < 3.0  # 2-3 words for 1.5 s or more: readable


class _SlowClock:
    """OCR as on a loaded machine: every frame read takes SECONDS_PER_FRAME of (the OCR module's) wall clock.
    A real short sleep too, so the work really is slower."""

    SECONDS_PER_FRAME = 5.0

    def __init__(self, engine):
        self.engine = engine
        self.now = 1000.0
        self.calls = 0

    def monotonic(self) -> float:
        return self.now

    def __call__(self, img, **kwargs):
        import time

        time.sleep(0.02)
        self.now += self.SECONDS_PER_FRAME
        self.calls += 1
        return self.engine(img, **kwargs)


def test_a_slow_machine_reads_the_same_frames_and_scores_the_same(ocr_clip, monkeypatch):
    """The score is a function of the file and the config: OCR that takes 5 s a frame (a busy machine; the former
    8 s wall-clock budget read 1-2 frames) reads the same frames, finds the same lines, gives the same scores."""
    fv_fast, res_fast = _read_text(ocr_clip)
    real = ocr.get_engine(1, ocr.DEFAULTS["ocr_long_side_px"])
    slow = _SlowClock(real)
    monkeypatch.setattr(ocr, "get_engine", lambda *a, **k: slow)
    monkeypatch.setattr(ocr, "time", slow)  # the OCR module's clock only
    fv_slow, res_slow = _read_text(ocr_clip)
    n = len(fv_fast.text["ocr_frames_s"])
    assert n >= 3 and slow.calls == n  # every chosen frame was read, however long each took
    assert fv_slow.text["ocr_frames_s"] == fv_fast.text["ocr_frames_s"]
    assert fv_slow.text["ocr"] == fv_fast.text["ocr"]
    assert res_slow.scores == res_fast.scores
    assert {k: v for k, v in fv_slow.values.items() if k.startswith("text.")} == \
        {k: v for k, v in fv_fast.values.items() if k.startswith("text.")}
    assert not any(f.code == "text.ocr_frame_limit" for f in res_slow.findings)


def test_the_frame_limit_is_work_not_time_and_is_said(ocr_clip):
    """``ocr_read_frames`` caps the frames read: an even sample (first, last, middle), the same every run, and an
    info finding says how many of how many were read."""
    cfg = load_config(use_user_file=False)
    cfg["text"]["ocr_read_frames"] = 2
    full, _ = _read_text(ocr_clip)
    runs = [_read_text(ocr_clip, cfg) for _ in range(2)]
    chosen = full.text["ocr_frames_s"]
    assert len(chosen) >= 3
    for fv, res in runs:
        assert fv.text["ocr_frames_s"] == [chosen[0], chosen[-1]]
        f = next(f for f in res.findings if f.code == "text.ocr_frame_limit")
        assert f.value == 2 and f.target == len(chosen)
        assert f"2 of {len(chosen)}" in f.message
    assert runs[0][1].scores == runs[1][1].scores


def test_no_ocr_option_is_noted(good_clip):
    cfg = load_config(use_user_file=False)
    info = probe(good_clip)
    ctx = ClipContext(path=good_clip, info=info, config=cfg, options={"ocr": False})
    e = OnScreenText()
    e.begin(ctx)
    fv = FeatureVector()
    e.finish(ctx, fv)
    assert "--no-ocr" in fv.text["ocr_status"]
    assert "text.onscreen_text_pct" not in fv.values


# --- bookkeeping without OCR ------------------------------------------------------------------------------------


def test_text_mask_sees_rendered_text_and_its_change():
    gray = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # noqa: E731  (BT.601 luma, as the decoder's)
    plain = synth.textured_scene(width=W, height=H, t_s=0.0, seed=7, scene=0)
    panned = synth.textured_scene(width=W, height=H, t_s=0.2, seed=7, scene=0)
    texted = synth.render_text(plain, "PASTA NIGHT", x=None, y=96, height_px=26)
    m0, m_pan, m1 = (ocr.text_mask(gray(f)) for f in (plain, panned, texted))
    rows = np.unique(np.nonzero(m1 & ~m0)[0])
    cell = ocr.CELL_PX * 2  # cells are CELL_PX at half the analysis size
    assert rows.size and rows.min() * cell <= 96 + 26 and (rows.max() + 1) * cell >= 96
    assert ocr.mask_changed(m1, m0)  # text appeared: OCR this frame
    assert not ocr.mask_changed(m_pan, m0)  # the camera panned over texture: no reason to read again


def test_coverage_order_spreads_a_budget_cut():
    order = ocr.coverage_order(9)
    assert sorted(order) == list(range(9))
    assert order[:3] == [0, 8, 4]
    assert set(order[:5]) == {0, 2, 4, 6, 8}
    assert ocr.coverage_order(0) == [] and ocr.coverage_order(1) == [0]


def test_build_lines_merges_repeats_and_tracks_ends():
    a = {"text": "Three tips", "box": [0.1, 0.1, 0.9, 0.15], "confidence": 0.9}
    a_jitter = {"text": "Three tipz", "box": [0.11, 0.1, 0.9, 0.15], "confidence": 0.95}
    b = {"text": "Follow", "box": [0.3, 0.85, 0.7, 0.9], "confidence": 0.8}
    lines = ocr.build_lines([(0.0, [a]), (1.0, [a_jitter, b]), (2.0, [b]), (3.0, [])], end_s=4.0)
    assert [(ln["start_s"], ln["end_s"], ln["text"]) for ln in lines] == [(0.0, 2.0, "Three tipz"), (1.0, 3.0, "Follow")]
    rates = ocr.screen_rates(lines)
    assert [round(r["wps"], 2) for r in rates] == [1.0, 0.5]
    # a screen still up when the clip ends was cut by the end, not by an edit: no reading speed from it
    assert [r["start_s"] for r in ocr.screen_rates(lines, end_s=3.0)] == [0.0]
    # stylised text read differently in each frame, at the same place, stays one line
    s1 = {"text": "Basketball life", "box": [0.2, 0.14, 0.5, 0.17], "confidence": 0.7}
    s2 = {"text": "Basketbalisife@'s", "box": [0.2, 0.14, 0.51, 0.17], "confidence": 0.6}
    assert len(ocr.build_lines([(0.0, [s1]), (1.0, [s2])], end_s=2.0)) == 1


def test_unsafe_zones_follow_the_preset():
    tiktok = load_config(use_user_file=False, preset="tiktok")
    zones = dict(ocr.unsafe_zones(ocr.active_preset(tiktok)))
    assert zones["bottom"][1] == pytest.approx(1 - tiktok["presets"]["tiktok"]["unsafe_bottom_pct"] / 100)
    assert ocr.zone_of([0.1, 0.9, 0.6, 0.95], list(zones.items())) == "bottom"
    assert ocr.zone_of([0.9, 0.5, 0.99, 0.55], list(zones.items())) == "right"
    assert ocr.zone_of([0.1, 0.4, 0.8, 0.45], list(zones.items())) is None
    assert ocr.zone_of([0.9, 0.1, 0.99, 0.15], list(zones.items())) is None  # above the action rail


# --- fewer, better-chosen frames (issue 21) ------------------------------------------------------------------------


class _Frame:
    """A stand-in decoded frame: the analysis-size luma only (``_ocr_image`` falls back to it)."""

    def __init__(self, t_s, gray):
        self.t_s, self.gray, self.full_gray = t_s, gray, gray


def _chosen(frames, settle):
    cfg = load_config(use_user_file=False)
    ctx = ClipContext(path=None, info=type("I", (), {"has_video": True, "duration_s": 5.0})(), config=cfg, options={})
    e = OnScreenText()
    e.begin(ctx)
    e.active, e.settle = True, settle  # frame choice only: no OCR engine needed
    e.early_off = True  # and no reading while "decoding"
    for f in frames:
        e.on_frame(f, ctx)
    return [(round(k.t_s, 2), k.reason) for k in e.candidates]


def test_changed_text_is_read_once_it_has_settled():
    """A changed text mask is read at the scan that confirms it (two scans running), so a word-like blip that lasts
    one scan is not read, and a caption is read once, complete; without ``settle`` the blip is read."""
    gray = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    flat = np.full((H, W, 3), 90, np.uint8)
    blip = gray(synth.render_text(flat, "SALE NOW", x=None, y=400, height_px=24))
    caption = gray(synth.render_text(flat, "PASTA NIGHT", x=None, y=96, height_px=26))
    step = 1 / ocr.DEFAULTS["ocr_scan_fps"]

    def picture(t):
        if 1.0 - 1e-6 <= t < 1.0 + step - 1e-6:
            return blip  # one scan only
        if 2.0 - 1e-6 <= t < 4.0 - 1e-6:
            return caption
        return gray(flat)

    frames = [_Frame(k * step, picture(k * step)) for k in range(int(5.0 / step))]
    assert _chosen(frames, settle=True) == [(0.0, "first"), (2.2, "text changed"), (4.2, "text changed")]
    unsettled = _chosen(frames, settle=False)  # the blip, its disappearance, the caption's start, its end
    assert (1.0, "text changed") in unsettled and len(unsettled) == 5


def _static_video(i, t):
    frame = np.full((H, W, 3), 70, np.uint8)
    return synth.render_text(frame, "PASTA NIGHT", x=None, y=96, height_px=26)


def test_the_same_picture_is_not_read_twice_and_reads_the_same(clips, monkeypatch):
    """A still picture with a caption: the refresh frames show the same picture, so their reading is the first
    one's (no OCR call); lines, frames and metrics are what reading every frame gives."""
    pytest.importorskip("rapidocr_onnxruntime")
    path = clips("ocr_still", width=W, height=H, fps=FPS, duration_s=7.0, video=_static_video, audio=None)
    fv_now, res_now = _read_text(path)
    work = fv_now.events["text.ocr_work"]
    assert work["frames"] == len(fv_now.text["ocr_frames_s"]) >= 3  # first, then a refresh every 3 s
    assert work["same_picture"] == work["frames"] - 1 and work["detected"] == 1
    monkeypatch.setattr(ocr, "REUSE_READINGS", False)
    fv_all, res_all = _read_text(path)
    assert fv_all.events["text.ocr_work"]["detected"] == work["frames"]
    assert fv_now.text["ocr"] == fv_all.text["ocr"] and fv_now.text["ocr_frames_s"] == fv_all.text["ocr_frames_s"]
    assert "PASTANIGHT" in fv_now.text["ocr"][0][1].upper().replace(" ", "")
    assert {k: v for k, v in fv_now.values.items() if k.startswith("text.")} == \
        {k: v for k, v in fv_all.values.items() if k.startswith("text.")}
    assert res_now.scores == res_all.scores


def test_same_pixels_tolerates_codec_noise_not_a_changed_word():
    rng = np.random.default_rng(0)
    flat = np.full((64, 256, 3), 70, np.uint8)
    a = cv2.cvtColor(synth.render_text(flat, "PASTA", x=10, y=10, height_px=26), cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(synth.render_text(flat, "PASTE", x=10, y=10, height_px=26), cv2.COLOR_RGB2GRAY)
    noisy = np.clip(a.astype(int) + rng.integers(-ocr.SAME_PIXEL_LEVELS, ocr.SAME_PIXEL_LEVELS + 1, a.shape),
                    0, 255).astype(np.uint8)
    assert ocr.same_pixels(a, noisy)
    assert not ocr.same_pixels(a, b)
    assert not ocr.same_pixels(a, a[:, :-1]) and not ocr.same_pixels(None, a)


#: A real clip with a still caption over a moving picture, where text boxes repeat pixel for pixel (measured with
#: scripts/ocr_tolerance.py: 32 of 67 boxes reused); skipped when ../shared/realclips is absent.
REUSE_CLIP = Path(__file__).resolve().parents[2].parent / "shared" / "realclips" / "421c8b59e121d32a1a0efe90be07d612.mp4"


@pytest.mark.skipif(not REUSE_CLIP.exists(), reason="../shared/realclips is not here")
def test_reusing_readings_keeps_every_ocr_metric_on_a_real_clip(monkeypatch):
    """Tolerance of REUSE_READINGS (docs/BENCHMARKS.md): the OCR metrics are identical with and without it."""
    pytest.importorskip("rapidocr_onnxruntime")
    cfg = load_config(use_user_file=False)
    info = probe(REUSE_CLIP)
    ctx = ClipContext(path=REUSE_CLIP, info=info, config=cfg, options={})
    pair = [OnScreenText(), OnScreenText()]
    for e in pair:
        e.begin(ctx)
    decode(REUSE_CLIP, info, on_frame=lambda f: [e.on_frame(f, ctx) for e in pair])
    out = []
    for e, reuse in zip(pair, (False, True)):
        monkeypatch.setattr(ocr, "REUSE_READINGS", reuse)
        fv = FeatureVector()
        e.finish(ctx, fv)
        out.append(fv)
    full, now = out
    assert now.events["text.ocr_work"]["boxes_reused"] > 0
    assert now.text["ocr_frames_s"] == full.text["ocr_frames_s"]
    keys = ("text.onscreen_text_pct", "text.onscreen_reading_wps", "text.unsafe_zone_text_pct")
    assert {k: now.values.get(k) for k in keys} == {k: full.values.get(k) for k in keys}
    assert [ln[0] for ln in now.text["ocr"]] == [ln[0] for ln in full.text["ocr"]]  # the same lines, same starts


def test_a_rapidocr_with_other_steps_is_read_whole():
    """RapidOCR is pinned (Makefile), but a version whose steps take other arguments must not fail the clip: the
    reader falls back to the whole call, with the same answer."""
    answer = [[[[0, 0], [10, 0], [10, 5], [0, 5]], "PASTA", 0.9]]

    class OtherVersion:
        calls = 0

        def __getattr__(self, name):
            if name in ocr._Reader._STEPS:
                def step(*args, **kwargs):
                    raise TypeError(f"{name}() takes other arguments")
                return step
            raise AttributeError(name)

        def __call__(self, img, **kwargs):
            OtherVersion.calls += 1
            return answer, [0.1]

    reader = ocr._Reader(OtherVersion())
    img = np.zeros((64, 36), np.uint8)
    assert reader.read(img) == answer and not reader.steps
    assert reader.read(img) == answer  # the same picture: the last reading, no call
    assert OtherVersion.calls == 1 and reader.work["same_picture"] == 1


def _read_paced(path, cfg, catch_up_until_s, hide_duration=False):
    """The OCR extractor alone on ``path``; after each decoded frame before ``catch_up_until_s`` the reading thread
    is given time to read every frame kept so far, and from then on it is given no new frame (so what it reads
    during the decode is set by the test, not by the machine's speed). ``hide_duration``: the extractor does not
    know the clip's duration while it decodes (so it cannot project how many frames it will keep). Returns the
    features and the thread's readings (``{frame index: reading}``, before finish() used or dropped them)."""
    import copy

    info = probe(path)
    ctx = ClipContext(path=path, info=copy.copy(info), config=cfg, options={})
    if hide_duration:
        ctx.info.duration_s = 0.0
    e = OnScreenText()
    e.begin(ctx)

    def on_frame(f):
        e.early_off = e.early_off or f.t_s >= catch_up_until_s
        e.on_frame(f, ctx)
        early = e._early
        give_up = 600  # x 0.05 s: a stuck thread fails the count assertions below instead of hanging the suite
        while f.t_s < catch_up_until_s and early is not None and len(early.raws) < early.allowed and give_up:
            import time

            time.sleep(0.05)
            give_up -= 1

    decode(path, info, on_frame=on_frame)
    early = dict(e._early.raws) if e._early is not None else {}
    ctx.info.duration_s = info.duration_s
    fv = FeatureVector()
    e.finish(ctx, fv)
    return fv, early


def test_reading_during_the_decode_reads_what_reading_after_it_reads(ocr_clip, monkeypatch):
    """READ_DURING_DECODE: however far the reading thread got while the clip decoded (nothing, half the clip, all
    of it), the frames read, the lines, the OCR work and every metric are those of reading everything in finish()."""
    pytest.importorskip("rapidocr_onnxruntime")
    cfg = load_config(use_user_file=False)
    monkeypatch.setattr(ocr, "READ_DURING_DECODE", False)
    after, _ = _read_paced(ocr_clip, cfg, 0.0)
    assert after.events["text.ocr_read_during_decode"] == 0
    monkeypatch.setattr(ocr, "READ_DURING_DECODE", True)
    n = len(after.text["ocr_frames_s"])
    for until_s, early_read in ((0.0, None), (DUR / 2, "some"), (DUR + 1, n)):
        fv, _ = _read_paced(ocr_clip, cfg, until_s)
        assert fv.text["ocr"] == after.text["ocr"] and fv.text["ocr_frames_s"] == after.text["ocr_frames_s"]
        assert fv.events["text.ocr_work"] == after.events["text.ocr_work"]
        assert {k: v for k, v in fv.values.items() if k.startswith("text.")} == \
            {k: v for k, v in after.values.items() if k.startswith("text.")}
        got = fv.events["text.ocr_read_during_decode"]
        if early_read == "some":
            assert 0 < got < n
        elif early_read is not None:
            assert got == n


def test_early_readings_are_dropped_when_a_sample_is_read(ocr_clip, monkeypatch):
    """More frames kept than ``ocr_read_frames``: finish() reads its even sample afresh (what was read during the
    decode, in another order, is not used), the same as reading only in finish()."""
    pytest.importorskip("rapidocr_onnxruntime")
    cfg = load_config(use_user_file=False)
    cfg["text"]["ocr_read_frames"] = 2
    monkeypatch.setattr(ocr, "READ_DURING_DECODE", False)
    after, _ = _read_paced(ocr_clip, cfg, 0.0)
    monkeypatch.setattr(ocr, "READ_DURING_DECODE", True)
    fv, early = _read_paced(ocr_clip, cfg, DUR + 1, hide_duration=True)  # read until more than 2 were kept
    assert sorted(early) == [0, 1]  # the first two kept frames were read during the decode ...
    assert len(after.text["ocr_frames_s"]) == 2 and fv.events["text.ocr_read_during_decode"] == 0  # ... and dropped
    assert fv.text["ocr"] == after.text["ocr"] and fv.text["ocr_frames_s"] == after.text["ocr_frames_s"]
    assert fv.events["text.ocr_work"] == after.events["text.ocr_work"]


def test_the_detector_runs_again_only_where_text_may_be_new():
    """DETECT_NEW_TEXT_ONLY: a frame kept for a changed mask is read in the last detection's boxes when the mask
    changed only inside them; a change outside them, another reason to keep the frame, or ``ocr_refresh_s`` since
    the last detection, and the detector runs."""
    gray_shape = (640, 360)
    grid = (math.ceil(gray_shape[0] / 2 / ocr.CELL_PX), math.ceil(gray_shape[1] / 2 / ocr.CELL_PX))
    cell_px = 2 * ocr.CELL_PX  # a mask cell in the 360x640 image's pixels
    base = np.zeros(grid, bool)
    base[3, 2:6] = True  # a caption's cells
    box = np.array([[2 * cell_px, 3 * cell_px], [6 * cell_px, 3 * cell_px], [6 * cell_px, 4 * cell_px],
                    [2 * cell_px, 4 * cell_px]], np.float32)
    reader = ocr._Reader(engine=None, reuse=True, refresh_s=3.0)
    reader.new_text_only = True
    img = np.zeros(gray_shape, np.uint8)
    reader.last_det = (ocr.KeptFrame(1.0, "first", base.copy(), gray_shape), img.shape, [box])

    def hint(t_s, mask, reason="text changed"):
        return ocr.KeptFrame(t_s, reason, mask, gray_shape)

    inside = base.copy()
    inside[3, 4] = False  # part of the caption changed
    outside = base.copy()
    outside[15, 3] = True  # a word-like cluster lower down
    vanished = np.zeros(grid, bool)
    vanished[15, 3] = True
    reader.last_det[0].mask[15, 3] = True  # ... that was there at the detection and went away
    assert reader._boxes_still_hold(img, hint(1.5, inside | vanished))
    assert reader._boxes_still_hold(img, hint(1.5, base | vanished))
    assert not reader._boxes_still_hold(img, hint(1.5, base))  # the cell outside the box changed (vanished)
    reader.last_det[0].mask[15, 3] = False
    assert not reader._boxes_still_hold(img, hint(1.5, outside))  # appeared outside the box
    assert not reader._boxes_still_hold(img, hint(1.5, inside, reason="cut"))
    assert not reader._boxes_still_hold(img, hint(1.5, inside, reason="refresh"))
    assert not reader._boxes_still_hold(img, hint(4.0, inside))  # ocr_refresh_s since the last detection
    assert not reader._boxes_still_hold(img, None)
    reader.new_text_only = False
    assert not reader._boxes_still_hold(img, hint(1.5, inside))


def _ocr_threads_alive() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "byteme-ocr" and t.is_alive()]


@pytest.mark.parametrize("how", ["cancelled", "abandoned"])
def test_no_reading_thread_outlives_a_clip_that_ends_before_finish(ocr_clip, monkeypatch, how):
    """A clip cancelled during the decode, or whose decode failed (finish() never runs): the reading thread ends by
    itself (at the cancel, or after READER_IDLE_EXIT_S with nothing to read) and nothing of it is left."""
    import threading
    import time

    pytest.importorskip("rapidocr_onnxruntime")
    monkeypatch.setattr(ocr, "READER_IDLE_EXIT_S", 0.5)
    cfg = load_config(use_user_file=False)
    cancel = threading.Event()
    info = probe(ocr_clip)
    ctx = ClipContext(path=ocr_clip, info=info, config=cfg, options={}, cancel=cancel)
    e = OnScreenText()
    e.begin(ctx)
    decode(ocr_clip, info, on_frame=lambda f: e.on_frame(f, ctx))
    assert e._early is not None and e._early.allowed > 0  # the thread was given frames to read
    if how == "cancelled":
        cancel.set()
    threads = [e._early.thread] if e._early.thread is not None else []
    for t in threads:
        t.join(60)  # a hang guard: a thread still alive after this fails the assertion below
    end = time.monotonic() + 60
    while _ocr_threads_alive() and time.monotonic() < end:
        time.sleep(0.05)
    assert _ocr_threads_alive() == []


def test_a_short_lived_line_does_not_set_the_pace_for_words_that_stay():
    """Reading rate by deadlines: six words up 8 s beside a one-word stray reading of 0.8 s need 1.25 words/s
    (the stray word in its 0.8 s), not 7 words in 0.8 s; lines that go together are read together."""
    def line(text, start, end, screen=0):
        return {"text": text, "start_s": start, "end_s": end, "box": [0.1, 0.1, 0.9, 0.2], "screen": screen}

    stray = [line("one two three four five six", 0.0, 8.0), line("VARU?", 0.0, 0.8)]
    (r,) = ocr.screen_rates(stray, end_s=10.0)
    assert (r["end_s"], r["words"]) == (0.8, 1) and r["wps"] == pytest.approx(1.25)
    together = [line("one two three", 0.0, 1.0), line("four five six", 0.0, 1.0)]
    assert [r["wps"] for r in ocr.screen_rates(together)] == [6.0]
    # A (6 words) goes at 1 s, B (6 words) at 3 s: 6 words in the first second, 12 by 3 s: 6 words/s, not 12
    staggered = [line("a b c d e f", 0.0, 1.0), line("g h i j k l", 0.0, 3.0)]
    assert [r["wps"] for r in ocr.screen_rates(staggered)] == [6.0]
    # the longer line still up at the clip's end sets no deadline; the short one does
    (r,) = ocr.screen_rates(staggered, end_s=3.0)
    assert (r["words"], r["end_s"]) == (6, 1.0)
    # a line the reader missed for a read (gone 3.4-4.8 s, back at its place, misread a little) was read already
    reply = [line("Reply to Basketball life's", 0.8, 3.4, screen=1), line("Repyto Basketbalisife@'s", 4.8, 5.4, 7),
             line("Warriors fans", 5.4, 8.0, 8)]
    assert [(r["start_s"], r["words"]) for r in ocr.screen_rates(reply, end_s=10.0)] == [
        (0.8, ocr.word_count(reply[0]["text"])), (5.4, 2)]
