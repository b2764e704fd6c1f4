"""All SQLite access: items and their versions, matches, runs, the digest outbox, tenders with
their versions and events, and where portal spiders stopped reading.

One file, `<state>/monitor.db`, in WAL mode so the crawler child writes while the daemon or a
digest reads. Every write is one `BEGIN IMMEDIATE` transaction: two processes never interleave
a read-then-write, and a process killed mid-crawl loses at most the item it was writing.
The schema is a list of named migrations, applied on open.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Self

import sqlite_utils
from sqlite_utils.migrations import Migrations

from monitor.errors import StoreError
from monitor.models import (
    Item,
    Match,
    PortalCursor,
    RunResult,
    StoreOutcome,
    TenderOutcome,
    TenderRecord,
)
from monitor.tender import diff_tenders, hash_tender, stored_fields

__all__ = ["Store", "utcnow"]

DB_NAME = "monitor.db"
BUSY_TIMEOUT_S = 60
# a digest the SMTP server keeps refusing is given up after this many tries (about a day
# with the back-off capped at an hour) and reported instead of retried forever
MAX_SEND_ATTEMPTS = 30

migrations = Migrations("monitor")


@migrations(name="001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            published_at TEXT,
            language TEXT,
            content_hash TEXT NOT NULL,
            raw_hash TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            first_run_id INTEGER,
            UNIQUE (source, key)
        );
        CREATE INDEX items_source_url ON items (source, url);
        CREATE TABLE item_versions (
            item_id INTEGER NOT NULL REFERENCES items (id),
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            published_at TEXT,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (item_id, version)
        );
        CREATE TABLE matches (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items (id),
            watch TEXT NOT NULL,
            term TEXT NOT NULL,
            term_kind TEXT NOT NULL,
            field TEXT NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            found TEXT NOT NULL,
            snippet TEXT NOT NULL,
            snippet_start INTEGER NOT NULL,
            snippet_end INTEGER NOT NULL,
            run_id INTEGER,
            matched_at TEXT NOT NULL,
            UNIQUE (item_id, watch, field, term, found)
        );
        CREATE INDEX matches_watch ON matches (watch, matched_at);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            seconds REAL,
            fetched INTEGER NOT NULL DEFAULT 0,
            new_items INTEGER NOT NULL DEFAULT 0,
            changed_items INTEGER NOT NULL DEFAULT 0,
            new_matches INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            pid INTEGER
        );
        CREATE INDEX runs_source_started ON runs (source, started_at);
        CREATE INDEX runs_finished ON runs (finished_at);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            message BLOB NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            next_attempt_at TEXT,
            last_error TEXT,
            sent_at TEXT,
            sent_via TEXT,
            eml_path TEXT,
            html_path TEXT,
            findings INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX outbox_status ON outbox (status);
        CREATE TABLE deliveries (
            match_id INTEGER NOT NULL REFERENCES matches (id),
            recipient TEXT NOT NULL,
            outbox_id INTEGER NOT NULL REFERENCES outbox (id),
            PRIMARY KEY (match_id, recipient)
        );
        CREATE TABLE digests (
            recipient TEXT PRIMARY KEY,
            last_digest_at TEXT NOT NULL
        );
        """
    )


@migrations(name="002_outbox_claims")
def _outbox_claims(db: sqlite_utils.Database) -> None:
    # a sender claims a message (status 'sending') before talking to the SMTP server, so two
    # processes delivering at once never send the same digest twice
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_at TEXT")


