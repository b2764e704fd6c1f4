"""Each source's site furniture as learnt from its articles: the counts `monitor.furniture`
judges. An article's blocks are counted inside the transaction that first stores it
(`ItemStore.add`), so a block's articles are distinct articles."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from monitor.furniture import FORGET_DAYS, FORGET_ONCE_DAYS, MIN_PAGES, BlockStats, Sighting
from monitor.store.db import Database, utcnow
from monitor.store.rows import FurnitureRow

# keys asked for at once (SQLite's host parameters: 32,766 since 3.32, 999 before)
_KEYS_PER_QUERY = 500


def learn_furniture(conn: sqlite3.Connection, sighting: Sighting) -> None:
    """Count one new article's blocks, inside the caller's transaction."""
    now = utcnow()
    page = conn.execute(
        """INSERT INTO furniture_sources (source, pages, updated_at) VALUES (?, 1, ?)
           ON CONFLICT (source) DO UPDATE SET pages = pages + 1, updated_at = excluded.updated_at
           RETURNING pages""", (sighting.source, now)).fetchone()[0]
    conn.executemany(
        """INSERT INTO furniture_blocks (source, key, pages, first_page, last_page, first_day,
               last_day, chars, edge_pages, sample, first_seen_at, last_seen_at)
           VALUES (:source, :key, 1, :page, :page, :day, :day, :chars, :edge, NULL, :now, :now)
           ON CONFLICT (source, key) DO UPDATE SET
               pages = pages + 1, last_page = :page, first_day = MIN(first_day, :day),
               last_day = MAX(last_day, :day), edge_pages = edge_pages + :edge,
               sample = COALESCE(sample, :sample), last_seen_at = :now""",
        [{"source": sighting.source, "key": key, "page": page, "day": sighting.day,
          "chars": chars, "edge": int(edge), "sample": sample, "now": now}
         for key, chars, sample, edge in sighting.blocks])


class FurnitureStore(Database):
    """Site furniture: block counts per source."""

    def furniture(self, source: str, keys: Sequence[str]) -> dict[str, BlockStats]:
        """What is known of these blocks of a source (the keys of `monitor.furniture.blocks`);
        blocks never seen are left out."""
        found: dict[str, BlockStats] = {}
        keys = list(dict.fromkeys(keys))
        for at in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[at:at + _KEYS_PER_QUERY]
            marks = ", ".join("?" for _ in chunk)
            for row in self._rows(
                    f"""SELECT * FROM furniture_blocks WHERE source = ? AND key IN ({marks})""",
                    (source, *chunk)):
                found[row["key"]] = FurnitureRow.from_mapping(row).stats
        return found

    def furniture_pages(self, source: str) -> int:
        """How many articles of a source furniture was learnt from."""
        row = self.db.conn.execute("SELECT pages FROM furniture_sources WHERE source = ?",
                                   (source,)).fetchone()
        return int(row[0]) if row else 0

    def furniture_blocks(self, source: str | None = None, *,
                         min_pages: int = MIN_PAGES) -> list[FurnitureRow]:
        """The blocks seen on at least `min_pages` articles of a source (or of every
        source), most seen first: the candidates `monitor.furniture.is_furniture` judges."""
        where, params = "pages >= ?", [min_pages]
        if source is not None:
            where += " AND source = ?"
            params.append(source)  # type: ignore[arg-type]
        return [FurnitureRow.from_mapping(r) for r in self._rows(
            f"""SELECT * FROM furniture_blocks WHERE {where}
                ORDER BY source, pages DESC, last_seen_at DESC, key""", params)]

    def prune_furniture(self, source: str, *, now: datetime | None = None) -> int:
        """Forget a source's blocks seen on one article more than FORGET_ONCE_DAYS ago, and
        any not seen for FORGET_DAYS; how many."""
        now = now or datetime.now(UTC)
        once = (now - timedelta(days=FORGET_ONCE_DAYS)).replace(microsecond=0).isoformat()
        ever = (now - timedelta(days=FORGET_DAYS)).replace(microsecond=0).isoformat()
        with self._write() as conn:
            return conn.execute(
                """DELETE FROM furniture_blocks WHERE source = ?
                   AND ((pages = 1 AND last_seen_at < ?) OR last_seen_at < ?)""",
                (source, once, ever)).rowcount
