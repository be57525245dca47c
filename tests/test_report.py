"""Reports: HTML (one page per clip + a ranked library page, inline SVG, no JavaScript, everything escaped),
Markdown, CSV and JSON Lines; the HTML rendered in headless Chromium when it is installed."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from engine import synth, library
from engine.cli import main
from engine.config import load_config
from engine.report import write_report
from engine.store import Store

HOSTILE_NAME = '<b onmouseover="x">&amp; \x1b[31mred.mp4'
#: Chromium flags for a headless, offline, throwaway run (no GPU, no sandbox in containers, no network chatter).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--enable-logging=stderr", "--v=0")


@pytest.fixture(scope="module")
def cfg():
    return load_config(use_user_file=False)


@pytest.fixture(scope="module")
def results(clips, cfg, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report_clips")
    hostile = folder / HOSTILE_NAME
    shutil.copy(clips("good"), hostile)
    scene = synth.scene_sequence(width=360, height=640, seed=2)
    dark = clips("report_dark", duration_s=2.0, video=lambda i, t: (scene(i, t) * 0.25).astype(np.uint8))
    store = Store(folder / "store.sqlite3")
    out = [library.analyze(p, cfg, store=store, options={"ocr": False}) for p in (hostile, dark)]
    store.close()
    assert all(r.ok for r in out)
    return out


def test_html_report_has_pages_charts_and_escapes_file_text(results, cfg, tmp_path):
    index = write_report(results, tmp_path / "rep", "html", cfg)
    pages = sorted((tmp_path / "rep").glob("clip-*.html"))
    assert index.name == "index.html" and len(pages) == 2
    text = index.read_text()
    assert "<script" not in text.lower()
    assert '<b onmouseover' not in text and "&lt;b onmouseover=&quot;x&quot;&gt;&amp;amp;" in text
    assert "\x1b" not in text and "\\x1b" in text
    # ranked by overall score: the well-exposed clip first
    assert text.index("clip-0001.html") < text.index("clip-0002.html")
    best = max(results, key=lambda r: r.scores.overall)
    first_page = (tmp_path / "rep" / "clip-0001.html").read_text()
    assert "red.mp4" in first_page if best is results[0] else "report_dark" in first_page
    for page in pages:
        html = page.read_text()
        assert "<script" not in html.lower() and "\x1b" not in html
        assert html.count("<svg") >= 4  # scores, retention strip, loudness, visual timeline
        assert 'class="target-band"' in html and "risk-" in html and "Hook (first 3 s)" in html


def test_markdown_csv_and_json_reports(results, cfg, tmp_path):
    md = write_report(results, tmp_path / "r.md", "md", cfg).read_text()
    assert md.startswith("# BYTEME library report") and "**Hook:**" in md and "\x1b" not in md
    assert "<b onmouseover" not in md
    with open(write_report(results, tmp_path / "r.csv", "csv", cfg), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert all(r["hook"] not in ("", None) and r["rewards_verdict"] in ("pass", "fail", "unknown") for r in rows)
    lines = write_report(results, tmp_path / "r.json", "json", cfg).read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    assert {"path", "scores", "feedback", "insights"} <= set(objs[0])
    assert objs[0]["insights"]["hook"]["score"] == results[0].scores.extra["hook"]


def test_report_command(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "cmd.csv"
    code = main(["report", str(clips("good")), "--format", "csv", "--out", str(out), "--no-ocr", "--model", "none",
                 "--store", str(tmp_path / "s.sqlite3")])
    assert code == 0 and out.read_text().startswith("rank,path,status")


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_renders_in_headless_chromium(results, cfg, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    write_report(results, tmp_path / "rep", "html", cfg)
    for page in ("index.html", "clip-0001.html"):
        url = (tmp_path / "rep" / page).as_uri()
        profile = tmp_path / f"profile-{page}"
        run = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        dom = run.stdout
        assert "</html>" in dom.lower()
        console = [ln for ln in run.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
        assert console == [], console
        if page == "clip-0001.html":
            assert dom.count("<svg") >= 4 and "<polyline" in dom and "risk-" in dom
        else:
            assert "BYTEME library report" in dom and "clip-0002.html" in dom
    shot = tmp_path / "shot.png"
    run = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile-shot'}",
                          "--window-size=1000,1600", f"--screenshot={shot}",
                          (tmp_path / "rep" / "clip-0001.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("BYTEME_KEEP_SHOT"):
        shutil.copy(shot, os.environ["BYTEME_KEEP_SHOT"])
