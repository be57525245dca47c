"""Thumbnails for the breakdown (engine/thumbnails.py): the frame at a time, read with one seek and at most one
group of pictures decoded, in the displayed orientation, 160 px wide; the typical frame; the disk cache."""
from __future__ import annotations

import numpy as np
import pytest

from engine import thumbnails
from engine.errors import MediaError
from engine.features import FeatureVector
from engine.media import MediaInfo
from engine.result import ClipResult
from engine.thumbnails import THUMB_WIDTH_PX, ThumbnailCache, grab_frame, representative_time_s

#: Background by second (RGB) and the light square top left: what each frame must show.
COLOURS = ((210, 40, 40), (40, 190, 60), (40, 60, 210))
LIGHT = 235
GOP_FRAMES = 15  # a keyframe every 0.5 s at 30 fps
TOL = 20  # H.264 at its default quality and the yuv420 round trip move flat colours by a few levels


def _video(i: int, t: float):
    img = np.empty((640, 360, 3), np.uint8)
    img[:] = COLOURS[min(int(t), 2)]
    img[40:200, 40:200] = LIGHT
    return img


@pytest.fixture(scope="module")
def rgb_clip(clips):
    return clips("thumbs_rgb", duration_s=3.0, video=_video, audio=None, gop_frames=GOP_FRAMES)


@pytest.mark.parametrize("t_s, second", [(0.0, 0), (0.7, 0), (1.5, 1), (2.2, 2), (2.99, 2), (9.0, 2)])
def test_frame_at_a_time_shows_that_second_after_one_seek(rgb_clip, t_s, second):
    grab = grab_frame(rgb_clip, t_s)
    assert grab.image.shape == (284, THUMB_WIDTH_PX, 3)  # 360x640 scaled to 160 wide: 160x284 (even)
    assert np.abs(grab.image[200, 80].astype(int) - COLOURS[second]).max() <= TOL
    assert np.abs(grab.image[50, 50].astype(int) - LIGHT).max() <= TOL  # the square, top left
    assert 1 <= grab.frames_decoded <= GOP_FRAMES + 1  # one group of pictures at most, never the clip (90)
    assert grab.t_s == pytest.approx(min(t_s, 89 / 30), abs=1 / 30 + 1e-6)  # the frame shown at or before t


def test_rotated_clip_thumbnail_is_in_the_displayed_orientation(clips):
    clip = clips("thumbs_rotated", duration_s=1.0, video=_video, audio=None, rotation_deg=90)
    grab = grab_frame(clip, 0.5)
    assert grab.image.shape == (284, THUMB_WIDTH_PX, 3)  # stored 640x360, displayed (and shown) 360x640
    assert np.abs(grab.image[50, 50].astype(int) - LIGHT).max() <= TOL  # the square is still top left
    assert np.abs(grab.image[50, 140].astype(int) - COLOURS[0]).max() <= TOL


def test_unreadable_and_audio_only_files_say_why(tmp_path, clips):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError):
        grab_frame(bad, 0.0)
    audio = clips("thumbs_audio_only", suffix=".m4a", video=None, audio="sine")
    with pytest.raises(MediaError, match="no picture"):
        grab_frame(audio, 0.0)


def _result(duration_s: float, sharpness: list | None) -> ClipResult:
    fv = FeatureVector()
    if sharpness is not None:
        fv.add_series("visual.sharpness", sharpness, step_s=1.0)
    media = MediaInfo(path="x.mp4", container="mp4", size_bytes=1, duration_s=duration_s, bitrate_bps=1,
                      has_video=True, has_audio=False, codec="h264", width=360, height=640, fps=30.0)
    return ClipResult(path="x.mp4", status="ok", media=media, features=fv)


def test_typical_frame_is_the_sharpest_quarter_point():
    # 12 s: candidates 3, 6 and 9 s; the sharpest of those seconds wins (here 9 s), the others are ignored
    sharp = [0.9, 0.9, 0.1, 0.2, 0.95, 0.1, 0.3, 0.1, 0.2, 0.6, 0.1, 0.1]
    assert representative_time_s(_result(12.0, sharp)) == 9.0
    sharp[3] = 0.7
    assert representative_time_s(_result(12.0, sharp)) == 3.0
    assert representative_time_s(_result(12.0, [0.5] * 12)) == 3.0  # a tie: the earliest
    assert representative_time_s(_result(12.0, None)) == 6.0  # no series: half-way
    assert representative_time_s(_result(12.0, [None] * 12)) == 6.0  # nothing measured: half-way


def test_cache_reads_each_frame_once(rgb_clip, tmp_path, monkeypatch):
    calls = []
    real = thumbnails.grab_frame
    monkeypatch.setattr(thumbnails, "grab_frame", lambda *a, **k: calls.append(a) or real(*a, **k))
    cache = ThumbnailCache(tmp_path / "thumbs")
    first = cache.picture(str(rgb_clip), 1.5, key="abc123")
    assert first.startswith(b"\xff\xd8") and len(calls) == 1
    assert cache.picture(str(rgb_clip), 1.5, key="abc123") == first and len(calls) == 1  # from the disk
    cache.picture(str(rgb_clip), 2.5, key="abc123")
    cache.picture(str(rgb_clip), 1.5)  # no content hash: keyed by path, size and time of change
    assert len(calls) == 3 and len(list((tmp_path / "thumbs").glob("*.jpg"))) == 3
    from PIL import Image
    import io

    img = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"))
    assert img.shape == (284, 160, 3) and np.abs(img[200, 80].astype(int) - COLOURS[1]).max() <= TOL
