"""On-screen text: which frames to read, reading a fixed number of them with RapidOCR, and what the text does.

OCR is the costly part of the text modality, so frames are chosen cheaply while the clip decodes:

* every ``1 / ocr_scan_fps`` s the 360 px luma is reduced to a coarse *text-likeness mask*: cells covered by
  compact, wide, high-contrast stroke clusters (morphological gradient, horizontal closing, connected components
  shaped like words);
* a frame is kept for OCR when it is the first, right after a cut (thumbnail change), when the text mask
  changed markedly since the last kept frame (text appeared, moved or vanished), or when ``ocr_refresh_s``
  passed without one (a safety net for text the mask cannot see); never more than ``ocr_max_fps`` frames a second, never more than
  ``ocr_max_frames`` held (beyond that, every second one is dropped and the spacing doubles).

At most ``ocr_read_frames`` of the kept frames are read, picked in coverage order (first, last,
middle, quarters, ... so a clip with more kept frames than that still gets an even sample) at ``ocr_long_side_px``,
in time order: a frame with the same picture as the last one read gets its reading, a text box with the same
pixels as one of the last frame read keeps the words read there (``REUSE_READINGS``), and a frame kept because its
text changed only inside the last detection's boxes is read in those boxes without running the detector again
(``DETECT_NEW_TEXT_ONLY``); ``text.ocr_work`` counts each.
Reading starts while the clip still decodes (``READ_DURING_DECODE``): a thread of low priority reads the kept
frames in time order as they come, on the cores the decoder leaves idle, and ``finish()`` reads what is left. As
long as the clip cannot keep more than ``ocr_read_frames`` frames (projected from the frames kept so far), every
kept frame will be read, so the frames read early are the ones ``finish()`` would read, in the same order, by the
same reader; when more are kept, ``finish()`` drops the early readings and reads its even sample afresh. Either way
the lines are those of reading in ``finish()`` alone, however far the thread got.
The work is fixed by the clip and the config, never by the clock: the same file gives the same lines and the same
score however busy the machine is. (A stuck OCR call is caught by the clip's time limit, ``[engine]
clip_timeout_s``, which fails the clip with a plain error, never with a partial reading.) Lines that repeat across
frames are merged into one line with a start and an end; each keeps its box in displayed-frame fractions.

Metrics: how much of the clip carries text, how fast a viewer must read each screen of it (words per second),
and how much of it sits in the platform's unsafe zones (``[presets.*] unsafe_*_pct``).
"""
from __future__ import annotations

import importlib.util
import math
import re
import threading
import time
from difflib import SequenceMatcher

import cv2
import numpy as np

from ...config import preset as active_preset
from ...features import FeatureVector, MetricSpec
from ...media import VideoFrame, lower_thread_priority
from ..base import FINDINGS, ClipContext, EventSpec, Extractor, register
from .rules import word_count

