"""Only the app writes to the terminal. Worker processes (spawned by the job queue's local executor) inherit
file descriptors 1 and 2; anything they print (a model warning, a library's stderr noise, FFmpeg's C-level log)
would land on the app's screen and garble it. ``worker_output_to(log)`` points descriptors 1 and 2 of this process
at a log file for the app's lifetime (children started meanwhile inherit the log), while Python's
``sys.__stdout__``/``sys.__stderr__`` (which Textual's driver writes to and reads the terminal size from) keep
private duplicates of the terminal. Everything is put back on exit, so messages printed after the app go to the
terminal as usual."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

#: Where the app's worker processes write, inside the data dir (``$BYTEME_DATA_DIR``).
WORKER_LOG_NAME = "tui-workers.log"


def worker_log_path() -> Path:
    from engine.paths import data_dir

    return data_dir() / WORKER_LOG_NAME


@contextlib.contextmanager
def worker_output_to(log_path: Path):
    """Redirect fds 1 and 2 to ``log_path`` while the block runs (no-op when they are not a terminal: a test
    runner or a pipe already keeps worker output off the screen)."""
    if not (sys.__stderr__ and sys.__stderr__.isatty()):
        yield None
        return
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    old_out, old_err, cur_out, cur_err = sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr
    term_out = os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding=old_out.encoding, errors="replace")
    term_err = os.fdopen(os.dup(saved[2]), "w", buffering=1, encoding=old_err.encoding, errors="replace")
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for f in (old_out, old_err):
            f.flush()
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr = term_out, term_err, term_out, term_err
        yield log_path
    finally:
        for f in (term_out, term_err):
            with contextlib.suppress(OSError, ValueError):
                f.flush()
        sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr = old_out, old_err, cur_out, cur_err
        for fd, dup in saved.items():
            os.dup2(dup, fd)
            os.close(dup)
        os.close(log_fd)
        for f in (term_out, term_err):
            with contextlib.suppress(OSError, ValueError):
                f.close()
