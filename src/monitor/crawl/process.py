"""The crawler child as a process: its log, its environment, its time limit, its signals,
its whole process group."""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from monitor.config import Source
from monitor.crawl.events import EVENT_PREFIX

logger = logging.getLogger(__name__)

# after SIGTERM, how long Scrapy gets to close spiders and record their runs
GRACE_S = 15.0
# after the child has exited, how long its last event lines may take to arrive; anything still
# holding the pipe then (an orphaned pool worker) is killed with the child's process group


# after the child has exited, how long its last event lines may take to arrive; anything still
# holding the pipe then (an orphaned pool worker) is killed with the child's process group
DRAIN_S = 2.0


LOGS_KEPT = 50


# the crawler child's channel to us (`use_event_stream`); stdout when unset


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


def _forward_sigterm() -> Callable[[], None]:
    """While a child runs, SIGTERM to us stops it gracefully (as Ctrl-C does) instead of
    orphaning it. Returns the function that restores the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


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
