"""Originality across the library: near-duplicate clips, reused soundtracks, and another app's watermark.

Each analysed clip is indexed once, in the same SQLite store as its results:

* its sampled frame hashes (64-bit pHash, ``extractors/originality/frame_hash.py``) as one blob, plus a banded index
  for multi-index hashing (Norouzi et al., "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012): each
  hash is split into four 16-bit bands and every (band number, band value) is a posting. A query looks up each
  band's value and its one-bit neighbours: two hashes within Hamming distance 7 always meet (pigeonhole), and
  near-duplicate clips have many frame pairs, so the lookup finds the candidates; the candidates alone are then
  verified with the full Hamming distance of every sampled frame;
* its audio landmarks (``extractors/originality/audio_hash.py``) as hash -> (clip, time) postings; a clip that
  shares music with another has many equal landmarks at one constant time offset (Wang 2003).

``find_matches`` never compares all pairs: its cost grows with the number of postings a clip's keys hit.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import numpy as np

from .store import write_tx

#: Two sampled frames are "the same picture" at or below this Hamming distance of their 64-bit pHashes. Re-encoded
#: and rescaled copies measured 0-8 on our generated clips, with a 5 % border crop up to ~12; unrelated frames
#: average 32 (random bits), and fewer than 1 in 10^4 of unrelated pairs fall at or below 14 (binomial tail).
FRAME_MATCH_BITS = 12
#: A clip is a near-duplicate of another when at least this share of its sampled (non-flat) frames match one of
#: the other clip's frames.
NEAR_DUPLICATE_SHARE = 0.6
#: Each query band is looked up with this many bits of tolerance (1: the value and its 16 one-bit neighbours).
#: Any two hashes within 7 bits then share a band within 1 bit (pigeonhole over 4 bands); at the 8-12 bits a
#: trimmed, cropped copy shows, about half of the frame pairs still do, and a clip has many frames.
BAND_RADIUS = 1
#: A candidate must share at least this many band postings with the query before it is verified.
MIN_BAND_HITS = 1
#: Verify at most this many candidates (the ones with the most band hits).
MAX_CANDIDATES = 50
#: Frame-hash band values held by more than this many clips carry no identity (a stop-word) and are skipped.
MAX_BAND_POSTINGS = 2000
#: Soundtrack match: at least this many landmarks agree on one time offset, and they are at least this share of
#: the query's landmarks. Unrelated audio gives a handful of chance agreements per offset.
MIN_AUDIO_VOTES = 15
MIN_AUDIO_SHARE = 0.08
#: Landmark hashes posted by more than this many clips are skipped (silence, a common ringtone).
MAX_AUDIO_POSTINGS = 500
#: Offsets are voted in bins of this many fingerprint frames (32 ms each), so jitter of one frame still agrees.
OFFSET_BIN_FRAMES = 2
BANDS = 4
SQL_CHUNK = 900  # SQLite's default limit on bound parameters is 999 (before 3.32)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orig_clips (
    id INTEGER PRIMARY KEY,
    content_hash TEXT UNIQUE NOT NULL,
    path TEXT,
    duration_s REAL,
    frame_times BLOB,
    frame_hashes BLOB,
    audio_n INTEGER,
    fp_hop_s REAL,
    indexed_at REAL
);
CREATE TABLE IF NOT EXISTS orig_frame_bands (
    band INTEGER NOT NULL,
    clip INTEGER NOT NULL,
    PRIMARY KEY (band, clip)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orig_audio (
    hash INTEGER NOT NULL,
    clip INTEGER NOT NULL,
    t INTEGER NOT NULL,
    PRIMARY KEY (hash, clip, t)
) WITHOUT ROWID;
"""


@dataclass
class Match:
    kind: str  # "near_duplicate" | "soundtrack"
    other_path: str
    similarity: float  # 0-1: share of sampled frames (or of landmarks) that match
    time_offset_s: float | None  # where this clip's start sits in the other clip (s), when known
    other_hash: str = ""
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def ensure_schema(conn) -> None:
    if getattr(conn, "_byteme_orig_schema", False):
        return
    with write_tx(conn):
        for stmt in SCHEMA.strip().split(";"):
            if stmt.strip():
                conn.execute(stmt)
    try:
        conn._byteme_orig_schema = True
    except AttributeError:
        pass


