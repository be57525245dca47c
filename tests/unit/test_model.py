"""The learned scorer's files and checks: encoding of missing values, safe loading, refusal of stale or changed
models, and scores/tiers/categories that come from the model and the config."""
from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import random

import numpy as np
import pytest
from hang_guard import hang_guard
import torch

from engine import model as M
from engine.config import load_config
from engine.errors import ModelError
from engine.features import FeatureVector
from engine.scorer import score

KEYS = ["audio.level", "text.words", "visual.detail", "visual.light"]


def _encoder() -> M.FeatureEncoder:
    rows = [
        {"visual.detail": 1.0, "visual.light": 10.0, "audio.level": None, "text.words": 3.0},
        {"visual.detail": 3.0, "visual.light": 10.0, "audio.level": -20.0, "text.words": 5.0},
        {"visual.detail": 5.0, "visual.light": 10.0, "audio.level": -10.0, "text.words": None},
    ]
    return M.FeatureEncoder.fit(rows, KEYS)


def _fixed_model(tmp_path, *, quality_pct=(80.0, 60.0, 40.0), category=2, categories=M.CATEGORIES, name="fixed"):
    """A saved model whose outputs are known: zero body weights, biases set to the wanted outputs."""
    enc = _encoder()
    net = M.build_net(enc.n_inputs, len(categories))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        q = torch.tensor([v / 100 for v in quality_pct])
        net.quality.bias.copy_(torch.log(q / (1 - q)))
        net.category.bias[category] = 3.0
    return M.save_model(tmp_path / f"{name}.safetensors", net, enc, name=name, categories=categories)


def test_encoder_imputes_missing_to_the_mean_and_flags_it():
    enc = _encoder()
    # Known answers: visual.detail mean 3, population std sqrt(8/3); audio.level from its two measured values only.
    assert enc.mean[KEYS.index("visual.detail")] == pytest.approx(3.0)
    assert enc.scale[KEYS.index("visual.detail")] == pytest.approx(math.sqrt(8 / 3))
    assert enc.mean[KEYS.index("audio.level")] == pytest.approx(-15.0)
    assert not enc.active[KEYS.index("visual.light")]  # constant in training: carries no information
    x = enc.encode_rows([{"visual.detail": 3.0 + math.sqrt(8 / 3), "visual.light": 99.0, "audio.level": None}])[0]
    n = len(KEYS)
    z, missing, presence = x[:n], x[n : 2 * n], x[2 * n :]
    assert z[KEYS.index("visual.detail")] == pytest.approx(1.0, abs=1e-6)
    assert z[KEYS.index("visual.light")] == 0.0  # inactive feature: its value cannot move the output
    assert z[KEYS.index("audio.level")] == 0.0 and missing[KEYS.index("audio.level")] == 1.0
    assert missing[KEYS.index("text.words")] == 1.0 and missing[KEYS.index("visual.detail")] == 0.0
    assert list(presence) == [1.0, 0.0, 0.0]  # visual present; audio and text not measured


def test_far_outside_values_are_clipped():
    enc = _encoder()
    x = enc.encode_rows([{"visual.detail": 1e9}])[0]
    assert x[KEYS.index("visual.detail")] == pytest.approx(M.Z_CLIP)


def test_round_trip_gives_the_same_predictions(tmp_path):
    path = _fixed_model(tmp_path)
    m = M.load_model(str(path), feature_keys=KEYS)
    mods, category, conf = m.predict(FeatureVector(values={"visual.detail": 2.0, "audio.level": -14.0, "text.words": 4.0}))
    assert mods == {"visual": pytest.approx(80.0, abs=0.1), "audio": pytest.approx(60.0, abs=0.1), "text": pytest.approx(40.0, abs=0.1)}
    assert category == M.CATEGORIES[2]
    # softmax of logits (3, 0, 0, 0, 0, 0): e^3 / (e^3 + 5)
    assert conf == pytest.approx(math.exp(3) / (math.exp(3) + 5), abs=1e-3)
    assert m.name.startswith("fixed@1+")
    assert M.load_model(str(path), feature_keys=KEYS) is m  # loaded once per process


