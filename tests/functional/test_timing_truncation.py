"""One frame rate everywhere, irregular timing said with numbers, and a clip cut short said (issue 16, points 6
and 7). Generated clips with known answers: frames at explicit times alternating 1/30 and 1/15 s (20 fps on
average), and a 4 s clip whose file is cut to half its bytes."""
from __future__ import annotations

import av
import pytest

from engine import library
from engine.config import load_config

W, H = 180, 320
#: Frame intervals alternating 1/30 and 1/15 s, as the phone clip 421c8b59: 2 frames every 0.1 s = 20 fps average.
ALTERNATING_TIMES_S = tuple(k // 2 * 0.1 + (k % 2) / 30 for k in range(41))  # 41 frames over 2.0 s


@pytest.fixture(scope="module")
def cfg():
    return load_config(use_user_file=False)


@pytest.fixture(scope="module")
def alternating(clips, cfg):
    path = clips("alternating_30_15", width=W, height=H, frame_times_s=ALTERNATING_TIMES_S, audio=None)
    return library.analyze(path, cfg, use_cache=False, options={"ocr": False})


def test_one_frame_rate_in_media_metrics_and_findings(alternating):
    r = alternating
    assert r.ok, r.error
    assert r.media.fps == pytest.approx(20.0, abs=0.01)  # 40 intervals over 2.0 s; the median would say 15 or 30
    assert r.media.contract()["fps"] == pytest.approx(20.0, abs=0.01)
    assert r.features.values["visual.nominal_fps"] == pytest.approx(r.media.fps, abs=1e-9)
    assert r.features.values["visual.fps"] == pytest.approx(r.media.fps, abs=1e-9)  # no repeated frames
    low = next(f for f in r.findings if f.code == "visual.low_frame_rate")
    assert "Frame rate is 20" in low.message and "15 fps" not in low.message


def test_irregular_timing_is_a_finding_with_the_intervals(alternating):
    f = next(f for f in alternating.findings if f.code == "visual.irregular_frame_timing")
    assert "alternate between 33 ms and 67 ms" in f.message
    assert "41 frames in 2.0 s, 20.0 fps on average" in f.message
    # the 5th-95th percentile spread over the median interval: (67 - 33) / 50 ms (the median of an even count of
    # 33 and 67 ms intervals is their mean)
    assert f.value == pytest.approx(100 * (1 / 15 - 1 / 30) / ((1 / 15 + 1 / 30) / 2), abs=0.5)


def test_a_steady_clip_has_its_rate_and_no_timing_finding(good_clip, cfg):
    r = library.analyze(good_clip, cfg, use_cache=False, options={"ocr": False})
    assert r.media.fps == pytest.approx(30.0, abs=0.01)
    assert r.media.header_fps == pytest.approx(30.0, abs=0.01)
    assert not any(f.code in ("visual.irregular_frame_timing", "media.truncated") for f in r.findings)
    assert r.media.truncated is False
    assert r.media.decoded_s == pytest.approx(r.media.duration_s, abs=0.05)


def _faststart_copy(src, dst):
    """Remux ``src`` with its index (moov) at the front, as clips downloaded from the platforms are: a file cut
    short then still opens and its header still claims the whole duration."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as out:
        streams = {}
        for s in inp.streams:
            if s.type in ("video", "audio"):
                streams[s.index] = out.add_stream_from_template(s)
        for packet in inp.demux(*[inp.streams[i] for i in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def test_a_file_cut_to_half_its_bytes_says_how_much_decoded(clips, cfg, tmp_path):
    whole = clips("truncation_source", width=W, height=H, fps=30, duration_s=4.0)
    fast = tmp_path / "whole.mp4"
    _faststart_copy(whole, fast)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) // 2])
    r = library.analyze(cut, cfg, use_cache=False, options={"ocr": False})
    assert r.ok, r.error
    m = r.media.contract()
    assert m["header_duration_s"] == pytest.approx(4.0, abs=0.1)
    assert m["truncated"] is True
    assert 1.0 <= m["decoded_s"] <= 3.0  # about half, in time
    assert m["duration_s"] == m["decoded_s"]
    f = next(f for f in r.findings if f.code == "media.truncated")
    assert f.severity == "high"
    assert r.findings[0] is f  # the top finding: every other verdict describes only what decoded
    assert f"Only {m['decoded_s']:.1f} s of this clip could be decoded, of the 4.0 s its header claims" in f.message
    intact = library.analyze(fast, cfg, use_cache=False, options={"ocr": False})
    assert not intact.media.truncated and intact.media.duration_s == pytest.approx(4.0, abs=0.1)
    assert not any(f.code == "media.truncated" for f in intact.findings)


def test_the_usual_interval_does_not_flip_with_the_phase_of_an_alternating_cadence():
    """33/67 ms alternating, with one more of either: the usual interval is their mean (the median was one or the
    other, and every 67 ms step read as a dropped frame when the 33s outnumbered them); a lone gap in a steady
    30 fps clip does not stretch it."""
    import numpy as np

    from engine.extractors.visual.temporal import usual_interval_s

    short_first = np.array([1 / 30, 1 / 15] * 20 + [1 / 30])  # 21 x 33 ms, 20 x 67 ms
    long_first = np.array([1 / 15, 1 / 30] * 20 + [1 / 15])  # 21 x 67 ms, 20 x 33 ms
    for iv in (short_first, long_first):
        fps = len(iv) / iv.sum()
        assert usual_interval_s(iv, fps) == pytest.approx(iv.mean())
        assert 0.048 < usual_interval_s(iv, fps) < 0.052
    steady = np.array([1 / 30] * 240 + [2.0])  # 8 s at 30 fps, then a 2 s hole
    assert usual_interval_s(steady, len(steady) / steady.sum()) == pytest.approx(1 / 30)
    assert usual_interval_s(np.array([]), 0.0) == 0.0


@pytest.mark.parametrize("start", [0, 1], ids=["short-step-first", "long-step-first"])
def test_an_alternating_cadence_has_no_dropped_frames_whichever_step_comes_first(clips, cfg, start):
    """The same 20 fps phone cadence (33 / 67 ms), cut to start on either step and 40 frames long so one step comes
    once more: no dropped frames either way (the low frame rate names it), the same jitter."""
    times = [t - ALTERNATING_TIMES_S[start] for t in ALTERNATING_TIMES_S[start:start + 40]]
    path = clips(f"alternating_from_{start}", width=W, height=H, frame_times_s=tuple(times), audio=None)
    r = library.analyze(path, cfg, use_cache=False, options={"ocr": False})
    assert r.ok, r.error
    assert r.features.values["visual.dropped_frames_pct"] == 0.0
    assert r.features.values["visual.frame_interval_jitter_pct"] == pytest.approx(100 * (1 / 15 - 1 / 30) / 0.05,
                                                                                  abs=3.0)
    assert "visual.dropped_frames" not in {f.code for f in r.findings}
