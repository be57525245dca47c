"""Pilot tests: every screen and action of the terminal app driven by keys, with the fake backend (fixed clips,
jobs that advance only on ``step()``), plus one run through the real job queue with the in-thread executor."""
from __future__ import annotations

import asyncio
import functools
import shutil

import numpy as np
import pytest

pytest.importorskip("textual")

from rich.text import Text  # noqa: E402

from byteme_tui.app import BytemeApp  # noqa: E402
from fake_backend import HOSTILE_NAMES, FakeBackend  # noqa: E402
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


async def _workers_done(app) -> None:
    """Wait for the app's workers; a periodic poll started meanwhile cancels the poll worker waited on (``poll`` is
    exclusive): then wait for the newer one (this raised WorkerCancelled now and then in the real-queue test)."""
    from textual.worker import WorkerCancelled

    for _ in range(20):
        try:
            await app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue
    await app.workers.wait_for_complete()


async def settle(app, pilot):
    await _workers_done(app)
    await pilot.pause()
    await _workers_done(app)
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
        assert "[bold red]x[@cl….quit].mp4" in text  # markup shown as characters (name cut in its middle)
        assert "esc\\x1b[31mred\\x1b[0m.mp4" in text  # escape codes shown escaped
        assert "✓ done" in text and "✗ failed" in text and "· new" in text
        # the hostile file's row can be clicked and its name rendered without quitting the app
        cursor_to(app, HOSTILE_NAMES[0])
        await pilot.click(ClipTable, offset=(5, 2))
        await pilot.pause()
        assert app.is_running


@sync
async def test_the_clip_under_the_cursor_shows_its_whole_finding_or_error_literally():
    """The table's last column is cut below ~180 columns; the line under it shows the highlighted clip's top finding
    (or why it failed) in full, markup as characters."""
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        line = app.screen.query_one("#current")
        cursor_to(app, "clip_000.mp4")
        await pilot.pause()
        row = app.state.rows["/clips/clip_000.mp4"]
        assert row.top_finding and line.render().plain == f"clip_000.mp4: {row.top_finding}"
        cursor_to(app, "clip_005.mp4")  # the failed one
        await pilot.pause()
        assert line.render().plain == "clip_005.mp4: media.unreadable: FFmpeg could not read [red]this[/red] file"
        cursor_to(app, "clip_006.mp4")  # not scored yet: nothing to say
        await pilot.pause()
        assert line.render().plain == ""


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
        await pilot.press("space", "down", "space")
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
async def test_home_end_sort_arrow_and_marking_that_keeps_the_cursor():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen, table = app.screen, app.screen.query_one(ClipTable)
        filters = screen.query_one("#filters")
        cursor_to(app, "clip_003.mp4")
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 == 9
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("pagedown", "home")
        assert table.cursor_row == 0
        # the arrow says the order the list is in: name A first (↑); overall highest first (↓)
        assert "sort: name ↑" in filters.render().plain
        await pilot.press("o", "o")
        assert screen.sort == "overall" and "sort: overall ↓" in filters.render().plain
        scores = [app.state.rows[k].overall for k in table._keys if app.state.rows[k].overall is not None]
        assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
        await pilot.press("O")
        assert "sort: overall ↑" in filters.render().plain
        scores = [app.state.rows[k].overall for k in table._keys if app.state.rows[k].overall is not None]
        assert scores == sorted(scores)
        await pilot.press("O", "o")  # visual: highest first again
        assert screen.sort == "visual" and "sort: visual ↓" in filters.render().plain
        await pilot.press("escape")
        # space marks the clip under the cursor and leaves the cursor there; the status line names the pair
        screen.sort, screen.reverse = "name", False
        screen._render_all()
        cursor_to(app, "clip_001.mp4")
        await pilot.press("space")
        assert list(screen.marked) == ["/clips/clip_001.mp4"] and table.current_path == "/clips/clip_001.mp4"
        summary = screen.query_one("#summary")
        assert "c: mark one more, or move the cursor to another clip" in summary.render().plain
        await pilot.press("down", "down")
        assert "c compares clip_001.mp4 with clip_003.mp4" in summary.render().plain
        await pilot.press("space")  # two marked: the cursor no longer matters
        await pilot.press("up")
        assert "c compares clip_001.mp4 with clip_003.mp4" in summary.render().plain
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert (app.screen.a, app.screen.b) == ("/clips/clip_001.mp4", "/clips/clip_003.mp4")
        await pilot.press("escape")
        cursor_to(app, "clip_004.mp4")
        await pilot.press("space")  # a third: c asks to unmark instead of guessing
        assert "c compares two: unmark some (space)" in summary.render().plain
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)


