"""Findings a whole folder shares, said once for the folder, and each clip's own top fix.

A folder shot on one phone at one setting gives the same finding on most clips ("Resolution is 44.4%" on 11 of
the 13 clips of ``../shared/realclips``): as every clip's top fix it drowns out what is specific to each clip.
``shared_findings(results)`` finds the finding codes that most scored clips of a folder carry; the library
footer and the report summary say them once, and ``top_fix(result, shared)`` is the clip's highest-ranked
finding that is not among them.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from .feedback import SEVERITY_ORDER

#: A finding is folder-wide when more than this share of the folder's scored clips carry its code ("most of a
#: folder", issue 16). BYTEME convention.
FOLDER_WIDE_SHARE = 0.5
#: ... and the folder has at least this many scored clips: with one or two, "the folder" is the clip itself and
#: its top fix must stay its own. BYTEME convention.
FOLDER_MIN_CLIPS = 3


@dataclass(frozen=True)
class SharedFinding:
    """One finding code carried by most of a folder's scored clips."""

    code: str
    modality: str
    severity: str  # the most common severity among the clips that carry it
    count: int  # clips that carry it
    total: int  # scored clips in the folder
    message: str  # the message of the clip with the median value: a real example, with its numbers
    value_low: float | None  # the smallest and largest measured value among those clips (None when not numeric)
    value_high: float | None

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0

    def summary(self) -> str:
        """One line: how many clips, and the typical message (outside text: escape when displaying)."""
        spread = ""
        if self.value_low is not None and self.value_high is not None and self.value_high != self.value_low:
            spread = f" (values {self.value_low:g} to {self.value_high:g})"
        return f"{self.count} of {self.total} clips{spread}: {self.message}"

    def as_dict(self) -> dict:
        return {"code": self.code, "modality": self.modality, "severity": self.severity, "count": self.count,
                "total": self.total, "message": self.message, "value_low": self.value_low,
                "value_high": self.value_high, "summary": self.summary()}


def _ranked(result) -> list:
    """The clip's findings that cost points (info lines are notes, never a fix), in their ranked order."""
    return [f for f in (result.findings or []) if f.severity != "info"]


def shared_findings(results, *, min_share: float = FOLDER_WIDE_SHARE,
                    min_clips: int = FOLDER_MIN_CLIPS) -> list[SharedFinding]:
    """The finding codes carried by more than ``min_share`` of the scored clips in ``results`` (ClipResults; failed
    ones are not counted), most common first; [] when fewer than ``min_clips`` clips are scored."""
    scored = [r for r in results if r is not None and r.ok]
    total = len(scored)
    if total < min_clips:
        return []
    by_code: dict[str, list] = {}
    for r in scored:
        seen = set()
        for f in _ranked(r):
            if f.code not in seen:  # a clip counts once per code (a code may recur at several time spans)
                seen.add(f.code)
                by_code.setdefault(f.code, []).append(f)
    out = []
    for code, found in by_code.items():
        if len(found) <= min_share * total:
            continue
        values = [f.value for f in found if isinstance(f.value, (int, float))]
        if len(values) == len(found):
            median = statistics.median_low(values)
            example = next(f for f in found if f.value == median)
        else:
            example = found[0]
        severities = [f.severity for f in found]
        out.append(SharedFinding(
            code, example.modality, max(set(severities), key=lambda s: (severities.count(s), s)), len(found), total,
            example.message, round(min(values), 2) if values else None, round(max(values), 2) if values else None))
    out.sort(key=lambda s: (-s.count, s.code))
    return out


def _is_folder_wide(f, shared: dict) -> bool:
    """A finding is the folder's, not the clip's, when its code is shared and it is no more severe here than on
    most clips: a blurry clip in a folder of slightly soft ones keeps its blur as its own top fix."""
    if f.code not in shared:
        return False
    typical = shared[f.code]
    return typical is None or SEVERITY_ORDER.get(f.severity, 9) >= SEVERITY_ORDER.get(typical, 9)


def top_fix(result, shared=()):
    """The clip's highest-ranked finding that is not folder-wide (``shared``: SharedFindings, or plain codes for
    "always folder-wide"), or None when every finding it has is folder-wide (or it has none)."""
    codes = {s.code: s.severity for s in shared if isinstance(s, SharedFinding)}
    codes.update({s: None for s in shared if not isinstance(s, SharedFinding)})
    return next((f for f in _ranked(result) if not _is_folder_wide(f, codes)), None)


#: What a clip's top fix says when every finding it has is folder-wide.
ONLY_FOLDER_WIDE = "Nothing beyond the folder-wide findings (see the folder summary)."


def top_fix_text(result, shared=()) -> str | None:
    """The message of ``top_fix``; ``ONLY_FOLDER_WIDE`` when the clip has findings but all are folder-wide; None
    when it has none."""
    f = top_fix(result, shared)
    if f is not None:
        return f.message
    return ONLY_FOLDER_WIDE if _ranked(result) else None
