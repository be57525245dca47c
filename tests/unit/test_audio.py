"""Audio metrics on generated numpy signals with known answers (function level, fast)."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pyloudnorm
import pytest

from engine import synth
from engine.synth import audio as synth_audio
from engine.extractors.audio import levels as lv
from engine.extractors.audio.analysis import AudioAnalysis, Loudness
from engine.extractors.audio.content import (FRAME_RATE_HZ, HUM_FLOOR_DB, SpeechMusic, SpeechMusicFrames, Noise,
                                             Rhythm, Timbre, active_level, dropout_fill, mains_hum, pulse_clarity,
                                             rhythm, snr_db)
from engine.extractors.crossmodal.cuts_on_beats import align_cuts
from engine.extractors.base import ClipContext
from engine.features import FeatureVector
from engine.media import DecodedAudio

SR = 48_000
#: The decoder's stereo-to-mono matrix is 0.707 per channel, so EBU Tech 3341's stereo tones (same signal in both
#: channels at X dBFS) reach our mono meter as one tone at X + 3.01 dBFS.
STEREO_TO_MONO_DB = 20 * np.log10(2 * 0.7071067811865476)


def tone(level_dbfs: float, duration_s: float, freq_hz: float = 1000.0) -> np.ndarray:
    return synth.sine(freq_hz=freq_hz, duration_s=duration_s, sr=SR, level_dbfs=level_dbfs)


def features(y: np.ndarray, extractors=(Loudness, SpeechMusic, Noise, Rhythm, Timbre)) -> FeatureVector:
    ctx = ClipContext(path=None, info=None, config={}, audio=DecodedAudio(y.astype(np.float32), SR, 1,
                                                                        float(np.max(np.abs(y)))))
    fv = FeatureVector()
    for cls in extractors:
        cls().finish(ctx, fv)
    return fv


def chord(duration_s: float) -> np.ndarray:
    """C major triad, four harmonics per note, held: music-like and not speech."""
    t = np.arange(int(duration_s * SR)) / SR
    y = sum(np.sin(2 * np.pi * f * h * t) / h**2 for f in (261.63, 329.63, 392.0) for h in range(1, 5))
    return synth.scale_to_lufs((0.1 * y).astype(np.float32), sr=SR, lufs=-16)


# --- Loudness (EBU Tech 3341 / 3342 style) -------------------------------------------------------------------------

@pytest.mark.parametrize("stereo_dbfs, expected_lufs", [(-23.0, -23.0), (-33.0, -33.0)])
def test_tech3341_tones_give_expected_integrated_loudness(stereo_dbfs, expected_lufs):
    rep = lv.measure_loudness(tone(stereo_dbfs + STEREO_TO_MONO_DB, 20.0), sr=SR)
    assert rep.integrated_lufs == pytest.approx(expected_lufs, abs=0.1)
    # Momentary and short-term loudness of a steady tone equal the integrated loudness (Tech 3341 cases 1-2).
    assert np.allclose(rep.momentary_lufs, expected_lufs, atol=0.1)
    assert np.allclose(rep.short_term_lufs, expected_lufs, atol=0.1)


def test_tech3341_gating_ignores_the_quiet_parts():
    """Tech 3341 case 3 shape (-36 / -23 / -36 dBFS): the -36 parts fall under the relative gate -> -23 LUFS."""
    y = np.concatenate([tone(-36 + STEREO_TO_MONO_DB, 4), tone(-23 + STEREO_TO_MONO_DB, 20),
                        tone(-36 + STEREO_TO_MONO_DB, 4)])
    assert lv.measure_loudness(y, sr=SR).integrated_lufs == pytest.approx(-23.0, abs=0.1)


def test_integrated_loudness_agrees_with_pyloudnorm_on_speech():
    y = synth.speech_like(duration_s=6, sr=SR, seed=2)
    ours = lv.measure_loudness(y, sr=SR).integrated_lufs
    assert ours == pytest.approx(pyloudnorm.Meter(SR).integrated_loudness(y.astype(np.float64)), abs=0.05)


def test_tech3342_loudness_range_of_two_levels():
    """Tech 3342 case 1 shape: 1 kHz at -20 dBFS then -30 dBFS -> LRA 10 LU (+-1)."""
    y = np.concatenate([tone(-20, 20), tone(-30, 20)])
    assert lv.measure_loudness(y, sr=SR).loudness_range_lu == pytest.approx(10.0, abs=1.0)


def test_silence_has_no_loudness():
    rep = lv.measure_loudness(np.zeros(SR * 2, np.float32), sr=SR)
    assert rep.integrated_lufs == -np.inf


def test_true_peak_finds_the_peak_between_samples():
    """A 12 kHz sine (fs/4) at 45 degrees: every sample is at 0.707 of the peak, the true peak is 3 dB higher."""
    n = np.arange(SR)
    y = (0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)
    assert 20 * np.log10(np.max(np.abs(y))) == pytest.approx(-9.03, abs=0.05)
    assert lv.true_peak_dbtp(y, sr=SR) == pytest.approx(20 * np.log10(0.5), abs=0.2)


# --- Clipping ------------------------------------------------------------------------------------------------------

def test_tone_raised_20_db_and_limited_is_found_as_clipping_at_the_right_times():
    y = tone(-14, 4.0)  # peak 0.2
    hot = slice(int(1.5 * SR), int(2.5 * SR))
    y[hot] = np.clip(y[hot] * 10.0, -1.0, 1.0)  # +20 dB (peak 2.0), hard-limited at full scale
    rep = lv.find_clipping(y, sr=SR)
    assert len(rep.bursts_s) == 1
    start, end = rep.bursts_s[0]
    assert start == pytest.approx(1.5, abs=0.01) and end == pytest.approx(2.5, abs=0.01)
    # A sine with peak 2.0 limited at 1.0 is flat for 1 - 2 asin(0.5)/pi = 66.7 % of the hot second; the detector
    # also counts the ramps within 1 dB of full scale (|sin| >= 0.4455: 70.6 %). One hot second out of four.
    assert 100 * 0.667 / 4 - 0.1 <= rep.clipped_pct <= 100 * 0.706 / 4 + 0.1
    assert rep.per_second_pct[0] == 0.0 and rep.per_second_pct[3] == 0.0
    assert rep.per_second_pct[1] == pytest.approx(70.6 / 2, abs=1.0) == rep.per_second_pct[2]


def test_hot_but_clean_speech_stays_under_the_clipping_target():
    y = synth.speech_like(duration_s=4, sr=SR, seed=1)
    y = y * (10 ** (-0.5 / 20) / np.max(np.abs(y)))  # peaks at -0.5 dBFS, never at full scale
    hot_clean = lv.find_clipping(y, sr=SR).clipped_pct
    clipped = lv.find_clipping(np.clip(y * 4.0, -1, 1), sr=SR).clipped_pct  # the same, 12 dB too hot
    assert hot_clean <= 0.1 < 5.0 <= clipped


# --- Silence and first sound ----------------------------------------------------------------------------------------

def test_three_seconds_of_silence_in_the_middle_are_located():
    y = synth.speech_like(duration_s=8, sr=SR, seed=4)
    y[int(2.5 * SR):int(5.5 * SR)] = synth.pink_noise(duration_s=3, sr=SR, level_dbfs=-70, seed=1)  # room tone
    fv = features(y, (Loudness,))
    long = [s for s in fv.events["audio.silences_s"] if s[1] - s[0] >= 2.0]
    assert len(long) == 1
    start, end = long[0]
    # speech_like's syllables fade in and out, so the measured edges may widen by up to a syllable tail.
    assert start == pytest.approx(2.5, abs=0.3) and end == pytest.approx(5.5, abs=0.3)
    assert fv.values["audio.dead_air_pct"] == pytest.approx(100 * (end - start) / 8.0, abs=0.5)
    per_second = fv.series["audio.dead_air_pct"].values
    assert per_second[3] == pytest.approx(100, abs=1) and per_second[0] < 50


def test_first_sound_after_a_silent_second():
    y = np.concatenate([np.zeros(int(1.2 * SR), np.float32), synth.speech_like(duration_s=3, sr=SR, seed=5)])
    fv = features(y, (Loudness,))
    assert fv.values["audio.first_sound_s"] == pytest.approx(1.25, abs=0.06)  # speech_like starts at 0.05 s


def test_digital_silence_is_a_silent_track_finding():
    fv = features(np.zeros(SR * 3, np.float32))
    assert fv.values["audio.dead_air_pct"] == 100.0
    assert [f["code"] for f in fv.events["findings"]] == ["audio.silent_track"]
    assert "audio.speech_presence_pct" not in fv.values  # nothing else is measured on silence


# --- Noise -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("snr", [10.0, 20.0, 30.0])
def test_pink_noise_at_known_snr_is_estimated_within_3_db(snr):
    speech = synth.speech_like(duration_s=10, sr=SR, seed=7)
    active = np.abs(speech) > 1e-6
    speech_db = 10 * np.log10(np.mean(speech[active] ** 2))  # active speech level (voiced samples)
    noise = synth.pink_noise(duration_s=10, sr=SR, level_dbfs=speech_db - snr, seed=3)
    est = snr_db(AudioAnalysis(synth.mix(speech, noise), SR))
    assert est == pytest.approx(snr, abs=3.0)


def test_a_music_bed_under_a_voice_reads_cleaner_than_steady_noise_at_the_same_level():
    """The SNR's noise is estimated band by band: steady noise sits in every band all the time, a music bed leaves
    each band quiet between its notes. The same voice over pink noise and over a generated music bed, both 15 dB
    under it (rms): the noise reads about 15 dB (15.4), the bed at least 10 dB cleaner (27.8). The broadband floor
    this replaced read 14.3 and 21.0: a voice over a quiet bed was told to move away from fans and traffic."""
    speech = synth.speech_like(duration_s=8, sr=SR, seed=7)
    active = np.abs(speech) > 1e-6
    level_db = 10 * np.log10(np.mean(speech[active] ** 2))
    noise = synth.pink_noise(duration_s=8, sr=SR, level_dbfs=level_db - 15, seed=3)
    music = synth.music_like(duration_s=8, sr=SR, seed=3)
    music = (music * 10 ** ((level_db - 15) / 20) / np.sqrt(np.mean(music.astype(np.float64) ** 2))).astype(np.float32)
    over_noise = snr_db(AudioAnalysis(synth.mix(speech, noise), SR))
    over_music = snr_db(AudioAnalysis(synth.mix(speech, music), SR))
    assert over_noise == pytest.approx(15.0, abs=3.0)
    assert over_music >= over_noise + 10.0, (over_noise, over_music)


def test_clean_speech_has_a_high_snr_and_no_hum():
    fv = features(synth.speech_like(duration_s=6, sr=SR, seed=1), (Loudness, SpeechMusic, Noise))
    assert fv.values["audio.snr_db"] >= 30  # the target: no noise finding (syllable tails keep it under 60)
    assert fv.values["audio.hum_db"] == -80.0


def test_mains_hum_is_found_at_its_level():
    speech = synth.speech_like(duration_s=8, sr=SR, seed=1)
    t = np.arange(len(speech)) / SR
    hum = (0.01 * np.sin(2 * np.pi * 60 * t) + 0.005 * np.sin(2 * np.pi * 120 * t)).astype(np.float32)
    a = AudioAnalysis(synth.mix(speech, hum), SR)
    level, _ = active_level(a.frame_power)
    hum_db, mains = mains_hum(a.y_a, sr=a.sr_a, programme_power=level)
    expected = 10 * np.log10((0.01**2 + 0.005**2) / 2 / level)
    assert mains == 60.0
    assert hum_db == pytest.approx(expected, abs=2.0)


def test_a_lone_low_line_is_not_mains_hum():
    """A single steady 60 Hz line (a held bass note, a motor; hardly played by a phone speaker) is not hum: hum is a
    family of mains harmonics. The same line with its second harmonic is."""
    speech = synth.speech_like(duration_s=8, sr=SR, seed=1)
    t = np.arange(len(speech)) / SR
    lone = (0.01 * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    a = AudioAnalysis(synth.mix(speech, lone), SR)
    level, _ = active_level(a.frame_power)
    assert mains_hum(a.y_a, sr=a.sr_a, programme_power=level) == (HUM_FLOOR_DB, None)
    both = lone + (0.005 * np.sin(2 * np.pi * 120 * t)).astype(np.float32)
    a = AudioAnalysis(synth.mix(speech, both), SR)
    assert mains_hum(a.y_a, sr=a.sr_a, programme_power=level)[1] == 60.0


def test_a_kick_drum_comb_is_not_hum():
    a = AudioAnalysis(synth.music_like(duration_s=8, sr=SR, bpm=120), SR)
    level, _ = active_level(a.frame_power)
    assert mains_hum(a.y_a, sr=a.sr_a, programme_power=level)[1] is None


# --- Rhythm ----------------------------------------------------------------------------------------------------------

def test_click_track_at_120_bpm_gives_120_bpm():
    y = synth.click_track(bpm=120, duration_s=10, sr=SR)
    r = rhythm(AudioAnalysis(y, SR))
    assert r["tempo_bpm"] == pytest.approx(120.0, abs=2.0)
    assert r["pulse"] > 0.7
    assert np.median(np.diff(r["beats_s"])) == pytest.approx(0.5, abs=0.02)
    # Beats land on the clicks (every 0.5 s), within one 20 ms frame.
    assert np.max(np.abs(np.asarray(r["beats_s"]) / 0.5 - np.round(np.asarray(r["beats_s"]) / 0.5))) * 0.5 <= 0.03


@pytest.mark.parametrize("bpm", [50, 90, 150])
def test_a_beat_is_clear_at_any_tempo_of_the_range(bpm):
    """The beat strength reads the clearest beat period from 40 to 160 BPM, not only the tracker's tempo."""
    y = synth.click_track(bpm=bpm, duration_s=10, sr=SR)
    assert pulse_clarity(AudioAnalysis(y, SR).onset_envelope) > 0.7


