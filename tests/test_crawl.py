"""The crawler child process against a local server: happy path, idempotent re-crawl, and
every unhappy path one source can take, none of which may stop the others."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import alive, children_of, free_port, wait_until
from pytest_httpserver.httpserver import HandlerType
from werkzeug import Request, Response

from monitor.cli import cli
from monitor.config import Recipient
from monitor.crawl import CrawlEvent, crawl
from monitor.digest import build_digest, render_html, render_text
from monitor.store import open_store

ARTICLE = """<html><head><title>{title}</title></head><body>
<nav>Home | Huawei deals | Contact</nav>
<article><h1 class="headline">{title}</h1><time datetime="2026-11-20T08:00:00Z">20 Nov</time>
<div class="article-body"><p>{body}</p>
<p>The ministry said the contract would be signed before the end of the year, according
to documents published on the procurement portal on Friday.</p></div></article>
<aside>Most read: Huawei opens a flagship store in Tbilisi</aside>
<footer>© Sample News</footer></body></html>"""

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Sample</title><link>{base}/</link><description>d</description>
<item><title>Nuctech wins the scanner tender</title><link>{base}/a/1.html?utm_source=rss</link>
<guid isPermaLink="false">sample-1</guid><pubDate>Fri, 20 Nov 2026 09:00:00 +0400</pubDate>
<description>The Revenue Service picked Nuctech for border scanners.</description></item>
<item><title>Aztec gold on show in Batumi</title><link>{base}/a/2.html</link>
<guid isPermaLink="false">sample-2</guid><pubDate>Fri, 20 Nov 2026 10:00:00 +0400</pubDate>
<description>An AZTEC exhibition opens; nothing about telecoms.</description></item>
</channel></rss>"""

WATCHES = [
    {"name": "Nuctech", "aliases": ["Нуктек", "ნუქტექი"]},
    {"name": "ZTE"},
    {"name": "Huawei", "aliases": ["Хуавей"]},
]


def html(title: str, body: str) -> str:
    return ARTICLE.format(title=title, body=body)


def serve_news(site) -> None:  # type: ignore[no-untyped-def]
    base = site.url_for("").rstrip("/")
    site.expect_request("/feed.xml").respond_with_data(
        RSS.format(base=base), content_type="application/rss+xml"
    )
    site.expect_request("/a/1.html").respond_with_data(
        html("Nuctech wins", "Nuctech Company Ltd will supply scanners to Sarpi."),
        content_type="text/html; charset=utf-8",
    )
    site.expect_request("/a/2.html").respond_with_data(
        html("Aztec gold", "The AZTEC exhibition opened at the museum in Batumi."),
        content_type="text/html; charset=utf-8",
    )


def test_crawl_stores_matches_and_recrawl_adds_nothing(site, write_config, state_dir):
    serve_news(site)
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml"),
                     "follow_links": True}],
        "watches": WATCHES,
    })
    events: list[CrawlEvent] = []
    first = crawl(config, state_dir, on_event=events.append)
    [result] = first.results
    assert result.status == "ok", result.error
    assert result.new_items == 2
    assert {e.kind for e in events} >= {"run_started", "run_finished"}
    with open_store(state_dir) as store:
        rows = store._rows("SELECT m.watch, m.field, m.found, i.key, i.url FROM matches m "
                           "JOIN items i ON i.id = m.item_id ORDER BY m.id")
        counts = (store.count("items"), store.count("matches"), store.count("item_versions"))
    # Nuctech in title and body; no ZTE inside AZTEC; no Huawei from nav or sidebar
    assert {(r["watch"], r["field"]) for r in rows} == {("Nuctech", "title"), ("Nuctech", "body")}
    assert all(r["key"] == "sample-1" for r in rows)
    assert rows[0]["url"].endswith("/a/1.html")  # tracking parameter dropped

    second = crawl(config, state_dir)
    [again] = second.results
    assert again.status == "ok"
    assert (again.new_items, again.changed_items, again.new_matches) == (0, 0, 0)
    with open_store(state_dir) as store:
        assert (store.count("items"), store.count("matches"),
                store.count("item_versions")) == counts
        assert store.count("runs") == 2


