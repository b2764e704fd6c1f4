"""The OCDS spider: release and record packages, `links.next` paging, compiled releases,
buyers and suppliers through `parties`, MTender's list form, and error bodies.

Fixtures in tests/pages/ocds/ are shaped like the OCDS 1.1 package schemas (and MTender's
list); `{base}` in them stands for the local server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from conftest import page
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

import crawlers.settings
from crawlers.portals.ocds.parse import compile_releases
from crawlers.portals.ocds.spider import Ocds
from crawlers.registry import spider_for
from monitor.config import parse_config
from monitor.crawl import crawl
from monitor.models import PortalCursor, TenderRecord
from monitor.store import open_store
from monitor.tender import normalise_tender

PROJECT_SETTINGS = {k: getattr(crawlers.settings, k) for k in dir(crawlers.settings) if k.isupper()}
BASE = "https://odapi.example.ge"
FIRST = f"{BASE}/api/releases.json?page=1"


def fixture(name: str, base: str = BASE) -> bytes:
    return page(f"ocds/{name}").replace(b"{base}", base.encode())


def make_spider(source: dict[str, Any] | None = None, *, cursor: str | None = None,
                stamps: dict[str, str] | None = None) -> Ocds:
    data = {"name": "georgia_ocds", "kind": "portal", "portal": "ocds", "url": FIRST,
            **(source or {})}
    config = parse_config({"sources": [data]})
    spider = Ocds(source_name=data["name"])
    spider._set_crawler(get_crawler(Ocds, PROJECT_SETTINGS))
    spider.config = config
    spider.source = config.source(data["name"])
    saved = PortalCursor(data["name"], data["url"], cursor) if cursor else None
    spider.load_position(saved, stamps or {})
    return spider


def respond(request: Request, body: bytes, *, status: int = 200) -> TextResponse:
    return TextResponse(url=request.url, body=body, request=request, status=status,
                        headers={"Content-Type": "application/json"})


def first_request(spider: Ocds) -> Request:
    async def run() -> list[Any]:
        return [x async for x in spider.start()]

    [request] = asyncio.run(run())
    return request


def records_of(results: Iterable[Any]) -> dict[str, TenderRecord]:
    return {r.native_id: normalise_tender(r) for r in results if isinstance(r, TenderRecord)}


def cursors_of(results: Iterable[Any]) -> list[str | None]:
    return [r.cursor for r in results if isinstance(r, PortalCursor)]


def requests_of(results: Iterable[Any]) -> list[Request]:
    return [r for r in results if isinstance(r, Request)]


# -- packages --------------------------------------------------------------------------------


def test_spider_is_registered_for_portal_ocds() -> None:
    spider = make_spider()
    assert spider_for(spider.source) is Ocds
    assert Ocds.__doc__ and "Reads" in Ocds.__doc__ and "Caveats" in Ocds.__doc__


def test_release_package_releases_are_compiled_per_process() -> None:
    spider = make_spider()
    request = first_request(spider)

    results = list(spider.parse_page(respond(request, fixture("release-package-1.json"))))

    records = records_of(results)
    assert list(records) == ["ocds-a1b2c3-SPA180012345", "ocds-a1b2c3-SPA180013001"]
    scanners = records["ocds-a1b2c3-SPA180012345"]
    # the tender release and the award release merged, the later one winning
    assert scanners.title == "რენტგენის სკანერები საბაჟო გამშვები პუნქტებისთვის"
    assert scanners.status == "complete"
    assert scanners.buyer is not None and scanners.buyer.registry_id == "GE-NAPR:204412345"
    assert [w.registry_id for w in scanners.winners] == ["GE-NAPR:404409497"]
    assert [b.registry_id for b in scanners.bidders] == ["GE-NAPR:404409497", "GE-NAPR:405001122"]
    assert (scanners.value, scanners.currency) == (3200000.0, "GEL")
    assert (scanners.award_value, scanners.award_currency) == (3150000.0, "GEL")
    assert scanners.cpv == ("38580000",)
    assert scanners.url == "https://tenders.procurement.gov.ge/public/?go=598123&lang=en"
    assert scanners.deadline == "2018-11-30T13:00:00+00:00"
    assert scanners.award_date == "2018-12-20T11:00:00+00:00"
    assert scanners.contract_date == "2018-12-27T08:00:00+00:00"
    assert scanners.procedure == "Electronic tender (SPA)"
    assert scanners.modified == "2018-12-20T11:00:00+00:00"
    cancelled = records["ocds-a1b2c3-SPA180013001"]
    # no page of its own: the package it was read from, pointed at the process
    assert (cancelled.status, cancelled.winners, cancelled.url) == (
        "cancelled", (), f"{FIRST}#ocds-a1b2c3-SPA180013001")
    assert spider.errors == []


def test_links_next_is_followed_after_the_page_and_the_last_page_is_the_cursor() -> None:
    spider = make_spider()
    request = first_request(spider)

    results = list(spider.parse_page(respond(request, fixture("release-package-1.json"))))

    second = f"{BASE}/api/releases.json?page=2"
    assert cursors_of(results) == [second]
    [follow] = requests_of(results)
    assert follow.url == second and follow.meta["monitor_entry"] is False
    last = list(spider.parse_page(respond(follow, fixture("release-package-2.json"))))
    assert list(records_of(last)) == ["ocds-a1b2c3-SPA190000077"]
    assert cursors_of(last) == [second]  # read again next run, for what was added
    assert requests_of(last) == []


def test_a_later_run_starts_at_the_saved_page() -> None:
    second = f"{BASE}/api/releases.json?page=2"
    assert first_request(make_spider(cursor=second)).url == second
    assert first_request(make_spider()).url == FIRST


def test_record_package_uses_compiled_releases_and_reports_linked_only_records() -> None:
    spider = make_spider({"url": f"{BASE}/api/records.json"})
    request = first_request(spider)

    records = records_of(spider.parse_page(respond(request, fixture("record-package.json"))))

    assert list(records) == ["ocds-a1b2c3-SPA180012345"]
    assert [w.name for w in records["ocds-a1b2c3-SPA180012345"].winners] == [
        "Nuctech Company Ltd (Georgia branch)"]
    assert spider.errors == [
        (f"record 'ocds-a1b2c3-SPA180013001' at {BASE}/api/records.json has no compiledRelease "
         "and only linked releases: skipped")]


def test_since_skips_older_processes() -> None:
    spider = make_spider({"since": "2019-01-01"})
    request = first_request(spider)

    page_one = records_of(spider.parse_page(respond(request, fixture("release-package-1.json"))))
    follow = Request(f"{BASE}/api/releases.json?page=2")
    page_two = records_of(spider.parse_page(respond(follow, fixture("release-package-2.json"))))

    assert page_one == {}
    assert list(page_two) == ["ocds-a1b2c3-SPA190000077"]


def test_unchanged_processes_are_counted_not_rebuilt() -> None:
    spider = make_spider(stamps={"ocds-a1b2c3-SPA180012345": "2018-12-20T11:00:00+00:00"})
    request = first_request(spider)

    results = [r for r in spider.parse_page(respond(request, fixture("release-package-1.json")))
               if isinstance(r, TenderRecord)]

    assert [(r.native_id, r.unchanged) for r in results] == [
        ("ocds-a1b2c3-SPA180012345", True), ("ocds-a1b2c3-SPA180013001", False)]


def test_compile_releases_merges_objects_and_arrays_by_id() -> None:
    compiled = compile_releases([
        {"ocid": "x", "id": "2", "date": "2020-02-01", "awards": [{"id": "a", "status": "active"}],
         "tender": {"status": "complete"}},
        {"ocid": "x", "id": "1", "date": "2020-01-01",
         "awards": [{"id": "a", "status": "pending", "value": {"amount": 5}}],
         "tender": {"status": "active", "title": "T", "items": [{"id": "1"}]}},
    ])

    assert compiled["tender"] == {"status": "complete", "title": "T", "items": [{"id": "1"}]}
    assert compiled["awards"] == [{"id": "a", "status": "active", "value": {"amount": 5}}]
    assert compiled["tag"] == ["compiled"] and "id" not in compiled


# -- MTender's list --------------------------------------------------------------------------


def test_mtender_list_fetches_each_process_then_the_next_offset() -> None:
    url = "https://public.mtender.gov.md/tenders/"
    spider = make_spider({"name": "mtender", "url": url})
    request = first_request(spider)

    results = list(spider.parse_page(respond(request, fixture("mtender-list.json"))))

    details = requests_of(results)
    assert [r.url for r in details] == [
        "https://public.mtender.gov.md/tenders/ocds-b3wdp1-MD-1613996912600",
        "https://public.mtender.gov.md/tenders/ocds-b3wdp1-MD-1614000000000"]
    assert cursors_of(results) == []
    first = list(spider.parse_package(respond(details[0], fixture("mtender-tender.json"))))
    records = records_of(first)
    [record] = records.values()
    assert record.native_id == "ocds-b3wdp1-MD-1613996912600-EV-1613996947373"
    assert record.buyer is not None and record.buyer.registry_id == "MD-IDNO:1006601000000"
    assert record.winners == ()  # the award is still pending
    assert [b.registry_id for b in record.bidders] == ["MD-IDNO:1019600012345"]
    assert record.cpv == ("38580000-1",)
    assert [lot.title for lot in record.lots] == ["Scanere mobile"]
    rest = list(spider.parse_package(respond(details[1], fixture("mtender-tender.json"))))
    next_url = "https://public.mtender.gov.md/tenders/?offset=2021-02-22T13%3A20%3A00.000Z"
    assert cursors_of(rest) == [next_url]
    assert [r.url for r in requests_of(rest)] == [next_url]

    end = list(spider.parse_page(respond(Request(next_url), b"{}")))
    assert cursors_of(end) == [next_url] and requests_of(end) == []
    assert spider.errors == []


MTENDER = "https://public.mtender.gov.md/tenders/"
PROCESS = "ocds-b3wdp1-MD-1714000000001"


def mtender_detail(spider: Ocds) -> Request:
    """The detail request MTender's list makes for PROCESS."""
    listing = {"data": [{"ocid": PROCESS, "date": "2024-05-14T10:20:30Z"}],
               "offset": "2024-05-14T10:20:30.000Z"}
    results = spider.parse_page(respond(first_request(spider), json.dumps(listing).encode()))
    [detail] = requests_of(results)
    return detail


