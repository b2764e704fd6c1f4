"""Spiders over saved pages: no child process, no network, no reactor.

Each test builds a spider directly (the way `crawlers.run` would, minus the config file and
store), hands it `scrapy.http` responses made from the pages in tests/pages/<spider>/, and looks
at what it yields: `ScrapedItem`s, follow-up `Request`s, and errors recorded for the run.
Also here: the Retry-After middleware and how failed requests are described to users.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import collect, page, requests_of
from scrapy import Request, signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import HtmlResponse, Response, TextResponse, XmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.internet.error import DNSLookupError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

import crawlers.settings
from crawlers.middlewares import MAX_WAIT_S, RetryAfterMiddleware, retry_after_seconds
from crawlers.portals.base import PortalSpider
from crawlers.portals.common import error_in
from crawlers.registry import SPIDERS
from crawlers.spiders import Feed, Page, Sitemap, SourceSpider
from crawlers.spiders.base import describe_failure
from monitor.config import Config, parse_config
from monitor.models import ScrapedItem
from monitor.normalise import canonical_url, normalise
from monitor.store import Store
from monitor.store.rows import KnownPage

# Importing trafilatura (in SourceSpider.article) imports urllib3.contrib.socks, which warns
# that PySocks is missing; filterwarnings=error would turn that into a failed test.
# the project's own settings (crawlers/settings.py), as crawlers.run starts from them
PROJECT_SETTINGS = {k: getattr(crawlers.settings, k) for k in dir(crawlers.settings) if k.isupper()}

WIRE = "https://wire.example.ge"
BIZ = "https://bizgeorgia.example.ge"
DAILY = "https://eurasia-daily.example.org"
BISHKEK = "https://biz.example.kg"

# the saved sitemaps' dates: recent ones in March 2025, old ones in autumn 2024
WINDOW_START = datetime(2025, 1, 1, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def extract_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests extract in the test process; the crawl tests exercise the process pool."""
    monkeypatch.setenv("MONITOR_EXTRACT_WORKERS", "0")


def make_spider(
    cls: type[SourceSpider],
    source: dict[str, Any],
    *,
    settings: dict[str, Any] | None = None,
    known_hashes: dict[str, str] | None = None,
) -> Any:
    """A spider for one source, set up as `SourceSpider.from_crawler` would but without a
    config file or a store."""
    source = {"name": "src", "kind": cls.name, **source}
    config: Config = parse_config({"sources": [source]})
    crawler = get_crawler(cls, {**PROJECT_SETTINGS, **(settings or {})})
    spider = cls(source_name=source["name"])
    spider._set_crawler(crawler)
    spider.config = config
    spider.source = config.source(source["name"])
    # stored and fetched just now: found again on a listing, not due
    now = datetime.now(UTC).isoformat()
    spider.known_pages = {url: KnownPage(raw_hash=digest, first_seen_at=now, fetched_at=now)
                          for url, digest in (known_hashes or {}).items()}
    return spider


def respond(
    url: str,
    body: bytes | str,
    *,
    cls: type[Response] = HtmlResponse,
    content_type: str | None = None,
    entry: bool = False,
    meta: dict[str, Any] | None = None,
    status: int = 200,
) -> Any:
    """A response to a request as `SourceSpider.request()` makes it. A str body names a saved
    page under tests/pages/."""
    data = page(body) if isinstance(body, str) else body
    request = Request(url, meta={"monitor_entry": entry, **(meta or {})})
    headers = {"Content-Type": content_type} if content_type else {}
    return cls(url=url, body=data, headers=headers, request=request, status=status)


def items_of(results: Iterable[Any]) -> list[ScrapedItem]:
    return [r for r in results if isinstance(r, ScrapedItem)]


def failure_for(exc: BaseException, url: str = f"{WIRE}/feed/", entry: bool = False) -> Failure:
    failure = Failure(exc)
    failure.request = Request(url, meta={"monitor_entry": entry})  # type: ignore[attr-defined]
    return failure


def recent_window() -> float:
    """`max_age_days` that keeps the saved sitemaps' 2025 entries and drops the 2024 ones."""
    return (datetime.now(UTC) - WINDOW_START).days


# -- every spider ----------------------------------------------------------------------------

SOURCES: dict[str, dict[str, Any]] = {
    "feed": {"urls": [f"{WIRE}/en/feed/", f"{WIRE}/ka/feed/"]},
    "page": {"url": f"{BIZ}/news", "selectors": {"links": "ul.news-list a"}},
    "sitemap": {"url": f"{DAILY}/news-sitemap.xml"},
}


def test_spiders_cover_every_source_kind() -> None:
    # generic spiders by source kind; portal spiders by `portal:` (tests/test_<portal>.py)
    assert set(SPIDERS) == {"feed", "page", "sitemap", "prozorro", "ocds", "goszakup",
                            "georgia_spa", "ted"}
    for kind, cls in SPIDERS.items():
        assert cls.name == kind
        assert issubclass(cls, SourceSpider)
        assert cls.__doc__ and "Reads" in cls.__doc__, f"{cls.__name__} needs a user docstring"
    assert {k for k, cls in SPIDERS.items() if issubclass(cls, PortalSpider)} == {
        "prozorro", "ocds", "goszakup", "georgia_spa", "ted"}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_start_yields_an_entry_request_per_url(kind: str) -> None:
    spider = make_spider(SPIDERS[kind], SOURCES[kind])

    requests = collect(spider.start())

    assert requests, "start() yielded nothing: Scrapy >= 2.13 never calls start_requests()"
    assert [r.url for r in requests] == list(spider.source.start_urls)
    for request in requests:
        assert isinstance(request, Request)
        assert request.meta["monitor_entry"] is True
        assert request.errback == spider.on_error
        assert request.callback is not None
    assert spider.entry_requests == len(requests)


# -- feed ------------------------------------------------------------------------------------


