"""Library-wide text analysis with scikit-learn TF-IDF: distinctive keywords per clip, coherence between what a
caption says and what the clip says or shows, and near-duplicate captions across the library.

Per-clip features are cached by content hash and must depend only on the clip, so nothing here runs inside the
pipeline: the TUI and the reports call ``analyze_library`` over the stored ``fv.text`` of the clips in a folder::

    lib = analyze_library([(path, result.features.text) for path, result in results])
    lib.keywords[path]        # [(term, weight), ...] best first
    lib.coherence[path]       # 0-1 cosine, or None when the caption or the shown/said text is missing
    lib.near_duplicates       # [(path_a, path_b, similarity), ...] most similar first

Terms are words of two or more letters, lower-cased, without English stop words and without the generic
hashtags (#fyp, #viral, ...), which say nothing about any one clip. Text is treated as data only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from .extractors.text.rules import GENERIC_HASHTAGS

#: Keywords kept per clip.
TOP_KEYWORDS = 8
#: Two captions are near-duplicates at or above this cosine similarity of their character 3-5-gram vectors
#: (sublinear tf, no idf). Measured on hand-made pairs: one changed number in a 6-word caption 0.86, the same
#: template with another topic word ("cook pasta" / "cook rice") 0.55, a reworded caption on the same topic 0.75,
#: unrelated captions < 0.2.
NEAR_DUPLICATE_COSINE = 0.8
#: Captions shorter than this (letters and digits, hashtags removed) are not compared: "lol" twice is no copy.
MIN_DUPLICATE_CHARS = 10
#: Characters of one clip's text used at most (subtitles of a long clip can be large; keywords need far less).
MAX_DOC_CHARS = 100_000
#: Rows per block when comparing captions pairwise (bounds memory to BLOCK x n similarities).
PAIR_BLOCK = 512
_TOKEN = r"(?u)\b[^\W\d_]{2,}\b"


@dataclass
class LibraryText:
    keywords: dict = field(default_factory=dict)  # path -> [(term, weight)]
    coherence: dict = field(default_factory=dict)  # path -> float | None
    shared_terms: dict = field(default_factory=dict)  # path -> terms shared by caption and shown/said text
    near_duplicates: list = field(default_factory=list)  # [(path_a, path_b, similarity)]

    def as_dict(self) -> dict:
        return {
            "keywords": {p: [[t, round(w, 4)] for t, w in kw] for p, kw in self.keywords.items()},
            "coherence": {p: (None if c is None else round(c, 4)) for p, c in self.coherence.items()},
            "shared_terms": self.shared_terms,
            "near_duplicates": [[a, b, round(s, 4)] for a, b, s in self.near_duplicates],
        }


def _s(v) -> str:
    return v if isinstance(v, str) else ""


def _cues(v) -> list[str]:
    out = []
    for c in v or []:
        if isinstance(c, (list, tuple)):
            out += [x for x in c if isinstance(x, str)]
    return out


def caption_text(text: dict) -> str:
    """The caption of a clip's ``fv.text`` ('' when none)."""
    return _s((text or {}).get("caption"))[:MAX_DOC_CHARS]


def shown_text(text: dict) -> str:
    """What the clip says or shows: subtitles, on-screen text (OCR) and the transcript."""
    t = text or {}
    parts = _cues(t.get("subtitles")) + _cues(t.get("ocr")) + _cues(t.get("transcript"))
    return "\n".join(parts)[:MAX_DOC_CHARS]


def all_text(text: dict) -> str:
    """Every word known about a clip: caption, shown/said text, info.json title/description/tags, text tags."""
    t = text or {}
    info = t.get("engagement") or {}
    meta = t.get("metadata") or {}
    parts = [caption_text(t), shown_text(t)]
    if isinstance(info, dict):
        parts += [_s(info.get("title")), _s(info.get("description"))]
        parts += [x for x in (info.get("tags") or []) if isinstance(x, str)]
    if isinstance(meta, dict):
        parts += [_s(v) for v in meta.values()]
    return "\n".join(p for p in parts if p)[:MAX_DOC_CHARS]


