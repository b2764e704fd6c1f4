"""The SQLite database of one state directory: opening it (WAL, migrations), transactions,
rows.

One file, `<state>/monitor.db`, in WAL mode so the crawler child writes while the daemon or a
digest reads. Every write is one `BEGIN IMMEDIATE` transaction: two processes never interleave
a read-then-write, and a process killed mid-crawl loses at most the item it was writing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from monitor.errors import StoreError
from monitor.models import CapturedResponse
from monitor.store.migrations import migrations
from monitor.store.rows import CaptureRow

DB_NAME = "monitor.db"
BUSY_TIMEOUT_S = 60


def utcnow() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. Changing the journal mode needs a moment alone with the file and SQLite
    does not apply the busy timeout to it, so wait for other writers here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class Database:
    """The connection to one state directory's database, its transactions and row reading;
    the concerns (runs, items, tenders, portal state, outbox) build on it."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / DB_NAME
        conn: sqlite3.Connection | None = None
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are ours, opened explicitly with BEGIN IMMEDIATE
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            _enable_wal(conn)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.db = sqlite_utils.Database(conn)
            with self._write():
                migrations.apply(self.db)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cursor = self.db.conn.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    @staticmethod
    def _insert_captures(conn: sqlite3.Connection, captures: Sequence[CapturedResponse],
                         run_id: int | None, *, item_id: int | None = None,
                         tender_id: int | None = None, version: int) -> None:
        """Capture rows: what the responses an item or tender version was read from were."""
        conn.executemany(
            """INSERT INTO captures (sha256, url, final_url, status, headers, fetched_at, size,
               item_id, tender_id, version, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(c.sha256, c.url, c.final_url, c.status, to_json([list(h) for h in c.headers]),
              c.fetched_at, len(c.body), item_id, tender_id, version, run_id)
             for c in captures],
        )

    def _capture_rows(self, sql: str, params: Sequence[Any]) -> list[CaptureRow]:
        return [CaptureRow.from_mapping(
                    {**r, "headers": tuple(tuple(h) for h in json.loads(r["headers"]))})
                for r in self._rows(sql, params)]

    def count(self, table: str) -> int:
        return int(self.db.conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])