def test_a_loaded_model_computes_what_the_torch_network_computes(tmp_path):
    """Loading gives a numpy network (no torch import when scoring); with random weights and inputs its outputs
    equal the torch network's that was saved, and fine-tuning gets the same tensors back."""
    enc = _encoder()
    torch.manual_seed(3)
    net = M.build_net(enc.n_inputs, len(M.CATEGORIES))
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.5)
    net.eval()
    m = M.load_model(str(M.save_model(tmp_path / "random.safetensors", net, enc, name="random",
                                      categories=M.CATEGORIES)), feature_keys=KEYS)
    assert isinstance(m.net, M.NumpyNet)
    x = np.random.default_rng(4).normal(size=(40, enc.n_inputs)).astype(np.float32)
    q, logits = m.net(x)
    with torch.inference_mode():
        tq, tlogits = net(torch.from_numpy(x))
    assert q.shape == (40, 3) and logits.shape == (40, len(M.CATEGORIES))
    assert np.abs(q - tq.numpy()).max() < 1e-3  # 0-100 scale, float32
    assert np.abs(logits - tlogits.numpy()).max() < 1e-4
    assert float(np.ptp(q)) > 10  # the inputs matter (random weights, spread outputs)
    back = m.net.state_dict()
    assert all(torch.equal(back[k], v) for k, v in net.state_dict().items())


def test_weights_of_the_wrong_shape_are_refused(tmp_path):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    path = _fixed_model(tmp_path, name="shapes")
    tensors = load_file(str(path))
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    tensors["net.body.2.weight"] = tensors["net.body.2.weight"][:, :-1].copy()
    save_file(tensors, str(path), metadata=meta)
    side = path.with_suffix(".json")
    side.write_text(side.read_text().replace(json_sha(side), M.file_sha256(path)))
    with pytest.raises(ModelError) as err:
        M.load_model(str(path), feature_keys=KEYS)
    assert err.value.kind == "model_invalid" and "body.2.weight" in err.value.message


def json_sha(side) -> str:
    import json

    return json.loads(side.read_text())["sha256"]


def test_scoring_a_clip_does_not_import_torch(good_clip, tmp_path):
    """torch costs 1-3 s of every process's start; a loaded model scores in numpy."""
    import os
    import subprocess
    import sys

    code = ("import sys; from engine import cli; rc = cli.main(['score', sys.argv[1], '--json', '--no-ocr', "
            "'--no-cache', '--model', 'default']); print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)")
    env = dict(os.environ, BYTEME_DATA_DIR=str(tmp_path / "data"))
    r = subprocess.run([sys.executable, "-c", code, str(good_clip)], capture_output=True, text=True, env=env,
                       cwd=str(M.SHIPPED_DIR.parent), timeout=300)
    lines = r.stdout.strip().splitlines()
    assert lines and lines[-1] == "NO-TORCH 0", (r.stdout[-2000:], r.stderr[-2000:])
    assert '"category"' in r.stdout  # the model ran: it decides the category


def test_absent_modality_gets_no_score(tmp_path):
    m = M.load_model(str(_fixed_model(tmp_path)), feature_keys=KEYS)
    mods, _, _ = m.predict(FeatureVector(values={"visual.detail": 2.0, "audio.level": None}))
    assert mods["visual"] is not None and mods["audio"] is None and mods["text"] is None


