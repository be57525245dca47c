"""Text extractors: caption sidecar and hashtags (first pass; the text issue completes this family)."""
from __future__ import annotations

import re
from pathlib import Path

from ..features import FeatureVector, MetricSpec
from .base import ClipContext, Extractor, register

CAPTION_SUFFIXES = (".txt", ".caption", ".md")
#: Captions longer than this are cut before analysis (TikTok allows 4,000 characters; anything bigger is not a
#: caption but a mistake, and must not cost memory or time).
MAX_CAPTION_CHARS = 10_000
HASHTAG = re.compile(r"#(\w+)", re.UNICODE)


def read_caption(path: Path) -> tuple[str | None, str | None]:
    """(caption text, the file it came from) from a sidecar next to the clip; (None, None) when there is none."""
    for suffix in CAPTION_SUFFIXES:
        side = path.with_suffix(suffix)
        if side.is_file():
            with open(side, "rb") as fh:
                raw = fh.read(MAX_CAPTION_CHARS * 4)
            return raw.decode("utf-8", errors="replace")[:MAX_CAPTION_CHARS], side.name
    return None, None


@register
class CaptionHashtags(Extractor):
    name = "caption_hashtags"
    modality = "text"
    stage = "text"
    order = 60
    wants_frames = False
    METRICS = (
        MetricSpec("text.caption_chars", "Caption length", "characters", 0, MAX_CAPTION_CHARS, None,
                   "Characters in the caption sidecar, hashtags included."),
        MetricSpec("text.hashtag_count", "Hashtags", "tags", 0, 100, None, "Number of #hashtags in the caption."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        caption, source = read_caption(ctx.path)
        looked = ", ".join(ctx.path.stem + s for s in CAPTION_SUFFIXES)
        if caption is None:
            fv.note("text", f"No caption found (looked for {looked}).")
            fv.text["caption"] = None
            return
        fv.text["caption"] = caption
        fv.text["caption_source"] = source
        fv.set("text.caption_chars", len(caption.strip()))
        fv.set("text.hashtag_count", len(HASHTAG.findall(caption)))
