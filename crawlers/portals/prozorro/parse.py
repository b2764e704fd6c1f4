"""Prozorro's responses as values: a tender (`/tenders/{id}`'s `data`) as a `TenderRecord`,
feed offsets as positions, a source `url` checked. Pure functions; no Scrapy."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from crawlers.portals.common import (
    amount,
    bid_status,
    contract,
    dicts,
    document,
    local_datetime,
    lot,
    mapping,
    organisation,
)
from monitor.models import Bid, TenderRecord

# the API root a source's `url` names (the spider adds /tenders itself)
API_ROOT = "https://public-api.prozorro.gov.ua/api/2.5"
# Kyiv's summer offset, its largest: a Kyiv time without a zone (a `since` date, a position
# saved by an older version) read in it names the earliest moment it can mean
KYIV_EARLIEST = timezone(timedelta(hours=3))
# a tender's public page
NOTICE_URL = "https://prozorro.gov.ua/tender/{tenderID}"
# item classification schemes that are CPV (ДК 021:2015 is the Ukrainian CPV)
CPV_SCHEMES = frozenset({"ДК021", "CPV", "DK021"})


def tender_record(data: dict[str, Any], *, source: str, raw_hash: str | None) -> TenderRecord:
    """A tender's fields as a record (not yet normalised). `data` is the `data` object of
    /tenders/{id}, with a `tenderID`."""
    value, currency = amount(data.get("value"))
    awards = dicts(data.get("awards"))
    active = [a for a in awards if a.get("status") == "active"]
    winners = [o for a in active for s in dicts(a.get("suppliers"))
               if (o := organisation(s)) is not None]
    bidders = [o for b in dicts(data.get("bids")) for t in dicts(b.get("tenderers"))
               if (o := organisation(t)) is not None]
    bidders += [o for a in awards for s in dicts(a.get("suppliers"))
                if (o := organisation(s)) is not None]
    award_values = [amount(a.get("value")) for a in active]
    award_value = (sum(v for v, _ in award_values if v is not None)
                   if any(v is not None for v, _ in award_values) else None)
    award_currency = next((c for _, c in award_values if c), None)
    contracts = [c for c in dicts(data.get("contracts")) if c.get("status") == "active"]
    period = mapping(data.get("tenderPeriod"))
    return TenderRecord(
        source=source,
        native_id=str(data["tenderID"]),
        title=data.get("title") or data.get("title_en") or "",
        description=data.get("description") or "",
        url=NOTICE_URL.format(tenderID=data["tenderID"]),
        buyer=organisation(data.get("procuringEntity")),
        status=data.get("status") or "",
        procedure=data.get("procurementMethodType") or data.get("procurementMethod") or "",
        cpv=tuple(
            str(c["id"]) for item in dicts(data.get("items"))
            if isinstance(c := item.get("classification"), dict) and c.get("id")
            and str(c.get("scheme", "")).replace(" ", "") in CPV_SCHEMES
        ),
        value=value,
        currency=currency,
        # noticePublicationDate (newer tenders) is when the notice went out; dateCreated
        # can be days earlier, when the draft was made
        published=(data.get("noticePublicationDate") or data.get("dateCreated")
                   or period.get("startDate") or data.get("date")),
        deadline=period.get("endDate"),
        award_date=min((str(a["date"]) for a in active if a.get("date")), default=None),
        contract_date=min((str(c["dateSigned"]) for c in contracts if c.get("dateSigned")),
                          default=None),
        bidders=tuple(bidders),
        winners=tuple(winners),
        award_value=award_value,
        award_currency=award_currency,
        lots=tuple(lot(entry) for entry in dicts(data.get("lots"))),
        documents=tuple(document(doc) for doc in latest_versions(dicts(data.get("documents")))
                        if doc.get("url")),
        modified=data.get("dateModified"),
        raw_hash=raw_hash,
        method=data.get("procurementMethod"),
        tender_start=period.get("startDate"),
        category=data.get("mainProcurementCategory"),
        award_criteria=data.get("awardCriteria"),
        bids_received=_count(data.get("numberOfBids")) if not dicts(data.get("bids")) else None,
        bids=tuple(bids(data)),
        contracts=tuple(contract(c) for c in contracts),
    )


def bids(data: dict[str, Any]) -> list[Bid]:
    """The tender's bids, one per lot a bid is for (`lotValues`), with what became of each:
    a bid whose award was refused (`awards[status=unsuccessful]` on its `bid_id`, for its
    lot) was disqualified, as were bids found `invalid` at pre-qualification. Drafts are not
    bids yet. The API shows bids only once the tender period is over."""
    refused = {(a.get("bid_id"), a.get("lotID")) for a in dicts(data.get("awards"))
               if a.get("status") == "unsuccessful" and a.get("bid_id")}
    out: list[Bid] = []
    for entry in dicts(data.get("bids")):
        if entry.get("status") == "draft":
            continue
        tenderers = tuple(o for t in dicts(entry.get("tenderers"))
                          if (o := organisation(t)) is not None)
        status = bid_status(entry.get("status"))
        ident = str(entry["id"]) if entry.get("id") else None
        parts = dicts(entry.get("lotValues")) or [entry]
        for part in parts:
            lot_id = part.get("relatedLot")
            value, currency = amount(part.get("value"))
            part_status = bid_status(part.get("status")) if part is not entry else None
            if (ident, lot_id) in refused or (ident, None) in refused:
                part_status = "disqualified"
            out.append(Bid(tenderers=tenderers, id=ident, value=value, currency=currency,
                           date=part.get("date") or entry.get("date"),
                           status=part_status or status, lot=lot_id))
    return out


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def latest_versions(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tender's documents, each once: the API lists every version of a document under
    the same `id`, oldest first, so a replaced file would otherwise be shown twice."""
    latest: dict[str, dict[str, Any]] = {}
    for doc in documents:
        latest[str(doc.get("id") or doc.get("url"))] = doc
    return list(latest.values())


