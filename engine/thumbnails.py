"""One frame of a clip as a small picture, for the app's breakdown: people recognise a clip by a frame, not by its
file name. A frame is read on demand by seeking to the keyframe at or before the wanted time and decoding from
there up to it (at most one group of pictures, never the whole clip: the analysis already decoded it once), scaled
to ``THUMB_WIDTH_PX`` wide in the displayed orientation, and kept as a JPEG in a small cache under the data folder,
so asking again costs a file read. On the way the decoder skips the frames nothing refers to (B-frames) and the
deblocking filter: the frame shown is the last reference frame at or before the time (within a frame or two), and
the blocking the filter would smooth is invisible at 160 px. Measured on the 13 clips of ``shared/realclips`` at
their quarter, half and three-quarter points (39 frames; several clips have one keyframe in 8-10 s): frames decoded
per thumbnail median 62 and at most 226 without the skips, median 33 and at most 116 with them; median time 557 ms
without, 227 ms with (2 shared cores under load; the commands are in the issue 18 report).

``representative_time_s(result)`` picks the frame that stands for the clip: of the quarter, half and three-quarter
points (the positions YouTube offers as automatic thumbnails), the one whose second the analysis measured as the
sharpest; the half-way point when there is no sharpness series."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from .errors import MediaError

#: Thumbnail width in pixels (issue 18: "e.g. 160 px wide"): a half-block terminal cell shows 1x2 pixels, so
#: this is at most 160 columns of detail, more than a breakdown gives it; Kitty/Sixel terminals show it as is.
THUMB_WIDTH_PX = 160
#: Candidate points for the representative frame, as fractions of the clip: YouTube's automatic thumbnails are
#: taken at the quarter, half and three-quarter points.
REPRESENTATIVE_FRACTIONS = (0.25, 0.5, 0.75)
#: The series that says which candidate second is sharpest (per-second means, engine/extractors/visual).
SHARPNESS_SERIES = "visual.sharpness"
#: Frames decoded at most after the seek before giving up on reaching the time (a keyframe interval of 10 s at
#: 60 fps; phone cameras write one keyframe every 1-2 s): bounds the cost of one thumbnail on odd files.
MAX_DECODED_FRAMES = 600
#: JPEG quality of the cached thumbnails: 85 is the usual "visually lossless" setting for photos (IJG's default
#: is 75); at 160 px a lower one shows ringing around captions.
JPEG_QUALITY = 85
#: The cache keeps at most this many thumbnails (the least recently read go first): at ~11 KB each, ~22 MB.
CACHE_MAX_FILES = 2000


def representative_time_s(result) -> float:
    """The time (s) of the frame that stands for ``result``'s clip (see the module docstring)."""
    duration = (result.media.duration_s if result.media else 0.0) or 0.0
    candidates = [f * duration for f in REPRESENTATIVE_FRACTIONS]
    series = result.features.series.get(SHARPNESS_SERIES) if result.features is not None else None
    values = list(series.values) if series is not None else []
    step = float(series.step_s or 1.0) if series is not None else 1.0
    start = float(series.start_s or 0.0) if series is not None else 0.0

    def sharpness(t: float) -> float:
        i = min(int((t - start) / step), len(values) - 1)
        v = values[i] if i >= 0 else None
        return float(v) if v is not None and np.isfinite(v) else -np.inf

    if values:
        best = max(candidates, key=sharpness)  # the first of equals: max keeps the earliest
        if np.isfinite(sharpness(best)):
            return best
    return candidates[1]


class FrameGrab:
    """What reading one frame cost: ``frames_decoded`` after the seek (tests check it stays under a GOP)."""

    def __init__(self, image: np.ndarray, t_s: float, frames_decoded: int):
        self.image = image  # uint8 RGB [shape=(h, THUMB_WIDTH_PX, 3)], displayed orientation
        self.t_s = t_s  # the time of the frame shown, seconds from the first frame
        self.frames_decoded = frames_decoded


