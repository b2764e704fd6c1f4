"""Any publisher of Open Contracting Data Standard (OCDS) release or record packages."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, urldefrag, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response

from crawlers.spiders.portal_base import PortalSpider, amount, dicts, mapping, organisation
from monitor.models import Organisation, TenderDocument, TenderLot, TenderRecord
from monitor.tender import normalise_stamp

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


class Ocds(PortalSpider):
    """
    Reads
      An OCDS publisher's API (`portal: ocds`, `url:` the first page): release packages
      (`releases[]`) or record packages (`records[]`), page after page through `links.next`.
      Also the list form of Moldova's MTender (`{"data": [{"ocid", "date"}], "offset"}`,
      each process then read from `<url>/<ocid>`), whose last page is `{}` (or, now and
      then, an empty body).
    Records
      One per contracting process, keyed by its ocid: the compiled release (a record's
      `compiledRelease`, or its releases merged in date order). MTender publishes a process
      as one record per stage (the process `ocds-…-MD-1638…`, then `…-PN-…`, `…-EV-…`,
      `…-AC-…`): the stage records are folded into the process's, which keeps its title,
      value, buyer and status and gains the stages' lots, items, periods, documents,
      parties, bids, awards and contracts.
      Buyer: `buyer`, else `tender.procuringEntity`, with its registry id from
      `parties[].identifier` (or, without one, from an id such as `GE-NAPR-204567890`);
      suppliers of active awards are the winners (`awards[].suppliers[]`), tenderers, bidders
      and every award's suppliers the bidders; CPV codes from `tender.items[].classification`;
      lots, documents, the tender period's end as the deadline.
      Link (`url`): the process's page where the publisher has one (MTender:
      https://mtender.gov.md/tenders/<ocid>, a stage's process; Georgia's SPA: the
      tender's page https://tenders.procurement.gov.ge/public/?go=<app_id>, found among its
      documents),
      else its `tenderNotice` document, else the process's own record package (Georgia's
      API: /api/record.json?ocid=<ocid>), else the page it was read from with the ocid as
      its fragment (`...releases.json?page=10#ocds-...`).
    Incremental
      The next page's URL is saved after every page; the next run continues there, and once
      the publisher's last page is reached re-reads that page for new releases.
    Since
      Releases older than `since` are skipped (publishers have no common date filter); the
      first run without `since` is a silent baseline of everything it reads.
    Caveats
      A page that is not JSON, an error object sent with HTTP 200 (MTender's gateway sends
      `{"name": "Error", "message": ...}`), a first page that is `{}`, and a package without
      `releases` or `records` fail the run loudly; a saved position answered with `{}` means
      nothing new yet. Records that only link to their releases (no compiledRelease, no
      embedded releases) are reported and skipped. The merge of releases is OCDS's (objects
      merged, arrays of objects merged by `id`, other values replaced) without its
      schema-specific exceptions, and only within a page: a process whose releases are
      spread over pages is read from each page's releases alone. Publishers that page
      newest-first are re-read from their first page only when the saved position
      disappears.
    Docs
      https://standard.open-contracting.org/latest/en/schema/
    """

    name = "ocds"

    # PortalSpider
    # static package files revalidate cheaply (304s); API pages say no-cache themselves
    http_cache = True

    # -- requests -------------------------------------------------------------------------

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        # True once the publisher turned out to be MTender's list (kept with the cursor)
        self.list_form = False

    def load_position(self, saved: Any, stamps: dict[str, str]) -> None:
        super().load_position(saved, stamps)
        self.list_form = bool(self.saved_state.get("list_form"))

    def cursor_state(self) -> dict[str, Any]:
        return {"list_form": self.list_form}

    async def start(self) -> AsyncIterator[Any]:
        first = self.request(self.cursor or self.api_url, self.parse_page, entry=True,
                             meta={"ocds_resumed": bool(self.cursor)})
        for request in self.start_with(first):
            yield request

    def retry_detail(self, url: str) -> scrapy.Request:
        # details are MTender's `<url>/<ocid>`: the process the list named
        return self.detail(url, self.parse_package,
                           meta={"ocds_ocid": url.rstrip("/").rsplit("/", 1)[-1]})

    # -- pages ----------------------------------------------------------------------------

    def parse_page(self, response: Response) -> Iterator[Any]:
        """Expects a release package `{"releases": [...], "links": {"next": ...}}`, a record
        package `{"records": [...], "links": {...}}`, or an MTender list page
        `{"data": [{"ocid": ..., "date": ...}], "offset": ...}` (its last page: `{}`)."""
        entry = bool(response.meta.get("monitor_entry"))
        first = entry and not response.meta.get("ocds_resumed")
        list_page = response.meta.get("ocds_list") or (self.list_form and not first)
        if list_page and not response.body.strip():
            # MTender ends its list with an empty body now and then, as well as with {}
            self.fetched += 1
            self.logger.info("%s: empty body from %s: the end of the list, for now",
                             self.source_name, response.url)
            yield from self.page(cursor=response.url, follow=None, details=[])
            return
        data = self.read_json(response)
        if data is None:
            return
        if data == {}:
            if first:
                self.record_error(f"empty response ({{}}) from {response.url}: no releases, "
                                  "records or list", entry=True)
                return
            # MTender's last page, or nothing new at the saved position: the end, for now;
            # the next run asks here again
            yield from self.page(cursor=response.url, follow=None, details=[])
            return
        if not isinstance(data, dict):
            self.shape_error(response, "an OCDS release or record package", data)
            return
        if isinstance(data.get("data"), list) and "offset" in data:
            yield from self._list_page(response, data)
            return
        releases = self.compiled(response, data)
        if releases is None:
            return
        links = mapping(data.get("links"))
        next_url = links.get("next")
        next_url = response.urljoin(next_url) if isinstance(next_url, str) and next_url else None
        if next_url == response.url:
            next_url = None
        records, complete = self._records(response, releases)
        yield from records
        follow = self.request(next_url, self.parse_page) if next_url else None
        yield from self.page(cursor=next_url or response.url, follow=follow, details=[],
                             complete=complete)

    def _list_page(self, response: Response, data: dict[str, Any]) -> Iterator[Any]:
        """MTender's list: one detail request per ocid, then the page at `offset`."""
        self.list_form = True
        details: list[scrapy.Request] = []
        complete = True
        base = urlunsplit(urlsplit(response.url)._replace(query="", fragment="")).rstrip("/")
        for row in dicts(data["data"]):
            ocid = row.get("ocid")
            if not ocid:
                self.shape_error(response, "data[].ocid", row)
                continue
            if self._too_old(row.get("date")):
                continue
            if self.stamps.get(str(ocid)) == normalise_stamp(row.get("date")):
                yield self.seen(str(ocid), row.get("date"))
                continue
            if not self.take_article():
                complete = False
                break
            details.append(self.detail(f"{base}/{ocid}", self.parse_package,
                                       meta={"ocds_ocid": str(ocid), "ocds_date": row.get("date")}))
        next_url = f"{base}/?{urlencode({'offset': data['offset']})}" if data["offset"] else None
        if next_url == response.url:
            next_url = None  # an offset that does not move on would loop
        follow = (self.request(next_url, self.parse_page, meta={"ocds_list": True})
                  if next_url and data["data"] else None)
        yield from self.page(cursor=next_url or response.url, follow=follow, details=details,
                             complete=complete)

    def parse_package(self, response: Response) -> Iterator[Any]:
        """Expects one process's record (or release) package, as MTender's `<url>/<ocid>`."""
        data = self.read_json(response)
        failed = True
        if data is None:
            pass
        elif not isinstance(data, dict):
            self.shape_error(response, "an OCDS record or release package", data)
        elif data == {}:
            # MTender's answer for a process with nothing published under it (yet)
            self.logger.warning("%s: %s is an empty package", self.source_name, response.url)
            failed = False
        else:
            releases = self.compiled(response, data)
            if releases is not None:
                records, _ = self._records(response, releases, budget=False)
                yield from records
                failed = False
        yield from self.detail_done(response, failed=failed)

    # -- packages -------------------------------------------------------------------------

    def compiled(self, response: Response, data: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The compiled release of every process in a package; None (error recorded) when the
        package is neither kind."""
        if isinstance(data.get("records"), list):
            out = []
            for record in dicts(data["records"]):
                compiled = record.get("compiledRelease")
                # embedded releases, not linked ones ({url, date, tag})
                releases = [r for r in dicts(record.get("releases")) if "ocid" in r]
                if isinstance(compiled, dict):
                    out.append(compiled)
                elif releases:
                    out.append(compile_releases(releases))
                else:
                    self.record_error(f"record {record.get('ocid')!r} at {response.url} has no "
                                      "compiledRelease and only linked releases: skipped")
            return fold_stages(out)
        if isinstance(data.get("releases"), list):
            by_ocid: dict[str, list[dict[str, Any]]] = {}
            for release in dicts(data["releases"]):
                by_ocid.setdefault(str(release.get("ocid")), []).append(release)
            return [compile_releases(group) for group in by_ocid.values()]
        self.shape_error(response, "releases[] or records[] (an OCDS package)", data)
        return None

    def _records(self, response: Response, releases: list[dict[str, Any]], *,
                 budget: bool = True) -> tuple[list[TenderRecord], bool]:
        records: list[TenderRecord] = []
        for release in releases:
            ocid = release.get("ocid")
            if not ocid:
                self.shape_error(response, "releases with an ocid", release)
                continue
            if self._too_old(release.get("date")):
                continue
            if self.stamps.get(str(ocid)) == normalise_stamp(release.get("date")) and budget:
                records.append(self.seen(str(ocid), release.get("date")))
                continue
            if budget and not self.take_article():
                return records, False
            try:
                records.append(self.tender(release, response))
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                self.record_error(f"cannot read process {ocid!r} at {response.url}: "
                                  f"{type(exc).__name__}: {exc}")
        return records, True

    def _too_old(self, when: Any) -> bool:
        since = self.source.since
        if since is None or not when:
            return False
        try:
            day = datetime.fromisoformat(str(when)).date()
        except ValueError:
            return False
        return day < since

    # -- a process ------------------------------------------------------------------------

    def tender(self, release: dict[str, Any], response: Response) -> TenderRecord:
        """A compiled release's fields as a record (not yet normalised)."""
        # the process MTender's list named (and the date it listed it with: the stamp the
        # next list page is compared with)
        listed = response.meta.get("ocds_ocid") == release.get("ocid")
        modified = (response.meta.get("ocds_date") if listed else None) or release.get("date")
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
            source=self.source.name,
            native_id=str(release["ocid"]),
            title=tender.get("title") or release.get("title") or "",
            description=tender.get("description") or "",
            url=public_url(str(release["ocid"]), documents, response.url, listed=listed),
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
            lots=tuple(
                TenderLot(id=str(lot.get("id", "")), title=lot.get("title") or "",
                          status=lot.get("status"), value=amount(lot.get("value"))[0],
                          currency=amount(lot.get("value"))[1])
                for lot in dicts(tender.get("lots"))
            ),
            documents=tuple(
                TenderDocument(url=str(d["url"]), title=d.get("title") or "",
                               kind=d.get("documentType"), published=d.get("datePublished"))
                for d in documents
            ),
            modified=modified,
            raw_hash=self.raw_hash(response),
        )


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
            ids.setdefault(" ".join(org.name.casefold().split()), org)
    return tuple(org if org.id else ids.get(" ".join(org.name.casefold().split()), org)
                 for org in orgs)


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
