"""Level measurements on the 48 kHz mono signal: loudness (ITU-R BS.1770-4 / EBU R128), true peak, clipping,
silence and the first sound. Pure functions on numpy arrays; the ``Loudness`` extractor in ``audio.py`` calls them.

Loudness follows BS.1770-4: K-weighting (pre-filter shelf + RLB high-pass), mean square over 400 ms blocks with
75 % overlap, the -70 LUFS absolute gate and the -10 LU relative gate. At 48 kHz the filter coefficients are the
ones printed in BS.1770-4 Tables 1 and 2; at other rates pyloudnorm's K-weighting filters are used. The gating is
the same algorithm as ``pyloudnorm.Meter.integrated_loudness`` (tests check both agree within 0.05 LU), computed
from one cumulative sum so that the momentary (400 ms) and short-term (3 s) series and the loudness range
(EBU Tech 3342) come from the same pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ...dsp import fir_filter, iir_fir, resample_poly  # numpy only: no scipy.signal import (issue 21)

# --- BS.1770-4 constants -------------------------------------------------------------------------------------
#: BS.1770-4 Table 1: pre-filter (high shelf, +4 dB above ~1.5 kHz) at 48 kHz.
K_SHELF_48K = ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585))
#: BS.1770-4 Table 2: RLB weighting (high-pass, ~38 Hz) at 48 kHz.
K_HIGHPASS_48K = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))
#: BS.1770-4 eq. 2: loudness = -0.691 + 10 log10(mean square of the K-weighted signal).
LOUDNESS_OFFSET_DB = -0.691
#: BS.1770-4: gating blocks of 400 ms with 75 % overlap (a step of 100 ms); EBU R128 "momentary" loudness.
MOMENTARY_WINDOW_S = 0.4
#: EBU R128 / Tech 3341: short-term loudness window.
SHORT_TERM_WINDOW_S = 3.0
#: Step of both series: 10 Hz, as EBU Tech 3341/3342 require for meters and the loudness range.
LOUDNESS_STEP_S = 0.1
#: BS.1770-4 absolute gate, LUFS. Also the floor we report for a track with no measurable loudness.
ABSOLUTE_GATE_LUFS = -70.0
#: BS.1770-4 relative gate for integrated loudness, LU below the absolute-gated loudness.
RELATIVE_GATE_LU = -10.0
#: EBU Tech 3342 relative gate for the loudness range, LU.
LRA_RELATIVE_GATE_LU = -20.0
#: EBU Tech 3342: the loudness range is the spread between these percentiles of the gated short-term loudness.
LRA_PERCENTILES = (10.0, 95.0)
#: BS.1770-4 Annex 2: true peak is measured on the signal oversampled 4x (at 48 kHz).
TRUE_PEAK_OVERSAMPLE = 4
#: True peak is only computed around samples within this many dB of the sample peak: a 4x-oversampled
#: inter-sample peak rarely exceeds the sample peak by more than ~3 dB (BS.1770-4 Annex 2 notes an
#: under-read of at most 0.7 dB for 4x), so blocks further down cannot hold the true peak.
TRUE_PEAK_SEARCH_DB = 6.0
TRUE_PEAK_BLOCK = 4096  # samples per candidate block for true peak

# --- Clipping ----------------------------------------------------------------------------------------------------
#: A sample counts as "at full scale" at or above -1 dBFS. On PCM a clipped plateau sits at exactly 1.0, but a lossy
#: codec (AAC, Opus) turns it into a ripple of about +-1 dB around full scale (measured on our own AAC encodes of
#: hard-clipped speech: at >= 0.999 only 1 % of the truly clipped samples remain, at >= -1 dBFS 98 %). A clean
#: waveform that reaches -1 dBFS already breaks the -1 dBTP delivery target, so counting it costs nothing.
CLIP_LEVEL_DBFS = -1.0
#: Runs shorter than this many consecutive samples are waveform crests, not clipping (Audacity's "Find Clipping"
#: default start threshold is 3 samples).
CLIP_MIN_RUN = 3
#: Clipped runs closer than this are reported as one burst.
CLIP_MERGE_GAP_S = 0.05

# --- Silence -----------------------------------------------------------------------------------------------------
#: A 400 ms block is silent when its momentary loudness is this far below the programme (integrated) loudness.
#: 25 LU: beyond the 20 LU that EBU Tech 3342 already treats as outside the programme's loudness range.
SILENCE_BELOW_PROGRAMME_LU = 25.0
#: Whatever the programme level, a block under this is silent (a quiet room is about -60 LUFS on a phone).
SILENCE_ABSOLUTE_LUFS = -60.0
#: A silent stretch counts as dead air from this length on (shorter gaps are pauses between phrases).
DEAD_AIR_MIN_S = 1.0
#: A track whose every sample is below this is digital silence (-90 dBFS: below any microphone's self-noise).
DIGITAL_SILENCE_AMPLITUDE = 10 ** (-90.0 / 20.0)
#: Frame for locating the first sound: 20 ms windows every 10 ms.
FIRST_SOUND_WINDOW_S = 0.02
FIRST_SOUND_STEP_S = 0.01


def _k_stages(sr: int) -> tuple:
    """The two K-weighting biquads (b, a) at ``sr``: BS.1770-4 Tables 1 and 2 at 48 kHz, pyloudnorm's otherwise."""
    if sr == 48_000:
        return (K_SHELF_48K, K_HIGHPASS_48K)
    import pyloudnorm

    return tuple((f.b, f.a) for f in pyloudnorm.Meter(sr)._filters.values())


