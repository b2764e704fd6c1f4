"""The Prozorro spider: reading the tenders feed and tender details into TenderRecords, the
feed position saved per page, and how it answers 429, 412, 404, 500 and error bodies.

Unit tests build the spider directly and hand it responses made from tests/pages/prozorro/
(shaped like the API's documented responses). Crawl tests run the real crawler child against
`FakeProzorro`, a local server that answers like the API: a feed ordered by modification,
opaque offsets, `next_page` / `prev_page`, `descending=1` for the newest page, details at
/tenders/{id}, and failures on demand.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import collect, cursors_of, page, query, records_of, requests_of
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure
from werkzeug import Request as WsgiRequest
from werkzeug import Response as WsgiResponse

import crawlers.settings
from crawlers.portals.prozorro.spider import Prozorro
from crawlers.registry import SPIDERS, spider_for
from monitor.config import parse_config
from monitor.crawl import crawl
from monitor.evidence import CaptureStore
from monitor.models import PortalCursor
from monitor.store import open_store
from monitor.tender import normalise_tender

PROJECT_SETTINGS = {k: getattr(crawlers.settings, k) for k in dir(crawlers.settings) if k.isupper()}
API = "https://public-api.prozorro.gov.ua/api/2.5"
ANNOUNCED = json.loads(page("prozorro/tender-announced.json"))
AWARDED = json.loads(page("prozorro/tender-awarded.json"))
TENDER_ID = ANNOUNCED["data"]["id"]
TENDER_NUMBER = ANNOUNCED["data"]["tenderID"]


# -- helpers ---------------------------------------------------------------------------------


def make_spider(source: dict[str, Any] | None = None, *, cursor: str | None = None,
                state: dict[str, Any] | None = None,
                stamps: dict[str, str] | None = None) -> Prozorro:
    """A Prozorro spider for one source, set up as `from_crawler` would, with a saved
    cursor and stored stamps instead of a store."""
    data = {"name": "prozorro", "kind": "portal", "portal": "prozorro", "url": API,
            **(source or {})}
    config = parse_config({"sources": [data]})
    spider = Prozorro(source_name=data["name"])
    spider._set_crawler(get_crawler(Prozorro, PROJECT_SETTINGS))
    spider.config = config
    spider.source = config.source(data["name"])
    saved = (PortalCursor(data["name"], API, cursor, state or {})
             if cursor is not None or state is not None else None)
    spider.load_position(saved, stamps or {})
    return spider


def respond(request: Request, body: bytes | dict[str, Any], *, status: int = 200,
            headers: dict[str, str] | None = None) -> TextResponse:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    return TextResponse(url=request.url, body=data, request=request, status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def feed_page(entries: list[dict[str, Any]], next_offset: str, prev_offset: str) -> dict[str, Any]:
    def link(offset: str) -> dict[str, str]:
        path = f"/api/2.5/tenders?limit=100&offset={offset}"
        return {"offset": offset, "path": path, "uri": "https://public-api.prozorro.gov.ua" + path}

    return {"data": entries, "next_page": link(next_offset), "prev_page": link(prev_offset)}


def entry(tender: dict[str, Any]) -> dict[str, Any]:
    data = tender["data"]
    return {"id": data["id"], "dateModified": data["dateModified"], "tenderID": data["tenderID"],
            "status": data["status"], "procurementMethodType": data["procurementMethodType"]}


# -- the tender record -----------------------------------------------------------------------


def test_spider_is_registered_for_portal_prozorro() -> None:
    source = make_spider().source
    assert spider_for(source) is Prozorro
    assert SPIDERS["prozorro"] is Prozorro
    assert Prozorro.__doc__ and "Reads" in Prozorro.__doc__ and "Caveats" in Prozorro.__doc__


def test_awarded_tender_becomes_a_record() -> None:
    spider = make_spider()
    request = spider.tender_request(f"{API}/tenders/{TENDER_ID}")

    [record] = records_of(spider.parse_tender(respond(request, AWARDED)))
    record = normalise_tender(record)

    assert record.native_id == TENDER_NUMBER
    assert record.url == f"https://prozorro.gov.ua/tender/{TENDER_NUMBER}"
    assert record.title == "Мобільні рентгенівські сканери для митного контролю вантажів"
    assert record.buyer is not None
    assert (record.buyer.name, record.buyer.registry_id) == (
        "Державна митна служба України", "UA-EDR:43115923")
    assert (record.status, record.procedure) == ("active.awarded", "aboveThreshold")
    assert record.cpv == ("38580000-1",)
    assert (record.value, record.currency) == (96000000.0, "UAH")
    assert record.deadline == "2025-04-01T07:00:00+00:00"
    assert record.published == "2025-03-10T10:00:00+00:00"
    assert [w.registry_id for w in record.winners] == ["UA-EDR:41234567"]
    assert [b.name for b in record.bidders] == ["ТОВ «Скантех Україна»", "ТОВ «Рентген-Сервіс»"]
    assert (record.award_value, record.award_currency) == (94500000.0, "UAH")
    assert record.award_date == "2025-04-20T08:00:00+00:00"
    assert record.contract_date is None  # the contract is still pending
    assert [(lot.title, lot.value) for lot in record.lots] == [
        ("Мобільні рентгенівські сканери", 96000000.0)]
    assert [d.kind for d in record.documents] == ["tenderNotice"]
    assert record.modified == "2025-04-20T08:00:00+00:00"
    assert record.raw_hash is not None


def test_announced_tender_has_no_winners_yet() -> None:
    spider = make_spider()
    request = spider.tender_request(f"{API}/tenders/{TENDER_ID}")

    [record] = records_of(spider.parse_tender(respond(request, ANNOUNCED)))

    assert (record.status, record.winners, record.bidders, record.award_value) == (
        "active.tendering", (), (), None)


def test_a_replaced_document_is_listed_once_in_its_latest_version() -> None:
    # the API lists each version of a document under the same id, oldest first
    versions = json.loads(page("prozorro/tender-document-versions.json"))
    spider = make_spider()
    request = spider.tender_request(f"{API}/tenders/{versions['data']['id']}")

    [record] = records_of(spider.parse_tender(respond(request, versions)))

    assert [(d.kind, d.title) for d in record.documents] == [
        ("notice", "sign.p7s"),
        ("technicalSpecifications", "Технічні вимоги (зі змінами).pdf")]
    assert record.documents[1].url == "https://public-docs.prozorro.gov.ua/get/2c3d4e5f6a7b?Signature=c&KeyID=1"
    # published: when the notice went out, not when the draft was created days before
    assert record.published == "2025-06-02T11:20:00.000000+03:00"


def test_numeric_feed_offsets_are_kept_as_exact_text() -> None:
    # older API versions write next_page.offset as a JSON number; stored as a float it would
    # come back rounded to 15 digits, past tenders not yet read
    spider = make_spider({"since": "2025-06-01"})
    [first] = collect(spider.start())
    body = json.loads(page("prozorro/feed-numeric-offsets.json"))

    results = list(spider.parse_feed(respond(first, body)))
    after = list(spider.parse_tender(respond(requests_of(results)[0],
                                             json.loads(page("prozorro/tender-document-versions.json")))))

    [cursor] = cursors_of(after)
    [follow] = requests_of(after)
    assert cursor.cursor == "1749128533.481235"
    assert query(follow.url)["offset"] == "1749128533.481235"
    assert spider.errors == []


# -- where the feed is read from -------------------------------------------------------------


def test_first_run_reads_the_newest_page() -> None:
    [request] = collect(make_spider({"page_size": 50}).start())

    assert request.url.startswith(f"{API}/tenders?")
    assert query(request.url) == {"limit": "50", "descending": "1",
                                  "opt_fields": "tenderID,status,procurementMethodType"}
    assert request.meta["monitor_entry"] is True
    assert request.meta["dont_cache"] is True


def test_first_run_with_since_reads_from_that_date() -> None:
    [request] = collect(make_spider({"since": "2025-03-01"}).start())

    # midnight with its zone (Kyiv's summer offset, the earliest the day begins there): a
    # server that read a bare time as UTC would start hours into the day
    assert query(request.url)["offset"] == "2025-03-01T00:00:00+03:00"
    assert "%2B03%3A00" in request.url  # "+" sent as itself, not as a space
    assert "descending" not in query(request.url)


@pytest.mark.parametrize("url", [f"{API}/tenders", f"{API}/tenders/", f"{API}/tenders/{TENDER_ID}"])
def test_a_url_that_is_not_the_api_root_fails_and_names_the_root(url: str) -> None:
    spider = make_spider({"url": url})

    assert collect(spider.start()) == []

    assert spider.entry_failures == spider.entry_requests == 1
    assert spider.errors == [
        f"the source's `url` is {url!r}, a tenders URL: it should be the API root, such as "
        "https://public-api.prozorro.gov.ua/api/2.5 (the spider reads <url>/tenders itself)"]


def test_404_on_the_newest_page_says_the_url_is_not_the_feed() -> None:
    spider = make_spider({"url": "https://public-api.prozorro.gov.ua/api"})
    [first] = collect(spider.start())

    assert list(spider.parse_feed(respond(first, b"Not Found", status=404))) == []

    assert spider.entry_failures == 1
    assert spider.errors == [
        f"HTTP 404 from {first.url}: no tenders feed there; the source's `url` should be the "
        "API root, such as https://public-api.prozorro.gov.ua/api/2.5"]


def test_later_runs_continue_from_the_saved_cursor_with_the_saved_server() -> None:
    spider = make_spider({"since": "2025-03-01"}, cursor="1741601100.0.7.abc",
                         state={"server_id": "srv-2", "retry": {}})

    [request] = collect(spider.start())

    assert query(request.url)["offset"] == "1741601100.0.7.abc"
    assert request.cookies == {"SERVER_ID": "srv-2"}


def test_head_page_saves_the_head_position_once_its_details_are_stored() -> None:
    spider = make_spider()
    [first] = collect(spider.start())

    results = list(spider.parse_feed(respond(first, json.loads(page("prozorro/feed-head.json")))))

    [detail] = requests_of(results)
    assert detail.url == f"{API}/tenders/{TENDER_ID}"
    assert cursors_of(results) == []  # not before the tender is stored
    after = list(spider.parse_tender(respond(detail, ANNOUNCED)))
    assert [r.native_id for r in records_of(after)] == [TENDER_NUMBER]
    [cursor] = cursors_of(after)
    assert cursor.cursor == "1741601100.0.2.6f8d0e6c3d7a4b3f9e2a1c5b7d9e0f12"  # prev_page
    assert cursor.state["last_modified"] == "2025-03-10T12:05:00+02:00"  # its zone kept
    assert requests_of(after) == []  # the head page is where this run stops
    assert spider.errors == []


def test_a_forward_page_follows_next_page_and_the_last_empty_page_ends_the_run() -> None:
    spider = make_spider(cursor="o-1")
    [first] = collect(spider.start())

    results = list(spider.parse_feed(respond(first, feed_page([entry(ANNOUNCED)], "o-2", "o-1"))))
    after = list(spider.parse_tender(respond(requests_of(results)[0], ANNOUNCED)))

    [cursor] = cursors_of(after)
    [follow] = requests_of(after)
    assert cursor.cursor == "o-2"
    assert query(follow.url)["offset"] == "o-2"
    assert follow.meta["monitor_entry"] is False
    end = list(spider.parse_feed(respond(follow, feed_page([], "o-2", "o-2"))))
    assert [c.cursor for c in cursors_of(end)] == ["o-2"]
    assert requests_of(end) == []


def test_unchanged_tenders_are_counted_not_fetched() -> None:
    spider = make_spider(cursor="o-1", stamps={TENDER_NUMBER: "2025-03-10T10:05:00+00:00"})
    [first] = collect(spider.start())

    results = list(spider.parse_feed(respond(first, feed_page([entry(ANNOUNCED)], "o-2", "o-1"))))

    [marker] = records_of(results)
    assert (marker.native_id, marker.unchanged, spider.not_due) == (TENDER_NUMBER, True, 1)
    assert [c.cursor for c in cursors_of(results)] == ["o-2"]
    assert [query(r.url)["offset"] for r in requests_of(results)] == ["o-2"]


def test_max_items_leaves_the_cursor_before_the_unfinished_page() -> None:
    second = copy.deepcopy(ANNOUNCED)
    second["data"].update(id="1" * 32, tenderID="UA-2025-03-11-000001-a")
    spider = make_spider({"max_items": 1}, cursor="o-1")
    [first] = collect(spider.start())

    results = list(spider.parse_feed(
        respond(first, feed_page([entry(ANNOUNCED), entry(second)], "o-3", "o-1"))))
    [detail] = requests_of(results)
    after = list(spider.parse_tender(respond(detail, ANNOUNCED)))

    assert records_of(after) and cursors_of(after) == [] and requests_of(after) == []


# -- failures --------------------------------------------------------------------------------


def test_error_body_with_http_200_is_an_error() -> None:
    spider = make_spider()
    [first] = collect(spider.start())

    results = list(spider.parse_feed(respond(first, json.loads(page("prozorro/offset-invalid.json")))))

    assert results == []
    assert spider.entry_failures == 1
    assert spider.errors == [f"error from {first.url} (HTTP 200): offset: Offset expired/invalid"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"items": [], "next": None}, "expected data[] and next_page.offset, got keys items, next"),
        (b"<html>Service temporarily unavailable</html>", "not JSON"),
        ({"data": [{"dateModified": "2025-03-10T12:05:00+02:00"}], "next_page": {"offset": "o"}},
         "expected feed entries with an id"),
    ],
    ids=["changed shape", "html", "entry without id"],
)
def test_feed_that_changed_shape_fails_loudly(body: Any, problem: str) -> None:
    spider = make_spider()
    [first] = collect(spider.start())

    list(spider.parse_feed(respond(first, body)))

    assert problem in spider.errors[0]


def test_tender_that_changed_shape_fails_loudly_and_is_fetched_again_next_run() -> None:
    spider = make_spider(cursor="o-1")
    [first] = collect(spider.start())
    [detail] = requests_of(spider.parse_feed(respond(first, feed_page([entry(ANNOUNCED)], "o-2", "o-1"))))

    after = list(spider.parse_tender(respond(detail, {"data": {"id": TENDER_ID}})))

    assert "expected data.tenderID" in spider.errors[0]
    [cursor] = cursors_of(after)
    assert cursor.state["retry"] == {detail.url: 1}


def test_failed_detail_counts_down_its_page_and_is_fetched_first_next_run() -> None:
    spider = make_spider(cursor="o-1")
    [first] = collect(spider.start())
    [detail] = requests_of(spider.parse_feed(respond(first, feed_page([entry(ANNOUNCED)], "o-2", "o-1"))))
    failure = Failure(HttpError(respond(detail, b"oops", status=500)))
    failure.request = detail  # type: ignore[attr-defined]

    after = list(spider.on_error(failure))

    assert spider.errors == [f"HTTP 500 from {detail.url}"]
    [cursor] = cursors_of(after)
    assert (cursor.cursor, cursor.state["retry"]) == ("o-2", {detail.url: 1})
    assert [query(r.url)["offset"] for r in requests_of(after)] == ["o-2"]

    again = make_spider(cursor=cursor.cursor, state=cursor.state)
    [retry] = collect(again.start())
    assert retry.url == detail.url  # the feed waits for it
    done = list(again.parse_tender(respond(retry, AWARDED)))
    assert records_of(done)[0].native_id == TENDER_NUMBER
    [saved] = cursors_of(done)
    assert (saved.cursor, saved.state["retry"]) == ("o-2", {})
    [feed] = requests_of(done)
    assert query(feed.url)["offset"] == "o-2" and feed.meta["monitor_entry"] is True


def test_detail_that_keeps_failing_is_given_up_and_said_so() -> None:
    url = f"{API}/tenders/{TENDER_ID}"
    spider = make_spider(cursor="o-2", state={"retry": {url: 2}})
    [retry] = collect(spider.start())
    failure = Failure(HttpError(respond(retry, b"gone", status=404)))
    failure.request = retry  # type: ignore[attr-defined]

    after = list(spider.on_error(failure))

    assert spider.errors[-1] == f"gave up on {url} after it failed in 3 runs in a row"
    assert cursors_of(after)[0].state["retry"] == {}


def test_invalid_offset_restarts_the_feed_an_hour_before_the_last_change_and_says_so() -> None:
    spider = make_spider(cursor="o-9", state={"last_modified": "2025-03-10T12:05:00+02:00"})
    [first] = collect(spider.start())

    results = list(spider.parse_feed(
        respond(first, json.loads(page("prozorro/offset-invalid.json")), status=404)))

    # the zone kept and an hour's overlap: what is read again is skipped by its stamp
    [restart] = requests_of(results)
    assert query(restart.url)["offset"] == "2025-03-10T11:05:00+02:00"
    assert restart.meta["monitor_entry"] is True
    # the restart is the saved position at once: a failed restart starts there next run
    [saved] = cursors_of(results)
    assert saved.cursor == "2025-03-10T11:05:00+02:00"
    assert spider.entry_requests == 1 and spider.errors == []
    assert spider.warnings == [
        "the portal rejected the saved position 'o-9' (HTTP 404, an invalid offset); restarted "
        "from 2025-03-10T11:05:00+02:00 (an hour before the last change read, "
        "2025-03-10T12:05:00+02:00)"]

    list(spider.parse_feed(
        respond(restart, json.loads(page("prozorro/offset-invalid.json")), status=404)))
    assert spider.entry_failures == 1
    assert "HTTP 404" in spider.errors[0] and "after a restart" in spider.errors[0]


def test_invalid_offset_without_a_known_change_restarts_from_since_else_the_newest_page() -> None:
    for source, expected, said in (
            ({"since": "2025-01-01"}, {"offset": "2025-01-01T00:00:00+03:00"}, "(`since`)"),
            ({}, {"descending": "1"}, "the newest page: tenders changed since the last run "
                                      "and before that page may be missed")):
        spider = make_spider(source, cursor="o-9")
        [first] = collect(spider.start())
        results = list(spider.parse_feed(respond(first, b"{}", status=404)))
        [restart] = requests_of(results)
        assert expected.items() <= query(restart.url).items()
        assert said in spider.warnings[0]


@pytest.mark.parametrize(
    ("saved", "offset"),
    [("2025-03-10T12:05:00+02:00", "2025-03-10T11:05:00+02:00"),
     ("2025-06-10T12:05:00.123456+03:00", "2025-06-10T11:05:00+03:00"),
     # saved by an older version without its zone (Kyiv time): read as UTC+03:00, the
     # earliest it can mean
     ("2025-03-10T12:05:00", "2025-03-10T11:05:00+03:00")],
    ids=["winter", "summer", "zone-less"],
)
def test_a_run_without_a_saved_position_resumes_before_the_last_change_read(
        saved: str, offset: str) -> None:
    # an older version dropped the position the API rejected, keeping the last change
    spider = make_spider({"since": "2025-01-01"}, state={"last_modified": saved})

    [request] = collect(spider.start())

    assert query(request.url)["offset"] == offset


def test_a_backfill_reads_from_since_whatever_was_read_before() -> None:
    spider = make_spider({"since": "2025-01-01"},
                         state={"last_modified": "2025-03-10T12:05:00+02:00"})
    spider.backfill = True  # as from_crawler sets it for `monitor crawl --since`

    [request] = collect(spider.start())

    assert query(request.url)["offset"] == "2025-01-01T00:00:00+03:00"


def test_412_repeats_the_request_without_the_stale_cookie() -> None:
    spider = make_spider(cursor="o-1", state={"server_id": "old"})
    [first] = collect(spider.start())
    first.headers["Cookie"] = "SERVER_ID=old"

    [again] = list(spider.parse_feed(respond(
        first, b"", status=412, headers={"Set-Cookie": "SERVER_ID=new; Path=/"})))

    assert again.url == first.url and again.dont_filter
    assert b"Cookie" not in again.headers and again.cookies == {}
    assert again.meta["prozorro_412"] == 1
    assert spider.server_id == "new"
    third = list(spider.parse_feed(respond(again.replace(meta={**again.meta, "prozorro_412": 2}),
                                           b"", status=412)))
    assert third == []
    assert spider.errors[0].startswith(f"HTTP 412 from {first.url}")
    assert spider.entry_failures == 1


# -- crawls against a local Prozorro ---------------------------------------------------------


def tender(n: int, modified: str, *, awarded: bool = False) -> dict[str, Any]:
    """Tender number `n` as /tenders/{id} returns it."""
    body = copy.deepcopy(AWARDED if awarded else ANNOUNCED)
    data = body["data"]
    data["id"] = f"{n:032x}"
    data["tenderID"] = f"UA-2025-03-10-{n:06d}-a"
    data["title"] = f"{data['title']} ({n})"
    data["dateModified"] = modified
    return body


class FakeProzorro:
    """The Prozorro API on the local test server, under `prefix` (several can share it)."""

    def __init__(self, site: Any, prefix: str = "/api/2.5") -> None:
        self.prefix = prefix
        self.site = site
        self.url = site.url_for(prefix)
        self.tenders: dict[str, dict[str, Any]] = {}
        self.feed_requests: list[dict[str, str]] = []
        self.detail_requests: list[str] = []
        # answers to send instead of the real ones, one per request, in order
        self.feed_failures: list[WsgiResponse] = []
        self.detail_failures: dict[str, list[WsgiResponse]] = {}
        self.invalid_offsets: set[str] = set()
        # every opaque offset handed out, so that a test can make them all stale at once
        self.issued: set[str] = set()
        # when set, requests without this SERVER_ID cookie get 412 (and the cookie)
        self.server_id: str | None = None
        self.cookies_seen: list[str | None] = []
        site.expect_request(re.compile(rf"^{re.escape(prefix)}/tenders$")).respond_with_handler(
            self.feed)
        site.expect_request(re.compile(rf"^{re.escape(prefix)}/tenders/\w+$")).respond_with_handler(
            self.detail)

    def add(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            self.tenders[body["data"]["id"]] = body

    def expire_offsets(self) -> None:
        """Every offset handed out so far is answered with 404 "Offset expired/invalid"."""
        self.invalid_offsets |= self.issued

    def _ordered(self) -> list[dict[str, Any]]:
        return sorted((t["data"] for t in self.tenders.values()), key=self._key)

    @staticmethod
    def offset_of(data: dict[str, Any] | None) -> str:
        """The opaque offset just after a tender: its modification as a Unix time, then its
        id (the real offsets look alike: "1735484400.068.1.87eafe2d...")."""
        if data is None:
            return "0.000000.1.0"
        stamp = datetime.fromisoformat(data["dateModified"]).timestamp()
        return f"{stamp:.6f}.1.{data['id']}"

    @staticmethod
    def _after(offset: str) -> tuple[float, str]:
        parts = offset.split(".")
        return float(f"{parts[0]}.{parts[1]}"), parts[3]

    def _key(self, data: dict[str, Any]) -> tuple[float, str]:
        return datetime.fromisoformat(data["dateModified"]).timestamp(), data["id"]

    @staticmethod
    def _instant(offset: str) -> float:
        """A date-time offset as a Unix time; one without a UTC offset is read as UTC, as a
        server in UTC would: 2024-05-13T12:02:15 is three hours after 12:02:15+03:00."""
        when = datetime.fromisoformat(offset)
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()

    def _json(self, body: Any, status: int = 200) -> WsgiResponse:
        response = WsgiResponse(json.dumps(body, ensure_ascii=False), status=status,
                                content_type="application/json")
        if self.server_id:
            response.set_cookie("SERVER_ID", self.server_id)
        return response

    def _sticky(self, request: WsgiRequest) -> WsgiResponse | None:
        self.cookies_seen.append(request.cookies.get("SERVER_ID"))
        if self.server_id and request.cookies.get("SERVER_ID") != self.server_id:
            return self._json({"status": "error", "errors": [
                {"location": "header", "name": "Cookie", "description": "Precondition Failed"}]},
                status=412)
        return None

    def feed(self, request: WsgiRequest) -> WsgiResponse:
        args = {k: v for k, v in request.args.items()}
        self.feed_requests.append(args)
        if (sticky := self._sticky(request)) is not None:
            return sticky
        if self.feed_failures:
            return self.feed_failures.pop(0)
        offset = args.get("offset", "")
        limit = int(args.get("limit", 100))
        ordered = self._ordered()
        if offset in self.invalid_offsets:
            return self._json(json.loads(page("prozorro/offset-invalid.json")), status=404)
        if not offset:  # the newest page, newest first; prev_page is the head
            chunk = list(reversed(ordered[-limit:]))
            return self._page(chunk, self.offset_of(chunk[-1] if chunk else None),
                              self.offset_of(ordered[-1] if ordered else None))
        if re.match(r"\d{4}-\d\d-\d\dT", offset):  # a date-time: from that moment on
            since = self._instant(offset)
            chunk = [d for d in ordered if self._key(d)[0] >= since][:limit]
        else:
            chunk = [d for d in ordered if self._key(d) > self._after(offset)][:limit]
        return self._page(chunk, self.offset_of(chunk[-1]) if chunk else offset, offset)

    def _page(self, chunk: list[dict[str, Any]], next_offset: str,
              prev_offset: str) -> WsgiResponse:
        self.issued |= {o for o in (next_offset, prev_offset) if not re.match(r"\d{4}-", o)}
        return self._json(feed_page([self._entry(d) for d in chunk], next_offset, prev_offset))

    @staticmethod
    def _entry(data: dict[str, Any]) -> dict[str, Any]:
        return entry({"data": data})

    def detail(self, request: WsgiRequest) -> WsgiResponse:
        tender_id = request.path.rsplit("/", 1)[1]
        self.detail_requests.append(tender_id)
        if (sticky := self._sticky(request)) is not None:
            return sticky
        if self.detail_failures.get(tender_id):
            return self.detail_failures[tender_id].pop(0)
        if tender_id not in self.tenders:
            return self._json({"status": "error", "errors": [
                {"location": "url", "name": "tender_id", "description": "Not Found"}]}, 404)
        return self._json(self.tenders[tender_id])


@pytest.fixture
def prozorro(site: Any) -> FakeProzorro:
    return FakeProzorro(site)


def portal(name: str, api: FakeProzorro, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "portal", "portal": "prozorro", "url": api.url, **extra}


def events_of(state_dir: Path) -> list[tuple[str, str, str]]:
    with open_store(state_dir) as store:
        return [(e.native_id, e.kind, e.field) for e in store.tender_events()]


def test_crawl_reads_the_feed_to_its_end_then_continues_from_the_saved_position(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    prozorro.add(*(tender(n, f"2025-03-1{n}T12:00:00.000000+02:00") for n in range(1, 6)))
    config = write_config({"sources": [portal("prozorro", prozorro, since="2025-03-01",
                                              page_size=2)]})

    [first] = crawl(config, state_dir).results

    assert first.status == "ok", first.error
    assert (first.items, first.new_items) == (5, 5)
    offsets = [r.get("offset") for r in prozorro.feed_requests]
    after = [FakeProzorro.offset_of(prozorro.tenders[f"{n:032x}"]["data"]) for n in (2, 4, 5)]
    assert offsets == ["2025-03-01T00:00:00+03:00", *after]  # three pages, then the empty end
    with open_store(state_dir) as store:
        # details are fetched in whatever order Scrapy's queue gives
        assert sorted(t.native_id for t in store.tenders()) == [
            f"UA-2025-03-10-{n:06d}-a" for n in range(1, 6)]
        saved = store.portal_cursor("prozorro", prozorro.url)
    assert saved is not None and saved.cursor == after[-1]

    # two changes and a new tender later, the next run reads only those
    prozorro.add(tender(2, "2025-03-20T09:00:00.000000+02:00", awarded=True),
                 tender(6, "2025-03-20T10:00:00.000000+02:00"))
    prozorro.feed_requests.clear()
    prozorro.detail_requests.clear()

    [second] = crawl(config, state_dir).results

    assert second.status == "ok", second.error
    assert (second.items, second.new_items, second.changed_items) == (2, 1, 1)
    assert prozorro.feed_requests[0]["offset"] == after[-1]
    assert sorted(prozorro.detail_requests) == [f"{2:032x}", f"{6:032x}"]
    # a backfill (`since`) alerts: the tender awarded since is an event
    assert ("UA-2025-03-10-000002-a", "awarded", "winners") in events_of(state_dir)


def test_crawl_since_backfills_from_that_date_instead_of_the_saved_cursor_and_alerts(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    """`monitor crawl prozorro --since 2025-03-01`: even after a baseline has saved a
    position, the run reads the feed from the date, and what it finds is news."""
    prozorro.add(tender(1, "2025-03-11T12:00:00.000000+02:00"))
    config = write_config({"sources": [portal("prozorro", prozorro)]})
    crawl(config, state_dir)  # the baseline: reads the newest page, saves the head position
    prozorro.add(tender(1, "2025-03-12T12:00:00.000000+02:00", awarded=True))
    prozorro.feed_requests.clear()

    [backfill] = crawl(config, state_dir, since=date(2025, 3, 1)).results

    assert backfill.status == "ok", backfill.error
    assert prozorro.feed_requests[0].get("offset") == "2025-03-01T00:00:00+03:00"
    assert ("UA-2025-03-10-000001-a", "awarded", "winners") in events_of(state_dir)


def test_crawl_tender_awarded_between_two_crawls_makes_exactly_one_awarded_event(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    already = tender(1, "2025-03-09T10:00:00.000000+02:00", awarded=True)
    prozorro.add(already, ANNOUNCED)
    config = write_config({"sources": [portal("prozorro", prozorro)]})

    [baseline] = crawl(config, state_dir).results

    assert baseline.status == "ok", baseline.error
    assert prozorro.feed_requests[0].get("descending") == "1"
    assert baseline.new_items == 2
    assert events_of(state_dir) == []  # the first run is a silent baseline

    prozorro.add(AWARDED)
    [second] = crawl(config, state_dir).results
    [third] = crawl(config, state_dir).results

    assert (second.status, second.changed_items) == ("ok", 1), second.error
    assert (third.status, third.items, third.changed_items) == ("ok", 0, 0)
    assert events_of(state_dir) == [
        (TENDER_NUMBER, "status_changed", "status"),
        (TENDER_NUMBER, "awarded", "winners"),
    ]
    with open_store(state_dir) as store:
        [event] = [e for e in store.tender_events() if e.kind == "awarded"]
        [row] = [t for t in store.tenders() if t.native_id == TENDER_NUMBER]
    assert event.new == [{"name": "ТОВ «Скантех Україна»", "id": "41234567",
                             "scheme": "UA-EDR"}]
    assert (row.version, row.status, row.record["award_value"]) == (
        2, "active.awarded", 94500000.0)
    # evidence: each version points at the API response it was read from, kept as received
    with open_store(state_dir) as store:
        captures = store.tender_captures(row.id)
    assert [(c.version, c.status) for c in captures] == [(1, 200), (2, 200)]
    assert all(c.final_url.endswith(f"/tenders/{AWARDED['data']['id']}") for c in captures)
    bodies = [json.loads(CaptureStore(state_dir).read(c.sha256)) for c in captures]
    assert [b["data"]["status"] for b in bodies] == ["active.tendering", "active.awarded"]
    assert CaptureStore(state_dir).verify() == []


def test_crawl_429_waits_as_asked_and_goes_on(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    prozorro.add(ANNOUNCED)
    prozorro.feed_failures.append(WsgiResponse("slow down", status=429,
                                               headers={"Retry-After": "2"}))
    config = write_config({"sources": [portal("prozorro", prozorro)], "crawl": {"retries": 1}})

    [result] = crawl(config, state_dir).results

    assert result.status == "ok", result.error
    assert result.new_items == 1
    assert 2 <= prozorro.site.wait_after("/api/2.5/tenders") < 4  # no crawl delay in tests
    assert len(prozorro.feed_requests) == 2


def test_crawl_412_repeats_with_the_new_server_cookie_and_keeps_it(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    prozorro.add(ANNOUNCED)
    prozorro.server_id = "srv-7"
    config = write_config({"sources": [portal("prozorro", prozorro)]})

    [result] = crawl(config, state_dir).results

    assert result.status == "ok", result.error
    assert result.new_items == 1
    assert prozorro.cookies_seen[:2] == [None, "srv-7"]
    with open_store(state_dir) as store:
        saved = store.portal_cursor("prozorro", prozorro.url)
    assert saved is not None and saved.state["server_id"] == "srv-7"


def test_crawl_404_invalid_offset_restarts_the_feed(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    prozorro.add(tender(1, "2025-03-11T12:00:00.000000+02:00"))
    config = write_config({"sources": [portal("prozorro", prozorro, since="2025-03-01")]})
    [first] = crawl(config, state_dir).results
    assert first.status == "ok", first.error
    with open_store(state_dir) as store:
        saved = store.portal_cursor("prozorro", prozorro.url)
    assert saved is not None and saved.cursor
    prozorro.invalid_offsets.add(saved.cursor)
    prozorro.add(tender(2, "2025-03-12T12:00:00.000000+02:00"))
    prozorro.feed_requests.clear()

    [second] = crawl(config, state_dir).results

    assert second.status == "ok", second.error
    assert [r["offset"] for r in prozorro.feed_requests[:2]] == [
        saved.cursor, "2025-03-11T11:00:00+02:00"]  # an hour before the last change read
    assert second.new_items == 1
    with open_store(state_dir) as store:
        assert store.count("tenders") == 2
        now = store.portal_cursor("prozorro", prozorro.url)
    assert now is not None and now.cursor not in (None, saved.cursor)


def test_crawl_stale_offset_after_awards_restarts_with_its_zone_and_reports_every_award(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    """Issue 11: the saved offset goes stale while tenders are awarded. A restart from the
    last change's Kyiv time without its zone (12:20) is read by a UTC server as 14:20 Kyiv
    time: every award in between was missed, the run `ok`, the position moved past them."""
    numbers = range(1, 4)
    prozorro.add(*(tender(n, f"2025-03-11T12:{n - 1}0:00.000000+02:00") for n in numbers))
    config = write_config({"sources": [portal("prozorro", prozorro)]})
    [baseline] = crawl(config, state_dir).results
    assert (baseline.status, baseline.new_items) == ("ok", 3), baseline.error

    # within the hours a zone-less restart would skip, every tender is awarded
    prozorro.add(*(tender(n, f"2025-03-11T13:{n - 1}0:00.000000+02:00", awarded=True)
                   for n in numbers))
    prozorro.expire_offsets()
    prozorro.feed_requests.clear()

    [second] = crawl(config, state_dir).results

    assert (second.status, second.changed_items) == ("ok", 3), second.error
    assert prozorro.feed_requests[1]["offset"] == "2025-03-11T11:20:00+02:00"
    awarded = [n for n, kind, _ in events_of(state_dir) if kind == "awarded"]
    assert sorted(awarded) == [f"UA-2025-03-10-{n:06d}-a" for n in numbers]
    assert second.warnings == [
        f"the portal rejected the saved position {prozorro.feed_requests[0]['offset']!r} "
        "(HTTP 404, an invalid offset); restarted from 2025-03-11T11:20:00+02:00 (an hour "
        "before the last change read, 2025-03-11T12:20:00+02:00)"]
    with open_store(state_dir) as store:
        saved = store.portal_cursor("prozorro", prozorro.url)
    # past the awards now, at an offset the feed handed out
    assert saved is not None and saved.cursor in prozorro.issued
    assert saved.state["last_modified"] == "2025-03-11T13:20:00+02:00"


def test_crawl_a_retried_detail_listed_again_by_the_feed_does_not_stall_the_feed(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    # a tender whose details failed is fetched first next run; changed since, the feed
    # lists it again: its second request must not be dropped as a duplicate, or its page
    # never completes and the run ends there, `ok`, with the feed unread
    prozorro.add(tender(1, "2025-03-11T12:00:00.000000+02:00"))
    prozorro.detail_failures[f"{1:032x}"] = [WsgiResponse("oops", status=500)]
    config = write_config({"sources": [portal("prozorro", prozorro, since="2025-03-01")]})
    [first] = crawl(config, state_dir).results
    assert first.status == "partial"
    prozorro.add(tender(1, "2025-03-12T12:00:00.000000+02:00"),
                 tender(2, "2025-03-12T13:00:00.000000+02:00"))
    prozorro.detail_requests.clear()

    [second] = crawl(config, state_dir).results

    assert (second.status, second.new_items) == ("ok", 2), second.error
    assert sorted(prozorro.detail_requests) == [f"{1:032x}", f"{1:032x}", f"{2:032x}"]
    with open_store(state_dir) as store:
        saved = store.portal_cursor("prozorro", prozorro.url)
    assert saved is not None
    assert saved.cursor == FakeProzorro.offset_of(prozorro.tenders[f"{2:032x}"]["data"])


def test_crawl_failures_are_errors_one_source_at_a_time(
    site: Any, write_config: Callable[..., Any], state_dir: Path
) -> None:
    down = FakeProzorro(site, "/down/api/2.5")  # the feed answers 500
    down.add(ANNOUNCED)
    down.feed_failures.append(WsgiResponse("Internal Server Error", status=500))
    lying = FakeProzorro(site, "/lying/api/2.5")  # an error object with HTTP 200
    lying.add(ANNOUNCED)
    lying.feed_failures.append(lying._json({"status": "error", "errors": [
        {"location": "body", "name": "data", "description": "Service is under maintenance"}]}))
    flaky = FakeProzorro(site, "/flaky/api/2.5")  # one tender's details answer 500
    flaky.add(ANNOUNCED, tender(2, "2025-03-11T12:00:00.000000+02:00"))
    flaky.detail_failures[TENDER_ID] = [WsgiResponse("oops", status=500)]
    config = write_config({"sources": [portal("down", down), portal("lying", lying),
                                       portal("flaky", flaky)]})

    results = {r.source: r for r in crawl(config, state_dir).results}

    assert results["down"].status == "error"
    assert "HTTP 500 from" in (results["down"].error or "")
    assert results["lying"].status == "error"
    assert "Service is under maintenance" in (results["lying"].error or "")
    assert (results["flaky"].status, results["flaky"].new_items) == ("partial", 1)
    assert f"HTTP 500 from {flaky.url}/tenders/{TENDER_ID}" in (results["flaky"].error or "")

    # the next run fetches the failed tender first, then goes on with the feed
    flaky.detail_requests.clear()
    [again] = crawl(config, state_dir, ["flaky"]).results
    assert (again.status, again.new_items) == ("ok", 1), again.error
    assert flaky.detail_requests == [TENDER_ID]
    with open_store(state_dir) as store:
        assert {t.native_id for t in store.tenders("flaky")} == {
            TENDER_NUMBER, "UA-2025-03-10-000002-a"}
        saved = store.portal_cursor("flaky", flaky.url)
    assert saved is not None and saved.state["retry"] == {}


def test_crawl_dry_run_shows_tenders_and_stores_nothing(
    prozorro: FakeProzorro, write_config: Callable[..., Any], state_dir: Path
) -> None:
    prozorro.add(AWARDED)
    config = write_config({"sources": [portal("prozorro", prozorro)]})

    report = crawl(config, state_dir, dry_run=True)

    assert report.results[0].status == "ok", report.results[0].error
    [found] = report.items
    assert found["item"]["title"].startswith("Мобільні рентгенівські сканери")
    assert found["tender"]["winners"][0]["id"] == "41234567"
    with open_store(state_dir) as store:
        assert store.count("tenders") == 0 and store.count("portal_cursors") == 0
