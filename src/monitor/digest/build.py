"""Undelivered matches + the runs since the last digest -> a `Digest`.

Reads the store and returns data: never prints, never sends, never marks anything (that is
`monitor.mail`'s job, atomically with the outbox row).

    store.undelivered_matches ──group by (watch, item)──> DigestEntry ──by watch──> WatchSection
    store.runs_finished_between ──group by source──────> CoverageLine
    health.assess + store.health_reports ──health_news──> HealthNotice ("Needs attention")
    store.alerted_matches / alerted_tenders ───────────> entries "already alerted"
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor import notify
from monitor.config import Config, Recipient
from monitor.digest.model import (
    FAILED_STATUSES,
    FIRST_DIGEST_DAYS,
    PRIORITY_ORDER,
    SUBJECT_WATCHES,
    CoverageLine,
    Digest,
    UndeliveredDigest,
    WaitingAlert,
    WatchSection,
)
from monitor.findings.build import article_entries, for_watch, tender_entry
from monitor.findings.model import DigestEntry, Evidence, OtherWatch, RemovedEntry, TenderEntry
from monitor.health import HealthNotice, assess, health_news
from monitor.store import Store
from monitor.store.rows import RunRow


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
    key = recipient.key
    last = store.last_digest_at(key)
    # first digest: the flood guard bounds both the matches and the runs reported
    window_start = last or _iso(now - timedelta(days=FIRST_DIGEST_DAYS))
    wanted = [w for w in config.watches if recipient.wants(w)]
    rows = store.undelivered_matches(
        key, [w.name for w in wanted], since=None if last else window_start
    )
    # matches stored after `until` belong to the next digest, so `now` means what it says
    rows = [r for r in rows if r.matched_at <= until]

    tender_rows = store.undelivered_tenders(
        key, [w.name for w in wanted], since=None if last else window_start,
        until=until)
    # marked not relevant in `monitor web` before this digest: left out (and not delivered:
    # cleared again, it comes in the next one)
    dismissed = store.dismissed("article", {r.item_id for r in rows})
    rows = [r for r in rows if r.item_id not in dismissed]
    dismissed = store.dismissed("tender", {r.tender.id for r in tender_rows})
    tender_rows = [r for r in tender_rows if r.tender.id not in dismissed]

    sections = []
    for watch in sorted(wanted, key=lambda w: (PRIORITY_ORDER[w.priority], w.name.casefold())):
        entries = article_entries(watch.name, [r for r in rows if r.watch == watch.name])
        tenders = tuple(sorted(
            (tender_entry(r, window_start) for r in tender_rows if r.watch == watch.name),
            key=lambda t: (t.date, t.tender_id), reverse=True))
        if entries or tenders:
            sections.append(WatchSection(watch.name, watch.priority, entries, tenders))
    sections = _mark_alerted(store, key, _one_entry_per_finding(sections))
    shown: dict[str, int] = defaultdict(int)
    for section in sections:
        for entry in (*section.entries, *section.tenders):
            shown[entry.source] += 1
    runs = store.runs_finished_between(window_start, until)
    coverage = _coverage(runs, shown)
    backfill_since = min((r.backfill_since for r in runs if r.backfill_since),
                         default=None)
    notices = tuple(health_news(assess(store, config, now=now),
                                store.health_reports(key), config, now))
    undelivered = tuple(
        UndeliveredDigest(outbox_id=r.id, recipient=r.recipient, subject=r.subject,
                          created_at=r.created_at, attempts=r.attempts,
                          error=r.last_error or "", eml_path=r.eml_path, kind=r.kind,
                          channel=notify.label(r.channel))
        for r in store.failed_messages(after=window_start) if r.last_attempt_at <= until)
    waiting = tuple(
        WaitingAlert(outbox_id=r.id, recipient=r.recipient, channel=notify.label(r.channel),
                     subject=r.subject, attempts=r.attempts, error=r.last_error or "")
        for r in store.queued_messages() if r.kind == "alert" and r.attempts)
    removed = tuple(
        RemovedEntry(item_id=r.item_id, source=r.source, title=r.title, url=r.url,
                     removed_at=r.removed_at, reason=r.removed_reason,
                     watches=tuple(sorted(r.watches.split(","))),
                     evidence=(Evidence(r.capture_sha256, r.captured_at or "")
                               if r.capture_sha256 else None))
        for r in store.removed_findings(window_start, until, [w.name for w in wanted]))
    prefix = config.digest.subject_prefix
    return Digest(
        recipient=key,
        generated_at=until,
        since=last,
        until=until,
        sections=tuple(sections),
        coverage=coverage,
        subject=_subject(prefix, sections, notices, undelivered, backfill_since, len(removed)),
        health=notices,
        undelivered=undelivered,
        backfill_since=backfill_since,
        removed=removed,
        waiting_alerts=waiting,
    ).limited(config.digest.max_per_watch)


def _mark_alerted(store: Store, recipient: str,
                  sections: list[WatchSection]) -> list[WatchSection]:
    """Entries whose every match (article) or every change (tender, for every watch it
    concerns) the recipient was sent as an immediate alert: marked with when, so the digest
    shows them as "already alerted" and not as new. Their matches are delivered with the
    digest all the same."""
    match_ids = [i for s in sections for e in s.entries for i in e.match_ids]
    alerted = store.alerted_matches(recipient, match_ids) if match_ids else {}
    tender_ids = [t.tender_id for s in sections for t in s.tenders]
    marks = store.alerted_tenders(recipient, tender_ids) if tender_ids else {}
    if not alerted and not marks:
        return sections
    out = []
    for section in sections:
        entries = tuple(
            replace(e, alerted_at=max(alerted[i] for i in e.match_ids))
            if e.match_ids and all(i in alerted for i in e.match_ids) else e
            for e in section.entries)
        tenders = []
        for tender in section.tenders:
            told = [((tender_id, watch), match_id, event_id)
                    for tender_id, watch, match_id, event_id in (
                        (tender.tender_id, tender.watch, tender.last_match_id,
                         tender.last_event_id), *tender.other_marks)]
            if all(key in marks and marks[key].covers(m, e) for key, m, e in told):
                tender = replace(tender, alerted_at=max(marks[key].alerted_at
                                                        for key, _, _ in told))
            tenders.append(tender)
        out.append(replace(section, entries=entries, tenders=tuple(tenders)))
    return out


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
                findings=host.findings + for_watch(section.watch, entry.findings),
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
                findings=host.findings + for_watch(section.watch, tender.findings),
                changes=tuple(dict.fromkeys((*host.changes, *tender.changes))),
                other_watches=(*host.other_watches, OtherWatch(section.watch, tender.headline)),
                other_marks=(*host.other_marks, (tender.tender_id, tender.watch,
                                                 tender.last_match_id, tender.last_event_id)))
    return [replace(section, entries=tuple(entries), tenders=tuple(tenders))
            for section, (entries, tenders) in zip(sections, kept, strict=True)
            if entries or tenders]


def _coverage(runs: list[RunRow], shown: dict[str, int]) -> tuple[CoverageLine, ...]:
    by_source: dict[str, list[RunRow]] = defaultdict(list)
    for run in runs:
        by_source[run.source].append(run)
    # a source with entries here but no run in the window (found earlier, told now)
    lines = [CoverageLine(source=source, runs=0, failed=0, last_status="no run",
                          last_error=None, fetched=0, new_items=0, new_matches=0, seconds=0.0,
                          findings=count)
             for source, count in shown.items() if source not in by_source]
    for source, source_runs in by_source.items():
        source_runs.sort(key=lambda r: (r.finished_at, r.id))
        errors = [r.error for r in source_runs if r.error]
        lines.append(
            CoverageLine(
                source=source,
                runs=len(source_runs),
                failed=sum(r.status in FAILED_STATUSES for r in source_runs),
                last_status=source_runs[-1].status,
                last_error=errors[-1] if errors else None,
                fetched=sum(r.fetched or 0 for r in source_runs),
                new_items=sum(r.new_items or 0 for r in source_runs),
                new_matches=sum(r.new_matches or 0 for r in source_runs),
                seconds=round(sum(r.seconds or 0.0 for r in source_runs), 1),
                warnings=tuple(dict.fromkeys(w for r in source_runs for w in r.warnings)),
                findings=shown.get(source, 0),
            )
        )
    # failing sources first, then recovered ones, then the healthy, each by name
    lines.sort(key=lambda c: (not c.failing, not c.recovered, c.source))
    return tuple(lines)


def _subject(prefix: str, sections: list[WatchSection], notices: tuple[HealthNotice, ...],
             undelivered: tuple[UndeliveredDigest, ...] = (),
             backfill_since: str | None = None, removed: int = 0) -> str:
    total = sum(s.count for s in sections)
    if backfill_since and total:
        # a backfill's findings are old news found now: say so before anyone reads it as a day
        prefix = f"{prefix} (backfill since {backfill_since})"
    # a digest that could not be delivered needs attention as much as a failing source
    attention = sum(n.kind != "recovered" for n in notices) + len(undelivered)
    recovered = sum(n.kind == "recovered" for n in notices)
    if total:
        counts = [f"{s.watch} {s.count}" for s in sections[:SUBJECT_WATCHES]]
        if len(sections) > SUBJECT_WATCHES:
            counts.append(f"+{len(sections) - SUBJECT_WATCHES} more")
        alerted = sum(s.alerted for s in sections)
        # what an immediate alert told already is not news again
        told = (f"{total - alerted} new, {alerted} already alerted" if alerted
                else f"{total} new")
        subject = f"{prefix}: {told} ({', '.join(counts)})"
    elif attention:
        needs = "source needs" if attention == 1 else "sources need"
        subject = f"{prefix}: nothing new; {attention} {needs} attention"
    elif recovered:
        sources = "source" if recovered == 1 else "sources"
        subject = f"{prefix}: nothing new; {recovered} {sources} recovered"
    elif removed:
        subject = f"{prefix}: {removed} finding{'s' if removed != 1 else ''} taken down"
    else:
        subject = f"{prefix}: nothing new"
    # one header line whatever the watch names hold
    return " ".join(subject.split())
