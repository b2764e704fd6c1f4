"""The state of an installation, as `monitor status` shows it (and the web will): every
source's health, worst first, the outbox, and the evidence kept."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor import notify
from monitor.config import Config
from monitor.evidence import CaptureStore, Usage
from monitor.health import RANK, SourceHealth, assess
from monitor.store import Store

__all__ = ["OutboxState", "Status", "status"]

_FAILED_FIELDS = ("id", "recipient", "subject", "created_at", "attempts", "last_error",
                  "eml_path", "kind")


@dataclass(frozen=True, slots=True)
class OutboxState:
    queued: int
    oldest_created_at: str | None
    last_error: str | None  # the newest send error among the queued messages
    # digests and alerts given up: refused for good, or too many tries
    failed: list[dict[str, Any]]
    # of `queued`, immediate alerts; and those whose channel failed and that are retried
    alerts_queued: int = 0
    alerts_failing: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Status:
    now: str
    sources: list[SourceHealth]  # unhealthy first, disabled last, config order within
    outbox: OutboxState
    # captures kept and their size on disk, and what `evidence.keep` says
    evidence: Usage | None = None
    keep: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now, "sources": [h.to_dict() for h in self.sources],
                "outbox": asdict(self.outbox),
                "evidence": {**asdict(self.evidence), "keep": self.keep}
                if self.evidence else None}


def status(store: Store, config: Config, *, now: datetime | None = None) -> Status:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    assessed = sorted(assess(store, config, now=now),
                      key=lambda h: (not h.enabled, RANK[h.health]))
    queued = store.queued_messages()
    errors = [q.last_error for q in queued if q.last_error]
    outbox = OutboxState(
        queued=len(queued),
        oldest_created_at=queued[0].created_at if queued else None,
        last_error=errors[-1] if errors else None,
        failed=[{**{key: getattr(row, key) for key in _FAILED_FIELDS},
                 "channel": notify.label(row.channel)}
                for row in store.failed_messages()],
        alerts_queued=sum(q.kind == "alert" for q in queued),
        alerts_failing=[{"id": q.id, "recipient": q.recipient,
                         "channel": notify.label(q.channel), "subject": q.subject,
                         "attempts": q.attempts, "last_error": q.last_error,
                         "next_attempt_at": q.next_attempt_at}
                        for q in queued if q.kind == "alert" and q.last_error],
    )
    keep = config.evidence.keep
    return Status(now=now.isoformat(), sources=assessed, outbox=outbox,
                  evidence=CaptureStore(store.state_dir).usage(),
                  keep=keep if keep == "all" else f"matched (the rest {config.evidence.days} days)")