@pytest.mark.parametrize("lead_s", [0.023, 0.3])
def test_the_sound_starting_is_not_an_onset(lead_s):
    """Music cut mid-bar and exported (encoder priming: ~23 ms of silence, then full level) or placed after a
    pause: the jump out of the silence was the largest value of the onset envelope and lowered the beat strength
    (here 0.88 -> 0.81 and 0.76; a real clip cut by half a second and re-encoded: 0.55 -> 0.34). It is left out:
    the same beat strength as the music alone."""
    m = synth.music_like(duration_s=6, sr=SR, bpm=100, seed=1)[int(0.37 * SR):]
    alone = AudioAnalysis(m, SR).onset_envelope
    env = AudioAnalysis(np.concatenate([np.zeros(int(lead_s * SR), np.float32), m]), SR).onset_envelope
    start = int(lead_s * FRAME_RATE_HZ)
    assert not env[:start + 1].any()  # nothing before the sound and at its first frame
    assert pulse_clarity(env) == pytest.approx(pulse_clarity(alone), abs=0.03)


def test_a_rhythm_in_noise_is_not_music():
    """Traffic or an engine repeats too: noise swelling twice a second has a clear beat (pulse over 0.5) but no
    tone, so it is neither music nor a tempo to cut to; a generated song with the same beat is both."""
    t = np.arange(8 * SR) / SR
    swell = (0.25 + np.exp(-((t % 0.5) / 0.06))).astype(np.float32)
    noise = synth.pink_noise(duration_s=8, sr=SR, level_dbfs=-22, seed=6) * swell
    fv = features(noise, (Loudness, SpeechMusic, Noise, Rhythm))
    assert fv.values["audio.beat_strength"] > 0.5
    assert fv.values["audio.music_presence_pct"] < 5
    assert fv.values["audio.tempo_bpm"] is None and fv.events["audio.beats_s"] == []
    song = features(synth.music_like(duration_s=8, sr=SR, bpm=120, seed=2), (Loudness, SpeechMusic, Rhythm))
    assert song.values["audio.music_presence_pct"] > 90
    assert song.values["audio.tempo_bpm"] == pytest.approx(120, abs=2)