# Defaults of the [text] config table (config.toml documents them; these apply when a key is missing).
# ocr_read_frames: reading costs 0.126 s a frame on average (0.02-0.28 s) on the 13 clips of ../shared/realclips,
# which keep 3-30 frames each (measured with one OCR thread on an idle machine, by running this extractor on each
# clip and dividing text.ocr_seconds by the frames read); 40 frames is about 5 s, what the former 8 s wall-clock
# budget allowed on an idle machine, and reads every kept frame of all 13 clips.
DEFAULTS = {
    "ocr_read_frames": 40,
    "ocr_long_side_px": 640,
    "ocr_scan_fps": 5.0,
    "ocr_max_fps": 2.0,
    "ocr_refresh_s": 3.0,
    "ocr_max_frames": 120,
    "ocr_min_confidence": 0.6,
    "ocr_threads": 1,
}
#: RapidOCR detector input: the long side is limited to this many pixels ("max" mode). Its default ("min" mode,
#: 736) upscales a 360x640 frame to 736x1308 and costs ~4x more for no gain on phone-sized text (measured:
#: 0.13 s vs 0.5 s a frame on one core, same lines read from a generated 360x640 frame).
DET_LIMIT_TYPE = "max"
#: Text-likeness mask, computed at half the 360 px analysis size. Strokes are found with morphological top-hat and
#: black-hat (bright or dark structures narrower than STROKE_KERNEL_PX) of at least STROKE_CONTRAST luma levels:
#: rendered and burned-in text has 100-255; the fine grain of natural texture rarely passes 70 at this scale.
STROKE_KERNEL_PX = 7
STROKE_CONTRAST = 70
#: A word-like cluster (strokes joined by a horizontal closing) is at least WORD_ASPECT times as wide as tall and
#: WORD_MIN_W_PX wide, its strokes fill WORD_FILL of its box, and its height is WORD_MIN_H-WORD_MAX_H of the frame
#: height (below ~13 px at 640 px text is hard to read on a phone; above, it is a shape). Measured on 5 generated
#: scenes x 9 scan pairs 0.2 s apart while panning: 4 of 45 pairs read as changed; 18 of 20 rendered lines (14-50 px
#: cap height, boxed or not) read as changed when they appear (6-30 cells).
WORD_ASPECT = 2.0
WORD_MIN_W_PX = 14
WORD_FILL = 0.3
WORD_MIN_H, WORD_MAX_H = 0.02, 0.12
#: Horizontal closings that join letters into words: (gap px at half size, minimum cluster height as a share of
#: the frame height). 5 px for phone-sized text; 11 px for big titles only (a 50 px cap-height title has letter
#: gaps of ~8 px at half size), since at small heights the wide closing joins texture grain into "words".
LETTER_GAPS = ((5, WORD_MIN_H), (11, 0.04))
#: Mask cells in px at the half-size image (16 px = 32 px at 360 px wide, about one line of phone text).
CELL_PX = 16
#: The mask changed markedly when at least MASK_CHANGE_CELLS cells differ and they are at least MASK_CHANGE of the
#: cells lit in either mask (Jaccard distance).
MASK_CHANGE = 0.3
MASK_CHANGE_CELLS = 4
#: A cut: mean absolute difference of 16x16 luma thumbnails above this (luma levels). Hard cuts between
#: unrelated shots give 30-80; camera motion within a shot 3-15 (measured on generated scene sequences).
CUT_THUMB_DIFF = 25.0
#: Lines in two frames are the same line when their texts are this similar (difflib ratio, OCR jitter)...
SAME_TEXT_RATIO = 0.8
#: ... and their boxes overlap by this IoU, or their centres are this close (frame fractions).
SAME_BOX_IOU, SAME_BOX_CENTRE = 0.3, 0.08
#: ... or, for text OCR reads differently in each frame, their boxes overlap by SAME_PLACE_IOU and their texts
#: are at least SAME_PLACE_TEXT_RATIO similar.
SAME_PLACE_IOU, SAME_PLACE_TEXT_RATIO = 0.6, 0.5
#: A line is in an unsafe zone when this share of its box area lies inside one.
UNSAFE_OVERLAP_SHARE = 0.25
#: A recognised line needs this many letters or digits (single characters are mostly texture misread as text).
MIN_LINE_ALNUM = 2
#: True: a frame is chosen for changed text only when the text mask differs from the last chosen frame's at two
#: scans running (1 / ocr_scan_fps apart), and the second is read. Off: measured with scripts/ocr_tolerance.py on
#: the 13 clips of ../shared/realclips it chose 121 frames instead of 161 and cut OCR time by 31 %, but moved
#: text.onscreen_text_pct by up to 22 points and text.onscreen_reading_wps by up to 1.6 words/s on clips whose
#: text comes and goes (a small label read on other frames), beyond any tolerance we could state (docs/BENCHMARKS.md).
SETTLE_TEXT = False
#: Reading is not repeated for what was already read (issue 21: the same caption stays up over many chosen frames).
#: A chosen frame whose picture is the same as the last frame read gets that frame's lines without OCR; a text box
#: the detector finds again at the same place with the same pixels gets the words read there before (only the new
#: or changed boxes go to the recogniser). Both decisions are made from the pixels in time order, so the work and
#: the result stay a function of the file and the config. False: every chosen frame is read in full (the tests and
#: scripts/ocr_tolerance.py compare the two).
REUSE_READINGS = True
#: Two pictures (or two crops of a text box) are the same when at most SAME_PIXELS_SHARE of their pixels differ by
#: more than SAME_PIXEL_LEVELS luma levels. H.264 at phone bitrates moves a static picture's pixels by 1-4 levels
#: from frame to frame (measured: absolute difference of consecutive decoded frames of a static caption in the
#: test clips, 99.9th percentile 5 levels); a changed letter changes hundreds of pixels of its box by 50 or more.
SAME_PIXEL_LEVELS = 8
SAME_PIXELS_SHARE = 0.002
#: The detector (two thirds of OCR's time: ~50 ms of CPU a 360x640 frame, against ~30 ms to recognise a caption)
#: runs only where text may be new. A frame kept because its text mask changed ("text changed") is read in the
#: boxes of the last detection, without detecting again, when its mask differs from the mask at that detection only
#: in cells inside those boxes (text that changed in place, vanished or stayed is read there; a cell that lit up or
#: went dark outside them means text may have appeared there, and the detector runs). A frame kept for another
#: reason (first, cut, refresh), and any frame once ``ocr_refresh_s`` has passed since the last detection, is
#: detected in full. Measured with scripts/ocr_tolerance.py: the three OCR metrics identical on the 13 clips of
#: ../shared/realclips (1 of 175 frames read in its boxes) and on the 15 s / 60 s benchmark clips (4 of 14, 13 of
#: 40); counting only cells that lit up lost a label the mask cannot see on one real clip (docs/BENCHMARKS.md).
#: False: every frame not a same picture is detected.
DETECT_NEW_TEXT_ONLY = True
#: Read the kept frames while the clip decodes, in a thread of lower priority than the decoder (issue 21: OCR in
#: ``finish()`` came after the last frame, on one core, while the decoder leaves about half a core idle on this
#: 2-core machine). False: everything is read in ``finish()``; the lines are the same either way (tested).
READ_DURING_DECODE = True
#: The reading thread ends when it has waited this long for a new frame to read (a decode that stops before
#: ``finish()``, e.g. a broken file, must not leave it behind); the next kept frame starts it again. Longer than a
#: frame gap of the scan (``1 / ocr_scan_fps``) plus a slow decode of it, so it rarely restarts within a clip.
READER_IDLE_EXIT_S = 2.0
#: How often a waiting reading thread looks at the clip's cancel event. The threads are not daemons: a process that
#: exits (Ctrl-C, a failed clip) waits for them, so ONNX Runtime is never torn down under a running read; they end
#: within one frame's read plus this.
READER_POLL_S = 0.25

_ENGINE = None
_ENGINE_KEY = None
_ENGINE_LOCK = threading.Lock()