def test_rss_entries_become_items() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "language": "en"})
    response = respond(f"{WIRE}/en/feed/", "feed/rss.xml", cls=XmlResponse,
                       content_type="application/rss+xml; charset=utf-8", entry=True)

    items = items_of(spider.parse_feed(response))

    assert [i.title for i in items] == [
        "Nuctech to supply X-ray scanners to Sarpi and Kazbegi checkpoints",
        'Hikvision cameras for Batumi "safe city" project',
        "China Railway 23rd Bureau wins Rikoti tunnel section",
        "ჰუავეი „საქართველოს რკინიგზის“ ტენდერში მონაწილეობს",
    ]
    nuctech, hikvision, china_railway, huawei = items
    # the guid is the identity; content:encoded (fuller) wins over description
    assert nuctech.native_id == "tbw-10482"
    assert nuctech.url == f"{WIRE}/en/2025/03/10/nuctech-scanners-sarpi/"
    assert "SPA250003112" in nuctech.body and "4.1 million GEL" in nuctech.body
    assert nuctech.published == "Mon, 10 Mar 2025 09:30:00 +0400"
    assert normalise(nuctech).published_at == "2025-03-10T05:30:00+00:00"
    # a relative link is resolved against the feed; no guid: the link is the identity
    assert hikvision.url == f"{WIRE}/en/2025/03/09/hikvision-batumi-safe-city/"
    assert hikvision.native_id == hikvision.url
    assert "Hikvision" in hikvision.body
    # tracking parameters stay on the raw item; normalise() drops them
    assert china_railway.native_id == f"{WIRE}/en/2025/03/08/china-railway-rikoti/"
    assert normalise(china_railway).url == f"{WIRE}/en/2025/03/08/china-railway-rikoti/"
    assert "ჰუავეის" in huawei.body
    assert all(i.source == "src" and i.language == "en" and not i.unchanged for i in items)
    assert spider.fetched == 1
    assert spider.errors == []


def test_atom_entries_become_items() -> None:
    spider = make_spider(Feed, {"url": "https://ca-monitor.example.org/atom.xml"})
    response = respond("https://ca-monitor.example.org/atom.xml", "feed/atom.xml",
                       cls=XmlResponse, content_type="application/atom+xml", entry=True)

    zte, huawei = items_of(spider.parse_feed(response))

    assert zte.title == "ZTE wins Uzbektelecom 5G core network contract"
    assert zte.native_id == "tag:ca-monitor.example.org,2025:entry-311"
    assert zte.url == "https://ca-monitor.example.org/2025/03/zte-uzbektelecom-5g"
    # <content> is fuller than <summary>; <published> is preferred over <updated>
    assert "closed tender" in zte.body
    assert zte.published == "2025-03-11T06:40:00+05:00"
    assert huawei.url == "https://ca-monitor.example.org/2025/03/huawei-kz-data-centre"
    assert huawei.published == "2025-03-10T12:00:00Z"
    assert huawei.body.startswith("The Ministry of Digital Development")
    assert spider.errors == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/rss+xml",
        "application/rss+xml; charset=windows-1251",
        # RFC 3023 says us-ascii for text/xml without a charset: the declaration must win
        "text/xml",
        # a lying header: the bytes are not UTF-8, so the XML declaration must win
        "application/xml; charset=utf-8",
        None,
    ],
)
def test_windows_1251_feed_is_decoded_from_its_xml_declaration(content_type: str | None) -> None:
    spider = make_spider(Feed, {"url": f"{BISHKEK}/ru/rss", "language": "ru"})
    response = respond(f"{BISHKEK}/ru/rss", "feed/rss-cp1251.xml", cls=XmlResponse,
                       content_type=content_type, entry=True)

    items = items_of(spider.parse_feed(response))

    assert [i.title for i in items] == [
        "Huawei поставит оборудование для «Казахтелекома»",
        "Компания Nuctech выиграла тендер таможенной службы Кыргызстана",
        "China Railway построит участок дороги Бишкек — Нарын",
    ]
    assert "Хуавей" in items[0].body
    assert spider.errors == []


def test_windows_1251_feed_labelled_latin_1_by_the_server() -> None:
    spider = make_spider(Feed, {"url": f"{BISHKEK}/ru/rss"})
    response = respond(f"{BISHKEK}/ru/rss", "feed/rss-cp1251.xml", cls=XmlResponse,
                       content_type="text/xml; charset=iso-8859-1", entry=True)

    items = items_of(spider.parse_feed(response))

    assert items[0].title == "Huawei поставит оборудование для «Казахтелекома»"


def test_utf8_feed_labelled_latin_1_by_the_server() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/"})
    response = respond(f"{WIRE}/en/feed/", "feed/rss.xml", cls=XmlResponse,
                       content_type="application/rss+xml; charset=iso-8859-1", entry=True)

    items = items_of(spider.parse_feed(response))

    assert items[3].title == "ჰუავეი „საქართველოს რკინიგზის“ ტენდერში მონაწილეობს"


@pytest.mark.parametrize("max_items", [1, 3])
def test_feed_stops_at_max_items(max_items: int) -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "max_items": max_items})
    response = respond(f"{WIRE}/en/feed/", "feed/rss.xml", cls=XmlResponse, entry=True)

    assert len(items_of(spider.parse_feed(response))) == max_items


def test_html_instead_of_a_feed_fails_the_entry() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/"})
    response = respond(f"{WIRE}/en/feed/", "feed/not-a-feed.html",
                       content_type="text/html; charset=utf-8", entry=True)

    results = list(spider.parse_feed(response))

    assert results == []
    assert spider.entry_failures == 1
    assert len(spider.errors) == 1
    assert spider.errors[0].startswith(f"malformed feed at {WIRE}/en/feed/: ")


def test_feed_truncated_before_its_first_entry_fails_the_entry() -> None:
    body = page("feed/rss.xml")
    truncated = body[: body.index(b"<item>")]
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/"})

    results = list(spider.parse_feed(respond(f"{WIRE}/en/feed/", truncated, cls=XmlResponse,
                                             entry=True)))

    assert results == []
    assert spider.entry_failures == 1
    assert "malformed feed" in spider.errors[0]


def test_feed_truncated_inside_an_entry_keeps_what_it_could_read() -> None:
    """feedparser's loose parser recovers the cut entry; the damage is recorded as a
    non-entry error, so the run is `partial`, not a silent `ok`."""
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/"})
    response = respond(f"{WIRE}/en/feed/", "feed/truncated.xml", cls=XmlResponse, entry=True)

    items = items_of(spider.parse_feed(response))

    assert [i.native_id for i in items] == ["tbw-10482"]
    assert items[0].url == f"{WIRE}/en/2025/03/10/nuctech-scanners-sarpi/"
    # the cut content:encoded is lost; the description stands in for it
    assert items[0].body == ("The Revenue Service has awarded a 4.1 million GEL contract for "
                             "cargo scanners.")
    [error] = spider.errors
    assert error.startswith(f"damaged feed at {WIRE}/en/feed/") and "read 1 entries" in error
    assert spider.entry_failures == 0


