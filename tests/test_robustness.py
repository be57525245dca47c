"""Issue 20: bad names, bad stores, unwritable outputs and hostile text give a plain message and an honest exit
code; never a traceback, a hang, or a clip that silently disappears."""
from __future__ import annotations

import base64
import csv
import errno
import json
import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from engine import cli, media
from engine.errors import StoreError
from engine.store import Store


@pytest.fixture()
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("BYTEME_DATA_DIR", str(d))
    monkeypatch.delenv("BYTEME_STORE", raising=False)
    return d


# -- 1. a folder named like a clip -----------------------------------------------------------------------------

def test_folder_named_like_a_clip_is_walked_by_the_scan_and_the_queue(tmp_path, good_clip, data_dir, capsys):
    root = tmp_path / "r"
    (root / "x.mp4").mkdir(parents=True)
    shutil.copy(good_clip, root / "good.mp4")
    shutil.copy(good_clip, root / "x.mp4" / "inner.mp4")
    found = list(media.iter_clips([root]))
    assert found == [root / "good.mp4", root / "x.mp4" / "inner.mp4"]
    assert list(media.iter_clips(found)) == found  # what the job queue does with them
    code = cli.main(["score", str(root), "--workers", "1", "--executor", "thread", "--json", "--no-ocr"])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert sorted(Path(r["path"]).name for r in rows) == ["good.mp4", "inner.mp4"]
    assert all(r["status"] == "ok" for r in rows)
