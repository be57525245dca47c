"""Probe and decode clips with PyAV, once.

``probe(path)`` reads the container header (and the first video frame, for the rotation a phone writes into the
display matrix). ``decode(path, ...)`` streams the clip in one pass: video frames at an analysis size in displayed
orientation (the full-size luma on request) and the audio resampled to mono float32. Nothing holds the whole
video in memory; the audio of a clip is small (a 3-minute clip at 48 kHz is 35 MB) and is kept whole because
loudness, tempo and voice activity are whole-programme measures.
"""
from __future__ import annotations

import errno
import math
import os
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import Cancelled, MediaError

#: Extensions scanned in folders. FFmpeg reads more; these are the ones video tools write.
VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .3gp .ts .mts .m2ts .flv .wmv .mpg .mpeg .ogv .m4a .mp3 .wav .aac .opus .ogg".split()
)
#: Files that a download or an editor leaves while it writes: never clips.
PARTIAL_SUFFIXES = frozenset(".part .ytdl .temp .tmp .crdownload .download".split())

#: Analysis size: frames are downscaled once so that the short side is this many pixels (DESIGN.md).
ANALYSIS_SHORT_SIDE_PX = 360
#: Audio is resampled once to this rate, mono float32. 48 kHz keeps true-peak and loudness exact for the usual
#: phone and platform rates (44.1/48 kHz) while mono halves the work of every audio feature.
AUDIO_RATE_HZ = 48_000
#: A frame rate is called variable when the spread of frame intervals exceeds this share of the median interval.
VFR_SPREAD = 0.1
#: A clip is cut short (truncated) when what decodes ends at least this long before the duration its header claims.
#: Audio and video tracks of intact files differ by a frame or an audio packet (<0.1 s); on the 13 clips of
#: ../shared/realclips the decoded length is within 0.01 s of the header's on every one (measured with
#: ``byteme score --json``: media.decoded_s against media.header_duration_s).
TRUNCATED_MIN_S = 1.0


@dataclass
class MediaInfo:
    """What the container says about a clip, with the displayed size after rotation."""

    path: str
    container: str
    size_bytes: int
    duration_s: float
    bitrate_bps: int | None
    has_video: bool
    has_audio: bool
    codec: str | None = None
    width: int = 0  # displayed width, px, after rotation
    height: int = 0  # displayed height, px, after rotation
    stored_width: int = 0
    stored_height: int = 0
    rotation_deg: int = 0  # counter-clockwise, as FFmpeg reports it
    fps: float = 0.0
    frame_count_estimate: int = 0
    pix_fmt: str | None = None
    bit_depth: int | None = None
    video_bitrate_bps: int | None = None
    audio_codec: str | None = None
    audio_channels: int = 0
    audio_sample_rate_hz: int = 0
    metadata: dict = field(default_factory=dict)
    subtitle_streams: int = 0
    #: What the container header claims (``duration_s`` and ``fps`` become what was decoded; see ``settle``).
    header_duration_s: float = 0.0
    header_fps: float = 0.0
    #: Seconds of the clip that decoded (the longer of the video's frames and the audio's samples); None until
    #: decoded. ``truncated``: the decode ended ``TRUNCATED_MIN_S`` or more before the header's duration.
    decoded_s: float | None = None
    truncated: bool = False

    @property
    def orientation(self) -> str:
        if not self.has_video:
            return "none"
        if self.height > self.width:
            return "portrait"
        return "landscape" if self.width > self.height else "square"

    def as_dict(self) -> dict:
        return asdict(self)

    def contract(self) -> dict:
        """The ``media`` object of the ``byteme score --json`` contract."""
        return {
            "duration_s": round(self.duration_s, 3),
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "has_audio": self.has_audio,
            "codec": self.codec,
            # beyond the contract's first keys: what the header claims against what decoded
            "header_duration_s": round(self.header_duration_s or self.duration_s, 3),
            "decoded_s": round(self.decoded_s, 3) if self.decoded_s is not None else None,
            "truncated": self.truncated,
        }

    def settle(self, stats: "DecodeStats", audio_s: float = 0.0, *, max_analysis_s: float | None = None) -> None:
        """After decoding: ``fps`` becomes the decoded frame rate (``frame_rate_fps``), the one definition every
        report uses; ``decoded_s`` what decoded; a clip that decoded ``TRUNCATED_MIN_S`` or more short of its
        header's duration (and not because of ``max_analysis_s``) is ``truncated`` and its ``duration_s`` becomes
        what decoded. The header's claims stay in ``header_duration_s`` and ``header_fps``."""
        self.header_duration_s = self.duration_s
        self.header_fps = self.fps
        rate = frame_rate_fps(stats.frame_times_s)
        if rate > 0:
            self.fps = rate
        video_s = stats.frames / rate if rate > 0 else (1.0 / self.fps if stats.frames and self.fps else 0.0)
        self.decoded_s = max(video_s, float(audio_s or 0.0))
        expected = min(self.duration_s, max_analysis_s) if max_analysis_s else self.duration_s
        if self.decoded_s > 0 and expected - self.decoded_s >= TRUNCATED_MIN_S:
            self.truncated = True
            self.duration_s = self.decoded_s


