"""Any publisher of Open Contracting Data Standard (OCDS) release or record packages, read page
by page; `parse` compiles their releases and reads them as records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response

from crawlers.portals.base import PortalSpider
from crawlers.portals.common import dicts, mapping
from crawlers.portals.ocds.parse import compile_releases, fold_stages, release_record, too_old
from monitor.models import TenderRecord
from monitor.tender import normalise_stamp


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
        return too_old(when, self.source.since)

    # -- a process ------------------------------------------------------------------------

    def tender(self, release: dict[str, Any], response: Response) -> TenderRecord:
        """A compiled release's fields as a record (not yet normalised)."""
        # the process MTender's list named (and the date it listed it with: the stamp the
        # next list page is compared with)
        listed = response.meta.get("ocds_ocid") == release.get("ocid")
        return release_record(release, source=self.source.name, read_from=response.url,
                              listed=listed, listed_date=response.meta.get("ocds_date"),
                              raw_hash=self.raw_hash(response))
