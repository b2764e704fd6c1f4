"""crawlers.portals.common, and the parse modules' promise: no Scrapy."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawlers.portals.common import (
    amount,
    dicts,
    folded,
    local_datetime,
    mapping,
    number,
    organisation,
    registered,
)
from monitor.models import Organisation

PARSE_MODULES = ["crawlers.portals.common", "crawlers.portals.prozorro.parse",
                 "crawlers.portals.ted.parse", "crawlers.portals.ted.query",
                 "crawlers.portals.ocds.parse", "crawlers.portals.georgia_spa.parse",
                 "crawlers.portals.goszakup.parse"]


def test_parse_modules_import_without_scrapy() -> None:
    code = (f"import sys; [__import__(m) for m in {PARSE_MODULES!r}]; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted')))")

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("value", "expected"), [
    ({"amount": "12.50", "currency": "UAH"}, (12.5, "UAH")),
    ({"amount": 0}, (0.0, None)),
    ({"amount": "n/a", "currency": "GEL"}, (None, "GEL")),
    (None, (None, None)),
])
def test_amount(value: object, expected: tuple[float | None, str | None]) -> None:
    assert amount(value) == expected


def test_number_of_empty_or_bad_values_is_none() -> None:
    assert [number(v) for v in (None, "", "x", [1], "7", 3)] == [None, None, None, None, 7.0, 3.0]


def test_organisation_resolves_an_ocds_reference_through_parties() -> None:
    parties = {"p1": {"name": "Acme", "identifier": {"id": "123", "scheme": "GE-NAPR"}}}

    assert organisation({"id": "p1"}, parties) == Organisation("Acme", "123", "GE-NAPR")
    assert organisation({"identifier": {"legalName": "Beta"}}) == Organisation("Beta")
    assert organisation({}) is None


def test_registered_leaves_out_the_scheme_without_an_id() -> None:
    assert registered("Acme", "123", "KZ-BIN") == Organisation("Acme", "123", "KZ-BIN")
    assert registered("Acme", "", "KZ-BIN") == Organisation("Acme")


def test_local_datetime_reads_a_bare_time_in_the_portals_zone() -> None:
    kyiv = timezone(timedelta(hours=3))

    assert local_datetime("2025-03-10T12:00:00", kyiv) == datetime(2025, 3, 10, 12, tzinfo=kyiv)
    assert local_datetime("2025-03-10T12:00:00Z", kyiv) == datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert local_datetime("2025-03-10T12:00:00", lambda local: UTC).tzinfo is UTC
    assert local_datetime("soon", kyiv) is None


def test_shapes_portals_put_nulls_in() -> None:
    assert (mapping(None), mapping({"a": 1})) == ({}, {"a": 1})
    assert dicts([{"a": 1}, None, "x"]) == [{"a": 1}]
    assert folded("  ACME   Ltd ") == "acme ltd"
