"""The goszakup spider (Kazakhstan, OWS v3 REST): the token from the environment, the change
journal read page by page and resumed, announcements with their lots, contracts and
suppliers as TenderRecords, and how it answers a missing or refused token, 429, 500, error
bodies and changed shapes.

Unit tests build the spider directly and hand it responses made from tests/pages/goszakup/
(shaped like the API's list pages `{total, limit, next_page, items}` and its objects). Crawl
tests run the real crawler child against `FakeGoszakup`, a local server that answers like
the API: Bearer token required, journal filtered by date and paged with `search_after`,
objects by id, lists by announcement number, failures on demand.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

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
from crawlers.portals.goszakup.spider import Goszakup
from crawlers.registry import SPIDERS, spider_for
from monitor.config import parse_config
from monitor.crawl import crawl
from monitor.evidence import CaptureStore
from monitor.models import PortalCursor
from monitor.store import open_store
from monitor.tender import normalise_stamp, normalise_tender

PROJECT_SETTINGS = {k: getattr(crawlers.settings, k) for k in dir(crawlers.settings) if k.isupper()}
API = "https://ows.goszakup.gov.kz"
# distinctive, so that a test can look for it where it must never be
TOKEN = "gz-7f3a91c0d2e4-test-token"
KZ = timezone(timedelta(hours=5))
DOCS = "https://goszakup.gov.kz/ru/developer/ows_v3"


def fixture(name: str) -> Any:
    return json.loads(page(f"goszakup/{name}"))


PUBLISHED = fixture("announcement-published.json")
AWARDED = fixture("announcement-awarded.json")
HIKVISION = fixture("announcement-hikvision.json")
LOTS = fixture("lots.json")
CONTRACT = fixture("contract.json")
CONTRACTS = fixture("contracts.json")
SUBJECT = fixture("subject.json")
NUMBER = PUBLISHED["number_anno"]
NEXT_PAGE = fixture("journal-1.json")["next_page"]


# -- helpers ---------------------------------------------------------------------------------


def make_spider(source: dict[str, Any] | None = None, *, cursor: str | None = None,
                state: dict[str, Any] | None = None,
                stamps: dict[str, str] | None = None) -> Goszakup:
    """A goszakup spider for one source, set up as `from_crawler` would, with a saved cursor
    and stored stamps instead of a store."""
    data = {"name": "goszakup", "kind": "portal", "portal": "goszakup", "url": API,
            "token_env": "GOSZAKUP_TOKEN", **(source or {})}
    config = parse_config({"sources": [data]})
    spider = Goszakup(source_name=data["name"])
    spider._set_crawler(get_crawler(Goszakup, PROJECT_SETTINGS))
    spider.config = config
    spider.source = config.source(data["name"])
    saved = (PortalCursor(data["name"], API, cursor, state or {})
             if cursor is not None or state is not None else None)
    spider.load_position(saved, stamps or {})
    return spider


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GOSZAKUP_TOKEN", TOKEN)
    return TOKEN


def respond(request: Request, body: bytes | dict[str, Any], *, status: int = 200) -> TextResponse:
    data = json.dumps(body, ensure_ascii=False).encode() if isinstance(body, dict) else body
    return TextResponse(url=request.url, body=data, request=request, status=status,
                        headers={"Content-Type": "application/json"})


def follows_of(results: Iterable[Any]) -> list[Request]:
    """Requests for journal pages (not the steps of an announcement's chain)."""
    return [r for r in requests_of(results) if not r.meta.get("goszakup_root")]


def walk(request: Request, *answers: Any) -> tuple[list[Any], list[str], Request | None]:
    """Answer a detail's chain of requests in turn (a body, or (body, status)): what the
    callbacks yielded, the URLs asked, and the chain's next request (None: it ended)."""
    results: list[Any] = []
    urls: list[str] = []
    current: Request | None = request
    for answer in answers:
        assert current is not None, f"the chain ended before {answer!r} was asked for"
        body, status = answer if isinstance(answer, tuple) else (answer, 200)
        urls.append(current.url)
        out = list(current.callback(respond(current, body, status=status), **current.cb_kwargs))
        results += out
        steps = [r for r in requests_of(out) if r.meta.get("goszakup_root")]
        current = steps[0] if steps else None
    return results, urls, current


def chain(request: Request, *answers: Any) -> tuple[list[Any], list[str]]:
    """`walk` a chain to its end: every answer used, nothing more asked."""
    results, urls, pending = walk(request, *answers)
    assert pending is None, f"the chain goes on to {pending.url}"
    return results, urls


def days_ago(n: int) -> str:
    return (datetime.now(KZ).date() - timedelta(days=n)).isoformat()


# -- configuration and the first request --------------------------------------------------------


def test_spider_is_registered_for_portal_goszakup() -> None:
    assert spider_for(make_spider().source) is Goszakup
    assert SPIDERS["goszakup"] is Goszakup
    assert Goszakup.__doc__ and "Reads" in Goszakup.__doc__ and "Caveats" in Goszakup.__doc__


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_without_a_token_no_request_is_made_and_the_source_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("GOSZAKUP_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GOSZAKUP_TOKEN", value)
    spider = make_spider()

    assert collect(spider.start()) == []

    assert spider.errors == [
        ("not configured: set the environment variable GOSZAKUP_TOKEN to a goszakup API token "
         f"({DOCS}); no request was made")]
    # an entry that failed: the pipeline closes the run as `error`
    assert (spider.entry_requests, spider.entry_failures) == (1, 1)


def test_first_run_reads_the_last_two_days_of_the_journal_with_the_token(token: str) -> None:
    [request] = collect(make_spider().start())

    assert request.url.startswith(f"{API}/v3/journal?")
    tomorrow = (datetime.now(KZ).date() + timedelta(days=1)).isoformat()
    assert query(request.url) == {"date_from": days_ago(2), "date_to": tomorrow, "limit": "200"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}".encode()
    assert request.meta["monitor_entry"] is True and request.meta["dont_cache"] is True


def test_since_reads_the_journal_from_that_date(token: str) -> None:
    [request] = collect(make_spider({"since": "2025-01-15", "page_size": 50}).start())

    assert query(request.url)["date_from"] == "2025-01-15"
    assert query(request.url)["limit"] == "50"


def test_a_saved_journal_page_is_where_the_next_run_starts(token: str) -> None:
    saved = API + NEXT_PAGE
    [request] = collect(make_spider({"since": "2025-01-15"}, cursor=saved).start())

    assert request.url == saved
    assert request.headers["Authorization"] == f"Bearer {TOKEN}".encode()


# -- the journal ----------------------------------------------------------------------------------


def test_journal_is_read_page_by_page_to_its_end(token: str) -> None:
    spider = make_spider()
    [first] = collect(spider.start())

    results = list(spider.parse_journal(respond(first, fixture("journal-1.json"))))

    announcement, contract = requests_of(results)
    assert announcement.url == f"{API}/v3/trd-buy/15734021"
    assert contract.url == f"{API}/v3/contract/2401187"
    assert cursors_of(results) == []  # not before its announcements are stored
    assert dict(spider.ignored) == {"plans": 1}
    # the contract's announcement is already on its way: the contract adds nothing
    after_contract, _ = chain(contract, CONTRACT)
    assert after_contract == []
    after, urls = chain(announcement, PUBLISHED, LOTS)
    assert urls == [announcement.url, f"{API}/v3/lots/number-anno/{NUMBER}?limit=500"]
    assert [r.native_id for r in records_of(after)] == [NUMBER]
    [cursor] = cursors_of(after)
    assert cursor.cursor == API + NEXT_PAGE
    [follow] = follows_of(after)
    assert follow.url == API + NEXT_PAGE and follow.meta["monitor_entry"] is False

    last = list(spider.parse_journal(respond(follow, fixture("journal-2.json"))))

    # deleted: nothing to read; 15734021 again: already read in this run
    [hikvision] = requests_of(last)
    assert hikvision.url == f"{API}/v3/trd-buy/15740233"
    done, _ = chain(hikvision, HIKVISION, fixture("lots-hikvision.json"), (b"", 404))
    [end] = cursors_of(done)
    assert end.cursor == "2025-04-10"  # the day of the newest change read
    assert end.state["last_action"] == "2025-04-10T12:10:37+05:00"
    assert follows_of(done) == []
    assert spider.errors == []


def test_a_run_resuming_from_a_day_skips_entries_older_than_an_hour_before_the_last_read(
        token: str) -> None:
    spider = make_spider({"since": "2025-01-15"}, cursor="2025-04-10",
                         state={"last_action": "2025-04-10T12:05:00+05:00", "retry": {}})
    [first] = collect(spider.start())
    body = fixture("journal-2.json")
    early = {**body["items"][0], "object_id": 15700001, "url": "/v3/trd-buy/15700001",
             "date_action": "2025-04-10 11:04:59"}
    body["items"].insert(0, early)

    assert query(first.url)["date_from"] == "2025-04-10"
    results = list(spider.parse_journal(respond(first, body)))
    # 11:04:59 was read by the last run; 12:02, within the hour before its newest change,
    # is read again (the journal can add an entry late, with an earlier time than one
    # already read): an unchanged announcement is then skipped by its stamp
    assert [r.url for r in requests_of(results)] == [f"{API}/v3/trd-buy/15740233",
                                                     f"{API}/v3/trd-buy/15734021"]


def test_the_day_resumed_from_is_an_hour_before_the_newest_change_read(token: str) -> None:
    spider = make_spider(state={"last_action": "2025-04-11T00:30:00+05:00", "retry": {}})

    # a change read at 00:30 may have neighbours late in the day before
    assert spider._resume_day() == "2025-04-10"


def test_journal_of_other_services_only_is_reported_as_a_changed_journal(token: str) -> None:
    spider = make_spider()
    [first] = collect(spider.start())
    entry = fixture("journal-1.json")["items"][2]
    body = {"total": 25, "limit": 100, "next_page": "", "items": [entry] * 25}

    results = list(spider.parse_journal(respond(first, body)))

    assert [c.cursor for c in cursors_of(results)] == ["2025-04-10"]
    assert spider.errors == [("none of the 25 journal entries read named an announcement or a "
                              "contract (service_name: plans): the journal's shape may have "
                              "changed")]
    assert spider.entry_failures == 0


# -- an announcement ------------------------------------------------------------------------------


def test_awarded_announcement_becomes_a_record_with_its_lots_and_winner() -> None:
    spider = make_spider()

    results, urls = chain(spider.announcement_request("15734021"),
                          AWARDED, LOTS, CONTRACTS, SUBJECT)

    assert urls == [f"{API}/v3/trd-buy/15734021", f"{API}/v3/lots/number-anno/{NUMBER}?limit=500",
                    f"{API}/v3/contract/number-anno/{NUMBER}?limit=500",
                    f"{API}/v3/subject/biin/180640027731"]
    [record] = records_of(results)
    record = normalise_tender(record)
    assert record.native_id == "15734021-1"
    assert record.url == "https://goszakup.gov.kz/ru/announce/index/15734021"
    assert record.title == ("Приобретение досмотровой рентгенотелевизионной установки для "
                            "пункта пропуска «Нур Жолы»")
    assert record.buyer is not None and record.buyer.registry_id == "KZ-BIN:120940031254"
    assert record.buyer.name.startswith("РГУ «Департамент государственных доходов")
    assert (record.status, record.procedure) == ("complete", "Открытый конкурс")
    assert (record.value, record.currency) == (412500000.0, "KZT")
    assert record.published == "2025-03-03T04:15:00+00:00"  # 09:15 in Kazakhstan (UTC+5)
    assert record.deadline == "2025-03-24T05:00:00+00:00"
    assert record.award_date == "2025-04-02T11:40:12+00:00"
    assert record.contract_date == "2025-04-10T06:25:03+00:00"
    assert [(w.name, w.registry_id) for w in record.winners] == [
        ('ТОО "Nuctech Kazakhstan"', "KZ-BIN:180640027731")]
    assert record.bidders == record.winners
    assert (record.award_value, record.award_currency) == (405900000.0, "KZT")
    assert [(lot.id, lot.title, lot.value, lot.status) for lot in record.lots] == [
        ("81234567-ОК1", "Досмотровая рентгенотелевизионная установка", 247500000.0,
         "ref_lot_status_id:360"),
        ("81234568-ОК1", "Стационарный металлодетектор арочного типа", 165000000.0,
         "ref_lot_status_id:360"),
    ]
    assert "размер туннеля 100×100 см" in record.description
    assert record.modified == "2025-04-10T06:25:40+00:00"
    assert record.raw_hash is not None
    assert spider.errors == []


def test_announcement_still_open_is_read_without_asking_for_contracts() -> None:
    results, urls = chain(make_spider().announcement_request("15734021"), PUBLISHED, LOTS)

    assert len(urls) == 2
    [record] = records_of(results)
    assert (record.status, record.winners, record.award_value) == (
        "published.order_taking", (), None)


def test_undocumented_ids_are_kept_and_the_organiser_stands_in_for_a_missing_customer() -> None:
    results, _ = chain(make_spider().announcement_request("15740233"),
                       HIKVISION, fixture("lots-hikvision.json"), (b"", 404))

    [record] = records_of(normalise_tender(r) for r in records_of(results))
    assert record.status == "ref_buy_status_id:999"
    assert record.procedure == "Запрос ценовых предложений"
    assert record.buyer is not None and record.buyer.registry_id == "KZ-BIN:990340012873"
    assert record.published == "2025-04-10T07:00:00+00:00"  # no publish_date: start_date
    assert "Hikvision DS-2CD2143G2-I" in record.description
    assert record.winners == ()


def test_supplier_names_are_asked_for_once_per_run() -> None:
    spider = make_spider()
    chain(spider.announcement_request("15734021"), AWARDED, LOTS, CONTRACTS, SUBJECT)

    results, urls = chain(spider.announcement_request("15734021"), AWARDED, LOTS, CONTRACTS)

    assert len(urls) == 3
    assert records_of(results)[0].winners[0].name == 'ТОО "Nuctech Kazakhstan"'


def test_a_supplier_the_registry_does_not_know_wins_by_its_bin() -> None:
    results, _ = chain(make_spider().announcement_request("15734021"), AWARDED, LOTS, CONTRACTS,
                       (b'{"message": "Not Found"}', 404))

    [record] = records_of(results)
    assert [(w.name, w.registry_id) for w in record.winners] == [("", "KZ-BIN:180640027731")]


def test_a_supplier_the_registry_answers_with_an_empty_list_wins_by_its_bin() -> None:
    # the live API answers an unknown BIIN with HTTP 200 and `[]`, not 404
    spider = make_spider()
    results, _ = chain(spider.announcement_request("15734021"), AWARDED, LOTS, CONTRACTS,
                       page("goszakup/subject-unknown.json"))

    [record] = records_of(results)
    assert [(w.name, w.registry_id) for w in record.winners] == [("", "KZ-BIN:180640027731")]
    assert spider.errors == []


def test_contracts_per_lot_add_up_and_one_cancelled_before_signing_names_no_winner() -> None:
    # real contracts: parent_id 0, ref_contract_cancel_id 0 unless cancelled; the second
    # lot's first supplier never signed (sign_date null, cancelled) and the runner-up did
    results, urls = chain(make_spider().announcement_request("15734021"), AWARDED, LOTS,
                          fixture("contracts-by-lot.json"), SUBJECT)

    assert urls[-1] == f"{API}/v3/subject/biin/180640027731"  # the refused supplier: never
    [record] = records_of(results)
    assert [w.id for w in record.winners] == ["180640027731"]
    assert record.award_value == 408500000.0
    assert record.contract_date == "2025-04-10T11:25:03+05:00"


def test_dates_before_march_2024_are_astana_time_utc_plus_6() -> None:
    old = {**AWARDED, "publish_date": "2023-05-02 09:15:00", "end_date": "2024-02-29 18:00:00",
           "itogi_date_public": "2024-03-01 10:00:00"}
    results, _ = chain(make_spider().announcement_request("15734021"), old, LOTS, CONTRACTS,
                       SUBJECT)

    record = normalise_tender(records_of(results)[0])
    assert record.published == "2023-05-02T03:15:00+00:00"
    assert record.deadline == "2024-02-29T12:00:00+00:00"
    assert record.award_date == "2024-03-01T05:00:00+00:00"  # UTC+5 from 1 March 2024


def test_unchanged_announcement_is_counted_not_read_again() -> None:
    stamp = normalise_stamp("2025-04-10T11:25:40+05:00")
    spider = make_spider(stamps={NUMBER: str(stamp)})

    results, _ = chain(spider.announcement_request("15734021"), AWARDED)

    [marker] = records_of(results)
    assert (marker.native_id, marker.unchanged) == (NUMBER, True)


def test_a_changed_contract_leads_to_its_announcement_whatever_its_stamp() -> None:
    stamp = normalise_stamp("2025-04-10T11:25:40+05:00")
    spider = make_spider(stamps={NUMBER: str(stamp)})

    results, urls = chain(spider.contract_request("2401187"),
                          CONTRACT, AWARDED, LOTS, CONTRACTS, SUBJECT)

    assert urls[:2] == [f"{API}/v3/contract/2401187", f"{API}/v3/trd-buy/15734021"]
    [record] = records_of(results)
    assert not record.unchanged and record.winners[0].id == "180640027731"


def test_a_contract_without_an_announcement_is_no_tender() -> None:
    results, _ = chain(make_spider().contract_request("2401187"), {**CONTRACT, "trd_buy_id": None})

    assert records_of(results) == []


# -- failures ---------------------------------------------------------------------------------------


def test_a_failed_step_fetches_its_whole_announcement_again_next_run(token: str) -> None:
    spider = make_spider(cursor=API + NEXT_PAGE)
    [first] = collect(spider.start())
    hikvision, awarded = requests_of(spider.parse_journal(respond(first, fixture("journal-2.json"))))
    _, _, contracts = walk(awarded, AWARDED, LOTS)  # ... and the contracts answer 500:
    assert contracts is not None
    failure = Failure(HttpError(respond(contracts, b"Internal Server Error", status=500)))
    failure.request = contracts  # type: ignore[attr-defined]

    assert cursors_of(spider.on_error(failure)) == []
    done, _ = chain(hikvision, HIKVISION, fixture("lots-hikvision.json"), (b"", 404))

    assert spider.errors == [f"HTTP 500 from {contracts.url}"]
    [cursor] = cursors_of(done)
    assert cursor.state["retry"] == {f"{API}/v3/trd-buy/15734021": 1}
    again = make_spider(cursor=cursor.cursor, state=cursor.state)
    [retry] = collect(again.start())
    assert retry.url == f"{API}/v3/trd-buy/15734021" and retry.callback == again.parse_announcement


@pytest.mark.parametrize(
    ("body", "said"),
    [(fixture("error-200.json"), "Сервис временно недоступен, повторите запрос позднее"),
     ({"message": "Превышен лимит запросов"}, "Превышен лимит запросов")],
    ids=["status error", "bare message"],
)
def test_error_body_with_http_200_is_an_error(token: str, body: dict[str, Any], said: str) -> None:
    spider = make_spider()
    [first] = collect(spider.start())

    assert list(spider.parse_journal(respond(first, body))) == []

    assert spider.errors == [f"error from {first.url} (HTTP 200): {said}"]
    assert spider.entry_failures == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"data": [], "next": None},
         "expected items[] and next_page (a journal page), got keys data, next"),
        (b"<html><body>502 Bad Gateway</body></html>", "not JSON"),
        ({"total": 1, "limit": 50, "next_page": "", "items": ["15734021"]},
         "expected journal entries as objects"),
        ({"total": 1, "limit": 50, "next_page": "", "items": [
            {"action": "U", "date_action": "2025-04-10 11:25:40", "service_name": "trd-buy"}]},
         "expected journal entries with an object_id"),
    ],
    ids=["changed shape", "html", "entries not objects", "entry without id"],
)
def test_journal_that_changed_shape_fails_loudly(token: str, body: Any, problem: str) -> None:
    spider = make_spider()
    [first] = collect(spider.start())

    list(spider.parse_journal(respond(first, body)))

    assert problem in spider.errors[0]


