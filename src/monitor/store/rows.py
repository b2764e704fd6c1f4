"""What the store gives back: one frozen type per kind of row, so readers name fields the
type declares instead of a backend's column keys, and a second backend returns the same."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

from monitor.furniture import BlockStats


class Row:
    __slots__ = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], **extra: Any) -> Self:
        """The row from a result's columns (those the type does not declare are left out)."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names}, **extra)


@dataclass(frozen=True, slots=True)
class RunRow(Row):
    """One run of one source."""

    id: int
    source: str
    status: str
    started_at: str
    finished_at: str | None = None
    seconds: float | None = None
    fetched: int = 0
    items: int = 0
    new_items: int = 0
    changed_items: int = 0
    new_matches: int = 0
    errors: int = 0
    error: str | None = None
    pid: int | None = None
    warnings: tuple[str, ...] = ()
    # `monitor crawl --since`: the date this run read back from
    backfill_since: str | None = None
    # requests made, stored articles not due again, 304 answers
    requests: int = 0
    not_due: int = 0
    not_modified: int = 0


@dataclass(frozen=True, slots=True)
class HealthReportRow(Row):
    """What a recipient was last told about a source's health, and when."""

    recipient: str
    source: str
    health: str
    reported_at: str


@dataclass(frozen=True, slots=True)
class OutboxRow(Row):
    """A composed digest or immediate alert for one channel: queued, being sent (claimed),
    sent or given up (`failed`)."""

    id: int
    recipient: str
    subject: str
    status: str
    created_at: str
    message_id: str | None = None
    # the message itself: only in rows read for sending
    message: bytes | None = None
    attempts: int = 0
    last_attempt_at: str | None = None
    next_attempt_at: str | None = None
    last_error: str | None = None
    sent_at: str | None = None
    sent_via: str | None = None
    eml_path: str | None = None
    html_path: str | None = None
    findings: int = 0
    claimed_by: str | None = None
    claimed_at: str | None = None
    # digest | alert; email | notify:<URL without secrets> | env:<NAME> (monitor.alerts)
    kind: str = "digest"
    channel: str = "email"
    alert_id: int | None = None


@dataclass(frozen=True, slots=True)
class AlertMark:
    """How far a recipient was alerted of a tender for a watch: the last match and event the
    alert told of, and when it was queued."""

    match_id: int
    event_id: int
    alerted_at: str

    def covers(self, match_id: int, event_id: int) -> bool:
        return self.match_id >= match_id and self.event_id >= event_id


@dataclass(frozen=True, slots=True)
class ArticleMatchRow(Row):
    """A watch's match in an article, with the article's fields."""

    match_id: int
    watch: str
    term: str
    term_kind: str
    field: str
    found: str
    snippet: str
    snippet_start: int
    snippet_end: int
    matched_at: str
    item_id: int
    source: str
    url: str
    title: str
    first_seen_at: str
    version: int
    published_at: str | None = None
    content_hash: str | None = None
    variant: str | None = None
    via: str | None = None
    origin: str = "crawl"
    # the item's latest capture (`monitor.evidence`), when one was kept
    capture_sha256: str | None = None
    captured_at: str | None = None


@dataclass(frozen=True, slots=True)
class TenderMatchRow(Row):
    """A watch's match in a tender (a role: winner, bidder, buyer, or title/body text)."""

    id: int
    tender_id: int
    watch: str
    term: str
    term_kind: str
    field: str
    found: str
    snippet: str
    snippet_start: int
    snippet_end: int
    version: int
    matched_at: str
    start: int = 0
    end: int = 0
    variant: str | None = None
    via: str | None = None
    run_id: int | None = None
    origin: str = "crawl"
    # not yet told to the recipient the row was read for
    new: bool = False