def test_feed_entry_without_link_or_id_is_an_error_but_not_an_entry_failure() -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>Nuctech, no link</title></item>"
            b"<item><title>ZTE</title><link>https://wire.example.ge/zte</link></item>"
            b"</channel></rss>")
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/"})

    items = items_of(spider.parse_feed(respond(f"{WIRE}/en/feed/", body, cls=XmlResponse,
                                               entry=True)))

    assert [i.title for i in items] == ["ZTE"]
    assert spider.errors == [f"feed entry without link or id at {WIRE}/en/feed/"]
    assert spider.entry_failures == 0


def test_follow_links_requests_each_article_with_the_entry_fields() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True})
    response = respond(f"{WIRE}/en/feed/", "feed/rss.xml", cls=XmlResponse, entry=True)

    results = list(spider.parse_feed(response))

    assert items_of(results) == []
    requests = requests_of(results)
    assert [r.url for r in requests] == [
        f"{WIRE}/en/2025/03/10/nuctech-scanners-sarpi/",
        f"{WIRE}/en/2025/03/09/hikvision-batumi-safe-city/",
        f"{WIRE}/en/2025/03/08/china-railway-rikoti/?utm_source=rss&utm_medium=feed",
        f"{WIRE}/ka/2025/03/07/huawei-railway-tender/",
    ]
    first = requests[0]
    assert first.callback == spider.parse_article
    assert first.errback == spider.on_article_error
    assert first.meta["monitor_entry"] is False
    assert first.cb_kwargs["title"] == (
        "Nuctech to supply X-ray scanners to Sarpi and Kazbegi checkpoints")
    assert first.cb_kwargs["native_id"] == "tbw-10482"
    assert first.cb_kwargs["published"] == "Mon, 10 Mar 2025 09:30:00 +0400"
    assert "4.1 million GEL" in first.cb_kwargs["summary"]


def test_followed_article_keeps_the_feed_title_and_date_and_drops_page_noise() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True})
    url = f"{WIRE}/en/2025/03/10/nuctech-scanners-sarpi/"

    (item,) = collect(spider.parse_article(
        respond(url, "page/article-en.html"), title="Feed title for Nuctech",
        published="Mon, 10 Mar 2025 09:30:00 +0400", native_id="tbw-10482", summary="summary",
    ))

    assert item.title == "Feed title for Nuctech"
    assert item.published == "Mon, 10 Mar 2025 09:30:00 +0400"
    assert item.native_id == "tbw-10482"
    assert "Tsinghua University" in item.body
    assert "Huawei" not in item.body
    assert item.raw_hash is not None


def test_followed_article_without_text_falls_back_to_the_feed_summary() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True})
    empty = b"<html><head><title>x</title></head><body><div id='app'></div></body></html>"

    (item,) = collect(spider.parse_article(respond(f"{WIRE}/spa", empty), title="Nuctech", published=None,
                                   native_id="tbw-1", summary="Nuctech won a tender."))

    assert item.body == "Nuctech won a tender."


def article_failure(spider: Feed, exc: BaseException, url: str,
                    redirected_from: str | None = None) -> Failure:
    """A failed article request as `Feed.parse_feed` makes it, `url` the link it asked."""
    response = respond(f"{WIRE}/en/feed/", "feed/rss.xml", cls=XmlResponse, entry=True)
    [request] = [r for r in requests_of(spider.parse_feed(response)) if r.url == url]
    if redirected_from:
        request = request.replace(url=redirected_from, meta={
            **request.meta, "redirect_urls": [url]})
    failure = Failure(exc)
    failure.request = request  # type: ignore[attr-defined]
    return failure


NUCTECH = f"{WIRE}/en/2025/03/10/nuctech-scanners-sarpi/"


@pytest.mark.parametrize(("exc", "error"), [
    (HttpError(respond(NUCTECH, b"oops", status=500), "Ignoring non-200 response"),
     f"HTTP 500 from {NUCTECH}"),
    (HttpError(respond(NUCTECH, b"<title>Just a moment...</title>", status=403),
               "Ignoring non-200 response"),
     "blocked by bot protection at wire.example.ge (Cloudflare, HTTP 403 from "),
    (DownloadTimeoutError("took longer than 5.0 seconds"), f"timed out after 5s: {NUCTECH}"),
    (DownloadConnectionRefusedError("refused"), f"connection refused: {NUCTECH}"),
], ids=["500", "cloudflare", "timeout", "refused"])
def test_followed_article_that_fails_keeps_the_feed_entry(exc: Exception, error: str) -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True},
                         settings=SETTINGS_5S)

    (item,) = spider.on_article_error(article_failure(spider, exc, NUCTECH))

    assert item.url == NUCTECH and item.native_id == "tbw-10482"
    assert item.title == "Nuctech to supply X-ray scanners to Sarpi and Kazbegi checkpoints"
    assert "4.1 million GEL" in item.body
    assert item.published == "Mon, 10 Mar 2025 09:30:00 +0400"
    assert item.raw_hash is None  # its page was never read: due again at the next crawl
    # the feed is the evidence of what the item says
    assert item.capture is not None and item.capture.url == f"{WIRE}/en/feed/"
    assert [e[:len(error)] for e in spider.errors] == [error]
    assert spider.entry_failures == 0  # the feed was read: the run is partial, not failed


def test_followed_article_redirected_then_failing_keeps_the_link_the_feed_gave() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True},
                         settings=SETTINGS_5S)
    failure = article_failure(spider, DownloadTimeoutError("slow"), NUCTECH,
                              redirected_from=f"{WIRE}/amp/nuctech")

    (item,) = spider.on_article_error(failure)

    assert item.url == NUCTECH
    assert spider.errors == [f"timed out after 5s: {WIRE}/amp/nuctech"]


def test_followed_article_forbidden_by_robots_keeps_the_feed_entry_quietly() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True})

    (item,) = spider.on_article_error(
        article_failure(spider, IgnoreRequest("Forbidden by robots.txt"), NUCTECH))

    assert item.native_id == "tbw-10482"
    assert spider.errors == []


