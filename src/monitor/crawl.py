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

import fcntl
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from monitor.config import Config, Source, write_snapshot
from monitor.errors import CrawlError
from monitor.models import RunResult
from monitor.store import Store

__all__ = [
    "EVENT_PREFIX",
    "CrawlEvent",
    "CrawlReport",
    "SourceLock",
    "crawl",
    "emit_event",
    "use_event_stream",
]

logger = logging.getLogger(__name__)

# marks our lines on the child's stdout; anything else there is ignored
EVENT_PREFIX = "@@monitor-event "
# after SIGTERM, how long Scrapy gets to close spiders and record their runs
GRACE_S = 15.0
# after the child has exited, how long its last event lines may take to arrive; anything still
# holding the pipe then (an orphaned pool worker) is killed with the child's process group
DRAIN_S = 2.0
LOGS_KEPT = 50


# the crawler child's channel to us (`use_event_stream`); stdout when unset
_event_stream: IO[str] | None = None


def use_event_stream(stream: IO[str]) -> None:
    """Send this process's events to `stream` (the crawler child's private copy of the pipe
    to its parent, which its own children do not inherit)."""
    global _event_stream
    _event_stream = stream


def emit_event(kind: str, source: str | None = None, stream: IO[str] | None = None,
               **data: Any) -> None:
    """Write one event line (used by the crawler child)."""
    stream = stream or _event_stream or sys.stdout
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


def _close_orphaned_runs(state_dir: Path, sources: Sequence[str]) -> None:
    """We hold these sources' locks, so no process is crawling them: a run of theirs still
    marked `running` belongs to a crawl that was killed (kill -9, power loss)."""
    with Store(state_dir) as store:
        for run in store.running_runs():
            if run["source"] in sources:
                store.close_runs([run["id"]], "interrupted",
                                 f"crawler process {run['pid']} died without closing its run "
                                 "(killed or crashed); what it stored is kept")


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
_CHILD_ENV = frozenset({
    "PATH", "HOME", "USER", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHOME",
    "VIRTUAL_ENV", "XDG_CACHE_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
    # Scrapy's HttpProxyMiddleware reads these: a server behind a proxy needs them
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    "MONITOR_EXTRACT_WORKERS",
})


def _child_environment(environ: Mapping[str, str], sources: Sequence[Source]) -> dict[str, str]:
    """The crawler child's environment: the allowed names, locale settings, and the secret
    variables its own sources name (`token_env`), nothing more."""
    secrets = {s.token_env for s in sources if s.token_env}
    return {name: value for name, value in environ.items()
            if name in _CHILD_ENV or name.startswith("LC_") or name in secrets}


def _read_events(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """The child's stdout, line by line, until EOF (None marks the end)."""
    try:
        for line in stream:
            if line.startswith(EVENT_PREFIX):
                lines.put(line)
    except (OSError, ValueError):  # closed under us
        pass
    finally:
        lines.put(None)


def _event_lines(child: subprocess.Popen[str], lines: queue.Queue[str | None]) -> Iterator[str]:
    """Event lines until the pipe's EOF or, when the child has exited but something else
    keeps the pipe open, until DRAIN_S after its exit: a dead child is known by its exit,
    not by the end of its output."""
    exited_at: float | None = None
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if child.poll() is None:
                continue
            exited_at = exited_at or time.monotonic()
            if time.monotonic() - exited_at >= DRAIN_S:
                return
            continue
        if line is None:
            return
        yield line


def _kill_group(pgid: int) -> None:
    """SIGKILL every process left in the crawler's process group (the child has exited)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_reason(exit_code: int, log_path: Path) -> str:
    """Why a child that did not report its runs ended, in words."""
    if exit_code < 0:
        number = -exit_code
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        hint = "; out of memory?" if number == signal.SIGKILL else ""
        return f"crawler killed by signal {number} ({name}{hint})"
    detail = _tail(log_path)
    return f"crawler process exited with code {exit_code}" + (f": {detail}" if detail else "")


class _Watch:
    """Stops the child when the time limit passes or `cancel` is set."""

    def __init__(self, child: subprocess.Popen[str], *, timeout: float | None,
                 cancel: threading.Event | None, grace: float) -> None:
        self.child = child
        self.deadline = time.monotonic() + timeout if timeout is not None else None
        self.cancel = cancel
        self.grace = grace
        self.timed_out = False
        self.cancelled = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if self.deadline is not None or cancel is not None:
            self._thread = threading.Thread(target=self._run, name="crawl-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set() and self.child.poll() is None:
            if self.cancel is not None and self.cancel.is_set():
                self.cancelled = True
                _stop(self.child, self.grace)
                return
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.timed_out = True
                _stop(self.child, self.grace)
                return
            self._done.wait(0.2)

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


class SourceLock:
    """`<state>/locks/<source>.lock`: one crawl of a source at a time, across processes.

    An flock on an open file: the kernel releases it when every process holding the file
    has exited, so a crash never leaves a stale lock. The file says who took it, for the
    message a waiting user sees.
    """

    def __init__(self, state_dir: Path, source: str) -> None:
        self.path = state_dir / "locks" / f"{source}.lock"
        self._file: IO[bytes] | None = None

    @property
    def fileno(self) -> int:
        assert self._file is not None
        return self._file.fileno()

    def acquire(self, *, wait: float = 0) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115  (held open while the lock is held)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    return False
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
        handle.write(f"pid {os.getpid()} since {stamp}\n".encode())
        handle.flush()
        self._file = handle
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text("utf-8").strip() or "another process"
        except OSError:
            return "another process"

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops our hold on the flock
            self._file = None


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


def _stop(child: subprocess.Popen[str], grace: float) -> None:
    """SIGTERM the child (Scrapy closes its spiders and records their runs), then SIGKILL it
    if it has not gone after the grace period."""
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
    if status == "timeout":
        # spiders that closed gracefully on our SIGTERM called it a shutdown: it was the limit
        for result in finished.values():
            if result.status == "interrupted":
                result.status = "timeout"
                result.error = f"crawl stopped at the {timeout:g}s time limit"
                if result.run_id is not None and not dry_run:
                    with Store(state_dir) as store:
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
        warnings=list(row.get("warnings") or []),
    )