def test_announcement_that_changed_shape_fails_loudly_and_is_fetched_again_next_run() -> None:
    spider = make_spider()
    request = spider.announcement_request("15734021")

    results, _ = chain(request, {"id": 15734021, "title": "Приобретение"})

    assert records_of(results) == []
    assert "expected an announcement with id and number_anno" in spider.errors[0]
    assert spider.retries == {request.url: 1}


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_said_and_never_shown(token: str, status: int) -> None:
    spider = make_spider()
    [first] = collect(spider.start())
    failure = Failure(HttpError(respond(first, fixture("unauthorized.json"), status=status)))
    failure.request = first  # type: ignore[attr-defined]

    assert list(spider.on_error(failure)) == []

    assert spider.errors == [
        (f"HTTP {status} from {first.url}: the API refused the token in GOSZAKUP_TOKEN "
         f"(Your request was made with invalid credentials.); check or renew it ({DOCS})")]
    assert spider.entry_failures == 1
    assert TOKEN not in spider.errors[0]


# -- crawls against a local goszakup --------------------------------------------------------------


def stamp(moment: datetime) -> str:
    """A date-time as the API writes it: local time, no offset."""
    return moment.astimezone(KZ).strftime("%Y-%m-%d %H:%M:%S")


class FakeGoszakup:
    """The OWS v3 REST API on the local test server, under `prefix` (several can share it)."""

    def __init__(self, site: Any, prefix: str = "/gz", token: str = TOKEN) -> None:
        self.prefix = prefix
        self.url = site.url_for(prefix)
        self.token = token
        self.announcements: dict[str, dict[str, Any]] = {}
        self.lots: dict[str, list[dict[str, Any]]] = {}
        self.contracts: dict[str, dict[str, Any]] = {}
        self.subjects: dict[str, dict[str, Any]] = {"180640027731": SUBJECT}
        self.journal: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.authorizations: list[str | None] = []
        # answers to send instead of the journal's, one per request, in order
        self.journal_failures: list[WsgiResponse] = []
        site.expect_request(re.compile(rf"^{re.escape(prefix)}/v3/.+$")).respond_with_handler(
            self.handle)

    def log(self, service: str, object_id: int, when: datetime, action: str = "U") -> None:
        self.journal.append({
            "action": action, "object_id": object_id, "date_action": stamp(when),
            "service_name": service, "service_title": service,
            "url": f"/v3/{service}/{object_id}" if service != "plans" else
            f"/v3/plans/view/{object_id}",
        })

    def publish(self, body: dict[str, Any], when: datetime,
                lots: list[dict[str, Any]] | None = None) -> None:
        body = {**copy.deepcopy(body), "last_update_date": stamp(when)}
        self.announcements[str(body["id"])] = body
        self.lots[body["number_anno"]] = lots if lots is not None else LOTS["items"]
        self.log("trd-buy", body["id"], when)

    def sign(self, contract: dict[str, Any], when: datetime) -> None:
        self.contracts[str(contract["id"])] = {**contract, "last_update_date": stamp(when)}
        self.log("contract", contract["id"], when)

    @staticmethod
    def _json(body: Any, status: int = 200) -> WsgiResponse:
        return WsgiResponse(json.dumps(body, ensure_ascii=False), status=status,
                            content_type="application/json")

    @staticmethod
    def _list(items: list[dict[str, Any]]) -> WsgiResponse:
        return FakeGoszakup._json({"total": len(items), "limit": 500, "next_page": "",
                                   "items": items})

    def handle(self, request: WsgiRequest) -> WsgiResponse:
        path = request.path[len(self.prefix):]
        self.requests.append((path, dict(request.args.items())))
        self.authorizations.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(fixture("unauthorized.json"), 401)
        if path == "/v3/journal":
            return self.journal_failures.pop(0) if self.journal_failures else self._journal(
                dict(request.args.items()))
        if match := re.fullmatch(r"/v3/trd-buy/(\d+)", path):
            found = self.announcements.get(match.group(1))
            return self._json(found) if found else self._json({"message": "Not Found"}, 404)
        if match := re.fullmatch(r"/v3/lots/number-anno/(.+)", path):
            return self._list(self.lots.get(match.group(1), []))
        if match := re.fullmatch(r"/v3/contract/number-anno/(.+)", path):
            return self._list([c for c in self.contracts.values()
                               if c["trd_buy_number_anno"] == match.group(1)])
        if match := re.fullmatch(r"/v3/contract/(\d+)", path):
            return self._json(self.contracts[match.group(1)])
        if match := re.fullmatch(r"/v3/subject/biin/(\d+)", path):
            found = self.subjects.get(match.group(1))
            return self._json(found) if found else self._json({"message": "Not Found"}, 404)
        return self._json({"message": "Not Found"}, 404)

    def _journal(self, args: dict[str, str]) -> WsgiResponse:
        """Entries whose day is within date_from..date_to, in the order they were logged,
        `limit` at a time after `search_after` (an entry's position)."""
        after = int(args.get("search_after", 0))
        limit = int(args.get("limit", 50))
        rows = [(n, e) for n, e in enumerate(self.journal, 1)
                if args["date_from"] <= e["date_action"][:10] <= args["date_to"] and n > after]
        chunk = rows[:limit]
        next_page = ""
        if len(rows) > limit:
            params = {"page": "next", "search_after": chunk[-1][0], "date_from": args["date_from"],
                      "date_to": args["date_to"], "limit": limit}
            next_page = f"/v3/journal?{urlencode(params)}"
        return self._json({"total": len(rows), "limit": limit, "next_page": next_page,
                           "items": [e for _, e in chunk]})

    def journal_requests(self) -> list[dict[str, str]]:
        return [args for path, args in self.requests if path == "/v3/journal"]

    def objects_read(self) -> list[str]:
        return [path for path, _ in self.requests if re.fullmatch(r"/v3/(trd-buy|contract)/\d+",
                                                                  path)]


