"""Text extractors: gather what a clip says (caption, yt-dlp info, subtitles, container tags) and judge the caption.

``TextSources`` reads every offline source into ``fv.text`` and measures the caption and its hashtags.
``TextSummary`` (after it, OCR and the optional transcript: its ``needs``) decides whether there is any text
at all: with none, every text metric is left unmeasured so the text score is null with a note that says where
BYTEME looked; with some text but no caption, ``text.caption_present`` is 0 and costs the caption's points.

``fv.text`` keys (the contract other parts read; all text is kept exactly as written, see ``engine.sidecars``):

- ``caption`` (str | None), ``caption_source`` (where it came from), ``caption_looked`` (names looked at),
  ``caption_truncated`` (bool), ``hashtags`` (list of tags without '#');
- ``subtitles``: [[start_s, end_s, text]] from ``.vtt``/``.srt`` sidecars and subtitle streams;
  ``subtitle_sources``: their names;
- ``metadata``: container tags with words in them (title, comment, description, ...);
- ``engagement``: the yt-dlp ``.info.json`` fields (title, description, tags, uploader, upload_date, duration,
  view/like/comment/repost counts) or None;
- ``ocr``: [[start_s, text, [x0, y0, x1, y1] in displayed-frame fractions, end_s]] (see ``ocr.py``);
  ``ocr_status``; ``transcript`` / ``transcript_status`` (see ``speech.py``);
- ``problems``: [{kind, message, source}] for sidecars that could not be read.
"""
from __future__ import annotations

from pathlib import Path

from ...features import FeatureVector, MetricSpec
from ...sidecars import (
    MAX_CAPTION_CHARS,
    read_caption_sidecar,
    read_embedded_subtitles,
    read_info_json,
    read_subtitle_file,
    subtitle_sidecars,
    text_tags,
)
from ...textsafe import visible
from . import rules
from ..base import FINDING_MESSAGES, FINDINGS, ClipContext, EventSpec, Extractor, register

#: How a sidecar name is written in cached notes ("<clip name>.txt"): the clip's own name would be wrong for a copy.
SAME_NAME = "<clip name>"

CAPTION_METRICS = ("text.caption_chars", "text.caption_hook", "text.call_to_action", "text.caption_readability",
                   "text.hashtag_count", "text.generic_hashtag_pct", "text.spammy_hashtags")


def _problem_finding(p: dict) -> dict:
    return {"modality": "text", "severity": "low", "code": "text.unreadable_sidecar",
            "message": visible(p["message"]), "value": None, "target": None, "start_s": None, "end_s": None,
            "source": visible(p["source"]), "points": 0.0}


