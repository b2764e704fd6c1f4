"""Georgia's State Procurement Agency (SPA): the e-procurement portal's HTML fragments, read
through the controller its public pages call (tenders.procurement.gov.ge); `parse` reads the
fragments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import scrapy
from scrapy.http import Response

from crawlers.middlewares import capture_of
from crawlers.portals.base import PortalSpider
from crawlers.portals.common import today_in
from crawlers.portals.georgia_spa.parse import (
    TBILISI,
    Fragments,
    Row,
    ShapeError,
    error_body,
    read_bids,
    read_history,
    read_main,
    read_profile,
    read_results,
    read_search,
    tender_record,
)
from monitor.models import CapturedResponse, Organisation, PortalCursor, TenderRecord

if TYPE_CHECKING:
    from twisted.python.failure import Failure

_T = TypeVar("_T")

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


@dataclass(eq=False)
class _Tender(Fragments):
    """One tender while its fragments and profiles are fetched, one request after another."""

    # the search row it came from (None: a detail fetched again after a failed run)
    day: str | None = None
    number: str | None = None
    code: str | None = None
    # the app_main request: the detail the page waits for
    origin: scrapy.Request | None = None
    raw_hash: str | None = None
    # profile ids still being fetched
    waiting: set[str] = field(default_factory=set)
    # the fragments read, as evidence of the record they make
    captures: list[CapturedResponse] = field(default_factory=list)


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
        # profile id -> its response, evidence of every record naming the company
        self.profile_captures: dict[str, CapturedResponse] = {}
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
        return today_in(TBILISI)

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
        found = self._read(response, "search_app", lambda text: read_search(text, day, page),
                           entry=bool(response.meta.get("monitor_entry")))
        if found is None:
            return
        rows, pages = found
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

    def _rows(self, response: Response, day: date, rows: list[Row],
              ) -> tuple[list[TenderRecord], list[scrapy.Request], bool]:
        """`seen` markers for tenders already read with this day's status, detail requests
        for the others, and whether the run's budget covered the page."""
        seen: list[TenderRecord] = []
        details: list[scrapy.Request] = []
        known = self.seen_codes.get(day.isoformat(), {})
        for row in rows:
            if row.app_id is None:
                self._shape(response, "search_app", f"a row without a tender id (expected "
                            f"tr id=\"A<app_id>\"): {row.row_id!r}")
                continue
            app_id, number, code = row.app_id, row.number, row.code
            if number and code and known.get(number) == code:
                seen.append(self.seen(number))
                continue
            if app_id in self.fetched_ids:
                continue
            if not self.take_article():
                return seen, details, False
            self.fetched_ids.add(app_id)
            tender = _Tender(app_id=app_id, day=day.isoformat(), number=number, code=code,
                             row_winner=row.winner)
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

    def _step(self, response: Response,
              read: Callable[[_Tender, Response, str], bool],
              action: str | None, callback: Callable[[Response], Iterator[Any]] | None,
              ) -> Iterator[Any]:
        """Read one fragment into the tender; then ask for the next one, or the profiles."""
        tender: _Tender = response.meta["georgia_tender"]
        fragment = response.meta.get("georgia_step", "app_main")
        tender.captures.append(capture_of(response))
        try:
            ok = read(tender, response, fragment)
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
        self.profile_captures[org_id] = capture_of(response)
        try:
            org = self._read(response, "profile", read_profile)
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
            record = tender_record(tender, source=self.source.name,
                                   url=self.notice_url(tender.app_id), profiles=self.profiles,
                                   raw_hash=tender.raw_hash)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            self.record_error(f"cannot read tender {tender.app_id} "
                              f"({self.notice_url(tender.app_id)}): {type(exc).__name__}: {exc}")
            yield from self._fail(tender)
            return
        if tender.day and tender.code:
            self.seen_codes.setdefault(tender.day, {})[tender.number or record.native_id] = \
                tender.code
        # evidence: every fragment and company profile the record was read from
        profiles = [self.profile_captures[o] for o in tender.org_ids()
                    if o in self.profile_captures]
        yield replace(record, captures=(*tender.captures, *profiles))
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

    def _read(self, response: Response, fragment: str, read: Callable[[str], _T], *,
              entry: bool = False) -> _T | None:
        """What `read` makes of the response's text; None (error recorded) for an error body
        or a fragment that does not look like the portal's pages."""
        text, _ = self.decode(response)
        problem = error_body(text)
        if problem is not None:
            self.record_error(f"error from {response.url} (HTTP {response.status}): {problem}",
                              entry=entry)
            return None
        try:
            return read(text)
        except ShapeError as exc:
            self._shape(response, fragment, str(exc))
            return None

    def _shape(self, response: Response, fragment: str, problem: str) -> None:
        """Record that a fragment is not what the portal's pages look like: it changed."""
        self.record_error(f"{fragment} fragment at {response.url}: {problem}",
                          entry=bool(response.meta.get("monitor_entry")))

    def _read_main(self, tender: _Tender, response: Response, fragment: str) -> bool:
        main = self._read(response, fragment, read_main)
        if main is None:
            return False
        tender.main, tender.raw_hash = main, self.raw_hash(response)
        return True

    def _read_bids(self, tender: _Tender, response: Response, fragment: str) -> bool:
        bids = self._read(response, fragment, read_bids)
        if bids is None:
            return False
        tender.bids = bids
        return True

    def _read_results(self, tender: _Tender, response: Response, fragment: str) -> bool:
        results = self._read(response, fragment, lambda text: read_results(text, self.public_url))
        if results is None:
            return False
        tender.documents, tender.contracts = results
        return True

    def _read_history(self, tender: _Tender, response: Response, fragment: str) -> bool:
        history = self._read(response, fragment, read_history)
        if history is None:
            return False
        tender.history = history
        return True
