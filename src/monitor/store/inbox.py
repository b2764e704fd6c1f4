"""SQLite: what `monitor web` reads: the findings inbox (articles and tenders that matched a
watch, newest match first, paged by position so that page 500 costs what page 1 does), counts
per watch, versions, and the tenders an organisation appears in."""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from typing import Any

from monitor.errors import StoreError
from monitor.store.db import Database
from monitor.store.rows import (
    InboxPage,
    InboxRow,
    ItemVersionRow,
    TenderEventRow,
    TenderRow,
    TenderVersionRow,
    event_row,
    tender_row,
)


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What the inbox shows: every finding, or those of some watches (a priority is turned
    into its watches by the caller), one source, one kind, one language, found in a date
    range (ISO dates, `until` exclusive), in one triage state (`new`: not looked at)."""

    watches: tuple[str, ...] | None = None
    source: str | None = None
    kind: str | None = None  # article | tender
    language: str | None = None
    since: str | None = None
    until: str | None = None
    triage: str | None = None  # new | relevant | not_relevant | follow_up


def _cursor(text: str | None) -> tuple[int, int]:
    """The positions a page starts after: (article match id, tender match id); a huge
    number each for the first page."""
    first = 2**62
    if not text:
        return first, first
    try:
        parts = dict(p.split(":", 1) for p in text.split(","))
        return int(parts.get("a", first)), int(parts.get("t", first))
    except ValueError:
        raise StoreError(f"inbox: not a page position: {text!r} (it looks like a:123,t:45)"
                         ) from None


class InboxStore(Database):
    def inbox(self, where: InboxFilter = InboxFilter(), after: str | None = None,
              limit: int = 50) -> InboxPage:
        """One page of findings, newest match first; `after` the previous page's `next`."""
        before_article, before_tender = _cursor(after)
        # (at, kind, match id, ref id) of each side, merged by time
        articles = self._inbox_side("article", where, before_article, limit + 1)
        tenders = self._inbox_side("tender", where, before_tender, limit + 1)
        merged = list(heapq.merge(articles, tenders, key=lambda r: r[0], reverse=True))
        more = len(merged) > limit
        shown = merged[:limit]
        last = {kind: mid for _, kind, mid, _ in shown}
        next_page = None
        if more:
            next_page = (f"a:{last.get('article', before_article)},"
                         f"t:{last.get('tender', before_tender)}")
        details = self._inbox_rows([(kind, ref) for _, kind, _, ref in shown])
        return InboxPage(tuple(details), next_page)

    def _inbox_side(self, kind: str, where: InboxFilter, before: int,
                    limit: int) -> list[tuple[str, str, int, int]]:
        if where.kind not in (None, kind) or (kind == "tender" and where.language):
            return []
        table, ref, records = (("matches", "item_id", "items") if kind == "article"
                               else ("tender_matches", "tender_id", "tenders"))
        sql = [f"""SELECT m.matched_at, m.id, m.{ref} FROM {table} m
                   JOIN {records} r ON r.id = m.{ref}"""]
        params: list[Any] = []
        watch_sql = ""
        if where.watches is not None:
            if not where.watches:
                return []
            marks = ",".join("?" * len(where.watches))
            watch_sql = f" AND x.watch IN ({marks})"
        if where.triage is not None:
            sql.append(f"LEFT JOIN triage t ON t.kind = '{kind}' AND t.ref_id = m.{ref}")
        # the record's newest match (among the watches asked for): one row per record
        sql.append(f"""WHERE m.id = (SELECT MAX(x.id) FROM {table} x
                                     WHERE x.{ref} = m.{ref}{watch_sql}) AND m.id < ?""")
        params += [*(where.watches or ()), before]
        if where.watches:
            sql.append(f"AND m.watch IN ({','.join('?' * len(where.watches))})")
            params += where.watches
        if where.source:
            sql.append("AND r.source = ?")
            params.append(where.source)
        if where.language:
            sql.append("AND r.language = ?")
            params.append(where.language)
        if where.since:
            sql.append("AND m.matched_at >= ?")
            params.append(where.since)
        if where.until:
            sql.append("AND m.matched_at < ?")
            params.append(where.until)
        if where.triage == "new":
            sql.append("AND t.state IS NULL")
        elif where.triage is not None:
            sql.append("AND t.state = ?")
            params.append(where.triage)
        sql.append("ORDER BY m.id DESC LIMIT ?")
        params.append(limit)
        return [(at, kind, mid, ref_id)
                for at, mid, ref_id in self.db.conn.execute(" ".join(sql), params)]

    def _inbox_rows(self, refs: list[tuple[str, int]]) -> list[InboxRow]:
        articles = [ref for kind, ref in refs if kind == "article"]
        tenders = [ref for kind, ref in refs if kind == "tender"]
        found: dict[tuple[str, int], InboxRow] = {}
        if articles:
            marks = ",".join("?" * len(articles))
            for r in self._rows(
                    f"""SELECT i.id, i.source, i.title, i.url, i.first_seen_at, i.published_at,
                               i.language, i.removed_at, t.state AS triage,
                               (SELECT MAX(matched_at) FROM matches WHERE item_id = i.id) AS at,
                               (SELECT json_group_array(DISTINCT watch) FROM matches
                                WHERE item_id = i.id) AS watches,
                               (SELECT MAX(a.created_at) FROM matches m
                                JOIN alerted_matches am ON am.match_id = m.id
                                JOIN alerts a ON a.id = am.alert_id
                                WHERE m.item_id = i.id) AS alerted_at
                        FROM items i LEFT JOIN triage t ON t.kind = 'article' AND t.ref_id = i.id
                        WHERE i.id IN ({marks})""", articles):
                found["article", r["id"]] = InboxRow.from_mapping(
                    {**r, "watches": tuple(json.loads(r["watches"]))}, kind="article")
        if tenders:
            marks = ",".join("?" * len(tenders))
            for r in self._rows(
                    f"""SELECT d.id, d.source, d.title, d.url, d.first_seen_at, d.published_at,
                               d.native_id, d.status, t.state AS triage,
                               (SELECT MAX(matched_at) FROM tender_matches
                                WHERE tender_id = d.id) AS at,
                               (SELECT json_group_array(DISTINCT watch) FROM tender_matches
                                WHERE tender_id = d.id) AS watches,
                               (SELECT MAX(a.created_at) FROM alerted_tenders at
                                JOIN alerts a ON a.id = at.alert_id
                                WHERE at.tender_id = d.id) AS alerted_at
                        FROM tenders d LEFT JOIN triage t ON t.kind = 'tender' AND t.ref_id = d.id
                        WHERE d.id IN ({marks})""", tenders):
                found["tender", r["id"]] = InboxRow.from_mapping(
                    {**r, "watches": tuple(json.loads(r["watches"]))}, kind="tender")
        return [found[ref] for ref in refs if ref in found]

    def watch_counts(self) -> dict[str, int]:
        """Findings (articles and tenders) per watch. Counted again only when a match was
        added or removed since the last count (a count over 100 k matches takes a while)."""
        stamp = tuple(self.db.conn.execute(
            "SELECT (SELECT MAX(id) FROM matches), (SELECT COUNT(*) FROM matches), "
            "(SELECT MAX(id) FROM tender_matches), (SELECT COUNT(*) FROM tender_matches)"
        ).fetchone())
        cached = getattr(self, "_watch_counts", None)
        if cached is not None and cached[0] == stamp:
            return dict(cached[1])
        counts: dict[str, int] = {}
        for table, ref in (("matches", "item_id"), ("tender_matches", "tender_id")):
            for watch, n in self.db.conn.execute(
                    f"SELECT watch, COUNT(DISTINCT {ref}) FROM {table} GROUP BY watch"):
                counts[watch] = counts.get(watch, 0) + n
        ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        self._watch_counts = (stamp, ordered)
        return dict(ordered)

    def sources_with_findings(self) -> list[str]:
        """The sources of stored items and tenders, for filters: read off the indexes one
        distinct value at a time (a scan of a million items takes 0.1 s)."""
        found: set[str] = set()
        for table in ("items", "tenders"):
            found |= {row[0] for row in self.db.conn.execute(
                f"""WITH RECURSIVE s(x) AS (
                        SELECT MIN(source) FROM {table}
                        UNION ALL
                        SELECT (SELECT MIN(source) FROM {table} WHERE source > x) FROM s
                        WHERE x IS NOT NULL)
                    SELECT x FROM s WHERE x IS NOT NULL""")}
        return sorted(found)

    def copies(self, item_id: int) -> list[InboxRow]:
        """The same story elsewhere: other items with the same text or the same headline (of
        24 characters or more: "News" says nothing)."""
        refs = [("article", row[0]) for row in self.db.conn.execute(
            """SELECT o.id FROM items i JOIN items o ON o.id != i.id
                 AND (o.content_hash = i.content_hash
                      OR (length(i.title) >= 24 AND o.title = i.title))
               WHERE i.id = ? ORDER BY o.id LIMIT 50""", (item_id,))]
        return self._inbox_rows(refs)

    def item_versions(self, item_id: int) -> list[ItemVersionRow]:
        """Every stored version of an article, oldest first."""
        return [ItemVersionRow.from_mapping(r) for r in self._rows(
            "SELECT * FROM item_versions WHERE item_id = ? ORDER BY version", (item_id,))]

    def tender(self, tender_id: int) -> TenderRow | None:
        rows = self._rows("SELECT * FROM tenders WHERE id = ?", (tender_id,))
        return tender_row(rows[0]) if rows else None

    def tender_versions(self, tender_id: int) -> list[TenderVersionRow]:
        """Every stored version of a tender, oldest first."""
        return [TenderVersionRow.from_mapping({**r, "record": json.loads(r["record"])})
                for r in self._rows("SELECT * FROM tender_versions WHERE tender_id = ? "
                                    "ORDER BY version", (tender_id,))]

    def events_of(self, tender_id: int) -> list[TenderEventRow]:
        """A tender's events, oldest first."""
        return [event_row(r) for r in self._rows(
            """SELECT e.*, t.source, t.native_id, t.title, t.url FROM tender_events e
               JOIN tenders t ON t.id = e.tender_id WHERE e.tender_id = ? ORDER BY e.id""",
            (tender_id,))]

    def tenders_of(self, registry_id: str) -> list[tuple[TenderRow, tuple[str, ...]]]:
        """Every stored tender in which an organisation with this registry id (SCHEME:value)
        appears, newest first, with its roles there (buyer, bidder, winner)."""
        scheme, colon, value = registry_id.partition(":")
        if not colon:  # an id the portal gave without its register
            scheme, value = "", registry_id
        found = []
        # the id is inside the record's JSON: a text search narrows, the parse decides
        for r in self._rows("SELECT * FROM tenders WHERE record LIKE ? ORDER BY id DESC",
                            (f'%"{value}"%',)):
            record = json.loads(r["record"])
            roles = tuple(role for role, key in (("buyer", "buyer"), ("bidder", "bidders"),
                                                 ("winner", "winners"))
                          if any(_is(o, scheme, value) for o in _orgs(record.get(key))))
            if roles:
                found.append((TenderRow.from_mapping({**r, "record": record}), roles))
        return found


def _orgs(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [o for o in value or () if isinstance(o, dict)]


def _is(org: dict[str, Any], scheme: str, value: str) -> bool:
    return str(org.get("id") or "") == value and (org.get("scheme") or "") == scheme
