"""monitor.evidence: raw captures kept content-addressed and checkable, and a crawl that keeps
the response every article version was read from."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

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