@migrations(name="003_run_items_and_health_reports")
def _run_items_and_health_reports(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- items a run saw, new or not: a run that sees none where earlier runs saw some is
        -- how a changed site layout shows (health: suspect)
        ALTER TABLE runs ADD COLUMN items INTEGER NOT NULL DEFAULT 0;
        -- what each recipient was last told about each source's health, so a failing
        -- source is named once (and again weekly), and its recovery once
        CREATE TABLE health_reports (
            recipient TEXT NOT NULL,
            source TEXT NOT NULL,
            health TEXT NOT NULL,
            reported_at TEXT NOT NULL,
            PRIMARY KEY (recipient, source)
        );
        """
    )


@migrations(name="010_tenders")
def _tenders(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- procurement records from portal spiders: the current version's fields as JSON
        -- (`record`), with the ones worth querying as columns
        CREATE TABLE tenders (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT '',
            buyer_name TEXT,
            buyer_id TEXT,
            value REAL,
            currency TEXT,
            published_at TEXT,
            deadline_at TEXT,
            -- the portal's last-modified stamp: an unchanged stamp skips the details
            modified_at TEXT,
            record TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            raw_hash TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            first_run_id INTEGER,
            UNIQUE (source, native_id)
        );
        CREATE TABLE tender_versions (
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            record TEXT NOT NULL,
            run_id INTEGER,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (tender_id, version)
        );
        -- what changed between a version and the one before, field by field; old and new
        -- are JSON values
        CREATE TABLE tender_events (
            id INTEGER PRIMARY KEY,
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            field TEXT NOT NULL,
            old TEXT,
            new TEXT,
            run_id INTEGER,
            seen_at TEXT NOT NULL
        );
        CREATE INDEX tender_events_tender ON tender_events (tender_id, version);
        CREATE INDEX tender_events_seen ON tender_events (seen_at);
        -- where each portal source's feed reading stopped; `url` is the API base the cursor
        -- belongs to, `state` spider-specific extras as JSON
        CREATE TABLE portal_cursors (
            source TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            cursor TEXT,
            state TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        );
        """
    )


@migrations(name="004_match_variant_via")
def _match_variant_via(db: sqlite_utils.Database) -> None:
    # a match from a generated transliteration records it; a match through a related
    # organisation (parent, subsidiary, distributor) records which
    db.execute("ALTER TABLE matches ADD COLUMN variant TEXT")
    db.execute("ALTER TABLE matches ADD COLUMN via TEXT")


def utcnow() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _json(value: Any) -> str:
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


@migrations(name="005_match_origin")
def _match_origin(db: sqlite_utils.Database) -> None:
    # 'crawl' or 'rematch': a match found by re-matching stored items is old news
    db.execute("ALTER TABLE matches ADD COLUMN origin TEXT NOT NULL DEFAULT 'crawl'")


