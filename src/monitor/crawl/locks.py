"""One crawl of a source at a time, across processes."""

from __future__ import annotations

import fcntl
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO


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
