"""One error hierarchy for the engine. Every error carries a short ``kind`` and a plain message.

The message says what happened and, where possible, what to do; it never contains a traceback.
"""
from __future__ import annotations


class BytemeError(Exception):
    """Base of every error the engine raises on purpose."""

    kind = "error"

    def __init__(self, message: str, *, kind: str | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.kind

    def as_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message}


class MediaError(BytemeError):
    """A file that cannot be read as a clip. ``kind`` is one of: empty_file, not_found, not_a_file,
    permission_denied, unreadable (not a media file FFmpeg recognises), truncated, no_streams,
    decode_failed, too_long, timeout."""

    kind = "unreadable"


class ConfigError(BytemeError):
    kind = "config"


class ModelError(BytemeError):
    kind = "model"


class StoreError(BytemeError):
    """The SQLite store cannot be opened, read or written (a damaged file, a read-only folder, a full disk, a folder
    where the file should be). ``damaged``: the file is not a database or its pages are broken; ``--reset-store``
    then keeps it aside and starts a fresh one."""

    kind = "store"

    def __init__(self, message: str, *, kind: str | None = None, damaged: bool = False):
        super().__init__(message, kind=kind)
        self.damaged = damaged


class OutputError(BytemeError):
    """An output the user asked for (``--csv FILE``, ``report --out``) cannot be written."""

    kind = "output"


class IngestError(BytemeError):
    kind = "download"


class Cancelled(BytemeError):
    kind = "cancelled"

    def __init__(self, message: str = "Cancelled by the user."):
        super().__init__(message)
