"""SQLite: red flags on tender versions, and the records the flag rules compare a tender
with (its earlier versions, its buyer's other tenders, the portal's records)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monitor.store.db import Database, to_json, utcnow
from monitor.store.rows import FlaggedTenderRow, FlagRow, StoredTender, flag_row

if TYPE_CHECKING:
    from monitor.flags import Flag

_FLAG_COLUMNS = ("tender_id, version, rule, state, summary, inputs, thresholds, rule_version, "
                 "relative, computed_at")


def insert_flags(conn: sqlite3.Connection, tender_id: int, version: int,
                 flags: Sequence[Flag]) -> None:
    """Replace the flags of one tender version (inside the caller's transaction)."""
    conn.execute("DELETE FROM tender_flags WHERE tender_id = ? AND version = ?",
                 (tender_id, version))
    now = utcnow()
    conn.executemany(
        f"INSERT INTO tender_flags ({_FLAG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(tender_id, version, f.rule, f.state, f.summary, to_json(f.inputs),
          to_json(f.thresholds), f.version, int(f.relative), now) for f in flags])


class FlagStore(Database):
    def save_flags(self, tender_id: int, version: int, flags: Sequence[Flag]) -> None:
        """Replace the flags of one stored tender version, in one transaction."""
        with self._write() as conn:
            insert_flags(conn, tender_id, version, flags)

    def tender_flags(self, tender_id: int, version: int | None = None) -> list[FlagRow]:
        """The flags of a tender's version (default: its latest), in rule order as stored."""
        rows = self.db.conn.execute(
            f"""SELECT {_FLAG_COLUMNS} FROM tender_flags WHERE tender_id = ? AND version =
                COALESCE(?, (SELECT version FROM tenders WHERE id = ?)) ORDER BY rowid""",
            (tender_id, version, tender_id))
        names = [d[0] for d in rows.description]
        return [flag_row(dict(zip(names, row, strict=True))) for row in rows]

    def buyer_tenders(self, source: str, buyer_id: str, *,
                      published_since: str | None = None, cpv_prefix: str | None = None,
                      awarded: bool = False) -> list[StoredTender]:
        """The latest versions of a buyer's tenders at one source (by the buyer's registry
        id); only those published since the given time, whose first CPV code starts with
        `cpv_prefix`, or (`awarded`) that have winners, when asked. The filters run in SQL:
        a big buyer has thousands of tenders, and only a few concern a rule."""
        rows = self.db.conn.execute(
            """SELECT id, version, content_hash, record FROM tenders
               WHERE source = ? AND buyer_id = ?
               AND (? IS NULL OR published_at IS NULL OR published_at >= ?)
               AND (? IS NULL OR json_extract(record, '$.cpv[0]') LIKE ? || '%')
               AND (NOT ? OR json_array_length(record, '$.winners') > 0)""",
            (source, buyer_id, published_since, published_since, cpv_prefix, cpv_prefix,
             int(awarded)))
        return [StoredTender(id=r[0], version=r[1], content_hash=r[2], record=json.loads(r[3]))
                for r in rows]

    def versions_to_flag(self, rule_version: int, *, every: bool = False
                         ) -> list[tuple[int, int]]:
        """(tender id, version) of the stored versions whose flags are missing or from an
        older rule version (`every`: all of them)."""
        return [(r[0], r[1]) for r in self.db.conn.execute(
            """SELECT v.tender_id, v.version FROM tender_versions v
               WHERE ? OR COALESCE((SELECT MIN(f.rule_version) FROM tender_flags f
                   WHERE f.tender_id = v.tender_id AND f.version = v.version), 0) < ?
               ORDER BY v.tender_id, v.version""", (int(every), rule_version))]

    def flagged_tenders(self, *, rules: Sequence[str] = (), buyer: str | None = None,
                        supplier: str | None = None, since: str | None = None,
                        until: str | None = None, source: str | None = None,
                        limit: int | None = None) -> list[FlaggedTenderRow]:
        """Tenders whose latest version is flagged, newest first, one row per flag. `buyer`
        and `supplier`: a registry id (SCHEME:ID) or a part of the name, case-folded;
        `since`/`until`: publication dates (ISO, inclusive)."""
        where = ["f.state = 'flagged'"]
        params: list[object] = []
        if rules:
            where.append(f"f.rule IN ({', '.join('?' * len(rules))})")
            params += list(rules)
        if source:
            where.append("t.source = ?")
            params.append(source)
        if buyer:
            where.append("(t.buyer_id = ? OR lower(t.buyer_name) LIKE ?)")
            params += [buyer, f"%{buyer.casefold()}%"]
        if since:
            where.append("t.published_at >= ?")
            params.append(since)
        if until:
            where.append("t.published_at < date(?, '+1 day')")
            params.append(until)
        rows = self.db.conn.execute(
            f"""SELECT t.id, t.source, t.native_id, t.title, t.url, t.buyer_name, t.buyer_id,
                       t.value, t.currency, t.published_at, t.record, f.rule, f.summary,
                       f.relative
                FROM tender_flags f JOIN tenders t ON t.id = f.tender_id
                     AND t.version = f.version
                WHERE {' AND '.join(where)}
                ORDER BY t.published_at DESC, t.id DESC, f.rowid""", params)
        out: list[FlaggedTenderRow] = []
        for r in rows:
            winners = json.loads(r[10]).get("winners") or []
            names = tuple(w.get("name") or "" for w in winners)
            if supplier and not any(
                    supplier == f"{w.get('scheme')}:{w.get('id')}" or supplier == w.get("id")
                    or supplier.casefold() in (w.get("name") or "").casefold()
                    for w in winners):
                continue
            out.append(FlaggedTenderRow(
                tender_id=r[0], source=r[1], native_id=r[2], title=r[3], url=r[4],
                buyer_name=r[5], buyer_id=r[6], winners=names, value=r[7], currency=r[8],
                published_at=r[9], rule=r[11], summary=r[12], relative=bool(r[13])))
            if limit is not None and len(out) >= limit:
                break
        return out

    def flag_fences(self, source: str) -> tuple[str, dict[str, Any]] | None:
        """(when, fences) last kept for a source's relative red flags; None: never."""
        row = self.db.conn.execute("SELECT computed_at, fences FROM flag_fences WHERE source = ?",
                                   (source,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def save_flag_fences(self, source: str, fences: dict[str, Any]) -> None:
        """Keep a source's fences (a day's worth of crawls reuse them)."""
        with self._write() as conn:
            conn.execute("""INSERT INTO flag_fences (source, computed_at, fences) VALUES (?, ?, ?)
                            ON CONFLICT (source) DO UPDATE SET computed_at = excluded.computed_at,
                            fences = excluded.fences""", (source, utcnow(), to_json(fences)))
