"""The application: routes, sessions, who is logged in, CSRF, and the state it reads.

Every page has a JSON twin at the same URL with `.json`; lists also have `.csv`. Pages work
without JavaScript; nothing is loaded from outside (one local stylesheet)."""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.config import Config, load_config
from monitor.errors import WebError
from monitor.store import Store, open_store
from monitor.web import users
from monitor.web.render import page


class _Suffix(Convertor[str]):
    """`.json` or `.csv` at the end of a path: the page's JSON or CSV twin."""

    regex = r"(?:\.json|\.csv)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _Key(Convertor[str]):
    """A path segment that may be followed by a suffix (a registry id: GE-NAPR:404409497)."""

    regex = r"[^/]+?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("suffix", _Suffix())
register_url_convertor("key", _Key())


@dataclass
class WebState:
    """What every request reads: the store (one connection, used from the event loop's
    thread only) and the config, read again when it or the web's watch file changed."""

    config_path: Path | None
    state_dir: Path
    store: Store
    _config: Config
    _stamp: tuple[float, ...] = field(default=())

    @property
    def config(self) -> Config:
        if self.config_path is not None:
            stamp = _stamps(self.config_path, self._config.watch_file)
            if stamp != self._stamp:
                self._config, self._stamp = load_config(self.config_path), stamp
        return self._config


def _stamps(*paths: Path | None) -> tuple[float, ...]:
    out = []
    for path in paths:
        try:
            out.append(path.stat().st_mtime if path else 0.0)
        except OSError:
            out.append(0.0)
    return tuple(out)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_can_serve(state_dir: Path, host: str) -> None:
    """Refuse a non-loopback address without users: anyone on the network could triage."""
    if not is_loopback(host) and not users.list_users(state_dir):
        raise WebError(f"monitor web: refusing to listen on {host} without users: anyone who "
                       "can reach it could read and triage findings. Add one with "
                       "`monitor web adduser NAME`, or listen on 127.0.0.1")


# paths anyone may open: the login form, the stylesheet, Atom feeds (their token is the key)
_OPEN = ("/login", "/static/", "/feeds/")


class AuthMiddleware:
    """Who is asking: the session's user, or, when no users are configured (loopback only),
    the local user, an editor. Others are sent to the login form (JSON asks get 401)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        web: WebState = request.app.state.web
        known = users.list_users(web.state_dir)
        session = request.session
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        request.state.csrf = session["csrf"]
        request.state.users_enabled = bool(known)
        user = None
        if not known:
            user = users.User("local", "editor")
        elif session.get("user"):
            user = next((u for u in known if u.name == session["user"]), None)
        request.state.user = user
        path = scope["path"]
        if user is None and not path.startswith(_OPEN) and path != "/feeds":
            if path.endswith(".json") or path.endswith(".csv"):
                response: Response = JSONResponse({"error": "log in first"}, 401)
            else:
                target = path + (f"?{scope['query_string'].decode()}"
                                 if scope.get("query_string") else "")
                response = RedirectResponse(f"/login?next={_quote(target)}", 303)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


async def checked_form(request: Request, *, edit: bool = True) -> FormData:
    """The posted form, once its CSRF token is the session's; 403 otherwise, and for a
    reader when the action changes something (`edit`)."""
    form = await request.form()
    token = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
    if not token or not hmac.compare_digest(token, request.session.get("csrf", "")):
        raise HTTPException(403, "the form is out of date (CSRF token missing or wrong): "
                                 "reload the page and try again")
    user = request.state.user
    if edit and (user is None or not user.can_edit):
        raise HTTPException(403, "your role may look but not change anything")
    return form


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return page(request, "error.html.j2", {"status": exc.status_code, "detail": exc.detail},
                data={"error": exc.detail}, status=exc.status_code)


def create_app(config: Config, state_dir: str | Path, *, https: bool = False) -> Starlette:
    """The web application over `state_dir`. `config.path`, when set, is re-read when it or
    the web's watch file changes (mutes apply to what the finding pages explain)."""
    from monitor.web import auth, feeds, findings, inbox, search, sources, triage

    state_dir = Path(state_dir)
    secret = users.session_secret(state_dir)
    routes = [
        Route("/", lambda request: RedirectResponse("/findings", 303)),
        Route("/login", auth.login, methods=["GET", "POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/findings{suffix:suffix}", inbox.findings),
        Route("/articles/{item_id:int}{suffix:suffix}", findings.article),
        Route("/articles/{item_id:int}/capture/{sha256}", findings.capture),
        Route("/articles/{item_id:int}/evidence.warc", findings.warc),
        Route("/tenders/{tender_id:int}{suffix:suffix}", findings.tender),
        Route("/tenders/{tender_id:int}/evidence.warc", findings.tender_warc),
        Route("/orgs/{registry_id:key}{suffix:suffix}", findings.organisation),
        Route("/triage/{kind}/{ref_id:int}", triage.mark, methods=["POST"]),
        Route("/triage/{kind}/{ref_id:int}/mute", triage.mute, methods=["GET", "POST"]),
        Route("/watchfile{suffix:suffix}", triage.watch_file),
        Route("/watchfile/remove", triage.remove_entry, methods=["POST"]),
        Route("/search{suffix:suffix}", search.search),
        Route("/search/watch", search.watch_query, methods=["POST"]),
        Route("/sources{suffix:suffix}", sources.sources),
        Route("/sources/{name}/test", sources.test_source, methods=["POST"]),
        Route("/feeds{suffix:suffix}", feeds.feeds, methods=["GET", "POST"]),
        Route("/feeds/{token}/revoke", feeds.revoke, methods=["POST"]),
        Route("/feeds/{token}.atom", feeds.atom),
        Route("/audit{suffix:suffix}", triage.audit),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(state_dir)
        app.state.web = WebState(config.path, state_dir, store, config,
                                 _stamps(config.path, config.watch_file))
        try:
            yield
        finally:
            store.close()

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: _http_error}
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SessionMiddleware, secret_key=secret, session_cookie="monitor_session",
                       max_age=int(config.web.session_hours * 3600), same_site="lax",
                       https_only=https),
            Middleware(AuthMiddleware),
            Middleware(_SecurityHeaders),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )


class _SecurityHeaders:
    """Nothing from outside, no framing, no scripts but ours (there are none); and the time
    the server took (`Server-Timing`, what bench/web.py measures)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                message.setdefault("headers", [])
                message["headers"] += [
                    (b"server-timing", f"app;dur={took:.1f}".encode()),
                    (b"content-security-policy",
                     b"default-src 'none'; style-src 'self'; img-src 'self'; "
                     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)
