"""Visual extractors, part 2: time. Frame rate and its regularity, motion, freezes, shake, cuts and fades, shots,
pacing, black and flash frames, and the hook's motion/cuts/change (first 3 s).

Every frame gets only cheap work on a 90 px luma thumbnail made from the decoder's luma plane (``frames``):
the mean absolute difference to the previous thumbnail (cuts, freezes, motion), to the one before (flash frames),
and a phase correlation with the previous one (global motion, for shake). Everything else is done in finish() on
these per-frame arrays.
"""
from __future__ import annotations

import math
from collections import deque
from statistics import median

import cv2
import numpy as np

from ...features import FeatureVector, MetricSpec, per_second
from ...media import frame_rate_fps
from ..base import ClipContext, EventSpec, Extractor, register
from .image import frame_bars
from .frames import thumbnail

#: Cut detection (after PySceneDetect's AdaptiveDetector). The cut score of a frame is the mean absolute change of
#: a coarse 1/5-size copy of the thumbnail (18x32: layout and colour, blind to shake and fine motion) divided by
#: the larger contrast (luma std) of the two frames plus CUT_CONTRAST_FLOOR (so dark or flat clips cut as clearly
#: as bright ones). A frame is a hard cut when its score is at least CUT_MIN_SCORE and CUT_RATIO times the median
#: score of its neighbours within CUT_WINDOW_S (so fast motion does not read as cuts).
#: Measured on generated clips: cuts 0.6-1.5; panning, shaken (+-10 px) and 8 fps frames 0.02-0.25.
CUT_MIN_SCORE = 0.35
CUT_CONTRAST_FLOOR = 4.0
CUT_COARSE = 5
CUT_RATIO = 3.0
CUT_WINDOW_S = 0.5
#: Shots shorter than this are merged into the previous one (PySceneDetect's min_scene_len is 15 frames ~0.5 s).
MIN_SHOT_S = 0.3
#: A picture is still when the thumbnail changes by less than this mean level and fewer than FREEZE_CHANGED of its
#: pixels change by more than FREEZE_PIXEL_LEVELS (decoder repeats are exactly 0; the calmest real tripod shots
#: we measured move 0.6+ levels).
FREEZE_MEAN_DIFF = 0.3
FREEZE_PIXEL_LEVELS = 3
FREEZE_CHANGED = 0.002
#: A still run this long is a frozen stretch (shorter still runs are duplicated frames)...
FREEZE_MIN_S = 0.5
#: ... but only when the picture stops inside motion: its shot (between cuts) moves elsewhere, by at least
#: FREEZE_MOTION_DIFF for FREEZE_CONTEXT_S in a row. A shot with no such motion (a photo, a text card, a slide)
#: is a still shot, not a freeze, and its repeated frames are not duplicates either. FREEZE_MOTION_DIFF: the
#: calmest real tripod shots we measured move 0.6+ levels (see FREEZE_MEAN_DIFF); an encoder refining a still
#: picture changes it by less (0.05-0.3 levels for up to 1.5 s after a cut at 40 kb/s, generated stills in
#: tests/unit/test_visual.py). FREEZE_CONTEXT_S = 3 frames at 30 fps: the flaw set's freeze has 6 moving frames before
#: it in its shot (tests/visual_helpers.py).
FREEZE_MOTION_DIFF = 0.6
FREEZE_CONTEXT_S = 0.1
#: ... and not when it is a picture held between transitions: a slideshow (photo mode, an editor's template) holds
#: each picture, then moves to the next with a page turn, a slide or a zoom, with no hard cut between them, so the
#: shot moves and each held picture would read as a freeze. A long still run is a held picture when the motion on
#: each side of it lasts at most TRANSITION_MAX_S (or there is none: it touches the clip's start or end) and, on at
#: least one side, that motion leads to another long still run: two held pictures joined by a transition. Editors'
#: transitions last 0.5-2 s (their defaults: about 1 s); a realmos slideshow (KoNViD-1k 3516162818: photos joined
#: by 1.3-1.5 s page turns, rated 3.6 of 5) read 62% frozen before this rule. The price: footage that freezes
#: twice with under TRANSITION_MAX_S of motion between and around the two freezes reads as held pictures.
TRANSITION_MAX_S = 2.0
#: Judder: a repeated frame shows only when the picture moves fast enough for the hitch to be seen. The American
#: Society of Cinematographers' panning guidance (American Cinematographer Manual, "panning speeds": at 24 fps an
#: image point should take at least about 7 s to cross the frame to avoid judder/strobing) gives the speed: a
#: repeat inside motion slower than the frame's width (the short side of a vertical frame) per JUDDER_CROSS_S is
#: not judder. Measured: the slow pans of the synthetic flaw pairs' photo sources (15-40 px/s at 360 px, crossing
#: in 9-24 s) repeat 29% of their frames exactly (integer-pixel steps); added film grain hid those repeats, and the
#: grain copy scored above its source (issue 15).
JUDDER_CROSS_S = 7.0
#: The speed around a run of repeats is the largest shift among the blocks of the shake grid (so a moving subject
#: counts, not only the camera) between the run's first frame and the frame this long before it, per frame: long
#: enough that the judder speed is a shift of several thumbnail pixels (2.6 px at 30 fps), which phase correlation
#: resolves well, where one frame's shift is a fraction of a pixel.
JUDDER_BASELINE_S = 0.2
#: Black and flash frames (PySceneDetect's ThresholdDetector uses a mean of 12/255 for black). A fade's ramp is
#: measured in mean luma against this.
BLACK_LUMA = 16.0
#: A frame is black when fewer than ``BLACK_MAX_LIT_SHARE`` of its thumbnail's pixels reach ``BLACK_PIXEL_LUMA``
#: (FFmpeg's blackdetect: 98% of the pixels under 10% of the range). The mean luma alone called a night scene between
#: pillarbox bars black (realclip dover_FEQ: people and a fire visible, mean 6-14 with its bars, 99% "black frames").
BLACK_PIXEL_LUMA = 24
BLACK_MAX_LIT_SHARE = 0.02
FLASH_LUMA = 235.0
FLASH_JUMP = 60.0
#: Fades: a black stretch entered or left by a luma ramp at least this long.
FADE_MIN_S = 0.2
#: Shake: the camera path (cumulated global motion, % of the short side) minus its Gaussian-smoothed self.
#: sigma 0.15 s puts the split near 1 Hz: intentional pans and tilts are slower, hand shake is 2-10 Hz.
SHAKE_SMOOTH_S = 0.15
#: Global motion is the median of phase correlations over a grid of blocks (2x3 on a portrait thumbnail), so one
#: moving object does not pass for the camera. Blocks whose peak is weaker than SHAKE_MIN_RESPONSE are not trusted.
SHAKE_GRID = (2, 3)
SHAKE_MIN_RESPONSE = 0.1
#: Letterbox/pillarbox bars are static and would pin the estimate to zero: the grid covers the picture inside
#: them, re-measured on the thumbnail every SHAKE_CROP_EVERY_S.
SHAKE_CROP_EVERY_S = 1.0
#: The hook is the first 3 seconds (platform guidance: viewers decide within the first seconds).
HOOK_S = 3.0
#: A thumbnail pixel "changed" in the hook when it moved this many levels away from the opening frame.
HOOK_CHANGE_LEVELS = 20
#: Frame intervals longer than this many times the median are dropped frames.
DROP_FACTOR = 1.5
#: Motion is expressed per 1/30 s so clips at different frame rates compare.
MOTION_REF_FPS = 30.0
#: Frame timing is called irregular when the spread (5th-95th percentile) of frame intervals is at least this share
#: of the median interval: at 30 fps, 8 ms, half a 60 Hz display refresh; smaller variations land on the same or the
#: next refresh and do not show (BYTEME convention). Every intact clip of ../shared/realclips reads 0 %; the
#: alternating 1/30-1/15 s phone clip (421c8b59) reads 50 %.
IRREGULAR_TIMING_PCT = 25.0
#: Intervals are grouped to this precision (s) to name the ones that alternate (container timestamps jitter by ~1 ms).
INTERVAL_ROUND_S = 0.002
#: Two interval lengths "alternate" when they make up at least this share of all intervals.
ALTERNATING_SHARE = 0.9


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, end_exclusive)] of the True runs in a boolean array."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def detect_cuts(diff: np.ndarray, times: np.ndarray, *, flash: np.ndarray | None = None,
                still: np.ndarray | None = None) -> list[int]:
    """Frame indices where a new shot starts (hard cuts). ``diff[i]``: cut score of frame i against i-1.
    ``still[i]``: frame i repeats frame i-1; repeated frames say nothing about how much the shot moves and are left
    out of the neighbourhood a frame is compared with (else the motion going on around a frozen stretch reads as two
    cuts, against the freeze's near-zero scores, and the freeze as a still shot of its own: issue 15)."""
    n = len(diff)
    if n < 2:
        return []
    dt = float(np.median(np.diff(times))) if n > 2 else 1 / 30
    w = max(2, int(round(CUT_WINDOW_S / max(dt, 1e-3))))
    cuts = []
    for i in range(1, n):
        if diff[i] < CUT_MIN_SCORE or (flash is not None and (flash[i] or flash[i - 1])):
            continue
        lo, hi = max(1, i - w), min(n, i + w + 1)
        idx = np.r_[lo:i, i + 1 : hi]
        if still is not None:
            idx = idx[~still[idx]]
        neigh = diff[idx]
        base = float(np.median(neigh)) if neigh.size else 0.0
        if diff[i] >= CUT_RATIO * max(base, 0.02):
            if cuts and times[i] - times[cuts[-1]] < MIN_SHOT_S:
                if diff[i] > diff[cuts[-1]]:
                    cuts[-1] = i
                continue
            cuts.append(i)
    return cuts


