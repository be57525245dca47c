"""Audio extractors: loudness (ITU-R BS.1770-4 via pyloudnorm), true peak and clipping (first pass; the audio
issue completes this family)."""
from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

from ..features import FeatureVector, MetricSpec
from .base import ClipContext, Extractor, register

#: BS.1770-4 Annex 2: true peak is estimated on the signal oversampled 4x.
TRUE_PEAK_OVERSAMPLE = 4
#: A sample counts as clipped at or above this magnitude (full scale is 1.0; codecs round a clipped
#: plateau to just under it).
CLIP_LEVEL = 0.999
#: pyloudnorm needs at least one 400 ms gating block.
MIN_LOUDNESS_S = 0.4
SILENCE_LUFS = -70.0  # BS.1770 absolute gate


@register
class Loudness(Extractor):
    name = "loudness"
    modality = "audio"
    stage = "audio"
    order = 40
    wants_frames = False
    METRICS = (
        MetricSpec("audio.loudness_lufs", "Integrated loudness", "LUFS", -70, 0, None,
                   "Programme loudness per ITU-R BS.1770-4 (gated), on the mono mix."),
        MetricSpec("audio.true_peak_dbtp", "True peak", "dBTP", -70, 6, False,
                   "Highest inter-sample peak, 4x oversampled (BS.1770-4 Annex 2)."),
        MetricSpec("audio.clipped_pct", "Clipped samples", "%", 0, 100, False,
                   f"Share of samples at or above {CLIP_LEVEL} of full scale."),
    )

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        audio = ctx.audio
        if audio is None:
            fv.note("audio", "The clip has no audio track.")
            return
        y, sr = audio.samples, audio.sample_rate_hz
        if len(y) < MIN_LOUDNESS_S * sr:
            fv.note("audio", f"The audio track is too short to measure ({len(y) / sr:.2f} s).")
            return
        lufs = float(pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64)))
        fv.set("audio.loudness_lufs", max(SILENCE_LUFS, lufs) if np.isfinite(lufs) else SILENCE_LUFS)
        over = resample_poly(y, TRUE_PEAK_OVERSAMPLE, 1)
        peak = float(max(np.max(np.abs(over)), audio.source_peak, 1e-9))
        fv.set("audio.true_peak_dbtp", 20 * np.log10(peak))
        fv.set("audio.clipped_pct", 100.0 * np.count_nonzero(np.abs(y) >= CLIP_LEVEL) / len(y))