@pytest.fixture
def goszakup(site: Any) -> FakeGoszakup:
    return FakeGoszakup(site)


def portal(name: str, api: FakeGoszakup, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "portal", "portal": "goszakup", "url": api.url,
            "token_env": "GOSZAKUP_TOKEN", **extra}


def events_of(state_dir: Path) -> list[tuple[str, str, str]]:
    with open_store(state_dir) as store:
        return [(e.native_id, e.kind, e.field) for e in store.tender_events()]


def logs_of(state_dir: Path) -> str:
    return "".join(p.read_text("utf-8", "replace") for p in (state_dir / "logs").glob("*"))


def test_crawl_reads_the_journal_then_an_award_makes_exactly_one_awarded_event(
    goszakup: FakeGoszakup, write_config: Callable[..., Any], state_dir: Path, token: str
) -> None:
    now = datetime.now(KZ).replace(microsecond=0)
    goszakup.publish(PUBLISHED, now - timedelta(hours=5))
    for n in range(3):
        goszakup.log("plans", 40912345 + n, now - timedelta(hours=4, minutes=n))
    goszakup.publish(HIKVISION, now - timedelta(hours=3), fixture("lots-hikvision.json")["items"])
    config = write_config({"sources": [portal("goszakup", goszakup, page_size=2)]})

    [baseline] = crawl(config, state_dir).results

    assert baseline.status == "ok", baseline.error
    assert baseline.new_items == 2
    journal = goszakup.journal_requests()
    assert [r.get("search_after") for r in journal] == [None, "2", "4"]  # to the end
    assert journal[0]["date_from"] == days_ago(2)
    assert set(goszakup.authorizations) == {f"Bearer {TOKEN}"}
    assert events_of(state_dir) == []  # the first run is a silent baseline
    with open_store(state_dir) as store:
        saved = store.portal_cursor("goszakup", goszakup.url)
    # the day of the newest entry read, less the resume margin: an entry at 00:30 resumes
    # from the day before
    newest = now - timedelta(hours=3)
    assert saved is not None and saved.cursor == stamp(newest - Goszakup.resume_margin)[:10]

    # the announcement is awarded and its contract signed; the next run reads only that
    goszakup.publish(AWARDED, now - timedelta(hours=2))
    goszakup.sign(CONTRACT, now - timedelta(hours=1))
    goszakup.requests.clear()

    [second] = crawl(config, state_dir).results

    assert (second.status, second.changed_items) == ("ok", 1), second.error
    assert goszakup.journal_requests()[0]["date_from"] == saved.cursor  # the saved day
    # what the last run read is skipped, but for the entries of its last second; the
    # contract's announcement is read once
    assert sorted(goszakup.objects_read()) == [
        "/v3/contract/2401187", "/v3/trd-buy/15734021", "/v3/trd-buy/15740233"]

    [third] = crawl(config, state_dir).results

    assert (third.status, third.changed_items) == ("ok", 0), third.error
    assert events_of(state_dir) == [
        (NUMBER, "status_changed", "status"),
        (NUMBER, "awarded", "winners"),
    ]
    with open_store(state_dir) as store:
        [event] = [e for e in store.tender_events() if e.kind == "awarded"]
        runs = store.recent_runs("goszakup")
    assert event.new == [{"name": 'ТОО "Nuctech Kazakhstan"', "id": "180640027731",
                             "scheme": "KZ-BIN"}]
    # evidence: the awarded version points at every response of its chain (announcement,
    # lots, contracts, the supplier's registry entry)
    with open_store(state_dir) as store:
        [tender] = [t for t in store.tenders() if t.native_id == NUMBER]
        captures = [c for c in store.tender_captures(tender.id) if c.version == tender.version]
    paths = [urlsplit(c.final_url).path for c in captures]
    assert "/v3/trd-buy/" in paths[0] and len(paths) >= 3
    assert any("/v3/lots/" in p for p in paths) and any("/v3/contract/" in p for p in paths)
    assert CaptureStore(state_dir).verify() == []
    # the token goes to the API and nowhere else
    assert TOKEN not in logs_of(state_dir)
    assert all(TOKEN not in (run.error or "") for run in runs)


