"""Kazakhstan's public procurement portal goszakup.gov.kz: the OWS v3 REST API (Bearer token),
its change journal walked and each announcement read with its lots, contracts and suppliers;
`parse` reads them as records."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlencode

import scrapy
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError

from crawlers.middlewares import capture_of
from crawlers.portals.base import PortalSpider
from crawlers.portals.common import dicts
from crawlers.portals.goszakup.parse import (
    KZ_TIME,
    OPEN_STATUSES,
    announcement_record,
    as_int,
    classify,
    error_message,
    is_day,
    iso_time,
    portal_time,
    query_of,
    today,
    winner_biins,
)
from monitor.models import PortalCursor, TenderRecord
from monitor.tender import normalise_stamp

if TYPE_CHECKING:
    from twisted.python.failure import Failure

DEVELOPER_DOCS = "https://goszakup.gov.kz/ru/developer/ows_v3"
# journal entries of other services (plans, subjects, ...) a walk may skip before a run that
# recognised none of its entries is reported as a changed journal
UNRECOGNISED_LIMIT = 20


@dataclass(slots=True)
class _Root:
    """What `detail_done` reads of a finished detail: its page (in `meta`) and the URL to
    fetch again next run if it failed, the first request of its chain."""

    meta: dict[str, Any]
    url: str


class Goszakup(PortalSpider):
    """
    Reads
      Kazakhstan's public procurement portal goszakup.gov.kz through its OWS v3 REST API
      (`portal: goszakup`, `url:` the API base, https://ows.goszakup.gov.kz). The API needs a
      token (apply at https://goszakup.gov.kz/ru/developer/ows_v3); `token_env:` names the
      environment variable that holds it, sent as `Authorization: Bearer ...`. The change
      journal `/v3/journal?date_from=&date_to=` is read page after page (`next_page`); each
      announcement it lists is read from `/v3/trd-buy/{id}`, its lots from
      `/v3/lots/number-anno/{number}` and, once bidding is over, its contracts from
      `/v3/contract/number-anno/{number}`; a changed contract (`/v3/contract/{id}`) leads to
      its announcement. Suppliers' names come from `/v3/subject/biin/{biin}` (once per run).
    Records
      One per announcement, keyed by its number (`number_anno`, e.g. 15734021-1), linked to
      https://goszakup.gov.kz/ru/announce/index/{id}: title (`name_ru`, else `name_kz`),
      buyer (the customer's name and BIN, scheme KZ-BIN), value (`total_sum`, KZT), status,
      procurement method, publication, deadline (`end_date`) and results dates, lots (their
      descriptions join the record's description); winners are the suppliers of the
      announcement's contracts (`supplier_biin`, KZ-BIN), with the contracts' total as the
      awarded value and the first signing date.
    Incremental
      The journal position (its `next_page`) is saved after every page; once the journal's
      end is reached, the day of the newest change read is saved and the next run reads the
      journal from that day, skipping the entries more than an hour older than that change
      (the hour read again catches entries the journal added late with an earlier time). An
      announcement whose `last_update_date` is the one already stored is not read again.
    Since
      With `since`, the journal is read from that date (a backfill that alerts). Without it
      the first run reads the last 2 days of the journal as a silent baseline.
    Caveats
      Without the token (variable unset or empty) no request is made and the run fails as
      not configured; 401/403 mean the API refused the token. 429 waits (Retry-After, else
      10 s); an error object sent with HTTP 200 and a page without `items` fail loudly.
      Statuses are ref_buy_status codes (`published`, `complete`, `refusal.cancelled`, ...);
      ids not listed in the docs are kept as `ref_buy_status_id:<id>`, as are unknown
      procurement methods and lot statuses. Contract statuses are not documented: every
      contract not marked `deleted`, and not cancelled before it was signed, makes its
      supplier a winner. A supplier the registry does not know (404, or the live API's
      HTTP 200 `[]`) wins by its BIIN alone. Bids (`/v3/trd-app`) are not read, so bidders
      are the winners. Journal entries of other services (plans, subjects, acts, ...) and
      deletions are skipped. Dates are Astana time: UTC+5 from 2024-03-01, UTC+6 before.
    Docs
      https://goszakup.gov.kz/ru/developer/ows_v3
    """

    name = "goszakup"

    # PortalSpider
    # journal entries per page: most are other services' (plans, subjects, ...), which are
    # skipped; the API's own default is 50
    default_page_size = 200

    # Goszakup
    baseline_days: ClassVar[int] = 2
    # how far before the newest change read a run resumes the journal: re-reading is cheap
    # (unchanged announcements are skipped by their stamps), an entry skipped is lost
    resume_margin: ClassVar[timedelta] = timedelta(hours=1)
    # records per page asked of lot and contract lists
    list_limit: ClassVar[int] = 500

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        # read from the environment in start(); never logged, never saved
        self._token: str | None = None
        # the newest journal entry read (date_action): where a later run resumes
        self.last_action: datetime | None = None
        # entries up to this one were read by the last run (resuming from a day)
        self.skip_before: datetime | None = None
        # the date the journal walk started from
        self.walk_from: str | None = None
        # announcements (trd-buy ids) and contracts queued in this run
        self.queued: set[str] = set()
        # supplier BIIN -> name ("" when the registry does not know it), for this run
        self.suppliers: dict[str, str] = {}
        self.recognised = 0
        self.ignored: Counter[str] = Counter()

    def load_position(self, saved: PortalCursor | None, stamps: dict[str, str]) -> None:
        super().load_position(saved, stamps)
        self.last_action = portal_time(self.saved_state.get("last_action"))

    def cursor_state(self) -> dict[str, Any]:
        return {"last_action": self.last_action.isoformat() if self.last_action else None}

    @property
    def base(self) -> str:
        return self.api_url.rstrip("/")

    @property
    def token_env(self) -> str:
        return self.source.token_env or "GOSZAKUP_TOKEN"

    # -- requests -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        self._token = os.environ.get(self.token_env, "").strip() or None
        if self._token is None:
            # nothing to ask without a token: the run fails as an entry that failed
            self.entry_requests += 1
            self.record_error(
                f"not configured: set the environment variable {self.token_env} to a goszakup "
                f"API token ({DEVELOPER_DOCS}); no request was made", entry=True)
            return
        for request in self.start_with(self.first_request()):
            yield request

    def first_request(self) -> scrapy.Request:
        """The saved journal page; else the journal from the saved day, from `since`, or
        (first run) from `baseline_days` ago."""
        cursor = self.cursor
        if cursor and cursor.startswith(("http://", "https://")):
            self.walk_from = query_of(cursor).get("date_from")
            return self.request(cursor, self.parse_journal, entry=True)
        if cursor and is_day(cursor):
            self.skip_before = self.resume_point()
            return self.journal_request(cursor, entry=True)
        if cursor:
            self.logger.warning("%s: ignoring a saved position that is neither a journal page "
                                "nor a day: %r", self.source_name, cursor)
        since = self.source.since
        start = since or (today() - timedelta(days=self.baseline_days))
        return self.journal_request(start.isoformat(), entry=True)

    def journal_request(self, date_from: str, *, entry: bool = False) -> scrapy.Request:
        self.walk_from = date_from
        # tomorrow (Kazakh time): today's changes are in whether date_to is inclusive or not
        params = {"date_from": date_from, "date_to": (today() + timedelta(days=1)).isoformat(),
                  "limit": self.page_size}
        return self.request(f"{self.base}/v3/journal?{urlencode(params)}", self.parse_journal,
                            entry=entry)

    def request(self, url: str, callback: Callable[..., Any], *, entry: bool = False,
                cb_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> scrapy.Request:
        headers = {**kwargs.pop("headers", {}), "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        # never filtered: two chains asking for one supplier must both get an answer, or a
        # page would wait for ever for the detail the filter dropped
        kwargs.setdefault("dont_filter", True)
        return super().request(url, callback, entry=entry, cb_kwargs=cb_kwargs,
                               headers=headers, **kwargs)

    def announcement_request(self, buy_id: str) -> scrapy.Request:
        return self.detail(f"{self.base}/v3/trd-buy/{buy_id}", self.parse_announcement)

    def contract_request(self, contract_id: str) -> scrapy.Request:
        return self.detail(f"{self.base}/v3/contract/{contract_id}", self.parse_contract)

    def retry_detail(self, url: str) -> scrapy.Request:
        if "/v3/contract/" in url:
            return self.detail(url, self.parse_contract)
        return self.detail(url, self.parse_announcement)

    def step(self, response: Response, url: str, callback: Callable[..., Any], *,
             handle: tuple[int, ...] = (), **cb_kwargs: Any) -> scrapy.Request:
        """The next request of a detail's chain: it belongs to the same page, and a failure
        retries the chain's first request next run."""
        root = response.meta.get("goszakup_root") or response.url
        meta = {"portal_page": response.meta.get("portal_page"), "portal_detail": True,
                "goszakup_root": root, "handle_httpstatus_list": list(handle),
                # evidence: the chain's responses so far, for the record its last one makes
                # (crawlers.middlewares.CaptureMiddleware adds that one)
                "monitor_captures": [*response.meta.get("monitor_captures", ()),
                                     capture_of(response)]}
        return self.request(url, callback, meta=meta, cb_kwargs=cb_kwargs)

    def detail_done(self, response_or_request: Any, *, failed: bool = False) -> Iterator[Any]:
        # a chain's later steps count down (and are retried) as its first request
        root = response_or_request.meta.get("goszakup_root")
        target = _Root(response_or_request.meta, root) if root else response_or_request
        yield from super().detail_done(target, failed=failed)

    def on_error(self, failure: Failure) -> Iterator[Any]:  # type: ignore[override]
        """401/403 say the token was refused: said so, naming the variable (never the
        token); other failures as PortalSpider records them."""
        refused = failure.value
        if not isinstance(refused, HttpError) or refused.response.status not in (401, 403):
            yield from super().on_error(failure)
            return
        response = refused.response
        request = failure.request  # type: ignore[attr-defined]
        said = _message(response)
        self.record_error(
            f"HTTP {response.status} from {request.url}: the API refused the token in "
            f"{self.token_env}{f' ({said})' if said else ''}; check or renew it ({DEVELOPER_DOCS})",
            entry=bool(request.meta.get("monitor_entry")))
        if request.meta.get("portal_detail"):
            yield from self.detail_done(request, failed=True)

    # -- the journal -------------------------------------------------------------------------

    def parse_journal(self, response: Response) -> Iterator[Any]:
        """Expects a journal page:

            {"total": 1234, "limit": 100,
             "next_page": "/v3/journal?page=next&search_after=...&date_from=...",
             "items": [{"action": "U", "object_id": 15734021, "date_action":
                        "2025-03-10 10:12:54", "service_name": "trd-buy",
                        "service_title": "...", "url": "/v3/trd-buy/15734021"}, ...]}

        `next_page` is empty on the last page; `action` is U (changed) or D (deleted)."""
        data = self.page_data(response, "items[] and next_page (a journal page)")
        if data is None:
            return
        items, next_page = data
        details: list[scrapy.Request] = []
        complete = True
        newest = None
        for entry in items:
            if not isinstance(entry, dict):
                self.shape_error(response, "journal entries as objects", entry)
                continue
            when = portal_time(entry.get("date_action"))
            if when is not None and (newest is None or when > newest):
                newest = when
            request = self._journal_detail(response, entry, when)
            if request is None:
                continue
            if not self.take_article():
                complete = False
                break
            details.append(request)
        if complete and newest and (self.last_action is None or newest > self.last_action):
            self.last_action = newest
        next_url = self._next_url(next_page) if next_page and items else None
        if next_url == response.url:
            self.record_error(f"the journal did not move on from {response.url}")
            next_url = None
        if next_url is None:
            self._walk_ended()
        follow = self.request(next_url, self.parse_journal) if next_url else None
        yield from self.page(cursor=next_url or self._resume_day(), follow=follow,
                             details=details, complete=complete)

    def _journal_detail(self, response: Response, entry: dict[str, Any],
                        when: datetime | None) -> scrapy.Request | None:
        """The request an entry asks for; None for other services, deletions, entries the
        last run read and objects already queued in this run."""
        kind, object_id = classify(entry)
        if kind is None:
            self.ignored[str(entry.get("service_name") or entry.get("url") or "?")] += 1
            return None
        self.recognised += 1
        if not object_id:
            self.shape_error(response, "journal entries with an object_id", entry)
            return None
        if self.skip_before and when and when < self.skip_before:
            return None
        if str(entry.get("action") or "").upper() == "D":
            self.logger.info("%s: %s %s was deleted", self.source_name, kind, object_id)
            return None
        key = f"{kind}:{object_id}"
        if key in self.queued:
            return None
        self.queued.add(key)
        if kind == "contract":
            return self.contract_request(object_id)
        return self.announcement_request(object_id)

    def _next_url(self, next_page: str) -> str:
        """`next_page` is a path on the API's host ("/v3/..."): kept under the source's
        `url`, which may carry a path prefix of its own."""
        if next_page.startswith(("http://", "https://")):
            return next_page
        return self.base + "/" + next_page.lstrip("/")

    def resume_point(self) -> datetime | None:
        """`resume_margin` before the newest change read: the next run skips only entries
        older than this."""
        return self.last_action - self.resume_margin if self.last_action is not None else None

    def _resume_day(self) -> str:
        """Where the next run reads the journal from: the day of `resume_point`."""
        resume = self.resume_point()
        if resume is not None:
            return resume.astimezone(KZ_TIME).date().isoformat()
        return self.walk_from or (today() - timedelta(days=self.baseline_days)).isoformat()

    def _walk_ended(self) -> None:
        ignored = sum(self.ignored.values())
        if ignored:
            self.logger.info("%s: skipped %d journal entries of other services (%s)",
                             self.source_name, ignored,
                             ", ".join(f"{k}: {v}" for k, v in self.ignored.most_common(5)))
        if not self.recognised and ignored >= UNRECOGNISED_LIMIT:
            self.record_error(
                f"none of the {ignored} journal entries read named an announcement or a "
                f"contract (service_name: {', '.join(k for k, _ in self.ignored.most_common(5))}"
                "): the journal's shape may have changed")

    # -- an announcement and what belongs to it -------------------------------------------------

    def parse_contract(self, response: Response) -> Iterator[Any]:
        """Expects a contract from /v3/contract/{id}: `{"id": ..., "trd_buy_id": ...,
        "trd_buy_number_anno": "...", "supplier_biin": "...", ...}`; leads to its
        announcement (a contract without one, `trd_buy_id` null, is no tender)."""
        data = self.read_json(response)
        if data is None:
            yield from self.detail_done(response, failed=True)
            return
        if not isinstance(data, dict) or "trd_buy_id" not in data:
            self.shape_error(response, "a contract with trd_buy_id", data)
            yield from self.detail_done(response, failed=True)
            return
        buy_id = data.get("trd_buy_id")
        key = f"announcement:{buy_id}"
        if not buy_id or key in self.queued:
            yield from self.detail_done(response)
            return
        self.queued.add(key)
        yield self.step(response, f"{self.base}/v3/trd-buy/{buy_id}", self.parse_announcement)

    def parse_announcement(self, response: Response) -> Iterator[Any]:
        """Expects an announcement from /v3/trd-buy/{id}:

            {"id": 15734021, "number_anno": "15734021-1", "name_ru": "...", "name_kz": "...",
             "total_sum": 412500000, "count_lots": 2, "ref_trade_methods_id": 2,
             "ref_buy_status_id": 350, "publish_date": "2025-03-03 09:15:00",
             "end_date": "...", "itogi_date_public": "...", "customer_bin": "...",
             "customer_name_ru": "...", "org_bin": "...", "last_update_date": "...", ...}"""
        data = self.read_json(response)
        if data is None:
            yield from self.detail_done(response, failed=True)
            return
        if not isinstance(data, dict) or data.get("id") is None or not data.get("number_anno"):
            self.shape_error(response, "an announcement with id and number_anno", data)
            yield from self.detail_done(response, failed=True)
            return
        number = str(data["number_anno"])
        modified = iso_time(data.get("last_update_date"))
        by_contract = "/v3/contract/" in str(response.meta.get("goszakup_root") or "")
        # a contract's change leaves its announcement's stamp as it was
        if (not by_contract and modified
                and self.stamps.get(number) == normalise_stamp(modified)):
            yield self.seen(number, modified)
            yield from self.detail_done(response)
            return
        yield self.step(response, self._list_url("lots", number), self.parse_lots, handle=(404,),
                        buy=data, raw_hash=self.raw_hash(response), lots=[])

    def parse_lots(self, response: Response, buy: dict[str, Any], raw_hash: str,
                   lots: list[dict[str, Any]]) -> Iterator[Any]:
        """Expects `{"total", "limit", "next_page", "items": [{"id", "lot_number", "name_ru",
        "description_ru", "amount", "ref_lot_status_id", ...}]}` from
        /v3/lots/number-anno/{number} (404: no lots)."""
        page = self._list_page(response, "lots")
        if page is None:
            yield from self.detail_done(response, failed=True)
            return
        items, next_url = page
        lots = lots + items
        if next_url:
            yield self.step(response, next_url, self.parse_lots, handle=(404,), buy=buy,
                            raw_hash=raw_hash, lots=lots)
            return
        if as_int(buy.get("ref_buy_status_id")) in OPEN_STATUSES:
            yield from self._finish(response, buy, raw_hash, lots, [])
            return
        yield self.step(response, self._list_url("contract", str(buy["number_anno"])),
                        self.parse_contracts, handle=(404,), buy=buy, raw_hash=raw_hash,
                        lots=lots, contracts=[])

    def parse_contracts(self, response: Response, buy: dict[str, Any], raw_hash: str,
                        lots: list[dict[str, Any]],
                        contracts: list[dict[str, Any]]) -> Iterator[Any]:
        """Expects `{"total", "limit", "next_page", "items": [{"id", "contract_number",
        "supplier_biin", "contract_sum_wnds", "sign_date", "deleted", ...}]}` from
        /v3/contract/number-anno/{number} (404: no contracts)."""
        page = self._list_page(response, "contracts")
        if page is None:
            yield from self.detail_done(response, failed=True)
            return
        items, next_url = page
        contracts = contracts + items
        if next_url:
            yield self.step(response, next_url, self.parse_contracts, handle=(404,), buy=buy,
                            raw_hash=raw_hash, lots=lots, contracts=contracts)
            return
        yield from self._name_suppliers(response, buy, raw_hash, lots, contracts)

    def _name_suppliers(self, response: Response, buy: dict[str, Any], raw_hash: str,
                        lots: list[dict[str, Any]],
                        contracts: list[dict[str, Any]]) -> Iterator[Any]:
        """Ask the registry for the first winner whose name this run does not know yet;
        the record once every name is known."""
        unknown = next((biin for biin in winner_biins(contracts) if biin not in self.suppliers),
                       None)
        if unknown is None:
            yield from self._finish(response, buy, raw_hash, lots, contracts)
            return
        yield self.step(response, f"{self.base}/v3/subject/biin/{quote(unknown)}",
                        self.parse_subject, handle=(404,), biin=unknown, buy=buy,
                        raw_hash=raw_hash, lots=lots, contracts=contracts)

    def parse_subject(self, response: Response, biin: str, buy: dict[str, Any], raw_hash: str,
                      lots: list[dict[str, Any]],
                      contracts: list[dict[str, Any]]) -> Iterator[Any]:
        """Expects a participant from /v3/subject/biin/{biin}: `{"pid", "bin", "iin",
        "name_ru", "name_kz", "full_name_ru", ...}`; not in the registry: 404, or (as the
        live API answers) HTTP 200 with an empty list `[]`."""
        self.suppliers[biin] = ""
        if response.status == 404:
            self.fetched += 1
        else:
            data = self.read_json(response)
            if data is None:
                yield from self.detail_done(response, failed=True)
                return
            # a list page instead of the object: its first entry
            subject = (next(iter(dicts(data.get("items"))), None)
                       if isinstance(data, dict) and "items" in data else data)
            if data == [] or subject is None:
                pass  # an unknown BIIN (or an empty page): the supplier wins by its BIIN
            elif isinstance(subject, dict) and "name_ru" in subject:
                self.suppliers[biin] = str(subject.get("name_ru") or subject.get("full_name_ru")
                                           or subject.get("name_kz") or "")
            else:
                self.shape_error(response, "a participant with name_ru", data)
        yield from self._name_suppliers(response, buy, raw_hash, lots, contracts)

    def _finish(self, response: Response, buy: dict[str, Any], raw_hash: str,
                lots: list[dict[str, Any]], contracts: list[dict[str, Any]]) -> Iterator[Any]:
        try:
            record = self.tender(buy, lots, contracts, raw_hash)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            self.record_error(f"cannot read announcement {buy.get('number_anno')!r} at "
                              f"{response.url}: {type(exc).__name__}: {exc}")
            yield from self.detail_done(response, failed=True)
            return
        yield record
        yield from self.detail_done(response)

    # -- reading pages ---------------------------------------------------------------------------

    def page_data(self, response: Response, expected: str,
                  ) -> tuple[list[Any], str | None] | None:
        """A list page's `items` and `next_page`; None (error recorded) when the body is an
        error or not a list page."""
        data = self.read_json(response)
        if data is None:
            return None
        entry = bool(response.meta.get("monitor_entry"))
        if isinstance(data, dict) and "items" not in data and (said := error_message(data)):
            # {"message": "..."} instead of a page: an error, whatever the HTTP status
            self.record_error(f"error from {response.url} (HTTP {response.status}): {said}",
                              entry=entry)
            return None
        items = data.get("items") if isinstance(data, dict) else None
        next_page = data.get("next_page") if isinstance(data, dict) else None
        if items is None and isinstance(data, dict) and "items" in data and data.get("total") == 0:
            items = []
        if not isinstance(items, list) or not isinstance(next_page, str | None):
            self.shape_error(response, expected, data)
            return None
        return items, next_page or None

    def _list_page(self, response: Response, what: str,
                   ) -> tuple[list[dict[str, Any]], str | None] | None:
        if response.status == 404:
            self.fetched += 1
            return [], None
        page = self.page_data(response, f"items[] and next_page (a list of {what})")
        if page is None:
            return None
        items, next_page = page
        next_url = self._next_url(next_page) if next_page and items else None
        return dicts(items), (next_url if next_url != response.url else None)

    def _list_url(self, service: str, number: str) -> str:
        return (f"{self.base}/v3/{service}/number-anno/{quote(number)}?"
                f"{urlencode({'limit': self.list_limit})}")

    # -- the record ---------------------------------------------------------------------------

    def tender(self, buy: dict[str, Any], lots: list[dict[str, Any]],
               contracts: list[dict[str, Any]], raw_hash: str | None = None) -> TenderRecord:
        """An announcement with its lots and contracts as a record (not yet normalised)."""
        return announcement_record(buy, lots, contracts, source=self.source.name,
                                   suppliers=self.suppliers, raw_hash=raw_hash)


def _message(response: Response) -> str:
    """What an error response says, briefly (the JSON `message`, else the start of the
    text)."""
    try:
        data = response.json()  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        data = None
    if isinstance(data, dict) and (said := error_message(data)):
        return said[:200]
    return response.body[:120].decode("utf-8", "replace").strip()
