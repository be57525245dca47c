"""Engagement counts of downloads (from their .info.json) kept in the store, for ``byteme train``."""
from __future__ import annotations

from ..sidecars import read_engagement
from .session import FetchResult


def keep_engagement(results: list[FetchResult], store_path=None) -> None:
    """Save each download's engagement counts (from its .info.json) in the store, for ``byteme train``."""
    from ..store import Store

    with_info = [r for r in results if r.status == "ok" and r.path is not None and r.info_path is not None]
    if not with_info:
        return
    store = Store(store_path or None)
    try:
        for r in with_info:
            counts = read_engagement(r.info_path)
            if counts.get("error") is None:
                store.set_engagement(r.path, counts)
    finally:
        store.close()
