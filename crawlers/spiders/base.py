"""The base every monitor spider stands on.

How to write a spider:

1. Subclass `SourceSpider`, set `name` to the source `kind` it reads (or, for a bespoke site,
   the source's name), and write a docstring for users: what it covers, its caveats.
2. In `async def start()`, yield `self.request(url, callback, entry=True)` for each entry
   point (`self.source.start_urls`). Entry requests that all fail make the run an `error`;
   other failed requests make it `partial`. Never call `scrapy.Request` directly: `request()`
   adds the errback that records failures in the run.
3. In callbacks, read pages through `self.decode(response)` (servers lie about charsets) and
   yield `ScrapedItem`s, usually through `self.unchanged(response) or await
   self.article(response, ...)`: extraction is skipped when the page's bytes are unchanged
   since the last crawl, and otherwise runs in a process pool on every core.

    class Example(SourceSpider):
        name = "example"

        async def start(self):
            for url in self.source.start_urls:
                yield self.request(url, self.parse, entry=True)

        async def parse(self, response):
            yield self.unchanged(response) or await self.article(response)

The run itself (the `runs` row, counts, status) is kept by
`crawlers.extensions.run_recorder.RunRecorder`; what earlier runs left (stored pages' hashes,
a portal's position) is handed to `load_state` by `crawlers.extensions.crawl_state`; items go
through `crawlers.pipelines`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from parsel import Selector, SelectorList
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from crawlers.extract import extract_async, warm_up
from crawlers.middlewares import RedirectError
from monitor.config import Config, Source, load_config
from monitor.models import ScrapedItem
from monitor.normalise import canonical_url, decode_html
from monitor.revisit import is_due

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from crawlers.extensions.crawl_state import CrawlState
    from monitor.store.rows import KnownPage

CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def is_xpath(expression: str) -> bool:
    return expression.startswith(("/", "(", "./"))


def select(selector: Selector, expression: str) -> SelectorList[Selector]:
    """A selector from sources.yaml: XPath when it starts with `/` or `(`, else CSS."""
    return selector.xpath(expression) if is_xpath(expression) else selector.css(expression)


def text_of(results: SelectorList[Selector], attributes: tuple[str, ...] = ()) -> str | None:
    """The first result as text: a string result as is, an element's first present attribute
    among `attributes`, else its text content."""
    for result in results:
        if isinstance(result.root, str):
            value = result.root
        else:
            value = next((result.attrib[a] for a in attributes if result.attrib.get(a)), None)
            if value is None:
                value = " ".join(t.strip() for t in result.xpath(".//text()").getall())
        if value and value.strip():
            return value.strip()
    return None


class SourceSpider(scrapy.Spider):
    """Base for all spiders: one instance crawls one source from sources.yaml."""

    # set by subclasses: the `kind` of source they read
    name: ClassVar[str] = "source"  # type: ignore[misc]

    source: Source
    config: Config

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(name=source_name or self.name, **kwargs)
        self.source_name = source_name
        self.fetched = 0
        self.items_yielded = 0
        self.errors: list[str] = []
        self.entry_requests = 0
        self.entry_failures = 0
        # canonical URL -> what earlier runs stored of the page (`load_state`)
        self.known_pages: dict[str, KnownPage] = {}
        # stored articles not fetched because no revisit was due; 304 answers
        self.not_due = 0
        self.not_modified = 0
        # the extraction workers were started (at the first article request)
        self._warmed = False
        self.articles_taken = 0
        # entries refused by `take_article` once max_items was spent
        self.left_unread = 0
        # what this run noticed without failing; the run, `monitor status` and the digest's
        # Coverage show them
        self.warnings: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider: SourceSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = load_config(crawler.settings["MONITOR_CONFIG"])
        spider.source = spider.config.source(spider.source_name)
        since = crawler.settings.get("MONITOR_SINCE")
        if since and spider.source.kind == "portal":
            # `monitor crawl SOURCE --since DATE`: this run is a backfill from that date
            spider.source = spider.source.model_copy(
                update={"since": date.fromisoformat(since)})
        crawler.signals.connect(spider._on_spider_error, signal=signals.spider_error)
        return spider

    def load_state(self, state: CrawlState) -> None:
        """What earlier runs left, from the crawl's store (`crawlers.extensions.crawl_state`,
        before `start()` runs; never in a dry run): the stored article pages."""
        self.known_pages = dict(state.known_pages)

    # -- requests and failures -------------------------------------------------------------

    def request(
        self,
        url: str,
        callback: Callable[..., Any],
        *,
        entry: bool = False,
        cb_kwargs: dict[str, Any] | None = None,
        errback: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> scrapy.Request:
        """A request whose failure is recorded in the run: `errback`, when given, must call
        `on_error` itself (it may yield items, e.g. what a feed entry already told)."""
        if entry:
            self.entry_requests += 1
        meta = {**kwargs.pop("meta", {}), "monitor_entry": entry}
        obey = self.source.obey_robots
        if not (self.config.crawl.obey_robots if obey is None else obey):
            meta["dont_obey_robotstxt"] = True
        return scrapy.Request(
            url, callback=callback, errback=errback or self.on_error, meta=meta,
            cb_kwargs=cb_kwargs,
            **kwargs,
        )

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(IgnoreRequest) and "robots.txt" in str(failure.value):
            message = f"robots.txt forbids {request.url}"
            if not request.meta.get("monitor_entry"):
                self.logger.info("Skipped: %s", message)
                return
        else:
            message = describe_failure(failure, self.crawler.settings)
        self.record_error(message, entry=bool(request.meta.get("monitor_entry")))

    def _on_spider_error(self, failure: Failure, response: Response, spider: scrapy.Spider) -> None:
        if spider is not self:
            return
        entry = bool(response.meta.get("monitor_entry"))
        self.record_error(f"{type(failure.value).__name__} while reading {response.url}: "
                          f"{failure.value}", entry=entry)

    def record_error(self, message: str, *, entry: bool = False) -> None:
        if entry:
            self.entry_failures += 1
        self.errors.append(message)
        self.logger.error("%s: %s", self.source_name, message)

    def record_warning(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            self.logger.warning("%s: %s", self.source_name, message)

    def follow(self, url: str, callback: Callable[..., Any], *, listed_at: str | None = None,
               cb_kwargs: dict[str, Any] | None = None,
               errback: Callable[..., Any] | None = None,
               meta: dict[str, Any] | None = None) -> scrapy.Request | None:
        """The request for an article a listing, feed or sitemap links to, or None when it
        is stored and no revisit is due (`monitor.revisit`; counted in the run's `not_due`).
        A revisit is conditional: it sends the stored ETag / Last-Modified and takes a 304
        as "unchanged". `listed_at`: the date the listing gives the entry (a feed's
        `updated`, a sitemap's `lastmod`); a newer one than last time makes it due. A page
        stored without ever being read (a feed entry's summary, kept when its page failed)
        is due every time it is listed, until it is read."""
        known = self.known_pages.get(canonical_url(url))
        never_read = known is not None and known.raw_hash is None
        # a page found taken down is not asked for again: its last capture is the record
        if (known is not None and known.removed_at) or not (
                never_read or is_due(self.source.revisit, known, datetime.now(UTC), listed_at)):
            self.not_due += 1
            return None
        headers = {}
        if known is not None:
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
        if not self._warmed:
            # the first article to fetch: start the extraction workers while it downloads
            # (a re-crawl with nothing due starts none)
            self._warmed = True
            warm_up()
        # the store keeps what a revisit needs: Scrapy's cache would only keep a second copy
        meta = {**(meta or {}), "monitor_listed_at": listed_at, "dont_cache": True}
        if known is not None:
            # a revisit: "not modified", and "gone" (taken down, news) reach the callback
            meta["handle_httpstatus_list"] = [304, 404, 410]
        return self.request(url, callback, headers=headers, meta=meta, cb_kwargs=cb_kwargs,
                            errback=errback)

    def take_article(self) -> bool:
        """Count one more article against the source's `max_items` for this run; False once
        the budget is spent (a guard against runaway listings and sitemaps). Call it for
        every entry, refused ones too: the run says how many were left unread."""
        if self.articles_taken >= self.source.max_items:
            self.left_unread += 1
            return False
        self.articles_taken += 1
        return True

    def run_warnings(self) -> list[str]:
        """The run's warnings, the max_items cut included."""
        warnings = list(self.warnings)
        if self.left_unread:
            limit = self.source.max_items
            if self.source.kind == "portal":
                # portal spiders keep their cursor before what they did not read
                warnings.append(f"max_items ({limit:,}) reached: {self.left_unread:,} "
                                "record(s) wait for the next run; raise max_items to read "
                                "them sooner")
            else:
                warnings.append(f"{self.left_unread:,} entries left unread: max_items is "
                                f"{limit:,}; raise max_items (or crawl more often) to read "
                                "them all")
        return warnings

    # -- reading pages --------------------------------------------------------------------

    def decode(self, response: Response) -> tuple[str, Selector]:
        """The page as text, decoded by `monitor.normalise.decode_html`, and a selector."""
        self.fetched += 1
        header = response.headers.get("Content-Type", b"").decode("latin-1")
        declared = CHARSET.search(header)
        text, _ = decode_html(response.body, declared.group(1) if declared else None)
        return text, Selector(text=text, base_url=response.url)

    def raw_hash(self, response: Response) -> str:
        return hashlib.sha256(response.body).hexdigest()

    def unchanged(self, response: Response) -> ScrapedItem | None:
        """An `unchanged` marker item when the server answered 304 to a revisit or the page's
        bytes match the stored ones."""
        url = canonical_url(response.url)
        known = self.known_pages.get(url)
        removed = self._taken_down(response)
        if removed is not None:
            url, reason = removed
            self.fetched += 1
            return ScrapedItem(source=self.source.name, url=url, unchanged=True, removed=reason)
        if response.status == 304:
            self.fetched += 1
            self.not_modified += 1
            return self._unchanged_marker(response, url, known.raw_hash if known else None)
        digest = self.raw_hash(response)
        if known is not None and known.raw_hash == digest:
            self.fetched += 1
            return self._unchanged_marker(response, url, digest)
        return None

    def _taken_down(self, response: Response) -> tuple[str, str] | None:
        """(the stored page's URL, what the site answered) when a revisit finds the page
        gone: 404 or 410, or a redirect to the site's front page."""
        asked = canonical_url((response.meta.get("redirect_urls") or [response.url])[0])
        if asked not in self.known_pages:
            return None
        if response.status in (404, 410):
            return asked, f"HTTP {response.status}"
        final = urlsplit(response.url)
        if (response.meta.get("redirect_urls") and final.path in ("", "/")
                and urlsplit(asked).path not in ("", "/") and not final.query):
            return asked, f"redirects to the front page {response.url}"
        return None

    def _unchanged_marker(self, response: Response, url: str,
                          digest: str | None) -> ScrapedItem:
        etag, last_modified = validators(response)
        return ScrapedItem(source=self.source.name, url=url, raw_hash=digest, unchanged=True,
                           etag=etag, last_modified=last_modified,
                           listed_at=response.meta.get("monitor_listed_at"))

    async def article(
        self,
        response: Response,
        *,
        title: str | None = None,
        published: str | None = None,
        native_id: str | None = None,
        fallback_body: str | None = None,
    ) -> ScrapedItem:
        """An article page as an item: configured selectors first (page sources), else
        trafilatura's main-text extraction, which leaves navigation, sidebars and footers out
        (and `crawlers.split_body` takes in the rest of a body split by advertisements)."""
        html, selector = self.decode(response)
        etag, last_modified = validators(response)
        selectors = self.source.selectors
        body: str | None = None
        if selectors is not None:
            if selectors.title:
                title = text_of(select(selector, selectors.title), ("content",)) or title
            if selectors.date:
                published = text_of(
                    select(selector, selectors.date), ("datetime", "content")
                ) or published
            if selectors.body:
                body = "\n".join(select(selector, selectors.body).getall()) or None
        if not title:
            # the publisher's own headline, as trafilatura would read it first; with it and a
            # date, extraction need not search the page for metadata
            title = text_of(selector.css('meta[property="og:title"]'), ("content",))
        if not published:
            # the page's own machine-readable time, with its zone, beats any guess
            published = text_of(
                selector.css(
                    'meta[property="article:published_time"], meta[name="date"], time[datetime]'
                ),
                ("content", "datetime"),
            )
        if body is None or not title or not published:
            # what the source already told (title and date) is not searched for again
            extracted = await extract_async(html, response.url,
                                            metadata=not (title and published))
            body = body if body is not None else extracted.get("text")
            title = title or extracted.get("title")
            published = published or extracted.get("date")
        return ScrapedItem(
            source=self.source.name,
            url=response.url,
            title=title or "",
            body=body or fallback_body or "",
            published=published,
            native_id=native_id,
            raw_hash=self.raw_hash(response),
            language=self.source.language,
            etag=etag,
            last_modified=last_modified,
            listed_at=response.meta.get("monitor_listed_at"),
        )


def validators(response: Response) -> tuple[str | None, str | None]:
    """The response's ETag and Last-Modified, for the next revisit's conditional request."""
    def header(name: str) -> str | None:
        value = response.headers.get(name)
        return value.decode("latin-1").strip() or None if value else None
    return header("ETag"), header("Last-Modified")


# (who, a header that only their challenge pages carry, or a phrase in the page's head)
_CHALLENGES: tuple[tuple[str, tuple[str, ...], tuple[bytes, ...]], ...] = (
    ("Cloudflare", ("cf-mitigated", "cf-chl-bypass"),
     (b"cf-browser-verification", b"challenge-platform", b"just a moment...",
      b"attention required! | cloudflare", b"cf_chl_opt")),
    ("DDoS-Guard", (), (b"ddos-guard", b"__ddg")),
    ("Imperva Incapsula", ("x-iinfo",), (b"_incapsula_resource", b"incapsula incident")),
    ("Sucuri", ("x-sucuri-block",), (b"sucuri website firewall",)),
    ("Akamai", (), (b"akamai reference", b"access denied</h1>")),
    ("a CAPTCHA", (), (b"g-recaptcha", b"h-captcha", b"captcha-delivery")),
)


def bot_protection(response: Response) -> str | None:
    """Who blocked us, when a 403/429/503 is a bot-protection challenge page rather than
    the site's own answer: the user must ask the site, not wait for it to recover."""
    if response.status not in (403, 429, 503):
        return None
    # not the Server header: a site behind Cloudflare that is really down says "cloudflare"
    head = response.body[:20_000].lower()
    for who, headers, phrases in _CHALLENGES:
        if any(response.headers.get(h) for h in headers) or any(p in head for p in phrases):
            return who
    return None


def describe_failure(failure: Failure, settings: Any) -> str:
    """A failed request in words a user can act on."""
    request = failure.request  # type: ignore[attr-defined]
    url = request.url
    if failure.check(RedirectError):
        return str(failure.value)
    if failure.check(HttpError):
        response = failure.value.response
        guard = bot_protection(response)
        if guard:
            host = urlsplit(url).hostname or url
            return (f"blocked by bot protection at {host} ({guard}, HTTP {response.status} "
                    f"from {url}): ask the site to allow monitor's User-Agent, or watch "
                    "another source for it")
        return f"HTTP {response.status} from {url}"
    # Scrapy >= 2.19 raises its own exception types; older ones raised Twisted's
    if failure.check(DNSLookupError, CannotResolveHostError):
        return f"DNS lookup failed for {url}"
    if failure.check(DownloadTimeoutError, TwistedTimeoutError, TCPTimedOutError):
        return f"timed out after {settings.getfloat('DOWNLOAD_TIMEOUT'):g}s: {url}"
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return f"connection refused: {url}"
    if failure.check(DownloadCancelledError, CancelledError):
        limit = settings.getint("DOWNLOAD_MAXSIZE")
        return f"response larger than the {limit:,}-byte limit (crawl.max_page_bytes): {url}"
    value = failure.value
    return f"{type(value).__name__} at {url}: {value}".strip()


