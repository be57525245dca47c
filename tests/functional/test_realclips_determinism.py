"""The same clip gives the same scores every run: twice in this process and once with ``--workers 2`` in another
(issue 16). On real clips from ``../shared/realclips`` (skipped when that folder is absent): a score must be a
function of the file, the config and the model, never of how busy the machine is or which process ran it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import load_config
from engine.library import analyze

REALCLIPS = Path(__file__).resolve().parents[2].parent / "shared" / "realclips"
#: Three short clips: one with on-screen text read at 10 frames and irregular frame timing (421c8b59), one with
#: a music bed (1e719ead), one with captions burned in over speech (59d4fdb6).
CLIPS = ("421c8b59e121d32a1a0efe90be07d612.mp4", "1e719ead7eaa79bcfac60dd0700a3caf.mp4",
         "59d4fdb616a9bcddc93f11dadbfa3bda.mp4")

pytestmark = pytest.mark.skipif(not all((REALCLIPS / c).is_file() for c in CLIPS),
                                reason=f"real clips not found at {REALCLIPS}")


#: What must not change from run to run: everything in a row but the path and the engine stamp.
COMPARED = ("status", "media", "scores", "tier", "category", "metrics", "feedback", "insights")


def _row(contract: dict) -> dict:
    return {k: contract[k] for k in COMPARED}


def _in_process(paths: list[Path]) -> dict[str, dict]:
    cfg = load_config(use_user_file=False)
    return {p.name: _row(json.loads(json.dumps(analyze(p, cfg, use_cache=False).contract()))) for p in paths}


def _cli(paths: list[Path], tmp_path: Path, *args: str) -> dict[str, dict]:
    env = {**os.environ, "BYTEME_CONFIG": str(tmp_path / "no-user-config.toml"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "score", *map(str, paths), "--json", "--no-cache",
                           "--store", str(tmp_path / f"store{len(args)}.sqlite"), *args],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    return {Path(r["path"]).name: _row(r) for r in rows}


def test_real_clips_score_the_same_in_process_and_with_two_workers(tmp_path):
    paths = [REALCLIPS / c for c in CLIPS]
    first, second = _in_process(paths), _in_process(paths)
    assert all(r["status"] == "ok" for r in first.values()), first
    assert first == second
    one_process = _cli(paths, tmp_path)
    workers = _cli(paths, tmp_path, "--workers", "2")
    assert set(workers) == set(first)
    assert workers == one_process
    for name, row in workers.items():  # the CLI loads the shipped model; the features do not depend on it
        assert row["metrics"] == first[name]["metrics"], name
        assert row["media"] == first[name]["media"], name