def test_followed_article_read_before_keeps_its_stored_text_when_a_revisit_fails() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True},
                         known_hashes={NUCTECH: "0" * 64})
    # stored an hour and a day ago: its revisit is due
    day = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, hours=1)
    spider.known_pages[NUCTECH] = KnownPage(raw_hash="0" * 64, first_seen_at=day.isoformat(),
                                            fetched_at=day.isoformat())
    failure = article_failure(spider, HttpError(respond(NUCTECH, b"", status=503), "x"), NUCTECH)

    assert spider.on_article_error(failure) == []
    assert spider.errors == [f"HTTP 503 from {NUCTECH}"]


def test_feed_entry_stored_from_its_summary_is_fetched_until_its_page_is_read() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True})
    now = datetime.now(UTC).isoformat()
    # stored just now from the summary (no page hash), and a page read just now
    spider.known_pages = {
        NUCTECH: KnownPage(raw_hash=None, first_seen_at=now, fetched_at=now),
        f"{WIRE}/en/2025/03/09/hikvision-batumi-safe-city/": KnownPage(
            raw_hash="0" * 64, first_seen_at=now, fetched_at=now),
    }
    response = respond(f"{WIRE}/en/feed/", "feed/rss.xml", cls=XmlResponse, entry=True)

    urls = [r.url for r in requests_of(spider.parse_feed(response))]

    assert NUCTECH in urls and f"{WIRE}/en/2025/03/09/hikvision-batumi-safe-city/" not in urls
    assert spider.not_due == 1


def test_feed_entry_failures_carry_no_evidence_in_a_dry_run() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/en/feed/", "follow_links": True},
                         settings={"MONITOR_DRY_RUN": True})

    (item,) = spider.on_article_error(
        article_failure(spider, DownloadConnectionRefusedError("refused"), NUCTECH))

    assert item.capture is None


# -- page ------------------------------------------------------------------------------------

LISTING = {
    "url": f"{BIZ}/news",
    "selectors": {"links": "ul.news-list a", "next_page": "a[rel=next]"},
}

ARTICLE_LINKS = [
    f"{BIZ}/news/2025/03/10/nuctech-border-scanners",
    f"{BIZ}/news/2025/03/09/hikvision-batumi",
    f"{BIZ}/news/2025/03/08/zte-bishkek-network.html?utm_source=homepage",
]


def test_listing_yields_article_requests_and_the_next_page() -> None:
    spider = make_spider(Page, {**LISTING, "max_pages": 3})
    response = respond(f"{BIZ}/news", "page/listing.html", entry=True,
                       meta={"listing_page": 1})

    requests = requests_of(spider.parse_listing(response))

    # relative and absolute links resolved, padded href stripped, duplicates dropped,
    # `#comments`, `mailto:` and a link without href ignored, nav/sidebar/footer not read
    articles = [r for r in requests if r.callback == spider.parse_article]
    assert [r.url for r in articles] == ARTICLE_LINKS
    assert all(r.errback == spider.on_error and not r.meta["monitor_entry"] for r in articles)
    (next_page,) = [r for r in requests if r.callback == spider.parse_listing]
    assert next_page.url == f"{BIZ}/news?page=2"
    assert next_page.meta["listing_page"] == 2
    assert next_page.meta["monitor_entry"] is False
    assert spider.errors == []
    assert spider.fetched == 1


def test_listing_links_by_xpath_to_href_strings() -> None:
    source = {"url": f"{BIZ}/news",
              "selectors": {"links": "//ul[@class='news-list']//a/@href"}}
    spider = make_spider(Page, source)

    requests = requests_of(spider.parse_listing(respond(f"{BIZ}/news", "page/listing.html",
                                                        entry=True)))

    assert [r.url for r in requests] == ARTICLE_LINKS


@pytest.mark.parametrize(("max_pages", "listing_page"), [(1, 1), (3, 3)])
def test_listing_stops_following_next_page_at_max_pages(max_pages: int,
                                                         listing_page: int) -> None:
    spider = make_spider(Page, {**LISTING, "max_pages": max_pages})
    response = respond(f"{BIZ}/news?page={listing_page}", "page/listing.html",
                       meta={"listing_page": listing_page})

    requests = requests_of(spider.parse_listing(response))

    assert all(r.callback == spider.parse_article for r in requests)
    assert len(requests) == 3


def test_listing_stops_at_max_items() -> None:
    spider = make_spider(Page, {**LISTING, "max_items": 2})

    requests = requests_of(spider.parse_listing(respond(f"{BIZ}/news", "page/listing.html",
                                                        entry=True)))

    assert [r.url for r in requests if r.callback == spider.parse_article] == ARTICLE_LINKS[:2]


@pytest.mark.parametrize("href", ["tel:+995322000000", " mailto:tips@bizgeorgia.example.ge",
                                  "JavaScript:void(0)"])
def test_listing_ignores_links_that_are_not_http(href: str) -> None:
    spider = make_spider(Page, {"url": f"{BIZ}/news", "selectors": {"links": "ul a"}})
    html = (f'<ul><li><a href="/news/a">A</a></li><li><a href="{href}">Call us</a></li>'
            f'<li><a href="/news/b">B</a></li></ul>').encode()

    requests = requests_of(spider.parse_listing(respond(f"{BIZ}/news", html, entry=True)))

    assert [r.url for r in requests] == [f"{BIZ}/news/a", f"{BIZ}/news/b"]


def test_listing_where_links_match_nothing_fails_the_entry() -> None:
    spider = make_spider(Page, LISTING)
    response = respond(f"{BIZ}/news", "page/listing-redesigned.html", entry=True)

    results = list(spider.parse_listing(response))

    assert results == []
    assert spider.errors == [
        f"selectors.links 'ul.news-list a' matched no links on {BIZ}/news"
    ]
    assert spider.entry_failures == 1


def test_a_later_listing_page_without_links_is_an_error_but_not_an_entry_failure() -> None:
    spider = make_spider(Page, {**LISTING, "max_pages": 3})
    response = respond(f"{BIZ}/news?page=2", "page/listing-redesigned.html",
                       meta={"listing_page": 2})

    assert list(spider.parse_listing(response)) == []
    assert len(spider.errors) == 1
    assert spider.entry_failures == 0