def test_mtender_stage_records_fold_into_one_record_of_the_listed_process() -> None:
    # MTender's package holds a record per stage: the process (title, value, buyer), its
    # evaluation (-EV-: lots, bids, awards) and its contract (-AC-), in date order
    spider = make_spider({"name": "mtender", "url": MTENDER})
    detail = mtender_detail(spider)

    results = list(spider.parse_package(respond(detail, fixture("mtender-process.json"))))

    [record] = records_of(results).values()
    assert record.native_id == PROCESS
    assert record.title == "Achiziționarea scanerelor mobile cu raze X"
    assert record.status == "active"
    assert record.procedure == "openTender"
    assert record.buyer is not None
    assert (record.buyer.name, record.buyer.registry_id) == (
        "Serviciul Vamal al Republicii Moldova", "MD-IDNO:1006601000555")
    assert (record.value, record.currency) == (18500000.0, "MDL")
    assert [w.registry_id for w in record.winners] == ["MD-IDNO:1003600088881"]
    assert [b.name for b in record.bidders] == ["Nuctech Moldova SRL", "Scan-Sistem SRL"]
    assert (record.award_value, record.award_currency) == (17950000.0, "MDL")
    assert record.award_date == "2024-05-10T09:00:00+00:00"
    assert record.contract_date == "2024-05-14T09:00:00+00:00"
    assert record.deadline == "2024-05-06T07:00:00+00:00"
    assert record.cpv == ("38581000-5",)
    assert [lot.title for lot in record.lots] == ["Scanere mobile pentru postul vamal Leușeni"]
    assert [d.title for d in record.documents] == ["Caiet de sarcini.pdf"]
    assert record.url == f"https://mtender.gov.md/tenders/{PROCESS}"
    # the list's date: what the next list page is compared with
    assert record.modified == "2024-05-14T10:20:30+00:00"
    assert spider.errors == []