def _conn(store):
    conn = getattr(store, "conn", store)
    ensure_schema(conn)
    return conn


# -- per-clip data from the FeatureVector --------------------------------------------------------------------

def frame_hashes(fv) -> tuple[np.ndarray, np.ndarray]:
    """(times_s float64, hashes uint64) of the clip's non-flat sampled frames."""
    d = (fv.events if fv is not None else {}).get("hash.frames") or {}
    t, h = [], []
    for ts, hx in zip(d.get("t", []), d.get("phash", [])):
        if hx:
            t.append(float(ts))
            h.append(int(hx, 16))
    return np.array(t, dtype=np.float64), np.array(h, dtype=np.uint64)


def audio_pairs(fv) -> tuple[np.ndarray, float]:
    from .extractors.originality.audio_hash import decode_pairs

    d = (fv.events if fv is not None else {}).get("hash.audio_fp") or {}
    if not d.get("b64"):
        return np.zeros((0, 2), np.uint32), float(d.get("hop_s", 0.032))
    return decode_pairs(d["b64"]), float(d["hop_s"])


def band_keys(hashes: np.ndarray, *, radius: int = 0) -> list[int]:
    """Posting keys ``band << 16 | value`` of each hash's four 16-bit bands; with ``radius=1`` also every value
    one bit away (the multi-index search radius per band)."""
    keys = set()
    flips = [0] + ([1 << i for i in range(16)] if radius >= 1 else [])
    for h in hashes.tolist():
        for b in range(BANDS):
            v = (h >> (16 * b)) & 0xFFFF
            for f in flips:
                keys.add((b << 16) | (v ^ f))
    return sorted(keys)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances [shape=(len(a), len(b))] of two uint64 arrays."""
    x = np.bitwise_xor(a[:, None], b[None, :])
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(axis=-1)


# -- index ---------------------------------------------------------------------------------------------------

def index_clip(store, content_hash: str, path: str, fv) -> bool:
    """Index one clip's frame hashes and audio landmarks (once per content hash). True when newly indexed."""
    conn = _conn(store)
    known = conn.execute("SELECT id FROM orig_clips WHERE content_hash=?", (content_hash,)).fetchone()
    if known:
        conn.execute("UPDATE orig_clips SET path=? WHERE id=?", (str(path), known[0]))
        return False
    t, h = frame_hashes(fv)
    pairs, hop = audio_pairs(fv)
    with write_tx(conn):
        cur = conn.execute(
            "INSERT OR IGNORE INTO orig_clips(content_hash, path, duration_s, frame_times, frame_hashes, audio_n, "
            "fp_hop_s, indexed_at) VALUES (?,?,?,?,?,?,?,?)",
            (content_hash, str(path), float(t[-1]) if len(t) else 0.0, t.astype("<f8").tobytes(),
             h.astype("<u8").tobytes(), int(len(pairs)), hop, time.time()),
        )
        if not cur.rowcount:
            return False
        clip = cur.lastrowid
        conn.executemany("INSERT OR IGNORE INTO orig_frame_bands VALUES (?,?)", ((k, clip) for k in band_keys(h)))
        conn.executemany("INSERT OR IGNORE INTO orig_audio VALUES (?,?,?)",
                         ((int(a), clip, int(b)) for a, b in pairs.tolist()))
    return True


def _clip_id(conn, content_hash: str):
    row = conn.execute("SELECT id FROM orig_clips WHERE content_hash=?", (content_hash,)).fetchone()
    return row[0] if row else None