def low_frame_rate_message(nominal_fps: float, dup_share: float, good_fps: float | None) -> str:
    """The low-frame-rate finding of a file whose frames partly repeat: both rates, led by what to change. A file
    whose own rate is under the target leads with it (an 8 fps file with one repeat is an 8 fps file); a file at a
    good rate whose repeats bring it under leads with the distinct pictures."""
    distinct = nominal_fps * (1.0 - dup_share)
    repeats = f"{100.0 * dup_share:.{1 if dup_share < 0.1 else 0}f}% of its frames repeat the one before"
    if good_fps and nominal_fps < good_fps:
        said = f"Frame rate is {nominal_fps:.1f} fps ({distinct:.1f} distinct pictures a second: {repeats})"
    else:
        said = (f"Frame rate is {distinct:.1f} distinct pictures a second: the file has {nominal_fps:.1f} fps, "
                f"but {repeats}")
    return (said + (f"; target at least {good_fps:g} fps" if good_fps else "")
            + ". Record and export at 30 fps (or 24/25/60) without repeating frames.")


def usual_interval_s(intervals: np.ndarray, fps: float) -> float:
    """The usual frame interval (s) that gaps and jitter are measured against: the mean of the intervals no longer
    than ``DROP_FACTOR`` x the mean of all (1 / ``fps``), so a long gap does not stretch it; 0 without intervals.
    Unlike the median, it does not flip between the two steps of an alternating cadence (33 / 67 ms: 50 ms)."""
    iv = np.asarray(intervals, dtype=float)
    if iv.size == 0 or fps <= 0:
        return 0.0
    regular = iv[iv <= DROP_FACTOR / fps]
    return float(regular.mean()) if regular.size else 1.0 / fps


