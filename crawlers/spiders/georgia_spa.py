"""Georgia's State Procurement Agency (SPA): the e-procurement portal's HTML fragments, read
through the controller its public pages call (tenders.procurement.gov.ge)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import scrapy
from parsel import Selector, SelectorList
from scrapy.http import Response

from crawlers.spiders.portal_base import PortalSpider
from monitor.models import Organisation, PortalCursor, TenderDocument, TenderRecord

if TYPE_CHECKING:
    from twisted.python.failure import Failure

# the portal's dates and times are Tbilisi's (UTC+4 all year: Georgia has no summer time)
TBILISI = timezone(timedelta(hours=4), "Asia/Tbilisi")
# the register a company profile's identification code (საიდენტიფიკაციო კოდი) belongs to
SCHEME = "GE-NAPR"

# app_status codes (the stat<N>.png icon) as statuses in the dotted style of the other
# portals; a cancellation ends in `cancelled` (monitor.tender.is_cancelled)
STATUSES: dict[str, str] = {
    "10": "active.announced",          # გამოცხადებულია
    "20": "active.tendering",          # წინადადებების მიღება დაწყებულია
    "30": "active.tendering_closed",   # წინადადებების მიღება დასრულებულია
    "40": "active.qualification",      # შერჩევა/შეფასება
    "50": "active.awarded",            # გამარჯვებული გამოვლენილია
    "100": "unsuccessful",             # დასრულებულია უარყოფითი შედეგით
    "110": "unsuccessful.not_held",    # არ შედგა
    "120": "cancelled",                # შეწყვეტილია
    "130": "active.contract_pending",  # მიმდინარეობს ხელშეკრულების მომზადება
    "140": "complete",                 # ხელშეკრულება დადებულია
}
# the same statuses by their Georgian labels (app_main without an icon, the status history)
LABEL_CODES: dict[str, str] = {
    "გამოცხადებულია": "10",
    "წინადადებების მიღება დაწყებულია": "20",
    "წინადადებების მიღება დასრულებულია": "30",
    "შერჩევა/შეფასება": "40",
    "გამარჯვებული გამოვლენილია": "50",
    "დასრულებულია უარყოფითი შედეგით": "100",
    "არ შედგა": "110",
    "შეწყვეტილია": "120",
    "მიმდინარეობს ხელშეკრულების მომზადება": "130",
    "ხელშეკრულება დადებულია": "140",
}
# statuses from which the winner is known
AWARDED = frozenset({"50", "130", "140"})

# the search form (#search_frm) exactly as the portal's page posts it: every field, always;
# app_date_type 3 filters by status date (1: registration, 2: trade)
SEARCH_FORM: tuple[tuple[str, str], ...] = (
    ("action", "search_app"), ("app_t", "0"), ("search", ""), ("app_reg_id", ""),
    ("app_shems_id", "0"), ("org_a", ""), ("app_monac_id", "0"), ("org_b", ""),
    ("app_particip_status_id", "0"), ("app_donor_id", "0"), ("app_status", "0"),
    ("app_agr_status", "0"), ("app_type", "0"), ("app_basecode", "0"), ("app_codes", ""),
    ("app_date_type", "3"), ("app_date_from", ""), ("app_date_tlll", ""),
    ("app_amount_from", ""), ("app_amount_to", ""), ("app_currency", "2"),
    ("app_pricelist", "0"),
)
AJAX = {"X-Requested-With": "XMLHttpRequest"}
FORM = {**AJAX, "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}

# "5 ჩანაწერი (გვერდი: 1/2)": records, this page, pages
_PAGER = re.compile(r"(\d+)\s*ჩანაწერი\s*\(\s*გვერდი:\s*(\d+)\s*/\s*(\d+)\s*\)")
_NUMBER = re.compile(r"[A-Z]{2,4}\d{6,}")
_STAT = re.compile(r"stat(\d+)\.png")
_PROFILE = re.compile(r"ShowProfile\(\s*(\d+)")
_SHOW_APP = re.compile(r"ShowApp\(\s*(\d+)")
_WHEN = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+(\d{1,2}):(\d{2}))?")
_MONEY = re.compile(r"\d[\d`'’\s,]*(?:\.\d+)?")
_CPV = re.compile(r"\b(\d{8})\b")
# a search row's winner line; the contract status may come before it and the bidder count
# after it on the same line
_ROW_WINNER = re.compile(r"(?:^|\s)გამარჯვებული\s*:\s*(.+?)(?:\s+მონაწილეთა რაოდენობა\b.*)?$")
# what PHP prints instead of a fragment: "[8] Undefined index: lang :: .../controller.php -
# Line:8" (a lost session), "Undefined offset" (an unknown app_id), fatal errors
_PHP_ERROR = re.compile(r"Undefined (?:index|offset|variable)|(?:Fatal|Parse) error|"
                        r"Uncaught \w+|\.php\s*-\s*Line:?\s*\d+", re.IGNORECASE)


@dataclass(slots=True)
class _Bid:
    """A row of the bids table."""

    name: str
    org_id: str | None
    amount: float | None
    # the portal highlights the winning bid (activebid1)
    winner: bool


@dataclass(slots=True)
class _Contract:
    """A contract block of the results (the layout that shows it there)."""

    name: str
    org_id: str | None
    value: float | None
    signed: str | None


@dataclass(eq=False)
class _Tender:
    """One tender while its fragments and profiles are fetched, one request after another."""

    app_id: str
    # the search row it came from (None: a detail fetched again after a failed run)
    day: str | None = None
    number: str | None = None
    code: str | None = None
    # the row's "გამარჯვებული: ..." line
    row_winner: str | None = None
    # the app_main request: the detail the page waits for
    origin: scrapy.Request | None = None
    main: dict[str, Any] = field(default_factory=dict)
    raw_hash: str | None = None
    bids: list[_Bid] = field(default_factory=list)
    documents: list[TenderDocument] = field(default_factory=list)
    contracts: list[_Contract] = field(default_factory=list)
    # (ISO time, status label), newest first
    history: list[tuple[str, str]] = field(default_factory=list)
    # profile ids still being fetched
    waiting: set[str] = field(default_factory=set)

    def org_ids(self) -> list[str]:
        ids = [self.main.get("buyer_id")] + [b.org_id for b in self.bids]
        ids += [c.org_id for c in self.contracts]
        return list(dict.fromkeys(i for i in ids if i))


class GeorgiaSpa(PortalSpider):
    """
    Reads
      Georgia's e-procurement portal (`portal: georgia_spa`, `url:` its controller,
      https://tenders.procurement.gov.ge/public/library/controller.php), the way its public
      pages do: the home page `/public/?lang=ge` starts a session (the SPALITE cookie, in
      Georgian); `action=search_app` (POSTed search form) lists the tenders whose status
      changed on one day (`app_date_type=3`, `app_date_from`/`app_date_tlll` DD.MM.YYYY),
      then `action=search_app&page=N` pages through that list, reading the page count again
      on every page. Each listed tender is read from its fragments `app_main`, `app_bids`,
      `agency_docs` (results) and `app_statushistory` (`app_id=`), and each company once per
      run from `action=profile&org_id=`.
    Records
      One per tender, keyed by its number (NAT250021073, SPA…, CON…, GEO…), linked to its
      public page (`/public/?go=<app_id>&lang=ge`): buyer, procurement type, status, CPV
      codes (category and classifier codes), estimated value (GEL), announcement date and
      bid deadline, description; bidders from the bids table; winners: the supplier of a
      contract shown in the results, else (once the status says a winner was chosen) the
      highlighted bid, else the list's "გამარჯვებული" line; the awarded value is the
      contract's or the winning bid's. Every company's identification code comes from its
      profile (`GE-NAPR:<code>`). The status history dates the award (გამარჯვებული
      გამოვლენილია) and the contract (ხელშეკრულება დადებულია); result documents are listed.
      Statuses: active.announced, active.tendering, active.tendering_closed,
      active.qualification, active.awarded, active.contract_pending, complete,
      unsuccessful, unsuccessful.not_held, cancelled (app_status 10…140); an unknown
      status keeps its Georgian label.
    Incremental
      The position is the last day whose status changes were read to the end (YYYY-MM-DD).
      Each run reads from that day, again, up to today (Tbilisi time), one day at a time. A
      tender listed again on a day with the status it had when it was read is not fetched
      again.
    Since
      Without `since`, the first run reads yesterday's and today's changes as a silent
      baseline. With `since`, the first run reads every day from that date (a backfill).
    Caveats
      The search and its pages live in the portal's session, so requests go one after the
      other. The portal answers errors with HTTP 200: an empty body, a PHP notice (a lost
      session: "Undefined index: lang"; an unknown tender: "Undefined offset") or a page
      without the expected table fail the run (first search) or the tender, which is read
      again next run. A company profile that fails leaves the company without its code.
      The contract tab (`agr_docs`) is not read: recent tenders show the winner through the
      highlighted bid and the list. The list shows 4 tenders a page; `page_size` is ignored.
      The portal's robots.txt disallows crawlers (`crawl.obey_robots`).
    Docs
      No official API documentation; the shapes are the portal's own pages (see
      tests/pages/georgia_spa/).
    """

    name = "georgia_spa"

    # GeorgiaSpa
    # days a first run without `since` reads (yesterday and today)
    baseline_days: ClassVar[int] = 2

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        # where a run stops once it is interrupted: the last day read to the end
        self.resume_day: date | None = None
        self.last_day: date | None = None
        # day -> tender number -> the status code it was read with
        self.seen_codes: dict[str, dict[str, str]] = {}
        # app ids fetched in this run (a tender can change status on two days)
        self.fetched_ids: set[str] = set()
        # profile id -> the company (None: the profile failed), once per run
        self.profiles: dict[str, Organisation | None] = {}
        self.waiting: dict[str, list[_Tender]] = {}

    def load_position(self, saved: PortalCursor | None, stamps: dict[str, str]) -> None:
        super().load_position(saved, stamps)
        seen = self.saved_state.get("seen")
        self.seen_codes = {
            str(day): {str(k): str(v) for k, v in ids.items()}
            for day, ids in (seen.items() if isinstance(seen, dict) else ())
            if isinstance(ids, dict)
        }

    def cursor_state(self) -> dict[str, Any]:
        # only the days the next run reads again
        keep = self.cursor or ""
        self.seen_codes = {d: ids for d, ids in self.seen_codes.items() if d >= keep}
        return {"seen": self.seen_codes}

    def today(self) -> date:
        """Today in Tbilisi, the portal's day."""
        return datetime.now(TBILISI).date()

    # -- urls -----------------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        """The public pages (…/public/): the base of the fragments' links."""
        return urljoin(self.api_url, "../")

    def controller(self, **params: Any) -> str:
        return f"{self.api_url}?{urlencode(params)}"

    def notice_url(self, app_id: str) -> str:
        return urljoin(self.public_url, f"?go={app_id}&lang=ge")

    # -- requests -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        self.last_day = self.today()
        self.resume_day = self.first_day(self.last_day)
        # redirects followed, error statuses too: the search then says what is wrong
        yield self.request(urljoin(self.public_url, "?lang=ge"), self.parse_home, entry=True,
                           meta={"handle_httpstatus_list": list(range(400, 600))},
                           dont_filter=True)

    def first_day(self, today: date) -> date:
        """The saved position, else `since`, else the baseline window."""
        day: date | None = None
        if self.cursor:
            try:
                day = date.fromisoformat(self.cursor)
            except ValueError:
                self.logger.warning("%s: ignoring the saved position %r (not a date)",
                                    self.source_name, self.cursor)
        if day is None:
            day = self.source.since or today - timedelta(days=self.baseline_days - 1)
        return min(day, today)

    def parse_home(self, response: Response) -> Iterator[Any]:
        """The home page only sets up the session (cookie and language)."""
        self.fetched += 1
        if response.status != 200:
            self.logger.warning("%s: HTTP %d from %s; searching without a fresh session",
                                self.source_name, response.status, response.url)
        assert self.resume_day is not None
        self.entry_requests -= 1  # the first search is the entry point from here on
        yield from self.start_with(self.search_request(self.resume_day, entry=True))

    def search_request(self, day: date, *, entry: bool = False) -> scrapy.Request:
        """The first page of the tenders whose status changed on `day`."""
        form = dict(SEARCH_FORM)
        form["app_date_from"] = form["app_date_tlll"] = day.strftime("%d.%m.%Y")
        return self.request(self.api_url, self.parse_search, entry=entry, method="POST",
                            body=urlencode(form), headers=FORM, dont_filter=True,
                            cb_kwargs={"day": day, "page": 1})

    def page_request(self, day: date, page: int) -> scrapy.Request:
        """Page `page` of the search the session holds."""
        # the same URL for every day's page N: never filtered as a duplicate
        return self.request(self.controller(action="search_app", page=page), self.parse_search,
                            headers=AJAX, dont_filter=True, cb_kwargs={"day": day, "page": page})

    def main_request(self, url: str, tender: _Tender) -> scrapy.Request:
        request = self.detail(url, self.parse_main, meta={"georgia_tender": tender},
                              headers=AJAX, dont_filter=True)
        tender.origin = request
        return request

    def retry_detail(self, url: str) -> scrapy.Request:
        app_id = parse_qs(urlsplit(url).query).get("app_id", [""])[0]
        self.fetched_ids.add(app_id)
        return self.main_request(url, _Tender(app_id=app_id))

    def step_request(self, tender: _Tender, action: str,
                     callback: Callable[[Response], Iterator[Any]]) -> scrapy.Request:
        return self.request(self.controller(action=action, app_id=tender.app_id), callback,
                            meta={"georgia_tender": tender, "georgia_step": action},
                            headers=AJAX, dont_filter=True)

    # -- the search -----------------------------------------------------------------------

    def parse_search(self, response: Response, day: date, page: int) -> Iterator[Any]:
        """Expects the result list: `table#list_apps_by_subject` with a row per tender
        (`tr#A<app_id>`, status icon `stat<N>.png`, `p.status`, "განცხადების ნომერი:
        <strong>NAT…</strong>") and the pager "N ჩანაწერი (გვერდი: page/pages)"; an empty
        list has the single row "ჩანაწერები არ არის"."""
        text, selector = self.decode(response)
        entry = bool(response.meta.get("monitor_entry"))
        if self._error_body(response, text, entry=entry):
            return
        table = selector.css("table#list_apps_by_subject")
        if not table:
            self._shape(response, "search_app", "no result list (expected "
                        "table#list_apps_by_subject)")
            return
        rows = table.css("tr[id^='A']")
        pager = _PAGER.search(" ".join(selector.css(".pager ::text").getall())) or \
            _PAGER.search(" ".join(selector.xpath("//text()").getall()))
        pages = 0
        if rows:
            if pager is None:
                self._shape(response, "search_app", "no page count (expected a pager "
                            "'N ჩანაწერი (გვერდი: page/pages)')")
                return
            current, pages = int(pager.group(2)), int(pager.group(3))
            if current != page:
                self._shape(response, "search_app", f"asked for page {page} of {day}, got "
                            f"page {current} of {pages}")
                return
        elif pager is None and "ჩანაწერები არ არის" not in _text(table):
            self._shape(response, "search_app", "neither tender rows (tr#A<app_id>) nor the "
                        "empty list's 'ჩანაწერები არ არის'")
            return
        seen, details, complete = self._rows(response, day, rows)
        assert self.resume_day is not None and self.last_day is not None
        if not complete:
            # max_items: keep the position before this day; tenders read are remembered
            cursor, follow = self.resume_day, None
        elif page < pages:
            cursor, follow = self.resume_day, self.page_request(day, page + 1)
        else:
            self.resume_day = cursor = day
            follow = (self.search_request(day + timedelta(days=1))
                      if day < self.last_day else None)
        yield from seen
        yield from self.page(cursor=cursor.isoformat(), follow=follow, details=details)

    def _rows(self, response: Response, day: date, rows: SelectorList[Selector],
              ) -> tuple[list[TenderRecord], list[scrapy.Request], bool]:
        """`seen` markers for tenders already read with this day's status, detail requests
        for the others, and whether the run's budget covered the page."""
        seen: list[TenderRecord] = []
        details: list[scrapy.Request] = []
        known = self.seen_codes.get(day.isoformat(), {})
        for row in rows:
            match = re.fullmatch(r"A(\d+)", row.attrib.get("id", "")) or _SHOW_APP.search(
                row.attrib.get("onclick", ""))
            if match is None:
                self._shape(response, "search_app", f"a row without a tender id (expected "
                            f"tr id=\"A<app_id>\"): {row.attrib.get('id')!r}")
                continue
            app_id = match.group(1)
            number = _text(row.xpath(".//p[contains(., 'ნომერი')]/strong")) or None
            code = _status_code(row.css("img::attr(src)").get())
            if number and code and known.get(number) == code:
                seen.append(self.seen(number))
                continue
            if app_id in self.fetched_ids:
                continue
            if not self.take_article():
                return seen, details, False
            self.fetched_ids.add(app_id)
            tender = _Tender(app_id=app_id, day=day.isoformat(), number=number, code=code,
                             row_winner=_row_winner(row))
            details.append(self.main_request(self.controller(action="app_main", app_id=app_id),
                                             tender))
        return seen, details, True

    # -- a tender's fragments, one after another ------------------------------------------

    def parse_main(self, response: Response) -> Iterator[Any]:
        """Expects `div#app_main` with `table.with-label`: label/value rows (განცხადების
        ნომერი, შესყიდვის სტატუსი with its stat<N>.png, შემსყიდველი with ShowProfile(id),
        dates, სავარაუდო ღირებულება, შესყიდვის კატეგორია), classifier codes, `div.blabla`."""
        yield from self._step(response, self._read_main, "app_bids", self.parse_bids)

    def parse_bids(self, response: Response) -> Iterator[Any]:
        """Expects `div#app_bids`: a `table.ktable` of bidders (`tr#B<app_id><bidder>`:
        name with ShowProfile(id), last bid, first bid, count), empty before bids open, or
        the `#TenderCountdown` while they are taken."""
        yield from self._step(response, self._read_bids, "agency_docs", self.parse_results)

    def parse_results(self, response: Response) -> Iterator[Any]:
        """Expects `div#agency_docs` with `table#reports` (result documents, or the row
        "დოკუმენტაცია მიმაგრებული არ არის"), and in some layouts a contract block
        (ShowProfile(id), <strong>supplier</strong>, "ნომერი/თანხა: N / 123 ლარი")."""
        yield from self._step(response, self._read_results, "app_statushistory",
                              self.parse_history)

    def parse_history(self, response: Response) -> Iterator[Any]:
        """Expects `div#z` with `table.with-free-label-history`: (DD.MM.YYYY HH:MM, status)
        rows, newest first."""
        yield from self._step(response, self._read_history, None, None)

    def _step(self, response: Response, read: Callable[[_Tender, Response], bool],
              action: str | None, callback: Callable[[Response], Iterator[Any]] | None,
              ) -> Iterator[Any]:
        """Read one fragment into the tender; then ask for the next one, or the profiles."""
        tender: _Tender = response.meta["georgia_tender"]
        fragment = response.meta.get("georgia_step", "app_main")
        try:
            ok = read(tender, response)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            self.record_error(f"cannot read the {fragment} fragment at {response.url}: "
                              f"{type(exc).__name__}: {exc}")
            ok = False
        if not ok:
            yield from self._fail(tender)
        elif action is not None and callback is not None:
            yield self.step_request(tender, action, callback)
        else:
            yield from self._profiles(tender)

    def _fail(self, tender: _Tender) -> Iterator[Any]:
        """The tender is given up for this run; the next run fetches it again."""
        assert tender.origin is not None
        yield from self.detail_done(tender.origin, failed=True)

    def _profiles(self, tender: _Tender) -> Iterator[Any]:
        """Ask for the profiles not read yet in this run; the record waits for them."""
        for org_id in tender.org_ids():
            if org_id in self.profiles:
                continue
            tender.waiting.add(org_id)
            if org_id in self.waiting:
                self.waiting[org_id].append(tender)
                continue
            self.waiting[org_id] = [tender]
            yield self.request(self.controller(action="profile", org_id=org_id),
                               self.parse_profile, meta={"georgia_profile": org_id},
                               headers=AJAX, dont_filter=True)
        if not tender.waiting:
            yield from self._finish(tender)

    def parse_profile(self, response: Response) -> Iterator[Any]:
        """Expects `div#profile_dialog` with `table.with-label`: the role row (შემსყიდველი
        or მიმწოდებელი, name in <strong>) and საიდენტიფიკაციო კოდი (the registry code)."""
        org_id = str(response.meta["georgia_profile"])
        try:
            org = self._read_profile(response)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            self.record_error(f"cannot read the profile fragment at {response.url}: "
                              f"{type(exc).__name__}: {exc}")
            org = None
        yield from self._profile_done(org_id, org)

    def _profile_done(self, org_id: str, org: Organisation | None) -> Iterator[Any]:
        self.profiles[org_id] = org
        for tender in self.waiting.pop(org_id, []):
            tender.waiting.discard(org_id)
            if not tender.waiting:
                yield from self._finish(tender)

    def _finish(self, tender: _Tender) -> Iterator[Any]:
        assert tender.origin is not None
        try:
            record = self.tender(tender)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            self.record_error(f"cannot read tender {tender.app_id} "
                              f"({self.notice_url(tender.app_id)}): {type(exc).__name__}: {exc}")
            yield from self._fail(tender)
            return
        if tender.day and tender.code:
            self.seen_codes.setdefault(tender.day, {})[tender.number or record.native_id] = \
                tender.code
        yield record
        yield from self.detail_done(tender.origin)

    def on_error(self, failure: Failure) -> Iterator[Any]:  # type: ignore[override]
        """A failed profile leaves its companies without a code; a failed fragment fails
        its tender (fetched again next run); the rest as the base does."""
        request = failure.request  # type: ignore[attr-defined]
        org_id = request.meta.get("georgia_profile")
        tender = request.meta.get("georgia_tender")
        if org_id is not None:
            super(PortalSpider, self).on_error(failure)
            yield from self._profile_done(str(org_id), None)
        elif tender is not None and request.meta.get("georgia_step"):
            super(PortalSpider, self).on_error(failure)
            yield from self._fail(tender)
        else:
            yield from super().on_error(failure)

    # -- reading fragments ----------------------------------------------------------------

    def _error_body(self, response: Response, text: str, *, entry: bool = False) -> bool:
        """Record an error answered with HTTP 200 (an empty body, a PHP notice); True if so."""
        stripped = text.strip()
        if not stripped:
            problem = "empty response"
        elif _PHP_ERROR.search(stripped[:3000]):
            problem = " ".join(Selector(text=stripped).xpath("string()").get("").split())[:200]
            if "Undefined index: lang" in problem:
                problem += " (no portal session: the home page's SPALITE cookie is missing)"
        else:
            return False
        self.record_error(f"error from {response.url} (HTTP {response.status}): {problem}",
                          entry=entry)
        return True

    def _shape(self, response: Response, fragment: str, problem: str) -> None:
        """Record that a fragment is not what the portal's pages look like: it changed."""
        self.record_error(f"{fragment} fragment at {response.url}: {problem}",
                          entry=bool(response.meta.get("monitor_entry")))

    def _fragment(self, response: Response, fragment: str, css: str,
                  missing: str) -> Selector | None:
        """The fragment's element `css`; None (error recorded) for an error body or a
        fragment without it (`missing` says what was expected)."""
        text, selector = self.decode(response)
        if self._error_body(response, text):
            return None
        root = selector.css(css)
        if not root:
            self._shape(response, fragment, missing)
            return None
        return root[0]

    def _read_main(self, tender: _Tender, response: Response) -> bool:
        root = self._fragment(response, "app_main", "#app_main", "no tender overview "
                              "(expected div#app_main with a label/value table)")
        if root is None:
            return False
        rows: dict[str, Selector] = {}
        for tr in root.css("table.with-label tr") or root.css("#print_area table tr"):
            cells = tr.xpath("./td")
            if len(cells) == 2 and (label := _text(cells[0])):
                rows.setdefault(label, cells[1])
        number_cell = _cell(rows, ("განცხადების ნომერი", "სატენდერო განცხადების ნომერი",
                                   "ტენდერის ნომერი"), "ნომერი")
        number = (_text(number_cell.css("strong")) or _text(number_cell)) if number_cell else ""
        if not _NUMBER.fullmatch(number):
            self._shape(response, "app_main", "no tender number (expected a 'განცხადების "
                        f"ნომერი' row like NAT250021073, got {number!r})")
            return False
        status_cell = _cell(rows, ("შესყიდვის სტატუსი", "ტენდერის სტატუსი"), "სტატუსი")
        if status_cell is None:
            self._shape(response, "app_main", "no status (expected a 'შესყიდვის სტატუსი' row)")
            return False
        label = _text(status_cell)
        buyer = _cell(rows, ("შემსყიდველი", "ადმინისტრირებას უწევს"))
        kind = _cell(rows, ("შესყიდვის ტიპი", "ტენდერის ტიპი"))
        value = _cell({k: v for k, v in rows.items() if not k.startswith("ერთეულის")},
                      ("შესყიდვის სავარაუდო ღირებულება", "პრეისკურანტის სავარაუდო ღირებულება"),
                      "სავარაუდო ღირებულება")  # not ერთეულის (a unit's) estimate
        category = _cell(rows, ("შესყიდვის კატეგორია",), "CPV")
        subject = _cell(rows, ("შესყიდვის ობიექტი",))
        value_text = _text(value) if value is not None else ""
        codes = _CPV.findall(_text(category)) if category is not None else []
        for item in root.css("table.with-label li, #print_area li"):
            codes += _CPV.findall(" ".join(item.xpath("./text()").getall()))
        edited = next((t for t in root.css("ul.date li::text").getall() if "შესწორება" in t), "")
        tender.main = {
            "number": number,
            "status_code": _status_code(status_cell.css("img::attr(src)").get())
            or LABEL_CODES.get(label),
            "status_label": label,
            "procedure": _text(kind) if kind is not None else "",
            "buyer_name": _text(buyer) if buyer is not None else "",
            "buyer_id": _profile_id(buyer),
            "published": _when(_text(_cell(rows, (), "გამოცხადების თარიღი"))),
            "deadline": _when(_text(_cell(rows, ("წინადადებების მიღება მთავრდება",),
                                          "მიღების ვადა"))),
            "value": _money(value_text),
            "currency": _currency(value_text) if value_text else None,
            "category": _text(category) if category is not None else "",
            "cpv": list(dict.fromkeys(codes)),
            "subject": _text(subject) if subject is not None else "",
            "description": " ".join(_text(d) for d in root.css("div.blabla")).strip(),
            "edited": _when(edited.rsplit("::", 1)[-1]) if edited else None,
        }
        tender.raw_hash = self.raw_hash(response)
        return True

    def _read_bids(self, tender: _Tender, response: Response) -> bool:
        root = self._fragment(response, "app_bids", "#app_bids",
                              "no bids tab (expected div#app_bids)")
        if root is None:
            return False
        rows = root.css("tr[id^='B']")
        if not rows:
            # before bids open the table is empty; while they are taken, a countdown
            if root.css("table.ktable") or root.css("#TenderCountdown"):
                tender.bids = []
                return True
            self._shape(response, "app_bids", "no bids table (expected a table.ktable of "
                        "bidders, tr#B<app_id><bidder>, or the #TenderCountdown of an open "
                        "tender)")
            return False
        bids: list[_Bid] = []
        for tr in rows:
            cells = tr.xpath("./td")
            name = (_text(cells[0].css("span.color-1")) or _text(cells[0])) if cells else ""
            if len(cells) < 2 or not name:
                self._shape(response, "app_bids", f"bid row {tr.attrib.get('id')!r} without "
                            "a bidder and an amount (expected bidder, last bid, first bid, "
                            "count cells)")
                return False
            last = _text(cells[1].css("strong")) or (cells[1].xpath("./text()").get() or "")
            bids.append(_Bid(name=name, org_id=_profile_id(cells[0]), amount=_money(last),
                             winner=any("activebid1" in c.attrib.get("class", "")
                                        for c in cells)))
        tender.bids = bids
        return True

    def _read_results(self, tender: _Tender, response: Response) -> bool:
        root = self._fragment(response, "agency_docs", "#agency_docs",
                              "no results tab (expected div#agency_docs)")
        if root is None:
            return False
        table = root.css("table#reports")
        if not table:
            self._shape(response, "agency_docs", "no results table (expected table#reports "
                        "of result documents)")
            return False
        documents: list[TenderDocument] = []
        for tr in table.css("tr"):
            link = tr.css("a[href*='files.php']")
            if not link:
                continue
            classes = link.xpath("ancestor::td[1]/@class").get("")
            if "obsolete1" in classes:
                continue  # a superseded upload
            kind = re.search(r"doctype\d+", classes)
            documents.append(TenderDocument(
                url=urljoin(self.public_url, link.attrib["href"]), title=_text(link),
                kind=kind.group(0) if kind else None,
                published=_when(_text(tr.css("td.date")).split("::")[0])))
        contracts: list[_Contract] = []
        for block in root.xpath("./div[contains(@class, 'ui-state-highlight')]"):
            text = _text(block)
            if "ნომერი/თანხა" not in text or "ცვლილება" in text or not block.css("strong"):
                continue  # amendments and disqualifications are not the award
            value = re.search(r"ნომერი/თანხა:.*?/\s*(\d[\d`\s.,]*)\s*(?:ლარი|GEL)", text)
            signed = re.search(r"ხელშეკრულების თარიღი:\s*([\d.]+)", text)
            contracts.append(_Contract(
                name=_text(block.css("strong")), org_id=_profile_id(block),
                value=_money(value.group(1)) if value else None,
                signed=_when(signed.group(1) if signed else _text(block.css("span.date")))))
        tender.documents, tender.contracts = documents, contracts
        return True

    def _read_history(self, tender: _Tender, response: Response) -> bool:
        table = self._fragment(response, "app_statushistory",
                               "table.with-free-label-history, #z table", "no status history "
                               "(expected div#z with table.with-free-label-history of "
                               "time/status rows)")
        if table is None:
            return False
        history: list[tuple[str, str]] = []
        for tr in table.css("tr"):
            cells = tr.xpath("./td")
            if len(cells) < 2:
                continue
            when = _when(_text(cells[0]))
            if when is None:
                self._shape(response, "app_statushistory", f"a status time {_text(cells[0])!r} "
                            "(expected DD.MM.YYYY HH:MM)")
                return False
            history.append((when, _text(cells[1])))
        tender.history = history
        return True

    def _read_profile(self, response: Response) -> Organisation | None:
        root = self._fragment(response, "profile", "#profile_dialog, table.with-label",
                              "no company profile (expected div#profile_dialog with a "
                              "table.with-label)")
        if root is None:
            return None
        rows: dict[str, Selector] = {}
        for tr in root.css("tr"):
            cells = tr.xpath("./td")
            if len(cells) == 2 and (label := _text(cells[0])):
                rows.setdefault(label, cells[1])
        role = _cell(rows, ("მიმწოდებელი", "შემსყიდველი"))
        code = rows.get("საიდენტიფიკაციო კოდი")
        if code is None:
            self._shape(response, "profile", "no identification code (expected a "
                        "'საიდენტიფიკაციო კოდი' row)")
            return None
        name = (_text(role.css("strong")) or _text(role)) if role is not None else ""
        registry = _text(code)
        return Organisation(name=name, id=registry or None, scheme=SCHEME if registry else None)

    # -- the record -----------------------------------------------------------------------

    def tender(self, tender: _Tender) -> TenderRecord:
        """The fragments read as a record (not yet normalised)."""
        main = tender.main
        code = main["status_code"]
        winners, award_value = self._winners(tender, code)
        award_date = next((t for t, label in tender.history
                           if LABEL_CODES.get(label) == "50"), None)
        contract_date = next((c.signed for c in tender.contracts if c.signed), None) or next(
            (t for t, label in tender.history if LABEL_CODES.get(label) == "140"), None)
        description = main["description"]
        title = main["subject"] or _clip(description) or main["category"] or main["number"]
        return TenderRecord(
            source=self.source.name,
            native_id=main["number"],
            title=title,
            description="\n".join(t for t in (description, main["category"]) if t),
            url=self.notice_url(tender.app_id),
            buyer=self._org(main["buyer_name"], main["buyer_id"]) if main["buyer_name"]
            or main["buyer_id"] else None,
            status=STATUSES.get(code or "", main["status_label"]),
            procedure=main["procedure"],
            cpv=tuple(main["cpv"]),
            value=main["value"],
            currency=main["currency"],
            published=main["published"],
            deadline=main["deadline"],
            award_date=award_date,
            contract_date=contract_date,
            bidders=tuple(self._org(b.name, b.org_id) for b in tender.bids),
            winners=tuple(winners),
            award_value=award_value,
            award_currency="GEL" if award_value is not None else None,
            documents=tuple(tender.documents),
            modified=max((t for t, _ in tender.history), default=None) or main["edited"],
            raw_hash=tender.raw_hash,
        )

    def _winners(self, tender: _Tender, code: str | None,
                 ) -> tuple[list[Organisation], float | None]:
        """A contract's supplier, else (once a winner is chosen) the highlighted bid, else
        the list's winner line; and the value awarded."""
        if tender.contracts:
            values = [c.value for c in tender.contracts if c.value is not None]
            return ([self._org(c.name, c.org_id) for c in tender.contracts],
                    sum(values) if values else None)
        if code not in AWARDED:
            return [], None
        won = [b for b in tender.bids if b.winner]
        if not won and tender.row_winner:
            wanted = _folded(tender.row_winner)
            won = [b for b in tender.bids if _folded(b.name) == wanted] or [
                _Bid(name=tender.row_winner, org_id=None, amount=None, winner=True)]
        amounts = [b.amount for b in won if b.amount is not None]
        return [self._org(b.name, b.org_id) for b in won], sum(amounts) if amounts else None

    def _org(self, name: str, org_id: str | None) -> Organisation:
        """A company as the fragment names it, with its profile's registry code."""
        profile = self.profiles.get(org_id) if org_id else None
        if profile is None:
            return Organisation(name=name)
        return Organisation(name=name or profile.name, id=profile.id, scheme=profile.scheme)


