"""What the product says reads right (issue 16, point 10): counts are pluralised, a miss never prints the same
number as its target, a recommended rule is marked once, the risk strip's legend and Help agree with the code, and
the report does not say on-screen text was not read when it was."""
from __future__ import annotations

import copy

import pytest

from engine import pipeline, synth, library
from engine.config import load_config
from engine.features import FeatureVector
from engine.feedback import fmt_pair, fmt_value, plural
from engine.feedback.retention import retention_timeline
from engine.feedback.rewards import rewards_checklists, rewards_findings
from engine.media import MediaInfo
from engine.report import html_clip

W, H = 360, 640


@pytest.fixture(scope="module")
def cfg():
    return load_config(use_user_file=False)


def _info(duration_s, width=W, height=H) -> MediaInfo:
    return MediaInfo(path="x.mp4", container="mp4", size_bytes=1, duration_s=duration_s, bitrate_bps=None,
                     has_video=True, has_audio=True, width=width, height=height)


@pytest.mark.parametrize("n,unit,expected", [(1, "cuts", "1 cut"), (0, "cuts", "0 cuts"), (2, "cuts", "2 cuts"),
                                             (1, "words", "1 word"), (1.0, "tags", "1 tag"), (1, "px", "1 px"),
                                             (3, "frames", "3 frames")])
def test_counts_are_pluralised(n, unit, expected):
    assert fmt_value(n, unit) == expected
    assert plural(n, unit) == expected


def test_a_miss_never_prints_the_same_number_as_its_target(cfg):
    assert fmt_pair(0.597, 0.60, "0-1") == ("0.597", "0.600")
    assert fmt_pair(0.5999, 0.60, "0-1") == ("0.5999", "0.6000")
    assert fmt_pair(0.55, 0.60, "0-1") == ("0.55", "0.60")  # far enough apart: the usual precision
    assert fmt_pair(0.6, 0.60, "0-1") == ("0.60", "0.60")  # equal is equal
    fv = FeatureVector()
    fv.set("visual.sharpness", 0.597)
    result = pipeline.evaluate("x.mp4", _info(10.0), fv, cfg)
    f = next(f for f in result.findings if f.code == "visual.blurry")
    assert "Sharpness is 0.597; target at least 0.600" in f.message


def test_caption_findings_say_what_is_missing_and_plural_labels_agree(cfg):
    """A creator reads "First-line hook is 0 (no question, number or promise)", not a bare 0.00 on an unexplained
    scale; "Dropped frames are", "Hashtag count is" (not "Hashtags is 0 tags")."""
    fv = FeatureVector()
    for key, v in (("text.caption_present", 1.0), ("text.caption_chars", 80.0), ("text.caption_hook", 0.25),
                   ("text.call_to_action", 0.0), ("text.hashtag_count", 0.0), ("visual.dropped_frames_pct", 20.0)):
        fv.set(key, v)
    result = pipeline.evaluate("x.mp4", _info(10.0), fv, cfg)
    said = {f.code: f.message for f in result.findings}
    assert said["text.weak_hook"].startswith("First-line hook is 0.25 (it speaks to the viewer but has no question, "
                                             "number or promise); target at least 0.50")
    assert said["text.no_call_to_action"].startswith(
        "Call to action is 0 (the caption asks for nothing); target at least 1")
    assert said["text.too_few_hashtags"].startswith("Hashtag count is 0 tags; target 3 to 5 tags")
    dropped = next(m for c, m in said.items() if m.startswith("Dropped frames"))
    assert dropped.startswith("Dropped frames are 20%")


def test_a_recommended_rule_is_marked_once(cfg):
    cfg = copy.deepcopy(cfg)
    cfg["presets"]["tiktok"]["rewards"]["enabled"] = True  # off by default (issue 16): this test is about its wording
    lists = rewards_checklists(_info(65.0, 720, 1280), FeatureVector(), cfg)
    tiktok = next(c for c in lists if c["preset"] == "tiktok")
    rec = next(i for i in tiktok["items"] if i["rule"] == "recommended_resolution")
    assert rec["status"] == "fail" and not rec["required"]
    assert "recommended" not in rec["label"]  # the marker comes from `required`, in every view
    cfg_tiktok = {**cfg, "platform": {**cfg.get("platform", {}), "preset": "tiktok"}}
    lists = rewards_checklists(_info(65.0, 720, 1280), FeatureVector(), cfg_tiktok)
    f = next(f for f in rewards_findings(lists, cfg_tiktok) if f.code == "rewards.recommended_resolution")
    assert f.message.count("(recommended)") == 1


def test_fast_text_is_judged_when_ocr_read_frames_without_a_screen_that_ended(cfg):
    """OCR ran (frames read) and found a line that stays to the end: no reading-speed series, and nothing unused."""
    fv = FeatureVector()
    fv.text["ocr_frames_s"] = [0.0, 2.0]
    fv.text["ocr_status"] = "Read 2 of 2 chosen frames (at most 40)."
    tl = retention_timeline(fv, _info(4.0), cfg)
    assert not any("fast text" in u for u in tl["unused"])
    off = FeatureVector()
    off.text["ocr_status"] = "On-screen text was not read: OCR was turned off (--no-ocr)."
    tl = retention_timeline(off, _info(4.0), cfg)
    assert "fast text: on-screen text was not read: OCR was turned off (--no-ocr)" in tl["unused"]


def _text_over_scene(i, t):
    frame = synth.textured_scene(width=W, height=H, t_s=t, seed=3, scene=0)
    return synth.render_text(frame, "THREE TIPS", x=None, y=int(H * 0.3), height_px=28)


def test_the_html_report_does_not_say_ocr_did_not_run_when_it_read_text(clips, cfg):
    pytest.importorskip("rapidocr_onnxruntime")
    path = clips("slips_text_to_end", width=W, height=H, fps=15, duration_s=2.0, video=_text_over_scene, audio=None)
    r = library.analyze(path, cfg, use_cache=False)
    assert r.ok and any("THREE" in ln[1].upper() for ln in r.features.text["ocr"])
    page = html_clip(r, {}, cfg)
    assert "did not run" not in page and "text was not read" not in page
    assert "(recommended) (recommended)" not in page and "(recommended)" in page  # 360x640 misses 1080x1920
    off = library.analyze(path, cfg, use_cache=False, options={"ocr": False})
    assert "on-screen text was not read: OCR was turned off" in html_clip(off, {}, cfg)


def test_the_risk_strip_legend_and_help_agree_with_the_layout():
    from byteme_tui.screens.dialogs import HELP
    from byteme_tui.widgets.insights import MAX_CHARS_PER_SECOND, strip_layout, strip_lines

    seconds = [{"t": i, "risk": 0.0, "level": "low", "reasons": []} for i in range(5)]
    per, used = strip_layout(5, 75)
    assert per == 1 / MAX_CHARS_PER_SECOND and used == 5 * MAX_CHARS_PER_SECOND  # a short clip: wide marks
    legend = strip_lines(seconds, 80).plain.splitlines()[-1]
    assert f"one mark per second, {MAX_CHARS_PER_SECOND} characters wide" in legend
    assert "marks per second" not in legend
    long = [{"t": i, "risk": 0.0, "level": "low", "reasons": []} for i in range(300)]
    assert "one mark per 4 s (the worst second of each)" in strip_lines(long, 80).plain
    help_text = " ".join(HELP.split())
    assert f"each mark is one second (drawn up to {MAX_CHARS_PER_SECOND} characters wide" in help_text
    assert "worst second of each group" in help_text
