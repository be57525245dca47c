"""engine.dsp against librosa 0.11 (the reference; imported only here) and against known answers.

The audio extractors use engine.dsp so that the scoring path never imports librosa or numba; these tests hold the
numbers to librosa's on the same spectrograms: the analysis STFT of generated clicks, music, speech and noise.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from engine import dsp, synth
from engine.extractors.audio.analysis import (ANALYSIS_RATE_HZ, HOP, MEL_RANGE_DB, N_MELS, ONSET_RANGE_DB,
                                             SOUND_START_RANGE_DB, AudioAnalysis)

librosa = pytest.importorskip("librosa")

SR = 48_000
FRAME_RATE_HZ = ANALYSIS_RATE_HZ / HOP
SIGNALS = {
    "click120": lambda: synth.click_track(bpm=120, duration_s=6, sr=SR),
    "music": lambda: synth.music_like(duration_s=6, sr=SR, bpm=120, seed=3),
    "music100": lambda: synth.music_like(duration_s=6, sr=SR, bpm=100, seed=4),
    "speech": lambda: synth.speech_like(duration_s=6, sr=SR, seed=3),
    "pink": lambda: synth.pink_noise(duration_s=4, sr=SR, seed=2),
}


@pytest.fixture(scope="module")
def analyses():
    return {name: AudioAnalysis(make(), SR) for name, make in SIGNALS.items()}


def librosa_log_mel(a: AudioAnalysis, top_db: float = MEL_RANGE_DB) -> np.ndarray:
    mel = librosa.feature.melspectrogram(S=a.power, sr=ANALYSIS_RATE_HZ, n_mels=N_MELS, fmax=ANALYSIS_RATE_HZ / 2)
    return librosa.power_to_db(mel, ref=1.0, top_db=top_db)


def librosa_onsets(a: AudioAnalysis) -> np.ndarray:
    """librosa's onset strength of the log-mel spectrogram over the onsets' range (``ONSET_RANGE_DB``), with the
    sound's start left out as ``AudioAnalysis.onset_envelope`` does (up to the first frame within
    ``SOUND_START_RANGE_DB`` of the 90th percentile of frame power, and one frame more)."""
    env = librosa.onset.onset_strength(S=librosa_log_mel(a, ONSET_RANGE_DB), sr=ANALYSIS_RATE_HZ, hop_length=HOP,
                                       center=False)
    p = a.frame_power
    env[:int(np.argmax(p >= np.percentile(p, 90) / 10 ** (SOUND_START_RANGE_DB / 10))) + 2] = 0.0
    return env


# --- Mel spectrogram, dB, MFCC ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", [(24_000, 1024, 64, 0.0, 12_000.0),
                                                           (22_050, 2048, 128, 0.0, None),
                                                           (16_000, 512, 40, 133.0, 6_000.0)])
def test_mel_filterbank_equals_librosa_slaney(sr, n_fft, n_mels, fmin, fmax):
    ours = dsp.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.max(np.abs(ours - ref)) <= 1e-6 * np.max(ref)


def test_mel_scale_round_trips_and_knows_its_anchor_points():
    # Slaney: 1000 Hz is mel 15 (linear part: 200/3 Hz per mel); 6400 Hz is 27 mels higher (log part).
    assert dsp.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert dsp.hz_to_mel(6400.0) == pytest.approx(42.0)
    hz = np.array([0.0, 440.0, 999.0, 1000.0, 4000.0, 11025.0])
    assert np.allclose(dsp.mel_to_hz(dsp.hz_to_mel(hz)), hz)
    assert np.allclose(dsp.hz_to_mel(hz), librosa.hz_to_mel(hz))


def test_slaney_bands_have_unit_area():
    """norm="slaney": every triangle has area 1 in Hz, so a band's weights times the bin spacing sum to ~1."""
    w = dsp.mel_filterbank(sr=24_000, n_fft=1024, n_mels=64)
    df = 24_000 / 1024
    wide = (w > 0).sum(axis=1) >= 8  # bands spanning 8+ bins (the upper 37): sampling the triangle costs < 1 %
    assert wide.sum() >= 30
    assert np.allclose(w[wide].sum(axis=1) * df, 1.0, atol=0.01)


