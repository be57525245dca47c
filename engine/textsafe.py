"""Make text from outside (file names, captions, OCR, downloads, FFmpeg errors) safe to print.

``visible(s)`` replaces every control character (C0, DEL, C1 — escape sequences start with one) and every
undecodable byte of a file name with a visible escape such as ``\\x1b``, so a terminal never interprets it.
Markup (Rich/Textual ``[bold]``) is the UI's concern: the TUI wraps outside text in ``rich.text.Text``, which
never parses markup.

``csv_cell(v)`` makes a value safe for a CSV a creator opens in a spreadsheet: undecodable bytes as ``\\xNN`` (the
file stays UTF-8) and text that a spreadsheet would run as a formula neutralised with a leading ``'``.
"""
from __future__ import annotations

import base64
import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\udc80-\udcff]")


def visible(text: object, *, keep_newlines: bool = False) -> str:
    s = text if isinstance(text, str) else os.fsdecode(text) if isinstance(text, bytes) else str(text)
    s = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", s)

    def esc(m: re.Match) -> str:
        c = m.group()
        if keep_newlines and c == "\n":
            return c
        if c == "\t":
            return "\\t" if not keep_newlines else c
        if c == "\n":
            return "\\n"
        if c == "\r":
            return "\\r"
        code = ord(c)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(esc, s)


def display_path(path: object) -> str:
    """A path for printing: visible() of its text."""
    return visible(os.fspath(path) if not isinstance(path, str) else path)


def utf8_text(text: str) -> str:
    """``text`` with the undecodable bytes of a file name (Python's surrogate escapes) written as ``\\xNN``, so it
    can be written as UTF-8; everything else unchanged (the form the store keeps paths in)."""
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def path_bytes(path: object) -> str | None:
    """The exact bytes of a file name that is not valid UTF-8, base64-encoded (RFC 4648); None for a UTF-8 name.
    JSON cannot carry such bytes (``"\\udcff"`` becomes U+FFFD in most tools); this lets a consumer open the file."""
    text = os.fspath(path) if not isinstance(path, str) else path
    if isinstance(text, bytes):
        raw = text
        try:
            raw.decode("utf-8")
            return None
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    if not _SURROGATE.search(text):
        return None
    return base64.b64encode(os.fsencode(text)).decode("ascii")


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection": =, +, -, @, and tab and
#: carriage return, which some importers strip before looking).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    """A CSV cell: None as empty, numbers as numbers (a negative score or LUFS stays a number), text as UTF-8-safe
    text with a leading ``'`` when it would start a formula (OWASP's advice against CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    text = utf8_text(value if isinstance(value, str) else os.fsdecode(value) if isinstance(value, bytes) else str(value))
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_row(row: dict) -> dict:
    """``csv_cell`` of every value of a row."""
    return {k: csv_cell(v) for k, v in row.items()}

