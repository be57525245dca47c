"""What the store keys stored features and verdicts by: the release version plus a digest of the engine's source.

The release version alone (``engine.__version__``) stayed 0.1.0 while metrics, targets and the scorer changed, so a
store filled by an older BYTEME kept serving features and verdicts the new code would not give (a changed SNR
estimate, say, until ``--no-cache``). Keyed by the source as well, an upgraded BYTEME measures again what its
extractors now measure, and judges again from stored features (no decoding) what only its scoring changed.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from . import __version__

ENGINE_DIR = Path(__file__).resolve().parent
#: The sources that decide a clip's features (the rest decide what is made of them), the look-of-the-picture
#: reading among them (``models/appearance.json``: a retrained reading changes ``visual.appearance_mos``).
FEATURE_SOURCES = ("extractors/**/*.py", "media.py", "pipeline.py", "dsp.py", "features.py", "models/appearance.json")
#: ... and everything that decides a verdict made of them (scoring, feedback, the shipped configuration, the shipped
#: models: a retrained picture-quality model changes every picture MOS with the code unchanged).
RESULT_SOURCES = ("**/*.py", "**/*.toml", "models/*.json", "models/*.safetensors")


def source_digest(patterns) -> str:
    """12 hex digits of a hash of the engine's source files matching ``patterns`` (relative to engine/), in path
    order, names included."""
    h = hashlib.blake2b(digest_size=6)
    files = sorted({p for pat in patterns for p in ENGINE_DIR.glob(pat) if p.is_file()})
    for p in files:
        h.update(p.relative_to(ENGINE_DIR).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@functools.cache
def features_build() -> str:
    """``<version>+<digest of FEATURE_SOURCES>``: stored features are reused only while it is the same."""
    return f"{__version__}+{source_digest(FEATURE_SOURCES)}"


@functools.cache
def results_build() -> str:
    """``<version>+<digest of every engine source>``: stored verdicts are reused only while it is the same (the
    model and the configuration are keys of their own)."""
    return f"{__version__}+{source_digest(RESULT_SOURCES)}"
