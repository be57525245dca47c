"""BYTEME's terminal app (Textual). Reads the store, sends commands to the job queue; never decodes or scores
in its own process thread. ``byteme_tui.app.run_app(folder, args)`` is the entry point used by ``byteme tui``."""
