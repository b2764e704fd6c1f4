"""Run crawls in a child process and report what happened, source by source.

`crawl()` starts `python -m crawlers.run` (Scrapy, with SCRAPY_SETTINGS_MODULE pointing at our
settings), reads the child's event lines from its stdout as they come, and returns one
`RunResult` per source. The child writes items, matches and run rows to the store itself; the
parent makes sure no source ends silent: if the child dies or is killed, every run it left open
is closed as an error (or `timeout`) with the reason and the log file to read.

Twisted's reactor cannot be restarted in one process, a hung or leaking crawl dies with its
child, and the one-off command and the daemon share this one code path. This module never
imports Scrapy.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from monitor.config import Config
from monitor.errors import CrawlError
from monitor.models import RunResult
from monitor.store import Store

__all__ = ["CrawlEvent", "CrawlReport", "EVENT_PREFIX", "crawl", "emit_event"]

logger = logging.getLogger(__name__)

# marks our lines on the child's stdout; anything else there is ignored
EVENT_PREFIX = "@@monitor-event "
# after SIGTERM, how long Scrapy gets to close spiders and record their runs
GRACE_S = 15.0
LOGS_KEPT = 50


def emit_event(kind: str, source: str | None = None, stream: IO[str] | None = None,
               **data: Any) -> None:
    """Write one event line (used by the crawler child)."""
    stream = stream or sys.stdout
    line = json.dumps({"kind": kind, "source": source, **data}, ensure_ascii=False, default=str)
    stream.write(EVENT_PREFIX + line + "\n")
    stream.flush()


@dataclass(frozen=True, slots=True)
class CrawlEvent:
    """`run_started`, `progress`, `item` (dry runs), `error` or `run_finished`."""

    kind: str
    source: str | None
    data: dict[str, Any]


@dataclass(slots=True)
class CrawlReport:
    results: list[RunResult]
    # dry runs only: each normalised item with its matches, as dicts
    items: list[dict[str, Any]] = field(default_factory=list)
    log_path: Path | None = None
    exit_code: int | None = None

    @property
    def all_failed(self) -> bool:
        return bool(self.results) and all(r.status != "ok" and r.status != "partial"
                                          for r in self.results)


def _log_path(state_dir: Path) -> Path:
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    old = sorted(logs.glob("crawl-*.log"))
    for stale in old[: max(0, len(old) - LOGS_KEPT + 1)]:
        stale.unlink(missing_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return logs / f"crawl-{stamp}-{os.getpid()}.log"


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    interesting = [line for line in text if "Error" in line or "error" in line] or text
    return " | ".join(line.strip() for line in interesting[-lines:])


def crawl(
    config: Config,
    state_dir: str | Path,
    sources: Sequence[str] = (),
    *,
    on_event: Callable[[CrawlEvent], None] | None = None,
    dry_run: bool = False,
    timeout: float | None = None,
    grace: float = GRACE_S,
) -> CrawlReport:
    """Crawl the named sources (default: every enabled one) in one child process.

    Returns when the child has exited. A source that fails, or that the child never got to
    finish, has a RunResult with status `error` / `timeout` / `interrupted` and the reason.
    `dry_run` stores nothing and returns the items found instead (`monitor test-source`).
    On `timeout` (or Ctrl-C) the child gets SIGTERM, then SIGKILL after `grace` seconds.
    """
    selected = config.select(tuple(sources))
    if not selected:
        return CrawlReport(results=[])
    if config.path is None:
        raise CrawlError("config: the crawler needs a config read from a file (load_config)")
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = _log_path(state_dir)
    command = [sys.executable, "-m", "crawlers.run", "--config", str(config.path),
               "--state", str(state_dir)]
    if dry_run:
        command.append("--dry-run")
    command += [s.name for s in selected]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawlers.settings", "PYTHONUNBUFFERED": "1",
           "PYTHONIOENCODING": "utf-8"}

    finished: dict[str, RunResult] = {}
    started: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    timed_out = threading.Event()
    interrupted = False
    with open(log_path, "ab") as log:
        try:
            child = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                env=env, text=True, encoding="utf-8", errors="replace",
                start_new_session=True,  # our signals reach it only through us
            )
        except OSError as exc:
            raise CrawlError(f"cannot start the crawler ({command[0]}): {exc}") from None
        restore = _forward_sigterm()
        watchdog = None
        if timeout is not None:
            watchdog = threading.Timer(timeout, _stop, (child, timed_out, grace))
            watchdog.daemon = True
            watchdog.start()
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if not line.startswith(EVENT_PREFIX):
                    continue
                event = _parse(line)
                if event is None:
                    continue
                if event.kind == "run_started" and event.source:
                    if event.data.get("run_id") is not None:  # None in dry runs
                        started[event.source] = int(event.data["run_id"])
                elif event.kind == "run_finished" and event.source:
                    finished[event.source] = RunResult(**event.data["result"])
                elif event.kind == "item":
                    items.append(event.data)
                if on_event is not None:
                    try:
                        on_event(event)
                    except Exception:  # a broken progress display must not orphan a crawl
                        logger.exception("progress callback failed on %s", event.kind)
            exit_code = child.wait()
        except KeyboardInterrupt:
            interrupted = True
            _stop(child, None, grace)
            exit_code = child.wait()
        finally:
            restore()
            if watchdog is not None:
                watchdog.cancel()
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()

    results = _account(
        selected=[s.name for s in selected], finished=finished, started=started,
        state_dir=state_dir, dry_run=dry_run, exit_code=exit_code, log_path=log_path,
        status="timeout" if timed_out.is_set() else "interrupted" if interrupted else "error",
        timeout=timeout,
    )
    if interrupted:
        raise KeyboardInterrupt
    return CrawlReport(results=results, items=items, log_path=log_path, exit_code=exit_code)


def _forward_sigterm() -> Callable[[], None]:
    """While a child runs, SIGTERM to us stops it gracefully (as Ctrl-C does) instead of
    orphaning it. Returns the function that restores the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _parse(line: str) -> CrawlEvent | None:
    try:
        raw = json.loads(line[len(EVENT_PREFIX):])
    except json.JSONDecodeError:
        return None
    kind = raw.pop("kind", None)
    source = raw.pop("source", None)
    return CrawlEvent(kind=str(kind), source=source, data=raw) if kind else None