def _chunks(seq, n=SQL_CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _video_matches(conn, me: int | None, t: np.ndarray, h: np.ndarray) -> list[Match]:
    if len(h) == 0:
        return []
    hits: Counter = Counter()
    for chunk in _chunks(band_keys(h, radius=BAND_RADIUS)):
        q = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT band, clip FROM orig_frame_bands WHERE band IN ({q})", chunk
        ).fetchall()
        per_band = Counter(b for b, _ in rows)
        for band, clip in rows:
            if clip != me and per_band[band] <= MAX_BAND_POSTINGS:
                hits[clip] += 1
    out = []
    for clip, n in hits.most_common(MAX_CANDIDATES):
        if n < MIN_BAND_HITS:
            break
        path, tb, hb, chash = conn.execute(
            "SELECT path, frame_times, frame_hashes, content_hash FROM orig_clips WHERE id=?", (clip,)).fetchone()
        ot = np.frombuffer(tb, dtype="<f8")
        oh = np.frombuffer(hb, dtype="<u8").astype(np.uint64)
        if len(oh) == 0:
            continue
        d = hamming(h, oh)
        best = d.argmin(axis=1)
        matched = d[np.arange(len(h)), best] <= FRAME_MATCH_BITS
        share = float(matched.mean())
        if share >= NEAR_DUPLICATE_SHARE:
            offset = float(np.median(ot[best[matched]] - t[matched]))
            out.append(Match("near_duplicate", path, round(share, 3), round(offset, 2), chash,
                             f"{matched.sum()} of {len(h)} sampled frames match"))
    return out


def _audio_matches(conn, me: int | None, pairs: np.ndarray, hop_s: float) -> list[Match]:
    if len(pairs) == 0:
        return []
    qmap: dict[int, list[int]] = defaultdict(list)
    for a, b in pairs.tolist():
        qmap[a].append(b)
    votes: dict[int, Counter] = defaultdict(Counter)
    for chunk in _chunks(sorted(qmap)):
        q = ",".join("?" * len(chunk))
        rows = conn.execute(f"SELECT hash, clip, t FROM orig_audio WHERE hash IN ({q})", chunk).fetchall()
        clips_per_hash: dict[int, set] = defaultdict(set)
        for hsh, clip, _ in rows:
            clips_per_hash[hsh].add(clip)
        for hsh, clip, t in rows:
            if clip == me or len(clips_per_hash[hsh]) > MAX_AUDIO_POSTINGS:
                continue
            for tq in qmap[hsh]:
                votes[clip][(t - tq) // OFFSET_BIN_FRAMES] += 1
    out = []
    n = len(pairs)
    for clip, c in votes.items():
        (off_bin, v), = c.most_common(1)
        v += max(c.get(off_bin - 1, 0), c.get(off_bin + 1, 0))  # an offset on a bin edge splits its votes
        if v >= MIN_AUDIO_VOTES and v / n >= MIN_AUDIO_SHARE:
            path, chash = conn.execute("SELECT path, content_hash FROM orig_clips WHERE id=?", (clip,)).fetchone()
            out.append(Match("soundtrack", path, round(min(1.0, v / n), 3),
                             round((off_bin + 0.5) * OFFSET_BIN_FRAMES * hop_s, 2), chash,
                             f"{v} of {n} audio landmarks agree"))
    return out


def find_matches(store, content_hash: str, fv=None) -> list[Match]:
    """Clips in the index that are near-duplicates of this one, or share its soundtrack; best first.

    The clip is read from the index (or from ``fv`` when given). A clip that is a near-duplicate of another is
    not also listed as that clip's soundtrack match. Exact copies (the same content hash at another path in the
    store's clips table) come first with similarity 1.
    """
    conn = _conn(store)
    me = _clip_id(conn, content_hash)
    if fv is not None:
        t, h = frame_hashes(fv)
        pairs, hop = audio_pairs(fv)
    elif me is not None:
        tb, hb, hop = conn.execute("SELECT frame_times, frame_hashes, fp_hop_s FROM orig_clips WHERE id=?", (me,)).fetchone()
        t, h = np.frombuffer(tb, dtype="<f8"), np.frombuffer(hb, dtype="<u8").astype(np.uint64)
        rows = conn.execute("SELECT hash, t FROM orig_audio WHERE clip=?", (me,)).fetchall()
        pairs = np.array(rows, dtype=np.uint32).reshape(-1, 2)
    else:
        return []
    out: list[Match] = []
    my_path = conn.execute("SELECT path FROM orig_clips WHERE id=?", (me,)).fetchone() if me is not None else None
    try:
        copies = conn.execute("SELECT path FROM clips WHERE content_hash=?", (content_hash,)).fetchall()
    except Exception:  # a bare connection without the store's clips table
        copies = []
    mine = {my_path[0]} if my_path else set()
    for (p,) in copies:
        if p not in mine and len(copies) > 1:
            out.append(Match("near_duplicate", p, 1.0, 0.0, content_hash, "an identical file"))
    video = _video_matches(conn, me, t, h)
    dup_hashes = {m.other_hash for m in video}
    audio = [m for m in _audio_matches(conn, me, pairs, hop) if m.other_hash not in dup_hashes]
    out += sorted(video, key=lambda m: -m.similarity) + sorted(audio, key=lambda m: -m.similarity)
    # One entry per other clip path (an identical copy is also a frame match of itself).
    seen, unique = set(), []
    for m in out:
        if m.other_path not in seen and m.other_path not in mine:
            seen.add(m.other_path)
            unique.append(m)
    return unique


# -- corner overlays -----------------------------------------------------------------------------------------

CORNER_WORDS = {"top_left": "top-left", "top_right": "top-right", "bottom_left": "bottom-left",
                "bottom_right": "bottom-right"}


#: An overlay box counts as on-screen caption text when this share of it is covered by OCR text boxes.
TEXT_COVER_SHARE = 0.3


def _on_text(box, text_boxes) -> bool:
    if not box:
        return False
    area = max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))
    covered = 0.0
    for t in text_boxes:
        ix = max(0.0, min(box[2], t[2]) - max(box[0], t[0]))
        iy = max(0.0, min(box[3], t[3]) - max(box[1], t[1]))
        covered += ix * iy
    return covered / area >= TEXT_COVER_SHARE


