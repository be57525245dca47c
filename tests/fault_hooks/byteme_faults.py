"""Fault injection for the job tests: makes a worker crash, hold, or report its imported modules, in whatever
process runs the analysis (the test process, a spawned worker, a Ray actor, a `byteme` subprocess).

The faults are read from a JSON file named by ``BYTEME_FAULTS_FILE`` at every job, so a test can change them while
long-lived workers run. Keys (all optional):

- ``crash_on``: a job whose file name contains this text ends its process at once (``os._exit``), as a decoder
  crash would. In the test process itself (thread executor) it raises ``SystemExit`` instead, which the thread
  executor reports as a lost worker.
- ``hold_on`` + ``hold_file``: a job whose file name contains ``hold_on`` waits (cancellably) while ``hold_file``
  exists, so a test can act on a job in the middle of its run.
- ``modules_to``: after each job, the sorted names of the top-level modules imported so far are written there.

Product code knows nothing of this: ``install()`` wraps ``engine.pipeline.extract_features`` (which every executor's
``run_job`` calls). ``sitecustomize.py`` beside this file installs it in new interpreters when this folder is on
``PYTHONPATH``; ``tests/conftest.py`` installs it in the test process.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FAULTS_ENV = "BYTEME_FAULTS_FILE"
#: Exit status of a worker process killed by ``crash_on`` (any non-zero status would do).
CRASH_EXIT_STATUS = 86
#: Seconds between two looks at the hold file: short, so a cancel is seen at once.
HOLD_POLL_S = 0.02


def current() -> dict:
    path = os.environ.get(FAULTS_ENV)
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def wrap(extract_features, *, in_test_process: bool):
    def faulty_extract_features(path, *args, **kwargs):
        faults = current()
        name = Path(path).name
        crash = faults.get("crash_on")
        if crash and crash in name:
            if in_test_process:
                raise SystemExit(f"fault injected: crash on {name}")
            os._exit(CRASH_EXIT_STATUS)
        hold, hold_file = faults.get("hold_on"), faults.get("hold_file")
        cancel = kwargs.get("cancel")
        if hold and hold_file and hold in name:
            from engine.errors import Cancelled

            while os.path.exists(hold_file):
                if cancel is not None and cancel.wait(HOLD_POLL_S):
                    raise Cancelled()
        try:
            return extract_features(path, *args, **kwargs)
        finally:
            target = faults.get("modules_to")
            if target:
                Path(target).write_text(json.dumps(sorted({m.split(".")[0] for m in list(sys.modules)})))

    faulty_extract_features.__wrapped__ = extract_features
    return faulty_extract_features


def install(pipeline_module, *, in_test_process: bool) -> None:
    if not hasattr(pipeline_module.extract_features, "__wrapped__"):
        pipeline_module.extract_features = wrap(pipeline_module.extract_features, in_test_process=in_test_process)


class _PatchOnImport:
    """A meta-path finder that wraps ``engine.pipeline`` right after it is first imported (so a process that never
    analyses a clip never imports the engine because of this hook)."""

    def find_spec(self, name, path=None, target=None):
        if name != "engine.pipeline":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            install(module, in_test_process=False)

        spec.loader.exec_module = exec_module
        return spec


def install_on_import() -> None:
    if os.environ.get(FAULTS_ENV) and not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
