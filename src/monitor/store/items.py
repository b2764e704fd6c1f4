"""Items (articles) with their versions, and their matches."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from monitor.furniture import Sighting
from monitor.models import CapturedResponse, Item, Match, StoreOutcome
from monitor.store.db import Database, utcnow
from monitor.store.furniture import learn_furniture
from monitor.store.rows import (
    ArticleMatchRow,
    CaptureRow,
    FindingRow,
    KnownPage,
    RemovedRow,
)
from monitor.store.search import index_item


def _item_from_row(row: dict[str, Any]) -> Item:
    return Item(
        source=row["source"], key=row["key"], url=row["url"], title=row["title"],
        text=row["text"], published_at=row["published_at"], content_hash=row["content_hash"],
        raw_hash=row["raw_hash"], language=row["language"],
    )


class ItemStore(Database):
    """Articles, their versions and matches."""

    def known_pages(self, source: str) -> dict[str, KnownPage]:
        """URL -> what is known of the source's stored article pages: their hash, when they
        were first seen and last fetched, their validators and listed date, so spiders fetch
        only what is due again, conditionally."""
        rows = self.db.conn.execute(
            """SELECT url, raw_hash, first_seen_at, last_seen_at, etag, last_modified, listed_at,
                      removed_at
               FROM items WHERE source = ?""",
            (source,),
        )
        return {url: KnownPage(*rest) for url, *rest in rows.fetchall()}

    def touch(self, source: str, url: str, *, etag: str | None = None,
              last_modified: str | None = None, listed_at: str | None = None) -> bool:
        """Mark an unchanged page as fetched again (with the validators and listed date it
        came with, where given). False when no item has that URL."""
        with self._write() as conn:
            cursor = conn.execute(
                """UPDATE items SET last_seen_at = ?, etag = COALESCE(?, etag),
                   last_modified = COALESCE(?, last_modified),
                   listed_at = COALESCE(?, listed_at)
                   WHERE source = ? AND url = ?""",
                (utcnow(), etag, last_modified, listed_at, source, url),
            )
            return cursor.rowcount > 0

    def add(self, item: Item, matches: Sequence[Match], run_id: int | None = None, *,
            capture: CapturedResponse | None = None,
            furniture: Sighting | None = None) -> StoreOutcome:
        """Store an item (new, changed or unchanged by content hash) and its matches.
        Matches already stored for the item are not added again. `capture`: the response
        it was read from (its body already kept by `monitor.evidence`), recorded as evidence
        of the version it is, unchanged ones included. `furniture`: the item's blocks,
        counted towards its source's furniture when the item is new (so each article is
        counted once)."""
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
                       first_run_id, etag, last_modified, listed_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        item.source, item.key, item.url, item.title, item.text,
                        item.published_at, item.language, item.content_hash, item.raw_hash,
                        now, now, now, run_id, item.etag, item.last_modified, item.listed_at,
                    ),
                )
                item_id, state, version = int(cursor.lastrowid or 0), "new", 1
                index_item(conn, item_id, item, replacing=False)
                if furniture is not None:
                    learn_furniture(conn, furniture)
            elif row[1] == item.content_hash:
                conn.execute(
                    """UPDATE items SET last_seen_at = ?, raw_hash = COALESCE(?, raw_hash),
                       etag = ?, last_modified = ?, listed_at = COALESCE(?, listed_at)
                       WHERE id = ?""",
                    (now, item.raw_hash, item.etag, item.last_modified, item.listed_at, row[0]),
                )
                self._insert_captures(conn, [capture] if capture else [], run_id,
                                      item_id=row[0], version=row[2])
                return StoreOutcome(item_id=row[0], state="unchanged", new_matches=0)
            else:
                item_id, state, version = row[0], "changed", row[2] + 1
                index_item(conn, item_id, item, replacing=True)
                conn.execute(
                    """UPDATE items SET url = ?, title = ?, text = ?, published_at = ?,
                       language = ?, content_hash = ?, raw_hash = ?, version = ?,
                       last_seen_at = ?, changed_at = ?, etag = ?, last_modified = ?,
                       listed_at = COALESCE(?, listed_at) WHERE id = ?""",
                    (
                        item.url, item.title, item.text, item.published_at, item.language,
                        item.content_hash, item.raw_hash, version, now, now, item.etag,
                        item.last_modified, item.listed_at, item_id,
                    ),
                )
            conn.execute(
                """INSERT INTO item_versions (item_id, version, content_hash, title, text,
                   published_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (item_id, version, item.content_hash, item.title, item.text,
                 item.published_at, now),
            )
            new_matches = len(self._insert_matches(conn, item_id, matches, run_id, "crawl"))
            self._insert_captures(conn, [capture] if capture else [], run_id, item_id=item_id,
                                  version=version)
        return StoreOutcome(item_id=item_id, state=state, new_matches=new_matches)

    def prune_unmatched_captures(self, before: str) -> int:
        """Delete capture rows fetched before `before` of items and tenders no watch matched;
        how many."""
        with self._write() as conn:
            cursor = conn.execute(
                """DELETE FROM captures WHERE fetched_at < ?
                   AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.item_id = captures.item_id)
                   AND NOT EXISTS (SELECT 1 FROM tender_matches t
                                   WHERE t.tender_id = captures.tender_id)""", (before,))
            return cursor.rowcount

    def capture_hashes(self) -> set[str]:
        """Every body hash a capture row names."""
        return {row[0] for row in self.db.conn.execute("SELECT DISTINCT sha256 FROM captures")}

    def mark_removed(self, source: str, url: str, reason: str) -> bool:
        """Record that a stored page was taken down (once: the first time counts). False
        when no item has that URL or it was already marked."""
        with self._write() as conn:
            cursor = conn.execute(
                """UPDATE items SET removed_at = ?, removed_reason = ?, last_seen_at = ?
                   WHERE source = ? AND url = ? AND removed_at IS NULL""",
                (utcnow(), reason, utcnow(), source, url))
            return cursor.rowcount > 0

    def removed_findings(self, after: str | None, until: str,
                         watches: Sequence[str]) -> list[RemovedRow]:
        """Items that matched one of `watches` and were taken down in (after, until], with
        their last capture."""
        if not watches:
            return []
        marks = ", ".join("?" for _ in watches)
        return [RemovedRow.from_mapping(r) for r in self._rows(
            f"""SELECT i.id AS item_id, i.source, i.url, i.title, i.removed_at,
                       i.removed_reason,
                       (SELECT GROUP_CONCAT(DISTINCT watch) FROM matches
                        WHERE item_id = i.id AND watch IN ({marks})) AS watches,
                       c.sha256 AS capture_sha256, c.fetched_at AS captured_at
                FROM items i
                LEFT JOIN captures c ON c.id = (SELECT MAX(id) FROM captures
                                                WHERE item_id = i.id)
                WHERE i.removed_at > COALESCE(?, '') AND i.removed_at <= ?
                  AND EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id
                              AND m.watch IN ({marks}))
                ORDER BY i.removed_at, i.id""",
            (*watches, after, until, *watches))]

    def item_matches(self, item_id: int) -> list[ArticleMatchRow]:
        """Every stored match in an item, with the item's fields, in match order."""
        return [ArticleMatchRow.from_mapping(r) for r in self._rows(
            """SELECT m.id AS match_id, m.watch, m.term, m.term_kind, m.field, m.found,
                      m.snippet, m.snippet_start, m.snippet_end, m.matched_at, m.variant,
                      m.via, m.origin, i.id AS item_id, i.source, i.url, i.title,
                      i.published_at, i.first_seen_at, i.version, i.content_hash
               FROM matches m JOIN items i ON i.id = m.item_id WHERE i.id = ? ORDER BY m.id""",
            (item_id,))]

    def captured_findings(self, since: str) -> list[int]:
        """Items that matched a watch and were captured since `since`, in id order."""
        rows = self.db.conn.execute(
            """SELECT DISTINCT c.item_id FROM captures c
               WHERE c.fetched_at >= ? AND c.item_id IS NOT NULL
                 AND EXISTS (SELECT 1 FROM matches m WHERE m.item_id = c.item_id)
               ORDER BY c.item_id""", (since,))
        return [row[0] for row in rows]

    def captures(self, item_id: int) -> list[CaptureRow]:
        """The responses an item was read from, oldest first, with the version each is
        evidence of."""
        return self._capture_rows("SELECT * FROM captures WHERE item_id = ? ORDER BY id",
                                  (item_id,))

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

    def settle_matches(self, item_id: int, matches: Sequence[Match],
                       run_id: int) -> tuple[list[Match], int]:
        """Make what a run stored for an item what matching it now gives (`matches`: after
        more of its site's furniture was learnt later in the run): the matches missing are
        added as that run's, the run's own that it no longer makes are deleted, unless a
        digest already holds them; another run's are left. (added, deleted)."""
        keep = {(m.watch, m.field, m.term, m.found) for m in matches}
        with self._write() as conn:
            added = self._insert_matches(conn, item_id, matches, run_id, "crawl")
            deleted = 0
            for row in conn.execute(
                    """SELECT id, watch, field, term, found FROM matches m
                       WHERE item_id = ? AND run_id = ?
                       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.match_id = m.id)""",
                    (item_id, run_id)).fetchall():
                if tuple(row[1:]) not in keep:
                    deleted += conn.execute("DELETE FROM matches WHERE id = ?",
                                            (row[0],)).rowcount
        return added, deleted

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

    def findings(self, limit: int = 10_000) -> list[FindingRow]:
        """Stored matches with their item's title, source and URL, grouped by watch."""
        return self._finding_rows(
            """SELECT m.watch, i.title, i.source, m.field, m.found, m.term, i.url,
                      i.published_at
               FROM matches m JOIN items i ON i.id = m.item_id
               ORDER BY m.watch, i.source, i.id, m.field DESC LIMIT ?""",
            (limit,),
        )

    def tender_findings(self, limit: int = 10_000) -> list[FindingRow]:
        """Stored tender matches with their tender's number, title, source, status and URL,
        grouped by watch."""
        return self._finding_rows(
            """SELECT m.watch, t.native_id, t.title, t.source, t.status, m.field, m.found,
                      m.term, t.url
               FROM tender_matches m JOIN tenders t ON t.id = m.tender_id
               ORDER BY m.watch, t.source, t.id, m.id LIMIT ?""",
            (limit,),
        )

    def _finding_rows(self, sql: str, params: Sequence[Any]) -> list[FindingRow]:
        return [FindingRow.from_mapping(r) for r in self._rows(sql, params)]
