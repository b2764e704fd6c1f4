"""monitor.revisit: when a stored article is fetched again. The policy's cases live in
tests/cases/revisit.yaml; the crawls run the crawler child against a local server that
counts what it is asked."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import TimedServer
from werkzeug import Request, Response

from monitor.cli import cli
from monitor.config import Config
from monitor.config.schedule import parse_revisit
from monitor.crawl import crawl
from monitor.models import RunResult
from monitor.revisit import is_due
from monitor.store import open_store
from monitor.store.rows import KnownPage

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "revisit.yaml").read_text("utf-8"))
NOW = datetime.fromisoformat("2026-12-04T12:00:00+00:00")


@pytest.mark.parametrize("case", [pytest.param(c, id=name) for name, c in CASES.items()])
def test_is_due(case: dict[str, Any]) -> None:
    page = case["page"]
    known = None if page is None else KnownPage(
        raw_hash="h", first_seen_at=page["first"], fetched_at=page["fetched"],
        listed_at=page.get("listed"))
    assert is_due(parse_revisit(case["policy"]), known, NOW, case.get("listed_at")) is case["due"]


# -- crawls --------------------------------------------------------------------------------

ARTICLE = """<html><head><title>{title}</title></head><body><article><h1>{title}</h1>
<time datetime="2026-12-03T08:00:00Z">3 Dec</time><p>{body}</p>
<p>The ministry said the contract would be signed before the end of the year, according to
documents published on the procurement portal on Friday.</p></article></body></html>"""

WATCHES = [{"name": "Nuctech"}, {"name": "Huawei"}]


class Site:
    """A listing of articles whose pages answer with an ETag and honour If-None-Match (a
    304 when it matches), and an Atom feed of the same articles; `edit`, `add` and
    `updated` change them between crawls."""

    def __init__(self, server: TimedServer, n: int = 3) -> None:
        self.server = server
        self.bodies = {f"/a/{i}.html": f"Nuctech scanners, part {i}." for i in range(1, n + 1)}
        self.versions = dict.fromkeys(self.bodies, 1)
        self.updated: dict[str, str] = dict.fromkeys(self.bodies, "2026-12-03T08:00:00Z")
        # the If-None-Match each article request carried, in order
        self.conditions: list[tuple[str, str | None]] = []
        server.expect_request("/index.html").respond_with_handler(self._listing)
        server.expect_request("/atom.xml").respond_with_handler(self._feed)
        for path in range(1, 100):
            server.expect_request(f"/a/{path}.html").respond_with_handler(self._article)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def add(self, path: str, body: str) -> None:
        self.bodies[path], self.versions[path] = body, 1
        self.updated[path] = "2026-12-03T08:00:00Z"

    def edit(self, path: str, body: str) -> None:
        self.bodies[path] = body
        self.versions[path] += 1

    def _listing(self, request: Request) -> Response:
        links = "".join(f'<a class="s" href="{p}">{p}</a>' for p in self.bodies)
        return Response(f"<html><body>{links}</body></html>", content_type="text/html")

    def _feed(self, request: Request) -> Response:
        entries = "".join(
            f"<entry><id>urn:{p}</id><title>Article {p}</title><link href=\"{self.url(p)}\"/>"
            f"<updated>{self.updated[p]}</updated><summary>s</summary></entry>"
            for p in self.bodies)
        return Response('<?xml version="1.0" encoding="utf-8"?><feed '
                        f'xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>',
                        content_type="application/atom+xml")

    def _article(self, request: Request) -> Response:
        if request.path not in self.bodies:
            return Response("gone", status=404)
        etag = f'"{request.path}-v{self.versions[request.path]}"'
        self.conditions.append((request.path, request.headers.get("If-None-Match")))
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        title = f"Article {request.path}"
        return Response(ARTICLE.format(title=title, body=self.bodies[request.path]),
                        content_type="text/html; charset=utf-8", headers={"ETag": etag})

    def article_requests(self) -> list[str]:
        return [path for _, path, _ in self.server.timeline if path.startswith("/a/")]

    def forget(self) -> None:
        self.server.timeline.clear()
        self.conditions.clear()


@pytest.fixture
def news(site: TimedServer) -> Site:
    return Site(site)


def page_source(news: Site, **extra: Any) -> dict[str, Any]:
    return {"name": "listing", "kind": "page", "url": news.url("/index.html"),
            "selectors": {"links": "a.s"}, **extra}


def one(config: Config, state_dir: Path) -> RunResult:
    [result] = crawl(config, state_dir).results
    assert result.status == "ok", result.error
    return result


def age(state_dir: Path, *, hours: float) -> None:
    """As if every stored page was first seen and last fetched `hours` ago."""
    when = (datetime.now().astimezone() - timedelta(hours=hours)).isoformat(timespec="seconds")
    with open_store(state_dir) as store:
        store.db.conn.execute("UPDATE items SET first_seen_at = ?, last_seen_at = ?",
                              (when, when))


def test_recrawl_of_an_unchanged_listing_fetches_no_article(
    news: Site, write_config: Callable[..., Config], state_dir: Path
) -> None:
    config = write_config({"sources": [page_source(news)], "watches": WATCHES})
    first = one(config, state_dir)
    assert (first.new_items, first.requests, first.not_due) == (3, 5, 0)  # robots, listing, 3
    news.forget()

    again = CliRunner().invoke(cli, ["--config", str(config.path), "--state", str(state_dir),
                                     "crawl", "--json"])
    assert again.exit_code == 0, again.output
    [result] = json.loads(again.stdout)["results"]
    assert news.article_requests() == []
    assert (result["requests"], result["not_due"], result["not_modified"]) == (2, 3, 0)
    assert (result["new_items"], result["changed_items"], result["status"]) == (0, 0, "ok")
    with open_store(state_dir) as store:
        run = store.last_run("listing")
        assert run is not None and (run.requests, run.not_due) == (2, 3)

    table = CliRunner().invoke(cli, ["--config", str(config.path), "--state", str(state_dir),
                                     "crawl"])
    assert table.exit_code == 0, table.output
    header, row = table.stdout.splitlines()[:3:2]
    assert header.split()[:6] == ["source", "status", "requests", "fetched", "not", "due"]
    assert row.split()[:6] == ["listing", "ok", "2", "1", "3", "0"]


def test_a_due_revisit_is_conditional_and_a_304_is_unchanged(
    news: Site, write_config: Callable[..., Config], state_dir: Path
) -> None:
    config = write_config({"sources": [page_source(news)], "watches": WATCHES})
    one(config, state_dir)
    age(state_dir, hours=2)  # the 1 h revisit has come
    news.forget()

    result = one(config, state_dir)
    assert sorted(news.conditions) == [(f"/a/{i}.html", f'"/a/{i}.html-v1"') for i in (1, 2, 3)]
    assert (result.not_modified, result.not_due, result.changed_items, result.new_items) == (
        3, 0, 0, 0)
    news.forget()
    # fetched again just now: the next revisit is a day after first seen
    assert (one(config, state_dir).not_due, news.article_requests()) == (3, [])


def test_an_article_edited_before_its_revisit_is_a_new_version(
    news: Site, write_config: Callable[..., Config], state_dir: Path
) -> None:
    config = write_config({"sources": [page_source(news)], "watches": WATCHES})
    one(config, state_dir)
    news.edit("/a/2.html", "Huawei, not Nuctech, won part 2.")
    age(state_dir, hours=25)  # the day revisit
    news.forget()

    result = one(config, state_dir)
    assert (result.changed_items, result.not_modified, result.new_matches) == (1, 2, 1)
    with open_store(state_dir) as store:
        versions = store._rows("SELECT i.url, v.version FROM item_versions v "
                               "JOIN items i ON i.id = v.item_id WHERE v.version > 1")
        assert [(r["url"].rsplit("/", 1)[1], r["version"]) for r in versions] == [("2.html", 2)]
        assert store.known_pages("listing")[news.url("/a/2.html")].etag == '"/a/2.html-v2"'


def test_new_links_on_a_known_listing_are_fetched_and_matched(
    news: Site, write_config: Callable[..., Config], state_dir: Path
) -> None:
    config = write_config({"sources": [page_source(news)], "watches": WATCHES})
    one(config, state_dir)
    news.add("/a/4.html", "Huawei opens a lab.")
    news.forget()

    result = one(config, state_dir)
    assert news.article_requests() == ["/a/4.html"]
    assert (result.new_items, result.new_matches, result.not_due) == (1, 1, 3)


def test_revisit_always_fetches_every_crawl_conditionally(
    news: Site, write_config: Callable[..., Config], state_dir: Path
) -> None:
    config = write_config({"sources": [page_source(news, revisit="always")],
                           "watches": WATCHES})
    one(config, state_dir)
    news.forget()

    result = one(config, state_dir)
    assert len(news.conditions) == 3 and all(etag for _, etag in news.conditions)
    assert (result.not_modified, result.not_due) == (3, 0)


def test_revisit_never_leaves_stored_articles_alone(
    news: Site, write_config: Callable[..., Config], state_dir: Path
) -> None:
    config = write_config({"sources": [page_source(news, revisit="never")],
                           "watches": WATCHES})
    one(config, state_dir)
    news.edit("/a/1.html", "Edited.")
    age(state_dir, hours=30)
    news.forget()

    result = one(config, state_dir)
    assert (news.article_requests(), result.not_due, result.changed_items) == ([], 3, 0)


def test_a_feed_entry_with_a_newer_updated_is_fetched_again(
    news: Site, write_config: Callable[..., Config], state_dir: Path
) -> None:
    source = {"name": "atom", "kind": "feed", "url": news.url("/atom.xml"), "follow_links": True}
    config = write_config({"sources": [source], "watches": WATCHES})
    assert one(config, state_dir).new_items == 3
    news.forget()
    assert (one(config, state_dir).not_due, news.article_requests()) == (3, [])

    news.updated["/a/3.html"] = "2026-12-04T09:30:00Z"
    news.edit("/a/3.html", "Corrected: Huawei, not Nuctech.")
    result = one(config, state_dir)
    assert news.article_requests() == ["/a/3.html"]
    assert (result.changed_items, result.not_due) == (1, 2)
    news.forget()
    # the new `updated` is stored with it: not due again
    assert (one(config, state_dir).not_due, news.article_requests()) == (3, [])


def test_revisit_is_checked_in_the_config(write_config: Callable[..., Config]) -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sources\[0\]\.revisit.*not a duration: '1y'"):
        write_config({"sources": [{"name": "f", "kind": "page", "url": "https://x.example/",
                                   "selectors": {"links": "a"}, "revisit": ["1h", "1y"]}]})
    with pytest.raises(ConfigError, match="`revisit` only applies to sources that fetch"):
        write_config({"sources": [{"name": "f", "kind": "feed", "url": "https://x.example/",
                                   "revisit": "always"}]})


# -- taken down ------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["404", "410", "front page"])
def test_a_finding_taken_down_is_recorded_and_told_once_not_a_failure(
    answer: str, site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    from monitor.digest import build_digest, render_html, render_text
    from monitor.mail import queue_digests

    gone = {"on": False}

    def article(request: Request) -> Response:
        if gone["on"] and answer == "front page":
            return Response("", status=302, headers={"Location": site.url_for("/")})
        if gone["on"]:
            return Response("not here", status=int(answer))
        return Response(ARTICLE.format(title="Nuctech wins", body="Nuctech scanners."),
                        content_type="text/html; charset=utf-8")

    site.expect_request("/").respond_with_data("<html>front page</html>",
                                               content_type="text/html")
    site.expect_request("/index.html").respond_with_data(
        '<a class="s" href="/a/1.html">1</a>', content_type="text/html")
    site.expect_request("/a/1.html").respond_with_handler(article)
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/index.html"),
                     "selectors": {"links": "a.s"}}],
        "watches": WATCHES, "recipients": [{"email": "desk@example.org"}]})
    one(config, state_dir)
    recipient = config.recipients[0]
    with open_store(state_dir) as store:
        [first] = queue_digests(store, config, state_dir)  # the finding is told
    assert first.subject == "monitor: 1 new (Nuctech 1)"
    gone["on"] = True
    age(state_dir, hours=2)

    result = one(config, state_dir)  # status ok: a page taken down is news, not a failure
    assert (result.errors, result.changed_items) == (0, 0)
    with open_store(state_dir) as store:
        [row] = store._rows("SELECT removed_at, removed_reason FROM items")
        reason = {"404": "HTTP 404", "410": "HTTP 410",
                  "front page": f"redirects to the front page {site.url_for('/')}"}[answer]
        assert row["removed_reason"] == reason and row["removed_at"]
        [capture] = store.captures(1)
        digest = build_digest(store, config, recipient)
    [entry] = digest.removed
    assert (entry.source, entry.watches, entry.reason) == ("listing", ("Nuctech",), reason)
    assert digest.subject == "monitor: 1 finding taken down" and not digest.is_empty
    text = render_text(digest)
    assert "== Taken down ==" in text and f"({reason}); captured " in text
    assert f"SHA-256 {capture.sha256[:16]}…" in text and "removed from listing on" in text
    assert "Taken down" in render_html(digest)
    with open_store(state_dir) as store:
        [told] = queue_digests(store, config, state_dir)
        assert told.subject == "monitor: 1 finding taken down"
        assert build_digest(store, config, recipient).removed == ()  # told once

    age(state_dir, hours=30)
    site.timeline.clear()
    assert one(config, state_dir).not_due == 1  # never asked for again
    assert [p for _, p, _ in site.timeline if p.startswith("/a/")] == []
