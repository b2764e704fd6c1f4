"""The outbox: what each recipient was told (deliveries), queued and sent digests and
immediate alerts (one row per channel), claims so two senders never send one message twice,
retries and given-up messages."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.store.db import Database, utcnow
from monitor.store.rows import (
    ArticleMatchRow,
    OutboxRow,
    TenderMatchRow,
    TenderNews,
    event_row,
    tender_row,
)

# a digest the SMTP server keeps refusing is given up after this many tries (about a day
# with the back-off capped at an hour) and reported instead of retried forever
MAX_SEND_ATTEMPTS = 30

class OutboxStore(Database):
    """Digests, deliveries and the outbox."""

    def last_digest_at(self, recipient: str) -> str | None:
        row = self.db.conn.execute(
            "SELECT last_digest_at FROM digests WHERE recipient = ?", (recipient,)
        ).fetchone()
        return row[0] if row else None

    def undelivered_matches(
        self, recipient: str, watches: Sequence[str], *, since: str | None = None
    ) -> list[ArticleMatchRow]:
        """Matches of these watches not yet put in a digest for this recipient, with their
        item's fields, newest first."""
        if not watches:
            return []
        marks = ", ".join("?" for _ in watches)
        return [ArticleMatchRow.from_mapping(r) for r in self._rows(
            f"""SELECT m.id AS match_id, m.watch, m.term, m.term_kind, m.field, m.found,
                       m.snippet, m.snippet_start, m.snippet_end, m.matched_at, m.variant,
                       m.via, m.origin,
                       i.id AS item_id, i.source, i.url, i.title, i.published_at,
                       i.first_seen_at, i.version, i.content_hash, c.sha256 AS capture_sha256,
                       c.fetched_at AS captured_at
                FROM matches m JOIN items i ON i.id = m.item_id
                LEFT JOIN captures c ON c.id = (SELECT MAX(id) FROM captures
                                                WHERE item_id = i.id)
                WHERE m.watch IN ({marks}) AND m.matched_at >= COALESCE(?, '')
                  AND NOT EXISTS (SELECT 1 FROM deliveries d
                                  WHERE d.match_id = m.id AND d.recipient = ?)
                ORDER BY COALESCE(i.published_at, i.first_seen_at) DESC, m.id""",
            (*watches, since, recipient),
        )]

    def undelivered_tenders(
        self, recipient: str, watches: Sequence[str], *, since: str | None = None,
        until: str | None = None,
    ) -> list[TenderNews]:
        """(tender, watch) pairs with news for this recipient: a match of the watch not yet
        in one of their digests (baseline matches are not news), or an event of a tender the
        watch matched, seen since it first matched and not yet in one of their digests.
        Each carries the tender, all the watch's matches in it with `new` set on the
        undelivered ones, and the undelivered events, oldest first.
        `since` / `until` bound when the news was found."""
        if not watches:
            return []
        marks = ", ".join("?" for _ in watches)
        low, high = since or "", until or "9999"
        pairs = self._rows(
            f"""WITH pairs AS (
                    SELECT tender_id, watch, MIN(matched_at) AS first_matched_at
                    FROM tender_matches WHERE watch IN ({marks}) GROUP BY tender_id, watch)
                SELECT p.tender_id, p.watch, p.first_matched_at,
                       COALESCE(d.match_id, 0) AS told_match, COALESCE(d.event_id, 0) AS told_event
                FROM pairs p LEFT JOIN tender_deliveries d
                  ON d.recipient = ? AND d.tender_id = p.tender_id AND d.watch = p.watch
                WHERE EXISTS (SELECT 1 FROM tender_matches m
                              WHERE m.tender_id = p.tender_id AND m.watch = p.watch
                                AND m.id > COALESCE(d.match_id, 0) AND m.origin != 'baseline'
                                AND m.matched_at >= ? AND m.matched_at <= ?)
                   OR EXISTS (SELECT 1 FROM tender_events e
                              WHERE e.tender_id = p.tender_id AND e.id > COALESCE(d.event_id, 0)
                                AND e.seen_at >= p.first_matched_at
                                AND e.seen_at >= ? AND e.seen_at <= ?)
                ORDER BY p.tender_id, p.watch""",
            (*watches, recipient, low, high, low, high),
        )
        out = []
        for pair in pairs:
            tender = tender_row(self._rows(
                """SELECT t.*, c.sha256 AS capture_sha256, c.fetched_at AS captured_at
                   FROM tenders t LEFT JOIN captures c ON c.id = (
                       SELECT MAX(id) FROM captures WHERE tender_id = t.id)
                   WHERE t.id = ?""", (pair["tender_id"],))[0])
            matches = tuple(
                TenderMatchRow.from_mapping(
                    m, new=(m["id"] > pair["told_match"] and m["origin"] != "baseline"
                            and m["matched_at"] >= low))
                for m in self._rows(
                    """SELECT * FROM tender_matches WHERE tender_id = ? AND watch = ?
                       AND matched_at <= ? ORDER BY id""",
                    (pair["tender_id"], pair["watch"], high)))
            events = tuple(event_row(r) for r in self._rows(
                """SELECT * FROM tender_events WHERE tender_id = ? AND id > ?
                   AND seen_at >= ? AND seen_at >= ? AND seen_at <= ? ORDER BY id""",
                (pair["tender_id"], pair["told_event"], pair["first_matched_at"], low, high),
            ))
            flags = tuple(r["summary"] for r in self._rows(
                """SELECT summary FROM tender_flags WHERE tender_id = ? AND version = ?
                   AND state = 'flagged' ORDER BY rowid""", (tender.id, tender.version)))
            out.append(TenderNews(
                tender=tender, watch=pair["watch"], first_matched_at=pair["first_matched_at"],
                told_match=pair["told_match"], told_event=pair["told_event"],
                matches=matches, events=events, flags=flags))
        return out

    def queue_digest(
        self,
        *,
        recipient: str,
        subject: str,
        message_id: str,
        message: bytes,
        match_ids: Sequence[int],
        until: str,
        eml_path: str | None,
        html_path: str | None,
        findings: int,
        health: Sequence[tuple[str, str]] = (),
        tenders: Sequence[tuple[int, str, int, int]] = (),
    ) -> int:
        """Put a composed digest in the outbox and record its matches as delivered to the
        recipient, atomically: a match is in exactly one digest per recipient. `health` is
        what the digest tells about sources, (source, health), recorded in the same
        transaction: a recipient is told once, and only by a digest that was queued.
        `tenders`: (tender_id, watch, last match id, last event id) the digest told of."""
        with self._write() as conn:
            cursor = conn.execute(
                """INSERT INTO outbox (recipient, subject, message_id, message, status,
                   created_at, eml_path, html_path, findings)
                   VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)""",
                (recipient, subject, message_id, message, utcnow(), eml_path, html_path,
                 findings),
            )
            outbox_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO deliveries (match_id, recipient, outbox_id) VALUES (?, ?, ?)",
                [(match_id, recipient, outbox_id) for match_id in match_ids],
            )
            for tender_id, watch, match_id, event_id in tenders:
                told = conn.execute(
                    """SELECT match_id, event_id FROM tender_deliveries
                       WHERE recipient = ? AND tender_id = ? AND watch = ?""",
                    (recipient, tender_id, watch),
                ).fetchone()
                if told is not None and told[0] >= match_id and told[1] >= event_id:
                    # another process told this recipient first: roll back, as a duplicate
                    # article match does through the deliveries' primary key
                    raise sqlite3.IntegrityError(
                        f"tender {tender_id} for {watch!r} already queued for {recipient}")
            conn.executemany(
                """INSERT INTO tender_deliveries (recipient, tender_id, watch, match_id,
                   event_id, outbox_id) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (recipient, tender_id, watch) DO UPDATE SET
                   match_id = MAX(match_id, excluded.match_id),
                   event_id = MAX(event_id, excluded.event_id),
                   outbox_id = excluded.outbox_id""",
                [(recipient, tender_id, watch, match_id, event_id, outbox_id)
                 for tender_id, watch, match_id, event_id in tenders],
            )
            self._mark_digest(conn, recipient, until, health)
        return outbox_id

    def mark_digest(self, recipient: str, until: str,
                    health: Sequence[tuple[str, str]] = ()) -> None:
        """Close a digest window that produced no email (nothing new, no source to report);
        `health` as for `queue_digest`."""
        with self._write() as conn:
            self._mark_digest(conn, recipient, until, health)

    @staticmethod
    def _mark_digest(conn: sqlite3.Connection, recipient: str, until: str,
                     health: Sequence[tuple[str, str]] = ()) -> None:
        conn.execute(
            """INSERT INTO digests (recipient, last_digest_at) VALUES (?, ?)
               ON CONFLICT (recipient) DO UPDATE SET last_digest_at = excluded.last_digest_at""",
            (recipient, until),
        )
        # reported when the digest was made (its `until`), the clock health_news reads
        conn.executemany(
            """INSERT INTO health_reports (recipient, source, health, reported_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT (recipient, source) DO UPDATE SET health = excluded.health,
               reported_at = excluded.reported_at""",
            [(recipient, source, state, until) for source, state in health],
        )

    def queued_messages(self, *, due_only: bool = False) -> list[OutboxRow]:
        """Queued digests and alerts, message included, oldest first; `due_only`: those whose
        retry time has come."""
        sql = "SELECT * FROM outbox WHERE status = 'queued'"
        if due_only:
            sql += " AND COALESCE(next_attempt_at, '') <= ?"
            return self._outbox_rows(sql + " ORDER BY id", (utcnow(),))
        return self._outbox_rows(sql + " ORDER BY id")

    def _outbox_rows(self, sql: str, params: Sequence[Any] = ()) -> list[OutboxRow]:
        return [OutboxRow.from_mapping(r) for r in self._rows(sql, params)]

    def outbox(self, limit: int = 50) -> list[OutboxRow]:
        """The newest digests, without their message."""
        return self._outbox_rows(
            "SELECT id, recipient, subject, status, created_at, attempts, last_error, sent_at, "
            "sent_via, eml_path, html_path, findings, kind, channel, alert_id FROM outbox "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )

    def claim(self, outbox_id: int, owner: str) -> bool:
        """Take a queued message for sending. False when another sender has it, or it was
        sent meanwhile: then leave it alone."""
        with self._write() as conn:
            cursor = conn.execute(
                """UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ?
                   WHERE id = ? AND status = 'queued'""",
                (owner, utcnow(), outbox_id),
            )
            return cursor.rowcount == 1

    def release_claims(self, *, dead_owners: Sequence[str] = (),
                       older_than: timedelta = timedelta(minutes=15)) -> int:
        """Put back in the queue messages whose sender died mid-send (a named dead owner, or a
        claim older than `older_than`). Such a message may have reached the server: it is
        sent again with the same Message-ID, which mail clients recognise."""
        cutoff = (datetime.now(UTC) - older_than).replace(microsecond=0).isoformat()
        owners = list(dead_owners)
        marks = ", ".join("?" for _ in owners) or "NULL"
        with self._write() as conn:
            cursor = conn.execute(
                f"""UPDATE outbox SET status = 'queued', claimed_by = NULL, claimed_at = NULL
                    WHERE status = 'sending' AND (claimed_at < ? OR claimed_by IN ({marks}))""",
                (cutoff, *owners),
            )
            return cursor.rowcount

    def claims(self) -> list[OutboxRow]:
        """Digests being sent, with who claimed them and when."""
        return self._outbox_rows(
            "SELECT id, recipient, subject, status, created_at, claimed_by, claimed_at, kind, "
            "channel FROM outbox WHERE status = 'sending'")

    def mark_sent(self, outbox_id: int, via: str) -> None:
        now = utcnow()
        with self._write() as conn:
            conn.execute(
                """UPDATE outbox SET status = 'sent', sent_at = ?, sent_via = ?,
                   attempts = attempts + 1, last_attempt_at = ?, last_error = NULL,
                   claimed_by = NULL, claimed_at = NULL
                   WHERE id = ? AND status IN ('queued', 'sending')""",
                (now, via, now, outbox_id),
            )

    def mark_attempt_failed(self, outbox_id: int, error: str, *, permanent: bool = False,
                            max_attempts: int = MAX_SEND_ATTEMPTS) -> bool:
        """Keep the message queued and retry after 1, 2, 4 ... minutes, at most an hour; or,
        when the server refused it for good (`permanent`) or after `max_attempts`, mark it
        `failed`: kept, never retried, shown by `monitor status` and the next digest.
        Returns True when the message was given up."""
        with self._write() as conn:
            row = conn.execute("SELECT attempts FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
            if row is None:
                return False
            attempts = row[0]
            given_up = permanent or attempts + 1 >= max_attempts
            delay = timedelta(minutes=min(60, 2**attempts))
            now = datetime.now(UTC).replace(microsecond=0)
            conn.execute(
                """UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?,
                   next_attempt_at = ?, last_error = ?, status = ?,
                   claimed_by = NULL, claimed_at = NULL
                   WHERE id = ? AND status IN ('queued', 'sending')""",
                (now.isoformat(), None if given_up else (now + delay).isoformat(), error,
                 "failed" if given_up else "queued", outbox_id),
            )
            return given_up

    def failed_messages(self, after: str | None = None) -> list[OutboxRow]:
        """Digests given up (status `failed`), oldest first; with `after`, those given up
        since then."""
        return self._outbox_rows(
            """SELECT id, recipient, subject, status, created_at, attempts, last_attempt_at,
                      last_error, eml_path, kind, channel, alert_id FROM outbox
               WHERE status = 'failed' AND COALESCE(last_attempt_at, '') >= COALESCE(?, '')
               ORDER BY id""", (after,))
