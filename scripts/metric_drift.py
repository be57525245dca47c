"""Every metric and score of real clips, dumped to JSON, or compared with an earlier dump (issue 21: the analysis
made cheaper must keep every metric within its documented tolerance, ``tests/functional/test_metric_drift.py``).

    PYTHONPATH=. .venv/bin/python scripts/metric_drift.py --dump tests/data/metric_reference.json
    PYTHONPATH=. .venv/bin/python scripts/metric_drift.py --compare tests/data/metric_reference.json
    PYTHONPATH=. .venv/bin/python scripts/metric_drift.py --compare tests/data/metric_reference.json --skip-frame NONREF

Clips: the 13 of ``../shared/realclips`` and the first ``REALMOS_CLIPS`` of ``../shared/realmos`` (by name), each
analysed with the shipped config and model, without on-screen text reading (OCR has a tolerance test of its own,
``scripts/ocr_tolerance.py``; its metrics are left out here so the two changes are measured apart). Recorded per
clip: every metric value at full precision, the overall and modality scores and the picture-quality score.

``--skip-frame NONREF`` (or ``NONKEY``) measures what a decoder-level skip would do: the video is decoded with
FFmpeg's ``skip_frame`` set (non-reference frames not decoded) and every metric compared with the full decode.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
#: KoNViD clips of ../shared/realmos taken (landscape 540p, 8 s): a few besides the vertical realclips.
REALMOS_CLIPS = 4


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def clips(shared: Path = SHARED) -> list[Path]:
    real = sorted((shared / "realclips").glob("*.mp4"))
    mos = sorted((shared / "realmos").glob("*.mp4"))[:REALMOS_CLIPS]
    return real + mos


def measure(path: Path, cfg: dict, model=None) -> dict:
    """The metrics and scores of one clip (OCR off), full precision."""
    from engine.library import analyze

    res = analyze(path, cfg, use_cache=False, options={"ocr": False}, model=model)
    s = res.scores
    scores = {}
    if s is not None:
        scores["overall"] = s.overall
        scores.update({f"modality.{m}": v for m, v in s.modalities.items()})
        for k, v in sorted((s.extra or {}).items()):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                scores[f"extra.{k}"] = v
            elif isinstance(v, dict):
                scores.update({f"extra.{k}.{kk}": vv for kk, vv in sorted(v.items())
                               if isinstance(vv, (int, float)) and not isinstance(vv, bool)})
    metrics = {k: (float(v) if v is not None and math.isfinite(float(v)) else None)
               for k, v in sorted(res.features.values.items())} if res.features else {}
    return {"status": res.status, "metrics": metrics, "scores": scores,
            "findings": sorted(f.get("code", "") if isinstance(f, dict) else getattr(f, "code", "")
                               for f in res.findings)}


def run(paths: list[Path]) -> dict:
    from engine.config import load_config

    cfg = load_config(use_user_file=False)
    out = {}
    for p in paths:
        t0 = time.perf_counter()
        out[p.name] = measure(p, cfg)
        print(f"  {p.name}: {time.perf_counter() - t0:.1f} s (load {loadavg()})", flush=True)
    return out


def differences(before: dict, after: dict) -> list[tuple[str, str, float | None, float | None]]:
    """(clip, key, before, after) for every metric or score that differs at all (None: absent on one side)."""
    rows = []
    for clip, b in before.items():
        a = after.get(clip)
        if a is None:
            continue
        for group in ("metrics", "scores"):
            keys = set(b[group]) | set(a[group])
            for k in sorted(keys):
                x, y = b[group].get(k), a[group].get(k)
                if x != y:
                    rows.append((clip, f"{group[:-1]}:{k}" if group == "scores" else k, x, y))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", help="write the measurements here")
    ap.add_argument("--compare", help="compare with this earlier dump")
    ap.add_argument("--skip-frame", choices=("NONREF", "BIDIR", "NONINTRA", "NONKEY"),
                    help="decode the video with FFmpeg's skip_frame (a measurement, not a product option)")
    ap.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                    help="override a constant for this run, e.g. engine.extractors.visual.image.SAMPLES_PER_S=1 "
                         "(what a cheaper setting would change; a measurement, not a product option)")
    ap.add_argument("clips", nargs="*", help="default: ../shared/realclips and a few ../shared/realmos clips")
    args = ap.parse_args(argv)
    for item in args.set:
        import ast
        import importlib

        target, value = item.split("=", 1)
        module, name = target.rsplit(".", 1)
        setattr(importlib.import_module(module), name, ast.literal_eval(value))
    if args.skip_frame:
        from engine import media

        opened = media._open

        def _open_skipping(path, mode=args.skip_frame):
            container = opened(path)
            for s in container.streams.video:
                s.codec_context.skip_frame = mode
            return container

        media._open = _open_skipping
    paths = [Path(c) for c in args.clips] or clips()
    if not paths:
        print(f"no clips under {SHARED}: nothing to measure")
        return 0
    print(f"{len(paths)} clips, load {loadavg()}", flush=True)
    now = run(paths)
    if args.dump:
        Path(args.dump).write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        worst: dict[str, tuple] = {}
        for clip, k, x, y in differences(before, now):
            d = abs(x - y) if x is not None and y is not None else math.inf
            if k not in worst or d > worst[k][0]:
                worst[k] = (d, clip, x, y)
        for k, (d, clip, x, y) in sorted(worst.items()):
            print(f"{k:45s} max |diff| {d:.6g}  ({clip}: {x} -> {y})")
        print(f"{len(worst)} keys differ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
