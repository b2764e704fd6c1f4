"""crawlers.portals.prozorro.parse on the saved API responses, without Scrapy."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from conftest import page

from crawlers.portals.prozorro.parse import (
    API_ROOT,
    as_offset,
    offset_text,
    since_offset,
    tender_record,
    url_problem,
)
from monitor.models import Organisation


def tender(name: str) -> dict:
    return json.loads(page(f"prozorro/{name}"))["data"]


def who(org: Organisation | None) -> tuple[str, str | None, str | None] | None:
    return (org.name, org.id, org.scheme) if org else None


def test_a_bid_whose_award_was_refused_was_disqualified() -> None:
    data = tender("tender-awarded.json")
    refused = data["bids"][0]["id"]
    data["awards"].insert(0, {"id": "a0", "bid_id": refused, "status": "unsuccessful",
                              "lotID": data["bids"][0]["lotValues"][0]["relatedLot"]})
    data["bids"].append({"id": "b3", "status": "invalid.pre-qualification", "tenderers": [],
                         "value": {"amount": 1.0, "currency": "UAH"}})
    data["bids"].append({"id": "b4", "status": "draft", "tenderers": []})
    record = tender_record(data, source="prozorro_ua", raw_hash="h")
    assert [(b.id[-2:], b.status) for b in record.bids] == [
        ("01", "disqualified"), ("02", "valid"), ("b3", "disqualified")]


def test_number_of_bids_is_kept_where_the_bids_are_not_shown() -> None:
    data = tender("tender-awarded.json")
    data.pop("bids")
    data["numberOfBids"] = 1
    record = tender_record(data, source="prozorro_ua", raw_hash="h")
    assert (record.bids, record.bids_received) == ((), 1)


def test_tender_record_maps_an_awarded_tender() -> None:
    record = tender_record(tender("tender-awarded.json"), source="prozorro_ua", raw_hash="h")

    assert (record.source, record.native_id) == ("prozorro_ua", "UA-2025-03-10-000123-a")
    assert record.url == "https://prozorro.gov.ua/tender/UA-2025-03-10-000123-a"
    assert record.title == "Мобільні рентгенівські сканери для митного контролю вантажів"
    assert who(record.buyer) == ("Державна митна служба України", "43115923", "UA-EDR")
    assert record.buyer.address == "вул. Дегтярівська, 11г, м. Київ, м. Київ, 04119, Україна"
    assert (record.status, record.procedure) == ("active.awarded", "aboveThreshold")
    assert record.cpv == ("38580000-1",)
    assert (record.value, record.currency) == (96000000.0, "UAH")
    assert record.published == "2025-03-10T12:00:00.000000+02:00"  # noticePublicationDate
    assert record.deadline == "2025-04-01T10:00:00+03:00"
    assert record.award_date == "2025-04-20T11:00:00.000000+03:00"
    scantech = ("ТОВ «Скантех Україна»", "41234567", "UA-EDR")
    assert [who(w) for w in record.winners] == [scantech]
    # bids' tenderers, then every award's suppliers (normalising drops the repeats)
    assert [who(b) for b in record.bidders] == [
        scantech, ("ТОВ «Рентген-Сервіс»", "39876543", "UA-EDR"), scantech]
    # what red flags are computed from: the bids with their prices, times and fate
    assert [(who(b.tenderers[0]), b.value, b.date, b.status) for b in record.bids] == [
        (scantech, 94500000.0, "2025-03-31T17:00:00.000000+03:00", "valid"),
        (("ТОВ «Рентген-Сервіс»", "39876543", "UA-EDR"), 95100000.0,
         "2025-03-31T18:00:00.000000+03:00", "valid")]
    assert record.bids[0].tenderers[0].contact == "office@skantekh.example.ua; +380440000001"
    assert (record.tender_start, record.category, record.award_criteria) == (
        "2025-03-10T12:05:00.000000+02:00", "goods", "lowestCost")
    assert (record.award_value, record.award_currency) == (94500000.0, "UAH")
    assert [(lot.title, lot.value) for lot in record.lots] == [
        ("Мобільні рентгенівські сканери", 96000000.0)]
    assert [d.kind for d in record.documents] == ["tenderNotice"]
    assert (record.modified, record.raw_hash) == ("2025-04-20T11:00:00.000000+03:00", "h")


def test_tender_record_keeps_the_latest_version_of_each_document() -> None:
    data = tender("tender-document-versions.json")
    ids = [d.get("id") for d in data["documents"]]

    record = tender_record(data, source="prozorro_ua", raw_hash=None)

    assert len(record.documents) == len(set(ids)) < len(ids)


@pytest.mark.parametrize(("stamp", "before", "offset"), [
    ("2025-03-10T12:02:15.123456+03:00", timedelta(0), "2025-03-10T12:02:15+03:00"),
    ("2025-03-10T12:02:15+02:00", timedelta(hours=1), "2025-03-10T11:02:15+02:00"),
    # no offset (saved by an older version, Kyiv time): read as UTC+03:00
    ("2025-03-10T12:02:15", timedelta(0), "2025-03-10T12:02:15+03:00"),
    ("not a time", timedelta(hours=1), "not a time"),
])
def test_as_offset_keeps_the_utc_offset(stamp: str, before: timedelta, offset: str) -> None:
    assert as_offset(stamp, before) == offset


def test_offset_text_keeps_a_float_offset_exact() -> None:
    assert offset_text(1696888801.123456789) == repr(1696888801.123456789)
    assert (offset_text("17.0.1.a"), offset_text(""), offset_text(None)) == ("17.0.1.a", None,
                                                                          None)


def test_since_offset_is_midnight_in_kyiv_summer_time() -> None:
    assert since_offset(date(2025, 1, 15)) == "2025-01-15T00:00:00+03:00"
    assert since_offset(None) is None


def test_url_problem_names_the_api_root() -> None:
    assert url_problem(API_ROOT) is None
    problem = url_problem(f"{API_ROOT}/tenders")
    assert problem is not None and API_ROOT in problem