@pytest.mark.parametrize("start", ["silence", "fade", "steep", "primed steep"])
def test_music_arriving_is_not_speech(start):
    """Music that arrives out of 0.2 s of silence, fades in over 0.4 s, or rises 30 dB in 60 ms (after an AAC
    export's 30 ms of priming silence too, which the dropout bridge fills with copies of the first frame) was heard
    as half a second of speech at its start (four music clips of ../shared/realclips and an AAC copy of one),
    crediting them with early words. A voice that opens a clip is still heard from its first syllables."""
    m = synth.music_like(duration_s=5, sr=SR, bpm=110, seed=5)
    n = len(m)
    if start == "silence":
        m = np.concatenate([np.zeros(int(0.2 * SR), np.float32), m])
    else:
        ramp_s = 0.4 if start == "fade" else 0.06
        k = int(ramp_s * SR)
        gain = np.ones(n, np.float32)
        gain[:k] = 10 ** (np.linspace(-40 if start == "fade" else -30, 0, k) / 20)
        m = m * gain
        if start == "primed steep":
            m = np.concatenate([np.zeros(int(0.03 * SR), np.float32), m])
    fv = FeatureVector()
    ctx = ClipContext(path=None, info=None, config={}, audio=DecodedAudio(m.astype(np.float32), SR, 1,
                                                                          float(np.max(np.abs(m)))))
    SpeechMusic().finish(ctx, fv)
    assert not [s for s in fv.events["audio.speech_s"] if s[0] < 1.0], fv.events["audio.speech_s"]
    voice = features(synth.speech_like(duration_s=5, sr=SR, seed=2), (SpeechMusic,))
    assert voice.events["audio.speech_s"] and voice.events["audio.speech_s"][0][0] <= 0.3


