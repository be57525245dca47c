"""Settings: every value of the active config, grouped by section and searchable, with where it came from (shipped
defaults, the user's file, --config, the active preset, or a preset chosen here), the whole key and value of the
highlighted one in a pane below, and switches for the preset and the scoring model. ``e`` changes a value and saves
it into the user's config file (named in the confirmation). Changes apply to clips scored next."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, RadioButton, RadioSet, Static

from engine.config import CHOSEN_PRESET_SOURCE, SECRET_KEYS, leaf_paths, parse_value, redacted
from engine.errors import ConfigError

from ..format import safe
from ..widgets.settings_table import SECTION_PREFIX, Setting, SettingsTable, toml_value

#: The preset switch's first choice: the preset the config files name.
FROM_CONFIG = "from config"


def settings_of(cfg: dict, sources: dict) -> list[Setting]:
    """One ``Setting`` per leaf of the active config (the presets' own tables are not listed: the active one's
    values show where they apply), in the config's order; secrets (``engine.config.SECRET_KEYS``) show as hidden."""
    shown = {k: v for k, v in redacted(cfg).items() if not k.startswith("_") and k != "presets"}  # no secrets
    return [Setting(keys, value, sources.get(keys, "shipped defaults")) for keys, value in leaf_paths(shown).items()]


def detail_text(setting: Setting | None, section: str | None, count: int, user_file: str) -> Text:
    if setting is None:
        if section is None:
            return Text("No setting matches the search (esc clears it).", style="dim")
        return Text.assemble(("Section ", "dim"), safe(section, "bold"), f": {count} setting(s) shown. ",
                             ("Move down to read one; e changes it.", "dim"))
    t = Text()
    t.append_text(safe(setting.key, "bold"))
    t.append(" = ")
    t.append_text(safe(toml_value(setting.value)))
    t.append("\nfrom: ", style="dim")
    t.append_text(safe(setting.source, "cyan"))
    t.append("   e changes it and saves it to ", style="dim")
    t.append_text(safe(user_file, "dim"))
    return t


