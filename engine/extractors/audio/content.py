"""Audio extractors, part 2: what is in the sound. Speech and music presence, noise, rhythm and timbre, measured on
the shared 24 kHz analysis copy (``audio.AudioAnalysis``: one STFT of 43 ms Hann windows every 20 ms).

None of this uses a trained model: every detector here is a hand-set rule over standard signal features, chosen to
run offline in milliseconds. The docstrings say what each rule listens for and where it is known to fail.
"""
from __future__ import annotations

import math

import numpy as np

from ...features import FeatureVector, MetricSpec
from ... import dsp
from ...dsp import minimum_filter1d, uniform_filter1d, welch  # scipy.ndimage imported on first use
from .analysis import FRAMES_PER_BLOCK, HOP, ANALYSIS_RATE_HZ, AudioAnalysis, usable
from ..base import ClipContext, EventSpec, Extractor, register

FRAME_RATE_HZ = ANALYSIS_RATE_HZ / HOP  # 50 STFT frames a second

# --- Speech and music ----------------------------------------------------------------------------------------------
#: Telephone speech band (ITU-T G.712: 300-3400 Hz) carries most of the energy of the voice's formants.
SPEECH_BAND_HZ = (300.0, 3400.0)
#: The steady part of each frequency bin ("the bed") is its running minimum over 1 s, smoothed over 0.5 s
#: (minimum statistics, after Martin 2001, "Noise power spectral density estimation based on optimal smoothing
#: and minimum statistics", IEEE TSAP 9(5)). Syllables (~4 per second) leave the bed; sustained notes stay in it.
BED_MIN_WINDOW_S = 1.0
BED_SMOOTH_S = 0.5
#: Syllable-rate modulation: the envelope of the non-steady speech-band energy, band-passed to about 1.5-15 Hz
#: (a 3-frame minus a 35-frame moving average at 50 frames/s), RMS over 1 s. Speech syllables come at 2-8 Hz
#: (Greenberg 1999; Ding et al. 2017: the speech modulation spectrum peaks near 4-5 Hz).
MOD_FAST_FRAMES = 3
MOD_SLOW_FRAMES = 35
WINDOW_S = 1.0
#: Modulation depth (dB RMS) from which a 1 s window counts as speech-like. Measured on our generated material:
#: synthetic speech 25 dB, espeak-ng speech 18 dB, speech 10 dB over a chord 3.4 dB, music 1.6 dB, a sustained
#: chord 0.5 dB, pink noise 0.4 dB; music's own windows reach 2.6 dB at the 75th percentile, hence 4 dB.
SPEECH_MIN_MOD_DB = 4.0
#: The envelope floor, dB under the active level: deeper dips than this are not counted as modulation.
MOD_FLOOR_DB = 50.0
#: The sound arriving at the start of a clip (out of silence or a fade-in) is one step, not syllables: the
#: modulation envelope holds its level until the sound has arrived: the first frame within SOUND_ARRIVAL_DB of the
#: active level, and on while the level still rises by SOUND_ARRIVAL_RISE_DB or more within the next
#: DROPOUT_MAX_FRAMES + 1 frames (a bridged priming dropout repeats a frame that many times). The step alone read as
#: half a second of speech at the start of four music clips of ../shared/realclips (1e719ead's fade-in, 909c1cd9,
#: dover_HyZM's 60 ms rise, 59d4fdb6's 0.2 s of digital silence), which credited them with early words; the voice
#: that opens 421c8b59 is found from 0.12 s (0.08 s before).
SOUND_ARRIVAL_DB = 20.0
SOUND_ARRIVAL_RISE_DB = 3.0
#: Voiced speech is harmonic: the spectral flatness of the speech band is low (white noise gives ~0.56 for a
#: periodogram). A window is voiced when its median flatness is under this.
VOICED_MAX_FLATNESS = 0.3
#: A window is active when this share of its frames is within ``ACTIVE_RANGE_DB`` of the active level (a click
#: track is 10 ms in every 500 ms: not speech, however deep its modulation).
MIN_ACTIVE_SHARE = 0.4
ACTIVE_RANGE_DB = 30.0
#: A run of quiet frames this short (2 frames: 40 ms) between sounding ones is a dropout, not a pause: see
#: ``dropout_fill``. Pauses between words last 100 ms and more; a plosive's closure is rarely 30 dB down.
DROPOUT_MAX_FRAMES = 2
#: A window is music when, besides being active, its steady (bed) share of the speech band is at least this
#: (sustained notes and chords; measured: chord 0.91, music 0.39, speech 0.00, pink noise 0.02) ...
MUSIC_MIN_STEADY_SHARE = 0.25
#: ... or when the clip has a clear beat (pulse clarity, see ``pulse_clarity``) at least this strong ...
MUSIC_MIN_PULSE = 0.35
#: ... carried by sound with some tone in it: the median over the active frames of the speech band's energy in
#: spectral lines (``MUSIC_BED_MIN_TONAL_SHARE``'s measure) at least this. Street traffic repeats too: a KoNViD
#: street clip of motorbikes (konvid_10016324794) read beat strength 0.36 at tonal share 0.03 and was called music,
#: which hid its noise. Measured: the other clips of ../shared/realmos and realclips with a beat >= 0.35 read
#: 0.15-0.96 (two at 0.15 and 0.18); clips of noise, rumble, claps and traffic 0.00-0.05.
MUSIC_BEAT_MIN_TONAL_SHARE = 0.1
#: ... or when it is a *music bed*: continuous (few low-energy frames) and tonal (much of the speech band's energy
#: in sharp spectral lines). Real music beds change notes several times a second, so the running-minimum bed above
#: stays near 0 on them (0.00-0.02 on the 13 clips of ../shared/realclips, music or not); these two hold on them.
#: A frame is low-energy when its power is under LOW_ENERGY_POWER_RATIO of the mean over the 1 s window around it
#: (its RMS under half the mean RMS: the "percentage of low-energy frames" of Scheirer & Slaney 1997, "Construction
#: and evaluation of a robust multifeature speech/music discriminator", ICASSP). Speech pauses between syllables and
#: phrases; a music bed does not.
LOW_ENERGY_POWER_RATIO = 0.25
#: A window is continuous when at most this share of its frames is low-energy. Measured (median over active frames,
#: ``scripts/measure_music_bed.py``; the generated cases with the same functions in a Python shell): real music beds 0.00-0.02 (66068e9a, 1e719ead, 909c1cd9, 59d4fdb6), real speech
#: 0.18-0.46 (71788d3e, 421c8b59, dover_e4dv, dover_FEQ, dover_eWgy), synthetic speech 0.62, synthetic speech over
#: pink or white noise 3-10 dB under it 0.54-0.64.
MUSIC_BED_MAX_LOW_SHARE = 0.1
#: A bin is part of a spectral line when it stands TONAL_OVER_LOCAL_DB above the TONAL_LOCAL_PERCENTILE-th
#: percentile of the TONAL_LOCAL_BINS bins around it (21 bins = 490 Hz; the lower quartile is the valley between
#: partials even where chords and their harmonics crowd the band, where the median is not: a generated bed's
#: IV-chord bars read 0.05 with the median). Periodogram bins of noise are exponential, so the share of noise energy
#: in such bins is (1 + x) e^-x with x = 10^1.4 ln(4/3) = 7.2: 0.006.
TONAL_OVER_LOCAL_DB = 14.0
TONAL_LOCAL_PERCENTILE = 25
TONAL_LOCAL_BINS = 21
#: A window is tonal when at least this share of its speech-band energy is in spectral lines (median over the
#: window). Measured (median over active frames): real music beds 0.27-0.70 (66068e9a 0.65, 1e719ead 0.70,
#: 909c1cd9 0.34, 59d4fdb6 0.27), the generated bed of tests/unit/test_audio.py 0.52, pink and white noise 0.00, clicks
#: over room rumble (13bdbeb5) 0.05, a quiet room then claps (ef49ff16) 0.00.
MUSIC_BED_MIN_TONAL_SHARE = 0.15
#: A beat needs onsets: the 99th percentile of the onset envelope (spectral-flux onset strength as librosa's,
#: dB of mel-band rise per frame) must reach this. A held chord's envelope is a ripple of ~0.2 dB whose
#: autocorrelation is meaningless.
MIN_ONSET_PEAK_DB = 1.0
#: Beat periods searched for the beat strength (``pulse_clarity``): 0.375-1.5 s. Shorter periods are where
#: syllables repeat: the generated voice of the tests (syllables at a steady rate) read up to 0.36 when periods
#: down to 0.3 s (200 BPM) counted, at most 0.24 from 0.375 s, over 8 seeds; real speech clips read 0.08-0.25.
PULSE_MIN_BPM = 40.0
PULSE_MAX_BPM = 160.0

