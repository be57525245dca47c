"""Visual extractors, part 3: faces (presence, size, position over time) and the hook's face, offline.

OpenCV's Haar cascade for frontal faces (``haarcascade_frontalface_default.xml``, shipped inside
opencv-python-headless under ``cv2.data.haarcascades``) runs on the analysis-size luma, downscaled to
``FACE_SHORT_SIDE_PX``, on ``FACE_SAMPLES_PER_S`` frames a second (twice that in the hook).
"""
from __future__ import annotations

import os
import threading

import cv2
import numpy as np

from ...features import FeatureVector, MetricSpec, per_second
from ..base import ClipContext, EventSpec, Extractor, register
from .frames import analysis_gray

#: Face detection rate. Faces enter and leave over seconds. A Haar pass costs 10-40 ms on textured 1080p content
#: here (scripts/bench.py profile), so outside the hook one look every 2 s keeps faces under ~0.3 ms a frame.
FACE_SAMPLES_PER_S = 0.5
#: In the hook (first 3 s) the rate doubles, so the hook's face share rests on 6 looks, not 3.
HOOK_FACE_SAMPLES_PER_S = 2.0
HOOK_S = 3.0
#: Detection size: 144 px short side. A face smaller than the cascade's 24 px window at this size (1/6 of the
#: frame width) is too small to carry a talking-head clip on a phone anyway; a quarter of the pixels of 288 px
#: makes each pass about 4x cheaper.
FACE_SHORT_SIDE_PX = 144
#: Viola-Jones parameters: OpenCV's documented defaults are 1.1 / 3; 1.15 halves the time and 4 neighbours
#: removes most false positives on textured backgrounds (measured on our generated scenes: none).
FACE_SCALE_FACTOR = 1.15
FACE_MIN_NEIGHBORS = 4
FACE_MIN_PX = 24

#: Every candidate is confirmed by a second cascade (``haarcascade_frontalface_alt2``, trained separately) on the
#: candidate's neighbourhood: on our generated textured scenes the default cascade alone fired on texture at
#: any minNeighbors up to 8, the pair never did; the cost is paid only where the first cascade fired.
CONFIRM_CASCADE = "haarcascade_frontalface_alt2.xml"
CONFIRM_PAD = 0.25

#: Loaded cascade pairs not in use. Loading the pair costs ~70 ms (35 ms each, two XML files parsed); the frames
#: of each clip are read in a thread of their own (``engine.media``), so a per-thread cache loaded them again for
#: every clip. A CascadeClassifier is not safe to share between threads while it detects, so each call takes a
#: pair from this pool (loading one only when every pair is in use) and gives it back.
_pool: list = []
_pool_lock = threading.Lock()


def _load(name: str):
    c = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))
    return None if c.empty() else c


def _take_cascades():
    with _pool_lock:
        if _pool:
            return _pool.pop()
    return (_load("haarcascade_frontalface_default.xml"), _load(CONFIRM_CASCADE))


def _give_back(pair) -> None:
    with _pool_lock:
        _pool.append(pair)


def detect_faces(gray: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Frontal faces in a uint8 luma image as (x, y, w, h), each a share (0-1) of the image width/height."""
    pair = _take_cascades()
    try:
        return _detect(gray, *pair)
    finally:
        _give_back(pair)


def _detect(gray: np.ndarray, first, confirm) -> list[tuple[float, float, float, float]]:
    if first is None:
        return []
    h, w = gray.shape
    s = min(1.0, FACE_SHORT_SIDE_PX / min(h, w))
    small = cv2.resize(gray, (int(round(w * s)), int(round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else gray
    small = cv2.equalizeHist(small)
    found = first.detectMultiScale(small, scaleFactor=FACE_SCALE_FACTOR, minNeighbors=FACE_MIN_NEIGHBORS,
                                   minSize=(FACE_MIN_PX, FACE_MIN_PX))
    sh, sw = small.shape
    out = []
    for x, y, fw, fh in (found if len(found) else []):
        if confirm is not None:
            p = int(round(CONFIRM_PAD * max(fw, fh)))
            roi = small[max(0, y - p) : min(sh, y + fh + p), max(0, x - p) : min(sw, x + fw + p)]
            again = confirm.detectMultiScale(roi, scaleFactor=1.1, minNeighbors=3,
                                             minSize=(int(fw * 0.7), int(fh * 0.7)))
            if not len(again):
                continue
        out.append((x / sw, y / sh, fw / sw, fh / sh))
    return out


@register
class Faces(Extractor):
    name = "visual_faces"
    modality = "visual"
    stage = "visual"
    EVENTS = (
        EventSpec("visual.faces", "[[t_s, x, y, w, h] | [t_s]]",
                  "Largest face per sampled frame, box in 0-1 of the frame ([t_s] alone when none)."),
    )
    METRICS = (
        MetricSpec("visual.face_presence_pct", "Face on screen", "%", 0, 100, None,
                   "Share of sampled frames that show at least one frontal face (Haar cascade)."),
        MetricSpec("visual.face_size_pct", "Face size", "% of height", 0, 100, None,
                   "Median height of the largest face, % of the frame height, when a face is shown."),
        MetricSpec("visual.face_center_x", "Face position (across)", "0-1", 0, 1, None,
                   "Median horizontal centre of the largest face (0 left, 1 right)."),
        MetricSpec("visual.face_center_y", "Face position (down)", "0-1", 0, 1, None,
                   "Median vertical centre of the largest face (0 top, 1 bottom)."),
        MetricSpec("visual.hook_face", "Face in the first 3 s", "%", 0, 100, None,
                   "Share of the first 3 seconds' sampled frames that show a face."),
    )

    def begin(self, ctx: ClipContext) -> None:
        self.next_t = 0.0
        self.samples: list[tuple[float, list]] = []

    def on_frame(self, frame, ctx: ClipContext) -> None:
        t = frame.t_s
        if t + 1e-6 < self.next_t:
            return
        rate = HOOK_FACE_SAMPLES_PER_S if t < HOOK_S else FACE_SAMPLES_PER_S
        self.next_t = t + 1.0 / rate
        self.samples.append((t, detect_faces(analysis_gray(frame))))

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        if not self.samples:
            return
        times = [t for t, _ in self.samples]
        present = [1.0 if f else 0.0 for _, f in self.samples]
        largest = [max(f, key=lambda b: b[2] * b[3]) if f else None for _, f in self.samples]
        fv.set("visual.face_presence_pct", 100.0 * float(np.mean(present)))
        hook = [p for t, p in zip(times, present) if t < HOOK_S]
        fv.set("visual.hook_face", 100.0 * float(np.mean(hook)) if hook else 0.0)
        boxes = [b for b in largest if b is not None]
        if boxes:
            fv.set("visual.face_size_pct", 100.0 * float(np.median([b[3] for b in boxes])))
            fv.set("visual.face_center_x", float(np.median([b[0] + b[2] / 2 for b in boxes])))
            fv.set("visual.face_center_y", float(np.median([b[1] + b[3] / 2 for b in boxes])))
        fv.events["visual.faces"] = [
            [round(t, 3)] + ([round(v, 4) for v in b] if b is not None else []) for t, b in zip(times, largest)
        ]
        d = ctx.info.duration_s or (times[-1] + 1.0)
        fv.add_series("visual.face_presence_pct", per_second(times, [100.0 * p for p in present], d), step_s=1.0,
                      unit="%")
