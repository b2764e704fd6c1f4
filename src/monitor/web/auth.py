"""Logging in and out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.web import users
from monitor.web.app import checked_form, web_state
from monitor.web.render import page


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute URL another site could be (open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/findings"


async def login(request: Request) -> Response:
    target = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return page(request, "login.html.j2", {"next": target, "problem": None})
    form = await checked_form(request, edit=False)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    user = users.authenticate(web_state(request).state_dir, name, password)
    if user is None:
        return page(request, "login.html.j2",
                    {"next": _safe_next(str(form.get("next", ""))),
                     "problem": "Unknown user or wrong password."}, status=401)
    # a new session on login: a token planted before it is worth nothing after
    request.session.clear()
    request.session["user"] = user.name
    return RedirectResponse(_safe_next(str(form.get("next", ""))), 303)


async def logout(request: Request) -> Response:
    await checked_form(request, edit=False)
    request.session.clear()
    return RedirectResponse("/login", 303)