#: Speech-band bins filtered at a time (16 of the 133 bins: ~4 MB of float64 per array for a 10-minute clip).
BAND_BINS_PER_BLOCK = 16

# --- Noise -------------------------------------------------------------------------------------------------------
#: ITU-T P.56 active speech level: frames count as active when within 15.9 dB of the active level (the margin M
#: of P.56 method B), solved by fixed-point iteration over 43 ms frames instead of P.56's envelope detector.
P56_MARGIN_DB = 15.9
#: The noise floor is the mean power of the quietest frames, after smoothing the frame power over 0.2 s (pauses
#: between phrases are 0.25 s and longer, so they survive the smoothing while per-frame noise fluctuation does not).
NOISE_PERCENTILE = 10.0
NOISE_SMOOTH_S = 0.2
#: SNR is only measured when music plays in less than this share of the clip: the quiet parts of music (and the
#: bed under a voice) are not noise. A real 130 BPM music clip read 3 dB "SNR" before this rule.
SNR_MAX_MUSIC_PCT = 50.0
#: (Not gated on speech presence: speech 5 dB over pink noise reads 0 % speech-like, and that is the clip that most
#: needs the advice.)
#: SNR is capped here (a clean digital recording has no measurable floor).
SNR_MAX_DB = 60.0
#: Mains frequencies (IEC 60038: 50 Hz in most of the world, 60 Hz in the Americas) and harmonics examined.
MAINS_HZ = (50.0, 60.0)
HUM_HARMONICS = 4
#: A mains line counts as hum when it stands this far above every other bin within +-10 Hz (a kick drum at
#: 120 BPM makes a comb of lines every 2 Hz: its neighbours are as strong, real hum is alone).
HUM_MIN_PROMINENCE_DB = 10.0
#: ... and mains hum is a family of such lines: at least this many of the first HUM_HARMONICS of one mains
#: frequency. A lone low line is a held bass note, a motor or a fridge, and below ~200 Hz a phone speaker hardly
#: plays it; hum people hear is its harmonics (a rectifier's buzz at 100/120 Hz and up). A realclip with a lone
#: line at 59.4 Hz read -16.9 dB "hum", and -80 once its first 0.5 s was trimmed (the line's prominence, 10.6 dB, sat
#: at the threshold).
HUM_MIN_LINES = 2
HUM_NEIGHBOURHOOD_HZ = 10.0
HUM_LINE_HALF_WIDTH_HZ = 0.75
#: Reported when no mains line is found: hum this far under the programme is inaudible.
HUM_FLOOR_DB = -80.0
#: Hiss is the energy of the noise floor above 4 kHz (where tape, preamp and phone-mic self-noise sits).
HISS_BAND_HZ = (4000.0, 12000.0)