class VideoFrame:
    """One decoded frame, in displayed orientation, with lazily computed views.

    ``gray`` and ``rgb`` are at the analysis size (short side ``ANALYSIS_SHORT_SIDE_PX``, never upscaled);
    ``full_gray`` is the full-size luma, computed only when an extractor asks for it.
    """

    __slots__ = ("index", "t_s", "_frame", "_rot", "_size", "_gray", "_rgb", "_full_gray", "key_frame", "pict_type",
                 "_scaler")

    def __init__(self, index: int, t_s: float, frame, rotation_deg: int, analysis_size: tuple[int, int],
                 scaler=None):
        self._scaler = scaler  # one kept swscale context per decode: a new one per call costs ~5 ms at 1080p
        self.index = index
        self.t_s = t_s
        self._frame = frame
        self._rot = rotation_deg
        self._size = analysis_size  # (width, height) before rotation, i.e. as stored
        self._gray = None
        self._rgb = None
        self._full_gray = None
        self.key_frame = bool(frame.key_frame)
        self.pict_type = str(frame.pict_type) if frame.pict_type is not None else ""

    @property
    def source(self):
        """The decoder's own ``av.VideoFrame`` (planes as stored, not rotated), for zero-copy views of its planes;
        None once the frame is released. Read it, never keep it past ``on_frame``."""
        return self._frame

    @property
    def rotation_deg(self) -> int:
        """Clockwise rotation from stored to displayed orientation (0, 90, 180, 270)."""
        return self._rot

    @property
    def analysis_size(self) -> tuple[int, int]:
        """(width, height) of the analysis views before rotation, i.e. as stored."""
        return self._size

    def _rotate(self, img: np.ndarray) -> np.ndarray:
        k = (self._rot // 90) % 4
        return np.ascontiguousarray(np.rot90(img, k)) if k else img

    @property
    def gray(self) -> np.ndarray:
        """Luma at analysis size, uint8 [shape=(h, w)]."""
        if self._gray is None:
            w, h = self._size
            self._gray = self._rotate(self._reformat(width=w, height=h, format="gray").to_ndarray())
        return self._gray

    @property
    def rgb(self) -> np.ndarray:
        """Colour at analysis size, uint8 RGB [shape=(h, w, 3)]."""
        if self._rgb is None:
            w, h = self._size
            self._rgb = self._rotate(self._reformat(width=w, height=h, format="rgb24").to_ndarray())
        return self._rgb

    @property
    def full_gray(self) -> np.ndarray:
        """Full-size luma, uint8 [shape=(H, W)] in displayed orientation (8-bit, even for 10-bit sources)."""
        if self._full_gray is None:
            self._full_gray = self._rotate(self._reformat(format="gray").to_ndarray())
        return self._full_gray

    def _reformat(self, **kwargs):
        if self._scaler is not None:
            return self._scaler.reformat(self._frame, **kwargs)
        return self._frame.reformat(**kwargs)

    def release(self) -> None:
        """Drop the reference to the decoder's frame (keeps computed views)."""
        self._frame = None


@dataclass
class DecodedAudio:
    """Mono float32 samples in [-1, 1] at ``sample_rate_hz``, plus the peak of the original channels."""

    samples: np.ndarray
    sample_rate_hz: int
    source_channels: int
    source_peak: float  # max |sample| over all original channels, before the downmix

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz if self.sample_rate_hz else 0.0


def _open(path: Path):
    import av

    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise MediaError(f"{path.name} is a link to a file that does not exist.", kind="not_found") from None
        raise MediaError(f"{path.name} does not exist.", kind="not_found") from None
    except PermissionError:
        raise MediaError(f"{path.name} cannot be read: permission denied.", kind="permission_denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError(f"{path.name} is a link that points back to itself.", kind="not_found") from None
        raise MediaError(f"{path.name} cannot be read: {exc.strerror}.", kind="unreadable") from None
    if not path.is_file():
        what = "a folder" if path.is_dir() else "a pipe" if path.is_fifo() else "a folder or a device"
        raise MediaError(f"{path.name} is {what}, not a video file.", kind="not_a_file")
    if st.st_size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes).", kind="empty_file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path.name} cannot be read: permission denied.", kind="permission_denied")
    try:
        return av.open(str(path), metadata_errors="replace")
    except PermissionError:
        raise MediaError(f"{path.name} cannot be read: permission denied.", kind="permission_denied") from None
    except av.error.InvalidDataError:
        raise MediaError(
            f"{path.name} is not a video FFmpeg can read (the data is not a known container, or its index is missing).",
            kind="unreadable",
        ) from None
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path.name} could not be opened: {_ffmpeg_reason(exc)}.", kind="unreadable") from None


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".") or type(exc).__name__


