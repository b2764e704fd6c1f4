"""Full-text search over every stored item and tender, matched or not: the FTS5 indexes
(migration 018) kept in step by the store's own writes, and the queries over them.

Two contentless indexes, `search_items` and `search_tenders` (rowid = the record's id), with
the columns `title` and `body` (what `monitor.search.index_text` makes of the record's text)
and `meta`, words for the filters the index answers itself (source, language), so that a
common word in one small source is an intersection of two word lists, not a scan. One index
per kind, searched apart and merged in the result order (item id * 2, tender id * 2 + 1):
in one index a kind filter, a date range (an id range: ids grow with `first_seen_at`) or a
word common in one kind only is a scan of the other kind's rows (`bench/search.py`). A
contentless FTS5 table forgets a row only when told the exact values it indexed, so a changed
record's old values are recomputed from its stored row before that row is overwritten, in the
same transaction (`index_item`, `index_tender`); wrong values corrupt the index.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.errors import SearchQueryError
from monitor.models import Item, TenderRecord
from monitor.search import Query, index_text, tender_text
from monitor.store.db import Database
from monitor.store.rows import SearchHit, SearchPage

MAX_LIMIT = 1000
# Filtering by watch. A query finding fewer records than _COMMON has each checked for the
# watch; a common one, in a watch of at most _PROBE_MAX records, has those records looked up
# in the index instead, newest first, until the page is full (~30-200 us a lookup, depending
# on the index's segments); in a bigger watch, what it finds is checked against the watch's
# records (~0.2 us each, after reading them once)
_COMMON = 5000
_PROBE_MAX = 500
# ... and in a watch of this many matches or more (~0.3 % of 1 M items) a page fills after
# few checks of each record found (~0.4 us each): cheaper than reading the watch's records
_DENSE_WATCH = 3000
# ids grow with first_seen_at, except that a writer takes its time stamp before waiting for
# the database (up to a minute): date bounds turned into id bounds are widened by this
_CLOCK_MARGIN = timedelta(days=1)
_FIRST = 2**62


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str  # as `SearchHit.kind`: item | tender
    table: str
    index: str
    matches: str
    key: str  # the matches' column naming the record
    parity: int  # a record's place in the result order is its id * 2 + parity

    def place(self, record_id: int) -> int:
        return record_id * 2 + self.parity

    def below(self, place: int) -> int:
        """The ids of this kind whose place is below `place` are below this."""
        return (place - self.parity + 1) // 2


_ITEM = _Kind("item", "items", "search_items", "matches", "item_id", 0)
_TENDER = _Kind("tender", "tenders", "search_tenders", "tender_matches", "tender_id", 1)
KINDS = {k.name: k for k in (_ITEM, _TENDER)}


def _meta(source: str, language: str | None = None) -> str:
    """The filter words of a record: its source and language, hex-encoded so that any name is
    one word the tokenizer keeps whole."""
    words = [_source_word(source)]
    if language:
        words.append(_language_word(language))
    return " ".join(words)


def _source_word(source: str) -> str:
    return "s" + source.encode().hex()


def _language_word(language: str) -> str:
    return "l" + language.encode().hex()


def _item_values(title: str, text: str, source: str, language: str | None) -> tuple[str, ...]:
    return index_text(title), index_text(text), _meta(source, language)


def _tender_values(title: str, record: Mapping[str, Any] | str,
                   source: str) -> tuple[str, ...]:
    stored = json.loads(record) if isinstance(record, str) else record
    return index_text(title), index_text(tender_text(stored)), _meta(source)


def _replace(conn: sqlite3.Connection, index: str, rowid: int,
             old: tuple[str, ...] | None, new: tuple[str, ...]) -> None:
    if old == new:
        return  # only fields outside the index changed (a tender's status, an item's date)
    if old is not None:
        conn.execute(f"INSERT INTO {index} ({index}, rowid, title, body, meta) "
                     "VALUES ('delete', ?, ?, ?, ?)", (rowid, *old))
    conn.execute(f"INSERT INTO {index} (rowid, title, body, meta) VALUES (?, ?, ?, ?)",
                 (rowid, *new))


def index_item(conn: sqlite3.Connection, item_id: int, item: Item, *, replacing: bool) -> None:
    """Index an item inside the caller's transaction. `replacing`: the item is stored already
    and about to be overwritten: what was indexed for its stored row is removed first (so
    call it before the UPDATE)."""
    old = None
    if replacing:
        row = conn.execute("SELECT title, text, source, language FROM items WHERE id = ?",
                           (item_id,)).fetchone()
        old = _item_values(*row) if row else None
    new = _item_values(item.title, item.text, item.source, item.language)
    _replace(conn, _ITEM.index, item_id, old, new)


def index_tender(conn: sqlite3.Connection, tender_id: int, record: TenderRecord,
                 stored: Mapping[str, Any], *, replacing: bool) -> None:
    """Index a tender (its title, and `stored`, the record as stored: `tender.stored_fields`)
    inside the caller's transaction; `replacing` as for `index_item`."""
    old = None
    if replacing:
        row = conn.execute("SELECT title, record, source FROM tenders WHERE id = ?",
                           (tender_id,)).fetchone()
        old = _tender_values(*row) if row else None
    _replace(conn, _TENDER.index, tender_id, old,
             _tender_values(record.title, stored, record.source))


