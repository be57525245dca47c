"""Encode a clip with PyAV from a frame source and/or an audio signal (``write_clip``), in the containers and
codecs the tests and the demo need, with rotation, variable frame times, subtitles and metadata. See
``engine.synth``."""
from __future__ import annotations

import math
import os
import struct
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .scenes import VideoSource

#: Our codec names -> (FFmpeg encoder, encoder options when ``bitrate`` is None, options always set).
#: Presets favour speed (tests and the demo run on 2 cores): x264/x265 ``ultrafast``; libvpx ``realtime``.
#: CRF values are in each encoder's "visually good" range (x264 doc: 18-23; x265: 24-28; libvpx-vp9: 31-35).
VIDEO_CODECS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "h264": ("libx264", {"crf": "20"}, {"preset": "ultrafast"}),
    "hevc": ("libx265", {"crf": "24"}, {"preset": "ultrafast", "x265-params": "log-level=error"}),
    "vp9": ("libvpx-vp9", {"crf": "32", "b": "0"},
            {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "lag-in-frames": "0"}),
    "mpeg4": ("mpeg4", {}, {}),
}
#: Our audio codec names -> FFmpeg encoder.
AUDIO_CODECS: dict[str, str] = {"aac": "aac", "opus": "libopus", "mp3": "libmp3lame"}

#: Container by file extension -> (FFmpeg muxer, default video codec, default audio codec, subtitle codec).
_CONTAINERS: dict[str, tuple[str, str | None, str, str | None]] = {
    ".mp4": ("mp4", "h264", "aac", "mov_text"),
    ".mov": ("mov", "h264", "aac", "mov_text"),
    ".m4a": ("ipod", None, "aac", None),
    ".webm": ("webm", "vp9", "opus", "webvtt"),
    ".mkv": ("matroska", "h264", "aac", "subrip"),
    ".avi": ("avi", "mpeg4", "mp3", None),
}
#: Bits per pixel per frame used for mpeg4 when no bitrate is given (MPEG-4 Part 2 has no CRF in FFmpeg);
#: 0.25 bpp is comfortably transparent for synthetic content at these sizes (measured: no visible blocking).
_MPEG4_BITS_PER_PIXEL = 0.25
_AUDIO_BITRATE_BPS = 128_000


def _display_to_stored(frame: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Rotate a displayed frame counter-clockwise by ``rotation_deg`` to get the frame as a phone stores it."""
    k = (rotation_deg // 90) % 4
    return np.ascontiguousarray(np.rot90(frame, k=k)) if k else frame


def _add_audio_stream(container, audio: np.ndarray, *, codec: str, sample_rate: int, bitrate: int | None):
    """Add the audio stream; returns (stream, samples clipped to full scale [shape=(channels, n)], layout)."""
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[0] > 8:
        raise ValueError(f"Audio must be shaped (n,) or (channels, n), got {np.asarray(audio).shape}.")
    channels = data.shape[0]
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
    # A recorder cannot store more than full scale: clip like one (see ``mix`` and ``scale_to_lufs``).
    data = np.ascontiguousarray(np.clip(data, -1.0, 1.0))
    stream = container.add_stream(AUDIO_CODECS[codec], rate=sample_rate, layout=layout)
    stream.codec_context.bit_rate = int(bitrate or _AUDIO_BITRATE_BPS)
    return stream, data, layout


def _encode_audio(stream, data: np.ndarray, layout: str, sample_rate: int) -> list:
    """All packets of the audio, cut into the encoder's frame size (1024 for AAC, 960 for Opus...)."""
    import av

    cc = stream.codec_context
    frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=layout)
    frame.sample_rate = sample_rate
    frame.pts = 0
    frame.time_base = Fraction(1, sample_rate)
    resampler = av.AudioResampler(format=cc.format.name, layout=layout, rate=sample_rate,
                                  frame_size=cc.frame_size or None)
    packets = []
    for f in list(resampler.resample(frame)) + list(resampler.resample(None)):
        packets.extend(stream.encode(f))
    packets.extend(stream.encode(None))
    return packets


def _subtitle_payload(sub_codec: str, text: str) -> bytes:
    raw = text.encode("utf-8")
    if sub_codec == "mov_text":  # 3GPP TS 26.245 text sample: 16-bit big-endian length, then UTF-8 text
        if len(raw) > 0xFFFF:
            raise ValueError("A subtitle line is longer than 65535 bytes.")
        return struct.pack(">H", len(raw)) + raw
    return raw  # subrip / webvtt packets carry the plain text


