"""On-screen text as before issue 21 (every changed-mask frame chosen, every chosen frame read in full) and now
(``engine.extractors.text.ocr.REUSE_READINGS``: a same picture or a same text box is not read again; with
``--settle``, ``SETTLE_TEXT``: a changed mask must last two scans), per clip: frames chosen, OCR work and time, and every OCR-derived
metric of both, with the largest difference.

    PYTHONPATH=. .venv/bin/python scripts/ocr_tolerance.py                      # ../shared/realclips
    PYTHONPATH=. .venv/bin/python scripts/ocr_tolerance.py CLIP_OR_FOLDER ...
    ... --settle / --no-settle / --no-reuse             # "now" with or without either change

Each clip is decoded once and both OCR extractors see the same frames. Times are wall time of ``finish()`` with the load average beside them.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METRICS = ("text.onscreen_text_pct", "text.onscreen_reading_wps", "text.unsafe_zone_text_pct")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def compare(path: Path, cfg, settle: bool = True, reuse_now: bool = True) -> dict:
    from engine.extractors import ClipContext
    from engine.extractors.text import ocr
    from engine.features import FeatureVector
    from engine.media import decode, probe

    info = probe(path)
    ctx = ClipContext(path=path, info=info, config=cfg, options={})
    ocr.READ_DURING_DECODE = False  # all reading in finish(), timed there (the readings are the same either way)
    pair = [ocr.OnScreenText(), ocr.OnScreenText()]
    for e, now in zip(pair, (False, True)):
        e.begin(ctx)
        e.settle = now and settle

    def on_frame(f):
        for e in pair:
            e.on_frame(f, ctx)

    decode(path, info, on_frame=on_frame)
    out = {}
    for e, reuse in zip(pair, (False, True)):
        ocr.REUSE_READINGS = reuse and reuse_now
        fv = FeatureVector()
        t0 = time.perf_counter()
        e.finish(ctx, fv)
        out[reuse] = {"s": time.perf_counter() - t0, "chosen": len(fv.text.get("ocr_frames_s") or []), "load": loadavg(), "work": fv.events.get("text.ocr_work"),
                      "values": {k: fv.values.get(k) for k in METRICS}, "lines": fv.text.get("ocr", [])}
    ocr.REUSE_READINGS = True
    return out


def main(argv=None) -> int:
    from engine.config import load_config

    argv = list(argv if argv is not None else sys.argv[1:])
    from engine.extractors.text import ocr

    settle = ("--settle" in argv or ocr.SETTLE_TEXT) and "--no-settle" not in argv
    reuse_now = "--no-reuse" not in argv
    args = [a for a in argv if not a.startswith("--")] or [str(ROOT.parent / "shared" / "realclips")]
    paths = []
    for a in args:
        p = Path(a)
        paths += sorted(p.glob("*.mp4")) if p.is_dir() else [p]
    if not paths:
        print(f"no clips under {args}: nothing to compare")
        return 0
    cfg = load_config(use_user_file=False)
    from engine.extractors.text import ocr

    ocr.get_engine(1, int(cfg["text"]["ocr_long_side_px"]))  # loaded once, before any timing
    worst = {k: 0.0 for k in METRICS}
    tot = {False: 0.0, True: 0.0}
    for p in paths:
        r = compare(p, cfg, settle, reuse_now)
        full, reuse = r[False], r[True]
        tot[False] += full["s"]
        tot[True] += reuse["s"]
        diffs = {}
        for k in METRICS:
            a, b = full["values"][k], reuse["values"][k]
            d = abs(a - b) if a is not None and b is not None else (0.0 if a == b else float("inf"))
            diffs[k] = d
            worst[k] = max(worst[k], d)
        same_lines = [ln[1] for ln in full["lines"]] == [ln[1] for ln in reuse["lines"]]
        print(f"{p.name}: before {full['chosen']} frames {full['s']:.2f} s (load {full['load']}) -> now "
              f"{reuse['chosen']} frames {reuse['s']:.2f} s (load {reuse['load']}); work {reuse['work']}; "
              f"same lines: {same_lines}; "
              + ", ".join(f"{k.split('.')[1]} {full['values'][k]} -> {reuse['values'][k]}" for k in METRICS),
              flush=True)
    print(f"total OCR time: before {tot[False]:.1f} s, now {tot[True]:.1f} s")
    print("largest difference: " + ", ".join(f"{k} {v:.3g}" for k, v in worst.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
