"""Atom feeds for feed readers, one per watch or saved search. The URL carries a secret token
(a feed reader cannot log in); tokens are made and revoked here, each in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.store import InboxFilter
from monitor.web.app import checked_form, web_state
from monitor.web.render import ENV, page
from monitor.web.search import page_of

FEED_ENTRIES = 50


async def feeds(request: Request) -> Response:
    web = web_state(request)
    if request.method == "POST":
        form = await checked_form(request)
        kind, target = str(form.get("kind", "")), " ".join(str(form.get("target", "")).split())
        if kind not in ("watch", "search"):
            raise HTTPException(400, f"kind: watch or search, not {kind!r}")
        if kind == "watch" and target not in {w.name for w in web.config.watches}:
            raise HTTPException(400, f"watch: no watch named {target!r}")
        if kind == "search":
            from monitor.errors import SearchQueryError
            from monitor.search import parse_query

            try:
                parse_query(target)
            except SearchQueryError as exc:
                raise HTTPException(400, str(exc)) from None
        web.store.create_feed_token(kind, target, user=request.state.user.name)
        return RedirectResponse("/feeds", 303)
    tokens = web.store.feed_tokens()
    return page(request, "feeds.html.j2",
                {"tokens": tokens, "watches": [w.name for w in web.config.watches]},
                data={"feeds": [{"kind": t.kind, "target": t.target, "url": f"/feeds/{t.token}.atom",
                                 "created_at": t.created_at, "user": t.user} for t in tokens]})


async def revoke(request: Request) -> Response:
    await checked_form(request)
    web = web_state(request)
    if not web.store.revoke_feed_token(request.path_params["token"],
                                       user=request.state.user.name):
        raise HTTPException(404, "no such feed (revoked already?)")
    return RedirectResponse("/feeds", 303)


async def atom(request: Request) -> Response:
    web = web_state(request)
    token = web.store.feed_token(request.path_params["token"])
    if token is None:
        raise HTTPException(404, "no such feed: the token is wrong or was revoked")
    base = (web.config.web.public_url or str(request.base_url)).rstrip("/")
    if token.kind == "watch":
        rows = list(web.store.inbox(InboxFilter(watches=(token.target,)),
                                    limit=FEED_ENTRIES).rows)
        entries = [{"id": f"{r.kind}/{r.id}", "title": r.title or "(no title)",
                    "link": f"{base}/{'articles' if r.kind == 'article' else 'tenders'}/{r.id}",
                    "source_link": r.url, "updated": r.at or r.first_seen_at,
                    "summary": f"{r.source}: {', '.join(r.watches)}"} for r in rows]
        title = f"monitor: {token.target}"
    else:
        from monitor.search import parse_query

        page_ = web.store.search(parse_query(token.target), limit=FEED_ENTRIES)
        entries = [{"id": f"{h.kind}/{h.id}", "title": h.title or "(no title)",
                    "link": f"{base}{page_of(h)}",
                    "source_link": h.url, "updated": h.first_seen_at,
                    "summary": h.source} for h in page_.hits]
        title = f"monitor search: {token.target}"
    updated = max((e["updated"] for e in entries),
                  default=datetime.now(UTC).replace(microsecond=0).isoformat())
    xml = ENV.get_template("feed.atom.j2").render(
        title=title, self_url=f"{base}/feeds/{token.token}.atom", id=f"{base}/feeds/{token.kind}/"
        f"{token.target}", updated=updated, entries=entries)
    return Response(xml, media_type="application/atom+xml; charset=utf-8")
