"""engine.synth: the generated media is what its docstrings say, as read back by PyAV (the reader the engine uses).

Each test states a known answer with an explicit tolerance.
"""
from __future__ import annotations

import math
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from engine import synth
from conftest import CLIP_FPS, CLIP_H, CLIP_S, CLIP_SPEECH_LUFS, CLIP_SR, CLIP_W, SUBTITLES, VFR_TIMES_S
from mp4boxes import read_tkhd_rotation

#: Lossy codecs change levels a little; AAC/Opus at 128 kb/s keep integrated loudness within this (measured: <0.1).
LOUDNESS_TOLERANCE_LU = 0.5
#: Mean absolute difference (0-255) allowed between a generated frame and its decoded copy at CRF 20.
DECODE_MAE_TOLERANCE = 6.0


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def _first_frame(path):
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return frame.to_ndarray(format="rgb24"), int(frame.rotation or 0), frame.format.name


def _frame_times(path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def _decode_audio(path) -> tuple[np.ndarray, int, int]:
    """All audio as float32 [shape=(channels, n)], its sample rate and channel count."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        chunks = [f.to_ndarray() for f in c.decode(s)]
        rate, channels = s.codec_context.sample_rate, s.codec_context.channels
    data = np.concatenate(chunks, axis=1)
    if data.shape[0] != channels:  # packed formats come back as (1, n * channels)
        data = data.reshape(-1, channels).T
    return data.astype(np.float32), rate, channels


def _lap_var(frame: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


# ---------------------------------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------------------------------


def test_textured_scene_is_deterministic_detailed_and_moving():
    a = synth.textured_scene(width=360, height=640, t_s=0.5, seed=3)
    b = synth.textured_scene(width=360, height=640, t_s=0.5, seed=3)
    later = synth.textured_scene(width=360, height=640, t_s=1.0, seed=3)
    assert a.shape == (640, 360, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert 60 < a.mean() < 190, "mid-grey exposure"
    assert _lap_var(a) > 200, "real texture: strong high-frequency energy"
    assert np.abs(a.astype(int) - later).mean() > 5, "camera pan and object move over 0.5 s"
    # With no pan and no object motion, time changes nothing.
    still = [synth.textured_scene(width=360, height=640, t_s=t, seed=3, pan_px_per_s=0, object_speed=0)
             for t in (0.0, 2.0)]
    assert np.array_equal(*still)


def test_pan_moves_the_world_by_the_stated_pixels():
    f0 = synth.textured_scene(width=200, height=200, t_s=0.0, seed=1, pan_px_per_s=30, object_speed=0)
    f1 = synth.textured_scene(width=200, height=200, t_s=1.0, seed=1, pan_px_per_s=30, object_speed=0)
    # The camera pans right, so the world slides left by 30 px; only the (static) object's pixels differ.
    same = np.all(f1[:, :-30] == f0[:, 30:], axis=2).mean()
    assert same > 0.85
    assert np.all(f1[:, :-29] == f0[:, 29:], axis=2).mean() < 0.2, "a 1 px error would not match"


def test_band_limited_world_keeps_its_texture_but_no_fixed_grain():
    """``texture_sigma_px`` band-limits the world like a camera's optics: the default's white noise fixed on every
    pixel reads as sensor grain to the single-frame noise estimator; at 0.8 px the world reads like a clean camera
    clip (measured 1.5-1.8 levels on worlds 1003 and 5) and keeps texture that blur removes."""
    from engine.extractors.visual.image import noise_sigma

    def grey(f):
        return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)

    for seed in (1003, 5):
        grainy = synth.textured_scene(width=360, height=640, t_s=0.3, seed=seed)
        clean = synth.textured_scene(width=360, height=640, t_s=0.3, seed=seed, texture_sigma_px=0.8)
        assert noise_sigma(grey(grainy)) > 8.0  # measured 9.4 and 12.0
        assert noise_sigma(grey(clean)) < 2.0
        assert 60 < clean.mean() < 190
        assert _lap_var(clean) > 300, "still real texture (measured 416 and 670)"
        assert _lap_var(synth.gaussian_blur(clean, sigma_px=2.0)) < 0.2 * _lap_var(clean), "blur removes it"
        # The same world, palette and shapes: only the finest detail differs.
        assert np.abs(clean.astype(int) - grainy).mean() < 12
    # Still periodic: the pan slides the band-limited world by whole pixels, across the wrap too (canvas 400 px).
    f0 = synth.textured_scene(width=200, height=200, t_s=12.0, seed=1, pan_px_per_s=30, object_speed=0,
                              texture_sigma_px=0.8)
    f1 = synth.textured_scene(width=200, height=200, t_s=13.0, seed=1, pan_px_per_s=30, object_speed=0,
                              texture_sigma_px=0.8)
    assert np.all(f1[:, :-30] == f0[:, 30:], axis=2).mean() > 0.85
    with pytest.raises(ValueError):
        synth.textured_scene(width=200, height=200, t_s=0.0, texture_sigma_px=-1.0)


def test_scene_ids_look_clearly_different():
    def hist(f):
        h = cv2.calcHist([cv2.cvtColor(f, cv2.COLOR_RGB2HSV)], [0, 1], None, [16, 8], [0, 180, 0, 256])
        return cv2.normalize(h, h).flatten()

    frames = [synth.textured_scene(width=180, height=320, t_s=0, seed=0, scene=s) for s in range(4)]
    same_scene_later = synth.textured_scene(width=180, height=320, t_s=0.1, seed=0, scene=0)
    within = cv2.compareHist(hist(frames[0]), hist(same_scene_later), cv2.HISTCMP_BHATTACHARYYA)
    assert within < 0.1
    for i in range(3):
        across = cv2.compareHist(hist(frames[i]), hist(frames[i + 1]), cv2.HISTCMP_BHATTACHARYYA)
        assert across > 0.5, f"scene {i} vs {i + 1}: distance {across:.2f}"


def test_scene_sequence_cuts_at_shot_boundaries():
    video = synth.scene_sequence(width=180, height=320, seed=0, shots=[(1.0, 0), (1.0, 5)], object_speed=0,
                                 pan_px_per_s=0)
    before, after = video(29, 29 / 30), video(30, 1.0)
    assert np.array_equal(before, synth.textured_scene(width=180, height=320, t_s=0, seed=0, scene=0,
                                                       pan_px_per_s=0, object_speed=0))
    assert np.abs(before.astype(int) - after).mean() > 30


def test_blur_of_known_sigma_removes_detail():
    sharp = synth.textured_scene(width=360, height=640, t_s=0, seed=0)
    blurred = synth.gaussian_blur(sharp, sigma_px=3)
    assert _lap_var(blurred) < 0.1 * _lap_var(sharp)
    assert np.array_equal(synth.gaussian_blur(sharp, sigma_px=0), sharp)


def test_brightness_and_letterbox():
    f = synth.textured_scene(width=360, height=640, t_s=0, seed=0)
    dark = synth.scale_brightness(f, gain=0.25)
    assert dark.mean() == pytest.approx(0.25 * f.mean(), abs=1.0)
    wide = synth.textured_scene(width=640, height=360, t_s=0, seed=0)
    boxed = synth.letterbox(wide, width=360, height=640)
    assert boxed.shape == (640, 360, 3)
    bar = (640 - round(360 * 360 / 640)) // 2  # 16:9 scaled to 360 wide is 202.5 px tall
    assert boxed[: bar - 1].max() == 0 and boxed[-(bar - 1):].max() == 0
    assert boxed[320].mean() > 30


def test_render_text_is_readable_by_ocr():
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    frame = synth.render_text(synth.textured_scene(width=360, height=640, t_s=0, seed=0), "STOP SCROLLING",
                              y=100, height_px=26)
    result, _ = rapidocr.RapidOCR()(np.ascontiguousarray(frame[:, :, ::-1]))
    words = " ".join(r[1] for r in (result or [])).upper().replace(" ", "")
    assert "STOPSCROLLING" in words


def test_render_text_does_not_touch_its_input_and_draws_where_asked():
    f = synth.textured_scene(width=360, height=640, t_s=0, seed=0)
    copy = f.copy()
    out = synth.render_text(f, "Hi\nthere", x=20, y=50, height_px=30, bg=(0, 0, 0))
    assert np.array_equal(f, copy)
    changed = np.any(out != f, axis=2)
    rows = np.where(changed.any(axis=1))[0]
    assert rows.min() >= 50 - 10 and rows.max() < 300 and changed[400:].sum() == 0
    assert synth.render_text(f, "caf\u00e9 \x1b[31m", x=0, y=0, height_px=20).shape == f.shape


# ---------------------------------------------------------------------------------------------------------------
# audio
# ---------------------------------------------------------------------------------------------------------------


def test_sine_loudness_is_the_bs1770_known_answer():
    # A 1 kHz sine at -20 dBFS peak has an RMS of -23.01 dBFS; K-weighting is ~0 dB at 1 kHz, so -23.0 LUFS.
    y = synth.sine(freq_hz=1000, duration_s=2.0, sr=48000, level_dbfs=-20)
    assert y.dtype == np.float32 and y.shape == (96000,)
    assert np.max(np.abs(y)) == pytest.approx(0.1, rel=1e-3)
    assert synth.measure_lufs(y, sr=48000) == pytest.approx(-23.0, abs=0.1)


def test_pink_noise_level_and_slope():
    y = synth.pink_noise(duration_s=4.0, sr=48000, level_dbfs=-18, seed=2)
    assert 20 * math.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2))) == pytest.approx(-18, abs=0.01)
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / 48000)
    low, high = spec[(f > 100) & (f < 200)].mean(), spec[(f > 1000) & (f < 2000)].mean()
    assert 10 * math.log10(low / high) == pytest.approx(10.0, abs=1.0), "1/f power: -10 dB per decade"
    assert not np.array_equal(y, synth.pink_noise(duration_s=4.0, sr=48000, level_dbfs=-18, seed=3))


def _voiced_pitches_hz(y: np.ndarray, sr: int) -> np.ndarray:
    """Autocorrelation pitch of loud 40 ms frames, searched over 80-300 Hz."""
    n, hop = int(0.04 * sr), int(0.02 * sr)
    frames = [y[i : i + n] for i in range(0, len(y) - n, hop)]
    loud = max(np.sqrt(np.mean(f**2)) for f in frames) * 0.3
    out = []
    for f in frames:
        if np.sqrt(np.mean(f**2)) < loud:
            continue
        ac = np.correlate(f, f, "full")[n - 1 :]
        lo, hi = int(sr / 300), int(sr / 80)
        out.append(sr / (lo + int(np.argmax(ac[lo:hi]))))
    return np.array(out)


def test_speech_like_has_speech_structure():
    sr = 16000
    y = synth.speech_like(duration_s=6.0, sr=sr, seed=0)
    assert y.shape == (6 * sr,) and y.dtype == np.float32
    active = np.abs(y) > 1e-6
    assert 20 * math.log10(np.sqrt(np.mean(y[active].astype(np.float64) ** 2))) == pytest.approx(-20, abs=0.01)
    assert 0.08 < 1 - active.mean() < 0.45, "pauses between phrases"
    # Syllable-rate amplitude modulation: the energy envelope's spectrum peaks at 2.5-6 Hz.
    env = np.sqrt(np.convolve(y.astype(np.float64) ** 2, np.ones(160) / 160, "same"))[::160]  # 100 Hz envelope
    env -= env.mean()
    spec = np.abs(np.fft.rfft(env * np.hanning(len(env))))
    f = np.fft.rfftfreq(len(env), 1 / 100)
    band = (f > 1) & (f < 15)
    assert 2.5 <= f[band][np.argmax(spec[band])] <= 6.0
    pitches = _voiced_pitches_hz(y, sr)
    assert len(pitches) > 50
    assert 110 <= np.percentile(pitches, 10) and np.percentile(pitches, 90) <= 235
    assert np.percentile(pitches, 90) - np.percentile(pitches, 10) > 15, "intonation, not a monotone"
    assert np.array_equal(y, synth.speech_like(duration_s=6.0, sr=sr, seed=0))


def _autocorr_bpm(y: np.ndarray, sr: int) -> float:
    env = np.sqrt(np.convolve(y.astype(np.float64) ** 2, np.ones(sr // 100) / (sr // 100), "same"))[:: sr // 100]
    onset = np.maximum(0, np.diff(env))
    ac = np.correlate(onset, onset, "full")[len(onset) - 1 :]
    lo, hi = int(100 * 60 / 200), int(100 * 60 / 60)  # lags for 200..60 bpm at 100 frames/s
    return 60 * 100 / (lo + int(np.argmax(ac[lo:hi])))


@pytest.mark.parametrize("bpm", [90, 128])
def test_music_and_clicks_carry_their_tempo(bpm):
    sr = 22050
    music = synth.music_like(duration_s=8, sr=sr, bpm=bpm, seed=1)
    assert np.max(np.abs(music)) == pytest.approx(10 ** (-3 / 20), rel=1e-3)
    assert _autocorr_bpm(music, sr) == pytest.approx(bpm, rel=0.04)
    clicks = synth.click_track(bpm=bpm, duration_s=8, sr=sr)
    sounding = np.where(clicks != 0)[0]
    starts = sounding[np.r_[True, np.diff(sounding) > 0.02 * sr]]  # first sample of each 10 ms click
    expected = np.round(np.arange(len(starts)) * 60 / bpm * sr)
    assert len(starts) == math.ceil(8 * bpm / 60)
    assert np.max(np.abs(starts - expected)) <= 1  # the Hann window's first sample is 0


def test_mix_pads_and_applies_gains():
    a, b = np.ones(10, np.float32), np.ones(4, np.float32)
    y = synth.mix(a, b, gains_db=[0, -6.0206])
    assert y.shape == (10,)
    assert y[0] == pytest.approx(1.5, abs=1e-4) and y[9] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        synth.mix(a, b, gains_db=[0])


def test_scale_to_lufs_hits_its_target_and_refuses_silence():
    y = synth.speech_like(duration_s=3.0, sr=48000, seed=4)
    for target in (-30.0, -14.0):
        assert synth.measure_lufs(synth.scale_to_lufs(y, sr=48000, lufs=target), sr=48000) == pytest.approx(
            target, abs=0.01)
    with pytest.raises(ValueError, match="silence"):
        synth.scale_to_lufs(synth.silence(duration_s=1, sr=48000), sr=48000, lufs=-14)
    with pytest.raises(ValueError, match="0.4 s"):
        synth.measure_lufs(np.ones(100, np.float32), sr=48000)


# ---------------------------------------------------------------------------------------------------------------
# clips read back with PyAV
# ---------------------------------------------------------------------------------------------------------------


def test_good_clip_reads_back_as_written(good_clip):
    with av.open(str(good_clip)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.width, v.height) == ("h264", CLIP_W, CLIP_H)
        assert v.average_rate == CLIP_FPS
        assert c.duration / 1e6 == pytest.approx(CLIP_S, abs=0.05)
        assert v.frames == int(CLIP_S * CLIP_FPS)
        assert (a.codec_context.name, a.codec_context.sample_rate, a.codec_context.channels) == ("aac", CLIP_SR, 1)
    frame, rotation, _ = _first_frame(good_clip)
    assert rotation == 0
    expected = synth.textured_scene(width=CLIP_W, height=CLIP_H, t_s=0.0, seed=0)
    assert np.abs(frame.astype(int) - expected).mean() < DECODE_MAE_TOLERANCE


def test_speech_loudness_survives_encoding(good_clip):
    data, rate, channels = _decode_audio(good_clip)
    assert (rate, channels) == (CLIP_SR, 1)
    assert data.shape[1] / rate == pytest.approx(CLIP_S, abs=0.05)
    assert synth.measure_lufs(data[0], sr=rate) == pytest.approx(CLIP_SPEECH_LUFS, abs=LOUDNESS_TOLERANCE_LU)


def test_rotation_is_visible_to_the_reader(rotated_clip):
    with av.open(str(rotated_clip)) as c:
        v = c.streams.video[0]
        assert (v.width, v.height) == (CLIP_H, CLIP_W), "stored landscape, as a phone stores portrait video"
    stored, rotation, _ = _first_frame(rotated_clip)
    assert stored.shape == (CLIP_W, CLIP_H, 3)
    assert rotation % 360 == 270, "FFmpeg reports -90: turn 90 degrees clockwise to display"
    displayed = np.rot90(stored, k=rotation // 90)  # np.rot90 turns counter-clockwise for k > 0
    assert displayed.shape[:2] == (CLIP_H, CLIP_W), "displays 360 wide x 640 tall"
    expected = synth.textured_scene(width=CLIP_W, height=CLIP_H, t_s=0.0, seed=0)
    assert np.abs(displayed.astype(int) - expected).mean() < DECODE_MAE_TOLERANCE
    wrong_way = np.rot90(stored, k=-rotation // 90)
    assert np.abs(wrong_way.astype(int) - expected).mean() > 4 * DECODE_MAE_TOLERANCE
    # The same matrix, read from the tkhd box without FFmpeg: what an iPhone writes for portrait (90 cw).
    assert read_tkhd_rotation(rotated_clip) == 90


def test_unrotated_clip_has_identity_matrix(good_clip):
    assert read_tkhd_rotation(good_clip) == 0


@pytest.mark.parametrize("degrees", [180, 270])
def test_other_rotations(clips, degrees):
    path = clips(f"rot{degrees}", duration_s=0.2, audio=None, rotation_deg=degrees)
    stored, rotation, _ = _first_frame(path)
    assert (-rotation) % 360 == degrees
    assert read_tkhd_rotation(path) == degrees
    displayed = np.rot90(stored, k=rotation // 90)
    expected = synth.textured_scene(width=CLIP_W, height=CLIP_H, t_s=0.0, seed=0)
    assert displayed.shape == expected.shape
    assert np.abs(displayed.astype(int) - expected).mean() < DECODE_MAE_TOLERANCE


def test_vfr_timestamps_are_as_given(vfr_clip):
    times = _frame_times(vfr_clip)
    assert times == pytest.approx(list(VFR_TIMES_S), abs=1 / 90000)
    gaps = np.diff(times)
    assert gaps.max() / gaps.min() == pytest.approx(3.0, rel=1e-3), "really variable: 1/30 s to 1/10 s"


def test_hevc_10bit_mov(hevc10_mov):
    with av.open(str(hevc10_mov)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.name, v.width, v.height) == ("hevc", CLIP_W, CLIP_H)
        assert v.codec_context.pix_fmt == "yuv420p10le"
        assert v.profile == "Main 10"
        assert v.codec_context.codec_tag == "hvc1"
        assert c.format.name.startswith("mov")
        assert c.duration / 1e6 == pytest.approx(CLIP_S, abs=0.1)
    frame, _, fmt = _first_frame(hevc10_mov)
    assert fmt == "yuv420p10le"
    expected = synth.textured_scene(width=CLIP_W, height=CLIP_H, t_s=0.0, seed=0)
    assert np.abs(frame.astype(int) - expected).mean() < 2 * DECODE_MAE_TOLERANCE


def test_vp9_opus_webm(vp9_webm):
    with av.open(str(vp9_webm)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.width, v.height) == ("vp9", CLIP_W, CLIP_H)
        assert a.codec_context.name in ("opus", "libopus")
        assert a.codec_context.sample_rate == 48000
        assert "webm" in c.format.name
        assert c.duration / 1e6 == pytest.approx(CLIP_S, abs=0.1)
    data, rate, _ = _decode_audio(vp9_webm)
    assert synth.measure_lufs(data[0], sr=rate) == pytest.approx(CLIP_SPEECH_LUFS, abs=LOUDNESS_TOLERANCE_LU)


def test_audio_only_m4a(audio_only_m4a):
    with av.open(str(audio_only_m4a)) as c:
        assert len(c.streams.video) == 0
        a = c.streams.audio[0]
        assert (a.codec_context.name, a.codec_context.sample_rate, a.codec_context.channels) == ("aac", CLIP_SR, 1)
        assert c.duration / 1e6 == pytest.approx(CLIP_S, abs=0.05)


def test_video_only_mp4(video_only_mp4):
    with av.open(str(video_only_mp4)) as c:
        assert len(c.streams.audio) == 0
        assert c.streams.video[0].frames == int(CLIP_S * CLIP_FPS)


def test_subtitles_and_metadata_read_back(subtitled_clip):
    with av.open(str(subtitled_clip)) as c:
        assert c.metadata.get("title") == "Synthetic test clip"
        assert c.metadata.get("comment") == "made by engine.synth"
        s = c.streams.subtitles[0]
        assert s.codec_context.name == "mov_text"
        cues = []
        for packet in c.demux(s):
            for sub in packet.decode():
                cues.append((float(packet.pts * packet.time_base), float(packet.duration * packet.time_base),
                             sub.dialogue.decode("utf-8")))
    assert [c[2] for c in cues] == [t for _, _, t in SUBTITLES]
    for (start, dur, _), (s0, s1, _) in zip(cues, SUBTITLES):
        assert start == pytest.approx(s0, abs=1e-3) and dur == pytest.approx(s1 - s0, abs=1e-3)


@pytest.mark.parametrize("suffix, codec", [(".mkv", "subrip"), (".webm", "webvtt")])
def test_text_subtitles_in_matroska_and_webm(clips, suffix, codec):
    path = clips("subs", suffix=suffix, duration_s=1.0, audio=None, subtitles=[(0.2, 0.8, "Hello there")])
    with av.open(str(path)) as c:
        s = c.streams.subtitles[0]
        packets = [p for p in c.demux(s) if p.size]
        assert len(packets) == 1
        assert float(packets[0].pts * packets[0].time_base) == pytest.approx(0.2, abs=1e-3)
        assert b"Hello there" in bytes(packets[0])
        assert s.codec_context.name in (codec, "srt")


def test_stereo_mpeg4_avi(clips):
    sr = 44100
    left = synth.sine(freq_hz=440, duration_s=1.0, sr=sr, level_dbfs=-12)
    stereo = np.stack([left, np.zeros_like(left)])
    path = clips("stereo", suffix=".avi", duration_s=1.0, audio=stereo, sample_rate=sr)
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "mpeg4"
        assert c.streams.audio[0].codec_context.channels == 2
    data, rate, channels = _decode_audio(path)
    assert (rate, channels) == (sr, 2)
    middle = data[:, int(0.2 * sr) : int(0.8 * sr)].astype(np.float64)  # away from MP3 priming and padding
    rms_db = 20 * np.log10(np.sqrt(np.mean(middle**2, axis=1)) + 1e-12)
    assert rms_db[0] == pytest.approx(-15.0, abs=0.5) and rms_db[1] < -60  # -12 dBFS peak sine = -15 dBFS RMS


def test_starved_bitrate_is_smaller_and_blockier(clips):
    starved = clips("starved", audio=None, bitrate=40_000)
    good = clips("good_video_only_for_starving", audio=None)
    assert starved.stat().st_size < 0.5 * good.stat().st_size
    ref = synth.textured_scene(width=CLIP_W, height=CLIP_H, t_s=0.0, seed=0)
    err_starved = np.abs(_first_frame(starved)[0].astype(int) - ref).mean()
    err_good = np.abs(_first_frame(good)[0].astype(int) - ref).mean()
    assert err_starved > 2 * err_good


def test_write_clip_refuses_bad_requests_in_plain_words(tmp_path):
    video = synth.scene_sequence(width=64, height=64)
    with pytest.raises(ValueError, match="extension"):
        synth.write_clip(tmp_path / "x.gif", video=video)
    with pytest.raises(ValueError, match="video source, an audio signal"):
        synth.write_clip(tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="Rotation"):
        synth.write_clip(tmp_path / "x.webm", video=video, width=64, height=64, rotation_deg=90)
    with pytest.raises(ValueError, match="strictly increasing"):
        synth.write_clip(tmp_path / "x.mp4", video=video, width=64, height=64, frame_times_s=[0, 0.1, 0.1])
    with pytest.raises(ValueError, match="uint8 frames shaped"):
        synth.write_clip(tmp_path / "x.mp4", width=64, height=64, duration_s=0.1,
                         video=lambda i, t: np.zeros((10, 10, 3), np.uint8))
    assert list(tmp_path.iterdir()) == [], "no partial file left behind"


def test_clip_factory_caches_by_recipe(clips):
    # Different frame rates give different cache entries; the same recipe returns the same file.
    a = clips("tiny", duration_s=0.2, audio=None, fps=10)
    b = clips("tiny", duration_s=0.2, audio=None, fps=10)
    c = clips("tiny", duration_s=0.2, audio=None, fps=20)
    assert a == b and a != c
    with av.open(str(c)) as cont:
        assert cont.streams.video[0].average_rate == Fraction(20)
