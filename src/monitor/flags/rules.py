"""The red-flag rules on one tender: pure functions of its record, its earlier versions and,
for the buyer-level rules, the buyer's other tenders.

The definitions follow the Open Contracting Partnership's red flags as Cardinal implements
them (cardinal.readthedocs.io, "Indicators": R003 short submission period, R018 single bid
received, R028 identical bid prices, R030 late bid won, R035 all except winning bid
disqualified, R036 lowest bid disqualified, R044 business similarities between suppliers)
and, for split purchases, repeated awards under a threshold and price changes with a longer
term, the risk indicators Ukraine's State Audit Service runs over Prozorro (the thresholds
of the Law of Ukraine "On Public Procurement", art. 3: 400,000 UAH for goods and services,
1,500,000 UAH for works). Where the portal does not publish what a rule needs, the verdict
is `not_computable`, never `clear`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.config import FlagSettings
from monitor.config.settings import Thresholds
from monitor.flags.model import Flag
from monitor.models import Bid, Organisation, TenderRecord

# award criteria codes that mean the lowest price wins (OCDS awardCriteria, Prozorro)
PRICE_ONLY = frozenset({"priceonly", "lowestcost", "lowestprice", "price"})
# procedures that are direct awards or negotiations without a call, by code
_DIRECT = frozenset({"reporting", "negotiation", "negotiation.quick", "neg-wo-call",
                     "oth-single", "direct", "limited"})
# built-in open-procedure thresholds per portal (a source's `flags.thresholds` wins)
PORTAL_THRESHOLDS: dict[str, Thresholds] = {
    "prozorro": Thresholds(goods=400_000, services=400_000, works=1_500_000, currency="UAH"),
}


@dataclass(frozen=True, slots=True)
class Context:
    """What the rules read besides the record: the limits, the source's open-procedure
    thresholds (None: unknown), the tender's earlier versions (oldest first) and the
    buyer's other tenders (their latest versions)."""

    settings: FlagSettings = field(default_factory=FlagSettings)
    thresholds: Thresholds | None = None
    versions: tuple[TenderRecord, ...] = ()
    buyer_tenders: tuple[TenderRecord, ...] = ()


def when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def competitive(record: TenderRecord) -> bool | None:
    """True for procedures where bids compete, False for direct awards, None unknown."""
    if record.method:
        return record.method.lower() in ("open", "selective")
    code = (record.procedure or "").strip()
    if not code:
        return None
    return code.lower() not in _DIRECT and code not in _DIRECT


def _money(value: float | None, currency: str | None) -> str:
    if value is None:
        return "?"
    return f"{value:,.0f} {currency or ''}".strip()


def _lots(bids: Iterable[Bid]) -> dict[str | None, list[Bid]]:
    by_lot: dict[str | None, list[Bid]] = defaultdict(list)
    for bid in bids:
        by_lot[bid.lot].append(bid)
    return dict(by_lot)


def _received(bids: Sequence[Bid]) -> list[Bid]:
    return [b for b in bids if b.status != "withdrawn"]


def _lot_name(lot: str | None) -> str:
    return f"lot {lot}" if lot else "the tender"


def _keys(orgs: Iterable[Organisation]) -> set[str]:
    return {o.key for o in orgs}


def _winning(bids: Sequence[Bid], winners: set[str]) -> list[Bid]:
    return [b for b in bids if _keys(b.tenderers) & winners]


# -- one tender ---------------------------------------------------------------------------------


def single_bid(record: TenderRecord, ctx: Context) -> Flag:
    """R018: a competitive procedure (or one of its lots) received exactly one bid."""
    rule = "single_bid"
    if competitive(record) is False:
        return Flag(rule, "not_applicable", "not a competitive procedure",
                    {"procedure": record.procedure, "method": record.method})
    if record.bids:
        counts = {lot: len(_received(bids)) for lot, bids in _lots(record.bids).items()}
    elif record.bids_received is not None:
        counts = {None: record.bids_received}
    else:
        return Flag(rule, "not_computable", "the portal lists no bids for this tender (yet)")
    single = sorted((str(lot or ""), n) for lot, n in counts.items() if n == 1)
    inputs = {"bids": {str(lot or "tender"): n for lot, n in counts.items()}}
    if not single:
        return Flag(rule, "clear", "", inputs, {"flagged at": 1})
    where = ", ".join(_lot_name(lot or None) for lot, _ in single)
    return Flag(rule, "flagged", f"single bid ({where})" if len(counts) > 1 else "single bid",
                inputs, {"flagged at": 1})


