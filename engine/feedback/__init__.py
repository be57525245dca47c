"""Findings: what a creator can act on, each citing a measured value, a target and where it comes from.

* ``targets``: a finding for every point a metric loses against its ``[targets]`` table (and the finding type,
  severities, time and value wording every other module uses, re-exported here);
* ``hook``: the first seconds (``[hook]``); ``retention``: the per-second retention-risk timeline
  (``[retention]``); ``rewards``: the rewards programmes' checklists (``[presets.*.rewards]``);
* ``reuse``: findings from the originality index's matches (near-duplicates, reused soundtracks, another app's
  watermark; the index itself is ``engine/originality.py``); ``beats``: the cut-on-beat summary;
* ``signals``: reading a clip's series and the thumbnail signal defensively, shared by hook and retention.

``engine/insights.py`` runs hook, retention, rewards, reuse and beats on a result; ``engine/pipeline.py`` the targets.
"""
from .targets import (COUNT_UNITS, HIGH_POINTS, LOCAL_MAX_SHARE, LOCAL_SCORE_BELOW, MAX_DECIMALS, MEDIUM_POINTS,
                      PLATFORM_FIT_PREFIX, SEVERITY_ORDER, SINGULAR, Finding, build_findings, cap_tier, capping_findings,
                      clock, opinion_codes, rank_findings,
                      fmt_pair, fmt_value, modality_product, note_findings, plural, severity_for, target_codes,
                      target_findings)

__all__ = ["COUNT_UNITS", "HIGH_POINTS", "LOCAL_MAX_SHARE", "LOCAL_SCORE_BELOW", "MAX_DECIMALS", "MEDIUM_POINTS",
           "PLATFORM_FIT_PREFIX", "SEVERITY_ORDER", "SINGULAR", "Finding", "build_findings", "cap_tier",
           "capping_findings", "clock", "opinion_codes", "rank_findings",
           "fmt_pair", "fmt_value", "modality_product", "note_findings", "plural", "severity_for", "target_codes",
           "target_findings"]