@sync
async def test_search_looks_through_every_finding_caption_and_category():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen, table = app.screen, app.screen.query_one(ClipTable)

        async def search(text: str) -> set[str]:
            field = screen.query_one("#filter")
            field.value = text
            await pilot.pause()
            return {p.rsplit("/", 1)[-1] for p in table._keys}

        scored = {f"clip_00{i}.mp4" for i in range(5)}
        # a finding that is never the top one: its message and its code
        assert all("dead air" not in (app.state.rows[f"/clips/{n}"].top_finding or "") for n in scored)
        assert await search("dead air") == scored
        assert await search("Retention.RISK") == scored
        assert await search("too_quiet") == scored  # a finding's code, not only its message
        assert await search("sourdough") == {"clip_000.mp4", "clip_002.mp4", "clip_004.mp4"}  # captions
        assert await search("tutorial") == {"clip_001.mp4"}  # the category
        assert await search("could not read") == {"clip_005.mp4"}  # the error of a failed clip
        assert await search("clip_007") == {"clip_007.mp4"}  # names still match
        assert await search("nothing matches this") == set()


def strip_text(screen) -> str:
    from byteme_tui.widgets.insights import RetentionStrip, strip_lines

    w = screen.query_one(RetentionStrip)
    return strip_lines(w.seconds, 80, w.span, w.selected).plain


@sync
async def test_breakdown_findings_strip_and_insights():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_002.mp4")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BreakdownScreen)
        from textual.widgets import OptionList, Static, TabbedContent

        findings = screen.query_one(OptionList)
        charts, detail = screen.query_one("#charts", TabbedContent), screen.query_one("#detail", TabbedContent)
        assert findings.option_count == 5 and findings.highlighted == 0
        assert charts.active == "loudness"  # the first finding is audio, whole clip: no span on the strip
        assert "═" not in strip_text(screen).splitlines()[1]
        await pilot.press("n")  # retention risk, dead air 0:06-0:08
        lines = strip_text(screen).splitlines()
        risk = lines[0][len("risk "):]
        per = len(risk) // 12  # 12 s clip: characters per second
        assert risk[6 * per:8 * per] == "█" * 2 * per and risk[:per] in ("▁" * per, "▄" * per)
        marker = lines[1][len("risk "):]
        assert marker[6 * per:7 * per] == "▲" * per and marker[7 * per:8 * per] == "═" * per  # span shown
        assert marker[:6 * per].strip() == "" and marker[8 * per:].strip() == ""
        assert lines[2].startswith("0:06 █ high risk 0.50: dead air")
        await pilot.press("right")
        assert strip_text(screen).splitlines()[2].startswith("0:07 █ high")
        await pilot.press("n")  # visual, 0:03-0:07
        assert charts.active == "timeline" and detail.active == "metrics"
        assert strip_text(screen).splitlines()[2].startswith("0:03 ")
        await pilot.press("n", "n")  # the hook finding: its tab opens
        assert detail.active == "hook"
        hook = screen.query_one("#hook-text", Static).render().plain
        assert "Hook, first 3 s: 62 fair" in hook and "✗  20 Something happens on screen" in hook
        await pilot.press("w")
        rewards = screen.query_one("#rewards-text", Static).render().plain
        assert "TikTok Creator Rewards Program (active preset): ✗ fail" in rewards
        assert "✓ pass" in rewards and "? unknown" in rewards and "(recommended)" in rewards
        assert "source: TikTok Creator Rewards terms" in rewards
        await pilot.press("o")
        orig = screen.query_one("#originality-text", Static).render().plain
        assert "✗ near-duplicate of /clips/[red]copy[/red].mp4  93%" in orig  # outside text shown literally
        await pilot.press("N")
        assert findings.highlighted == 3
        await pilot.press("3")
        assert charts.active == "versus"
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
async def test_breakdown_short_terminal_shows_charts_on_demand():
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_001.mp4")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        main, charts = screen.query_one("#main"), screen.query_one("#charts")
        assert screen.has_class("-short") and main.display and not charts.display
        await pilot.press("2")
        await pilot.pause()
        assert charts.display and not main.display
        await pilot.press("escape")  # back to the lists, not out of the breakdown
        await pilot.pause()
        assert isinstance(app.screen, BreakdownScreen) and main.display and not charts.display
        await pilot.press("escape")
        assert isinstance(app.screen, LibraryScreen)


@sync
async def test_compare_progress_settings_help_folder():
    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_000.mp4")
        await pilot.press("space", "down", "c")
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
        await pilot.press("escape")


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@sync
async def test_export_report_writes_html_in_a_worker(tmp_path):
    be = FakeBackend(report=True)
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        from textual.widgets import Input

        from byteme_tui.screens.dialogs import ExportDialog

        assert isinstance(app.screen, ExportDialog)
        field = app.screen.query_one(Input)
        assert field.value == "/clips/byteme-report"  # the default, inside the library folder
        field.value = str(tmp_path / "my report")
        await pilot.press("enter")
        await settle(app, pilot)
        index = tmp_path / "my report" / "index.html"
        assert index.is_file() and len(list(index.parent.glob("clip-*.html"))) == 5
        assert "clip_002.mp4" in index.read_text()
        assert any(f"Report of 5 clip(s) written: {index}" in n for n in notices(app))
        # without scored clips (or without engine.report) the user reads why, in words
        be.report_available = False
        await pilot.press("e", "enter")
        await settle(app, pilot)
        assert any("not available" in n for n in notices(app))


