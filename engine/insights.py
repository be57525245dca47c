"""Creator insights on an analysed clip: the hook, the retention-risk timeline, the rewards pre-check, the
cut-on-beat summary and (with a store) originality across the library, assembled from the feedback modules
(``engine/feedback/``: hook, retention, rewards, beats, reuse) and the originality index (``engine/originality.py``).

Everything reads the FeatureVector the extractors wrote during the one decode pass; nothing decodes again.
Metrics of other extractors are read defensively: when one is absent, the part that needs it is left out and the
result says so (``unused``), it is never guessed. ``enrich(result, cfg, store=)`` puts it all into a ClipResult:

* ``result.scores.extra["hook"]``: the hook score (0-100);
* ``result.scores.extra["insights"]``: {"hook", "retention", "rewards", "cut_on_beat", "originality"};
* hook, retention, rewards and originality findings join ``result.findings``, ranked with the others.

Thresholds and weights come from ``[hook]``, ``[retention]`` and ``[presets.*.rewards]`` in config.toml.
"""
from __future__ import annotations

from .feedback import Finding, rank_findings
from .feedback.beats import cut_on_beat
from .feedback.hook import hook_report
from .feedback.retention import retention_timeline
from .feedback.reuse import originality_findings
from .feedback.rewards import rewards_checklists, rewards_findings
from .originality import originality_report


def compute(info, fv, cfg: dict, *, store=None, content_hash: str | None = None, path: str = "",
            findings=()) -> dict:
    """The insights of a clip; ``findings``: those already raised (a retention peak they already name is not said
    twice)."""
    hook = hook_report(fv, info, cfg)
    retention = retention_timeline(fv, info, cfg, named=list(findings) + hook["findings"])
    orig = originality_report(store, content_hash, path, fv)
    rewards = rewards_checklists(info, fv, cfg, orig)
    return {"hook": hook, "retention": retention, "rewards": rewards, "cut_on_beat": cut_on_beat(fv),
            "originality": orig}


def enrich(result, cfg: dict, store=None) -> None:
    """Add the insights to an analysed ClipResult (scores.extra and findings). Never raises for a clip's data:
    an insight that fails is reported as an info finding, the score stands."""
    if not result.ok or result.features is None or result.scores is None or result.media is None:
        return
    try:
        ins = compute(result.media, result.features, cfg, store=store, content_hash=result.content_hash,
                      path=result.path, findings=result.findings)
    except Exception as exc:  # keep the score; say what failed
        result.findings.append(Finding("visual", "info", "insights.failed",
                                       f"Hook, retention and originality insights could not be computed: "
                                       f"{type(exc).__name__}: {exc}", None, None))
        return
    new = (ins["hook"].pop("findings") + ins["retention"].pop("findings")
           + rewards_findings(ins["rewards"], cfg) + originality_findings(ins["originality"], cfg))
    result.scores.extra["hook"] = ins["hook"]["score"]
    result.scores.extra["insights"] = ins
    result.findings = rank_findings(result.findings + new, cfg)
