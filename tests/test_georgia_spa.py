"""The georgia_spa spider: the portal's search by status date read page by page and day by
day, each tender's fragments (app_main, app_bids, agency_docs, app_statushistory) and company
profiles read into a TenderRecord, the position saved per page, and how it answers error
bodies sent with HTTP 200, fragments that changed shape, and failed requests.

Unit tests build the spider directly and hand it responses made from tests/pages/georgia_spa/
(hand-made, shaped like the portal's fragments). Crawl tests run the real crawler child
against `FakePortal`, a local server that answers like the portal: a home page that starts a
session (the SPALITE cookie), a search held in that session (POSTed form, then
`page=N`, 4 tenders a page), fragments by `action` and `app_id`, and failures on demand.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import collect, cursors_of, page, query, records_of, requests_of
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure
from werkzeug import Request as WsgiRequest
from werkzeug import Response as WsgiResponse

import crawlers.settings
from crawlers.portals.georgia_spa.parse import LABEL_CODES, TBILISI
from crawlers.portals.georgia_spa.spider import SEARCH_FORM, GeorgiaSpa
from crawlers.registry import SPIDERS, spider_for
from monitor.config import parse_config
from monitor.crawl import crawl
from monitor.evidence import CaptureStore
from monitor.models import Organisation, PortalCursor, TenderRecord
from monitor.store import open_store
from monitor.tender import normalise_tender

PROJECT_SETTINGS = {k: getattr(crawlers.settings, k) for k in dir(crawlers.settings) if k.isupper()}
API = "https://tenders.procurement.gov.ge/public/library/controller.php"
TODAY = date(2025, 3, 10)
APP_ID = "612401"
NUMBER = "SPA250003112"
MAIN_URL = f"{API}?action=app_main&app_id={APP_ID}"

AWARDED = {"app_main": "app_main-awarded.html", "app_bids": "app_bids-closed.html",
           "agency_docs": "agency_docs-awarded.html",
           "app_statushistory": "app_statushistory-awarded.html"}
ANNOUNCED = {"app_main": "app_main-announced.html", "app_bids": "app_bids-open.html",
             "agency_docs": "agency_docs-empty.html",
             "app_statushistory": "app_statushistory-announced.html"}
NUCTECH = "Nuctech Company Limited - საქართველოს ფილიალი"
# profile id -> (name, identification code)
COMPANIES = {"30117": ("სსიპ - შემოსავლების სამსახური", "204390013"),
             "88412": (NUCTECH, "404612288"),
             "51907": ("შპს კავკასიის უსაფრთხოების სისტემები", "405118722"),
             "64250": ("შპს რენტგენტექი", "402233871"),
             "41870": ("Hangzhou Hikvision Digital Technology Co., Ltd.", "404998123")}


# -- helpers ---------------------------------------------------------------------------------


def make_spider(source: dict[str, Any] | None = None, *, cursor: str | None = None,
                state: dict[str, Any] | None = None, today: date = TODAY) -> GeorgiaSpa:
    """A spider for one source, set up as `from_crawler` would, with a saved position
    instead of a store and a fixed `today`."""
    data = {"name": "georgia_spa", "kind": "portal", "portal": "georgia_spa", "url": API,
            **(source or {})}
    config = parse_config({"sources": [data]})
    spider = GeorgiaSpa(source_name=data["name"])
    spider._set_crawler(get_crawler(GeorgiaSpa, PROJECT_SETTINGS))
    spider.config = config
    spider.source = config.source(data["name"])
    saved = (PortalCursor(data["name"], API, cursor, state or {})
             if cursor is not None or state is not None else None)
    spider.load_position(saved, {})
    spider.today = lambda: today  # type: ignore[method-assign]
    return spider


def profile_html(org_id: str) -> bytes:
    """A company's profile, shaped like the saved supplier profile."""
    name, code = COMPANIES[org_id]
    return (page("georgia_spa/profile-supplier.html").decode()
            .replace(NUCTECH, name).replace("404612288", code).encode())


def respond(request: Request, body: bytes | str, *, status: int = 200) -> HtmlResponse:
    """A response to `request`; a str body names a saved page under tests/pages/georgia_spa/."""
    data = page(f"georgia_spa/{body}") if isinstance(body, str) else body
    return HtmlResponse(url=request.url, body=data, request=request, status=status,
                        headers={"Content-Type": "text/html; charset=utf-8"})