def test_mel_spectrogram_db_and_mfcc_match_librosa(analyses):
    for name, a in analyses.items():
        ref_mel = librosa.feature.melspectrogram(S=a.power, sr=ANALYSIS_RATE_HZ, n_mels=N_MELS,
                                                 fmax=ANALYSIS_RATE_HZ / 2)
        mel = dsp.melspectrogram(a.power, sr=ANALYSIS_RATE_HZ, n_mels=N_MELS, fmax=ANALYSIS_RATE_HZ / 2)
        assert np.max(np.abs(mel - ref_mel)) / np.max(ref_mel) < 1e-4, name
        ref_db = librosa.power_to_db(ref_mel, ref=1.0, top_db=MEL_RANGE_DB)
        db = dsp.power_to_db(mel, ref=1.0, top_db=MEL_RANGE_DB)
        assert np.max(np.abs(db - ref_db)) < 1e-3, name  # dB
        assert np.array_equal(a.mel_db, db), name  # what the extractors use
        ref_mfcc = librosa.feature.mfcc(S=ref_db, n_mfcc=13)
        assert np.max(np.abs(dsp.mfcc(ref_db, n_mfcc=13) - ref_mfcc)) < 1e-3, name


def test_power_to_db_known_values():
    p = np.array([1.0, 0.1, 1e-3, 0.0])
    assert np.allclose(dsp.power_to_db(p, top_db=None), [0.0, -10.0, -30.0, -100.0])  # floor: 1e-10 -> -100 dB
    assert np.allclose(dsp.power_to_db(p, top_db=25.0), [0.0, -10.0, -25.0, -25.0])
    assert np.allclose(dsp.power_to_db(p, ref=0.1, top_db=None)[:2], [10.0, 0.0])


# --- Onsets ------------------------------------------------------------------------------------------------------------

def test_onset_envelope_matches_librosa(analyses):
    for name, a in analyses.items():
        ref = librosa_onsets(a)
        ours = a.onset_envelope
        assert ours.shape == ref.shape, name
        assert np.corrcoef(ours, ref)[0, 1] > 0.999, name
        assert np.max(np.abs(ours - ref)) < 1e-4, name  # dB per frame


def test_onset_envelope_is_the_mean_rise_into_each_frame():
    s = np.array([[0.0, 3.0, 1.0, 4.0],
                  [0.0, 1.0, 5.0, 5.0]])
    # frame 1: (3 + 1) / 2; frame 2: (max(0, -2) + 4) / 2; frame 3: (3 + 0) / 2; frame 0 has no predecessor.
    assert np.allclose(dsp.onset_strength(s), [0.0, 2.0, 2.0, 1.5])


def test_peak_pick_known_answer():
    x = np.array([0.0, 1.0, 0.0, 0.0, 0.9, 1.0, 0.0, 0.2, 0.0, 0.0])
    windows = dict(pre_max=1, pre_avg=2, post_avg=3, delta=0.1)
    # post_max=1: a peak is >= its left neighbour and >= 0.1 over the mean of x[n-2 : n+3]. Frame 7 (0.2) is a local
    # maximum but the mean around it is 0.24; frame 3 (0.0, equal to its neighbour) is under its mean.
    assert dsp.peak_pick(x, post_max=1, wait=0, **windows).tolist() == [1, 4, 5]
    # post_max=2: the right neighbour counts too, so 4 (0.9 before 1.0) is no longer a peak.
    assert dsp.peak_pick(x, post_max=2, wait=0, **windows).tolist() == [1, 5]
    # wait=2: a peak blocks the next 2 frames, so 5 goes (right after 4); wait=3: 4 goes (3 after 1), then 5 is free.
    assert dsp.peak_pick(x, post_max=1, wait=2, **windows).tolist() == [1, 4]
    assert dsp.peak_pick(x, post_max=1, wait=3, **windows).tolist() == [1, 5]
    for post_max in (1, 2):
        for wait in (0, 2, 3):
            ref = librosa.util.peak_pick(x, post_max=post_max, wait=wait, **windows)
            assert dsp.peak_pick(x, post_max=post_max, wait=wait, **windows).tolist() == ref.tolist()