def test_english_article_without_body_selector_drops_nav_sidebar_and_footer() -> None:
    spider = make_spider(Page, LISTING)
    url = f"{BIZ}/news/2025/03/10/nuctech-border-scanners"

    (item,) = collect(spider.parse_article(respond(url, "page/article-en.html",
                                           content_type="text/html; charset=utf-8")))

    assert isinstance(item, ScrapedItem) and not item.unchanged
    assert item.title == "Nuctech wins 4.1 million GEL tender for border scanners"
    assert item.url == url
    assert "Nuctech Company Ltd" in item.body
    assert "Transparency International Georgia" in item.body
    for noise in ("Huawei", "Most read", "Partners", "All rights reserved", "Politics"):
        assert noise not in item.body
    assert item.published and item.published.startswith("2025-03-10")
    assert item.raw_hash and len(item.raw_hash) == 64
    assert spider.fetched == 1


def test_english_article_keeps_the_time_of_day_from_its_metadata() -> None:
    spider = make_spider(Page, LISTING)
    url = f"{BIZ}/news/2025/03/10/nuctech-border-scanners"

    (item,) = collect(spider.parse_article(respond(url, "page/article-en.html")))

    assert normalise(item).published_at == "2025-03-10T05:30:00+00:00"


def test_georgian_utf8_article_served_as_latin_1() -> None:
    spider = make_spider(Page, {**LISTING, "language": "ka"})
    url = f"{BIZ}/ka/news/hikvision-batumi-safe-city"

    (item,) = collect(spider.parse_article(respond(url, "page/article-ka.html",
                                           content_type="text/html; charset=iso-8859-1")))

    assert item.title == "ჰიკვიჟენი ბათუმის „უსაფრთხო ქალაქის“ ტენდერში გაიმარჯვა"
    assert "შპს „სეიფ სისტემსი“" in item.body
    assert "ჰიკვიჟენის კამერები" in item.body
    assert "Huawei" not in item.body
    assert "ჰუავეი" not in item.body
    assert "პარტნიორები" not in item.body
    assert item.language == "ka"
    assert normalise(item).published_at == "2025-03-09T13:12:00+00:00"


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "text/html; charset=windows-1251", "text/html; charset=iso-8859-1", None],
)
def test_russian_windows_1251_article(content_type: str | None) -> None:
    spider = make_spider(Page, LISTING)
    url = f"{BISHKEK}/ru/news/2025/03/zte-kyrgyztelecom"

    (item,) = collect(spider.parse_article(respond(url, "page/article-ru.html",
                                           content_type=content_type)))

    assert item.title == "ZTE выиграла тендер на модернизацию сети «Кыргызтелекома»"
    assert "китайская компания ZTE Corporation" in item.body
    assert "Эксимбанка Китая" in item.body
    for noise in ("Huawei", "Хуавей", "Популярное", "Партнёры"):
        assert noise not in item.body
    assert normalise(item).published_at == "2025-03-08T06:40:00+00:00"


def test_article_selectors_from_the_config_win() -> None:
    source = {**LISTING, "selectors": {
        **LISTING["selectors"],
        "title": "h1.post-title",
        "date": "time.published",
        "body": "div.post-body p",
    }}
    spider = make_spider(Page, source)

    (item,) = collect(spider.parse_article(respond(f"{BIZ}/news/a", "page/article-en.html")))

    assert item.title == "Nuctech wins 4.1 million GEL tender for border scanners"
    assert item.published == "2025-03-10T09:30:00+04:00"  # the datetime attribute, not the text
    assert item.body.startswith("<p>The Revenue Service of Georgia")
    assert item.body.count("<p>") == 4
    assert "Huawei" not in item.body
    assert "Nuctech wins" not in normalise(item).text  # the headline is not part of the body


def test_article_selectors_by_xpath_to_strings() -> None:
    source = {**LISTING, "selectors": {
        **LISTING["selectors"],
        "title": "//meta[@property='og:title']/@content",
        "date": "//meta[@property='article:published_time']",
    }}
    spider = make_spider(Page, source)

    (item,) = collect(spider.parse_article(respond(f"{BIZ}/news/a", "page/article-en.html")))

    assert item.title == "Nuctech wins 4.1 million GEL tender for border scanners"
    assert item.published == "2025-03-10T09:30:00+04:00"  # the element's `content` attribute


def test_unchanged_page_yields_an_unchanged_marker() -> None:
    body = page("page/article-en.html")
    url = f"{BIZ}/news/2025/03/10/nuctech-border-scanners?utm_source=homepage#comments"
    first = make_spider(Page, LISTING)
    (stored,) = collect(first.parse_article(respond(url, body)))

    spider = make_spider(Page, LISTING,
                         known_hashes={canonical_url(url): stored.raw_hash or ""})
    (marker,) = collect(spider.parse_article(respond(url, body)))

    assert marker == ScrapedItem(source="src", url=f"{BIZ}/news/2025/03/10/nuctech-border-scanners",
                                 raw_hash=stored.raw_hash, unchanged=True)
    assert spider.fetched == 1


def test_changed_page_is_extracted_again() -> None:
    url = f"{BIZ}/news/2025/03/10/nuctech-border-scanners"
    spider = make_spider(Page, LISTING, known_hashes={url: "0" * 64})

    (item,) = collect(spider.parse_article(respond(url, "page/article-en.html")))

    assert not item.unchanged
    assert "Nuctech Company Ltd" in item.body


def test_from_crawler_reads_config_and_the_opened_spider_known_pages_from_the_store(
    write_config: Callable[..., Config], state_dir: Path, store: Store
) -> None:
    config = write_config({"sources": [{"name": "biz", "kind": "page", **LISTING}]})
    url = f"{BIZ}/news/2025/03/10/nuctech-border-scanners"
    builder = make_spider(Page, {"name": "biz", **LISTING})
    (scraped,) = collect(builder.parse_article(respond(url, "page/article-en.html")))
    store.add(normalise(scraped), [])
    crawler = get_crawler(Page, {**PROJECT_SETTINGS, "MONITOR_CONFIG": str(config.path),
                                 "MONITOR_STATE": str(state_dir)})

    spider = Page.from_crawler(crawler, source_name="biz")
    assert spider.source.name == "biz"
    assert spider.known_pages == {}  # the crawl's store is opened with the spider

    # the project's extensions (RunRecorder, then CrawlStateLoader), as the engine fires them
    opened = crawler.signals.send_catch_log(signals.spider_opened, spider=spider)
    try:
        assert [r for _, r in opened if isinstance(r, Failure)] == []
        assert {u: p.raw_hash for u, p in spider.known_pages.items()} == {url: scraped.raw_hash}
    finally:
        crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason="finished")
    (marker,) = collect(spider.parse_article(respond(url, "page/article-en.html")))
    assert marker.unchanged and marker.source == "biz"


