"""engine.folder: findings most of a folder shares are said once, and each clip's top fix is its own."""
from __future__ import annotations

from engine.feedback import Finding
from engine.folder import ONLY_FOLDER_WIDE, shared_findings, top_fix, top_fix_text
from engine.report import markdown, summary_row
from engine.result import ClipResult
from engine.scorer import Scores


def _f(code, value, points, severity="medium"):
    return Finding("visual", severity, code, f"{code} is {value:g}.", value, 100.0, None, None, "test", points)


def _clip(name, *findings, ok=True):
    if not ok:
        return ClipResult.failed(name, "media.unreadable", "cannot read")
    scores = Scores(50.0, {"visual": 50.0, "audio": None, "text": None}, {}, "bronze", "other", 0.0, "test@1")
    return ClipResult(path=name, status="ok", scores=scores, findings=list(findings))


def _folder():
    """Five scored clips and a failed one: low resolution on 4 of 5 scored (folder-wide), blur on 2, noise on 1."""
    return [
        _clip("a.mp4", _f("visual.low_resolution", 44.4, 9.0), _f("visual.blurry", 0.3, 4.0)),
        _clip("b.mp4", _f("visual.low_resolution", 50.0, 8.0), _f("visual.noisy", 7.0, 2.0)),
        _clip("c.mp4", _f("visual.low_resolution", 44.4, 9.0)),
        _clip("d.mp4", _f("visual.blurry", 0.35, 5.0), _f("visual.low_resolution", 37.5, 3.0),
              Finding("visual", "info", "rewards.not_checked", "not checked", None, None)),
        _clip("e.mp4", _f("audio.too_quiet", -30.0, 6.0, "high")),
        _clip("f.mp4", ok=False),
    ]


def test_a_finding_on_most_scored_clips_is_folder_wide_once_with_its_count_and_spread():
    shared = shared_findings(_folder())
    assert [s.code for s in shared] == ["visual.low_resolution"]  # blur on 2 of 5 is not "most"
    s = shared[0]
    assert (s.count, s.total) == (4, 5)  # the failed clip is not counted
    assert (s.value_low, s.value_high) == (37.5, 50.0)
    assert s.message == "visual.low_resolution is 44.4."  # the clip with the median value
    assert s.summary() == "4 of 5 clips (values 37.5 to 50): visual.low_resolution is 44.4."
    assert s.as_dict()["summary"] == s.summary()


def test_half_is_not_most_and_a_tiny_folder_has_no_folder_wide_findings():
    half = [_clip("a", _f("x.y", 1, 1)), _clip("b", _f("x.y", 1, 1)), _clip("c"), _clip("d")]
    assert shared_findings(half) == []
    assert shared_findings([_clip("a", _f("x.y", 1, 1)), _clip("b", _f("x.y", 1, 1))]) == []  # under 3 clips
    assert [s.code for s in shared_findings(half[:3])] == ["x.y"]  # 2 of 3


def test_each_clip_top_fix_skips_folder_wide_findings():
    folder = _folder()
    shared = shared_findings(folder)
    a, b, c, d, e, _ = folder
    assert top_fix(a).code == "visual.low_resolution"  # without the folder: the clip's own ranking
    assert top_fix(a, shared).code == "visual.blurry"
    assert top_fix(b, ["visual.low_resolution"]).code == "visual.noisy"  # codes work as well
    assert top_fix(c, shared) is None and top_fix_text(c, shared) == ONLY_FOLDER_WIDE
    assert top_fix(d, shared).code == "visual.blurry"
    # A clip where the shared flaw is much worse than on most clips keeps it as its own top fix.
    worse = _clip("h.mp4", _f("visual.low_resolution", 10.0, 20.0, "high"), _f("visual.blurry", 0.3, 4.0))
    assert top_fix(worse, shared).code == "visual.low_resolution"
    assert top_fix_text(e, shared) == "audio.too_quiet is -30."
    assert top_fix_text(_clip("g"), shared) is None  # no findings at all: nothing to say
    # The report's summary rows and the markdown summary use them.
    assert summary_row(a, 1, shared)["top_finding"] == "visual.blurry is 0.3."
    assert summary_row(folder[-1], 6, shared)["top_finding"] == "cannot read"
    md = markdown(folder, {})
    head = md.split("| # |")[0]
    assert "Folder-wide findings" in head and "4 of 5 clips (values 37.5 to 50)" in head
    assert md.count("visual.low_resolution is 44.4.") == 1 + 2  # the summary once; c's and a's own sections