def test_mtender_process_listed_with_its_stored_date_is_not_fetched_again() -> None:
    spider = make_spider({"name": "mtender", "url": MTENDER},
                         stamps={PROCESS: "2024-05-14T10:20:30+00:00"})
    listing = {"data": [{"ocid": PROCESS, "date": "2024-05-14T10:20:30Z"}],
               "offset": "2024-05-14T10:20:30.000Z"}

    results = list(spider.parse_page(respond(first_request(spider), json.dumps(listing).encode())))

    assert [(r.native_id, r.unchanged) for r in results if isinstance(r, TenderRecord)] == [
        (PROCESS, True)]


def test_mtender_saved_position_answering_empty_object_means_nothing_new() -> None:
    # the saved position is the list page after the last process read: `{}` until there is more
    saved = f"{MTENDER}?offset=2024-05-14T10%3A20%3A30.000Z"
    spider = make_spider({"name": "mtender", "url": MTENDER}, cursor=saved)
    request = first_request(spider)

    results = list(spider.parse_page(respond(request, b"{}")))

    assert cursors_of(results) == [saved] and requests_of(results) == []
    assert spider.errors == [] and spider.entry_failures == 0


def test_mtender_empty_body_at_the_end_of_the_list_ends_it_for_now() -> None:
    spider = make_spider({"name": "mtender", "url": MTENDER})
    listing = {"data": [{"ocid": PROCESS, "date": "2024-05-14T10:20:30Z"}],
               "offset": "2024-05-14T10:20:30.000Z"}
    results = list(spider.parse_page(respond(first_request(spider), json.dumps(listing).encode())))
    detail = requests_of(results)[0]
    [follow] = requests_of(spider.parse_package(respond(detail, fixture("mtender-process.json"))))

    end = list(spider.parse_page(respond(follow, b"")))

    assert cursors_of(end) == [follow.url] and requests_of(end) == []
    assert spider.errors == []


