"""The library: one clip judged with the store's knowledge, the same way for an in-process run and a queued job.

``cached_features`` is the one decode cache (features keyed by content hash, what ran and the sidecars),
``judge`` the one way from features to a full result (scores, findings, then the hook, retention, rewards and
originality against every clip the store has indexed), and ``analyze`` the in-process run that puts them
together. The job supervisor (``engine.jobs.supervisor``) calls the same two for the clips its workers decode.
"""
from __future__ import annotations

import errno
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable

from .config import config_hash, feature_settings_hash, load_config
from .extractors import metric_specs
from .feedback import capping_findings, rank_findings, target_codes
from .insights import enrich, hook_report
from .picture_quality import derived_partial
from .pipeline import Progress, Snapshot, evaluate, extract_watched, failed_result
from .result import ClipResult
from .scorer import tier_for
from .sidecars import fingerprint as sidecar_fingerprint
from .store import store_error


def cached_features(store, path: Path, options: dict | None, cfg: dict, *, lookup: bool = True):
    """``(content hash, sidecar fingerprint, (MediaInfo, FeatureVector) or None)`` for ``path`` from the store
    (``lookup`` False: hash and fingerprint only). Features count only when extracted with the same settings of
    ``cfg`` (``engine.config.feature_settings_hash``: analysis size, audio rate, OCR, preset zones). The hash is
    None when the file cannot be read (the analysis then reports it in plain words)."""
    try:
        chash = store.hash_for(path)
    except OSError:
        chash = None
    sidecars = sidecar_fingerprint(path)
    cached = store.get_features(chash, options, sidecars, feature_settings_hash(cfg)) if chash and lookup else None
    return chash, sidecars, cached


def judge(path: str, info, fv, cfg: dict, *, model=None, store=None, content_hash: str | None = None) -> ClipResult:
    """A clip's full result from its features: scores and findings (``pipeline.evaluate``), then the insights,
    with originality measured against the store's index when there is a store."""
    result = evaluate(path, info, fv, cfg, model=model)
    result.content_hash = content_hash
    enrich(result, cfg, store=store)
    return result


#: The hook's findings that read only the audio and the probe (no sound, a late first sound, a quiet opening):
#: shown in a provisional verdict once the audio is settled. The hook's other findings wait for the frames and the
#: words.
PROVISIONAL_HOOK_CODES = ("hook.no_sound", "hook.late_first_sound", "hook.quiet_opening")


def provisional_result(path: str, snap: Snapshot, cfg: dict, *, model=None) -> ClipResult:
    """A provisional verdict from a ``Snapshot``: scores of what is measured so far (``status`` "provisional",
    ``progress`` the fraction done), with the findings that cannot change any more: those of the metrics and the
    extractors already measured (not those of the metrics summarised over the frames decoded so far,
    ``Snapshot.partial``, nor a tier cap that only those caused), the "not scored" notes of the settled modalities only, and the audio
    hook findings once the audio is settled. No originality (no store) and no other insight: those need the whole
    clip. Never a substitute for the final result: ``analyze`` always makes that from the full features."""
    result = evaluate(path, snap.info, snap.features, cfg, model=model)
    result.status = "provisional"
    result.progress = round(min(1.0, max(0.0, snap.fraction)), 3)
    partial = target_codes(snap.partial | derived_partial(snap.partial, snap.features.values), cfg.get("targets", {}))
    result.findings = [f for f in result.findings
                       if not (f.code.endswith(".not_scored") and f.modality not in snap.settled)
                       and f.code not in partial]
    capped = any(f.code == "tier.capped" for f in result.findings)
    if capped and not capping_findings(result.findings, cfg):
        # the cap's cause was a partial metric's finding: neither the cap nor its note holds yet
        result.findings = [f for f in result.findings if f.code != "tier.capped"]
        result.scores.tier = tier_for(result.scores.overall, cfg)
    if "audio" in snap.settled:
        try:
            hook = hook_report(snap.features, snap.info, cfg)
        except Exception:  # an insight of a partial clip that cannot be made is left out
            hook = {"findings": []}
        result.findings = rank_findings(result.findings + [f for f in hook["findings"]
                                                            if f.code in PROVISIONAL_HOOK_CODES], cfg)
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
    provisional: Callable[[ClipResult], None] | None = None,
) -> ClipResult:
    """Analyse one clip end to end. Never raises for a bad file: returns a ClipResult with status "error".

    With a ``store``, features are looked up by content hash (no decode for a known clip) and the result is saved.
    ``Cancelled`` is the one exception that propagates. ``provisional`` receives provisional verdicts
    (``provisional_result``) while a clip is decoded (none for a clip the store knows); the final result is the
    same with or without it.
    """
    cfg = config if config is not None else load_config(metric_names=lambda: metric_specs())
    t0 = time.monotonic()
    path = Path(path)
    display = str(path)
    try:
        chash = sidecars = cached = None
        if store is not None:
            chash, sidecars, cached = cached_features(store, path, options, cfg, lookup=use_cache)
        if cached is not None:
            info, fv = cached
            info.path = display
        else:
            early = None
            if provisional is not None:
                def early(snap: Snapshot) -> None:
                    provisional(provisional_result(display, snap, cfg, model=model))
            info, fv = extract_watched(path, cfg, progress=progress, cancel=cancel, options=options,
                                       provisional=early)
            if store is not None and chash:
                store.put_features(chash, info, fv, options, sidecars, feature_settings_hash(cfg))
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
        if store is not None and _store_failed(exc):  # not the clip's fault: every clip would fail the same way
            raise store_error(store.path, exc) from None
        result = failed_result(exc, path, cfg, cancel, t0)
    if store is not None:
        try:
            store.set_error(path, result.error)
        except Exception:
            pass
    return result


def _store_failed(exc: BaseException) -> bool:
    """True for a failure of the store or the disk (SQLite's errors, a full disk), not of the clip."""
    return isinstance(exc, sqlite3.Error) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
