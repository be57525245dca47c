"""``byteme train LABELS`` and ``byteme eval LABELS``: the learned scorer on the user's own judgement.

LABELS is either
  - a CSV file with a ``path`` column and at least one of ``score`` (overall, any scale), ``visual``, ``audio``,
    ``text`` (per-modality, any scale) or ``category`` (one of the content categories); paths are relative to
    the CSV's folder; or
  - a folder of clips with engagement numbers: the creator's own numbers synced from TikTok's API into the store
    (``byteme tiktok sync``, preferred: they are TikTok's own counts) or yt-dlp ``.info.json`` sidecars
    (``clip.mp4`` + ``clip.info.json``); the target is an engagement measure the user picks with ``--target``
    (like_rate, comment_rate, engagement_rate, log_views, views).

Scales: a column already on 0-100 (all values in [0, 100], largest above 10) is used as it is; any other scale
(1-5 stars, 0-1, raw counts) is mapped linearly from its smallest to its largest value onto 0-100. Engagement
targets are mapped to their percentile rank x 100, since like counts are heavy-tailed and only the order matters
for the reported rank correlations.

Features come through the store (a clip the store knows is never decoded again). Clips are split into train and
test by uploader where the sidecar names one, else by clip; the model is trained with early stopping on part of
the training clips; the held-out Spearman (SRCC) and Pearson (PLCC) correlations are printed for the new model,
the shipped default and the plain config-weighted score on the same test clips.
"""
from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BytemeError, ModelError
from ..features import MODALITIES
from ..model import CATEGORIES, DEFAULT_NAME, load_model
from ..textsafe import display_path, visible
from .fit import (Labels, config_modalities, correlations, model_modalities, presence,
                  weighted_overall)

ENGAGEMENT_TARGETS = ("like_rate", "comment_rate", "engagement_rate", "log_views", "views")
#: Fewer labelled clips than this cannot give a train split, an early-stopping split and a test split.
MIN_CLIPS = 8
TEST_SHARE = 0.25
#: Below this many clips a correlation's 95% interval spans most of -1..1 (Fisher z: +-1.96/sqrt(n-3)).
FEW_CLIPS = 30


class LabelError(BytemeError):
    kind = "labels"


@dataclass
class LabelledSet:
    paths: list
    overall: np.ndarray  # [n] 0-100 or NaN
    modality: np.ndarray  # [n, 3] 0-100 or NaN
    category: np.ndarray  # [n] int or -1
    groups: list  # uploader or clip path
    target_name: str


def to_0_100(values: np.ndarray) -> np.ndarray:
    """See the module docstring: 0-100 kept, other scales mapped linearly (min -> 0, max -> 100)."""
    v = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(v)
    if not ok.any():
        return v
    lo, hi = float(v[ok].min()), float(v[ok].max())
    if lo >= 0 and hi <= 100 and hi > 10:
        return v
    if hi == lo:
        return np.where(ok, 50.0, np.nan)
    return (v - lo) / (hi - lo) * 100.0