# -- sitemap ---------------------------------------------------------------------------------


def test_news_sitemap_keeps_recent_and_undated_urls() -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/news-sitemap.xml",
                                   "max_age_days": recent_window()})
    response = respond(f"{DAILY}/news-sitemap.xml", "sitemap/news-sitemap.xml", cls=XmlResponse,
                       entry=True)

    requests = requests_of(spider.parse_sitemap(response))

    assert [(r.url, r.cb_kwargs) for r in requests] == [
        (f"{DAILY}/2025/03/10/nuctech-kazakhstan-customs",
         {"title": "Nuctech scanners for Kazakhstan's customs: contract signed",
          "published": "2025-03-10T03:15:00+00:00"}),  # news:publication_date, not lastmod
        (f"{DAILY}/ka/2025/03/09/hikvision-batumi",
         {"title": "ჰიკვიჟენი ბათუმის „უსაფრთხო ქალაქის“ ტენდერში გაიმარჯვა",
          "published": "2025-03-09T00:00:00+00:00"}),
        (f"{DAILY}/2025/03/08/zte-uzbektelecom-5g",  # relative <loc> resolved
         {"title": None, "published": "2025-03-08T13:30:00+00:00"}),
        (f"{DAILY}/about/tenders-tracker", {"title": None, "published": None}),
    ]
    assert all(r.callback == spider.parse_article and r.errback == spider.on_error
               for r in requests)
    assert spider.errors == []


def test_news_sitemap_with_a_short_window_keeps_only_undated_urls() -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/news-sitemap.xml", "max_age_days": 3})
    response = respond(f"{DAILY}/news-sitemap.xml", "sitemap/news-sitemap.xml", cls=XmlResponse)

    requests = requests_of(spider.parse_sitemap(response))

    assert [r.url for r in requests] == [f"{DAILY}/about/tenders-tracker"]


def test_news_sitemap_stops_at_max_items() -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/news-sitemap.xml", "max_items": 2,
                                   "max_age_days": recent_window()})
    response = respond(f"{DAILY}/news-sitemap.xml", "sitemap/news-sitemap.xml", cls=XmlResponse)

    assert len(requests_of(spider.parse_sitemap(response))) == 2


def test_max_items_holds_across_the_child_sitemaps_of_an_index() -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/sitemap-index.xml", "max_items": 2,
                                   "max_age_days": recent_window()})
    children = [respond(f"{DAILY}/sitemaps/news-{n}.xml", "sitemap/news-sitemap.xml",
                        cls=XmlResponse) for n in (1, 2)]

    requests = [r for child in children for r in requests_of(spider.parse_sitemap(child))]

    assert len(requests) == 2


def test_damaged_sitemap_reads_what_it_can_and_says_so() -> None:
    body = page("sitemap/news-sitemap.xml")
    cut = body[: body.index(b"zte-uzbektelecom-5g")]
    spider = make_spider(Sitemap, {"url": f"{DAILY}/news-sitemap.xml",
                                   "max_age_days": recent_window()})
    response = respond(f"{DAILY}/news-sitemap.xml", cut, cls=XmlResponse, entry=True)

    requests = requests_of(spider.parse_sitemap(response))

    assert [r.url for r in requests][:2] == [
        f"{DAILY}/2025/03/10/nuctech-kazakhstan-customs",
        f"{DAILY}/ka/2025/03/09/hikvision-batumi",
    ]
    [error] = spider.errors
    assert error.startswith(f"damaged sitemap at {DAILY}/news-sitemap.xml")
    assert spider.entry_failures == 0


def test_sitemap_index_follows_recent_child_sitemaps() -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/sitemap-index.xml",
                                   "max_age_days": recent_window()})
    response = respond(f"{DAILY}/sitemap-index.xml", "sitemap/sitemap-index.xml",
                       cls=XmlResponse, entry=True)

    requests = requests_of(spider.parse_sitemap(response))

    assert [r.url for r in requests] == [
        f"{DAILY}/sitemaps/news-2025-03.xml",
        f"{DAILY}/sitemaps/news-2025-02.xml.gz",
        f"{DAILY}/sitemaps/pages.xml",  # no lastmod: taken
    ]
    assert all(r.callback == spider.parse_sitemap for r in requests)
    assert all(r.meta["monitor_entry"] is False for r in requests)


def test_gzipped_sitemap_reads_like_the_plain_one() -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/sitemap-index.xml",
                                   "max_age_days": recent_window()})
    plain = respond(f"{DAILY}/sitemaps/news-2025-03.xml", "sitemap/news-sitemap.xml",
                    cls=XmlResponse)
    # served as a file (no Content-Encoding): the body reaches the spider still gzipped
    gzipped = respond(f"{DAILY}/sitemaps/news-2025-02.xml.gz",
                      gzip.compress(page("sitemap/news-sitemap.xml")), cls=Response,
                      content_type="application/x-gzip")

    expected = [(r.url, r.cb_kwargs) for r in requests_of(spider.parse_sitemap(plain))]
    got = [(r.url, r.cb_kwargs) for r in requests_of(spider.parse_sitemap(gzipped))]

    assert got == expected
    assert len(got) == 4
    assert spider.errors == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "malformed sitemap at"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>",
         f"not a sitemap at {DAILY}/news-sitemap.xml: root element <html>"),
        (page("feed/rss.xml"), "root element <rss>"),
    ],
    ids=["empty", "html", "rss"],
)
def test_not_a_sitemap_fails_the_entry(body: bytes, problem: str) -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/news-sitemap.xml"})
    response = respond(f"{DAILY}/news-sitemap.xml", body, cls=TextResponse, entry=True)

    assert list(spider.parse_sitemap(response)) == []
    assert len(spider.errors) == 1 and problem in spider.errors[0]
    assert spider.entry_failures == 1