@sync
async def test_add_url_shows_live_progress_then_queues(tmp_path):
    import threading

    from textual.widgets import Static

    be = FakeBackend(folder=str(tmp_path))
    be.fetch_gate = threading.Semaphore(0)
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AddUrlDialog)
        await pilot.press(*"ftp://example.invalid/a https://example.invalid/v", "enter")
        be.fetch_gate.release()  # one step of four: 25 %
        for _ in range(50):
            await pilot.pause(0.02)
            if dialog.items:
                break
        status = dialog.query_one("#fetch-status", Static)
        assert dialog.running and dialog.items["vid1"][0] == 1_000_000
        assert "25%" in status.render().plain and "1.0/4.0 MB" in status.render().plain
        be.fetch_gate.release(3)
        for _ in range(100):
            await pilot.pause(0.02)
            if not dialog.running:
                break
        await settle(app, pilot)
        text = status.render().plain
        assert "100%" in text and "✓ downloaded_1.mp4 queued for scoring" in text
        assert "✗ ftp://example.invalid/a" in text
        assert "bad_url: Only http and https addresses can be fetched; this one has 'ftp:'." in text
        queued = [c for c in be.calls if c[0] == "enqueue"]
        assert queued and queued[-1][1] == (str(tmp_path / "downloaded_1.mp4"),)
        assert app.state.rows[str(tmp_path / "downloaded_1.mp4")].status in ("queued", "running")
        await pilot.press("escape")
        assert not isinstance(app.screen, AddUrlDialog)


@sync
async def test_add_url_cancel_stops_the_download(tmp_path):
    import threading

    be = FakeBackend(folder=str(tmp_path))
    be.fetch_gate = threading.Semaphore(0)
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("u", *"https://example.invalid/v", "enter")
        await pilot.pause()
        dialog = app.screen
        await pilot.press("escape")  # cancel while it runs: the dialog stays to say so
        assert dialog.cancel.is_set() and app.screen is dialog
        be.fetch_gate.release(4)
        await settle(app, pilot)
        assert "cancelled: Cancelled by the user" in dialog.query_one("#fetch-status").render().plain
        assert not any(c[0] == "enqueue" for c in be.calls)


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
    from engine.service import LibraryService

    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(clips("tui_a", duration_s=1.0), folder / "a.mp4")
    shutil.copy(clips("tui_b", duration_s=1.0, seed=3), folder / "b [x].mp4")
    (folder / "broken.mp4").write_bytes(b"not a video")
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    backend = LibraryService(folder, store_path=tmp_path / "store.sqlite3", workers=1, executor="thread")
    app = BytemeApp(backend, poll_interval_s=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        rows = {r.name: r for r in app.state.rows.values()}
        assert rows["a.mp4"].status == rows["b [x].mp4"].status == "new"
        # a file the header probe cannot read is shown with its error as soon as it is probed (not "new" forever)
        assert rows["broken.mp4"].status == "new" or (rows["broken.mp4"].status == "error"
                                                      and rows["broken.mp4"].error.startswith("unreadable: "))
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
        # the finished jobs stay listed with their score and the time they took, until cleared
        for _ in range(50):
            if len(app.state.finished) == 3:
                break
            await pilot.pause(0.1)
        finished = {f.name: f for f in app.state.finished}
        assert finished["a.mp4"].state == "done" and finished["a.mp4"].overall == rows["a.mp4"].overall
        assert finished["a.mp4"].tier == rows["a.mp4"].tier and finished["a.mp4"].took_s > 0
        assert finished["broken.mp4"].overall is None  # failed (or done with an error result): no score
        app.backend.clear_finished()
        app.poll()
        await settle(app, pilot)
        assert app.state.finished == ()
        await pilot.press("q")
        await settle(app, pilot)


# -- NO_COLOR ------------------------------------------------------------------------------------------------
def _svg_colours(svg: str) -> set[str]:
    import re

    # text colours (the CSS classes) and cell backgrounds (rects); not the window chrome's coloured circles
    text = re.findall(r"-r\d+ \{ fill: (#[0-9a-fA-F]{6})", svg)
    cells = re.findall(r"<rect fill=\"(#[0-9a-fA-F]{6})\" x=", svg)
    assert text and cells
    return {c.lower() for c in text + cells}


def _grey(c: str) -> bool:
    r, g, b = int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)
    return max(r, g, b) - min(r, g, b) <= 4  # the SVG theme's default text colour is #c5c8c6


async def _breakdown_screenshot(app, pilot) -> str:
    await settle(app, pilot)
    cursor_to(app, "clip_002.mp4")
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    return app.export_screenshot()


