"""Text sources: caption sidecars, yt-dlp .info.json, .vtt/.srt sidecars, embedded subtitle streams, container tags;
bad input gives findings, never a crash; text is kept as data and escaped wherever it is shown."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine import sidecars
from engine.config import load_config
from engine.extractors import ClipContext
from engine.extractors.text.sources import TextSources, TextSummary
from engine.features import FeatureVector
from engine.media import probe
from engine.pipeline import evaluate

from conftest import SUBTITLES


@pytest.fixture(scope="module")
def cfg():
    return load_config(use_user_file=False)


def place(clip: Path, folder: Path, name: str = "clip") -> Path:
    """A link to a shared test clip under a new name, so sidecars can sit next to it."""
    dst = folder / f"{name}{clip.suffix}"
    os.symlink(clip, dst)
    return dst


def run_text(path: Path, cfg: dict, *, options=None):
    """Probe the clip and run only the text extractors (OCR off): (info, fv, result)."""
    info = probe(path)
    ctx = ClipContext(path=path, info=info, config=cfg, options=options or {"ocr": False})
    fv = FeatureVector()
    for e in (TextSources(), TextSummary()):
        e.begin(ctx)
        e.finish(ctx, fv)
    return info, fv, evaluate(str(path), info, fv, cfg)


# --- each source is read ---------------------------------------------------------------------------------------


def test_caption_sidecar_is_read_in_order(good_clip, tmp_path, cfg):
    clip = place(good_clip, tmp_path)
    (tmp_path / "clip.md").write_text("from md")
    (tmp_path / "clip.caption").write_text("How to fix a bike in 5 minutes? #bike #diy #repair")
    _, fv, _ = run_text(clip, cfg)
    assert fv.text["caption_source"] == "clip.caption"  # .txt absent, .caption before .md
    assert fv.text["hashtags"] == ["bike", "diy", "repair"]
    assert fv.values["text.hashtag_count"] == 3
    assert fv.values["text.caption_chars"] == len("How to fix a bike in 5 minutes?")
    assert fv.values["text.caption_hook"] == 1.0  # question + number + promise ("how to")


def test_info_json_gives_caption_and_engagement(good_clip, tmp_path, cfg):
    clip = place(good_clip, tmp_path)
    info = {"title": "Pasta in ten minutes", "description": "Three steps to perfect pasta #pasta #cooking #food",
            "tags": ["pasta", "cooking"], "uploader": "chef", "duration": 2.0, "view_count": 1200,
            "like_count": 95, "comment_count": 7, "repost_count": 3}
    (tmp_path / "clip.info.json").write_text(json.dumps(info))
    _, fv, _ = run_text(clip, cfg)
    assert fv.text["caption"] == info["description"]
    assert fv.text["caption_source"] == "clip.info.json description"
    eng = fv.text["engagement"]
    assert (eng["view_count"], eng["like_count"], eng["comment_count"], eng["repost_count"]) == (1200, 95, 7, 3)
    assert eng["title"] == "Pasta in ten minutes" and eng["tags"] == ["pasta", "cooking"]


def test_vtt_and_srt_sidecars_are_read(good_clip, tmp_path, cfg):
    clip = place(good_clip, tmp_path)
    (tmp_path / "clip.en.vtt").write_text(
        "WEBVTT\n\nNOTE made by hand\n\n1\n00:00:00.000 --> 00:00:01.200\n<v Ann>Knead the <i>dough</i></v>\n\n"
        "00:01.500 --> 00:02.000 line:90%\nthen rest it\n")
    (tmp_path / "clip.srt").write_text(
        "1\r\n00:00:00,500 --> 00:00:01,000\r\nBoil the water\r\n\r\n2\r\n00:00:01,000 --> 00:00:01,900\r\n"
        "Add <b>salt</b>\r\nand stir\r\n")
    _, fv, _ = run_text(clip, cfg)
    subs = fv.text["subtitles"]
    assert [0.0, 1.2, "Knead the dough"] in subs
    assert [1.5, 2.0, "then rest it"] in subs
    assert [0.5, 1.0, "Boil the water"] in subs
    assert [1.0, 1.9, "Add salt\nand stir"] in subs
    assert set(fv.text["subtitle_sources"]) == {"clip.srt", "clip.en.vtt"}
    # subtitles are text: with no caption the text score exists and the missing caption is the top finding
    assert fv.values["text.caption_present"] == 0.0


def test_embedded_mov_text_and_metadata_tags(subtitled_clip, cfg):
    info, fv, _ = run_text(subtitled_clip, cfg)
    assert info.subtitle_streams == 1
    got = [(round(a, 2), round(b, 2), t) for a, b, t in fv.text["subtitles"]]
    assert got == [(round(a, 2), round(b, 2), t) for a, b, t in SUBTITLES]
    assert fv.text["metadata"]["title"] == "Synthetic test clip"
    assert fv.text["metadata"]["comment"] == "made by engine.synth"
    assert "encoder" not in fv.text["metadata"]


def test_embedded_subrip_in_mkv(clips, cfg):
    clip = clips("subtitled_mkv", suffix=".mkv", duration_s=1.0, audio=None,
                 subtitles=[(0.2, 0.8, "Goal in the last minute")])
    _, fv, _ = run_text(clip, cfg)
    assert [[round(a, 2), round(b, 2), t] for a, b, t in fv.text["subtitles"]] == [[0.2, 0.8, "Goal in the last minute"]]


# --- bad input ------------------------------------------------------------------------------------------------


def test_malformed_sidecars_give_findings_not_crashes(good_clip, tmp_path, cfg):
    clip = place(good_clip, tmp_path)
    (tmp_path / "clip.info.json").write_text('{"title": "cut off')
    (tmp_path / "clip.srt").write_bytes(b"\x00\x01 this is not\n\nsubtitles at all\xff\xfe")
    (tmp_path / "clip.txt").write_text("Real caption here for the clip #one #two #three")
    _, fv, result = run_text(clip, cfg)
    kinds = {(p["source"], p["kind"]) for p in fv.text["problems"]}
    assert ("clip.info.json", "malformed") in kinds
    assert ("clip.srt", "malformed") in kinds
    codes = [f.code for f in result.findings]
    assert codes.count("text.unreadable_sidecar") == 2
    assert fv.text["caption_source"] == "clip.txt"  # the good source is still used
    assert result.scores.modalities["text"] is not None


def test_megabyte_caption_is_cut(good_clip, tmp_path, cfg):
    clip = place(good_clip, tmp_path)
    (tmp_path / "clip.txt").write_text("word " * 600_000)  # 3 MB
    _, fv, result = run_text(clip, cfg)
    assert len(fv.text["caption"]) == sidecars.MAX_CAPTION_CHARS
    assert fv.text["caption_truncated"] is True
    assert "text.caption_too_long" in [f.code for f in result.findings]


def test_markup_and_control_characters_are_data(good_clip, tmp_path, cfg):
    clip = place(good_clip, tmp_path)
    nasty = "\x1b[31m[bold red]Hi[/] <script>x</script>\x07 #fyp #fyp"
    (tmp_path / "clip.txt").write_text(nasty)
    (tmp_path / "clip.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n[link=http://x]click[/link] \x1b]0;t\x07\n")
    (tmp_path / "clip.info.json").write_text("[1, 2]")  # valid JSON, wrong shape: a finding names the file
    _, fv, result = run_text(clip, cfg)
    assert fv.text["caption"] == nasty  # kept exactly, as data
    assert fv.text["subtitles"][0][2] == "[link=http://x]click[/link] \x1b]0;t\x07"
    for f in result.findings:
        for field in (f.message, f.source or ""):
            assert "\x1b" not in field and "\x07" not in field
    assert fv.text["hashtags"] == ["fyp", "fyp"] and fv.values["text.spammy_hashtags"] == 1.0


def test_subtitle_parser_edge_cases():
    cues, bad = sidecars.parse_subtitles("1\n00:00:02,000 --> 00:00:01,000\nbackwards\n\n"
                                         "2\n01:00:00.5 --> 01:00:01.25\n{\\i1}styled{\\i0}\n")
    assert cues == [[3600.5, 3601.25, "styled"]]
    assert bad == 1
    assert sidecars.parse_subtitles("")[0] == []


def test_transcript_is_off_and_says_why(good_clip, cfg):
    from engine.extractors.text.speech import Transcript

    ctx = ClipContext(path=good_clip, info=probe(good_clip), config=cfg, options={})
    fv = FeatureVector()
    Transcript().finish(ctx, fv)
    assert fv.text["transcript"] is None
    assert fv.text["transcript_status"].startswith("Transcript is off: no speech-to-text model is configured")
    odd = {**cfg, "text": {**cfg["text"], "transcript_model": "/nonexistent/whisper-small"}}
    Transcript().finish(ClipContext(path=good_clip, info=probe(good_clip), config=odd, options={}), fv)
    assert fv.text["transcript_status"].startswith("Transcript is off: ")
    assert "faster-whisper" in fv.text["transcript_status"] or "does not exist" in fv.text["transcript_status"]
