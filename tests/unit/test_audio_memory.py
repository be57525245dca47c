"""The audio analyses work on long clips a block at a time (issue 11: memory of a 10-minute clip). Each blocked
computation must give the numbers of the whole-array one: these tests shrink the block sizes so a few seconds of
signal span many blocks, and compare with the whole-array formulas (bit for bit where the code claims it, else
with the stated tolerance). No timing or memory is asserted here; scripts/bench_audio_memory.py measures that."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import welch

from engine import synth
from engine.extractors.audio import analysis as audio_mod
from engine.extractors.audio import content as ac
from engine.extractors.audio import levels as lv
from engine.extractors.originality import audio_hash as hash_audio
from engine.extractors.audio.analysis import ANALYSIS_RATE_HZ, HOP, N_FFT, AudioAnalysis
from engine.extractors.base import ClipContext
from engine.features import FeatureVector
from engine.media import DecodedAudio

SR = 48_000


@pytest.fixture(scope="module")
def voice_over_music() -> np.ndarray:
    """6 s of speech over 120 BPM music with 50 Hz hum, hot enough to clip in places (48 kHz mono float32)."""
    n = 6.0
    y = synth.mix(synth.speech_like(duration_s=n, sr=SR, seed=11), synth.music_like(duration_s=n, sr=SR, seed=12),
                  synth.sine(freq_hz=50.0, duration_s=n, sr=SR, level_dbfs=-30.0), gains_db=[0.0, -10.0, 0.0])
    return np.clip(4.0 * y, -1.0, 1.0).astype(np.float32)


def _whole_power(y_a: np.ndarray) -> np.ndarray:
    """The spectrogram as one whole-array expression (the code before blocks)."""
    y = np.pad(y_a, (N_FFT // 2, N_FFT // 2))
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP]
    spec = np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1)
    return (spec.real ** 2 + spec.imag ** 2).astype(np.float32).T


@pytest.mark.parametrize("sr", [48_000, 44_100])
def test_kweighted_energy_in_blocks_is_the_whole_cumulative_sum(sr):
    y = synth.speech_like(duration_s=1.5, sr=sr, seed=3)
    kw = lv.k_weight(y, sr=sr)
    whole = np.concatenate(([0.0], np.cumsum(kw * kw)))
    idx = np.unique(np.r_[0, 1, 999, 1000, 1001, np.arange(0, len(y) + 1, 777), len(y)])
    got = lv.kweighted_energy_at(y, sr=sr, indices=idx, block=1000)
    np.testing.assert_array_equal(got, whole[idx])


def test_loudness_and_first_sound_without_the_kweighted_signal_are_unchanged(voice_over_music, monkeypatch):
    monkeypatch.setattr(lv, "ENERGY_BLOCK_SAMPLES", 4096)
    y = voice_over_music
    kw = lv.k_weight(y, sr=SR)
    streamed, whole = lv.measure_loudness(y, sr=SR), lv.measure_loudness(y, sr=SR, kw=kw)
    assert streamed.integrated_lufs == whole.integrated_lufs
    assert streamed.loudness_range_lu == whole.loudness_range_lu
    np.testing.assert_array_equal(streamed.momentary_lufs, whole.momentary_lufs)
    np.testing.assert_array_equal(streamed.short_term_lufs, whole.short_term_lufs)
    # The momentary series is the 400 ms mean square every 100 ms, straight from the definition.
    i = 17
    block = kw[i * 4800:i * 4800 + 19200]
    assert whole.momentary_lufs[i] == pytest.approx(-0.691 + 10 * np.log10(np.mean(block * block)), abs=1e-9)
    energy = lv.KWeightedEnergy(y, sr=SR)
    for threshold in (-60.0, -30.0, -12.0):
        assert lv.first_sound_s(sr=SR, threshold_lufs=threshold, energy=energy) == \
            lv.first_sound_s(kw, sr=SR, threshold_lufs=threshold)


def test_spectrogram_in_blocks_is_the_whole_array(voice_over_music, monkeypatch):
    monkeypatch.setattr(audio_mod, "FRAMES_PER_BLOCK", 7)
    a = AudioAnalysis(voice_over_music, SR)
    ref = _whole_power(a.y_a)
    np.testing.assert_array_equal(a.power, ref)
    p = ref.astype(np.float64)
    w = np.hanning(N_FFT)
    np.testing.assert_array_equal(a.frame_power, (2.0 * p.sum(axis=0) - p[0] - p[-1]) / (N_FFT * np.sum(w * w)))
    sel = (a.freqs >= 4000.0) & (a.freqs < 12000.0)
    np.testing.assert_array_equal(a.band_power(4000.0, 12000.0),
                                  2.0 * ref[sel].astype(np.float64).sum(axis=0) / (N_FFT * np.sum(w * w)))
    # A signal shorter than one FFT window still gives one centred frame.
    short = AudioAnalysis(voice_over_music[:700], SR)
    np.testing.assert_array_equal(short.power, _whole_power(short.y_a))


def test_speech_music_frames_in_bin_blocks_match_the_whole_band(voice_over_music, monkeypatch):
    a = AudioAnalysis(voice_over_music, SR)
    f = a.freqs
    band = a.power[(f >= ac.SPEECH_BAND_HZ[0]) & (f < ac.SPEECH_BAND_HZ[1])].astype(np.float64)
    rate = ac.FRAME_RATE_HZ
    bed = uniform_filter1d(minimum_filter1d(band, int(ac.BED_MIN_WINDOW_S * rate) + 1, axis=1, mode="nearest"),
                           int(ac.BED_SMOOTH_S * rate), axis=1, mode="nearest")
    moving = np.maximum(band - bed, 0.0)
    monkeypatch.setattr(ac, "BAND_BINS_PER_BLOCK", 3)
    small = ac.SpeechMusicFrames(a, pulse=0.5)
    np.testing.assert_array_equal(small.moving, moving.sum(axis=0))
    np.testing.assert_array_equal(small.bed, bed.sum(axis=0))
    monkeypatch.setattr(ac, "BAND_BINS_PER_BLOCK", 10_000)
    one = ac.SpeechMusicFrames(a, pulse=0.5)
    for name in ("moving", "bed", "modulation_db", "flatness", "steady_share", "active", "speech", "music"):
        np.testing.assert_array_equal(getattr(small, name), getattr(one, name), err_msg=name)
    assert small.speech.any() and small.music.any()  # the signal has both, so the comparison means something


def test_welch_in_blocks_matches_scipy(monkeypatch):
    rate = ANALYSIS_RATE_HZ
    hum = synth.mix(synth.sine(freq_hz=60.0, duration_s=30.0, sr=rate, level_dbfs=-40.0),
                    synth.sine(freq_hz=120.0, duration_s=30.0, sr=rate, level_dbfs=-46.0))  # mains hum: harmonics
    y = synth.mix(synth.pink_noise(duration_s=30.0, sr=rate, seed=2, level_dbfs=-30.0), hum).astype(np.float32)
    nper = 4 * rate
    f_ref, psd_ref = welch(y, fs=rate, nperseg=nper, noverlap=nper // 2)
    monkeypatch.setattr(ac, "WELCH_SEGMENTS_PER_BLOCK", 4)  # 14 segments: blocks of 4, 4, 4, 2
    f, psd = ac._welch_mean(y, fs=rate, nperseg=nper)
    np.testing.assert_array_equal(f, f_ref)
    assert psd.dtype == psd_ref.dtype
    # engine.dsp.welch works in float64, scipy in float32 for float32 input: the bins next to DC, 1e-8 of the
    # peak (what the mean removal leaves), differ by scipy's float32 rounding; every other bin to 1e-5.
    np.testing.assert_allclose(psd, psd_ref, rtol=1e-5, atol=1e-7 * float(psd_ref.max()))
    level = float(np.mean(y.astype(np.float64) ** 2))
    hum_blocks = ac.mains_hum(y, sr=rate, programme_power=level)
    monkeypatch.setattr(ac, "WELCH_SEGMENTS_PER_BLOCK", 10_000)
    hum_whole = ac.mains_hum(y, sr=rate, programme_power=level)
    assert hum_blocks[1] == hum_whole[1] == 60.0
    assert -30.0 < hum_whole[0] < 0.0
    assert hum_blocks[0] == pytest.approx(hum_whole[0], abs=1e-4)


def test_timbre_in_frame_blocks_is_unchanged_and_releases_the_spectra(voice_over_music, monkeypatch):
    def timbre(frames_per_block: int) -> tuple[dict, ClipContext]:
        monkeypatch.setattr(ac, "FRAMES_PER_BLOCK", frames_per_block)
        ctx = ClipContext(path=None, info=None, config={},
                          audio=DecodedAudio(voice_over_music, SR, 1, float(np.max(np.abs(voice_over_music)))))
        fv = FeatureVector()
        ac.Timbre().finish(ctx, fv)
        return fv.values, ctx

    blocks, ctx = timbre(5)
    whole, _ = timbre(100_000)
    assert blocks == whole
    assert len(blocks) == 4 + 2 * ac.N_MFCC
    a = ctx._audio_analysis
    assert "power" not in a.__dict__ and "y_a" not in a.__dict__  # released once the last reader is done
    np.testing.assert_array_equal(a.power, _whole_power(a.y_a))  # and recomputed the same if read again


def test_peak_and_clipping_scans_in_blocks(voice_over_music, monkeypatch):
    y = voice_over_music[: 5 * 4096 + 123]
    padded = np.zeros(6 * 4096, np.float32)
    padded[:len(y)] = np.abs(y)
    monkeypatch.setattr(lv, "SCAN_SAMPLES", 3 * 4096)
    np.testing.assert_array_equal(lv._block_peaks(y, 4096), padded.reshape(6, 4096).max(axis=1))
    rep = lv.find_clipping(y, sr=SR)
    r = lv.runs(np.abs(y) >= 10 ** (lv.CLIP_LEVEL_DBFS / 20))
    r = r[(r[:, 1] - r[:, 0]) >= lv.CLIP_MIN_RUN]
    assert rep.clipped_samples == int((r[:, 1] - r[:, 0]).sum()) > 0
    assert lv.is_digital_silence(np.full(100, -1e-3, np.float32)) is False
    assert lv.is_digital_silence(np.full(100, 1e-5, np.float32)) is True


def test_fingerprint_and_envelope_in_blocks(voice_over_music, monkeypatch):
    y = voice_over_music
    n = int(round(SR * hash_audio.ENV_STEP_S))
    m = len(y) // n
    blocks = y[:m * n].astype(np.float64).reshape(m, n)
    env_ref = np.maximum(hash_audio.FLOOR_DBFS, 20 * np.log10(np.maximum(np.sqrt((blocks * blocks).mean(axis=1)),
                                                                           1e-12)))
    monkeypatch.setattr(hash_audio, "ENV_BLOCK_SAMPLES", 7 * n + 5)
    np.testing.assert_array_equal(hash_audio.level_envelope(y, SR), env_ref)
    monkeypatch.setattr(hash_audio, "FP_FRAMES_PER_BLOCK", 13)
    small = hash_audio.landmarks(y, SR)
    monkeypatch.setattr(hash_audio, "FP_FRAMES_PER_BLOCK", 100_000)
    whole = hash_audio.landmarks(y, SR)
    assert len(whole) > 100
    np.testing.assert_array_equal(small, whole)
