"""crawlers.portals.ted.parse and .query on the saved search responses, without Scrapy."""

from __future__ import annotations

import json
from typing import Any

from conftest import page

from crawlers.portals.ted.parse import merge, notice_record, numbered, status_of
from crawlers.portals.ted.query import (
    FIELDS,
    batch_limit,
    chains_for,
    endpoint_of,
    expert_query,
    restriction_of,
)
from monitor.models import Organisation
from monitor.watches import Watch

SEARCH = "https://api.ted.europa.eu/v3/notices/search"


def notices(name: str) -> list[dict[str, Any]]:
    return json.loads(page(f"ted/{name}"))["notices"]


def test_notice_record_maps_an_award_notice_to_its_procedure() -> None:
    notice = notices("award.json")[0]

    record = notice_record(notice, source="ted_eu")

    # keyed by the procedure's UUID that its contract notice shares
    assert record.native_id == "5c0e7a1d-3f42-4b9e-8d6a-2e91c4b7f053"
    assert record.url == "https://ted.europa.eu/en/notice/-/detail/311874-2025"
    assert record.title.startswith("Lithuania – X-ray apparatus")
    assert record.buyer is not None and (record.buyer.id, record.buyer.scheme) == (
        "188659752", "LT-NAT")
    assert (record.status, record.procedure) == ("awarded", "open")
    assert record.cpv == ("38581000", "50413200")
    nuctech = Organisation("Nuctech Company Limited", "91110000633603837Y", "CN-NAT")
    assert record.winners == (nuctech,)
    assert Organisation("UAB „Skenavimo sprendimai“", "LT100004567812", "EU-VAT") in record.bidders
    assert (record.award_value, record.award_currency) == (3978000.0, "EUR")
    # a date without a time is that day at 00:00 UTC; the stamp orders notices of one day
    assert record.published == "2025-05-16T00:00:00+00:00"
    assert record.modified == "2025-05-16T00:00:00.311874+00:00"
    assert [lot.id for lot in record.lots] == ["LOT-0001", "LOT-0002"]
    assert record.raw_hash


def test_merge_keeps_what_a_later_notice_leaves_out() -> None:
    first = notice_record(notices("award.json")[0], source="ted_eu")
    # a notice of the same procedure that names no winner (a contract modification)
    later = notice_record({**notices("award.json")[0], "publication-number": "400000-2025",
                           "winner-name": None, "winner-identifier": None, "total-value": None},
                          source="ted_eu")

    merged = merge(first, later)

    assert merged.winners == first.winners
    assert merged.award_value == first.award_value


def test_numbered_heads_a_title_with_the_publication_number() -> None:
    assert numbered("151207-2025 – Poland – X-ray", "160000-2025") == "160000-2025 – Poland – X-ray"
    assert numbered("", "160000-2025") == "160000-2025"


def test_status_of_form_types() -> None:
    assert [status_of(form, "", False) for form in ("planning", "competition", "result")] == [
        "planned", "announced", "closed"]
    assert status_of("cont-modif", "", True) == "modified"


def test_query_of_the_watch_list_and_the_sources_restriction() -> None:
    url = f"{SEARCH}?query=buyer-country+IN+(POL+LTU)"
    [chain] = chains_for([Watch(name="Nuctech")], restriction_of(url), ("winner-name",), 10,
                         3000)

    assert endpoint_of(url) == SEARCH
    assert expert_query(chain, restriction_of(url), "20250101") == (
        '(winner-name ~ "Nuctech") AND (buyer-country IN (POL LTU)) AND '
        "publication-date >= 20250101 SORT BY publication-date ASC")
    assert chains_for([], "", FIELDS, 10, 3000) == []
    assert batch_limit(1000, FIELDS) == 250
