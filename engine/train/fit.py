"""Training and evaluation of the learned scorer (small MLP, full-batch Adam, early stopping).

Loss, per clip, on whatever labels it has:
  - mean squared error of each modality's quality (0-100, divided by 100) where a per-modality target exists;
  - mean squared error of the overall score (the config-weighted mean of the predicted modalities the clip has:
    ``engine.scorer.overall_score`` before its evidence weights, which depend on the clip's features) where an
    overall target exists;
  - cross-entropy of the content category where a category label exists, times ``CATEGORY_LOSS_WEIGHT``.
A share of the training clips (split by group) is held back for early stopping; the weights with the lowest
validation loss are kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..features import MODALITIES, FeatureVector
from ..model import CATEGORIES, FeatureEncoder, LearnedScorer, build_net

#: Category cross-entropy relative to the quality losses (both are O(0.1) when training starts).
CATEGORY_LOSS_WEIGHT = 0.3
#: Optimiser settings picked by their held-out numbers: first among 7 tried on an earlier 360-clip build (lr
#: 3e-3/1e-3/3e-4, weight decay 1e-4..1e-1, patience 60-300), then among weight decay 1e-2/3e-3/1e-3 with
#: 2 seeds each on the 960-clip build. Choosing on the held-out sources is a selection bias on the held-out
#: figures, stated in the model card. Weight decay 1e-1 collapsed the network to a constant; 1e-2 underfitted
#: visual quality (held-out visual SRCC 0.09-0.22 against 0.32-0.40 at 3e-3).
#: Early stopping: stop after PATIENCE epochs without a better validation loss.
PATIENCE = 300
MAX_EPOCHS = 1500
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 3e-3
VALIDATION_SHARE = 0.2


@dataclass
class Labels:
    """Training labels aligned with a list of feature rows. NaN / -1 where a label is absent."""

    modality: np.ndarray  # [n, 3] 0-100 or NaN
    overall: np.ndarray  # [n] 0-100 or NaN
    category: np.ndarray  # [n] int index or -1
    groups: list = field(default_factory=list)  # [n] group ids for splitting (uploader, source, clip)

    def subset(self, idx) -> "Labels":
        idx = np.asarray(idx, dtype=int)
        return Labels(self.modality[idx], self.overall[idx], self.category[idx], [self.groups[i] for i in idx])


def modality_weights(cfg: dict) -> np.ndarray:
    w = cfg.get("scoring", {}).get("weights", {})
    return np.array([float(w.get(m, 0.0)) for m in MODALITIES])


def presence(rows: list[dict]) -> np.ndarray:
    return np.array([[any(k.startswith(m + ".") and v is not None for k, v in r.items()) for m in MODALITIES] for r in rows],
                    dtype=bool).reshape(-1, 3)


def held_out_groups(n_groups: int, test_share: float) -> int:
    """How many of ``n_groups`` groups ``group_split`` holds out: ``test_share`` of them, rounded, at least one
    (none of a single group)."""
    return max(1, int(round(test_share * n_groups))) if n_groups > 1 else 0


def group_split(groups: list, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with every group entirely on one side; about ``test_share`` of the groups in test."""
    uniq = sorted(set(groups), key=str)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    n_test = held_out_groups(len(uniq), test_share)
    test_groups = {uniq[i] for i in order[:n_test]}
    test = np.array([i for i, g in enumerate(groups) if g in test_groups], dtype=int)
    train = np.array([i for i, g in enumerate(groups) if g not in test_groups], dtype=int)
    return train, test