def test_crawl_log_of_a_healthy_crawl_has_no_warning(site, write_config, state_dir):
    """Our settings must not earn a deprecation (RANDOMIZE_DOWNLOAD_DELAY did in Scrapy
    2.19) nor any other warning: a warning in a crawl log is a thing for a user to read."""
    serve_news(site)
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml"),
                     "follow_links": True}],
        "watches": WATCHES,
        # the shipped settings as they are: cache, retries and jittered delay on
        "crawl": {"http_cache": True, "retries": 2, "delay": 0.01},
    })
    report = crawl(config, state_dir)
    assert report.results[0].status == "ok"
    assert report.log_path is not None
    log = report.log_path.read_text("utf-8")
    assert "Scrapy" in log and "Spider closed" in log  # it is the crawl's log
    assert not [line for line in log.splitlines()
                if " WARNING: " in line or "ERROR" in line or "Deprecat" in line]


def test_crawl_page_source_with_selectors_and_encodings(site, write_config, state_dir):
    listing = ('<html><body><a class="story" href="/n/ru.html">ru</a>'
               '<a class="story" href="ka.html">ka</a><a class="story" href="#top">x</a>'
               '</body></html>')
    site.expect_request("/n/index.html").respond_with_data(listing, content_type="text/html")
    ru = html("Нуктек поставит сканеры", "Компания Нуктек выиграла тендер таможни.")
    ru = ru.replace("<head>", '<head><meta charset="windows-1251">')
    site.expect_request("/n/ru.html").respond_with_data(
        ru.encode("windows-1251"), content_type="text/html"
    )
    ka = html("ნუქტექი იგებს", "კომპანია ნუქტექი შემოსავლების სამსახურის ტენდერში.")
    # UTF-8 bytes under a header that claims Latin-1: a common server misconfiguration
    site.expect_request("/n/ka.html").respond_with_data(
        ka.encode("utf-8"), content_type="text/html; charset=iso-8859-1"
    )
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/n/index.html"),
                     "selectors": {"links": "a.story", "title": "h1.headline",
                                   "date": "time::attr(datetime)",
                                   "body": "div.article-body"}}],
        "watches": WATCHES,
    })
    [result] = crawl(config, state_dir).results
    assert result.status == "ok", result.error
    with open_store(state_dir) as store:
        items = {r["url"].rsplit("/", 1)[1]: r for r in store._rows("SELECT * FROM items")}
        found = {r["found"] for r in store._rows("SELECT found FROM matches")}
    assert items["ru.html"]["title"] == "Нуктек поставит сканеры"
    assert items["ka.html"]["title"] == "ნუქტექი იგებს"
    assert items["ru.html"]["published_at"] == "2026-11-20T08:00:00+00:00"
    assert "Huawei" not in items["ru.html"]["text"]  # body selector: no sidebar
    assert found == {"Нуктек", "ნუქტექი"}


def test_crawl_one_failing_source_never_stops_the_others(site, write_config, state_dir):
    serve_news(site)

    def slow(request: Request) -> Response:
        time.sleep(3)
        return Response("<rss/>", content_type="application/rss+xml")

    site.expect_request("/slow.xml").respond_with_handler(slow)
    site.expect_request("/500.xml").respond_with_data("oops", status=500)
    site.expect_request("/broken.xml").respond_with_data(
        "<html><body>This is not a feed", content_type="text/html"
    )
    site.expect_request("/huge.html").respond_with_data(
        "<html><body>" + "x" * 300_000 + "</body></html>", content_type="text/html"
    )
    site.expect_request("/private/feed.xml").respond_with_data("<rss/>")
    closed = free_port()
    sources = [
        {"name": "good", "kind": "feed", "url": site.url_for("/feed.xml")},
        {"name": "missing", "kind": "feed", "url": site.url_for("/404.xml")},
        {"name": "failing", "kind": "feed", "url": site.url_for("/500.xml")},
        {"name": "slow", "kind": "feed", "url": site.url_for("/slow.xml")},
        {"name": "malformed", "kind": "feed", "url": site.url_for("/broken.xml")},
        {"name": "huge", "kind": "page", "url": site.url_for("/huge.html"),
         "selectors": {"links": "a"}},
        {"name": "forbidden", "kind": "feed", "url": site.url_for("/private/feed.xml")},
        # a closed loopback port: a server that is down, without asking any resolver
        {"name": "nowhere", "kind": "feed", "url": f"http://127.0.0.1:{closed}/feed.xml"},
    ]
    site.expect_request("/404.xml").respond_with_data("not here", status=404)
    config = write_config({
        "sources": sources,
        "watches": WATCHES,
        "crawl": {"timeout": 1.5, "max_page_bytes": 100_000},
    })
    report = crawl(config, state_dir)
    results = {r.source: r for r in report.results}
    assert [r.source for r in report.results] == [s["name"] for s in sources]
    assert results["good"].status == "ok"
    assert results["good"].new_matches == 2
    expected = {
        "missing": "HTTP 404",
        "failing": "HTTP 500",
        "slow": "timed out after 1.5s",
        "malformed": "malformed feed",
        "huge": "100,000-byte limit",
        "forbidden": "robots.txt forbids",
        "nowhere": f"connection refused: http://127.0.0.1:{closed}/feed.xml",
    }
    for name, text in expected.items():
        assert results[name].status == "error", (name, results[name])
        assert text in (results[name].error or ""), (name, results[name].error)
    assert not report.all_failed
    with open_store(state_dir) as store:
        runs = {r["source"]: r for r in store._rows("SELECT * FROM runs")}
    assert runs["failing"]["status"] == "error"
    assert "HTTP 500" in runs["failing"]["error"]
    assert all(r["finished_at"] for r in runs.values())


