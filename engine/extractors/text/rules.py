"""Pure rules over caption text: hashtags, the first-line hook, calls to action, readability.

No I/O and no extractor here: ``text.py`` calls these on the text it gathered. The word lists are English; a
caption in another language still gets its hashtag, length and spam measures, and the hook/CTA lists simply
find nothing (the README says so).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

#: A hashtag: '#' then letters, digits, underscores (Unicode word characters), as platforms link them.
HASHTAG = re.compile(r"(?<![\w#&])#(\w+)", re.UNICODE)
#: Tags that say nothing about the clip: the "for you page" and virality tags creators add to every post.
#: Source: the tags most often listed as "generic / overused" in platform-growth guides (TikTok creator portal
#: advises "relevant" hashtags; these are the ones that are relevant to every clip and so to none).
GENERIC_HASHTAGS = frozenset("""
fyp fy fypシ fypage foryou foryoupage foryourpage fypツ viral viralvideo viralvideos viraltiktok trending trend
trendingnow explore explorepage explorer reels reel reelsinstagram instagram instagood tiktok tiktoker
shorts youtubeshorts short ytshorts xyzbca xyz video videos new blowthisup goviral makemefamous capcut
""".split())
#: Engagement-bait tags: platforms treat follow/like-for-follow schemes as spam (TikTok Community Guidelines,
#: "Integrity and Authenticity: fake engagement"; Instagram's Community Guidelines on artificial engagement).
ENGAGEMENT_BAIT = re.compile(r"^(follow4follow|followforfollow|f4f|like4like|likeforlike|l4l|likeforlikes|"
                             r"followback|followme|follow4followback|sub4sub|subforsub|comment4comment|c4c|"
                             r"spam4spam|tagsforlikes|likes|follow|followers|instalike)$", re.IGNORECASE)
#: A tag longer than this many characters reads as a sentence run together (#thisisthebestdayofmylifeever), a
#: common spam pattern; real topic tags are short (the longest tags in TikTok's Discover lists are ~20).
MAX_TAG_CHARS = 30
#: The same character repeated this many times in a tag (#soooooooo, #!!!!) is spam-like.
REPEAT_RUN = 5

#: Words that open a question in English.
QUESTION_WORDS = frozenset("who what when where why how which whose whom is are do does did can could should "
                           "would will have has ever".split())
#: Promise / curiosity words of hook copywriting ("how to", "secret", "you won't believe").
PROMISE = re.compile(r"\b(how to|secret|secrets|hack|hacks|tip|tips|trick|tricks|mistake|mistakes|never|always|"
                     r"best|worst|easiest|fastest|only|stop|don'?t|you won'?t believe|wait for it|watch (this|till|until)|"
                     r"here'?s (how|why|what)|in \d+ (seconds|minutes|steps|days)|step by step|guide|learn|"
                     r"ultimate|proven|free|instantly|nobody tells you|the truth)\b", re.IGNORECASE)
NUMBER_WORDS = frozenset("one two three four five six seven eight nine ten eleven twelve first second third "
                         "hundred thousand million".split())
#: Calls to action: what a creator asks the viewer to do.
CTA = re.compile(r"\b(follow|subscribe|comment|share|save (this|it|for later)|like (this|if|and)|tag (a|your|someone)|"
                 r"link in (my )?bio|check out|click|tap|duet|stitch|try (this|it)|let me know|tell me|"
                 r"drop an? |sign up|download|shop|order now|dm me|send this)\b", re.IGNORECASE)
#: Flesch reading ease is unstable on very short texts; it is computed from this many words up.
READABILITY_MIN_WORDS = 8
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…]+(?:\s|$)|\n+")


@dataclass
class HashtagReport:
    tags: list  # as written, without '#', in order
    count: int
    unique: int
    duplicates: list  # tags written more than once (lowercase)
    generic: list  # generic tags present (lowercase, unique)
    spammy: list  # (tag, why) for engagement bait, overlong or repeated-character tags
    content: list = field(default_factory=list)  # unique tags that are not generic

    @property
    def generic_pct(self) -> float | None:
        return 100.0 * len(self.generic) / self.unique if self.unique else None

    @property
    def spam_count(self) -> int:
        return len(self.duplicates) + len(self.spammy)


def fold(s: str) -> str:
    """Case- and accent-insensitive form of a tag or word for comparisons."""
    return unicodedata.normalize("NFKC", s).casefold()


def hashtags(text: str) -> HashtagReport:
    tags = HASHTAG.findall(text or "")
    folded = [fold(t) for t in tags]
    seen: dict[str, int] = {}
    for t in folded:
        seen[t] = seen.get(t, 0) + 1
    unique = list(seen)
    duplicates = [t for t, n in seen.items() if n > 1]
    generic = [t for t in unique if t in GENERIC_HASHTAGS]
    spammy = []
    for t in unique:
        if ENGAGEMENT_BAIT.match(t):
            spammy.append((t, "engagement bait"))
        elif len(t) > MAX_TAG_CHARS:
            spammy.append((t, f"longer than {MAX_TAG_CHARS} characters"))
        elif re.search(r"(.)\1{%d,}" % (REPEAT_RUN - 1), t):
            spammy.append((t, "repeated characters"))
    content = [t for t in unique if t not in GENERIC_HASHTAGS and not ENGAGEMENT_BAIT.match(t)]
    return HashtagReport(tags, len(tags), len(unique), duplicates, generic, spammy, content)


def strip_hashtags(text: str) -> str:
    """The caption without its hashtags (and without the blank space they leave)."""
    return re.sub(r"[ \t]{2,}", " ", HASHTAG.sub("", text or "")).strip()


def first_line(text: str) -> str:
    """The first non-empty line: what shows before "more" on every platform."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