def _db(x, floor: float = 1e-12):
    return 10.0 * np.log10(np.maximum(x, floor))


def active_level(frame_power: np.ndarray) -> tuple[float, np.ndarray]:
    """(active power, active-frame mask): P.56-style level over the frames within 15.9 dB of it."""
    p = np.asarray(frame_power, dtype=np.float64)
    if len(p) == 0 or not np.any(p > 0):
        return 0.0, np.zeros(len(p), bool)
    level = float(np.mean(p))
    for _ in range(20):
        mask = p >= level * 10 ** (-P56_MARGIN_DB / 10)
        new = float(np.mean(p[mask]))
        if abs(new - level) <= 1e-6 * level:
            break
        level = new
    return level, p >= level * 10 ** (-P56_MARGIN_DB / 10)


def noise_floor(frame_power: np.ndarray) -> tuple[float, np.ndarray]:
    """(noise power, quiet-frame mask): mean of the smoothed frame power at or under its 10th percentile."""
    p = np.asarray(frame_power, dtype=np.float64)
    if len(p) == 0:
        return 0.0, np.zeros(0, bool)
    sm = uniform_filter1d(p, max(1, int(round(NOISE_SMOOTH_S * FRAME_RATE_HZ))), mode="nearest")
    quiet = sm <= np.percentile(sm, NOISE_PERCENTILE)
    return float(np.mean(sm[quiet])), quiet


#: The noise under the programme, for the SNR, is estimated band by band (minimum statistics, after R. Martin,
#: "Noise power spectral density estimation based on optimal smoothing and minimum statistics", IEEE Trans. Speech
#: Audio Process. 9(5), 2001, without its bias correction): in each band the mean power of its quietest tenth
#: (``NOISE_PERCENTILE``, after the same 0.2 s smoothing), summed over the bands. Steady noise sits in every band
#: all the time, so the sum is about its power; a voice or a music bed keeps moving between bands, so each band
#: falls quiet between syllables and notes even where the whole spectrum never does, and a dense mix of voice and
#: music is not read as a noisy recording. Bands widen by ``NOISE_BAND_RATIO`` (a third of an octave) and hold at
#: least ``NOISE_BAND_MIN_BINS`` bins (fewer bins fluctuate more and read lower). Measured on generated mixes
#: (speech-like voice over pink noise at an rms SNR of 5/10/20/30 dB): 7.1/11.8/23.4/32.7 dB, against
#: 6.0/10.8/22.6/31.5 with the broadband floor it replaces (the quietest tenth of the whole spectrum); the voice over
#: a generated music bed 10/15/20 dB under it: 20.3/24.5/28.9 dB, against 14.2/17.2/21.8. On ../shared/realclips
#: (where music plays under half the clip, so the SNR is measured): a voice over a music bed 10.2 -> 15.8 dB, a
#: voice over other sound 20.1 -> 28.6 and 21.0 -> 30.7, a quiet voice over a steady 60 Hz hum 12.4 -> 13.3 (still
#: noisy), the rest over 25 dB before and after (scratch script; issue 15 notes).
NOISE_BAND_RATIO = 2.0 ** (1.0 / 3.0)
NOISE_BAND_MIN_BINS = 3


def noise_band_starts(n_bins: int) -> np.ndarray:
    """First bin of each band of the band-wise noise estimate (``NOISE_BAND_RATIO``, ``NOISE_BAND_MIN_BINS``); the
    last band runs to the top bin."""
    starts, lo = [], 0
    while lo < n_bins:
        starts.append(lo)
        lo = max(lo + NOISE_BAND_MIN_BINS, int(round(lo * NOISE_BAND_RATIO)))
    if len(starts) > 1 and n_bins - starts[-1] < NOISE_BAND_MIN_BINS:
        starts.pop()  # a last band too narrow joins the one below it
    return np.asarray(starts)


def band_noise_power(a: AudioAnalysis) -> float:
    """The noise power under the programme, band by band (see ``NOISE_BAND_RATIO``), in the units of
    ``AudioAnalysis.frame_power``; 0 without frames."""
    power = a.power
    n_bins, n = power.shape
    if n == 0:
        return 0.0
    starts = noise_band_starts(n_bins)
    bands = np.empty((len(starts), n))
    for s in range(0, n, FRAMES_PER_BLOCK):
        bands[:, s:s + FRAMES_PER_BLOCK] = np.add.reduceat(power[:, s:s + FRAMES_PER_BLOCK].astype(np.float64),
                                                           starts, axis=0)
    w = np.hanning(a.n_fft)
    bands *= 2.0 / (a.n_fft * float(np.sum(w * w)))  # as ``band_power``
    sm = uniform_filter1d(bands, max(1, int(round(NOISE_SMOOTH_S * FRAME_RATE_HZ))), axis=1, mode="nearest")
    floor = 0.0
    for row in sm:
        floor += float(np.mean(row[row <= np.percentile(row, NOISE_PERCENTILE)]))
    return floor


def snr_db(a: AudioAnalysis) -> float:
    """Signal-to-noise ratio (dB): P.56-style active level over the band-wise noise (``band_noise_power``), both as
    powers."""
    active, _ = active_level(a.frame_power)
    noise = band_noise_power(a)
    if active <= 0:
        return 0.0
    if noise <= active * 10 ** (-SNR_MAX_DB / 10):
        return SNR_MAX_DB
    return float(min(SNR_MAX_DB, _db(max(active - noise, 1e-12)) - _db(noise)))


