"""Small modal screens: quit with jobs running, the folder picker, add URL, and help."""
from __future__ import annotations

import threading
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Static

from engine.textsafe import visible

from ..format import bar, clip_text, safe
from ..messages import FetchProgress
from ..widgets.insights import MAX_CHARS_PER_SECOND


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
    """Paste URLs; each item's download shows live (bytes, percent, speed), then the downloaded files are queued.
    Errors (a refused scheme, a private video) show in plain words on the item's line. esc cancels a download in
    progress, or closes."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "close", "Cancel / close")]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, tuple] = {}  # ident -> (done, total, speed), in arrival order
        self.results: list = []
        self.cancel = threading.Event()
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Paste one or more URLs (space separated) and press enter; they download into this folder "
                         "and are queued for scoring. esc cancels.", markup=False)
            yield Input(placeholder="https://…", id="urls")
            yield Static(id="fetch-status")

    @on(Input.Submitted, "#urls")
    def _submit(self, event: Input.Submitted) -> None:
        urls = event.value.split()
        if not urls or self.running:
            return
        self.running = True
        self.query_one("#urls", Input).disabled = True
        self._draw(Text("Starting…", style="dim"))
        self.download(urls)

    @work(thread=True, exclusive=True, group="fetch")
    def download(self, urls: list[str]) -> None:
        def progress(ident: str, done: int, total: int | None, speed: float | None = None) -> None:
            self.post_message(FetchProgress(ident, done, total, speed))

        try:
            results = self.app.backend.fetch_urls(urls, progress=progress, cancel=self.cancel)
        except Exception as exc:  # noqa: BLE001 - FeatureNotAvailable, an unusable folder: plain words
            self.app.call_from_thread(self._finished, [], str(getattr(exc, "message", exc)))
            return
        self.app.call_from_thread(self._finished, results, None)

    def on_fetch_progress(self, message: FetchProgress) -> None:
        self.items[message.ident] = (message.done_bytes, message.total_bytes, message.speed)
        self._draw()

    def _finished(self, results: list, problem: str | None) -> None:
        self.running = False
        self.results = results
        paths = [str(r.path) for r in results if r.status == "ok" and r.path]
        self._draw(Text(problem, style="red") if problem else None)
        if paths:
            self.app.downloaded(paths)

    def _draw(self, extra: Text | None = None) -> None:
        out = Text()
        for ident, (done, total, speed) in self.items.items():
            out.append("⇣ ")
            out.append_text(safe(clip_text(ident, 24)))
            out.append(" ")
            if total:
                out.append_text(bar(done / total, 12))
                out.append(f"  {done / 1e6:.1f}/{total / 1e6:.1f} MB", style="dim")
            else:
                out.append(f"{done / 1e6:.1f} MB", style="dim")
            if speed:
                out.append(f"  {speed / 1e6:.1f} MB/s", style="dim")
            out.append("\n")
        for r in self.results:
            if r.status == "ok":
                out.append("✓ ", style="green")
                out.append_text(safe(r.path.name if r.path else r.title))
                out.append(" queued for scoring\n", style="dim")
            elif r.status == "skipped":
                out.append("· ", style="dim")
                out.append_text(safe(r.url))
                out.append(" already downloaded (in the download archive)\n", style="dim")
            else:
                err = r.error or {}
                out.append("✗ ", style="bold red")
                out.append_text(safe(r.url, "bold"))
                out.append("\n  ")
                out.append_text(safe(f"{err.get('kind', 'error')}: {err.get('message', '')}", "red"))
                out.append("\n")
        if self.results and not self.running:
            out.append("esc closes.", style="dim")
        if extra is not None:
            out.append_text(extra)
        self.query_one("#fetch-status", Static).update(out)

    def action_close(self) -> None:
        if self.running:
            self.cancel.set()
            self._draw(Text("Cancelling… (the partial file is removed)", style="yellow"))
            return
        self.dismiss(None)


class ExportDialog(ModalScreen[Path | None]):
    """Where to write the HTML report (a folder; default ``byteme-report/`` in the library folder)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, default: Path):
        super().__init__()
        self.default = Path(default)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Export an HTML report of the scored clips (index.html ranks them; one page per clip). "
                         "Folder to write it to, enter exports, esc closes:", markup=False)
            yield Input(value=str(self.default), id="dest")

    @on(Input.Submitted, "#dest")
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.notify("Type a folder to write the report to.", severity="warning", markup=False)
            return
        dest = Path(text).expanduser()
        if dest.exists() and not dest.is_dir():
            self.notify("That is a file, not a folder: the report is a folder with index.html in it.",
                        severity="warning", markup=False)
            return
        self.dismiss(dest)


HELP = """\
Library (home)
  ↑↓ PgUp PgDn   move            Home End  first / last clip
  enter          breakdown of the clip
  space          mark a clip (the cursor stays)   m  mark all shown / none
  s              score marked (or the clip under the cursor)
  a              score all       n       score the unscored
  r              rescore (ignore the cache)
  x / X          cancel marked / cancel all     f   retry failed
  c              compare: the two marked clips, or the marked one and
                 the clip under the cursor (the status line names them)
  /              search names, captions, categories and every finding
  esc            clear the search and filters
  v / t          cycle status / tier filter
  o / O          cycle sort column / reverse (or click a header);
                 ↓ highest first, ↑ lowest (or A) first
  d              change folder   u       add URL    e   export report
  p  progress    ,  settings     ?  help   ctrl+p  every command
  q  quit (asks first while clips are being scored)

Progress
  x cancel job   X cancel all   f retry failed   space pause/resume
  t move job to the front        C clear the finished list   esc back
  "about N min left": the whole queue at the speed measured in this run

Breakdown
  n / N          next / previous finding (its span is marked ═ on the
                 risk strip and on the chart)
  ← / →          move the selected second on the risk strip (its reasons)
  m h w o        metrics / hook / rewards checklist / originality
  1 2 3          timeline / loudness / versus the folder (on a short
                 terminal they replace the lists; esc goes back)
  r rescore      esc back
  The picture left of the findings: the clip's typical frame, then the
  frame where the selected finding starts (or the selected second).

Settings
  /  search keys, values and sources    e  change a value and save it
  to your config file (named when saved)    esc  back

Risk strip: ▁ low  ▄ medium  █ high; each mark is one second (drawn up to
{chars} characters wide on a short clip), or on a long clip the worst second of
each group of seconds; the line under the strip says which.
Metrics: ✓ target met  ~ partly  ✗ missed  · no target.
Rewards: ✓ pass  ✗ fail  ? unknown (each rule names its source).

Scores read as words too: good ≥ 70, fair ≥ 40, poor below.
Status: · new  … queued  ▶ running  ✓ done  ✗ error/failed  ■ cancelled.
""".replace("{chars}", str(MAX_CHARS_PER_SECOND))


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog tall help"):
            yield Static(Text(HELP))