def test_crawl_a_source_may_be_told_not_to_obey_robots_txt(site, write_config, state_dir):
    """A portal whose robots.txt says `Disallow: /` over public records: `obey_robots:
    false` on that source only; the others still obey."""
    feed = ('<?xml version="1.0"?><rss version="2.0"><channel><title>p</title>'
            '<item><title>Nuctech wins</title><link>{}</link><guid>p-1</guid></item>'
            '</channel></rss>').format(site.url_for("/private/1.html"))
    site.expect_request("/private/feed.xml").respond_with_data(
        feed, content_type="application/rss+xml")
    config = write_config({
        "sources": [
            {"name": "public_records", "kind": "feed", "url": site.url_for("/private/feed.xml"),
             "obey_robots": False},
            {"name": "polite", "kind": "feed", "url": site.url_for("/private/feed.xml")},
        ],
        "watches": WATCHES,
    })
    results = {r.source: r for r in crawl(config, state_dir).results}
    assert results["public_records"].status == "ok", results["public_records"].error
    assert results["public_records"].new_matches == 1
    assert "robots.txt forbids" in (results["polite"].error or "")


def test_crawl_honours_retry_after(site, write_config, state_dir):
    serve_news(site)
    site.expect_oneshot_request("/feed.xml").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "2"}
    )
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml")}],
        "watches": WATCHES,
        "crawl": {"retries": 1},  # and no crawl delay: any wait is Retry-After's
    })
    [result] = crawl(config, state_dir).results
    assert result.status == "ok", result.error
    assert result.new_items == 2
    assert 2 <= site.wait_after("/feed.xml") < 4


def serve_listing_that_hangs(site) -> None:  # type: ignore[no-untyped-def]
    """A listing whose first article is extracted (so the extraction pool's workers are up)
    and whose second never answers in time: a crawl caught mid-extraction."""
    serve_news(site)

    def hang(request: Request) -> Response:
        time.sleep(30)
        return Response("late", content_type="text/html")

    site.expect_request("/hang.html").respond_with_handler(hang)
    listing = ('<html><body><a href="/a/1.html">1</a><a href="/hang.html">2</a>'
               "</body></html>")
    site.expect_request("/list.html").respond_with_data(listing, content_type="text/html")


def test_crawl_killed_child_loses_nothing_and_closes_its_run(site, write_config, state_dir):
    serve_listing_that_hangs(site)
    config = write_config({
        "sources": [{"name": "hanging", "kind": "page", "url": site.url_for("/list.html"),
                     "selectors": {"links": "a"}}],
        "watches": WATCHES,
        "crawl": {"timeout": 30},
    })
    # SIGTERM at 3 s, SIGKILL at 4 s: the hung request never completes
    [result] = crawl(config, state_dir, timeout=3, grace=1).results
    assert result.status == "timeout"
    assert "time limit" in (result.error or "")
    with open_store(state_dir) as store:
        [run] = store._rows("SELECT * FROM runs")
        stored = store.count("items")
    assert run["status"] != "running"
    assert run["finished_at"]
    assert stored == 1  # the article fetched before the kill is kept


def crawler_child(state_dir: Path) -> tuple[int, list[int]]:
    """The crawler child's pid (from its open run) once its extraction workers are up, and
    those workers (the pool and multiprocessing's resource tracker)."""
    def child() -> tuple[int, list[int]] | None:
        if not (state_dir / "monitor.db").exists():
            return None
        with open_store(state_dir) as store:
            running = [r.pid for r in store.running_runs() if r.pid]
            stored = store.count("items")
        if not running or not stored:  # the first article is extracted and stored
            return None
        workers = children_of(running[0])
        return (running[0], workers) if workers else None

    return wait_until(child, what="a crawler child with extraction workers")


