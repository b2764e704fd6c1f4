"""Undelivered matches + the runs since the last digest -> a `Digest`; render it as text or HTML.

Reads the store and returns data: never prints, never sends, never marks anything (that is
`monitor.mail`'s job, atomically with the outbox row).

    store.undelivered_matches ──group by (watch, item)──> DigestEntry ──by watch──> WatchSection
    store.runs_finished_between ──group by source──────> CoverageLine
    health.assess + store.health_reports ──health_news──> HealthNotice ("Needs attention")
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from monitor.config import Config, Recipient
from monitor.health import HealthNotice, assess, health_news
from monitor.store import Store

__all__ = [
    "AlsoAt",
    "CoverageLine",
    "Digest",
    "DigestEntry",
    "Finding",
    "OtherWatch",
    "Party",
    "TenderEntry",
    "UndeliveredDigest",
    "WatchSection",
    "build_digest",
    "describe_event",
    "money",
    "render_html",
    "render_text",
]

# a recipient's first digest only reaches this far back: adding a recipient to a long-running
# install must not mail them months of history
FIRST_DIGEST_DAYS = 7

# run statuses that mean "this source could not be checked"
FAILED_STATUSES = frozenset({"error", "timeout", "interrupted"})

_PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}
# where a watch was found in a tender, strongest evidence first
_ROLE_ORDER = {role: i for i, role in enumerate(("winner", "bidder", "buyer", "title", "body"))}
# a subject names at most this many watches; the rest become "+N more"
_SUBJECT_WATCHES = 5


@dataclass(frozen=True, slots=True)
class Finding:
    """One alias or keyword found in an entry's title or body."""

    term: str  # as written in the config
    term_kind: str  # alias | keyword
    found: str  # as written on the page
    field: str  # title | body
    snippet: str
    snippet_start: int
    snippet_end: int
    # found through a generated transliteration of `term` / through a related organisation
    variant: str | None = None
    via: str | None = None
    # "rematch": found in an item stored earlier, after the watch list changed: not news
    origin: str = "crawl"
    # set when the finding belongs to another watch than its entry's (one entry per finding)
    watch: str | None = None

    @property
    def parts(self) -> tuple[str, str, str]:
        """(before, found, after) of the snippet, for highlighting. Templates escape each part;
        offsets that do not fit the snippet give no highlight rather than a wrong one."""
        s, e = self.snippet_start, self.snippet_end
        if 0 <= s < e <= len(self.snippet):
            return self.snippet[:s], self.snippet[s:e], self.snippet[e:]
        return self.snippet, "", ""

    @property
    def spelled_differently(self) -> bool:
        """True when the page wrote something other than the configured term (a transliteration,
        a case ending): worth saying which alias matched. Case alone does not count."""
        return " ".join(self.found.split()).casefold() != " ".join(self.term.split()).casefold()


@dataclass(frozen=True, slots=True)
class AlsoAt:
    """The same story at another source (republished, syndicated, translated by a wire)."""

    source: str
    url: str
    published_at: str | None
    item_id: int = 0

    @property
    def link(self) -> str | None:
        return self.url if _is_web_url(self.url) else None


