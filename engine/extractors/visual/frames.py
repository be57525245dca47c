"""Cheap views of a decoded frame, shared by the visual extractors (not an extractor itself).

The visual budget is about 1 ms a frame on top of decoding (DESIGN.md: analysis should cost little more than
decoding). Measured on a 1080x1920 H.264 frame here (scripts/bench.py clip, 2 shared cores):

- ``VideoFrame.gray`` through ``av.VideoFrame.reformat``: 5.1 ms, because PyAV builds a new swscale context at
  every call; the same conversion through one kept ``VideoReformatter``: 0.75 ms (identical pixels).
- the decoder's own luma plane (no conversion): 0.004 ms for a view, 0.17 ms for a copy; every 6th pixel of it,
  box-filtered to a 90x160 thumbnail: 0.09 ms.

So every frame gets only a thumbnail made from the luma plane (cuts, freezes, motion, shake); the analysis-size
gray/colour views are made on sampled frames with a kept reformatter, and stored into the frame so that other
extractors asking ``frame.gray`` later get them for free. When a frame is not 8-bit planar YUV (or has no
``source``: a stand-in frame in a test), everything falls back to the ``gray``/``rgb`` properties.
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

#: Short side of the per-frame thumbnail, px. 90 px (a quarter of the 360 px analysis size) still resolves
#: shots, fades and global motion to a fraction of a percent of the frame, at 1/16 of the pixels.
THUMB_SHORT_SIDE_PX = 90
#: Pixel formats whose first plane is 8-bit luma (Y) at full size.
_Y8_FORMATS = frozenset("yuv420p yuvj420p yuv422p yuvj422p yuv444p yuvj444p nv12 nv21 yuv440p yuvj440p gray".split())
#: Limited ("TV", ITU-R BT.601/709) range luma runs 16-235; this table maps it to 0-255 as swscale does for gray.
_TV_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255.0 / 219.0), 0, 255).astype(np.uint8)

#: Limited-range chroma runs 16-240 around 128; this maps it to 0-255.
_TV_CHROMA_TO_FULL = np.clip(np.round((np.arange(256) - 128) * 255.0 / 224.0 + 128), 0, 255).astype(np.uint8)

_local = threading.local()


def _reformatter():
    r = getattr(_local, "reformatter", None)
    if r is None:
        from av.video.reformatter import VideoReformatter

        r = _local.reformatter = VideoReformatter()
    return r


def _av_frame(frame):
    return getattr(frame, "source", None)


def _rotate(img: np.ndarray, rotation_deg: int) -> np.ndarray:
    k = (int(rotation_deg) // 90) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def luma_plane(frame) -> tuple[np.ndarray, bool] | None:
    """A view of the decoder's 8-bit luma plane as stored (not rotated), and whether it is full range; None when
    the frame is not 8-bit planar YUV."""
    f = _av_frame(frame)
    if f is None or f.format.name not in _Y8_FORMATS:
        return None
    p = f.planes[0]
    a = np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: f.height, : f.width]
    full = f.format.name.startswith("yuvj") or f.format.name == "gray" or int(getattr(f, "color_range", 0) or 0) == 2
    return a, full


def thumbnail(frame, rotation_deg: int) -> np.ndarray:
    """Full-range luma thumbnail, short side ``THUMB_SHORT_SIDE_PX``, displayed orientation, uint8."""
    lp = luma_plane(frame)
    if lp is None:
        src, full = frame.gray, True
    else:
        src, full = lp
    h, w = src.shape
    s = min(h, w)
    stride = max(1, s // (2 * THUMB_SHORT_SIDE_PX))
    if stride > 1:
        off = stride // 2
        src = np.ascontiguousarray(src[off::stride, off::stride])
    scale = THUMB_SHORT_SIDE_PX / min(src.shape)
    if scale < 1:
        tw = max(2, int(round(src.shape[1] * scale)))
        th = max(2, int(round(src.shape[0] * scale)))
        src = cv2.resize(src, (tw, th), interpolation=cv2.INTER_AREA)
    if not full:
        src = cv2.LUT(src, _TV_TO_FULL)  # the same table as _TV_TO_FULL[src], 3x cheaper
    return _rotate(src, rotation_deg)


def analysis_gray(frame) -> np.ndarray:
    """``frame.gray``: analysis size, displayed orientation, made once per frame with the decoder's kept swscale
    context (``engine.media``) and shared by every extractor."""
    return frame.gray


_YUV420 = frozenset(("yuv420p", "yuvj420p"))


def small_rgb(frame, short_side_px: int) -> np.ndarray:
    """Colour at a small size (short side about ``short_side_px``), RGB uint8, displayed orientation.

    For 4:2:0 frames the decoder's planes are subsampled directly (luma every 2k-th pixel, chroma every k-th) and
    converted with OpenCV's BT.601 YCrCb matrix: ~0.2 ms against 2.4 ms for a swscale RGB conversion at 1080p.
    Colour statistics are means over the frame, so the small matrix difference to BT.709 does not matter.
    """
    f = _av_frame(frame)
    if f is not None and f.format.name in _YUV420 and min(f.width, f.height) >= 2 * short_side_px:
        k = max(1, min(f.width, f.height) // (2 * short_side_px))
        ch, cw = f.height // 2, f.width // 2
        planes = []
        for i, (h, w, step) in enumerate(((f.height, f.width, 2 * k), (ch, cw, k), (ch, cw, k))):
            pl = f.planes[i]
            a = np.frombuffer(pl, np.uint8).reshape(-1, pl.line_size)[:h, :w][::step, ::step]
            planes.append(a)
        hh = min(p.shape[0] for p in planes)
        ww = min(p.shape[1] for p in planes)
        y, u, v = (np.ascontiguousarray(p[:hh, :ww]) for p in planes)
        if f.format.name == "yuv420p" and int(getattr(f, "color_range", 0) or 0) != 2:
            y, u, v = _TV_TO_FULL[y], _TV_CHROMA_TO_FULL[u], _TV_CHROMA_TO_FULL[v]
        ycrcb = np.dstack([y, v, u])
        return _rotate(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB), getattr(frame, "rotation_deg", 0))
    size = getattr(frame, "analysis_size", None)
    if f is None or size is None:
        rgb = frame.rgb
        s = short_side_px / min(rgb.shape[:2])
        if s < 1:
            rgb = cv2.resize(rgb, (int(round(rgb.shape[1] * s)), int(round(rgb.shape[0] * s))),
                             interpolation=cv2.INTER_AREA)
        return rgb
    w, h = size
    s = min(1.0, short_side_px / min(w, h))
    w2, h2 = max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)
    return _rotate(_reformatter().reformat(f, width=w2, height=h2, format="rgb24").to_ndarray(), frame.rotation_deg)


def full_luma(frame) -> np.ndarray:
    """Full-size luma as stored (not rotated; codec block grids stay aligned), uint8. Range is left as coded:
    callers use it for ratios (detail bands, block-edge steps) that do not depend on the range."""
    lp = luma_plane(frame)
    if lp is None:
        return frame.full_gray
    return lp[0].copy()
