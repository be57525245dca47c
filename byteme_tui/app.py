"""The BYTEME terminal app: a small shell that owns the backend, polls it from a thread and routes commands.
Screens live in ``screens/``, widgets in ``widgets/``; the backend (store + job queue) is passed in."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App

from .actions import AppActions
from engine.errors import StoreError
from engine.service import LibraryService
from engine.store import store_error
from engine.textsafe import visible
from .messages import CommandDone, StateChanged
from .screens.library import LibraryScreen

#: What a store that fails under the app raises (SQLite's errors, a full disk, our own StoreError).
STORE_FAILURES = (StoreError, sqlite3.Error, OSError)
#: The UI reads the queue's progress this often (4 Hz: the pipeline batches its events at the same rate).
POLL_INTERVAL_S = 0.25


class BytemeApp(AppActions, App[int]):
    TITLE = "BYTEME"
    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "Quit"), ("ctrl+c", "quit", "Quit")]

    def __init__(self, backend, *, poll_interval_s: float | None = POLL_INTERVAL_S, graphics: str = "halfcell"):
        super().__init__()
        self.backend = backend
        self.graphics = graphics  # how thumbnails are drawn: widgets.thumbnail.detect_graphics(), asked before run
        self.state = None
        self.cfg: dict | None = None  # the active config (targets for the breakdown), read in the load worker
        self.specs: dict | None = None  # engine.extractors.metric_specs(), imported in the load worker
        self.poll_interval_s = poll_interval_s
        self._polling = False

    def on_mount(self) -> None:
        # pushed, not the default screen: Textual loads a screen's CSS_PATH only when it is pushed
        self.push_screen(LibraryScreen())
        self.load()

    @work(thread=True, exclusive=True, group="load")
    def load(self) -> None:
        try:
            state = self.backend.open()
        except STORE_FAILURES as exc:  # a store damaged beyond its header, a full disk
            self._store_failed(exc)
            return
        self.post_message(StateChanged(state))
        self.post_message(StateChanged(self.backend.poll()))  # queue states at once, not after the imports below
        if self.poll_interval_s and not self._polling:
            self._polling = True
            self.call_from_thread(self.set_interval, self.poll_interval_s, self.poll)
        self.load_metadata()
        while self.backend.probe_missing(limit=25):
            self.post_message(StateChanged(self.backend.poll()))

    def load_metadata(self) -> None:
        """Config targets and metric labels for the breakdown (importing the extractors takes a moment)."""
        from engine.extractors import metric_specs

        try:
            self.cfg = self.backend.config()
        except Exception as exc:  # noqa: BLE001 - shown in plain words; the library still works
            self.post_message(CommandDone(f"The config could not be read: {exc}", "error"))
            self.cfg = {}
        self.specs = metric_specs()
        self.call_from_thread(self._metadata_loaded)

    def _metadata_loaded(self) -> None:
        """A breakdown opened before the targets were read shows them now (not "no target" on every metric)."""
        for screen in self.screen_stack:
            if hasattr(screen, "metadata_loaded"):
                screen.metadata_loaded()

    @work(thread=True, exclusive=True, group="poll")
    def poll(self) -> None:
        try:
            state = self.backend.poll()
        except STORE_FAILURES as exc:
            self._store_failed(exc)
            return
        self.post_message(StateChanged(state))

    def _store_failed(self, exc: BaseException) -> None:
        """The store failed under the app (damaged pages, a full disk): end with status 2 and the plain reason
        (never a traceback with locals), from a worker thread."""
        why = store_error(getattr(self.backend, "store_path", None) or "", exc).message
        self.call_from_thread(self.exit, None, 2, Text(f"byteme: {visible(why)}"))  # Text: no markup

    def on_state_changed(self, message: StateChanged) -> None:
        old = self.state
        self.state = message.state
        if message.state.problem and (old is None or old.problem != message.state.problem):
            self.notify(f"Scoring stopped: {message.state.problem}. Score again to restart the workers.",
                        severity="error", timeout=15, markup=False)
        for screen in self.screen_stack:
            if hasattr(screen, "update_state"):
                screen.update_state(message.state)

    def on_command_done(self, message: CommandDone) -> None:
        self.notify(message.text, severity=message.severity, markup=False)


def run_app(folder: Path, args) -> int:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        import sys

        from engine.textsafe import display_path

        sys.stderr.write(f"byteme: {display_path(folder)} is not a folder.\n")
        return 2
    from .terminal import worker_log_path, worker_output_to
    from .widgets.thumbnail import detect_graphics

    from engine.cli.common import store_for

    store = store_for(args)  # a damaged or unwritable store: a plain message (StoreError) before the screen opens
    store_path = store.path
    store.close()
    backend = LibraryService(folder, store_path=store_path, config_path=getattr(args, "config", None),
                             preset=getattr(args, "preset", None))
    graphics = detect_graphics()  # asks the terminal now: it cannot once the app reads the keyboard
    with worker_output_to(worker_log_path()):  # worker processes must never write over the app
        app = BytemeApp(backend, graphics=graphics)
        result = app.run()
    return app.return_code or result or 0
