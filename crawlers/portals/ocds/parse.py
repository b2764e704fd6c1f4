"""OCDS packages as values: releases compiled and a process's stages folded into it, a
compiled release as a `TenderRecord`, the page a person reads a process on. Pure functions;
no Scrapy."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urldefrag, urlencode, urlsplit, urlunsplit

from crawlers.portals.common import (
    amount,
    bid_status,
    contract,
    dicts,
    document,
    folded,
    lot,
    mapping,
    organisation,
)
from monitor.models import Bid, Organisation, TenderRecord

# award statuses that make its suppliers winners (publishers that leave the status out mean
# an award that stands)
WINNING_AWARDS = frozenset({"active", ""})
# contract statuses that mean a contract was signed
SIGNED_CONTRACTS = frozenset({"active", "terminated", ""})
# an organisation id written as org-id.guide scheme + id (GE-NAPR-204567890, MD-IDNO-100...)
ORG_ID = re.compile(r"(?P<scheme>[A-Z]{2}-[A-Z0-9]+)-(?P<id>\S+)")
# where a person reads a process that MTender publishes
MTENDER_PAGE = "https://mtender.gov.md/tenders/{ocid}"
# an MTender stage's ocid (`<process ocid>-EV-1613996947373`): the process is its start
MTENDER_STAGE = re.compile(r"^(?P<process>ocds-\w+-MD-\d+)(?:-[A-Z]{2,4}-\d+)+$")
# a tender's public page on Georgia's e-procurement portal, as SPA's OCDS documents link it
SPA_APP_PAGE = re.compile(r"^https?://tenders\.procurement\.gov\.ge/public/\?(?:[^#]*&)?go=\d+")
# Georgia's OCDS API, which serves one process as a record package at /api/record.json?ocid=
SPA_OCDS_HOST = "odapi.spa.ge"


def release_record(release: dict[str, Any], *, source: str, read_from: str,
                   listed: bool = False, listed_date: Any = None,
                   raw_hash: str | None = None) -> TenderRecord:
    """A compiled release's fields as a record (not yet normalised). `read_from`: the URL it
    was read from; `listed`: the release is of the process an MTender list named, with
    `listed_date`, the date the list gave it (the stamp the next list page is compared
    with)."""
    modified = (listed_date if listed else None) or release.get("date")
    parties = {str(p.get("id")): p for p in dicts(release.get("parties")) if p.get("id")}
    tender = mapping(release.get("tender"))
    value, currency = amount(tender.get("value"))
    awards = dicts(release.get("awards"))
    won = [a for a in awards if str(a.get("status") or "") in WINNING_AWARDS]

    def orgs(refs: Any) -> list[Organisation]:
        return [o for ref in dicts(refs) if (o := _organisation(ref, parties)) is not None]

    winners = [o for a in won for o in orgs(a.get("suppliers"))]
    bids = mapping(release.get("bids"))
    bidders = orgs(tender.get("tenderers"))
    bidders += [o for bid in dicts(bids.get("details")) for o in orgs(bid.get("tenderers"))]
    bidders += orgs([p for p in parties.values() if "tenderer" in (p.get("roles") or [])])
    bidders += [o for a in awards for o in orgs(a.get("suppliers"))]
    buyer = _organisation(release.get("buyer"), parties) or _organisation(
        tender.get("procuringEntity"), parties) or next(
        (_organisation(p, parties) for p in parties.values()
         if "buyer" in (p.get("roles") or [])), None)
    award_values = [amount(a.get("value")) for a in won]
    known = [v for v, _ in award_values if v is not None]
    contracts = [c for c in dicts(release.get("contracts"))
                 if str(c.get("status") or "") in SIGNED_CONTRACTS]
    period = mapping(tender.get("tenderPeriod"))
    documents = [d for d in dicts(tender.get("documents"))
                 + [d for a in awards for d in dicts(a.get("documents"))]
                 + [d for c in contracts for d in dicts(c.get("documents"))] if d.get("url")]
    classifications = [item.get("classification") for item in dicts(tender.get("items"))]
    classifications.append(tender.get("classification"))
    return TenderRecord(
        source=source,
        native_id=str(release["ocid"]),
        title=tender.get("title") or release.get("title") or "",
        description=tender.get("description") or "",
        url=public_url(str(release["ocid"]), documents, read_from, listed=listed),
        buyer=buyer,
        status=str(tender.get("status") or ""),
        procedure=str(tender.get("procurementMethodDetails")
                      or tender.get("procurementMethod") or ""),
        cpv=tuple(str(c["id"]) for c in classifications if isinstance(c, dict) and c.get("id")
                  and str(c.get("scheme") or "CPV").upper().startswith("CPV")),
        value=value,
        currency=currency,
        published=tender.get("datePublished") or period.get("startDate"),
        deadline=period.get("endDate"),
        award_date=min((str(a["date"]) for a in won if a.get("date")), default=None),
        contract_date=min((str(c["dateSigned"]) for c in contracts if c.get("dateSigned")),
                          default=None),
        bidders=_with_ids(bidders),
        winners=tuple(winners),
        award_value=sum(known) if known else None,
        award_currency=next((c for _, c in award_values if c), None),
        lots=tuple(lot(entry) for entry in dicts(tender.get("lots"))),
        documents=tuple(document(d) for d in documents),
        modified=modified,
        raw_hash=raw_hash,
        method=tender.get("procurementMethod"),
        tender_start=period.get("startDate"),
        category=tender.get("mainProcurementCategory"),
        award_criteria=tender.get("awardCriteria"),
        bids_received=None if dicts(bids.get("details")) else _received(tender, bids),
        bids=tuple(
            Bid(tenderers=_with_ids(orgs(b.get("tenderers"))),
                id=str(b["id"]) if b.get("id") else None, value=amount(b.get("value"))[0],
                currency=amount(b.get("value"))[1], date=b.get("date"),
                status=bid_status(b.get("status")),
                lot=next((str(x) for x in b.get("relatedLots") or () if x), None))
            for b in dicts(bids.get("details"))),
        contracts=tuple(contract(c) for c in contracts),
    )


def _received(tender: dict[str, Any], bids: dict[str, Any]) -> int | None:
    """How many bids the process received, where it lists none: `tender.numberOfTenderers`,
    else the `bids.statistics` measure `bids` (over the whole process, not a lot's)."""
    count = tender.get("numberOfTenderers")
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    for stat in dicts(bids.get("statistics")):
        if stat.get("measure") == "bids" and not stat.get("relatedLot"):
            value = stat.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
    return None


def too_old(when: Any, since: date | None) -> bool:
    """Whether a release (or list entry) dated `when` is from before `since`; undated or
    unreadable dates are never too old."""
    if since is None or not when:
        return False
    try:
        day = datetime.fromisoformat(str(when)).date()
    except ValueError:
        return False
    return day < since


def public_url(ocid: str, documents: list[dict[str, Any]], read_from: str, *,
               listed: bool = False) -> str:
    """Where a person reads the process: the publisher's page for it where one is known,
    else its notice, else the most specific API URL (see the class docstring). Never the
    bare API page it was read from, which lists a hundred other processes."""
    host = (urlsplit(read_from).hostname or "").lower()
    if listed or host == "mtender.gov.md" or host.endswith(".mtender.gov.md"):
        stage = MTENDER_STAGE.match(ocid)
        return MTENDER_PAGE.format(ocid=stage["process"] if stage else ocid)
    page = next((str(d["url"]) for d in documents if SPA_APP_PAGE.match(str(d["url"]))), None)
    notice = next((str(d["url"]) for d in documents if d.get("documentType") == "tenderNotice"),
                  None)
    found = page or notice
    if found:
        return found
    if host == SPA_OCDS_HOST:
        parts = urlsplit(read_from)
        return urlunsplit((parts.scheme, parts.netloc, "/api/record.json",
                           urlencode({"ocid": ocid}), ""))
    return f"{urldefrag(read_from).url}#{quote(ocid, safe='')}"


def _organisation(ref: Any, parties: dict[str, Any]) -> Organisation | None:
    """`organisation`, and when neither the reference nor its party carries an identifier,
    the registry id read from an id written as scheme + id (`GE-NAPR-204567890`), as OCDS
    publishers name parties."""
    org = organisation(ref, parties)
    if org is None or org.id is not None or not isinstance(ref, dict):
        return org
    match = ORG_ID.fullmatch(str(ref.get("id") or ""))
    return Organisation(org.name, match["id"], match["scheme"]) if match else org


def _with_ids(orgs: list[Organisation]) -> tuple[Organisation, ...]:
    """Organisations named without an id take the id of one of the same name that has one:
    publishers list tenderers by name only (`tender.tenderers`) and the same companies with
    their ids as parties or suppliers, which would otherwise count twice."""
    ids: dict[str, Organisation] = {}
    for org in orgs:
        if org.id:
            ids.setdefault(folded(org.name), org)
    return tuple(org if org.id else ids.get(folded(org.name), org) for org in orgs)


def fold_stages(releases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One release per process: a release whose ocid extends another's (`<ocid>-EV-<n>`, as
    MTender publishes each stage of a process) is folded into that one."""
    ocids = [str(r.get("ocid")) for r in releases]
    parents = {o: max((p for p in ocids if o.startswith(p + "-")), key=len, default=None)
               for o in ocids}
    processes = {o: copy.deepcopy(r) for o, r in zip(ocids, releases, strict=True)
                 if parents[o] is None}
    for ocid, release in zip(ocids, releases, strict=True):
        parent = parents[ocid]
        # a stage of a stage folds into the process at the top
        while parent is not None and parent not in processes:
            parent = parents.get(parent)
        if parent is not None:
            _fold(processes[parent], release)
    return [processes[o] for o in dict.fromkeys(ocids) if o in processes]


def _fold(process: dict[str, Any], stage: dict[str, Any]) -> None:
    """Add a stage's data to its process; the process keeps its own tender title, value and
    status (a stage's are generic: "Evaluation", "Planning Notice")."""
    dates = [str(d) for d in (process.get("date"), stage.get("date")) if d]
    if dates:
        process["date"] = max(dates)
    known = {str(p.get("id")) for p in dicts(process.get("parties"))}
    process["parties"] = dicts(process.get("parties")) + [
        copy.deepcopy(p) for p in dicts(stage.get("parties")) if str(p.get("id")) not in known]
    for key in ("awards", "contracts"):
        if dicts(stage.get(key)):
            process[key] = dicts(process.get(key)) + copy.deepcopy(dicts(stage[key]))
    stage_bids = dicts(mapping(stage.get("bids")).get("details"))
    if stage_bids:
        bids = process["bids"] = mapping(process.get("bids"))
        bids["details"] = dicts(bids.get("details")) + copy.deepcopy(stage_bids)
    tender = process["tender"] = mapping(process.get("tender"))
    for key, value in mapping(stage.get("tender")).items():
        if key in ("lots", "items", "documents"):
            tender[key] = dicts(tender.get(key)) + copy.deepcopy(dicts(value))
        elif key not in tender:
            tender[key] = copy.deepcopy(value)


def compile_releases(releases: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge one process's releases, oldest first, into its compiled release."""
    compiled: dict[str, Any] = {}
    for release in sorted(releases, key=lambda r: str(r.get("date") or "")):
        _merge(compiled, release)
    compiled["tag"] = ["compiled"]
    compiled.pop("id", None)
    return compiled


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        current = into.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge(current, value)
        elif (isinstance(value, list) and isinstance(current, list) and value
              and all(isinstance(v, dict) and "id" in v for v in value)):
            by_id = {str(v.get("id")): v for v in current if isinstance(v, dict)}
            for v in value:
                existing = by_id.get(str(v["id"]))
                if existing is None:
                    copied = copy.deepcopy(v)
                    current.append(copied)
                    by_id[str(v["id"])] = copied
                else:
                    _merge(existing, v)
        else:
            into[key] = copy.deepcopy(value)
