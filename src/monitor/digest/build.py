"""Undelivered matches + the runs since the last digest -> a `Digest`.

Reads the store and returns data: never prints, never sends, never marks anything (that is
`monitor.mail`'s job, atomically with the outbox row).

    store.undelivered_matches ──group by (watch, item)──> DigestEntry ──by watch──> WatchSection
    store.runs_finished_between ──group by source──────> CoverageLine
    health.assess + store.health_reports ──health_news──> HealthNotice ("Needs attention")
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config import Config, Recipient
from monitor.digest.model import (
    PRIORITY_ORDER,
    ROLE_ORDER,
    SUBJECT_WATCHES,
    FIRST_DIGEST_DAYS,
    AlsoAt,
    CoverageLine,
    Digest,
    DigestEntry,
    FAILED_STATUSES,
    Finding,
    OtherWatch,
    Party,
    TenderEntry,
    UndeliveredDigest,
    WatchSection,
)
from monitor.health import HealthNotice, assess, health_news
from monitor.store import Store

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
    for watch in sorted(wanted, key=lambda w: (PRIORITY_ORDER[w.priority], w.name.casefold())):
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
    runs = store.runs_finished_between(window_start, until)
    coverage = _coverage(runs, shown)
    backfill_since = min((r["backfill_since"] for r in runs if r.get("backfill_since")),
                         default=None)
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
        subject=_subject(prefix, sections, notices, undelivered, backfill_since),
        health=notices,
        undelivered=undelivered,
        backfill_since=backfill_since,
    ).limited(config.digest.max_per_watch)


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
                findings=tuple(_finding(r) for r in matches),
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
    """The organisations, one per name: a winner that the portal lists with two registry ids
    (TED does) is one party with both."""
    merged: dict[str, tuple[str, list[str]]] = {}
    for value in values or ():
        party = _party(value) if isinstance(value, dict) else None
        if party is None:
            continue
        _, ids = merged.setdefault(party.name or f"id:{party.registry_id}", (party.name, []))
        if party.registry_id and party.registry_id not in ids:
            ids.append(party.registry_id)
    return tuple(Party(name, ", ".join(ids) or None) for name, ids in merged.values())


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
                     key=lambda r: (ROLE_ORDER.get(r["field"], len(ROLE_ORDER)), r["id"]))
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
             undelivered: tuple[UndeliveredDigest, ...] = (),
             backfill_since: str | None = None) -> str:
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
