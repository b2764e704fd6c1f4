"""Sources: the health table of `monitor status`, each source's recent runs and errors, and a
button that runs `test-source` (a dry crawl: stores and sends nothing) and shows the result."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from monitor.errors import MonitorError
from monitor.status import status
from monitor.web.app import checked_form, web_state
from monitor.web.render import page

RUNS_SHOWN = 10


async def sources(request: Request) -> Response:
    web = web_state(request)
    current = status(web.store, web.config)
    runs = {h.source: web.store.recent_runs(h.source, RUNS_SHOWN) for h in current.sources}
    return page(request, "sources.html.j2", {"status": current, "runs": runs, "result": None},
                data={**current.to_dict(), "runs": runs})


async def test_source(request: Request) -> Response:
    await checked_form(request)
    web = web_state(request)
    name = request.path_params["name"]
    config = web.config
    try:
        config.source(name)
    except MonitorError as exc:
        raise HTTPException(404, str(exc)) from None
    from monitor.crawl import crawl

    try:
        # a child process, waited for off the event loop: other pages keep answering
        report = await run_in_threadpool(crawl, config, web.state_dir, [name], dry_run=True)
    except MonitorError as exc:
        raise HTTPException(500, str(exc)) from None
    result = report.results[0]
    current = status(web.store, config)
    runs = {h.source: web.store.recent_runs(h.source, RUNS_SHOWN) for h in current.sources}
    tested = {"source": name, "result": result, "found": report.items[:20]}
    return page(request, "sources.html.j2", {"status": current, "runs": runs, "result": tested},
                data={"result": result.to_dict(), "items": report.items[:20]})
