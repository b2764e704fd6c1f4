"""monitor.evidence: raw captures kept content-addressed and checkable, and a crawl that keeps
the response every article version was read from."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import TimedServer

from monitor.config import Config
from monitor.crawl import crawl
from monitor.errors import EvidenceError
from monitor.evidence import CaptureStore
from monitor.store import open_store

PAGE = ("<html><head><title>Nuctech wins</title></head><body><article><h1>Nuctech wins</h1>"
        "<p>Nuctech Company Ltd will supply the scanners to the Sarpi border crossing, the "
        "Revenue Service said on Friday, according to documents on the portal.</p>"
        "</article></body></html>").encode("utf-8")


def test_a_body_is_kept_once_compressed_and_read_back_checked(tmp_path: Path) -> None:
    captures = CaptureStore(tmp_path)
    body = PAGE * 20
    digest = captures.put(body)
    assert digest == hashlib.sha256(body).hexdigest()
    path = captures.path(digest)
    assert path == tmp_path / "captures" / digest[:2] / digest[2:4] / f"{digest}.zst"
    assert path.stat().st_size < len(body) / 5
    mtime = path.stat().st_mtime_ns
    assert captures.put(body) == digest and path.stat().st_mtime_ns == mtime  # never rewritten
    assert captures.read(digest) == body
    assert [d for d, _ in captures] == [digest]
    assert list(path.parent.glob(".*.tmp")) == []  # written whole, then renamed


def test_verify_finds_an_altered_and_an_unreadable_capture(tmp_path: Path) -> None:
    import zstandard

    captures = CaptureStore(tmp_path)
    good, altered, broken = (captures.put(PAGE + bytes([i])) for i in range(3))
    assert captures.verify() == []

    captures.path(altered).write_bytes(zstandard.ZstdCompressor().compress(PAGE + b"edited"))
    captures.path(broken).write_bytes(b"not zstd at all")
    problems = {p.sha256: p.problem for p in captures.verify()}
    assert set(problems) == {altered, broken}
    assert problems[altered].startswith(f"capture {altered} was altered: its bytes hash to")
    assert "cannot be read" in problems[broken]
    with pytest.raises(EvidenceError, match=f"{captures.path(altered)}: capture {altered} was"):
        captures.read(altered)
    assert captures.read(good) == PAGE + b"\x00"
    with pytest.raises(EvidenceError, match="is missing"):
        captures.read("0" * 64)


def test_a_capture_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "captures").write_text("a file where the directory should be")
    with pytest.raises(EvidenceError, match=r"captures/.*: cannot store the capture"):
        CaptureStore(tmp_path).put(PAGE)


def test_a_crawl_keeps_the_response_each_article_version_was_read_from(
    site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/old/1.html">1</a>', content_type="text/html")
    site.expect_request("/old/1.html").respond_with_data(
        "", status=301, headers={"Location": site.url_for("/a/1.html")})
    site.expect_request("/a/1.html").respond_with_data(
        PAGE, content_type="text/html; charset=utf-8", headers={"ETag": '"v1"'})
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": [{"name": "Nuctech"}]})
    [result] = crawl(config, state_dir).results
    assert (result.status, result.new_items) == ("ok", 1)

    with open_store(state_dir) as store:
        [item_id] = [r["id"] for r in store._rows("SELECT id FROM items")]
        [capture] = store.captures(item_id)
    assert capture.sha256 == hashlib.sha256(PAGE).hexdigest() and capture.size == len(PAGE)
    assert (capture.url, capture.final_url, capture.status, capture.version) == (
        site.url_for("/old/1.html"), site.url_for("/a/1.html"), 200, 1)
    # names as Scrapy spells them (HTTP header names are case-insensitive)
    assert ("etag", '"v1"') in {(name.lower(), value) for name, value in capture.headers}
    assert capture.fetched_at.endswith("+00:00") and capture.run_id == result.run_id
    assert CaptureStore(state_dir).read(capture.sha256) == PAGE
    assert CaptureStore(state_dir).verify() == []


def test_keep_none_captures_nothing_and_the_finding_is_still_stored(
    site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/a/1.html">1</a>', content_type="text/html")
    site.expect_request("/a/1.html").respond_with_data(PAGE, content_type="text/html")
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": [{"name": "Nuctech"}], "evidence": {"keep": "none"}})
    [result] = crawl(config, state_dir).results
    assert (result.status, result.new_items) == ("ok", 1) and result.new_matches >= 1
    with open_store(state_dir) as store:
        [item_id] = [r["id"] for r in store._rows("SELECT id FROM items")]
        assert store.captures(item_id) == []
    assert not (state_dir / "captures").exists() or not list(CaptureStore(state_dir))


def test_a_page_over_the_size_limit_is_refused_not_captured(
    site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/a/1.html">1</a> <a class="s" href="/a/2.html">2</a>',
        content_type="text/html")
    site.expect_request("/a/1.html").respond_with_data(PAGE, content_type="text/html")
    huge = PAGE.replace(b"</article>", b"<p>" + b"Nuctech " * 20_000 + b"</p></article>")
    site.expect_request("/a/2.html").respond_with_data(huge, content_type="text/html")
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": [{"name": "Nuctech"}], "crawl": {"max_page_bytes": 100_000}})
    [result] = crawl(config, state_dir).results
    assert result.new_items == 1
    # the run says which page it refused, and why
    assert (result.status, result.errors) == ("partial", 1)
    assert result.error_details == [
        "response larger than the 100,000-byte limit (crawl.max_page_bytes): "
        + site.url_for("/a/2.html")]
    with open_store(state_dir) as store:
        assert [r["url"] for r in store._rows("SELECT url FROM captures")] == [
            site.url_for("/a/1.html")]
    assert [d for d, _ in CaptureStore(state_dir)] == [hashlib.sha256(PAGE).hexdigest()]


# -- export and verify, through the command --------------------------------------------------


def warcio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "warcio"), *args],
                          capture_output=True, text=True)


@pytest.fixture
def crawled(site: TimedServer, write_config: Callable[..., Config],
            state_dir: Path) -> tuple[Config, int, str]:
    """A crawled article that matched, its item id and the body's SHA-256."""
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/a/1.html">1</a>', content_type="text/html")
    site.expect_request("/a/1.html").respond_with_data(
        PAGE, content_type="text/html; charset=utf-8")
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": [{"name": "Nuctech"}]})
    [result] = crawl(config, state_dir).results
    assert result.new_matches >= 1
    with open_store(state_dir) as store:
        [item_id] = store.captured_findings("2000-01-01")
    return config, item_id, hashlib.sha256(PAGE).hexdigest()


