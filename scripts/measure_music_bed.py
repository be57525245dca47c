"""Measure what the music-bed rule reads on a folder of clips (the numbers behind the constants of
``engine/extractors/audio/content.py``: MUSIC_BED_MAX_LOW_SHARE, MUSIC_BED_MIN_TONAL_SHARE).

For each clip: the median over active frames of the low-energy share and the tonal share (1 s windows), the pulse
clarity, and the speech and music presence the extractor reports.

Usage: .venv/bin/python scripts/measure_music_bed.py [FOLDER]   (default: ../shared/realclips)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from engine.extractors import audio_content as ac
from engine.extractors.audio import AudioAnalysis
from engine.media import decode_audio, iter_clips, probe
from engine.textsafe import visible


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "realclips"
    print(f"{'clip':36} {'low-energy':>10} {'tonal':>6} {'pulse':>6} {'speech%':>8} {'music%':>7}")
    for path in iter_clips([folder]):
        info = probe(path)
        if not info.has_audio:
            continue
        audio, _ = decode_audio(path, info, audio_rate_hz=48_000)
        a = AudioAnalysis(audio.samples, audio.sample_rate_hz)
        r = ac.rhythm(a)
        sm = ac.SpeechMusicFrames(a, pulse=r["pulse"])
        act = sm.active if sm.active.any() else np.ones(len(sm.active), bool)
        print(f"{visible(path.name)[:36]:36} {np.median(sm.low_energy_share[act]):10.2f} "
              f"{np.median(sm.tonal_share[act]):6.2f} {r['pulse']:6.2f} {100 * sm.speech.mean():8.0f} "
              f"{100 * sm.music.mean():7.0f}")


if __name__ == "__main__":
    main()
