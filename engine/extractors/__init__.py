"""Extractors, one module per family. Every module in this package is imported by ``load_all()``; each registers
its classes with ``@register``. See ``base.py`` for the interface."""
from __future__ import annotations

import importlib
import pkgutil

from .base import ClipContext, Extractor, metric_specs, register, registered

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if mod != "base" and not mod.startswith("_"):
            importlib.import_module(f"{__name__}.{mod}")


__all__ = ["ClipContext", "Extractor", "load_all", "metric_specs", "register", "registered"]