def test_crawl_child_killed_mid_extraction_is_an_error_and_leaves_nothing_behind(
    site, write_config, state_dir
):
    """kill -9 (the OOM killer) while extraction workers hold a copy of the child's stdout:
    the crawl ends at the child's exit, says why, and takes the workers with it."""
    serve_listing_that_hangs(site)
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/list.html"),
                     "selectors": {"links": "a"}}],
        "watches": WATCHES, "crawl": {"timeout": 60},
    })
    reports: list[Any] = []
    thread = threading.Thread(target=lambda: reports.append(crawl(config, state_dir)))
    thread.start()
    pid, workers = crawler_child(state_dir)

    os.kill(pid, signal.SIGKILL)
    thread.join(15)

    assert not thread.is_alive(), "crawl() still waiting for a dead child"
    [result] = reports[0].results
    assert result.status == "error"
    assert "crawler killed by signal 9 (SIGKILL; out of memory?)" in (result.error or "")
    wait_until(lambda: not any(alive(w) for w in workers), 5, "the workers gone")
    with open_store(state_dir) as store:
        [run] = store._rows("SELECT * FROM runs")
        assert store.count("items") == 1  # the article stored before the kill is kept
    assert run["status"] == "error" and "killed by signal 9" in run["error"]


def test_monitor_crawl_returns_when_its_child_is_killed_mid_extraction(
    site, write_config, state_dir
):
    serve_listing_that_hangs(site)
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/list.html"),
                     "selectors": {"links": "a"}}],
        "watches": WATCHES, "crawl": {"timeout": 60},
    })
    command = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config.path), "--state",
         str(state_dir), "crawl"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    try:
        pid, workers = crawler_child(state_dir)
        os.kill(pid, signal.SIGKILL)
        output, _ = command.communicate(timeout=15)
    finally:
        command.kill()
    assert command.returncode == 1, output
    assert "crawler killed by signal 9" in output
    assert not any(alive(w) for w in workers)


def test_crawl_time_limit_kills_the_child_and_its_workers(site, write_config, state_dir):
    serve_listing_that_hangs(site)
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/list.html"),
                     "selectors": {"links": "a"}}],
        "watches": WATCHES, "crawl": {"timeout": 60},
    })
    found: list[tuple[int, list[int]]] = []
    watcher = threading.Thread(target=lambda: found.append(crawler_child(state_dir)))
    watcher.start()
    [result] = crawl(config, state_dir, timeout=6, grace=1).results
    watcher.join()
    assert result.status == "timeout"
    pid, workers = found[0]
    assert not alive(pid) and not any(alive(w) for w in workers)


def test_crawl_dry_run_stores_nothing(site, write_config, state_dir):
    serve_news(site)
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml")}],
        "watches": WATCHES,
    })
    report = crawl(config, state_dir, dry_run=True)
    assert report.results[0].status == "ok"
    assert len(report.items) == 2
    assert [m["watch"] for m in report.items[0]["matches"]] == ["Nuctech", "Nuctech"]
    assert not (Path(state_dir) / "monitor.db").exists() or open_store(state_dir).count("items") == 0


def test_crawl_unknown_source_is_a_clear_error(write_config, state_dir):
    from monitor.errors import SourceNotFoundError

    config = write_config({"sources": [], "watches": WATCHES})
    with pytest.raises(SourceNotFoundError, match="no source named 'nope'"):
        crawl(config, state_dir, ["nope"])


def test_recrawl_sends_conditional_requests_and_skips_unchanged_pages(
    site, write_config, state_dir
):
    serve_news(site)
    seen: list[str | None] = []
    body = html("Nuctech again", "Nuctech scanners arrive at Sarpi.")

    def with_etag(request: Request) -> Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(body, content_type="text/html; charset=utf-8", headers={"ETag": '"v1"'})

    site.expect_request("/e/1.html").respond_with_handler(with_etag)
    site.expect_request("/e/index.html").respond_with_data(
        '<a class="s" href="/e/1.html">1</a>', content_type="text/html")
    config = write_config({
        # always: revisited at once, not an hour later (tests/test_revisit.py has the rest)
        "sources": [{"name": "etag", "kind": "page", "url": site.url_for("/e/index.html"),
                     "selectors": {"links": "a.s"}, "revisit": "always"}],
        "watches": WATCHES,
        "crawl": {"http_cache": True},
    })
    [first] = crawl(config, state_dir).results
    [second] = crawl(config, state_dir).results
    assert (first.status, first.new_items, first.new_matches) == ("ok", 1, 2)
    assert (second.status, second.new_items, second.changed_items) == ("ok", 0, 0)
    assert seen == [None, '"v1"'] and second.not_modified == 1


