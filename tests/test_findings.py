"""monitor.findings: a finding as a person sees it; the wording of tender events, money and
dates. How findings are gathered into a digest is tested in test_digest.py."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.findings import describe_event, money, when


@pytest.mark.parametrize(("kind", "field", "old", "new", "sentence"), [
    ("awarded", "winners", [], [{"name": "A", "id": "1", "scheme": "UA-EDR"}],
     "awarded to A (UA-EDR:1)"),
    ("winner_changed", "winners", [{"name": "A"}], [{"name": "B"}], "winner changed: A -> B"),
    ("winner_changed", "winners", [{"name": "A"}], [], "award annulled (was A)"),
    ("value_changed", "value", {"amount": 2_100_000, "currency": "GEL"},
     {"amount": 3_200_000, "currency": "GEL"}, "value 2.1 M -> 3.2 M GEL"),
    ("value_changed", "value", {"amount": 950_000, "currency": "USD"},
     {"amount": 1_000_000, "currency": "EUR"}, "value 950,000 USD -> 1 M EUR"),
    ("value_changed", "award_value", None, {"amount": 12.5, "currency": "KZT"},
     "awarded value set to 12.50 KZT"),
    ("cancelled", "status", "active", "cancelled", "cancelled (status cancelled)"),
    ("deadline_changed", "deadline", "2026-12-01T10:00:00+00:00", "2026-12-15T10:00:00+00:00",
     "deadline 2026-12-01 -> 2026-12-15"),
    ("document_removed", "documents", {"url": "https://p.example/a.pdf", "title": "Award",
                                       "kind": "awardNotice"}, None,
     "document removed from the portal: Award (https://p.example/a.pdf)"),
])
def test_describe_event(kind: str, field: str, old: Any, new: Any, sentence: str) -> None:
    assert describe_event(kind, field, old, new) == sentence


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (2_100_000, "GEL", "2.1 M GEL"), (950_000, None, "950,000"), (12.5, "KZT", "12.50 KZT"),
    (3_200_000_000, "UAH", "3.2 B UAH"), (None, "GEL", None),
])
def test_money(amount: float | None, currency: str | None, shown: str | None) -> None:
    assert money(amount, currency) == shown


@pytest.mark.parametrize(("stored", "shown"), [
    ("2024-05-01T10:00:00+00:00", "2024-05-01 10:00 UTC"),
    ("2024-05-01T14:00:00+04:00", "2024-05-01 10:00 UTC"),
    ("2026-12-01", "2026-12-01"),  # a day, not midnight UTC
    ("2026-12-01T00:00:00+00:00", "2026-12-01"),
    ("not a date", "not a date"), (None, ""),
])
def test_when(stored: str | None, shown: str) -> None:
    assert when(stored) == shown
