"""Search: full text over every stored article and tender, matched or not, with highlighted
snippets, phrase and boolean queries and the inbox's filters; "watch this query" adds a
keyword watch to the web's watch file."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor import watchfile
from monitor.errors import ConfigError, SearchQueryError
from monitor.search import Query, Snippet, highlight, parse_query
from monitor.store.rows import SearchHit
from monitor.web.app import checked_form, web_state
from monitor.web.inbox import _date
from monitor.web.render import csv_response, page

PAGE_SIZE = 30
CSV_LIMIT = 20_000
CSV_COLUMNS = ("kind", "id", "source", "title", "url", "published_at", "first_seen_at",
               "watches", "language", "tender_number", "status", "snippet")
# the web's kinds as the search index names them
_KINDS = {"article": "item", "tender": "tender"}


def page_of(hit: SearchHit) -> str:
    return f"/{'articles' if hit.kind == 'item' else 'tenders'}/{hit.id}"


def _filters(request: Request) -> dict[str, str | None]:
    q = request.query_params
    kind = q.get("kind") or None
    if kind not in (None, *_KINDS):
        raise HTTPException(400, f"kind: article or tender, not {kind!r}")
    return {"kind": _KINDS[kind] if kind else None, "source": q.get("source") or None,
            "watch": q.get("watch") or None, "language": q.get("language") or None,
            "since": _date(q.get("since"), "since"), "until": _date(q.get("until"), "until")}


async def search(request: Request) -> Response:
    web = web_state(request)
    text = request.query_params.get("q", "").strip()
    filters = _filters(request)
    context: dict[str, object] = {
        "q": dict(request.query_params), "text": text, "results": [], "next": None,
        "count": None, "problem": None, "watches": [w.name for w in web.config.watches],
        "sources": web.store.sources_with_findings()}
    if not text:
        return page(request, "search.html.j2", context, data={"results": []})
    try:
        query = parse_query(text)
    except SearchQueryError as exc:
        context["problem"] = str(exc)
        return page(request, "search.html.j2", context, data={"error": str(exc)}, status=400)
    if request.path_params.get("suffix") == ".csv":
        rows, before = [], None
        while len(rows) < CSV_LIMIT:
            chunk = web.store.search(query, before=before, limit=500, **filters)
            rows += [[h.kind if h.kind == "tender" else "article", h.id, h.source, h.title,
                      h.url, h.published_at, h.first_seen_at, "; ".join(h.watches),
                      h.language, h.native_id, h.status,
                      highlight(h.text, query, 200).text] for h in chunk.hits]
            if chunk.next_before is None:
                break
            before = chunk.next_before
        return csv_response(rows, CSV_COLUMNS, "search.csv")
    before = request.query_params.get("before")
    if before is not None and not before.isdigit():
        raise HTTPException(400, f"before: a number, not {before!r}")
    found = web.store.search(query, before=int(before) if before else None, limit=PAGE_SIZE,
                             **filters)
    results = [Result(h, page_of(h), highlight(h.title, query, None),
                      highlight(h.text, query, 240)) for h in found.hits]
    count = web.store.search_count(query, **filters)
    context.update(results=results, next=found.next_before, count=count)
    data = {"query": text, "count": count, "next_before": found.next_before,
            "results": [{"kind": "article" if r.hit.kind == "item" else "tender",
                         "id": r.hit.id, "page": r.page, "source": r.hit.source,
                         "title": r.hit.title, "url": r.hit.url, "watches": r.hit.watches,
                         "snippet": r.snippet.text} for r in results]}
    return page(request, "search.html.j2", context, data=data)


@dataclass(frozen=True, slots=True)
class Result:
    hit: SearchHit
    page: str
    title: Snippet
    snippet: Snippet


_SIMPLE = re.compile(r'"[^"]+"|[^\s"()]+')


def watch_of(query: Query, name: str) -> dict[str, object]:
    """A keyword watch that finds what the query finds, for queries a watch can say: one
    term or phrase; terms that must all be there (the first a keyword, the rest a rule); or
    alternatives joined by OR. Prefixes, NOT and parentheses cannot be said: a clear error."""
    tokens = _SIMPLE.findall(query.text)
    words = [t for t in tokens if t not in ("AND", "OR")]
    if any(t == "NOT" for t in tokens) or "(" in query.text or any(
            t.endswith("*") for t in words):
        raise SearchQueryError(f"search query {query.text!r}: a watch cannot say NOT, "
                               "parentheses or prefixes (word*); make a feed of this search "
                               "instead, or simplify it")
    terms = [w.strip('"') for w in words]
    operators = {t for t in tokens if t in ("AND", "OR")}
    if len(terms) == 1:
        return {"name": name, "match_name": False, "keywords": terms}
    if operators == {"OR"}:
        return {"name": name, "match_name": False, "keywords": terms}
    if "OR" in operators:
        raise SearchQueryError(f"search query {query.text!r}: a watch cannot mix AND and OR; "
                               "simplify it")
    return {"name": name, "match_name": False, "keywords": terms[:1],
            "rule": {"all": terms[1:]}}


async def watch_query(request: Request) -> Response:
    form = await checked_form(request)
    web = web_state(request)
    text = str(form.get("q", "")).strip()
    name = " ".join(str(form.get("name", "")).split()) or f"search: {text}"
    path = web.config.watch_file
    if path is None:
        raise HTTPException(409, "web.watch_file is null in the config: watches cannot be added")
    if name in {w.name for w in web.config.watches}:
        raise HTTPException(400, f"a watch named {name!r} exists already: choose another name")
    try:
        entry = watch_of(parse_query(text), name)
        written = watchfile.add(path, "watches", {**entry, "tags": ["web"]})
    except (SearchQueryError, ConfigError) as exc:
        raise HTTPException(400, str(exc)) from None
    web.store.audit(request.state.user.name, "watch_added", f"watch:{name}", written)
    return RedirectResponse("/watchfile", 303)
