"""monitor.orgids: registry ids written one way across portals (cases in
tests/cases/orgids.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor import orgids
from monitor.models import Organisation, TenderRecord
from monitor.tender import diff_tenders, normalise_tender

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "orgids.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES["cases"].values(), ids=list(CASES["cases"]))
def test_normalise(case: dict[str, Any]) -> None:
    assert list(orgids.normalise(*case["in"])) == case["out"]


@pytest.mark.parametrize("pair", CASES["keys"].values(), ids=list(CASES["keys"]))
def test_same_key(pair: list[list[str]]) -> None:
    assert orgids.key(*pair[0]) == orgids.key(*pair[1]) is not None


def test_key_without_an_id_is_none() -> None:
    assert orgids.key("UA-EDR", None) is None
    assert orgids.key(None, " 123 ") == "123"


def test_a_winner_stored_before_ids_were_normalised_is_not_a_new_winner() -> None:
    """A version stored with TED's `UA-NAT:34051` and the next one normalised to
    `UA-EDR:00034051` name the same winner: no winner_changed event."""
    old = TenderRecord(source="ted", native_id="1",
                       winners=(Organisation("Ukrzaliznytsia", "34051", "UA-NAT"),))
    new = normalise_tender(old)
    assert new.winners[0].registry_id == "UA-EDR:00034051"
    assert diff_tenders(old, new) == ()


def test_a_watch_id_in_another_form_finds_the_organisation() -> None:
    from monitor.config import Watch
    from monitor.match import Matcher, match_tender

    record = normalise_tender(TenderRecord(
        source="ted", native_id="1", title="Scanners",
        winners=(Organisation("Nuctech Warsaw", "34051", "UA-NAT"),)))
    matcher = Matcher((Watch(name="Nuctech", ids=["UA-EDRPOU:34051"]),))
    found = [(m.term_kind, m.field, m.found) for m in match_tender(matcher, record)]
    assert ("id", "winner", "UA-EDR:00034051") in found
