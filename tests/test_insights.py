"""Insights: the hook score and its findings, the retention timeline, the rewards pre-check, cut-on-beat."""
from __future__ import annotations

import numpy as np
import pytest

from engine import synth, library
from engine.config import load_config
from engine.features import FeatureVector
from engine.insights import cut_on_beat, hook_report, retention_timeline, rewards_checklists
from engine.media import MediaInfo

SR = 48000


@pytest.fixture(scope="module")
def cfg():
    return load_config(use_user_file=False)


def _black_then_scene(i, t_s, _scene=synth.scene_sequence(width=360, height=640, seed=0)):
    return np.zeros((640, 360, 3), np.uint8) if t_s < 1.0 else _scene(i, t_s)


@pytest.fixture(scope="module")
def hook_pair(clips, cfg):
    """The same 3 s clip twice: as made, and opening on one second of black and silence."""
    speech = synth.scale_to_lufs(synth.speech_like(duration_s=3.0, sr=SR, seed=0), sr=SR, lufs=-16.0)
    late = speech.copy()
    late[:SR] = 0.0
    good = clips("hook_good", duration_s=3.0, audio=speech, audio_lufs=None)
    bad = clips("hook_black_silent", duration_s=3.0, video=_black_then_scene, audio=late, audio_lufs=None)
    return (library.analyze(good, cfg, options={"ocr": False}), library.analyze(bad, cfg, options={"ocr": False}))


def test_black_silent_opening_has_a_worse_hook_and_says_why(hook_pair):
    good, bad = hook_pair
    assert good.ok and bad.ok
    g, b = good.scores.extra["hook"], bad.scores.extra["hook"]
    assert g is not None and b is not None
    assert g - b >= 25.0, (g, b)
    codes = {f.code: f for f in bad.findings}
    assert "hook.black_opening" in codes
    assert "hook.late_first_sound" in codes
    assert "1.0 s of black" in codes["hook.black_opening"].message
    # the first sound is at 1.0 s (+- one 50 ms envelope step / one 100 ms loudness block)
    assert "first sound comes at 1.0 s" in codes["hook.late_first_sound"].message or \
        "first sound comes at 1.1 s" in codes["hook.late_first_sound"].message
    assert not any(f.code.startswith("hook.") for f in good.findings)
    # the insights are stored with the result and the timeline has one entry a second
    ins = bad.scores.extra["insights"]
    assert len(ins["retention"]["seconds"]) == 3
    first = ins["retention"]["seconds"][0]
    assert first["level"] == "high" and "black" in first["reasons"] and "dead_air" in first["reasons"]
    assert ins["retention"]["seconds"][1]["level"] != "high"
    assert any(f.code == "retention.risk" and f.start_s == 0.0 for f in bad.findings)


def test_hook_findings_are_ranked_with_the_others(hook_pair):
    _, bad = hook_pair
    ranked = [f for f in bad.findings if f.severity != "info"]
    assert [f.points for f in ranked] == sorted((f.points for f in ranked), reverse=True)
    assert all(f.severity == "info" for f in bad.findings[len(ranked):])


def _fv_with(**events) -> FeatureVector:
    fv = FeatureVector()
    fv.events.update(events)
    return fv


def _info(duration_s, width=1080, height=1920, has_audio=True) -> MediaInfo:
    return MediaInfo(path="x.mp4", container="mp4", size_bytes=1, duration_s=duration_s, bitrate_bps=None,
                     has_video=True, has_audio=has_audio, width=width, height=height)


def test_hook_parts_without_their_metrics_are_left_out_and_named(cfg):
    rep = hook_report(FeatureVector(), _info(10.0), cfg)
    assert any("motion" in u for u in rep["unused"])
    assert any("face" in u for u in rep["unused"])
    assert all(c["key"] != "face" for c in rep["components"])