def rapidocr_available() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def get_engine(threads: int = 1, det_limit_px: int = 640):
    """One RapidOCR instance per process, created on first use (it loads three ONNX models, ~0.3 s); a new one
    only when the thread count or detector size changes."""
    global _ENGINE, _ENGINE_KEY
    key = (int(threads), DET_LIMIT_TYPE, int(det_limit_px))
    with _ENGINE_LOCK:
        if _ENGINE is None or _ENGINE_KEY != key:
            import logging

            from rapidocr_onnxruntime import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            _ENGINE = RapidOCR(det_limit_side_len=key[2], det_limit_type=DET_LIMIT_TYPE, use_cls=False,
                               intra_op_num_threads=key[0], inter_op_num_threads=1, print_verbose=False)
            _ENGINE_KEY = key
        return _ENGINE


def warm_engine(threads: int = 1, det_limit_px: int = 640) -> None:
    """Create the process's RapidOCR instance in a thread of its own, unless it exists: the first clip of a
    process then loads the models while it decodes, not after (``get_engine`` waits for this if it is not done, so
    the thread keeps the caller's priority: a loaded machine must not starve it while finish() waits for it)."""
    if _ENGINE is not None and _ENGINE_KEY == (int(threads), DET_LIMIT_TYPE, int(det_limit_px)):
        return

    def run():
        try:
            get_engine(threads, det_limit_px)
        except Exception:
            pass  # finish() creates it again and says why it could not

    threading.Thread(target=run, name="byteme-ocr-load", daemon=False).start()  # not a daemon: see READER_POLL_S