def test_tier_and_category_come_from_the_model_and_the_config(tmp_path):
    cats = ("alpha", "beta", "gamma")
    m = M.load_model(str(_fixed_model(tmp_path, quality_pct=(80, 60, 40), category=1, categories=cats, name="c")), feature_keys=KEYS)
    fv = FeatureVector(values={"visual.detail": 2.0, "audio.level": -14.0, "text.words": 4.0})
    cfg = load_config(None)
    # By default the model decides only the category; quality comes from the config targets.
    s = score(fv, cfg, m)
    assert s.category == "beta" and s.model.endswith("+category:" + m.name)
    assert s.modalities["visual"] != pytest.approx(80.0, abs=0.1)
    cfg["scoring"]["quality"] = "model"
    cfg["scoring"]["weights"] = {"visual": 0.5, "audio": 0.3, "text": 0.2}
    cfg["tiers"] = {"gold": 70, "silver": 60, "bronze": 50}
    s = score(fv, cfg, m)
    # sound and text under the picture, both at full weight (60 and under): the picture's 80, lowered by each by its
    # weight's share beside the picture times the share it falls short (engine.scorer.picture_led_overall):
    # 80 x (1 - 0.3/0.8 x 20/80) x (1 - 0.2/0.7 x 40/80) = 62.1 -> silver under these thresholds
    assert s.overall == pytest.approx(80 * (1 - 0.3 / 0.8 * 20 / 80) * (1 - 0.2 / 0.7 * 40 / 80), abs=0.06)
    assert s.tier == "silver" and s.category == "beta" and s.model == m.name
    cfg["scoring"]["weights"] = {"visual": 1.0, "audio": 0.0, "text": 0.0}
    cfg["tiers"] = {"top": 79, "low": 0}
    s = score(fv, cfg, m)
    assert s.overall == pytest.approx(80.0, abs=0.2) and s.tier == "top"


def test_a_changed_file_is_refused(tmp_path):
    path = _fixed_model(tmp_path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    M.clear_cache()
    with pytest.raises(ModelError, match="changed after it was trained") as e:
        M.load_model(str(path), feature_keys=KEYS)
    assert e.value.kind == "model_tampered"


class _Boom:
    def __reduce__(self):  # would run a command if anything ever unpickled it
        return (pytest.fail, ("a pickle was executed",))


def test_a_pickled_object_is_refused_without_being_unpickled(tmp_path):
    path = _fixed_model(tmp_path)
    path.write_bytes(pickle.dumps(_Boom(), protocol=4))
    M.clear_cache()
    with pytest.raises(ModelError, match="pickled") as e:
        M.load_model(str(path), feature_keys=KEYS)
    assert e.value.kind == "model_invalid"
    torch_file = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, torch_file)
    with pytest.raises(ModelError, match="not a .safetensors file"):
        M.load_model(str(torch_file), feature_keys=KEYS)
    zip_named_safetensors = tmp_path / "zipped.safetensors"
    zip_named_safetensors.write_bytes(torch_file.read_bytes())
    with pytest.raises(ModelError, match="pickled"):
        M.load_model(str(zip_named_safetensors), feature_keys=KEYS)


def test_a_model_trained_on_other_features_is_refused(tmp_path):
    path = _fixed_model(tmp_path)
    with pytest.raises(ModelError, match="trained on other features") as e:
        M.load_model(str(path), feature_keys=KEYS + ["visual.new_metric"])
    assert e.value.kind == "model_stale" and "visual.new_metric" in e.value.message
    with pytest.raises(ModelError, match="same metrics in another order"):
        M.load_model(str(path), feature_keys=list(reversed(KEYS)))


def test_the_configs_model_that_is_refused_falls_back_to_the_targets_with_a_reason(tmp_path, capsys):
    from argparse import Namespace

    from engine.cli.common import model_for

    path = _fixed_model(tmp_path)  # trained on KEYS, which the real extractors do not produce
    model, why = M.load_model_or_fallback(str(path), load_config(None))
    assert model is None and "other features" in why and "config targets" in why
    cfg = load_config(None)
    cfg["scoring"]["model"] = str(path)  # the config's model, not one the user asked for
    assert model_for(Namespace(model=None), cfg) is None
    assert "not used" in capsys.readouterr().err
    assert M.load_model_or_fallback("none", {}) == (None, None)


