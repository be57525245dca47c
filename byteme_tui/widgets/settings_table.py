"""The settings list: every value of the active config, grouped by section (a heading row per section), each with
where it came from, filtered by a search text. Keys show whole (TOML's dotted form, the way the user's file writes
them); a long value is cut in its cell and shown whole in the detail pane under the table."""
from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

from ..format import clip_text, safe

#: A TOML bare key: written without quotes in the dotted form.
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: Columns kept for the value and the source (characters); the key column is as wide as the longest key.
VALUE_MIN_CHARS, SOURCE_MAX_CHARS = 18, 36
#: A section heading's row key starts with this (a key path never does: TOML keys are strings).
SECTION_PREFIX = "§"


def dotted(keys: tuple) -> str:
    """A key path the way a TOML file writes it: ``targets."visual.sharpness".good``."""
    return ".".join(k if _BARE_KEY.fullmatch(k) else '"' + k.replace('"', '\\"') + '"' for k in keys)


def toml_value(value: object) -> str:
    """A value as TOML writes it (``0.6``, ``true``, ``"text"``, ``[1, 2]``)."""
    import tomli_w

    return tomli_w.dumps({"v": value})[len("v = "):].strip()


@dataclass(frozen=True)
class Setting:
    keys: tuple
    value: object
    source: str

    @property
    def key(self) -> str:
        return dotted(self.keys)

    @property
    def section(self) -> str:
        return self.keys[0]

    def matches(self, needle: str) -> bool:
        return not needle or needle in f"{self.key}\n{toml_value(self.value)}\n{self.source}".lower()


class SettingsTable(DataTable):
    DEFAULT_CSS = """
    SettingsTable { height: 1fr; }
    """

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.by_key: dict[str, Setting] = {}
        self.sections: dict[str, int] = {}  # section -> settings shown in it

    def show(self, settings: list[Setting], needle: str = "") -> None:
        """Rebuild the rows: the settings that match ``needle`` (case-insensitive), under their section's heading;
        the cursor stays on the same setting when it is still shown."""
        needle = needle.strip().lower()
        current = self.current_key
        shown = [s for s in settings if s.matches(needle)]
        self.sections = {}
        for s in shown:
            self.sections[s.section] = self.sections.get(s.section, 0) + 1
        key_w = max((len(s.key) for s in shown), default=10)
        source_w = min(SOURCE_MAX_CHARS, max((len(s.source) for s in shown), default=10))
        value_w = max(VALUE_MIN_CHARS, self.size.width - key_w - source_w - 8)
        self.clear(columns=True)
        self.add_column("Setting", key="key", width=key_w)
        self.add_column("Value", key="value", width=value_w)
        self.add_column("From", key="source", width=source_w)
        self.by_key = {}
        section = None
        for s in shown:
            if s.section != section:
                section = s.section
                n = self.sections[section]
                self.add_row(Text.assemble(("▸ ", "dim"), safe(section, "bold"), (f"  {n} setting{'s' * (n != 1)}", "dim")),
                             Text(""), Text(""), key=SECTION_PREFIX + section)
            self.by_key[s.key] = s
            self.add_row(safe(s.key), safe(clip_text(toml_value(s.value), value_w)),
                         safe(clip_text(s.source, source_w), "dim" if s.source == "shipped defaults" else "cyan"),
                         key=s.key)
        keys = [k.value for k in self.rows]
        if current in keys:
            self.move_cursor(row=keys.index(current), animate=False)

    @property
    def current_key(self) -> str | None:
        if not self.row_count or self.cursor_row < 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - the cursor is past the rows while they are rebuilt
            return None

    @property
    def current(self) -> Setting | None:
        return self.by_key.get(self.current_key or "")
