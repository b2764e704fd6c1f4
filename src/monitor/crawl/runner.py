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

import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from monitor.config import Config, Source, write_snapshot
from monitor.crawl.accounting import _account, _close_orphaned_runs
from monitor.crawl.events import CrawlEvent, parse_event
from monitor.crawl.locks import SourceLock
from monitor.crawl.process import (
    DRAIN_S,
    GRACE_S,
    _child_environment,
    _event_lines,
    _forward_sigterm,
    _kill_group,
    _log_path,
    _read_events,
    _stop,
    _Watch,
)
from monitor.errors import CrawlError
from monitor.models import RunResult

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class CrawlReport:
    results: list[RunResult]
    # sources left out because another process was crawling them: (source, who)
    busy: list[tuple[str, str]] = field(default_factory=list)
    # dry runs only: each normalised item with its matches, as dicts
    items: list[dict[str, Any]] = field(default_factory=list)
    log_path: Path | None = None
    exit_code: int | None = None

    @property
    def all_failed(self) -> bool:
        return bool(self.results) and all(r.status != "ok" and r.status != "partial"
                                          for r in self.results)


def crawl(
    config: Config,
    state_dir: str | Path,
    sources: Sequence[str] = (),
    *,
    on_event: Callable[[CrawlEvent], None] | None = None,
    dry_run: bool = False,
    timeout: float | None = None,
    grace: float = GRACE_S,
    wait: float = 0,
    cancel: threading.Event | None = None,
    since: date | None = None,
) -> CrawlReport:
    """Crawl the named sources (default: every enabled one) in one child process.

    Returns when the child has exited. A source that fails, or that the child never got to
    finish, has a RunResult with status `error` / `timeout` / `interrupted` and the reason.
    `dry_run` stores nothing and returns the items found instead (`monitor test-source`).
    On `timeout`, on `cancel` being set, or on Ctrl-C / SIGTERM the child gets SIGTERM (Scrapy
    closes its spiders and records their runs), then SIGKILL after `grace` seconds.

    A source is crawled by one process at a time (a lock file per source under
    <state>/locks/, held by the crawler child too, so it outlives a killed parent). A source
    that is busy is waited for up to `wait` seconds, then left out and listed in
    `CrawlReport.busy` with who holds it.

    `since` asks portal sources for a backfill: they read records changed since that date,
    from there rather than from where their last run stopped, and alert on them (a first
    run is then no silent baseline). Only portal sources take it.
    """
    selected = config.select(tuple(sources))
    if not selected:
        return CrawlReport(results=[])
    if since is not None:
        others = [s.name for s in selected if s.kind != "portal"]
        if others:
            raise CrawlError(f"--since {since.isoformat()}: only portal sources take a "
                             f"backfill date; not {', '.join(others)} (crawl them separately)")
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    locks: list[SourceLock] = []
    busy: list[tuple[str, str]] = []
    if not dry_run:
        for source in selected:
            lock = SourceLock(state_dir, source.name)
            if lock.acquire(wait=wait):
                locks.append(lock)
            else:
                busy.append((source.name, lock.holder()))
        selected = tuple(s for s in selected if s.name not in dict(busy))
    try:
        if not selected:
            return CrawlReport(results=[], busy=busy)
        if locks:
            _close_orphaned_runs(state_dir, [s.name for s in selected])
        report = _run_child(config, state_dir, selected, locks, on_event=on_event,
                            dry_run=dry_run, timeout=timeout, grace=grace, cancel=cancel,
                            since=since)
        report.busy = busy
        return report
    finally:
        for lock in locks:
            lock.release()


def _run_child(
    config: Config,
    state_dir: Path,
    selected: Sequence[Source],
    locks: Sequence[SourceLock],
    *,
    on_event: Callable[[CrawlEvent], None] | None,
    dry_run: bool,
    timeout: float | None,
    grace: float,
    cancel: threading.Event | None,
    since: date | None = None,
) -> CrawlReport:
    log_path = _log_path(state_dir)
    # the child crawls the config we validated, not whatever the file on disk says by now
    snapshot = write_snapshot(config, state_dir / "run")
    command = [sys.executable, "-m", "crawlers.run", "--config", str(snapshot),
               "--state", str(state_dir)]
    if dry_run:
        command.append("--dry-run")
    if since is not None:
        command += ["--since", since.isoformat()]
    command += [s.name for s in selected]
    env = {**_child_environment(os.environ, selected),
           "SCRAPY_SETTINGS_MODULE": "crawlers.settings", "PYTHONUNBUFFERED": "1",
           "PYTHONIOENCODING": "utf-8"}

    finished: dict[str, RunResult] = {}
    started: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    interrupted = False
    with open(log_path, "ab") as log:
        try:
            child = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                env=env, text=True, encoding="utf-8", errors="replace",
                start_new_session=True,  # our signals reach it only through us
                pass_fds=[lock.fileno for lock in locks],  # it holds the locks too
            )
        except OSError as exc:
            raise CrawlError(f"cannot start the crawler ({command[0]}): {exc}") from None
        restore = _forward_sigterm()
        watch = _Watch(child, timeout=timeout, cancel=cancel, grace=grace)
        assert child.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_read_events, args=(child.stdout, lines),
                                  name="crawl-events", daemon=True)
        reader.start()
        try:
            for line in _event_lines(child, lines):
                event = parse_event(line)
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
            _stop(child, grace)
            exit_code = child.wait()
        finally:
            restore()
            watch.close()
            if child.poll() is None:
                child.kill()
                child.wait()
            # whatever the child left behind (extraction workers, multiprocessing's resource
            # tracker) dies with it: they share its process group
            _kill_group(child.pid)
            reader.join(DRAIN_S)
            if not reader.is_alive():
                child.stdout.close()
            else:  # a straggler outside the group still holds the pipe; never block on it
                logger.warning("crawler pid %s: its output pipe is still held open by another "
                               "process; not waiting for it", child.pid)

    status = ("timeout" if watch.timed_out else
              "interrupted" if interrupted or watch.cancelled else "error")
    results = _account(
        selected=[s.name for s in selected], finished=finished, started=started,
        state_dir=state_dir, dry_run=dry_run, exit_code=exit_code, log_path=log_path,
        status=status, timeout=timeout,
    )
    if interrupted:
        raise KeyboardInterrupt
    return CrawlReport(results=results, items=items, log_path=log_path, exit_code=exit_code)


# what a crawl needs from our environment; nothing else (the SMTP password above all) is
# passed on to a process that runs third-party parsers over hostile pages