#: A caption hook's strength (``Hook.strength``): each of a question, a number and a promise adds this ...
HOOK_KIND_STRENGTH = 0.5
#: ... and speaking to the viewer ("you") this.
HOOK_VIEWER_STRENGTH = 0.25


@dataclass
class Hook:
    question: bool
    number: bool
    promise: bool
    addresses_viewer: bool

    @property
    def strength(self) -> float:
        """0-1: a question, a number and a promise count 0.5 each; speaking to the viewer ("you") 0.25; capped at 1."""
        kinds = self.question + self.number + self.promise
        return min(1.0, HOOK_KIND_STRENGTH * kinds + HOOK_VIEWER_STRENGTH * self.addresses_viewer)

    def kinds(self) -> list[str]:
        return [k for k in ("question", "number", "promise") if getattr(self, k)]


def hook_word(strength: float) -> str:
    """What a first-line hook strength (``Hook.strength``) says about the line, in words: "no question, number or
    promise" (findings show it beside the number)."""
    eps = 1e-9
    if strength < HOOK_VIEWER_STRENGTH - eps:
        return "no question, number or promise"
    if strength < HOOK_KIND_STRENGTH - eps:
        return "it speaks to the viewer but has no question, number or promise"
    if strength < 2 * HOOK_KIND_STRENGTH - eps:
        return "a question, a number or a promise"
    return "two or more of a question, a number and a promise"


def call_to_action_word(v: float) -> str:
    """``text.call_to_action`` (1 when the caption asks the viewer to do something, else 0) in words."""
    return "the caption asks for nothing" if v < 0.5 else "the caption asks for an action"


def hook(line: str) -> Hook:
    words = [fold(w) for w in _WORD.findall(line)]
    question = "?" in line or (bool(words) and words[0] in QUESTION_WORDS and len(words) > 2)
    number = bool(re.search(r"\d", line)) or any(w in NUMBER_WORDS for w in words)
    promise = bool(PROMISE.search(line))
    you = any(w in ("you", "your", "you're", "you’re", "youre", "yours") for w in words)
    return Hook(question, number, promise, you)


def calls_to_action(text: str) -> list[str]:
    return sorted({fold(m.group(0)).strip() for m in CTA.finditer(text or "")})


def syllables(word: str) -> int:
    """English syllable estimate: vowel groups, minus a silent final e, at least 1."""
    w = fold(word)
    groups = re.findall(r"[aeiouy]+", w)
    n = len(groups)
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and n > 1:
        n -= 1
    return max(1, n)


def words(text: str) -> list[str]:
    return _WORD.findall(text or "")


def reading_ease(text: str) -> float | None:
    """Flesch reading ease (Flesch 1948): 206.835 - 1.015 words/sentence - 84.6 syllables/word. 60-70 is plain
    English; below 30 is academic. None below ``READABILITY_MIN_WORDS`` words. Clamped to 0-100."""
    ws = words(text)
    if len(ws) < READABILITY_MIN_WORDS:
        return None
    sentences = max(1, len([s for s in _SENTENCE_END.split(text) if words(s)]))
    syl = sum(syllables(w) for w in ws)
    score = 206.835 - 1.015 * (len(ws) / sentences) - 84.6 * (syl / len(ws))
    return float(min(100.0, max(0.0, score)))


def word_count(text: str) -> int:
    """Words for reading speed: runs of letters/digits; a CJK character counts as one word (no spaces there)."""
    text = text or ""
    cjk = len(re.findall(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]", text))
    rest = re.sub(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]", " ", text)
    return cjk + len(re.findall(r"\w+", rest))
