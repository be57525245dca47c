"""Live progress: every running job (stage, bar, frames per second, ETA), the run's total, throughput and the
time left for the whole queue, the last finished jobs (score, time taken) until cleared, and failures with their
plain errors. Updated from the app's poller; nothing here blocks."""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..format import about, bar, eta, name_text, safe, score_text, status_text, took
from engine.service_state import LibraryState


class ProgressScreen(Screen):
    CSS_PATH = "progress.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("x", "cancel", "Cancel job"),
        Binding("X", "cancel_all", "Cancel all"),
        Binding("f", "retry_failed", "Retry failed"),
        Binding("space", "pause", "Pause/resume"),
        Binding("t", "to_front", "To front", show=False),
        Binding("C", "clear_finished", "Clear finished"),
        Binding("question_mark", "app.help", "Help", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="total")
        yield Static(Text("Jobs", style="bold"), classes="heading")
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield Static(Text("Finished (C clears)", style="bold"), classes="heading")
        yield DataTable(id="finished", cursor_type="row", zebra_stripes=True)
        yield Static(Text("Failures", style="bold"), classes="heading")
        yield DataTable(id="failures", cursor_type="row")
        yield Static(id="no-failures")
        yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        jobs = self.query_one("#jobs", DataTable)
        for key, label, width in (("name", "Clip", 24), ("stage", "Stage", 8), ("bar", "Progress", 17),
                                  ("fps", "fps", 5), ("eta", "ETA", 6), ("attempt", "Try", 4)):
            jobs.add_column(label, key=key, width=width)
        done = self.query_one("#finished", DataTable)
        for key, label, width in (("name", "Clip", 24), ("state", "Result", 11), ("overall", "Overall", 8),
                                  ("tier", "Tier", 8), ("took", "Took", 7)):
            done.add_column(label, key=key, width=width)
        fails = self.query_one("#failures", DataTable)
        fails.add_column("Clip", key="name", width=24)
        fails.add_column("Error", key="error", width=120)
        if self.app.state is not None:
            self.update_state(self.app.state)

    def update_state(self, state: LibraryState) -> None:
        self.state = state
        total = Text()
        if state.batch_total:
            total.append_text(bar(state.batch_fraction, 24))
            total.append(f"  {state.batch_finished}/{state.batch_total} clips")
        else:
            total.append("Nothing queued. On the library, a scores all clips, s the marked ones.")
        rate = f"{state.throughput_per_min:.1f} clips/min" if state.throughput_per_min else "- clips/min"
        queued = sum(1 for j in state.jobs if j.state == "queued")
        if state.batch_total and not state.active_count:
            total.append("  ·  all done", style="green")
        else:
            if state.active_count:
                total.append(f" · {about(state.eta_s)} left", style="bold")
            total.append(f" · {rate} · {len(state.running)} running, {queued} queued")
        if state.paused:
            total.append("  ‖ PAUSED (space resumes)", style="bold yellow")
        self.query_one("#total", Static).update(total)
        self._fill(self.query_one("#jobs", DataTable), [j for j in state.jobs if j.state in ("running", "queued")],
                   lambda j: (safe(name_text(j.name, 24)), Text(j.stage or "waiting" if j.state == "running" else "-"),
                              bar(j.fraction, 10) if j.state == "running" else Text("… queued", style="dim"),
                              Text(f"{j.fps:.0f}" if j.fps else "-", justify="right"),
                              Text(eta(j.eta_s), justify="right"),
                              Text(f"{max(1, j.attempt)}/{j.max_attempts}")))
        self._fill(self.query_one("#finished", DataTable), state.finished,
                   lambda f: (safe(name_text(f.name, 24)), status_text(f.state),
                              score_text(f.overall, word=True), safe(f.tier or "-"),
                              Text(took(f.took_s), justify="right")))
        self._fill(self.query_one("#failures", DataTable), [j for j in state.jobs if j.state == "failed"],
                   lambda j: (safe(name_text(j.name, 24)), safe(j.error or "failed", "red")))
        failed = any(j.state == "failed" for j in state.jobs)
        self.query_one("#failures", DataTable).display = failed
        self.query_one("#no-failures", Static).update(Text("" if failed else "None: every clip so far could be read.",
                                                           style="dim"))

    @staticmethod
    def _fill(table: DataTable, jobs, make) -> None:
        keys = [str(j.id) for j in jobs]
        current = [k.value for k in table.rows]
        if keys == current:
            for j in jobs:
                for col, value in zip(table.columns, make(j)):
                    table.update_cell(str(j.id), col, value)
            return
        cursor = table.cursor_row
        table.clear()
        for j in jobs:
            table.add_row(*make(j), key=str(j.id))
        if keys:
            table.move_cursor(row=min(cursor, len(keys) - 1), animate=False)

    @on(DataTable.RowHighlighted, "#failures")
    def _failure_detail(self, event: DataTable.RowHighlighted) -> None:
        """The whole error of the highlighted failure, wrapped (the table cell is cut to its column)."""
        job = next((j for j in self.state.jobs if str(j.id) == event.row_key.value), None)
        self.query_one("#detail", Static).update(safe(f"{job.name}: {job.error}", "red") if job else "")

    def _job_ids(self, table_id: str) -> list[int]:
        table = self.query_one(table_id, DataTable)
        if not table.row_count:
            return []
        return [int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)]

    def _path_of(self, job_id: int) -> str | None:
        return next((j.path for j in self.state.jobs if j.id == job_id), None)

    def action_cancel(self) -> None:
        paths = [p for p in map(self._path_of, self._job_ids("#jobs")) if p]
        if paths:
            self.app.command("cancel", paths)

    def action_cancel_all(self) -> None:
        self.app.command("cancel_all")

    def action_retry_failed(self) -> None:
        self.app.command("retry_failed")

    def action_pause(self) -> None:
        self.app.command("toggle_pause")

    def action_to_front(self) -> None:
        for job_id in self._job_ids("#jobs"):
            self.app.command("move_to_front", job_id)

    def action_clear_finished(self) -> None:
        self.app.command("clear_finished")
