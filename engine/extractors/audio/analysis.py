"""Audio extractors, part 1: the shared analysis signal and the level measurements.

The audio family is five extractors that share one ``AudioAnalysis`` per clip (``analysis_for(ctx)``), so the
signal is resampled, K-weighted and transformed once:

    Loudness      analysis.py                  BS.1770-4 loudness, loudness range, true peak, clipping, silence,
                                                 first sound; the "no audio track" and "digital silence" cases
    Noise         content.py                   noise floor, SNR, mains hum, hiss
    SpeechMusic   content.py                   speech and music presence over time, voice level over the music
    Rhythm        content.py                   tempo, beat strength, onset rate, beat times
    Timbre        content.py                   spectral centroid / rolloff / bandwidth / flatness, MFCC statistics
    CutsOnBeats   ../crossmodal/cuts_on_beats  how closely the visual cuts land on the beats

Loudness, true peak and clipping are measured on the 48 kHz mono signal the decoder delivers; everything else on
a 24 kHz copy (an exact 2:1 decimation; 12 kHz of bandwidth is enough for speech, music features and hiss).

About the mono signal: the decoder downmixes with FFmpeg's matrix (0.707 per stereo channel). For a stereo clip
whose channels carry the same programme (the usual phone recording, a centred voice) the mono loudness equals the
BS.1770 stereo loudness exactly; for fully decorrelated channels (wide stereo music) it reads up to 3 dB low.
Peaks and clipping use the mono signal rescaled so that its sample peak equals the peak of the original channels
(``DecodedAudio.source_peak``), which is exact for identical channels and an estimate otherwise.
"""
from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from ...features import FeatureVector, MetricSpec
from ... import dsp
from ...dsp import resample_poly  # numpy (dsp), no scipy.signal import
from . import levels as lv
from ..base import FINDINGS, ClipContext, EventSpec, Extractor, register

#: Sample rate of the analysis copy used by every feature except loudness, peaks and clipping (Hz).
ANALYSIS_RATE_HZ = 24_000
#: STFT of the analysis copy: 1024-sample (43 ms) Hann windows every 480 samples (20 ms, 50 frames a second; a
#: 120 BPM beat is exactly 25 frames).
N_FFT = 1024
HOP = 480
#: Log-mel spectrogram for onsets, beats and MFCCs: 64 Slaney mel bands from 0 Hz to 12 kHz, levels floored 100 dB
#: under the loudest band (librosa's ``power_to_db`` with ``top_db=100``).
N_MELS = 64
MEL_RANGE_DB = 100.0
#: Onsets are read on the same spectrogram floored this far under its loudest band. Over the full 100 dB range the
#: quietest bands' ripple (codec noise, spectral holes) counts as rise as much as a drum hit does: an AAC re-encode
#: of three real music clips (verdict_stability's copy) moved their beat strength by 0.15-0.21 (1e719ead 0.42 ->
#: 0.27, 3fe99801 0.34 -> 0.17, dover_HyZM 0.36 -> 0.16, whose tempo also jumped 91 -> 120 BPM); at 60 dB the
#: same copies move by 0.02-0.07 (``scripts/verdict_stability.py --metric audio.beat_strength``; the test
#: ``test_an_aac_copy_of_real_music_keeps_its_beat_and_its_music``).
ONSET_RANGE_DB = 60.0
#: The sound's start is not an onset: the envelope is zero up to the first frame within this many dB of the loud
#: frames (the 90th percentile of frame power) and the frame after it, whose window still reaches back into the
#: silence or the clip's edge. An export's 20-40 ms of encoder priming silence before a sound that starts at full
#: level gave a rise of 20 dB in all bands, over twice the loudest drum hit after it, and that one value carried
#: the envelope's variance: realclip 1e719ead cut by half a second and re-encoded read beat strength 0.34 against
#: 0.55 for the same samples cut in numpy.
SOUND_START_RANGE_DB = 30.0
#: pyloudnorm and BS.1770 need at least one 400 ms gating block.
MIN_AUDIO_S = lv.MOMENTARY_WINDOW_S
#: Spectrogram work is done this many STFT frames at a time (41 s of audio; ~8 MB of float32 spectrum per step),
#: so a 10-minute clip never holds a second full-size copy of its spectrogram. Each frame is computed on its own,
#: so the numbers do not depend on this size.
FRAMES_PER_BLOCK = 2048


