"""The EU's Tenders Electronic Daily (TED): the v3 notice search API, asked for the watch
list's names."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response

from crawlers.spiders.portal_base import PortalSpider, error_in, mapping
from monitor.models import Organisation, TenderDocument, TenderLot, TenderRecord
from monitor.store import Store
from monitor.tender import normalise_stamp
from monitor.watches import Alias, Watch

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

# the organisation-name fields each watch name is looked for in (expert-search field names)
NAME_FIELDS = ("winner-name", "organisation-name-tenderer", "buyer-name")

# the notice fields asked for; `links` comes with every notice without being asked for
FIELDS = (
    "publication-number", "publication-date", "notice-type", "form-type",
    "procedure-identifier", "procedure-type", "notice-title", "title-proc",
    "description-proc", "buyer-name", "buyer-identifier", "buyer-country",
    "winner-name", "winner-identifier", "winner-country", "organisation-name-tenderer",
    "organisation-identifier-tenderer", "organisation-country-tenderer",
    "classification-cpv", "estimated-value-proc", "estimated-value-cur-proc",
    "estimated-value-lot", "estimated-value-cur-lot", "total-value", "total-value-cur",
    "result-value-notice", "result-value-cur-notice", "tender-value", "tender-value-cur",
    "deadline-receipt-tender-date-lot", "deadline-receipt-tender-time-lot",
    "deadline-receipt-request-date-lot", "deadline-receipt-request-time-lot",
    "winner-decision-date", "contract-conclusion-date", "identifier-lot", "title-lot",
)

# the API's limits: notices per batch, and notices x fields per batch
MAX_LIMIT = 250
MAX_FIELDS_PER_BATCH = 10_000

# VAT numbers start with the member state's code (Greece: EL; XI: Northern Ireland)
EU_VAT = re.compile(
    r"^(AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI)"
    r"(?=(?:[A-Z]*\d){6})[0-9A-Z]{8,12}$"
)
# ISO 3166 alpha-3 (TED's country codes) -> alpha-2 (org-id.guide's), for national ids
ISO2 = dict(pair.split(":") for pair in ["AUT:AT", "BEL:BE", "BGR:BG", "CYP:CY", "CZE:CZ", "DEU:DE", "DNK:DK", "EST:EE", "GRC:GR", "ESP:ES", "FIN:FI", "FRA:FR", "HRV:HR", "HUN:HU", "IRL:IE", "ITA:IT", "LTU:LT", "LUX:LU", "LVA:LV", "MLT:MT", "NLD:NL", "POL:PL", "PRT:PT", "ROU:RO", "SWE:SE", "SVN:SI", "SVK:SK", "ISL:IS", "LIE:LI", "NOR:NO", "CHE:CH", "GBR:GB", "ALB:AL", "BIH:BA", "MNE:ME", "MKD:MK", "SRB:RS", "TUR:TR", "UKR:UA", "MDA:MD", "GEO:GE", "ARM:AM", "AZE:AZ", "KAZ:KZ", "BLR:BY", "RUS:RU", "CHN:CN", "HKG:HK", "TWN:TW", "JPN:JP", "KOR:KR", "ISR:IL", "IND:IN", "USA:US", "CAN:CA", "AUS:AU"])

# the letters an alias may have to be searched for in TED: Latin script, digits, punctuation
_LATIN = re.compile(r"^[0-9A-Za-z\u00C0-\u024F\u1E00-\u1EFF\s&.,:;'’()+/-]+$")
# a TED date: 2025-03-04+01:00, 2025-03-04Z, 2025-03-04, 20250304
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(Z|[+-]\d{2}:?\d{2})?$")
_TIME = re.compile(r"^(\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?$")
_SORT = " SORT BY publication-date ASC"
# a title headed by a publication number (`numbered`), or that number alone
_NUMBERED = re.compile(r"^\d+-\d{4}(?:\s+–\s+|$)")


@dataclass(frozen=True, slots=True)
class _Chain:
    """One search: a batch of names (and the source's own restriction), read batch by batch
    through iteration tokens. `key` identifies its saved position."""

    key: str
    clause: str


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
    # a notice's page when its response has no `links`
    notice_url: ClassVar[str] = "https://ted.europa.eu/en/notice/-/detail/{number}"

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        self.chains: list[_Chain] = []
        # chain key -> the publication date (YYYYMMDD) it reads from in this run
        self.starts: dict[str, str] = {}
        # chain key -> the publication date of the last notice it read
        self.positions: dict[str, str] = {}
        # native id -> the latest record of the tender (stored, or read in this run)
        self.known: dict[str, TenderRecord] = {}
        # chain index -> publication numbers it read in this run
        self.read: dict[int, set[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Ted:
        spider: Ted = super().from_crawler(crawler, *args, **kwargs)  # type: ignore[assignment]
        if not crawler.settings.getbool("MONITOR_DRY_RUN"):
            with Store(crawler.settings["MONITOR_STATE"]) as store:
                spider.load_records(row["record"] for row in store.tenders(spider.source.name))
        return spider

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
        return urlunsplit(urlsplit(self.api_url)._replace(query="", fragment=""))

    @property
    def restriction(self) -> str:
        """The expert query on the source's `url` (`?query=...`), joined to every search."""
        values = parse_qs(urlsplit(self.api_url).query).get("query") or [""]
        return values[0].strip()

    @property
    def limit(self) -> int:
        # TED counts the `links` it always sends as one more field
        return max(1, min(self.page_size, MAX_LIMIT,
                          MAX_FIELDS_PER_BATCH // (len(self.fields) + 1)))

    def build_chains(self) -> list[_Chain]:
        clauses: list[str] = name_clauses(watch_names(self.config.watches), self.name_fields,
                                          self.max_names_per_query, self.max_query_chars)
        if not clauses and self.restriction:
            clauses = [""]
        return [_Chain(hashlib.sha1(c.encode()).hexdigest()[:12], c) for c in clauses]

    def query(self, chain: _Chain) -> str:
        parts = [f"({text})" for text in (chain.clause, self.restriction) if text]
        parts.append(f"publication-date >= {self.starts[chain.key]}")
        return " AND ".join(parts) + _SORT

    def first_day(self) -> str:
        """Where a query without a saved position starts: `since`, else the baseline."""
        since = self.source.since or (datetime.now(UTC).date()
                                      - timedelta(days=self.baseline_days))
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
                record = self.notice(notice)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                self.record_error(f"cannot read notice {notice.get('publication-number')!r} "
                                  f"at {response.url}: {type(exc).__name__}: {exc}")
                continue
            stored = self.stamps.get(record.native_id)
            if stored and record.modified and not _later(record.modified, stored):
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
            day = _day(notice.get("publication-date"))
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
                          f"{_error_text(response.body)}; query: {query}",
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

    # -- a notice -------------------------------------------------------------------------

    def notice(self, notice: dict[str, Any]) -> TenderRecord:
        """One notice as a record of its procedure (not yet merged, not yet normalised)."""
        number = str(notice["publication-number"]).strip()
        procedure = text(notice.get("procedure-identifier"))
        published = _iso(text(notice.get("publication-date")))
        bidders = organisations(texts(notice.get("organisation-name-tenderer")),
                                texts(notice.get("organisation-identifier-tenderer")),
                                texts(notice.get("organisation-country-tenderer")))
        # winner names come per lot, their identifiers per organisation in another order:
        # several winners get their ids from the tenderers' lists (see `organisations`)
        winners = organisations(texts(notice.get("winner-name")),
                                texts(notice.get("winner-identifier")),
                                texts(notice.get("winner-country")),
                                in_order=False, known=bidders)
        buyers = organisations(texts(notice.get("buyer-name"))[:1],
                               texts(notice.get("buyer-identifier"))[:1],
                               texts(notice.get("buyer-country"))[:1])
        value, currency = _money(notice.get("estimated-value-proc"),
                                 notice.get("estimated-value-cur-proc"))
        if value is None:
            value, currency = _money(notice.get("estimated-value-lot"),
                                     notice.get("estimated-value-cur-lot"))
        award_value, award_currency = _money(notice.get("total-value"),
                                             notice.get("total-value-cur"))
        if award_value is None:
            award_value, award_currency = _money(notice.get("result-value-notice"),
                                                 notice.get("result-value-cur-notice"))
        if award_value is None:
            award_value, award_currency = _money(notice.get("tender-value"),
                                                 notice.get("tender-value-cur"))
        url = notice_link(notice) or self.notice_url.format(number=number)
        lot_ids = texts(notice.get("identifier-lot"))
        lot_titles = texts(notice.get("title-lot"))
        notice_type = text(notice.get("notice-type"))
        return TenderRecord(
            source=self.source.name,
            native_id=procedure or number,
            title=text(notice.get("notice-title")) or text(notice.get("title-proc")),
            description="\n".join(texts(notice.get("description-proc"))),
            url=url,
            buyer=buyers[0] if buyers else None,
            status=status_of(text(notice.get("form-type")), notice_type, bool(winners)),
            procedure=text(notice.get("procedure-type")),
            cpv=tuple(texts(notice.get("classification-cpv"))),
            value=value,
            currency=currency,
            published=published,
            deadline=_deadline(notice),
            award_date=_earliest(_iso(d) for d in texts(notice.get("winner-decision-date"))),
            contract_date=_earliest(
                _iso(d) for d in texts(notice.get("contract-conclusion-date"))),
            # winners are bidders too (normalising drops the repeats)
            bidders=tuple(bidders + winners),
            winners=tuple(winners),
            award_value=award_value if winners else None,
            award_currency=award_currency if winners else None,
            lots=tuple(
                TenderLot(id=lot, title=lot_titles[i] if len(lot_titles) == len(lot_ids) else "")
                for i, lot in enumerate(lot_ids)
            ),
            documents=(TenderDocument(url=url, title=f"{notice_type or 'notice'} {number}",
                                      kind=notice_type or None, published=published),),
            modified=_stamp(text(notice.get("publication-date")), number),
            raw_hash=hashlib.sha256(json.dumps(notice, sort_keys=True).encode()).hexdigest(),
        )


# -- language maps and lists -------------------------------------------------------------------


def texts(value: Any) -> list[str]:
    """A TED value as a list of strings: a language map read in English (`eng`), else in
    its first language; a list as its strings; a string or number as itself. Blank strings
    and nulls are dropped."""
    if isinstance(value, dict):
        if not value:
            return []
        key = "eng" if "eng" in value else "ENG" if "ENG" in value else next(iter(value))
        return texts(value[key])
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    if isinstance(value, bool) or value is None:
        return []
    string = str(value).strip()
    return [string] if string else []


def text(value: Any) -> str:
    """The first of `texts(value)`, or ""."""
    found = texts(value)
    return found[0] if found else ""


def notice_link(notice: dict[str, Any]) -> str | None:
    """The notice's English page on ted.europa.eu as TED links it (`links.html.ENG`); None
    without one. Not `htmlDirect` (the bare notice, without TED's page around it) nor a page
    in another language: the page built from the publication number is the better link."""
    url = mapping(mapping(notice.get("links")).get("html")).get("ENG")
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def numbered(title: str, number: str) -> str:
    """`title` headed by the publication number of the notice it was read from ("151207-2025
    – Poland – X-ray apparatus – ..."), a number it carried before replaced."""
    heading = _NUMBERED.sub("", title.strip())
    return f"{number} – {heading}" if heading else number


# -- the query -------------------------------------------------------------------------------


def watch_names(watches: Sequence[Watch]) -> list[str]:
    """The names to search TED for: each watch's name (unless `match_name: false`), its
    aliases and its related organisations' names and aliases; Latin script only (TED's
    names are written in EU languages), aliases that need context left out, each once."""

    def plain(aliases: Iterable[Alias]) -> list[str]:
        return [a.text for a in aliases if not a.needs_context]

    names: dict[str, str] = {}
    for watch in watches:
        found = ([watch.name] if watch.match_name else []) + plain(watch.aliases)
        for related in watch.related:
            found += [related.name, *plain(related.aliases)]
        for name in found:
            cleaned = " ".join(name.replace('"', " ").replace("\\", " ").split())
            if (_LATIN.match(cleaned) and sum(c.isalnum() for c in cleaned) >= 3
                    and cleaned.casefold() not in names):
                names[cleaned.casefold()] = cleaned
    return list(names.values())


def name_clauses(names: Sequence[str], fields: Sequence[str], max_names: int,
                 max_chars: int) -> list[str]:
    """`field ~ "name"` for every field and name, OR-ed, in as few clauses as fit
    `max_names` names and `max_chars` characters each (a longer name gets one of its own)."""
    clauses: list[str] = []
    current: list[str] = []
    for name in names:
        part = " OR ".join(f'{field} ~ "{name}"' for field in fields)
        if current and (len(current) >= max_names
                        or len(" OR ".join([*current, part])) > max_chars):
            clauses.append(" OR ".join(current))
            current = []
        current.append(part)
    if current:
        clauses.append(" OR ".join(current))
    return clauses


# -- organisations ---------------------------------------------------------------------------


def organisations(names: list[str], ids: list[str], countries: list[str], *,
                  in_order: bool = True, known: Sequence[Organisation] = ()
                  ) -> list[Organisation]:
    """Organisations from TED's parallel lists, with every identifier TED gives. Names are
    taken once each (a winner of three lots is named three times); identifiers and
    countries are per organisation, and one organisation may have several identifiers (a
    Slovak IČO and DIČ), so:

    - one organisation: all its identifiers, the first on it and each other one on an entry
      of the same name (a watch may know it by either);
    - several, `in_order` (the tenderers' lists, which TED writes organisation by
      organisation): paired by position when the counts agree;
    - several winners (`in_order=False`): their names are in lot order and their
      identifiers in organisation order, which TED does not keep the same (a real award
      notice lists four winners' ids in reverse), so ids come only from `known`
      organisations of the same name (the tenderers), each one they have;
    - identifiers that cannot be paired with a name are kept on entries without a name:
      nothing TED gives is dropped, and a watch's registry id still finds them."""
    unique = list(dict.fromkeys(n for n in names if n))
    registered = [registry_id(i, c) for i, c in zip(ids, _country_per_id(ids, countries),
                                                    strict=True)]
    if len(unique) == 1:
        return [Organisation(name=unique[0], id=registry, scheme=scheme)
                for registry, scheme in dict.fromkeys(r for r in registered if r[0])
                ] or [Organisation(name=unique[0])]
    out: list[Organisation] = []
    if in_order and len(ids) == len(unique):
        out = [Organisation(name=name, id=registered[i][0], scheme=registered[i][1])
               for i, name in enumerate(unique)]
    elif in_order:
        out = [Organisation(name=name) for name in unique]
    else:
        for name in unique:
            same = [replace(o, name=name) for o in known
                    if o.id and o.name.casefold() == name.casefold()]
            out += list(dict.fromkeys(same)) or [Organisation(name=name)]
    paired = {_compact(o.id) for o in out if o.id}
    out += [Organisation(name="", id=registry, scheme=scheme)
            for registry, scheme in dict.fromkeys(r for r in registered if r[0])
            if _compact(registry) not in paired]
    return out


def _country_per_id(ids: list[str], countries: list[str]) -> list[str]:
    """A country for each identifier: paired by position when the counts agree, else the
    only country given, else none."""
    if len(countries) == len(ids):
        return list(countries)
    if len(set(countries)) == 1:
        return countries[:1] * len(ids)
    return [""] * len(ids)


def _compact(identifier: str | None) -> str:
    return re.sub(r"[\s.\-/]", "", identifier or "").upper()


def registry_id(identifier: str, country: str) -> tuple[str | None, str | None]:
    """(id, scheme) of an identifier TED gives: a VAT number as EU-VAT (spaces, dots and
    dashes dropped), else the national identifier as written, scheme `<ISO2>-NAT` from the
    organisation's country (None when the country is unknown)."""
    raw = identifier.strip()
    if not raw:
        return None, None
    compact = re.sub(r"[\s.\-/]", "", raw).upper()
    if EU_VAT.match(compact):
        return compact, "EU-VAT"
    iso2 = ISO2.get(country.strip().upper()) or (
        country.strip().upper() if len(country.strip()) == 2 else None)
    return raw, f"{iso2}-NAT" if iso2 else None


# -- status, money, dates ----------------------------------------------------------------------


def status_of(form_type: str, notice_type: str, has_winners: bool) -> str:
    """The tender's status from the notice's form type (eForms `form-type`)."""
    if form_type == "cont-modif" or notice_type.startswith("can-modif"):
        return "modified"
    if has_winners and form_type != "planning":
        return "awarded"
    return {"planning": "planned", "competition": "announced", "change": "announced",
            "result": "closed", "dir-awa-pre": "announced"}.get(form_type, form_type
                                                                or notice_type)


def merge(old: TenderRecord | None, new: TenderRecord) -> TenderRecord:
    """A later notice of a procedure (`new`) over what is known of it (`old`): the new
    notice's fields, with the old ones where it leaves them out; the earliest publication
    date; lots and documents of both. Winners: a notice that covers only some of the known
    lots adds its winners to the others' (one award notice per lot); a notice that names no
    winner after an award keeps the award: a correction of the call, a result notice for
    lots not awarded, or a contract modification (TED's modification notices carry no
    `winner-name`; the status still becomes `modified`)."""
    if old is None:
        return new
    new_lots = {lot.id for lot in new.lots}
    partial = bool(new_lots) and not {lot.id for lot in old.lots} <= new_lots
    winners, bidders, status = new.winners, new.bidders, new.status
    award = (new.award_value, new.award_currency)
    if old.winners and not new.winners:
        winners, award = old.winners, (old.award_value, old.award_currency)
        bidders = old.bidders + tuple(b for b in new.bidders if b not in old.bidders)
        status = new.status if new.status == "modified" else old.status
    elif old.winners and partial:
        winners, bidders = old.winners + new.winners, old.bidders + new.bidders
        if (old.award_value is not None and new.award_value is not None
                and old.award_currency == new.award_currency):
            award = (round(old.award_value + new.award_value, 2), new.award_currency)
        elif new.award_value is None:
            award = (old.award_value, old.award_currency)
    value = (new.value, new.currency) if new.value is not None else (old.value, old.currency)
    urls = {d.url for d in new.documents}
    return replace(
        new,
        title=new.title or old.title,
        description=new.description or old.description,
        buyer=new.buyer or old.buyer,
        status=status,
        procedure=new.procedure or old.procedure,
        cpv=tuple(dict.fromkeys(new.cpv + old.cpv)),
        value=value[0],
        currency=value[1],
        published=_earliest([old.published, new.published]),
        deadline=new.deadline or old.deadline,
        award_date=new.award_date or old.award_date,
        contract_date=new.contract_date or old.contract_date,
        winners=winners,
        bidders=bidders,
        award_value=award[0],
        award_currency=award[1],
        lots=new.lots + tuple(lot for lot in old.lots if lot.id not in new_lots),
        documents=new.documents + tuple(d for d in old.documents if d.url not in urls),
    )


def _money(amounts: Any, currencies: Any) -> tuple[float | None, str | None]:
    """A value (or the sum of a list of values, all in one currency, to the cent) and its
    currency. TED writes -1 for a value not given (`"total-value": -1`, `"result-value-lot":
    ["-1", "-1"]`): a negative amount makes the value unknown."""
    numbers: list[float] = []
    for amount in texts(amounts):
        try:
            numbers.append(float(amount))
        except ValueError:
            return None, None
    codes = {c.upper() for c in texts(currencies)}
    if not numbers or len(codes) > 1 or min(numbers) < 0:
        return None, None
    return round(math.fsum(numbers), 2), codes.pop() if codes else None


def _iso(value: str | None, time: str | None = None) -> str | None:
    """A TED date (`2025-03-04+01:00`) as an ISO-8601 date-time: with `time`
    (`10:00:00+02:00`) the moment it names; without, the calendar day at 00:00 UTC (its
    midnight in +01:00 would be the day before in UTC, and show as that day). A value in
    another form is kept as it came."""
    if not value:
        return None
    found = _DATE.match(value.strip())
    if not found:
        return value.strip()
    year, month, day, zone = found.groups()
    clock, zone = "00:00:00", None
    if time and (at := _TIME.match(time.strip())):
        clock = at.group(1) if at.group(1).count(":") == 2 else at.group(1) + ":00"
        zone = at.group(2) or found.group(4)
    zone = "+00:00" if zone in (None, "Z") else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    return f"{year}-{month}-{day}T{clock}{zone}"


def _day(value: Any) -> str | None:
    """A publication date as YYYYMMDD (the query's form)."""
    found = _DATE.match(text(value))
    return "".join(found.groups()[:3]) if found else None


def _stamp(published: str, number: str) -> str | None:
    """The record's stamp: the publication date, with the publication number's serial as
    microseconds so that two notices of one day keep their order."""
    iso = _iso(published)
    serial = number.split("-", 1)[0]
    if not iso or not _DATE.match(published.strip()) or not serial.isdigit():
        return iso
    return f"{iso[:19]}.{min(int(serial), 999_999):06d}{iso[19:]}"


def _parse(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _later(stamp: str, than: str) -> bool:
    """Whether `stamp` is after `than` (unreadable stamps: when they differ)."""
    a, b = _parse(stamp), _parse(than)
    return a > b if a is not None and b is not None else normalise_stamp(stamp) != than


def _earliest(values: Iterable[str | None]) -> str | None:
    """The earliest of ISO-8601 date-times (compared as times, not as strings)."""
    given = [v for v in values if v]
    dated = [(p, v) for v in given if (p := _parse(v)) is not None]
    return min(dated)[1] if dated else next(iter(given), None)


def _deadline(notice: dict[str, Any]) -> str | None:
    """The earliest lot deadline for tenders, else for requests to participate."""
    for kind in ("tender", "request"):
        dates = texts(notice.get(f"deadline-receipt-{kind}-date-lot"))
        times = texts(notice.get(f"deadline-receipt-{kind}-time-lot"))
        found = _earliest(_iso(d, times[i] if len(times) == len(dates) else None)
                          for i, d in enumerate(dates))
        if found:
            return found
    return None


def _error_text(body: bytes) -> str:
    """What an error response says: its `message`, its errors, else its start."""
    try:
        data = json.loads(body)
    except ValueError:
        return repr(body[:200].decode("utf-8", "replace").strip())
    if isinstance(data, dict):
        message = data.get("message") or data.get("detail") or error_in(data)
        if message:
            return str(message)
    return json.dumps(data, ensure_ascii=False)[:200]
