"""Answers in the form asked for: an HTML page (jinja2, every value escaped), its JSON twin
(the same URL with `.json`), or CSV (`.csv`, what a journalist pastes into a spreadsheet)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from monitor.findings.model import when

TEMPLATES = Path(__file__).parent / "templates"


def _query(request: Request, **changes: Any) -> str:
    """This page's query string with some parameters changed (None drops one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else ""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every crawled string is text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda value: when(value) if value else ""
    env.filters["day"] = lambda value: (value or "")[:10]
    env.globals["query"] = _query
    return env


ENV = _environment()


def plain(value: Any) -> Any:
    """Dataclasses, tuples and the rest as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def page(request: Request, template: str, context: dict[str, Any], *,
         data: Any = None, status: int = 200) -> Response:
    """The page, or its JSON twin when the URL ends in .json (`data`, else the context)."""
    if request.path_params.get("suffix") == ".json":
        body = json.dumps(plain(context if data is None else data), ensure_ascii=False,
                          indent=1)
        return Response(body, status, media_type="application/json")
    state = request.state
    html = ENV.get_template(template).render(
        request=request, user=getattr(state, "user", None), csrf=getattr(state, "csrf", ""),
        users_enabled=getattr(state, "users_enabled", False), **context)
    return HTMLResponse(html, status)


def csv_response(rows: Iterable[Sequence[Any]], header: Sequence[str], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        # a cell starting with = + - @ is a formula to a spreadsheet: crawled text must not be
        writer.writerow([f"'{c}" if isinstance(c, str) and c[:1] in "=+-@" else c
                         for c in row])
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
