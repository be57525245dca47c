"""How much a verdict moves under changes nobody would see: each clip against a visually lossless re-encode of it
(x264 CRF 16, audio re-encoded to AAC) and against the same re-encode with its first half second cut.

    PYTHONPATH=. .venv/bin/python scripts/verdict_stability.py [--metric NAME ...] [CLIP ...]
    # default clips: ../shared/realclips/*.mp4; --metric prints that metric's value on each copy, in brackets

Each copy is written to a temporary folder (with the clip's caption sidecar beside it), analysed like ``byteme score
--no-cache`` (OCR on, the shipped config and model) and compared with the original: overall score, tier, the
finding codes that appear or vanish (+/-) and the findings whose severity changes (~). Originality findings are
left out (the copies are near-duplicates of each other by design). Trimming changes what the opening shows, so hook
findings may move there for a reason; a re-encode changes nothing a viewer sees. Nothing is asserted: the numbers
go in the session notes.

The copies themselves are not the same bytes from run to run: libx264 (PyAV 14 here) made a different stream from
the same input frames in about one run of three, with one thread too (realclip 3fe99801's copy read blockiness 3.3
in one run and 2.6 in the next), so a finding right at its threshold on a copy may flip between runs of this script.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402

#: x264 constant-quality setting of the copies: visually lossless (the blockiness target's own calibration).
COPY_CRF = 16
#: Seconds cut from the start of the trimmed copy.
TRIM_S = 0.5
#: Time base of the copies' video stream: the source's frame times are kept (a phone's variable frame rate too).
COPY_TIME_BASE = Fraction(1, 90000)


def reencode(src: Path, dst: Path, *, start_s: float = 0.0) -> None:
    """``src`` re-encoded to ``dst``: H.264 at ``COPY_CRF`` with the source's frame times (from ``start_s``, moved
    to 0), audio as AAC at its sample rate; frames and audio before ``start_s`` left out."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        vout = out.add_stream("libx264", rate=vin.average_rate or 30,
                              options={"crf": str(COPY_CRF), "preset": "veryfast"})
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.time_base = vout.codec_context.time_base = COPY_TIME_BASE
        aout = None
        if ain is not None:  # the source's channel layout: a mono track upmixed to stereo would play 3 dB lower
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate)
            aout.codec_context.layout = ain.codec_context.layout
        last_pts = None
        for frame in inp.decode(*([vin] + ([ain] if ain is not None else []))):
            t = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
            if t < start_s:
                continue
            if isinstance(frame, av.VideoFrame):
                pts = int(round((t - start_s) / COPY_TIME_BASE))
                if last_pts is not None and pts <= last_pts:
                    continue  # two frames at one time (rounding): the muxer refuses the second
                last_pts = pts
                f = frame.reformat(format="yuv420p")
                f.pts, f.time_base = pts, COPY_TIME_BASE
                out.mux(vout.encode(f))
            else:
                frame.pts = None  # the encoder counts samples from the first one kept
                out.mux(aout.encode(frame))
        out.mux(vout.encode())
        if aout is not None:
            out.mux(aout.encode())


def verdict(path: Path, cfg: dict, metrics=()) -> tuple[float | None, str, dict[str, str], list]:
    """(overall, tier, {finding code: severity}, the values of ``metrics``) of one analysis of ``path``."""
    from engine.library import analyze

    r = analyze(path, cfg, use_cache=False)
    codes = {f.code: f.severity for f in r.findings if not f.code.startswith("originality.")}
    values = [r.features.values.get(m) if r.features else None for m in metrics]
    return (r.scores.overall, r.scores.tier, codes, values) if r.scores else (None, "failed", codes, values)


def _fmt(values) -> str:
    return " [" + " ".join("-" if v is None else f"{v:.3g}" for v in values) + "]" if values else ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("--metric", action="append", default=[],
                    help="also print this metric's value on each copy (repeatable), e.g. audio.beat_strength")
    args = ap.parse_args(argv)
    clips = args.clips or sorted((ROOT.parent / "shared" / "realclips").glob("*.mp4"))
    from engine.config import load_config

    cfg = load_config(use_user_file=False)
    moved = []
    with tempfile.TemporaryDirectory(prefix="byteme-stability-") as tmp:
        for src in clips:
            row = [f"{src.name[:28]:28s}"]
            base = None
            for tag, start in (("original", None), ("crf16", 0.0), ("trim0.5", TRIM_S)):
                folder = Path(tmp) / tag
                folder.mkdir(exist_ok=True)
                dst = folder / src.name
                if start is None:
                    shutil.copyfile(src, dst)
                else:
                    reencode(src, dst, start_s=start)
                for side in src.parent.glob(src.stem + ".*"):
                    if side.suffix != src.suffix:
                        shutil.copyfile(side, folder / side.name)
                overall, tier, codes, values = verdict(dst, cfg, args.metric)
                if base is None:
                    base = (overall, tier, codes)
                    row.append(f"{overall} {tier}{_fmt(values)}")
                    continue
                d = None if overall is None or base[0] is None else overall - base[0]
                both = sorted(set(codes) & set(base[2]))
                graded = [c for c in both if codes[c] != base[2][c]]
                row.append(f"{tag} {d:+.1f}{_fmt(values)}" + ("" if tier == base[1] else f" {base[1]}->{tier}")
                           + "".join(f" +{c}" for c in sorted(set(codes) - set(base[2])))
                           + "".join(f" -{c}" for c in sorted(set(base[2]) - set(codes)))
                           + "".join(f" ~{c}:{base[2][c]}->{codes[c]}" for c in graded))
                if d is not None:
                    moved.append((tag, abs(d), tier != base[1], set(codes) != set(base[2]), bool(graded)))
            print(" | ".join(row), flush=True)
    for tag in ("crf16", "trim0.5"):
        rows = [m for m in moved if m[0] == tag]
        if rows:
            print(f"{tag}: overall moved by {max(r[1] for r in rows):.1f} at most (mean "
                  f"{sum(r[1] for r in rows) / len(rows):.1f}); tier changed on {sum(r[2] for r in rows)}, "
                  f"findings on {sum(r[3] for r in rows)}, a severity on {sum(r[4] for r in rows)} of {len(rows)} "
                  "clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
