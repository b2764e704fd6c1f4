"""crawlers.portals.goszakup.parse on the saved API responses, without Scrapy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import page

from crawlers.portals.goszakup.parse import (
    announcement_record,
    classify,
    error_message,
    iso_time,
    winner_biins,
)
from monitor.models import Organisation


def load(name: str) -> Any:
    return json.loads(page(f"goszakup/{name}"))


def test_announcement_record_maps_an_awarded_announcement() -> None:
    record = announcement_record(
        load("announcement-awarded.json"), load("lots.json")["items"],
        load("contracts.json")["items"], source="goszakup_kz",
        suppliers={"180640027731": "ТОО «Скан-Системс»"}, raw_hash="h")

    assert (record.source, record.native_id) == ("goszakup_kz", "15734021-1")
    assert record.url == "https://goszakup.gov.kz/ru/announce/index/15734021"
    assert record.title.startswith("Приобретение досмотровой рентгенотелевизионной установки")
    assert record.buyer is not None and (record.buyer.id, record.buyer.scheme) == (
        "120940031254", "KZ-BIN")
    assert (record.status, record.procedure) == ("complete", "Открытый конкурс")
    assert (record.value, record.currency) == (412500000.0, "KZT")
    # Astana time with its offset (UTC+5 since 2024-03-01)
    assert record.published == "2025-03-03T09:15:00+05:00"
    assert record.deadline == "2025-03-24T10:00:00+05:00"
    assert (record.award_date, record.contract_date) == ("2025-04-02T16:40:12+05:00",
                                                         "2025-04-10T11:25:03+05:00")
    winner = Organisation("ТОО «Скан-Системс»", "180640027731", "KZ-BIN")
    assert (record.winners, record.bidders) == ((winner,), (winner,))
    assert (record.award_value, record.award_currency) == (405900000.0, "KZT")
    assert [(lot.id, lot.value) for lot in record.lots] == [
        ("81234567-ОК1", 247500000.0), ("81234568-ОК1", 165000000.0)]
    assert record.description.splitlines()[1] == "Стационарный металлодетектор арочного типа"
    assert (record.modified, record.raw_hash) == ("2025-04-10T11:25:40+05:00", "h")


def test_announcement_record_names_an_unknown_supplier_by_its_biin_alone() -> None:
    record = announcement_record(load("announcement-awarded.json"), [],
                                 load("contracts.json")["items"], source="kz", suppliers={})

    assert record.winners == (Organisation("", "180640027731", "KZ-BIN"),)


@pytest.mark.parametrize(("value", "iso"), [
    ("2025-03-10 10:12:54", "2025-03-10T10:12:54+05:00"),
    ("2024-02-29 23:00:00", "2024-02-29T23:00:00+06:00"),  # before the zone change
    ("2025-03-10T10:12:54+06:00", "2025-03-10T10:12:54+06:00"),
    ("0000-00-00 00:00:00", None),
    ("", None),
    ("soon", "soon"),  # kept as published: normalising reports it
])
def test_iso_time_reads_astana_time(value: str, iso: str | None) -> None:
    assert iso_time(value) == iso


def test_classify_reads_journal_entries() -> None:
    kinds = [classify(entry) for entry in load("journal-1.json")["items"]]

    assert ("announcement", "15734021") in kinds
    assert all(kind in ("announcement", "contract", None) for kind, _ in kinds)


def test_winner_biins_leave_out_deleted_and_unsigned_cancelled_contracts() -> None:
    contracts = [{"supplier_biin": "1", "deleted": 1}, {"supplier_biin": "2"},
                 {"supplier_biin": "3", "ref_contract_cancel_id": 5, "sign_date": None},
                 {"supplier_biin": "2 "}]

    assert winner_biins(contracts) == ["2"]


def test_error_message_reads_a_bare_message() -> None:
    assert error_message({"message": "Unauthorized"}) == "Unauthorized"
    assert error_message({"items": []}) is None
