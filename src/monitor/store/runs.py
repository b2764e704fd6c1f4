"""Runs: one row per source run, its counts, status, error and warnings; what health and
Coverage read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from monitor.models import RunResult
from monitor.store.db import Database, to_json, utcnow
from monitor.store.rows import HealthReportRow, RunRow


class RunStore(Database):
    """A source's runs."""

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
                   error = ?, warnings = ?, requests = ?, not_due = ?, not_modified = ?
                   WHERE id = ? AND status = 'running'""",
                (
                    result.status, finished, round(result.seconds, 3), result.fetched,
                    result.items, result.new_items, result.changed_items, result.new_matches,
                    result.errors, result.error,
                    to_json(result.warnings) if result.warnings else None, result.requests,
                    result.not_due, result.not_modified, run_id,
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

    def add_run_warning(self, run_id: int, warning: str) -> None:
        """Add what the run's aftermath noticed (an alert that could not be delivered) to its
        warnings, once: `monitor status` and the digest's Coverage show them."""
        with self._write() as conn:
            row = conn.execute("SELECT warnings FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return
            warnings = json.loads(row[0] or "[]")
            if warning not in warnings:
                conn.execute("UPDATE runs SET warnings = ? WHERE id = ?",
                             (to_json([*warnings, warning]), run_id))

    def relabel_run(self, run_id: int, status: str, error: str) -> None:
        """Correct a finished run's status (a graceful stop that was really a time limit)."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET status = ?, error = ? WHERE id = ?",
                         (status, error, run_id))

    def _runs(self, sql: str, params: Sequence[Any] = ()) -> list[RunRow]:
        return [RunRow.from_mapping(
                    row, warnings=tuple(json.loads(row.pop("warnings") or "[]")))
                for row in self._rows(sql, params)]

    def run(self, run_id: int) -> RunRow | None:
        rows = self._runs("SELECT * FROM runs WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def running_runs(self) -> list[RunRow]:
        return self._runs("SELECT * FROM runs WHERE status = 'running' ORDER BY id")

    def recent_runs(self, source: str, limit: int = 20) -> list[RunRow]:
        """A source's finished runs, newest first."""
        return self._runs(
            """SELECT * FROM runs WHERE source = ? AND status != 'running'
               ORDER BY started_at DESC, id DESC LIMIT ?""",
            (source, limit),
        )

    def last_run(self, source: str, statuses: Sequence[str] | None = None, *,
                 min_items: int = 0) -> RunRow | None:
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
                   after: RunRow | None = None) -> tuple[int, str | None]:
        """How many of a source's runs with one of `statuses` started after the run `after`
        (a row from `last_run`; None: ever), and when the first of them started."""
        sql = (f"SELECT COUNT(*), MIN(started_at) FROM runs WHERE source = ? "
               f"AND status IN ({', '.join('?' for _ in statuses)})")
        params: list[Any] = [source, *statuses]
        if after is not None:
            sql += " AND (started_at, id) > (?, ?)"
            params.extend((after.started_at, after.id))
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

    def health_reports(self, recipient: str) -> dict[str, HealthReportRow]:
        """Source -> what the recipient was last told of its health."""
        rows = self._rows("SELECT * FROM health_reports WHERE recipient = ?", (recipient,))
        return {row["source"]: HealthReportRow.from_mapping(row) for row in rows}

    def runs_finished_between(self, after: str | None, until: str) -> list[RunRow]:
        return self._runs(
            """SELECT * FROM runs WHERE finished_at IS NOT NULL
               AND finished_at > COALESCE(?, '') AND finished_at <= ?
               ORDER BY source, finished_at""",
            (after, until),
        )