# -- feed positions ---------------------------------------------------------------------------


def offset_text(offset: Any) -> str | None:
    """A feed offset as text. The API writes offsets as strings ("1721045886.0000000123.1.
    <hash>") or, in older versions, as JSON numbers (1696888801.0): a number is kept as its
    shortest exact text, since SQLite would round a stored float to 15 digits and the feed
    would resume at a later point than it stopped."""
    if offset is None or offset == "":
        return None
    return repr(offset) if isinstance(offset, float) else str(offset)


def as_offset(stamp: str, before: timedelta = timedelta(0)) -> str:
    """A dateModified as a feed offset (the API takes a date-time as a starting point),
    `before` earlier, to the second, with its UTC offset kept: a server reads a time without
    one in a zone of its choosing, and one that reads 12:02:15 as UTC starts three hours
    after 12:02:15+03:00, past every change in between. A stamp without an offset (saved by
    an older version, in Kyiv time) is read as UTC+03:00, the earliest it can mean."""
    when = local_datetime(stamp, KYIV_EARLIEST)
    if when is None:
        return stamp
    return (when - before).replace(microsecond=0).isoformat()


def since_offset(since: date | None) -> str | None:
    """The feed offset for a `since` date (the API takes a date-time as an offset): its
    midnight with Kyiv's summer offset, the earliest the day can begin there; None (no
    `since`): start from the newest page."""
    if since is None:
        return None
    return datetime.combine(since, datetime.min.time(), KYIV_EARLIEST).isoformat()


def url_problem(url: str) -> str | None:
    """What is wrong with a source `url` that is not the API root (the feed's own URL, a
    tender's), in words that say what it should be; None when it looks like a root."""
    if "tenders" not in urlsplit(url).path.split("/"):
        return None
    return (f"the source's `url` is {url!r}, a tenders URL: it should be the API root, "
            f"such as {API_ROOT} (the spider reads <url>/tenders itself)")