@dataclass(frozen=True, slots=True)
class OtherWatch:
    """Another watch that one finding concerns: it is listed once, under its first watch
    (highest priority), and names the others with how each was found."""

    watch: str
    how: str  # "won", "bid and lost", "in title: “Хиквижн”"

    def __str__(self) -> str:
        return f"{self.watch} ({self.how})" if self.how else self.watch


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One item for one watch, with every place the watch's terms were found in it, and
    the other sources that published the same story (`also`, earliest first)."""

    watch: str
    item_id: int
    title: str
    url: str
    source: str
    published_at: str | None  # UTC ISO-8601
    first_seen_at: str
    findings: tuple[Finding, ...]
    match_ids: tuple[int, ...]
    also: tuple[AlsoAt, ...] = ()
    # the other watches this item concerns (their matches are delivered with it)
    other_watches: tuple[OtherWatch, ...] = ()

    @property
    def date(self) -> str:
        """The date to sort and show by: published, else when we first saw it."""
        return self.published_at or self.first_seen_at

    @property
    def item_ids(self) -> tuple[int, ...]:
        """This item and the copies of the story at other sources."""
        return (self.item_id, *(a.item_id for a in self.also))

    @property
    def how(self) -> str:
        """How the watch was found, in a few words: "in title: “Хиквижн”"."""
        own = [f for f in self.findings if f.watch is None]
        fields = dict.fromkeys(f.field for f in own)
        found = dict.fromkeys(f.found for f in own)
        return f"in {' and '.join(fields)}: " + ", ".join(f"“{f}”" for f in found)

    @property
    def link(self) -> str | None:
        """The URL when it is safe to put in an href (http/https only), else None."""
        return self.url if _is_web_url(self.url) else None


@dataclass(frozen=True, slots=True)
class Party:
    """An organisation in a tender entry, with its registry id when the portal gives it."""

    name: str
    registry_id: str | None = None

    def __str__(self) -> str:
        if self.registry_id and self.name:
            return f"{self.name} ({self.registry_id})"
        return self.name or self.registry_id or "(unnamed)"


@dataclass(frozen=True, slots=True)
class TenderEntry:
    """One tender for one watch: where the watch was found in it (the role: winner, bidder,
    buyer, or the text), the tender's state, and what changed since the recipient's last
    digest."""

    watch: str
    tender_id: int
    native_id: str
    title: str
    url: str
    source: str
    status: str
    buyer: Party | None
    winners: tuple[Party, ...]
    value: str | None  # "2.1 M GEL"
    award_value: str | None
    deadline: str | None
    published_at: str | None
    first_seen_at: str
    findings: tuple[Finding, ...]
    # what changed, one sentence each ("awarded to ...", "value 2.1 M -> 3.2 M GEL")
    changes: tuple[str, ...]
    # the watch bid (was found as a bidder, not a winner) and the tender went to others
    lost: bool
    # first time this recipient hears of this tender for this watch
    first_report: bool
    last_match_id: int
    last_event_id: int
    # the other watches this tender concerns, and what the store records as told for them
    other_watches: tuple[OtherWatch, ...] = ()
    other_marks: tuple[tuple[int, str, int, int], ...] = ()
    # set when the recipient first hears of a tender that was stored earlier (a silent
    # baseline, or a watch added later): when it was first seen
    tracked_since: str | None = None

    @property
    def date(self) -> str:
        return self.published_at or self.first_seen_at

    @property
    def link(self) -> str | None:
        return self.url if _is_web_url(self.url) else None

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles the watch was found in, strongest first (winner, bidder, buyer, text)."""
        found = {f.field for f in self.findings if f.watch is None}
        return tuple(r for r in _ROLE_ORDER if r in found)

    @property
    def amounts(self) -> str:
        """"value 2.1 M GEL; awarded 2 M GEL; deadline 2026-12-01 10:00 UTC" (what is known)."""
        parts = [f"value {self.value}" if self.value else "",
                 f"awarded {self.award_value}" if self.award_value else "",
                 f"deadline {_when(self.deadline)}" if self.deadline else ""]
        return "; ".join(p for p in parts if p)

    @property
    def novelty(self) -> str:
        """"new", "updated", or, for a tender stored before (a silent baseline, a watch added
        later) that this recipient hears of now, what it is and since when it was tracked."""
        if not self.first_report:
            return "updated"
        if self.tracked_since:
            return f"first reported now, tracked since {self.tracked_since[:10]}"
        return "new"

    @property
    def headline(self) -> str:
        """What happened for this watch, in a few words."""
        roles = self.roles
        if roles and roles[0] == "winner":
            return "won"
        if self.lost:
            return "bid and lost"
        if roles and roles[0] == "bidder":
            return "bid"
        if roles and roles[0] == "buyer":
            return "is the buyer"
        return "mentioned"