def failure(request: Request, status: int) -> Failure:
    result = Failure(HttpError(respond(request, b"Internal Server Error", status=status)))
    result.request = request  # type: ignore[attr-defined]
    return result


def form_of(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}


def first_search(spider: GeorgiaSpa) -> Request:
    """The home page, answered, then the first search request."""
    [home] = collect(spider.start())
    [search] = requests_of(spider.parse_home(respond(home, b"<html>portal</html>")))
    return search


def answer(spider: GeorgiaSpa, requests: list[Request],
           fragments: dict[str, str | bytes] | None = None,
           profiles: Callable[[str], bytes | None] = profile_html) -> list[Any]:
    """Answer tenders' requests (fragments by action, profiles by org id; a None profile
    fails with HTTP 500) until only search requests are left; everything else yielded is
    returned, search requests included."""
    bodies = {**AWARDED, **(fragments or {})}
    pending, out = list(requests), []
    while pending:
        request = pending.pop(0)
        action = query(request.url).get("action", "search_app")
        if action == "search_app":
            out.append(request)
            continue
        if action == "profile":
            body = profiles(query(request.url)["org_id"])
            results = (list(spider.on_error(failure(request, 500))) if body is None
                       else list(request.callback(respond(request, body))))
        else:
            results = list(request.callback(respond(request, bodies[action])))
        for result in results:
            (pending if isinstance(result, Request) else out).append(result)
    return out


def one_tender(fragments: dict[str, str | bytes] | None = None, **kwargs: Any) -> TenderRecord:
    """The awarded tender read through its fragments, as a normalised record."""
    spider = make_spider()
    request = spider.retry_detail(MAIN_URL)
    [record] = records_of(answer(spider, [request], fragments, **kwargs))
    assert spider.errors == [], spider.errors
    return normalise_tender(record)


# -- where a run starts ----------------------------------------------------------------------


def test_spider_is_registered_for_portal_georgia_spa() -> None:
    spider = make_spider()
    assert spider_for(spider.source) is GeorgiaSpa
    assert SPIDERS["georgia_spa"] is GeorgiaSpa
    assert GeorgiaSpa.__doc__ and "Reads" in GeorgiaSpa.__doc__ and "Caveats" in GeorgiaSpa.__doc__


def test_first_run_starts_a_session_then_searches_yesterday_by_status_date() -> None:
    spider = make_spider()

    [home] = collect(spider.start())
    assert home.url == "https://tenders.procurement.gov.ge/public/?lang=ge"
    assert home.meta["monitor_entry"] is True

    [search] = requests_of(spider.parse_home(respond(home, b"<html>portal</html>")))

    assert (search.method, search.url) == ("POST", API)
    assert search.headers["Content-Type"].startswith(b"application/x-www-form-urlencoded")
    form = form_of(search)
    assert list(form) == [name for name, _ in SEARCH_FORM]  # every field, in the page's order
    assert (form["action"], form["app_date_type"]) == ("search_app", "3")  # by status date
    assert form["app_date_from"] == form["app_date_tlll"] == "09.03.2025"
    assert search.meta["monitor_entry"] is True and spider.entry_requests == 1


@pytest.mark.parametrize(
    ("source", "cursor", "day"),
    [({"since": "2025-02-20"}, None, "20.02.2025"),
     ({"since": "2025-02-20"}, "2025-03-08", "08.03.2025"),
     ({}, "2025-03-10", "10.03.2025")],
    ids=["since", "saved position", "saved today"],
)
def test_run_starts_from_the_saved_day_else_since(source: dict[str, Any], cursor: str | None,
                                                   day: str) -> None:
    search = first_search(make_spider(source, cursor=cursor))

    assert form_of(search)["app_date_from"] == day


def test_home_page_that_fails_still_lets_the_search_say_what_is_wrong() -> None:
    spider = make_spider()
    [home] = collect(spider.start())

    [search] = requests_of(spider.parse_home(respond(home, b"Not Found", status=404)))

    assert form_of(search)["app_date_from"] == "09.03.2025"
    assert spider.errors == []


# -- the search, page after page, day after day ----------------------------------------------


