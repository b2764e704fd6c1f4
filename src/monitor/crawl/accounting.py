"""What became of each source's run: the one rule for a run's status, and the runs a dead
or stopped child left open, closed with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.crawl.process import _exit_reason
from monitor.models import RunResult, RunStatus
from monitor.store import open_store
from monitor.store.rows import RunRow


def run_status(*, shutdown: bool, entry_requests: int, entry_failures: int,
               errors: int) -> RunStatus:
    """A finished run's status: `interrupted` when the crawl was shut down, `error` when
    every entry point (feed, listing, API's first page) failed, `partial` when something
    else failed, else `ok`."""
    if shutdown:
        return "interrupted"
    if entry_requests and entry_failures >= entry_requests:
        return "error"
    return "partial" if errors else "ok"


def _close_orphaned_runs(state_dir: Path, sources: Sequence[str]) -> None:
    """We hold these sources' locks, so no process is crawling them: a run of theirs still
    marked `running` belongs to a crawl that was killed (kill -9, power loss)."""
    with open_store(state_dir) as store:
        for run in store.running_runs():
            if run.source in sources:
                store.close_runs([run.id], "interrupted",
                                 f"crawler process {run.pid} died without closing its run "
                                 "(killed or crashed); what it stored is kept")


def _account(
    *,
    selected: list[str],
    finished: dict[str, RunResult],
    started: dict[str, int],
    state_dir: Path,
    dry_run: bool,
    exit_code: int,
    log_path: Path,
    status: str,
    timeout: float | None,
) -> list[RunResult]:
    """One result per selected source; runs the child left open are closed in the store."""
    if status == "timeout":
        # spiders that closed gracefully on our SIGTERM called it a shutdown: it was the limit
        for result in finished.values():
            if result.status == "interrupted":
                result.status = "timeout"
                result.error = f"crawl stopped at the {timeout:g}s time limit"
                if result.run_id is not None and not dry_run:
                    with open_store(state_dir) as store:
                        store.relabel_run(result.run_id, "timeout", result.error)
    missing = [name for name in selected if name not in finished]
    if not missing:
        return [finished[name] for name in selected]
    if status == "timeout":
        reason = f"crawl killed after the {timeout:g}s time limit"
    elif status == "interrupted":
        reason = "crawl interrupted"
    else:
        reason = _exit_reason(exit_code, log_path)
    reason += f" (log: {log_path})"
    if not dry_run:
        with open_store(state_dir) as store:
            for name in missing:
                run_id = started.get(name) or store.start_run(name)
                # a graceful stop may have closed it already; fetch what it recorded
                store.close_runs([run_id], status, reason)
                finished[name] = _result_from_row(name, store.run(run_id), status, reason)
    else:
        for name in missing:
            finished[name] = RunResult(source=name, status=status, errors=1, error=reason)  # type: ignore[arg-type]
    return [finished[name] for name in selected]


def _result_from_row(name: str, row: RunRow | None, status: str, reason: str) -> RunResult:
    if row is None:
        return RunResult(source=name, status=status, errors=1, error=reason)  # type: ignore[arg-type]
    return RunResult(
        source=name,
        status=row.status,  # type: ignore[arg-type]
        run_id=row.id,
        fetched=row.fetched or 0,
        items=row.items or 0,
        new_items=row.new_items or 0,
        changed_items=row.changed_items or 0,
        new_matches=row.new_matches or 0,
        errors=row.errors or 1,
        error=row.error or reason,
        seconds=row.seconds or 0.0,
        started_at=row.started_at,
        finished_at=row.finished_at,
        warnings=list(row.warnings),
        requests=row.requests,
        not_due=row.not_due,
        not_modified=row.not_modified,
    )
