"""``byteme config [KEY] [--json] [--path]``: the active configuration, each value with where it came from."""
from __future__ import annotations

import json
import shutil
import sys
import textwrap

from ..textsafe import display_path, visible
from .common import EXIT_OK, EXIT_USAGE, config_for

NAME = "config"
HELP = "print the active configuration, each value with where it came from (shipped, your file, preset, environment)"

#: Used when the terminal's width cannot be read (a pipe without $COLUMNS).
FALLBACK_COLUMNS = 100
#: The source column: the longest short label is "environment" / "preset shorts" (13).
SOURCE_WIDTH = 14
#: Values wrap under their own column, never narrower than this.
MIN_VALUE_WIDTH = 30


def add_arguments(p) -> None:
    p.add_argument("key", nargs="?", default=None, metavar="KEY",
                   help="show only this section or key, e.g. scoring, targets.audio or platform.preset")
    p.add_argument("--json", action="store_true",
                   help="the machine form: {\"config\": values, \"sources\": {dotted key: source}, \"layers\": [...]}; "
                        "secrets stay hidden")
    p.add_argument("--path", action="store_true", help="print the user config file's path")


def run(args) -> int:
    from ..config import SHIPPED_SOURCE, flatten, redacted, user_config_path, value_sources, with_environment

    if args.path:
        print(display_path(user_config_path()))
        return EXIT_OK
    cfg = config_for(args)
    layers = cfg.pop("_sources")
    cfg = redacted(with_environment(cfg))
    sources = value_sources(getattr(args, "config", None), getattr(args, "preset", None))
    values = flatten(cfg)
    active = cfg.get("platform", {}).get("preset")
    others = [name for name in cfg.get("presets", {}) if name != active]
    if not args.key and not args.json:  # the other presets' tables are not in use: named at the end, not listed
        values = {k: v for k, v in values.items() if not any(k.startswith(f"presets.{n}.") for n in others)}
    if args.key:
        values = {k: v for k, v in values.items() if k == args.key or k.startswith(args.key + ".")}
        if not values:
            sys.stderr.write(f"byteme: no config key or section {visible(args.key)!r}; `byteme config` lists them "
                             "all.\n")
            return EXIT_USAGE
    if args.json:
        print(json.dumps({"config": _unflatten_filter(cfg, values) if args.key else cfg,
                          "sources": {k: sources.get(k, SHIPPED_SOURCE) for k in values},
                          "layers": layers}, indent=2, default=str))
        return EXIT_OK
    text = _readable(values, sources, layers)
    if not args.key and others:
        note = ("Other presets (not in use): " + ", ".join(visible(n) for n in others)
                + ". `byteme config presets` lists them; --preset NAME or [platform] preset switches.")
        columns = shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
        text += "\n\n" + "\n".join(textwrap.wrap(note, max(MIN_VALUE_WIDTH, columns - 1)))
    print(text)
    return EXIT_OK


def _unflatten_filter(cfg: dict, keep: dict) -> dict:
    """The nested part of ``cfg`` whose leaves are in ``keep``."""
    def walk(d: dict, prefix: str) -> dict:
        out = {}
        for k, v in d.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and v:
                sub = walk(v, key + ".")
                if sub:
                    out[k] = sub
            elif key in keep:
                out[k] = v
        return out

    return walk(cfg, "")


def _short(label: str) -> str:
    """The source column's word for a label of ``value_sources``: the files are named once, in the legend."""
    for prefix, short in (("shipped", "shipped"), ("your file ", "user file"), ("--config ", "--config"),
                          ("environment ", "environment"), ("chosen for this run", "--preset")):
        if label.startswith(prefix):
            return short
    return label  # "preset tiktok", "--preset"


def _layer_rank(label: str) -> int:
    """The order ``load_config`` applies the layers in (later wins)."""
    order = ("shipped", "your file", "--config", "chosen for this run", "preset ", "environment")
    return next((i for i, p in enumerate(order) if label.startswith(p)), len(order))


def _value_text(v) -> str:
    return json.dumps(v, ensure_ascii=False, default=str) if not isinstance(v, (int, float)) or isinstance(v, bool) \
        else str(v)


def _readable(values: dict, sources: dict, layers: list) -> str:
    """Sections as TOML table names, then ``key  source  value`` rows; values wrap under their column."""
    from ..config import SHIPPED_SOURCE as SHIPPED

    columns = shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
    used = {sources.get(k, SHIPPED) for k in values}
    lines = ["The active configuration (later sources win):"]
    legend = [f"  {'shipped':<{SOURCE_WIDTH - 1}} {visible(layers[0])}"] if layers else []
    for label in sorted(used - {SHIPPED}, key=_layer_rank):
        short = _short(label)
        what = label[len(short):].strip() if short != label else {
            "--preset": "the --preset flag"}.get(label, f"its [presets.{label[7:]}] tables (in the files above)")
        legend.append(f"  {short:<{SOURCE_WIDTH - 1}} {visible(what)}")
    lines += legend + [""]
    groups: dict[str, list[tuple[str, object, str]]] = {}
    for key, v in values.items():
        section, _, leaf = _split(key)
        groups.setdefault(section, []).append((leaf, v, key))
    for section, rows in groups.items():
        lines.append(f"[{visible(section)}]")
        key_width = min(max(len(k) for k, _, _ in rows), 34)
        value_col = 2 + key_width + 2 + SOURCE_WIDTH
        width = max(MIN_VALUE_WIDTH, columns - value_col - 1)
        for leaf, v, dotted in rows:
            src = _short(sources.get(dotted, SHIPPED))
            text = textwrap.wrap(visible(_value_text(v)), width, break_on_hyphens=False) or [""]
            key = visible(leaf)
            if len(key) > key_width:  # a long key gets its own line; the columns stay aligned
                lines.append(f"  {key}")
                key = ""
            lines.append(f"  {key:<{key_width}}  {src:<{SOURCE_WIDTH}}{text[0]}")
            lines += [" " * value_col + t for t in text[1:]]
        lines.append("")
    return "\n".join(lines).rstrip()


def _split(key: str) -> tuple[str, str, str]:
    """The section a value is printed under (as TOML names it) and its key there: ``scoring.weights.visual`` ->
    (``scoring``, ``weights.visual``); a target's metric and a preset's name belong to the section:
    ``targets."audio.loudness_lufs"`` / ``good_low``, ``presets.tiktok`` / ``rewards.program``."""
    parts = key.split(".")
    if parts[0] == "targets" and len(parts) >= 4:  # the metric's name has a dot of its own
        return f'targets."{parts[1]}.{parts[2]}"', ".", ".".join(parts[3:])
    if parts[0] == "presets" and len(parts) >= 3:
        return f"presets.{parts[1]}", ".", ".".join(parts[2:])
    if len(parts) == 1:
        return "", "", key
    return parts[0], ".", ".".join(parts[1:])