def test_result_pages_are_read_to_the_end_then_the_next_day() -> None:
    spider = make_spider(cursor="2025-03-09")
    search = first_search(spider)

    first = list(spider.parse_search(respond(search, "search-page-1.html"), **search.cb_kwargs))

    details = requests_of(first)
    assert [query(r.url) for r in details] == [
        {"action": "app_main", "app_id": app_id}
        for app_id in ("612401", "618873", "618870", "617205")]
    assert cursors_of(first) == []  # not before the page's tenders are stored
    done = answer(spider, details)
    assert len(records_of(done)) == 4
    [cursor] = cursors_of(done)
    assert cursor.cursor == "2025-03-09"  # the day is not read to its end yet
    [page_2] = requests_of(done)
    assert (page_2.method, query(page_2.url)) == ("GET", {"action": "search_app", "page": "2"})

    second = list(spider.parse_search(respond(page_2, "search-page-2.html"), **page_2.cb_kwargs))
    done = answer(spider, requests_of(second))

    [cursor] = cursors_of(done)
    assert cursor.cursor == "2025-03-09"
    assert cursor.state["seen"] == {"2025-03-09": {
        "SPA250003112": "140", "NAT250004417": "10", "NAT250004409": "20",
        "NAT250003958": "120", "GEO250001176": "40"}}
    [next_day] = requests_of(done)
    assert next_day.method == "POST" and form_of(next_day)["app_date_from"] == "10.03.2025"
    assert next_day.meta["monitor_entry"] is False

    end = list(spider.parse_search(respond(next_day, "search-empty.html"), **next_day.cb_kwargs))

    [cursor] = cursors_of(end)
    assert cursor.cursor == "2025-03-10" and requests_of(end) == []  # today: the run ends
    assert cursor.state["seen"] == {}  # days before the saved one are not kept
    assert spider.errors == []


def test_tender_read_with_the_same_status_that_day_is_not_fetched_again() -> None:
    spider = make_spider(cursor="2025-03-09",
                         state={"seen": {"2025-03-09": {"SPA250003112": "140",
                                                        "NAT250004417": "20"}}})
    search = first_search(spider)

    results = list(spider.parse_search(respond(search, "search-page-1.html"), **search.cb_kwargs))

    [marker] = records_of(results)
    assert (marker.native_id, marker.unchanged) == ("SPA250003112", True)
    # NAT250004417's status changed since (20 -> 10): fetched again
    assert [query(r.url)["app_id"] for r in requests_of(results)] == [
        "618873", "618870", "617205"]


def test_max_items_keeps_the_position_and_remembers_what_was_read() -> None:
    spider = make_spider({"max_items": 2}, cursor="2025-03-09")
    search = first_search(spider)

    results = list(spider.parse_search(respond(search, "search-page-1.html"), **search.cb_kwargs))
    done = answer(spider, requests_of(results))

    assert len(requests_of(results)) == 2
    [cursor] = cursors_of(done)
    assert cursor.cursor == "2025-03-09" and requests_of(done) == []  # no next page
    assert cursor.state["seen"] == {"2025-03-09": {"SPA250003112": "140", "NAT250004417": "10"}}


# -- a tender's fragments --------------------------------------------------------------------


def test_awarded_tender_becomes_a_record() -> None:
    record = one_tender()

    assert record.native_id == NUMBER
    assert record.url == "https://tenders.procurement.gov.ge/public/?go=612401&lang=ge"
    assert record.title.startswith("სარფის და ყაზბეგის სასაზღვრო გამშვები პუნქტებისთვის")
    assert "38500000-საკონტროლო და გამოსაცდელი აპარატურა" in record.description
    assert record.buyer is not None
    assert (record.buyer.name, record.buyer.registry_id) == (
        "სსიპ - შემოსავლების სამსახური", "GE-NAPR:204390013")
    assert record.status == "complete"  # ხელშეკრულება დადებულია (stat140)
    assert record.procedure == "ელექტრონული ტენდერი რევერსული აუქციონით(SPA)"
    assert record.cpv == ("38500000", "38581000", "38582000")
    assert (record.value, record.currency) == (4250000.0, "GEL")
    assert record.published == "2025-02-03T12:20:00+00:00"  # Tbilisi is UTC+4
    assert record.deadline == "2025-02-24T13:00:00+00:00"
    assert [(b.name, b.registry_id) for b in record.bidders] == [
        (NUCTECH, "GE-NAPR:404612288"),
        ("შპს კავკასიის უსაფრთხოების სისტემები", "GE-NAPR:405118722"),
        ("შპს რენტგენტექი", "GE-NAPR:402233871")]
    assert [(w.name, w.registry_id) for w in record.winners] == [(NUCTECH, "GE-NAPR:404612288")]
    assert (record.award_value, record.award_currency) == (3987500.0, "GEL")
    # from the status history: გამარჯვებული გამოვლენილია, ხელშეკრულება დადებულია
    assert record.award_date == "2025-02-28T14:05:00+00:00"
    assert record.contract_date == "2025-03-07T12:55:00+00:00"
    assert record.modified == "2025-03-07T12:55:00+00:00"
    # the superseded upload (obsolete1) is left out
    assert [(d.kind, d.url) for d in record.documents] == [
        ("doctype30", ("https://tenders.procurement.gov.ge/public/library/files.php"
                      "?mode=app&file=5512044&code=1740751322")),
        ("doctype100", ("https://tenders.procurement.gov.ge/public/library/files.php"
                       "?mode=app&file=5519873&code=1741352310"))]
    assert record.raw_hash is not None


