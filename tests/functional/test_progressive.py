"""Progressive verdicts (issue 21): provisional results while a clip is analysed, the findings that cannot change
among the first, and a final result that is the same whether or not provisional ones were made."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import load_config
from engine.library import analyze
from engine.pipeline import Snapshot, _merge, extract_features
from engine.features import FeatureVector

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _run(path, cfg, **kw):
    seen = []
    final = analyze(path, cfg, provisional=seen.append, **kw)
    return seen, final


def _codes(result) -> set[str]:
    return {f.code for f in result.findings}


def test_a_provisional_verdict_comes_from_the_probe_before_the_decode_and_the_final_is_unchanged(good_clip, cfg):
    seen, final = _run(good_clip, cfg, options={"ocr": False})
    plain = analyze(good_clip, cfg, options={"ocr": False})
    assert seen, "no provisional verdict"
    first = seen[0]
    assert first.status == "provisional" and first.progress == 0.0
    # the probe's metrics, measured before any frame: the same values as in the final result
    assert first.features.values["visual.aspect_ratio"] == pytest.approx(360 / 640)
    assert first.features.values["visual.aspect_ratio"] == final.features.values["visual.aspect_ratio"]
    assert not any(k.startswith("audio.") for k in first.features.values)  # the audio was not measured yet
    assert [r.progress for r in seen] == sorted(r.progress for r in seen)
    assert all(0.0 <= r.progress <= 1.0 and r.status == "provisional" for r in seen)
    row = first.contract()
    assert row["status"] == "provisional" and row["progress"] == 0.0
    assert set(row) == set(final.contract()) | {"progress"}  # the same shape, plus progress
    assert final.status == "ok" and "progress" not in final.contract()
    assert json.dumps(final.contract(), sort_keys=True) == json.dumps(plain.contract(), sort_keys=True)


def test_no_audio_track_is_said_at_once_and_stays(video_only_mp4, cfg):
    seen, final = _run(video_only_mp4, cfg, options={"ocr": False})
    first = seen[0]
    assert first.progress == 0.0
    assert {"audio.not_scored", "hook.no_sound"} <= _codes(first)
    assert {"audio.not_scored", "hook.no_sound"} <= _codes(final)
    assert first.scores.modalities["audio"] is None
    # a modality still being measured is not reported as "not scored"
    assert "text.not_scored" not in _codes(first) and "text.not_scored" in _codes(final)


def test_a_landscape_clip_and_a_missing_caption_are_said_at_once(clips, cfg, tmp_path):
    landscape = clips("progressive_landscape", width=320, height=180, duration_s=1.0)
    seen, final = _run(landscape, cfg, options={"ocr": False})
    assert "visual.not_vertical" in _codes(seen[0]) and "visual.not_vertical" in _codes(final)


def test_a_missing_caption_is_said_at_once_when_the_clip_has_other_text(subtitled_clip, cfg):
    seen, final = _run(subtitled_clip, cfg, options={"ocr": False})
    assert seen[0].progress == 0.0
    assert seen[0].features.values["text.caption_present"] == 0.0
    assert "text.no_caption" in _codes(seen[0]) and "text.no_caption" in _codes(final)


def test_a_caption_sidecar_is_read_before_the_decode(clips, cfg, tmp_path):
    clip = tmp_path / "captioned.mp4"
    clip.write_bytes(clips("progressive_captioned", duration_s=1.0).read_bytes())
    clip.with_suffix(".txt").write_text("3 tips for brighter clips: which one do you use? #lighting #filmmaking\n")
    seen, final = _run(clip, cfg, options={"ocr": False})
    first = seen[0]
    assert first.features.text["caption"].startswith("3 tips")
    assert first.features.values["text.caption_present"] == 1.0
    for key in ("text.caption_present", "text.caption_chars", "text.hashtag_count"):
        assert first.features.values.get(key) == final.features.values.get(key), key


def test_the_audio_verdict_arrives_while_the_video_decodes(clips, cfg):
    """A clip long enough for the audio pass (beside the video decode) to end first: a provisional verdict with
    the audio measured and the picture not yet, whose audio values are the final ones."""
    clip = clips("progressive_long", width=360, height=640, duration_s=3.0)
    seen, final = _run(clip, cfg, options={"ocr": False})
    audio = [r for r in seen if "audio.loudness_lufs" in r.features.values]
    assert audio, [sorted(r.features.values) for r in seen]
    assert audio[0].features.values["audio.loudness_lufs"] == final.features.values["audio.loudness_lufs"]
    assert audio[0].scores.modalities["audio"] is not None


def test_a_failing_consumer_changes_nothing(good_clip, cfg):
    def boom(_):
        raise RuntimeError("consumer failed")

    final = analyze(good_clip, cfg, options={"ocr": False}, provisional=boom)
    plain = analyze(good_clip, cfg, options={"ocr": False})
    assert final.status == "ok"
    assert json.dumps(final.contract(), sort_keys=True) == json.dumps(plain.contract(), sort_keys=True)


def test_snapshots_do_not_share_the_findings_list_with_the_final_features(good_clip, cfg):
    snaps: list[Snapshot] = []
    _, fv = extract_features(good_clip, cfg, options={"ocr": False}, provisional=snaps.append)
    for s in snaps:
        assert s.features is not fv
        assert s.features.events.get("findings") is not fv.events.get("findings") or not fv.events.get("findings")


def test_merge_joins_the_findings_of_the_audio_pass_with_those_already_raised():
    """The audio pass's features are merged into the clip's: findings the video side raised (a truncated file,
    irregular frame timing) are kept beside the audio's own (a silent track), as when every extractor runs in
    turn on one vector."""
    fv, audio = FeatureVector(), FeatureVector()
    fv.events["findings"] = [{"code": "media.truncated"}]
    fv.events["finding_messages"] = {"visual.low_frame_rate": "a"}
    audio.events["findings"] = [{"code": "audio.silent_track"}]
    audio.events["finding_messages"] = {"audio.x": "b"}
    _merge(fv, audio)
    assert [f["code"] for f in fv.events["findings"]] == ["media.truncated", "audio.silent_track"]
    assert fv.events["finding_messages"] == {"visual.low_frame_rate": "a", "audio.x": "b"}


def _score(args, store: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "engine.cli", "score", *map(str, args), "--json", "--no-ocr",
                          "--quiet", "--store", str(store)], env=env, capture_output=True, text=True, timeout=600)
    return run.returncode, [json.loads(line) for line in run.stdout.splitlines()]


def test_score_progressive_prints_provisional_lines_before_each_final_line(good_clip, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    code_p, lines = _score([good_clip, broken, "--progressive"], tmp_path / "a.db")
    code, plain = _score([good_clip, broken], tmp_path / "b.db")
    assert code_p == code == 1  # a clip failed: the exit code is the same with --progressive
    assert [r["status"] for r in plain] == ["ok", "error"]
    statuses = [r["status"] for r in lines]
    assert statuses[0] == "provisional" and statuses[-2:] == ["ok", "error"]
    assert set(statuses[:-2]) == {"provisional"}
    assert all(r["path"] == str(good_clip) for r in lines[:-1])
    assert all(set(r) == set(plain[0]) | {"progress"} for r in lines[:-2])
    assert [r for r in lines if r["status"] != "provisional"] == plain  # the final lines, identical


def test_score_progressive_with_workers_scores_the_workers_snapshots(good_clip, tmp_path):
    """With --workers the worker sends its snapshots and the supervisor scores them: the same lines as in-process
    (provisional ones first, then the final one, identical to a run without --progressive)."""
    code_p, lines = _score([good_clip, "--progressive", "--workers", "1"], tmp_path / "a.db")
    code, plain = _score([good_clip, "--workers", "1"], tmp_path / "b.db")
    assert code_p == code == 0
    statuses = [r["status"] for r in lines]
    assert statuses[-1] == "ok" and statuses[:-1] and set(statuses[:-1]) == {"provisional"}
    assert lines[0]["progress"] == 0.0 and lines[0]["path"] == str(good_clip)
    assert lines[-1] == plain[0]


def test_the_library_row_of_a_provisional_verdict_is_marked(good_clip, cfg):
    """The app's library row for a running clip with a provisional verdict: its scores so far with "~" before
    each, "provisional:" before its top fix, and no error (a provisional result is not a failed one)."""
    from byteme_tui.widgets.clip_table import cells
    from dataclasses import replace
    from engine.service import row_from_result

    seen, _ = _run(good_clip, cfg, options={"ocr": False})
    row = row_from_result(str(good_clip), "good.mp4", 1, seen[-1])
    assert row.error is None and row.overall == seen[-1].scores.overall
    shown = cells(replace(row, provisional=True, status="running", fraction=0.4), False)
    assert shown["overall"].plain.startswith(f"~{row.overall:.0f}")
    assert shown["status"].plain.endswith("~") and "40%" in shown["status"].plain
    assert shown["finding"].plain.startswith("provisional: ")
    assert shown["tier"].plain == f"~{row.tier}"
    final = cells(replace(row, status="done"), False)
    assert final["tier"].plain == row.tier
    assert "~" not in final["overall"].plain and not final["finding"].plain.startswith("provisional")


def test_no_picture_is_said_at_once_and_stays(audio_only_m4a, cfg):
    seen, final = _run(audio_only_m4a, cfg, options={"ocr": False})
    assert seen[0].progress == 0.0
    assert "visual.not_scored" in _codes(seen[0]) and "visual.not_scored" in _codes(final)
    assert seen[0].scores.modalities["visual"] is None


# -- the verdict refines during the decode (Extractor.snapshot) ---------------------------------------------------

#: Two analyses of the same clip in one process differ by up to ~1e-11 relative in the gradient statistics
#: (visual.gradient, visual.gm_norm*: OpenCV's float32 filters split over its threads; measured here on the 3 s clip
#: below, two plain runs: 9.608798819568108 and 9.60879881960837), with or without snapshots.
SAME_REL = 1e-9


def _same(a: FeatureVector, b: FeatureVector) -> None:
    """The same features: every value within ``SAME_REL``, series, events, notes and text identical."""
    assert set(a.values) == set(b.values)
    for key, v in a.values.items():
        assert v == pytest.approx(b.values[key], rel=SAME_REL, abs=1e-12), key
    rest = lambda fv: json.dumps({k: v for k, v in fv.as_dict().items() if k != "values"}, sort_keys=True)
    assert rest(a) == rest(b)


@pytest.mark.parametrize("name", ["visual_image", "visual_temporal", "visual_nss"])
def test_a_snapshot_summarises_exactly_the_frames_seen_and_leaves_the_live_extractor_alone(name, clips, cfg):
    """An extractor's snapshot taken after k frames gives, through finish(), what an extractor that saw only those k
    frames gives; and the live one, which went on to the end, gives what one that was never snapshotted gives."""
    import copy

    from engine.extractors import ClipContext, registered
    from engine.media import decode, probe

    clip = clips("progressive_long", width=360, height=640, duration_s=3.0)
    cls = next(c for c in registered() if c.name == name)
    info = probe(clip)
    ctx = ClipContext(path=clip, info=info, config=cfg)
    live, never, first_k = cls(), cls(), cls()
    for e in (live, never, first_k):
        e.begin(ctx)
    k = 40  # of 90 frames: past the first samples of each extractor, well before the end
    twin = {}

    def on_frame(frame):
        live.on_frame(frame, ctx)
        never.on_frame(frame, ctx)
        if frame.index < k:
            first_k.on_frame(frame, ctx)
        if frame.index == k - 1:
            twin["at_k"] = live.snapshot()
            twin["t_s"] = frame.t_s

    decode(clip, info, on_frame=on_frame, short_side_px=int(cfg["engine"]["analysis_short_side_px"]),
           include_audio=False)
    assert twin["at_k"] is not None and twin["at_k"] is not live
    seen = copy.copy(info)
    seen.duration_s = twin["t_s"] + 1 / 30
    sctx = ClipContext(path=clip, info=seen, config=cfg)
    a, b = FeatureVector(), FeatureVector()
    twin["at_k"].finish(sctx, a)
    first_k.finish(sctx, b)
    assert a.values
    _same(a, b)
    full_live, full_never = FeatureVector(), FeatureVector()
    live.finish(ctx, full_live)
    never.finish(ctx, full_never)
    _same(full_live, full_never)
    assert full_live.values != a.values  # the summary of 40 frames is not the whole clip's


def test_the_verdict_refines_while_the_video_decodes_and_the_final_is_unchanged(clips, cfg, monkeypatch):
    """With the wall-clock gap between snapshots at 0 (a 3 s clip decodes in a fraction of a second), a 3 s clip gets
    a summary every quarter of its length: provisional verdicts during the decode that score the picture from the
    frames seen so far (its partial metrics named, their findings left out), at rising progress; the final features
    are those of a run without snapshots."""
    from engine import pipeline

    monkeypatch.setattr(pipeline, "SNAPSHOT_GAP_S", 0.0)
    clip = clips("progressive_long", width=360, height=640, duration_s=3.0)
    snaps: list[Snapshot] = []
    _, fv = extract_features(clip, cfg, options={"ocr": False}, provisional=snaps.append)
    _, plain = extract_features(clip, cfg, options={"ocr": False})
    _same(fv, plain)
    during = [s for s in snaps if s.stage == "decode"]
    assert len(during) >= 2, [(s.stage, s.fraction) for s in snaps]
    assert all(0.0 < s.fraction < pipeline.DECODE_SHARE for s in during)
    assert [s.fraction for s in snaps] == sorted(s.fraction for s in snaps)
    for s in during:
        for key in ("visual.sharpness", "visual.motion_energy", "visual.mscn_var"):  # image, temporal, nss
            assert key in s.features.values and key in s.partial, key
        assert "visual.aspect_ratio" not in s.partial  # from the probe: final from the start
        assert not s.features.events.get("findings")  # an extractor's own findings on part of the clip wait
    # the summaries see more and more of the clip: the per-second series grow
    lengths = [len(s.features.series["visual.motion_energy"].values) for s in during]
    assert lengths == sorted(lengths) and lengths[0] < len(fv.series["visual.motion_energy"].values)
    result = analyze(clip, cfg, options={"ocr": False}, provisional=lambda r: None)
    assert result.status == "ok"


def test_a_provisional_verdict_leaves_out_the_findings_of_partial_metrics(good_clip, cfg):
    """A blurry picture measured on part of the clip moves the provisional score but raises no finding yet; the same
    value measured on the whole clip does."""
    from engine.feedback import capping_findings
    from engine.library import provisional_result
    from engine.pipeline import evaluate

    snaps: list[Snapshot] = []
    info, fv = extract_features(good_clip, cfg, options={"ocr": False}, provisional=snaps.append)
    fv.values["visual.sharpness"] = 0.05  # far below the target's "bad" (0.25)
    whole = evaluate(str(good_clip), info, fv, cfg)
    assert "visual.blurry" in _codes(whole)
    snap = Snapshot(info, fv, 0.4, frozenset({"audio", "text"}), "decode", frozenset({"visual.sharpness"}))
    early = provisional_result(str(good_clip), snap, cfg)
    assert "visual.blurry" not in _codes(early)
    assert early.scores.modalities["visual"] == whole.scores.modalities["visual"]
    # the picture MOS (derived from the perceptual statistics) waits while one of its inputs is partial
    looks_poor = cfg["targets"]["visual.picture_mos"]["code"]
    assert looks_poor in _codes(whole)  # the generated picture reads as poor to the model trained on real clips
    partial_nss = Snapshot(info, fv, 0.4, frozenset({"audio", "text"}), "decode", frozenset({"visual.mscn_var"}))
    assert looks_poor not in _codes(provisional_result(str(good_clip), partial_nss, cfg))
    final_snap = Snapshot(info, fv, 0.9, frozenset({"audio", "text"}), "finish")
    assert "visual.blurry" in _codes(provisional_result(str(good_clip), final_snap, cfg))
    # Nor does the tier cap that finding alone would cause: the tier is the one the provisional score earns. (The
    # generated clip's synthetic voice reads a low signal-to-noise ratio, a high finding of its own: set clean here.)
    low_tiers = {**cfg, "tiers": {"platinum": 1.0, "gold": 0.5, "silver": 0.2, "bronze": 0.1}}
    assert low_tiers["tier_caps"]["high_finding"] == "silver"
    fv.values["audio.snr_db"] = 40.0
    # ... and so are the small generated clip's size and grain, each costing the whole picture what it takes from it
    fv.values["visual.resolution_pct"] = 100.0
    fv.values["visual.noise_sigma"] = 0.5
    capped = evaluate(str(good_clip), info, fv, low_tiers)
    assert capped.scores.tier == "silver" and "tier.capped" in _codes(capped)
    assert [f.code for f in capping_findings(capped.findings, low_tiers)] == ["visual.blurry"]
    early = provisional_result(str(good_clip), snap, low_tiers)
    assert early.scores.tier == "platinum" and "tier.capped" not in _codes(early)


def test_the_service_hands_out_a_running_clips_provisional_verdict_then_the_final(clips, tmp_path, monkeypatch):
    """``LibraryService.provisional(path)`` (what the app's breakdown shows for a running clip): the newest verdict
    the supervisor scored from its worker's snapshots while the job runs; None once the job is done, when
    ``result(path)`` is the final one."""
    import shutil
    import time

    pytest.importorskip("engine.jobs")
    from engine.service import LibraryService
    from engine.store import path_key

    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(clips("progressive_long", width=360, height=640, duration_s=3.0), folder / "long.mp4")
    key = path_key(folder / "long.mp4")
    backend = LibraryService(folder, store_path=tmp_path / "s.sqlite3", workers=1, executor="thread")
    seen = []
    try:
        backend.open()
        assert backend.provisional(key) is None
        assert backend.enqueue([key]) == 1
        deadline = time.monotonic() + 300  # a guard against a hang, not a timing assertion
        while True:
            state = backend.poll()
            early = backend.provisional(key)
            if early is not None:
                assert state.rows[key].status == "running" and state.rows[key].provisional
                seen.append(early)
            if state.rows[key].status in ("done", "error", "failed"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert state.rows[key].status == "done"
        assert seen and all(r.status == "provisional" and 0.0 <= r.progress < 1.0 for r in seen)
        assert backend.provisional(key) is None
        assert backend.result(key).status == "ok"
    finally:
        backend.shutdown(cancel_jobs=True)


def test_no_decode_time_snapshot_is_handed_out_after_the_decode_or_out_of_order(good_clip, cfg):
    """A summary that finishes after the decode ended (its thread is not waited for) is dropped, and so is any
    snapshot whose progress is below one already handed out: a consumer never sees progress go back, nor a decode
    verdict after the extractors' own."""
    from engine.extractors import ClipContext
    from engine.media import probe
    from engine.pipeline import _Provisional

    info = probe(good_clip)
    seen: list[Snapshot] = []
    early = _Provisional(seen.append, ClipContext(path=good_clip, info=info, config=cfg), [])
    early._emit(Snapshot(info, FeatureVector(), 0.3, stage="decode"))
    early._emit(Snapshot(info, FeatureVector(), 0.2, stage="audio"))  # below 0.3: dropped
    early.end_decode()
    early._emit(Snapshot(info, FeatureVector(), 0.5, stage="decode"))  # after the decode: dropped
    early._emit(Snapshot(info, FeatureVector(), 0.9, stage="finish"))
    assert [(s.stage, s.fraction) for s in seen] == [("decode", 0.3), ("finish", 0.9)]
