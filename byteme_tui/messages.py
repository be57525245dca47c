"""Messages from thread workers to the UI: small dataclasses (STYLE.md). A newer state supersedes an older one
still in the queue (``can_replace``), so a slow frame never drains a backlog of stale snapshots."""
from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.service_state import LibraryState


@dataclass
class StateChanged(Message):
    state: LibraryState

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged)


@dataclass
class CommandDone(Message):
    """A queue command finished in a worker; ``text`` is shown as a notification (never parsed as markup)."""

    text: str
    severity: str = "information"


@dataclass
class FetchProgress(Message):
    ident: str
    done_bytes: int
    total_bytes: int | None
    speed: float | None = None  # bytes per second

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FetchProgress) and message.ident == self.ident
