"""An offline audio fingerprint of the soundtrack (spectral-peak landmarks) and a fine level envelope.

Fingerprint: the landmark method of Wang, "An Industrial-Strength Audio Search Algorithm" (ISMIR 2003), as in
Ellis' audfprint: the audio at 8 kHz, a log-magnitude spectrogram (64 ms frames, 32 ms hop), its local maxima
kept as the strongest ``PEAKS_PER_S`` a second, and each peak paired with a few later peaks near it. A pair gives a
24-bit hash (anchor frequency bin, target bin, time gap); the anchor's time goes with it. The same music in another
clip - re-encoded, louder, with other pictures - gives the same hashes at a constant time offset, which
``engine.originality`` looks for.

Envelope: RMS level in dBFS over 50 ms windows, used by the hook (the first sound, the level of the opening) and
per second by the retention timeline (dead air, loudness dips) when the audio extractors' series are not there.

Output (``fv.events``):
  ``"hash.audio_fp"`` {"hop_s", "n": count, "b64": base64 of little-endian uint32 pairs (hash, frame)}
  ``"hash.audio_env"`` {"step_s": 0.05, "db": [...]}   (dBFS, floor ``FLOOR_DBFS``)
"""
from __future__ import annotations

import base64
import math

import numpy as np
from ...dsp import maximum_filter, resample_poly  # scipy.ndimage on first use; resample_poly numpy
from ...features import FeatureVector
from ..base import ClipContext, EventSpec, Extractor, register

#: Fingerprint sample rate: the landmarks live below 4 kHz, where music keeps its structure through codecs.
FP_RATE_HZ = 8000
FP_FRAME = 512  # 64 ms at 8 kHz
FP_HOP = 256  # 32 ms
#: The spectrogram is computed this many frames (2 min of audio) at a time: numpy's FFT of a whole 10-minute clip
#: at once allocated ~0.2 GB of intermediates.
FP_FRAMES_PER_BLOCK = 4096
#: Peak neighbourhood (frequency bins x frames) for a local maximum.
PEAK_NEIGHBOURHOOD = (15, 5)
#: Strongest peaks kept per second (audfprint's default density is about 20). With ``FAN_OUT`` this gives about
#: 60-100 landmarks a second; on a 3 s generated music clip re-encoded and trimmed by 0.2 s, a quarter of the
#: copy's landmarks agree on the true offset (vs under 3 % on any other offset).
PEAKS_PER_S = 25
#: Pairs per anchor, and the target zone: 1-48 frames later (up to ~1.5 s), within +-96 bins (1.5 kHz).
FAN_OUT = 5
MAX_DT_FRAMES = 48
MAX_DF_BINS = 96
#: A peak must stand this many dB above the frame's median (silence and flat noise give no landmarks).
PEAK_OVER_MEDIAN_DB = 6.0
#: Level below which the envelope reads as silence (dBFS).
FLOOR_DBFS = -90.0
ENV_STEP_S = 0.05
#: The envelope reads the signal this many samples at a time (8 MB of float64 per step; each window's mean square
#: is computed on its own, so the numbers do not depend on it).
ENV_BLOCK_SAMPLES = 1 << 20