class AudioAnalysis:
    """One clip's audio, prepared once and shared by the audio extractors (heavy parts computed on first use)."""

    def __init__(self, samples: np.ndarray, sr: int, source_peak: float | None = None):
        self.y = np.asarray(samples, dtype=np.float32)
        self.sr = int(sr)
        self.duration_s = len(self.y) / self.sr if self.sr else 0.0
        mono_peak = _peak(self.y)
        #: Gain that brings the mono signal to the scale of the original channels (see the module docstring), for
        #: peaks and clipping (``y_channel_scale``).
        self.channel_gain = source_peak / mono_peak if source_peak and mono_peak > 0 else 1.0
        self.sr_a = ANALYSIS_RATE_HZ
        self.hop = HOP
        self.n_fft = N_FFT

    @property
    def y_channel_scale(self) -> np.ndarray:
        """Mono signal at the scale of the original channels, float32: ``y`` itself when the scales agree within
        0.1 %, else a scaled copy made on each call (only the Loudness extractor reads it, once)."""
        scale = self.channel_gain
        return self.y if abs(scale - 1.0) < 1e-3 else self.y * np.float32(scale)

    @cached_property
    def digital_silence(self) -> bool:
        return lv.is_digital_silence(self.y)

    @cached_property
    def energy(self) -> lv.KWeightedEnergy:
        """Running energy of the K-weighted signal at the loudness and first-sound window edges (the K-weighted
        signal itself is never held whole)."""
        return lv.KWeightedEnergy(self.y, sr=self.sr)

    @property
    def kw(self) -> np.ndarray:
        """K-weighted copy of ``y``, float64 (8 bytes a sample: made on each call and not kept)."""
        return lv.k_weight(self.y, sr=self.sr)

    @cached_property
    def loudness(self) -> lv.LoudnessReport:
        return lv.measure_loudness(self.y, sr=self.sr, energy=self.energy)

    @cached_property
    def y_a(self) -> np.ndarray:
        """The 24 kHz analysis copy, float32."""
        if self.sr == ANALYSIS_RATE_HZ:
            return self.y
        g = math.gcd(self.sr, ANALYSIS_RATE_HZ)
        return resample_poly(self.y, ANALYSIS_RATE_HZ // g, self.sr // g).astype(np.float32, copy=False)

    @cached_property
    def power(self) -> np.ndarray:
        """Power spectrogram |STFT|^2 of the analysis copy, float32 [shape=(N_FFT // 2 + 1, frames)].

        Frame k is the Hann-windowed N_FFT samples centred on sample k * HOP (zeros beyond the ends), as
        ``sliding_window_view(np.pad(y_a, N_FFT // 2), N_FFT)[::HOP]``; computed ``FRAMES_PER_BLOCK`` frames at a
        time into one float32 array (the complex spectrum and the framed signal are never whole)."""
        y = self.y_a
        half = N_FFT // 2
        n_frames = len(y) // HOP + 1
        window = np.hanning(N_FFT).astype(np.float32)
        out = np.empty((n_frames, N_FFT // 2 + 1), np.float32)
        for a in range(0, n_frames, FRAMES_PER_BLOCK):
            b = min(n_frames, a + FRAMES_PER_BLOCK)
            lo, hi = a * HOP - half, (b - 1) * HOP + half  # samples of y under frames a..b-1 (half-open)
            seg = np.zeros(hi - lo, np.float32)
            seg[max(0, -lo):min(hi, len(y)) - lo] = y[max(0, lo):min(hi, len(y))]
            frames = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::HOP]
            spec = np.fft.rfft(frames * window, axis=1)
            out[a:b] = spec.real ** 2 + spec.imag ** 2
        return out.T

    @cached_property
    def freqs(self) -> np.ndarray:
        return np.fft.rfftfreq(N_FFT, 1.0 / ANALYSIS_RATE_HZ)

    @cached_property
    def frame_times_s(self) -> np.ndarray:
        """Centre time of each STFT frame, s."""
        return np.arange(self.power.shape[1]) * HOP / ANALYSIS_RATE_HZ

    def _bin_power_sum(self, rows: np.ndarray | slice) -> np.ndarray:
        """Sum over the bins ``rows`` of each frame's power, float64 [shape=(frames,)], a block of frames at a
        time (the float64 copy of the spectrogram is never whole; each frame's sum is the same)."""
        n = self.power.shape[1]
        out = np.empty(n)
        for a in range(0, n, FRAMES_PER_BLOCK):
            out[a:a + FRAMES_PER_BLOCK] = self.power[rows, a:a + FRAMES_PER_BLOCK].astype(np.float64).sum(axis=0)
        return out

    @cached_property
    def frame_power(self) -> np.ndarray:
        """Mean square of each Hann-windowed frame (Parseval), float64 [shape=(frames,)]; full scale sine = 0.5."""
        w = np.hanning(N_FFT)
        total = 2.0 * self._bin_power_sum(slice(None)) - self.power[0].astype(np.float64) \
            - self.power[-1].astype(np.float64)
        return total / (N_FFT * float(np.sum(w * w)))

    def band_power(self, lo_hz: float, hi_hz: float) -> np.ndarray:
        """Per-frame mean square in [lo_hz, hi_hz), same normalisation as ``frame_power``."""
        w = np.hanning(N_FFT)
        sel = np.flatnonzero((self.freqs >= lo_hz) & (self.freqs < hi_hz))
        return 2.0 * self._bin_power_sum(sel) / (N_FFT * float(np.sum(w * w)))

    def release_spectra(self) -> None:
        """Drop the cached analysis copy and spectrograms (about 0.2 GB for 10 minutes of audio) once the audio
        extractors that read them are done. Anything read again afterwards is recomputed, with the same values."""
        for name in ("y_a", "power", "mel_db", "onset_envelope", "frame_times_s"):
            self.__dict__.pop(name, None)

    @cached_property
    def mel_db(self) -> np.ndarray:
        """64-band log-mel spectrogram (dB, 100 dB range), float32 [shape=(N_MELS, frames)]; shared by onsets,
        beats and MFCCs (librosa's melspectrogram + power_to_db, in ``engine.dsp``)."""
        mel = dsp.melspectrogram(self.power, sr=ANALYSIS_RATE_HZ, n_mels=N_MELS, fmax=ANALYSIS_RATE_HZ / 2)
        return dsp.power_to_db(mel, ref=1.0, top_db=MEL_RANGE_DB)

    @cached_property
    def onset_envelope(self) -> np.ndarray:
        """Onset strength per STFT frame (dB of mel-band rise), float32 [shape=(frames,)].

        Frame k is the rise into frame k: our STFT frames are already centred on their times (frame k at k * HOP),
        so unlike librosa's default (``center=True``) no extra delay is added (it would put every onset and beat
        40 ms late; measured on a click track). Levels more than ``ONSET_RANGE_DB`` under the loudest band count as
        that floor, and the rise of the sound out of the clip's start is left out (``SOUND_START_RANGE_DB``)."""
        mel = self.mel_db
        if not mel.size:
            return dsp.onset_strength(mel)
        env = dsp.onset_strength(np.maximum(mel, float(mel.max()) - ONSET_RANGE_DB))
        p = self.frame_power
        sounding = np.flatnonzero(p >= float(np.percentile(p, 90)) * 10.0 ** (-SOUND_START_RANGE_DB / 10.0))
        env[:(int(sounding[0]) if sounding.size else 0) + 2] = 0.0
        return env


def _peak(y: np.ndarray) -> float:
    """Largest magnitude of ``y`` (0 for no samples), without a full-size ``np.abs`` copy."""
    return float(max(np.max(y), -np.min(y))) if len(y) else 0.0


def analysis_for(ctx: ClipContext) -> AudioAnalysis | None:
    """The clip's shared ``AudioAnalysis`` (built on first use and kept on ``ctx``); None when there is no usable
    audio (no track, too short, or digital silence: the Loudness extractor reports those)."""
    cached = getattr(ctx, "_audio_analysis", False)
    if cached is not False:
        return cached
    a = None
    if ctx.audio is not None and ctx.audio.duration_s >= MIN_AUDIO_S:
        a = AudioAnalysis(ctx.audio.samples, ctx.audio.sample_rate_hz, ctx.audio.source_peak)
    ctx._audio_analysis = a  # per clip: the pipeline makes a new ClipContext for every clip
    return a


def usable(ctx: ClipContext) -> AudioAnalysis | None:
    """``analysis_for(ctx)`` unless the track is digital silence (nothing for content features to measure)."""
    a = analysis_for(ctx)
    return None if a is None or a.digital_silence else a


def modality_points(ctx: ClipContext) -> float:
    """Overall points the whole audio modality stands for (its share of the modality weights, x100)."""
    w = ctx.config.get("scoring", {}).get("weights", {}) if isinstance(ctx.config, dict) else {}
    total = sum(float(v) for v in w.values()) or 1.0
    return round(100.0 * float(w.get("audio", 0.35)) / total, 2)


@register
class Loudness(Extractor):
    """Programme loudness and level problems: BS.1770-4 loudness, loudness range, true peak, clipping, dead air,
    the first sound. Writes the momentary and short-term loudness series and the silence and clipping events."""

    name = "loudness"
    modality = "audio"
    stage = "audio"
    EVENTS = (
        EventSpec("audio.clipping_runs_s", "[[start_s, end_s]]", "Clipped runs (the first 200)."),
        EventSpec("audio.silences_s", "[[start_s, end_s]]", "Silent stretches (dead air)."),
        EventSpec("audio.first_sound_s", "t_s | None", "Time of the first sound; None for a silent track."),
        FINDINGS,
    )
    wants_frames = False
    audio_only = True
    METRICS = (
        MetricSpec("audio.loudness_lufs", "Integrated loudness", "LUFS", -70, 0, None,
                   "Programme loudness per ITU-R BS.1770-4 (K-weighted, gated at -70 LUFS and -10 LU), on the "
                   "mono mix; -70 when nothing passes the gate."),
        MetricSpec("audio.loudness_range_lu", "Loudness range", "LU", 0, 40, None,
                   "EBU Tech 3342: spread (10th to 95th percentile) of the 3 s short-term loudness. Needs 3 s."),
        MetricSpec("audio.loudness_momentary_max_lufs", "Max momentary loudness", "LUFS", -70, 0, None,
                   "Loudest 400 ms window (EBU R128 momentary loudness)."),
        MetricSpec("audio.loudness_short_term_max_lufs", "Max short-term loudness", "LUFS", -70, 0, None,
                   "Loudest 3 s window (EBU R128 short-term loudness)."),
        MetricSpec("audio.true_peak_dbtp", "True peak", "dBTP", -70, 6, False,
                   "Highest inter-sample peak, oversampled to 192 kHz (BS.1770-4 Annex 2), at the level of the "
                   "original channels."),
        MetricSpec("audio.clipped_pct", "Clipped samples", "%", 0, 100, False,
                   f"Share of samples in runs of {lv.CLIP_MIN_RUN}+ samples at or above {lv.CLIP_LEVEL_DBFS:g} "
                   "dBFS (lossy codecs smear a clipped plateau into a ripple around full scale).", plural=True),
        MetricSpec("audio.dead_air_pct", "Dead air", "%", 0, 100, False,
                   f"Share of the clip in silent stretches of {lv.DEAD_AIR_MIN_S:g} s or more (momentary "
                   f"loudness {lv.SILENCE_BELOW_PROGRAMME_LU:g} LU under the programme, or under "
                   f"{lv.SILENCE_ABSOLUTE_LUFS:g} LUFS)."),
        MetricSpec("audio.first_sound_s", "First sound", "s", 0, 60, False,
                   "Time of the first 20 ms that is not silent (same threshold as dead air)."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        if ctx.audio is None:
            fv.note("audio", "The clip has no audio track, so there is no audio score. Add a voice-over or music "
                             "before posting: most viewers watch with the sound on.")
            return
        a = analysis_for(ctx)
        if a is None:
            fv.note("audio", f"The audio track is too short to measure ({ctx.audio.duration_s:.2f} s; loudness "
                             f"needs at least {MIN_AUDIO_S:g} s).")
            return
        duration = a.duration_s
        if a.digital_silence:
            self._silent_track(ctx, fv, duration)
            return
        loud = a.loudness
        integrated = loud.integrated_lufs
        fv.set("audio.loudness_lufs", max(lv.ABSOLUTE_GATE_LUFS, integrated) if math.isfinite(integrated)
               else lv.ABSOLUTE_GATE_LUFS)
        fv.set("audio.loudness_range_lu", loud.loudness_range_lu)
        if len(loud.momentary_lufs):
            fv.set("audio.loudness_momentary_max_lufs", max(lv.ABSOLUTE_GATE_LUFS, float(np.max(loud.momentary_lufs))))
            fv.add_series("audio.loudness_momentary_lufs", np.maximum(loud.momentary_lufs, lv.ABSOLUTE_GATE_LUFS),
                          step_s=loud.step_s, unit="LUFS", start_s=loud.momentary_start_s)
        if len(loud.short_term_lufs):
            fv.set("audio.loudness_short_term_max_lufs",
                   max(lv.ABSOLUTE_GATE_LUFS, float(np.max(loud.short_term_lufs))))
            fv.add_series("audio.loudness_short_term_lufs", np.maximum(loud.short_term_lufs, lv.ABSOLUTE_GATE_LUFS),
                          step_s=loud.step_s, unit="LUFS", start_s=loud.short_term_start_s)

        y_channels = a.y_channel_scale
        fv.set("audio.true_peak_dbtp", max(-120.0, lv.true_peak_dbtp(y_channels, sr=a.sr)))
        clip = lv.find_clipping(y_channels, sr=a.sr)
        del y_channels
        fv.set("audio.clipped_pct", clip.clipped_pct)
        fv.add_series("audio.clipped_pct", clip.per_second_pct, step_s=1.0, unit="%")
        fv.events["audio.clipping_runs_s"] = clip.bursts_s[:200]

        threshold = lv.silence_threshold_lufs(integrated)
        silences = lv.find_silences(loud.momentary_lufs, threshold_lufs=threshold, duration_s=duration)
        fv.events["audio.silences_s"] = silences
        fv.set("audio.dead_air_pct", 100.0 * sum(e - s for s, e in silences) / duration if duration else 0.0)
        fv.add_series("audio.dead_air_pct", _per_second_cover(silences, duration), step_s=1.0, unit="%")
        first = lv.first_sound_s(sr=a.sr, threshold_lufs=threshold, energy=a.energy)
        fv.set("audio.first_sound_s", first if first is not None else duration)
        fv.events["audio.first_sound_s"] = first

    def _silent_track(self, ctx: ClipContext, fv: FeatureVector, duration: float) -> None:
        fv.set("audio.loudness_lufs", lv.ABSOLUTE_GATE_LUFS)
        fv.set("audio.clipped_pct", 0.0)
        fv.set("audio.dead_air_pct", 100.0)
        fv.add_series("audio.dead_air_pct", _per_second_cover([[0.0, duration]], duration), step_s=1.0, unit="%")
        fv.set("audio.first_sound_s", duration)
        fv.events["audio.silences_s"] = [[0.0, round(duration, 2)]]
        fv.events["audio.first_sound_s"] = None
        fv.events.setdefault("findings", []).append({
            "modality": "audio", "severity": "high", "code": "audio.silent_track",
            "message": (f"The audio track is digital silence from start to end ({duration:.1f} s): nothing was "
                        "recorded, or the sound was muted in the edit. Check the microphone and the export, then "
                        "add the voice or music."),
            "value": lv.ABSOLUTE_GATE_LUFS, "target": None, "start_s": 0.0, "end_s": round(duration, 2),
            "source": "measured: every sample is below -90 dBFS",
            "points": modality_points(ctx),
        })


def _per_second_cover(spans, duration_s: float) -> list[float]:
    """Share (%) of each whole second covered by the [start, end] spans."""
    n = max(1, int(math.ceil(duration_s)))
    out = []
    for k in range(n):
        end_k = min(k + 1.0, duration_s) if duration_s > k else k + 1.0
        covered = sum(max(0.0, min(e, end_k) - max(s, k)) for s, e in spans)
        out.append(100.0 * covered / max(1e-9, end_k - k))
    return out