def overlay_summary(fv) -> dict:
    """{"status": "overlay" | "clear" | "unknown", "corners": [names], "boxes": {...}, "reason": text}."""
    d = (fv.events if fv is not None else {}).get("overlay.corners")
    if not d:
        return {"status": "unknown", "corners": [], "boxes": {}, "reason": "no video frames were checked"}
    if d.get("status") == "too_short":
        return {"status": "unknown", "corners": [], "boxes": {},
                "reason": f"too few frames to judge ({d.get('span_s', 0):.1f} s sampled)"}
    found = {k: v for k, v in d.get("corners", {}).items() if v.get("status") == "overlay"}
    text_boxes = [line[2] for line in (fv.text.get("ocr") or []) if len(line) > 2 and line[2]]
    captions = sorted(k for k, v in found.items() if _on_text(v.get("box"), text_boxes))
    for k in captions:  # burned-in caption text the OCR read: the creator's own words, not another app's logo
        del found[k]
    if found:
        return {"status": "overlay", "corners": sorted(found), "boxes": {k: v["box"] for k, v in found.items()},
                "reason": "a persistent logo-like overlay in the " + ", ".join(CORNER_WORDS[k] for k in sorted(found))
                + " corner"}
    static = [k for k, v in d.get("corners", {}).items() if v.get("status") == "static"]
    if len(static) == len(d.get("corners", {})) and static:
        return {"status": "unknown", "corners": [], "boxes": {},
                "reason": "the corners never change (a locked-off shot), so a burned-in logo cannot be told apart"}
    return {"status": "clear", "corners": [], "boxes": {}, "reason": "no persistent overlay in the corners"}


def originality_report(store, content_hash: str | None, path: str, fv) -> dict:
    """Index a clip and find its matches in the library (``status`` "indexed"), with the corner-overlay summary;
    without a store or a content hash, the overlay alone (``status`` "not_indexed")."""
    overlay = overlay_summary(fv)
    if store is None or not content_hash:
        return {"status": "not_indexed", "matches": [], "overlay": overlay}
    index_clip(store, content_hash, path, fv)
    matches = find_matches(store, content_hash)
    return {"status": "indexed", "matches": [m.as_dict() for m in matches], "overlay": overlay}