def test_crawl_of_a_source_another_process_is_crawling_waits_or_skips(
    site, write_config, state_dir
):
    import threading

    from monitor.crawl import SourceLock

    serve_news(site)
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml")}],
        "watches": WATCHES,
    })
    held = SourceLock(Path(state_dir).resolve(), "sample")
    assert held.acquire()
    skipped = crawl(config, state_dir)
    assert skipped.results == []
    [(name, who)] = skipped.busy
    assert name == "sample" and who.startswith("pid ")

    threading.Timer(1.0, held.release).start()
    waited = crawl(config, state_dir, wait=10)
    assert waited.busy == []
    assert waited.results[0].status == "ok"


def test_crawl_lock_is_held_by_the_child_while_it_runs(site, write_config, state_dir):
    from monitor.crawl import SourceLock

    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response(RSS.format(base=""), content_type="application/rss+xml")

    site.expect_request("/slow.xml").respond_with_handler(slow)
    config = write_config({
        "sources": [{"name": "slow", "kind": "feed", "url": site.url_for("/slow.xml")}],
        "watches": WATCHES,
    })
    seen: list[bool] = []

    def probe(event: CrawlEvent) -> None:
        if event.kind == "run_started":
            other = SourceLock(Path(state_dir).resolve(), "slow")
            seen.append(other.acquire())
            other.release()

    crawl(config, state_dir, on_event=probe)
    assert seen == [False]
    free = SourceLock(Path(state_dir).resolve(), "slow")
    assert free.acquire()
    free.release()


def test_a_run_left_running_by_a_killed_crawl_is_closed_by_the_next_crawl(
    site, write_config, state_dir
):
    serve_news(site)
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml")}],
        "watches": WATCHES,
    })
    with open_store(state_dir) as store:
        orphan = store.start_run("sample", pid=999_999_999)
    [result] = crawl(config, state_dir).results
    assert result.status == "ok"
    with open_store(state_dir) as store:
        closed = store.run(orphan)
    assert closed is not None
    assert closed.status == "interrupted"
    assert "died without closing its run" in closed.error




def rss(base: str, entries: list[tuple[str, str]], declaration: str = "") -> str:
    items = "".join(
        f"<item><title>{title}</title><link>{base}/n/{i}.html</link><guid>n-{i}</guid>"
        f"<description>{text}</description></item>"
        for i, (title, text) in enumerate(entries))
    return (f"{declaration}<rss version=\"2.0\"><channel><title>t</title><link>{base}/</link>"
            f"<description>d</description>{items}</channel></rss>")


CYRILLIC_NEWS = [("Хуавей построит сеть в Кутаиси", "Компания Хуавей получила контракт."),
                 ("Нуктек поставит сканеры", "Таможня закупит сканеры Нуктек.")]


@pytest.mark.parametrize("declaration", ["", '<?xml version="1.0" encoding="utf-8"?>'],
                         ids=["no XML declaration", "XML declaration says utf-8"])
def test_crawl_windows_1251_feed_labelled_utf8_is_read_as_cyrillic(
    site, write_config, state_dir, declaration
):
    base = site.url_for("").rstrip("/")
    site.expect_request("/lying.xml").respond_with_data(
        rss(base, CYRILLIC_NEWS, declaration).encode("cp1251"),
        content_type="application/rss+xml; charset=utf-8")
    config = write_config({
        "sources": [{"name": "lying", "kind": "feed", "url": site.url_for("/lying.xml")}],
        "watches": WATCHES,
    })
    [result] = crawl(config, state_dir).results
    assert result.status == "ok", result.error
    assert (result.new_items, result.new_matches) == (2, 4)
    assert result.warnings == []
    with open_store(state_dir) as store:
        titles = sorted(r["title"] for r in store._rows("SELECT title FROM items"))
    assert titles == ["Нуктек поставит сканеры", "Хуавей построит сеть в Кутаиси"]


