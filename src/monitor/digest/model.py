"""What a digest holds: findings (monitor.findings) in sections per watch, Coverage lines,
notices. Values only; `monitor.digest.build` fills them from the store and
`monitor.digest.render` turns them into text, HTML and CSV."""

from __future__ import annotations

from dataclasses import dataclass, replace

from monitor.findings.model import DigestEntry, RemovedEntry, TenderEntry
from monitor.health import HealthNotice

# a recipient's first digest only reaches this far back: adding a recipient to a long-running
# install must not mail them months of history
FIRST_DIGEST_DAYS = 7

# run statuses that mean "this source could not be checked"
FAILED_STATUSES = frozenset({"error", "timeout", "interrupted"})

PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}
SUBJECT_WATCHES = 5


@dataclass(frozen=True, slots=True)
class WatchSection:
    watch: str
    priority: str
    entries: tuple[DigestEntry, ...]
    tenders: tuple[TenderEntry, ...] = ()
    # at most this many entries are shown (tenders first); None: all
    limit: int | None = None

    @property
    def count(self) -> int:
        return len(self.entries) + len(self.tenders)

    @property
    def alerted(self) -> int:
        """Entries already sent as immediate alerts (counted, shown, but not as new)."""
        return (sum(e.alerted_at is not None for e in self.entries)
                + sum(t.alerted_at is not None for t in self.tenders))

    @property
    def counts(self) -> str:
        """"3 new", "2 new, 1 already alerted"."""
        if not self.alerted:
            return f"{self.count} new"
        return f"{self.count - self.alerted} new, {self.alerted} already alerted"

    @property
    def shown_tenders(self) -> tuple[TenderEntry, ...]:
        return self.tenders if self.limit is None else self.tenders[: self.limit]

    @property
    def shown_entries(self) -> tuple[DigestEntry, ...]:
        if self.limit is None:
            return self.entries
        return self.entries[: max(0, self.limit - len(self.tenders))]

    @property
    def hidden(self) -> int:
        """Entries counted but not shown (they are in the CSV)."""
        return self.count - len(self.shown_tenders) - len(self.shown_entries)


@dataclass(frozen=True, slots=True)
class CoverageLine:
    """How one source's runs went within the digest window."""

    source: str
    runs: int
    failed: int
    last_status: str
    last_error: str | None  # the most recent error in the window, even if a later run was ok
    fetched: int
    new_items: int
    new_matches: int
    seconds: float
    # what the window's runs noticed without failing, each once, newest last
    warnings: tuple[str, ...] = ()
    # entries of this digest from this source, whichever run found them (a run before the
    # window, a baseline told later): Coverage counts what the digest shows
    findings: int = 0

    @property
    def failing(self) -> bool:
        """The source's latest run failed: it is not being checked right now."""
        return self.last_status in FAILED_STATUSES

    @property
    def recovered(self) -> bool:
        """Some runs failed but the latest one did not."""
        return self.failed > 0 and not self.failing


@dataclass(frozen=True, slots=True)
class UndeliveredDigest:
    """An earlier digest or alert the server refused for good (or too often): kept, not
    retried, and said in the next digest so that nobody takes its silence for a quiet day."""

    outbox_id: int
    recipient: str
    subject: str
    created_at: str
    attempts: int
    error: str
    eml_path: str | None
    # digest | alert, and the channel's label (never a secret): email, $TELEGRAM_URL, ...
    kind: str = "digest"
    channel: str = "email"


@dataclass(frozen=True, slots=True)
class WaitingAlert:
    """An immediate alert still in the outbox after failed attempts (retried with
    back-off): said in the digest, as a failing source is."""

    outbox_id: int
    recipient: str
    channel: str  # its label
    subject: str
    attempts: int
    error: str


@dataclass(frozen=True, slots=True)
class Digest:
    recipient: str  # email address
    generated_at: str  # UTC ISO-8601
    since: str | None  # the previous digest's `until`; None for a recipient's first digest
    until: str
    sections: tuple[WatchSection, ...]
    coverage: tuple[CoverageLine, ...]
    subject: str
    # sources whose health this recipient has not been told yet (or must be reminded of)
    health: tuple[HealthNotice, ...] = ()
    # digests (to anyone) given up since this recipient's last digest
    undelivered: tuple[UndeliveredDigest, ...] = ()
    # the earliest `--since` date of a backfill crawl among this digest's runs
    backfill_since: str | None = None
    # findings whose pages were taken down since the last digest
    removed: tuple[RemovedEntry, ...] = ()
    # immediate alerts (to anyone) that failed and are being retried
    waiting_alerts: tuple[WaitingAlert, ...] = ()

    def limited(self, limit: int) -> Digest:
        """The same digest showing at most `limit` entries per watch."""
        return replace(self, sections=tuple(replace(s, limit=limit) for s in self.sections))

    @property
    def hidden(self) -> int:
        return sum(section.hidden for section in self.sections)

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        return tuple(e for section in self.sections for e in section.entries)

    @property
    def tender_entries(self) -> tuple[TenderEntry, ...]:
        return tuple(t for section in self.sections for t in section.tenders)

    @property
    def findings_count(self) -> int:
        """Number of entries (an item matched by three aliases of one watch counts once; a
        tender counts once per watch however much changed)."""
        return sum(section.count for section in self.sections)

    @property
    def match_ids(self) -> tuple[int, ...]:
        return tuple(i for e in self.entries for i in e.match_ids)

    @property
    def tender_marks(self) -> tuple[tuple[int, str, int, int], ...]:
        """(tender id, watch, last match id, last event id) of every tender entry, for every
        watch it concerns: what the store records as told when the digest is queued."""
        return tuple(mark for t in self.tender_entries
                     for mark in ((t.tender_id, t.watch, t.last_match_id, t.last_event_id),
                                  *t.other_marks))

    @property
    def failed_sources(self) -> tuple[CoverageLine, ...]:
        return tuple(line for line in self.coverage if line.failing)

    @property
    def attention(self) -> tuple[HealthNotice, ...]:
        """Notices of sources that are failing, suspect or stale."""
        return tuple(n for n in self.health if n.kind != "recovered")

    @property
    def recoveries(self) -> tuple[HealthNotice, ...]:
        return tuple(n for n in self.health if n.kind == "recovered")

    @property
    def alerted_count(self) -> int:
        """Entries already sent as immediate alerts."""
        return sum(section.alerted for section in self.sections)

    @property
    def is_empty(self) -> bool:
        """Nothing to mail: no findings and nothing to say about any source's health (a
        failed run alone is not news; a source that is failing is)."""
        return (self.findings_count == 0 and not self.health and not self.undelivered
                and not self.removed)


