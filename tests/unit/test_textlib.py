"""Library-wide TF-IDF: distinctive keywords per clip, caption-vs-shown coherence, near-duplicate captions."""
from __future__ import annotations

import os

import pytest

from engine.config import load_config
from engine.extractors import ClipContext
from engine.extractors.text.sources import TextSources, TextSummary
from engine.features import FeatureVector
from engine.media import probe
from engine.textlib import analyze_library, near_duplicate_captions

LIBRARY = {
    "cooking": ("How to cook fresh pasta at home? Knead the dough, rest it, boil in salted water #pasta #cooking #fyp",
                "Knead the dough for ten minutes\nBoil the pasta in salted water\nAdd the tomato sauce"),
    "football": ("Top 3 football goals of the season: watch the striker score from midfield #football #goals #fyp",
                 "The striker shoots from midfield\nWhat a goal by the striker\nThe keeper had no chance"),
    "cooking_copy": ("How to cook fresh pasta at home? Knead the dough, rest it, boil in salty water #pasta #cooking",
                     "Roll the dough thin\nCut the tagliatelle"),
    "mismatch": ("My morning skincare routine with three serums #skincare #beauty #routine",
                 "The striker shoots and the goal stands"),
}


@pytest.fixture(scope="module")
def texts(good_clip, tmp_path_factory):
    """fv.text of four generated clips (a shared clip linked under four names, each with its caption and subtitles),
    gathered by the real text extractor."""
    cfg = load_config(use_user_file=False)
    folder = tmp_path_factory.mktemp("library")
    out = {}
    for name, (caption, subs) in LIBRARY.items():
        clip = folder / f"{name}.mp4"
        os.symlink(good_clip, clip)
        (folder / f"{name}.txt").write_text(caption)
        cues = "\n\n".join(f"{i + 1}\n00:00:0{i},000 --> 00:00:0{i},900\n{line}" for i, line in enumerate(subs.splitlines()))
        (folder / f"{name}.srt").write_text(cues)
        info = probe(clip)
        ctx = ClipContext(path=clip, info=info, config=cfg, options={"ocr": False})
        fv = FeatureVector()
        for e in (TextSources(), TextSummary()):
            e.finish(ctx, fv)
        out[name] = fv.text
    return out


def test_keywords_differ_between_cooking_and_football(texts):
    lib = analyze_library(list(texts.items()))
    cook = [t for t, _ in lib.keywords["cooking"]]
    foot = [t for t, _ in lib.keywords["football"]]
    assert {"pasta", "dough"} <= set(cook[:5]), cook
    assert {"football", "striker", "midfield"} <= set(foot[:5]), foot
    assert not set(cook) & set(foot), (cook, foot)
    for kws in lib.keywords.values():  # generic tags and stop words are never keywords
        assert not {"fyp", "the", "how"} & {t for t, _ in kws}
    weights = [w for _, w in lib.keywords["cooking"]]
    assert weights == sorted(weights, reverse=True)


def test_coherence_between_caption_and_what_is_said(texts):
    lib = analyze_library(list(texts.items()))
    assert lib.coherence["cooking"] > 0.2
    assert lib.coherence["football"] > 0.2
    assert lib.coherence["mismatch"] == 0.0  # a skincare caption over football talk
    assert "dough" in lib.shared_terms["cooking"]


def test_near_duplicate_captions(texts):
    lib = analyze_library(list(texts.items()))
    assert [(a, b) for a, b, _ in lib.near_duplicates] == [("cooking", "cooking_copy")]
    assert lib.near_duplicates[0][2] >= 0.8


def test_empty_and_odd_inputs():
    lib = analyze_library([("a", None), ("b", {"caption": None, "subtitles": [], "ocr": [[0.0, 7, None, 1.0]]})])
    assert lib.keywords == {"a": [], "b": []} and lib.coherence == {"a": None, "b": None}
    assert analyze_library([]).as_dict()["near_duplicates"] == []
    assert near_duplicate_captions([("x", "lol"), ("y", "lol")]) == []  # too short to call a copy
    one = analyze_library([("solo", {"caption": "Pasta dough pasta", "subtitles": [[0, 1, "knead the dough"]]})])
    assert one.keywords["solo"][0][0] in ("pasta", "dough") and one.coherence["solo"] > 0