def mains_hum(y: np.ndarray, *, sr: int, programme_power: float) -> tuple[float, float | None]:
    """(hum level in dB relative to the programme's active power, mains frequency or None).

    Welch spectrum with 4 s segments (0.25 Hz resolution). For 50 and 60 Hz, each of the first ``HUM_HARMONICS``
    harmonics whose line stands ``HUM_MIN_PROMINENCE_DB`` over every neighbouring bin within +-10 Hz adds its
    power (line minus the neighbourhood median), when at least ``HUM_MIN_LINES`` of them do. ``HUM_FLOOR_DB`` when
    no mains frequency has that many.
    Limits: a bass note held exactly on 50/60 Hz or a harmonic of it for the whole clip reads as hum.
    """
    if len(y) < sr // 2 or programme_power <= 0:
        return HUM_FLOOR_DB, None
    nper = min(len(y), 4 * sr)
    f, psd = _welch_mean(y, fs=sr, nperseg=nper)
    df = f[1] - f[0]
    best = (HUM_FLOOR_DB, None)
    for mains in MAINS_HZ:
        power, lines = 0.0, 0
        for k in range(1, HUM_HARMONICS + 1):
            fk = mains * k
            line = np.abs(f - fk) <= HUM_LINE_HALF_WIDTH_HZ
            near = (np.abs(f - fk) <= HUM_NEIGHBOURHOOD_HZ) & (np.abs(f - fk) > 2 * HUM_LINE_HALF_WIDTH_HZ)
            if not line.any() or not near.any():
                continue
            if psd[line].max() >= psd[near].max() * 10 ** (HUM_MIN_PROMINENCE_DB / 10):
                power += max(0.0, float(np.sum(psd[line] - np.median(psd[near])) * df))
                lines += 1
        if power > 0 and lines >= HUM_MIN_LINES:
            level = float(_db(power) - _db(programme_power))
            if level > best[0]:
                best = (level, mains)
    return best


#: Welch segments (4 s each, half overlapping) averaged per call of ``dsp.welch``: scipy.signal.welch, used here
#: before, held every segment's spectrum in complex128 at once (0.46 GB for 10 minutes at 24 kHz); 16 at a time
#: is ~25 MB.
WELCH_SEGMENTS_PER_BLOCK = 16


