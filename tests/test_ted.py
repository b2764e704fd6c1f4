"""The TED spider: the v3 search API asked for the watch list's names, ITERATION paging to the
empty batch, notices read into one record per procedure, the position saved per query, and how
it answers `timedOut`, 400, 429, 500, error bodies with HTTP 200 and a changed shape.

Unit tests build the spider directly and hand it responses made from tests/pages/ted/
(shaped like the API's responses: language maps of lists, parallel per-lot lists, `links`).
Crawl tests run the real crawler child against `FakeTed`, a local server that answers
POST /v3/notices/search like the API: the expert query's names and `publication-date >=`,
oldest first, `limit` notices a batch, an opaque `iterationNextToken` with every batch
(the last one too), and failures on demand.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import collect, cursors_of, page, records_of, requests_of
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure
from werkzeug import Request as WsgiRequest
from werkzeug import Response as WsgiResponse

import crawlers.settings
from crawlers.middlewares import RetryAfterMiddleware
from crawlers.portals.ted.parse import _money, merge, registry_id, texts
from crawlers.portals.ted.query import name_clauses, watch_names
from crawlers.portals.ted.spider import Ted
from crawlers.registry import SPIDERS, spider_for
from monitor.config import parse_config
from monitor.crawl import crawl
from monitor.match import Matcher, match_tender
from monitor.models import Organisation, PortalCursor, TenderLot, TenderRecord
from monitor.store import open_store
from monitor.tender import diff_tenders, normalise_tender

PROJECT_SETTINGS = {k: getattr(crawlers.settings, k) for k in dir(crawlers.settings) if k.isupper()}
API = "https://api.ted.europa.eu/v3/notices/search"
BATCH_1 = json.loads(page("ted/batch-1.json"))
BATCH_2 = json.loads(page("ted/batch-2.json"))
BATCH_END = json.loads(page("ted/batch-end.json"))
AWARD = json.loads(page("ted/award.json"))
# the shapes of real responses: several winners whose ids TED lists in another order than
# their names, TED's -1 for a value not given, a sole winner with two ids (IČO and DIČ),
# and a contract modification that names no winner
REAL_SHAPES = json.loads(page("ted/real-shapes.json"))
MODIFICATION = json.loads(page("ted/modification.json"))
LT_CALL, PL_AWARD = BATCH_1["notices"]
[EE_AWARD] = BATCH_2["notices"]
[LT_AWARD] = AWARD["notices"]
LT_PROCEDURE = LT_CALL["procedure-identifier"]
PL_PROCEDURE = PL_AWARD["procedure-identifier"]

WATCHES: list[dict[str, Any]] = [
    {"name": "Nuctech", "aliases": ["Нуктек", "Nuctech Company Limited",
                                    {"text": "NUC", "case_sensitive": True, "needs_context": True}],
     "related": [{"name": "Tsinghua Tongfang", "aliases": ["清华同方"], "relation": "parent"}]},
    {"name": "Hikvision", "aliases": ["海康威视", "Hangzhou Hikvision Digital Technology"]},
]


# -- helpers ---------------------------------------------------------------------------------


def make_spider(source: dict[str, Any] | None = None, *, cursor: str | None = None,
                state: dict[str, Any] | None = None, stamps: dict[str, str] | None = None,
                watches: list[dict[str, Any]] | None = None) -> Ted:
    """A TED spider for one source, set up as `from_crawler` would, with a saved cursor and
    stored stamps instead of a store."""
    data = {"name": "ted", "kind": "portal", "portal": "ted", "url": API, **(source or {})}
    config = parse_config({"sources": [data],
                           "watches": WATCHES if watches is None else watches})
    spider = Ted(source_name=data["name"])
    spider._set_crawler(get_crawler(Ted, PROJECT_SETTINGS))
    spider.config = config
    spider.source = config.source(data["name"])
    saved = (PortalCursor(data["name"], data["url"], cursor, state or {})
             if cursor is not None or state is not None else None)
    spider.load_position(saved, stamps or {})
    return spider


def respond(request: Request, body: bytes | dict[str, Any], *, status: int = 200,
            headers: dict[str, str] | None = None) -> TextResponse:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    return TextResponse(url=request.url, body=data, request=request, status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def sent(request: Request) -> dict[str, Any]:
    """The JSON body of a search request."""
    body: dict[str, Any] = json.loads(request.body)
    return body


def days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).strftime("%Y%m%d")


def start(spider: Ted) -> Request:
    [request] = collect(spider.start())
    return request


# -- what is asked for -----------------------------------------------------------------------


def test_spider_is_registered_for_portal_ted() -> None:
    assert spider_for(make_spider().source) is Ted
    assert SPIDERS["ted"] is Ted
    assert Ted.__doc__ and "Reads" in Ted.__doc__ and "Caveats" in Ted.__doc__


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"pol": ["Komenda Główna"], "eng": ["Border Guard HQ"]}, ["Border Guard HQ"]),
        ({"deu": ["Strube GmbH", "AWD"], "fra": ["Strube SARL"]}, ["Strube GmbH", "AWD"]),
        ({"deu": "Deutschland – Bewachungsdienste"}, ["Deutschland – Bewachungsdienste"]),
        ({}, []),
        (["DEU", None, " ", "FRA"], ["DEU", "FRA"]),
        ("2025-03-04+01:00", ["2025-03-04+01:00"]),
        (18450000, ["18450000"]),
        (None, []),
    ],
    ids=["english first", "first language", "map of strings", "empty map", "list",
         "string", "number", "null"],
)
def test_texts_flatten_language_maps_and_lists(value: Any, expected: list[str]) -> None:
    assert texts(value) == expected


def test_watch_names_are_latin_script_names_aliases_and_related_organisations() -> None:
    config = parse_config({"watches": [*WATCHES, {"name": "Export topic", "match_name": False,
                                                  "keywords": ["dual-use goods"]}]})

    assert watch_names(config.watches) == [
        "Nuctech", "Nuctech Company Limited", "Tsinghua Tongfang", "Hikvision",
        "Hangzhou Hikvision Digital Technology"]


def test_name_clauses_split_a_long_watch_list_into_bounded_queries() -> None:
    names = [f"Company {n}" for n in range(25)]

    by_count = name_clauses(names, ("winner-name", "buyer-name"), 10, 10_000)
    by_length = name_clauses(names, ("winner-name", "buyer-name"), 10, 200)

    assert len(by_count) == 3
    assert by_count[0].startswith('winner-name ~ "Company 0" OR buyer-name ~ "Company 0" OR ')
    assert by_count[2].count("winner-name") == 5
    assert all(len(clause) <= 200 for clause in by_length) and len(by_length) == 9
    assert name_clauses(["x" * 300], ("winner-name",), 10, 100) == [f'winner-name ~ "{"x" * 300}"']


def test_first_run_asks_for_the_last_30_days_oldest_first_with_iteration_paging() -> None:
    spider = make_spider({"page_size": 50})

    request = start(spider)

    body = sent(request)
    assert (request.url, request.method) == (API, "POST")
    assert request.headers["Content-Type"] == b"application/json"
    assert request.dont_filter and request.meta["monitor_entry"] is True
    assert request.meta["dont_cache"] is True
    assert body["query"] == (
        '(winner-name ~ "Nuctech" OR organisation-name-tenderer ~ "Nuctech" OR '
        'buyer-name ~ "Nuctech" OR winner-name ~ "Nuctech Company Limited" OR '
        'organisation-name-tenderer ~ "Nuctech Company Limited" OR buyer-name ~ '
        '"Nuctech Company Limited" OR winner-name ~ "Tsinghua Tongfang" OR '
        'organisation-name-tenderer ~ "Tsinghua Tongfang" OR buyer-name ~ "Tsinghua Tongfang" '
        'OR winner-name ~ "Hikvision" OR organisation-name-tenderer ~ "Hikvision" OR '
        'buyer-name ~ "Hikvision" OR winner-name ~ "Hangzhou Hikvision Digital Technology" OR '
        'organisation-name-tenderer ~ "Hangzhou Hikvision Digital Technology" OR '
        'buyer-name ~ "Hangzhou Hikvision Digital Technology") '
        f"AND publication-date >= {days_ago(30)} SORT BY publication-date ASC")
    assert (body["limit"], body["paginationMode"], body["scope"]) == (50, "ITERATION", "ALL")
    assert "iterationNextToken" not in body
    assert {"publication-number", "procedure-identifier", "winner-name",
            "winner-identifier", "buyer-name", "classification-cpv"} <= set(body["fields"])
    # the API's limits: 250 notices, 10,000 notices x fields a batch
    big = sent(start(make_spider({"page_size": 1000})))
    assert big["limit"] <= 250 and big["limit"] * len(big["fields"]) <= 10_000


def test_batch_size_counts_the_links_ted_always_sends_as_a_field() -> None:
    spider = make_spider({"page_size": 1000})
    spider.fields = tuple(f"field-{n}" for n in range(59))  # type: ignore[misc]

    # 10,000 notices x fields a batch, `links` included: 10,000 // 60
    assert spider.limit == 166


def test_since_backfills_from_that_date() -> None:
    body = sent(start(make_spider({"since": "2024-11-05"})))

    assert "publication-date >= 20241105 SORT BY" in body["query"]


def test_url_query_narrows_every_search_and_is_not_sent_as_a_parameter() -> None:
    url = f"{API}?query=buyer-country+IN+(POL+LTU+LVA+EST)"

    narrowed = start(make_spider({"url": url}))
    alone = start(make_spider({"url": url, "since": "2025-01-01"}, watches=[]))

    assert narrowed.url == API
    assert ") AND (buyer-country IN (POL LTU LVA EST)) AND publication-date >=" in sent(
        narrowed)["query"]
    assert sent(alone)["query"] == (
        "(buyer-country IN (POL LTU LVA EST)) AND publication-date >= 20250101 "
        "SORT BY publication-date ASC")


def test_without_watches_or_a_url_query_the_run_fails() -> None:
    spider = make_spider(watches=[])

    assert collect(spider.start()) == []
    assert spider.entry_failures == spider.entry_requests == 1
    assert "no watches" in spider.errors[0]


# -- notices into records --------------------------------------------------------------------


def test_award_notice_becomes_a_record_of_its_procedure() -> None:
    spider = make_spider()
    request = start(spider)

    record = normalise_tender(records_of(spider.parse_search(respond(request, BATCH_1)))[1])

    assert record.native_id == PL_PROCEDURE
    assert record.url == "https://ted.europa.eu/en/notice/-/detail/151207-2025"
    # keyed by the procedure's UUID, headed by the notice a reader can look up
    assert record.title == ("151207-2025 – Poland – X-ray inspection equipment – Dostawa "
                            "stacjonarnych skanerów rentgenowskich do kontroli pojazdów "
                            "ciężarowych")
    assert record.description.startswith("Dostawa, montaż i uruchomienie")
    assert record.buyer == Organisation("Komenda Główna Straży Granicznej", "5262458211",
                                        "PL-NAT")
    assert (record.status, record.procedure) == ("awarded", "open")
    assert record.winners == (Organisation("Nuctech Company Limited", "91110000633603837Y",
                                           "CN-NAT"),)
    assert [b.registry_id for b in record.bidders] == [
        "CN-NAT:91110000633603837Y", "EU-VAT:DE811128135", "EU-VAT:PL5213012345"]
    assert record.cpv == ("38581000",)
    assert (record.award_value, record.award_currency) == (18450000.0, "PLN")
    assert (record.value, record.deadline) == (None, None)
    assert record.published == "2025-03-07T00:00:00+00:00"
    assert record.award_date == "2025-02-17T00:00:00+00:00"
    assert record.contract_date == "2025-02-28T00:00:00+00:00"
    assert [(lot.id, lot.title) for lot in record.lots] == [
        ("LOT-0001", "Przejście graniczne Koroszczyn"),
        ("LOT-0002", "Przejście graniczne Kuźnica")]
    assert [(d.kind, d.title) for d in record.documents] == [
        ("can-standard", "can-standard 151207-2025")]
    # the stamp orders notices: publication date, publication number's serial
    assert record.modified == "2025-03-07T00:00:00.151207+00:00"
    assert record.raw_hash is not None
    # three tenders for the first lot, one for the second: the fewest
    assert record.bids_received == 1


def test_contract_notice_is_announced_with_its_deadline_and_estimated_value() -> None:
    spider = make_spider()
    request = start(spider)

    record = normalise_tender(records_of(spider.parse_search(respond(request, BATCH_1)))[0])

    assert (record.native_id, record.status) == (LT_PROCEDURE, "announced")
    assert record.title.startswith("142318-2025 – Lithuania – X-ray apparatus – Mobile X-ray")
    assert record.buyer is not None and record.buyer.registry_id == "LT-NAT:188659752"
    assert (record.value, record.currency) == (4200000.0, "EUR")
    assert record.deadline == "2025-04-07T07:00:00+00:00"
    assert record.cpv == ("38581000", "50413200")
    assert (record.winners, record.bidders, record.award_value) == ((), (), None)


def test_notice_without_procedure_identifier_is_keyed_by_publication_number() -> None:
    spider = make_spider()
    request = start(spider)

    [record] = records_of(spider.parse_search(respond(request, BATCH_2)))

    assert record.native_id == "167450-2025"
    assert record.url == "https://ted.europa.eu/en/notice/-/detail/167450-2025"  # no links
    assert record.buyer == Organisation("Police and Border Guard Board")  # English first
    # winner-country without winner-identifier: no id to pair
    assert record.winners == (Organisation("Hangzhou Hikvision Digital Technology Co., Ltd."),)
    assert (record.award_value, record.award_currency) == (612480.0, "EUR")


def test_several_winners_get_ids_from_the_tenderer_lists_and_keep_the_others_unnamed(
) -> None:
    spider = make_spider()
    request = start(spider)

    by_tenderers, unpaired, _ = (normalise_tender(r) for r in records_of(
        spider.parse_search(respond(request, REAL_SHAPES))))

    # winner-identifier lists Beta's id first, the names list Alfa first: the tenderer
    # lists (organisation by organisation) say whose id is whose
    assert by_tenderers.winners == (
        Organisation("Alfa Servis s.r.o.", "CZ12345679", "EU-VAT"),
        Organisation("Beta Trade a.s.", "27654321", "CZ-NAT"))
    assert [b.registry_id for b in by_tenderers.bidders] == [
        "CZ-NAT:27654321", "EU-VAT:CZ12345679", "CZ-NAT:25512345"]
    assert by_tenderers.buyer == Organisation("Generální ředitelství cel", "71214011", "CZ-NAT")
    assert (by_tenderers.award_value, by_tenderers.award_currency) == (725000.0, "CZK")
    # without tenderer lists nothing says whose id is whose: none is guessed, none is lost
    assert unpaired.winners == (Organisation("Delta Sp. z o.o."), Organisation("Epsilon S.A."),
                                Organisation("", "5250001111", "PL-NAT"),
                                Organisation("", "7770002222", "PL-NAT"))
    # "total-value": -1 is "not given": the notice's result value is used
    assert (unpaired.award_value, unpaired.award_currency) == (1234567.8, "PLN")


def test_a_sole_winner_keeps_both_its_identifiers_and_sums_are_to_the_cent() -> None:
    spider = make_spider()
    request = start(spider)

    record = normalise_tender(records_of(spider.parse_search(respond(request,
                                                                     REAL_SHAPES)))[2])

    # two ids of one company (IČO, DIČ), one country: a watch may know it by either
    assert record.winners == (Organisation("Zeta Systems s.r.o.", "51234567", "SK-NAT"),
                              Organisation("Zeta Systems s.r.o.", "2120123456", "SK-NAT"))
    assert record.buyer == Organisation("Finančné riaditeľstvo Slovenskej republiky",
                                        "42499500", "SK-NAT")
    assert (record.award_value, record.award_currency) == (3000.3, "EUR")
    assert (record.value, record.status) == (3100.0, "awarded")


FOUR_WINNERS = {
    "publication-number": "412004-2026", "publication-date": "2026-02-10+01:00",
    "procedure-identifier": "7d2a9c41-0b3e-4f6a-9c85-1e2d3f4a5b04", "notice-type": "can-standard",
    "form-type": "result",
    "winner-name": {"deu": ["Anton GmbH", "Berta AG", "Caesar KG", "Dora SE", "Anton GmbH"]},
    # per organisation, in reverse of the names
    "winner-identifier": ["DE444444444", "DE333333333", "HRB 22222", "DE111111111"],
    "winner-country": ["DEU", "DEU", "DEU", "DEU"],
}


def four_winners(**extra: Any) -> TenderRecord:
    spider = make_spider()
    notices = {"notices": [{**FOUR_WINNERS, **extra}], "timedOut": False}
    [record] = records_of(spider.parse_search(respond(start(spider), notices)))
    return normalise_tender(record)


def test_four_winners_whose_ids_cannot_be_paired_keep_every_id() -> None:
    record = four_winners()

    assert [w.name for w in record.winners[:4]] == ["Anton GmbH", "Berta AG", "Caesar KG",
                                                    "Dora SE"]
    assert [w.id for w in record.winners[:4]] == [None] * 4  # nothing says whose is whose
    assert [(w.name, w.registry_id) for w in record.winners[4:]] == [
        ("", "EU-VAT:DE444444444"), ("", "EU-VAT:DE333333333"), ("", "DE-NAT:HRB 22222"),
        ("", "EU-VAT:DE111111111")]
    assert {b.registry_id for b in record.bidders} >= {w.registry_id for w in record.winners}


def test_four_winners_take_the_tenderers_ids_and_keep_the_rest() -> None:
    record = four_winners(**{
        "organisation-name-tenderer": {"deu": ["Berta AG", "Anton GmbH"]},
        "organisation-identifier-tenderer": ["DE333333333", "DE111111111"],
        "organisation-country-tenderer": ["DEU", "DEU"]})

    assert [(w.name, w.registry_id) for w in record.winners] == [
        ("Anton GmbH", "EU-VAT:DE111111111"), ("Berta AG", "EU-VAT:DE333333333"),
        ("Caesar KG", None), ("Dora SE", None),
        ("", "EU-VAT:DE444444444"), ("", "DE-NAT:HRB 22222")]


def test_an_unpaired_winner_id_is_found_by_a_watchs_registry_id() -> None:
    config = parse_config({"watches": [{"name": "Holding X", "ids": ["EU-VAT:DE444444444"]}]})

    [found] = match_tender(Matcher(config.watches), four_winners())

    assert (found.watch, found.field, found.found) == ("Holding X", "winner",
                                                       "EU-VAT:DE444444444")


def test_url_is_the_english_notice_page_whatever_links_ted_sends() -> None:
    links = {"xml": {"MUL": "https://ted.europa.eu/en/notice/412004-2026/xml"},
             "html": {"DEU": "https://ted.europa.eu/de/notice/-/detail/412004-2026"},
             "htmlDirect": {"DEU": "https://ted.europa.eu/de/notice/412004-2026/html"}}

    for extra in ({}, {"links": links}):
        assert four_winners(**extra).url == (
            "https://ted.europa.eu/en/notice/-/detail/412004-2026")


def test_a_later_notice_without_a_title_keeps_the_heading_under_its_own_number() -> None:
    spider = make_spider()
    [call, _] = records_of(spider.parse_search(respond(start(spider), BATCH_1)))
    again = make_spider()
    again.load_records([normalise_tender(call).to_dict()])
    award = {**LT_AWARD, "notice-title": None, "title-proc": None}

    [record] = records_of(again.parse_search(respond(start(again), {
        "notices": [award], "timedOut": False})))

    assert record.title.startswith("311874-2025 – Lithuania – X-ray apparatus – Mobile X-ray")


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [(-1, (None, None)), (["-1", "-1"], (None, None)), (["0.1", "0.2"], (0.3, "EUR")),
     ("531315.0000", (531315.0, "EUR"))],
    ids=["-1 sentinel", "-1 per lot", "sum to the cent", "string"],
)
def test_money_reads_teds_minus_one_as_no_value(amounts: Any,
                                                 expected: tuple[Any, Any]) -> None:
    assert _money(amounts, ["EUR"]) == expected


def test_a_contract_modification_without_winners_keeps_the_award() -> None:
    spider = make_spider()
    awarded = normalise_tender(records_of(spider.parse_search(respond(start(spider),
                                                                      REAL_SHAPES)))[2])
    again = make_spider(stamps={awarded.native_id: awarded.modified or ""})
    again.load_records([awarded.to_dict()])

    [record] = records_of(again.parse_search(respond(start(again), MODIFICATION)))
    record = normalise_tender(record)

    assert (record.native_id, record.status) == (awarded.native_id, "modified")
    assert record.winners == awarded.winners
    assert (record.award_value, record.award_currency) == (3000.3, "EUR")
    # the change of status is all that happened: no winner_changed, no award value change
    assert [(e.kind, e.field) for e in diff_tenders(awarded, record)] == [
        ("status_changed", "status")]


@pytest.mark.parametrize(
    ("identifier", "country", "expected"),
    [
        ("DE 811 128 135", "DEU", ("DE811128135", "EU-VAT")),
        ("EL094014201", "GRC", ("EL094014201", "EU-VAT")),
        ("202100-0340", "SWE", ("202100-0340", "SE-NAT")),
        ("91110000633603837Y", "CHN", ("91110000633603837Y", "CN-NAT")),
        ("CHE-116.281.710", "CHE", ("CHE-116.281.710", "CH-NAT")),
        ("12345678", "", ("12345678", None)),
        (" ", "DEU", (None, None)),
    ],
)
def test_registry_ids_are_vat_numbers_or_national_ids(identifier: str, country: str,
                                                      expected: tuple[Any, Any]) -> None:
    assert registry_id(identifier, country) == expected


# -- paging and positions --------------------------------------------------------------------


def test_batches_are_read_until_an_empty_one_saving_the_position_after_each() -> None:
    spider = make_spider({"since": "2025-03-01"})
    first = start(spider)

    results = list(spider.parse_search(respond(first, BATCH_1)))

    assert [r.native_id for r in records_of(results)] == [LT_PROCEDURE, PL_PROCEDURE]
    [cursor] = cursors_of(results)
    assert cursor.cursor == "20250307"  # the last notice's publication date
    [follow] = requests_of(results)
    assert sent(follow) == {**sent(first), "iterationNextToken": BATCH_1["iterationNextToken"]}
    assert follow.meta["monitor_entry"] is False

    second = list(spider.parse_search(respond(follow, BATCH_2)))
    [after] = requests_of(second)
    assert sent(after)["iterationNextToken"] == BATCH_2["iterationNextToken"]
    assert [c.cursor for c in cursors_of(second)] == ["20250312"]

    end = list(spider.parse_search(respond(after, BATCH_END)))
    assert records_of(end) == [] and requests_of(end) == []
    [saved] = cursors_of(end)
    assert saved.cursor == "20250312"
    assert list(saved.state["positions"].values()) == ["20250312"]
    assert spider.errors == []


def test_next_run_resumes_from_the_saved_position_and_skips_what_it_stored() -> None:
    spider = make_spider({"since": "2025-03-01"})
    first = start(spider)
    stored = [normalise_tender(r) for r in records_of(spider.parse_search(respond(first,
                                                                                  BATCH_1)))]
    [cursor] = cursors_of(spider.parse_search(respond(first, BATCH_END)))

    again = make_spider({"since": "2025-03-01"}, cursor=cursor.cursor, state=cursor.state,
                        stamps={r.native_id: r.modified or "" for r in stored})
    request = start(again)

    assert "publication-date >= 20250307 SORT BY" in sent(request)["query"]
    results = list(again.parse_search(respond(request, BATCH_1)))
    assert [(r.native_id, r.unchanged) for r in records_of(results)] == [
        (LT_PROCEDURE, True), (PL_PROCEDURE, True)]


def test_award_notice_updates_the_announced_tender() -> None:
    spider = make_spider()
    request = start(spider)
    [call, _] = records_of(spider.parse_search(respond(request, BATCH_1)))
    again = make_spider(stamps={LT_PROCEDURE: normalise_tender(call).modified or ""})
    again.load_records([normalise_tender(call).to_dict()])

    [record] = records_of(again.parse_search(respond(start(again), AWARD)))
    record = normalise_tender(record)

    assert (record.native_id, record.status) == (LT_PROCEDURE, "awarded")
    assert [w.registry_id for w in record.winners] == ["CN-NAT:91110000633603837Y"]
    assert (record.award_value, record.award_currency) == (3978000.0, "EUR")
    # what the award notice leaves out comes from the contract notice
    assert (record.value, record.deadline) == (4200000.0, "2025-04-07T07:00:00+00:00")
    assert record.published == "2025-03-04T00:00:00+00:00"
    assert record.url == "https://ted.europa.eu/en/notice/-/detail/311874-2025"
    assert [d.kind for d in record.documents] == ["can-standard", "cn-standard"]
    # the contract notice, read again, is older than what is stored: skipped
    results = records_of(again.parse_search(respond(start(again), BATCH_1)))
    assert [(r.native_id, r.unchanged) for r in results] == [(LT_PROCEDURE, True),
                                                             (PL_PROCEDURE, False)]


def announced(lots: tuple[str, ...], winners: tuple[str, ...] = (),
              status: str = "announced", award: float | None = None) -> TenderRecord:
    return TenderRecord(source="ted", native_id="proc", status=status,
                        winners=tuple(Organisation(w) for w in winners),
                        bidders=tuple(Organisation(w) for w in winners),
                        lots=tuple(TenderLot(id=lot) for lot in lots),
                        award_value=award, award_currency="EUR" if award else None)


def test_award_of_some_lots_adds_its_winners_to_the_other_lots() -> None:
    lot_1 = announced(("LOT-1", "LOT-2"), ("Nuctech Company Limited",), "awarded", 100.0)
    lot_2 = announced(("LOT-2",), ("UAB Skenavimo sprendimai",), "awarded", 50.0)

    merged = merge(lot_1, lot_2)

    assert [w.name for w in merged.winners] == ["Nuctech Company Limited",
                                                "UAB Skenavimo sprendimai"]
    assert (merged.award_value, merged.award_currency) == (150.0, "EUR")
    assert [lot.id for lot in merged.lots] == ["LOT-2", "LOT-1"]
    # a notice over every lot replaces the winners (a corrected award)
    corrected = merge(merged, announced(("LOT-1", "LOT-2"), ("Smiths Detection",), "awarded"))
    assert [w.name for w in corrected.winners] == ["Smiths Detection"]


def test_tenders_received_are_the_fewest_of_the_lots_the_notices_cover() -> None:
    lot_1 = replace(announced(("LOT-1", "LOT-2"), ("Nuctech Company Limited",), "awarded"),
                    bids_received=3)
    lot_2 = replace(announced(("LOT-2",), ("UAB Skenavimo sprendimai",), "awarded"),
                    bids_received=1)
    assert merge(lot_1, lot_2).bids_received == 1  # of some lots: the fewest of both
    assert merge(lot_2, lot_1).bids_received == 3  # of every lot: the new notice's count
    # a notice that gives no count keeps the known one
    assert merge(lot_1, announced(("LOT-1",))).bids_received == 3
    # a lot that drew no tender says nothing of the others
    assert merge(lot_2, replace(announced(("LOT-1",)), bids_received=0)).bids_received == 1


def test_correction_of_the_call_after_the_award_keeps_the_award() -> None:
    awarded = announced(("LOT-1",), ("Nuctech Company Limited",), "awarded", 100.0)

    merged = merge(awarded, announced(("LOT-1",)))

    assert (merged.status, [w.name for w in merged.winners], merged.award_value) == (
        "awarded", ["Nuctech Company Limited"], 100.0)


def test_a_long_watch_list_is_searched_query_after_query_each_with_its_position() -> None:
    watches = [{"name": f"Scanner Maker {n}"} for n in range(12)]
    spider = make_spider({"since": "2025-03-01"}, watches=watches)
    first = start(spider)
    assert sent(first)["query"].count("winner-name ~") == 10

    done = list(spider.parse_search(respond(first, BATCH_1)))
    end = list(spider.parse_search(respond(requests_of(done)[0], BATCH_END)))

    [second] = requests_of(end)  # the next query, from its own start
    assert second.meta["monitor_entry"] is True and second.meta["ted_chain"] == 1
    assert sent(second)["query"].count("winner-name ~") == 2
    assert "iterationNextToken" not in sent(second)
    [cursor] = cursors_of(end)
    assert cursor.cursor == "20250301"  # the earliest of the two queries' positions
    assert sorted(cursor.state["positions"].values()) == ["20250301", "20250307"]


def test_max_items_stops_before_the_batch_it_could_not_finish() -> None:
    spider = make_spider({"max_items": 1})

    results = list(spider.parse_search(respond(start(spider), BATCH_1)))

    assert [r.native_id for r in records_of(results)] == [LT_PROCEDURE]
    assert cursors_of(results) == [] and requests_of(results) == []


# -- failures --------------------------------------------------------------------------------


def test_timed_out_batch_is_asked_for_again_then_given_up() -> None:
    spider = make_spider()
    request = start(spider)
    timed_out = json.loads(page("ted/timed-out.json"))

    for tries in range(1, 4):
        [request] = list(spider.parse_search(respond(request, timed_out)))
        assert request.meta["ted_timeouts"] == tries and request.dont_filter
        assert request.body == start(make_spider()).body  # same body, same token
    last = list(spider.parse_search(respond(request, timed_out)))

    assert last == []  # no records from a partial batch, no position saved
    assert "TED timed out 4 times in a row" in spider.errors[0]
    assert spider.entry_failures == 1


def test_error_body_with_http_200_is_an_error() -> None:
    spider = make_spider()
    request = start(spider)

    results = list(spider.parse_search(respond(request, page("ted/error-200.json"))))

    assert results == []
    assert spider.entry_failures == 1
    assert spider.errors == [(f"error from {API} (HTTP 200): The search service is "
                             "temporarily unavailable, please retry later")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (page("ted/changed-shape.json"), ("expected notices[], totalNoticeCount, "
                                         "iterationNextToken and timedOut (a TED search "
                                         "response), got keys nextPageToken, results, total")),
        (b"<html><body>Service Unavailable</body></html>", "not JSON"),
        ({"notices": [{"publication-date": "2025-03-04+01:00"}], "timedOut": False},
         "expected notices with a publication-number"),
        ({"notices": [], "timedOut": "no"}, "expected notices[]"),
    ],
    ids=["changed shape", "html", "notice without number", "timedOut not a boolean"],
)
def test_response_that_changed_shape_fails_loudly(body: Any, problem: str) -> None:
    spider = make_spider()

    list(spider.parse_search(respond(start(spider), body)))

    assert problem in spider.errors[0]


def test_bad_query_400_says_what_ted_rejected_and_the_next_query_still_runs() -> None:
    watches = [{"name": f"Scanner Maker {n}"} for n in range(12)]
    spider = make_spider(watches=watches)
    request = start(spider)

    results = list(spider.parse_search(respond(request, page("ted/bad-query-400.json"),
                                               status=400)))

    assert spider.errors[0].startswith(f"TED rejected the search (HTTP 400) at {API}: "
                                       "Unknown field 'winer-name' in the query; query: (")
    assert [r.meta["ted_chain"] for r in requests_of(results)] == [1]
    assert request.meta["handle_httpstatus_list"] == [400]


def test_server_error_fails_the_query_and_the_next_one_still_runs() -> None:
    watches = [{"name": f"Scanner Maker {n}"} for n in range(12)]
    spider = make_spider(watches=watches)
    request = start(spider)
    failure = Failure(HttpError(respond(request, b"Internal Server Error", status=500)))
    failure.request = request  # type: ignore[attr-defined]

    results = list(spider.on_error(failure))

    assert spider.errors == [f"HTTP 500 from {API}"]
    assert [r.meta["ted_chain"] for r in requests_of(results)] == [1]
    assert spider.entry_failures == 1 and spider.entry_requests == 2


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "7"}, 7.0), ({}, 10.0)],
                         ids=["Retry-After", "no Retry-After"])
def test_429_waits_and_repeats_the_same_post(headers: dict[str, str], wait: float) -> None:
    request = start(make_spider())
    middleware = RetryAfterMiddleware(max_retries=2)

    again = middleware.process_response(request, respond(request, b"", status=429,
                                                         headers=headers))

    assert isinstance(again, Request)
    assert (again.method, again.body, again.url) == ("POST", request.body, API)
    assert again.meta["monitor_retry_after"] == wait and again.dont_filter


def test_same_batch_again_stops_the_query() -> None:
    spider = make_spider()
    first = start(spider)
    [follow] = requests_of(spider.parse_search(respond(first, BATCH_1)))

    results = list(spider.parse_search(respond(follow, BATCH_1)))

    assert requests_of(results) == [] and records_of(results) == []
    assert "TED sent the same batch again" in spider.errors[0]


# -- crawls against a local TED --------------------------------------------------------------


def notice(base: dict[str, Any], n: int, day: str, *, procedure: str | None = None,
           ) -> dict[str, Any]:
    """`base` published as notice `n` on `day` (YYYY-MM-DD), of procedure `procedure`."""
    data = copy.deepcopy(base)
    number = f"{100000 + n}-2025"
    data["publication-number"] = number
    data["publication-date"] = f"{day}+01:00"
    data["procedure-identifier"] = procedure or f"00000000-0000-4000-8000-{n:012d}"
    if "links" in base:
        data["links"] = json.loads(json.dumps(base["links"]).replace(
            base["publication-number"], number))
    return data


class FakeTed:
    """TED's search API on the local test server, under `prefix` (several can share it)."""

    def __init__(self, site: Any, prefix: str = "/v3/notices/search") -> None:
        self.url = site.url_for(prefix)
        self.notices: list[dict[str, Any]] = []
        self.bodies: list[dict[str, Any]] = []
        # answers to send instead of the real ones, one per request, in order
        self.failures: list[WsgiResponse] = []
        self.tokens: dict[str, int] = {}
        site.expect_request(prefix, method="POST").respond_with_handler(self.search)

    @staticmethod
    def day(data: dict[str, Any]) -> str:
        return str(data["publication-date"])[:10].replace("-", "")

    @staticmethod
    def names(data: dict[str, Any]) -> str:
        return json.dumps([data.get(f) for f in ("winner-name", "organisation-name-tenderer",
                                                 "buyer-name")], ensure_ascii=False).casefold()

    def search(self, request: WsgiRequest) -> WsgiResponse:
        body = json.loads(request.get_data())
        self.bodies.append(body)
        if self.failures:
            return self.failures.pop(0)
        query = body["query"]
        since = re.search(r"publication-date >= (\d{8})", query)
        names = [n.casefold() for n in re.findall(r'~ "([^"]+)"', query)]
        matching = sorted(
            (n for n in self.notices if (since is None or self.day(n) >= since.group(1))
             and any(name in self.names(n) for name in names)),
            key=lambda n: (self.day(n), n["publication-number"]))
        offset = self.tokens[body["iterationNextToken"]] if "iterationNextToken" in body else 0
        batch = matching[offset:offset + int(body["limit"])]
        token = f"FGluY2x1ZGVfY29udGV4dF91dWlk{len(self.tokens) + 1:04d}"
        self.tokens[token] = offset + len(batch)
        fields = {*body["fields"], "links"}
        return self.json({"notices": [{k: v for k, v in n.items() if k in fields}
                                      for n in batch],
                          "totalNoticeCount": len(matching), "iterationNextToken": token,
                          "timedOut": False})

    @staticmethod
    def json(body: Any, status: int = 200) -> WsgiResponse:
        return WsgiResponse(json.dumps(body, ensure_ascii=False), status=status,
                            content_type="application/json")