def test_speech_has_no_clear_beat():
    fv = features(synth.speech_like(duration_s=8, sr=SR, seed=3), (Loudness, Rhythm))
    assert fv.values["audio.beat_strength"] < 0.35
    assert fv.values["audio.tempo_bpm"] is None and fv.events["audio.beats_s"] == []


# --- Speech and music ------------------------------------------------------------------------------------------------

def test_speech_like_is_told_apart_from_a_music_like_chord():
    speech = features(synth.scale_to_lufs(synth.speech_like(duration_s=8, sr=SR, seed=3), sr=SR, lufs=-16),
                      (Loudness, SpeechMusic))
    held = features(chord(8.0), (Loudness, SpeechMusic))
    assert speech.values["audio.speech_presence_pct"] >= 60 and speech.values["audio.music_presence_pct"] <= 10
    assert held.values["audio.speech_presence_pct"] <= 10 and held.values["audio.music_presence_pct"] >= 80
    assert len(speech.series["audio.speech_presence_pct"].values) == 8


def test_pink_noise_is_neither_speech_nor_music():
    fv = features(synth.pink_noise(duration_s=6, sr=SR, level_dbfs=-20), (Loudness, SpeechMusic))
    assert fv.values["audio.speech_presence_pct"] <= 10 and fv.values["audio.music_presence_pct"] <= 10


