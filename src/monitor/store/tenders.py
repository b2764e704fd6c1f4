"""Tenders with their versions, events and matches."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from monitor.models import Match, TenderOutcome, TenderRecord
from monitor.store.db import Database, to_json, utcnow
from monitor.tender import diff_tenders, hash_tender, stored_fields


class TenderStore(Database):
    """Tenders, their versions, events and matches."""

    def add_tender(self, record: TenderRecord, run_id: int | None = None, *,
                   baseline: bool = False, matches: Sequence[Match] = ()) -> TenderOutcome:
        """Store a (normalised) tender record: a new tender, a new version of a changed one
        with the events that describe the change, or, when its content hash is unchanged,
        only the time it was seen; with the watches' `matches` in it (those not stored
        yet). `baseline`: the source's first run, where a tender first seen already awarded
        gets no `awarded` event and its matches are stored as old news."""
        now = utcnow()
        digest = hash_tender(record)
        text = to_json(stored_fields(record))
        buyer = record.buyer
        columns = (
            record.url, record.title, record.status, buyer.name if buyer else None,
            buyer.registry_id if buyer else None, record.value, record.currency,
            record.published, record.deadline, record.modified, text, digest, record.raw_hash,
        )
        state: Literal["new", "changed"]
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, content_hash, version, record FROM tenders "
                "WHERE source = ? AND native_id = ?",
                (record.source, record.native_id),
            ).fetchone()
            if row is None:
                events = diff_tenders(None, record, baseline=baseline)
                cursor = conn.execute(
                    """INSERT INTO tenders (url, title, status, buyer_name, buyer_id, value,
                       currency, published_at, deadline_at, modified_at, record, content_hash,
                       raw_hash, source, native_id, version, first_seen_at, last_seen_at,
                       changed_at, first_run_id)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)""",
                    (*columns, record.source, record.native_id, now, now, now, run_id),
                )
                tender_id, state, version = int(cursor.lastrowid or 0), "new", 1
            elif row[1] == digest:
                conn.execute(
                    """UPDATE tenders SET last_seen_at = ?, modified_at = COALESCE(?, modified_at),
                       raw_hash = COALESCE(?, raw_hash) WHERE id = ?""",
                    (now, record.modified, record.raw_hash, row[0]),
                )
                added = self._insert_tender_matches(conn, row[0], row[2], matches, run_id,
                                                    "baseline" if baseline else "crawl")
                return TenderOutcome(tender_id=row[0], state="unchanged", version=row[2],
                                     new_matches=len(added))
            else:
                previous = TenderRecord.from_dict(json.loads(row[3]))
                events = diff_tenders(previous, record)
                tender_id, state, version = row[0], "changed", row[2] + 1
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
                (tender_id, version, digest, text, run_id, now),
            )
            conn.executemany(
                """INSERT INTO tender_events (tender_id, version, kind, field, old, new, run_id,
                   seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [(tender_id, version, e.kind, e.field, to_json(e.old), to_json(e.new), run_id, now)
                 for e in events],
            )
            added = self._insert_tender_matches(conn, tender_id, version, matches, run_id,
                                                "baseline" if baseline else "crawl")
        return TenderOutcome(tender_id=tender_id, state=state, version=version, events=events,
                             new_matches=len(added))

    @staticmethod
    def _insert_tender_matches(conn: sqlite3.Connection, tender_id: int, version: int,
                               matches: Sequence[Match], run_id: int | None,
                               origin: str) -> list[Match]:
        now = utcnow()
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

    def tender_matches(self, tender_id: int | None = None) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM tender_matches WHERE COALESCE(?, tender_id) = tender_id ORDER BY id",
            (tender_id,),
        )

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

    def find_tenders(self, key: str) -> list[dict[str, Any]]:
        """Tenders whose native id (tender number, OCID) is `key`, in any source, or whose
        database id it is; `record` decoded."""
        rows = self._rows(
            "SELECT * FROM tenders WHERE native_id = ? OR CAST(id AS TEXT) = ? ORDER BY id",
            (key, key),
        )
        for row in rows:
            row["record"] = json.loads(row["record"])
        return rows

    def tender_records(self, source: str) -> Iterator[dict[str, Any]]:
        """The source's stored tender records (current versions) as stored, decoded: a
        spider that merges later notices into a record starts from these."""
        rows = self.db.conn.execute(
            "SELECT record FROM tenders WHERE source = ? ORDER BY id", (source,))
        for (record,) in rows:
            yield json.loads(record)

    def tenders(self, source: str | None = None) -> list[dict[str, Any]]:
        """Stored tenders (current versions), `record` decoded."""
        rows = self._rows(
            "SELECT * FROM tenders WHERE COALESCE(?, source) = source ORDER BY id", (source,)
        )
        for row in rows:
            row["record"] = json.loads(row["record"])
        return rows

    def tender_events(self, source: str | None = None, *,
                      since: str | None = None) -> list[dict[str, Any]]:
        """Events (oldest first) with their tender's source, native id, title and URL;
        `old` and `new` decoded."""
        rows = self._rows(
            """SELECT e.id, e.tender_id, e.version, e.kind, e.field, e.old, e.new, e.run_id,
                      e.seen_at, t.source, t.native_id, t.title, t.url
               FROM tender_events e JOIN tenders t ON t.id = e.tender_id
               WHERE COALESCE(?, t.source) = t.source AND e.seen_at >= COALESCE(?, '')
               ORDER BY e.id""",
            (source, since),
        )
        for row in rows:
            row["old"] = json.loads(row["old"])
            row["new"] = json.loads(row["new"])
        return rows