@pytest.fixture
def ted(site: Any) -> FakeTed:
    return FakeTed(site)


def portal(name: str, api: FakeTed, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "portal", "portal": "ted", "url": api.url, **extra}


def events_of(state_dir: Path) -> list[tuple[str, str, str]]:
    with open_store(state_dir) as store:
        return [(e.native_id, e.kind, e.field) for e in store.tender_events()]


def test_crawl_pages_to_the_empty_batch_then_resumes_from_the_saved_position(
    ted: FakeTed, write_config: Callable[..., Any], state_dir: Path
) -> None:
    bases = [PL_AWARD, EE_AWARD, LT_AWARD, PL_AWARD, EE_AWARD]
    ted.notices = [notice(b, n, f"2025-03-{10 + n:02d}") for n, b in enumerate(bases, 1)]
    config = write_config({"sources": [portal("ted", ted, since="2025-03-01", page_size=2)],
                           "watches": WATCHES})

    [first] = crawl(config, state_dir).results

    assert first.status == "ok", first.error
    assert (first.items, first.new_items) == (5, 5)
    tokens = [b.get("iterationNextToken") for b in ted.bodies]
    assert len(tokens) == 4 and tokens[0] is None and None not in tokens[1:]  # 2+2+1, then []
    assert {b["query"] for b in ted.bodies} == {ted.bodies[0]["query"]}
    with open_store(state_dir) as store:
        assert store.count("tenders") == 5
        saved = store.portal_cursor("ted", ted.url)
    assert saved is not None and saved.cursor == "20250315"

    # a new notice later, the next run asks from the saved date and stores only it
    ted.notices.append(notice(PL_AWARD, 6, "2025-03-18"))
    ted.bodies.clear()

    [second] = crawl(config, state_dir).results

    assert second.status == "ok", second.error
    assert (second.items, second.new_items, second.changed_items) == (2, 1, 0)
    assert "publication-date >= 20250315 SORT BY" in ted.bodies[0]["query"]
    # a backfill (`since`) alerts: the new award notice is an event
    assert ("00000000-0000-4000-8000-000000000006", "awarded", "winners") in events_of(
        state_dir)