@dataclass(frozen=True, slots=True)
class WatchSection:
    watch: str
    priority: str
    entries: tuple[DigestEntry, ...]
    tenders: tuple[TenderEntry, ...] = ()

    @property
    def count(self) -> int:
        return len(self.entries) + len(self.tenders)


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
    """An earlier digest the mail server refused for good (or too often): kept, not retried,
    and said in the next digest so that nobody takes its silence for a quiet day."""

    outbox_id: int
    recipient: str
    subject: str
    created_at: str
    attempts: int
    error: str
    eml_path: str | None


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
    def is_empty(self) -> bool:
        """Nothing to mail: no findings and nothing to say about any source's health (a
        failed run alone is not news; a source that is failing is)."""
        return self.findings_count == 0 and not self.health and not self.undelivered


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _iso(moment: datetime) -> str:
    # the store's own format (store.utcnow): string comparison in SQL must agree with time order
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def build_digest(
    store: Store, config: Config, recipient: Recipient, *, now: datetime | None = None
) -> Digest:
    """What is new for `recipient` since their last digest, and how every source fared."""
    now = now or datetime.now(UTC)
    until = _iso(now)
    last = store.last_digest_at(recipient.email)
    # first digest: the flood guard bounds both the matches and the runs reported
    window_start = last or _iso(now - timedelta(days=FIRST_DIGEST_DAYS))
    wanted = [w for w in config.watches if recipient.wants(w)]
    rows = store.undelivered_matches(
        recipient.email, [w.name for w in wanted], since=None if last else window_start
    )
    # matches stored after `until` belong to the next digest, so `now` means what it says
    rows = [r for r in rows if r["matched_at"] <= until]

    tender_rows = store.undelivered_tenders(
        recipient.email, [w.name for w in wanted], since=None if last else window_start,
        until=until)

    sections = []
    for watch in sorted(wanted, key=lambda w: (_PRIORITY_ORDER[w.priority], w.name.casefold())):
        entries = _entries(watch.name, [r for r in rows if r["watch"] == watch.name])
        tenders = tuple(sorted(
            (_tender_entry(r, window_start) for r in tender_rows if r["watch"] == watch.name),
            key=lambda t: (t.date, t.tender_id), reverse=True))
        if entries or tenders:
            sections.append(WatchSection(watch.name, watch.priority, entries, tenders))
    sections = _one_entry_per_finding(sections)
    shown: dict[str, int] = defaultdict(int)
    for section in sections:
        for entry in (*section.entries, *section.tenders):
            shown[entry.source] += 1
    coverage = _coverage(store.runs_finished_between(window_start, until), shown)
    notices = tuple(health_news(assess(store, config, now=now),
                                store.health_reports(recipient.email), config, now))
    undelivered = tuple(
        UndeliveredDigest(outbox_id=r["id"], recipient=r["recipient"], subject=r["subject"],
                          created_at=r["created_at"], attempts=r["attempts"],
                          error=r["last_error"] or "", eml_path=r["eml_path"])
        for r in store.failed_messages(after=window_start) if r["last_attempt_at"] <= until)
    prefix = config.digest.subject_prefix
    return Digest(
        recipient=recipient.email,
        generated_at=until,
        since=last,
        until=until,
        sections=tuple(sections),
        coverage=coverage,
        subject=_subject(prefix, sections, notices, undelivered),
        health=notices,
        undelivered=undelivered,
    )


def _one_entry_per_finding(sections: list[WatchSection]) -> list[WatchSection]:
    """An item or tender that concerns several watches is one entry, under the first of them
    (sections come highest priority first), naming the others and how each was found; its
    matches for all of them are delivered with it. The subject then counts findings, not
    (finding, watch) pairs."""
    firsts: dict[tuple[str, int], tuple[int, int]] = {}  # (kind, id) -> (section, position)
    kept: list[tuple[list[DigestEntry], list[TenderEntry]]] = [([], []) for _ in sections]
    for number, section in enumerate(sections):
        entries, tenders = kept[number]
        for entry in section.entries:
            first = next((firsts[("item", i)] for i in entry.item_ids if ("item", i) in firsts),
                         None)
            if first is None:
                for item_id in entry.item_ids:
                    firsts[("item", item_id)] = (number, len(entries))
                entries.append(entry)
                continue
            host = kept[first[0]][0][first[1]]
            kept[first[0]][0][first[1]] = replace(
                host, match_ids=host.match_ids + entry.match_ids,
                findings=host.findings + _of(section.watch, entry.findings),
                other_watches=(*host.other_watches, OtherWatch(section.watch, entry.how)))
        for tender in section.tenders:
            first = firsts.get(("tender", tender.tender_id))
            if first is None:
                firsts[("tender", tender.tender_id)] = (number, len(tenders))
                tenders.append(tender)
                continue
            host = kept[first[0]][1][first[1]]
            kept[first[0]][1][first[1]] = replace(
                host,
                findings=host.findings + _of(section.watch, tender.findings),
                changes=tuple(dict.fromkeys((*host.changes, *tender.changes))),
                other_watches=(*host.other_watches, OtherWatch(section.watch, tender.headline)),
                other_marks=(*host.other_marks, (tender.tender_id, tender.watch,
                                                 tender.last_match_id, tender.last_event_id)))
    return [replace(section, entries=tuple(entries), tenders=tuple(tenders))
            for section, (entries, tenders) in zip(sections, kept, strict=True)
            if entries or tenders]