@dataclass(frozen=True, slots=True)
class TenderRow(Row):
    """A tender's current version; `record` is the stored record (`tender.stored_fields`)."""

    id: int
    source: str
    native_id: str
    url: str
    title: str
    record: dict[str, Any]
    content_hash: str
    version: int
    first_seen_at: str
    last_seen_at: str
    status: str | None = None
    buyer_name: str | None = None
    buyer_id: str | None = None
    value: float | None = None
    currency: str | None = None
    published_at: str | None = None
    deadline_at: str | None = None
    modified_at: str | None = None
    raw_hash: str | None = None
    changed_at: str | None = None
    first_run_id: int | None = None
    # the latest capture of the tender (`monitor.evidence`), when one was kept
    capture_sha256: str | None = None
    captured_at: str | None = None


@dataclass(frozen=True, slots=True)
class TenderEventRow(Row):
    """What changed in a tender between two versions; `old` and `new` as stored."""

    id: int
    tender_id: int
    version: int
    kind: str
    field: str
    old: Any
    new: Any
    seen_at: str
    run_id: int | None = None
    # the tender's, when read with it (`tender_events`)
    source: str | None = None
    native_id: str | None = None
    title: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TenderNews(Row):
    """A (tender, watch) pair with news for one recipient: the tender, all the watch's matches
    in it (`new` on those not yet told) and the events not yet told, oldest first."""

    tender: TenderRow
    watch: str
    first_matched_at: str
    # the last match and event the recipient was told of (0: none)
    told_match: int
    told_event: int
    matches: tuple[TenderMatchRow, ...]
    events: tuple[TenderEventRow, ...]
    # the red flags of the tender's current version, one line each with its numbers
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FindingRow(Row):
    """A stored match as a line of a summary (`monitor demo`): the watch, where, what."""

    watch: str
    title: str
    source: str
    field: str
    found: str
    term: str
    url: str
    published_at: str | None = None
    # tenders only
    native_id: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class KnownPage:
    """What the store knows of an article page from earlier crawls (`monitor.revisit`)."""

    raw_hash: str | None
    first_seen_at: str
    # when it was last fetched (a 200 or a 304)
    fetched_at: str
    etag: str | None = None
    last_modified: str | None = None
    # the feed entry's `updated` (or the sitemap's `lastmod`) when it was last fetched
    listed_at: str | None = None
    # when a revisit found it taken down
    removed_at: str | None = None


@dataclass(frozen=True, slots=True)
class RemovedRow(Row):
    """A stored article that matched a watch and was then taken down from its site."""

    item_id: int
    source: str
    url: str
    title: str
    removed_at: str
    removed_reason: str
    # the watches it had matched, comma-separated
    watches: str
    capture_sha256: str | None = None
    captured_at: str | None = None


@dataclass(frozen=True, slots=True)
class CaptureRow(Row):
    """A response an item or tender version was read from; its body is `monitor.evidence`'s,
    by hash."""

    id: int
    sha256: str
    url: str
    final_url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    fetched_at: str
    size: int
    item_id: int | None = None
    tender_id: int | None = None
    version: int | None = None
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class FurnitureRow(Row):
    """A text block one source repeats across its articles, with its counts
    (`monitor.furniture`: `stats` is what the rule judges)."""

    source: str
    key: str
    pages: int
    first_page: int
    last_page: int
    first_day: str
    last_day: str
    chars: int
    edge_pages: int
    sample: str | None
    first_seen_at: str
    last_seen_at: str

    @property
    def stats(self) -> BlockStats:
        return BlockStats(self.pages, self.first_page, self.last_page, self.first_day,
                          self.last_day, self.chars, self.edge_pages, self.sample)


@dataclass(frozen=True, slots=True)
class StoredTender:
    """What deciding a tender's change needs of its stored version."""

    id: int
    version: int
    content_hash: str
    record: dict[str, Any]


def tender_row(data: dict[str, Any]) -> TenderRow:
    """A `tenders` row, its stored record decoded."""
    return TenderRow.from_mapping({**data, "record": json.loads(data["record"])})


