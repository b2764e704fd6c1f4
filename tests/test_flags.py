"""monitor.flags: red flags on tenders read through the portals' real parsers (cases in
tests/cases/flags.yaml)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawlers.portals.ocds.parse import release_record
from crawlers.portals.prozorro.parse import tender_record
from crawlers.portals.ted.parse import notice_record
from monitor.config import FlagSettings
from monitor.flags import PORTAL_THRESHOLDS, Context, compute_flags, fences_of
from monitor.flags.relative import relative_flags
from monitor.models import Bid, Organisation, TenderRecord
from monitor.tender import normalise_tender

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "flags.yaml").read_text("utf-8"))


def merged(base: Any, change: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(change, dict):
        return copy.deepcopy(change)
    out = copy.deepcopy(base)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merged(out.get(key), value)
    return out


def parse(portal: str, data: dict[str, Any]) -> TenderRecord:
    if portal == "prozorro":
        record = tender_record(data, source="case", raw_hash=None)
    elif portal == "ocds":
        record = release_record(data, source="case", read_from="https://example.org/r.json")
    else:
        record = notice_record(data, source="case")
    return normalise_tender(record)


def verdicts(case: dict[str, Any]) -> dict[str, Any]:
    portal = case.get("portal", "prozorro")
    base = CASES["bases"][portal]
    settings = FlagSettings(**case.get("settings", {}))
    thresholds = settings.thresholds.get("case") or PORTAL_THRESHOLDS.get(portal)
    context = Context(
        settings=settings, thresholds=thresholds,
        versions=tuple(parse(portal, merged(base, v)) for v in case.get("versions", ())),
        buyer_tenders=tuple(parse(portal, merged(base, t))
                            for t in case.get("buyer_tenders", ())))
    record = parse(portal, merged(base, case.get("change", {})))
    return {f.rule: f for f in compute_flags(record, context)}


@pytest.mark.parametrize("case", CASES["cases"].values(), ids=list(CASES["cases"]))
def test_flags(case: dict[str, Any]) -> None:
    flags = verdicts(case)
    assert {rule: flags[rule].state for rule in case["expect"]} == case["expect"]
    for rule, line in case.get("summary", {}).items():
        assert flags[rule].summary == line
    for flag in flags.values():
        assert flag.version >= 1
        if flag.flagged:
            assert flag.summary and flag.inputs  # the numbers to check it by hand


def test_every_rule_gives_a_verdict_on_every_base() -> None:
    from monitor.flags import ALL_RULES

    for portal in CASES["bases"]:
        flags = verdicts({"portal": portal})
        assert set(flags) == set(ALL_RULES)
        assert all(f.state != "clear" or not f.summary for f in flags.values())


def _tender(n: int, won: float, second: float | None, estimate: float = 100.0,
            cpv: str = "38580000") -> TenderRecord:
    winner = Organisation(f"W{n % 7}", f"{40000000 + n % 7}", "UA-EDR")
    bids = [Bid((winner,), value=won, status="valid")]
    if second is not None:
        bids.append(Bid((Organisation(f"L{n}", f"{30000000 + n}", "UA-EDR"),), value=second,
                        status="valid"))
    return TenderRecord(source="p", native_id=str(n), value=estimate, currency="UAH",
                        cpv=(cpv,), winners=(winner,), bids=tuple(bids))


def test_relative_rules_need_enough_records_then_use_the_fences() -> None:
    """A gap to the second bid of 0.1 % among gaps of 5-15 % is a low outlier; with fewer
    records than `relative_min_records` nothing is compared."""
    history = [_tender(n, 90.0 + n % 5, 100.0 + n % 11) for n in range(120)]
    suspicious = _tender(999, 90.0, 90.09)
    few = fences_of(history[:50], min_records=100)
    assert {f.rule: f.state for f in relative_flags(suspicious, few, 100)} == {
        "close_to_winning_bid": "not_computable", "heavily_discounted": "not_computable",
        "excessive_disqualifications": "not_computable",
        "heterogeneous_supplier": "not_computable"}
    fences = fences_of(history, min_records=100)
    flags = {f.rule: f for f in relative_flags(suspicious, fences, 100)}
    assert flags["close_to_winning_bid"].state == "flagged"
    assert flags["close_to_winning_bid"].relative
    assert flags["close_to_winning_bid"].thresholds["records"] == 120
    assert flags["heavily_discounted"].state == "clear"
    normal = {f.rule: f.state for f in relative_flags(history[3], fences, 100)}
    assert normal["close_to_winning_bid"] == "clear"


def test_a_supplier_winning_across_many_cpv_divisions() -> None:
    history = [_tender(n, 90.0, 100.0, cpv=f"{30 + n % 2}000000") for n in range(700)]
    spread = [TenderRecord(source="p", native_id=f"x{d}", cpv=(f"{d}000000",),
                           winners=(Organisation("Everything LLC", "49999999", "UA-EDR"),))
              for d in range(10, 40)]
    fences = fences_of(history + spread, min_records=5)
    flag = next(f for f in relative_flags(spread[0], fences, 5)
                if f.rule == "heterogeneous_supplier")
    assert flag.state == "flagged"
    assert "Everything LLC wins in 30 CPV divisions" in flag.summary