def _of(watch: str, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    return tuple(replace(f, watch=watch) for f in findings)


def _entries(watch: str, rows: list[dict[str, Any]]) -> tuple[DigestEntry, ...]:
    by_item: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_item[row["item_id"]].append(row)
    entries = []
    for item_id, matches in by_item.items():
        # title findings first: the headline is the strongest evidence; then in match order
        matches.sort(key=lambda r: (r["field"] != "title", r["match_id"]))
        first = matches[0]
        entries.append(
            DigestEntry(
                watch=watch,
                item_id=item_id,
                title=first["title"],
                url=first["url"],
                source=first["source"],
                published_at=first["published_at"],
                first_seen_at=first["first_seen_at"],
                findings=tuple(
                    Finding(
                        term=r["term"],
                        term_kind=r["term_kind"],
                        found=r["found"],
                        field=r["field"],
                        snippet=r["snippet"],
                        snippet_start=r["snippet_start"],
                        snippet_end=r["snippet_end"],
                        variant=r.get("variant"),
                        via=r.get("via"),
                        origin=r.get("origin") or "crawl",
                    )
                    for r in matches
                ),
                match_ids=tuple(r["match_id"] for r in matches),
            )
        )
    entries = _same_story(entries, {r["item_id"]: r.get("content_hash") for r in rows})
    entries.sort(key=lambda e: (e.date, e.item_id), reverse=True)
    return tuple(entries)


_NOT_WORD = re.compile(r"[\W_]+")
# a headline this short ("Huawei", "News") says too little to call two items one story
_MIN_SAME_TITLE = 24


def _story_keys(entry: DigestEntry, content_hash: str | None) -> list[str]:
    keys = [f"hash:{content_hash}"] if content_hash else []
    title = _NOT_WORD.sub(" ", entry.title.casefold()).strip()
    if len(title) >= _MIN_SAME_TITLE:
        keys.append(f"title:{title}")
    return keys


def _same_story(entries: list[DigestEntry],
                hashes: dict[int, str | None]) -> list[DigestEntry]:
    """One entry per story: items of different sources with the same text, or the same
    headline, become one entry shown at the earliest publisher, "also at" the others (their
    matches are delivered with it)."""
    groups: list[list[DigestEntry]] = []
    by_key: dict[str, int] = {}
    for entry in sorted(entries, key=lambda e: (e.date, e.item_id)):
        keys = _story_keys(entry, hashes.get(entry.item_id))
        group = next((by_key[k] for k in keys if k in by_key), None)
        if group is None or any(e.source == entry.source for e in groups[group]):
            # one source's two items are two stories (a correction, a follow-up)
            groups.append([entry])
            group = len(groups) - 1
        else:
            groups[group].append(entry)
        for key in keys:
            by_key.setdefault(key, group)
    merged = []
    for first, *others in groups:
        if not others:
            merged.append(first)
            continue
        merged.append(replace(
            first,
            match_ids=first.match_ids + tuple(i for e in others for i in e.match_ids),
            also=tuple(AlsoAt(e.source, e.url, e.published_at or e.first_seen_at, e.item_id)
                       for e in others),
        ))
    return merged


def _finding(r: dict[str, Any]) -> Finding:
    return Finding(
        term=r["term"], term_kind=r["term_kind"], found=r["found"], field=r["field"],
        snippet=r["snippet"], snippet_start=r["snippet_start"], snippet_end=r["snippet_end"],
        variant=r.get("variant"), via=r.get("via"), origin=r.get("origin") or "crawl",
    )


def _party(data: dict[str, Any] | None) -> Party | None:
    if not data or not (data.get("name") or data.get("id")):
        return None
    registry = data.get("id")
    if registry and data.get("scheme"):
        registry = f"{data['scheme']}:{registry}"
    return Party(name=data.get("name") or "", registry_id=registry)


def _parties(values: Any) -> tuple[Party, ...]:
    return tuple(p for v in values or () if isinstance(v, dict) and (p := _party(v)))


def money(amount: float | None, currency: str | None = None) -> str | None:
    """2100000, "GEL" -> "2.1 M GEL"; 950000 -> "950,000"; None -> None."""
    if amount is None:
        return None
    for size, unit in ((1e9, "B"), (1e6, "M")):
        if abs(amount) >= size:
            text = f"{amount / size:,.2f}".rstrip("0").rstrip(".") + f" {unit}"
            break
    else:
        text = f"{amount:,.2f}".removesuffix(".00")
    return f"{text} {currency}" if currency else text


def _names(people: Any) -> str:
    parties = _parties(people)
    return ", ".join(str(p) for p in parties) if parties else "nobody"


def _day(value: Any) -> str:
    return str(value)[:10] if value else "none"


def describe_event(kind: str, field: str, old: Any, new: Any) -> str:
    """A tender event as one sentence for the digest."""
    if kind == "awarded":
        return f"awarded to {_names(new)}"
    if kind == "winner_changed":
        if not new:
            return f"award annulled (was {_names(old)})"
        return f"winner changed: {_names(old)} -> {_names(new)}"
    if kind == "value_changed":
        label = "awarded value" if field == "award_value" else "value"
        old_m, new_m = old or {}, new or {}
        same = old_m.get("currency") == new_m.get("currency")
        before = money(old_m.get("amount"), None if same else old_m.get("currency"))
        after = money(new_m.get("amount"), new_m.get("currency"))
        if before is None:
            return f"{label} set to {after}"
        return f"{label} {before} -> {after}"
    if kind == "cancelled":
        return f"cancelled (status {new})"
    if kind == "status_changed":
        return f"status {old} -> {new}" if old else f"status {new}"
    if kind == "deadline_changed":
        return f"deadline {_day(old)} -> {_day(new)}" if old else f"deadline set: {_day(new)}"
    return f"{kind}: {field} {old} -> {new}"


def _tender_entry(row: dict[str, Any], window_start: str) -> TenderEntry:
    tender = row["tender"]
    record = tender["record"]
    matches = sorted(row["matches"],
                     key=lambda r: (_ROLE_ORDER.get(r["field"], len(_ROLE_ORDER)), r["id"]))
    # a bidder that won is shown as the winner only
    won = {r["found"] for r in matches if r["field"] == "winner"}
    matches = [r for r in matches if not (r["field"] == "bidder" and r["found"] in won)]
    findings = tuple(_finding(r) for r in matches)
    roles = {r["field"] for r in matches}
    winners = _parties(record.get("winners"))
    events = row["events"]
    first_report = row["told_match"] == 0 and row["told_event"] == 0
    return TenderEntry(
        watch=row["watch"],
        tender_id=tender["id"],
        native_id=tender["native_id"],
        title=tender["title"],
        url=tender["url"],
        source=tender["source"],
        status=tender["status"],
        buyer=_party(record.get("buyer")),
        winners=winners,
        # a portal's 0 means "not given", as a missing value does: show neither
        value=money(record.get("value") or None, record.get("currency")),
        award_value=money(record.get("award_value") or None,
                          record.get("award_currency") or record.get("currency")),
        deadline=record.get("deadline"),
        published_at=tender["published_at"],
        first_seen_at=tender["first_seen_at"],
        findings=findings,
        changes=tuple(describe_event(e["kind"], e["field"], e["old"], e["new"]) for e in events),
        lost="bidder" in roles and "winner" not in roles and bool(winners),
        first_report=first_report,
        tracked_since=(tender["first_seen_at"]
                       if first_report and tender["first_seen_at"] <= window_start else None),
        last_match_id=max((r["id"] for r in row["matches"]), default=0),
        last_event_id=max((e["id"] for e in events), default=0),
    )


def _coverage(runs: list[dict[str, Any]], shown: dict[str, int]) -> tuple[CoverageLine, ...]:
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_source[run["source"]].append(run)
    # a source with entries here but no run in the window (found earlier, told now)
    lines = [CoverageLine(source=source, runs=0, failed=0, last_status="no run",
                          last_error=None, fetched=0, new_items=0, new_matches=0, seconds=0.0,
                          findings=count)
             for source, count in shown.items() if source not in by_source]
    for source, source_runs in by_source.items():
        source_runs.sort(key=lambda r: (r["finished_at"], r["id"]))
        errors = [r["error"] for r in source_runs if r["error"]]
        lines.append(
            CoverageLine(
                source=source,
                runs=len(source_runs),
                failed=sum(r["status"] in FAILED_STATUSES for r in source_runs),
                last_status=source_runs[-1]["status"],
                last_error=errors[-1] if errors else None,
                fetched=sum(r["fetched"] or 0 for r in source_runs),
                new_items=sum(r["new_items"] or 0 for r in source_runs),
                new_matches=sum(r["new_matches"] or 0 for r in source_runs),
                seconds=round(sum(r["seconds"] or 0.0 for r in source_runs), 1),
                warnings=tuple(dict.fromkeys(w for r in source_runs for w in r["warnings"])),
                findings=shown.get(source, 0),
            )
        )
    # failing sources first, then recovered ones, then the healthy, each by name
    lines.sort(key=lambda c: (not c.failing, not c.recovered, c.source))
    return tuple(lines)


def _subject(prefix: str, sections: list[WatchSection], notices: tuple[HealthNotice, ...],
             undelivered: tuple[UndeliveredDigest, ...] = ()) -> str:
    total = sum(s.count for s in sections)
    # a digest that could not be delivered needs attention as much as a failing source
    attention = sum(n.kind != "recovered" for n in notices) + len(undelivered)
    recovered = len(notices) - attention
    if total:
        counts = [f"{s.watch} {s.count}" for s in sections[:_SUBJECT_WATCHES]]
        if len(sections) > _SUBJECT_WATCHES:
            counts.append(f"+{len(sections) - _SUBJECT_WATCHES} more")
        subject = f"{prefix}: {total} new ({', '.join(counts)})"
    elif attention:
        needs = "source needs" if attention == 1 else "sources need"
        subject = f"{prefix}: nothing new; {attention} {needs} attention"
    elif recovered:
        sources = "source" if recovered == 1 else "sources"
        subject = f"{prefix}: nothing new; {recovered} {sources} recovered"
    else:
        subject = f"{prefix}: nothing new"
    # one header line whatever the watch names hold
    return " ".join(subject.split())


# -- rendering ----------------------------------------------------------------------------------


def _when(value: str | None) -> str:
    """'2024-05-01T10:00:00+00:00' -> '2024-05-01 10:00 UTC' (input as stored, UTC ISO). A
    date without a time stays a date ('2024-05-01'): portals that publish a deadline's day
    only are stored at midnight UTC, which is not a time anybody set."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if len(value) == 10 or (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _plain(value: object) -> str:
    """Crawled text for a terminal: no control characters (no escape sequences)."""
    return _CONTROL.sub("", str(value))


def _oneline(value: object, limit: int = 300) -> str:
    """An error message on one line, cut to a readable length (tracebacks belong in logs)."""
    text = " ".join(_plain(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _notice(notice: HealthNotice) -> str:
    """A health notice as one sentence (plain text; the HTML template escapes it)."""
    name = _plain(notice.source)
    still = "still " if notice.kind == "reminder" else ""
    if notice.kind == "recovered":
        done = f" at {_when(notice.last_success_at)}" if notice.last_success_at else ""
        return f"{name} has RECOVERED: it completed a run again{done}"
    if notice.health == "failing":
        runs = "run" if notice.runs == 1 else "runs"
        since = f" since {_when(notice.since)}" if notice.since else ""
        text = f"{name} is {still}FAILING: {notice.runs} failed {runs} in a row{since}"
    elif notice.health == "suspect":
        last = "its last run" if notice.runs == 1 else f"its last {notice.runs} runs"
        text = (f"{name} is {still}SUSPECT: {last} found no items (it used to find some): "
                "its layout may have changed")
    else:
        done = (f"since {_when(notice.last_success_at)}" if notice.last_success_at
                else "yet")
        text = f"{name} is {still}STALE: no completed run {done} (schedule: {notice.schedule})"
    if notice.last_error:
        text += f"; last error: {_oneline(notice.last_error)}"
    return text


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        # every crawled string in the HTML is escaped; the text template must not be
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    env.filters["plain"] = _plain
    env.filters["oneline"] = _oneline
    env.filters["notice"] = _notice
    env.globals["first_digest_days"] = FIRST_DIGEST_DAYS
    return env


_ENV = _environment()


def render_text(digest: Digest) -> str:
    return _ENV.get_template("digest.txt.j2").render(digest=digest)


def render_html(digest: Digest) -> str:
    return _ENV.get_template("digest.html.j2").render(digest=digest)