def write_clip(
    path: str | os.PathLike,
    *,
    width: int = 360,
    height: int = 640,
    fps: float | Fraction = 30,
    duration_s: float = 2.0,
    video: VideoSource | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int = 48000,
    video_codec: str | None = None,
    pix_fmt: str | None = None,
    audio_codec: str | None = None,
    bitrate: int | None = None,
    audio_bitrate: int | None = None,
    rotation_deg: int = 0,
    frame_times_s: Sequence[float] | None = None,
    subtitles: Iterable[tuple[float, float, str]] | None = None,
    metadata: Mapping[str, str] | None = None,
    gop_frames: int | None = None,
) -> Path:
    """Encode a clip with PyAV from a frame source and/or an audio signal.

    The file is written under a temporary name next to ``path`` and renamed into place when complete, so a
    killed build never leaves a truncated clip behind.

    Parameters
    ----------
    path : path-like
        Output file. The container follows the extension: ``.mp4`` ``.mov`` ``.m4a`` (audio only) ``.webm``
        ``.mkv`` ``.avi``.
    width, height : int > 0, even
        *Displayed* frame size in pixels (what a viewer sees, after rotation).
    fps : float or Fraction > 0
        Frame rate for constant-frame-rate clips; also the nominal rate of VFR clips. Pass
        ``Fraction(30000, 1001)`` for NTSC 29.97.
    duration_s : float > 0
        Video length: ``round(duration_s * fps)`` frames. Ignored when ``frame_times_s`` is given. Audio is
        written as given (make it ``duration_s`` long yourself); an audio-only clip lasts as long as its audio.
    video : callable(i, t_s) -> np.ndarray [shape=(height, width, 3), dtype=uint8] or None
        Frame ``i`` (0-based) at time ``t_s`` in RGB, displayed orientation (e.g. from ``scene_sequence``).
        None writes no video stream (audio-only clip).
    audio : np.ndarray [shape=(n,) or (channels, n), dtype=float] or None
        Samples at ``sample_rate``, full scale 1.0; clipped to [-1, 1] before encoding. None writes no audio.
    sample_rate : int
        Audio sample rate in Hz (Opus accepts 8000, 12000, 16000, 24000 or 48000).
    video_codec : {"h264", "hevc", "vp9", "mpeg4"} or None
        None = the container's usual codec (mp4/mov/mkv: h264, webm: vp9, avi: mpeg4).
    pix_fmt : str or None
        Encoder pixel format, e.g. ``"yuv420p"`` (default) or ``"yuv420p10le"`` for 10-bit HEVC/VP9.
    audio_codec : {"aac", "opus", "mp3"} or None
        None = the container's usual codec (mp4/mov/m4a/mkv: aac, webm: opus, avi: mp3).
    bitrate : int or None
        Video bitrate in bits/s. None = constant-quality encoding that looks good (CRF, see ``VIDEO_CODECS``);
        a low value (e.g. 60_000 at 360x640) starves the encoder and gives visible blocking.
    audio_bitrate : int or None
        Audio bitrate in bits/s; None = 128 kb/s.
    rotation_deg : {0, 90, 180, 270}
        Display rotation, clockwise, as a phone records it (the legacy ``rotate`` tag; mp4/mov only). The
        frames are stored rotated counter-clockwise by this angle (a 360x640 display is stored as 640x360) and
        the track's display matrix (ISO/IEC 14496-12 ``tkhd``) tells the player to turn them back. FFmpeg and
        PyAV report it counter-clockwise: ``VideoFrame.rotation == -rotation_deg`` (mod 360).
    frame_times_s : sequence of float or None
        Explicit, strictly increasing presentation times in seconds, for variable-frame-rate clips. They are
        stored with a 1/90000 s time base (the MPEG system clock), so they read back within 1/90000 s.
    subtitles : iterable of (start_s, end_s, text) or None
        A text subtitle stream: ``mov_text`` in mp4/mov, ``subrip`` in mkv, ``webvtt`` in webm. Packets are
        muxed directly (no subtitle encoder involved); PyAV decodes them back as ``AssSubtitle.dialogue``.
    metadata : mapping of str -> str or None
        Container tags, e.g. ``{"title": ..., "comment": ...}``.
    gop_frames : int or None
        Maximum keyframe interval in frames; None = the encoder's default.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        For arguments that do not make a valid clip, in plain words.
    """
    import av

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _CONTAINERS:
        raise ValueError(f"Unsupported clip extension {path.suffix!r}; use one of {', '.join(_CONTAINERS)}.")
    muxer, default_vcodec, default_acodec, sub_codec = _CONTAINERS[ext]
    if video is None and audio is None:
        raise ValueError("A clip needs a video source, an audio signal, or both.")
    if video is not None and default_vcodec is None:
        raise ValueError(f"{ext} files hold audio only; pass video=None.")
    vcodec = video_codec or default_vcodec
    acodec = audio_codec or default_acodec
    if video is not None and vcodec not in VIDEO_CODECS:
        raise ValueError(f"Unknown video codec {vcodec!r}; use one of {', '.join(VIDEO_CODECS)}.")
    if audio is not None and acodec not in AUDIO_CODECS:
        raise ValueError(f"Unknown audio codec {acodec!r}; use one of {', '.join(AUDIO_CODECS)}.")
    if ext == ".webm" and ((video is not None and vcodec != "vp9") or (audio is not None and acodec != "opus")):
        raise ValueError("WebM holds VP9 video and Opus audio only.")
    if rotation_deg % 90 or rotation_deg not in (0, 90, 180, 270):
        raise ValueError(f"Rotation must be 0, 90, 180 or 270 degrees, got {rotation_deg}.")
    if rotation_deg and ext not in (".mp4", ".mov"):
        raise ValueError("Rotation can only be written into .mp4 or .mov files (the tkhd display matrix).")
    if fps <= 0:
        raise ValueError(f"Frame rate must be positive, got {fps}.")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"Frame size must be positive and even (4:2:0 chroma), got {width}x{height}.")
    subs = [(float(a), float(b), str(c)) for a, b, c in (subtitles or ())]
    if subs and sub_codec is None:
        raise ValueError(f"Subtitles cannot be stored in {ext} files; use .mp4, .mov, .mkv or .webm.")
    if subs and video is None:
        raise ValueError("Subtitles need a video stream to go with them.")

    if video is not None:
        if frame_times_s is not None:
            times = [float(t) for t in frame_times_s]
            if not times or any(b <= a for a, b in zip(times, times[1:])) or times[0] < 0:
                raise ValueError("frame_times_s must be non-negative and strictly increasing.")
        else:
            n_frames = int(round(duration_s * fps))
            if n_frames <= 0:
                raise ValueError(f"A {duration_s} s clip at {fps} fps has no frames.")
            times = [i / fps for i in range(n_frames)]
    else:
        times = []

    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(tmp), mode="w", format=muxer) as container:
            for key, value in (metadata or {}).items():
                container.metadata[str(key)] = str(value)
            vstream = None
            if video is not None:
                encoder, quality_opts, always_opts = VIDEO_CODECS[vcodec]
                opts = dict(always_opts)
                if bitrate is None:
                    opts.update(quality_opts)
                rate = Fraction(fps).limit_denominator(1001)
                vstream = container.add_stream(encoder, rate=rate, options=opts)
                stored_w, stored_h = (height, width) if rotation_deg in (90, 270) else (width, height)
                vstream.width, vstream.height = stored_w, stored_h
                vstream.pix_fmt = pix_fmt or "yuv420p"
                cc = vstream.codec_context
                if bitrate is not None:
                    cc.bit_rate = int(bitrate)
                elif vcodec == "mpeg4":
                    cc.bit_rate = int(_MPEG4_BITS_PER_PIXEL * stored_w * stored_h * float(rate))
                if gop_frames:
                    cc.gop_size = int(gop_frames)
                if frame_times_s is not None:
                    cc.time_base = Fraction(1, 90000)
                    vstream.time_base = Fraction(1, 90000)
                if vcodec == "hevc" and ext in (".mp4", ".mov"):
                    cc.codec_tag = "hvc1"  # the tag Apple players require for HEVC in mp4/mov
                if rotation_deg:
                    vstream.set_display_rotation(-rotation_deg)  # PyAV/FFmpeg angles are counter-clockwise
            astream = None
            if audio is not None:
                astream, adata, layout = _add_audio_stream(container, audio, codec=acodec, sample_rate=sample_rate,
                                                        bitrate=audio_bitrate)
            sstream = container.add_mux_stream(sub_codec) if subs else None
            container.start_encoding()

            pending = []  # (time_s, packet) of audio and subtitles, muxed in time order with the video
            if astream is not None:
                for p in _encode_audio(astream, adata, layout, sample_rate):
                    pending.append((float(p.pts * p.time_base) if p.pts is not None else 0.0, p))
            if sstream is not None:
                tb = sstream.time_base or Fraction(1, 1000)
                for start_s, end_s, text in sorted(subs):
                    pkt = av.Packet(_subtitle_payload(sub_codec, text))
                    pkt.stream = sstream
                    pkt.time_base = tb
                    pkt.pts = pkt.dts = int(round(start_s / tb))
                    pkt.duration = max(1, int(round((end_s - start_s) / tb)))
                    pending.append((start_s, pkt))
            pending.sort(key=lambda tp: tp[0])
            cursor = 0

            def flush_until(t_s: float) -> None:
                nonlocal cursor
                while cursor < len(pending) and pending[cursor][0] <= t_s:
                    container.mux(pending[cursor][1])
                    cursor += 1

            if vstream is not None:
                tb = vstream.codec_context.time_base
                for i, t in enumerate(times):
                    img = video(i, t)
                    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.shape != (height, width, 3):
                        got = getattr(img, "shape", type(img).__name__)
                        raise ValueError(f"The video source must return uint8 frames shaped ({height}, {width}, 3);"
                                         f" frame {i} is {got} {getattr(img, 'dtype', '')}.")
                    frame = av.VideoFrame.from_ndarray(_display_to_stored(img, rotation_deg), format="rgb24")
                    frame.pts = int(round(t / tb)) if frame_times_s is not None else i
                    frame.time_base = tb
                    flush_until(t)
                    container.mux(vstream.encode(frame))
                container.mux(vstream.encode(None))
            flush_until(math.inf)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
