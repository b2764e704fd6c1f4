"""The base of procurement-portal spiders: JSON APIs read page by page, details fetched per
record, `TenderRecord`s out, and the position in the portal's feed saved after every page so
that the next run continues where this one stopped.

How to write a portal spider:

1. Make a package `crawlers/portals/<name>/`, named for the `portal:` value it reads: the
   spider in `spider.py`, the mapping of responses to `TenderRecord`s in `parse.py` (pure
   functions over parsed JSON or HTML text, no Scrapy; shared pieces in `common.py`).
   Subclass `PortalSpider`; set `name` to the `portal:` value and write its docstring for
   users: Reads / Records / Incremental / Since / Caveats / Docs. List the class in
   `crawlers.registry.SPIDERS`.
2. In `async def start()`, make the first page's request with `self.request(url, callback,
   entry=True)` and yield what `self.start_with(request)` gives: details that failed in the
   last run are fetched again first. `self.cursor` is where the last run stopped (None:
   first run, or the portal said the position is invalid); `self.source.since` is the
   backfill date.
3. In the page callback, read the body with `self.read_json(response)`: None means it was
   not JSON or was an error object sent with HTTP 200, and the error is already recorded.
   Check the page's shape and `self.shape_error(...)` when it is not what the docs say.
4. Hand the page to `self.page(cursor=..., follow=..., details=[...])`: the detail requests
   (made with `self.detail(url, callback)`) are sent, and once every one has finished,
   succeeded or failed, the pipeline is told to save `cursor` and `follow` (the next page's
   request, None at the end) is sent. A page without details completes at once. Take one
   `self.take_article()` per detail; when the budget (`max_items`) runs out, pass
   `complete=False`: the cursor then stays before the page and the next run reads it again.
5. Detail callbacks yield `TenderRecord`s and end with `yield from self.detail_done(
   response)`; a detail that fails is retried at the start of the next run (a few times).
   A record whose portal stamp is unchanged is yielded as `self.seen(native_id)` instead
   of being fetched: `self.stamps` holds the stored stamps.
6. Never let a cursor move past a record not read. A position made from a time keeps its
   UTC offset (a server reads a bare time in a zone of its choosing) and starts a margin
   (an hour) before the last record read: what is read again is skipped by its stamp. A
   position the portal rejects restarts from there, and `self.record_warning(...)` says
   so: a restart is never silent.

    class Example(PortalSpider):
        name = "example"

        async def start(self):
            first = self.request(self.cursor or self.api_url, self.parse_list, entry=True)
            for request in self.start_with(first):
                yield request

        def parse_list(self, response):
            data = self.read_json(response)
            if data is None:
                return
            details = [self.detail(row["url"], self.parse_tender) for row in data["rows"]
                       if self.take_article()]
            follow = self.request(data["next"], self.parse_list) if data.get("next") else None
            yield from self.page(cursor=data.get("next") or response.url, follow=follow,
                                 details=details)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy

from crawlers.portals.common import error_in
from crawlers.spiders.base import SourceSpider
from monitor.models import PortalCursor, TenderRecord

if TYPE_CHECKING:
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from crawlers.extensions.crawl_state import CrawlState

# a detail that fails this many runs in a row is given up (and said so)
DETAIL_RETRY_RUNS = 3


@dataclass(slots=True)
class FeedPage:
    """A page of a portal's feed whose details are being fetched."""

    # where the next run starts once this page is done
    cursor: str | None
    # the next page's request; None at the end of the feed
    follow: scrapy.Request | None
    pending: int = 0
    # False when max_items stopped the page part-way: its cursor is not saved
    complete: bool = True
    done: bool = field(default=False)


