"""The app's commands and navigation, as a mixin of ``BytemeApp`` (kept apart so ``app.py`` stays small).
Every backend call runs in a thread worker; results come back as messages."""
from __future__ import annotations

from pathlib import Path

from textual import work

from engine.textsafe import display_path
from textual.app import SystemCommand

from engine.service import FeatureNotAvailable
from .messages import CommandDone, StateChanged
from .screens.dialogs import AddUrlDialog, ExportDialog, FolderPicker, HelpScreen, QuitDialog

#: The report's default folder, inside the library folder.
REPORT_FOLDER = "byteme-report"


class AppActions:
    # -- commands (run in threads; the result comes back as a message) ------------------------------------
    @work(thread=True, group="commands")
    def command(self, name: str, *args, **kwargs) -> None:
        try:
            result = getattr(self.backend, name)(*args, **kwargs)
        except FeatureNotAvailable as exc:
            self.post_message(CommandDone(str(exc), "warning"))
            return
        except Exception as exc:  # noqa: BLE001 - shown in plain words, the app keeps running
            self.post_message(CommandDone(f"{name} failed: {exc}", "error"))
            return
        if name == "enqueue" and not result:
            self.post_message(CommandDone("Nothing new to score: those clips are queued or already scored with "
                                          "this config (r rescores)."))
        done = {"enqueue": "Queued {} clip(s).", "cancel": "Cancelled {} job(s).", "cancel_all": "Cancelled {} job(s).",
                "retry_failed": "Retrying {} failed clip(s)."}
        if name in done and (result or name != "enqueue"):
            self.post_message(CommandDone(done[name].format(result or 0)))
        self.post_message(StateChanged(self.backend.poll()))

    def enqueue(self, paths: list[str], *, force: bool) -> None:
        if not paths:
            self.notify("Nothing to score here.", markup=False)
            return
        self.command("enqueue", paths, force=force)

    # -- navigation ----------------------------------------------------------------------------------------
    def open_breakdown(self, path: str) -> None:
        from .screens.breakdown import BreakdownScreen

        if self.backend.result(path) is None and self.backend.provisional(path) is None:  # nor a verdict so far
            row = self.state.rows.get(path) if self.state else None
            if row is not None and row.status in ("queued", "running"):
                self.notify("This clip is being analysed: its first verdict comes in a moment.", markup=False)
            elif row is not None and row.error:
                self.notify(f"This clip could not be scored. {row.error} (f retries failed clips)",
                            severity="error", markup=False, timeout=10)
            else:
                self.notify("This clip has no score yet: press s to score it.", markup=False)
            return
        self.push_screen(BreakdownScreen(path))

    def open_compare(self, a: str, b: str) -> None:
        from .screens.compare import CompareScreen

        if self.backend.result(a) is None or self.backend.result(b) is None:
            self.notify("Both clips need a score to compare them.", severity="warning", markup=False)
            return
        self.push_screen(CompareScreen(a, b))

    def action_progress(self) -> None:
        from .screens.progress import ProgressScreen

        if not isinstance(self.screen, ProgressScreen):
            self.push_screen(ProgressScreen())

    def action_settings(self) -> None:
        from .screens.settings import SettingsScreen

        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def pick_folder(self) -> None:
        self.push_screen(FolderPicker(Path(self.backend.folder)), self._folder_picked)

    def _folder_picked(self, folder: Path | None) -> None:
        if folder is not None and folder != Path(self.backend.folder):
            self.backend.folder = Path(folder).resolve()
            self.load()

    def add_url(self) -> None:
        self.push_screen(AddUrlDialog())

    @work(thread=True, group="fetch")
    def downloaded(self, paths: list[str]) -> None:
        """Files the Add URL dialog downloaded: show them in the library, then queue them."""
        self.post_message(StateChanged(self.backend.open()))
        try:
            n = self.backend.enqueue(paths, force=False)
        except Exception as exc:  # noqa: BLE001 - FeatureNotAvailable (no queue) or a store error: plain words
            self.post_message(CommandDone(f"Downloaded, but not queued: {exc}", "warning"))
            return
        self.post_message(CommandDone(f"Downloaded and queued {n} clip(s)."))
        self.post_message(StateChanged(self.backend.poll()))

    def export_report(self) -> None:
        self.push_screen(ExportDialog(Path(self.backend.folder) / REPORT_FOLDER),
                         lambda dest: dest is not None and self.write_report(dest))

    @work(thread=True, exclusive=True, group="export")
    def write_report(self, dest: Path) -> None:
        self.post_message(CommandDone("Writing the report…"))
        try:
            index, n = self.backend.export_report(dest)
        except FeatureNotAvailable as exc:
            self.post_message(CommandDone(str(exc), "warning"))
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a folder that cannot be written: plain words
            self.post_message(CommandDone(f"The report could not be written: {exc}", "error"))
            return
        self.last_report = index
        self.post_message(CommandDone(f"Report of {n} clip(s) written: {display_path(index)}"))

    # -- quitting ------------------------------------------------------------------------------------------
    async def action_quit(self) -> None:
        if self.state is not None and self.state.active_count:
            self.push_screen(QuitDialog(self.state.active_count), self._quit_chosen)
        else:
            self._stop_backend(cancel_jobs=False)

    def _quit_chosen(self, choice: str | None) -> None:
        if choice in ("keep", "cancel"):
            self._stop_backend(cancel_jobs=choice == "cancel")

    @work(thread=True, exclusive=True, group="quit")
    def _stop_backend(self, *, cancel_jobs: bool) -> None:
        self.backend.shutdown(cancel_jobs=cancel_jobs)
        self.call_from_thread(self.exit, 0)

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for binding in getattr(screen, "BINDINGS", []):
            if getattr(binding, "description", "") and "." not in binding.action:
                yield SystemCommand(binding.description, f"key: {binding.key}",
                                    lambda a=binding.action, s=screen: s.run_action(a))
        for title, action in (("Progress", "progress"), ("Settings", "settings"), ("Help", "help")):
            yield SystemCommand(title, f"open the {title.lower()} screen", lambda a=action: self.run_action(a))
