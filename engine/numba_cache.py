"""librosa's compiled code: one cache per library version, filled by one process at a time.

librosa (0.11) compiles numba code on first use — even its STFT magnitude, beat tracker and peak picking — and
caches the machine code on disk. Compiling costs tens of seconds, so the cache matters; but two processes that
compile the same functions at once can leave a cache that crashes every later process (seen here: a segfault in
``librosa.beat.beat_track`` after two worker processes started together on an empty cache).

So every process that analyses audio first calls ``warm()``: under an exclusive file lock it runs the audio
extractors once on two seconds of generated sound, which compiles (or loads) everything they use; after that the
process never writes to the cache again. A cache left without the ``complete`` mark (a process died while
filling it) is emptied and filled again. The cache lives in the user cache folder, one folder per Python, numba
and librosa version; ``NUMBA_CACHE_DIR`` overrides it.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import sys
import threading
from importlib import metadata
from pathlib import Path

_warm = False
_lock = threading.Lock()
COMPLETE_MARK = "complete"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def configure() -> Path:
    """Point numba at our cache folder (before numba is imported); return it."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    tag = f"py{sys.version_info[0]}{sys.version_info[1]}-numba{_version('numba')}-librosa{_version('librosa')}"
    folder = Path(platformdirs.user_cache_dir("byteme")) / "numba" / tag
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    return folder


def warm() -> None:
    """Compile or load librosa's numba code for the audio extractors, once per process, one process at a time."""
    global _warm
    if _warm:
        return
    with _lock:
        if _warm:
            return
        _warm = True  # set first: the warm-up runs the extractors, which call warm() again
        folder = configure()
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                mark = folder / COMPLETE_MARK
                if not mark.exists():
                    for child in folder.iterdir():
                        if child.name != ".lock":
                            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
                _run_audio_extractors()
                mark.touch()
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _run_audio_extractors() -> None:
    import numpy as np

    from . import synth
    from .extractors import ClipContext, registered
    from .features import FeatureVector
    from .media import DecodedAudio, MediaInfo

    sr = 48_000
    y = synth.mix(synth.speech_like(duration_s=2.0, sr=sr, seed=1), synth.music_like(duration_s=2.0, sr=sr, seed=1))
    info = MediaInfo(path="warm-up", container="none", size_bytes=0, duration_s=2.0, bitrate_bps=None,
                     has_video=False, has_audio=True, audio_channels=1, audio_sample_rate_hz=sr)
    ctx = ClipContext(path=Path("warm-up"), info=info, config={}, options={"ocr": False},
                      audio=DecodedAudio(y.astype(np.float32), sr, 1, float(np.max(np.abs(y)))))
    fv = FeatureVector()
    for cls in registered():
        if cls.modality == "audio" and not cls.wants_frames:
            extractor = cls()
            extractor.begin(ctx)
            extractor.finish(ctx, fv)
