"""A demo folder of generated vertical clips, most with one deliberate, known flaw.

``make_demo_folder(folder)`` writes seven short 1080x1920 clips (H.264 + AAC, 5 s, 30 fps) with speech-like audio,
on-screen text and a caption sidecar ``<clip>.txt`` each, so a first-time user can try BYTEME without any media of
their own and see what each kind of feedback looks like. Every clip is built by ``engine.synth`` from a seed, so
the folder is the same on every machine. ``DEMO_CLIPS`` says what is wrong with each one.

The clips share one recipe (the same kind of picture, voice and caption) and differ only by their flaw, so the clean
clip is clearly the best and each flawed clip loses on its own flaw (``tests/functional/test_demo.py`` scores the
folder).

Run it as ``python -m engine.demo DIR`` (or ``byteme demo DIR``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import synth
from .textsafe import display_path

#: Size and length of the demo clips: the 1080x1920 that TikTok, Reels and Shorts recommend (the presets' target
#: size in config.toml), so the clean clip meets it; 5 s keeps the build to about 7 s of CPU a clip.
DEMO_W, DEMO_H, DEMO_FPS, DEMO_S, DEMO_SR = 1080, 1920, 30, 5.0, 48000
#: Loudness platforms normalise playback to, LUFS: a community convention for TikTok/Reels/Shorts, not a standard.
GOOD_LOUDNESS_LUFS = -14.0
#: Loudness of the "too quiet" clip: 20 LU under the playback level, as a phone far from the speaker records.
QUIET_LOUDNESS_LUFS = -34.0
#: The "clipped" clip: speech at -14 LUFS boosted by this much, then hard-clipped at full scale.
CLIPPED_BOOST_DB = 14.0
#: Blur of the "blurry" clip, pixels of Gaussian sigma at 1080x1920 (an out-of-focus phone camera); scaled with
#: the width for smaller builds.
BLUR_SIGMA_PX = 10.0
#: Band limit of the demo world's texture, px of Gaussian point spread at 1080x1920 (``synth.textured_scene``), as
#: a camera's optics leave it; scaled with the width. Without it the world's finest texture is white noise fixed on
#: every pixel, which reads as sensor grain (the clean clip: 3.4 levels, a grain finding).
TEXTURE_SIGMA_PX = 1.2
#: ... and at least this much at any size: the analysis reads frames at 360 px on the short side, so a smaller build
#: sees its texture at full strength (0.8 px: where noise_sigma reads under 2 levels at 360x640, synth.textured_scene).
MIN_TEXTURE_SIGMA_PX = 0.8
#: The shots of every demo clip but the one with a still opening (06): (seconds, scene id), the last one to the
#: end. The clips share one picture and differ by their flaw, so a flaw of the sound costs the picture nothing.
SHOTS = ((1.7, 0), (1.6, 1), (10, 2))
#: Exposure of the "too dark" clip: gain and gamma applied to the rendered frame (mean luma lands near 20/255).
DARK_GAIN, DARK_GAMMA = 0.25, 1.4


@dataclass(frozen=True)
class DemoClip:
    """One demo clip: its file stem, the flaw built into it (or None), and the caption written beside it."""

    name: str
    flaw: str | None
    caption: str


DEMO_CLIPS: tuple[DemoClip, ...] = (
    DemoClip("01_good_three_tips", None,
             "3 lighting tips that make any phone look pro. Which one will you try first? "
             "#lighting #filmmaking #creatortips"),
    DemoClip("02_blurry_morning", f"blurry: Gaussian blur, sigma {BLUR_SIGMA_PX:g} px",
             "My morning routine, the honest version. Coffee first, always. #morningroutine #dayinmylife"),
    DemoClip("03_too_dark_kitchen", f"too dark: exposure gain {DARK_GAIN:g}, gamma {DARK_GAMMA:g}",
             "Late night pasta in 10 minutes, no fancy tools needed. #easyrecipes #pasta #latenight"),
    DemoClip("04_too_quiet_vlog", f"too quiet: speech at {QUIET_LOUDNESS_LUFS:g} LUFS",
             "Small studio tour! Ask me anything about the setup below. #studiotour #setup"),
    DemoClip("05_clipped_loud_rant", f"clipped: +{CLIPPED_BOOST_DB:g} dB over -14 LUFS, hard-clipped",
             "Unpopular opinion: you do not need a new camera. Here is why. #unpopularopinion #camera"),
    DemoClip("06_hashtag_spam_no_hook", "no hook: 2 s of stillness and silence, no on-screen text; caption is "
             "all hashtags",
             "#fyp #foryou #foryoupage #viral #trending #explore #reels #tiktok #instagood #follow #like4like "
             "#explorepage #viralvideo #trend #fy #video #love #instagram #reelsinstagram #foryourpage"),
    DemoClip("07_landscape_letterboxed", "landscape 16:9 footage letterboxed into 9:16, black bars",
             "Wait for the ending... the view from the top was worth every step. #hiking #travel #views"),
)


def _speech(seed: int, lufs: float, *, start_s: float = 0.0) -> np.ndarray:
    voice = synth.speech_like(duration_s=DEMO_S - start_s, sr=DEMO_SR, seed=seed)
    return np.concatenate([synth.silence(duration_s=start_s, sr=DEMO_SR), _master(voice, lufs)])


def _master(y: np.ndarray, lufs: float) -> np.ndarray:
    """Level to ``lufs`` and limit peaks, twice (limiting lowers loudness), as an editor's export does."""
    for _ in range(2):
        y = synth.limit(synth.scale_to_lufs(y, sr=DEMO_SR, lufs=lufs), sr=DEMO_SR)
    return y


