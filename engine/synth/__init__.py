"""Synthetic media: frames, sounds and encoded clips whose content is known exactly.

Tests, the demo folder (``engine.demo``) and the synthetic training corpus (``engine.train``) all build their
media here, so a test can state what is in a clip (a scene with real texture and motion, a blur of known sigma,
speech at -23 LUFS) and check that a metric finds it.

Conventions
-----------
- Every function is pure: the same arguments give the same output, bit for bit (randomness comes only from the
  ``seed`` argument). Arguments are keyword-only, except the signal or frame a function transforms.
- Frames are ``np.ndarray [shape=(height, width, 3), dtype=uint8]`` in RGB order, in *displayed* orientation.
- Audio is ``np.ndarray [shape=(n,), dtype=float32]`` mono at sample rate ``sr`` (Hz), full scale = 1.0.
  ``write_clip`` also takes multichannel audio shaped ``(channels, n)``.
- Levels: ``*_dbfs`` is decibels relative to full scale (1.0); ``*_lufs`` is integrated loudness after ITU-R
  BS.1770-4, measured with pyloudnorm.

Modules: ``scenes`` (frames and frame transforms), ``audio`` (signals and loudness), ``encode`` (``write_clip``),
``seeded`` (the seeded random generator). Everything callers use is importable from ``engine.synth``. The mp4 box
reader that only tests use lives in ``tests/mp4boxes.py``.

Nothing here imports a UI or pytest; this is product code.
"""
from __future__ import annotations

from .audio import (click_track, limit, measure_lufs, mix, music_like, pink_noise, scale_to_lufs, silence, sine,
                    speech_like)
from .encode import AUDIO_CODECS, VIDEO_CODECS, write_clip
from .scenes import (VideoSource, gaussian_blur, letterbox, render_text, scale_brightness, scene_sequence,
                     textured_scene)

__all__ = [
    "textured_scene",
    "scene_sequence",
    "render_text",
    "gaussian_blur",
    "scale_brightness",
    "letterbox",
    "sine",
    "silence",
    "pink_noise",
    "speech_like",
    "music_like",
    "click_track",
    "limit",
    "mix",
    "measure_lufs",
    "scale_to_lufs",
    "write_clip",
    "VideoSource",
    "VIDEO_CODECS",
    "AUDIO_CODECS",
]