def short_period(record: TenderRecord, ctx: Context) -> Flag:
    """R003: the submission period (tender period start to deadline) is shorter than the
    threshold for the procedure (`flags.min_period_days`, by procedure code, else method,
    else `open`; 15 days by default). Exactly the threshold is not short."""
    rule = "short_period"
    if competitive(record) is False:
        return Flag(rule, "not_applicable", "not a competitive procedure",
                    {"procedure": record.procedure})
    start, end = when(record.tender_start), when(record.deadline)
    if start is None or end is None:
        return Flag(rule, "not_computable", "the portal gives no tender period start or "
                    "deadline", {"tender_start": record.tender_start,
                                 "deadline": record.deadline})
    limits = ctx.settings.min_period_days
    limit = limits.get(record.procedure) or limits.get(record.method or "") or limits.get(
        "open", 15.0)
    days = (end - start) / timedelta(days=1)
    inputs = {"tender_start": record.tender_start, "deadline": record.deadline,
              "days": round(days, 2)}
    thresholds = {"min_days": limit}
    if days >= limit:
        return Flag(rule, "clear", "", inputs, thresholds)
    shown = f"{days:g}" if days == int(days) else f"{math.floor(days * 10) / 10:g}"
    return Flag(rule, "flagged", f"submission period {shown} days (threshold {limit:g})",
                inputs, thresholds)


def _awarded_with_bids(record: TenderRecord, rule: str) -> Flag | None:
    """The not-computable verdict when a bid-and-award rule cannot run, else None."""
    if not record.bids:
        return Flag(rule, "not_computable", "the portal lists no bids for this tender")
    if any(b.status is None for b in record.bids):
        return Flag(rule, "not_computable", "the portal gives no status for some bids")
    if not record.winners:
        return Flag(rule, "not_computable", "not awarded yet")
    return None


def all_but_winner_disqualified(record: TenderRecord, ctx: Context) -> Flag:
    """R035: every bid but the winner's was disqualified (two bids or more, in a lot)."""
    rule = "all_but_winner_disqualified"
    if (missing := _awarded_with_bids(record, rule)) is not None:
        return missing
    winners = _keys(record.winners)
    hits: list[str] = []
    inputs: dict[str, dict[str, int]] = {}
    for lot, bids in _lots(_received(record.bids)).items():
        won = _winning(bids, winners)
        others = [b for b in bids if b not in won]
        out = sum(b.status == "disqualified" for b in others)
        inputs[str(lot or "tender")] = {"bids": len(bids), "disqualified": out}
        if won and others and out == len(others):
            hits.append(f"{_lot_name(lot)}: {out} of {len(bids)} bids disqualified, all but "
                        "the winner's")
    if not hits:
        return Flag(rule, "clear", "", {"lots": inputs})
    return Flag(rule, "flagged", "; ".join(hits), {"lots": inputs})