@register
class TextSources(Extractor):
    name = "text_sources"
    modality = "text"
    stage = "text"
    EVENTS = (
        EventSpec("text.caption", "{hook, addresses_viewer, calls_to_action, hashtags_generic, hashtags_content, "
                  "hashtags_duplicated, hashtags_spammy}", "What the caption rules found in the caption."),
        FINDINGS,
    )
    TEXT = ("caption", "caption_source", "caption_looked", "caption_truncated", "subtitles", "subtitle_sources",
            "metadata", "engagement", "problems", "hashtags")
    wants_frames = False
    METRICS = (
        MetricSpec("text.caption_chars", "Caption length", "characters", 0, MAX_CAPTION_CHARS, None,
                   "Characters in the caption without its hashtags."),
        MetricSpec("text.caption_hook", "First-line hook", "", 0, 1, True,
                   "Strength of the caption's first line as a hook: a question, a number and a promise count 0.5 "
                   "each, speaking to the viewer ('you') 0.25, capped at 1 (English word lists).",
                   words=rules.hook_word),
        MetricSpec("text.call_to_action", "Call to action", "", 0, 1, True,
                   "1 when the caption asks the viewer to do something (follow, comment, share, save, link in "
                   "bio, ...), else 0.", words=rules.call_to_action_word),
        MetricSpec("text.caption_readability", "Caption readability", "Flesch", 0, 100, True,
                   "Flesch reading ease of the caption without hashtags (English; 60-70 is plain English); "
                   f"measured from {rules.READABILITY_MIN_WORDS} words up."),
        MetricSpec("text.hashtag_count", "Hashtag count", "tags", 0, 100, None,
                   "Number of #hashtags in the caption, repeats included (3-5 relevant tags is the usual advice)."),
        MetricSpec("text.generic_hashtag_pct", "Generic hashtags", "%", 0, 100, False,
                   "Share of the distinct hashtags that say nothing about the clip (#fyp, #viral, #foryou, ...).",
                   plural=True),
        MetricSpec("text.spammy_hashtags", "Spammy hashtag count", "tags", 0, 100, False,
                   "Hashtags written twice, engagement bait (#follow4follow, #like4like, ...), tags longer than "
                   f"{rules.MAX_TAG_CHARS} characters or with runs of one repeated character."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        problems = []
        clip = ctx.path
        cap, ps = read_caption_sidecar(clip)
        problems += ps
        info, ps = read_info_json(clip)
        problems += ps
        # Where a caption was looked for, without the clip's own name: features are cached by content hash, so a
        # copy of this clip elsewhere reuses them, and must not be told (or shown in a report) another file's name.
        looked = [f"{SAME_NAME}{Path(n).suffix}" for n in cap.looked] + [f"{SAME_NAME}.info.json"]
        tags = text_tags(ctx.info.metadata)
        caption, source, truncated = cap.text, cap.source, cap.truncated
        if caption is None or not caption.strip():
            if caption is not None:
                problems.append(_empty(cap.source))
            caption, source = None, None
            for key in ("description", "title"):
                if info and isinstance(info.get(key), str) and info[key].strip():
                    caption, source = info[key], f"{info['source']} {key}"
                    break
        if caption is None and tags.get("description", "").strip():
            caption, source = tags["description"], "container description tag"
        looked.append("container description tag")

        subtitles, sub_sources = [], []
        max_s = float(ctx.section("engine").get("max_analysis_s", 0)) or None
        for side in subtitle_sidecars(clip):
            cues, ps = read_subtitle_file(side)
            problems += ps
            if cues:
                subtitles += cues
                sub_sources.append(side.name)
        if ctx.info.subtitle_streams:
            cues, ps = read_embedded_subtitles(clip, max_duration_s=max_s)
            problems += ps
            if cues:
                subtitles += cues
                sub_sources.append("the clip's subtitle stream")
        subtitles.sort(key=lambda c: (c[0], c[1]))

        fv.text.update({
            "caption": caption, "caption_source": source, "caption_looked": looked,
            "caption_truncated": bool(truncated and caption is not None and source == cap.source),
            "subtitles": subtitles, "subtitle_sources": sub_sources, "metadata": tags, "engagement": info,
            "problems": [p.as_dict() for p in problems],
        })
        for p in problems:
            fv.events.setdefault("findings", []).append(_problem_finding(p.as_dict()))
        if caption is None:
            fv.text["hashtags"] = []
            return
        self._caption_metrics(caption, fv)

    @staticmethod
    def _caption_metrics(caption: str, fv: FeatureVector) -> None:
        body = rules.strip_hashtags(caption)
        fv.set("text.caption_chars", len(body))
        hk = rules.hook(rules.first_line(body))
        fv.set("text.caption_hook", hk.strength)
        ctas = rules.calls_to_action(body)
        fv.set("text.call_to_action", 1.0 if ctas else 0.0)
        fv.set("text.caption_readability", rules.reading_ease(body))
        tags = rules.hashtags(caption)
        fv.text["hashtags"] = tags.tags
        fv.set("text.hashtag_count", tags.count)
        fv.set("text.generic_hashtag_pct", tags.generic_pct)
        fv.set("text.spammy_hashtags", tags.spam_count if tags.count else None)
        fv.events["text.caption"] = {
            "hook": hk.kinds(), "addresses_viewer": hk.addresses_viewer, "calls_to_action": ctas,
            "hashtags_generic": tags.generic, "hashtags_content": tags.content, "hashtags_duplicated": tags.duplicates,
            "hashtags_spammy": [list(s) for s in tags.spammy],
        }


def _empty(source):
    from ...sidecars import Problem

    return Problem("empty", f"{source} is empty.", source)


@register
class TextSummary(Extractor):
    name = "text_summary"
    modality = "text"
    stage = "text"
    EVENTS = (FINDING_MESSAGES,)
    TEXT = ("sources_found",)
    #: Reads every text source; with none, it also clears the text metrics the other text extractors set.
    needs = ("fv.text.caption", "fv.text.caption_looked", "fv.text.subtitles", "fv.text.metadata",
             "fv.text.engagement", "fv.text.ocr", "fv.text.ocr_status", "fv.text.transcript")
    wants_frames = False
    METRICS = (
        MetricSpec("text.caption_present", "Caption present", "", 0, 1, True,
                   "1 when a caption was found (caption sidecar, .info.json description or title, container "
                   "description tag), 0 when the clip has other text (subtitles, on-screen text, a title tag) but no "
                   "caption. Left unmeasured when the clip has no text at all."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        t = fv.text
        info = t.get("engagement") or {}
        sources = {
            "caption": bool(t.get("caption")),
            "subtitles": bool(t.get("subtitles")),
            "on-screen text": bool(t.get("ocr")),
            "transcript": bool(t.get("transcript")),
            "container tags": bool(t.get("metadata")),
            "info.json": any(isinstance(info.get(k), str) and info[k].strip() for k in ("title", "description"))
            or bool(info.get("tags")),
        }
        t["sources_found"] = [k for k, v in sources.items() if v]
        if not any(sources.values()):
            for key in list(fv.values):
                if key.startswith("text."):
                    fv.values[key] = None
            looked = ", ".join(visible(x) for x in t.get("caption_looked") or [])
            ocr = t.get("ocr_status") or "on-screen text: none found"
            fv.note("text", f"No text to judge: no caption (looked for {looked}), no subtitles (no .vtt/.srt "
                            f"sidecar or subtitle stream), no title or description tag, and no on-screen text "
                            f"({visible(ocr)}).")
            return
        fv.set("text.caption_present", 1.0 if sources["caption"] else 0.0)
        if not sources["caption"]:
            looked = ", ".join(visible(x) for x in t.get("caption_looked") or [])
            fv.events.setdefault("finding_messages", {})["text.no_caption"] = (
                f"No caption found (looked for {looked}); the clip has {', '.join(t['sources_found'])} but "
                "nothing to show under it.")