def test_sitemap_article_takes_the_news_title() -> None:
    spider = make_spider(Sitemap, {"url": f"{DAILY}/news-sitemap.xml"})

    (item,) = collect(spider.parse_article(
        respond(f"{DAILY}/ka/2025/03/09/hikvision-batumi", "page/article-ka.html"),
        title="Hikvision (sitemap title)", published="2025-03-09T00:00:00+00:00",
    ))

    assert item.title == "Hikvision (sitemap title)"
    assert item.published == "2025-03-09T00:00:00+00:00"
    assert "ჰიკვიჟენის კამერები" in item.body


def test_sitemap_article_unchanged() -> None:
    url = f"{DAILY}/ka/2025/03/09/hikvision-batumi"
    body = page("page/article-ka.html")
    spider = make_spider(Sitemap, {"url": f"{DAILY}/news-sitemap.xml"},
                         known_hashes={url: hashlib.sha256(body).hexdigest()})

    (item,) = collect(spider.parse_article(respond(url, body), title=None, published=None))

    assert item.unchanged


# -- failures --------------------------------------------------------------------------------

SETTINGS_5S = {"DOWNLOAD_TIMEOUT": 5, "DOWNLOAD_MAXSIZE": 10_000_000}


@pytest.mark.parametrize("status", [404, 500])
def test_describe_http_errors(status: int) -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/feed/"}, settings=SETTINGS_5S)
    response = respond(f"{WIRE}/feed/", b"oops", status=status)
    failure = failure_for(HttpError(response, "Ignoring non-200 response"))

    assert describe_failure(failure, spider.crawler.settings) == f"HTTP {status} from {WIRE}/feed/"


def test_describe_twisted_timeout() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/feed/"}, settings=SETTINGS_5S)
    failure = failure_for(TwistedTimeoutError("User timeout caused connection failure."))

    assert describe_failure(failure, spider.crawler.settings) == f"timed out after 5s: {WIRE}/feed/"


def test_describe_twisted_dns_failure() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/feed/"})
    failure = failure_for(DNSLookupError("wire.example.ge"))

    expected = f"DNS lookup failed for {WIRE}/feed/"
    assert describe_failure(failure, spider.crawler.settings) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        # Scrapy >= 2.14 wraps Twisted's errors in its own (what a 2.19 crawl raises)
        (DownloadTimeoutError(f"Getting {WIRE}/feed/ took longer than 5.0 seconds."),
         f"timed out after 5s: {WIRE}/feed/"),
        (CannotResolveHostError("DNS lookup failed: wire.example.ge"),
         f"DNS lookup failed for {WIRE}/feed/"),
        (DownloadConnectionRefusedError("Connection was refused by other side"),
         f"connection refused: {WIRE}/feed/"),
        (DownloadCancelledError("Cancelling download: expected response size (20000000) larger "
                                "than download max size (10000000)"),
         f"response larger than the 10,000,000-byte limit (crawl.max_page_bytes): {WIRE}/feed/"),
        (ValueError("something else"), f"ValueError at {WIRE}/feed/: something else"),
    ],
    ids=["timeout", "dns", "refused", "too-big", "other"],
)
def test_describe_scrapy_download_errors(exc: Exception, expected: str) -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/feed/"}, settings=SETTINGS_5S)

    assert describe_failure(failure_for(exc), spider.crawler.settings) == expected


def test_failed_entry_request_is_an_entry_failure() -> None:
    spider = make_spider(Feed, {"url": f"{WIRE}/feed/"})
    response = respond(f"{WIRE}/feed/", b"", status=404)

    spider.on_error(failure_for(HttpError(response, "Ignoring non-200 response"), entry=True))
    spider.on_error(failure_for(HttpError(respond(f"{WIRE}/a", b"", status=500), "x"),
                                url=f"{WIRE}/a"))

    assert spider.errors == [f"HTTP 404 from {WIRE}/feed/", f"HTTP 500 from {WIRE}/a"]
    assert spider.entry_failures == 1


def test_robots_txt_refusal_is_skipped_for_articles_and_an_error_for_entries() -> None:
    spider = make_spider(Page, LISTING)

    spider.on_error(failure_for(IgnoreRequest("Forbidden by robots.txt"),
                                url=f"{BIZ}/private/a"))
    assert spider.errors == []

    spider.on_error(failure_for(IgnoreRequest("Forbidden by robots.txt"), url=f"{BIZ}/news",
                                entry=True))
    assert spider.errors == [f"robots.txt forbids {BIZ}/news"]
    assert spider.entry_failures == 1


def test_exception_in_a_callback_is_recorded() -> None:
    spider = make_spider(Page, LISTING)
    other = make_spider(Page, LISTING)
    response = respond(f"{BIZ}/news", b"<html></html>", entry=True)

    spider._on_spider_error(Failure(ValueError("bad date")), response, spider)
    spider._on_spider_error(Failure(ValueError("not mine")), response, other)

    assert spider.errors == [f"ValueError while reading {BIZ}/news: bad date"]
    assert spider.entry_failures == 1


# -- Retry-After -----------------------------------------------------------------------------