def test_a_model_the_user_asked_for_that_cannot_be_used_is_an_error(tmp_path, good_clip, capsys):
    """--model naming a missing or refused model: one plain line, exit 2, nothing scored. The config's default
    model being unusable keeps the fallback (a warning, the targets decide, exit 0)."""
    from engine import cli

    refused = _fixed_model(tmp_path)  # other features than the extractors produce
    for name in (str(tmp_path / "missing.safetensors"), "no_such_model", str(refused)):
        code = cli.main(["score", str(good_clip), "--json", "--no-ocr", "--model", name])
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and err.startswith("byteme: ") and err.count("\n") == 1, (name, err)
    conf = tmp_path / "c.toml"
    conf.write_text('[scoring]\nmodel = "no_such_model"\n')
    code = cli.main(["score", str(good_clip), "--json", "--no-ocr", "--config", str(conf)])
    out, err = capsys.readouterr()
    assert code == 0 and "no_such_model" in err and "config targets" in err and '"scores"' in out




def test_a_pipe_or_folder_as_model_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # nobody writes: an open() for reading would wait forever
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    real = _fixed_model(tmp_path / "real")
    side = real.with_suffix(".json")
    side.rename(tmp_path / "saved.json")
    os.mkfifo(side)  # the metadata beside a good model is a pipe
    with hang_guard(60):
        for path in (fifo, folder, real):
            M.clear_cache()
            with pytest.raises(ModelError) as e:
                M.load_model(str(path), feature_keys=KEYS)
            assert "regular file" in e.value.message, e.value.message