def _k_fir(sr: int) -> np.ndarray:
    """The K-weighting cascade as one FIR filter: its impulse response (``dsp.iir_fir``, kept to 1e-20 of its
    peak), so the filter runs as an FFT convolution without scipy.signal. Outputs match ``scipy.signal.lfilter``
    of the two biquads within 3e-13 of the peak (tests/unit/test_dsp.py: 1e-12 asserted)."""
    return iir_fir(tuple((tuple(map(float, b)), tuple(map(float, a))) for b, a in _k_stages(sr)))


def k_weight(y: np.ndarray, *, sr: int) -> np.ndarray:
    """K-weighted copy of mono ``y`` (BS.1770-4), float64 [shape=(n,)]."""
    return fir_filter(_k_fir(sr), y)


#: The K-weighted signal and its running energy are computed in blocks of this many samples (5.5 s at 48 kHz,
#: 2 MB per float64 block) and never held whole: a 10-minute clip's K-weighted copy and its cumulative sum would
#: be 230 MB each (float64). Each block is filtered from the samples before it, so the numbers do not depend on it.
ENERGY_BLOCK_SAMPLES = 1 << 18


def kweighted_energy_at(y: np.ndarray, *, sr: int, indices: np.ndarray,
                        block: int = ENERGY_BLOCK_SAMPLES) -> np.ndarray:
    """Energy of the K-weighted signal before each of ``indices``: E[k] = sum(kw[:k] ** 2), float64
    [shape=(len(indices),)].

    ``indices`` : int [shape=(m,)], sorted, each in 0..len(y). The same numbers, bit for bit, as
    ``np.concatenate(([0.0], np.cumsum(k_weight(y, sr=sr) ** 2)))[indices]``: each block is filtered from the
    samples before it (``dsp.fir_filter``), and each block's cumulative sum starts from the previous block's total
    added to its first sample, the same sequence of additions as one ``np.cumsum``.
    """
    idx = np.asarray(indices, dtype=np.int64)
    out = np.zeros(len(idx))
    h = _k_fir(sr)
    carry = 0.0
    n = len(y)
    # indices k in (start, stop] read the cumulative sum at position k - 1 of this block; index 0 reads 0.
    lo = int(np.searchsorted(idx, 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        x = fir_filter(h, y, start, stop)
        x *= x
        x[0] += carry
        np.cumsum(x, out=x)
        carry = float(x[-1])
        hi = int(np.searchsorted(idx, stop, side="right"))
        out[lo:hi] = x[idx[lo:hi] - 1 - start]
        lo = hi
    return out


def _window_starts(n: int, *, sr: int, window_s: float, step_s: float) -> tuple[np.ndarray, int]:
    """(first sample of each window that fits in ``n`` samples, window length in samples): windows of
    ``window_s`` starting every ``step_s``."""
    w = int(round(window_s * sr))
    if n < w or w <= 0:
        return np.zeros(0, np.int64), max(w, 0)
    starts = (np.arange(int((n - w) // (step_s * sr)) + 1) * step_s * sr).astype(np.int64)
    return starts[starts + w <= n], w


class KWeightedEnergy:
    """The running energy of the K-weighted signal, kept only at the window edges the level measurements need:
    400 ms and 3 s windows every 100 ms (loudness) and 20 ms windows every 10 ms (first sound). For a 10-minute
    clip that is ~1 MB (60,000 edges) instead of the 460 MB of the K-weighted copy and its cumulative sum."""

    #: (window_s, step_s) of the windows ``mean_square`` can give.
    WINDOWS = ((MOMENTARY_WINDOW_S, LOUDNESS_STEP_S), (SHORT_TERM_WINDOW_S, LOUDNESS_STEP_S),
               (FIRST_SOUND_WINDOW_S, FIRST_SOUND_STEP_S))

    def __init__(self, y: np.ndarray, *, sr: int, kw: np.ndarray | None = None):
        n = len(kw) if kw is not None else len(y)
        self._windows = {ws: _window_starts(n, sr=sr, window_s=ws[0], step_s=ws[1]) for ws in self.WINDOWS}
        edges = [np.zeros(1, np.int64)] + [e for starts, w in self._windows.values() for e in (starts, starts + w)]
        self._idx = np.unique(np.concatenate(edges))
        if kw is not None:
            energy = np.concatenate(([0.0], np.cumsum(kw * kw)))
            self._energy = energy[self._idx]
        else:
            self._energy = kweighted_energy_at(y, sr=sr, indices=self._idx)

    def mean_square(self, window_s: float, step_s: float) -> np.ndarray:
        """Mean square of the K-weighted signal over each window (the windows that fit), float64."""
        starts, w = self._windows[(window_s, step_s)]
        if len(starts) == 0:
            return np.zeros(0)
        at = self._energy
        return (at[np.searchsorted(self._idx, starts + w)] - at[np.searchsorted(self._idx, starts)]) / w


def _lufs(mean_square: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET_DB + 10.0 * np.log10(mean_square)


@dataclass
class LoudnessReport:
    """BS.1770-4 / EBU R128 loudness of one mono signal.

    ``integrated_lufs`` is -inf when every block is under the absolute gate. The series hold one value per
    ``LOUDNESS_STEP_S``; value i of the momentary series is the 400 ms window starting at ``i * step`` (its centre
    is ``momentary_start_s + i * step``), likewise for the 3 s short-term series.
    """

    integrated_lufs: float
    loudness_range_lu: float | None
    momentary_lufs: np.ndarray
    short_term_lufs: np.ndarray
    momentary_start_s: float = MOMENTARY_WINDOW_S / 2
    short_term_start_s: float = SHORT_TERM_WINDOW_S / 2
    step_s: float = LOUDNESS_STEP_S


def gated_integrated(block_ms: np.ndarray) -> float:
    """Integrated loudness (LUFS) from 400 ms block mean squares, with the BS.1770-4 absolute and relative gates."""
    lk = _lufs(block_ms)
    above_abs = lk >= ABSOLUTE_GATE_LUFS
    if not above_abs.any():
        return -math.inf
    relative = float(_lufs(np.mean(block_ms[above_abs]))) + RELATIVE_GATE_LU
    gated = (lk > relative) & (lk > ABSOLUTE_GATE_LUFS)
    return float(_lufs(np.mean(block_ms[gated]))) if gated.any() else -math.inf


def loudness_range(short_term_lufs: np.ndarray) -> float | None:
    """EBU Tech 3342 loudness range (LU) from the short-term loudness series; None when nothing passes the gates."""
    st = np.asarray(short_term_lufs, dtype=np.float64)
    st = st[st >= ABSOLUTE_GATE_LUFS]
    if len(st) == 0:
        return None
    relative = float(_lufs(np.mean(10 ** ((st - LOUDNESS_OFFSET_DB) / 10.0)))) + LRA_RELATIVE_GATE_LU
    st = st[st >= relative]
    if len(st) == 0:
        return None
    lo, hi = np.percentile(st, LRA_PERCENTILES)
    return float(hi - lo)


def measure_loudness(y: np.ndarray, *, sr: int, kw: np.ndarray | None = None,
                     energy: KWeightedEnergy | None = None) -> LoudnessReport:
    """Integrated loudness, loudness range and the momentary / short-term series of mono ``y`` at ``sr`` Hz.

    ``kw`` is the K-weighted signal when the caller already has it, ``energy`` its running energy
    (``KWeightedEnergy``); without either, the K-weighting runs block by block and is never held whole.
    Signals shorter than 400 ms give -inf and empty series; shorter than 3 s give an empty short-term series and no
    loudness range.
    """
    if energy is None:
        energy = KWeightedEnergy(y, sr=sr, kw=kw)
    momentary = energy.mean_square(MOMENTARY_WINDOW_S, LOUDNESS_STEP_S)
    short = energy.mean_square(SHORT_TERM_WINDOW_S, LOUDNESS_STEP_S)
    integrated = gated_integrated(momentary) if len(momentary) else -math.inf
    st_lufs = _lufs(short) if len(short) else np.zeros(0)
    return LoudnessReport(integrated, loudness_range(st_lufs) if len(short) else None,
                          _lufs(momentary) if len(momentary) else np.zeros(0), st_lufs)


def true_peak_dbtp(y: np.ndarray, *, sr: int) -> float:
    """True peak of mono ``y`` (dBTP): the largest magnitude of the signal oversampled to at least 192 kHz.

    BS.1770-4 Annex 2 (4x at 48 kHz, polyphase interpolation). Only the blocks whose sample peak is within
    ``TRUE_PEAK_SEARCH_DB`` of the overall sample peak are oversampled (with 64 samples of context either side), so
    the cost is a fraction of oversampling the whole clip.
    """
    y = np.asarray(y, dtype=np.float32)
    if len(y) == 0:
        return -math.inf
    factor = max(TRUE_PEAK_OVERSAMPLE * 48_000 // sr, 1) if sr < 192_000 else 1
    block_peaks = _block_peaks(y, TRUE_PEAK_BLOCK)
    sample_peak = float(block_peaks.max())
    if sample_peak <= 0:
        return -math.inf
    candidates = np.flatnonzero(block_peaks >= sample_peak * 10 ** (-TRUE_PEAK_SEARCH_DB / 20))
    peak = sample_peak
    ctx = 64
    for b in candidates:
        i0, i1 = max(0, b * TRUE_PEAK_BLOCK - ctx), min(len(y), (b + 1) * TRUE_PEAK_BLOCK + ctx)
        if factor > 1:
            peak = max(peak, float(np.max(np.abs(resample_poly(y[i0:i1], factor, 1)))))
    return 20.0 * math.log10(peak)


#: Whole-signal scans (block peaks, the clipping mask) go through this many samples at a time, so no full-size
#: float copy (``np.abs(y)``) is made: 4 MB of float32 per step.
SCAN_SAMPLES = 1 << 20


def _block_peaks(y: np.ndarray, block: int) -> np.ndarray:
    """Largest magnitude in each ``block`` consecutive samples of ``y`` (the last block may be shorter), float32
    [shape=(ceil(len(y) / block),)]; the same numbers as ``np.abs`` of the zero-padded signal, block maxima."""
    nblocks = int(math.ceil(len(y) / block))
    out = np.empty(nblocks, np.float32)
    step = max(1, SCAN_SAMPLES // block)
    for b0 in range(0, nblocks, step):
        b1 = min(nblocks, b0 + step)
        seg = y[b0 * block:b1 * block]
        full = len(seg) // block
        if full:
            rows = seg[:full * block].reshape(full, block)
            out[b0:b0 + full] = np.maximum(rows.max(axis=1), -rows.min(axis=1))
        if full < b1 - b0:  # the last, partial block
            tail = seg[full * block:]
            out[b0 + full] = max(float(tail.max()), -float(tail.min()), 0.0)
    return out


def runs(mask: np.ndarray) -> np.ndarray:
    """[start, end) index pairs of the runs of True in a boolean array, int64 [shape=(k, 2)]."""
    m = np.concatenate(([False], np.asarray(mask, bool), [False]))
    edges = np.flatnonzero(m[1:] != m[:-1])
    return edges.reshape(-1, 2)


@dataclass
class ClippingReport:
    clipped_pct: float  # share of all samples that sit in clipped runs, %
    bursts_s: list  # [[start_s, end_s], ...] of clipped runs, merged across gaps < CLIP_MERGE_GAP_S
    per_second_pct: list  # clipped share of each whole second, %
    clipped_samples: int


def find_clipping(y: np.ndarray, *, sr: int) -> ClippingReport:
    """Runs of at least ``CLIP_MIN_RUN`` consecutive samples at or above ``CLIP_LEVEL_DBFS`` (either polarity).

    Limits: after a lossy codec the plateau of a clipped stretch may sit anywhere within ~1 dB under full scale, so
    this also counts crests of clean audio that come within 1 dB of full scale (speech peaking at -0.5 dBFS gives
    about 0.1 %, a clipped recording 5-30 %); the config target treats under 0.1 % as clean."""
    y = np.asarray(y)
    n = len(y)
    seconds = max(1, int(math.ceil(n / sr))) if n else 1
    level = 10 ** (CLIP_LEVEL_DBFS / 20)
    hot = np.empty(n, bool)
    for a in range(0, n, SCAN_SAMPLES):  # |y| >= level, without a full-size np.abs copy
        np.greater_equal(np.abs(y[a:a + SCAN_SAMPLES]), level, out=hot[a:a + SCAN_SAMPLES])
    r = runs(hot)
    del hot
    r = r[(r[:, 1] - r[:, 0]) >= CLIP_MIN_RUN] if len(r) else r
    clipped = np.zeros(n, bool)
    for s, e in r:
        clipped[s:e] = True
    count = int(clipped.sum())
    per_sec = []
    for k in range(seconds):
        seg = clipped[k * sr : (k + 1) * sr]
        per_sec.append(100.0 * float(seg.mean()) if len(seg) else 0.0)
    bursts: list[list[float]] = []
    gap = int(CLIP_MERGE_GAP_S * sr)
    for s, e in r:
        if bursts and s - int(round(bursts[-1][1] * sr)) <= gap:
            bursts[-1][1] = e / sr
        else:
            bursts.append([s / sr, e / sr])
    bursts = [[round(a, 3), round(b, 3)] for a, b in bursts]
    return ClippingReport(100.0 * count / n if n else 0.0, bursts, per_sec, count)


def silence_threshold_lufs(integrated_lufs: float) -> float:
    """Momentary loudness below which a block is silent: 25 LU under the programme, and at least -60 LUFS."""
    if not math.isfinite(integrated_lufs):
        return SILENCE_ABSOLUTE_LUFS
    return max(integrated_lufs - SILENCE_BELOW_PROGRAMME_LU, SILENCE_ABSOLUTE_LUFS)


def find_silences(momentary_lufs: np.ndarray, *, threshold_lufs: float, duration_s: float,
                  min_s: float = DEAD_AIR_MIN_S, step_s: float = LOUDNESS_STEP_S,
                  window_s: float = MOMENTARY_WINDOW_S) -> list[list[float]]:
    """Silent stretches [[start_s, end_s], ...] at least ``min_s`` long.

    A stretch spans the 400 ms blocks (block i covers [i * step, i * step + window)) whose momentary loudness is
    below ``threshold_lufs``, so its edges are accurate to about one step (0.1 s). A clip too short for one
    block gives [].
    """
    m = np.asarray(momentary_lufs, dtype=np.float64)
    if len(m) == 0:
        return []
    out = []
    for s, e in runs(~(m >= threshold_lufs)):  # -inf (digital silence) counts as silent
        start, end = s * step_s, min(duration_s, (e - 1) * step_s + window_s)
        if e == len(m):
            end = duration_s  # the last block reaches the end of the clip: so does the silence
        if end - start >= min_s - 1e-9:
            out.append([round(start, 2), round(end, 2)])
    return out


def first_sound_s(kw: np.ndarray | None = None, *, sr: int, threshold_lufs: float,
                  energy: KWeightedEnergy | None = None) -> float | None:
    """Time (s) of the first 20 ms window whose K-weighted loudness reaches ``threshold_lufs``; None if none does.
    From the K-weighted signal ``kw`` or its running energy ``energy`` (``KWeightedEnergy``)."""
    if energy is None:
        if kw is None:
            raise ValueError("first_sound_s needs the K-weighted signal or its KWeightedEnergy")
        energy = KWeightedEnergy(kw, sr=sr, kw=kw)
    ms = energy.mean_square(FIRST_SOUND_WINDOW_S, FIRST_SOUND_STEP_S)
    if len(ms) == 0:
        return None
    loud = np.flatnonzero(_lufs(ms) >= threshold_lufs)
    return round(float(loud[0]) * FIRST_SOUND_STEP_S, 3) if len(loud) else None


def is_digital_silence(y: np.ndarray) -> bool:
    return len(y) == 0 or max(float(np.max(y)), -float(np.min(y))) < DIGITAL_SILENCE_AMPLITUDE