def test_mtender_gateway_error_with_http_200_fails_the_process_for_a_retry() -> None:
    spider = make_spider({"name": "mtender", "url": MTENDER})
    detail = mtender_detail(spider)

    results = list(spider.parse_package(respond(detail, fixture("mtender-gateway-error.json"))))

    assert records_of(results) == {}
    assert spider.errors == [
        f"error from {MTENDER}{PROCESS} (HTTP 200): ETIMEDOUT: connect ETIMEDOUT 10.20.30.40:443"]
    assert spider.retries == {f"{MTENDER}{PROCESS}": 1}
    # the next run fetches it first, as the process the list named
    later = make_spider({"name": "mtender", "url": MTENDER})
    later.load_position(PortalCursor("mtender", MTENDER, None, {"retry": spider.retries}), {})
    retry = first_request(later)
    [record] = records_of(later.parse_package(respond(retry, fixture("mtender-process.json")))).values()
    assert (record.native_id, record.url) == (PROCESS, f"https://mtender.gov.md/tenders/{PROCESS}")


def test_organisations_named_by_scheme_and_id_carry_their_registry_id() -> None:
    # parties without `identifier`, ids such as GE-NAPR-211358412; tenderers by name only
    spider = make_spider()

    results = spider.parse_page(respond(first_request(spider), fixture("release-package-org-ids.json")))

    [record] = records_of(results).values()
    assert record.buyer is not None and record.buyer.registry_id == "GE-NAPR:211358412"
    assert [w.registry_id for w in record.winners] == ["GE-NAPR:405112233"]
    assert [(b.name, b.registry_id) for b in record.bidders] == [
        ("შპს ჰიკვიჟენ საქართველო", "GE-NAPR:405112233"), ("შპს ვიდეოტექი", None)]
    # the SPA's page of the tender, linked from the award's document, not the API page
    assert record.url == "https://tenders.procurement.gov.ge/public/?go=333444&lang=ge"


def test_a_georgian_process_without_its_spa_page_links_its_own_record() -> None:
    url = "https://odapi.spa.ge/api/releases.json?page=10"
    spider = make_spider({"url": url})
    request = first_request(spider)

    records = records_of(spider.parse_page(respond(
        request, fixture("release-package-1.json", "https://odapi.spa.ge"))))

    assert records["ocds-a1b2c3-SPA180012345"].url == (
        "https://tenders.procurement.gov.ge/public/?go=598123&lang=en")
    assert records["ocds-a1b2c3-SPA180013001"].url == (
        "https://odapi.spa.ge/api/record.json?ocid=ocds-a1b2c3-SPA180013001")