def _stop(child: subprocess.Popen[str], flag: threading.Event | None, grace: float) -> None:
    """SIGTERM the child (Scrapy closes its spiders and records their runs), then SIGKILL it
    if it has not gone after the grace period."""
    if flag is not None:
        flag.set()
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


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
    missing = [name for name in selected if name not in finished]
    if not missing:
        return [finished[name] for name in selected]
    if status == "timeout":
        reason = f"crawl killed after the {timeout:g}s time limit"
    elif status == "interrupted":
        reason = "crawl interrupted"
    else:
        detail = _tail(log_path)
        reason = f"crawler process exited with code {exit_code}" + (f": {detail}" if detail else "")
    reason += f" (log: {log_path})"
    if not dry_run:
        with Store(state_dir) as store:
            for name in missing:
                run_id = started.get(name) or store.start_run(name)
                # a graceful stop may have closed it already; fetch what it recorded
                store.close_runs([run_id], status, reason)
                row = store.run(run_id) or {}
                finished[name] = _result_from_row(name, row, status, reason)
    else:
        for name in missing:
            finished[name] = RunResult(source=name, status=status, errors=1, error=reason)  # type: ignore[arg-type]
    return [finished[name] for name in selected]


def _result_from_row(name: str, row: dict[str, Any], status: str, reason: str) -> RunResult:
    return RunResult(
        source=name,
        status=row.get("status", status),
        run_id=row.get("id"),
        fetched=row.get("fetched") or 0,
        items=row.get("items") or 0,
        new_items=row.get("new_items") or 0,
        changed_items=row.get("changed_items") or 0,
        new_matches=row.get("new_matches") or 0,
        errors=row.get("errors") or 1,
        error=row.get("error") or reason,
        seconds=row.get("seconds") or 0.0,
        started_at=row.get("started_at"),
        finished_at=row.get("finished_at"),
    )