def _bit_depth(pix_fmt: str | None) -> int | None:
    if not pix_fmt:
        return None
    import av

    try:
        fmt = av.VideoFormat(pix_fmt)
        return max(c.bits for c in fmt.components)
    except Exception:
        return None


def analysis_size(stored_w: int, stored_h: int, short_side: int = ANALYSIS_SHORT_SIDE_PX) -> tuple[int, int]:
    """(width, height) of the analysis frame as stored (before rotation): short side scaled to ``short_side``,
    never upscaled, both even."""
    s = min(stored_w, stored_h)
    scale = min(1.0, short_side / s) if s else 1.0
    w = max(2, int(round(stored_w * scale / 2)) * 2)
    h = max(2, int(round(stored_h * scale / 2)) * 2)
    return w, h


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read a clip's container header, and the first frame's rotation. Raises MediaError in plain words."""
    path = Path(path)
    container = _open(path)
    try:
        return _probe_open(path, container)
    finally:
        container.close()


def _probe_open(path: Path, container) -> MediaInfo:
    import av

    vstreams = list(container.streams.video)
    astreams = list(container.streams.audio)
    # Cover art in an .m4a/.mp3 is a one-picture "video" stream: not a video.
    vstreams = [s for s in vstreams if not (s.disposition & getattr(av.stream.Disposition, "attached_pic", 1024))]
    if not vstreams and not astreams:
        raise MediaError(f"{path.name} has no video or audio stream.", kind="no_streams")
    duration_s = 0.0
    if container.duration:
        duration_s = container.duration / 1_000_000
    info = MediaInfo(
        path=str(path),
        container=container.format.name,
        size_bytes=path.stat().st_size,
        duration_s=duration_s,
        bitrate_bps=container.bit_rate or None,
        has_video=bool(vstreams),
        has_audio=bool(astreams),
        metadata={str(k): str(v) for k, v in (container.metadata or {}).items()},
        subtitle_streams=len(container.streams.subtitles),
    )
    if vstreams:
        v = vstreams[0]
        cc = v.codec_context
        info.codec = cc.name
        info.stored_width, info.stored_height = cc.width, cc.height
        info.pix_fmt = cc.pix_fmt
        info.bit_depth = _bit_depth(cc.pix_fmt)
        info.video_bitrate_bps = cc.bit_rate or None
        rate = v.average_rate or v.guessed_rate or v.base_rate
        info.fps = float(rate) if rate else 0.0
        if v.duration and v.time_base:
            info.duration_s = max(info.duration_s, float(v.duration * v.time_base))
        info.frame_count_estimate = v.frames or int(round(info.fps * info.duration_s))
        rotation = 0
        try:
            for frame in container.decode(v):
                rotation = int(round(frame.rotation or 0))
                if not info.stored_width:
                    info.stored_width, info.stored_height = frame.width, frame.height
                break
        except av.error.FFmpegError:
            pass  # the decode pass reports unreadable video in plain words
        info.rotation_deg = rotation % 360
        if info.rotation_deg in (90, 270):
            info.width, info.height = info.stored_height, info.stored_width
        else:
            info.width, info.height = info.stored_width, info.stored_height
    if astreams:
        a = astreams[0]
        info.audio_codec = a.codec_context.name
        info.audio_channels = a.codec_context.channels or 0
        info.audio_sample_rate_hz = a.codec_context.sample_rate or 0
        if not vstreams and a.duration and a.time_base:
            info.duration_s = max(info.duration_s, float(a.duration * a.time_base))
    if info.bitrate_bps is None and info.duration_s > 0:
        info.bitrate_bps = int(info.size_bytes * 8 / info.duration_s)
    return info


def frame_rate_fps(times_s) -> float:
    """Frames per second of a decoded timeline: (frames - 1) / (last time - first time), the mean frame interval
    inverted (so 168 frames alternating 1/30 and 1/15 s read 19.9, not the median's 15 or 30). 0 below 2 frames.

    times_s : sequence of float [shape=(frames,)], presentation times in seconds, increasing."""
    n = len(times_s)
    if n < 2:
        return 0.0
    span = float(times_s[-1]) - float(times_s[0])
    return (n - 1) / span if span > 0 else 0.0


@dataclass
class DecodeStats:
    frames: int = 0
    video_time_s: float = 0.0  # pts of the last frame
    frame_times_s: list = field(default_factory=list)
    decode_errors: int = 0

    def is_vfr(self) -> bool:
        t = np.asarray(self.frame_times_s, dtype=np.float64)
        if len(t) < 5:
            return False
        d = np.diff(t)
        d = d[d > 0]
        if len(d) < 4:
            return False
        med = float(np.median(d))
        spread = float(np.percentile(d, 95) - np.percentile(d, 5))
        return med > 0 and spread > VFR_SPREAD * med


def decode(
    path: str | os.PathLike,
    info: MediaInfo,
    *,
    on_frame: Callable[[VideoFrame], None] | None = None,
    short_side_px: int = ANALYSIS_SHORT_SIDE_PX,
    audio_rate_hz: int = AUDIO_RATE_HZ,
    max_duration_s: float | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
    include_audio: bool = True,
) -> tuple[DecodeStats, DecodedAudio | None]:
    """Decode a clip once: call ``on_frame`` for every video frame (in presentation order) and return the audio.

    ``progress`` receives the fraction done (0..1) by time; ``cancel`` stops the pass with ``Cancelled``.
    Frames past ``max_duration_s`` are not decoded. Raises MediaError when no frame and no sample can be read.
    With ``include_audio=False`` only the video is read (the caller decodes the audio with ``decode_audio``) and
    the audio returned is None.
    """
    import av

    path = Path(path)
    container = _open(path)
    stats = DecodeStats()
    collector = None
    try:
        vstream = container.streams.video[0] if info.has_video and container.streams.video else None
        astream = (container.streams.audio[0] if include_audio and info.has_audio and container.streams.audio
                   else None)
        streams = [s for s in (vstream, astream) if s is not None]
        for s in streams:
            s.thread_type = "AUTO"
        size = analysis_size(info.stored_width, info.stored_height, short_side_px) if vstream else (0, 0)
        limit_s = max_duration_s if max_duration_s else math.inf
        collector = (_AudioCollector(audio_rate_hz, info.audio_channels, min(info.duration_s or 0.0, limit_s))
                     if astream else None)
        from av.video.reformatter import VideoReformatter

        scaler = VideoReformatter()
        total_s = info.duration_s or 0.0
        t0_video = None
        last_report = -1.0
        consumer = None
        if on_frame is not None and vstream:
            consumer = _FrameConsumer(on_frame, progress, total_s,
                                      frames_ahead(info.stored_width, info.stored_height, info.bit_depth))
        video_done = vstream is None
        audio_done = astream is None
        try:
            for packet in container.demux(*streams):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                if consumer is not None:
                    consumer.check()
                if packet.stream is vstream and video_done:
                    continue
                if packet.stream is astream and audio_done:
                    continue
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    stats.decode_errors += 1
                    if stats.decode_errors > 50 and stats.frames == 0:
                        raise
                    continue
                for frame in frames:
                    if packet.stream is vstream:
                        t = frame.time if frame.time is not None else stats.frames / (info.fps or 30.0)
                        if t0_video is None:
                            t0_video = t
                        t -= t0_video
                        if t > limit_s:
                            video_done = True
                            break
                        vf = VideoFrame(stats.frames, t, frame, info.rotation_deg, size, scaler)
                        stats.frames += 1
                        stats.video_time_s = t
                        stats.frame_times_s.append(t)
                        if consumer is not None:
                            consumer.put(vf)
                        elif progress is not None and total_s > 0 and t - last_report >= 0.25:
                            last_report = t
                            progress(min(1.0, t / total_s))
                    else:
                        if frame.time is not None and frame.time > limit_s:
                            audio_done = True
                            break
                        collector.add(frame)
                if video_done and audio_done:
                    break
        except av.error.FFmpegError as exc:
            if stats.frames == 0 and (collector is None or not collector.n):
                raise MediaError(
                    f"{path.name} could not be decoded: {_ffmpeg_reason(exc)}.", kind="decode_failed"
                ) from None
            stats.decode_errors += 1  # keep what was decoded: a truncated tail is reported, not fatal
        if consumer is not None:
            consumer.finish()  # every frame handed to the extractors, their errors raised here
    finally:
        if consumer is not None:
            consumer.stop()
        container.close()
    if vstream is not None and stats.frames == 0:
        raise MediaError(
            f"{path.name} has a video stream but not one frame of it could be decoded (the file may be truncated).",
            kind="truncated",
        )
    audio = collector.result() if collector is not None else None
    if progress is not None:
        progress(1.0)
    return stats, audio


def decode_audio(
    path: str | os.PathLike,
    info: MediaInfo,
    *,
    audio_rate_hz: int = AUDIO_RATE_HZ,
    max_duration_s: float | None = None,
    cancel: threading.Event | None = None,
) -> tuple[DecodedAudio, int]:
    """Decode only the audio of a clip that also has video (the video pass then runs with ``include_audio=False``,
    in another thread): (mono audio, decode errors). Never raises for a damaged track: what could be decoded is
    returned and the errors counted (the video pass decides whether the file is readable at all).
    ``cancel`` stops it with ``Cancelled``."""
    import av

    path = Path(path)
    container = _open(path)
    errors = 0
    limit_s = max_duration_s if max_duration_s else math.inf
    collector = _AudioCollector(audio_rate_hz, info.audio_channels, min(info.duration_s or 0.0, limit_s))
    try:
        if not container.streams.audio:
            return collector.result(), 1
        astream = container.streams.audio[0]
        astream.thread_type = "AUTO"
        try:
            for packet in container.demux(astream):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    errors += 1
                    continue
                done = False
                for frame in frames:
                    if frame.time is not None and frame.time > limit_s:
                        done = True
                        break
                    collector.add(frame)
                if done:
                    break
        except av.error.FFmpegError:
            errors += 1  # a damaged tail: keep what was decoded
        return collector.result(), errors
    finally:
        container.close()


class _AudioCollector:
    """Resamples decoded audio frames to mono float32 at one rate into one buffer sized from the probe's duration
    (a 10-minute clip arrives as ~28,000 chunks: joining them at the end needed twice the audio's 115 MB), and
    keeps the peak of the original channels."""

    #: Seconds of slack on top of the expected duration before the buffer has to grow.
    SLACK_S = 2.0
    #: A header may claim any duration: the first allocation never plans for more than this (it grows after).
    MAX_EXPECTED_S = 1200.0

    def __init__(self, rate_hz: int, source_channels: int, expected_s: float = 0.0):
        import av

        self.rate_hz, self.source_channels = rate_hz, source_channels
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=rate_hz)
        expected_s = min(max(0.0, float(expected_s)), self.MAX_EXPECTED_S)
        self.buf = np.empty(int((expected_s + self.SLACK_S) * rate_hz), np.float32)
        self.n = 0
        self.source_peak = 0.0

    def _append(self, out) -> None:
        a = out.to_ndarray().reshape(-1)
        if self.n + a.size > self.buf.size:  # longer than the header said: grow by half
            bigger = np.empty(max(self.n + a.size, self.buf.size * 3 // 2), np.float32)
            bigger[: self.n] = self.buf[: self.n]
            self.buf = bigger
        self.buf[self.n : self.n + a.size] = a
        self.n += a.size

    def add(self, frame) -> None:
        arr = frame.to_ndarray()
        if arr.size:
            peak = float(np.max(np.abs(arr))) if arr.dtype.kind == "f" else _int_peak(arr)
            self.source_peak = max(self.source_peak, peak)
        for out in self.resampler.resample(frame):
            self._append(out)

    def result(self) -> DecodedAudio:
        for out in self.resampler.resample(None):
            self._append(out)
        samples = self.buf[: self.n]
        if self.buf.size - self.n > self.SLACK_S * self.rate_hz:  # the header over-promised: do not keep the rest
            samples = samples.copy()
        self.buf = np.empty(0, np.float32)
        return DecodedAudio(samples, self.rate_hz, self.source_channels, self.source_peak)


#: Decoded frames may wait for the extractors up to this much memory (at least FRAMES_AHEAD_MIN frames, at most
#: FRAMES_AHEAD_MAX). FFmpeg decodes the next frames (releasing the GIL) while the extractors work on this one,
#: and the slack absorbs their uneven cost (a face look, a full-size statistic: 20-60 ms against ~3 ms a frame):
#: a 4-frame queue made the decoder wait for them. Measured on the 60 s 1080x1920 clip (scripts/bench.py, best of
#: 3, with the extractor thread at BACKGROUND_NICE): 4 frames 8.42 s, 8 frames 8.15 s, 16 frames 7.97 s,
#: 32 frames 7.76 s. 96 MiB is 32 frames of 1080x1920 4:2:0 and 8 of 4K (4 of 10-bit 4K).
FRAMES_AHEAD_BYTES = 96 * 1024 * 1024
FRAMES_AHEAD_MIN = 4
FRAMES_AHEAD_MAX = 32
#: Niceness added to the threads that work beside the decoder (extractors, the audio pass). FFmpeg's own decoding
#: threads keep the process's priority, so they run whenever they can and the analysis fills the time they leave
#: idle (H.264 frame threads keep ~1.5 of 2 cores busy here). Measured as above, 32 frames ahead: nice 0 8.07 s
#: (ratio 1.36), nice 10 7.76 s (1.31). Linux only (per-thread niceness); elsewhere a no-op.
BACKGROUND_NICE = 10


def frames_ahead(width: int | None, height: int | None, bit_depth: int | None = 8) -> int:
    """How many decoded frames may wait for the extractors (see ``FRAMES_AHEAD_BYTES``)."""
    bytes_per_px = 1.5 * (2 if (bit_depth or 8) > 8 else 1)  # 4:2:0; 10-bit samples take two bytes
    frame_bytes = max(1.0, (width or 0) * (height or 0) * bytes_per_px)
    return int(max(FRAMES_AHEAD_MIN, min(FRAMES_AHEAD_MAX, FRAMES_AHEAD_BYTES // frame_bytes)))


def lower_thread_priority() -> None:
    """Make the calling thread yield to the decoder (``BACKGROUND_NICE``); best effort, Linux only."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + BACKGROUND_NICE))
    except (OSError, AttributeError):
        pass


class _FrameConsumer:
    """Runs ``on_frame`` (and progress) for decoded frames in a second thread, in order, so decoding and the
    extractors overlap on two cores (measured: a 60 s 1080p analysis 10.0 -> 8.9 s wall, metrics identical,
    scripts/bench_decode_overlap.py). An extractor's exception is re-raised in the decoding thread."""

    _DONE = object()

    def __init__(self, on_frame, progress, total_s: float, ahead: int = FRAMES_AHEAD_MIN):
        import queue

        self.on_frame, self.progress, self.total_s = on_frame, progress, total_s
        self.queue: "queue.Queue" = queue.Queue(maxsize=ahead)
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="byteme-extractors", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        lower_thread_priority()
        last_report = -1.0
        while True:
            vf = self.queue.get()
            if vf is self._DONE:
                return
            if self.error is not None or self.stopped.is_set():
                vf.release()
                continue  # drain without work after an error or a stop
            try:
                self.on_frame(vf)
                vf.release()
                if self.progress is not None and self.total_s > 0 and vf.t_s - last_report >= 0.25:
                    last_report = vf.t_s
                    self.progress(min(1.0, vf.t_s / self.total_s))
            except BaseException as exc:  # re-raised in the decoding thread by check()/finish()
                self.error = exc

    def put(self, vf) -> None:
        self.check()
        self.queue.put(vf)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        self.queue.put(self._DONE)
        self.thread.join()
        self.check()

    def stop(self) -> None:
        """After an error or a cancel in the decoding thread: let the thread drain and end."""
        if self.thread.is_alive():
            self.stopped.set()
            self.queue.put(self._DONE)
            self.thread.join()


def _int_peak(arr: np.ndarray) -> float:
    full = float(np.iinfo(arr.dtype).max)
    return float(np.max(np.abs(arr.astype(np.int64)))) / full


def iter_clips(paths, *, recursive: bool = True) -> Iterator[Path]:
    """Files and folders to clip paths, in a stable order. A folder is walked recursively for video extensions
    (a folder is never yielded, whatever its name: so ``iter_clips(iter_clips(x))`` is ``iter_clips(x)``, which the
    job queue relies on); a file named directly is always yielded (so a bad file given by name is reported, not
    skipped). Symlink loops
    are not followed twice; partial downloads are skipped."""
    seen_dirs: set[tuple[int, int]] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from _walk(p, seen_dirs, recursive)
        else:
            yield p


def _walk(folder: Path, seen: set, recursive: bool) -> Iterator[Path]:
    try:
        st = folder.stat()
    except OSError:
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return
    seen.add(key)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        p = Path(entry.path)
        suffix = p.suffix.lower()
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:  # a folder is never a clip, even one named x.mp4: it is walked (as JobQueue.enqueue does)
            if recursive:
                yield from _walk(p, seen, recursive)
            continue
        if suffix in PARTIAL_SUFFIXES:
            continue
        if suffix in VIDEO_EXTENSIONS:
            yield p