@sync
async def test_no_color_is_honoured_and_meaning_stays_in_symbols_and_words(monkeypatch):
    from byteme_tui.widgets.insights import rewards_text, strip_lines

    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        coloured = _svg_colours(await _breakdown_screenshot(app, pilot))
    assert any(not _grey(c) for c in coloured)  # the control: with colour, some colour is drawn

    monkeypatch.setenv("NO_COLOR", "1")
    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.no_color
        await settle(app, pilot)
        library = table_text(app)
        svg = await _breakdown_screenshot(app, pilot)
        result = app.backend.result("/clips/clip_002.mp4")
        strip = strip_lines(result.scores.extra["insights"]["retention"]["seconds"], 80, (6.0, 8.0), 6).plain
    assert all(_grey(c) for c in _svg_colours(svg))  # nothing but greys reaches the terminal
    # what colour would say is in words and symbols
    assert "good" in library or "fair" in library or "poor" in library
    assert "✓ done" in library and "✗ failed" in library and "· new" in library
    assert "█" in strip and "▁" in strip and "high risk" in strip and "dead air" in strip
    rewards = rewards_text(result).plain
    assert "✗ fail" in rewards and "✓ pass" in rewards and "? unknown" in rewards
    assert "▲▲ high" in svg.replace("&#160;", " ") or "high" in svg


def test_rewards_tab_says_in_one_line_that_an_off_programme_is_not_checked():
    from byteme_tui.widgets.insights import rewards_text

    result = FakeBackend().result("/clips/clip_002.mp4")
    note = ("TikTok Creator Rewards Program: not checked ([presets.tiktok.rewards] enabled = false); the clip is not "
            "eligible anyway (12.0 s long; needs over 60 s).")
    result.scores.extra["insights"]["rewards"] = [
        {"preset": "tiktok", "label": "TikTok", "program": "TikTok Creator Rewards Program", "active": True,
         "enabled": False, "verdict": "off", "eligible": False, "note": note, "items": []}]
    text = rewards_text(result).plain
    assert "– not checked" in text and "not eligible anyway (12.0 s long; needs over 60 s)" in text
    assert "✗ fail" not in text and len(text.splitlines()) == 2


@sync
async def test_library_footer_says_folder_wide_findings_once_and_rows_keep_their_own_top_fix():
    from engine.folder import ONLY_FOLDER_WIDE

    app = BytemeApp(FakeBackend(), poll_interval_s=None)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        shared = app.screen.query_one("#shared").render().plain
        # Every fake result has loudness, retention, blur, hook findings; one clip in four a dark picture of its own.
        assert shared.startswith("Folder-wide 5 of 5 clips") and "(+" in shared and "more in the report" in shared
        rows = {r.name: r for r in app.state.rows.values()}
        assert rows["clip_003.mp4"].top_finding.startswith("Mean brightness is 21/255")
        assert rows["clip_002.mp4"].top_finding == ONLY_FOLDER_WIDE
        assert "Integrated loudness" not in table_text(app)  # the folder-wide finding is not repeated per row


# -- settings ------------------------------------------------------------------------------------------------
def settings_rows(screen) -> dict[str, tuple[str, str, str]]:
    from byteme_tui.widgets.settings_table import SettingsTable

    table = screen.query_one(SettingsTable)
    return {k.value: tuple(c.plain for c in table.get_row(k)) for k in table.rows}


