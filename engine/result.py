"""ClipResult: everything known about one clip after analysis, and its ``byteme score --json`` form."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import __version__
from .features import FeatureVector
from .feedback import Finding
from .media import MediaInfo
from .scorer import Scores
from .textsafe import path_bytes


@dataclass
class ClipResult:
    path: str
    status: str  # "ok" | "error" | "provisional" (a verdict part-way through, ``byteme score --progressive``)
    error: dict | None = None  # {"kind": ..., "message": ...}
    media: MediaInfo | None = None
    scores: Scores | None = None
    findings: list[Finding] = field(default_factory=list)
    features: FeatureVector | None = None
    content_hash: str | None = None
    cached: bool = False
    elapsed_s: float = 0.0
    traceback: str | None = None  # for --debug only; never part of the contract
    progress: float | None = None  # a provisional verdict's fraction of the analysis done (0-1)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def top_finding(self) -> Finding | None:
        """The finding a creator should act on first: the first one that is not informational (findings are kept
        in order of importance), else the first one; None when there are none."""
        return next((f for f in self.findings if f.severity != "info"), None) or (self.findings[0] if self.findings else None)

    def contract(self) -> dict:
        """The JSON object of the ``byteme score --json`` contract (DESIGN.md); a provisional verdict's has
        ``"progress"`` (0-1) too."""
        s = self.scores
        out = {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "media": self.media.contract() if self.media else None,
            "scores": (
                {"overall": s.overall, **{m: s.modalities.get(m) for m in ("visual", "audio", "text")}}
                if s else None
            ),
            "tier": s.tier if s else None,
            "category": s.category if s else None,
            "category_confidence": s.category_confidence if s else None,  # 0-1, calibrated ([category])
            "metrics": {k: (round(v, 4) if v is not None else None) for k, v in sorted(self.features.values.items())}
            if self.features else {},
            "feedback": [_contract_finding(f) for f in self.findings],
            "engine": {"version": __version__, "model": s.model if s else None},
            # The file name's exact bytes (base64) when it is not valid UTF-8, else null: JSON tools turn the
            # "\udcXX" escapes of such a "path" into U+FFFD.
            "path_bytes": path_bytes(self.path),
            # Beyond the contract's keys: the hook score, retention timeline, rewards checklist and originality;
            # the picture's perceived quality and platform fit apart (engine/scorer.py) and each modality's weight
            # in the overall score.
            "insights": s.extra.get("insights") if s else None,
            "quality": ({"picture": s.extra.get("picture"), "overall_weights": s.extra.get("overall_weights")}
                        if s and "picture" in s.extra else None),
        }
        if self.status == "provisional":
            out["progress"] = self.progress
        return out

    @classmethod
    def failed(cls, path: str, kind: str, message: str, elapsed_s: float = 0.0) -> "ClipResult":
        return cls(path=path, status="error", error={"kind": kind, "message": message}, elapsed_s=elapsed_s)


def _contract_finding(f: Finding) -> dict:
    return {
        "modality": f.modality,
        "severity": f.severity,
        "code": f.code,
        "message": f.message,
        "value": f.value,
        "target": f.target,
        "start_s": f.start_s,
        "end_s": f.end_s,
        "source": f.source,
        "group": f.group,
    }
