"""Caption and hashtag rules, and how they move the text score: spam, a missing caption and a one-word caption each
lower the score and come out as the top finding; no text at all gives a null text score with a plain reason."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.config import load_config
from engine.extractors import ClipContext
from engine.extractors.text import rules
from engine.extractors.text.sources import TextSources, TextSummary
from engine.features import FeatureVector
from engine.media import probe
from engine.pipeline import evaluate

GOOD_CAPTION = ("3 mistakes that ruin homemade pasta? Salt the water and save this for later.\n"
                "#pasta #cooking #italianfood #recipe")


@pytest.fixture(scope="module")
def cfg():
    return load_config(use_user_file=False)


def text_result(good_clip: Path, folder: Path, cfg: dict, *, caption: str | None = None, title: str | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / "clip.mp4"
    os.symlink(good_clip, clip)
    if caption is not None:
        (folder / "clip.txt").write_text(caption)
    if title is not None:  # other text than a caption: a subtitle sidecar
        (folder / "clip.srt").write_text(f"1\n00:00:00,000 --> 00:00:01,500\n{title}\n")
    info = probe(clip)
    ctx = ClipContext(path=clip, info=info, config=cfg, options={"ocr": False})
    fv = FeatureVector()
    for e in (TextSources(), TextSummary()):
        e.finish(ctx, fv)
    return evaluate(str(clip), info, fv, cfg)


def top_text_finding(result):
    return next(f for f in result.findings if f.modality == "text" and f.severity != "info")


def test_good_caption_scores_high(good_clip, tmp_path, cfg):
    r = text_result(good_clip, tmp_path / "good", cfg, caption=GOOD_CAPTION)
    assert r.scores.modalities["text"] >= 90.0
    assert r.features.values["text.call_to_action"] == 1.0


@pytest.mark.parametrize("case, caption, title, code", [
    ("spam", "3 mistakes that ruin homemade pasta? Save this for later.\n" + " ".join(
        f"#{t}" for t in "fyp viral foryou pasta pasta follow4follow like4like trending explore reels food "
                         "cooking yum fyp viralvideo foryoupage".split()), None, "text.hashtag_spam"),
    ("missing", None, "Three mistakes that ruin pasta", "text.no_caption"),
    ("one_word", "Pasta", None, "text.caption_too_short"),
])
def test_bad_captions_lower_the_score_with_the_right_top_finding(good_clip, tmp_path, cfg, case, caption, title, code):
    good = text_result(good_clip, tmp_path / "good", cfg, caption=GOOD_CAPTION)
    bad = text_result(good_clip, tmp_path / case, cfg, caption=caption, title=title)
    assert bad.scores.modalities["text"] is not None
    assert bad.scores.modalities["text"] < good.scores.modalities["text"] - 20
    top = top_text_finding(bad)
    assert top.code == code, [(f.code, f.points) for f in bad.findings]


def test_no_text_at_all_gives_a_null_score_and_says_where_it_looked(good_clip, tmp_path, cfg):
    r = text_result(good_clip, tmp_path / "none", cfg)
    assert r.scores.modalities["text"] is None
    assert all(v is None for k, v in r.features.values.items() if k.startswith("text."))
    note = next(f for f in r.findings if f.code == "text.not_scored")
    assert "<clip name>.txt" in note.message and "<clip name>.info.json" in note.message and "subtitle" in note.message
    assert "clip.txt" not in note.message  # cached features serve copies of the clip: no file's own name


def test_hashtag_rules():
    h = rules.hashtags("Pasta! #Pasta #pasta #fyp #FYP #follow4follow #soooooo #"
                       + "a" * 35 + " #cooking email@x.com a#b")
    assert h.count == 8
    assert h.duplicates == ["pasta", "fyp"]
    assert h.generic == ["fyp"]
    assert dict(h.spammy) == {"follow4follow": "engagement bait", "a" * 35: "longer than 30 characters",
                              "soooooo": "repeated characters"}
    assert "cooking" in h.content and "fyp" not in h.content
    assert h.generic_pct == pytest.approx(100 * 1 / 6)


@pytest.mark.parametrize("line, kinds, strength", [
    ("Why does pasta stick?", ["question"], 0.5),
    ("5 pasta shapes", ["number"], 0.5),
    ("How to never burn garlic again", ["question", "promise"], 1.0),
    ("Dinner tonight", [], 0.0),
    ("You need this", [], 0.25),
])
def test_hook(line, kinds, strength):
    h = rules.hook(line)
    assert h.kinds() == kinds
    assert h.strength == pytest.approx(strength)


def test_readability_and_cta():
    easy = "We cook pasta. It is fun. You can do it too. Try it now."
    hard = ("Gastronomical experimentation necessitates comprehensive understanding regarding carbohydrate "
            "gelatinization characteristics alongside temperature-dependent hydration phenomena.")
    assert rules.reading_ease(easy) > 80
    assert rules.reading_ease(hard) < 20
    assert rules.reading_ease("Too short") is None
    assert rules.calls_to_action("Link in bio, and comment your favourite!") == ["comment", "link in bio"]
    assert rules.calls_to_action("Pasta tonight") == []