class SettingsScreen(Screen):
    CSS_PATH = "settings.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("e", "edit", "Change & save"),
        Binding("question_mark", "app.help", "Help", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.settings: list[Setting] = []
        self.editing: Setting | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="switches"):
            yield Label("Preset ")
            yield RadioSet(id="preset", compact=True)
            yield Label("  Model ")
            yield Input(placeholder="from config", id="model", compact=True)
        yield Input(placeholder="/ search settings: key, value or source", id="search", compact=True)
        yield SettingsTable(id="values")
        yield Static(id="setting-detail")
        yield Input(id="edit", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#model", Input).value = self.app.backend.model or ""
        self.query_one("#edit", Input).display = False
        self.query_one(SettingsTable).focus()
        self.load()

    @work(thread=True, exclusive=True, group="settings")
    def load(self) -> None:
        try:
            cfg = self.app.backend.config()
            sources = self.app.backend.config_sources()
        except Exception as exc:  # noqa: BLE001 - a bad config is shown, not raised
            self.app.call_from_thread(self.notify, f"The config could not be read: {exc}", severity="error",
                                      markup=False)
            return
        from engine.config import user_config_path

        self.app.call_from_thread(self._show, cfg, sources, str(user_config_path()))

    def _show(self, cfg: dict, sources: dict, user_file: str) -> None:
        self.app.cfg = cfg
        self.user_file = user_file
        self.settings = settings_of(cfg, sources)
        self._show_presets(cfg)
        self._filter()

    def _show_presets(self, cfg: dict) -> None:
        radios = self.query_one("#preset", RadioSet)
        names = [FROM_CONFIG, *cfg.get("presets", {})]
        chosen = self.app.backend.preset or FROM_CONFIG
        if [b.name for b in radios.query(RadioButton)] != names:
            with self.prevent(RadioSet.Changed):
                radios.remove_children()
                radios.mount_all([RadioButton(Text(n), value=n == chosen, name=n) for n in names])

    def _filter(self) -> None:
        table = self.query_one(SettingsTable)
        table.show(self.settings, self.query_one("#search", Input).value)
        shown = len(table.by_key)
        self.sub_title = f"{shown} of {len(self.settings)} settings" if shown != len(self.settings) else \
            f"{len(self.settings)} settings"
        self._detail()

    def on_resize(self) -> None:
        if self.settings:
            self._filter()  # the value column takes the width there is

    @on(DataTable.RowHighlighted, "#values")
    def _detail(self) -> None:
        table = self.query_one(SettingsTable)
        key = table.current_key or ""
        section = key[len(SECTION_PREFIX):] if key.startswith(SECTION_PREFIX) else None
        self.query_one("#setting-detail", Static).update(
            detail_text(table.current, section, table.sections.get(section or "", 0), getattr(self, "user_file", "")))

    # -- search --------------------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self._filter()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one(SettingsTable).focus()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if self.editing is not None:
            self._stop_editing()
        elif search.value or search.has_focus:
            search.value = ""
            self.query_one(SettingsTable).focus()
        else:
            self.app.pop_screen()

    # -- changing a value ----------------------------------------------------------------------------------
    def action_edit(self) -> None:
        setting = self.query_one(SettingsTable).current
        if setting is None:
            self.notify("Move the cursor to a setting first (a section heading has no value).", markup=False)
            return
        if tuple(setting.keys) in SECRET_KEYS:
            self.notify("A secret is not shown or changed here: set it in your config file itself.", markup=False)
            return
        self.editing = setting
        edit = self.query_one("#edit", Input)
        edit.value = toml_value(setting.value)
        edit.display = True
        edit.focus()
        self.query_one("#setting-detail", Static).update(Text.assemble(
            ("New value for ", "dim"), safe(setting.key, "bold"), ("; enter saves it to ", "dim"),
            safe(self.user_file), (", esc cancels.", "dim")))

    def _stop_editing(self) -> None:
        self.editing = None
        edit = self.query_one("#edit", Input)
        edit.display = False
        self.query_one(SettingsTable).focus()
        self._detail()

    @on(Input.Submitted, "#edit")
    def _edit_done(self, event: Input.Submitted) -> None:
        setting = self.editing
        if setting is None:
            return
        try:
            value = parse_value(event.value, setting.value)
        except ConfigError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self._stop_editing()
        self.save(setting, value)

    @work(thread=True, group="settings-save")
    def save(self, setting: Setting, value: object) -> None:
        try:
            path, caveat = self.app.backend.save_setting(setting.keys, value)
        except Exception as exc:  # noqa: BLE001 - a value that does not validate, a file that cannot be written
            self.app.call_from_thread(self.notify, f"Not saved: {exc}", severity="error", markup=False, timeout=10)
            return
        text = f"Saved {setting.key} = {toml_value(value)} to {path}."
        if "--config" not in (caveat or ""):
            text += " Clips scored from now on use it (r rescores a clip)."
        if caveat:
            text += f" Note: {caveat}."
        self.app.call_from_thread(self.notify, text, markup=False, timeout=10)
        self.load()

    # -- switches ------------------------------------------------------------------------------------------
    @on(RadioSet.Changed, "#preset")
    def _preset(self, event: RadioSet.Changed) -> None:
        name = event.pressed.name
        preset = None if name in (None, FROM_CONFIG) else name
        if preset == self.app.backend.preset:
            return  # the switch being drawn, not a choice
        self.app.backend.set_preset(preset)
        self.notify(f"Preset: {preset or 'from config'} (this session; {CHOSEN_PRESET_SOURCE.split(',')[0]}). "
                    "Press r on a clip to rescore with it, or e on platform.preset to save it.", markup=False)
        self.load()

    @on(Input.Submitted, "#model")
    def _model(self, event: Input.Submitted) -> None:
        self.app.backend.set_model(event.value.strip() or None)
        self.notify(f"Model: {event.value.strip() or 'from config'}. Rescore (r) to apply.", markup=False)