def test_onset_detect_matches_librosa(analyses):
    for name, a in analyses.items():
        env = librosa_onsets(a)
        ref = librosa.onset.onset_detect(onset_envelope=env, sr=ANALYSIS_RATE_HZ, hop_length=HOP)
        assert dsp.onset_detect(env, frame_rate_hz=FRAME_RATE_HZ).tolist() == ref.tolist(), name


# --- Tempo and beats ---------------------------------------------------------------------------------------------------

def _librosa_beats(env):
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=ANALYSIS_RATE_HZ, hop_length=HOP)
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats)


@pytest.mark.parametrize("bpm", [90, 120, 150])
def test_click_track_tempo_and_beats_match_librosa(bpm):
    a = AudioAnalysis(synth.click_track(bpm=bpm, duration_s=8, sr=SR), SR)
    env = a.onset_envelope
    ref_tempo, ref_beats = _librosa_beats(librosa_onsets(a))
    tempo, beats = dsp.beat_track(env, frame_rate_hz=FRAME_RATE_HZ)
    assert tempo == pytest.approx(ref_tempo, abs=1.0)
    # The tempo grid is 3000 / lag BPM: 90 BPM is read as 3000 / 33 = 90.9 (librosa reads the same).
    assert tempo == pytest.approx(bpm, abs=1.0)
    assert len(beats) == len(ref_beats)
    assert np.max(np.abs(beats - ref_beats)) <= 1  # within one hop (20 ms)
    # The beats sit on the clicks (every 60 / bpm s, from 0), within one frame.
    t = beats / FRAME_RATE_HZ
    period = 60.0 / bpm
    assert np.max(np.abs(t - np.round(t / period) * period)) <= 1.0 / FRAME_RATE_HZ + 1e-9


@pytest.mark.parametrize("name", ["music", "music100", "speech", "pink"])
def test_beats_match_librosa_on_music_speech_and_noise(analyses, name):
    a = analyses[name]
    ref_tempo, ref_beats = _librosa_beats(librosa_onsets(a))
    tempo, beats = dsp.beat_track(a.onset_envelope, frame_rate_hz=FRAME_RATE_HZ)
    assert tempo == pytest.approx(ref_tempo, abs=1.0)
    assert len(beats) == len(ref_beats)
    assert np.max(np.abs(beats - ref_beats), initial=0) <= 1


def test_tempo_estimate_matches_librosa(analyses):
    for name, a in analyses.items():
        env = librosa_onsets(a)
        ref = float(librosa.feature.tempo(onset_envelope=env, sr=ANALYSIS_RATE_HZ, hop_length=HOP)[0])
        assert dsp.tempo_bpm(env, frame_rate_hz=FRAME_RATE_HZ) == pytest.approx(ref, abs=1.0), name


def test_beat_track_with_no_onsets_finds_no_beats():
    tempo, beats = dsp.beat_track(np.zeros(300, np.float32), frame_rate_hz=FRAME_RATE_HZ)
    assert tempo == 0.0 and len(beats) == 0


def test_beat_track_follows_a_given_tempo():
    """A pulse every 25 frames (120 BPM at 50 frames/s): with the tempo given, the beats are the pulses."""
    env = np.zeros(487, np.float32)
    env[10::25] = 1.0
    tempo, beats = dsp.beat_track(env, frame_rate_hz=50.0, bpm=120.0)
    assert tempo == 120.0
    assert beats.tolist() == list(range(10, 487, 25))


