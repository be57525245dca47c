"""``byteme fetch URL... [--to DIR] [--score]``: yt-dlp as a library (engine.ingest), with plain lines per item."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import IngestError
from ..paths import DATA_DIR_ENV
from ..ingest import ARCHIVE_FILENAME, DEFAULT_RETRIES, FetchResult, fetch, keep_engagement
from ..textsafe import visible
from .common import config_for, model_for, store_for

NAME = "fetch"
HELP = "download clips with yt-dlp into the library folder"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``byteme fetch URL... [--to DIR] [--limit N] [--cookies FILE] [--score]``."""
    parser.add_argument("urls", nargs="+", metavar="URL", help="http(s) address of a video, profile or playlist")
    parser.add_argument("--to", dest="to_dir", type=Path, default=Path("."), metavar="DIR",
                        help="library folder to download into (default: the current folder)")
    parser.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                        help="at most N videos from a profile or playlist")
    parser.add_argument("--cookies", type=Path, default=None, metavar="FILE",
                        help="Netscape cookies file, for your own private videos (never modified)")
    parser.add_argument("--archive", type=Path, default=None, metavar="FILE",
                        help=f"download archive (default: {ARCHIVE_FILENAME} in the data folder; "
                             f"${DATA_DIR_ENV} overrides the folder)")
    parser.add_argument("--retries", type=_non_negative_int, default=DEFAULT_RETRIES, metavar="N",
                        help=f"retries for network errors, with backoff (default: {DEFAULT_RETRIES})")
    parser.add_argument("--score", action="store_true", help="score the downloaded clips afterwards")


def score_downloaded(paths: list[Path], args=None) -> list:
    """Score the downloaded clips with the run's --config/--preset/--store (through the store, so the TUI and
    ``byteme results`` see them) and print one plain line per clip."""
    from ..library import analyze

    cfg = config_for(args)
    store = store_for(args)
    try:
        model = model_for(args, cfg)
        results = [analyze(p, cfg, store=store, model=model) for p in paths]
    finally:
        store.close()
    for result in results:
        print(_score_line(result))
    return results



def _score_line(result) -> str:
    row = result.contract() if hasattr(result, "contract") else (result if isinstance(result, dict) else {})
    path = visible(row.get("path", getattr(result, "path", "?")))
    if row.get("status") != "ok":
        error = row.get("error") or {}
        return f"score    {path}: error [{visible(error.get('kind', 'error'))}] {visible(error.get('message', ''))}"
    scores = row.get("scores") or {}
    overall = scores.get("overall")
    shown = f"{overall:.1f}" if isinstance(overall, (int, float)) else "n/a"
    tier = f" ({visible(row['tier'])})" if row.get("tier") else ""
    return f"score    {path}: overall {shown}{tier}"


class _ProgressPrinter:
    """Prints download progress on stderr about four times a second, only on a terminal."""

    INTERVAL_S = 0.25

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0

    def __call__(self, ident: str, done: int, total: int | None, speed: float | None) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < self.INTERVAL_S:
            return
        self.last = now
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        rate = f" at {speed / 1e6:.1f} MB/s" if speed else ""
        self.stream.write(f"\r  {visible(ident)[:40]}: {size}{rate}\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled and self.last:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def format_result_line(result: FetchResult) -> str:
    """One plain line per item; everything that came from the web is escaped."""
    title = f" \"{visible(result.title)}\"" if result.title else ""
    if result.status == "ok":
        return f"ok       {visible(result.path)}{title}"
    if result.status == "skipped":
        return f"skipped  {visible(result.url)}{title}: already downloaded (in the download archive)"
    error = result.error or {}
    return (f"error    {visible(result.url)}{title}: "
            f"[{visible(error.get('kind', 'download'))}] {visible(error.get('message', ''))}")


def run(args: argparse.Namespace) -> int:
    """Run ``byteme fetch``: 0 when every item is ok or skipped, 1 when any failed, 2 for a usage error,
    130 when interrupted with Ctrl-C (partial files removed)."""
    printer = _ProgressPrinter()
    try:
        results = fetch(list(args.urls), to_dir=args.to_dir, limit=getattr(args, "limit", None),
                        cookies=getattr(args, "cookies", None), archive=getattr(args, "archive", None),
                        progress=printer, retries=getattr(args, "retries", DEFAULT_RETRIES))
    except IngestError as err:
        printer.clear()
        print(f"error: [{err.kind}] {visible(err.message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        printer.clear()
        print("Interrupted; the partial download was removed.", file=sys.stderr)
        return 130
    printer.clear()
    for result in results:
        print(format_result_line(result))
    failed = sum(r.status == "error" for r in results)
    ok_paths = [r.path for r in results if r.status == "ok" and r.path is not None]
    print(f"{len(ok_paths)} downloaded, {sum(r.status == 'skipped' for r in results)} skipped, {failed} failed.")
    keep_engagement(results, getattr(args, "store", None))
    if getattr(args, "score", False) and ok_paths:
        scored = score_downloaded(ok_paths, args)
        failed += sum(getattr(r, "status", "ok") != "ok" for r in scored)
    return 1 if failed else 0