def lowest_bid_disqualified(record: TenderRecord, ctx: Context) -> Flag:
    """R036: under a price-only award, the lowest-priced bid was disqualified."""
    rule = "lowest_bid_disqualified"
    criteria = (record.award_criteria or "").replace("_", "").replace(" ", "").lower()
    if not criteria:
        return Flag(rule, "not_computable", "the portal gives no award criteria")
    if criteria not in PRICE_ONLY:
        return Flag(rule, "not_applicable", f"award criteria {record.award_criteria}, not "
                    "price only", {"award_criteria": record.award_criteria})
    if not record.bids or any(b.status is None for b in record.bids):
        return Flag(rule, "not_computable", "the portal lists no bids with their status")
    hits: list[str] = []
    inputs: dict[str, object] = {"award_criteria": record.award_criteria}
    for lot, bids in _lots(_received(record.bids)).items():
        priced = [b for b in bids if b.value is not None]
        if len(priced) < 2:
            continue
        lowest = min(priced, key=lambda b: b.value or 0.0)
        inputs[str(lot or "tender")] = {"lowest": lowest.value, "status": lowest.status}
        if lowest.status == "disqualified":
            hits.append(f"{_lot_name(lot)}: the lowest bid ({_money(lowest.value, lowest.currency)}"
                        ") was disqualified")
    if not hits:
        return Flag(rule, "clear", "", inputs)
    return Flag(rule, "flagged", "; ".join(hits), inputs)


def identical_prices(record: TenderRecord, ctx: Context) -> Flag:
    """R028: two different tenderers bid exactly the same price in one lot."""
    rule = "identical_prices"
    priced = [b for b in _received(record.bids) if b.value is not None]
    if len(priced) < 2:
        if not record.bids:
            return Flag(rule, "not_computable", "the portal lists no bids for this tender")
        if len(priced) < len(_received(record.bids)):
            return Flag(rule, "not_computable", "the portal gives no price for some bids")
        return Flag(rule, "clear", "", {"priced_bids": len(priced)})
    hits: list[str] = []
    for lot, bids in _lots(priced).items():
        by_price: dict[tuple[float | None, str | None], set[str]] = defaultdict(set)
        for bid in bids:
            by_price[(bid.value, bid.currency)] |= _keys(bid.tenderers)
        for (value, currency), who in by_price.items():
            if len(who) > 1:
                hits.append(f"{_lot_name(lot)}: {len(who)} tenderers bid "
                            f"{_money(value, currency)}")
    inputs = {"prices": [[b.lot, b.value, b.currency] for b in priced]}
    if not hits:
        return Flag(rule, "clear", "", inputs)
    return Flag(rule, "flagged", "identical bid prices: " + "; ".join(hits), inputs)


def late_winning_bid(record: TenderRecord, ctx: Context) -> Flag:
    """R030: the winner's bid was received after the submission deadline."""
    rule = "late_winning_bid"
    deadline = when(record.deadline)
    if deadline is None:
        return Flag(rule, "not_computable", "the portal gives no deadline")
    if not record.bids:
        return Flag(rule, "not_computable", "the portal lists no bids for this tender")
    if not record.winners:
        return Flag(rule, "not_computable", "not awarded yet")
    won = _winning(_received(record.bids), _keys(record.winners))
    dated = [(b, d) for b in won if (d := when(b.date)) is not None]
    if not dated:
        return Flag(rule, "not_computable", "the portal gives no time for the winning bid")
    late = [(b, d) for b, d in dated if d > deadline]
    inputs = {"deadline": record.deadline, "winning_bids": [b.date for b, _ in dated]}
    if not late:
        return Flag(rule, "clear", "", inputs)
    hours = max((d - deadline) / timedelta(hours=1) for _, d in late)
    return Flag(rule, "flagged", f"winning bid received {hours:.1f} h after the deadline",
                inputs)


def price_change_with_extension(record: TenderRecord, ctx: Context) -> Flag:
    """A signed contract's price went up while its term was extended, between the first
    stored version that shows the contract and this one."""
    rule = "price_change_with_extension"
    if not record.contracts:
        return Flag(rule, "not_computable", "no signed contract in this version")
    first: dict[str, tuple[float | None, str | None]] = {}
    for version in ctx.versions:
        for contract in version.contracts:
            first.setdefault(contract.id, (contract.value, contract.end_date))
    hits: list[str] = []
    inputs: dict[str, object] = {}
    for contract in record.contracts:
        if contract.id not in first:
            continue
        value, end = first[contract.id]
        inputs[contract.id] = {"value": [value, contract.value], "end": [end, contract.end_date]}
        was, now = when(end), when(contract.end_date)
        if (value is not None and contract.value is not None and contract.value > value
                and was is not None and now is not None and now > was):
            hits.append(f"contract {contract.id}: price {_money(value, contract.currency)} -> "
                        f"{_money(contract.value, contract.currency)}, term extended by "
                        f"{(now - was).days} days")
    if not inputs:
        return Flag(rule, "not_computable", "no earlier version of the contract stored")
    if not hits:
        return Flag(rule, "clear", "", inputs)
    return Flag(rule, "flagged", "; ".join(hits), inputs)


