"""``byteme watch DIR``: queue new or changed clips as they appear (watchfiles), and run them until Ctrl-C.

Clips already in the folder are queued at start (finished, unchanged ones are not redone); see engine.jobs.watch."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from ..jobs.watch import is_clip, settled
from ..store import default_store_path
from ..textsafe import display_path, visible
from .common import config_for

NAME = "watch"
HELP = "queue new or changed clips in a folder as they appear, and score them"
#: Seconds between two looks at the queue to report finished jobs.
REPORT_POLL_S = 0.5


def add_arguments(p) -> None:
    p.add_argument("folder", metavar="DIR", help="the folder to watch (recursively)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="worker processes (default: half the cores)")
    p.add_argument("--executor", choices=("local", "thread", "ray"), default="local")
    p.add_argument("--ray-address", default=None, help="with --executor ray: auto or HOST:PORT")
    p.add_argument("--no-ocr", action="store_true", help="skip on-screen text recognition")
    p.add_argument("--model", default=None, help="learned scorer to use ('none' for the config targets)")


def run(args) -> int:
    import watchfiles

    from ..jobs.queue import JobQueue
    from ..jobs.supervisor import Supervisor

    folder = Path(args.folder)
    if not folder.is_dir():
        sys.stderr.write(f"byteme: {display_path(folder)} is not a folder.\n")
        return 2
    cfg = config_for(args)
    store_path = Path(args.store) if args.store else default_store_path()
    queue = JobQueue(store_path)
    options = {"ocr": not args.no_ocr}
    model_name = args.model

    def enqueue(paths) -> None:
        ids = queue.enqueue(paths, config=cfg, options=options, model_name=model_name)
        for p, job_id in zip(paths, ids):
            job = queue.job(job_id)
            if job is not None and job.state in ("queued", "running"):
                sys.stdout.write(f"queued  {visible(os.path.basename(str(p)))}\n")
        sys.stdout.flush()

    from ..media import iter_clips

    enqueue(list(iter_clips([folder])))
    sup = Supervisor(store_path, workers=args.workers, executor=args.executor, ray_address=args.ray_address).start()
    stop = threading.Event()
    reported: set[int] = {j.id for j in queue.jobs(("done", "failed", "cancelled"))}

    def report() -> None:
        conn_queue = JobQueue(store_path)
        while not stop.wait(REPORT_POLL_S):
            for job in conn_queue.jobs(("done", "failed", "cancelled")):
                if job.id in reported:
                    continue
                reported.add(job.id)
                name = visible(os.path.basename(job.path))
                if job.state == "done":
                    r = conn_queue.result(job.id)
                    overall = r.scores.overall if r is not None and r.scores else None
                    sys.stdout.write(f"scored  {name}  overall {overall if overall is not None else '-'}\n")
                elif job.state == "failed":
                    sys.stdout.write(f"failed  {name}  {visible((job.error or {}).get('message', ''))}\n")
                else:
                    sys.stdout.write(f"cancelled  {name}\n")
                sys.stdout.flush()
        conn_queue.close()

    reporter = threading.Thread(target=report, name="byteme-watch-report", daemon=True)
    reporter.start()
    sys.stdout.write(f"Watching {display_path(folder)} (Ctrl-C to stop; unfinished jobs stay queued).\n")
    sys.stdout.flush()
    try:
        for changes in watchfiles.watch(folder, stop_event=stop, recursive=True,
                                        watch_filter=lambda change, p: change != watchfiles.Change.deleted
                                        and is_clip(Path(p))):
            fresh = sorted({Path(p) for _, p in changes})
            fresh = [p for p in fresh if settled(p)]
            if fresh:
                enqueue(fresh)
            if not sup.alive():
                raise sup.error or RuntimeError("the job supervisor stopped")
    except KeyboardInterrupt:
        sys.stderr.write("byteme: stopped watching; unfinished jobs stay queued for the next run.\n")
    finally:
        stop.set()
        sup.stop(cancel_running=False, timeout=0)
        queue.close()
    return 0
