"""The EU's Tenders Electronic Daily (TED): the v3 notice search API, asked for the watch
list's names (`query`), its notices read as records (`parse`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy.http import Response

from crawlers.portals.base import PortalSpider
from crawlers.portals.common import today_in
from crawlers.portals.ted.parse import (
    error_text,
    later,
    merge,
    notice_record,
    numbered,
    publication_day,
)
from crawlers.portals.ted.query import (
    FIELDS,
    NAME_FIELDS,
    Chain,
    batch_limit,
    chains_for,
    endpoint_of,
    expert_query,
    restriction_of,
)
from monitor.models import TenderRecord
from monitor.tender import normalise_stamp

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from crawlers.extensions.crawl_state import CrawlState


class Ted(PortalSpider):
    """
    Reads
      The EU's Tenders Electronic Daily through its search API (`portal: ted`, `url:` the
      search endpoint https://api.ted.europa.eu/v3/notices/search, no key needed): POST
      `{query, fields, limit, paginationMode: "ITERATION", iterationNextToken}`, batch after
      batch until a batch comes back empty. The expert query looks for every watch's name,
      its Latin-script aliases (aliases that need context are left out) and its related
      organisations' names in `winner-name`, `organisation-name-tenderer` and `buyer-name`
      (`winner-name ~ "Nuctech" OR ...`), from a publication date on, oldest first
      (`SORT BY publication-date ASC`). At most 10 names (about 3,000 characters) go into
      one query; a longer watch list becomes several queries, read one after the other, each
      with its own position. A query string on `url` narrows every search: `?query=` is an
      expert query joined with AND, e.g. `...?query=buyer-country+IN+(POL+LTU+LVA+EST)`
      (`+` for spaces); it is not sent to the API as a parameter. With no watches, that
      query alone is the search; with neither, the run fails.
    Records
      One per procedure: eForms notices carry a `procedure-identifier` that the contract
      notice and the later award notices share, so an award notice updates the tender that
      was announced (status `announced` -> `awarded`, winners set: an `awarded` event).
      Notices without one (older TED-schema notices) are one record each, keyed by
      publication number (123456-2025). A later notice of a procedure keeps what it leaves
      out from the earlier ones (estimated value, deadline, first publication date), and one
      that awards only some of the lots adds its winners to those of the other lots; one
      that names no winner (a contract modification, a result for lots left unawarded)
      keeps the award.
      Fields: title (`notice-title`, English, headed by the publication number of the
      notice last read, "151207-2025 – Poland – ...", when the record is keyed by its
      procedure's UUID), description (`description-proc`), buyer
      (`buyer-name`, `buyer-identifier`), winners (`winner-name`; identifiers: see Caveats),
      bidders (`organisation-name-tenderer` and the winners), CPV codes
      (`classification-cpv`), estimated value (`estimated-value-proc`, else the lots' sum),
      awarded value (`total-value`, else `result-value-notice`, else the winning tenders'
      sum; TED's -1 for "not given" is no value), the earliest tender (else request)
      deadline, award and contract dates, lots, one document per notice read, and the
      English page of the notice last read as `url`
      (https://ted.europa.eu/en/notice/-/detail/151207-2025).
      TED's dates without a time (publication, award, contract) are kept as that calendar
      day at 00:00 UTC; deadlines have their time and zone.
      Status: `planned`, `announced` (contract notices and their corrections), `awarded`
      (a notice that names winners), `closed` (a result notice without a winner),
      `modified` (a contract modification). Language maps (`{"eng": [...], "pol": [...]}`)
      are read in English where TED has it, else in the first language given.
      Registry ids: a VAT number (DE811128135, spaces dropped) is `EU-VAT:DE811128135`;
      any other identifier is `<country>-NAT:<id>` with the organisation's ISO country code
      (`CN-NAT:91110000...`): TED does not say which national register it comes from.
    Incremental
      Each query's position is the publication date (YYYYMMDD) of the last notice it read,
      saved after every batch; the next run asks for `publication-date >= <position>`, so a
      day read part-way is read again and nothing is missed. Notices already stored are
      counted, not stored again: each record's stamp is its notice's publication date with
      the publication number's serial as the fraction of a second, so a notice older than
      (or the same as) the stored one of its procedure is skipped. Iteration tokens are not
      kept between runs: TED lets them expire a day after the next publication. A changed
      `url` (its `?query=` included) reads again from `since`, else the last 30 days.
    Since
      `since` reads every notice published from that date and alerts on them (a backfill).
      Without it, the first run reads the last 30 days as a silent baseline.
    Caveats
      429: the run waits (Retry-After, else 10 s) and retries. A batch marked `timedOut`
      (TED gave up part-way) is asked for again with the same token, three times at most;
      then that query stops for this run with an error, at its last complete batch. 400
      (TED rejected the query) and errors sent with HTTP 200 fail that query, with TED's
      message; the other queries still run. TED's `~` matches words, so a search can return
      notices that name a watch only in passing: the watch list's rules decide what counts.
      Winner names are listed per lot, identifiers per organisation, in an order TED does not
      keep the same as the names' (one organisation may also have two: IČO and DIČ). A sole
      winner gets every identifier (the second one on a second entry of the same name);
      several winners get theirs from the tenderer lists (`organisation-*-tenderer`, paired
      when their counts agree); an identifier that cannot be paired with a name is kept as
      a winner (or bidder) without a name, so that nothing TED gives is lost and a watch's
      registry id still finds it. Registry ids of watches are not searched for (TED writes
      them in too many forms).
    Docs
      https://docs.ted.europa.eu/reuse/search-api.html,
      https://docs.ted.europa.eu/api/endpoints/ted-europa-eu.html (the request body),
      https://ted.europa.eu/en/search/expert-search (the query language and its fields)
    """

    name = "ted"

    # PortalSpider
    default_page_size = 100
    # a later notice of a procedure is merged into its stored record
    wants_known_tenders = True

    # Ted
    # the first run without `since` reads this many days back (a silent baseline)
    baseline_days: ClassVar[int] = 30
    # a `timedOut` batch is asked for again this many times before the query gives up
    max_timeout_retries: ClassVar[int] = 3
    # how many names, and how many characters of names, one query takes at most
    max_names_per_query: ClassVar[int] = 10
    max_query_chars: ClassVar[int] = 3000
    name_fields: ClassVar[tuple[str, ...]] = NAME_FIELDS
    fields: ClassVar[tuple[str, ...]] = FIELDS

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        self.chains: list[Chain] = []
        # chain key -> the publication date (YYYYMMDD) it reads from in this run
        self.starts: dict[str, str] = {}
        # chain key -> the publication date of the last notice it read
        self.positions: dict[str, str] = {}
        # native id -> the latest record of the tender (stored, or read in this run)
        self.known: dict[str, TenderRecord] = {}
        # chain index -> publication numbers it read in this run
        self.read: dict[int, set[str]] = {}

    def load_state(self, state: CrawlState) -> None:
        super().load_state(state)
        self.load_records(state.tender_records)

    def load_records(self, records: Iterable[dict[str, Any]]) -> None:
        """The stored tenders: a later notice of a procedure is merged into its record."""
        for data in records:
            try:
                record = TenderRecord.from_dict(data)
            except (TypeError, ValueError):
                continue  # stored by another version of the record: read afresh
            self.known[record.native_id] = record

    def load_position(self, saved: Any, stamps: dict[str, str]) -> None:
        super().load_position(saved, stamps)
        positions = self.saved_state.get("positions")
        self.positions = {str(k): str(v) for k, v in positions.items()} if isinstance(
            positions, dict) else {}
        self.retries = {}  # no detail requests to fetch again

    def cursor_state(self) -> dict[str, Any]:
        return {"positions": dict(self.positions)}

    # -- what to search for ---------------------------------------------------------------

    @property
    def search_url(self) -> str:
        """The source's `url` without its query string (which narrows the search)."""
        return endpoint_of(self.api_url)

    @property
    def restriction(self) -> str:
        """The expert query on the source's `url` (`?query=...`), joined to every search."""
        return restriction_of(self.api_url)

    @property
    def limit(self) -> int:
        return batch_limit(self.page_size, self.fields)

    def build_chains(self) -> list[Chain]:
        return chains_for(self.config.watches, self.restriction, self.name_fields,
                          self.max_names_per_query, self.max_query_chars)

    def query(self, chain: Chain) -> str:
        return expert_query(chain, self.restriction, self.starts[chain.key])

    def first_day(self) -> str:
        """Where a query without a saved position starts: `since`, else the baseline."""
        since = self.source.since or (today_in(UTC) - timedelta(days=self.baseline_days))
        return since.strftime("%Y%m%d")

    # -- requests -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        self.chains = self.build_chains()
        if self.cursor is None:
            self.positions = {}  # a first run or a backfill: every query from the start
        first_day = self.first_day()
        self.starts = {c.key: self.positions.get(c.key) or self.cursor or first_day
                       for c in self.chains}
        # queries no longer built (the watch list changed) are forgotten
        self.positions = dict(self.starts)
        if not self.chains:
            self.entry_requests += 1
            self.record_error("nothing to search TED for: the config has no watches and the "
                              "source's url has no ?query=", entry=True)
            return
        for request in self.start_with(self.search_request(0)):
            yield request

    def search_request(self, index: int, token: str | None = None) -> scrapy.Request:
        """A batch of the `index`th query: the first one (entry), or the one after `token`."""
        body: dict[str, Any] = {
            "query": self.query(self.chains[index]),
            "fields": list(self.fields),
            "limit": self.limit,
            "scope": "ALL",
            "paginationMode": "ITERATION",
        }
        if token:
            body["iterationNextToken"] = token
        return self.request(
            self.search_url, self.parse_search, entry=token is None, method="POST",
            body=json.dumps(body, ensure_ascii=False),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            # a batch asked for again (timedOut) is the very same request
            dont_filter=True,
            meta={"handle_httpstatus_list": [400], "ted_chain": index},
        )

    def next_query(self, index: int) -> scrapy.Request | None:
        """The first request of the query after the `index`th one; None after the last."""
        return self.search_request(index + 1) if index + 1 < len(self.chains) else None

    def cursor_value(self) -> str | None:
        """The position to show as the source's cursor: the earliest of the queries'."""
        return min(self.positions.values(), default=None)

    # -- batches --------------------------------------------------------------------------

    def parse_search(self, response: Response) -> Iterator[Any]:
        """Expects a search response:

            {"notices": [{"publication-number": "123456-2025", "publication-date":
                          "2025-03-04+01:00", "winner-name": {"pol": ["..."]}, ...,
                          "links": {"html": {"ENG": "https://ted.europa.eu/en/..."}}}],
             "totalNoticeCount": 42, "iterationNextToken": "...", "timedOut": false}

        An empty `notices` ends the query; `timedOut: true` marks a partial batch (asked
        for again); HTTP 400 is TED rejecting the query."""
        index = int(response.meta["ted_chain"])
        if response.status == 400:
            self._rejected(response)
            yield from self._give_up(index)
            return
        data = self.read_json(response)
        if data is None:
            yield from self._give_up(index)
            return
        notices = data.get("notices") if isinstance(data, dict) else None
        if not isinstance(notices, list) or not isinstance(data.get("timedOut", False), bool):
            self.shape_error(response, "notices[], totalNoticeCount, iterationNextToken and "
                             "timedOut (a TED search response)", data)
            yield from self._give_up(index)
            return
        if data.get("timedOut"):
            yield from self._timed_out(response, index)
            return
        if response.meta.get("monitor_entry"):  # the query's first batch
            self.logger.info("%s: query %d of %d: %s notices", self.source_name, index + 1,
                             len(self.chains), data.get("totalNoticeCount"))
        if not notices:
            yield from self.page(cursor=self.cursor_value(), follow=self.next_query(index),
                                 details=[])
            return
        numbers = {str(n.get("publication-number")) for n in notices if isinstance(n, dict)}
        read = self.read.setdefault(index, set())
        if numbers and numbers <= read:
            self.record_error(f"TED sent the same batch again at {response.url} "
                              f"(iterationNextToken did not move on): query stopped")
            yield from self._give_up(index)
            return
        read |= numbers
        records, newest, complete = self._notices(response, notices)
        yield from records
        chain = self.chains[index]
        if complete and newest and newest > self.positions[chain.key]:
            self.positions[chain.key] = newest
        token = data.get("iterationNextToken")
        follow = (self.search_request(index, token) if isinstance(token, str) and token
                  else self.next_query(index))
        yield from self.page(cursor=self.cursor_value(), follow=follow, details=[],
                             complete=complete)

    def _notices(self, response: Response, notices: list[Any],
                 ) -> tuple[list[TenderRecord], str | None, bool]:
        """The batch's records (merged into what is known of their procedures, or `seen`
        markers), the newest publication date read, and whether the run's budget held."""
        records: list[TenderRecord] = []
        newest: str | None = None
        for notice in notices:
            if not isinstance(notice, dict) or not notice.get("publication-number"):
                self.shape_error(response, "notices with a publication-number", notice)
                continue
            try:
                record = notice_record(notice, source=self.source.name)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                self.record_error(f"cannot read notice {notice.get('publication-number')!r} "
                                  f"at {response.url}: {type(exc).__name__}: {exc}")
                continue
            stored = self.stamps.get(record.native_id)
            if stored and record.modified and not later(record.modified, stored):
                records.append(self.seen(record.native_id, record.modified))
            elif not self.take_article():
                return records, newest, False
            else:
                merged = merge(self.known.get(record.native_id), record)
                number = str(notice["publication-number"]).strip()
                if merged.native_id != number:
                    # keyed by its procedure's UUID: the title says which notice it is
                    merged = replace(merged, title=numbered(merged.title, number))
                self.known[record.native_id] = merged
                self.stamps[record.native_id] = normalise_stamp(merged.modified) or ""
                records.append(merged)
            day = publication_day(notice.get("publication-date"))
            newest = max(newest or day, day) if day else newest
        return records, newest, True

    def _timed_out(self, response: Response, index: int) -> Iterator[Any]:
        """Ask for a partial batch again (same body, same token), a few times."""
        tries = int(response.meta.get("ted_timeouts", 0))
        request = response.request
        assert request is not None
        if tries < self.max_timeout_retries:
            self.logger.info("%s: TED timed out on a batch (timedOut: true); asking again",
                             self.source_name)
            yield request.replace(dont_filter=True,
                                  meta={**request.meta, "ted_timeouts": tries + 1})
            return
        self.record_error(
            f"TED timed out {tries + 1} times in a row at {response.url} (timedOut: true, a "
            f"partial batch): query {index + 1} stopped at publication date "
            f"{self.positions[self.chains[index].key]}",
            entry=bool(response.meta.get("monitor_entry")))
        yield from self._give_up(index)

    def _rejected(self, response: Response) -> None:
        self.fetched += 1
        sent = json.loads(response.request.body or b"{}") if response.request else {}
        query = sent.get("query") if isinstance(sent, dict) else None
        self.record_error(f"TED rejected the search (HTTP 400) at {response.url}: "
                          f"{error_text(response.body)}; query: {query}",
                          entry=bool(response.meta.get("monitor_entry")))

    def _give_up(self, index: int) -> Iterator[Any]:
        """A query that failed keeps its position; the next one still runs."""
        follow = self.next_query(index)
        if follow is not None:
            yield follow

    def on_error(self, failure: Failure) -> Iterator[Any]:  # type: ignore[override]
        yield from super().on_error(failure)
        request = failure.request  # type: ignore[attr-defined]
        if "ted_chain" in request.meta:
            yield from self._give_up(int(request.meta["ted_chain"]))
