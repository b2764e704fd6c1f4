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


# -- stored with tenders, and `monitor flags` ------------------------------------------------

FLAGS_CONFIG = """\
sources:
  - name: prozorro_ua
    kind: portal
    portal: prozorro
    url: https://public-api.prozorro.gov.ua/api/2.5
watches:
  - name: Customs
    match_name: false
    ids: ["UA-EDR:43115923"]
    flags: [single_bid]
"""


def _store_cases(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    from monitor.config import load_config
    from monitor.flags.compute import Flagger
    from monitor.match import Matcher, match_tender
    from monitor.store import open_store
    from monitor.tender import record_tender

    config_path = tmp_path / "sources.yaml"
    config_path.write_text(FLAGS_CONFIG, "utf-8")
    config = load_config(config_path)
    state = tmp_path / "state"
    matcher = Matcher(config.watches)
    with open_store(state) as store:
        flagger = Flagger(store, config)
        for i, name in enumerate(names):
            data = merged(CASES["bases"]["prozorro"], CASES["cases"][name].get("change", {}))
            data["tenderID"] = f"UA-2026-01-12-{i:06d}-a"
            record = normalise_tender(tender_record(data, source="prozorro_ua", raw_hash=None))
            record_tender(store, record, matches=match_tender(matcher, record), flagger=flagger)
    return config_path, state


def _flags_cli(config: Path, state: Path, *args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from monitor.cli import cli

    return CliRunner().invoke(cli, ["--config", str(config), "--state", str(state), "flags",
                                    *args])


def test_flags_are_stored_with_the_version_and_hold_back_plain_buyer_findings(
        tmp_path: Path) -> None:
    from monitor.store import open_store

    _, state = _store_cases(tmp_path, "one bid on an open tender",
                            "two valid bids is not a single bid")
    with open_store(state) as store:
        tenders = {t.native_id: t for t in store.tenders()}
        single = store.tender_flags(tenders["UA-2026-01-12-000000-a"].id)
        numbers = {t.id: t.native_id for t in tenders.values()}
        matched = {numbers[m.tender_id] for m in store.tender_matches()}
    assert {f.rule: f.state for f in single}["single_bid"] == "flagged"
    assert [f.rule for f in single] == list(ALL_RULES_ORDER)
    assert single[0].inputs == {"bids": {"tender": 1}} and single[0].rule_version >= 1
    # the watch asked for single bids only: the two-bid award of its buyer is held back
    assert matched == {"UA-2026-01-12-000000-a"}


ALL_RULES_ORDER = ("single_bid", "short_period", "all_but_winner_disqualified",
                   "lowest_bid_disqualified", "identical_prices", "late_winning_bid",
                   "split_purchase", "repeated_under_threshold", "price_change_with_extension",
                   "linked_bidders", "close_to_winning_bid", "heavily_discounted",
                   "excessive_disqualifications", "heterogeneous_supplier")


def test_monitor_flags_lists_filters_and_exports(tmp_path: Path) -> None:
    import csv
    import io
    import json

    config, state = _store_cases(tmp_path, "one bid on an open tender", "six days",
                                 "identical prices from two tenderers")
    listed = _flags_cli(config, state)
    assert listed.exit_code == 0, listed.output
    assert "UA-2026-01-12-000000-a  single bid" in listed.output
    assert "submission period 6 days (threshold 15)" in listed.output
    rows = json.loads(_flags_cli(config, state, "--json").output)
    assert sorted((r["native_id"][-8:], r["rule"]) for r in rows) == [
        ("000000-a", "single_bid"), ("000001-a", "late_winning_bid"),
        ("000001-a", "short_period"), ("000002-a", "identical_prices")]
    only = json.loads(_flags_cli(config, state, "--json", "--rule", "short_period").output)
    assert [r["native_id"] for r in only] == ["UA-2026-01-12-000001-a"]
    by_buyer = json.loads(_flags_cli(config, state, "--json", "--buyer",
                                     "UA-EDR:43115923").output)
    assert len(by_buyer) == 4
    assert json.loads(_flags_cli(config, state, "--json", "--buyer", "nobody").output) == []
    by_supplier = json.loads(_flags_cli(config, state, "--json", "--supplier",
                                        "скантех").output)
    assert len(by_supplier) == 4
    assert json.loads(_flags_cli(config, state, "--json", "--since", "2027-01-01").output) == []
    table = list(csv.reader(io.StringIO(_flags_cli(config, state, "--csv").output)))
    assert table[0][:5] == ["published", "source", "tender", "rule", "summary"]
    assert len(table) == 5
    wrong = _flags_cli(config, state, "--all")
    assert wrong.exit_code == 2 and "--all only goes with --recompute" in wrong.output
    unknown = _flags_cli(config, state, "--rule", "nepotism")
    assert unknown.exit_code == 2 and "nepotism" in unknown.output


def test_recompute_redoes_missing_and_older_flags_with_progress(tmp_path: Path) -> None:
    from monitor.store import open_store

    config, state = _store_cases(tmp_path, "one bid on an open tender", "six days")
    with open_store(state) as store:
        store.db.conn.execute("UPDATE tender_flags SET rule_version = 0 WHERE rule = 'single_bid'")
        store.db.conn.execute("DELETE FROM tender_flags WHERE tender_id = 2")
        store.db.conn.commit()
    result = _flags_cli(config, state, "--recompute")
    assert result.exit_code == 0, result.output
    assert "red flags computed for 2 tender version(s)" in result.output
    with open_store(state) as store:
        assert {f.rule_version for f in store.tender_flags(1)} == {1}
        assert len(store.tender_flags(2)) == len(ALL_RULES_ORDER)
    again = _flags_cli(config, state, "--recompute")
    assert "red flags computed for 0 tender version(s)" in again.output
    every = _flags_cli(config, state, "--recompute", "--all")
    assert "red flags computed for 2 tender version(s)" in every.output


def test_a_watch_asking_for_an_unknown_flag_is_a_config_error(tmp_path: Path) -> None:
    from monitor.config import load_config
    from monitor.errors import ConfigError

    path = tmp_path / "sources.yaml"
    path.write_text(FLAGS_CONFIG.replace("[single_bid]", "[single_bids]"), "utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message and "single_bids" in message and "flags" in message


def test_thresholds_for_an_unknown_source_are_a_config_error(tmp_path: Path) -> None:
    from monitor.config import load_config
    from monitor.errors import ConfigError

    path = tmp_path / "sources.yaml"
    path.write_text(FLAGS_CONFIG + "flags:\n  thresholds:\n    prozoro: {goods: 1, services: 1, "
                    "works: 1, currency: UAH}\n", "utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "no source named 'prozoro'" in str(error.value) and str(path) in str(error.value)
