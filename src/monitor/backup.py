"""Backup and restore of a whole state directory: the database, the captures (the evidence)
and the outbox, as one tar file.

The database is copied through SQLite's online backup, page by page inside a read
transaction, so `monitor backup` is safe while the daemon and crawls write (WAL). Captures are
named by their hash and never rewritten, so copying them while crawls add more is safe too: a
capture written after the database snapshot is simply not named by it yet. Logs, locks, the
HTTP cache and config snapshots are left out: they are rebuilt.

    backup(state_dir, out) -> Archived       write the archive (atomically)
    restore(archive, state_dir) -> Restored  unpack it into an empty state directory
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import BackupError
from monitor.evidence import CAPTURES_DIR
from monitor.store import DB_NAME

__all__ = ["Archived", "Restored", "backup", "restore"]

MANIFEST = "monitor-backup.json"
# what a state directory's archive holds besides the database
_DIRECTORIES = (CAPTURES_DIR, "outbox")


@dataclass(frozen=True, slots=True)
class Archived:
    path: Path
    created_at: str
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Restored:
    state_dir: Path
    created_at: str
    files: int


def backup(state_dir: str | Path, out: str | Path) -> Archived:
    """Write `out`: the database as of now, the captures and the outbox."""
    state, out = Path(state_dir), Path(out)
    database = state / DB_NAME
    if not database.is_file():
        raise BackupError(f"{database}: no database to back up")
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".monitor-backup-") as work:
            snapshot = Path(work) / DB_NAME
            source = sqlite3.connect(database, timeout=60)
            target = sqlite3.connect(snapshot)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            files = 1
            with tarfile.open(partial, "w:gz") as tar:
                tar.add(snapshot, DB_NAME)
                for name in _DIRECTORIES:
                    if (state / name).is_dir():
                        files += sum(1 for p in (state / name).rglob("*") if p.is_file())
                        tar.add(state / name, name)
                manifest = Path(work) / MANIFEST
                manifest.write_text(json.dumps({"created_at": created, "files": files,
                                                "state_dir": str(state)}), "utf-8")
                tar.add(manifest, MANIFEST)
        os.replace(partial, out)
    except (OSError, sqlite3.Error, tarfile.TarError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{out}: cannot write the backup of {state}: {exc}") from None
    return Archived(out, created, files, out.stat().st_size)


def restore(archive: str | Path, state_dir: str | Path) -> Restored:
    """Unpack `archive` into `state_dir`, which must be empty or not exist yet (a restore
    never mixes with, or overwrites, a state)."""
    archive, state = Path(archive), Path(state_dir)
    if state.exists() and (not state.is_dir() or any(state.iterdir())):
        raise BackupError(f"{state}: restore needs an empty state directory, and this one "
                          "is not; restore into a new directory, then point --state at it")
    work = Path(tempfile.mkdtemp(dir=state.parent if state.parent.exists() else None,
                                 prefix=".monitor-restore-"))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                # the "data" filter refuses absolute paths, links out of the directory and
                # device files: an archive from elsewhere cannot write outside the state
                tar.extractall(work, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise BackupError(f"{archive}: not a readable monitor backup: {exc}") from None
        manifest = work / MANIFEST
        if not (work / DB_NAME).is_file() or not manifest.is_file():
            raise BackupError(f"{archive}: not a monitor backup (no {DB_NAME} or {MANIFEST})")
        info = json.loads(manifest.read_text("utf-8"))
        manifest.unlink()
        check = sqlite3.connect(work / DB_NAME)
        try:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{archive}: its database fails SQLite's integrity check")
        finally:
            check.close()
        state.parent.mkdir(parents=True, exist_ok=True)
        if state.exists():
            state.rmdir()  # empty, checked above
        os.replace(work, state)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Restored(state, str(info.get("created_at", "")), int(info.get("files", 0)))