def test_crawl_windows_1251_feed_labelled_latin1_is_read_as_cyrillic(
    site, write_config, state_dir
):
    base = site.url_for("").rstrip("/")
    site.expect_request("/latin.xml").respond_with_data(
        rss(base, CYRILLIC_NEWS, '<?xml version="1.0" encoding="iso-8859-1"?>').encode("cp1251"),
        content_type="application/rss+xml")
    config = write_config({
        "sources": [{"name": "latin", "kind": "feed", "url": site.url_for("/latin.xml")}],
        "watches": WATCHES,
    })
    [result] = crawl(config, state_dir).results
    assert (result.status, result.new_matches, result.warnings) == ("ok", 4, [])


def test_crawl_text_that_stays_garbled_is_a_warning_in_the_run(site, write_config, state_dir):
    """Mojibake published as valid UTF-8 cannot be re-decoded; it must not pass as news."""
    base = site.url_for("").rstrip("/")
    garbled = [(t.encode("utf-8").decode("cp1252", "replace"),
                x.encode("utf-8").decode("cp1252", "replace")) for t, x in CYRILLIC_NEWS]
    site.expect_request("/garbled.xml").respond_with_data(
        rss(base, garbled + [("Nuctech wins", "Nuctech wins the tender.")]).encode("utf-8"),
        content_type="application/rss+xml; charset=utf-8")
    config = write_config({
        "sources": [{"name": "garbled", "kind": "feed", "url": site.url_for("/garbled.xml")}],
        "watches": WATCHES,
    })
    [result] = crawl(config, state_dir).results
    assert result.status == "ok"
    [warning] = result.warnings
    assert warning.startswith(f"text of 2 item(s) looks mis-decoded (e.g. {base}/n/")
    with open_store(state_dir) as store:
        [run] = store._runs("SELECT * FROM runs")
    assert run.warnings == (warning,)


def test_crawl_feed_cut_at_max_items_says_how_many_were_left_unread(
    site, write_config, state_dir
):
    base = site.url_for("").rstrip("/")
    entries = [(f"Entry {i}", f"Text {i}.") for i in range(5000)]
    site.expect_request("/big.xml").respond_with_data(rss(base, entries),
                                                      content_type="application/rss+xml")
    config = write_config({
        "sources": [{"name": "big", "kind": "feed", "url": site.url_for("/big.xml"),
                     "max_items": 500}],
        "watches": WATCHES,
    })
    [result] = crawl(config, state_dir).results
    warning = ("4,500 entries left unread: max_items is 500; raise max_items (or crawl more "
               "often) to read them all")
    assert (result.status, result.new_items, result.warnings) == ("ok", 500, [warning])

    # ... and it reaches `monitor status` and the digest's Coverage
    status = CliRunner().invoke(cli, ["--config", str(config.path), "--state", str(state_dir),
                                      "status"])
    assert f"big: {warning}" in status.output
    as_json = CliRunner().invoke(cli, ["--config", str(config.path), "--state",
                                       str(state_dir), "status", "--json"])
    assert json.loads(as_json.output)["sources"][0]["warnings"] == [warning]
    with open_store(state_dir) as store:
        digest = build_digest(store, config, Recipient(email="desk@example.org"))
    [line] = digest.coverage
    assert line.warnings == (warning,)
    assert f"warning: {warning}" in render_text(digest)
    assert f"warning: {warning}" in render_html(digest)


def test_crawl_redirects_that_go_nowhere_are_errors_naming_the_chain(
    site, write_config, state_dir
):
    def redirect(to: str) -> Response:
        return Response("moved", status=302, headers={"Location": to})

    site.expect_request("/loop-a.xml").respond_with_response(redirect("/loop-b.xml"))
    site.expect_request("/loop-b.xml").respond_with_response(redirect("/loop-a.xml"))
    for hop in range(30):
        site.expect_request(f"/hop/{hop}").respond_with_response(redirect(f"/hop/{hop + 1}"))
    site.expect_request("/ftp.xml").respond_with_response(
        redirect("ftp://files.example.org/feed.xml"))
    config = write_config({
        "sources": [
            {"name": "loop", "kind": "feed", "url": site.url_for("/loop-a.xml")},
            {"name": "hops", "kind": "feed", "url": site.url_for("/hop/0")},
            {"name": "elsewhere", "kind": "feed", "url": site.url_for("/ftp.xml")},
        ],
        "watches": WATCHES,
    })
    results = {r.source: r for r in crawl(config, state_dir).results}
    a, b = site.url_for("/loop-a.xml"), site.url_for("/loop-b.xml")
    assert results["loop"].status == "error"
    assert results["loop"].error == f"redirect loop: {a} -> {b} -> {a}"
    assert results["hops"].status == "error"
    assert (results["hops"].error or "").startswith(
        f"too many redirects (21): {site.url_for('/hop/0')} -> ")
    assert results["elsewhere"].status == "error"
    assert results["elsewhere"].error == (
        f"redirect to a non-http URL: {site.url_for('/ftp.xml')} -> "
        "ftp://files.example.org/feed.xml")