def test_crawl_failures_are_errors_one_source_at_a_time(
    site: Any, write_config: Callable[..., Any], state_dir: Path, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOSZAKUP_UNSET", raising=False)
    now = datetime.now(KZ).replace(microsecond=0)
    apis = {name: FakeGoszakup(site, f"/{name}") for name in
            ("unset", "refused", "down", "lying", "slow")}
    for api in apis.values():
        api.publish(PUBLISHED, now - timedelta(hours=1))
    apis["refused"].token = "a-token-the-api-issued-to-someone-else"
    apis["down"].journal_failures += [WsgiResponse("Internal Server Error", status=500)] * 2
    apis["lying"].journal_failures.append(FakeGoszakup._json(fixture("error-200.json")))
    apis["slow"].journal_failures.append(WsgiResponse("slow down", status=429,
                                                      headers={"Retry-After": "1"}))
    sources = [portal(name, api) for name, api in apis.items()]
    sources[0]["token_env"] = "GOSZAKUP_UNSET"
    config = write_config({"sources": sources, "crawl": {"retries": 1}})

    results = {r.source: r for r in crawl(config, state_dir).results}

    assert results["unset"].status == "error"
    assert results["unset"].error == (
        "not configured: set the environment variable GOSZAKUP_UNSET to a goszakup API token "
        f"({DOCS}); no request was made")
    assert apis["unset"].requests == []
    assert results["refused"].status == "error"
    assert "the API refused the token in GOSZAKUP_TOKEN" in (results["refused"].error or "")
    assert results["down"].status == "error"
    assert "HTTP 500 from" in (results["down"].error or "")
    assert results["lying"].status == "error"
    assert "Сервис временно недоступен" in (results["lying"].error or "")
    assert (results["slow"].status, results["slow"].new_items) == ("ok", 1), results["slow"].error
    with open_store(state_dir) as store:
        unset = store.last_run("unset")
        runs = [store.last_run(name) for name in apis]
    assert unset is not None and unset.status == "error"
    assert unset.error.startswith("not configured: set the environment variable GOSZAKUP_UNSET")
    assert TOKEN not in logs_of(state_dir)
    assert all(TOKEN not in (run.error or "") for run in runs if run)