NOW = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (b"30", 30.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Mon, 10 Mar 2025 12:01:30 GMT", 90.0),  # IMF-fixdate
        (b"Mon, 10 Mar 2025 12:00:05 GMT", 5.0),
        ("Monday, 10-Mar-25 12:01:30 GMT", 90.0),  # obsolete RFC 850 form
        ("Mon, 10 Mar 2025 11:00:00 GMT", 0.0),  # in the past: go now
        ("soon", None),
        ("1.5", None),
        ("-3", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(value: str | bytes | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize("value", ["Mon Mar 10 12:01:30 2025", "Mon, 10 Mar 2025 12:01:30 -0000"])
def test_retry_after_seconds_naive_dates(value: str) -> None:
    assert retry_after_seconds(value, now=NOW) == 90.0


def middleware(retries: int = 2) -> RetryAfterMiddleware:
    return RetryAfterMiddleware.from_crawler(get_crawler(settings_dict={"RETRY_TIMES": retries}))


def retry_response(request: Request, status: int = 429, retry_after: str | None = "3") -> Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Response(request.url, status=status, headers=headers, request=request)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_middleware_retries_with_the_wait_in_meta(status: int) -> None:
    mw = middleware()
    request = Request(f"{WIRE}/feed/", meta={"monitor_entry": True})

    retry = mw.process_response(request, retry_response(request, status))

    assert isinstance(retry, Request)
    assert retry.url == request.url
    assert retry.dont_filter is True
    assert retry.meta["monitor_retry_after"] == 3.0
    assert retry.meta["monitor_retry_after_times"] == 1
    assert retry.meta["monitor_entry"] is True  # the rest of the meta survives


def test_retry_after_middleware_waits_a_requests_default_when_the_header_is_missing() -> None:
    """Portal APIs answer 429 without Retry-After; their requests carry a default wait."""
    mw = middleware()
    request = Request(f"{WIRE}/api", meta={"monitor_retry_after_default": 10.0})

    retry = mw.process_response(request, retry_response(request, retry_after=None))
    said = mw.process_response(request, retry_response(request, retry_after="2"))

    assert isinstance(retry, Request) and retry.meta["monitor_retry_after"] == 10.0
    assert isinstance(said, Request) and said.meta["monitor_retry_after"] == 2.0


def test_retry_after_middleware_says_whose_wait_it_is(caplog: pytest.LogCaptureFixture) -> None:
    mw = middleware(retries=1)
    request = Request(f"{WIRE}/api", meta={"monitor_retry_after_default": 10.0})

    with caplog.at_level(logging.INFO, logger="crawlers.middlewares"):
        retry = mw.process_response(request, retry_response(request, retry_after=None))
        mw.process_response(request, retry_response(request, retry_after="2"))
        assert isinstance(retry, Request)
        mw.process_response(retry, retry_response(retry, retry_after=None))

    assert [r.getMessage() for r in caplog.records] == [
        f"HTTP 429 at {WIRE}/api: waiting 10s (the default back-off: no Retry-After header)",
        f"HTTP 429 at {WIRE}/api: waiting 2s (as Retry-After asks)",
        f"Giving up on {WIRE}/api: HTTP 429, wait 10s (the default back-off: no Retry-After "
        "header) (try 2)"]


def test_retry_after_middleware_gives_up_after_retry_times() -> None:
    mw = middleware(retries=2)
    request = Request(f"{WIRE}/feed/")
    seen = []

    for _ in range(5):
        result = mw.process_response(request, retry_response(request))
        if not isinstance(result, Request):
            break
        seen.append(result.meta["monitor_retry_after_times"])
        request = result

    assert seen == [1, 2]
    assert isinstance(result, Response) and result.status == 429


def test_retry_after_middleware_passes_other_responses_through() -> None:
    mw = middleware()
    request = Request(f"{WIRE}/feed/")

    ok = Response(request.url, status=200, headers={"Retry-After": "3"}, request=request)
    assert mw.process_response(request, ok) is ok
    # no header: Scrapy's own RetryMiddleware decides
    plain = retry_response(request, retry_after=None)
    assert mw.process_response(request, plain) is plain
    # too long a wait: the source is down for this run
    long = retry_response(request, retry_after=str(int(MAX_WAIT_S) + 1))
    assert mw.process_response(request, long) is long
    # an unreadable header: likewise
    garbled = retry_response(request, retry_after="soon")
    assert mw.process_response(request, garbled) is garbled


def test_retry_after_middleware_never_retries_when_retries_are_off() -> None:
    mw = middleware(retries=0)
    request = Request(f"{WIRE}/feed/")
    response = retry_response(request)

    assert mw.process_response(request, response) is response


def requests_sent_to_a_server_that_always_says(status: int, retry_after: str) -> int:
    """Requests one URL costs when every answer is `status` + Retry-After, going through
    RetryAfterMiddleware (560) and then Scrapy's RetryMiddleware (550), in Scrapy's order."""
    crawler = get_crawler(Feed, PROJECT_SETTINGS)
    crawler.spider = make_spider(Feed, {"url": f"{WIRE}/feed/"})
    after = RetryAfterMiddleware.from_crawler(crawler)
    retry = RetryMiddleware.from_crawler(crawler)
    request = Request(f"{WIRE}/feed/")
    for sent in range(1, 20):
        result = after.process_response(request, retry_response(request, status, retry_after))
        if isinstance(result, Response):
            result = retry.process_response(request, result)
        if isinstance(result, Response):
            return sent
        request = result
    raise AssertionError("never gave up")


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(429, "0", 1 + PROJECT_SETTINGS["RETRY_TIMES"]), (503, "3600", 1)],
    ids=["retries-spent", "wait-too-long"],
)
def test_retry_after_is_the_only_retry_for_a_server_that_asks_to_wait(
    status: int, retry_after: str, expected: int
) -> None:
    assert requests_sent_to_a_server_that_always_says(status, retry_after) == expected


def test_retry_after_middleware_waits_before_the_retried_request() -> None:
    mw = middleware()
    request = Request(f"{WIRE}/feed/", meta={"monitor_retry_after": 0.05,
                                              "monitor_retry_after_times": 1})

    started = time.monotonic()
    assert asyncio.run(mw.process_request(request)) is None
    waited = time.monotonic() - started

    assert waited >= 0.05
    assert "monitor_retry_after" not in request.meta  # waits once, not on every pass
    assert request.meta["monitor_retry_after_times"] == 1
    started = time.monotonic()
    asyncio.run(mw.process_request(request))
    assert time.monotonic() - started < 0.05


@pytest.mark.parametrize(("body", "problem"), [
    ({"status": "error", "errors": [{"location": "url", "name": "offset",
                                     "description": "Invalid offset"}]}, "offset: Invalid offset"),
    ({"errors": ["Not Found"]}, "Not Found"),
    ({"error": "Unauthorized", "message": "token expired"}, "Unauthorized; token expired"),
    ({"name": "Error", "message": "connect EHOSTUNREACH 10.0.0.1:8080"},
     "connect EHOSTUNREACH 10.0.0.1:8080"),
    ({"data": [], "next_page": {"offset": "1"}}, None),
    ({"name": "Nuctech", "message": "a party named Error is not an error"}, None),
    ([{"error": "in a list"}], None),
])
def test_error_in_recognises_error_bodies_sent_with_http_200(body: Any, problem: str | None
                                                             ) -> None:
    assert error_in(body) == problem
