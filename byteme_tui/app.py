"""The BYTEME terminal app: a small shell that owns the backend, polls it from a thread and routes commands.
Screens live in ``screens/``, widgets in ``widgets/``; the backend (store + job queue) is passed in."""
from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import App

from .actions import AppActions
from engine.service import LibraryService
from .messages import CommandDone, StateChanged
from .screens.library import LibraryScreen

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
        self.post_message(StateChanged(self.backend.open()))
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

    @work(thread=True, exclusive=True, group="poll")
    def poll(self) -> None:
        self.post_message(StateChanged(self.backend.poll()))

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

    backend = LibraryService(folder, store_path=getattr(args, "store", None), config_path=getattr(args, "config", None),
                             preset=getattr(args, "preset", None))
    graphics = detect_graphics()  # asks the terminal now: it cannot once the app reads the keyboard
    with worker_output_to(worker_log_path()):  # worker processes must never write over the app
        return BytemeApp(backend, graphics=graphics).run() or 0
