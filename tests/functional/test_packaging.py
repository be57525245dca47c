"""A regular (non-editable) install carries everything the product ships: ``pip install .`` into a fresh venv,
then ``byteme score`` on a clip uses the shipped config and the shipped default model (package data)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Upper bound for the install and the scoring run on a loaded 2-core machine (a guard against a hang, not a timing).
RUN_GUARD_S = 600


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_scores_with_the_shipped_model(tmp_path, good_clip):
    src = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    for name in ("engine", "byteme_tui"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The third-party dependencies come from the test run's own environment (offline, no multi-GB torch download):
    # a plain path entry, so its .pth files (the checkout's editable install among them) are not processed.
    Path(site, "byteme-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BYTEME_STORE")}
    env["BYTEME_DATA_DIR"] = str(tmp_path / "data")
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                              "--no-index", str(src)], capture_output=True, text=True, env=env, timeout=RUN_GUARD_S)
    assert install.returncode == 0, install.stderr[-3000:]
    where = subprocess.run([str(py), "-c", "import engine, engine.model as m; print(engine.__file__); "
                            "print(m.SHIPPED_DIR)"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    engine_file, shipped = where.stdout.split()
    assert Path(engine_file).is_relative_to(env_dir), engine_file  # the installed copy, not the checkout
    assert {"default.safetensors", "default.json", "MODEL_CARD.md"} <= {p.name for p in Path(shipped).iterdir()}
    run = subprocess.run([str(env_dir / "bin" / "byteme"), "score", str(good_clip), "--json", "--no-ocr"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=RUN_GUARD_S)
    assert run.returncode == 0, run.stderr[-3000:]
    line = json.loads(run.stdout)
    assert line["status"] == "ok" and line["scores"]["overall"] is not None
    assert "category:default@" in line["engine"]["model"], line["engine"]  # the shipped model decided the category
    assert "not used" not in run.stderr
    # The HTML report's templates are package data too.
    rep = subprocess.run([str(env_dir / "bin" / "byteme"), "report", str(good_clip), "--out", str(tmp_path / "rep"),
                          "--no-ocr"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=RUN_GUARD_S)
    assert rep.returncode == 0, rep.stderr[-3000:]
    assert "BYTEME library report" in (tmp_path / "rep" / "index.html").read_text()