class PortalSpider(SourceSpider):
    """Base for procurement-portal spiders (`kind: portal`); not a spider itself."""

    # SourceSpider (a name of its own: Scrapy's spider loader lists this class too)
    name = "portal"

    # PortalSpider
    # records per page when the source sets no `page_size`
    default_page_size: ClassVar[int] = 100
    # False: never answer from (or store in) the HTTP cache; feeds must be read live
    http_cache: ClassVar[bool] = False
    # seconds to wait on a 429/503 that carries no Retry-After header (None: retry at once)
    too_many_requests_wait: ClassVar[float | None] = 10.0
    # True: the crawl state brings every stored tender record of the source (costly for a big
    # portal), for spiders that merge later notices into what is stored
    wants_known_tenders: ClassVar[bool] = False

    cursor: str | None
    stamps: dict[str, str]

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        self.cursor = None
        self.saved_state: dict[str, Any] = {}
        self.stamps = {}
        # detail URL -> runs in a row it failed, saved with the cursor
        self.retries: dict[str, int] = {}

    def load_state(self, state: CrawlState) -> None:
        super().load_state(state)
        self.load_position(state.cursor, state.stamps)
        if self.crawler.settings.get("MONITOR_SINCE"):
            # a backfill reads from `since`, not from where the last run stopped
            self.cursor = None

    def load_position(self, saved: PortalCursor | None, stamps: dict[str, str]) -> None:
        """Where the last run stopped, and the stored tenders' stamps."""
        self.stamps = dict(stamps)
        if saved is not None:
            self.cursor = saved.cursor
            self.saved_state = dict(saved.state)
            self.retries = {str(k): int(v) for k, v in saved.state.get("retry", {}).items()}

    # -- what the source says --------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The source's `url`: the API base."""
        return self.source.url or ""

    @property
    def page_size(self) -> int:
        return self.source.page_size or self.default_page_size

    # -- requests -------------------------------------------------------------------------

    def request(self, url: str, callback: Callable[..., Any], *, entry: bool = False,
                cb_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> scrapy.Request:
        meta = dict(kwargs.pop("meta", {}))
        if not self.http_cache:
            meta.setdefault("dont_cache", True)
        if self.too_many_requests_wait is not None:
            meta.setdefault("monitor_retry_after_default", self.too_many_requests_wait)
        return super().request(url, callback, entry=entry, cb_kwargs=cb_kwargs, meta=meta,
                               **kwargs)

    def detail(self, url: str, callback: Callable[..., Any], **kwargs: Any) -> scrapy.Request:
        """A request for one record's details, part of the page it is handed to. Never
        dropped as a duplicate (a record fetched again at the start of the run, or changed
        twice during it, is listed again): a dropped request gets no callback, its page would
        never complete, and the run would end there with the feed unread."""
        meta = {**kwargs.pop("meta", {}), "portal_detail": True}
        kwargs.setdefault("dont_filter", True)
        return self.request(url, callback, meta=meta, **kwargs)

    def start_with(self, first: scrapy.Request) -> Iterator[Any]:
        """`first` (the first page's request), after the details that failed in the last
        run have been fetched again: their outcome is saved with the cursor before the feed
        moves on."""
        if not self.retries:
            yield first
            return
        self.logger.info("%s: fetching again %d details that failed in the last run",
                         self.source_name, len(self.retries))
        yield from self.page(cursor=self.cursor, follow=first,
                             details=[self.retry_detail(url) for url in list(self.retries)])

    def retry_detail(self, url: str) -> scrapy.Request:
        """Subclasses build the request for a detail URL to fetch again."""
        raise NotImplementedError

    # -- pages and their details ----------------------------------------------------------

    def page(self, *, cursor: str | None, follow: scrapy.Request | None,
             details: list[scrapy.Request], complete: bool = True) -> Iterator[Any]:
        """Send a page's detail requests; save `cursor` and send `follow` once they are all
        done (see the module docstring)."""
        feed_page = FeedPage(cursor=cursor, follow=follow, pending=len(details),
                             complete=complete)
        for request in details:
            request.meta["portal_page"] = feed_page
            yield request
        if not details:
            yield from self._page_done(feed_page)

    def detail_done(self, response_or_request: Any, *, failed: bool = False) -> Iterator[Any]:
        """Call at the end of every detail callback (errors included): counts the page's
        details down, and completes the page after its last one."""
        meta = response_or_request.meta
        url = (response_or_request.request.url
               if hasattr(response_or_request, "request") and response_or_request.request
               else response_or_request.url)
        if failed:
            self._detail_failed(url)
        else:
            self.retries.pop(url, None)
        feed_page: FeedPage | None = meta.get("portal_page")
        if feed_page is None or feed_page.done:
            return
        feed_page.pending -= 1
        if feed_page.pending <= 0:
            yield from self._page_done(feed_page)

    def _detail_failed(self, url: str) -> None:
        runs = self.retries.get(url, 0) + 1
        if runs >= DETAIL_RETRY_RUNS:
            self.retries.pop(url, None)
            self.record_error(f"gave up on {url} after it failed in {runs} runs in a row")
        else:
            self.retries[url] = runs

    def _page_done(self, feed_page: FeedPage) -> Iterator[Any]:
        feed_page.done = True
        if not feed_page.complete:
            self.logger.info("%s: max_items (%d) reached; the next run continues from the "
                             "last complete page", self.source_name, self.source.max_items)
            return
        yield self.position(feed_page.cursor)
        if feed_page.follow is not None:
            yield feed_page.follow

    def position(self, cursor: str | None) -> PortalCursor:
        """The item that makes the pipeline save `cursor` (None: drop the saved one)."""
        self.cursor = cursor
        state = {**self.cursor_state(), "retry": dict(self.retries)}
        return PortalCursor(source=self.source.name, url=self.api_url, cursor=cursor,
                            state=state)

    def cursor_state(self) -> dict[str, Any]:
        """Spider-specific extras saved with the cursor (read back in `self.saved_state`)."""
        return {}

    def on_error(self, failure: Failure) -> Iterator[Any]:  # type: ignore[override]
        """A failed detail request still counts down its page (and is fetched again next
        run); other failures are recorded as usual."""
        super().on_error(failure)
        request = failure.request  # type: ignore[attr-defined]
        if request.meta.get("portal_detail"):
            yield from self.detail_done(request, failed=True)

    # -- reading responses -------------------------------------------------------------------

    def read_json(self, response: Response) -> Any | None:
        """The body as JSON; None (and an error recorded) when it is not JSON or is an error
        object, which some portals send with HTTP 200."""
        self.fetched += 1
        entry = bool(response.meta.get("monitor_entry"))
        try:
            data = json.loads(response.body)
        except ValueError:
            text = response.body[:120].decode("utf-8", "replace").strip()
            self.record_error(f"not JSON from {response.url} (HTTP {response.status}): "
                              f"{text!r}", entry=entry)
            return None
        problem = error_in(data)
        if problem is not None:
            self.record_error(f"error from {response.url} (HTTP {response.status}): {problem}",
                              entry=entry)
            return None
        return data

    def shape_error(self, response: Response, expected: str, data: Any) -> None:
        """Record that a response does not have the documented shape: the portal changed."""
        got = (f"keys {', '.join(sorted(map(str, data)))}" if isinstance(data, dict) and data
               else json.dumps(data, ensure_ascii=False)[:80])
        self.record_error(f"unexpected response from {response.url}: expected {expected}, "
                          f"got {got}", entry=bool(response.meta.get("monitor_entry")))

    # -- records ----------------------------------------------------------------------------

    def seen(self, native_id: str, modified: str | None = None) -> TenderRecord:
        """The marker for a record whose stamp is unchanged: counted (in the run's `not_due`
        too: a stored record not fetched again), not fetched."""
        self.not_due += 1
        return TenderRecord(source=self.source.name, native_id=native_id, modified=modified,
                            unchanged=True)