def test_an_mtender_stage_read_alone_links_its_process_page() -> None:
    url = "https://public.mtender.gov.md/tenders/ocds-b3wdp1-MD-1613996912600"
    spider = make_spider({"name": "mtender", "url": url})

    [record] = records_of(spider.parse_page(respond(
        first_request(spider), fixture("mtender-tender.json", "https://public.mtender.gov.md"))
    )).values()

    assert record.url == "https://mtender.gov.md/tenders/ocds-b3wdp1-MD-1613996912600"


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{}", f"empty response ({{}}) from {FIRST}: no releases, records or list"),
        (b'{"errors": [{"code": "404.00.00.00", "description": "Data not found."}]}',
         f"error from {FIRST} (HTTP 200): 404.00.00.00: Data not found."),
        (b'{"error": "rate limit exceeded"}', "(HTTP 200): rate limit exceeded"),
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "not JSON from"),
        (b'{"results": [], "count": 0}',
         "expected releases[] or records[] (an OCDS package), got keys count, results"),
        (b"[1, 2]", "expected an OCDS release or record package, got [1, 2]"),
    ],
    ids=["empty first page", "error object", "error string", "html", "other json", "a list"],
)
def test_first_page_that_is_not_a_package_fails_the_run(body: bytes, problem: str) -> None:
    spider = make_spider()
    request = first_request(spider)

    results = list(spider.parse_page(respond(request, body)))

    assert results == []
    assert spider.entry_failures == 1
    assert problem in spider.errors[0]


# -- crawls against a local publisher --------------------------------------------------------


def serve(site: Any, path: str, body: bytes) -> None:
    site.expect_request(path).respond_with_data(body, content_type="application/json")


def test_crawl_reads_every_page_then_only_the_last_one_and_sees_the_award(
    site: Any, write_config: Callable[..., Any], state_dir: Path
) -> None:
    base = site.url_for("").rstrip("/")
    page_one = fixture("release-package-1.json", base)
    page_two = fixture("release-package-2.json", base)
    site.expect_request("/api/releases.json", query_string="page=1").respond_with_data(
        page_one, content_type="application/json")
    site.expect_request("/api/releases.json", query_string="page=2").respond_with_data(
        page_two, content_type="application/json")
    config = write_config({"sources": [{"name": "georgia_ocds", "kind": "portal",
                                        "portal": "ocds",
                                        "url": f"{base}/api/releases.json?page=1"}]})

    [first] = crawl(config, state_dir).results

    assert first.status == "ok", first.error
    assert (first.items, first.new_items) == (3, 3)
    with open_store(state_dir) as store:
        assert store.count("tender_events") == 0  # baseline
        saved = store.portal_cursor("georgia_ocds", f"{base}/api/releases.json?page=1")
    assert saved is not None and saved.cursor == f"{base}/api/releases.json?page=2"

    # the publisher adds the award of the camera tender to its last page
    data = json.loads(page_two)
    data["releases"].append({
        "ocid": "ocds-a1b2c3-SPA190000077", "id": "ocds-a1b2c3-SPA190000077-award-1",
        "date": "2019-02-20T12:00:00+04:00", "tag": ["award"],
        "parties": [{"id": "GE-NAPR-400123456", "name": "შპს ჰიკვიჟენ ჯორჯია",
                     "identifier": {"scheme": "GE-NAPR", "id": "400123456"},
                     "roles": ["supplier"]}],
        "awards": [{"id": "1", "status": "active", "date": "2019-02-20T12:00:00+04:00",
                    "value": {"amount": 430000, "currency": "GEL"},
                    "suppliers": [{"id": "GE-NAPR-400123456", "name": "შპს ჰიკვიჟენ ჯორჯია"}]}]})
    site.clear()
    site.expect_request("/robots.txt").respond_with_data("User-agent: *\n")
    site.expect_request("/api/releases.json", query_string="page=2").respond_with_data(
        json.dumps(data), content_type="application/json")

    [second] = crawl(config, state_dir).results

    assert second.status == "ok", second.error
    assert (second.items, second.new_items, second.changed_items) == (1, 0, 1)
    with open_store(state_dir) as store:
        events = [(e.native_id, e.kind) for e in store.tender_events()]
    assert events == [("ocds-a1b2c3-SPA190000077", "awarded")]


def test_crawl_error_bodies_with_http_200_fail_their_source(
    site: Any, write_config: Callable[..., Any], state_dir: Path
) -> None:
    serve(site, "/md/tenders/", fixture("error-200.json"))
    serve(site, "/empty/releases.json", b"{}")
    config = write_config({"sources": [
        {"name": "mtender", "kind": "portal", "portal": "ocds", "url": site.url_for("/md/tenders/")},
        {"name": "empty", "kind": "portal", "portal": "ocds",
         "url": site.url_for("/empty/releases.json")},
    ]})

    results = {r.source: r for r in crawl(config, state_dir).results}

    assert results["mtender"].status == "error"
    assert "Data not found." in (results["mtender"].error or "")
    assert results["empty"].status == "error"
    assert "empty response" in (results["empty"].error or "")