def irregular_timing_finding(intervals: np.ndarray, fps: float, frames: int, jitter_pct: float) -> dict:
    """An info finding that the frame intervals vary, with numbers: the two lengths when they alternate (a phone
    dropping every third frame: 1/30 and 1/15 s), else their 5th-95th percentile range."""
    group = np.round(intervals / INTERVAL_ROUND_S).astype(np.int64)
    values, counts = np.unique(group, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:2]
    if len(top) == 2 and counts[top].sum() >= ALTERNATING_SHARE * len(group):
        a, b = sorted(1000.0 * float(np.mean(intervals[group == values[k]])) for k in top)
        how = f"alternate between {a:.0f} ms and {b:.0f} ms"
    else:
        how = (f"vary from {np.percentile(intervals, 5) * 1000:.0f} to {np.percentile(intervals, 95) * 1000:.0f} ms "
               f"(median {np.median(intervals) * 1000:.0f} ms)")
    span_s = float(np.sum(intervals))
    return {"modality": "visual", "severity": "low", "code": "visual.irregular_frame_timing",
            "message": (f"Frame timing is irregular: the intervals between frames {how} ({frames} frames in "
                        f"{span_s:.1f} s, {fps:.1f} fps on average), so motion moves unevenly. Export with a "
                        "constant frame rate."),
            "value": round(jitter_pct, 1), "target": IRREGULAR_TIMING_PCT, "start_s": None, "end_s": None,
            "source": "BYTEME convention: a spread over a quarter of the frame interval (8 ms at 30 fps) shows",
            "points": 0.0}


def judder_visible(still: np.ndarray, speed_px: dict, t: np.ndarray, short_px: float) -> np.ndarray:
    """Per frame: True where a repeat (``still``) shows as judder: the picture around its run of repeats moves at
    least the short side per ``JUDDER_CROSS_S``. ``speed_px``: {first frame of a still run: thumbnail px per
    frame over the ``JUDDER_BASELINE_S`` before it} (``Temporal._run_speed``)."""
    out = np.zeros(len(still), bool)
    if len(t) < 2:
        return out
    min_px = short_px * float(np.median(np.diff(t))) / JUDDER_CROSS_S  # per frame
    for a, b in _runs(still):
        v = speed_px.get(a)
        if v is not None and v >= min_px:
            out[a:b] = True
    return out


def freeze_runs(still: np.ndarray, diff: np.ndarray, t: np.ndarray, frame_s: float,
                cut_idx) -> tuple[list, list, np.ndarray]:
    """Still runs of at least ``FREEZE_MIN_S`` split into (frozen, still shots), each [(start, end_exclusive)] of
    frame indices (frame ``start - 1`` is the picture that stays), and a mask of the frames of still shots.

    ``still[i]``: frame i repeats frame i-1; ``diff[i]``: mean change from frame i-1 (luma levels). A shot (between
    the cuts ``cut_idx`` and the clip's ends) is moving when ``diff`` stays at or above ``FREEZE_MOTION_DIFF`` for
    ``FREEZE_CONTEXT_S`` in a row somewhere in it. A long still run in a moving shot is a freeze, unless it is a
    picture held between transitions (``held_pictures``); in a shot that never moves it is a still picture on purpose.
    """
    n = len(still)
    bounds = sorted({0, n, *[int(i) for i in cut_idx]})
    need = max(1, int(round(FREEZE_CONTEXT_S / max(frame_s, 1e-6))))
    moves = diff >= FREEZE_MOTION_DIFF
    static_mask = np.zeros(n, bool)
    moving_shot = np.zeros(n, bool)
    for a, b in zip(bounds[:-1], bounds[1:]):
        inner = moves[a + 1 : b]  # frame a is the shot's first picture (its diff is the cut)
        if any(e - s >= need for s, e in _runs(inner)):
            moving_shot[a:b] = True
        else:
            static_mask[a:b] = True
    runs = [(a, b) for a, b in _runs(still) if t[b - 1] + frame_s - t[a - 1] >= FREEZE_MIN_S]
    held = held_pictures(runs, t, frame_s)
    frozen, static = [], []
    for k, (a, b) in enumerate(runs):
        (frozen if (moving_shot[a - 1] or moving_shot[b - 1]) and not held[k] else static).append((a, b))
    return frozen, static, static_mask


