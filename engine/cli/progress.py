"""Progress of a run on stderr, so stdout stays pure JSON Lines, CSV or the table.

On a terminal: one bar, redrawn in place about four times a second (toolong's rate; fast enough to look live,
slow enough to cost nothing), with clips done / total, the elapsed time, the ETA and the clip being analysed. On a
pipe or a file: one plain line per finished clip, so a log shows the run moving without escape codes.

    progress = RunProgress(total=len(paths))
    with progress:
        for result in results:
            progress.finished(result, write=lambda: print_row(result))   # the bar is cleared while the row prints

``clip_progress`` is the ``progress`` callback of ``engine.library.analyze``: within a clip the bar moves with
the analysis (in-process runs only; the job queue reports whole clips).
"""
from __future__ import annotations

import math
import shutil
import sys
import threading
import time
from typing import Callable

from ..textsafe import visible
from .table import shown_path

#: Seconds between redraws of the bar: about four a second (the rate toolong and Textual's guide use for progress).
REDRAW_S = 0.25
#: Characters of the bar itself; the rest of the line is counts, times and the clip's name.
BAR_WIDTH = 24
#: Used when the terminal's width cannot be read.
FALLBACK_COLUMNS = 80
CLEAR_LINE = "\r\x1b[K"


def clock_text(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration; ``--:--`` when unknown."""
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunProgress:
    """Clips done of ``total`` on ``stream`` (default stderr): a bar when the stream is a terminal
    (``interactive``), a line per finished clip otherwise. ``clock`` and ``columns`` are injectable for tests."""

    def __init__(self, total: int, stream=None, *, interactive: bool | None = None, verb: str = "scored",
                 clock: Callable[[], float] = time.monotonic, columns: int | None = None):
        self.total = max(0, int(total))
        self.stream = stream if stream is not None else sys.stderr
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.verb = verb
        self.clock = clock
        self.columns = columns
        self.done = 0
        self.failed = 0
        self.started = clock()
        self.current: str | None = None  # the clip being analysed (its name)
        self.current_stage: str | None = None
        self.current_fraction = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    # -- lifecycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> "RunProgress":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self.started = self.clock()
        if self.interactive and self.total:
            self._thread = threading.Thread(target=self._redraw_loop, name="byteme-progress", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * REDRAW_S + 1)
            self._thread = None
        with self._lock:
            self._clear()

    # -- what the run reports ---------------------------------------------------------------------------------

    def starting(self, name: str) -> None:
        """The run begins on clip ``name`` (a path: shown as the table names it, escaped)."""
        with self._lock:
            self.current, self.current_stage, self.current_fraction = shown_path(name), None, 0.0

    def clip_progress(self, p) -> None:
        """The ``progress`` callback of ``analyze``: a ``pipeline.Progress`` (path, stage, fraction 0-1)."""
        with self._lock:
            self.current_stage = visible(p.stage) if getattr(p, "stage", None) else None
            self.current_fraction = min(1.0, max(0.0, float(getattr(p, "fraction", 0.0) or 0.0)))

    def interleave(self, write: Callable[[], None]) -> None:
        """Print something on stdout mid-clip (a provisional line) with the bar cleared, then draw it again."""
        with self._lock:
            self._clear()
            write()
            self._draw()

    def finished(self, result, write: Callable[[], None] | None = None) -> None:
        """A clip is done. ``write`` prints its row on stdout while the bar is cleared (same terminal)."""
        with self._lock:
            self._clear()
            if write is not None:
                write()
            self.done += 1
            self.failed += 0 if result.ok else 1
            self.current, self.current_stage, self.current_fraction = None, None, 0.0
            if self.interactive:
                self._draw()
            else:
                self.stream.write(self.line(result) + "\n")
                self.stream.flush()

    # -- text ---------------------------------------------------------------------------------------------------

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (clips done plus the running clip's fraction); None before any pace."""
        elapsed = self.clock() - self.started
        progressed = self.done + self.current_fraction
        if progressed <= 0 or elapsed <= 0:
            return None
        return max(0.0, elapsed / progressed * (self.total - progressed))

    def line(self, result) -> str:
        """The plain line for a finished clip: ``[3/12] clips/a.mp4: overall 78, gold (2.1 s)`` (the path relative
        to the current folder, as the table names it)."""
        head = f"byteme: [{self.done}/{self.total}] {shown_path(result.path)}"
        if not result.ok:
            err = result.error or {}
            return f"{head}: error ({visible(err.get('kind'))}): {visible(err.get('message'))}"
        s = result.scores
        overall = "-" if s is None or s.overall is None else f"{s.overall:.0f}"
        tier = s.tier if s is not None and s.tier else "-"
        took = "from the store" if result.cached else f"{result.elapsed_s:.1f} s"
        return f"{head}: overall {overall}, {visible(tier)} ({took})"

    def bar(self) -> str:
        """The one-line bar: ``[#####.....] 3/12 clips  1:02 elapsed  ETA 3:04  a.mp4 (audio)``."""
        columns = self.columns or shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
        fraction = (self.done + self.current_fraction) / self.total if self.total else 1.0
        filled = int(round(BAR_WIDTH * min(1.0, fraction)))
        failed = f", {self.failed} failed" if self.failed else ""
        text = (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} clips{failed}  "
                f"{clock_text(self.clock() - self.started)} elapsed  ETA {clock_text(self.eta_s())}")
        if self.current:
            stage = f" ({self.current_stage})" if self.current_stage else ""
            room = columns - 1 - len(text) - 2 - len(stage)
            name = self.current if len(self.current) <= room else "..." + self.current[-max(0, room - 3):]
            if room > 8:
                text += f"  {name}{stage}"
        return text[:max(1, columns - 1)]

    # -- drawing ------------------------------------------------------------------------------------------------

    def draw(self) -> None:
        """Redraw the bar now (the redraw thread calls this every ``REDRAW_S``)."""
        with self._lock:
            self._draw()

    def _draw(self) -> None:
        if not self.interactive or self._stop.is_set():
            return
        self.stream.write(CLEAR_LINE + self.bar())
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self._drawn = False

    def _redraw_loop(self) -> None:
        while not self._stop.wait(REDRAW_S):
            try:
                self.draw()
            except (OSError, ValueError):  # stderr closed under us: the run goes on without a bar
                return
