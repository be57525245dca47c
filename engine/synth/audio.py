"""Synthetic sound: sine, silence, pink noise, speech-like and music-like signals, a click track, a limiter, a
mixer, and loudness measured and set after ITU-R BS.1770-4 (pyloudnorm). See ``engine.synth``."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .seeded import rng as _rng


def _n(duration_s: float, sr: int) -> int:
    if sr <= 0:
        raise ValueError(f"Sample rate must be positive, got {sr} Hz.")
    if duration_s < 0:
        raise ValueError(f"Duration must not be negative, got {duration_s} s.")
    return int(round(duration_s * sr))


def _db_to_amp(level_dbfs: float) -> float:
    return float(10.0 ** (level_dbfs / 20.0))


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0


def sine(*, freq_hz: float, duration_s: float, sr: int, level_dbfs: float = -20.0) -> np.ndarray:
    """A pure tone.

    Parameters
    ----------
    freq_hz : float > 0
        Frequency in Hz (below ``sr / 2``).
    duration_s : float >= 0
    sr : int > 0
        Sample rate in Hz.
    level_dbfs : float
        *Peak* amplitude in dBFS (RMS is 3.01 dB lower). 0 dBFS = full scale.

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
    """
    n = _n(duration_s, sr)
    t = np.arange(n, dtype=np.float64) / sr
    return (_db_to_amp(level_dbfs) * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def silence(*, duration_s: float, sr: int) -> np.ndarray:
    """Digital silence: zeros [shape=(round(duration_s * sr),), dtype=float32]."""
    return np.zeros(_n(duration_s, sr), np.float32)


def pink_noise(*, duration_s: float, sr: int, level_dbfs: float = -20.0, seed: int = 0) -> np.ndarray:
    """Pink (1/f power) noise, shaped in the frequency domain from seeded white noise.

    Parameters
    ----------
    duration_s : float >= 0
    sr : int > 0
    level_dbfs : float
        *RMS* level in dBFS (peaks are about 10-12 dB higher).
    seed : int

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
        Zero mean; components below 20 Hz removed.
    """
    n = _n(duration_s, sr)
    if n == 0:
        return np.zeros(0, np.float32)
    spec = np.fft.rfft(_rng(seed, 0x914C).standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    shape = np.zeros_like(f)
    shape[f >= 20.0] = 1.0 / np.sqrt(f[f >= 20.0])
    y = np.fft.irfft(spec * shape, n=n)
    return (y * (_db_to_amp(level_dbfs) / max(_rms(y), 1e-12))).astype(np.float32)


#: Vowel formants (F1, F2, F3) in Hz, averages for adult speakers (Peterson & Barney 1952, JASA 24(2)).
VOWEL_FORMANTS_HZ = (
    (730, 1090, 2440),  # /a/
    (530, 1840, 2480),  # /e/
    (270, 2290, 3010),  # /i/
    (570, 840, 2410),  # /o/
    (300, 870, 2240),  # /u/
    (660, 1720, 2410),  # /ae/
)
#: Typical syllable rate of conversational speech, syllables per second (about 4 Hz; e.g. Greenberg 1999).
SYLLABLE_RATE_HZ = 4.0
#: Active-speech RMS level that ``speech_like`` returns, dBFS (loudness lands near -20 LUFS).
SPEECH_RMS_DBFS = -20.0


def _resonator(x: np.ndarray, freq_hz: float, bw_hz: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = math.exp(-math.pi * bw_hz / sr)
    theta = 2 * math.pi * freq_hz / sr
    a = [1.0, -2 * r * math.cos(theta), r * r]
    b = [1.0 - r]
    return lfilter(b, a, x)


def speech_like(*, duration_s: float, sr: int, seed: int = 0) -> np.ndarray:
    """A synthetic voice: voiced syllables with formants, intonation and pauses, so a VAD hears speech.

    Built as phrases of 1.2-2.8 s separated by pauses of 0.25-0.6 s. Each phrase is a run of syllables at about
    ``SYLLABLE_RATE_HZ`` (durations 0.16-0.34 s, raised-cosine envelopes, so the energy is modulated at ~4 Hz).
    A syllable is a glottal pulse train at the current pitch filtered by the three formant resonators of a
    vowel from ``VOWEL_FORMANTS_HZ``, preceded now and then by a short unvoiced (fricative-like) noise burst.
    The pitch follows a phrase contour between about 120 and 220 Hz: a rise then a falling declination, with
    small jitter, as in read speech.

    Parameters
    ----------
    duration_s : float >= 0
    sr : int > 0
        Sample rate in Hz (16000 or more recommended; formants reach 3 kHz).
    seed : int

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
        Mono. The RMS over the voiced parts is ``SPEECH_RMS_DBFS`` (-20 dBFS); pauses are exact zeros. The
        signal starts with speech at t = 0.05 s. Use ``scale_to_lufs`` for a loudness target.
    """
    n = _n(duration_s, sr)
    y = np.zeros(n, np.float64)
    if n == 0:
        return y.astype(np.float32)
    rng = _rng(seed, 0x5BEEC)
    base_f0 = float(rng.uniform(125, 175))  # speaker's mean pitch
    t = 0.05
    while t < duration_s:
        phrase_len = float(rng.uniform(1.2, 2.8))
        phrase_end = min(duration_s, t + phrase_len)
        # Pitch contour over the phrase: rise to a peak at 20-35 %, then declination to the end.
        peak_at = float(rng.uniform(0.2, 0.35))
        f0_start = base_f0 * float(rng.uniform(0.92, 1.02))
        f0_peak = min(220.0, base_f0 * float(rng.uniform(1.18, 1.32)))
        f0_end = max(120.0, base_f0 * float(rng.uniform(0.78, 0.88)))
        while t < phrase_end - 0.1:
            syl = float(rng.uniform(0.16, 0.34))
            syl = min(syl, phrase_end - t)
            i0, i1 = int(t * sr), min(n, int((t + syl) * sr))
            m = i1 - i0
            if m <= 8:
                break
            # Pitch track for this syllable (per-sample, Hz).
            u = (t - (phrase_end - phrase_len) + np.arange(m) / sr) / phrase_len
            f0 = np.where(u < peak_at,
                          f0_start + (f0_peak - f0_start) * (u / peak_at),
                          f0_peak + (f0_end - f0_peak) * ((u - peak_at) / (1 - peak_at)))
            f0 = np.clip(f0 * (1 + 0.01 * rng.standard_normal()), 110.0, 230.0)
            phase = np.cumsum(f0 / sr)
            # Glottal source: band-limited-ish sawtooth-like pulse train (sum of harmonics with 1/k roll-off).
            src = np.zeros(m)
            n_harm = int(min(40, (sr / 2 - 200) / 230))
            for k in range(1, n_harm + 1):
                src += np.sin(2 * np.pi * k * phase) / k
            f1, f2, f3 = VOWEL_FORMANTS_HZ[int(rng.integers(0, len(VOWEL_FORMANTS_HZ)))]
            voiced = (_resonator(src, f1, 90, sr) * 1.0 + _resonator(src, f2, 110, sr) * 0.5
                      + _resonator(src, f3, 170, sr) * 0.25)
            env = np.sin(np.pi * np.arange(m) / m) ** 1.5  # raised-cosine-like syllable envelope
            voiced *= env * float(rng.uniform(0.6, 1.0))
            if rng.random() < 0.35:  # unvoiced onset consonant, 30-60 ms of high-passed noise
                k = min(m, int(float(rng.uniform(0.03, 0.06)) * sr))
                noise = np.diff(rng.standard_normal(k + 1))
                voiced[:k] += 0.15 * np.std(voiced) / max(np.std(noise), 1e-9) * noise * np.hanning(k)
            y[i0:i1] += voiced
            t += syl + float(rng.uniform(0.0, 0.04))
        t = phrase_end + float(rng.uniform(0.25, 0.6))
    active = np.abs(y) > 1e-6
    if active.any():
        y *= _db_to_amp(SPEECH_RMS_DBFS) / _rms(y[active])
    return y.astype(np.float32)


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    f = 50 + 100 * np.exp(-t / 0.03)  # pitch sweep 150 -> 50 Hz
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.09)


def _hihat(sr: int, rng: np.random.Generator) -> np.ndarray:
    k = int(0.05 * sr)
    x = np.diff(rng.standard_normal(k + 1), n=1)
    return x * np.exp(-np.arange(k) / (0.012 * sr)) * 0.25


def music_like(*, duration_s: float, sr: int, bpm: float = 120.0, seed: int = 0) -> np.ndarray:
    """Synthetic pop-like music: a chord progression over a four-on-the-floor kick and off-beat hi-hats.

    One chord per bar (4 beats) cycling through I-V-vi-IV in a key picked from ``seed``; chords are additive
    tones (4 harmonics, gentle decay within the bar); a kick (pitch-swept sine, 150 -> 50 Hz) lands on every
    beat and a hi-hat (high-passed noise burst) halfway between beats, so onset and tempo estimators find
    ``bpm``. The first beat is at t = 0.

    Parameters
    ----------
    duration_s : float >= 0
    sr : int > 0
    bpm : float > 0
        Tempo in beats per minute.
    seed : int

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
        Mono, peak normalised to -3 dBFS.
    """
    if bpm <= 0:
        raise ValueError(f"Tempo must be positive, got {bpm} bpm.")
    n = _n(duration_s, sr)
    y = np.zeros(n, np.float64)
    if n == 0:
        return y.astype(np.float32)
    rng = _rng(seed, 0x30051C)
    beat_s = 60.0 / bpm
    key = int(rng.integers(0, 12))
    progression = ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))  # I V vi IV, semitones above the tonic
    bar_n = int(round(4 * beat_s * sr))
    t_bar = np.arange(bar_n) / sr
    bar = 0
    for i0 in range(0, n, bar_n):
        chord = progression[bar % 4]
        seg = np.zeros(bar_n)
        for semis in chord:
            f = 220.0 * 2 ** ((key + semis - 12 * (key + semis >= 12)) / 12.0)
            for h in range(1, 5):
                seg += np.sin(2 * np.pi * f * h * t_bar) / (h * h)
        seg *= np.exp(-t_bar / (3 * beat_s)) * 0.12
        m = min(bar_n, n - i0)
        y[i0 : i0 + m] += seg[:m]
        bar += 1
    kick, k = _kick(sr), 0
    while True:
        i0 = int(round(k * beat_s * sr))
        if i0 >= n:
            break
        m = min(len(kick), n - i0)
        y[i0 : i0 + m] += 0.8 * kick[:m]
        j0 = int(round((k + 0.5) * beat_s * sr))
        if j0 < n:
            hat = _hihat(sr, rng)
            mm = min(len(hat), n - j0)
            y[j0 : j0 + mm] += hat[:mm]
        k += 1
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y *= _db_to_amp(-3.0) / peak
    return y.astype(np.float32)


def click_track(*, bpm: float, duration_s: float, sr: int, level_dbfs: float = -6.0) -> np.ndarray:
    """A metronome: a 10 ms, 1 kHz click (1.5 kHz on each bar's first beat) at every beat from t = 0.

    Parameters
    ----------
    bpm : float > 0
        Beats per minute; clicks start at ``k * 60 / bpm`` seconds exactly (rounded to the nearest sample).
    duration_s : float >= 0
    sr : int > 0
    level_dbfs : float
        Peak level of each click in dBFS.

    Returns
    -------
    y : np.ndarray [shape=(round(duration_s * sr),), dtype=float32]
    """
    if bpm <= 0:
        raise ValueError(f"Tempo must be positive, got {bpm} bpm.")
    n = _n(duration_s, sr)
    y = np.zeros(n, np.float32)
    m = max(1, int(0.010 * sr))
    env = np.hanning(m)
    tt = np.arange(m) / sr
    k = 0
    while (i0 := int(round(k * 60.0 / bpm * sr))) < n:
        f = 1500.0 if k % 4 == 0 else 1000.0
        click = _db_to_amp(level_dbfs) * env * np.sin(2 * np.pi * f * tt)
        mm = min(m, n - i0)
        y[i0 : i0 + mm] += click[:mm].astype(np.float32)
        k += 1
    return y


#: Peak limiter timing: the gain follows a peak over this window (look-ahead and hold), then recovers with this
#: release time constant — typical settings of a mastering limiter.
LIMITER_WINDOW_S = 0.005
LIMITER_RELEASE_S = 0.05


def limit(y: np.ndarray, *, sr: int, ceiling_dbfs: float = -1.5) -> np.ndarray:
    """A peak limiter, as a creator's editor applies before export: peaks above ``ceiling_dbfs`` are turned down
    smoothly (no flat-topped clipping), quieter passages are left alone.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], float
    sr : int > 0
    ceiling_dbfs : float <= 0
        Highest sample magnitude after limiting, dBFS.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32], with ``max(|y|) <= 10 ** (ceiling_dbfs / 20)``.
    """
    from scipy.ndimage import maximum_filter1d
    from scipy.signal import lfilter

    y = np.asarray(y, dtype=np.float64)
    ceiling = 10 ** (ceiling_dbfs / 20)
    env = maximum_filter1d(np.abs(y), size=max(1, int(LIMITER_WINDOW_S * sr)))
    gain = np.minimum(1.0, ceiling / np.maximum(env, 1e-12))
    a = np.exp(-1.0 / (LIMITER_RELEASE_S * sr))
    smooth = 1.0 - lfilter([1 - a], [1, -a], 1.0 - gain)  # release: gain reduction decays towards none
    gain = np.minimum(gain, smooth)
    out = y * gain
    return np.clip(out, -ceiling, ceiling).astype(np.float32)


def mix(*signals: np.ndarray, gains_db: Sequence[float] | None = None) -> np.ndarray:
    """Sum mono signals sample by sample, padding the shorter ones with silence at the end.

    Parameters
    ----------
    *signals : np.ndarray [shape=(n_i,)]
        Mono signals at the same sample rate.
    gains_db : sequence of float or None
        Gain in dB applied to each signal before summing (default 0 dB each).

    Returns
    -------
    y : np.ndarray [shape=(max(n_i),), dtype=float32]
        Not limited: the sum may exceed 1.0 (``write_clip`` clips at full scale, as a real recorder would).
    """
    if not signals:
        return np.zeros(0, np.float32)
    gains = [0.0] * len(signals) if gains_db is None else list(gains_db)
    if len(gains) != len(signals):
        raise ValueError(f"Got {len(signals)} signals but {len(gains)} gains.")
    out = np.zeros(max(len(s) for s in signals), np.float64)
    for s, g in zip(signals, gains):
        s = np.asarray(s)
        if s.ndim != 1:
            raise ValueError(f"mix() takes mono signals shaped (n,), got shape {s.shape}.")
        out[: len(s)] += s * _db_to_amp(g)
    return out.astype(np.float32)


def measure_lufs(y: np.ndarray, *, sr: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4 via pyloudnorm).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        At least 0.4 s long (one gating block).
    sr : int > 0

    Returns
    -------
    lufs : float
        ``-inf`` for digital silence.
    """
    import pyloudnorm

    y = np.asarray(y, dtype=np.float64)
    data = y.T if y.ndim == 2 else y
    if data.shape[0] < int(0.4 * sr):
        raise ValueError(f"Loudness needs at least 0.4 s of audio, got {data.shape[0] / sr:.3f} s.")
    return float(pyloudnorm.Meter(sr).integrated_loudness(data))


def scale_to_lufs(y: np.ndarray, *, sr: int, lufs: float) -> np.ndarray:
    """Scale ``y`` by one gain so that its integrated loudness (BS.1770-4, pyloudnorm) is ``lufs``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        At least 0.4 s long and not silent.
    sr : int > 0
    lufs : float
        Target loudness, e.g. -14 (a common streaming-platform playback level; a convention, not a standard).

    Returns
    -------
    y_scaled : np.ndarray, same shape, dtype=float32
        Peaks are not limited and may exceed 1.0 for loud targets; ``write_clip`` clips at full scale.
    """
    current = measure_lufs(y, sr=sr)
    if not math.isfinite(current):
        raise ValueError("Cannot scale silence to a loudness target: the signal has no measurable loudness.")
    return (np.asarray(y, np.float64) * _db_to_amp(lufs - current)).astype(np.float32)
