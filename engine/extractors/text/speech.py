"""Optional speech-to-text: what is said, from a faster-whisper model the user already has on disk.

Nothing is downloaded: ``[text] transcript_model`` must name a local model folder (a CTranslate2 conversion of
Whisper, as faster-whisper uses). Without the package or the model the transcript is off and
``fv.text["transcript_status"]`` says plainly why; the rest of the text modality works without it.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from ...features import FeatureVector
from ..base import ClipContext, Extractor, register

#: Whisper models take 16 kHz mono audio (the rate they were trained on).
WHISPER_RATE_HZ = 16_000

_MODEL = None
_MODEL_PATH = None
_LOCK = threading.Lock()


def transcript_setup(cfg_text: dict) -> tuple[str | None, str | None]:
    """(model folder, None) when a transcript can be made, else (None, why not) in plain words."""
    model = str(cfg_text.get("transcript_model") or "").strip()
    if not model:
        return None, ("Transcript is off: no speech-to-text model is configured (set [text] transcript_model to a "
                      "local faster-whisper model folder; nothing is downloaded).")
    if importlib.util.find_spec("faster_whisper") is None:
        return None, "Transcript is off: the faster-whisper package is not installed (pip install faster-whisper)."
    path = Path(model).expanduser()
    if not path.is_dir():
        return None, f"Transcript is off: the model folder {path} does not exist."
    return str(path), None


def _model(path: str):
    global _MODEL, _MODEL_PATH
    with _LOCK:
        if _MODEL is None or _MODEL_PATH != path:
            from faster_whisper import WhisperModel

            _MODEL = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=1, local_files_only=True)
            _MODEL_PATH = path
        return _MODEL


@register
class Transcript(Extractor):
    name = "transcript"
    modality = "text"
    stage = "text"
    TEXT = ("transcript", "transcript_status")
    wants_frames = False
    METRICS = ()

    def finish(self, ctx: ClipContext, fv: FeatureVector) -> None:
        fv.text["transcript"] = None
        if ctx.options.get("transcript") is False:
            fv.text["transcript_status"] = "Transcript is off for this run."
            return
        path, why = transcript_setup(ctx.section("text"))
        if path is None:
            fv.text["transcript_status"] = why
            return
        audio = ctx.audio
        if audio is None or not len(audio.samples):
            fv.text["transcript_status"] = "Transcript is off: the clip has no audio."
            return
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(audio.sample_rate_hz), WHISPER_RATE_HZ)
        y = resample_poly(audio.samples, WHISPER_RATE_HZ // g, int(audio.sample_rate_hz) // g)
        try:
            segments, _ = _model(path).transcribe(np.asarray(y, np.float32), beam_size=1)
            cues = [[round(float(s.start), 3), round(float(s.end), 3), str(s.text).strip()] for s in segments]
        except Exception as exc:  # a broken model folder: say so, keep the analysis
            fv.text["transcript_status"] = f"Transcript failed: {type(exc).__name__}: {exc}."
            return
        fv.text["transcript"] = [c for c in cues if c[2]]
        fv.text["transcript_status"] = f"Transcribed with the model in {path}."
