"""The findings inbox: newest first, filtered by watch, priority, source, kind, language, date
range and triage state; counts per watch; pages by position; JSON and CSV of any filter."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date, timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from monitor.config import Config
from monitor.errors import StoreError
from monitor.store import TRIAGE_STATES, InboxFilter
from monitor.store.rows import InboxRow
from monitor.web.app import web_state
from monitor.web.render import csv_response, page

PAGE_SIZE = 50
# a CSV export is every row of the filter, up to this many
CSV_LIMIT = 100_000
CSV_COLUMNS = ("kind", "id", "found_at", "watches", "source", "title", "url", "published_at",
               "first_seen_at", "language", "tender_number", "status", "triage", "removed_at",
               "alerted_at")


def _date(value: str | None, name: str) -> str | None:
    if not value:
        return None
    if not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        raise HTTPException(400, f"{name}: not a date (YYYY-MM-DD): {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}: not a date (YYYY-MM-DD): {value!r}") from None
    return value


def inbox_filter(request: Request, config: Config) -> InboxFilter:
    """The filter the query string asks for; 400 naming a parameter that is wrong."""
    q = request.query_params
    watches: tuple[str, ...] | None = None
    if q.get("watch"):
        watches = (q["watch"],)
    if q.get("priority"):
        if q["priority"] not in ("high", "normal", "low"):
            raise HTTPException(400, f"priority: one of high, normal, low, not {q['priority']!r}")
        by_priority = tuple(w.name for w in config.watches if w.priority == q["priority"])
        watches = by_priority if watches is None else tuple(
            w for w in watches if w in by_priority)
    kind = q.get("kind") or None
    if kind not in (None, "article", "tender"):
        raise HTTPException(400, f"kind: article or tender, not {kind!r}")
    triage = q.get("triage") or None
    if triage not in (None, "new", *TRIAGE_STATES):
        raise HTTPException(400, f"triage: one of new, {', '.join(TRIAGE_STATES)}, "
                                 f"not {triage!r}")
    until = _date(q.get("until"), "until")
    return InboxFilter(
        watches=watches, source=q.get("source") or None, kind=kind,
        language=q.get("language") or None, since=_date(q.get("since"), "since"),
        # the whole last day
        until=(date.fromisoformat(until) + timedelta(days=1)).isoformat() if until else None,
        triage=triage)


def _row(r: InboxRow) -> list[object]:
    return [r.kind, r.id, r.at, "; ".join(r.watches), r.source, r.title, r.url, r.published_at,
            r.first_seen_at, r.language, r.native_id, r.status, r.triage, r.removed_at,
            r.alerted_at]


def link(row: InboxRow) -> str:
    return f"/{'articles' if row.kind == 'article' else 'tenders'}/{row.id}"


async def findings(request: Request) -> Response:
    web = web_state(request)
    config = web.config
    where = inbox_filter(request, config)
    store = web.store
    if request.path_params.get("suffix") == ".csv":
        rows: list[list[object]] = []
        after = None
        while len(rows) < CSV_LIMIT:
            chunk = store.inbox(where, after, limit=1000)
            rows += [_row(r) for r in chunk.rows]
            if chunk.next is None:
                break
            after = chunk.next
        return csv_response(rows, CSV_COLUMNS, "findings.csv")
    try:
        result = store.inbox(where, request.query_params.get("after"), limit=PAGE_SIZE)
    except StoreError as exc:  # a hand-edited `after`
        raise HTTPException(400, str(exc)) from None
    counts = store.watch_counts()
    priorities = {w.name: w.priority for w in config.watches}
    context = {
        "rows": result.rows, "next": result.next, "counts": counts, "priorities": priorities,
        "watches": [w.name for w in config.watches], "sources": store.sources_with_findings(),
        "where": where, "q": dict(request.query_params), "states": TRIAGE_STATES,
    }
    data = {"findings": [{**asdict(r), "page": link(r)} for r in result.rows],
            "next": result.next, "counts": counts}
    return page(request, "inbox.html.j2", context, data=data)