def test_crawl_award_notice_after_the_baseline_makes_one_awarded_event(
    ted: FakeTed, write_config: Callable[..., Any], state_dir: Path
) -> None:
    def day(days: int) -> str:
        return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()

    ted.notices = [notice(LT_CALL, 1, day(20), procedure=LT_PROCEDURE),
                   notice(PL_AWARD, 2, day(10)), notice(EE_AWARD, 3, day(3))]
    # the call names no company yet: it is found through its (watched) buyer
    watches = [*WATCHES, {"name": "Muitinės departamentas", "tags": ["buyer"]}]
    config = write_config({"sources": [portal("ted", ted)], "watches": watches})

    [baseline] = crawl(config, state_dir).results

    assert baseline.status == "ok", baseline.error
    assert f"publication-date >= {days_ago(30)}" in ted.bodies[0]["query"]
    assert baseline.new_items == 3
    assert events_of(state_dir) == []  # the first run is a silent baseline

    ted.notices.append(notice(LT_AWARD, 4, day(1), procedure=LT_PROCEDURE))
    [second] = crawl(config, state_dir).results
    [third] = crawl(config, state_dir).results

    assert (second.status, second.new_items, second.changed_items) == ("ok", 0, 1), second.error
    assert (third.status, third.new_items, third.changed_items) == ("ok", 0, 0), third.error
    assert events_of(state_dir) == [(LT_PROCEDURE, "status_changed", "status"),
                                    (LT_PROCEDURE, "awarded", "winners")]
    with open_store(state_dir) as store:
        [event] = [e for e in store.tender_events() if e.kind == "awarded"]
        [row] = [t for t in store.tenders() if t.native_id == LT_PROCEDURE]
    assert event.new == [{"name": "Nuctech Company Limited", "id": "91110000633603837Y",
                             "scheme": "CN-NAT"}]
    assert (row.version, row.status, row.record["award_value"]) == (
        2, "awarded", 3978000.0)


