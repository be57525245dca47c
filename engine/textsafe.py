"""Make text from outside (file names, captions, OCR, downloads, FFmpeg errors) safe to print.

``visible(s)`` replaces every control character (C0, DEL, C1 — escape sequences start with one) and every
undecodable byte of a file name with a visible escape such as ``\\x1b``, so a terminal never interprets it.
Markup (Rich/Textual ``[bold]``) is the UI's concern: the TUI wraps outside text in ``rich.text.Text``, which
never parses markup.
"""
from __future__ import annotations

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