@pytest.mark.parametrize("length, first", [(487, 10), (500, 10), (500, 24)])
def test_beat_track_ends_like_librosa(length, first):
    """The path is read back from the last strong local maximum of the cumulative score, which may lie after the
    last pulse (length 500, first 10: librosa ends on frame 480, between pulses); ours does the same."""
    env = np.zeros(length, np.float32)
    env[first::25] = 1.0
    ref = librosa.beat.beat_track(onset_envelope=env, sr=ANALYSIS_RATE_HZ, hop_length=HOP, bpm=120.0)[1]
    assert dsp.beat_track(env, frame_rate_hz=FRAME_RATE_HZ, bpm=120.0)[1].tolist() == ref.tolist()


# --- Spectral shape ----------------------------------------------------------------------------------------------------

def test_spectral_shape_matches_librosa(analyses):
    for name, a in analyses.items():
        mag = np.sqrt(a.power)
        sr = ANALYSIS_RATE_HZ
        pairs = [
            (dsp.spectral_centroid(mag, freqs_hz=a.freqs), librosa.feature.spectral_centroid(S=mag, sr=sr)[0]),
            (dsp.spectral_bandwidth(mag, freqs_hz=a.freqs), librosa.feature.spectral_bandwidth(S=mag, sr=sr)[0]),
            (dsp.spectral_rolloff(mag, freqs_hz=a.freqs, share=0.85),
             librosa.feature.spectral_rolloff(S=mag, sr=sr, roll_percent=0.85)[0]),
        ]
        for ours, ref in pairs:
            assert np.allclose(ours, ref, rtol=1e-6, atol=1e-6), name  # Hz
        assert np.allclose(dsp.spectral_flatness(mag), librosa.feature.spectral_flatness(S=mag)[0],
                           rtol=1e-5, atol=1e-7), name


def test_spectral_shape_known_answers():
    freqs = np.array([0.0, 100.0, 200.0, 300.0, 400.0])
    mag = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    assert np.allclose(dsp.spectral_centroid(mag, freqs_hz=freqs), [200.0, 200.0])
    assert np.allclose(dsp.spectral_bandwidth(mag, freqs_hz=freqs), [100.0, np.sqrt(20000.0)])
    # 85 % of the magnitude: bin 3 for the two-line frame (1 of 2 is only 50 %), bin 4 for the flat frame (4/5 = 80 %).
    assert np.allclose(dsp.spectral_rolloff(mag, freqs_hz=freqs), [300.0, 400.0])
    assert dsp.spectral_flatness(mag)[1] == pytest.approx(1.0)  # flat spectrum
    assert dsp.spectral_flatness(mag)[0] < 1e-3  # two lines and silence


# --- The scoring path never imports librosa or numba --------------------------------------------------------------------

