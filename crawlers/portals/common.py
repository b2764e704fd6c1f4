"""What several portals' `parse` modules read alike: error bodies, OCDS-shaped objects
(organisations, amounts, lots, documents), numbers, local times and names. Pure functions
over values; no Scrapy."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Any

from monitor.models import BidStatus, Contract, Organisation, TenderDocument, TenderLot

# -- JSON as portals send it ----------------------------------------------------------------


def error_in(data: Any) -> str | None:
    """What an error body says, or None when `data` is not an error object. Recognised:
    `{"status": "error", ...}`, `{"errors": [...]}`, `{"error": ...}` (the shapes of
    OpenProcurement, OCDS publishers' frameworks and most REST APIs) and a serialised
    JavaScript Error, `{"name": "Error", "message": ...}` (MTender's gateway)."""
    if not isinstance(data, dict):
        return None
    if data.get("name") == "Error" and "message" in data:
        code = data.get("code")
        return f"{code}: {data['message']}" if code else str(data["message"])
    if "errors" not in data and "error" not in data and data.get("status") != "error":
        return None
    messages: list[str] = []
    for value in (data.get("errors"), data.get("error"), data.get("message")):
        for part in value if isinstance(value, list) else [value]:
            if isinstance(part, dict):
                text = (part.get("description") or part.get("message") or part.get("detail")
                        or json.dumps(part, ensure_ascii=False))
                where = part.get("name") or part.get("code")
                messages.append(f"{where}: {text}" if where else str(text))
            elif part not in (None, "", [], {}):
                messages.append(str(part))
    return "; ".join(messages) or json.dumps(data, ensure_ascii=False)[:200]


def mapping(value: Any) -> dict[str, Any]:
    """`value` when it is an object, else an empty one (portals put nulls where objects
    belong)."""
    return value if isinstance(value, dict) else {}


def dicts(value: Any) -> list[dict[str, Any]]:
    """The dict entries of a list (portals put nulls and strings where objects belong)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# -- money ------------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    """A number as the portal wrote it (number or string); None when absent or not one."""
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def amount(value: Any) -> tuple[float | None, str | None]:
    """`{amount, currency}` as (float, currency); (None, None) when absent or not a number."""
    if not isinstance(value, dict):
        return None, None
    currency = value.get("currency")
    return number(value.get("amount")), str(currency) if currency else None


# -- OCDS-shaped objects (OpenProcurement writes them the same way) -------------------------


def organisation(data: Any, parties: dict[str, Any] | None = None) -> Organisation | None:
    """An organisation from an OCDS/OpenProcurement object: `name` and `identifier` (`id`,
    `scheme`, `legalName`), or an OCDS reference `{id, name}` resolved through `parties`."""
    if not isinstance(data, dict):
        return None
    party = (parties or {}).get(str(data.get("id"))) if data.get("id") is not None else None
    identifier = data.get("identifier")
    if not isinstance(identifier, dict) and isinstance(party, dict):
        identifier = party.get("identifier")
    identifier = identifier if isinstance(identifier, dict) else {}
    name = (data.get("name") or (party or {}).get("name") or identifier.get("legalName") or "")
    registry = identifier.get("id")
    if not name and registry is None:
        return None
    source = data if (data.get("address") or data.get("contactPoint")) else (party or {})
    return Organisation(name=str(name), id=str(registry) if registry is not None else None,
                        scheme=identifier.get("scheme"), address=address(source.get("address")),
                        contact=contact(source.get("contactPoint")))


def address(data: Any) -> str | None:
    """An OCDS address `{streetAddress, locality, region, postalCode, countryName}` as one
    line; None when it has none of them."""
    parts = [str(data[k]).strip() for k in ("streetAddress", "locality", "region",
                                            "postalCode", "countryName")
             if isinstance(data, dict) and data.get(k) and str(data[k]).strip()]
    return ", ".join(parts) or None


def contact(data: Any) -> str | None:
    """An OCDS contact point's e-mail and telephone, `; `-separated (what linked bidders
    share); None without either. The person's name is left out: it is not an identity."""
    if not isinstance(data, dict):
        return None
    parts = [str(data[k]).strip() for k in ("email", "telephone") if data.get(k)
             and str(data[k]).strip()]
    return "; ".join(parts) or None


def bid_status(code: Any) -> BidStatus | None:
    """A portal's bid status as OCDS's bidStatus codelist names it: Prozorro's `invalid`,
    `invalid.pre-qualification` and `unsuccessful` are disqualifications, `deleted` a
    withdrawal, `draft` not yet a bid (None)."""
    text = str(code or "").strip()
    return _BID_STATUSES.get(text)


_BID_STATUSES: dict[str, BidStatus] = {
    "active": "valid", "valid": "valid", "pending": "pending", "invited": "pending",
    "invalid": "disqualified", "invalid.pre-qualification": "disqualified",
    "unsuccessful": "disqualified", "disqualified": "disqualified",
    "deleted": "withdrawn", "withdrawn": "withdrawn",
}


def contract(data: dict[str, Any]) -> Contract:
    """An OCDS / OpenProcurement contract: id, value, dateSigned, period.endDate and its
    amendments (OCDS `amendments`, Prozorro `changes`)."""
    value, currency = amount(data.get("value"))
    amendments = len(dicts(data.get("amendments"))) + len(dicts(data.get("changes")))
    return Contract(id=str(data.get("id") or ""), value=value, currency=currency,
                    signed=data.get("dateSigned"), end_date=mapping(data.get("period")).get(
                        "endDate"), amendments=amendments)


def lot(data: dict[str, Any]) -> TenderLot:
    """An OCDS lot: `{id, title, status, value: {amount, currency}}`."""
    value, currency = amount(data.get("value"))
    return TenderLot(id=str(data.get("id", "")), title=data.get("title") or "",
                     status=data.get("status"), value=value, currency=currency)


def document(data: dict[str, Any]) -> TenderDocument:
    """An OCDS document (one with a `url`): `{url, title, documentType, datePublished}`."""
    return TenderDocument(url=str(data["url"]), title=data.get("title") or "",
                          kind=data.get("documentType"), published=data.get("datePublished"))


# -- organisations named by registries ----------------------------------------------------------


def registered(name: str, registry: Any, scheme: str) -> Organisation:
    """An organisation with its registry id in `scheme` (a portal's one register: GE-NAPR,
    KZ-BIN); without id and scheme when the portal gives no id."""
    return Organisation(name=name, id=str(registry) if registry else None,
                        scheme=scheme if registry else None)


def folded(name: str) -> str:
    """A name as compared with another: case folded, whitespace collapsed."""
    return " ".join(name.casefold().split())


# -- local times ------------------------------------------------------------------------------


def local_datetime(text: str, zone: tzinfo | Callable[[datetime], tzinfo]) -> datetime | None:
    """An ISO-8601 date-time; one written without a UTC offset is read in the portal's
    `zone` (or in the zone a function gives for that local time, where the portal's offset
    changed over the years). None when `text` is not a date-time."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is not None:
        return when
    return when.replace(tzinfo=zone if isinstance(zone, tzinfo) else zone(when))


def today_in(zone: tzinfo) -> date:
    """Today's date where the portal is (its day starts at its own midnight)."""
    return datetime.now(zone).date()
