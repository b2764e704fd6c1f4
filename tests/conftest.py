"""Shared fixtures: a session-wide local HTTP server, a real SMTP server, clean environment,
and helpers to write a config and open a store. No test touches the network."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from scrapy import Request
from werkzeug import Request as WsgiRequest
from werkzeug import Response as WsgiResponse

from monitor.config import Config, load_config
from monitor.models import PortalCursor, TenderRecord
from monitor.store import Store, open_store

PAGES = Path(__file__).parent / "pages"

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own config, state or secrets."""
    for name in ("MONITOR_CONFIG", "MONITOR_STATE", "MONITOR_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


class TimedServer(HTTPServer):
    """pytest-httpserver that also notes when each request arrived and how it was answered,
    so that a test can measure a wait the crawler made (the gap between a 429 and the
    retry), not the whole crawl's duration."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (monotonic time of arrival, path, status answered)
        self.timeline: list[tuple[float, str, int]] = []

    def dispatch(self, request: WsgiRequest) -> WsgiResponse:
        arrived = time.monotonic()
        response = super().dispatch(request)
        self.timeline.append((arrived, request.path, response.status_code))
        return response

    def clear(self) -> None:
        super().clear()
        self.timeline = []

    def wait_after(self, path: str, status: int = 429) -> float:
        """Seconds between the first `status` answer on `path` and the next request to it."""
        hits = [(at, code) for at, p, code in self.timeline if p == path]
        for (at, code), (next_at, _) in zip(hits, hits[1:], strict=False):
            if code == status:
                return next_at - at
        raise AssertionError(f"no request to {path} after a {status}: {self.timeline}")


@pytest.fixture(scope="session")
def _site_server() -> Iterator[TimedServer]:
    # threaded: a deliberately slow handler must not block the other requests
    server = TimedServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def site(_site_server: TimedServer) -> Iterator[TimedServer]:
    """The session's local HTTP server, emptied for each test, with a robots.txt that
    disallows /private/. Use `site.url_for(path)` and `site.expect_request(...)`."""
    _site_server.clear()
    _site_server.expect_request("/robots.txt").respond_with_data(
        ROBOTS_TXT, content_type="text/plain"
    )
    yield _site_server
    _site_server.clear()


def page(path: str) -> bytes:
    """A saved page from tests/pages/."""
    return (PAGES / path).read_bytes()


def children_of(pid: int) -> list[int]:
    """Every live descendant of a process (from /proc), nearest first."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":  # a zombie has exited already
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop(0)
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(kids)
        frontier.extend(kids)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free local port that keeps what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self._lock:
            self.envelopes.append(envelope)
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpSink]:
    """An SMTP sink that is not started: its port refuses connections until `.start()`."""
    sink = SmtpSink()
    yield sink
    sink.stop()


class NotifySink:
    """A local HTTP endpoint for Apprise's `json://` and `form://` services that records
    every notification that arrives, and can misbehave: `mode` "ok", "500" (answers 500),
    "hang" (never answers, until the test ends), "drop" (closes the connection unanswered);
    `delay` slows every answer. `url("json")` is the Apprise URL to reach it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []  # path, content_type, body (parsed)
        self.attempts = 0
        self.mode = "ok"
        self.delay = 0.0
        self._lock = threading.Lock()
        self._release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._lock:
                    sink.attempts += 1
                    mode = sink.mode
                if sink.delay:
                    time.sleep(sink.delay)
                if mode == "hang":
                    sink._release.wait(30)
                    return
                if mode == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"broken")
                    return
                kind = self.headers.get("Content-Type", "")
                body: Any = (json.loads(raw) if "json" in kind
                             else {k: v[0] for k, v in parse_qs(raw.decode()).items()})
                with sink._lock:
                    sink.received.append({"path": self.path, "content_type": kind,
                                          "body": body})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a dropped connection is the point of "drop", not an error to print
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, scheme: str = "json", path: str = "/hook", **params: str) -> str:
        # short timeouts: a hanging endpoint costs a test a second, not Apprise's 4 + 4
        query = "&".join(f"{k}={v}" for k, v in {"cto": "1", "rto": "1", **params}.items())
        return f"{scheme}://127.0.0.1:{self.port}{path}?{query}"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The bodies that arrived: json:// sends title/message, form:// the same fields."""
        with self._lock:
            return [r["body"] for r in self.received]

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def notify_sink() -> Iterator[NotifySink]:
    sink = NotifySink()
    yield sink
    sink.close()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    with open_store(state_dir) as opened:
        yield opened


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Config]:
    """Write a sources.yaml from a dict (crawl delays off, cache off) and load it."""

    def write(data: dict[str, Any], name: str = "sources.yaml") -> Config:
        data = dict(data)
        crawl = {"delay": 0, "timeout": 5, "retries": 0, "http_cache": False}
        crawl.update(data.get("crawl", {}))
        data["crawl"] = crawl
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        return load_config(path)

    return write


# -- portal spiders: what their callbacks yield ---------------------------------------------


def collect(iterator: AsyncIterator[Any]) -> list[Any]:
    async def run() -> list[Any]:
        return [x async for x in iterator]

    return asyncio.run(run())


def requests_of(results: Iterable[Any]) -> list[Request]:
    return [r for r in results if isinstance(r, Request)]


def records_of(results: Iterable[Any]) -> list[TenderRecord]:
    return [r for r in results if isinstance(r, TenderRecord)]


def cursors_of(results: Iterable[Any]) -> list[PortalCursor]:
    return [r for r in results if isinstance(r, PortalCursor)]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
