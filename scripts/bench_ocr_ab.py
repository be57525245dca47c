"""OCR before and after issue 21's OCR changes, in one process, alternating, on the same clips: ``byteme score
CLIP --no-cache --json`` with (a) OCR read as before (everything in ``finish()``, the detector on every frame not a
same picture: ``READ_DURING_DECODE`` and ``DETECT_NEW_TEXT_ONLY`` off), (b) OCR as now, (c) ``--no-ocr``, against
(d) a decode-only pass. Wall time (best of ``--repeat``) and the process's CPU time of that run, with the load
average beside each, and whether (a) and (b) gave the same metrics and scores (the JSON's ``metrics`` and
``scores``).

    PYTHONPATH=. .venv/bin/python scripts/bench_ocr_ab.py                  # the 15 s and 60 s 1080x1920 clips
    PYTHONPATH=. .venv/bin/python scripts/bench_ocr_ab.py --repeat 3 CLIP ...

The clips are those of ``scripts/bench_short.py --only gen`` (cached in ``$BYTEME_BENCH_CACHE`` or
``/tmp/byteme-bench``). Measured, never asserted in a test.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_short  # the same passes as its ``ratio`` section

OCR_KEYS = ("text.onscreen_text_pct", "text.onscreen_reading_wps", "text.unsafe_zone_text_pct")


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    from engine.extractors.text import ocr

    folder = bench_short.cache_dir(None)
    clips = args.clips or [bench_short.make_clip(folder, 1080, 1920, s) for s in (15.0, 60.0)]
    data_dir = Path(tempfile.mkdtemp(prefix="byteme-ocr-ab-"))

    def variant(name: str) -> None:
        ocr.READ_DURING_DECODE = ocr.DETECT_NEW_TEXT_ONLY = name == "now"

    variant("now")
    bench_short.score_in_process(clips[0], data_dir, ocr=True)  # warm: imports, the OCR session, the model
    for path in clips:
        runs: dict[str, list] = {k: [] for k in ("decode", "before", "now", "no_ocr")}
        out = {}
        for _ in range(args.repeat):
            for name, times in runs.items():
                c0 = cpu_s()
                if name == "decode":
                    dt = bench_short.decode_only(path)
                else:
                    variant(name)
                    dt, res = bench_short.score_in_process(path, data_dir, ocr=name != "no_ocr")
                    out[name] = (res.get("metrics"), res.get("scores"))
                times.append((dt, cpu_s() - c0, bench_short.loadavg()))
        variant("now")
        best = {k: min(v) for k, v in runs.items()}
        dec = best["decode"][0]
        bench_short.log(f"{path.name}:")
        for name, v in runs.items():
            bench_short.log(f"  {name:7s} wall {', '.join(f'{r[0]:.2f}' for r in v)} s (best x{best[name][0] / dec:.2f}"
                            f" of decode), CPU {', '.join(f'{r[1]:.2f}' for r in v)} s; load {' | '.join(r[2] for r in v)}")
        same = out["before"] == out["now"] and out["now"][0]
        ocr_now = {k: out["now"][0].get(k) for k in OCR_KEYS} if out["now"][0] else None
        bench_short.log(f"  every metric and score the same before/now: {bool(same)}; OCR metrics now {ocr_now}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
