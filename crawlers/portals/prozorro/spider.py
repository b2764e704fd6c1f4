"""Ukraine's Prozorro: the public OpenProcurement API (no key needed), read feed page by feed
page; `parse` maps what it sends to records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from crawlers.portals.base import PortalSpider
from crawlers.portals.prozorro.parse import (
    API_ROOT,
    as_offset,
    offset_text,
    since_offset,
    tender_record,
    url_problem,
)
from monitor.models import TenderRecord
from monitor.tender import normalise_stamp

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

# the cookie that ties a client to one server of the API's cluster
SERVER_ID = "SERVER_ID"


class Prozorro(PortalSpider):
    """
    Reads
      Ukraine's Prozorro tenders through the public API (`portal: prozorro`, `url:` the API
      root, e.g. https://public-api.prozorro.gov.ua/api/2.5, not its `/tenders` feed). The
      feed `/tenders` lists tenders by modification time (`offset`, `next_page.offset`,
      `opt_fields`); each changed tender is then read from `/tenders/{id}`.
    Records
      One per tender, keyed by its tenderID (UA-2025-03-10-000123-a), linked to its page on
      prozorro.gov.ua: buyer (`procuringEntity`, UA-EDR code), status and procedure type,
      CPV (ДК 021) codes, expected value, tender period, lots, documents (the latest version
      of each); bidders (`bids` once they are disclosed, and every award's suppliers);
      winners (suppliers of active awards) with the awarded value; the signing date of the
      first active contract.
    Incremental
      The feed position is saved after every page: each run continues where the last one
      stopped and reads only tenders changed since. A tender whose `dateModified` is the one
      already stored is not fetched again.
    Since
      Without `since`, the first run stores the `page_size` most recently changed tenders
      as a silent baseline and starts following the feed from there. With `since`, the first
      run reads every tender changed since that date (from its midnight in Kyiv's summer
      time, UTC+03:00, so that no part of the day is left out) and alerts on them (a
      backfill).
    Caveats
      429: the run waits (Retry-After, else 10 s) and retries. 412: the API's cluster
      switched servers; the request is repeated with the new SERVER_ID cookie, which is kept
      with the feed position. 404 on the feed: the saved position is no longer valid; the
      feed is restarted an hour before the last change this source read (a date-time with
      its UTC offset: tenders read again are skipped by their `dateModified`), else from
      `since`, else from the newest page, and the run says so in a warning; a second 404
      fails the run. A `url` that names the `/tenders` feed (or a tender) instead of the API
      root fails the run, saying what it should be.
      Bids are hidden until the auction, so bidders appear late. Plans, contracts and
      framework agreements (`/plans`, `/contracts`) are not read.
    Docs
      https://prozorro-api-docs.readthedocs.io/en/master/tendering/basic-actions/tenders.html
    """

    name = "prozorro"

    # PortalSpider
    default_page_size = 100

    # Prozorro
    # extra feed fields: enough to skip unchanged tenders and to log what a page holds
    opt_fields: ClassVar[tuple[str, ...]] = ("tenderID", "status", "procurementMethodType")
    # 412 answers in a row before a request is given up
    max_precondition_retries: ClassVar[int] = 2
    # how far before the last change read a restarted feed resumes: tenders read again are
    # skipped by their stamps, a change missed is lost for good
    restart_margin: ClassVar[timedelta] = timedelta(hours=1)

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        self.server_id: str | None = None
        # the newest dateModified read from the feed, with its UTC offset: where a restarted
        # feed resumes (less `restart_margin`)
        self.last_modified: str | None = None
        # `monitor crawl --since`: the feed is read from `since`, whatever was saved
        self.backfill = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Prozorro:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, Prozorro)
        spider.backfill = bool(crawler.settings.get("MONITOR_SINCE"))
        return spider

    def load_position(self, saved: Any, stamps: dict[str, str]) -> None:
        super().load_position(saved, stamps)
        self.server_id = self.saved_state.get("server_id")
        self.last_modified = self.saved_state.get("last_modified")

    def cursor_state(self) -> dict[str, Any]:
        return {"server_id": self.server_id, "last_modified": self.last_modified}

    @property
    def tenders_url(self) -> str:
        return self.api_url.rstrip("/") + "/tenders"

    # -- requests -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        problem = url_problem(self.api_url)
        if problem is not None:
            self.entry_requests += 1
            self.record_error(problem, entry=True)
            return
        # no saved position but a last change read (an older version dropped the position
        # the API rejected): resume there rather than at the newest page
        offset = self.cursor or (None if self.backfill else self.restart_offset())
        first = self.feed_request(offset or self.since_offset(), entry=True)
        for request in self.start_with(first):
            yield request

    def since_offset(self) -> str | None:
        """The feed offset for `since` (the API takes a date-time as an offset): its midnight
        with Kyiv's summer offset, the earliest the day can begin there; None: start from
        the newest page."""
        return since_offset(self.source.since)

    def restart_offset(self) -> str | None:
        """`restart_margin` before the last change read, with its UTC offset; None when no
        change was read yet."""
        if not self.last_modified:
            return None
        return as_offset(self.last_modified, self.restart_margin)

    def restart_point(self, rejected: str) -> tuple[str | None, str]:
        """Where a feed whose position `rejected` was refused starts again, and that place
        in words: before the last change read, else `since`, else the newest page (None);
        never the rejected offset itself."""
        last = self.restart_offset()
        if last and last != rejected:
            hours = self.restart_margin.total_seconds() / 3600
            margin = "an hour" if hours == 1 else f"{hours:g} hours"
            return last, f"{last} ({margin} before the last change read, {self.last_modified})"
        since = self.since_offset()
        if since and since != rejected:
            return since, f"{since} (`since`)"
        return None, ("the newest page: tenders changed since the last run and before that "
                      "page may be missed")

    def feed_request(self, offset: str | None, *, entry: bool = False,
                     restarted: bool = False) -> scrapy.Request:
        """A feed page from `offset`; without one, the newest page (`descending=1`), whose
        `prev_page.offset` is the position of the feed's head."""
        params: dict[str, Any] = {"limit": self.page_size, "opt_fields": ",".join(self.opt_fields)}
        if offset:
            params["offset"] = offset
        else:
            params["descending"] = "1"
        cookies = {SERVER_ID: self.server_id} if self.server_id else {}
        return self.request(
            f"{self.tenders_url}?{urlencode(params)}", self.parse_feed, entry=entry,
            meta={"handle_httpstatus_list": [404, 412], "prozorro_offset": offset,
                  "prozorro_restarted": restarted},
            cookies=cookies,
        )

    def tender_request(self, url: str) -> scrapy.Request:
        return self.detail(url, self.parse_tender, meta={"handle_httpstatus_list": [412]})

    def retry_detail(self, url: str) -> scrapy.Request:
        return self.tender_request(url)

    # -- the feed -------------------------------------------------------------------------

    def parse_feed(self, response: Response) -> Iterator[Any]:
        """Expects a feed page:

            {"data": [{"id": "<32 hex>", "dateModified": "...", "tenderID": "UA-...",
                       "status": "...", "procurementMethodType": "..."}, ...],
             "next_page": {"offset": "...", "path": "...", "uri": "..."},
             "prev_page": {...}}

        404 means the offset is no longer valid (restart the feed), 412 that the server-id
        cookie is stale (repeat the request with the new one)."""
        self._remember_server(response)
        if response.status == 412:
            yield from self._precondition_failed(response)
            return
        if response.status == 404:
            yield from self._invalid_offset(response)
            return
        data = self.read_json(response)
        if data is None:
            return
        entries = data.get("data") if isinstance(data, dict) else None
        next_page = data.get("next_page") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not isinstance(next_page, dict):
            self.shape_error(response, "data[] and next_page.offset", data)
            return
        offset = response.meta.get("prozorro_offset")
        # newest first on the head page (no offset, descending), oldest first otherwise
        newest = entries[0] if not offset and entries else entries[-1] if entries else None
        modified = newest.get("dateModified") if isinstance(newest, dict) else None
        if not offset:
            # the head page: its prev_page.offset is where the feed goes on from here
            prev_page = data.get("prev_page")
            cursor = offset_text(prev_page.get("offset")) if isinstance(prev_page, dict) else None
            # (else its newest change, with the margin a restart keeps)
            cursor = cursor or (as_offset(str(modified), self.restart_margin)
                                if modified else None)
            follow = None
        else:
            cursor = offset_text(next_page.get("offset")) or offset
            follow = self.feed_request(cursor) if entries else None
            if entries and cursor == offset:
                self.record_error(f"the feed did not move on from offset {offset!r} at "
                                  f"{response.url}")
                follow = None
        seen, details, complete = self._details(response, entries)
        if modified and complete:
            self.last_modified = as_offset(str(modified))
        yield from seen
        yield from self.page(cursor=cursor, follow=follow, details=details, complete=complete)

    def _details(self, response: Response, entries: list[Any],
                 ) -> tuple[list[TenderRecord], list[scrapy.Request], bool]:
        """`seen` markers for the page's tenders whose dateModified is the stored one, detail
        requests for the others, and whether the page fitted in the run's budget."""
        seen: list[TenderRecord] = []
        details: list[scrapy.Request] = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("id"):
                self.shape_error(response, "feed entries with an id", entry)
                continue
            tender_id = entry.get("tenderID")
            modified = entry.get("dateModified")
            if tender_id and modified and self.stamps.get(tender_id) == normalise_stamp(modified):
                seen.append(self.seen(str(tender_id), str(modified)))
                continue
            if not self.take_article():
                return seen, details, False
            details.append(self.tender_request(f"{self.tenders_url}/{entry['id']}"))
        return seen, details, True

    def _invalid_offset(self, response: Response) -> Iterator[Any]:
        entry = bool(response.meta.get("monitor_entry"))
        offset = response.meta.get("prozorro_offset")
        self.fetched += 1
        if not offset:
            # the newest page itself is not there: `url` does not lead to the feed
            self.record_error(f"HTTP 404 from {response.url}: no tenders feed there; the "
                              f"source's `url` should be the API root, such as {API_ROOT}",
                              entry=entry)
            return
        if response.meta.get("prozorro_restarted"):
            self.record_error(f"HTTP 404 from {response.url}: the feed rejected the offset "
                              f"{offset!r} after a restart", entry=entry)
            return
        restart, where = self.restart_point(offset)
        self.record_warning(f"the portal rejected the saved position {offset!r} (HTTP 404, "
                            f"an invalid offset); restarted from {where}")
        # saved at once: if the restart fails too, the next run starts there, not at the
        # newest page
        yield self.position(restart)
        if entry:
            self.entry_requests -= 1  # the restart replaces the entry request
        yield self.feed_request(restart, entry=entry, restarted=True)

    def _precondition_failed(self, response: Response) -> Iterator[Any]:
        """Repeat the request with the SERVER_ID cookie the 412 set (the cookie middleware
        keeps it); give up after a few tries."""
        self.fetched += 1
        tries = response.meta.get("prozorro_412", 0)
        request = response.request
        assert request is not None
        if tries >= self.max_precondition_retries:
            self.record_error(
                f"HTTP 412 from {response.url}: the API refused the server-id cookie "
                f"({SERVER_ID}) {tries + 1} times", entry=bool(response.meta.get("monitor_entry")),
            )
            if response.meta.get("portal_detail"):
                yield from self.detail_done(response, failed=True)
            return
        self.logger.info("%s: HTTP 412 at %s: repeating with the new %s cookie",
                         self.source_name, response.url, SERVER_ID)
        headers = request.headers.copy()
        headers.pop(b"Cookie", None)
        # the stale cookie must not go back into the cookie jar with the retried request
        yield request.replace(cookies={}, headers=headers, dont_filter=True,
                              meta={**request.meta, "prozorro_412": tries + 1})

    def _remember_server(self, response: Response) -> None:
        for header in response.headers.getlist("Set-Cookie"):
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(header.decode("latin-1"))
            except CookieError:
                continue
            if SERVER_ID in cookie:
                self.server_id = cookie[SERVER_ID].value

    # -- a tender -------------------------------------------------------------------------

    def parse_tender(self, response: Response) -> Iterator[Any]:
        """Expects `{"data": {...the tender...}}` from /tenders/{id}."""
        self._remember_server(response)
        if response.status == 412:
            yield from self._precondition_failed(response)
            return
        data = self.read_json(response)
        tender = data.get("data") if isinstance(data, dict) else None
        failed = True
        if data is None:
            pass
        elif not isinstance(tender, dict) or not tender.get("tenderID"):
            self.shape_error(response, "data.tenderID", data)
        else:
            try:
                record = self.tender(tender, response)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                self.record_error(f"cannot read the tender at {response.url}: "
                                  f"{type(exc).__name__}: {exc}")
            else:
                failed = False
                yield record
        yield from self.detail_done(response, failed=failed)

    def tender(self, data: dict[str, Any], response: Response) -> TenderRecord:
        """The tender's fields as a record (not yet normalised)."""
        return tender_record(data, source=self.source.name, raw_hash=self.raw_hash(response))
