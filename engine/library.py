"""The library: one clip judged with the store's knowledge, the same way for an in-process run and a queued job.

``cached_features`` is the one decode cache (features keyed by content hash, what ran and the sidecars),
``judge`` the one way from features to a full result (scores, findings, then the hook, retention, rewards and
originality against every clip the store has indexed), and ``analyze`` the in-process run that puts them
together. The job supervisor (``engine.jobs.supervisor``) calls the same two for the clips its workers decode.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from .config import config_hash, load_config
from .insights import enrich
from .pipeline import Progress, evaluate, extract_watched, failed_result
from .result import ClipResult
from .sidecars import fingerprint as sidecar_fingerprint


def cached_features(store, path: Path, options: dict | None, *, lookup: bool = True):
    """``(content hash, sidecar fingerprint, (MediaInfo, FeatureVector) or None)`` for ``path`` from the store
    (``lookup`` False: hash and fingerprint only). The hash is None when the file cannot be read (the analysis then
    reports it in plain words)."""
    try:
        chash = store.hash_for(path)
    except OSError:
        chash = None
    sidecars = sidecar_fingerprint(path)
    cached = store.get_features(chash, options, sidecars) if chash and lookup else None
    return chash, sidecars, cached


def judge(path: str, info, fv, cfg: dict, *, model=None, store=None, content_hash: str | None = None) -> ClipResult:
    """A clip's full result from its features: scores and findings (``pipeline.evaluate``), then the insights,
    with originality measured against the store's index when there is a store."""
    result = evaluate(path, info, fv, cfg, model=model)
    result.content_hash = content_hash
    enrich(result, cfg, store=store)
    return result


def analyze(
    path: str | Path,
    config: dict | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    *,
    store=None,
    model=None,
    use_cache: bool = True,
    options: dict | None = None,
) -> ClipResult:
    """Analyse one clip end to end. Never raises for a bad file: returns a ClipResult with status "error".

    With a ``store``, features are looked up by content hash (no decode for a known clip) and the result is saved.
    ``Cancelled`` is the one exception that propagates.
    """
    cfg = config if config is not None else load_config()
    t0 = time.monotonic()
    path = Path(path)
    display = str(path)
    try:
        chash = sidecars = cached = None
        if store is not None:
            chash, sidecars, cached = cached_features(store, path, options, lookup=use_cache)
        if cached is not None:
            info, fv = cached
            info.path = display
        else:
            info, fv = extract_watched(path, cfg, progress=progress, cancel=cancel, options=options)
            if store is not None and chash:
                store.put_features(chash, info, fv, options, sidecars)
        if progress is not None:
            progress(Progress(display, "scoring", 0.99))
        result = judge(display, info, fv, cfg, model=model, store=store, content_hash=chash)
        result.cached = cached is not None
        result.elapsed_s = round(time.monotonic() - t0, 3)
        if store is not None and chash:
            store.put_result(result, result.scores.model, config_hash(cfg), path=path)
            store.set_error(path, None)
        if progress is not None:
            progress(Progress(display, "done", 1.0))
        return result
    except MemoryError as exc:
        return failed_result(exc, path, cfg, cancel, t0)
    except Exception as exc:  # Cancelled is one: a user's cancel propagates, the clip's time limit is a result
        result = failed_result(exc, path, cfg, cancel, t0)
    if store is not None:
        try:
            store.set_error(path, result.error)
        except Exception:
            pass
    return result
