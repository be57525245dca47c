"""Per-frame data for originality and the insights (hook, retention): perceptual hashes of sampled frames and a
cheap on-screen-change signal, collected during the one decode pass.

Every ``FRAME_STEP_S`` the 360 px luma frame is reduced to a 32x32 thumbnail (letterbox bars and a fixed margin
cropped first). From the thumbnail come

* a 64-bit DCT perceptual hash (pHash: the signs of the 8x8 lowest DCT coefficients against their median, as in
  Zauner, "Implementation and Benchmarking of Perceptual Image Hash Functions", 2010) of the mean of the last
  ``HASH_WINDOW`` thumbnails (1 s). Averaging over time makes the hash insensitive to where the samples fall: a
  copy trimmed by a few frames samples other instants, and a single-frame pHash of a moving scene flips 10-16 of
  64 bits in 0.1 s, the 1 s average 4-8 (measured on generated clips). It survives re-encoding, rescaling and
  small border crops; ``engine.originality`` indexes it to find near-duplicate clips;
* the mean luma and the mean absolute change from the previous thumbnail, which tell a black or frozen opening,
  a static shot and the first visible change without a second look at the pixels.

Output (``fv.events``, JSON-serialisable):
  ``"hash.frames"``  {"step_s", "t": [...], "phash": ["16 hex digits" | None, ...]}  (None: a flat frame, e.g.
                     black, whose hash would match every other flat frame)
  ``"hash.signal"``  {"step_s", "t": [...], "luma": [...], "change": [...]}  (luma 0-255; change in luma levels)
"""
from __future__ import annotations

import cv2
import numpy as np

from ...features import FeatureVector
from ..base import ClipContext, EventSpec, Extractor, register

#: Seconds between sampled frames. 0.2 s (5 a second) locates the first visible change of a hook to within
#: 0.2 s; hashing every other sample (0.4 s) is dense enough to survive trims of a few frames.
FRAME_STEP_S = 0.2
#: Every this many samples a frame is hashed (0.4 s apart).
HASH_EVERY = 2
#: Thumbnails averaged for one hash (the last 1 s of samples).
HASH_WINDOW = 5
#: Thumbnail side for the DCT (pHash uses 32x32 and keeps the 8x8 lowest frequencies).
THUMB_PX = 32
HASH_DCT_PX = 8
#: Share of each side cropped before hashing, after letterbox bars are removed: a copy whose borders were
#: cropped by a few percent still shows the same central picture.
HASH_MARGIN = 0.08
#: A row or column is a letterbox bar when its mean luma is below this and its spread is small (BT.601 black
#: is luma 16; encoders leave a few levels of noise).
BAR_MAX_LUMA = 24.0
BAR_MAX_STD = 6.0
#: Letterbox bars are removed up to this share of each dimension.
BAR_MAX_SHARE = 0.3
#: A thumbnail whose luma spread is below this is flat (black, a solid colour): its hash carries no identity.
FLAT_STD = 4.0


def crop_for_hash(gray: np.ndarray) -> np.ndarray:
    """The picture without letterbox bars and without ``HASH_MARGIN`` of each side.

    gray : np.ndarray [shape=(h, w), dtype=uint8]
    """
    h, w = gray.shape
    rows = gray.mean(axis=1), gray.std(axis=1)
    cols = gray.mean(axis=0), gray.std(axis=0)

    def bar_len(means, stds, n):
        k = 0
        lim = int(n * BAR_MAX_SHARE)
        while k < lim and means[k] < BAR_MAX_LUMA and stds[k] < BAR_MAX_STD:
            k += 1
        return k

    top = bar_len(rows[0], rows[1], h)
    bottom = bar_len(rows[0][::-1], rows[1][::-1], h)
    left = bar_len(cols[0], cols[1], w)
    right = bar_len(cols[0][::-1], cols[1][::-1], w)
    g = gray[top : h - bottom, left : w - right]
    if g.shape[0] < 16 or g.shape[1] < 16:
        g = gray
    gh, gw = g.shape
    my, mx = int(gh * HASH_MARGIN), int(gw * HASH_MARGIN)
    return g[my : gh - my, mx : gw - mx]


#: Letterbox bars are looked for on the frame reduced by this factor (area average): bars are tens of pixels
#: tall, and the row/column statistics cost 16x less.
BAR_SEARCH_REDUCE = 4


def reduced(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    return cv2.resize(gray, (max(16, w // BAR_SEARCH_REDUCE), max(16, h // BAR_SEARCH_REDUCE)),
                      interpolation=cv2.INTER_AREA)


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """32x32 float32 thumbnail (area-averaged) of the hash crop. gray : uint8 [shape=(h, w)] (any size >= 16)."""
    return cv2.resize(crop_for_hash(gray), (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA).astype(np.float32)


def phash64(thumb: np.ndarray) -> int | None:
    """64-bit DCT perceptual hash of a 32x32 thumbnail; None for a flat thumbnail."""
    if float(thumb.std()) < FLAT_STD:
        return None
    coeffs = cv2.dct(thumb)[:HASH_DCT_PX, :HASH_DCT_PX].flatten()
    bits = coeffs > np.median(coeffs[1:])
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


@register
class FrameHashes(Extractor):
    name = "frame_hashes"
    modality = "visual"
    stage = "visual"
    EVENTS = (
        EventSpec("hash.frames", "{step_s, t: [s], phash: [16 hex digits | None]}",
                  "64-bit perceptual hashes of sampled frames (engine.originality)."),
        EventSpec("hash.signal", "{step_s, t: [s], luma: [0-255], change: [0-255]}",
                  "Mean luma and frame-to-frame change of the sampled frames."),
    )

    def begin(self, ctx: ClipContext) -> None:
        self.next_t = 0.0
        self.t: list[float] = []
        self.luma: list[float] = []
        self.change: list[float] = []
        self.hash_t: list[float] = []
        self.hashes: list[str | None] = []
        self.prev = None
        self.window: list[np.ndarray] = []

    def on_frame(self, frame, ctx: ClipContext) -> None:
        if frame.t_s + 1e-6 < self.next_t:
            return
        self.next_t = max(self.next_t + FRAME_STEP_S, frame.t_s + FRAME_STEP_S / 2)
        small = reduced(frame.gray)
        thumb = thumbnail(small)
        self.t.append(round(frame.t_s, 3))
        self.luma.append(round(float(small.mean()), 2))
        self.change.append(round(float(np.abs(thumb - self.prev).mean()), 3) if self.prev is not None else 0.0)
        self.prev = thumb
        self.window.append(thumb)
        if len(self.window) > HASH_WINDOW:
            self.window.pop(0)
        if (len(self.t) - 1) % HASH_EVERY == 0:
            h = phash64(np.mean(self.window, axis=0))
            self.hash_t.append(round(frame.t_s, 3))
            self.hashes.append(f"{h:016x}" if h is not None else None)

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        if not self.t:
            return
        fv.events["hash.frames"] = {"step_s": FRAME_STEP_S * HASH_EVERY, "t": self.hash_t, "phash": self.hashes}
        fv.events["hash.signal"] = {"step_s": FRAME_STEP_S, "t": self.t, "luma": self.luma, "change": self.change}
