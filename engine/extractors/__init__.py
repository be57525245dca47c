"""Extractors, one subpackage per family: ``visual``, ``audio``, ``text``, ``crossmodal`` (features that read
two modalities, e.g. cuts on the beat) and ``originality`` (the clip's fingerprints and overlays, indexed by the
library to find copies; no score). Helper modules sit beside the extractors that use them. Every module of these
subpackages is imported by ``load_all()``; each registers its classes with ``@register``. See ``base.py`` for the
interface and the run order."""
from __future__ import annotations

import importlib
import pkgutil

from .base import (FINDING_MESSAGES, FINDINGS, ClipContext, EventSpec, Extractor, RegistryError, event_specs,
                   metric_specs, register, registered)

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in sorted(m.name for m in pkgutil.walk_packages(__path__, prefix=f"{__name__}.")):
        if mod != f"{__name__}.base" and not mod.rsplit(".", 1)[1].startswith("_"):
            importlib.import_module(mod)


__all__ = ["ClipContext", "EventSpec", "Extractor", "FINDINGS", "FINDING_MESSAGES", "RegistryError", "event_specs",
           "load_all", "metric_specs", "register", "registered"]
