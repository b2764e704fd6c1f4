"""Immediate alerts: what each recipient was alerted of, the messages queued for it (one
outbox row per channel, in the same transaction), and the hourly count their limit reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from monitor.store.db import utcnow
from monitor.store.outbox import OutboxStore
from monitor.store.rows import AlertMark


class AlertStore(OutboxStore):
    """Alerts, alerted matches and tenders; their messages live in the outbox."""

    def alerted_matches(self, recipient: str, match_ids: Sequence[int]) -> dict[int, str]:
        """Of these article matches, those this recipient was alerted of, with when."""
        alerted: dict[int, str] = {}
        ids = list(dict.fromkeys(match_ids))
        for start in range(0, len(ids), 500):  # SQLite's limit on parameters
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in self._rows(
                    f"""SELECT m.match_id, a.created_at FROM alerted_matches m
                        JOIN alerts a ON a.id = m.alert_id
                        WHERE m.recipient = ? AND m.match_id IN ({marks})""",
                    (recipient, *chunk)):
                alerted[row["match_id"]] = row["created_at"]
        return alerted

    def alerted_tenders(self, recipient: str, tender_ids: Sequence[int] | None = None
                        ) -> dict[tuple[int, str], AlertMark]:
        """(tender id, watch) -> how far this recipient was alerted of it, and when; of the
        given tenders only, or of all."""
        sql = """SELECT t.tender_id, t.watch, t.match_id, t.event_id, a.created_at
                 FROM alerted_tenders t JOIN alerts a ON a.id = t.alert_id
                 WHERE t.recipient = ?"""
        batches: list[list[int]] = [[]]
        if tender_ids is not None:
            ids = list(dict.fromkeys(tender_ids))
            batches = [ids[start:start + 500] for start in range(0, len(ids), 500)]
        marks = {}
        for batch in batches:
            where = f" AND t.tender_id IN ({', '.join('?' for _ in batch)})" if batch else ""
            for r in self._rows(sql + where, (recipient, *batch)):
                marks[(r["tender_id"], r["watch"])] = AlertMark(r["match_id"], r["event_id"],
                                                                r["created_at"])
        return marks

    def backfill_run_ids(self, since: str) -> set[int]:
        """Runs started since then that read old records on request (`crawl --since`): what
        they found is news for the digest, not for an alert."""
        return {r["id"] for r in self._rows(
            "SELECT id FROM runs WHERE backfill_since IS NOT NULL AND started_at >= ?",
            (since,))}

    def alerts_since(self, recipient: str, since: str) -> int:
        """Immediate messages queued for this recipient after `since` (each counts once,
        whatever its channels)."""
        row = self.db.conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE recipient = ? AND created_at > ?",
            (recipient, since)).fetchone()
        return int(row[0])

    def alert_sources(self, alert_ids: Sequence[int]) -> dict[int, str]:
        """Alert id -> the source of (the first) finding it told of."""
        if not alert_ids:
            return {}
        marks = ", ".join("?" for _ in alert_ids)
        return {r["id"]: r["source"] for r in self._rows(
            f"SELECT id, source FROM alerts WHERE id IN ({marks}) AND source IS NOT NULL",
            list(alert_ids))}

    def queue_alert(
        self,
        *,
        recipient: str,
        created_at: str,
        subject: str,
        source: str | None,
        messages: Sequence[tuple[str, str, bytes]],
        match_ids: Sequence[int] = (),
        tenders: Sequence[tuple[int, str, int, int]] = (),
        findings: int = 1,
        folded: bool = False,
        limit: int | None = None,
        limit_since: str = "",
    ) -> int | None:
        """Queue one immediate message, (channel, message id, message) per channel, and
        record what it tells as alerted to the recipient, atomically. `tenders`: (tender id,
        watch, last match id, last event id) it tells of.

        Returns the alert's id; None, writing nothing, when the recipient already had `limit`
        messages since `limit_since` (checked in the transaction: two processes queueing at
        once do not both take the last one). Raises sqlite3.IntegrityError, writing nothing,
        when another process alerted of these findings first or a digest took them."""
        with self._write() as conn:
            if limit is not None:
                used = conn.execute(
                    "SELECT COUNT(*) FROM alerts WHERE recipient = ? AND created_at > ?",
                    (recipient, limit_since)).fetchone()[0]
                if used >= limit:
                    return None
            ids = list(match_ids)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                taken = conn.execute(
                    f"""SELECT match_id FROM deliveries WHERE recipient = ?
                        AND match_id IN ({marks}) LIMIT 1""", (recipient, *chunk)).fetchone()
                if taken is not None:
                    raise sqlite3.IntegrityError(
                        f"match {taken[0]} is in a digest for {recipient} already")
            for tender_id, watch, match_id, event_id in tenders:
                for table in ("alerted_tenders", "tender_deliveries"):
                    told = conn.execute(
                        f"""SELECT match_id, event_id FROM {table}
                            WHERE recipient = ? AND tender_id = ? AND watch = ?""",
                        (recipient, tender_id, watch)).fetchone()
                    if told is not None and told[0] >= match_id and told[1] >= event_id:
                        raise sqlite3.IntegrityError(
                            f"tender {tender_id} for {watch!r} already told to {recipient} "
                            f"({table})")
            cursor = conn.execute(
                """INSERT INTO alerts (recipient, created_at, subject, source, findings, folded)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (recipient, created_at, subject, source, findings, int(folded)))
            alert_id = int(cursor.lastrowid or 0)
            # the alerted_matches primary key refuses a match alerted by another process
            conn.executemany(
                "INSERT INTO alerted_matches (match_id, recipient, alert_id) VALUES (?, ?, ?)",
                [(match_id, recipient, alert_id) for match_id in ids])
            conn.executemany(
                """INSERT INTO alerted_tenders (recipient, tender_id, watch, match_id,
                   event_id, alert_id) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (recipient, tender_id, watch) DO UPDATE SET
                   match_id = MAX(match_id, excluded.match_id),
                   event_id = MAX(event_id, excluded.event_id),
                   alert_id = excluded.alert_id""",
                [(recipient, tender_id, watch, match_id, event_id, alert_id)
                 for tender_id, watch, match_id, event_id in tenders])
            # the outbox keeps the wall clock (its retries run on it); the alert, the caller's
            now = utcnow()
            conn.executemany(
                """INSERT INTO outbox (recipient, subject, message_id, message, status,
                   created_at, findings, kind, channel, alert_id)
                   VALUES (?, ?, ?, ?, 'queued', ?, ?, 'alert', ?, ?)""",
                [(recipient, subject, message_id, message, now, findings, channel, alert_id)
                 for channel, message_id, message in messages])
        return alert_id
