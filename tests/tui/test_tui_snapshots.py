"""Snapshot tests (pytest-textual-snapshot) of the library, progress, breakdown and settings screens at 80x24 and 120x40,
with the fake backend's fixed data: no clocks (Header without clock), no polling, workers waited for. Update
after a deliberate layout change with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update``."""
from __future__ import annotations

import pytest

pytest.importorskip("pytest_textual_snapshot")

from byteme_tui.app import BytemeApp  # noqa: E402
from fake_backend import FakeBackend  # noqa: E402

SIZES = [(80, 24), (120, 40)]


def make_app(running: bool = False) -> BytemeApp:
    be = FakeBackend()
    if running:
        be.enqueue(["/clips/clip_006.mp4", "/clips/clip_007.mp4", "/clips/clip_003.mp4"])
        be.step(0.4)
    return BytemeApp(be, poll_interval_s=None)



def _run_before(*keys):
    async def run(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        for inp in pilot.app.screen.query("Input"):
            inp.cursor_blink = False
    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_library_layout(snap_compare, size):
    assert snap_compare(make_app(running=True), terminal_size=size, run_before=_run_before())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_progress_layout(snap_compare, size):
    assert snap_compare(make_app(running=True), terminal_size=size, run_before=_run_before("p"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_breakdown_layout(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=_run_before("down", "enter", "n"))


def test_breakdown_provisional_layout(snap_compare):
    """The breakdown of a clip still running (clip_007, 40% analysed): its provisional verdict, marked."""
    be = FakeBackend(provisional=True)
    be.enqueue(["/clips/clip_007.mp4"])
    be.step(0.4)
    app = BytemeApp(be, poll_interval_s=None)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_run_before(*["down"] * 8, "enter"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_settings_layout(snap_compare, size, monkeypatch):
    monkeypatch.setenv("BYTEME_CONFIG", "/home/creator/.config/byteme/config.toml")  # the path the pane names
    assert snap_compare(make_app(), terminal_size=size, run_before=_run_before("comma", "down", "down"))
