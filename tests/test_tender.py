"""monitor.tender: cleaning tender records, their content hash, and the events between two
versions. The cases live in tests/cases/tender.yaml; their keys are the test ids."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.models import Organisation, TenderDocument, TenderLot, TenderRecord
from monitor.store.rows import StoredTender
from monitor.tender import compare, diff_tenders, hash_tender, is_cancelled, normalise_tender

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "tender.yaml").read_text("utf-8")
)

IDENTITY = {"source": "prozorro", "native_id": "UA-2025-03-10-000123-a"}


def params(table: dict[str, dict[str, Any]]) -> list[Any]:
    return [pytest.param(case, id=name) for name, case in table.items()]


def record(fields: dict[str, Any] | None) -> TenderRecord:
    return TenderRecord.from_dict({**IDENTITY, **(fields or {})})


@pytest.mark.parametrize("case", params(CASES["diff_tenders"]))
def test_diff_tenders(case: dict[str, Any]) -> None:
    old = None if case["old"] is None else record(case["old"])

    events = diff_tenders(old, record(case["new"]), baseline=case.get("baseline", False))

    assert [e.to_dict() for e in events] == case["events"]


@pytest.mark.parametrize("case", params(CASES["normalise_tender"]))
def test_normalise_tender(case: dict[str, Any]) -> None:
    # as stored: JSON, where tuples are lists
    cleaned = json.loads(json.dumps(normalise_tender(record(case["input"])).to_dict()))

    assert {key: cleaned[key] for key in case["expected"]} == case["expected"]


@pytest.mark.parametrize("case", params(CASES["normalise_tender"]))
def test_normalise_tender_is_idempotent(case: dict[str, Any]) -> None:
    once = normalise_tender(record(case["input"]))

    assert normalise_tender(once) == once


@pytest.mark.parametrize("case", params(CASES["is_cancelled"]))
def test_is_cancelled(case: dict[str, Any]) -> None:
    assert is_cancelled(case["status"]) is case["expected"]


FULL = TenderRecord(
    source="prozorro",
    native_id="UA-2025-03-10-000123-a",
    title="Сканери для митних постів",
    url="https://prozorro.gov.ua/tender/UA-2025-03-10-000123-a",
    buyer=Organisation("Державна митна служба України", "43115923", "UA-EDR"),
    status="active.awarded",
    cpv=("38580000-1",),
    value=3200000.0,
    currency="UAH",
    winners=(Organisation("ТОВ «Скантех»", "41234567", "UA-EDR"),),
    lots=(TenderLot("lot-1", "Lot 1", "active", 3200000.0, "UAH"),),
    documents=(TenderDocument("https://public-docs.prozorro.gov.ua/get/1", "Notice"),),
    modified="2025-04-20T09:00:00+00:00",
    raw_hash="abc",
)


def test_record_round_trips_through_a_dict() -> None:
    assert TenderRecord.from_dict(FULL.to_dict()) == FULL


def test_hash_ignores_bookkeeping_fields() -> None:
    same = replace(FULL, modified="2025-04-21T09:00:00+00:00", raw_hash="def")

    assert hash_tender(same) == hash_tender(FULL)


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Сканери"},
        {"status": "complete"},
        {"winners": ()},
        {"value": 3200001.0},
        {"documents": ()},
        {"buyer": Organisation("Державна митна служба України", "43115924", "UA-EDR")},
    ],
    ids=lambda change: next(iter(change)),
)
def test_hash_changes_with_what_the_record_says(change: dict[str, Any]) -> None:
    assert hash_tender(replace(FULL, **change)) != hash_tender(FULL)


def test_organisation_identity_is_the_registry_id_else_the_name() -> None:
    assert Organisation("ТОВ «Скантех»", "41234567", "UA-EDR").registry_id == "UA-EDR:41234567"
    assert Organisation("X", "41234567").registry_id == "41234567"
    assert Organisation("Nuctech  Company").key == Organisation("NUCTECH company").key
    assert Organisation("Nuctech").registry_id is None


def test_unchanged_marker_passes_through_normalise() -> None:
    marker = TenderRecord(source="prozorro", native_id=" x ", unchanged=True)

    assert normalise_tender(marker) is marker


def test_compare_decides_new_changed_unchanged_against_the_stored_version() -> None:
    first = compare(None, FULL)
    assert (first.state, first.content_hash) == ("new", hash_tender(FULL))
    assert [e.kind for e in first.events] == ["awarded"]
    assert compare(None, FULL, baseline=True).events == ()  # a baseline alerts on nothing

    stored = StoredTender(id=1, version=1, content_hash=first.content_hash,
                          record=first.stored)
    same = compare(stored, replace(FULL, raw_hash="def", modified="2025-05-01T00:00:00+00:00"))
    assert (same.state, same.events) == ("unchanged", ())

    cancelled = compare(stored, replace(FULL, status="cancelled", value=3300000.0))
    assert cancelled.state == "changed"
    assert [(e.kind, e.old, e.new) for e in cancelled.events] == [
        ("cancelled", "active.awarded", "cancelled"),
        ("value_changed", {"amount": 3200000.0, "currency": "UAH"},
         {"amount": 3300000.0, "currency": "UAH"})]
    assert "raw_hash" not in cancelled.stored and "modified" not in cancelled.stored
