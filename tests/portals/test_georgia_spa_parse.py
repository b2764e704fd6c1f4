"""crawlers.portals.georgia_spa.parse on the saved fragments, without Scrapy."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import page

from crawlers.portals.georgia_spa.parse import (
    Fragments,
    ShapeError,
    error_body,
    read_bids,
    read_history,
    read_main,
    read_profile,
    read_results,
    read_search,
    tender_record,
)
from monitor.models import Organisation

PUBLIC = "https://tenders.procurement.gov.ge/public/"
NUCTECH = "Nuctech Company Limited - საქართველოს ფილიალი"


def html(name: str) -> str:
    return page(f"georgia_spa/{name}").decode("utf-8")


def test_read_search_lists_rows_and_pages() -> None:
    rows, pages = read_search(html("search-page-1.html"), date(2025, 3, 9), 1)

    assert pages == 2
    assert [(r.app_id, r.number, r.code) for r in rows][:2] == [
        ("612401", "SPA250003112", "140"), ("618873", "NAT250004417", "10")]
    assert rows[0].winner == NUCTECH
    assert read_search(html("search-empty.html"), date(2025, 3, 9), 1) == ([], 0)


def test_read_search_of_the_wrong_page_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="asked for page 2 of 2025-03-09, got page 1 of 2"):
        read_search(html("search-page-1.html"), date(2025, 3, 9), 2)


def test_fragments_of_an_awarded_tender_become_a_record() -> None:
    tender = Fragments(app_id="612401", main=read_main(html("app_main-awarded.html")),
                       bids=read_bids(html("app_bids-closed.html")),
                       history=read_history(html("app_statushistory-awarded.html")))
    tender.documents, tender.contracts = read_results(html("agency_docs-awarded.html"), PUBLIC)
    supplier = read_profile(html("profile-supplier.html"))
    buyer = read_profile(html("profile-buyer.html"))
    profiles = {"30117": buyer, "88412": supplier, "51907": None}

    record = tender_record(tender, source="spa_ge", url=f"{PUBLIC}?go=612401&lang=ge",
                           profiles=profiles, raw_hash="h")

    assert (record.source, record.native_id) == ("spa_ge", "SPA250003112")
    assert record.buyer == Organisation("სსიპ - შემოსავლების სამსახური", "204390013", "GE-NAPR")
    assert record.status == "complete"  # stat140
    assert record.cpv == ("38500000", "38581000", "38582000")
    assert (record.value, record.currency) == (4250000.0, "GEL")
    # Tbilisi time (UTC+4), not yet normalised
    assert (record.published, record.deadline) == ("2025-02-03T16:20:00+04:00",
                                                   "2025-02-24T17:00:00+04:00")
    assert record.winners == (Organisation(NUCTECH, "404612288", "GE-NAPR"),)
    # a bidder whose profile failed keeps its name only
    assert record.bidders[1] == Organisation("შპს კავკასიის უსაფრთხოების სისტემები")
    # each bidder's last price, for the red flags (no time or status on this portal)
    assert [(b.tenderers[0].name, b.status) for b in record.bids][1] == (
        "შპს კავკასიის უსაფრთხოების სისტემები", None)
    assert record.bids[0].value == 3987500.0 and record.bids[0].currency == "GEL"
    assert (record.award_value, record.award_currency) == (3987500.0, "GEL")
    assert (record.award_date, record.contract_date) == ("2025-02-28T18:05:00+04:00",
                                                         "2025-03-07T16:55:00+04:00")
    assert [d.kind for d in record.documents] == ["doctype30", "doctype100"]
    assert (record.modified, record.raw_hash) == ("2025-03-07T16:55:00+04:00", "h")


def test_open_bids_and_empty_results_are_empty() -> None:
    assert read_bids(html("app_bids-open.html")) == []
    assert read_results(html("agency_docs-empty.html"), PUBLIC) == ([], [])


def test_a_fragment_of_another_kind_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match=r"no bids tab \(expected div#app_bids\)"):
        read_bids(html("app_main-awarded.html"))


def test_error_body_reads_php_notices_and_empty_bodies() -> None:
    problem = error_body(html("php-error.html"))

    assert problem is not None and "Undefined" in problem
    assert error_body("  ") == "empty response"
    assert error_body(html("app_main-awarded.html")) is None