def test_announced_tender_has_no_bids_or_winners_yet() -> None:
    record = one_tender(ANNOUNCED)

    assert (record.status, record.bidders, record.winners, record.award_value) == (
        "active.tendering", (), (), None)
    assert (record.award_date, record.contract_date, record.documents) == (None, None, ())
    assert record.buyer is not None and record.buyer.registry_id == "GE-NAPR:204390013"


def test_contract_shown_in_the_results_gives_the_winner_value_and_date() -> None:
    record = one_tender({"agency_docs": "agency_docs-contract.html"})

    assert [(w.name, w.registry_id) for w in record.winners] == [
        ("Hangzhou Hikvision Digital Technology Co., Ltd.", "GE-NAPR:404998123")]
    assert record.award_value == 782400.0
    assert record.contract_date == "2019-09-24T08:10:00+00:00"


def test_list_winner_line_names_the_winner_when_no_bid_is_highlighted() -> None:
    spider = make_spider(cursor="2025-03-09")
    search = first_search(spider)
    results = list(spider.parse_search(respond(search, "search-page-1.html"), **search.cb_kwargs))
    plain_bids = page("georgia_spa/app_bids-closed.html").replace(b' class="activebid1"', b"")

    done = answer(spider, requests_of(results)[:1], {"app_bids": plain_bids})

    [record] = records_of(done)
    assert [(w.name, w.id) for w in record.winners] == [(NUCTECH, "404612288")]
    assert record.award_value == 3987500.0


def test_list_winner_line_without_line_break_tags_names_the_winner() -> None:
    # the portal writes the status paragraph's lines (contract status, winner, bidder count)
    # as one text node broken by newlines only, not by <br/>
    spider = make_spider(cursor="2025-03-09")
    search = first_search(spider)
    results = list(spider.parse_search(respond(search, "search-winner-lines.html"),
                                       **search.cb_kwargs))
    plain_bids = page("georgia_spa/app_bids-closed.html").replace(b' class="activebid1"', b"")

    done = answer(spider, requests_of(results), {"app_bids": plain_bids})

    [record] = records_of(done)
    assert [(w.name, w.id) for w in record.winners] == [(NUCTECH, "404612288")]
    assert record.award_value == 3987500.0


def test_no_winner_before_the_status_says_one_was_chosen() -> None:
    evaluating = page("georgia_spa/app_main-awarded.html").replace(b"stat140", b"stat40")

    record = one_tender({"app_main": evaluating})

    assert record.status == "active.qualification"
    assert record.winners == () and len(record.bidders) == 3


def test_profiles_are_fetched_once_per_run_and_records_wait_for_them() -> None:
    spider = make_spider()
    first = spider.retry_detail(MAIN_URL)
    second = spider.retry_detail(f"{API}?action=app_main&app_id=612999")
    asked: list[str] = []

    def profiles(org_id: str) -> bytes:
        asked.append(org_id)
        return profile_html(org_id)

    records = records_of(answer(spider, [first, second], profiles=profiles))

    assert len(records) == 2
    assert sorted(asked) == ["30117", "51907", "64250", "88412"]
    assert all(r.buyer and r.buyer.id == "204390013" for r in records)


def test_profile_that_fails_leaves_the_company_by_name_only() -> None:
    spider = make_spider()
    broken = page("georgia_spa/profile-buyer.html").replace(
        "საიდენტიფიკაციო კოდი".encode(), "კოდი".encode())

    def profiles(org_id: str) -> bytes | None:
        return {"88412": None, "30117": broken}.get(org_id, profile_html(org_id))

    [record] = records_of(answer(spider, [spider.retry_detail(MAIN_URL)], profiles=profiles))

    assert record.buyer == Organisation(name="სსიპ - შემოსავლების სამსახური")
    assert [(w.name, w.id) for w in record.winners] == [(NUCTECH, None)]
    assert spider.errors == [
        (f"profile fragment at {API}?action=profile&org_id=30117: no identification code "
        "(expected a 'საიდენტიფიკაციო კოდი' row)"),
        f"HTTP 500 from {API}?action=profile&org_id=88412"]