@sync
async def test_settings_whole_keys_grouped_searchable_true_sources_and_saved(tmp_path, monkeypatch):
    import tomllib

    from textual.widgets import Input, RadioSet, Static

    from byteme_tui.widgets.settings_table import SettingsTable

    user_file = tmp_path / "conf" / "config.toml"
    user_file.parent.mkdir()
    user_file.write_text('[tiers]\ngold = 72\n\n[hook]\nwindow_s = 3.0\n')
    monkeypatch.setenv("BYTEME_CONFIG", str(user_file))
    be = FakeBackend(use_user_file=True)
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("comma")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        table = screen.query_one(SettingsTable)
        rows = settings_rows(screen)
        n_settings = len(table.by_key)
        assert n_settings > 300
        # grouped: a heading per section, each setting under its own section's heading
        headings = [k for k in rows if k.startswith("§")]
        assert headings[:4] == ["§engine", "§platform", "§scoring", "§tiers"] and "§targets" in headings
        keys = list(rows)
        assert keys.index("§targets") < keys.index('targets."visual.sharpness".good') < keys.index("§text")
        # whole keys at 160 columns (the longest one, 46 characters), values as TOML
        longest = 'targets."visual.clipped_highlights_pct".advice'
        assert rows[longest][0] == longest
        assert rows['targets."visual.clipped_highlights_pct".kind'][1] == '"max"'
        # true sources: the user's file, the shipped defaults
        assert rows["tiers.gold"][1:] == ("72", f"your file {user_file}"[:36 - 1] + "…")
        assert rows["tiers.silver"][2] == "shipped defaults"
        # the detail pane shows the whole value and the whole source of the highlighted setting
        long_value = max(table.by_key.values(), key=lambda s: len(str(s.value)))
        assert len(long_value.value) > 200 and rows[long_value.key][1].endswith("…")  # cut in its cell...
        table.move_cursor(row=keys.index(long_value.key))
        await pilot.pause()
        detail = screen.query_one("#setting-detail", Static).render().plain
        assert long_value.value in detail and "from: shipped defaults" in detail  # ...whole in the pane
        table.move_cursor(row=keys.index("tiers.gold"))
        await pilot.pause()
        assert f"from: your file {user_file}" in screen.query_one("#setting-detail", Static).render().plain
        # search: key, value or source
        await pilot.press("slash", *"clipped_high")
        await pilot.pause()
        rows = settings_rows(screen)
        assert set(rows) == {"§targets"} | {k for k in rows if "clipped_highlights_pct" in k} and len(rows) > 5
        assert "of" in screen.sub_title
        screen.query_one("#search", Input).value = "your file"
        await pilot.pause()
        assert set(settings_rows(screen)) == {"§tiers", "tiers.gold", "§hook", "hook.window_s"}
        await pilot.press("enter", "escape")  # back to the table; esc clears the search
        await pilot.pause()
        assert len(screen.query_one(SettingsTable).by_key) == n_settings
        # the preset switch is one line above the table: nothing draws over the table
        radios = screen.query_one("#preset", RadioSet)
        assert radios.region.height == 1 and radios.region.bottom <= table.region.y
        # switch to reels: the preset's tables say so, platform.preset says it was chosen here
        await pilot.click(next(b for b in radios.children if b.name == "reels"))
        await settle(app, pilot)
        assert be.preset == "reels"
        rows = settings_rows(screen)
        assert rows["platform.preset"][1:] == ('"reels"', "chosen for this run (--preset or Se…")
        # only tables a preset may override come from it (reels overrides none: its own table is shipped)
        from engine.config_schema import PRESET_OVERRIDES

        reels = [k for k, r in rows.items() if r[2] == "preset 'reels'"]
        assert all(k.split(".")[0] in PRESET_OVERRIDES for k in reels)
        # change a value and save it to the user's file: named in the confirmation, other keys kept
        keys = list(rows)
        table = screen.query_one(SettingsTable)
        table.move_cursor(row=keys.index('targets."visual.sharpness".good'))
        await pilot.pause()
        await pilot.press("e")
        edit = screen.query_one("#edit", Input)
        assert edit.display and edit.has_focus and edit.value == "0.6"
        edit.value = "yes please"  # not a number: refused in words, nothing written
        await pilot.press("enter")
        await settle(app, pilot)
        assert any("This setting takes a number" in n for n in notices(app))
        assert "visual.sharpness" not in user_file.read_text()
        edit.value = "0.7"
        await pilot.press("enter")
        await settle(app, pilot)
        assert not edit.display
        saved = tomllib.loads(user_file.read_text())
        assert saved == {"tiers": {"gold": 72}, "hook": {"window_s": 3.0},
                         "targets": {"visual.sharpness": {"good": 0.7}}}
        assert any(f'Saved targets."visual.sharpness".good = 0.7 to {user_file}.' in n for n in notices(app))
        rows = settings_rows(screen)
        assert rows['targets."visual.sharpness".good'][1] == "0.7"
        assert rows['targets."visual.sharpness".good'][2].startswith("your file ")
        assert app.cfg["targets"]["visual.sharpness"]["good"] == 0.7


def toml_value_of(v) -> str:
    from byteme_tui.widgets.settings_table import toml_value

    return toml_value(v)


# -- progress ------------------------------------------------------------------------------------------------
def test_queue_eta_is_the_remaining_media_at_the_measured_rate():
    from engine.service import queue_eta_s

    # 30 s of media analysed in 60 s of wall time (0.5 media-s per s): 90 s of media left takes 180 s
    assert queue_eta_s(done_media_s=30.0, elapsed_s=60.0, remaining_media_s=90.0) == pytest.approx(180.0)
    assert queue_eta_s(done_media_s=0.0, elapsed_s=60.0, remaining_media_s=90.0) is None  # nothing measured yet
    from byteme_tui.format import about

    assert [about(s) for s in (None, 59, 170, 5400, 5430)] == [
        "measuring…", "under a minute", "about 3 min", "about 1 h 30 min", "about 1 h 30 min"]


def test_long_file_names_keep_their_end():
    """Copies of one clip differ at the end of their names: a name cut to its column keeps its start and its end."""
    from byteme_tui.format import name_text

    names = [f"13bdbeb5f3b1fdbda2a8fbcc646db222_{tag}.mp4" for tag in ("orig", "crf16", "trim05")]
    cut = [name_text(n, 26) for n in names]
    assert cut == ["13bdbeb5f3b1fdb…2_orig.mp4", "13bdbeb5f3b1fdb…_crf16.mp4", "13bdbeb5f3b1fdb…trim05.mp4"]
    assert all(len(c) == 26 for c in cut) and name_text("short.mp4", 26) == "short.mp4"


def test_file_sizes_read_in_kb_under_a_megabyte():
    """A 20 kB clip reads "20 kB", not "0.0 MB"; sizes round up the unit at its edge (999,999 bytes: "1.0 MB")."""
    from byteme_tui.format import size

    assert [size(n) for n in (None, 0, 300, 20_000, 999_499, 999_999, 3_140_000, 99_960_000, 250_400_000)] == [
        "-", "-", "1 kB", "20 kB", "999 kB", "1.0 MB", "3.1 MB", "100 MB", "250 MB"]