def _contact_parts(org: Organisation) -> set[str]:
    return {p.strip().casefold().replace(" ", "") for p in (org.contact or "").split(";")
            if p.strip()}


def linked_bidders(record: TenderRecord, ctx: Context) -> Flag:
    """R044: competing tenderers share a registry id (under different names), a postal
    address or a contact (e-mail, telephone)."""
    rule = "linked_bidders"
    tenderers = list({o.key: o for b in _received(record.bids) for o in b.tenderers}.values())
    if not record.bids:
        tenderers = list(record.bidders)
    if len(tenderers) < 2:
        if not record.bids and not record.bidders:
            return Flag(rule, "not_computable", "the portal lists no tenderers")
        return Flag(rule, "clear", "", {"tenderers": len(tenderers)})
    if not any(o.address or o.contact for o in tenderers) and not any(
            o.id for o in tenderers):
        return Flag(rule, "not_computable", "the portal gives no ids, addresses or contacts")
    hits: list[str] = []
    for i, a in enumerate(tenderers):
        for b in tenderers[i + 1:]:
            shared = []
            if a.id and a.registry_id == b.registry_id and a.name != b.name:
                shared.append(f"registry id {a.registry_id}")
            if a.address and b.address and a.address.casefold() == b.address.casefold():
                shared.append(f"address {a.address}")
            if common := _contact_parts(a) & _contact_parts(b):
                shared.append("contact " + ", ".join(sorted(common)))
            if shared:
                hits.append(f"{a.name} and {b.name} share " + "; ".join(shared))
    if not hits:
        return Flag(rule, "clear", "", {"tenderers": len(tenderers)})
    return Flag(rule, "flagged", "linked bidders: " + "; ".join(hits),
                {"tenderers": len(tenderers)})


# -- the buyer's other tenders ----------------------------------------------------------------


def subject(record: TenderRecord) -> str | None:
    """The subject a split purchase is judged on: the CPV's first 4 digits, 5 for works."""
    if not record.cpv:
        return None
    digits = "".join(ch for ch in record.cpv[0] if ch.isdigit())
    return digits[: 5 if (record.category or "").lower() == "works" else 4] or None


def just_under(record: TenderRecord, thresholds: Thresholds | None,
               settings: FlagSettings) -> bool:
    """The record's awarded value is at most `repeat_below_percent` under its threshold."""
    limit = thresholds.of(record.category) if thresholds else None
    value = _award_value(record)
    if limit is None or value is None or thresholds is None:
        return False
    currency = record.award_currency or record.currency or thresholds.currency
    return (currency == thresholds.currency
            and limit * (1 - settings.repeat_below_percent / 100) <= value < limit)


def award_when(record: TenderRecord) -> datetime | None:
    return _award_when(record)


def _award_when(record: TenderRecord) -> datetime | None:
    return when(record.award_date or record.contract_date or record.published)


def _award_value(record: TenderRecord) -> float | None:
    return record.award_value if record.award_value is not None else record.value


def _threshold(record: TenderRecord, ctx: Context, rule: str) -> tuple[float, str] | Flag:
    if ctx.thresholds is None:
        return Flag(rule, "not_computable", "no open-procedure thresholds are known for this "
                    "source (flags.thresholds)")
    limit = ctx.thresholds.of(record.category)
    if limit is None:
        return Flag(rule, "not_computable", "the portal gives no category (goods, services, "
                    "works) for this tender", {"category": record.category})
    return limit, ctx.thresholds.currency


