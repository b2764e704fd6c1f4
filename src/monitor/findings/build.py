"""Store rows -> findings: an article's matches for one watch as one entry (copies of the
story at other sources folded in), a tender's matches and events as one entry, and the
wording of what changed."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from typing import Any

from monitor.findings.model import (
    ROLE_ORDER,
    AlsoAt,
    DigestEntry,
    Evidence,
    Finding,
    Party,
    TenderEntry,
)
from monitor.store.rows import ArticleMatchRow, TenderMatchRow, TenderNews


def for_watch(watch: str, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """The findings, marked as another watch's (shown in the entry of the first watch)."""
    return tuple(replace(f, watch=watch) for f in findings)


def article_entries(watch: str, rows: list[ArticleMatchRow]) -> tuple[DigestEntry, ...]:
    """A watch's undelivered article matches (store rows) as entries, one per story, newest
    first."""
    by_item: dict[int, list[ArticleMatchRow]] = defaultdict(list)
    for row in rows:
        by_item[row.item_id].append(row)
    entries = []
    for item_id, matches in by_item.items():
        # title findings first: the headline is the strongest evidence; then in match order
        matches.sort(key=lambda r: (r.field != "title", r.match_id))
        first = matches[0]
        entries.append(
            DigestEntry(
                watch=watch,
                item_id=item_id,
                title=first.title,
                url=first.url,
                source=first.source,
                published_at=first.published_at,
                first_seen_at=first.first_seen_at,
                findings=tuple(_finding(r) for r in matches),
                match_ids=tuple(r.match_id for r in matches),
                evidence=(Evidence(first.capture_sha256, first.captured_at or "")
                          if first.capture_sha256 else None),
            )
        )
    entries = _same_story(entries, {r.item_id: r.content_hash for r in rows})
    entries.sort(key=lambda e: (e.date, e.item_id), reverse=True)
    return tuple(entries)


_NOT_WORD = re.compile(r"[\W_]+")
# a headline this short ("Huawei", "News") says too little to call two items one story


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


def _finding(r: ArticleMatchRow | TenderMatchRow) -> Finding:
    return Finding(
        term=r.term, term_kind=r.term_kind, found=r.found, field=r.field,
        snippet=r.snippet, snippet_start=r.snippet_start, snippet_end=r.snippet_end,
        variant=r.variant, via=r.via, origin=r.origin,
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
    if kind == "document_removed":
        doc = old or {}
        label = doc.get("title") or doc.get("kind") or "a document"
        return f"document removed from the portal: {label} ({doc.get('url')})"
    if kind == "deadline_changed":
        return f"deadline {_day(old)} -> {_day(new)}" if old else f"deadline set: {_day(new)}"
    return f"{kind}: {field} {old} -> {new}"


def tender_entry(row: TenderNews, window_start: str) -> TenderEntry:
    """A tender's undelivered matches and events for one watch as an entry;
    `window_start`: a tender first seen before it is "tracked since", not "new"."""
    tender = row.tender
    record = tender.record
    matches = sorted(row.matches,
                     key=lambda r: (ROLE_ORDER.get(r.field, len(ROLE_ORDER)), r.id))
    # a bidder that won is shown as the winner only
    won = {r.found for r in matches if r.field == "winner"}
    matches = [r for r in matches if not (r.field == "bidder" and r.found in won)]
    findings = tuple(_finding(r) for r in matches)
    roles = {r.field for r in matches}
    winners = _parties(record.get("winners"))
    events = row.events
    first_report = row.told_match == 0 and row.told_event == 0
    return TenderEntry(
        watch=row.watch,
        tender_id=tender.id,
        native_id=tender.native_id,
        title=tender.title,
        url=tender.url,
        source=tender.source,
        status=tender.status,
        buyer=_party(record.get("buyer")),
        winners=winners,
        # a portal's 0 means "not given", as a missing value does: show neither
        value=money(record.get("value") or None, record.get("currency")),
        award_value=money(record.get("award_value") or None,
                          record.get("award_currency") or record.get("currency")),
        deadline=record.get("deadline"),
        published_at=tender.published_at,
        first_seen_at=tender.first_seen_at,
        findings=findings,
        changes=tuple(describe_event(e.kind, e.field, e.old, e.new) for e in events),
        lost="bidder" in roles and "winner" not in roles and bool(winners),
        first_report=first_report,
        tracked_since=(tender.first_seen_at
                       if first_report and tender.first_seen_at <= window_start else None),
        evidence=(Evidence(tender.capture_sha256, tender.captured_at or "")
                  if tender.capture_sha256 else None),
        last_match_id=max((r.id for r in row.matches), default=0),
        last_event_id=max((e.id for e in events), default=0),
        flags=row.flags,
    )