def train_model(rows: list[dict], labels: Labels, cfg: dict, *, keys: list[str], categories=CATEGORIES,
                init: LearnedScorer | None = None, seed: int = 0, max_epochs: int = MAX_EPOCHS,
                patience: int = PATIENCE, inactive=(), log=None):
    """Fit a network. Returns (net, encoder, history dict). ``init`` fine-tunes an existing model (its scaler
    and category list are kept; its feature keys must equal ``keys``)."""
    import torch

    torch.manual_seed(seed)
    # A few hundred rows of ~100 inputs: one thread is fastest, and the machine is shared.
    torch.set_num_threads(1)
    if init is not None:
        if list(init.encoder.keys) != list(keys):
            raise ValueError("the starting model was trained on other features")
        encoder, categories = init.encoder, list(init.categories)
        net = build_net(encoder.n_inputs, len(categories))
        net.load_state_dict(init.net.state_dict())
    else:
        encoder = FeatureEncoder.fit(rows, keys, inactive=inactive)
        net = build_net(encoder.n_inputs, len(categories))
    x_all = torch.from_numpy(encoder.encode_rows(rows))
    pres = torch.from_numpy(presence(rows).astype(np.float32))
    w = torch.from_numpy(modality_weights(cfg).astype(np.float32))
    ym = torch.from_numpy(np.nan_to_num(labels.modality, nan=0.0).astype(np.float32)) / 100.0
    mm = torch.from_numpy((~np.isnan(labels.modality)).astype(np.float32))
    yo = torch.from_numpy(np.nan_to_num(labels.overall, nan=0.0).astype(np.float32)) / 100.0
    mo = torch.from_numpy((~np.isnan(labels.overall)).astype(np.float32))
    yc = torch.from_numpy(np.where(labels.category >= 0, labels.category, 0).astype(np.int64))
    mc = torch.from_numpy((labels.category >= 0).astype(np.float32))

    tr, va = group_split(labels.groups or list(range(len(rows))), VALIDATION_SHARE, seed + 1)
    if len(va) == 0 or len(tr) == 0:
        tr, va = np.arange(len(rows)), np.arange(len(rows))
    tr_t, va_t = torch.from_numpy(tr), torch.from_numpy(va)

    def loss_on(idx):
        q, logits = net(x_all[idx])
        q = q / 100.0
        lm = ((q - ym[idx]) ** 2 * mm[idx]).sum() / mm[idx].sum().clamp(min=1)
        wp = w * pres[idx]
        overall = (q * wp).sum(1) / wp.sum(1).clamp(min=1e-6)
        lo = ((overall - yo[idx]) ** 2 * mo[idx]).sum() / mo[idx].sum().clamp(min=1)
        ce = torch.nn.functional.cross_entropy(logits, yc[idx], reduction="none")
        lc = (ce * mc[idx]).sum() / mc[idx].sum().clamp(min=1)
        return lm + lo + CATEGORY_LOSS_WEIGHT * lc

    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE if init is None else LEARNING_RATE / 3,
                           weight_decay=WEIGHT_DECAY)
    best, best_state, best_epoch, history = math.inf, None, 0, []
    for epoch in range(max_epochs):
        net.train()
        opt.zero_grad()
        loss = loss_on(tr_t)
        loss.backward()
        opt.step()
        net.eval()
        with torch.no_grad():
            vl = float(loss_on(va_t))
        history.append((loss.item(), vl))
        if vl < best - 1e-6:
            best, best_epoch = vl, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    if log:
        log(f"train: {len(tr)} clips, {len(va)} for early stopping; stopped at epoch {len(history)}, best {best_epoch + 1} "
            f"(validation loss {best:.4f})")
    return net, encoder, {"epochs": len(history), "best_epoch": best_epoch + 1, "validation_loss": round(best, 5),
                          "train_clips": int(len(tr)), "validation_clips": int(len(va))}


def as_scorer(net, encoder, categories, name="unsaved") -> LearnedScorer:
    return LearnedScorer(net, encoder, list(categories), {"name": name, "version": "0"})


# ------------------------------------------------------------------------------------------------------------
# Scoring for evaluation
# ------------------------------------------------------------------------------------------------------------
def weighted_overall(mods: np.ndarray, mask: np.ndarray, cfg: dict) -> np.ndarray:
    """Config-weighted mean of modality scores [n, 3] over ``mask`` [n, 3]; NaN where nothing is in the mask."""
    w = modality_weights(cfg)[None, :] * mask
    den = w.sum(1)
    num = (np.nan_to_num(mods) * w).sum(1)
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def model_modalities(model: LearnedScorer, rows: list[dict]) -> np.ndarray:
    q, _ = model.predict_rows(rows)
    return np.where(presence(rows), q, np.nan)


def config_modalities(rows: list[dict], cfg: dict) -> np.ndarray:
    from ..scorer import score

    out = np.full((len(rows), 3), np.nan)
    for i, r in enumerate(rows):
        s = score(FeatureVector(values=dict(r)), cfg, None)
        for j, m in enumerate(MODALITIES):
            v = s.modalities.get(m)
            out[i, j] = np.nan if v is None else v
    return out


def correlations(pred: np.ndarray, target: np.ndarray) -> dict:
    """Spearman (SRCC) and Pearson (PLCC) correlation over the clips where both are known."""
    from scipy.stats import pearsonr, spearmanr

    ok = ~(np.isnan(pred) | np.isnan(target))
    n = int(ok.sum())
    if n < 3 or np.std(pred[ok]) == 0 or np.std(target[ok]) == 0:
        return {"srcc": None, "plcc": None, "n": n}
    return {"srcc": round(float(spearmanr(pred[ok], target[ok])[0]), 3),
            "plcc": round(float(pearsonr(pred[ok], target[ok])[0]), 3), "n": n}


def category_accuracy(model: LearnedScorer, rows: list[dict], labels: np.ndarray) -> float | None:
    ok = labels >= 0
    if not ok.any():
        return None
    _, p = model.predict_rows([r for r, k in zip(rows, ok) if k])
    names = [model.categories[i] for i in p.argmax(1)]
    truth = [CATEGORIES[i] for i in labels[ok]]
    return round(float(np.mean([a == b for a, b in zip(names, truth)])), 3)
