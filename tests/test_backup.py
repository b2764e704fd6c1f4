"""monitor.backup: the whole state into one archive while it is in use, and back into an
empty directory, where the evidence verifies and a digest still knows what was told."""

from __future__ import annotations

import json
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TimedServer

from monitor.backup import backup, restore
from monitor.cli import cli
from monitor.config import Config
from monitor.crawl import crawl
from monitor.errors import BackupError
from monitor.evidence import CaptureStore
from monitor.store import open_store

PAGE = ("<html><head><title>Nuctech wins</title></head><body><article><h1>Nuctech wins</h1>"
        "<p>Nuctech Company Ltd will supply the scanners to the Sarpi border crossing, the "
        "Revenue Service said on Friday, according to documents on the portal.</p>"
        "</article></body></html>")


@pytest.fixture
def crawled(site: TimedServer, write_config: Callable[..., Config], state_dir: Path) -> Config:
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/a/1.html">1</a><a class="s" href="/a/2.html">2</a>',
        content_type="text/html")
    for n in (1, 2):
        site.expect_request(f"/a/{n}.html").respond_with_data(
            PAGE.replace("Sarpi", f"Sarpi {n}"), content_type="text/html; charset=utf-8")
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": [{"name": "Nuctech"}], "recipients": [{"email": "desk@example.org"}]})
    [result] = crawl(config, state_dir).results
    assert result.new_items == 2
    return config


def test_backup_while_writing_then_restore_verifies_and_keeps_what_was_told(
    crawled: Config, state_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    told = runner.invoke(cli, ["--config", str(crawled.path), "--state", str(state_dir),
                               "digest"])
    assert told.exit_code == 0, told.output

    # a writer keeps the database busy while the backup copies it
    stop = threading.Event()

    def write() -> None:
        with open_store(state_dir) as store:
            while not stop.is_set():
                run = store.start_run("busy")
                store.relabel_run(run, "ok", "")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        archive = tmp_path / "b" / "monitor.tar.gz"
        result = runner.invoke(cli, ["--state", str(state_dir), "backup", str(archive)])
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert f"Backed up {state_dir} to {archive}" in result.output
    names = tarfile.open(archive).getnames()
    assert "monitor.db" in names and any(n.startswith("captures/") for n in names)
    assert any(n.startswith("outbox/") for n in names)
    assert not any(n.startswith(("logs", "locks", "httpcache", "run")) for n in names)

    restored = tmp_path / "restored"
    done = runner.invoke(cli, ["--state", str(restored), "restore", str(archive)])
    assert done.exit_code == 0, done.output
    verify = runner.invoke(cli, ["--config", str(crawled.path), "--state", str(restored),
                                 "evidence", "--verify"])
    assert verify.exit_code == 0 and "2 capture(s) verified" in verify.output
    assert CaptureStore(restored).verify() == []
    with open_store(restored) as store:
        assert store.count("items") == 2 and store.count("outbox") == 1
    # what the recipient was told is restored too: the next digest tells nothing again
    again = runner.invoke(cli, ["--config", str(crawled.path), "--state", str(restored),
                                "digest", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["queued"] == []


def test_restore_refuses_a_state_that_is_not_empty_and_a_file_that_is_not_a_backup(
    crawled: Config, state_dir: Path, tmp_path: Path
) -> None:
    archive = backup(state_dir, tmp_path / "b.tar.gz").path
    with pytest.raises(BackupError, match="restore needs an empty state directory"):
        restore(archive, state_dir)
    assert (state_dir / "monitor.db").exists()  # untouched

    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file")
    with pytest.raises(BackupError, match=f"{junk}: not a readable monitor backup"):
        restore(junk, tmp_path / "new")
    assert not (tmp_path / "new").exists()

    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        tar.add(__file__, "notes.txt")
    with pytest.raises(BackupError, match="not a monitor backup"):
        restore(other, tmp_path / "new")
    with pytest.raises(BackupError, match="no database to back up"):
        backup(tmp_path / "nothing", tmp_path / "x.tar.gz")