# -- failures --------------------------------------------------------------------------------


def test_error_body_with_http_200_fails_the_search_loudly() -> None:
    spider = make_spider()
    search = first_search(spider)

    results = list(spider.parse_search(respond(search, "php-error.html"), **search.cb_kwargs))

    assert results == []
    assert spider.entry_failures == 1
    [error] = spider.errors
    assert error.startswith(f"error from {API} (HTTP 200): [8] Undefined index: lang")
    assert "SPALITE" in error


@pytest.mark.parametrize(
    ("fragments", "problem"),
    [
        ({"app_bids": "app_bids-changed.html"},
         (f"app_bids fragment at {API}?action=app_bids&app_id={APP_ID}: no bids table "
         "(expected a table.ktable of bidders")),
        ({"app_main": b"<div id='app_main'><p>maintenance</p></div>"},
         f"app_main fragment at {MAIN_URL}: no tender number"),
        ({"agency_docs": b"<div id='agency_docs'><ul><li>report.pdf</li></ul></div>"},
         "agency_docs fragment at", ),
        ({"app_statushistory": page("georgia_spa/app_statushistory-awarded.html").replace(
            b"07.03.2025 16:55", b"yesterday")},
         "app_statushistory fragment at"),
        ({"app_main": b"<html><body><form id='login'>password</form></body></html>"},
         "no tender overview (expected div#app_main"),
        ({"app_bids": b"  \n"}, (f"error from {API}?action=app_bids&app_id={APP_ID} (HTTP 200): "
                                "empty response")),
        ({"agency_docs": "php-error.html"}, "(HTTP 200): [8] Undefined index: lang"),
    ],
    ids=["bids table gone", "no number", "no results table", "bad history time", "login page",
         "empty body", "php notice"],
)
def test_fragment_that_changed_shape_fails_the_tender_and_is_fetched_again(
    fragments: dict[str, str | bytes], problem: str
) -> None:
    spider = make_spider(cursor="2025-03-10")
    search = first_search(spider)
    one_row = page("georgia_spa/search-page-1.html").replace(b"1/2)", b"1/1)")
    [detail, *_] = requests_of(
        spider.parse_search(respond(search, one_row), **search.cb_kwargs))

    done = answer(spider, [detail], fragments)

    assert records_of(done) == []
    assert problem in spider.errors[0], spider.errors
    assert spider.entry_failures == 0


def test_failed_fragment_is_fetched_again_first_next_run() -> None:
    spider = make_spider(cursor="2025-03-10")
    search = first_search(spider)
    one_row = page("georgia_spa/search-page-1.html").replace(b"1/2)", b"1/1)")
    details = requests_of(spider.parse_search(respond(search, one_row), **search.cb_kwargs))
    [bids] = requests_of(details[0].callback(respond(details[0], "app_main-awarded.html")))

    after = list(spider.on_error(failure(bids, 500)))
    after += answer(spider, details[1:])

    assert spider.errors == [f"HTTP 500 from {API}?action=app_bids&app_id={APP_ID}"]
    [cursor] = cursors_of(after)
    assert (cursor.cursor, cursor.state["retry"]) == ("2025-03-10", {MAIN_URL: 1})
    assert NUMBER not in cursor.state["seen"]["2025-03-10"]

    again = make_spider(cursor=cursor.cursor, state=cursor.state)
    [home] = collect(again.start())
    [retry] = requests_of(again.parse_home(respond(home, b"<html>portal</html>")))
    assert retry.url == MAIN_URL  # before the search
    done = answer(again, [retry])
    assert [r.native_id for r in records_of(done)] == [NUMBER]
    [saved] = cursors_of(done)
    assert saved.state["retry"] == {}
    [search] = requests_of(done)
    assert form_of(search)["app_date_from"] == "10.03.2025" and search.meta["monitor_entry"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"<html><body><h1>SPA</h1></body></html>", ("no result list (expected "
                                                   "table#list_apps_by_subject)")),
     (page("georgia_spa/search-page-1.html").replace("გვერდი".encode(), b"page"),
      "no page count"),
     (page("georgia_spa/search-page-2.html"), "asked for page 1 of 2025-03-10, got page 2 of 2")],
    ids=["no list", "no pager", "wrong page"],
)
def test_search_page_that_changed_shape_fails_the_run(body: bytes, problem: str) -> None:
    spider = make_spider(cursor="2025-03-10")
    search = first_search(spider)

    results = list(spider.parse_search(respond(search, body), **search.cb_kwargs))

    assert results == []
    assert spider.errors[0].startswith(f"search_app fragment at {API}: ")
    assert problem in spider.errors[0]
    assert spider.entry_failures == 1