@sync
async def test_progress_shows_the_queue_eta_and_keeps_finished_jobs_until_cleared():
    from textual.widgets import DataTable, Static

    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        nine = [p for p in be._rows if not p.endswith("clip_005.mp4")]
        be.enqueue(nine)  # 9 clips of 12 s (the unprobed ones count at the folder's mean, 12 s)
        await pilot.press("p")
        await refresh(app, pilot)
        total = app.screen.query_one("#total", Static)
        assert "measuring… left" in total.render().plain  # nothing analysed yet
        be.step(0.25)  # 10 s: two clips a quarter done = 6 media-s; 102 left at 0.6 media-s/s = 170 s
        await refresh(app, pilot)
        assert app.state.eta_s == pytest.approx(170.0)
        assert "about 3 min left" in total.render().plain
        finished = app.screen.query_one("#finished", DataTable)
        assert finished.row_count == 1  # the clip that failed before the run
        be.step(0.75)  # 20 s: two clips done (24 media-s); 7 clips (84 s) left at 1.2 media-s/s = 70 s
        await refresh(app, pilot)
        assert app.state.eta_s == pytest.approx(70.0)
        assert "about 1 min left" in total.render().plain
        rows = [[c.plain for c in finished.get_row_at(i)] for i in range(finished.row_count)]
        assert len(rows) == 3
        for row in rows[:2]:  # newest first: each with its score, tier and time taken
            name = row[0]
            r = app.state.rows[f"/clips/{name}"]
            assert row[1] == "✓ done" and row[2].startswith(f"{r.overall:.0f} ") and row[3] == r.tier
            assert row[4] == "20.0 s"
        assert rows[2][:2] == ["clip_005.mp4", "✗ failed"]
        assert "C Clear finished" in " ".join(
            f"{b.key} {b.description}" for b in app.screen.BINDINGS if b.show)  # in the footer
        be.step(0.5)  # still listed after later polls: finished jobs stay until cleared
        await refresh(app, pilot)
        assert finished.row_count == 3
        await pilot.press("C")
        await settle(app, pilot)
        await refresh(app, pilot)
        assert ("clear_finished",) in be.calls and finished.row_count == 0
        await pilot.press("escape")
        summary = app.screen.query_one("#summary", Static).render().plain
        assert "▶ run" in summary and "left" in summary


# -- thumbnails ----------------------------------------------------------------------------------------------
#: The generated clip's background by second (RGB): what the thumbnail at each second must show.
SECOND_COLOURS = ((210, 40, 40), (40, 190, 60), (40, 60, 210))
THUMB_GOP_FRAMES = 15  # a keyframe every 0.5 s at 30 fps: one thumbnail decodes at most this many frames


def _second_colour_video(i: int, t: float):
    import numpy as np

    img = np.empty((640, 360, 3), np.uint8)
    img[:] = SECOND_COLOURS[min(int(t), 2)]
    img[40:200, 40:200] = 235  # a light square top left: something to recognise
    return img


def _halfblock_colours(widget) -> list:
    """The (upper, lower) RGB pairs of every ▀ cell the half-block widget draws."""
    out = []
    for y in range(widget.size.height):
        for seg in widget.render_line(y):
            if seg.text == "▀":
                out.append((seg.style.color.triplet, seg.style.bgcolor.triplet))
    return out


def _near(rgb, want, tol=24) -> bool:
    return all(abs(int(a) - b) <= tol for a, b in zip(rgb, want))