def _welch_mean(y: np.ndarray, *, fs: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """``dsp.welch(y, fs, nperseg=nperseg, noverlap=nperseg // 2)`` (as scipy.signal.welch: Hann, mean of the
    segments' periodograms), ``WELCH_SEGMENTS_PER_BLOCK`` segments at a time. A signal of up to that many segments
    (66 s at 4 s segments) gives one call's numbers; a longer one the mean of the blocks' means weighted by their
    segment counts, which differs in the last bits only (relative ~1e-7: each block's mean is rounded to float32,
    as scipy rounds its result)."""
    noverlap = nperseg // 2
    hop = nperseg - noverlap
    n_seg = (len(y) - noverlap) // hop
    if n_seg <= WELCH_SEGMENTS_PER_BLOCK:
        return welch(y, fs=fs, nperseg=nperseg, noverlap=noverlap)
    total = None
    for s0 in range(0, n_seg, WELCH_SEGMENTS_PER_BLOCK):
        m = min(WELCH_SEGMENTS_PER_BLOCK, n_seg - s0)
        f, psd = welch(y[s0 * hop:s0 * hop + (m - 1) * hop + nperseg], fs=fs, nperseg=nperseg, noverlap=noverlap)
        part = m * psd.astype(np.float64)
        total = part if total is None else total + part
    return f, (total / n_seg).astype(np.result_type(y.dtype, np.float32), copy=False)


def pulse_clarity(onset_env: np.ndarray) -> float:
    """Beat strength 0-1: how much more the onset envelope repeats at its clearest beat period than half-way between
    beats.

    The normalised autocorrelation r of the mean-removed onset envelope, at each beat period from
    ``PULSE_MAX_BPM`` to ``PULSE_MIN_BPM`` (its best of the lag and the lags either side), minus its mean over the
    lags between a quarter and three quarters of that period, so a smooth envelope (a held chord, whose r is high
    at every lag) scores near 0; the strongest period wins (the "maximum of the autocorrelation" reading of pulse
    clarity: Lartillot et al. 2008, "Multi-feature modeling of pulse clarity", ISMIR). It does not depend on the
    beat tracker's tempo, which can jump between related tempi (91 and 120 BPM on an AAC copy of a real clip) and
    read the envelope off its beat. A metronome is near 1, speech 0.1-0.25.
    """
    o = np.asarray(onset_env, dtype=np.float64)
    if len(o) < 8 or float(np.percentile(o, 99)) < MIN_ONSET_PEAK_DB:
        return 0.0
    o = o - o.mean()
    denom = float(np.dot(o, o))
    if denom <= 1e-12:
        return 0.0
    shortest = max(2, int(math.ceil(60.0 / PULSE_MAX_BPM * FRAME_RATE_HZ)))
    longest = min(len(o) - 2, int(math.floor(60.0 / PULSE_MIN_BPM * FRAME_RATE_HZ)))
    if longest < shortest:
        return 0.0
    r = np.array([float(np.dot(o[:-L], o[L:])) / denom if L else 1.0 for L in range(longest + 2)])
    best = 0.0
    for L in range(shortest, longest + 1):
        between = r[max(1, L // 4):max(2, 3 * L // 4 + 1)]
        best = max(best, float(r[L - 1:L + 2].max()) - float(between.mean()))
    return min(1.0, best)


class SpeechMusicFrames:
    """Per-frame speech and music decisions for one clip (arrays of length = STFT frames).

    What it listens for: speech is active, harmonic (low spectral flatness) sound in the 300-3400 Hz band whose
    non-steady energy is modulated at syllable rate; music is active sound that is either steady (sustained notes
    and chords fill the running-minimum "bed" of the band), carried by a clear beat, or a music bed: continuous
    (almost no frame 6 dB under its second's mean, where speech pauses) and tonal (a good share of the band's energy
    in sharp spectral lines, where noise has almost none).
    Limits: singing counts as speech; a voice more than ~3 dB under a music bed is usually missed (its syllables do
    not modulate the mix); fast staccato music can look syllabic; a voice over a steady hum or drone reads as
    speech over music; so does a continuous tonal drone (an engine, a whine). It is a presence measure, not a
    transcription-grade VAD.
    """

    def __init__(self, a: AudioAnalysis, *, pulse: float):
        f = a.freqs
        bins = np.flatnonzero((f >= SPEECH_BAND_HZ[0]) & (f < SPEECH_BAND_HZ[1]))
        n = a.power.shape[1]
        win = max(1, int(round(WINDOW_S * FRAME_RATE_HZ)))
        # Per frame, over the speech-band bins: the non-steady energy (band minus its bed, floored at 0), the bed,
        # the whole band, and the sum of log(non-steady + 1e-20) for the flatness. Bins are filtered along time
        # one block of BAND_BINS_PER_BLOCK at a time and added in bin order, the same additions as one
        # .sum(axis=0) over all the bins, so a 10-minute clip never holds its band, bed and their differences whole.
        self.moving = np.zeros(n)
        self.bed = np.zeros(n)
        total_band = np.zeros(n)
        log_moving = np.zeros(n)
        keep = dropout_fill(a.frame_power)
        for b0 in range(0, len(bins), BAND_BINS_PER_BLOCK):
            band = a.power[bins[b0:b0 + BAND_BINS_PER_BLOCK]].astype(np.float64)
            if keep is not None:
                band = band[:, keep]
            bed = uniform_filter1d(minimum_filter1d(band, max(1, int(BED_MIN_WINDOW_S * FRAME_RATE_HZ)) + 1,
                                                    axis=1, mode="nearest"),
                                   max(1, int(BED_SMOOTH_S * FRAME_RATE_HZ)), axis=1, mode="nearest")
            moving = np.maximum(band - bed, 0.0)
            for i in range(len(band)):
                self.moving += moving[i]
                self.bed += bed[i]
                total_band += band[i]
                log_moving += np.log(moving[i] + 1e-20)
            del band, bed, moving
        frame_power = a.frame_power if keep is None else np.asarray(a.frame_power)[keep]
        level, _ = active_level(frame_power)
        floor = level * 10 ** (-MOD_FLOOR_DB / 10)
        env = _db(self.moving + floor)
        # The sound arriving is not a syllable: the envelope holds its level until the sound has arrived (see
        # SOUND_ARRIVAL_DB).
        arrived = np.flatnonzero(np.asarray(frame_power) >= level * 10 ** (-SOUND_ARRIVAL_DB / 10)) if level > 0 \
            else np.zeros(0, int)
        if arrived.size:
            lv = _db(np.asarray(frame_power, dtype=np.float64))
            i = int(arrived[0])
            ahead = DROPOUT_MAX_FRAMES + 1  # a bridged dropout's repeated frames do not end the rise
            while i + 1 < len(lv) and float(lv[i + 1:i + 1 + ahead].max()) - lv[i] >= SOUND_ARRIVAL_RISE_DB:
                i += 1
            env[:i] = env[i]
        bp = uniform_filter1d(env, MOD_FAST_FRAMES, mode="nearest") - uniform_filter1d(env, MOD_SLOW_FRAMES,
                                                                                       mode="nearest")
        # max(0, .): the running mean of a square can dip a few ulps under 0 (was a NaN and a RuntimeWarning).
        # The mean over the window's frames inside the clip (a window at the clip's edge is not padded with copies
        # of its first or last frame, which counted the first frame's value half a window over).
        inside = uniform_filter1d(np.ones(n), win, mode="constant")
        self.modulation_db = np.sqrt(np.maximum(uniform_filter1d(bp * bp, win, mode="constant") / inside, 0.0))
        # Flatness of the moving part only: a voice's harmonics are tonal, hi-hats and noise bursts are not.
        # (Geometric over arithmetic mean over the bins: np.mean(..., axis=0) is the sum divided by the count.)
        flat = np.exp(log_moving / len(bins)) / (self.moving / len(bins) + 1e-20)
        active = frame_power >= level * 10 ** (-ACTIVE_RANGE_DB / 10) if level > 0 else np.zeros(n, bool)
        active_share = uniform_filter1d(active.astype(np.float64), win, mode="nearest")
        moving_energy = self.moving * active
        self.flatness = _running_median(np.where(moving_energy > 0, flat, 1.0), win)
        # Steady share of the band's energy over the window (energy-weighted, so quiet frames do not vote).
        self.steady_share = uniform_filter1d(self.bed, win, mode="nearest") / (
            uniform_filter1d(total_band, win, mode="nearest") + 1e-20)
        self.active = active
        # Music bed: continuous (few low-energy frames) and tonal (energy in spectral lines), over the window.
        p = np.asarray(frame_power, dtype=np.float64)
        low = p < LOW_ENERGY_POWER_RATIO * uniform_filter1d(p, win, mode="nearest")
        self.low_energy_share = uniform_filter1d(low.astype(np.float64), win, mode="nearest")
        self.tonal_share = _running_median(_tonal_share(a, bins), win)
        bed = (self.low_energy_share <= MUSIC_BED_MAX_LOW_SHARE) & (self.tonal_share >= MUSIC_BED_MIN_TONAL_SHARE)
        busy = active_share >= MIN_ACTIVE_SHARE
        self.speech = busy & (self.modulation_db >= SPEECH_MIN_MOD_DB) & (self.flatness < VOICED_MAX_FLATNESS)
        #: A clear beat carried by tonal sound (clip-level, as the beat strength is).
        self.beat = bool(pulse >= MUSIC_MIN_PULSE and active.any()
                         and float(np.median(self.tonal_share[active])) >= MUSIC_BEAT_MIN_TONAL_SHARE)
        self.music = busy & active & ((self.steady_share >= MUSIC_MIN_STEADY_SHARE) | self.beat | bed)

    def voice_over_music_db(self, mask: np.ndarray) -> float | None:
        """Voice level over the music bed in the frames of ``mask`` (dB): non-steady over steady speech-band
        energy. An estimate: the music's own note changes count as voice, so it reads high (by ~5-10 dB on busy
        music), never low."""
        if not mask.any():
            return None
        bed = float(np.mean(self.bed[mask]))
        return float(_db(float(np.mean(self.moving[mask]))) - _db(bed)) if bed > 0 else None


def dropout_fill(frame_power: np.ndarray) -> np.ndarray | None:
    """Frame indices with each dropout replaced by its nearest frame that sounds, or None without a dropout.

    A dropout is a run of at most ``DROPOUT_MAX_FRAMES`` frames more than ``ACTIVE_RANGE_DB`` under the clip's
    active level, between sounding frames or at either end of the clip: an encoder's priming silence (AAC's 1024
    samples where a file has no edit list to hide them: a re-export of the same clip), a cut made in the audio edit.
    Read as it is, a 20 ms hole in a music bed is a deep, sudden dip of the envelope and takes the running-minimum
    bed down with it: about a second of "speech" in a clip without a word (``tests/unit/test_audio.py``)."""
    p = np.asarray(frame_power, dtype=np.float64)
    level, _ = active_level(p)
    if level <= 0:
        return None
    quiet = p < level * 10 ** (-ACTIVE_RANGE_DB / 10)
    from .levels import runs

    holes = [(s, e) for s, e in runs(quiet) if e - s <= DROPOUT_MAX_FRAMES and (s > 0 or e < len(p))]
    if not holes:
        return None
    keep = np.arange(len(p))
    for s, e in holes:
        for i in range(s, e):
            left, right = s - 1, e  # the sounding frames on either side (one may be past an end)
            keep[i] = left if right >= len(p) or (left >= 0 and i - left <= right - i) else right
    return keep


def _tonal_share(a: AudioAnalysis, bins: np.ndarray) -> np.ndarray:
    """Per STFT frame: the share of the energy of the ``bins`` that lies in spectral lines (bins TONAL_OVER_LOCAL_DB
    above the lower quartile of the TONAL_LOCAL_BINS around them, edges repeated), float64 [shape=(frames,)].

    "Above the lower quartile" is counted rather than sorted: a bin's power over the ratio must be at least the
    power of ``rank + 1`` of the bins around it (the lower quartile of 21 is the 6th smallest), the same test as
    ``scipy.ndimage.percentile_filter`` at a twentieth of its cost. Computed FRAMES_PER_BLOCK frames at a time (each
    frame on its own: the numbers do not depend on the block size)."""
    n = a.power.shape[1]
    out = np.zeros(n)
    ratio = 10 ** (TONAL_OVER_LOCAL_DB / 10)
    half = TONAL_LOCAL_BINS // 2
    rank = int(TONAL_LOCAL_PERCENTILE / 100 * TONAL_LOCAL_BINS)  # scipy's rank for this percentile and size
    for f0 in range(0, n, FRAMES_PER_BLOCK):
        band = a.power[bins, f0:f0 + FRAMES_PER_BLOCK].astype(np.float64)
        padded = np.pad(band, ((half, half), (0, 0)), mode="edge")
        floor = band / ratio
        below = np.zeros(band.shape, np.int16)
        for k in range(TONAL_LOCAL_BINS):
            below += padded[k:k + len(band)] <= floor
        lines = np.where(below >= rank + 1, band, 0.0).sum(axis=0)
        out[f0:f0 + FRAMES_PER_BLOCK] = lines / (band.sum(axis=0) + 1e-20)
    return out


def _running_median(x: np.ndarray, win: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(x, size=max(1, win), mode="nearest")


def _per_second_share(mask: np.ndarray, duration_s: float) -> list[float]:
    """% of each whole second's frames where ``mask`` is true."""
    n = max(1, int(math.ceil(duration_s)))
    t = np.arange(len(mask)) / FRAME_RATE_HZ
    out = []
    for k in range(n):
        sel = (t >= k) & (t < k + 1)
        out.append(100.0 * float(mask[sel].mean()) if sel.any() else 0.0)
    return out


def _spans(mask: np.ndarray, *, min_s: float) -> list[list[float]]:
    from .levels import runs

    return [[round(s / FRAME_RATE_HZ, 2), round(e / FRAME_RATE_HZ, 2)] for s, e in runs(mask)
            if (e - s) / FRAME_RATE_HZ >= min_s]


def rhythm(a: AudioAnalysis) -> dict:
    """Tempo (BPM), beat times (s), pulse clarity (0-1) and onset rate (per s) from the shared onset envelope
    (the dynamic-programming beat tracker of Ellis 2007 and librosa's onset peak picker, in ``engine.dsp``)."""
    oenv = a.onset_envelope
    tempo, beat_frames = dsp.beat_track(oenv, frame_rate_hz=FRAME_RATE_HZ)
    onsets = dsp.onset_detect(oenv, frame_rate_hz=FRAME_RATE_HZ)
    return {
        "tempo_bpm": tempo if tempo > 0 else None,
        "beats_s": [round(float(f) * HOP / ANALYSIS_RATE_HZ, 3) for f in beat_frames],
        "pulse": pulse_clarity(oenv),
        "onset_rate": len(onsets) / a.duration_s if a.duration_s > 0 else 0.0,
    }


def _clip_rhythm(ctx: ClipContext, a: AudioAnalysis) -> dict:
    r = getattr(ctx, "_audio_rhythm", None)
    if r is None:
        r = rhythm(a)
        ctx._audio_rhythm = r
    return r


def _clip_speech_music(ctx: ClipContext, a: AudioAnalysis) -> "SpeechMusicFrames":
    sm = getattr(ctx, "_audio_speech_music", None)
    if sm is None:
        sm = SpeechMusicFrames(a, pulse=_clip_rhythm(ctx, a)["pulse"])
        ctx._audio_speech_music = sm
    return sm


@register
class SpeechMusic(Extractor):
    """Speech and music presence over time, and the voice level over the music where both play."""

    name = "speech_music"
    modality = "audio"
    stage = "audio"
    EVENTS = (EventSpec("audio.speech_s", "[[start_s, end_s]]", "Stretches with voice, 0.5 s or longer."),)
    wants_frames = False
    audio_only = True
    METRICS = (
        MetricSpec("audio.speech_presence_pct", "Speech presence", "%", 0, 100, None,
                   "Share of the clip with voice-like sound: harmonic, in the 300-3400 Hz band, modulated at "
                   "syllable rate. A rule, not a trained VAD: singing counts, a buried voice is missed."),
        MetricSpec("audio.music_presence_pct", "Music presence", "%", 0, 100, None,
                   "Share of the clip with music-like sound: sustained notes/chords, a tonal music bed, or a "
                   "clear beat in tonal sound."),
        MetricSpec("audio.voice_over_music_db", "Voice above music", "dB", -30, 40, True,
                   "Where voice and music play together: the voice's level over the music bed (speech band, "
                   "non-steady over steady energy). Reads high on busy music; absent when no overlap is found."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        a = usable(ctx)
        if a is None:
            return
        sm = _clip_speech_music(ctx, a)
        fv.set("audio.speech_presence_pct", 100.0 * float(sm.speech.mean()))
        fv.set("audio.music_presence_pct", 100.0 * float(sm.music.mean()))
        fv.add_series("audio.speech_presence_pct", _per_second_share(sm.speech, a.duration_s), step_s=1.0, unit="%")
        fv.add_series("audio.music_presence_pct", _per_second_share(sm.music, a.duration_s), step_s=1.0, unit="%")
        fv.events["audio.speech_s"] = _spans(sm.speech, min_s=0.5)
        both = sm.speech & sm.music
        if both.mean() * a.duration_s >= 1.0:  # at least a second of overlap
            fv.set("audio.voice_over_music_db", sm.voice_over_music_db(both))
            per_sec = []
            t = np.arange(len(both)) / FRAME_RATE_HZ
            for k in range(max(1, int(math.ceil(a.duration_s)))):
                sel = both & (t >= k) & (t < k + 1)
                per_sec.append(sm.voice_over_music_db(sel) if sel.sum() >= FRAME_RATE_HZ / 4 else None)
            fv.add_series("audio.voice_over_music_db", per_sec, step_s=1.0, unit="dB")


@register
class Noise(Extractor):
    """Noise floor, signal-to-noise ratio, mains hum and hiss."""

    name = "noise"
    modality = "audio"
    stage = "audio"
    EVENTS = (EventSpec("audio.hum_hz", "50 | 60 | None", "Mains frequency of the hum found, None without hum."),)
    needs = ("audio.music_presence_pct",)
    wants_frames = False
    audio_only = True
    METRICS = (
        MetricSpec("audio.noise_floor_dbfs", "Noise floor", "dBFS", -120, 0, False,
                   "Level of the quietest tenth of the clip (mean power of its quietest 0.2 s stretches)."),
        MetricSpec("audio.snr_db", "Signal-to-noise ratio", "dB", 0, SNR_MAX_DB, True,
                   "Active level (ITU-T P.56 style, 15.9 dB margin) over the noise, estimated band by band (the "
                   "quietest tenth of each third-octave band, summed: a voice or a music bed leaves each band quiet "
                   "at times, steady noise never does). Not measured when music plays in half the clip or more (a "
                   "music bed and its quiet parts are not noise)."),
        MetricSpec("audio.hum_db", "Mains hum", "dB", HUM_FLOOR_DB, 0, False,
                   "Power of isolated 50/60 Hz lines and harmonics relative to the programme's active level; "
                   f"{HUM_FLOOR_DB:g} when there is none."),
        MetricSpec("audio.hiss_db", "Hiss", "dB", -100, 0, False,
                   "Power of the noise floor above 4 kHz relative to the programme's active level."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        a = usable(ctx)
        if a is None:
            return
        p = a.frame_power
        level, _ = active_level(p)
        noise, quiet = noise_floor(p)
        fv.set("audio.noise_floor_dbfs", max(-120.0, float(_db(noise)) + 3.01))  # +3.01: full-scale sine = 0 dBFS
        if fv.get("audio.music_presence_pct", 0.0) < SNR_MAX_MUSIC_PCT:
            fv.set("audio.snr_db", snr_db(a))
        hum, mains = mains_hum(a.y_a, sr=ANALYSIS_RATE_HZ, programme_power=level)
        fv.set("audio.hum_db", hum)
        fv.events["audio.hum_hz"] = mains
        if quiet.any() and level > 0:
            hiss = a.band_power(*HISS_BAND_HZ)[quiet].mean()
            fv.set("audio.hiss_db", max(-100.0, float(_db(hiss) - _db(level))))


@register
class Rhythm(Extractor):
    """Tempo, beat strength, onset rate and the beat times (``audio.beats_s``, read by the cut/beat extractor)."""

    name = "rhythm"
    modality = "audio"
    stage = "audio"
    EVENTS = (EventSpec("audio.beats_s", "[t_s]", "Beat times; empty when the beat is not clear."),)
    wants_frames = False
    audio_only = True
    METRICS = (
        MetricSpec("audio.tempo_bpm", "Tempo", "BPM", 30, 300, None,
                   "Dynamic-programming beat tracker (Ellis 2007, as librosa's); only reported when the beat is "
                   f"clear (beat strength >= {MUSIC_MIN_PULSE:g}) and carried by tonal sound (not traffic)."),
        MetricSpec("audio.beat_strength", "Beat strength", "", 0, 1, None,
                   "Pulse clarity: autocorrelation of the onset envelope at its clearest beat period, 40-160 BPM "
                   "(0 none, 1 metronome)."),
        MetricSpec("audio.onset_rate_per_s", "Onset rate", "per s", 0, 20, None,
                   "Note, syllable and hit onsets per second (peaks of the spectral-flux onset strength, "
                   "librosa's rule)."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        a = usable(ctx)
        if a is None:
            return
        r = _clip_rhythm(ctx, a)
        clear = _clip_speech_music(ctx, a).beat
        fv.set("audio.beat_strength", r["pulse"])
        fv.set("audio.onset_rate_per_s", r["onset_rate"])
        fv.set("audio.tempo_bpm", r["tempo_bpm"] if clear else None)
        fv.events["audio.beats_s"] = r["beats_s"] if clear else []


#: MFCCs kept as features (librosa's default count; coefficient 0 is the log energy).
N_MFCC = 13
#: Spectral rolloff: the frequency under which this share of the energy lies (librosa's default).
ROLLOFF_SHARE = 0.85


@register
class Timbre(Extractor):
    """Spectral shape over the active frames: centroid, rolloff, bandwidth, flatness, MFCC means and spreads.
    Neither direction is better in itself; these feed the learned scorer and the category guess."""

    name = "timbre"
    modality = "audio"
    stage = "audio"
    #: finish() frees the shared spectrograms (``AudioAnalysis.release_spectra``): after the other extractors that
    #: read them, which would otherwise compute them again (same values, more time).
    after = ("audio.speech_presence_pct", "audio.noise_floor_dbfs", "audio.beat_strength")
    wants_frames = False
    audio_only = True
    METRICS = (
        MetricSpec("audio.spectral_centroid_hz", "Spectral centroid", "Hz", 0, 12000, None,
                   "Brightness: centre of mass of the spectrum, mean over active frames."),
        MetricSpec("audio.spectral_rolloff_hz", "Spectral rolloff", "Hz", 0, 12000, None,
                   f"Frequency under which {ROLLOFF_SHARE:.0%} of the energy lies, mean over active frames."),
        MetricSpec("audio.spectral_bandwidth_hz", "Spectral bandwidth", "Hz", 0, 12000, None,
                   "Spread of the spectrum around its centroid, mean over active frames."),
        MetricSpec("audio.spectral_flatness", "Spectral flatness", "", 0, 1, None,
                   "0 tonal, 1 white noise; mean over active frames."),
    ) + tuple(
        MetricSpec(f"audio.mfcc_{i:02d}_{stat}", f"MFCC {i} {stat}", "", -500, 500, None,
                   f"{'Mean' if stat == 'mean' else 'Standard deviation'} of mel-frequency cepstral coefficient {i} "
                   "over active frames (64 Slaney mel bands, orthonormal DCT-II as librosa).")
        for i in range(N_MFCC) for stat in ("mean", "std")
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        a = usable(ctx)
        if a is None:
            return
        try:
            self._measure(a, fv)
        finally:
            # The last audio extractor that reads the spectrograms (its ``after`` puts it behind the others that
            # do): the clip's remaining extractors should not run on top of them.
            a.release_spectra()

    def _measure(self, a: AudioAnalysis, fv: FeatureVector) -> None:
        _, active = active_level(a.frame_power)
        if not active.any():
            return
        freqs = a.freqs
        # Per-frame shape statistics, FRAMES_PER_BLOCK active frames at a time (each frame's numbers are its own, so
        # the means are the same as over one whole magnitude spectrogram, which a 10-minute clip never holds).
        shape = {"centroid": [], "rolloff": [], "bandwidth": [], "flatness": []}
        frames = np.flatnonzero(active)
        for f0 in range(0, len(frames), FRAMES_PER_BLOCK):
            mag = np.sqrt(a.power[:, frames[f0:f0 + FRAMES_PER_BLOCK]])
            centroid = dsp.spectral_centroid(mag, freqs_hz=freqs)
            shape["centroid"].append(centroid)
            shape["rolloff"].append(dsp.spectral_rolloff(mag, freqs_hz=freqs, share=ROLLOFF_SHARE))
            shape["bandwidth"].append(dsp.spectral_bandwidth(mag, freqs_hz=freqs, centroid_hz=centroid))
            shape["flatness"].append(dsp.spectral_flatness(mag))
            del mag
        mean = {k: float(np.mean(np.concatenate(v))) for k, v in shape.items()}
        fv.set("audio.spectral_centroid_hz", mean["centroid"])
        fv.set("audio.spectral_rolloff_hz", mean["rolloff"])
        fv.set("audio.spectral_bandwidth_hz", mean["bandwidth"])
        fv.set("audio.spectral_flatness", mean["flatness"])
        mfcc = dsp.mfcc(a.mel_db[:, active], n_mfcc=N_MFCC)
        for i in range(N_MFCC):
            fv.set(f"audio.mfcc_{i:02d}_mean", float(np.mean(mfcc[i])))
            fv.set(f"audio.mfcc_{i:02d}_std", float(np.std(mfcc[i])))
