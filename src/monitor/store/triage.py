"""SQLite: what people said of findings in `monitor web` (triage), the audit log of every
action there, and the tokens of its Atom feeds."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from typing import Any

from monitor.errors import StoreError
from monitor.store.db import Database, to_json, utcnow
from monitor.store.rows import AuditRow, FeedTokenRow, TriageRow

TRIAGE_STATES = ("relevant", "not_relevant", "follow_up")
FINDING_KINDS = ("article", "tender")


class TriageStore(Database):
    def set_triage(self, kind: str, ref_id: int, state: str | None, *, user: str,
                   note: str = "") -> TriageRow | None:
        """Mark a finding (`state` None: back to not looked at), with the audit entry, in
        one transaction."""
        if kind not in FINDING_KINDS:
            raise StoreError(f"triage: kind {kind!r} is not one of {', '.join(FINDING_KINDS)}")
        if state is not None and state not in TRIAGE_STATES:
            raise StoreError(f"triage: state {state!r} is not one of "
                             f"{', '.join(TRIAGE_STATES)}")
        now = utcnow()
        with self._write() as conn:
            table = "items" if kind == "article" else "tenders"
            if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (ref_id,)).fetchone() is None:
                raise StoreError(f"triage: no {kind} with id {ref_id}")
            if state is None:
                conn.execute("DELETE FROM triage WHERE kind = ? AND ref_id = ?", (kind, ref_id))
            else:
                conn.execute(
                    """INSERT INTO triage (kind, ref_id, state, note, user, at)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (kind, ref_id) DO UPDATE SET state = excluded.state,
                       note = excluded.note, user = excluded.user, at = excluded.at""",
                    (kind, ref_id, state, note, user, now))
            self._audit(conn, user, "triage", f"{kind}:{ref_id}",
                        {"state": state, "note": note}, now)
        return TriageRow(kind, ref_id, state, note, user, now) if state else None

    def triage_of(self, kind: str, ref_id: int) -> TriageRow | None:
        rows = self._rows("SELECT * FROM triage WHERE kind = ? AND ref_id = ?", (kind, ref_id))
        return TriageRow.from_mapping(rows[0]) if rows else None

    def dismissed(self, kind: str, ref_ids: Iterable[int]) -> set[int]:
        """Those of `ref_ids` marked not relevant: left out of digests."""
        ids = list(ref_ids)
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found |= {row[0] for row in self.db.conn.execute(
                f"""SELECT ref_id FROM triage WHERE kind = ? AND state = 'not_relevant'
                    AND ref_id IN ({marks})""", (kind, *chunk))}
        return found

    def audit(self, user: str, action: str, target: str,
              detail: dict[str, Any] | None = None) -> None:
        """Record an action taken outside the store (a mute written to the watch file)."""
        with self._write() as conn:
            self._audit(conn, user, action, target, detail or {}, utcnow())

    @staticmethod
    def _audit(conn: Any, user: str, action: str, target: str, detail: dict[str, Any],
               at: str) -> None:
        conn.execute("INSERT INTO audit_log (at, user, action, target, detail) "
                     "VALUES (?, ?, ?, ?, ?)", (at, user, action, target, to_json(detail)))

    def audit_log(self, target: str | None = None, limit: int = 200) -> list[AuditRow]:
        """The newest actions first, on one target (`article:12`) or all."""
        where, params = ("WHERE target = ?", [target]) if target else ("", [])
        return [AuditRow.from_mapping({**r, "detail": json.loads(r["detail"])})
                for r in self._rows(f"SELECT * FROM audit_log {where} ORDER BY id DESC "
                                    "LIMIT ?", (*params, limit))]

    def create_feed_token(self, kind: str, target: str, *, user: str) -> FeedTokenRow:
        """A new secret feed URL token for a watch or a saved search."""
        token = secrets.token_urlsafe(24)
        now = utcnow()
        with self._write() as conn:
            conn.execute("INSERT INTO feed_tokens (token, kind, target, user, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (token, kind, target, user, now))
            self._audit(conn, user, "feed_created", f"{kind}:{target}", {}, now)
        return FeedTokenRow(token, kind, target, user, now)

    def revoke_feed_token(self, token: str, *, user: str) -> bool:
        now = utcnow()
        with self._write() as conn:
            row = conn.execute("SELECT kind, target FROM feed_tokens WHERE token = ? AND "
                               "revoked_at IS NULL", (token,)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE feed_tokens SET revoked_at = ? WHERE token = ?", (now, token))
            self._audit(conn, user, "feed_revoked", f"{row[0]}:{row[1]}", {}, now)
        return True

    def feed_token(self, token: str) -> FeedTokenRow | None:
        """The live (not revoked) token."""
        rows = self._rows("SELECT * FROM feed_tokens WHERE token = ? AND revoked_at IS NULL",
                          (token,))
        return FeedTokenRow.from_mapping(rows[0]) if rows else None

    def feed_tokens(self) -> list[FeedTokenRow]:
        return [FeedTokenRow.from_mapping(r) for r in self._rows(
            "SELECT * FROM feed_tokens WHERE revoked_at IS NULL ORDER BY created_at DESC")]
