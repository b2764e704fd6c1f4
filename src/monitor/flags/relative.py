"""Dataset-relative red flags: a tender's measure against the same measure over the
portal's stored records, with Tukey's interquartile fences (an outlier lies below
Q1 - 1.5 IQR or above Q3 + 1.5 IQR), as Cardinal computes them (R024 price close to
winning bid, R038 excessive disqualified bids, R048 heterogeneous supplier, R058 heavily
discounted bid). They run only once the portal has `flags.relative_min_records` records
(100 by default) carrying the measure: fences over fewer records flag noise. Their flags
say `relative: true` and give the fence and the number of records it came from.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from monitor.flags.model import Flag
from monitor.models import TenderRecord

__all__ = ["MEASURES", "Fences", "fences_of", "relative_flags"]


@dataclass(frozen=True, slots=True)
class Fence:
    low: float
    high: float
    records: int


@dataclass(frozen=True, slots=True)
class Fences:
    """Per measure, the fence over the portal's records (absent: too few records), and
    each supplier's number of CPV divisions (for `heterogeneous_supplier`)."""

    by_measure: dict[str, Fence]
    divisions: dict[str, int]
    records: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"by_measure": {k: [f.low, f.high, f.records] for k, f in self.by_measure.items()},
                "divisions": self.divisions, "records": self.records}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fences:
        return cls({k: Fence(*v) for k, v in data["by_measure"].items()},
                   dict(data["divisions"]), dict(data["records"]))


def _valid_prices(record: TenderRecord) -> list[float]:
    return sorted(b.value for b in record.bids
                  if b.status == "valid" and b.value is not None and b.lot is None) or sorted(
        b.value for b in record.bids if b.status == "valid" and b.value is not None)


def _winning_price(record: TenderRecord) -> float | None:
    winners = {o.key for o in record.winners}
    prices = [b.value for b in record.bids if b.value is not None
              and {o.key for o in b.tenderers} & winners]
    if prices:
        return min(prices)
    return record.award_value


def second_bid_gap(record: TenderRecord) -> float | None:
    """(second-lowest valid bid - winning bid) / winning bid."""
    prices, won = _valid_prices(record), _winning_price(record)
    if won is None or won <= 0 or len(prices) < 2:
        return None
    others = [p for p in prices if p != won] or prices[1:]
    return (min(others) - won) / won


def discount(record: TenderRecord) -> float | None:
    """winning price / estimated value."""
    won = _winning_price(record)
    if won is None or not record.value or record.value <= 0 or not record.winners:
        return None
    if record.award_currency and record.currency and record.award_currency != record.currency:
        return None
    return won / record.value


def disqualified_share(record: TenderRecord) -> float | None:
    """disqualified bids / bids received."""
    received = [b for b in record.bids if b.status and b.status != "withdrawn"]
    if len(received) < 2 or any(b.status is None for b in record.bids):
        return None
    return sum(b.status == "disqualified" for b in received) / len(received)


# measure -> (function, which side is the outlier, rule, words)
MEASURES: dict[str, tuple[Callable[[TenderRecord], float | None], str, str]] = {
    "second_bid_gap": (second_bid_gap, "low", "close_to_winning_bid"),
    "discount": (discount, "low", "heavily_discounted"),
    "disqualified_share": (disqualified_share, "high", "excessive_disqualifications"),
}


def _fence(values: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    spread = q3 - q1
    return q1 - 1.5 * spread, q3 + 1.5 * spread


def fences_of(records: Iterable[TenderRecord], min_records: int) -> Fences:
    """The fences over a portal's records (their latest versions)."""
    values: dict[str, list[float]] = defaultdict(list)
    divisions: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for name, (measure, _, _) in MEASURES.items():
            value = measure(record)
            if value is not None:
                values[name].append(value)
        for winner in record.winners:
            divisions[winner.key] |= {c[:2] for c in record.cpv if c[:2].isdigit()}
    by_measure = {name: Fence(*_fence(v), records=len(v)) for name, v in values.items()
                  if len(v) >= min_records}
    counts = {key: len(d) for key, d in divisions.items() if d}
    if len(counts) >= min_records:
        low, high = _fence([float(c) for c in counts.values()])
        by_measure["divisions"] = Fence(low, high, records=len(counts))
    records_of = {name: len(v) for name, v in values.items()} | {"divisions": len(counts)}
    return Fences(by_measure, counts, records_of)


def relative_flags(record: TenderRecord, fences: Fences, min_records: int) -> list[Flag]:
    """The relative rules' verdicts on one record."""
    out: list[Flag] = []
    for name, (measure, side, rule) in MEASURES.items():
        value = measure(record)
        fence = fences.by_measure.get(name)
        if value is None:
            out.append(Flag(rule, "not_computable", "the portal does not give what this "
                            "needs for this tender", relative=True))
            continue
        if fence is None:
            out.append(Flag(rule, "not_computable", f"{fences.records.get(name, 0)} of the "
                            f"{min_records} records needed to compare with", {name: value},
                            relative=True))
            continue
        limit = fence.low if side == "low" else fence.high
        outlier = value < limit if side == "low" else value > limit
        thresholds = {"fence": round(limit, 4), "side": side, "records": fence.records}
        out.append(Flag(rule, "flagged" if outlier else "clear",
                        f"{rule.replace('_', ' ')}: {name.replace('_', ' ')} {value:.3f}, "
                        f"{'below' if side == 'low' else 'above'} the portal's fence "
                        f"{limit:.3f} ({fence.records} records)" if outlier else "",
                        {name: round(value, 4)}, thresholds, relative=True))
    out.append(_heterogeneous(record, fences, min_records))
    return out


def _heterogeneous(record: TenderRecord, fences: Fences, min_records: int) -> Flag:
    """R048: a winner wins across many more CPV divisions than suppliers usually do."""
    rule = "heterogeneous_supplier"
    fence = fences.by_measure.get("divisions")
    if not record.winners:
        return Flag(rule, "not_computable", "not awarded yet", relative=True)
    if fence is None:
        return Flag(rule, "not_computable", f"{fences.records.get('divisions', 0)} of the "
                    f"{min_records} suppliers needed to compare with", relative=True)
    spread = {w.name or w.key: fences.divisions.get(w.key, 0) for w in record.winners}
    over = {name: n for name, n in spread.items() if n > fence.high}
    thresholds = {"fence": round(fence.high, 4), "side": "high", "records": fence.records}
    if not over:
        return Flag(rule, "clear", "", {"divisions": spread}, thresholds, relative=True)
    words = ", ".join(f"{name} wins in {n} CPV divisions" for name, n in over.items())
    return Flag(rule, "flagged", f"heterogeneous supplier: {words} (fence {fence.high:.1f})",
                {"divisions": spread}, thresholds, relative=True)