def percentile_rank(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    v = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(v)
    out = np.full(len(v), np.nan)
    if ok.sum() == 1:
        out[ok] = 50.0
    elif ok.any():
        out[ok] = (rankdata(v[ok]) - 1) / (ok.sum() - 1) * 100.0
    return out


def read_csv_labels(path: Path) -> LabelledSet:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelError(f"Could not read the labels file {display_path(path)}: {exc}.") from None
    if not rows or "path" not in (rows[0].keys() if rows else ()):
        raise LabelError(f"{display_path(path)} needs a header with a 'path' column and a 'score' (or visual/audio/"
                         "text/category) column.")
    cols = {c.strip().lower(): c for c in rows[0].keys() if c}
    if not any(c in cols for c in ("score", *MODALITIES, "category")):
        raise LabelError(f"{display_path(path)} has no label column: add 'score', 'visual', 'audio', 'text' or 'category'.")

    def num(row, name):
        c = cols.get(name)
        if c is None:
            return math.nan
        text = (row.get(c) or "").strip()
        try:
            v = float(text)
        except ValueError:
            return math.nan
        return v if math.isfinite(v) else math.nan

    base = path.parent
    paths, overall, mods, cats = [], [], [], []
    for i, row in enumerate(rows, start=2):
        p = (row.get(cols["path"]) or "").strip()
        if not p:
            continue
        clip = Path(p) if Path(p).is_absolute() else base / p
        paths.append(clip)
        overall.append(num(row, "score"))
        mods.append([num(row, m) for m in MODALITIES])
        cat = (row.get(cols.get("category", ""), "") or "").strip() if "category" in cols else ""
        if cat and cat not in CATEGORIES:
            raise LabelError(f"{display_path(path)} line {i}: unknown category {visible(cat)!r}; use one of "
                             f"{', '.join(CATEGORIES)}.")
        cats.append(CATEGORIES.index(cat) if cat else -1)
    mods_arr = np.array(mods, dtype=np.float64).reshape(-1, 3)
    for j in range(3):
        mods_arr[:, j] = to_0_100(mods_arr[:, j])
    return LabelledSet(paths, to_0_100(np.array(overall)), mods_arr, np.array(cats, dtype=int),
                       [str(p) for p in paths], "score")


def _engagement(info_path: Path) -> dict:
    try:
        from ..sidecars import read_engagement
    except ImportError:
        read_engagement = None
    if read_engagement is not None:
        return read_engagement(info_path)
    try:
        data = json.loads(info_path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return {"error": {"kind": "malformed", "message": f"{info_path.name} is not valid JSON."}}
    return data if isinstance(data, dict) else {}


def _count(e: dict, key: str) -> float:
    v = e.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else math.nan


def engagement_value(e: dict, target: str) -> float:
    views = _count(e, "view_count")
    likes, comments, reposts = _count(e, "like_count"), _count(e, "comment_count"), _count(e, "repost_count")
    if target == "log_views":
        return math.log10(1.0 + views) if not math.isnan(views) else math.nan
    if target == "views":  # the same order as log_views (targets are percentile ranks)
        return views
    if math.isnan(views) or views <= 0:
        return math.nan
    if target == "like_rate":
        return likes / views
    if target == "comment_rate":
        return comments / views
    parts = [x for x in (likes, comments, reposts) if not math.isnan(x)]
    return sum(parts) / views if parts else math.nan


def synced_engagement(args) -> dict:
    """path_key -> engagement (``read_engagement``'s shape) of the clips matched by ``byteme tiktok sync``: the
    newest reading of each. Empty when the store has none."""
    from ..store import Store, reading_as_engagement

    store = Store(args.store) if getattr(args, "store", None) else Store()
    try:
        return {key: reading_as_engagement(r) for key, r in store.readings_by_path().items()}
    finally:
        store.close()


def read_folder_labels(folder: Path, target: str, synced: dict | None = None) -> LabelledSet:
    """``synced``: path_key -> engagement from the store (see ``synced_engagement``); a clip's synced numbers win
    over its .info.json. Synced clips are one account's, so they are split by clip, not by uploader."""
    from ..media import iter_clips
    from ..store import path_key

    paths, values, groups = [], [], []
    skipped = 0
    for clip in iter_clips([folder]):
        e = (synced or {}).get(path_key(clip))
        own = e is not None
        if e is None:
            side = clip.with_name(clip.stem + ".info.json")
            if not side.is_file():
                skipped += 1
                continue
            e = _engagement(side)
        v = engagement_value(e, target)
        if math.isnan(v):
            skipped += 1
            continue
        paths.append(clip)
        values.append(v)
        up = None if own else e.get("uploader") or e.get("channel_id") or e.get("uploader_id")
        groups.append(f"uploader:{up}" if isinstance(up, str) and up else f"clip:{clip}")
    if skipped:
        sys.stderr.write(f"{skipped} clip(s) under {display_path(folder)} have no synced TikTok numbers or usable "
                         f".info.json for {target}; left out.\n")
    n = len(paths)
    return LabelledSet(paths, percentile_rank(np.array(values)), np.full((n, 3), np.nan), np.full(n, -1), groups, target)


def read_labels(source: str, target: str | None, synced: dict | None = None) -> LabelledSet:
    p = Path(source)
    if p.is_dir():
        return read_folder_labels(p, target or "like_rate", synced)
    if p.is_file():
        if target not in (None, "score"):
            raise LabelError("--target picks an engagement measure and applies to a folder of clips with .info.json "
                             "sidecars; a CSV's labels are its columns.")
        return read_csv_labels(p)
    raise LabelError(f"{display_path(p)} is neither a labels CSV nor a folder of clips.")


def features_for(ls: LabelledSet, cfg: dict, store, options: dict, log) -> tuple[list, list]:
    """(feature rows, indices into ls) for the clips that could be analysed; features through the store."""
    from ..library import analyze

    rows, keep = [], []
    for i, p in enumerate(ls.paths):
        r = analyze(p, cfg, store=store, model=None, use_cache=True, options=options)
        if r.status != "ok" or r.features is None:
            err = r.error or {}
            log(f"  skipped {visible(p.name)}: {visible(err.get('message', 'not analysed'))}")
            continue
        log(f"  {'cached  ' if r.cached else 'analysed'} {visible(p.name)}")
        rows.append(dict(r.features.values))
        keep.append(i)
    return rows, keep


def comparison(models: dict, rows: list[dict], labels: Labels, cfg: dict) -> dict:
    """{name: {"overall": corr, "visual": corr, ...}} for each scorer (None -> the config-weighted score)."""
    out = {}
    pres = presence(rows)
    for name, model in models.items():
        pm = config_modalities(rows, cfg) if model is None else model_modalities(model, rows)
        res = {"overall": correlations(weighted_overall(pm, pres & ~np.isnan(pm), cfg), labels.overall)}
        for j, m in enumerate(MODALITIES):
            if (~np.isnan(labels.modality[:, j])).any():
                res[m] = correlations(pm[:, j], labels.modality[:, j])
        out[name] = res
    return out


def print_comparison(comp: dict, title: str, out) -> None:
    out.write(title + "\n")
    cols = [c for c in ("overall", *MODALITIES) if any(c in r for r in comp.values())]
    out.write(f"  {'scorer':<44}" + "".join(f"{c + ' SRCC':>14}{c + ' PLCC':>14}" for c in cols) + "\n")
    for name, r in comp.items():
        cells = ""
        for c in cols:
            v = r.get(c) or {}
            cells += f"{_f(v.get('srcc')):>14}{_f(v.get('plcc')):>14}"
        out.write(f"  {visible(name):<44}{cells}\n")
    n = next((v.get("n") for r in comp.values() for v in r.values() if v), 0)
    out.write(f"  (on {n} clips)\n")
    if n < FEW_CLIPS:
        out.write(f"  Only {n} clips: correlations this small a sample can swing widely; label more clips to trust them.\n")


def _f(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def shipped_model(cfg: dict, log):
    try:
        return load_model(DEFAULT_NAME, cfg)
    except ModelError as exc:
        log(f"The shipped default model is not compared: {exc.message}")
        return None


def labels_for(ls: LabelledSet, keep: list) -> Labels:
    idx = np.array(keep, dtype=int)
    return Labels(ls.modality[idx].reshape(-1, 3), ls.overall[idx], ls.category[idx], [ls.groups[i] for i in idx])