def level_envelope(y: np.ndarray, sr: int, step_s: float = ENV_STEP_S) -> np.ndarray:
    """RMS level (dBFS) of consecutive ``step_s`` windows. y : float [shape=(n,)], full scale 1.0."""
    n = max(1, int(round(sr * step_s)))
    m = len(y) // n
    if m == 0:
        return np.array([FLOOR_DBFS])
    rms = np.empty(m)
    rows = max(1, ENV_BLOCK_SAMPLES // n)
    for r0 in range(0, m, rows):  # a block of windows at a time: no float64 copy of the whole signal
        r1 = min(m, r0 + rows)
        blocks = y[r0 * n:r1 * n].astype(np.float64).reshape(r1 - r0, n)
        rms[r0:r1] = np.sqrt((blocks * blocks).mean(axis=1))
    return np.maximum(FLOOR_DBFS, 20 * np.log10(np.maximum(rms, 1e-12)))


def landmarks(y: np.ndarray, sr: int) -> np.ndarray:
    """Landmark hashes of a mono signal: uint32 array [shape=(k, 2)] of (hash, anchor frame)."""
    g = math.gcd(int(sr), FP_RATE_HZ)
    y = np.asarray(y, dtype=np.float32)  # no copy of a float32 signal
    x = resample_poly(y, FP_RATE_HZ // g, int(sr) // g) if sr != FP_RATE_HZ else y
    if len(x) < FP_FRAME * 4:
        return np.zeros((0, 2), np.uint32)
    frames = np.lib.stride_tricks.sliding_window_view(x, FP_FRAME)[::FP_HOP]
    window = np.hanning(FP_FRAME).astype(np.float32)
    spec = np.empty((len(frames), FP_FRAME // 2 + 1), np.float32)
    for a in range(0, len(frames), FP_FRAMES_PER_BLOCK):  # a block of frames at a time (each frame is its own FFT)
        spec[a:a + FP_FRAMES_PER_BLOCK] = np.abs(np.fft.rfft(frames[a:a + FP_FRAMES_PER_BLOCK] * window, axis=1))
    spec = spec.T  # (bins, frames)
    spec = spec[:512]
    db = 20 * np.log10(spec + 1e-6)
    local_max = maximum_filter(db, size=PEAK_NEIGHBOURHOOD, mode="constant", cval=-1e9) == db
    loud = db > (np.median(db, axis=0, keepdims=True) + PEAK_OVER_MEDIAN_DB)
    loud &= db > (db.max() - 70.0)  # nothing from near-silent stretches
    fi, ti = np.nonzero(local_max & loud)
    if len(fi) == 0:
        return np.zeros((0, 2), np.uint32)
    # Keep the strongest peaks per second.
    frames_per_s = FP_RATE_HZ / FP_HOP
    strength = db[fi, ti]
    sec = (ti / frames_per_s).astype(int)
    order = np.lexsort((-strength, sec))
    fi, ti, sec = fi[order], ti[order], sec[order]
    rank = np.arange(len(sec)) - np.searchsorted(sec, sec, side="left")
    keep = rank < PEAKS_PER_S
    fi, ti = fi[keep], ti[keep]
    order = np.argsort(ti, kind="stable")
    fi, ti = fi[order], ti[order]
    out = []
    for i in range(len(ti)):
        got = 0
        j = i + 1
        while j < len(ti) and got < FAN_OUT:
            dt = ti[j] - ti[i]
            if dt > MAX_DT_FRAMES:
                break
            if dt >= 1 and abs(int(fi[j]) - int(fi[i])) <= MAX_DF_BINS:
                out.append(((int(fi[i]) & 0x1FF) << 15 | (int(fi[j]) & 0x1FF) << 6 | (int(dt) & 0x3F), int(ti[i])))
                got += 1
            j += 1
    return np.array(out, dtype=np.uint32).reshape(-1, 2)


def encode_pairs(pairs: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(pairs, dtype="<u4").tobytes()).decode("ascii")


def decode_pairs(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").reshape(-1, 2)


@register
class AudioFingerprint(Extractor):
    name = "audio_fingerprint"
    modality = "audio"
    stage = "audio"
    EVENTS = (
        EventSpec("hash.audio_fp", "{hop_s, n, b64}", "Landmark fingerprint: base64 of uint32 (hash, frame) pairs."),
        EventSpec("hash.audio_env", "{step_s, db: [dBFS]}", "RMS level envelope over 50 ms windows."),
    )
    wants_frames = False
    audio_only = True

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        audio = ctx.audio
        if audio is None or len(audio.samples) == 0:
            return
        y, sr = audio.samples, audio.sample_rate_hz
        env = level_envelope(y, sr)
        fv.events["hash.audio_env"] = {"step_s": ENV_STEP_S, "db": [round(float(v), 1) for v in env]}
        pairs = landmarks(y, sr)
        fv.events["hash.audio_fp"] = {"hop_s": FP_HOP / FP_RATE_HZ, "n": int(len(pairs)), "b64": encode_pairs(pairs)}
