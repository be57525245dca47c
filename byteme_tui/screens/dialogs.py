"""Small modal screens: quit with jobs running, the folder picker, add URL, and help."""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Static

from engine.textsafe import visible


class QuitDialog(ModalScreen[str | None]):
    """Jobs are running: keep them queued for next time, cancel them, or stay."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("k", "choose('keep')", "Keep queued"), Binding("c", "choose('cancel')", "Cancel jobs"),
                Binding("escape", "choose(None)", "Stay")]

    def __init__(self, active: int):
        super().__init__()
        self.active = active

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"{self.active} clip(s) are queued or being scored.", style="bold"))
            yield Static("Keep them queued: they continue the next time you open BYTEME. "
                         "Cancel: they stop now; finished scores are kept either way.", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Keep queued (k)", id="keep", variant="primary")
                yield Button("Cancel jobs (c)", id="cancel", variant="error")
                yield Button("Stay (esc)", id="stay")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "stay" else event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)


class SafeDirectoryTree(DirectoryTree):
    """Folders only; names shown literally (control characters escaped)."""

    def filter_paths(self, paths):
        return [p for p in paths if p.is_dir() and not p.name.startswith(".")]

    def process_label(self, label):
        return super().process_label(Text(visible(label if isinstance(label, str) else label.plain)))


class FolderPicker(ModalScreen[Path | None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("backspace", "up", "Parent folder", show=False)]

    def __init__(self, start: Path):
        super().__init__()
        self.start = Path(start)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog tall"):
            yield Static("Pick a folder: arrows move, enter opens it, or type a path and press enter. "
                         "backspace: parent. esc: close.", markup=False)
            yield Input(value=str(self.start), id="path", compact=True)
            yield SafeDirectoryTree(self.start.parent if self.start.parent != self.start else self.start, id="tree")

    def on_mount(self) -> None:
        self.query_one("#tree").focus()

    @on(DirectoryTree.DirectorySelected)
    def _picked(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#path", Input).value = str(event.path)
        if event.path != self.start:
            self.dismiss(event.path)

    @on(Input.Submitted, "#path")
    def _typed(self, event: Input.Submitted) -> None:
        p = Path(event.value).expanduser()
        if p.is_dir():
            self.dismiss(p)
        else:
            self.notify("That is not a folder.", severity="warning", markup=False)

    def action_up(self) -> None:
        tree = self.query_one(SafeDirectoryTree)
        tree.path = Path(tree.path).parent


class AddUrlDialog(ModalScreen[list | None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Paste one or more URLs (space separated); they download into this folder and are "
                         "scored.", markup=False)
            yield Input(placeholder="https://…", id="urls")

    @on(Input.Submitted, "#urls")
    def _submit(self, event: Input.Submitted) -> None:
        urls = event.value.split()
        self.dismiss(urls or None)


HELP = """\
Library (home)
  ↑↓ PgUp PgDn   move            enter   breakdown of the clip
  space          mark a clip     m       mark all shown / none
  s              score marked (or the clip under the cursor)
  a              score all       n       score the unscored
  r              rescore (ignore the cache)
  x / X          cancel marked / cancel all     f   retry failed
  c              compare two marked clips
  /              filter text     esc     clear filters
  v / t          cycle status / tier filter
  o / O          cycle sort column / reverse (or click a header)
  d              change folder   u       add URL    e   export report
  p  progress    ,  settings     ?  help   ctrl+p  every command   q  quit

Progress
  x cancel job   X cancel all   f retry failed   space pause/resume
  t move job to the front        C clear failed    esc back

Breakdown
  n / N          next / previous finding (shown on the timeline)
  1 2 3          timeline / loudness / versus the folder
  r rescore      esc back

Scores read as words too: good ≥ 70, fair ≥ 40, poor below.
Status: · new  … queued  ▶ running  ✓ done  ✗ error/failed  ■ cancelled.
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog tall"):
            yield Static(Text(HELP))
