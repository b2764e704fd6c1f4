"""goszakup's responses as values: an announcement with its lots and contracts as a
`TenderRecord`, journal entries classified, Astana's local times with their offsets, error
objects read. Pure functions; no Scrapy."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawlers.portals.common import (
    dicts,
    error_in,
    local_datetime,
    number,
    registered,
    today_in,
)
from monitor.models import Organisation, TenderLot, TenderRecord

# the portal writes local time (Astana's) without an offset; Kazakhstan has one zone, UTC+5,
# since 2024-03-01 00:00; Astana was UTC+6 before, and records keep their old times
KZ_TIME = timezone(timedelta(hours=5))
KZ_TIME_BEFORE = timezone(timedelta(hours=6))
KZ_ZONE_CHANGE = datetime(2024, 3, 1)
# an announcement's public page
NOTICE_URL = "https://goszakup.gov.kz/ru/announce/index/{id}"
# the register of the BIN/IIN the portal names organisations by, and its one currency
SCHEME = "KZ-BIN"
CURRENCY = "KZT"

# ref_buy_status (GET /v3/refs/ref_buy_status: id, name_ru, code) as status strings; a
# cancellation ends in `cancelled` (monitor.tender.is_cancelled)
BUY_STATUSES: dict[int, str] = {
    190: "published.documentation_changed",  # Изменена документация
    210: "published",  # Опубликовано
    220: "published.order_taking",  # Опубликовано (прием заявок)
    230: "published.addition_demands",  # Опубликовано (дополнение заявок)
    240: "published.price_offers",  # Опубликовано (прием ценовых предложений)
    250: "bid_review",  # Рассмотрение заявок
    260: "bid_review.additions",  # Рассмотрение дополнений заявок
    310: "prequalification_protocol",  # Формирование протокола преддопуска
    350: "complete",  # Завершено
    410: "refusal.cancelled",  # Отказ от закупки
    430: "cancelled",  # Отменено
    440: "on_appeal",  # На обжаловании
    540: "notice_review",  # Принятие решения об исполнении уведомления
}
# statuses in which no contract can exist yet: contracts are not asked for
OPEN_STATUSES = frozenset({190, 210, 220, 230, 240, 250, 260, 310})
# ref_trade_methods ids whose names are documented (GET /v3/refs/ref_trade_methods)
TRADE_METHODS: dict[int, str] = {
    2: "Открытый конкурс",
    3: "Запрос ценовых предложений",
    6: "Из одного источника по несостоявшимся закупкам",
    32: "Конкурс с предварительным квалификационным отбором",
    132: "Первый этап конкурса с использованием рамочного соглашения",
    188: "Конкурс с использованием рейтингово-балльной системы",
}
# journal service names (lower case, letters only) of the objects this spider reads
SERVICES: dict[str, str] = {
    "trdbuy": "announcement", "trdbuys": "announcement", "announcement": "announcement",
    "announcements": "announcement", "contract": "contract", "contracts": "contract",
}
# an object's REST link, as journal entries give it in `url`
_OBJECT_URL = re.compile(r"/(trd-buy|contract)/(\d+)(?:[/?#]|$)")


def announcement_record(buy: dict[str, Any], lots: list[dict[str, Any]],
                        contracts: list[dict[str, Any]], *, source: str,
                        suppliers: dict[str, str], raw_hash: str | None = None) -> TenderRecord:
    """An announcement (/v3/trd-buy/{id}) with its lots and contracts as a record (not yet
    normalised); `suppliers` names the winners by BIIN (a BIIN not in it wins unnamed)."""
    status_id = as_int(buy.get("ref_buy_status_id"))
    method_id = as_int(buy.get("ref_trade_methods_id"))
    signed = [c for c in dicts(contracts) if _awarding(c)]
    winners = [Organisation(name=suppliers.get(biin, ""), id=biin, scheme=SCHEME)
               for biin in winner_biins(contracts)]
    # additional agreements (parent_id set) restate their contract's sum
    sums = [v for c in signed if not c.get("parent_id")
            if (v := number(c.get("contract_sum_wnds"))) is not None]
    currencies = [str(c["ref_currency_code"]) for c in signed if c.get("ref_currency_code")]
    lot_texts = [str(text) for lot in dicts(lots)
                 if (text := lot.get("description_ru") or lot.get("description_kz")
                     or lot.get("name_ru") or lot.get("name_kz"))]
    return TenderRecord(
        source=source,
        native_id=str(buy["number_anno"]),
        title=str(buy.get("name_ru") or buy.get("name_kz") or ""),
        description="\n".join(dict.fromkeys(lot_texts)),
        url=NOTICE_URL.format(id=buy["id"]),
        buyer=_buyer(buy),
        status=(BUY_STATUSES.get(status_id, f"ref_buy_status_id:{status_id}")
                if status_id is not None else ""),
        procedure=(TRADE_METHODS.get(method_id, f"ref_trade_methods_id:{method_id}")
                   if method_id is not None else ""),
        value=number(buy.get("total_sum")),
        currency=CURRENCY,
        published=iso_time(buy.get("publish_date")) or iso_time(buy.get("start_date")),
        deadline=iso_time(buy.get("end_date")),
        award_date=iso_time(buy.get("itogi_date_public")),
        contract_date=min((d for c in signed if (d := iso_time(c.get("sign_date")))),
                          default=None),
        bidders=tuple(winners),
        winners=tuple(winners),
        award_value=sum(sums) if sums else None,
        award_currency=(currencies[0] if currencies else CURRENCY) if sums else None,
        lots=tuple(
            TenderLot(
                id=str(lot.get("lot_number") or lot.get("id") or ""),
                title=str(lot.get("name_ru") or lot.get("name_kz") or ""),
                status=(f"ref_lot_status_id:{lot['ref_lot_status_id']}"
                        if lot.get("ref_lot_status_id") is not None else None),
                value=number(lot.get("amount")),
                currency=CURRENCY,
            )
            for lot in dicts(lots)
        ),
        modified=iso_time(buy.get("last_update_date")),
        raw_hash=raw_hash,
    )


def _buyer(buy: dict[str, Any]) -> Organisation | None:
    """The customer; the organiser when the announcement names no customer."""
    name = buy.get("customer_name_ru") or buy.get("customer_name_kz")
    bin_ = buy.get("customer_bin")
    if not name and not bin_:
        name = buy.get("org_name_ru") or buy.get("org_name_kz")
        bin_ = buy.get("org_bin")
    if not name and not bin_:
        return None
    return registered(str(name or ""), bin_, SCHEME)


# -- values the portal writes -----------------------------------------------------------------


def today() -> date:
    """Today in Kazakhstan."""
    return today_in(KZ_TIME)


def is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def portal_time(value: Any) -> datetime | None:
    """A portal date-time ("2025-03-10 10:12:54", local time) with its offset; None when
    absent or not a date."""
    if value in (None, "") or str(value).startswith("0000"):
        return None
    return local_datetime(str(value).strip(), _zone)


def _zone(local: datetime) -> timezone:
    """Astana's offset at a local time: UTC+5 from 2024-03-01, UTC+6 before."""
    return KZ_TIME if local >= KZ_ZONE_CHANGE else KZ_TIME_BEFORE


