"""Shared services every front end reaches without going through the CLI: the active configuration, the store,
and the learned scorer. The CLI commands, the job supervisor, the terminal app's service layer, ingest and reports
all call these (PySceneDetect keeps such services below its ``_cli`` package in the same way)."""
from __future__ import annotations

import os

from .config import load_config
from .store import Store

#: Model names that mean "no learned scorer: the config targets decide".
NO_MODEL = (None, "", "none")


def active_config(config_path: str | os.PathLike | None = None, preset: str | None = None) -> dict:
    """The configuration a run uses: the shipped config.toml, the user's file, ``config_path``, then the preset."""
    return load_config(config_path, preset=preset)


def open_store(store_path: str | os.PathLike | None = None) -> Store:
    """The SQLite store at ``store_path``, or the default one ($BYTEME_STORE, $BYTEME_DATA_DIR, user data dir)."""
    return Store(store_path) if store_path else Store()


def model_name(requested: str | None, cfg: dict) -> str | None:
    """The learned scorer's name a run uses: the one asked for, else ``[scoring] model``; None for targets only."""
    name = requested or cfg.get("scoring", {}).get("model", "default")
    return None if name in NO_MODEL else name


def load_scorer(requested: str | None, cfg: dict):
    """``(model, warning)``: the learned scorer named by ``requested`` or the config, or ``(None, None)`` when the
    config targets decide alone. A model that cannot be used is ``(None, why)``: the caller says why and scores
    with the targets."""
    name = model_name(requested, cfg)
    if name is None:
        return None, None
    from .model import load_model_or_fallback  # numpy only: scoring never imports torch

    return load_model_or_fallback(name, cfg)