def music_bed(duration_s: float, *, note_s: float = 0.25, bpm: float = 120.0) -> np.ndarray:
    """A music bed as real clips have one: a lead that changes note every ``note_s`` (six harmonics, 5.5 Hz
    vibrato) over a held pad of the bar's chord (I-V-vi-IV) and a soft kick on the beat, at -10 LUFS with almost no
    loudness range (as the real football clip 66068e9a: -9.9 LUFS, 0.6 LU). Its notes change too fast for the
    running-minimum bed: the old rule heard no music in it without the kick's beat."""
    n = int(duration_s * SR)
    t = np.arange(n) / SR
    progression = ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))
    bar_s = 4 * 60.0 / bpm
    y = np.zeros(n)
    step = int(note_s * SR)
    for k, i0 in enumerate(range(0, n, step)):
        tt = t[i0:min(n, i0 + step)]
        chord = progression[int(t[i0] // bar_s) % 4]
        lead = 440.0 * 2 ** ((chord[k % 3] + 12 * (k // 3 % 2)) / 12)
        vibrato = 1 + 0.004 * np.sin(2 * np.pi * 5.5 * tt)
        attack = np.minimum(1.0, (tt - tt[0]) / 0.01)
        for h in range(1, 7):
            y[i0:i0 + len(tt)] += 0.5 * np.sin(2 * np.pi * lead * h * vibrato * tt) / h ** 1.5 * attack
        for semis in chord:
            for h in range(1, 5):
                y[i0:i0 + len(tt)] += 0.3 * np.sin(2 * np.pi * 220.0 * 2 ** (semis / 12) * h * tt) / h ** 2
    kick = synth_audio._kick(SR)  # the kick drum of synth.music_like
    for i0 in range(0, n, int(60.0 / bpm * SR)):
        m = min(len(kick), n - i0)
        y[i0:i0 + m] += 0.6 * kick[:m]
    return synth.scale_to_lufs(y.astype(np.float32), sr=SR, lufs=-10)


def _audio_findings(y: np.ndarray):
    from engine.config import load_config
    from engine.media import MediaInfo
    from engine.pipeline import evaluate

    fv = features(y, (Loudness, SpeechMusic, Noise))
    info = MediaInfo(path="x.m4a", container="mp4", size_bytes=1, duration_s=len(y) / SR, bitrate_bps=None,
                     has_video=False, has_audio=True)
    return fv, evaluate("x.m4a", info, fv, load_config(use_user_file=False)).findings


def test_a_steady_music_bed_is_music_and_gets_no_microphone_advice():
    y = music_bed(8.0)
    a = AudioAnalysis(y, SR)
    no_beat = SpeechMusicFrames(a, pulse=0.0)  # the bed alone, whatever the beat tracker makes of the kick
    assert no_beat.music.mean() >= 0.9
    assert np.median(no_beat.low_energy_share) <= 0.05 and np.median(no_beat.tonal_share) >= 0.3
    fv, findings = _audio_findings(y)
    assert fv.values["audio.music_presence_pct"] >= 90 and fv.values["audio.speech_presence_pct"] <= 10
    assert "audio.snr_db" not in fv.values
    assert not any("microphone" in f.message for f in findings)


@pytest.mark.parametrize("hole", ["priming silence at the start", "dropout in the middle"])
def test_a_hole_in_a_music_bed_is_not_speech(hole):
    """20 ms of digital silence before a music bed (an AAC re-export without an edit list) or a 40 ms dropout in it
    (a cut in the audio edit): still music without a word. Read as it was, the hole's dip read as about a second of
    speech (0.04-0.72 s; 2.54-3.54 s), and a real clip re-encoded once lost its "first words come late" finding."""
    y = music_bed(8.0)
    if hole.startswith("priming"):
        y = np.concatenate([np.zeros(int(0.02 * SR), np.float32), y])
    else:
        y = y.copy()
        y[int(3.0 * SR):int(3.04 * SR)] = 0.0
    sm = SpeechMusicFrames(AudioAnalysis(y, SR), pulse=0.0)
    assert not sm.speech.any()
    assert sm.music.mean() >= 0.9


def test_dropout_fill_takes_the_nearest_sounding_frame():
    p = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    assert dropout_fill(p).tolist() == [1, 1, 2, 2, 5, 5, 6, 7, 8, 9, 9]  # the 3-frame run is a pause, kept
    assert dropout_fill(np.ones(5)) is None and dropout_fill(np.zeros(5)) is None


@pytest.mark.parametrize("noise", ["white", "pink"])
def test_speech_under_noise_still_gets_the_snr_finding(noise):
    """Speech 12 dB over a steady noise: not music (the noise is neither tonal nor does it leave the pauses quiet
    enough to pass for a bed), so the SNR is measured (about 12 dB) and the microphone advice is given."""
    speech = synth.speech_like(duration_s=8, sr=SR, seed=7)
    active = np.abs(speech) > 1e-6
    level_db = 10 * np.log10(np.mean(speech[active] ** 2))
    if noise == "pink":
        bed = synth.pink_noise(duration_s=8, sr=SR, level_dbfs=level_db - 12, seed=3)
    else:
        bed = (np.random.default_rng(3).standard_normal(len(speech)) * 10 ** ((level_db - 12) / 20)).astype(np.float32)
    fv, findings = _audio_findings(synth.mix(speech, bed))
    assert fv.values["audio.music_presence_pct"] <= 10 and fv.values["audio.speech_presence_pct"] >= 50
    assert fv.values["audio.snr_db"] == pytest.approx(12.0, abs=4.0)
    f = next(f for f in findings if f.code == "audio.noisy")
    assert "closer to the microphone" in f.message


def test_voice_over_music_falls_when_the_music_is_raised():
    speech = synth.scale_to_lufs(synth.speech_like(duration_s=8, sr=SR, seed=3), sr=SR, lufs=-16)
    music = synth.scale_to_lufs(synth.music_like(duration_s=8, sr=SR, seed=3), sr=SR, lufs=-16)
    over = features(synth.mix(speech, music, gains_db=[0, -10]), (Loudness, SpeechMusic)).values
    level = features(synth.mix(speech, music, gains_db=[0, -4]), (Loudness, SpeechMusic)).values
    assert over["audio.speech_presence_pct"] >= 60 and over["audio.music_presence_pct"] >= 60
    assert over["audio.voice_over_music_db"] >= 6.0  # a well-mixed bed passes the target
    if level.get("audio.voice_over_music_db") is not None:
        assert level["audio.voice_over_music_db"] < over["audio.voice_over_music_db"] - 3.0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_speech_is_speech(tmp_path):
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    wav = tmp_path / "say.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Today I will show you three tips for better clips."], check=True,
                   capture_output=True)
    rate, x = wavfile.read(wav)
    y = resample_poly(x.astype(np.float32) / 32768.0, SR, rate).astype(np.float32)
    fv = features(synth.scale_to_lufs(y, sr=SR, lufs=-16), (Loudness, SpeechMusic))
    assert fv.values["audio.speech_presence_pct"] >= 60 and fv.values["audio.music_presence_pct"] <= 10


# --- Timbre ----------------------------------------------------------------------------------------------------------

def test_timbre_brightness_follows_the_spectrum():
    dull = features(tone(-20, 3, 500.0), (Loudness, Timbre)).values
    bright = features(tone(-20, 3, 4000.0), (Loudness, Timbre)).values
    assert dull["audio.spectral_centroid_hz"] == pytest.approx(500, rel=0.1)
    assert bright["audio.spectral_centroid_hz"] == pytest.approx(4000, rel=0.1)
    assert bright["audio.spectral_flatness"] < 0.05
    assert all(f"audio.mfcc_{i:02d}_std" in bright for i in range(13))


# --- Cuts on beats ---------------------------------------------------------------------------------------------------

def test_cuts_are_matched_to_the_nearest_beat_within_100_ms():
    res = align_cuts([0.52, 1.0, 1.8, 3.06], [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    assert res["on_beat"] == [0.52, 1.0, 3.06]
    assert res["missed"] == [{"cut_s": 1.8, "nearest_beat_s": 2.0, "offset_s": -0.2}]
    assert res["on_beat_pct"] == pytest.approx(75.0)