def same_pixels(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """The same picture (or crop): same shape, at most SAME_PIXELS_SHARE of pixels off by SAME_PIXEL_LEVELS."""
    if a is None or b is None or a.shape != b.shape or a.size == 0:
        return False
    return np.count_nonzero(cv2.absdiff(a, b) > SAME_PIXEL_LEVELS) <= SAME_PIXELS_SHARE * a.size


class KeptFrame:
    """A frame the frame choice kept for reading: its time, why it was kept, its text mask, the size of the luma the
    mask was computed on, and the image to read (``OnScreenText._ocr_image``)."""

    __slots__ = ("gray_shape", "img", "mask", "reason", "t_s")

    def __init__(self, t_s: float, reason: str, mask: np.ndarray, gray_shape: tuple, img: np.ndarray | None = None):
        self.t_s, self.reason, self.mask, self.gray_shape, self.img = t_s, reason, mask, gray_shape, img


class _Reader:
    """RapidOCR on a sequence of frames in time order, without reading again what it just read
    (``REUSE_READINGS``). ``read(img)`` returns what ``engine(img, use_cls=False)[0]`` returns:
    [[box points, text, score], ...] or None. An engine without RapidOCR's steps (a test double) is called whole,
    and only same-picture frames are reused."""

    _STEPS = ("preprocess", "maybe_add_letterbox", "auto_text_det", "get_crop_img_list", "text_rec",
              "_get_origin_points", "filter_result")

    def __init__(self, engine, reuse: bool = True, refresh_s: float = DEFAULTS["ocr_refresh_s"]):
        self.engine, self.reuse, self.refresh_s = engine, reuse, float(refresh_s)
        self.new_text_only = DETECT_NEW_TEXT_ONLY
        self.steps = reuse and all(hasattr(engine, a) for a in self._STEPS)
        self.last_img = None
        self.last_raw = None
        self.last_crops: list[tuple[np.ndarray, tuple]] = []  # (crop, recognition) of the last frame read
        self.last_det = None  # (hint, image shape, boxes) of the last detection (DETECT_NEW_TEXT_ONLY)
        self.work = {"frames": 0, "same_picture": 0, "detected": 0, "boxes_only": 0, "boxes": 0, "boxes_reused": 0}

    def read(self, img: np.ndarray, hint: KeptFrame | None = None):
        """``hint``: why the frame was kept and its text mask (``DETECT_NEW_TEXT_ONLY``); None: detect."""
        self.work["frames"] += 1
        if self.reuse and same_pixels(img, self.last_img):
            self.work["same_picture"] += 1
            return self.last_raw  # last_img stays the frame actually read: no drift through a slow change
        raw = None
        if self.steps:
            try:
                raw = self._read_steps(img, hint)
            except (TypeError, ValueError, AttributeError, KeyError):
                # another RapidOCR version with other steps: read whole from now on (no box reuse), same lines
                self.steps = False
                self.last_crops = []
        if not self.steps:
            self.work["detected"] += 1
            raw = self.engine(img, use_cls=False)[0]
        self.last_img, self.last_raw = img, raw
        return raw

    def _boxes_still_hold(self, img: np.ndarray, hint: KeptFrame | None) -> bool:
        """DETECT_NEW_TEXT_ONLY: may this frame be read in the last detection's boxes?"""
        if not (self.reuse and self.new_text_only and hint is not None and self.last_det is not None):
            return False
        ref, shape, boxes = self.last_det
        if hint.reason != "text changed" or img.shape != shape or hint.mask.shape != ref.mask.shape \
                or hint.t_s - ref.t_s >= self.refresh_s:
            return False
        new = hint.mask ^ ref.mask
        if not new.any():
            return True
        cell_h = 2 * CELL_PX * shape[0] / ref.gray_shape[0]  # a mask cell in this image's pixels
        cell_w = 2 * CELL_PX * shape[1] / ref.gray_shape[1]
        for b in boxes:
            x0, y0 = np.min(b, axis=0)
            x1, y1 = np.max(b, axis=0)
            new[max(0, int(y0 // cell_h)):int(math.ceil(y1 / cell_h)),
                max(0, int(x0 // cell_w)):int(math.ceil(x1 / cell_w))] = False
        return not new.any()

    def _read_steps(self, img: np.ndarray, hint: KeptFrame | None = None):
        """RapidOCR's own ``__call__`` (det, crops, rec; no classifier) with the recognition of a crop that matches a
        crop of the last frame read taken from there, and the detection of the last detected frame when no text
        can be new here (``DETECT_NEW_TEXT_ONLY``)."""
        e = self.engine
        raw_h, raw_w = img.shape[:2]
        im = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img
        im, ratio_h, ratio_w = e.preprocess(im)
        op = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        im, op = e.maybe_add_letterbox(im, op)
        padded = any(op.get("padding_1", {}).values())
        if not padded and self._boxes_still_hold(img, hint):
            self.work["boxes_only"] += 1
            boxes = self.last_det[2] if len(self.last_det[2]) else None
        else:
            self.work["detected"] += 1
            boxes, _ = e.auto_text_det(im)
            self.last_det = (hint, img.shape, boxes if boxes is not None else []) if hint is not None else None
        if boxes is None:
            self.last_crops = []
            return None
        crops = e.get_crop_img_list(im, boxes)
        recs: list = [None] * len(crops)
        for i, crop in enumerate(crops):
            recs[i] = next((rec for old, rec in self.last_crops if same_pixels(crop, old)), None)
        todo = [i for i, r in enumerate(recs) if r is None]
        self.work["boxes"] += len(crops)
        self.work["boxes_reused"] += len(crops) - len(todo)
        if todo:
            fresh, _ = e.text_rec([crops[i] for i in todo], False)
            for i, r in zip(todo, fresh):
                recs[i] = r
        self.last_crops = list(zip(crops, recs))
        origin = e._get_origin_points(boxes, op, raw_h, raw_w)
        fb, fr = e.filter_result(origin, recs)
        if not fb or not fr:
            return None
        return [[b.tolist(), *r] for b, r in zip(fb, fr)]


class _EarlyReader:
    """Reads ``candidates[0:allowed]`` in time order with one ``_Reader``, in a thread of low priority, while the
    clip decodes. ``allow(n)`` lets it go on to frame n; ``stop()`` waits for the frame being read and returns self
    (``raws`` {index: raw reading}, ``reader``, ``seconds`` spent reading). The thread ends when it has nothing to
    read for ``READER_IDLE_EXIT_S`` (``allow`` starts it again) or when ``cancel`` is set; an error in it ends it
    quietly (``finish()`` reads the rest and meets the error itself)."""

    def __init__(self, candidates: list, threads: int, det_limit_px: int, refresh_s: float,
                 cancel: threading.Event | None):
        self.candidates, self.cancel = candidates, cancel
        self.threads, self.det_limit_px, self.refresh_s = threads, det_limit_px, refresh_s
        self.reader: _Reader | None = None
        self.raws: dict[int, object] = {}
        self.seconds = 0.0
        self.allowed = 0
        self.stopped = False
        self.failed = False
        self.thread: threading.Thread | None = None
        self.cv = threading.Condition()

    def allow(self, n: int) -> None:
        with self.cv:
            if self.stopped or self.failed:
                return
            self.allowed = max(self.allowed, n)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="byteme-ocr", daemon=False)  # not a daemon: see READER_POLL_S
                self.thread.start()
            self.cv.notify()

    def stop(self) -> _EarlyReader | None:
        with self.cv:
            self.stopped = True
            self.cv.notify()
            thread = self.thread
        if thread is not None:
            thread.join()
        return None if self.failed or self.reader is None else self

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _run(self) -> None:
        lower_thread_priority()
        try:
            if self.reader is None:
                self.reader = _Reader(get_engine(self.threads, self.det_limit_px), REUSE_READINGS, self.refresh_s)
            while True:
                with self.cv:
                    idle_s = 0.0
                    while len(self.raws) >= self.allowed and not self.stopped and not self._cancelled():
                        if idle_s >= READER_IDLE_EXIT_S:
                            self.thread = None  # idle: end; allow() starts a new thread
                            return
                        self.cv.wait(READER_POLL_S)
                        idle_s += READER_POLL_S
                    if self.stopped or self._cancelled():
                        self.thread = None
                        return
                    i = len(self.raws)
                    kept = self.candidates[i]
                t0 = time.monotonic()
                raw = self.reader.read(kept.img, kept)
                self.seconds += time.monotonic() - t0
                self.raws[i] = raw
        except Exception:
            with self.cv:
                self.failed = True
                self.thread = None


def text_mask(gray: np.ndarray) -> np.ndarray:
    """Coarse boolean grid of the cells covered by word-like stroke clusters.

    gray : np.ndarray [shape=(h, w), dtype=uint8] at the analysis size. Returns bool [shape=(ceil(h/2/CELL_PX),
    ceil(w/2/CELL_PX))]. About 2 ms for a 360x640 frame.
    """
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (STROKE_KERNEL_PX, STROKE_KERNEL_PX))
    bright = cv2.morphologyEx(small, cv2.MORPH_TOPHAT, kernel)
    dark = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, kernel)
    strokes = ((bright >= STROKE_CONTRAST) | (dark >= STROKE_CONTRAST)).astype(np.uint8)
    grid = np.zeros((math.ceil(sh / CELL_PX), math.ceil(sw / CELL_PX)), bool)
    hi = WORD_MAX_H * sh
    for gap, min_h in LETTER_GAPS:  # small text has narrow letter gaps, big titles wide ones
        joined = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, np.ones((1, gap), np.uint8))
        _, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        lo = min_h * sh
        for x, y, cw, ch, area in stats[1:]:
            if lo <= ch <= hi and cw >= max(WORD_ASPECT * ch, WORD_MIN_W_PX) and area >= WORD_FILL * cw * ch:
                grid[y // CELL_PX:(y + ch - 1) // CELL_PX + 1, x // CELL_PX:(x + cw - 1) // CELL_PX + 1] = True
    return grid


def mask_change(a: np.ndarray, b: np.ndarray | None) -> float:
    """Jaccard distance of two masks (0 = same cells, 1 = disjoint); 1 when one is missing, 0 when both empty."""
    if b is None or a.shape != b.shape:
        return 1.0
    union = np.count_nonzero(a | b)
    return 0.0 if union == 0 else np.count_nonzero(a ^ b) / union


def mask_changed(a: np.ndarray, b: np.ndarray | None) -> bool:
    """Text appeared, moved or vanished: enough cells differ, and they are a large share of the lit cells."""
    if b is None or a.shape != b.shape:
        return bool(a.any())
    return np.count_nonzero(a ^ b) >= MASK_CHANGE_CELLS and mask_change(a, b) >= MASK_CHANGE


def coverage_order(n: int) -> list[int]:
    """Indices 0..n-1 in an order that samples the whole range evenly at every prefix: first, last, middle,
    quarters, eighths, ... (so any prefix of it still covers the clip)."""
    if n <= 0:
        return []
    order, seen = [], set()

    def add(i):
        if 0 <= i < n and i not in seen:
            seen.add(i)
            order.append(i)

    add(0)
    add(n - 1)
    step = n - 1
    while step > 1:
        half = step / 2
        k = half
        while k < n - 1:
            add(int(round(k)))
            k += step
        step = half
    for i in range(n):
        add(i)
    return order


def _box_fraction(points, w: int, h: int) -> list[float]:
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    x0, y0 = p.min(axis=0)
    x1, y1 = p.max(axis=0)
    return [round(float(max(0.0, x0 / w)), 4), round(float(max(0.0, y0 / h)), 4),
            round(float(min(1.0, x1 / w)), 4), round(float(min(1.0, y1 / h)), 4)]


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _same_line(a: dict, b: dict) -> bool:
    ta, tb = _norm(a["text"]), _norm(b["text"])
    ratio = 1.0 if ta == tb else SequenceMatcher(None, ta, tb).ratio()
    iou = _iou(a["box"], b["box"])
    if ratio >= SAME_TEXT_RATIO:
        ca = ((a["box"][0] + a["box"][2]) / 2, (a["box"][1] + a["box"][3]) / 2)
        cb = ((b["box"][0] + b["box"][2]) / 2, (b["box"][1] + b["box"][3]) / 2)
        return iou >= SAME_BOX_IOU or math.dist(ca, cb) <= SAME_BOX_CENTRE
    # stylised text is misread differently from frame to frame: the same place and half the letters is the same line
    return iou >= SAME_PLACE_IOU and ratio >= SAME_PLACE_TEXT_RATIO


def unsafe_zones(preset: dict) -> list[tuple[str, list[float]]]:
    """(name, [x0, y0, x1, y1] in frame fractions) of the active preset's unsafe zones."""
    zones = []
    top = float(preset.get("unsafe_top_pct", 0)) / 100
    bottom = float(preset.get("unsafe_bottom_pct", 0)) / 100
    right = float(preset.get("unsafe_right_pct", 0)) / 100
    right_from = float(preset.get("unsafe_right_from_pct", 0)) / 100
    left = float(preset.get("unsafe_left_pct", 0)) / 100
    if top > 0:
        zones.append(("top", [0.0, 0.0, 1.0, top]))
    if bottom > 0:
        zones.append(("bottom", [0.0, 1.0 - bottom, 1.0, 1.0]))
    if right > 0:
        zones.append(("right", [1.0 - right, right_from, 1.0, 1.0]))
    if left > 0:
        zones.append(("left", [0.0, 0.0, left, 1.0]))
    return zones


def zone_of(box, zones) -> str | None:
    """The unsafe zone holding the largest share of ``box`` when that share is at least UNSAFE_OVERLAP_SHARE."""
    area = max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))
    best, best_share = None, 0.0
    for name, z in zones:
        ix = max(0.0, min(box[2], z[2]) - max(box[0], z[0]))
        iy = max(0.0, min(box[3], z[3]) - max(box[1], z[1]))
        share = ix * iy / area
        if share > best_share:
            best, best_share = name, share
    return best if best_share >= UNSAFE_OVERLAP_SHARE else None


def build_lines(frames: list[tuple[float, list[dict]]], end_s: float) -> list[dict]:
    """Merge per-frame OCR lines into lines with a start and an end.

    frames : [(t_s, [{"text", "box", "confidence"}, ...]), ...] sorted by time (only frames that were read).
    A line seen in consecutive read frames is one line; it ends at the first read frame that lacks it (or at
    ``end_s``). Returns [{"start_s", "end_s", "text", "box", "confidence", "screen"}] where ``screen`` numbers
    the frame the line first appeared in (lines that appear together are read together).
    """
    open_lines: list[dict] = []
    done: list[dict] = []
    for k, (t, lines) in enumerate(frames):
        still = []
        used = set()
        for ol in open_lines:
            match = next((j for j, ln in enumerate(lines) if j not in used and _same_line(ol, ln)), None)
            if match is None:
                ol["end_s"] = t
                done.append(ol)
            else:
                used.add(match)
                ln = lines[match]
                if ln["confidence"] > ol["confidence"]:
                    ol.update(text=ln["text"], box=ln["box"], confidence=ln["confidence"])
                still.append(ol)
        for j, ln in enumerate(lines):
            if j not in used:
                still.append({"start_s": t, "end_s": None, "text": ln["text"], "box": ln["box"],
                              "confidence": ln["confidence"], "screen": k})
        open_lines = still
    for ol in open_lines:
        ol["end_s"] = max(end_s, ol["start_s"])
        done.append(ol)
    done.sort(key=lambda d: (d["start_s"], d["box"][1], d["box"][0]))
    for d in done:
        d["start_s"] = round(float(d["start_s"]), 3)
        d["end_s"] = round(float(d["end_s"]), 3)
        d["confidence"] = round(float(d["confidence"]), 3)
    return done


def screen_rates(lines: list[dict], end_s: float | None = None) -> list[dict]:
    """Reading rate of each screen of text (lines that appeared together): the fastest a viewer must read to finish
    each line before it goes, reading in the order the lines go (earliest deadline first): for each time a line
    goes, the words of the lines gone by then over the time since the screen appeared; the largest. [{"start_s",
    "end_s" (the deadline that needs that rate), "words" (the words due by it), "wps"}].

    All the screen's words over the shortest time any line stayed (the definition before) let one short-lived line
    set the pace for words that stayed much longer: a stray one-word reading of 0.8 s beside six words up for 8 s
    read 8.4 words/s on a realclip, 2.5 on a visually lossless re-encode of it. Lines still up when the clip ends
    (``end_s``) set no deadline (the end of the clip cut them, not an edit, and the platforms loop the clip); a
    screen with none is left out. A line back at its place after a gap (``_same_line`` as one that went before it
    came: text the reader missed for a read or two, or shows again) was read already and is due with no words."""
    screens: dict[int, list[dict]] = {}
    for ln in lines:
        screens.setdefault(ln["screen"], []).append(ln)

    def words(g: dict) -> int:
        seen = any(h is not g and h["end_s"] <= g["start_s"] and _same_line(h, g) for h in lines)
        return 0 if seen else word_count(g["text"])

    out = []
    for group in screens.values():
        start = min(g["start_s"] for g in group)
        due, best = 0, None
        for g in sorted(group, key=lambda g: g["end_s"]):
            if end_s is not None and g["end_s"] >= end_s - 1e-3:
                break
            due += words(g)
            dur = g["end_s"] - start
            if dur > 0 and due > 0 and (best is None or due / dur > best["wps"]):
                best = {"start_s": start, "end_s": round(g["end_s"], 3), "words": due, "wps": due / dur}
        if best is not None:
            out.append(best)
    return out


@register
class OnScreenText(Extractor):
    name = "onscreen_text"
    modality = "text"
    stage = "ocr"
    EVENTS = (
        EventSpec("text.ocr_seconds", "s", "Wall time spent reading text."),
        EventSpec("text.ocr_read_during_decode", "frames",
                  "Frames read while the clip decoded (the rest were read after it); depends on the machine's "
                  "speed, the readings do not."),
        EventSpec("text.ocr_work", "{frames, same_picture, detected, boxes_only, boxes, boxes_reused}",
                  "OCR work: frames read, frames given the last reading (same picture), frames through the "
                  "detector, frames read in the last detection's boxes (text changed only there), text boxes "
                  "read and boxes whose words were reused (same pixels at the same place)."),
        EventSpec("text.onscreen_screens", "[{start_s, end_s, words, wps}]", "Reading rate of each screen of text."),
        EventSpec("text.unsafe_text", "[{start_s, end_s, text, zone, box}]",
                  "Lines in a zone the platform's buttons and captions cover."),
        FINDINGS,
    )
    TEXT = ("ocr", "ocr_status", "ocr_frames_s")
    wants_frames = True
    METRICS = (
        MetricSpec("text.onscreen_text_pct", "On-screen text", "%", 0, 100, None,
                   "Share of the clip's duration with readable text on screen (OCR)."),
        MetricSpec("text.onscreen_reading_wps", "On-screen reading speed", "words/s", 0, 30, False,
                   "Words a viewer must read per second for the fastest screen of on-screen text: of the lines that "
                   "appear together, the words due by each line's exit over the time since they appeared."),
        MetricSpec("text.unsafe_zone_text_pct", "Text in unsafe zones", "%", 0, 100, False,
                   "Share of on-screen text time (line-seconds) whose box lies at least "
                   f"{UNSAFE_OVERLAP_SHARE:.0%} inside the platform's unsafe zones (bottom caption/button area, "
                   "right-side action rail, top bar), as set in the active preset."),
    )

    def begin(self, ctx: ClipContext) -> None:
        cfg = {**DEFAULTS, **{k: v for k, v in ctx.section("text").items() if k in DEFAULTS}}
        self.cfg = cfg
        self.status = None
        if ctx.options.get("ocr") is False:
            self.status = "On-screen text was not read: OCR was turned off (--no-ocr)."
        elif not rapidocr_available():
            self.status = ("On-screen text was not read: rapidocr-onnxruntime is not installed "
                           "(install it with `pip install --no-deps rapidocr-onnxruntime`, as the Makefile does).")
        elif not ctx.info.has_video:
            self.status = "On-screen text was not read: the file has no video."
        self.active = self.status is None
        if self.active and READ_DURING_DECODE:
            warm_engine(int(cfg["ocr_threads"]), max(64, int(cfg["ocr_long_side_px"])))
        self.candidates: list[KeptFrame] = []
        self.next_scan = 0.0
        self.min_gap = 1.0 / max(0.1, float(cfg["ocr_max_fps"]))
        self.scan_step = 1.0 / max(0.1, float(cfg["ocr_scan_fps"]))
        self.last_mask = None
        self.last_thumb = None
        self.last_t = -math.inf
        self.scans = 0
        self.settle = SETTLE_TEXT
        self.pending = False  # the last scan saw changed text, waiting for this one to confirm it (SETTLE_TEXT)
        self._early: _EarlyReader | None = None
        self.early_off = False  # the kept frames were thinned out: no reading before finish() for this clip
        self.read_early = 0

    # --- choosing frames, during decoding ---

    def _ocr_image(self, frame: VideoFrame) -> np.ndarray:
        want = int(self.cfg["ocr_long_side_px"])
        gray = frame.gray
        if want > max(gray.shape):
            full = frame.full_gray
            if max(full.shape) > max(gray.shape):
                gray = full
        h, w = gray.shape
        scale = min(1.0, want / max(h, w))
        if scale < 1.0:
            gray = cv2.resize(gray, (max(1, int(round(w * scale))), max(1, int(round(h * scale)))),
                              interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(gray)

    def on_frame(self, frame: VideoFrame, ctx: ClipContext) -> None:
        if not self.active or frame.t_s + 1e-6 < self.next_scan:
            return
        self.next_scan = frame.t_s + self.scan_step
        self.scans += 1
        gray = frame.gray
        mask = text_mask(gray)
        thumb = cv2.resize(gray, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
        is_cut = self.last_thumb is not None and float(np.mean(np.abs(thumb - self.last_thumb))) > CUT_THUMB_DIFF
        self.last_thumb = thumb
        since = frame.t_s - self.last_t
        reason = None
        if not self.candidates:
            reason = "first"
        elif since >= self.min_gap:
            if is_cut:
                reason = "cut"
            elif mask_changed(mask, self.last_mask):
                reason = "text changed"
            elif since >= float(self.cfg["ocr_refresh_s"]):
                reason = "refresh"  # a safety net: text the mask cannot see (small, low contrast) is still read
        if reason == "text changed" and self.settle:
            # Read changed text at the next scan that still differs from the last frame chosen: a word-like flicker
            # of the background (texture panning through the detector's shapes) rarely lasts two scans; a caption
            # that pops or types in is read a scan later, more complete.
            confirmed = self.pending
            self.pending = not confirmed
            if not confirmed:
                return
        else:
            self.pending = False
        if reason is None:
            return
        self.candidates.append(KeptFrame(frame.t_s, reason, mask, gray.shape, self._ocr_image(frame)))
        self.last_mask = mask
        self.last_t = frame.t_s
        if len(self.candidates) > int(self.cfg["ocr_max_frames"]):
            self.candidates = self.candidates[::2]
            self.min_gap *= 2
            if self._early is not None:
                self._early.stop()  # the frames moved: finish() reads its sample afresh
                self._early = None
                self.early_off = True
        self._offer_early(frame.t_s, ctx)

    def _offer_early(self, t_s: float, ctx: ClipContext) -> None:
        """Let the reading thread read the kept frames so far, while every kept frame is bound to be read: no more
        than ``ocr_read_frames`` kept yet, nor projected for the whole clip at the rate kept so far (otherwise
        ``finish()`` reads an even sample and the early readings would be wasted; the thread waits, and resumes if
        the projection drops)."""
        if not READ_DURING_DECODE or self.early_off:
            return
        n = len(self.candidates)
        limit = min(int(self.cfg["ocr_read_frames"]), int(self.cfg["ocr_max_frames"]))
        duration = float(ctx.info.duration_s or 0.0)
        projected = n * duration / (t_s + self.scan_step) if duration > 0 else n
        if n > limit or projected > limit:
            return
        if self._early is None:
            self._early = _EarlyReader(self.candidates, int(self.cfg["ocr_threads"]),
                                       max(64, int(self.cfg["ocr_long_side_px"])), float(self.cfg["ocr_refresh_s"]),
                                       ctx.cancel)
        self._early.allow(n)

    # --- reading them, after decoding ---

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        if not self.active:
            fv.text["ocr_status"] = self.status
            fv.note("text", self.status)
            return
        read_limit = max(1, int(self.cfg["ocr_read_frames"]))
        min_conf = float(self.cfg["ocr_min_confidence"])
        t0 = time.monotonic()
        early = self._early.stop() if self._early is not None else None  # waits for the frame being read
        self._early = None
        try:
            engine = get_engine(int(self.cfg["ocr_threads"]), max(64, int(self.cfg["ocr_long_side_px"])))
        except Exception as exc:  # a broken install: say so, keep the rest of the analysis
            self.status = f"On-screen text was not read: RapidOCR could not start ({type(exc).__name__}: {exc})."
            fv.text["ocr_status"] = self.status
            fv.note("text", self.status)
            return
        n = len(self.candidates)
        chosen = sorted(coverage_order(n)[:read_limit])  # a fixed choice: the clip and the config decide, not the clock
        raws: dict[int, object] = {}
        reader = None
        early_s = 0.0
        if early is not None and n <= read_limit and early.reader.reuse == REUSE_READINGS \
                and early.reader.new_text_only == DETECT_NEW_TEXT_ONLY \
                and early.reader.engine is engine:
            # Every kept frame is read, in time order: the thread read the first ones as finish() would have.
            raws, reader, early_s = dict(early.raws), early.reader, early.seconds
        reader = reader or _Reader(engine, REUSE_READINGS, float(self.cfg["ocr_refresh_s"]))
        self.read_early = len(raws)
        results: dict[int, list[dict]] = {}
        # In time order, so that each frame is compared with the one read before it (the set read is the same).
        for done, idx in enumerate(chosen):
            if ctx.cancel is not None and ctx.cancel.is_set():
                from ...errors import Cancelled

                raise Cancelled()  # the user's cancel, or the clip's time limit: the clip fails, never half-read
            kept = self.candidates[idx]
            raw = raws[idx] if idx in raws else reader.read(kept.img, kept)
            h, w = kept.img.shape[:2]
            lines = []
            for box, text, conf in raw or []:
                text = str(text).strip()
                if float(conf) < min_conf or sum(ch.isalnum() for ch in text) < MIN_LINE_ALNUM:
                    continue
                lines.append({"text": text, "box": _box_fraction(box, w, h), "confidence": float(conf)})
            results[idx] = lines
            if ctx.report is not None:
                ctx.report("ocr", min(1.0, (done + 1) / max(1, len(chosen))))
        read = sorted(results)
        duration = float(ctx.info.duration_s or (ctx.frame_times_s[-1] if ctx.frame_times_s else 0.0))
        lines = build_lines([(self.candidates[i].t_s, results[i]) for i in read], duration)
        fv.text["ocr_frames_s"] = [round(self.candidates[i].t_s, 3) for i in read]
        self.candidates = []  # free the frames
        fv.text["ocr"] = [[ln["start_s"], ln["text"], ln["box"], ln["end_s"]] for ln in lines]
        fv.text["ocr_status"] = f"Read {len(read)} of {n} chosen frames (at most {read_limit})."
        # timings for benchmarks, never scored: reading time (in the thread and here), frames read before finish()
        fv.events["text.ocr_seconds"] = round(time.monotonic() - t0 + early_s, 3)
        fv.events["text.ocr_read_during_decode"] = self.read_early
        fv.events["text.ocr_work"] = dict(reader.work)
        if len(read) < n:
            fv.events.setdefault("findings", []).append({
                "modality": "text", "severity": "info", "code": "text.ocr_frame_limit",
                "message": (f"On-screen text was read on {len(read)} of {n} chosen frames (spread evenly over the "
                            "clip); short-lived text between them may be missed. Raise [text] ocr_read_frames "
                            "to read more."),
                "value": float(len(read)), "target": float(n), "start_s": None, "end_s": None,
                "source": "config [text] ocr_read_frames", "points": 0.0})
        self._metrics(ctx, fv, lines, duration)

    def _metrics(self, ctx: ClipContext, fv: FeatureVector, lines: list[dict], duration: float) -> None:
        if duration <= 0:
            return
        n_sec = max(1, int(math.ceil(duration)))
        covered = np.zeros(n_sec)
        # Share of the clip with any text: union of line intervals.
        spans = sorted((ln["start_s"], ln["end_s"]) for ln in lines)
        total, cur_s, cur_e = 0.0, None, None
        for s, e in spans:
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    total += cur_e - cur_s
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        if cur_e is not None:
            total += cur_e - cur_s
        fv.set("text.onscreen_text_pct", min(100.0, 100.0 * total / duration))
        for s, e in spans:
            for i in range(int(s), min(n_sec, int(math.ceil(e)))):
                covered[i] = max(covered[i], min(e, i + 1) - max(s, i))
        fv.add_series("text.onscreen_text_pct", (100.0 * covered).tolist(), step_s=1.0, unit="%")
        if not lines:
            return
        rates = screen_rates(lines, duration)
        if rates:
            fv.set("text.onscreen_reading_wps", max(r["wps"] for r in rates))
            series = [None] * n_sec
            for r in rates:
                for i in range(int(r["start_s"]), min(n_sec, int(math.ceil(r["end_s"])) or 1)):
                    series[i] = max(series[i] or 0.0, r["wps"])
            fv.add_series("text.onscreen_reading_wps", series, step_s=1.0, unit="words/s")
            fv.events["text.onscreen_screens"] = [{**r, "wps": round(r["wps"], 2)} for r in rates]
        zones = unsafe_zones(active_preset(ctx.config))
        if zones:
            unsafe = []
            in_zone = 0.0
            line_time = 0.0
            per_sec_all = np.zeros(n_sec)
            per_sec_bad = np.zeros(n_sec)
            for ln in lines:
                d = ln["end_s"] - ln["start_s"]
                z = zone_of(ln["box"], zones)
                line_time += d
                for i in range(int(ln["start_s"]), min(n_sec, int(math.ceil(ln["end_s"])))):
                    part = min(ln["end_s"], i + 1) - max(ln["start_s"], i)
                    per_sec_all[i] += part
                    if z:
                        per_sec_bad[i] += part
                if z:
                    in_zone += d
                    unsafe.append({"start_s": ln["start_s"], "end_s": ln["end_s"], "text": ln["text"], "zone": z,
                                   "box": ln["box"]})
            if line_time > 0:
                fv.set("text.unsafe_zone_text_pct", 100.0 * in_zone / line_time)
                fv.add_series("text.unsafe_zone_text_pct",
                              [100.0 * b / a if a > 0 else None for a, b in zip(per_sec_all, per_sec_bad)],
                              step_s=1.0, unit="%")
            fv.events["text.unsafe_text"] = unsafe
