"""BYTEME engine: everything that is not the terminal UI. Never imports textual."""

__version__ = "0.1.0"
