"""BYTEME engine: everything that is not the terminal UI. Never imports textual."""

__version__ = "0.1.0"

from .numba_cache import configure as _configure_numba_cache  # noqa: E402

_configure_numba_cache()  # before anything imports numba (librosa does)
