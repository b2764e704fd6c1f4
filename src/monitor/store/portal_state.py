"""Where each portal spider stopped reading: its cursor per feed URL."""

from __future__ import annotations

import json

from monitor.models import PortalCursor
from monitor.store.db import Database, to_json, utcnow


class PortalStateStore(Database):
    """Portal cursors."""
    def portal_cursor(self, source: str, url: str) -> PortalCursor | None:
        """Where the source's last run stopped reading its portal; None when it never ran or
        its cursor belongs to another API URL."""
        row = self.db.conn.execute(
            "SELECT cursor, state FROM portal_cursors WHERE source = ? AND url = ?",
            (source, url),
        ).fetchone()
        if row is None:
            return None
        return PortalCursor(source=source, url=url, cursor=row[0], state=json.loads(row[1]))

    def save_portal_cursor(self, cursor: PortalCursor) -> None:
        with self._write() as conn:
            conn.execute(
                """INSERT INTO portal_cursors (source, url, cursor, state, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (source) DO UPDATE SET url = excluded.url,
                   cursor = excluded.cursor, state = excluded.state,
                   updated_at = excluded.updated_at""",
                (cursor.source, cursor.url, cursor.cursor, to_json(cursor.state), utcnow()),
            )