def split_purchase(record: TenderRecord, ctx: Context) -> Flag:
    """One buyer, one subject (CPV 4 digits; 5 for works), one calendar year: direct awards
    each under the open-procedure threshold whose sum crosses it."""
    rule = "split_purchase"
    if competitive(record) is not False:
        return Flag(rule, "not_applicable", "not a direct award",
                    {"procedure": record.procedure, "method": record.method})
    limit = _threshold(record, ctx, rule)
    if isinstance(limit, Flag):
        return limit
    threshold, currency = limit
    cpv, day = subject(record), _award_when(record)
    if cpv is None or day is None or record.buyer is None:
        return Flag(rule, "not_computable", "the tender has no CPV code, date or buyer")
    same = [t for t in (*ctx.buyer_tenders, record)
            if competitive(t) is False and t.winners and subject(t) == cpv
            and (d := _award_when(t)) is not None and d.year == day.year
            and (t.award_currency or t.currency or currency) == currency
            and (v := _award_value(t)) is not None and v < threshold]
    same = list({t.native_id: t for t in same}.values())
    total = sum(_award_value(t) or 0.0 for t in same)
    inputs = {"subject": cpv, "year": day.year, "total": total, "currency": currency,
              "tenders": sorted(t.native_id for t in same)}
    thresholds = {"threshold": threshold}
    if record.winners and len(same) > 1 and total >= threshold:
        return Flag(rule, "flagged", f"split purchase: {len(same)} direct awards for CPV "
                    f"{cpv} in {day.year} sum to {_money(total, currency)} (threshold "
                    f"{_money(threshold, currency)})", inputs, thresholds)
    return Flag(rule, "clear", "", inputs, thresholds)


def repeated_under_threshold(record: TenderRecord, ctx: Context) -> Flag:
    """`flags.repeat_count` (2) or more awards from one buyer to one supplier within
    `repeat_months` (12), each at most `repeat_below_percent` (5 %) under the threshold."""
    rule = "repeated_under_threshold"
    if not record.winners:
        return Flag(rule, "not_computable", "not awarded yet")
    limit = _threshold(record, ctx, rule)
    if isinstance(limit, Flag):
        return limit
    threshold, currency = limit
    settings = ctx.settings
    floor = threshold * (1 - settings.repeat_below_percent / 100)
    day = _award_when(record)
    if day is None or record.buyer is None:
        return Flag(rule, "not_computable", "the tender has no award date or buyer")
    window = timedelta(days=30.44 * settings.repeat_months)

    def under(t: TenderRecord) -> bool:
        return just_under(t, ctx.thresholds, settings)

    if not under(record):
        return Flag(rule, "clear", "", {"value": _award_value(record)},
                    {"from": floor, "below": threshold})
    hits: list[str] = []
    for winner in record.winners:
        same = [t for t in (*ctx.buyer_tenders, record) if winner.key in _keys(t.winners)
                and under(t) and (d := _award_when(t)) is not None
                and abs(d - day) <= window]
        same = list({t.native_id: t for t in same}.values())
        if len(same) >= settings.repeat_count:
            hits.append(f"{len(same)} awards to {winner.name or winner.registry_id} within "
                        f"{settings.repeat_months} months, each just under "
                        f"{_money(threshold, currency)}")
    inputs = {"value": _award_value(record), "currency": currency}
    thresholds = {"from": floor, "below": threshold, "count": settings.repeat_count}
    if not hits:
        return Flag(rule, "clear", "", inputs, thresholds)
    return Flag(rule, "flagged", "; ".join(hits), inputs, thresholds)


RULES: dict[str, Callable[[TenderRecord, Context], Flag]] = {
    "single_bid": single_bid,
    "short_period": short_period,
    "all_but_winner_disqualified": all_but_winner_disqualified,
    "lowest_bid_disqualified": lowest_bid_disqualified,
    "identical_prices": identical_prices,
    "late_winning_bid": late_winning_bid,
    "split_purchase": split_purchase,
    "repeated_under_threshold": repeated_under_threshold,
    "price_change_with_extension": price_change_with_extension,
    "linked_bidders": linked_bidders,
}