def fill_index(conn: sqlite3.Connection,
               on_progress: Callable[[int, int], None] | None = None, *,
               batch: int = 2000) -> int:
    """Empty the indexes and index every stored item and tender again, inside the caller's
    transaction (migration 018's backfill, `reindex`), then merge each index into one
    segment (`optimize`: a bulk load leaves many, and a lookup visits each).
    `on_progress(done, total)` after each batch. Returns how many records were indexed."""
    total = sum(conn.execute(f"SELECT COUNT(*) FROM {k.table}").fetchone()[0]
                for k in KINDS.values())
    done = 0
    reads: list[tuple[_Kind, str, Callable[..., tuple[str, ...]]]] = [
        (_ITEM, "title, text, source, language", _item_values),
        (_TENDER, "title, record, source", _tender_values),
    ]
    for kind, columns, values in reads:
        conn.execute(f"INSERT INTO {kind.index} ({kind.index}) VALUES ('delete-all')")
        # no merging while loading (~15 % faster): `optimize` merges everything at the end
        conn.execute(f"INSERT INTO {kind.index} ({kind.index}, rank) VALUES ('automerge', 0)")
        last = 0
        while rows := conn.execute(f"SELECT id, {columns} FROM {kind.table} WHERE id > ? "
                                   "ORDER BY id LIMIT ?", (last, batch)).fetchall():
            conn.executemany(
                f"INSERT INTO {kind.index} (rowid, title, body, meta) VALUES (?, ?, ?, ?)",
                [(row[0], *values(*row[1:])) for row in rows])
            last = rows[-1][0]
            done += len(rows)
            if on_progress is not None:
                on_progress(done, total)
        conn.execute(f"INSERT INTO {kind.index} ({kind.index}) VALUES ('optimize')")
        conn.execute(f"INSERT INTO {kind.index} ({kind.index}, rank) VALUES ('automerge', 4)")
    return done