def test_analysing_a_clip_imports_neither_librosa_nor_numba(clips, tmp_path):
    """End to end in a fresh process (default options: the optional transcript is off), on a clip with a beat so
    that the rhythm, timbre and onset code all run. Nor scipy.signal: its import cost ~1 s a process (issue 21)."""
    path = clips("dsp_music", audio="music", width=160, height=284, fps=15, duration_s=2.0)
    code = (
        "import sys\n"
        "from engine import library\n"
        "from engine.config import load_config\n"
        f"r = library.analyze({str(path)!r}, load_config(use_user_file=False))\n"
        "assert r.status == 'ok', r.error\n"
        "assert 'audio.beat_strength' in r.features.values and 'audio.mfcc_00_mean' in r.features.values\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba', 'llvmlite')\n"
        "             or m == 'scipy.signal' or m.startswith('scipy.signal.'))\n"
        "print(bad[:10]); sys.exit(1 if bad else 0)\n"
    )
    env = dict(os.environ, BYTEME_DATA_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- scipy.signal's functions in numpy (issue 21: its import cost ~1 s a process) ---------------------------------------

scipy_signal = pytest.importorskip("scipy.signal")


def _noise(n: int, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


@pytest.mark.parametrize("m", [1, 2, 7, 512, 1001])
def test_windows_equal_scipy(m):
    for sym in (True, False):
        assert np.array_equal(dsp.hann(m, sym=sym), scipy_signal.windows.hann(m, sym=sym))
    np.testing.assert_allclose(dsp.kaiser(m, 5.0), scipy_signal.windows.kaiser(m, 5.0), rtol=0, atol=1e-15)


@pytest.mark.parametrize("up,down,n", [(1, 2, 48_000 * 3 + 7), (1, 6, 48_000 + 5), (4, 1, 4096 + 128), (1, 3, 4801),
                                        (2, 3, 1001), (3, 1, 10), (1, 2, 1), (1, 6, 5), (4, 1, 1), (4, 1, 0),
                                        (1, 2, 0)])
def test_resample_poly_equals_scipy(up, down, n):
    """scipy computes float32 input in float32; ours in float64: they differ by float32 rounding only."""
    x = _noise(n)
    ref = scipy_signal.resample_poly(x, up, down)
    got = dsp.resample_poly(x, up, down)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    if n == 0:
        return
    assert np.max(np.abs(got - ref)) <= 1e-6 * np.max(np.abs(ref))
    x64 = x.astype(np.float64)
    ref64 = scipy_signal.resample_poly(x64, up, down)
    assert np.max(np.abs(dsp.resample_poly(x64, up, down) - ref64)) <= 1e-12 * np.max(np.abs(ref64))


def test_k_weighting_as_fir_equals_the_biquads():
    """The BS.1770 K-weighting run as its truncated impulse response (FFT convolution) against scipy's recursive
    ``lfilter`` of the two biquads, in blocks as the loudness meter reads it."""
    from engine.extractors.audio import levels

    x = _noise(48_000 * 7)
    x[48_000:96_000] *= 1e-4  # a quiet stretch: the error must stay small next to its own level too
    ref = x.astype(np.float64)
    for b, a in levels._k_stages(48_000):
        ref = scipy_signal.lfilter(b, a, ref)
    got = levels.k_weight(x, sr=48_000)
    assert np.max(np.abs(got - ref)) <= 1e-12 * np.max(np.abs(ref))
    quiet = slice(60_000, 96_000)  # past the loud stretch's decay into it
    assert np.max(np.abs(got[quiet] - ref[quiet])) <= 1e-9 * np.max(np.abs(ref[quiet]))
    idx = np.array([0, 1, 1000, 48_000, 100_000, 262_144, 262_145, len(x)])
    energy = levels.kweighted_energy_at(x, sr=48_000, indices=idx, block=100_003)
    want = np.concatenate(([0.0], np.cumsum(ref ** 2)))[idx]
    np.testing.assert_allclose(energy, want, rtol=1e-12, atol=0)


def test_fir_filter_equals_convolution_in_any_blocks():
    h = np.random.default_rng(2).standard_normal(300)
    x = _noise(200_000).astype(np.float64)
    ref = np.convolve(x, h)[: len(x)]
    np.testing.assert_allclose(dsp.fir_filter(h, x), ref, rtol=0, atol=1e-12)
    parts = np.concatenate([dsp.fir_filter(h, x, s, s + 70_001) for s in range(0, len(x), 70_001)])
    np.testing.assert_allclose(parts, ref, rtol=0, atol=1e-12)


def test_iir_fir_refuses_an_unstable_filter():
    with pytest.raises(ValueError):
        dsp.iir_fir((((1.0,), (1.0, -1.0001)),))


@pytest.mark.parametrize("nperseg", [4096, 1000, 513])
def test_welch_equals_scipy(nperseg):
    x = _noise(24_000 * 5)
    f_ref, p_ref = scipy_signal.welch(x, fs=24_000, nperseg=nperseg, noverlap=nperseg // 2)
    f, p = dsp.welch(x, fs=24_000, nperseg=nperseg, noverlap=nperseg // 2)
    assert p.dtype == p_ref.dtype and p.shape == p_ref.shape
    np.testing.assert_allclose(f, f_ref, rtol=1e-6)
    np.testing.assert_allclose(p, p_ref, rtol=1e-5)


def test_welch_of_nothing_is_empty():
    f, p = dsp.welch(np.zeros(0, np.float32), fs=24_000, nperseg=4096)
    assert f.size == p.size == 0