def _rewrite(path, *, tensors=None, meta=None, meta_text=None) -> None:
    """Rewrite a saved model as someone who can write both files would: new tensors and/or header metadata, and a
    sidecar whose SHA-256 matches again, so the loader's checks past the checksum are what refuse it."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    old = load_file(str(path))
    with safe_open(str(path), framework="np") as f:
        header = f.metadata()
    if meta is not None:
        meta_text = json.dumps(meta)
    save_file(tensors if tensors is not None else old, str(path),
              metadata={"byteme": meta_text if meta_text is not None else header["byteme"]})
    side = path.with_suffix(".json")
    data = json.loads(side.read_text())
    data["sha256"] = M.file_sha256(path)
    side.write_text(json.dumps(data))
    M.clear_cache()


@pytest.mark.parametrize("tensor,value", [("net.body.0.weight", math.nan), ("net.quality.bias", math.inf),
                                          ("net.category.weight", -math.inf), ("net.body.2.bias", 1e30),
                                          ("scaler.mean", math.nan), ("scaler.scale", math.inf),
                                          ("scaler.scale", 0.0), ("scaler.scale", -1.0), ("scaler.active", 7)])
def test_non_finite_weights_or_scaler_values_are_refused(tmp_path, tensor, value):
    from safetensors.numpy import load_file

    path = _fixed_model(tmp_path)
    tensors = load_file(str(path))
    t = tensors[tensor].copy()
    t.flat[0] = value
    tensors[tensor] = t
    _rewrite(path, tensors=tensors)
    with pytest.raises(ModelError) as e:
        M.load_model(str(path), feature_keys=KEYS)
    assert e.value.kind == "model_invalid" and ("finite" in e.value.message or "above 0" in e.value.message)


@pytest.mark.parametrize("field,value", [(None, []), (None, "text"), (None, 5), ("format", 1), ("name", 5),
                                         ("name", None), ("version", []), ("feature_keys", 5),
                                         ("feature_keys", "visual.detail"), ("feature_keys", [1, 2]),
                                         ("feature_keys", {"a": 1}), ("categories", "abc"), ("categories", []),
                                         ("categories", [1, 2, 3, 4, 5, 6]), ("categories", ["a"] * 6),
                                         ("categories", None)])
def test_metadata_of_the_wrong_type_is_a_plain_model_error(tmp_path, field, value):
    path = _fixed_model(tmp_path)
    meta = json.loads(_header_meta(path))
    if field is None:
        meta = value
    else:
        meta[field] = value
    _rewrite(path, meta=meta)
    with pytest.raises(ModelError):
        M.load_model(str(path), feature_keys=KEYS)


def _header_meta(path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        return f.metadata()["byteme"]


@pytest.mark.parametrize("sidecar", ["[]", '"x"', "5", '{"sha256": 5}', "{", '{"sha256": []}', "[" * 100_000])
def test_a_sidecar_of_the_wrong_type_is_a_plain_model_error(tmp_path, sidecar):
    path = _fixed_model(tmp_path)
    path.with_suffix(".json").write_text(sidecar)
    M.clear_cache()
    with pytest.raises(ModelError):
        M.load_model(str(path), feature_keys=KEYS)


def test_training_never_saves_a_non_finite_model(tmp_path):
    enc = _encoder()
    net = M.build_net(enc.n_inputs, len(M.CATEGORIES))
    with torch.no_grad():
        net.body[0].weight[0, 0] = math.nan
    with pytest.raises(ModelError, match="not finite"):
        M.save_model(tmp_path / "nan.safetensors", net, enc, name="nan", categories=M.CATEGORIES)
    assert not (tmp_path / "nan.safetensors").exists() and not (tmp_path / "nan.json").exists()


# -- fuzz: random bytes, truncations and bit flips of a real saved model and its metadata ------------------------

#: Cases of the loader fuzz: a few hundred (seeded) run in seconds and reach the header, the tensors and the JSON.
MODEL_FUZZ_CASES = 300
MODEL_FUZZ_SEED = 6


def _mutate(data: bytes, rng: random.Random, focus: int) -> bytes:
    """One random change: truncation, bit flips (often inside the first ``focus`` bytes: the header), random bytes
    over a slice, inserted bytes, or all random."""
    b = bytearray(data)
    kind = rng.choice(["truncate", "flip", "flip", "overwrite", "insert", "random"])
    if kind == "truncate" or not b:
        return bytes(b[: rng.randint(0, max(0, len(b) - 1))])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(min(len(b), focus)) if rng.random() < 0.6 else rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == "overwrite":
        i = rng.randrange(len(b))
        n = rng.randint(1, 64)
        b[i : i + n] = rng.randbytes(n)
        return bytes(b)
    if kind == "insert":
        i = rng.randrange(len(b))
        return bytes(b[:i] + rng.randbytes(rng.randint(1, 64)) + b[i:])
    return rng.randbytes(rng.randint(0, 4096))


def test_fuzz_the_model_loader_gives_only_model_errors(tmp_path):
    import struct

    src = _fixed_model(tmp_path / "src")
    weights, sidecar = src.read_bytes(), src.with_suffix(".json").read_bytes()
    header_end = 8 + struct.unpack("<Q", weights[:8])[0]
    path = tmp_path / "fuzz" / "fuzzed.safetensors"
    path.parent.mkdir()
    rng = random.Random(MODEL_FUZZ_SEED)
    seen = {"refused": 0, "loaded": 0}
    fv = FeatureVector(values={"visual.detail": 2.0, "audio.level": -14.0, "text.words": 4.0})
    for case in range(MODEL_FUZZ_CASES):
        target = rng.choice(["weights", "weights", "sidecar", "both"])
        w = _mutate(weights, rng, header_end) if target in ("weights", "both") else weights
        side = _mutate(sidecar, rng, len(sidecar)) if target in ("sidecar", "both") else sidecar
        if target == "weights" and rng.random() < 0.7:  # re-signed: the checks past the checksum must hold
            data = json.loads(sidecar)
            data["sha256"] = hashlib.sha256(w).hexdigest()
            side = json.dumps(data).encode()
        path.write_bytes(w)
        path.with_suffix(".json").write_bytes(side)
        M.clear_cache()
        try:
            m = M.load_model(str(path), feature_keys=KEYS)
        except ModelError as exc:
            assert exc.message and "Traceback" not in exc.message
            seen["refused"] += 1
            continue
        mods, category, conf = m.predict(fv)  # whatever loads scores with finite numbers
        assert all(v is None or math.isfinite(v) for v in mods.values()) and math.isfinite(conf), case
        assert isinstance(category, str)
        seen["loaded"] += 1
    assert seen["refused"] > MODEL_FUZZ_CASES // 2, seen


def test_unknown_model_name_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="No model named 'nosuch'") as e:
        M.load_model("nosuch", {})
    assert e.value.kind == "model_not_found"


def test_retrained_weights_get_a_new_version(tmp_path):
    a = M.load_model(str(_fixed_model(tmp_path, quality_pct=(80, 60, 40), name="a")), feature_keys=KEYS)
    b = M.load_model(str(_fixed_model(tmp_path, quality_pct=(81, 60, 40), name="b")), feature_keys=KEYS)
    assert a.meta["version"] != b.meta["version"]


def test_shipped_default_matches_the_current_extractors():
    """The shipped model must load against today's metric keys; if this fails, run
    `python -m engine.train.build_default` (features changed since it was trained)."""
    if not (M.SHIPPED_DIR / "default.safetensors").is_file():
        pytest.skip("no shipped default model yet")
    m = M.load_model("default", load_config(None))
    assert m.feature_keys == M.current_feature_keys()
    fv = FeatureVector(values={k: None for k in m.feature_keys})
    fv.values["visual.sharpness"] = 0.9
    mods, cat, conf = m.predict(fv)
    assert 0 <= mods["visual"] <= 100 and cat in M.CATEGORIES and 0 < conf <= 1


def test_decide_category_calibrates_and_says_other_when_the_evidence_is_weak():
    cats = list(M.CATEGORIES)  # talking_head, music_dance, tutorial_text, gameplay_screen, scenic_broll, other
    strong = np.array([0.90, 0.02, 0.02, 0.02, 0.02, 0.02])
    weak = np.array([0.40, 0.25, 0.15, 0.10, 0.06, 0.04])
    assert M.decide_category(strong, cats) == ("talking_head", 0.9)  # defaults: the network's own answer
    assert M.decide_category(weak, cats) == ("talking_head", 0.4)
    # Temperature 2: p_i^(1/2) renormalised; the order stays, the top probability drops.
    root = np.sqrt(weak) / np.sqrt(weak).sum()
    assert M.decide_category(weak, cats, temperature=2.0) == ("talking_head", pytest.approx(round(root[0], 3)))
    # Under the threshold: "other", with its own low probability, not a confident wrong word.
    name, conf = M.decide_category(weak, cats, temperature=2.0, min_confidence=0.5)
    assert name == "other" and conf == pytest.approx(round(root[5], 3)) and conf < 0.2
    assert M.decide_category(strong, cats, temperature=2.0, min_confidence=0.5)[0] == "talking_head"
    # A model without an "other" head still answers "other" (confidence 0) rather than guess.
    assert M.decide_category(np.array([0.5, 0.5]), ["a", "b"], min_confidence=0.6) == ("other", 0.0)


def test_the_shipped_config_says_other_with_low_confidence_on_weak_evidence():
    """A clip the default model cannot place (every feature missing: the encoder's mean clip) is "other", with a
    confidence under the config threshold; the network alone would name a category."""
    if not (M.SHIPPED_DIR / "default.safetensors").is_file():
        pytest.skip("no shipped default model yet")
    cfg = load_config(None, use_user_file=False)
    m = M.load_model("default", cfg)
    fv = FeatureVector(values={k: None for k in m.feature_keys})
    fv.values["visual.sharpness"] = 0.6
    _, raw, raw_conf = m.predict(fv)
    s = score(fv, cfg, m)
    assert s.category == "other" and s.category_confidence < cfg["category"]["min_confidence"], (raw, raw_conf, s)
