"""Is a downloaded file a complete video? PyAV opens it, finds a video stream, decodes a frame and sees packets
up to the duration the container declares, before the file gets its final name.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import IngestError
from .errors import KIND_TEXT, clean_detail

#: A container that declares a stream duration but whose packets stop earlier than this is truncated.
#: Measured: complete PyAV-written MP4s end within 0.001 s of the declared duration; half a file misses > 1 s.
TRUNCATION_TOLERANCE_S = 0.25


def check_video_file(path: Path) -> None:
    """Raise ``IngestError(kind="not_video")`` unless PyAV opens ``path``, finds a video stream, decodes a
    frame, and finds packets up to the duration the container declares (so a cut-off download fails)."""
    import av

    try:
        with av.open(str(path)) as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise IngestError(f"{KIND_TEXT['not_video']}: it has no video stream.", kind="not_video")
            ends: dict[int, int] = {}
            decoded = False
            for packet in container.demux():
                if packet.pts is None or not packet.size:
                    continue
                index = packet.stream.index
                ends[index] = max(ends.get(index, packet.pts), packet.pts + (packet.duration or 0))
                if not decoded and index == video.index:
                    decoded = bool(packet.decode()) or decoded
            if not decoded:
                # some decoders buffer frames: flush once
                decoded = any(True for _ in video.codec_context.decode(None)) if ends.get(video.index) else False
            if not decoded:
                raise IngestError(f"{KIND_TEXT['not_video']}: no video frame could be decoded.", kind="not_video")
            for stream in container.streams:
                if stream.type not in ("video", "audio") or not stream.duration or not stream.time_base:
                    continue
                missing_s = float((stream.duration - ends.get(stream.index, 0)) * stream.time_base)
                if missing_s > TRUNCATION_TOLERANCE_S:
                    declared_s = float(stream.duration * stream.time_base)
                    raise IngestError(
                        f"{KIND_TEXT['not_video']}: the file is cut off ({stream.type} stops "
                        f"{missing_s:.2f} s before its declared {declared_s:.2f} s).", kind="incomplete")
    except IngestError:
        raise
    except Exception as exc:  # PyAV raises many FFmpeg error classes
        reason = getattr(exc, "strerror", None) or type(exc).__name__  # FFmpeg's reason, without the path
        raise IngestError(f"{KIND_TEXT['not_video']} ({clean_detail(reason, 160)}).", kind="not_video") from None
