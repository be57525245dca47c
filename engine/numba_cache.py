"""Where numba keeps compiled code, for the code paths that still import librosa.

The scoring path imports neither librosa nor numba any more: the audio features are computed by ``engine.dsp``
(numpy/scipy), and the optional transcript resamples with scipy. librosa is imported only by the tests, which use
it as the reference for ``engine.dsp``, and by whoever calls it from a script. librosa compiles numba code when it is imported
and caches it on disk; ``configure()`` points that cache at one folder per Python, numba and librosa version in the
user cache folder (``NUMBA_CACHE_DIR`` overrides it), so the cache of one library version is never read by another.
It must run before numba is imported: ``engine/__init__.py`` calls it.

History: until engine 0.1 the audio extractors called librosa, and every process first "warmed" the cache under a
file lock (two processes compiling at once had left a cache that crashed later ones with a segfault in
``librosa.beat.beat_track``). That warm-up is gone with librosa from the scoring path.
"""
from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def configure() -> Path:
    """Point numba at our cache folder (before numba is imported); return it. ``NUMBA_CACHE_DIR`` wins if set."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    tag = f"py{sys.version_info[0]}{sys.version_info[1]}-numba{_version('numba')}-librosa{_version('librosa')}"
    folder = Path(platformdirs.user_cache_dir("byteme")) / "numba" / tag
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    return folder
