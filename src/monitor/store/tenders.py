"""Tenders with their versions, events and matches."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from monitor.models import CapturedResponse, Match, TenderChange, TenderOutcome, TenderRecord
from monitor.store.db import Database, to_json, utcnow
from monitor.store.flags import insert_flags
from monitor.store.rows import (
    CaptureRow,
    StoredTender,
    TenderEventRow,
    TenderMatchRow,
    TenderRow,
    event_row,
    tender_row,
)
from monitor.store.search import index_tender

if TYPE_CHECKING:
    from monitor.flags import Flag


class TenderStore(Database):
    """Tenders, their versions, events and matches."""

    def stored_tender(self, source: str, native_id: str) -> StoredTender | None:
        """The stored version of a tender, for deciding what a new record of it is."""
        row = self.db.conn.execute(
            "SELECT id, version, content_hash, record FROM tenders "
            "WHERE source = ? AND native_id = ?",
            (source, native_id),
        ).fetchone()
        if row is None:
            return None
        return StoredTender(id=row[0], version=row[1], content_hash=row[2],
                            record=json.loads(row[3]))

    def save_tender(self, record: TenderRecord, change: TenderChange, *,
                    stored: StoredTender | None, run_id: int | None = None,
                    matches: Sequence[Match] = (), baseline: bool = False,
                    captures: Sequence[CapturedResponse] = (),
                    flags: Sequence[Flag] = ()) -> TenderOutcome | None:
        """Write what `change` (decided against `stored`) says, with the matches not stored
        yet, in one transaction: a new tender, a new version with its events, or only the
        time it was seen; `captures`, the responses it was built from (their bodies already
        kept by `monitor.evidence`), recorded as evidence of the version it is. None, writing
        nothing, when the stored version is no longer `stored` (another process stored the
        tender meanwhile): decide again."""
        now = utcnow()
        text = to_json(change.stored)
        buyer = record.buyer
        columns = (
            record.url, record.title, record.status, buyer.name if buyer else None,
            buyer.registry_id if buyer else None, record.value, record.currency,
            record.published, record.deadline, record.modified, text, change.content_hash,
            record.raw_hash,
        )
        origin = "baseline" if baseline else "crawl"
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, version FROM tenders WHERE source = ? AND native_id = ?",
                (record.source, record.native_id),
            ).fetchone()
            if (row is None) != (stored is None) or (
                    row is not None and stored is not None and tuple(row) != (stored.id,
                                                                              stored.version)):
                return None
            if stored is None:
                cursor = conn.execute(
                    """INSERT INTO tenders (url, title, status, buyer_name, buyer_id, value,
                       currency, published_at, deadline_at, modified_at, record, content_hash,
                       raw_hash, source, native_id, version, first_seen_at, last_seen_at,
                       changed_at, first_run_id)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)""",
                    (*columns, record.source, record.native_id, now, now, now, run_id),
                )
                tender_id, version = int(cursor.lastrowid or 0), 1
                index_tender(conn, tender_id, record, change.stored, replacing=False)
            elif change.state == "unchanged":
                conn.execute(
                    """UPDATE tenders SET last_seen_at = ?, modified_at = COALESCE(?, modified_at),
                       raw_hash = COALESCE(?, raw_hash) WHERE id = ?""",
                    (now, record.modified, record.raw_hash, stored.id),
                )
                added = self._insert_tender_matches(conn, stored.id, stored.version, matches,
                                                    run_id, origin, now)
                self._insert_captures(conn, captures, run_id, tender_id=stored.id,
                                      version=stored.version)
                return TenderOutcome(tender_id=stored.id, state="unchanged",
                                     version=stored.version, new_matches=len(added))
            else:
                tender_id, version = stored.id, stored.version + 1
                index_tender(conn, tender_id, record, change.stored, replacing=True)
                conn.execute(
                    """UPDATE tenders SET url = ?, title = ?, status = ?, buyer_name = ?,
                       buyer_id = ?, value = ?, currency = ?, published_at = ?, deadline_at = ?,
                       modified_at = ?, record = ?, content_hash = ?, raw_hash = ?, version = ?,
                       last_seen_at = ?, changed_at = ? WHERE id = ?""",
                    (*columns, version, now, now, tender_id),
                )
            conn.execute(
                """INSERT INTO tender_versions (tender_id, version, content_hash, record, run_id,
                   seen_at) VALUES (?, ?, ?, ?, ?, ?)""",
                (tender_id, version, change.content_hash, text, run_id, now),
            )
            conn.executemany(
                """INSERT INTO tender_events (tender_id, version, kind, field, old, new, run_id,
                   seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [(tender_id, version, e.kind, e.field, to_json(e.old), to_json(e.new), run_id, now)
                 for e in change.events],
            )
            # the matches carry the events' time: a second that ticked in between would put
            # the events before the tender's first match, and out of every digest and alert
            added = self._insert_tender_matches(conn, tender_id, version, matches, run_id,
                                                origin, now)
            self._insert_captures(conn, captures, run_id, tender_id=tender_id, version=version)
            insert_flags(conn, tender_id, version, flags)
        return TenderOutcome(tender_id=tender_id, state=change.state, version=version,
                             events=change.events, new_matches=len(added))

    @staticmethod
    def _insert_tender_matches(conn: sqlite3.Connection, tender_id: int, version: int,
                               matches: Sequence[Match], run_id: int | None,
                               origin: str, now: str | None = None) -> list[Match]:
        now = now or utcnow()
        added = []
        for m in matches:
            cursor = conn.execute(
                """INSERT OR IGNORE INTO tender_matches (tender_id, watch, term, term_kind,
                   field, start, "end", found, snippet, snippet_start, snippet_end, variant,
                   via, version, run_id, matched_at, origin)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (tender_id, m.watch, m.term, m.term_kind, m.field, m.start, m.end, m.found,
                 m.snippet, m.snippet_start, m.snippet_end, m.variant, m.via, version, run_id,
                 now, origin),
            )
            if cursor.rowcount:
                added.append(m)
        return added

    def tender_captures(self, tender_id: int) -> list[CaptureRow]:
        """The responses a tender's versions were built from, oldest first."""
        return self._capture_rows("SELECT * FROM captures WHERE tender_id = ? ORDER BY id",
                                  (tender_id,))

    def add_tender_rematches(self, tender_id: int, matches: Sequence[Match]) -> list[Match]:
        """Matches found by re-matching a stored tender (`monitor rematch`)."""
        with self._write() as conn:
            row = conn.execute("SELECT version FROM tenders WHERE id = ?", (tender_id,)).fetchone()
            if row is None:
                return []
            return self._insert_tender_matches(conn, tender_id, row[0], matches, None, "rematch")

    def iter_tenders(self, batch: int = 500) -> Iterator[tuple[int, TenderRecord]]:
        """Every stored tender (current version) with its id, in id order, read in batches."""
        last = 0
        while True:
            rows = self.db.conn.execute(
                "SELECT id, record FROM tenders WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for tender_id, record in rows:
                yield tender_id, TenderRecord.from_dict(json.loads(record))
            last = rows[-1][0]

    def tender_matches(self, tender_id: int | None = None) -> list[TenderMatchRow]:
        return [TenderMatchRow.from_mapping(r) for r in self._rows(
            "SELECT * FROM tender_matches WHERE COALESCE(?, tender_id) = tender_id ORDER BY id",
            (tender_id,),
        )]

    def touch_tender(self, source: str, native_id: str) -> bool:
        """Mark a tender seen again without fetching it (its modified stamp is unchanged).
        False when no such tender is stored."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE tenders SET last_seen_at = ? WHERE source = ? AND native_id = ?",
                (utcnow(), source, native_id),
            )
            return cursor.rowcount > 0

    def tender_stamps(self, source: str) -> dict[str, str]:
        """Native id -> the portal's modified stamp of the source's stored tenders, so
        spiders skip fetching tenders that did not change."""
        rows = self.db.conn.execute(
            "SELECT native_id, modified_at FROM tenders "
            "WHERE source = ? AND modified_at IS NOT NULL",
            (source,),
        )
        return dict(rows.fetchall())

    def find_tenders(self, key: str) -> list[TenderRow]:
        """Tenders whose native id (tender number, OCID) is `key`, in any source, or whose
        database id it is."""
        return self._tender_rows(
            "SELECT * FROM tenders WHERE native_id = ? OR CAST(id AS TEXT) = ? ORDER BY id",
            (key, key),
        )

    def tender_records(self, source: str) -> Iterator[dict[str, Any]]:
        """The source's stored tender records (current versions) as stored, decoded: a
        spider that merges later notices into a record starts from these."""
        rows = self.db.conn.execute(
            "SELECT record FROM tenders WHERE source = ? ORDER BY id", (source,))
        for (record,) in rows:
            yield json.loads(record)

    def tenders(self, source: str | None = None) -> list[TenderRow]:
        """Stored tenders (current versions)."""
        return self._tender_rows(
            "SELECT * FROM tenders WHERE COALESCE(?, source) = source ORDER BY id", (source,)
        )

    def _tender_rows(self, sql: str, params: Sequence[Any]) -> list[TenderRow]:
        return [tender_row(r) for r in self._rows(sql, params)]

    def tender_events(self, source: str | None = None, *,
                      since: str | None = None) -> list[TenderEventRow]:
        """Events (oldest first) with their tender's source, native id, title and URL."""
        return self._event_rows(
            """SELECT e.id, e.tender_id, e.version, e.kind, e.field, e.old, e.new, e.run_id,
                      e.seen_at, t.source, t.native_id, t.title, t.url
               FROM tender_events e JOIN tenders t ON t.id = e.tender_id
               WHERE COALESCE(?, t.source) = t.source AND e.seen_at >= COALESCE(?, '')
               ORDER BY e.id""",
            (source, since),
        )

    def _event_rows(self, sql: str, params: Sequence[Any]) -> list[TenderEventRow]:
        return [event_row(r) for r in self._rows(sql, params)]
