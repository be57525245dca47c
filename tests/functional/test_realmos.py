"""Agreement with people on real clips: the realmos set (67 KoNViD-1k clips with their mean opinion scores).

Needs ../shared/realmos beside the repository (or the folder named by BYTEME_REALMOS); skipped with the reason
when it is absent. Extracts every clip's features from scratch (into a temporary cache), evaluates by repeated
5-fold CV by clip (fixed seed), prints SRCC/PLCC mean ± sd, and asserts floors a little below what was measured
(engine/models/MODEL_CARD.md), so a change that makes the picture score agree less with people fails here.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.train import picture_quality as P

ROOT = Path(__file__).resolve().parents[2]
REALMOS = Path(os.environ.get("BYTEME_REALMOS") or ROOT.parent / "shared" / "realmos")

pytestmark = pytest.mark.skipif(not (REALMOS / "labels.csv").is_file(),
                                reason=f"needs the realmos clips with human ratings at {REALMOS} (or BYTEME_REALMOS)")

#: Floors, each ~0.05 below the repeated-k-fold mean measured here (the sd over repeats is 0.01-0.03). The test
#: trains on the MOS alone (the flaw pairs would add ~1-2 min of rendering and fitting); measured with this test's
#: setup on the tenth session's tree (the picture-MOS target at weight 5, the judder rule): the reading alone 0.725 ±
#: 0.028, model 0.673 ± 0.033 (PLCC 0.685), visual score with it 0.702 ± 0.018, config targets 0.700 ± 0.018
#: (0.678 at weight 3), hand-set targets 0.580, sharpness 0.466. The shipped models add the flaw pairs and measure
#: 0.722 / 0.688 / 0.715 / 0.716 (engine/models/MODEL_CARD.md). Eighth session (the head's level only): 0.697 /
#: 0.648 / 0.691 / 0.666; seventh (no network): model 0.541, default 0.609.
APPEARANCE_SRCC_FLOOR = 0.67
MODEL_SRCC_FLOOR = 0.62
VISUAL_WITH_MODEL_SRCC_FLOOR = 0.65
MODEL_PLCC_FLOOR = 0.63
#: The hand-set targets without the model's (nothing fitted, so no spread over folds); measured 0.581.
HAND_SET_TARGETS_SRCC_FLOOR = 0.53
#: The default picture score: the hand-set targets and the target on the model's MOS, predicted out of fold.
CONFIG_TARGETS_SRCC_FLOOR = 0.65


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    t = P.feature_table(REALMOS, cache_dir=tmp_path_factory.mktemp("realmos-cache"), workers=2)
    assert len(t) >= 60, f"only {len(t)} realmos clips could be analysed"
    return t


def test_picture_model_agrees_with_people_on_clips_it_never_saw(table):
    ev = P.evaluate(table, repeats=P.REPEATS)
    for k, r in ev.items():
        print(f"{k:20s} SRCC {r['srcc_mean']:.3f} ± {r['srcc_sd']:.3f}   PLCC {r['plcc_mean']:.3f} ± {r['plcc_sd']:.3f}")
    assert ev["appearance"]["srcc_mean"] >= APPEARANCE_SRCC_FLOOR
    assert ev["model"]["srcc_mean"] >= MODEL_SRCC_FLOOR
    assert ev["model"]["plcc_mean"] >= MODEL_PLCC_FLOOR
    assert ev["visual_with_model"]["srcc_mean"] >= VISUAL_WITH_MODEL_SRCC_FLOOR
    assert ev["hand_set_targets"]["srcc_mean"] >= HAND_SET_TARGETS_SRCC_FLOOR
    assert ev["config_targets"]["srcc_mean"] >= CONFIG_TARGETS_SRCC_FLOOR
    # The point of the model: it agrees with people better than the hand-set targets and sharpness alone, both
    # in the default (its MOS judged by a target beside theirs) and deciding the picture on its own.
    assert ev["config_targets"]["srcc_mean"] > ev["hand_set_targets"]["srcc_mean"] + 0.02
    assert ev["visual_with_model"]["srcc_mean"] > ev["hand_set_targets"]["srcc_mean"] + 0.02
    assert ev["model"]["srcc_mean"] > ev["sharpness"]["srcc_mean"]
    # The pretrained network's reading carries most of it: alone, it agrees with people far better than sharpness.
    assert ev["appearance"]["srcc_mean"] > ev["sharpness"]["srcc_mean"] + 0.15


def test_shipped_model_reads_the_features_this_engine_measures(table):
    """The shipped model file still fits the extractors: every feature it reads is measured on real clips, and its
    scores on the realmos clips (which it was trained on) rank them as people did (in-sample, so a stale or broken
    file shows, not a generalisation claim: that is the k-fold test above)."""
    from engine import picture_quality as PQ
    from engine.features import FeatureVector

    shipped = PQ.load()
    names = sorted(table)
    for n in names:
        assert all(table[n]["values"].get(k) is not None for k in shipped.keys), n
    pred = np.array([shipped.predict(FeatureVector(values=table[n]["values"])) for n in names])
    mos = np.array([table[n]["mos"] for n in names])
    srcc, _ = P.srcc_plcc(pred, mos)
    print(f"shipped model, in-sample SRCC {srcc:.3f}")
    assert srcc >= MODEL_SRCC_FLOOR + 0.05