def test_crawl_failures_are_errors_one_source_at_a_time(
    site: Any, write_config: Callable[..., Any], state_dir: Path
) -> None:
    def api(prefix: str, *failures: WsgiResponse) -> FakeTed:
        fake = FakeTed(site, f"/{prefix}/v3/notices/search")
        fake.notices = [notice(PL_AWARD, 1, "2025-03-07")]
        fake.failures = list(failures)
        return fake

    slow = api("slow", WsgiResponse("Too Many Requests", status=429,
                                    headers={"Retry-After": "2"}))
    partial = api("partial", FakeTed.json(json.loads(page("ted/timed-out.json"))))
    down = api("down", *[WsgiResponse("Internal Server Error", status=500)] * 2)
    rejecting = api("rejecting", FakeTed.json(json.loads(page("ted/bad-query-400.json")), 400))
    lying = api("lying", FakeTed.json(json.loads(page("ted/error-200.json"))))
    fakes = {"slow": slow, "partial": partial, "down": down, "rejecting": rejecting,
             "lying": lying}
    config = write_config({
        "sources": [portal(name, fake, since="2025-03-01") for name, fake in fakes.items()],
        "watches": WATCHES, "crawl": {"retries": 1}})

    results = {r.source: r for r in crawl(config, state_dir).results}

    assert (results["slow"].status, results["slow"].new_items) == ("ok", 1), results["slow"]
    assert 2 <= site.wait_after("/slow/v3/notices/search") < 4  # no crawl delay in tests
    assert (results["partial"].status, results["partial"].new_items) == ("ok", 1)
    assert partial.bodies[0] == partial.bodies[1]  # the same batch asked for again
    assert results["down"].status == "error"
    assert f"HTTP 500 from {down.url}" in (results["down"].error or "")
    assert results["rejecting"].status == "error"
    assert "Unknown field 'winer-name'" in (results["rejecting"].error or "")
    assert len(rejecting.bodies) == 1  # a rejected query is not retried
    assert results["lying"].status == "error"
    assert "temporarily unavailable" in (results["lying"].error or "")