def test_crawl_reads_the_config_it_was_given_not_the_file_changed_since(
    site, write_config, state_dir
):
    serve_news(site)
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml")}],
        "watches": WATCHES,
    })
    assert config.path is not None
    config.path.write_text("sources:\n  - name: sample\n    kind: feeed\n", "utf-8")
    [result] = crawl(config, state_dir).results
    assert (result.status, result.new_items) == ("ok", 2), result.error


def test_crawl_child_gets_only_the_environment_it_needs(
    site, write_config, state_dir, monkeypatch
):
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "hunter2-smtp")
    monkeypatch.setenv("SOME_OTHER_API_KEY", "hunter2-other")
    monkeypatch.setenv("GOSZAKUP_TOKEN", "token-for-the-portal")
    serve_listing_that_hangs(site)
    config = write_config({
        "sources": [{"name": "listing", "kind": "page", "url": site.url_for("/list.html"),
                     "selectors": {"links": "a"}}],
        "watches": WATCHES, "crawl": {"timeout": 60},
    })
    seen: list[bytes] = []

    def read_environ() -> None:
        pid, _ = crawler_child(state_dir)
        seen.append(Path(f"/proc/{pid}/environ").read_bytes())

    reader = threading.Thread(target=read_environ)
    reader.start()
    crawl(config, state_dir, timeout=6, grace=1)
    reader.join()
    names = {entry.split(b"=", 1)[0].decode() for entry in seen[0].split(b"\0") if entry}
    assert b"hunter2" not in seen[0] and b"token-for-the-portal" not in seen[0]
    assert "PATH" in names and "SCRAPY_SETTINGS_MODULE" in names


def test_crawl_child_environment_carries_the_token_its_portal_names(write_config, monkeypatch):
    from monitor.crawl.process import _child_environment

    config = write_config({
        "sources": [{"name": "kz", "kind": "portal", "portal": "goszakup",
                     "url": "https://ows.goszakup.gov.kz/v3", "token_env": "GOSZAKUP_TOKEN"}],
    })
    env = _child_environment({"PATH": "/bin", "GOSZAKUP_TOKEN": "t", "MONITOR_SMTP_PASSWORD": "p",
                              "LC_ALL": "C.UTF-8"}, config.sources)
    assert env == {"PATH": "/bin", "GOSZAKUP_TOKEN": "t", "LC_ALL": "C.UTF-8"}


def test_crawl_bot_protection_challenge_is_named_as_such(site, write_config, state_dir):
    challenge = ("<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
                 "<div id=\"challenge-platform\">Checking your browser</div></body></html>")
    site.expect_request("/cf.xml").respond_with_data(
        challenge, status=403, content_type="text/html", headers={"cf-mitigated": "challenge"})
    site.expect_request("/ddg.xml").respond_with_data(
        "<html><head><title>DDoS-Guard</title></head><body>Checking</body></html>",
        status=503, content_type="text/html")
    site.expect_request("/down.xml").respond_with_data(
        "<html><body>Service Unavailable</body></html>", status=503,
        content_type="text/html", headers={"Server": "cloudflare"})
    config = write_config({
        "sources": [{"name": name, "kind": "feed", "url": site.url_for(f"/{name}.xml")}
                    for name in ("cf", "ddg", "down")],
        "watches": WATCHES,
    })
    results = {r.source: r for r in crawl(config, state_dir).results}
    assert (results["cf"].error or "").startswith(
        "blocked by bot protection at 127.0.0.1 (Cloudflare, HTTP 403 from ")
    assert (results["ddg"].error or "").startswith(
        "blocked by bot protection at 127.0.0.1 (DDoS-Guard, HTTP 503 from ")
    assert results["down"].error == f"HTTP 503 from {site.url_for('/down.xml')}"


@pytest.mark.parametrize(("shutdown", "entries", "entry_failures", "errors", "status"), [
    (False, 1, 0, 0, "ok"),
    (False, 2, 1, 1, "partial"),  # one feed of two failed
    (False, 1, 0, 3, "partial"),  # articles failed, the listing was read
    (False, 2, 2, 2, "error"),  # nothing could be read
    (True, 1, 1, 1, "interrupted"),  # shut down: the operator's doing, whatever failed
    (False, 0, 0, 0, "ok"),
])
def test_run_status_is_one_rule(shutdown, entries, entry_failures, errors, status):
    from monitor.crawl import run_status

    assert run_status(shutdown=shutdown, entry_requests=entries,
                      entry_failures=entry_failures, errors=errors) == status


