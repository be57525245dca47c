"""End to end: one clip and flawed copies of it. Each flaw lowers the audio score and is the top audio finding."""
from __future__ import annotations

import numpy as np
import pytest

from engine import synth
from engine.config import load_config
from engine.library import analyze

SR = 48_000
DURATION_S = 3.5  # > 3 s, so the short-term loudness and the loudness range exist
SMALL = dict(width=160, height=284, fps=15, duration_s=DURATION_S)


def _speech(lufs: float) -> np.ndarray:
    return synth.scale_to_lufs(synth.speech_like(duration_s=DURATION_S, sr=SR, seed=11), sr=SR, lufs=lufs)


def _noisy() -> np.ndarray:
    speech = _speech(-14.0)
    active = np.abs(speech) > 1e-6
    level = 10 * np.log10(np.mean(speech[active] ** 2))
    return synth.mix(speech, synth.pink_noise(duration_s=DURATION_S, sr=SR, level_dbfs=level - 5.0, seed=2))


def _clipped() -> np.ndarray:
    """Recorded with the gain 12 dB too high: hard-clipped at full scale (and left that loud)."""
    return np.clip(_speech(-14.0) * 10 ** (12 / 20), -1.0, 1.0)


FLAWS = {
    "too_quiet": (dict(audio=_speech(-40.0), audio_lufs=None), "audio.too_quiet"),
    "clipped": (dict(audio=_clipped(), audio_lufs=None), "audio.clipping"),
    "noisy": (dict(audio=_noisy(), audio_lufs=None), "audio.noisy"),
    "silent": (dict(audio="silence"), "audio.silent_track"),
    "no_audio": (dict(audio=None), "audio.not_scored"),
}


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.fixture(scope="module")
def original(clips, cfg):
    return analyze(clips("audio_original", audio=_speech(-14.0), audio_lufs=None, **SMALL), cfg)


def test_original_scores_well_and_has_its_series(original):
    assert original.status == "ok"
    m = original.features.values
    assert m["audio.loudness_lufs"] == pytest.approx(-14.0, abs=1.0)  # AAC keeps the level within 1 LU
    assert original.scores.modalities["audio"] >= 85
    assert original.features.series["audio.loudness_short_term_lufs"].step_s == 0.1
    assert "audio.speech_presence_pct" in original.features.series
    assert not [f for f in original.findings if f.modality == "audio" and f.severity == "high"]


@pytest.mark.parametrize("flaw", list(FLAWS))
def test_flawed_copy_scores_lower_and_names_the_flaw(flaw, clips, cfg, original):
    recipe, code = FLAWS[flaw]
    result = analyze(clips(f"audio_{flaw}", **recipe, **SMALL), cfg)
    assert result.status == "ok"
    audio_score = result.scores.modalities["audio"]
    if flaw == "no_audio":
        assert audio_score is None
    else:
        assert audio_score < original.scores.modalities["audio"] - 10
    audio_findings = [f for f in result.findings if f.modality == "audio"]
    top = audio_findings[0]
    if flaw == "no_audio":
        # Other extractors (the hook) may rank their own "no sound" finding first; ours must say why audio is null.
        assert top.code in (code, "hook.no_sound"), [(f.code, f.points) for f in audio_findings]
        assert any(f.code == code and "no audio track" in f.message for f in audio_findings)
    else:
        assert top.code == code, [(f.code, f.points) for f in audio_findings]
    if flaw == "too_quiet":
        # The finding cites the value, the -14 LUFS convention and the gain to add.
        assert "-14 LUFS" in top.message and "not a published TikTok figure" in top.message
        assert "about 26 dB" in top.message


def test_silence_in_the_middle_is_located_in_the_finding(clips, cfg):
    y = synth.scale_to_lufs(synth.speech_like(duration_s=6.0, sr=SR, seed=11), sr=SR, lufs=-14)
    y[int(2.0 * SR):int(4.5 * SR)] = 0.0
    result = analyze(clips("audio_gap", audio=y, audio_lufs=None, width=160, height=284, fps=15, duration_s=6.0), cfg)
    dead = [f for f in result.findings if f.code == "audio.dead_air"]
    assert dead, [f.code for f in result.findings]
    assert dead[0].start_s == pytest.approx(2.0, abs=1.0) and dead[0].end_s == pytest.approx(5.0, abs=1.0)
    assert any(s[0] == pytest.approx(2.0, abs=0.3) and s[1] == pytest.approx(4.5, abs=0.3)
               for s in result.features.events["audio.silences_s"])