@migrations(name="011_tender_matches")
def _tender_matches(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- watches found in a tender: `field` is the role (winner / bidder / buyer) or the
        -- text (title / body); `version` the tender's version when first found; origin
        -- 'crawl', 'baseline' (a portal source's first run: stored, not news) or 'rematch'
        CREATE TABLE tender_matches (
            id INTEGER PRIMARY KEY,
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            watch TEXT NOT NULL,
            term TEXT NOT NULL,
            term_kind TEXT NOT NULL,
            field TEXT NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            found TEXT NOT NULL,
            snippet TEXT NOT NULL,
            snippet_start INTEGER NOT NULL,
            snippet_end INTEGER NOT NULL,
            variant TEXT,
            via TEXT,
            version INTEGER NOT NULL,
            run_id INTEGER,
            matched_at TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT 'crawl',
            UNIQUE (tender_id, watch, field, term, found)
        );
        CREATE INDEX tender_matches_watch ON tender_matches (watch, tender_id);
        -- how far each recipient has been told about a tender for a watch: the last match
        -- and the last event put in one of their digests
        CREATE TABLE tender_deliveries (
            recipient TEXT NOT NULL,
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            watch TEXT NOT NULL,
            match_id INTEGER NOT NULL DEFAULT 0,
            event_id INTEGER NOT NULL DEFAULT 0,
            outbox_id INTEGER NOT NULL REFERENCES outbox (id),
            PRIMARY KEY (recipient, tender_id, watch)
        );
        """
    )


@migrations(name="012_run_warnings")
def _run_warnings(db: sqlite_utils.Database) -> None:
    # what a run noticed without failing (a feed cut at max_items, text that looks
    # mis-decoded, a portal cursor restarted): a JSON list of sentences, NULL when none
    db.execute("ALTER TABLE runs ADD COLUMN warnings TEXT")


@migrations(name="013_run_backfill")
def _run_backfill(db: sqlite_utils.Database) -> None:
    # `monitor crawl SOURCE --since DATE`: the run reads old records on purpose, and the
    # digest that reports them says it is a backfill
    db.execute("ALTER TABLE runs ADD COLUMN backfill_since TEXT")


def _item_from_row(row: dict[str, Any]) -> Item:
    return Item(
        source=row["source"], key=row["key"], url=row["url"], title=row["title"],
        text=row["text"], published_at=row["published_at"], content_hash=row["content_hash"],
        raw_hash=row["raw_hash"], language=row["language"],
    )


class Store:
    """The database of one state directory. Open it, use it, `close()` it (or `with`)."""

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

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, source: str, pid: int | None = None, *,
                  backfill_since: str | None = None) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                """INSERT INTO runs (source, status, started_at, pid, backfill_since)
                   VALUES (?, 'running', ?, ?, ?)""",
                (source, utcnow(), pid, backfill_since),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, result: RunResult) -> None:
        finished = utcnow()
        with self._write() as conn:
            conn.execute(
                """UPDATE runs SET status = ?, finished_at = ?, seconds = ?, fetched = ?,
                   items = ?, new_items = ?, changed_items = ?, new_matches = ?, errors = ?,
                   error = ?, warnings = ?
                   WHERE id = ? AND status = 'running'""",
                (
                    result.status, finished, round(result.seconds, 3), result.fetched,
                    result.items, result.new_items, result.changed_items, result.new_matches,
                    result.errors, result.error,
                    _json(result.warnings) if result.warnings else None, run_id,
                ),
            )

    def close_runs(self, run_ids: Sequence[int], status: str, error: str) -> int:
        """Close runs left `running` by a process that died; their counts are rebuilt from
        what was stored. Returns how many were closed."""
        closed = 0
        finished = utcnow()
        with self._write() as conn:
            for run_id in run_ids:
                counts = conn.execute(
                    """SELECT
                         (SELECT COUNT(*) FROM items WHERE first_run_id = :r)
                         + (SELECT COUNT(*) FROM tenders WHERE first_run_id = :r),
                         (SELECT COUNT(*) FROM matches WHERE run_id = :r)""",
                    {"r": run_id},
                ).fetchone()
                cursor = conn.execute(
                    """UPDATE runs SET status = ?, finished_at = ?, error = ?, new_items = ?,
                       new_matches = ?, errors = errors + 1,
                       seconds = ROUND((julianday(?) - julianday(started_at)) * 86400, 3)
                       WHERE id = ? AND status = 'running'""",
                    (status, finished, error, counts[0], counts[1], finished, run_id),
                )
                closed += cursor.rowcount
        return closed

    def relabel_run(self, run_id: int, status: str, error: str) -> None:
        """Correct a finished run's status (a graceful stop that was really a time limit)."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET status = ?, error = ? WHERE id = ?",
                         (status, error, run_id))

    def _runs(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of `runs`, with `warnings` as a list."""
        rows = self._rows(sql, params)
        for row in rows:
            row["warnings"] = json.loads(row["warnings"]) if row.get("warnings") else []
        return rows

    def run(self, run_id: int) -> dict[str, Any] | None:
        rows = self._runs("SELECT * FROM runs WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def running_runs(self) -> list[dict[str, Any]]:
        return self._runs("SELECT * FROM runs WHERE status = 'running' ORDER BY id")

    def recent_runs(self, source: str, limit: int = 20) -> list[dict[str, Any]]:
        """A source's finished runs, newest first."""
        return self._runs(
            """SELECT * FROM runs WHERE source = ? AND status != 'running'
               ORDER BY started_at DESC, id DESC LIMIT ?""",
            (source, limit),
        )

    def last_run(self, source: str, statuses: Sequence[str] | None = None, *,
                 min_items: int = 0) -> dict[str, Any] | None:
        """A source's newest finished run; with `statuses`, the newest with one of them (and
        at least `min_items` items seen)."""
        sql = "SELECT * FROM runs WHERE source = ? AND status != 'running' AND items >= ?"
        params: list[Any] = [source, min_items]
        if statuses is not None:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        rows = self._runs(sql + " ORDER BY started_at DESC, id DESC LIMIT 1", params)
        return rows[0] if rows else None

    def count_runs(self, source: str, statuses: Sequence[str], *,
                   after: dict[str, Any] | None = None) -> tuple[int, str | None]:
        """How many of a source's runs with one of `statuses` started after the run `after`
        (a row from `last_run`; None: ever), and when the first of them started."""
        sql = (f"SELECT COUNT(*), MIN(started_at) FROM runs WHERE source = ? "
               f"AND status IN ({', '.join('?' for _ in statuses)})")
        params: list[Any] = [source, *statuses]
        if after is not None:
            sql += " AND (started_at, id) > (?, ?)"
            params.extend((after["started_at"], after["id"]))
        count, first = self.db.conn.execute(sql, params).fetchone()
        return int(count), first

    def last_started(self) -> dict[str, str]:
        """Source -> when its last run (finished or not) started."""
        rows = self.db.conn.execute("SELECT source, MAX(started_at) FROM runs GROUP BY source")
        return dict(rows.fetchall())

    def items_since(self, since: str) -> dict[str, int]:
        """Source -> items (and tenders) first seen since `since`."""
        rows = self.db.conn.execute(
            """SELECT source, COUNT(*) FROM (
                 SELECT source FROM items WHERE first_seen_at >= :since
                 UNION ALL SELECT source FROM tenders WHERE first_seen_at >= :since)
               GROUP BY source""",
            {"since": since},
        )
        return dict(rows.fetchall())

    def health_reports(self, recipient: str) -> dict[str, dict[str, Any]]:
        rows = self._rows("SELECT * FROM health_reports WHERE recipient = ?", (recipient,))
        return {row["source"]: row for row in rows}

    def runs_finished_between(self, after: str | None, until: str) -> list[dict[str, Any]]:
        return self._runs(
            """SELECT * FROM runs WHERE finished_at IS NOT NULL
               AND finished_at > COALESCE(?, '') AND finished_at <= ?
               ORDER BY source, finished_at""",
            (after, until),
        )

    # -- items ------------------------------------------------------------------------------

    def raw_hashes(self, source: str) -> dict[str, str]:
        """URL -> raw body hash of the source's stored items, so spiders skip extracting
        pages that did not change."""
        rows = self.db.conn.execute(
            "SELECT url, raw_hash FROM items WHERE source = ? AND raw_hash IS NOT NULL",
            (source,),
        )
        return dict(rows.fetchall())

    def touch(self, source: str, url: str) -> bool:
        """Mark an unchanged page as seen again. False when no item has that URL."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE items SET last_seen_at = ? WHERE source = ? AND url = ?",
                (utcnow(), source, url),
            )
            return cursor.rowcount > 0

    def add(self, item: Item, matches: Sequence[Match], run_id: int | None = None) -> StoreOutcome:
        """Store an item (new, changed or unchanged by content hash) and its matches.
        Matches already stored for the item are not added again."""
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, content_hash, version FROM items WHERE source = ? AND key = ?",
                (item.source, item.key),
            ).fetchone()
            if row is None:
                cursor = conn.execute(
                    """INSERT INTO items (source, key, url, title, text, published_at, language,
                       content_hash, raw_hash, version, first_seen_at, last_seen_at, changed_at,
                       first_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)""",
                    (
                        item.source, item.key, item.url, item.title, item.text,
                        item.published_at, item.language, item.content_hash, item.raw_hash,
                        now, now, now, run_id,
                    ),
                )
                item_id, state, version = int(cursor.lastrowid or 0), "new", 1
            elif row[1] == item.content_hash:
                conn.execute(
                    "UPDATE items SET last_seen_at = ?, raw_hash = COALESCE(?, raw_hash) "
                    "WHERE id = ?",
                    (now, item.raw_hash, row[0]),
                )
                return StoreOutcome(item_id=row[0], state="unchanged", new_matches=0)
            else:
                item_id, state, version = row[0], "changed", row[2] + 1
                conn.execute(
                    """UPDATE items SET url = ?, title = ?, text = ?, published_at = ?,
                       language = ?, content_hash = ?, raw_hash = ?, version = ?,
                       last_seen_at = ?, changed_at = ? WHERE id = ?""",
                    (
                        item.url, item.title, item.text, item.published_at, item.language,
                        item.content_hash, item.raw_hash, version, now, now, item_id,
                    ),
                )
            conn.execute(
                """INSERT INTO item_versions (item_id, version, content_hash, title, text,
                   published_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (item_id, version, item.content_hash, item.title, item.text,
                 item.published_at, now),
            )
            new_matches = len(self._insert_matches(conn, item_id, matches, run_id, "crawl"))
        return StoreOutcome(item_id=item_id, state=state, new_matches=new_matches)

    @staticmethod
    def _insert_matches(conn: sqlite3.Connection, item_id: int, matches: Sequence[Match],
                        run_id: int | None, origin: str) -> list[Match]:
        """Insert matches not stored yet; returns those that were new."""
        now = utcnow()
        added = []
        for m in matches:
            cursor = conn.execute(
                """INSERT OR IGNORE INTO matches (item_id, watch, term, term_kind, field,
                   start, "end", found, snippet, snippet_start, snippet_end, run_id,
                   matched_at, variant, via, origin)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    item_id, m.watch, m.term, m.term_kind, m.field, m.start, m.end,
                    m.found, m.snippet, m.snippet_start, m.snippet_end, run_id, now,
                    m.variant, m.via, origin,
                ),
            )
            if cursor.rowcount:
                added.append(m)
        return added

    def add_rematches(self, item_id: int, matches: Sequence[Match]) -> list[Match]:
        """Matches found by re-matching a stored item (`monitor rematch`); those already
        stored are not added again. Returns the new ones."""
        with self._write() as conn:
            return self._insert_matches(conn, item_id, matches, None, "rematch")

    def item(self, item_id: int) -> Item | None:
        rows = self._rows("SELECT * FROM items WHERE id = ?", (item_id,))
        return _item_from_row(rows[0]) if rows else None

    def iter_items(self, batch: int = 500) -> Iterator[tuple[int, Item]]:
        """Every stored item with its id, in id order, read in batches."""
        last = 0
        while True:
            rows = self._rows("SELECT * FROM items WHERE id > ? ORDER BY id LIMIT ?",
                              (last, batch))
            if not rows:
                return
            for row in rows:
                yield row["id"], _item_from_row(row)
            last = rows[-1]["id"]

    def findings(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """Stored matches with their item's title, source and URL, grouped by watch."""
        return self._rows(
            """SELECT m.watch, i.title, i.source, m.field, m.found, m.term, i.url,
                      i.published_at
               FROM matches m JOIN items i ON i.id = m.item_id
               ORDER BY m.watch, i.source, i.id, m.field DESC LIMIT ?""",
            (limit,),
        )

    def tender_findings(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """Stored tender matches with their tender's number, title, source, status and URL,
        grouped by watch."""
        return self._rows(
            """SELECT m.watch, t.native_id, t.title, t.source, t.status, m.field, m.found,
                      m.term, t.url
               FROM tender_matches m JOIN tenders t ON t.id = m.tender_id
               ORDER BY m.watch, t.source, t.id, m.id LIMIT ?""",
            (limit,),
        )

    def count(self, table: str) -> int:
        return int(self.db.conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

    # -- tenders ----------------------------------------------------------------------------

    def add_tender(self, record: TenderRecord, run_id: int | None = None, *,
                   baseline: bool = False, matches: Sequence[Match] = ()) -> TenderOutcome:
        """Store a (normalised) tender record: a new tender, a new version of a changed one
        with the events that describe the change, or, when its content hash is unchanged,
        only the time it was seen; with the watches' `matches` in it (those not stored
        yet). `baseline`: the source's first run, where a tender first seen already awarded
        gets no `awarded` event and its matches are stored as old news."""
        now = utcnow()
        digest = hash_tender(record)
        text = _json(stored_fields(record))
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
                [(tender_id, version, e.kind, e.field, _json(e.old), _json(e.new), run_id, now)
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
                (cursor.source, cursor.url, cursor.cursor, _json(cursor.state), utcnow()),
            )

    # -- digest and outbox ------------------------------------------------------------------

    def last_digest_at(self, recipient: str) -> str | None:
        row = self.db.conn.execute(
            "SELECT last_digest_at FROM digests WHERE recipient = ?", (recipient,)
        ).fetchone()
        return row[0] if row else None

    def undelivered_matches(
        self, recipient: str, watches: Sequence[str], *, since: str | None = None
    ) -> list[dict[str, Any]]:
        """Matches of these watches not yet put in a digest for this recipient, with their
        item's fields, newest first."""
        if not watches:
            return []
        marks = ", ".join("?" for _ in watches)
        return self._rows(
            f"""SELECT m.id AS match_id, m.watch, m.term, m.term_kind, m.field, m.found,
                       m.snippet, m.snippet_start, m.snippet_end, m.matched_at, m.variant,
                       m.via, m.origin,
                       i.id AS item_id, i.source, i.url, i.title, i.published_at,
                       i.first_seen_at, i.version, i.content_hash
                FROM matches m JOIN items i ON i.id = m.item_id
                WHERE m.watch IN ({marks}) AND m.matched_at >= COALESCE(?, '')
                  AND NOT EXISTS (SELECT 1 FROM deliveries d
                                  WHERE d.match_id = m.id AND d.recipient = ?)
                ORDER BY COALESCE(i.published_at, i.first_seen_at) DESC, m.id""",
            (*watches, since, recipient),
        )

    def undelivered_tenders(
        self, recipient: str, watches: Sequence[str], *, since: str | None = None,
        until: str | None = None,
    ) -> list[dict[str, Any]]:
        """(tender, watch) pairs with news for this recipient: a match of the watch not yet
        in one of their digests (baseline matches are not news), or an event of a tender the
        watch matched, seen since it first matched and not yet in one of their digests.
        Each row carries the tender (`record` decoded), all the watch's `matches` in it with
        `new` set on the undelivered ones, and the undelivered `events`, oldest first.
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
            tender = self._rows("SELECT * FROM tenders WHERE id = ?", (pair["tender_id"],))[0]
            tender["record"] = json.loads(tender["record"])
            matches = self._rows(
                """SELECT * FROM tender_matches WHERE tender_id = ? AND watch = ?
                   AND matched_at <= ? ORDER BY id""",
                (pair["tender_id"], pair["watch"], high),
            )
            for m in matches:
                m["new"] = (m["id"] > pair["told_match"] and m["origin"] != "baseline"
                            and m["matched_at"] >= low)
            events = self._rows(
                """SELECT * FROM tender_events WHERE tender_id = ? AND id > ?
                   AND seen_at >= ? AND seen_at >= ? AND seen_at <= ? ORDER BY id""",
                (pair["tender_id"], pair["told_event"], pair["first_matched_at"], low, high),
            )
            for event in events:
                event["old"] = json.loads(event["old"])
                event["new"] = json.loads(event["new"])
            out.append({**pair, "tender": tender, "matches": matches, "events": events})
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

    def queued_messages(self, *, due_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM outbox WHERE status = 'queued'"
        if due_only:
            sql += " AND COALESCE(next_attempt_at, '') <= ?"
            return self._rows(sql + " ORDER BY id", (utcnow(),))
        return self._rows(sql + " ORDER BY id")

    def outbox(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT id, recipient, subject, status, created_at, attempts, last_error, sent_at, "
            "sent_via, eml_path, html_path, findings FROM outbox ORDER BY id DESC LIMIT ?",
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

    def claims(self) -> list[dict[str, Any]]:
        return self._rows("SELECT id, claimed_by, claimed_at FROM outbox WHERE status = 'sending'")

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

    def failed_messages(self, after: str | None = None) -> list[dict[str, Any]]:
        """Digests given up (status `failed`), oldest first; with `after`, those given up
        since then."""
        return self._rows(
            """SELECT id, recipient, subject, created_at, attempts, last_attempt_at,
                      last_error, eml_path FROM outbox
               WHERE status = 'failed' AND COALESCE(last_attempt_at, '') >= COALESCE(?, '')
               ORDER BY id""", (after,))
