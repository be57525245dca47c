"""Settings: the active config, where each value came from (shipped defaults, the user file, --config, or the
platform preset), and switches for the preset and the scoring model. Changes apply to clips scored next."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select

from engine.config import read_toml, redacted

from ..format import safe


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def value_sources(cfg: dict) -> list[tuple[str, object, str]]:
    """(key, value, source) for every leaf of the active config; the last layer that sets a key wins."""
    origin: dict[str, str] = {}
    for src in cfg.get("_sources", []):
        try:
            for key in flatten(read_toml(__import__("pathlib").Path(src))):
                origin[key] = src
        except Exception:  # noqa: BLE001 - an unreadable layer would have failed load_config already
            continue
    preset = cfg.get("platform", {}).get("preset")
    over = {k: v for k, v in cfg.get("presets", {}).get(preset, {}).items() if isinstance(v, dict)}
    for key in flatten(over):
        origin[key] = f"preset {preset}"
    shipped = str(__import__("pathlib").Path(__import__("engine").__file__).parent / "config.toml")
    names = {src: ("shipped defaults" if src == shipped else f"file {src}") for src in set(origin.values())
             if not str(src).startswith("preset ")}
    rows = []
    for key, value in flatten({k: v for k, v in redacted(cfg).items() if not k.startswith("_") and k != "presets"}).items():
        src = origin.get(key, "shipped defaults")
        rows.append((key, value, names.get(src, src)))
    return rows


class SettingsScreen(Screen):
    CSS_PATH = "settings.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("question_mark", "app.help", "Help", show=False)]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="switches"):
            yield Label("Preset ")
            yield Select([], id="preset", allow_blank=True, prompt="from config", compact=True)
            yield Label("  Model ")
            yield Input(placeholder="from config", id="model", compact=True)
        yield DataTable(id="values", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Setting", key="key", width=40)
        table.add_column("Value", key="value", width=18)
        table.add_column("From", key="source", width=60)
        self.query_one("#model", Input).value = self.app.backend.model or ""
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        try:
            cfg = self.app.backend.config()
        except Exception as exc:  # noqa: BLE001 - a bad config is shown, not raised
            self.app.call_from_thread(self.notify, f"The config could not be read: {exc}", severity="error",
                                      markup=False)
            return
        self.app.call_from_thread(self._show, cfg)

    def _show(self, cfg: dict) -> None:
        self.app.cfg = cfg
        select = self.query_one("#preset", Select)
        with self.prevent(Select.Changed):
            select.set_options([(p, p) for p in cfg.get("presets", {})])
            if self.app.backend.preset:
                select.value = self.app.backend.preset
        table = self.query_one(DataTable)
        table.clear()
        for key, value, source in value_sources(cfg):
            table.add_row(safe(key), safe(repr(value) if isinstance(value, str) else value), safe(source))
        self.sub_title = f"{len(table.rows)} settings"

    @on(Select.Changed, "#preset")
    def _preset(self, event: Select.Changed) -> None:
        preset = None if event.value in (Select.NULL, None) else str(event.value)
        self.app.backend.set_preset(preset)
        self.notify(Text(f"Preset: {preset or 'from config'}. Press r on a clip to rescore with it.").plain,
                    markup=False)
        self.load()

    @on(Input.Submitted, "#model")
    def _model(self, event: Input.Submitted) -> None:
        self.app.backend.set_model(event.value.strip() or None)
        self.notify(f"Model: {event.value.strip() or 'from config'}. Rescore (r) to apply.", markup=False)
