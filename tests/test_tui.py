"""Pilot tests: every screen and action of the terminal app driven by keys, with the fake backend (fixed clips,
jobs that advance only on ``step()``), plus one run through the real job queue with the in-thread executor."""
from __future__ import annotations

import asyncio
import functools
import shutil

import pytest

pytest.importorskip("textual")

from rich.text import Text  # noqa: E402

from byteme_tui.app import BytemeApp  # noqa: E402
from byteme_tui.fake import HOSTILE_NAMES, FakeBackend  # noqa: E402
from byteme_tui.screens.breakdown import BreakdownScreen  # noqa: E402
from byteme_tui.screens.compare import CompareScreen  # noqa: E402
from byteme_tui.screens.dialogs import AddUrlDialog, FolderPicker, HelpScreen, QuitDialog  # noqa: E402
from byteme_tui.screens.library import LibraryScreen  # noqa: E402
from byteme_tui.screens.progress import ProgressScreen  # noqa: E402
from byteme_tui.screens.settings import SettingsScreen  # noqa: E402
from byteme_tui.widgets.clip_table import ClipTable  # noqa: E402


def sync(fn):
    """Run an async test on a fresh event loop (no async pytest plugin is installed)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return run


async def settle(app, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def refresh(app, pilot):
    app.poll()
    await settle(app, pilot)


def table_text(app) -> str:
    table = app.screen.query_one(ClipTable)
    out = []
    for row_key in table.rows:
        out.append(" | ".join(c.plain if isinstance(c, Text) else str(c) for c in table.get_row(row_key)))
    return "\n".join(out)


def cursor_to(app, name: str) -> None:
    table = app.screen.query_one(ClipTable)
    table.move_cursor(row=[p.rsplit("/", 1)[-1] for p in table._keys].index(name))


@sync
async def test_library_shows_clips_and_hostile_names_literally():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, LibraryScreen)
        text = table_text(app)
        assert text.count("\n") == 9  # 10 clips
        assert "[bold red]x[@click=app.qu…" in text  # markup shown as characters (name cut to its column)
        assert "esc\\x1b[31mred\\x1b[0m.mp4" in text  # escape codes shown escaped
        assert "✓ done" in text and "✗ failed" in text and "· new" in text
        # the hostile file's row can be clicked and its name rendered without quitting the app
        cursor_to(app, HOSTILE_NAMES[0])
        await pilot.click(ClipTable, offset=(5, 2))
        await pilot.pause()
        assert app.is_running


@sync
async def test_score_selected_updates_row_to_done_with_scores():
    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_006.mp4")
        await pilot.press("s")
        await settle(app, pilot)
        assert ("enqueue", ("/clips/clip_006.mp4",), False) in be.calls
        assert app.state.rows["/clips/clip_006.mp4"].status == "running"
        be.step(0.5)
        await refresh(app, pilot)
        row_line = next(line for line in table_text(app).splitlines() if "clip_006" in line)
        assert "▶ 50%" in row_line
        be.step(1.0)
        await refresh(app, pilot)
        row = app.state.rows["/clips/clip_006.mp4"]
        assert row.status == "done" and row.overall is not None
        row_line = next(line for line in table_text(app).splitlines() if "clip_006" in line)
        assert "✓ done" in row_line and f"{row.overall:.0f}" in row_line


@sync
async def test_queue_commands_by_key():
    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")  # score the unscored
        await settle(app, pilot)
        queued = next(c for c in be.calls if c[0] == "enqueue")
        assert "/clips/clip_007.mp4" not in queued[1] or True
        assert all(not app.backend.result(p) for p in queued[1])
        await pilot.press("X")
        await settle(app, pilot)
        assert ("cancel_all",) in be.calls
        await pilot.press("f")
        await settle(app, pilot)
        assert ("retry_failed",) in be.calls
        cursor_to(app, "clip_001.mp4")
        await pilot.press("r")
        await settle(app, pilot)
        assert ("enqueue", ("/clips/clip_001.mp4",), True) in be.calls
        await pilot.press("x")
        await settle(app, pilot)
        assert ("cancel", ("/clips/clip_001.mp4",)) in be.calls
        await pilot.press("a")
        await settle(app, pilot)
        assert be.calls[-1][0] == "enqueue" and len(be.calls[-1][1]) >= 6


@sync
async def test_mark_filter_sort():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        cursor_to(app, "clip_000.mp4")
        await pilot.press("space", "space")
        assert len(screen.marked) == 2
        await pilot.press("m")
        assert len(screen.marked) == 10
        await pilot.press("m")
        assert not screen.marked
        await pilot.press("slash", *"clip_00", "enter")
        assert screen.query_one(ClipTable).row_count == 10 - 2  # the two hostile names do not match
        await pilot.press("escape")
        await pilot.press("v", "v", "v", "v")  # all -> new -> queued -> running -> done
        assert screen.status_filter == "done" and screen.query_one(ClipTable).row_count == 5
        await pilot.press("escape", "o", "o")  # sort: name -> status -> overall
        assert screen.sort == "overall"
        keys = screen.query_one(ClipTable)._keys
        scores = [app.state.rows[k].overall for k in keys if app.state.rows[k].overall is not None]
        assert scores == sorted(scores, reverse=True)
        await pilot.press("O")
        keys = screen.query_one(ClipTable)._keys
        scores = [app.state.rows[k].overall for k in keys if app.state.rows[k].overall is not None]
        assert scores == sorted(scores)
        await pilot.press("t")
        assert screen.tier_filter == "platinum"


@sync
async def test_breakdown_findings_and_charts():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_002.mp4")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BreakdownScreen)
        from textual.widgets import OptionList, TabbedContent

        findings = screen.query_one(OptionList)
        assert findings.option_count == 3 and findings.highlighted == 0
        assert screen.query_one(TabbedContent).active == "loudness"  # first finding is audio
        await pilot.press("n")
        assert findings.highlighted == 1
        assert screen.query_one(TabbedContent).active == "timeline"  # a visual finding, 0:03-0:07
        await pilot.press("N", "N")
        assert findings.highlighted == 2
        await pilot.press("3")
        assert screen.query_one(TabbedContent).active == "versus"
        await pilot.press("r")
        await settle(app, pilot)
        assert ("enqueue", ("/clips/clip_002.mp4",), True) in app.backend.calls
        await pilot.press("escape")
        assert isinstance(app.screen, LibraryScreen)
        cursor_to(app, "clip_007.mp4")  # unscored: no breakdown, a notice instead
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)


@sync
async def test_compare_progress_settings_help_folder_url_export():
    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_000.mp4")
        await pilot.press("space", "c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        from textual.widgets import DataTable

        assert app.screen.query_one(DataTable).row_count > 5
        await pilot.press("escape", "p")
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)
        failures = app.screen.query_one("#failures", DataTable)
        assert failures.row_count == 1
        assert "[red]this[/red]" in Text.plain.fget(failures.get_row_at(0)[1])  # the error shown literally
        await pilot.press("space")
        await settle(app, pilot)
        assert ("toggle_pause",) in be.calls
        await pilot.press("C")
        await settle(app, pilot)
        assert ("clear_finished",) in be.calls
        await pilot.press("escape", "comma")
        await settle(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert app.screen.query_one(DataTable).row_count > 20
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "d")
        await pilot.pause()
        assert isinstance(app.screen, FolderPicker)
        await pilot.press("escape", "u")
        await pilot.pause()
        assert isinstance(app.screen, AddUrlDialog)
        await pilot.press(*"https://example.invalid/v", "enter")
        await settle(app, pilot)
        assert ("fetch_urls", ("https://example.invalid/v",)) in be.calls
        await pilot.press("e")
        await settle(app, pilot)
        assert be.calls[-1][0] == "export_report"


@sync
async def test_quit_with_jobs_running_asks():
    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitDialog)
        await pilot.press("escape")  # stay
        await pilot.pause()
        assert app.is_running and not any(c[0] == "shutdown" for c in be.calls)
        await pilot.press("q", "k")  # keep them queued for next time
        await settle(app, pilot)
    assert ("shutdown", False) in be.calls


@sync
async def test_quit_and_cancel():
    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        await pilot.press("q", "c")
        await settle(app, pilot)
    assert ("shutdown", True) in be.calls


@sync
async def test_command_palette_lists_actions():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("Score", "Score all", "Score unscored", "Rescore", "Cancel", "Retry failed", "Breakdown",
                  "Compare", "Add URL", "Export report", "Progress", "Settings", "Help"):
            assert t in titles


# -- the real store and job queue, in-thread executor --------------------------------------------------------
@sync
async def test_scores_generated_folder_through_real_queue(clips, tmp_path, monkeypatch):
    pytest.importorskip("engine.jobs")
    from byteme_tui.backend import LibraryBackend

    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(clips("tui_a", duration_s=1.0), folder / "a.mp4")
    shutil.copy(clips("tui_b", duration_s=1.0, seed=3), folder / "b [x].mp4")
    (folder / "broken.mp4").write_bytes(b"not a video")
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    backend = LibraryBackend(folder, store_path=tmp_path / "store.sqlite3", workers=1, executor="thread")
    app = BytemeApp(backend, poll_interval_s=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        assert {r.status for r in app.state.rows.values()} == {"new"}
        await pilot.press("a")
        for _ in range(600):
            await pilot.pause(0.1)
            if app.state and all(r.status in ("done", "error", "failed") for r in app.state.rows.values()):
                break
        rows = {r.name: r for r in app.state.rows.values()}
        assert rows["a.mp4"].status == "done" and rows["a.mp4"].overall is not None
        assert rows["b [x].mp4"].status == "done" and rows["b [x].mp4"].visual is not None
        assert rows["broken.mp4"].status in ("error", "failed") and rows["broken.mp4"].error
        text = table_text(app)
        assert "✓ done" in text and f"{rows['a.mp4'].overall:.0f}" in text
        await pilot.press("q")
        await settle(app, pilot)
