"""Speech/music detection holds on real clips (issue 16, point 5): the real clips with a music bed are heard as
music, and no clip with music gets "record closer to the microphone". On ``../shared/realclips`` (skipped when the
folder is absent); only the audio is decoded and measured."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_config
from engine.extractors.audio.analysis import Loudness
from engine.extractors.audio.content import SNR_MAX_MUSIC_PCT, Noise, Rhythm, SpeechMusic
from engine.extractors.base import ClipContext
from engine.features import FeatureVector
from engine.media import decode_audio, probe
from engine.pipeline import evaluate

REALCLIPS = Path(__file__).resolve().parents[2].parent / "shared" / "realclips"
#: Clips whose sound is music by a look at their spectrograms (sustained harmonic lines changing in steps, a
#: beat; no pauses): football skills (66068e9a, the clip of the issue), the dog (1e719ead), a song with vocals
#: (909c1cd9), a Kinetics clip with a band (dover_HyZMiWeJyMw).
MUSIC_CLIPS = ("66068e9a4c47ce2f2918b8560223a2de.mp4", "1e719ead7eaa79bcfac60dd0700a3caf.mp4",
               "909c1cd9351eb8c2903b06d07e483d81.mp4", "dover_HyZMiWeJyMw_000072_000082.mp4")

pytestmark = pytest.mark.skipif(not REALCLIPS.is_dir(), reason=f"real clips not found at {REALCLIPS}")


def _measure(path: Path, cfg: dict):
    info = probe(path)
    audio, _ = decode_audio(path, info, audio_rate_hz=int(cfg["engine"].get("audio_rate_hz", 48_000)))
    ctx = ClipContext(path=path, info=info, config=cfg, audio=audio)
    fv = FeatureVector()
    for cls in (Loudness, SpeechMusic, Noise, Rhythm):
        cls().finish(ctx, fv)
    return fv, evaluate(str(path), info, fv, cfg).findings


@pytest.fixture(scope="module")
def measured():
    cfg = load_config(use_user_file=False)
    return {path.name: _measure(path, cfg) for path in sorted(REALCLIPS.glob("*.mp4"))}


def _aac_copy(src: Path, dst: Path) -> Path:
    """``src``'s sound alone re-encoded to AAC (FFmpeg's encoder at its default rate, as an export would)."""
    import av

    with av.open(str(src)) as ic, av.open(str(dst), "w") as oc:
        ia = ic.streams.audio[0]
        oa = oc.add_stream("aac", rate=ia.codec_context.sample_rate)
        oa.codec_context.layout = ia.codec_context.layout
        for frame in ic.decode(ia):
            frame.pts = None
            oc.mux(oa.encode(frame))
        oc.mux(oa.encode())
    return dst


def test_music_beds_are_heard_as_music(measured):
    for name in MUSIC_CLIPS:
        fv, _ = measured[name]
        assert fv.values["audio.music_presence_pct"] >= SNR_MAX_MUSIC_PCT, (name, fv.values)


def test_no_microphone_advice_where_music_plays(measured):
    assert len(measured) >= len(MUSIC_CLIPS)
    for name, (fv, findings) in measured.items():
        mic = [f.message for f in findings if "closer to the microphone" in f.message]
        if name in MUSIC_CLIPS or fv.values.get("audio.music_presence_pct", 0.0) >= SNR_MAX_MUSIC_PCT:
            assert not mic, (name, fv.values.get("audio.music_presence_pct"), mic)


def test_an_aac_copy_of_real_music_keeps_its_beat_and_its_music(measured, tmp_path):
    """The beat strength of a real clip hardly moves when its sound is re-encoded. Over the full 100 dB of the
    log-mel spectrogram the quietest bands' codec ripple counted as onsets: the Kinetics band clip read 0.36 and its
    AAC copy 0.16 (the tracker's tempo also jumped from 91 to 120 BPM, and the beat was read at that tempo), so the
    copy lost its clear beat and most of its music; the dog clip 0.42 -> 0.27."""
    cfg = load_config(use_user_file=False)
    for name in ("dover_HyZMiWeJyMw_000072_000082.mp4", "1e719ead7eaa79bcfac60dd0700a3caf.mp4"):
        fv, _ = measured[name]
        copy, _ = _measure(_aac_copy(REALCLIPS / name, tmp_path / (Path(name).stem + ".m4a")), cfg)
        before, after = fv.values["audio.beat_strength"], copy.values["audio.beat_strength"]
        assert abs(after - before) < 0.06, (name, before, after)
        assert copy.values["audio.music_presence_pct"] >= SNR_MAX_MUSIC_PCT, (name, copy.values)
