"""A blocked call in the test process (an open() of a FIFO, a read that never returns) becomes a test failure
instead of a hung suite: SIGALRM interrupts it after ``seconds``."""
from __future__ import annotations

import contextlib
import signal


@contextlib.contextmanager
def hang_guard(seconds: int):
    def on_alarm(signum, frame):
        raise TimeoutError(f"hung for {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