def test_crawl_feed_keeps_the_summaries_of_article_pages_it_cannot_read(
    site, write_config, state_dir
):
    """`follow_links`: pages that answer 500, a Cloudflare challenge or nothing in time leave
    their entries' titles and summaries as the items; they match, and the run is partial with
    each failure named. A page read on a later crawl becomes a new version of the same item."""
    base = site.url_for("").rstrip("/")
    entries = [
        ("down", "Customs upgrade at Sarpi", "The Revenue Service chose Nuctech scanners."),
        ("cf", "Safe City cameras", "Hikvision cameras go up in Batumi."),
        ("slow", "Rikoti tunnel", "China Railway finishes the Rikoti tunnel."),
    ]
    items = "".join(
        f"<item><title>{title}</title><link>{base}/b/{name}.html</link><guid>b-{name}</guid>"
        f"<pubDate>Fri, 20 Nov 2026 09:00:00 +0400</pubDate><description>{summary}"
        "</description></item>" for name, title, summary in entries)
    site.expect_request("/feed.xml").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title>{items}'
        "</channel></rss>", content_type="application/rss+xml")
    site.expect_request("/b/down.html").respond_with_data("oops", status=500)
    site.expect_request("/b/cf.html", handler_type=HandlerType.ONESHOT).respond_with_data(
        "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
        "<div id=\"challenge-platform\">Checking your browser</div></body></html>",
        status=403, content_type="text/html", headers={"cf-mitigated": "challenge"})

    def slow(request: Request) -> Response:
        time.sleep(3)
        return Response(html("Rikoti", "late"), content_type="text/html")

    site.expect_request("/b/slow.html").respond_with_handler(slow)
    config = write_config({
        "sources": [{"name": "blocked", "kind": "feed", "url": site.url_for("/feed.xml"),
                     "follow_links": True}],
        "watches": [{"name": "Nuctech"}, {"name": "Hikvision"}, {"name": "China Railway"},
                    {"name": "Huawei"}],
        "crawl": {"timeout": 1.5, "retries": 0},
    })
    [result] = crawl(config, state_dir).results

    assert result.status == "partial"
    assert result.new_items == 3 and result.new_matches == 3
    assert sorted(result.error_details) == sorted([
        f"HTTP 500 from {base}/b/down.html",
        f"blocked by bot protection at 127.0.0.1 (Cloudflare, HTTP 403 from {base}/b/cf.html): "
        "ask the site to allow monitor's User-Agent, or watch another source for it",
        f"timed out after 1.5s: {base}/b/slow.html",
    ])
    with open_store(state_dir) as store:
        stored = {r["key"]: r for r in store._rows("SELECT * FROM items")}
        found = {(r["watch"], r["key"]) for r in store._rows(
            "SELECT m.watch, i.key FROM matches m JOIN items i ON i.id = m.item_id")}
        # their evidence is the feed they were read from, not a challenge page
        evidence = {(c.url, c.status) for r in stored.values() for c in store.captures(r["id"])}
        digest = build_digest(store, config, Recipient(email="desk@example.org"))
    assert {k: (r["url"], r["title"], r["text"]) for k, r in stored.items()} == {
        f"b-{name}": (f"{base}/b/{name}.html", title, summary)
        for name, title, summary in entries}
    assert found == {("Nuctech", "b-down"), ("Hikvision", "b-cf"),
                     ("China Railway", "b-slow")}
    assert evidence == {(f"{base}/feed.xml", 200)}
    assert "[[Hikvision]] cameras go up in Batumi." in render_text(digest)

    # the challenge is gone: the page is read, and its text is the item's next version
    site.expect_request("/b/cf.html").respond_with_data(
        html("Safe City cameras", "Hikvision cameras and a Huawei network go up in Batumi."),
        content_type="text/html")
    [again] = crawl(config, state_dir).results
    assert (again.new_items, again.changed_items, again.new_matches) == (0, 1, 1)
    with open_store(state_dir) as store:
        [row] = store._rows("SELECT * FROM items WHERE key = 'b-cf'")
        versions = store.count("item_versions")
    assert "Huawei network" in row["text"] and row["version"] == 2
    assert versions == 4