@pytest.fixture
def analysed_clip(clips, tmp_path, monkeypatch):
    """A 3 s generated clip (red, green, blue seconds) analysed into a fresh store; (folder, service, decode calls)."""
    from engine import media, pipeline
    from engine.config import load_config
    from engine.library import analyze
    from engine.service import LibraryService
    from engine.store import Store

    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(clips("thumb_seconds", duration_s=3.0, video=_second_colour_video, audio=None,
                      gop_frames=THUMB_GOP_FRAMES), folder / "rgb.mp4")
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    calls = []
    real = media.decode

    def counting_decode(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(media, "decode", counting_decode)
    monkeypatch.setattr(pipeline, "decode", counting_decode)
    store = Store(tmp_path / "store.sqlite3")
    result = analyze(folder / "rgb.mp4", load_config(use_user_file=False), store=store)
    store.close()
    assert result.ok and calls  # the control: analysing decodes the clip, and the counter sees it
    calls.clear()
    service = LibraryService(folder, store_path=tmp_path / "store.sqlite3", executor="thread",
                             thumbnail_dir=tmp_path / "thumbs")
    return folder, service, calls


@sync
async def test_breakdown_of_an_analysed_clip_shows_its_frames_in_half_blocks(analysed_clip, tmp_path_factory):
    from byteme_tui.widgets.thumbnail import HalfBlocks, Thumbnail
    from engine import thumbnails

    folder, service, decode_calls = analysed_clip
    seeks = []
    real_grab = thumbnails.grab_frame

    def counting_grab(*args, **kwargs):
        grab = real_grab(*args, **kwargs)
        seeks.append(grab.frames_decoded)
        return grab

    thumbnails.grab_frame = counting_grab
    shots = tmp_path_factory.mktemp("breakdown-thumbnail")
    read_first = None
    try:
        for size in ((80, 24), (160, 50)):
            app = BytemeApp(service, poll_interval_s=None)
            async with app.run_test(size=size) as pilot:
                await settle(app, pilot)
                await pilot.press("enter")
                await settle(app, pilot)
                screen = app.screen
                assert isinstance(screen, BreakdownScreen)
                thumb = screen.query_one(Thumbnail)
                image = thumb.query_one(HalfBlocks)
                assert thumb.display and thumb.has_class("-shown") and image.size.width >= 5
                # the typical frame: of the quarter points (0.75, 1.5, 2.25 s) the sharpest second's
                sharp = service.result(screen.path).features.series["visual.sharpness"].values
                typical = max((0.75, 1.5, 2.25), key=lambda t: sharp[int(t)])
                assert thumb.why == "typical" and thumb.t_s == pytest.approx(typical)
                cells = _halfblock_colours(image)
                assert len(cells) >= 5 * 6
                assert sum(_near(u, SECOND_COLOURS[int(typical)]) for u, _ in cells) > len(cells) / 2
                assert any(_near(u, (235, 235, 235), 30) for u, _ in cells)  # the light square, top left
                caption = thumb.query_one("#thumb-caption").render().plain
                assert caption == f"0:0{round(typical)}\ntypical"
                app.save_screenshot(filename=f"breakdown-thumbnail-{size[0]}x{size[1]}.svg", path=str(shots))
                print("breakdown screenshot:", shots / f"breakdown-thumbnail-{size[0]}x{size[1]}.svg")
                # the second selected on the risk strip: its frame (2 s: blue)
                await pilot.press("right", "right", "right")
                await settle(app, pilot)
                assert thumb.why == "second" and thumb.t_s == pytest.approx(2.0)
                cells = _halfblock_colours(image)
                assert sum(_near(u, SECOND_COLOURS[2]) for u, _ in cells) > len(cells) / 2
                await pilot.press("escape", "q")
                await settle(app, pilot)
            read_first = read_first if size != (80, 24) else len(seeks)
    finally:
        thumbnails.grab_frame = real_grab
    # never a second full decode: no decode pass, and each frame read decoded at most one group of pictures
    assert decode_calls == []
    assert seeks and all(n <= THUMB_GOP_FRAMES + 1 for n in seeks)
    assert read_first == len(seeks) >= 4  # typical, 0, 1, 2 s (+ a finding's); the 160x50 run read them all from the disk cache
    assert len(list((folder.parent / "thumbs").glob("*.jpg"))) == 4


@sync
async def test_thumbnail_follows_the_selected_finding_and_hides_where_there_is_no_room():
    from byteme_tui.widgets.thumbnail import Thumbnail

    be = FakeBackend()
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_002.mp4")
        await pilot.press("enter")
        await settle(app, pilot)
        thumb = app.screen.query_one(Thumbnail)
        # the first finding has no time: the typical frame; the next ones: where each starts
        assert thumb.display and thumb.why == "typical"
        await pilot.press("n")
        await settle(app, pilot)
        assert (thumb.why, thumb.t_s) == ("finding", 6.0)
        await pilot.press("n")
        await settle(app, pilot)
        assert (thumb.why, thumb.t_s) == ("finding", 3.0)
        assert ("thumbnail", "/clips/clip_002.mp4", 3.0) in be.calls
        await pilot.resize_terminal(64, 24)  # too narrow: the findings keep the room
        await pilot.pause()
        assert not thumb.display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert thumb.display
    be = FakeBackend()
    be.thumbnail = lambda path, t_s=None: None  # no picture (audio only, file moved): nothing shown, no error
    app = BytemeApp(be, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_002.mp4")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, BreakdownScreen) and not app.screen.query_one(Thumbnail).display


def test_graphics_are_asked_for_only_on_a_terminal_and_can_be_turned_off():
    import sys

    from byteme_tui.widgets.thumbnail import detect_graphics, fit_cells

    assert detect_graphics({"BYTEME_GRAPHICS": "halfcell"}) == "halfcell"
    assert detect_graphics({"BYTEME_GRAPHICS": "OFF"}) == "off"
    if not sys.__stdout__.isatty():  # a pipe, a browser session, CI: half-blocks, nothing asked
        assert detect_graphics({}) == "halfcell"
    # half-blocks: 2 pixels a cell vertically, 1 across: 160x284 at 8 rows takes 9 columns; 160x90 would take 28
    assert fit_cells(160, 284, 8) == 9 and fit_cells(160, 90, 8) == 28 and fit_cells(0, 10, 8) == 0


@sync
async def test_kitty_and_sixel_thumbnails_use_textual_image():
    from textual.app import App

    from byteme_tui.widgets.thumbnail import Thumbnail, fit_cells
    from engine.thumbnails import jpeg_bytes

    class One(App):
        def compose(self):
            yield Thumbnail("tgp", id="thumb")

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        thumb = app.query_one(Thumbnail)
        from textual_image.widget import TGPImage

        image = thumb.query_one("#thumb-image")
        assert isinstance(image, TGPImage)
        picture = np.zeros((284, 160, 3), np.uint8)
        picture[:, :, 2] = 200
        thumb.show(jpeg_bytes(picture), 1.0, "typical")
        await pilot.pause()
        assert thumb.display and image.image is not None and image.image.size == (160, 284)
        # the room beside the lists: as tall as they are (here the 24-row screen less the caption, at most 20
        # rows), as wide as the shape needs at that height but at most a fifth of the terminal (16 columns), and
        # then only as tall as the picture at that width (16 x 284/160 / 2 = 14 rows)
        assert image.styles.width.cells == min(fit_cells(160, 284, 20), 80 // 5) == 16
        assert image.styles.height.cells == 14
        thumb.show(None, None, "typical")
        await pilot.pause()
        assert not thumb.display


@sync
async def test_breakdown_of_a_running_clip_shows_its_provisional_verdict_live_then_the_final():
    """Opening the breakdown of a clip whose job runs: its provisional verdict (scores marked ~, "provisional — N%
    analysed", only the findings that cannot change, no insights yet), a newer one shown as it arrives, and the final
    result in its place once the job is done."""
    from textual.widgets import OptionList, Static

    backend = FakeBackend(provisional=True)
    app = BytemeApp(backend, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        cursor_to(app, "clip_007.mp4")  # unscored
        await pilot.press("s")
        await settle(app, pilot)
        await refresh(app, pilot)
        await pilot.press("enter")  # queued/running, no verdict yet: a notice, not a screen
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        backend.step(0.4)
        await refresh(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, BreakdownScreen) and screen.provisional and screen.has_class("-provisional")
        head = screen.query_one("#headline", Static).render().plain
        early = backend.provisional("/clips/clip_007.mp4")
        assert "provisional — 40% analysed" in head and f"Overall ~{early.scores.overall:.0f}" in head
        panel = screen.query_one("#panel-visual", Static).render().plain
        assert panel.startswith(f"Visual  ~{early.scores.modalities['visual']:.0f}")
        findings = screen.query_one(OptionList)
        assert findings.option_count == 1 and "Integrated loudness" in str(findings.get_option_at_index(0).prompt)
        assert "whole clip is analysed" in screen.query_one("#hook-text", Static).render().plain
        backend.step(0.3)  # a newer verdict: shown in place, the screen stays
        await refresh(app, pilot)
        assert app.screen is screen
        head = screen.query_one("#headline", Static).render().plain
        newer = backend.provisional("/clips/clip_007.mp4")
        assert newer is not early and "provisional — 70% analysed" in head
        assert f"Overall ~{newer.scores.overall:.0f}" in head
        backend.step(0.5)  # done: the final result replaces it
        await refresh(app, pilot)
        final = backend.result("/clips/clip_007.mp4")
        assert final is not None and screen.result is final and not screen.provisional
        head = screen.query_one("#headline", Static).render().plain
        assert "provisional" not in head and "~" not in head and f"Overall {final.scores.overall:.0f}" in head
        assert findings.option_count == len(final.findings)
        assert "Hook, first 3 s" in screen.query_one("#hook-text", Static).render().plain


class _SlowConfigBackend(FakeBackend):
    """Its config is read only once the test lets it (the app reads it in its load worker)."""

    def __init__(self, *args, **kwargs):
        import threading

        super().__init__(*args, **kwargs)
        self.config_ready = threading.Event()

    def config(self) -> dict:
        self.config_ready.wait(timeout=30)
        return super().config()


@sync
async def test_breakdown_opened_before_the_config_is_read_shows_the_targets_once_it_is():
    backend = _SlowConfigBackend()
    app = BytemeApp(backend, poll_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(50):  # the library is listed before the config is read
            await pilot.pause(0.05)
            if app.state is not None:
                break
        assert app.cfg is None
        cursor_to(app, "clip_002.mp4")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BreakdownScreen)
        panel = screen.query_one("#panel-visual").render().plain
        assert "no target" in panel or "·" in panel  # no targets known yet
        before = panel
        backend.config_ready.set()
        await settle(app, pilot)
        after = screen.query_one("#panel-visual").render().plain
        assert app.cfg and after != before
        assert "✓" in after or "✗" in after or "~" in after  # each metric marked against its target now


def test_breakdown_headline_names_the_clip_as_the_library_lists_it():
    """A symlinked clip: the store keeps the result under the file it points to, the library lists the link's name;
    the breakdown's headline says the library's name (escaped), not the target's."""
    import dataclasses

    backend = FakeBackend()
    state = backend.open()
    path = next(p for p in state.rows if backend.result(p) is not None)
    result = dataclasses.replace(backend.result(path), path="/elsewhere/0a1b2c3d.mp4")
    row = dataclasses.replace(state.rows[path], name="[b]my link[/b].mp4")
    head = BreakdownScreen._headline(result, row).plain
    assert head.splitlines()[0] == "[b]my link[/b].mp4"
    assert "0a1b2c3d" not in head
    assert BreakdownScreen._headline(result).plain.splitlines()[0] == "0a1b2c3d.mp4"  # no row: the file's name