def test_retention_marks_a_long_static_shot_against_the_rhythm(cfg):
    # shots of 1 s, then one of 9 s: from 2.5 x median (2.5 s) into it, or 4 s minimum, it is out of rhythm
    fv = _fv_with(**{"visual.shots": [[0, 1], [1, 2], [2, 3], [3, 12]]})
    fv.add_series("visual.motion_energy", [3.0] * 6 + [0.1] * 6, step_s=1.0)
    tl = retention_timeline(fv, _info(12.0, has_audio=False), cfg)
    secs = tl["seconds"]
    assert all("long_shot" not in s["reasons"] for s in secs[:7])
    assert all("long_shot" in s["reasons"] for s in secs[7:])
    assert all("static_shot" in s["reasons"] for s in secs[6:])
    assert all(s["level"] == "high" for s in secs[7:]) and secs[0]["level"] == "low"
    assert tl["peaks"][0]["start_s"] == 7.0 and tl["peaks"][0]["end_s"] == 12.0


@pytest.mark.parametrize("duration_s,expected", [(12.0, "fail"), (60.0, "fail"), (65.0, "pass")])
def test_over_one_minute_rule(cfg, duration_s, expected):
    lists = rewards_checklists(_info(duration_s), FeatureVector(), cfg)
    tiktok = next(c for c in lists if c["preset"] == "tiktok")
    rule = next(i for i in tiktok["items"] if i["rule"] == "over_one_minute")
    assert rule["status"] == expected
    assert "over 1 minute" in rule["source"]


def test_rewards_checklist_checks_shape_resolution_and_sound(cfg):
    lists = rewards_checklists(_info(70.0, width=1080, height=1350, has_audio=False), FeatureVector(), cfg)
    assert lists[0]["active"] and lists[0]["preset"] == cfg["platform"]["preset"]
    items = {i["rule"]: i for i in next(c for c in lists if c["preset"] == "tiktok")["items"]}
    assert items["vertical"]["status"] == "fail"
    assert items["min_resolution"]["status"] == "pass"
    assert items["audio_present"]["status"] == "fail"
    assert items["original"]["status"] == "unknown"  # no library index given
    assert all(i["source"] for i in items.values())


def test_a_65_s_clip_passes_the_one_minute_rule_end_to_end(clips, cfg):
    path = clips("long65", width=64, height=114, fps=5, duration_s=65.0, audio=None)
    r = library.analyze(path, cfg, options={"ocr": False})
    assert r.ok, r.error
    tiktok = next(c for c in r.scores.extra["insights"]["rewards"] if c["preset"] == "tiktok")
    assert next(i for i in tiktok["items"] if i["rule"] == "over_one_minute")["status"] == "pass"
    assert len(r.scores.extra["insights"]["retention"]["seconds"]) == 65


def test_cuts_on_generated_beats_score_higher_than_cuts_off_them(clips, cfg):
    music = synth.music_like(duration_s=4.0, sr=SR, bpm=120, seed=0)  # beats every 0.5 s
    on = clips("beat_on", duration_s=4.0, shots=[(1.0, 0), (1.0, 1), (1.0, 2), (1.0, 3)], audio=music)
    off = clips("beat_off", duration_s=4.0, shots=[(1.25, 0), (1.0, 1), (1.0, 2), (1.0, 3)], audio=music)
    r_on = library.analyze(on, cfg, options={"ocr": False}).scores.extra["insights"]["cut_on_beat"]
    r_off = library.analyze(off, cfg, options={"ocr": False}).scores.extra["insights"]["cut_on_beat"]
    if r_on["status"] != "measured":
        pytest.skip(f"cut-on-beat is not measured by the audio extractors: {r_on['reason']}")
    assert r_off["status"] == "measured"
    assert r_on["on_beat_pct"] >= 66.0 > r_off["on_beat_pct"]
    assert len(r_off["missed"]) >= 2 and all(abs(m["offset_s"]) > 0.15 for m in r_off["missed"])


def test_cut_on_beat_says_why_when_not_measured():
    assert cut_on_beat(FeatureVector())["status"] == "not_measured"
    assert "no cuts" in cut_on_beat(_fv_with(**{"visual.cuts_s": [], "audio.beats_s": [0.5, 1.0]}))["reason"]