def iso_time(value: Any) -> str | None:
    """A portal date-time as ISO-8601 with its offset; a value that is not a date-time is kept
    as published (normalising reports it rather than losing it)."""
    parsed = portal_time(value)
    if parsed is not None:
        return parsed.isoformat()
    return None if value in (None, "") or str(value).startswith("0000") else str(value)


def as_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    """The API's flags come as 0/1, booleans or "0"/"1"."""
    return str(value).strip().lower() in ("1", "true", "t", "y", "yes")


def winner_biins(contracts: list[dict[str, Any]]) -> list[str]:
    """The suppliers' BIN/IIN of the contracts that award (`_awarding`), once each, in order."""
    return list(dict.fromkeys(
        str(c["supplier_biin"]).strip() for c in dicts(contracts)
        if c.get("supplier_biin") and _awarding(c)))


def _awarding(contract: dict[str, Any]) -> bool:
    """Whether a contract names a winner: not deleted, and not cancelled before it was ever
    signed (real contracts carry `ref_contract_cancel_id` 0, or a reason's id once cancelled;
    one the supplier never signed, `sign_date` null, was refused, not won)."""
    if _truthy(contract.get("deleted")):
        return False
    cancelled = as_int(contract.get("ref_contract_cancel_id")) not in (None, 0)
    return not (cancelled and not contract.get("sign_date"))


def classify(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """A journal entry's kind (announcement, contract, None for other services) and object
    id, from its REST link (`url`) or else its `service_name`."""
    match = _OBJECT_URL.search(str(entry.get("url") or ""))
    if match:
        kind = "announcement" if match.group(1) == "trd-buy" else "contract"
        return kind, match.group(2)
    service = re.sub(r"[^a-z]", "", str(entry.get("service_name") or "").lower())
    object_id = entry.get("object_id")
    return SERVICES.get(service), str(object_id).strip() if object_id not in (None, "") else None


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def error_message(data: dict[str, Any]) -> str | None:
    """What an error object says: PortalSpider's shapes, or a bare `{"message": ...}`."""
    problem = error_in(data)
    if problem is not None:
        return problem
    message = data.get("message")
    return str(message) if message not in (None, "") else None