# -- crawls against a local portal -----------------------------------------------------------


SEARCH_ROW = """<tr id="A{app_id}" onclick="$('#app_list').hide();ShowApp({app_id},'',0,'{key}')">
		<td valign="top">
			<img title="{key}" src="images/statuses/stat{code}.png">
		</td>
		<td>
		<p class="status">{label}<br/>
			{winner}
		</p>
		<p class='lbl color-1'>ელექტრონული ტენდერი რევერსული აუქციონით(SPA)</p>
		<p>განცხადების ნომერი: <strong>{number}</strong></p>
		<p>შესყიდვის გამოცხადების თარიღი: 03.02.2025</p>
		<p>წინადადებების მიღების ვადა: 24.02.2025</p>
		<p>შემსყიდველი: <strong>სსიპ - შემოსავლების სამსახური</strong></p>
		<p>შესყიდვის კატეგორია: <span class="color-2"><strong></strong> 38500000-საკონტროლო და გამოსაცდელი აპარატურა</span></p>
		<p>შესყიდვის სავარაუდო ღირებულება: <span class="color-1"><strong>4`250`000.00</strong> ლარი</span></p>
		</td>
	</tr>"""

SEARCH_PAGE = """<table id="list_apps_by_subject" width="100%" cellspacing="1" cellpadding="4" class="ktable">
<colgroup><col width="24"><col></colgroup>
	<tbody>
	{rows}
	</tbody>
</table>
<div class="pager pad4px">
    <span>
    	<button id="btn_first" type="button">&nbsp;</button>
		<button id="btn_prev" type="button">&nbsp;</button>
		<button type="button">{total}&nbsp;ჩანაწერი&nbsp;(გვერდი: {page}/{pages})</button>
		<button 1 id="btn_next" type="button">&nbsp;</button>
		<button 1 id="btn_last" type="button">&nbsp;</button>
	</span>
</div>
<script>var plastpage = eval('{pages}');</script>
"""

EMPTY_ROW = """<tr bgcolor="#FFFFFF"><td colspan="2" class="color-1" align="center">ჩანაწერები არ არის</td></tr>"""
CODES = {code: label for label, code in LABEL_CODES.items()}


def tbilisi_today() -> date:
    return datetime.now(TBILISI).date()


