"""ClipResult: everything known about one clip after analysis, and its ``byteme score --json`` form."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import __version__
from .features import FeatureVector
from .feedback import Finding
from .media import MediaInfo
from .scorer import Scores


@dataclass
class ClipResult:
    path: str
    status: str  # "ok" | "error"
    error: dict | None = None  # {"kind": ..., "message": ...}
    media: MediaInfo | None = None
    scores: Scores | None = None
    findings: list[Finding] = field(default_factory=list)
    features: FeatureVector | None = None
    content_hash: str | None = None
    cached: bool = False
    elapsed_s: float = 0.0
    traceback: str | None = None  # for --debug only; never part of the contract

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def contract(self) -> dict:
        """The JSON object of the ``byteme score --json`` contract (DESIGN.md)."""
        s = self.scores
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "media": self.media.contract() if self.media else None,
            "scores": (
                {"overall": s.overall, **{m: s.modalities.get(m) for m in ("visual", "audio", "text")},
                 # Beyond the contract's keys: perceived picture quality 0-100 (engine/scorer.py).
                 "picture_quality": s.extra.get("picture_quality")}
                if s else None
            ),
            "tier": s.tier if s else None,
            "category": s.category if s else None,
            "metrics": {k: (round(v, 4) if v is not None else None) for k, v in sorted(self.features.values.items())}
            if self.features else {},
            "feedback": [_contract_finding(f) for f in self.findings],
            "engine": {"version": __version__, "model": s.model if s else None},
            # Beyond the contract's keys: the hook score, retention timeline, rewards checklist and originality.
            "insights": s.extra.get("insights") if s else None,
        }

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
    }