def grab_frame(path: str | os.PathLike, t_s: float, *, width_px: int = THUMB_WIDTH_PX) -> FrameGrab:
    """The frame shown at ``t_s`` seconds (from the first frame), ``width_px`` wide. Raises MediaError in plain
    words when the file cannot be read or has no picture."""
    import av

    from .media import VideoFrame, _open

    container = _open(Path(path))
    try:
        streams = [s for s in container.streams.video
                   if not (s.disposition & getattr(av.stream.Disposition, "attached_pic", 1024))]
        if not streams:
            raise MediaError(f"{Path(path).name} has no picture to show.", kind="no_video")
        vs = streams[0]
        vs.codec_context.skip_frame = "NONREF"
        vs.codec_context.options = {"skip_loop_filter": "all"}
        tb = float(vs.time_base)
        start = vs.start_time or 0
        target = start + int(round(max(0.0, t_s) / tb))
        try:
            container.seek(target, stream=vs, backward=True, any_frame=False)
        except av.error.FFmpegError:
            container.seek(0)  # an unseekable file: decode from the start (still bounded below)
        best, decoded = None, 0
        try:
            for frame in container.decode(vs):
                decoded += 1
                if best is None or frame.pts is None or frame.pts <= target:
                    best = frame
                if frame.pts is None or frame.pts >= target or decoded >= MAX_DECODED_FRAMES:
                    break
        except av.error.FFmpegError:
            pass  # a damaged tail: show the last frame that decoded
        if best is None:
            raise MediaError(f"{Path(path).name}: no frame could be decoded at {t_s:.1f} s.", kind="unreadable")
        rotation = int(round(getattr(best, "rotation", 0) or 0)) % 360
        sw, sh = best.width, best.height
        shown_w = sh if rotation in (90, 270) else sw
        scale = width_px / shown_w if shown_w else 1.0
        size = (max(2, int(round(sw * scale / 2)) * 2), max(2, int(round(sh * scale / 2)) * 2))
        image = VideoFrame(0, 0.0, best, rotation, size).rgb
        shown_t = (best.pts - start) * tb if best.pts is not None else t_s
        return FrameGrab(image, float(shown_t), decoded)
    finally:
        container.close()


def jpeg_bytes(image: np.ndarray) -> bytes:
    """A thumbnail as JPEG at ``JPEG_QUALITY``: median 11 KB at 160 px wide where PNG took 64 KB (the same 39
    frames of shared/realclips), so the cache stays small."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


class ThumbnailCache:
    """JPEG thumbnails on disk, named by the clip's content hash (or its path, size and time of change when the
    hash is not known) and the time in milliseconds."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def _file(self, path: str, key: str | None, t_s: float, width_px: int) -> Path:
        if not key:
            st = os.stat(path)
            key = hashlib.blake2b(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode(), digest_size=10).hexdigest()
        safe_key = "".join(c for c in key if c.isalnum())[:40]
        return self.folder / f"{safe_key}_{int(round(t_s * 1000))}ms_{width_px}px.jpg"

    def picture(self, path: str, t_s: float, *, key: str | None = None, width_px: int = THUMB_WIDTH_PX) -> bytes:
        """The JPEG of the frame at ``t_s``: from the cache, or read (one seek) and cached."""
        f = self._file(path, key, t_s, width_px)
        try:
            data = f.read_bytes()
            os.utime(f)  # read recently: kept longest
            return data
        except OSError:
            pass
        data = jpeg_bytes(grab_frame(path, t_s, width_px=width_px).image)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = f.with_name(f.name + f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, f)
            self._trim()
        except OSError:
            pass  # a read-only data folder: the picture is still shown, just not kept
        return data

    def _trim(self) -> None:
        files = list(self.folder.glob("*.jpg"))
        if len(files) <= CACHE_MAX_FILES:
            return
        files.sort(key=lambda p: p.stat().st_mtime)
        for p in files[:len(files) - CACHE_MAX_FILES]:
            try:
                p.unlink()
            except OSError:
                pass