class FakePortal:
    """The portal on the local test server under `prefix`: the home page, and the controller
    answering by `action` within a session (several portals can share the server)."""

    PER_PAGE = 4

    def __init__(self, site: Any, prefix: str = "/public") -> None:
        self.url = site.url_for(f"{prefix}/library/controller.php")
        # app_id -> {"number", "day" (the status date), "awarded"}
        self.tenders: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        # (action, app_id or org_id) -> answers to send instead, in order
        self.failures: dict[tuple[str, str], list[WsgiResponse]] = {}
        self.sessions: dict[str, list[dict[str, Any]]] = {}
        self.home_broken = False
        site.expect_request(f"{prefix}/").respond_with_handler(self.home)
        site.expect_request(f"{prefix}/library/controller.php").respond_with_handler(
            self.controller)

    def add(self, app_id: int, day: date, *, awarded: bool = False) -> None:
        self.tenders[str(app_id)] = {"number": f"SPA25{app_id:07d}", "day": day,
                                     "awarded": awarded}

    def actions(self, action: str) -> list[dict[str, str]]:
        return [params for name, params in self.requests if name == action]

    @staticmethod
    def _html(body: str | bytes) -> WsgiResponse:
        return WsgiResponse(body, content_type="text/html; charset=utf-8")

    def home(self, request: WsgiRequest) -> WsgiResponse:
        if self.home_broken:
            return WsgiResponse("Not Found", status=404)
        token = uuid.uuid4().hex
        self.sessions[token] = []
        response = self._html("<html><body><form id='search_frm'>შესყიდვის სტატუსი</form>"
                              "</body></html>")
        response.set_cookie("SPALITE", token, path="/")
        return response

    def controller(self, request: WsgiRequest) -> WsgiResponse:
        params = {**request.args.to_dict(), **request.form.to_dict()}
        action = params.get("action", "")
        self.requests.append((action, params))
        token = request.cookies.get("SPALITE", "")
        if token not in self.sessions:  # what the portal says without its session
            return self._html(page("georgia_spa/php-error.html"))
        failures = self.failures.get((action, params.get("app_id") or params.get("org_id", "")))
        if failures:
            return failures.pop(0)
        if action == "search_app":
            if request.method == "POST":
                day = datetime.strptime(params["app_date_from"], "%d.%m.%Y").date()
                self.sessions[token] = [{"app_id": k, **t} for k, t in sorted(
                    self.tenders.items(), reverse=True) if t["day"] == day]
            return self._html(self._search(self.sessions[token], int(params.get("page", 1))))
        if action == "profile":
            return self._html(profile_html(params["org_id"]))
        tender = self.tenders[params["app_id"]]
        body = page(f"georgia_spa/{(AWARDED if tender['awarded'] else ANNOUNCED)[action]}")
        return self._html(body.decode().replace(NUMBER, tender["number"])
                          .replace(APP_ID, params["app_id"]))

    def _search(self, found: list[dict[str, Any]], number: int) -> str:
        chunk = found[(number - 1) * self.PER_PAGE:number * self.PER_PAGE]
        rows = "".join(SEARCH_ROW.format(
            app_id=t["app_id"], key=uuid.uuid4().hex, code="140" if t["awarded"] else "20",
            label=CODES["140" if t["awarded"] else "20"], number=t["number"],
            winner=f"გამარჯვებული: {NUCTECH}<br/>" if t["awarded"] else "") for t in chunk)
        pages = -(-len(found) // self.PER_PAGE)
        return SEARCH_PAGE.format(rows=rows or EMPTY_ROW, total=len(found), page=number,
                                  pages=pages)


@pytest.fixture
def portal(site: Any) -> FakePortal:
    return FakePortal(site)


def source(name: str, fake: FakePortal, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "portal", "portal": "georgia_spa", "url": fake.url, **extra}


def events_of(state_dir: Path, name: str = "georgia_spa") -> list[tuple[str, str]]:
    with open_store(state_dir) as store:
        return [(e.native_id, e.kind) for e in store.tender_events(name)]


def test_crawl_reads_every_page_of_every_day_then_continues_from_the_saved_day(
    portal: FakePortal, write_config: Callable[..., Any], state_dir: Path
) -> None:
    today = tbilisi_today()
    yesterday = today - timedelta(days=1)
    for app_id in range(700001, 700006):  # two pages yesterday
        portal.add(app_id, yesterday, awarded=app_id == 700003)
    portal.add(700010, today)
    portal.add(690000, yesterday - timedelta(days=3))  # before `since`: never listed
    config = write_config({"sources": [source("georgia_spa", portal,
                                              since=yesterday.isoformat())]})

    [first] = crawl(config, state_dir).results

    assert first.status == "ok", first.error
    assert (first.items, first.new_items) == (6, 6)
    searches = portal.actions("search_app")
    assert [(s.get("app_date_from"), s.get("page")) for s in searches] == [
        (yesterday.strftime("%d.%m.%Y"), None), (None, "2"), (today.strftime("%d.%m.%Y"), None)]
    assert all(s.get("app_date_type", "3") == "3" for s in searches)
    # every company once, however many tenders name it
    assert sorted(p["org_id"] for p in portal.actions("profile")) == [
        "30117", "51907", "64250", "88412"]
    with open_store(state_dir) as store:
        numbers = sorted(t.native_id for t in store.tenders())
        saved = store.portal_cursor("georgia_spa", portal.url)
    assert numbers == [f"SPA25{n:07d}" for n in (700001, 700002, 700003, 700004, 700005,
                                                  700010)]
    assert saved is not None and saved.cursor == today.isoformat()
    # a backfill alerts: the tender already awarded is an event
    assert events_of(state_dir) == [("SPA250700003", "awarded")]

    portal.requests.clear()
    [second] = crawl(config, state_dir).results

    assert (second.status, second.items, second.new_items) == ("ok", 1, 0), second.error
    assert [s.get("app_date_from") for s in portal.actions("search_app")] == [
        today.strftime("%d.%m.%Y")]
    assert portal.actions("app_main") == []  # listed with the status it was read with


def test_crawl_tender_awarded_between_two_crawls_makes_exactly_one_awarded_event(
    portal: FakePortal, write_config: Callable[..., Any], state_dir: Path
) -> None:
    today = tbilisi_today()
    portal.add(700001, today - timedelta(days=1))
    portal.add(700002, today - timedelta(days=1), awarded=True)
    config = write_config({"sources": [source("georgia_spa", portal)]})

    [baseline] = crawl(config, state_dir).results

    assert baseline.status == "ok", baseline.error
    assert baseline.new_items == 2
    assert events_of(state_dir) == []  # the first run is a silent baseline

    portal.add(700001, today, awarded=True)  # its status changed today
    [second] = crawl(config, state_dir).results
    [third] = crawl(config, state_dir).results

    assert (second.status, second.changed_items) == ("ok", 1), second.error
    assert (third.status, third.changed_items) == ("ok", 0), third.error
    assert events_of(state_dir) == [("SPA250700001", "status_changed"),
                                    ("SPA250700001", "awarded")]
    with open_store(state_dir) as store:
        [event] = [e for e in store.tender_events() if e.kind == "awarded"]
        [row] = [t for t in store.tenders() if t.native_id == "SPA250700001"]
    assert event.new == [{"name": NUCTECH, "id": "404612288", "scheme": "GE-NAPR"}]
    assert (row.version, row.status, row.record["award_value"]) == (
        2, "complete", 3987500.0)
    # evidence: each version points at every fragment and company profile it was read from
    with open_store(state_dir) as store:
        captures = store.tender_captures(row.id)
    latest = {parse_qs(urlsplit(c.final_url).query)["action"][0]
              for c in captures if c.version == 2}
    assert latest == {"app_main", "app_bids", "agency_docs", "app_statushistory", "profile"}
    assert CaptureStore(state_dir).verify() == []


def test_crawl_failures_one_source_at_a_time_and_the_failed_tender_next_run(
    site: Any, write_config: Callable[..., Any], state_dir: Path
) -> None:
    today = tbilisi_today()
    portals = {name: FakePortal(site, f"/{name}/public") for name in
               ("sessionless", "lying", "changed", "flaky")}
    for fake in portals.values():
        fake.add(700001, today)
        fake.add(700002, today, awarded=True)
    # no session cookie: the portal answers every request with a PHP notice, HTTP 200
    portals["sessionless"].home_broken = True
    portals["lying"].failures[("search_app", "")] = [WsgiResponse(b"", status=200)]
    portals["changed"].failures[("app_bids", "700002")] = [
        FakePortal._html(page("georgia_spa/app_bids-changed.html"))]
    portals["flaky"].failures[("app_bids", "700002")] = [
        WsgiResponse("Internal Server Error", status=500)]
    config = write_config({"sources": [source(name, fake, since=today.isoformat())
                                       for name, fake in portals.items()]})

    results = {r.source: r for r in crawl(config, state_dir).results}

    assert results["sessionless"].status == "error"
    assert "Undefined index: lang" in (results["sessionless"].error or "")
    assert results["lying"].status == "error"
    assert "(HTTP 200): empty response" in (results["lying"].error or "")
    assert (results["changed"].status, results["changed"].new_items) == ("partial", 1)
    assert "app_bids fragment at" in (results["changed"].error or "")
    assert "no bids table" in (results["changed"].error or "")
    assert (results["flaky"].status, results["flaky"].new_items) == ("partial", 1)
    flaky = portals["flaky"]
    assert f"HTTP 500 from {flaky.url}?action=app_bids&app_id=700002" in (
        results["flaky"].error or "")

    # the next run fetches the failed tender first, then reads the day again
    flaky.requests.clear()
    [again] = crawl(config, state_dir, ["flaky"]).results

    assert (again.status, again.new_items) == ("ok", 1), again.error
    assert [name for name, _ in flaky.requests[:2]] == ["app_main", "app_bids"]
    assert [p["app_id"] for p in flaky.actions("app_main")] == ["700002"]
    with open_store(state_dir) as store:
        assert {t.native_id for t in store.tenders("flaky")} == {"SPA250700001",
                                                                   "SPA250700002"}
        saved = store.portal_cursor("flaky", flaky.url)
    assert saved is not None and saved.state["retry"] == {}
