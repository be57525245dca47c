"""What the UI shows, as plain data: one ``ClipRow`` per clip in the folder, one ``JobView`` per active or failed
job, and the ``LibraryState`` snapshot that the backend hands to the UI (a new object each time; never mutated
after it is posted, so the UI thread can read it while the poller builds the next one)."""
from __future__ import annotations

from dataclasses import dataclass, field

#: Row statuses, in the order the status filter cycles through them.
STATUSES = ("new", "queued", "running", "done", "error", "failed", "cancelled")
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class ClipRow:
    path: str  # absolute path, the row's key
    name: str  # path relative to the folder: outside text, shown only through textsafe
    size_bytes: int = 0
    duration_s: float | None = None
    width: int = 0
    height: int = 0
    status: str = "new"
    stage: str | None = None
    fraction: float | None = None
    overall: float | None = None
    visual: float | None = None
    audio: float | None = None
    text: float | None = None
    tier: str | None = None
    category: str | None = None
    top_finding: str | None = None
    error: str | None = None  # "kind: message", outside text
    job_id: int | None = None
    #: The scores, tier and top finding are a provisional verdict of the running job (``byteme score
    #: --progressive``'s), not the final one: shown marked as such until the job is done.
    provisional: bool = False
    views: int | None = None  # the clip's own TikTok numbers, newest reading (``byteme tiktok sync``)
    likes: int | None = None
    #: What the library's search looks through beyond the name, lower-cased: category, tier, the caption and
    #: every finding's code and message (outside text: matched, never shown).
    search_text: str = ""

    @property
    def like_rate(self) -> float | None:
        return self.likes / self.views if self.views and self.likes is not None else None

    @property
    def orientation(self) -> str:
        if not self.width or not self.height:
            return "-"
        return "portrait" if self.height > self.width else "landscape" if self.width > self.height else "square"

    @property
    def scored(self) -> bool:
        return self.overall is not None


@dataclass(frozen=True)
class JobView:
    id: int
    path: str
    name: str
    state: str
    stage: str | None = None
    fraction: float = 0.0
    fps: float | None = None
    eta_s: float | None = None
    attempt: int = 1
    max_attempts: int = 1
    error: str | None = None


@dataclass(frozen=True)
class FinishedJob:
    """A job that ended (done, failed or cancelled), kept on the progress screen until the user clears it."""
    id: int
    path: str
    name: str
    state: str  # done | failed | cancelled
    overall: float | None = None
    tier: str | None = None
    took_s: float | None = None  # from the job's start to its end, wall time
    error: str | None = None  # outside text


@dataclass(frozen=True)
class LibraryState:
    folder: str
    rows: dict = field(default_factory=dict)  # path -> ClipRow, in folder order
    jobs: tuple = ()  # JobView of queued, running and failed jobs
    batch_total: int = 0  # clips in the current run (since the queue was last empty)
    batch_finished: int = 0
    throughput_per_min: float | None = None
    eta_s: float | None = None  # seconds until the whole queue is done, at the throughput measured in this run
    finished: tuple = ()  # FinishedJob, newest first, until cleared
    paused: bool = False
    queue_available: bool = True
    problem: str | None = None  # why scoring cannot run (no job queue, the runner stopped), outside text
    loaded: bool = True
    shared_findings: tuple = ()  # engine.folder.SharedFinding: said once for the folder, not as each clip's top fix
    version: int = 0

    @property
    def running(self) -> list:
        return [j for j in self.jobs if j.state == "running"]

    @property
    def active_count(self) -> int:
        return sum(1 for j in self.jobs if j.state in ACTIVE)

    @property
    def batch_fraction(self) -> float:
        if not self.batch_total:
            return 0.0
        partial = sum(j.fraction or 0.0 for j in self.running)
        return min(1.0, (self.batch_finished + partial) / self.batch_total)
