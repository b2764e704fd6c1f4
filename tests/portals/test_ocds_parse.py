"""crawlers.portals.ocds.parse on the saved packages, without Scrapy."""

from __future__ import annotations

import json
from typing import Any

from conftest import page

from crawlers.portals.ocds.parse import (
    compile_releases,
    fold_stages,
    public_url,
    release_record,
)
from monitor.models import Organisation

SPA_PAGE = "https://odapi.spa.ge/api/releases.json?page=1"
MTENDER = "https://public.mtender.gov.md/tenders/ocds-b3wdp1-MD-1714000000001"


def load(name: str) -> Any:
    return json.loads(page(f"ocds/{name}"))


def test_release_record_maps_a_compiled_release() -> None:
    releases = [r for r in load("release-package-1.json")["releases"]
                if r["ocid"] == "ocds-a1b2c3-SPA180012345"]

    record = release_record(compile_releases(releases), source="ocds_ge", read_from=SPA_PAGE,
                            raw_hash="h")

    assert (record.source, record.native_id) == ("ocds_ge", "ocds-a1b2c3-SPA180012345")
    # the tender's page on the SPA portal, found among its documents
    assert record.url == "https://tenders.procurement.gov.ge/public/?go=598123&lang=en"
    assert record.buyer == Organisation("შემოსავლების სამსახური", "204412345", "GE-NAPR",
                                        address="გ. გულუას ქ. 16, თბილისი, Georgia")
    assert (record.status, record.procedure) == ("complete", "Electronic tender (SPA)")
    assert record.cpv == ("38580000",)
    assert (record.value, record.currency) == (3200000.0, "GEL")
    assert (record.published, record.deadline) == ("2018-11-01T10:00:00+04:00",
                                                   "2018-11-30T17:00:00+04:00")
    nuctech = Organisation("Nuctech Company Ltd (Georgia branch)", "404409497", "GE-NAPR")
    assert record.winners == (nuctech,)
    assert {b.id for b in record.bidders} == {"404409497", "405001122"}
    assert (record.award_value, record.award_currency) == (3150000.0, "GEL")
    assert (record.award_date, record.contract_date) == ("2018-12-20T15:00:00+04:00",
                                                         "2018-12-27T12:00:00+04:00")
    assert (record.modified, record.raw_hash) == ("2018-12-20T15:00:00+04:00", "h")


def test_release_record_of_an_mtender_process_folds_its_stages() -> None:
    [process] = fold_stages([r["compiledRelease"] for r in load("mtender-process.json")["records"]])

    record = release_record(process, source="ocds_md", read_from=MTENDER, listed=True,
                            listed_date="2024-05-14T09:00:00Z")

    assert record.native_id == "ocds-b3wdp1-MD-1714000000001"
    assert record.url == "https://mtender.gov.md/tenders/ocds-b3wdp1-MD-1714000000001"
    assert record.title == "Achiziționarea scanerelor mobile cu raze X"
    assert record.winners == (Organisation("Nuctech Moldova SRL", "1003600088881", "MD-IDNO"),)
    assert (record.award_value, record.award_currency) == (17950000.0, "MDL")
    assert [lot.value for lot in record.lots] == [18500000.0]
    # the date MTender's list gave the process is its stamp
    assert record.modified == "2024-05-14T09:00:00Z"


def test_public_url_falls_back_to_the_page_read_with_the_ocid() -> None:
    assert public_url("ocds-x-1", [], "https://example.org/releases.json?page=10") == (
        "https://example.org/releases.json?page=10#ocds-x-1")
    assert public_url("ocds-x-1", [], "https://odapi.spa.ge/api/releases.json") == (
        "https://odapi.spa.ge/api/record.json?ocid=ocds-x-1")


def test_bid_details_statistics_and_contracts() -> None:
    """OCDS `bids.details` become bids (status by the bidStatus codelist); without details
    `tender.numberOfTenderers` or the `bids` statistic says how many were received;
    contracts keep their value, term and amendments."""
    release = compile_releases([r for r in load("release-package-1.json")["releases"]
                                if r["ocid"] == "ocds-a1b2c3-SPA180012345"])
    release["tender"]["tenderPeriod"]["startDate"] = "2018-05-01T09:00:00+04:00"
    release["tender"]["mainProcurementCategory"] = "works"
    release["bids"] = {"details": [
        {"id": "1", "status": "valid", "date": "2018-05-10T10:00:00+04:00",
         "value": {"amount": 100.5, "currency": "GEL"},
         "tenderers": [{"id": "GE-NAPR-204567890", "name": "Company A"}]},
        {"id": "2", "status": "disqualified", "relatedLots": ["lot-1"],
         "tenderers": [{"name": "Company B"}]}]}
    release["contracts"] = [{"id": "c1", "status": "active", "value": {"amount": 90,
                                                                      "currency": "GEL"},
                             "period": {"endDate": "2019-01-01T00:00:00+04:00"},
                             "amendments": [{"id": "m1"}, {"id": "m2"}]}]
    record = release_record(release, source="ocds_ge", read_from=SPA_PAGE)
    assert [(b.id, b.tenderers[0].name, b.value, b.status, b.lot) for b in record.bids] == [
        ("1", "Company A", 100.5, "valid", None), ("2", "Company B", None, "disqualified",
                                                  "lot-1")]
    assert record.bids_received is None
    assert (record.tender_start, record.category) == ("2018-05-01T09:00:00+04:00", "works")
    assert [(c.id, c.value, c.end_date, c.amendments) for c in record.contracts] == [
        ("c1", 90.0, "2019-01-01T00:00:00+04:00", 2)]

    del release["bids"]
    release["tender"]["numberOfTenderers"] = 1
    assert release_record(release, source="ocds_ge", read_from=SPA_PAGE).bids_received == 1
    del release["tender"]["numberOfTenderers"]
    release["bids"] = {"statistics": [{"id": "1", "measure": "bids", "value": 3}]}
    assert release_record(release, source="ocds_ge", read_from=SPA_PAGE).bids_received == 3
