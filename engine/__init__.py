"""BYTEME engine: everything that is not the terminal UI. Never imports textual (see docs/ARCHITECTURE.md)."""

__version__ = "0.1.0"