def _stamp(name: str, value: str, shift: timedelta) -> str:
    """A date filter moved by `shift`, in the form first_seen_at is stored in."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SearchQueryError(f"search filter {name}: not an ISO 8601 date or time: "
                               f"{value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + shift).isoformat()


@dataclass(frozen=True, slots=True)
class _Filters:
    source: str | None
    watch: str | None
    language: str | None
    since: str | None
    until: str | None


class SearchStore(Database):
    """Full-text search over items and tenders (the indexes are written by `items.py` and
    `tenders.py` through `index_item` / `index_tender`)."""

    def search(self, query: Query, *, kind: str | None = None, source: str | None = None,
               watch: str | None = None, language: str | None = None,
               since: str | None = None, until: str | None = None,
               before: int | None = None, limit: int = 50) -> SearchPage:
        """Items and tenders matching `query` (`monitor.search.parse_query`), newest first
        by id (an item's place is its id * 2, a tender's its id * 2 + 1: the kinds
        interleave by id, not by date), `limit` at a time: pass a page's `next_before` as
        `before` for the one after it. Filters as in the inbox: `kind` item or tender;
        `source`; `watch`: records it matched; `language` (items only: tenders have none);
        `since` (inclusive) and `until` (exclusive): first seen in that range, ISO 8601 dates
        or times (UTC unless they say). Raises `SearchQueryError` for an unknown kind or a
        date that cannot be read."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"search: limit must be 1 to {MAX_LIMIT}: {limit!r}")
        filters = _Filters(source, watch, language, since, until)
        sides = []
        for k in self._kinds(kind, language):
            ids = self._search_ids(k, query, filters, _FIRST if before is None
                                   else k.below(before), limit + 1)
            sides.append([k.place(i) for i in ids])
        places = list(heapq.merge(*sides, reverse=True))
        shown = places[:limit]
        hits = {h.rowid: h for k in KINDS.values()
                for h in self._hits(k, [p // 2 for p in shown if p % 2 == k.parity])}
        return SearchPage(hits=tuple(hits[p] for p in shown if p in hits),
                          next_before=shown[-1] if len(places) > limit else None)

    def search_count(self, query: Query, *, kind: str | None = None,
                     source: str | None = None, watch: str | None = None,
                     language: str | None = None, since: str | None = None,
                     until: str | None = None, at_most: int = 1000) -> int:
        """How many items and tenders `search` finds with these filters, counted up to
        `at_most` (a common word matches most of the store: "1000+" is cheap, the exact
        number is not)."""
        filters = _Filters(source, watch, language, since, until)
        total = 0
        for k in self._kinds(kind, language):
            plan = self._plan(k, query, filters, _FIRST)
            if plan is None:
                continue
            where, params, records = plan
            if records is not None:
                where += f" AND rowid IN ({', '.join('?' for _ in records)})"
                params = [*params, *records]
            [(count,)] = self._match(
                f"SELECT COUNT(*) FROM (SELECT rowid FROM {k.index} WHERE {where} LIMIT ?)",
                query, [*params, max(at_most - total, 0)])
            total += count
            if total >= at_most:
                break
        return total

    def reindex(self, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild both indexes from the stored items and tenders (after `index_text`
        changed), in one transaction: writers wait until it is done (bench/search.py: ~20 s
        per 100,000 records). `on_progress(done, total)` after each batch. Returns how many
        records were indexed."""
        with self._write() as conn:
            return fill_index(conn, on_progress)

    # -- the parts ------------------------------------------------------------------------

    @staticmethod
    def _kinds(kind: str | None, language: str | None) -> list[_Kind]:
        if kind is not None and kind not in KINDS:
            raise SearchQueryError(
                f"search filter kind: not one of {', '.join(KINDS)}: {kind!r}")
        kinds = list(KINDS.values()) if kind is None else [KINDS[kind]]
        # tenders have no language: a language filter leaves them out
        return [k for k in kinds if language is None or k is _ITEM]

    def _plan(self, k: _Kind, query: Query, filters: _Filters,
              before: int) -> tuple[str, list[Any], list[int] | None] | None:
        """How to find `query` with `filters` in kind `k` below id `before`: a WHERE clause
        over its index with its parameters, and the records to look up in it one by one
        (newest first), or None to scan what the words find; None when nothing can match."""
        expression = f"{{title body}} : ({query.expression})"
        if filters.source is not None:
            expression += f' AND meta : "{_source_word(filters.source)}"'
        if filters.language is not None:
            expression += f' AND meta : "{_language_word(filters.language)}"'
        where = [f"{k.index} MATCH ?"]
        params: list[Any] = [expression]
        low, high = 0, before
        if filters.since is not None:
            low = self._first_id_seen(k, _stamp("since", filters.since, -_CLOCK_MARGIN))
        if filters.until is not None:
            high = min(high, self._first_id_seen(k, _stamp("until", filters.until,
                                                            _CLOCK_MARGIN)))
        if high <= low:
            return None
        where.append("rowid < ?")
        params.append(high)
        if low:
            where.append("rowid >= ?")
            params.append(low)
        if filters.since is not None or filters.until is not None:
            # the bounds above are widened: the dates themselves, on each record in them
            where.append(f"EXISTS (SELECT 1 FROM {k.table} r WHERE r.id = {k.index}.rowid "
                         "AND r.first_seen_at >= ? AND r.first_seen_at < ?)")
            params += [_stamp("since", filters.since, timedelta()) if filters.since else "",
                       _stamp("until", filters.until, timedelta()) if filters.until
                       else "\uffff"]
        if filters.watch is None:
            return " AND ".join(where), params, None
        [(found,)] = self._match(
            f"SELECT COUNT(*) FROM (SELECT rowid FROM {k.index} WHERE {' AND '.join(where)} "
            "LIMIT ?)", query, [*params, _COMMON])
        if found < _COMMON:
            # a rare query: check each record it finds
            where.append(f"EXISTS (SELECT 1 FROM {k.matches} m "
                         f"WHERE m.{k.key} = {k.index}.rowid AND m.watch = ?)")
            params.append(filters.watch)
            return " AND ".join(where), params, None
        records = [r for (r,) in self.db.conn.execute(
            f"SELECT DISTINCT {k.key} FROM {k.matches} WHERE watch = ? AND {k.key} >= ? "
            f"AND {k.key} < ? LIMIT ?", (filters.watch, low, high, _PROBE_MAX + 1))]
        if len(records) <= _PROBE_MAX:
            # a common query, a watch of few records: look those up, newest first
            return " AND ".join(where), params, sorted(records, reverse=True)
        [(matches,)] = self.db.conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {k.matches} WHERE watch = ? LIMIT ?)",
            (filters.watch, _DENSE_WATCH))
        if matches >= _DENSE_WATCH:
            # a common query, a watch of very many records: a page fills after a few hundred
            # checks of what the query finds, far fewer than reading all the watch's records
            where.append(f"EXISTS (SELECT 1 FROM {k.matches} m "
                         f"WHERE m.{k.key} = {k.index}.rowid AND m.watch = ?)")
        else:
            # a common query, a watch of some records: read them once, then check what the
            # query finds against them (+rowid: as checks, not as lookups of each of them)
            where.append(f"+rowid IN (SELECT {k.key} FROM {k.matches} WHERE watch = ?)")
        params.append(filters.watch)
        return " AND ".join(where), params, None

    def _first_id_seen(self, k: _Kind, stamp: str) -> int:
        """The lowest id from which on the records of kind `k` were first seen at or after
        `stamp`, by bisecting ids (they grow with first_seen_at); past the last id when none
        was."""
        conn = self.db.conn
        # MIN and MAX apart: together they are a scan, each alone a lookup
        [(low,)] = conn.execute(f"SELECT MIN(id) FROM {k.table}").fetchall()
        [(high,)] = conn.execute(f"SELECT MAX(id) FROM {k.table}").fetchall()
        if low is None:
            return 0
        high += 1
        while low < high:
            middle = (low + high) // 2
            found, seen = conn.execute(
                f"SELECT id, first_seen_at FROM {k.table} WHERE id >= ? ORDER BY id LIMIT 1",
                (middle,)).fetchone()
            if seen >= stamp:
                high = middle
            else:
                low = found + 1
        return int(low)

    def _search_ids(self, k: _Kind, query: Query, filters: _Filters, before: int,
                    limit: int) -> list[int]:
        """Up to `limit` ids of kind `k` below `before` that `search` finds, newest first."""
        plan = self._plan(k, query, filters, before)
        if plan is None:
            return []
        where, params, records = plan
        if records is None:
            return [r for (r,) in self._match(
                f"SELECT rowid FROM {k.index} WHERE {where} ORDER BY rowid DESC LIMIT ?",
                query, [*params, limit])]
        found: list[int] = []
        start, size = 0, 64  # chunks that double: a full page usually needs the first
        while start < len(records) and len(found) < limit:
            chunk = records[start:start + size]
            found += [r for (r,) in self._match(
                f"SELECT rowid FROM {k.index} WHERE {where} "
                f"AND rowid IN ({', '.join('?' for _ in chunk)}) ORDER BY rowid DESC",
                query, [*params, *chunk])]
            start, size = start + size, size * 2
        return found[:limit]

    def _match(self, sql: str, query: Query, params: Sequence[Any]) -> list[Any]:
        try:
            return self.db.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "fts5" not in str(exc):
                raise
            # parse_query quotes every term: this is a bug, reported with what was typed
            raise SearchQueryError(f"search query {query.text!r}: {exc}") from None

    def _hits(self, k: _Kind, ids: Sequence[int]) -> list[SearchHit]:
        """Records of kind `k` in `ids` order, with the watches each matched."""
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        watches: dict[int, list[str]] = {}
        for record_id, watch in self.db.conn.execute(
                f"SELECT DISTINCT {k.key}, watch FROM {k.matches} WHERE {k.key} IN ({marks}) "
                "ORDER BY watch", ids):
            watches.setdefault(record_id, []).append(watch)
        columns = "text, language" if k is _ITEM else "record, native_id, status"
        found = {}
        for row in self._rows(f"SELECT id, source, title, url, published_at, first_seen_at, "
                              f"{columns} FROM {k.table} WHERE id IN ({marks})", ids):
            if k is _TENDER:
                row["text"] = tender_text(json.loads(row.pop("record")))
            found[row["id"]] = SearchHit.from_mapping(
                row, kind=k.name, rowid=k.place(row["id"]),
                watches=tuple(watches.get(row["id"], ())))
        return [found[i] for i in ids if i in found]