def _text(node: Selector | SelectorList[Selector] | None) -> str:
    """An element's text, whitespace collapsed ("" for None)."""
    if node is None:
        return ""
    parts = node.xpath(".//text()").getall()
    return " ".join(" ".join(parts).split())


def _cell(rows: dict[str, Selector], labels: tuple[str, ...],
          contains: str | None = None) -> Selector | None:
    """The value cell of the first of `labels`, else of a label containing `contains`."""
    for label in labels:
        if label in rows:
            return rows[label]
    if contains:
        return next((cell for label, cell in rows.items() if contains in label), None)
    return None


def _row_winner(row: Selector) -> str | None:
    """The search row's "გამარჯვებული: <name>" line. The status paragraph's lines (contract
    status, winner, "მონაწილეთა რაოდენობა - N") are split by <br/> in some rows and only by
    line breaks inside one text node in others, so the text is split on both."""
    for text in row.css("p.status::text").getall():
        for line in text.splitlines():
            match = _ROW_WINNER.search(" ".join(line.split()))
            if match:
                return match.group(1)
    return None


def _status_code(src: str | None) -> str | None:
    match = _STAT.search(src or "")
    return match.group(1) if match else None


def _profile_id(node: Selector | None) -> str | None:
    if node is None:
        return None
    match = _PROFILE.search(" ".join(node.xpath(".//@onclick").getall()))
    return match.group(1) if match else None


def _when(text: str | None) -> str | None:
    """DD.MM.YYYY [HH:MM], Tbilisi time, as ISO-8601."""
    match = _WHEN.search(text or "")
    if match is None:
        return None
    day, month, year, hour, minute = match.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                        tzinfo=TBILISI)
    except ValueError:
        return None
    return when.isoformat()


def _money(text: str | None) -> float | None:
    """4`250`000.00 GEL (backticks group thousands) as a number."""
    match = _MONEY.search(text or "")
    if match is None:
        return None
    digits = re.sub(r"[`'’\s,]", "", match.group(0))
    try:
        return float(digits)
    except ValueError:
        return None


def _currency(text: str) -> str:
    """GEL for "GEL" and "ლარი" (the portal writes both), else the code written."""
    code = re.search(r"\b([A-Z]{3})\b", text)
    return "GEL" if "ლარ" in text or code is None else code.group(1)


def _folded(name: str) -> str:
    return " ".join(name.casefold().split())


def _clip(text: str, limit: int = 200) -> str:
    """The first line of `text`, cut at a word before `limit` characters."""
    line = text.strip().split("\n", 1)[0]
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0] + "…"