def held_pictures(runs: list[tuple[int, int]], t: np.ndarray, frame_s: float) -> list[bool]:
    """For each long still run (``freeze_runs``: [(start, end_exclusive)], frame ``start - 1`` is the picture that
    stays, in time order), whether it is a picture held between transitions (``TRANSITION_MAX_S``) rather than a
    freeze."""
    if len(runs) < 2:
        return [False] * len(runs)
    n = len(t)
    start_s = [float(t[a - 1]) for a, _ in runs]  # the held picture first shows here
    end_s = [float(t[b - 1]) + frame_s for _, b in runs]
    clip_end_s = float(t[n - 1]) + frame_s
    out = []
    for k in range(len(runs)):
        before = start_s[k] - (end_s[k - 1] if k else float(t[0]))
        after = (start_s[k + 1] if k + 1 < len(runs) else clip_end_s) - end_s[k]
        short = before <= TRANSITION_MAX_S and after <= TRANSITION_MAX_S
        joined = (k > 0 and before <= TRANSITION_MAX_S) or (k + 1 < len(runs) and after <= TRANSITION_MAX_S)
        out.append(short and joined)
    return out


@register
class Temporal(Extractor):
    name = "visual_temporal"
    modality = "visual"
    stage = "visual"
    EVENTS = (
        EventSpec("visual.cuts_s", "[t_s]", "Times of the cuts and fades between shots."),
        EventSpec("visual.transitions", "[{t_s, kind: cut | fade}]", "The same transitions with their kind."),
        EventSpec("visual.shots", "[[start_s, end_s]]", "The shots between the transitions."),
        EventSpec("visual.fades", "[[start_s, end_s]]", "Fades into or out of black."),
        EventSpec("visual.black_frames", "[[start_s, end_s]]", "Stretches of black frames."),
        EventSpec("visual.flash_frames", "[t_s]", "Single bright flash frames."),
        EventSpec("visual.frozen", "[[start_s, end_s]]",
                  "Frozen stretches: the picture stops inside motion (the same picture repeated)."),
        EventSpec("visual.still_shots", "[[start_s, end_s]]",
                  "Still pictures on purpose: a shot that never moves (a photo, a text card, a slide); not a flaw."),
    )
    METRICS = (
        MetricSpec("visual.fps", "Frame rate", "fps", 0, 240, True,
                   "Distinct pictures per second: the decoded frame rate (media.fps: frames over their time span) "
                   "less frames that repeat the one before (visual.duplicated_frames_pct)."),
        MetricSpec("visual.nominal_fps", "Frame rate in the file", "fps", 0, 240, None,
                   "Frames decoded over their time span, repeated frames included (media.fps)."),
        MetricSpec("visual.dropped_frames_pct", "Dropped frames", "%", 0, 100, False,
                   "Frame slots missing from the timeline (intervals longer than 1.5x the usual one, the mean of the "
                   "regular intervals), % of frames.", plural=True),
        MetricSpec("visual.duplicated_frames_pct", "Duplicated frames", "%", 0, 100, False,
                   "Frames identical to the one before outside frozen stretches, inside motion fast enough to judder "
                   f"(crossing the frame in under {JUDDER_CROSS_S:g} s), % of frames.", plural=True),
        MetricSpec("visual.frame_interval_jitter_pct", "Frame timing jitter", "%", 0, 100, False,
                   "Spread (5th-95th percentile) of frame intervals as % of the usual one (variable frame rate)."),
        MetricSpec("visual.motion_energy", "Motion", "luma levels", 0, 255, None,
                   "Mean absolute change between consecutive frames (90 px thumbnail), per 1/30 s, cuts excluded."),
        MetricSpec("visual.frozen_pct", "Frozen picture", "%", 0, 100, False,
                   f"Share of the clip where the picture does not change at all for {FREEZE_MIN_S} s or more."),
        MetricSpec("visual.shake_pct", "Camera shake", "% of frame", 0, 20, False,
                   "RMS of the fast (above ~1 Hz) part of the camera's path, % of the short side; pans excluded."),
        MetricSpec("visual.cut_count", "Cuts", "cuts", 0, 10000, None, "Hard cuts and fades between shots."),
        MetricSpec("visual.cuts_per_min", "Pacing", "cuts/min", 0, 600, None, "Shot changes per minute."),
        MetricSpec("visual.shot_length_s", "Median shot length", "s", 0, 3600, None, "Median length of the shots."),
        MetricSpec("visual.black_pct", "Black frames", "%", 0, 100, False,
                   f"Share of the clip that is black: frames with under {BLACK_MAX_LIT_SHARE:.0%} of their pixels at "
                   f"luma {BLACK_PIXEL_LUMA} or more.", plural=True),
        MetricSpec("visual.flash_count", "Flash frames", "frames", 0, 10000, False,
                   "Single bright frames that jump out of their neighbours."),
        MetricSpec("visual.hook_motion", "Motion in the first 3 s", "luma levels", 0, 255, True,
                   "Mean motion (as visual.motion_energy) over the first 3 seconds."),
        MetricSpec("visual.hook_cut_count", "Cuts in the first 3 s", "cuts", 0, 100, None,
                   "Shot changes in the first 3 seconds."),
        MetricSpec("visual.hook_change", "On-screen change in the first 3 s", "%", 0, 100, True,
                   f"Share of the picture that changes (by more than {HOOK_CHANGE_LEVELS} levels) from the opening "
                   "frame within the first 3 seconds."),
        MetricSpec("visual.black_start_s", "Black at the start", "s", 0, 3600, False,
                   "Seconds of black before the first picture."),
    )

    def begin(self, ctx: ClipContext) -> None:
        self.rot = ctx.info.rotation_deg
        self.prev = None
        self.prev2 = None
        self.prev_coarse = None
        self.first = None
        self.hook_changed = None
        self.blocks = []
        self.shift_bias = (0.0, 0.0)
        self.crop = None
        self.next_crop_t = 0.0
        self.t, self.diff, self.diff2, self.changed, self.luma, self.cut = [], [], [], [], [], []
        self.lit = []  # share of each thumbnail's pixels at or above BLACK_PIXEL_LUMA
        # Thumbnails of the last JUDDER_BASELINE_S (and one frame more), for the speed around a run of repeats.
        fps = ctx.info.fps or 30.0
        self.history = deque(maxlen=max(2, int(round(JUDDER_BASELINE_S * fps)) + 1))
        self.was_still = False
        self.run_speed = {}
        self.dx, self.dy, self.resp = [], [], []

    def _setup(self, shape, crop=None) -> None:
        y0, y1, x0, x1 = crop or (0, shape[0], 0, shape[1])
        h, w = y1 - y0, x1 - x0
        cols, rows = SHAKE_GRID if h >= w else SHAKE_GRID[::-1]
        bh, bw = h // rows, w // cols
        if bh < 8 or bw < 8:
            cols = rows = 1
            bh, bw = h, w
        win = cv2.createHanningWindow((bw, bh), cv2.CV_32F)
        # cv2.phaseCorrelate multiplies both inputs by the window in place (OpenCV 4.x), but only when it does not
        # pad them to an optimal DFT size first (then it works on padded copies): copy the blocks only then.
        fft_h, fft_w = cv2.getOptimalDFTSize(bh), cv2.getOptimalDFTSize(bw)
        copy = fft_h == bh and fft_w == bw
        self.blocks = [(slice(y0 + r * bh, y0 + (r + 1) * bh), slice(x0 + c * bw, x0 + (c + 1) * bw), win, copy)
                       for r in range(rows) for c in range(cols)]
        # cv2.phaseCorrelate (OpenCV 4.x) reads the shift from the middle of the padded block, size / 2, while the
        # zero shift lies at size // 2: on an odd side every shift reads half a pixel too far right or down. The
        # blocks of a 90 px wide vertical thumbnail are 45 px wide (45 = 3^2 x 5 is its own DFT size), so two
        # identical frames read a 0.5 px move to the right, which the camera path summed into a steady pan and
        # the speed around repeated frames counted as motion (tests/unit/test_visual.py).
        self.shift_bias = (0.5 if fft_w % 2 else 0.0, 0.5 if fft_h % 2 else 0.0)
        self.crop = (y0, y1, x0, x1)

    def _update_crop(self, th: np.ndarray) -> None:
        bars, _ = frame_bars(th)
        h, w = th.shape
        crop = (bars["top"], h - bars["bottom"], bars["left"], w - bars["right"])
        if crop[1] - crop[0] < 16 or crop[3] - crop[2] < 16:
            crop = (0, h, 0, w)
        if crop != self.crop:
            self._setup(th.shape, crop)

    def _global_motion(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
        res = []
        for ys, xs, win, copy in self.blocks:
            pa, pb = (a[ys, xs].copy(), b[ys, xs].copy()) if copy else (a[ys, xs], b[ys, xs])
            (sx, sy), r = cv2.phaseCorrelate(pa, pb, win)
            if r >= SHAKE_MIN_RESPONSE:
                res.append((sx - self.shift_bias[0], sy - self.shift_bias[1], r))
        if not res:
            return 0.0, 0.0, 0.0
        # statistics.median on <= 6 values equals np.median (the mean of the two middle ones) at 1/20 of the cost.
        sx, sy, r = zip(*res)
        return float(median(sx)), float(median(sy)), float(median(r))

    def _run_speed(self, th: np.ndarray) -> None:
        """Thumbnail px per frame between this frame (the first of a still run) and the oldest kept one: the largest
        shift among the shake grid's blocks whose correlation peak is trusted (``SHAKE_MIN_RESPONSE``)."""
        if not self.history:
            return
        t0, old = self.history[0]
        if old.shape != th.shape:
            return
        best = 0.0
        for ys, xs, win, copy in self.blocks:
            pa, pb = (old[ys, xs].copy(), th[ys, xs].copy()) if copy else (old[ys, xs], th[ys, xs])
            (sx, sy), r = cv2.phaseCorrelate(pa, pb, win)
            if r >= SHAKE_MIN_RESPONSE:
                best = max(best, math.hypot(sx - self.shift_bias[0], sy - self.shift_bias[1]))
        frames = len(self.history)  # the kept frames span this many frame steps up to this one
        self.run_speed[len(self.t) - 1] = best / frames

    def on_frame(self, frame, ctx: ClipContext) -> None:
        th = thumbnail(frame, self.rot).astype(np.float32)
        coarse = cv2.resize(th, (max(2, th.shape[1] // CUT_COARSE), max(2, th.shape[0] // CUT_COARSE)),
                            interpolation=cv2.INTER_AREA)
        coarse_std = float(coarse.std())
        self.t.append(frame.t_s)
        self.luma.append(float(th.mean()))
        self.lit.append(float(np.count_nonzero(th >= BLACK_PIXEL_LUMA)) / th.size)
        if self.prev is None or th.shape != self.prev.shape:
            if self.prev is None:
                self.first = th
                self.hook_changed = np.zeros(th.shape, bool)
            else:  # a resolution change mid-stream: treat as a cut
                self.first = None
            self._setup(th.shape)
            new = self.prev is not None
            self.diff.append(255.0 if new else 0.0), self.diff2.append(255.0 if new else 0.0)
            self.cut.append(10.0 if new else 0.0), self.changed.append(1.0)
            self.history.clear()
            self.was_still = False
            self.dx.append(0.0), self.dy.append(0.0), self.resp.append(0.0)
        else:
            ad = cv2.absdiff(th, self.prev)
            self.diff.append(float(ad.mean()))
            self.changed.append(float(np.count_nonzero(ad > FREEZE_PIXEL_LEVELS)) / ad.size)
            still = self.diff[-1] < FREEZE_MEAN_DIFF and self.changed[-1] < FREEZE_CHANGED
            if still and not self.was_still:
                self._run_speed(th)
            self.was_still = still
            self.diff2.append(float(cv2.absdiff(th, self.prev2).mean()) if self.prev2 is not None
                              and self.prev2.shape == th.shape else 255.0)
            contrast = max(coarse_std, self.prev_coarse_std)
            self.cut.append(float(cv2.absdiff(coarse, self.prev_coarse).mean()) / (contrast + CUT_CONTRAST_FLOOR))
            if frame.t_s >= self.next_crop_t:
                self.next_crop_t = frame.t_s + SHAKE_CROP_EVERY_S
                self._update_crop(th)
            sx, sy, r = self._global_motion(self.prev, th)
            self.dx.append(sx), self.dy.append(sy), self.resp.append(r)
            if self.first is not None and frame.t_s <= HOOK_S:
                self.hook_changed |= cv2.absdiff(th, self.first) > HOOK_CHANGE_LEVELS
        self.prev2, self.prev, self.prev_coarse, self.prev_coarse_std = self.prev, th, coarse, coarse_std
        self.history.append((frame.t_s, th))

    def snapshot(self) -> "Temporal | None":
        """The per-frame arrays so far (and the hook's change mask, which on_frame updates in place): finish()
        then judges the clip up to this frame."""
        if len(self.t) < 2:
            return None
        return self.frozen("t", "diff", "diff2", "changed", "luma", "lit", "cut", "dx", "dy", "resp", "hook_changed",
                           "run_speed")

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        n = len(self.t)
        if n == 0:
            return
        t = np.asarray(self.t, float)
        diff = np.asarray(self.diff, float)
        luma = np.asarray(self.luma, float)
        duration = max(ctx.info.duration_s or 0.0, float(t[-1]) + (float(np.median(np.diff(t))) if n > 1 else 0.0))
        intervals = np.diff(t) if n > 1 else np.array([1.0 / (ctx.info.fps or 30.0)])
        intervals = intervals[intervals > 0]
        med_dt = float(np.median(intervals)) if intervals.size else 1.0 / (ctx.info.fps or 30.0)
        # One frame-rate definition everywhere (media.fps, these metrics, findings): frames over their time span.
        nominal_fps = frame_rate_fps(t) or (1.0 / med_dt if med_dt > 0 else (ctx.info.fps or 0.0))
        frame_s = 1.0 / nominal_fps if nominal_fps else 1 / 30
        short = min(self.crop[1] - self.crop[0], self.crop[3] - self.crop[2]) if self.crop else 90

        # --- black and flash frames ---------------------------------------------------------------------------
        black = np.asarray(self.lit, float) < BLACK_MAX_LIT_SHARE
        diff2 = np.asarray(self.diff2, float)
        flash = np.zeros(n, bool)
        for i in range(1, n - 1):
            up = luma[i] - max(luma[i - 1], luma[i + 1])
            if (up >= FLASH_JUMP or (luma[i] >= FLASH_LUMA and up >= FLASH_JUMP / 2)) and diff2[i + 1] < diff[i] / 2:
                flash[i] = True
        # --- cuts, fades, shots ---------------------------------------------------------------------------------
        changed = np.asarray(self.changed, float)
        still = (diff < FREEZE_MEAN_DIFF) & (changed < FREEZE_CHANGED)
        still[0] = False
        cut_idx = detect_cuts(np.asarray(self.cut, float), t, flash=flash, still=still)
        transitions = [{"t_s": round(float(t[i]), 3), "kind": "cut"} for i in cut_idx]
        black_runs = _runs(black)
        fades = []
        ramp = max(2, int(round(FADE_MIN_S / frame_s)))
        for a, b in black_runs:
            if a == 0 or b == n:
                continue
            into = a >= ramp and luma[a - ramp] - luma[a - 1] > 2 * BLACK_LUMA
            out = b + ramp <= n and luma[b + ramp - 1] - luma[b] > 2 * BLACK_LUMA
            if into or out:
                fs = t[a - ramp] if into else t[a]
                fe = t[min(n - 1, b + ramp - 1)] if out else t[b - 1] + frame_s
                fades.append([round(float(fs), 3), round(float(fe), 3)])
                mid = 0.5 * (t[a] + t[b - 1])
                if not any(abs(mid - c["t_s"]) < MIN_SHOT_S for c in transitions):
                    transitions.append({"t_s": round(float(mid), 3), "kind": "fade"})
        transitions.sort(key=lambda c: c["t_s"])
        cuts_s = [c["t_s"] for c in transitions]
        bounds = [0.0] + cuts_s + [round(duration, 3)]
        shots = [[bounds[i], bounds[i + 1]] for i in range(len(bounds) - 1) if bounds[i + 1] > bounds[i]]
        fv.events["visual.cuts_s"] = cuts_s
        fv.events["visual.transitions"] = transitions
        fv.events["visual.shots"] = shots
        fv.events["visual.fades"] = fades
        fv.set("visual.cut_count", len(cuts_s))
        fv.set("visual.cuts_per_min", 60.0 * len(cuts_s) / duration if duration > 0 else None)
        fv.set("visual.shot_length_s", float(np.median([e - s for s, e in shots])) if shots else duration)
        black_spans = [[round(float(t[a]), 3), round(float(t[b - 1] + frame_s), 3)] for a, b in black_runs]
        fv.events["visual.black_frames"] = black_spans
        fv.events["visual.flash_frames"] = [round(float(t[i]), 3) for i in np.flatnonzero(flash)]
        fv.set("visual.black_pct", 100.0 * float(black.sum()) / n)
        fv.set("visual.flash_count", int(flash.sum()))
        fv.set("visual.black_start_s", float(black_spans[0][1]) if black_spans and black_runs[0][0] == 0 else 0.0)

        # --- stills: frozen stretches, still shots and duplicated frames ------------------------------------
        frozen, static, static_shots = freeze_runs(still, diff, t, frame_s, cut_idx)
        frozen_spans = [[round(float(t[a - 1]), 3), round(float(t[b - 1] + frame_s), 3)] for a, b in frozen]
        fv.events["visual.frozen"] = frozen_spans
        fv.events["visual.still_shots"] = [[round(float(t[a - 1]), 3), round(float(t[b - 1] + frame_s), 3)]
                                           for a, b in static]
        frozen_mask = np.zeros(n, bool)
        long_still = np.zeros(n, bool)
        for a, b in frozen:
            frozen_mask[a:b] = True
        for a, b in frozen + static:
            long_still[a:b] = True
        frozen_s = sum(e - s for s, e in frozen_spans)
        fv.set("visual.frozen_pct", 100.0 * min(1.0, frozen_s / duration) if duration > 0 else 0.0)
        # Duplicated frames are short still runs inside motion; long still runs and still shots are not. Nor are
        # repeats inside motion too slow to judder (``judder_visible``).
        moving = ~long_still & ~static_shots
        moving[0] = False
        dup = still & moving & judder_visible(still, self.run_speed, t, short)
        dup_share = float(dup.sum()) / max(1, int(moving.sum()))
        frozen = frozen_mask
        fv.set("visual.nominal_fps", nominal_fps)
        fv.set("visual.fps", nominal_fps * (1.0 - dup_share))
        fv.set("visual.duplicated_frames_pct", 100.0 * dup_share)
        # Gaps and jitter are measured against the usual interval: the mean of the intervals no longer than
        # DROP_FACTOR x the mean of all (so a long gap does not stretch it), not the median. A phone's cadence
        # alternating 33 and 67 ms has a median of either, by which of the two came once more: trimmed by half a
        # second, the realclip 421c8b59 went from 0% dropped frames to 33% (every 67 ms step a "gap" beside a 33 ms
        # median), which the low frame rate of the same cadence already charges.
        usual_dt = usual_interval_s(intervals, nominal_fps) or med_dt
        slots = np.round(intervals / usual_dt) if intervals.size else np.array([])
        missing = float(np.sum(np.maximum(0, slots[intervals > DROP_FACTOR * usual_dt] - 1))) if slots.size else 0.0
        fv.set("visual.dropped_frames_pct", 100.0 * missing / max(1.0, n + missing))
        if intervals.size >= 4:
            jitter_pct = 100.0 * float(np.percentile(intervals, 95) - np.percentile(intervals, 5)) / usual_dt
            fv.set("visual.frame_interval_jitter_pct", jitter_pct)
            if jitter_pct >= IRREGULAR_TIMING_PCT:
                fv.events.setdefault("findings", []).append(irregular_timing_finding(intervals, nominal_fps, n,
                                                                                     jitter_pct))
        if dup_share > 0 and nominal_fps > 0:  # the low-frame-rate finding names both rates
            good_fps = (ctx.config.get("targets", {}).get("visual.fps") or {}).get("good")
            fv.events.setdefault("finding_messages", {})["visual.low_frame_rate"] = low_frame_rate_message(
                nominal_fps, dup_share, None if good_fps is None else float(good_fps))
        # Frozen share per second, so feedback can place the frozen stretch.
        frozen_sec = per_second(t, (100.0 * frozen).tolist(), duration)
        fv.add_series("visual.frozen_pct", frozen_sec, step_s=1.0, unit="%")

        # --- motion ---------------------------------------------------------------------------------------------
        scale = nominal_fps / MOTION_REF_FPS if nominal_fps else 1.0
        is_cut = np.zeros(n, bool)
        for i in cut_idx:
            is_cut[i] = True
        valid = ~is_cut & ~flash & ~np.roll(flash, 1)
        valid[0] = False
        motion = np.where(valid, diff * scale, np.nan)
        mv = motion[np.isfinite(motion)]
        fv.set("visual.motion_energy", float(mv.mean()) if mv.size else 0.0)
        fv.add_series("visual.motion_energy", per_second(t, [None if not math.isfinite(v) else v for v in motion],
                                                          duration), step_s=1.0, unit="luma levels")

        # --- shake ----------------------------------------------------------------------------------------------
        dx = np.asarray(self.dx, float) * 100.0 / short
        dy = np.asarray(self.dy, float) * 100.0 / short
        ok = valid & (np.asarray(self.resp, float) >= SHAKE_MIN_RESPONSE)
        jitter = np.full(n, np.nan)
        sigma = max(1.0, SHAKE_SMOOTH_S / frame_s)
        seg_bounds = [0] + list(cut_idx) + [n]
        for a, b in zip(seg_bounds[:-1], seg_bounds[1:]):
            if b - a < 4:
                continue
            sdx = np.where(ok[a:b], dx[a:b], 0.0)
            sdy = np.where(ok[a:b], dy[a:b], 0.0)
            sdx[0] = sdy[0] = 0.0
            px, py = np.cumsum(sdx), np.cumsum(sdy)
            k = int(math.ceil(3 * sigma))
            kern = np.exp(-0.5 * (np.arange(-k, k + 1) / sigma) ** 2)
            kern /= kern.sum()
            smx = np.convolve(np.pad(px, k, mode="edge"), kern, mode="valid")
            smy = np.convolve(np.pad(py, k, mode="edge"), kern, mode="valid")
            jitter[a:b] = np.hypot(px - smx, py - smy)
        jv = jitter[np.isfinite(jitter)]
        fv.set("visual.shake_pct", float(math.sqrt(np.mean(jv ** 2))) if jv.size else 0.0)
        fv.add_series("visual.shake_pct", per_second(t, [None if not math.isfinite(v) else v * v for v in jitter],
                                                      duration, reduce=lambda b: float(math.sqrt(np.mean(b)))),
                      step_s=1.0, unit="% of frame")

        # --- the hook (first 3 s) -------------------------------------------------------------------------------
        hook = t <= HOOK_S
        hm = motion[hook & np.isfinite(motion)]
        fv.set("visual.hook_motion", float(hm.mean()) if hm.size else 0.0)
        fv.set("visual.hook_cut_count", sum(1 for c in cuts_s if 0 < c <= HOOK_S))
        fv.set("visual.hook_change", 100.0 * float(self.hook_changed.mean()) if self.hook_changed is not None else 0.0)