def _stop_words() -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(set(ENGLISH_STOP_WORDS) | set(GENERIC_HASHTAGS))


def _word_vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(lowercase=True, token_pattern=_TOKEN, stop_words=_stop_words(), sublinear_tf=True)


def _dup_form(caption: str) -> str:
    return re.sub(r"\s+", " ", caption).strip().casefold()


def analyze_library(items: Iterable[tuple[str, dict]], *, top_k: int = TOP_KEYWORDS,
                    duplicate_cosine: float = NEAR_DUPLICATE_COSINE) -> LibraryText:
    """Keywords, caption coherence and near-duplicate captions over a library.

    items : iterable of (path, text) where ``text`` is a clip's stored ``fv.text`` dict (None is allowed).
    Paths are used only as keys. Every path gets an entry in ``keywords`` and ``coherence`` (empty / None when
    the clip has no words).
    """
    import numpy as np

    items = [(str(p), t if isinstance(t, dict) else {}) for p, t in items]
    out = LibraryText()
    for p, _ in items:
        out.keywords[p] = []
        out.coherence[p] = None
        out.shared_terms[p] = []
    if not items:
        return out
    docs = [all_text(t) for _, t in items]
    vec = _word_vectorizer()
    try:
        matrix = vec.fit_transform(docs)
    except ValueError:  # no document has a single term
        return out
    terms = np.asarray(vec.get_feature_names_out())
    for i, (p, t) in enumerate(items):
        row = matrix.getrow(i)
        if row.nnz:
            order = np.argsort(-row.data, kind="stable")[:top_k]
            out.keywords[p] = [(str(terms[row.indices[j]]), float(row.data[j])) for j in order]
    # Coherence: caption vs shown/said text, in the library's vocabulary and idf.
    caps = [caption_text(t) for _, t in items]
    shown = [shown_text(t) for _, t in items]
    cv = vec.transform(caps)
    sv = vec.transform(shown)
    for i, (p, _) in enumerate(items):
        a, b = cv.getrow(i), sv.getrow(i)
        if not caps[i].strip() or not shown[i].strip() or a.nnz == 0 or b.nnz == 0:
            continue
        out.coherence[p] = float(min(1.0, a.multiply(b).sum()))  # rows are L2-normalised: the dot is the cosine
        common = sorted(set(a.indices) & set(b.indices), key=lambda j: -float(a[0, j] * b[0, j]))
        out.shared_terms[p] = [str(terms[j]) for j in common[:top_k]]
    out.near_duplicates = near_duplicate_captions([(p, c) for (p, _), c in zip(items, caps)],
                                                  threshold=duplicate_cosine)
    return out


def near_duplicate_captions(captions: list[tuple[str, str]], *, threshold: float = NEAR_DUPLICATE_COSINE) -> list:
    """[(path_a, path_b, cosine)] of caption pairs at or above ``threshold``, most similar first.

    Captions are compared as character 3-5-gram vectors (robust to a changed word, a typo, reordered hashtags),
    blockwise so memory stays bounded for large libraries. No idf weighting here: with it, the similarity of the
    same two captions would change with the size and mix of the library (0.75 in a pair, 0.77 among eight)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    kept = [(p, _dup_form(c)) for p, c in captions
            if sum(ch.isalnum() for ch in re.sub(r"#\w+", "", c or "")) >= MIN_DUPLICATE_CHARS]
    if len(kept) < 2:
        return []
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True, use_idf=False)
    try:
        m = vec.fit_transform([c for _, c in kept])
    except ValueError:
        return []
    pairs = []
    n = m.shape[0]
    for start in range(0, n, PAIR_BLOCK):
        block = (m[start:start + PAIR_BLOCK] @ m.T).tocoo()
        for i, j, s in zip(block.row, block.col, block.data):
            a = start + int(i)
            if int(j) > a and s >= threshold:
                pairs.append((kept[a][0], kept[int(j)][0], float(min(1.0, s))))
    pairs.sort(key=lambda x: (-x[2], x[0], x[1]))
    return pairs
