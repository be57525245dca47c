"""Persistent overlays in the corners: a logo or watermark another app burned into the clip.

A burned-in logo is the part of the picture that does not move while everything around it does: its edges are
present in nearly every frame, at the same pixels, with the same brightness. A few frames a second, for each of
the four corner regions, this extractor accumulates per pixel how often a strong edge is there, and the mean and
variance of the luma over time. At the end, a corner holds an overlay when

* a compact group of pixels has an edge in at least ``PERSIST_SHARE`` of the frames and a steady luma, and
* the picture around that group changes (otherwise a locked-off camera's static background would look the same;
  such a corner is reported as "cannot tell").

Output: ``fv.events["overlay.corners"]`` = {"samples", "span_s", "corners": {name: {"status": "overlay" |
"clear" | "static", "box": [x0, y0, x1, y1] (0-1 of the frame) | None, "edge_px": n, "changing_share": 0-1}}}.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...features import FeatureVector
from ..base import ClipContext, EventSpec, Extractor, register

#: Frames sampled per second. An overlay persists for the whole clip, so a few samples a second are plenty.
SAMPLES_PER_S = 3.0
#: Corner regions: this share of the frame's width and height from each corner. App watermarks (TikTok, CapCut,
#: Instagram) sit within about a quarter of the width and a sixth of the height from a corner.
CORNER_W = 0.34
CORNER_H = 0.16
#: A pixel is an edge when its Sobel gradient magnitude (|dx| + |dy|, luma levels) exceeds this. Text and logo
#: outlines on video give well over 100; smooth background texture far less.
EDGE_MAGNITUDE = 80.0
#: A pixel belongs to an overlay when it is an edge in at least this share of the sampled frames ...
PERSIST_SHARE = 0.85
#: ... and its luma varies over time by at most this standard deviation (luma levels).
STEADY_STD = 14.0
#: A pixel of the background "changes" when its luma standard deviation over time exceeds this.
CHANGING_STD = 18.0
#: An overlay needs at least this many persistent edge pixels (at 360 px analysis size) ...
MIN_OVERLAY_PX = 40
#: ... and the ring around its bounding box must be changing on at least this share of its pixels.
MIN_RING_CHANGING = 0.45
#: Both sides of an overlay's box must be at least this many pixels: the edge of a letterbox or pillarbox bar is
#: also persistent but is a line 1-3 px wide (seen on a pillarboxed real clip).
MIN_OVERLAY_SIDE_PX = 6
#: At least this many samples spanning this many seconds before any verdict is given.
MIN_SAMPLES = 6
MIN_SPAN_S = 1.5
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")


def corner_slices(h: int, w: int) -> dict:
    ch, cw = max(8, int(h * CORNER_H)), max(8, int(w * CORNER_W))
    return {
        "top_left": (slice(0, ch), slice(0, cw)),
        "top_right": (slice(0, ch), slice(w - cw, w)),
        "bottom_left": (slice(h - ch, h), slice(0, cw)),
        "bottom_right": (slice(h - ch, h), slice(w - cw, w)),
    }


def judge_corner(edge_count: np.ndarray, luma_sum: np.ndarray, luma_sq: np.ndarray, n: int) -> dict:
    """Verdict for one corner from its accumulators (counts and sums over ``n`` frames). Box is in corner pixels."""
    mean = luma_sum / n
    std = np.sqrt(np.maximum(0.0, luma_sq / n - mean * mean))
    changing = std > CHANGING_STD
    persistent = (edge_count >= PERSIST_SHARE * n) & (std <= STEADY_STD)
    changing_share = float(changing.mean())
    out = {"status": "clear", "box": None, "edge_px": int(persistent.sum()), "changing_share": round(changing_share, 3)}
    if persistent.sum() < MIN_OVERLAY_PX:
        if changing_share < 0.2:
            out["status"] = "static"
        return out
    # The largest group of persistent edge pixels (letters of a logo joined by a closing).
    mask = cv2.morphologyEx(persistent.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    num, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if num <= 1:
        return out
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh = (int(v) for v in stats[best, :4])
    group = (labels == best) & persistent
    if group.sum() < MIN_OVERLAY_PX:
        return out
    hh, ww = mask.shape
    pad_y, pad_x = max(3, bh // 3), max(3, bw // 3)
    y0, y1, x0, x1 = max(0, y - pad_y), min(hh, y + bh + pad_y), max(0, x - pad_x), min(ww, x + bw + pad_x)
    ring = np.zeros_like(mask, dtype=bool)
    ring[y0:y1, x0:x1] = True
    ring[y : y + bh, x : x + bw] = False
    ring_changing = float(changing[ring].mean()) if ring.any() else 0.0
    out["ring_changing"] = round(ring_changing, 3)
    out["edge_px"] = int(group.sum())
    if ring_changing >= MIN_RING_CHANGING and bw * bh < 0.6 * hh * ww and min(bw, bh) >= MIN_OVERLAY_SIDE_PX:
        out["status"] = "overlay"
        out["box"] = [x, y, x + bw, y + bh]
    elif changing_share < 0.2:
        out["status"] = "static"
    return out


@register
class CornerOverlay(Extractor):
    name = "corner_overlay"
    modality = "visual"
    stage = "visual"
    EVENTS = (
        EventSpec("overlay.corners", "{samples, span_s, corners: {name: {status, box, edge_px, changing_share}}}",
                  "Persistent logos or watermarks in the four corners (see the module docstring)."),
    )

    def begin(self, ctx: ClipContext) -> None:
        self.next_t = 0.0
        self.n = 0
        self.t0 = self.t1 = None
        self.acc: dict = {}
        self.shape = None

    def on_frame(self, frame, ctx: ClipContext) -> None:
        if frame.t_s + 1e-6 < self.next_t:
            return
        self.next_t = frame.t_s + 1.0 / SAMPLES_PER_S
        g = frame.gray
        if self.shape is None:
            self.shape = g.shape
            self.slices = corner_slices(*g.shape)
            for name, (sy, sx) in self.slices.items():
                h, w = sy.stop - sy.start, sx.stop - sx.start
                self.acc[name] = [np.zeros((h, w), np.int32), np.zeros((h, w), np.float64), np.zeros((h, w), np.float64)]
        elif g.shape != self.shape:
            return  # a resolution change mid-clip: keep the first geometry
        for name, (sy, sx) in self.slices.items():
            region = g[sy, sx]
            dx = cv2.Sobel(region, cv2.CV_16S, 1, 0, ksize=3)
            dy = cv2.Sobel(region, cv2.CV_16S, 0, 1, ksize=3)
            mag = cv2.add(cv2.convertScaleAbs(dx), cv2.convertScaleAbs(dy))
            a = self.acc[name]
            a[0] += mag > EDGE_MAGNITUDE
            r = region.astype(np.float64)
            a[1] += r
            a[2] += r * r
        self.n += 1
        self.t0 = frame.t_s if self.t0 is None else self.t0
        self.t1 = frame.t_s

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        if not self.n:
            return
        span = float(self.t1 - self.t0)
        out = {"samples": self.n, "span_s": round(span, 2), "corners": {}}
        if self.n < MIN_SAMPLES or span < MIN_SPAN_S:
            out["status"] = "too_short"
            fv.events["overlay.corners"] = out
            return
        h, w = self.shape
        for name, (sy, sx) in self.slices.items():
            verdict = judge_corner(*self.acc[name], self.n)
            if verdict["box"] is not None:
                x0, y0, x1, y1 = verdict["box"]
                verdict["box"] = [round((sx.start + x0) / w, 3), round((sy.start + y0) / h, 3),
                                  round((sx.start + x1) / w, 3), round((sy.start + y1) / h, 3)]
            out["corners"][name] = verdict
        fv.events["overlay.corners"] = out