def run_cli(config: Config, state_dir: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from monitor.cli import cli

    return CliRunner().invoke(cli, ["--config", str(config.path), "--state", str(state_dir),
                                    "evidence", *args])


def test_evidence_exports_a_warc_whose_payload_is_the_stored_capture(
    crawled: tuple[Config, int, str], state_dir: Path, tmp_path: Path
) -> None:
    from warcio.archiveiterator import ArchiveIterator

    config, item_id, digest = crawled
    out = tmp_path / "finding.warc.gz"
    result = run_cli(config, state_dir, str(item_id), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"SHA-256 {digest}" in result.stdout and "Nuctech in title" in result.stdout

    check = warcio("check", "-v", str(out))
    assert check.returncode == 0 and check.stdout.count("digest pass") == 3, check.stdout
    index = [json.loads(line) for line in warcio("index", str(out)).stdout.splitlines()]
    assert [r["warc-type"] for r in index] == ["warcinfo", "response", "request"]

    with open_store(state_dir) as store:
        [capture] = store.captures(item_id)
    responses = []
    with out.open("rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":  # read while the iterator is on it
                responses.append((record.rec_headers, record.http_headers.get_statuscode(),
                                  record.content_stream().read()))
    [(headers, status, payload)] = responses
    assert hashlib.sha256(payload).hexdigest() == digest and payload == PAGE
    assert headers.get_header("WARC-Payload-Digest") == "sha256:" + base64.b32encode(
        bytes.fromhex(digest)).decode("ascii")
    assert headers.get_header("WARC-Date") == capture.fetched_at.replace("+00:00", "Z")
    assert status == "200"

    manifest = json.loads((tmp_path / "finding.warc.gz.json").read_text("utf-8"))
    [finding] = manifest["findings"]
    assert (finding["kind"], finding["id"]) == ("item", item_id)
    assert finding["captures"][0]["sha256"] == digest
    assert ["Nuctech", "title", "Nuctech"] == finding["matches"][0][:3]
    assert digest in (tmp_path / "finding.warc.gz.txt").read_text("utf-8")


def test_evidence_all_since_exports_the_periods_findings(
    crawled: tuple[Config, int, str], state_dir: Path, tmp_path: Path
) -> None:
    config, item_id, digest = crawled
    out = tmp_path / "week.warc.gz"
    result = run_cli(config, state_dir, "--all", "--since", "2026-01-01", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"Item {item_id} " in result.stdout and warcio("check", str(out)).returncode == 0
    later = run_cli(config, state_dir, "--all", "--since", "2999-01-01")
    assert later.exit_code == 0 and "No finding was captured since 2999-01-01" in later.output
    assert run_cli(config, state_dir, "--all").exit_code == 2  # --since is needed
    missing = run_cli(config, state_dir, "999", "--out", str(tmp_path / "x.warc.gz"))
    assert missing.exit_code != 0 and "item 999 is not stored" in missing.output


def test_evidence_verify_fails_once_a_capture_is_altered(
    crawled: tuple[Config, int, str], state_dir: Path
) -> None:
    import zstandard

    config, _, digest = crawled
    ok = run_cli(config, state_dir, "--verify")
    assert ok.exit_code == 0 and "1 capture(s) verified" in ok.stdout

    path = CaptureStore(state_dir).path(digest)
    path.write_bytes(zstandard.ZstdCompressor().compress(PAGE.replace(b"Nuctech", b"Nvctech")))
    bad = run_cli(config, state_dir, "--verify")
    assert bad.exit_code == 1
    assert f"{path}: capture {digest} was altered" in bad.output
    assert "1 of 1 capture(s) no longer match their hash" in bad.output


def test_digest_and_explain_show_the_capture_and_a_name_outside_the_main_text(
    site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    page = PAGE.replace(b"</article>", b"</article><aside>Most read: Huawei opens a lab "
                        b"in Tbilisi</aside>")
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/a/1.html">1</a>', content_type="text/html")
    site.expect_request("/a/1.html").respond_with_data(
        page, content_type="text/html; charset=utf-8")
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": [{"name": "Nuctech"}, {"name": "Huawei"}],
        "recipients": [{"email": "desk@example.org"}]})
    crawl(config, state_dir)
    digest = hashlib.sha256(page).hexdigest()
    runner = CliRunner()
    base = ["--config", str(config.path), "--state", str(state_dir)]

    preview = runner.invoke(cli, [*base, "digest", "--preview"])
    assert preview.exit_code == 0, preview.output
    assert "evidence: captured " in preview.output
    assert f"SHA-256 {digest[:16]}…" in preview.output

    with open_store(state_dir) as store:
        [item_id] = store.captured_findings("2000-01-01")
    explained = runner.invoke(cli, [*base, "explain", str(item_id)])
    assert explained.exit_code == 0, explained.output
    assert "version 1: captured " in explained.output and f"SHA-256 {digest}" in explained.output
    assert ("Huawei: “Huawei” is on the page but outside its main text (navigation, sidebar "
            "or footer), which is not matched") in explained.output
    as_json = json.loads(runner.invoke(cli, [*base, "explain", str(item_id), "--json"]).output)
    assert [c["sha256"] for c in as_json["captures"]] == [digest]
    assert as_json["captures"][0]["fetched_at"].endswith("+00:00")
    assert "outside its main text" in as_json["outside_text"]["Huawei"]


# -- retention -------------------------------------------------------------------------------


def _capture(body: bytes, when: str) -> Any:
    from monitor.models import CapturedResponse

    return CapturedResponse(url="https://news.example/a", final_url="https://news.example/a",
                            status=200, headers=(), fetched_at=when, body=body)


def test_prune_keeps_what_matched_forever_and_the_rest_for_its_days(
    state_dir: Path, write_config: Callable[..., Config]
) -> None:
    import os
    from datetime import UTC, datetime, timedelta

    from monitor.config import EvidenceSettings
    from monitor.evidence import prune
    from monitor.models import Item, Match

    old = (datetime.now(UTC) - timedelta(days=40)).replace(microsecond=0).isoformat()
    recent = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0).isoformat()
    bodies = CaptureStore(state_dir)
    match = Match(watch="Nuctech", term="Nuctech", term_kind="name", field="title",
                  start=0, end=7, found="Nuctech", snippet="Nuctech", snippet_start=0,
                  snippet_end=7)
    with open_store(state_dir) as store:
        for key, body, when, matches in (("matched", b"<p>Nuctech</p>", old, [match]),
                                         ("old", b"<p>old news</p>", old, []),
                                         ("recent", b"<p>recent news</p>", recent, [])):
            bodies.put(body)
            store.add(Item(source="s", key=key, url=f"https://news.example/{key}",
                           title=key, text=key, published_at=None, content_hash=key),
                      matches, capture=_capture(body, when))
        for _, path in bodies:  # bodies written an hour ago or more
            os.utime(path, (0, 0))

        assert prune(store, state_dir, EvidenceSettings(keep="all")).rows == 0
        pruned = prune(store, state_dir, EvidenceSettings(days=30))
        assert (pruned.rows, pruned.files) == (1, 1) and pruned.bytes > 0
        kept = {c.item_id: c.sha256 for i in (1, 2, 3) for c in store.captures(i)}
    assert set(kept) == {1, 3}  # the finding (forever) and the recent one (within 30 days)
    assert {d for d, _ in bodies} == set(kept.values())
    assert bodies.verify() == []

    config = write_config({"evidence": {"keep": "matched", "days": 30}})
    from click.testing import CliRunner

    from monitor.cli import cli

    shown = CliRunner().invoke(cli, ["--config", str(config.path), "--state", str(state_dir),
                                     "status"])
    assert "Evidence: 2 capture(s)" in shown.output
    assert "keeping matched (the rest 30 days)" in shown.output


def test_a_body_written_just_now_without_its_row_yet_is_not_pruned(state_dir: Path) -> None:
    bodies = CaptureStore(state_dir)
    digest = bodies.put(b"a crawl is about to record me")
    assert bodies.remove_unreferenced(set()) == (0, 0)
    assert [d for d, _ in bodies] == [digest]


def test_the_daemons_prune_job_applies_the_configs_retention(
    state_dir: Path, write_config: Callable[..., Config]
) -> None:
    import os
    from datetime import UTC, datetime, timedelta

    from monitor.models import Item
    from monitor.scheduler import Daemon

    config = write_config({"evidence": {"days": 7}})
    old = (datetime.now(UTC) - timedelta(days=8)).replace(microsecond=0).isoformat()
    with open_store(state_dir) as store:
        CaptureStore(state_dir).put(PAGE)
        store.add(Item(source="s", key="k", url="https://news.example/k", title="t", text="t",
                       published_at=None, content_hash="c"), [], capture=_capture(PAGE, old))
    for _, path in CaptureStore(state_dir):
        os.utime(path, (0, 0))
    daemon = Daemon(config.path, state_dir)
    daemon.config = config
    daemon._prune_job()
    with open_store(state_dir) as store:
        assert store.captures(1) == []
    assert list(CaptureStore(state_dir)) == []


def test_a_capture_that_cannot_be_written_fails_the_item_loudly_and_keeps_what_is_stored(
    site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/a/1.html">1</a>', content_type="text/html")
    site.expect_request("/a/1.html").respond_with_data(
        PAGE, content_type="text/html; charset=utf-8")
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": [{"name": "Nuctech"}]})
    with open_store(state_dir) as store:  # something stored earlier
        store.start_run("listing")
    (state_dir / "captures").write_text("a file where the directory should be (a full disk)")

    [result] = crawl(config, state_dir).results
    assert (result.status, result.new_items, result.errors) == ("partial", 0, 1)
    assert "a/1.html was not stored: EvidenceError: " in result.error
    assert "cannot store the capture" in result.error
    with open_store(state_dir) as store:
        assert store.count("runs") == 2 and store.count("items") == 0