def _recipe(clip: DemoClip, seed: int, width: int, height: int) -> dict:
    """The write_clip arguments of one demo clip."""
    w, h = width, height
    scene = dict(width=w, height=h, seed=seed, texture_sigma_px=max(MIN_TEXTURE_SIGMA_PX, TEXTURE_SIGMA_PX * w / DEMO_W),
                 shots=SHOTS)
    if clip.name.startswith("01"):
        video = synth.scene_sequence(**scene,
                                     text=[(0.0, 1.7, "3 TIPS FOR\nBETTER LIGHT"), (1.7, 3.3, "TIP 1:\nFACE THE WINDOW"),
                                           (3.3, 9.0, "TIP 2:\nBOUNCE IT")])
        # The same voice at the playback level as every other clip (a music bed under it read as background
        # noise to the signal-to-noise measure and cost the clean clip its place: issue 16).
        audio = _speech(seed, GOOD_LOUDNESS_LUFS)
    elif clip.name.startswith("02"):
        video = synth.scene_sequence(**scene, text=[(0.0, 9.0, "MY MORNING\nROUTINE")],
                                     transform=lambda f: synth.gaussian_blur(f, sigma_px=BLUR_SIGMA_PX * w / DEMO_W))
        audio = _speech(seed, GOOD_LOUDNESS_LUFS)
    elif clip.name.startswith("03"):
        video = synth.scene_sequence(**scene, text=[(0.0, 9.0, "PASTA IN\n10 MINUTES")],
                                     transform=lambda f: synth.scale_brightness(f, gain=DARK_GAIN, gamma=DARK_GAMMA))
        audio = _speech(seed, GOOD_LOUDNESS_LUFS)
    elif clip.name.startswith("04"):
        video = synth.scene_sequence(**scene, text=[(0.0, 2.0, "STUDIO TOUR")])
        audio = _speech(seed, QUIET_LOUDNESS_LUFS)
    elif clip.name.startswith("05"):
        video = synth.scene_sequence(**scene, text=[(0.0, 9.0, "YOU DON'T NEED\nA NEW CAMERA")])
        voice = synth.scale_to_lufs(synth.speech_like(duration_s=DEMO_S, sr=DEMO_SR, seed=seed), sr=DEMO_SR,
                                    lufs=GOOD_LOUDNESS_LUFS)
        audio = np.clip(voice * 10 ** (CLIPPED_BOOST_DB / 20), -1.0, 1.0)
    elif clip.name.startswith("06"):
        still = synth.scene_sequence(**dict(scene, shots=None), pan_px_per_s=0, object_speed=0)
        moving = synth.scene_sequence(**dict(scene, shots=None))

        def video(i: int, t_s: float) -> np.ndarray:
            return still(i, 0.0) if t_s < 2.0 else moving(i, t_s - 2.0)

        audio = _speech(seed, GOOD_LOUDNESS_LUFS, start_s=2.0)
    else:
        land_w = h - h % 2
        land_h = (land_w * 9 // 16) // 2 * 2
        wide = synth.scene_sequence(width=land_w, height=land_h, seed=seed, texture_sigma_px=scene["texture_sigma_px"],
                                    text=[(0.0, 9.0, "WAIT FOR IT")], text_height_px=max(12, land_h // 12))

        def video(i: int, t_s: float) -> np.ndarray:
            return synth.letterbox(wide(i, t_s), width=w, height=h)

        audio = _speech(seed, GOOD_LOUDNESS_LUFS)
    return dict(width=w, height=h, fps=DEMO_FPS, duration_s=DEMO_S, video=video, audio=audio,
                sample_rate=DEMO_SR, metadata={"title": clip.name, "comment": "BYTEME demo clip"})


def make_demo_folder(
    folder: Path,
    *,
    seed: int = 0,
    width: int = DEMO_W,
    height: int = DEMO_H,
    progress: Callable[[int, int, Path], None] | None = None,
) -> list[Path]:
    """Write the demo clips of ``DEMO_CLIPS`` and their caption sidecars into ``folder``.

    Parameters
    ----------
    folder : Path
        Created if missing. Clips and captions already there are kept, not rewritten.
    seed : int
        Seed of every clip's picture and sound; the same seed gives the same clips.
    width, height : int, even
        Clip size in pixels (default 1080x1920; 360x640 builds about ten times as fast).
    progress : callable(done, total, path) or None
        Called after each clip is written or found.

    Returns
    -------
    paths : list of Path
        The ``.mp4`` of every demo clip, in ``DEMO_CLIPS`` order (those just written and those already there).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, clip in enumerate(DEMO_CLIPS):
        path = folder / f"{clip.name}.mp4"
        caption = folder / f"{clip.name}.txt"
        if not caption.exists():
            caption.write_text(clip.caption + "\n", encoding="utf-8")
        if not path.exists():
            synth.write_clip(path, **_recipe(clip, seed * 1000 + k, width, height))
        paths.append(path)
        if progress is not None:
            progress(k + 1, len(DEMO_CLIPS), path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.demo",
                                     description="Write a folder of generated demo clips, most with one known flaw.")
    parser.add_argument("folder", nargs="?", default="demo", help="where to write the clips (default: ./demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clips' content (default 0)")
    parser.add_argument("--small", action="store_true", help="360x640 instead of 1080x1920 (faster)")
    args = parser.parse_args(argv)
    size = dict(width=360, height=640) if args.small else {}

    def report(done: int, total: int, path: Path) -> None:
        print(f"[{done}/{total}] {display_path(path)}", flush=True)

    make_demo_folder(Path(args.folder), seed=args.seed, progress=report, **size)
    for clip in DEMO_CLIPS:
        print(f"  {clip.name}: {clip.flaw or 'no deliberate flaw'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