def event_row(data: dict[str, Any]) -> TenderEventRow:
    """A `tender_events` row, `old` and `new` decoded."""
    return TenderEventRow.from_mapping(
        {**data, "old": json.loads(data["old"]), "new": json.loads(data["new"])})


# -- monitor web -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxRow(Row):
    """A finding in the inbox: an article or tender that matched at least one watch; `at`
    is its newest match's time (the inbox is ordered by it, newest first)."""

    kind: str  # article | tender
    id: int
    source: str
    title: str
    url: str
    at: str | None  # None for an item that matched nothing (a copy, a search hit)
    watches: tuple[str, ...]
    first_seen_at: str
    published_at: str | None = None
    language: str | None = None
    # tenders
    native_id: str | None = None
    status: str | None = None
    # what a person said of it (`triage`); None: not looked at yet
    triage: str | None = None
    removed_at: str | None = None
    # when an immediate alert last told someone of it (queued then); None: never
    alerted_at: str | None = None


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: tuple[InboxRow, ...]
    # where the next page starts (the last article's and tender's match ids shown), or None
    # at the end
    next: str | None


@dataclass(frozen=True, slots=True)
class ItemVersionRow(Row):
    """One stored version of an article's text."""

    item_id: int
    version: int
    content_hash: str
    title: str
    text: str
    seen_at: str
    published_at: str | None = None


@dataclass(frozen=True, slots=True)
class TenderVersionRow(Row):
    """One stored version of a tender (`record`, as `TenderRecord.to_dict` stored it)."""

    tender_id: int
    version: int
    content_hash: str
    record: dict[str, Any]
    seen_at: str
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class TriageRow(Row):
    """What a person said of a finding: relevant, not_relevant or follow_up, with a note."""

    kind: str
    ref_id: int
    state: str
    note: str
    user: str
    at: str


@dataclass(frozen=True, slots=True)
class AuditRow(Row):
    """One action in `monitor web`, as the audit log keeps it."""

    id: int
    at: str
    user: str
    action: str
    target: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedTokenRow(Row):
    """An Atom feed's secret URL token, for a watch or a saved search."""

    token: str
    kind: str  # watch | search
    target: str  # the watch's name or the search's query string
    user: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit(Row):
    """An item or tender found by `Store.search`. `text` is the item's text, or for a tender
    the text searched besides its title (`search.tender_text`: number, description, buyer,
    winners, bidders, lots, documents); `watches` the watches that matched it, if any.
    `rowid` is its place in the result order (item id * 2, tender id * 2 + 1): pass a page's
    `next_before` as `before=` for the next page."""

    kind: str  # "item" | "tender"
    id: int
    rowid: int
    source: str
    title: str
    url: str
    text: str
    first_seen_at: str
    published_at: str | None = None
    watches: tuple[str, ...] = ()
    # items
    language: str | None = None
    # tenders
    native_id: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results, newest first; `next_before` continues after it (None: it
    is the last page)."""

    hits: tuple[SearchHit, ...]
    next_before: int | None = None


@dataclass(frozen=True, slots=True)
class FlagRow(Row):
    """One red-flag verdict on one tender version (`monitor.flags.Flag` as stored)."""

    tender_id: int
    version: int
    rule: str
    state: str
    summary: str
    inputs: dict[str, Any]
    thresholds: dict[str, Any]
    rule_version: int
    relative: bool
    computed_at: str


@dataclass(frozen=True, slots=True)
class FlaggedTenderRow(Row):
    """A tender whose latest version carries a flag: what `monitor flags` lists."""

    tender_id: int
    source: str
    native_id: str
    title: str
    url: str
    buyer_name: str | None
    buyer_id: str | None
    winners: tuple[str, ...]
    value: float | None
    currency: str | None
    published_at: str | None
    rule: str
    summary: str
    relative: bool


def flag_row(data: Mapping[str, Any]) -> FlagRow:
    return FlagRow.from_mapping({**data, "inputs": json.loads(data["inputs"]),
                                 "thresholds": json.loads(data["thresholds"]),
                                 "relative": bool(data["relative"])})
