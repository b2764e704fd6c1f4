"""`monitor demo`: the whole flow on bundled sample sites, with no network and no setup.

Serves the sample sites in `site/` from a local HTTP server on a free port, starts a real
local SMTP server (aiosmtpd), writes the demo config (`sources.yaml` here, with the ports
filled in) to the demo state directory, then crawls, matches, stores, builds the digest and
delivers it: exactly what `monitor crawl` and `monitor digest` do on a real config.
"""

from __future__ import annotations

import mimetypes
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.config import load_config
from monitor.crawl import CrawlEvent, crawl
from monitor.models import RunResult
from monitor.store import open_store

__all__ = ["DemoReport", "run_demo", "serve_site"]

TEXT_TYPES = (".html", ".xml", ".txt", ".yaml", ".json")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _site_root() -> Traversable:
    return files("monitor.demo") / "site"


def _render(resource: Traversable, replacements: dict[str, str]) -> bytes:
    data = resource.read_bytes()
    if resource.name.endswith(TEXT_TYPES):
        for key, value in replacements.items():
            data = data.replace(key.encode("ascii"), value.encode("ascii"))
    return data


@contextmanager
def serve_site(root: Traversable | None = None) -> Iterator[str]:
    """Serve the sample site on 127.0.0.1 and a free port; yields the base URL.

    Text files have `{{BASE}}` replaced with the base URL (feeds need absolute links).
    """
    root = root or _site_root()
    replacements: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path).lstrip("/") or "index.html"
            resource: Traversable = root
            for part in path.split("/"):
                if part in ("", ".", ".."):
                    self.send_error(404)
                    return
                resource = resource / part
            if not resource.is_file():
                self.send_error(404)
                return
            body = _render(resource, replacements)
            ctype = mimetypes.guess_type(resource.name)[0] or "application/octet-stream"
            self.send_response(200)
            # no charset on purpose: pages declare their own (one is windows-1251)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    replacements["{{BASE}}"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


class _Inbox:
    """aiosmtpd handler: keeps the messages the demo's SMTP server accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.content))
        return "250 OK"


@contextmanager
def _smtp_server() -> Iterator[tuple[int, _Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    # aiosmtpd's Controller(port=0) fails its own start-up check: choose the port first
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@dataclass
class Finding:
    watch: str
    title: str
    source: str
    field: str
    found: str
    term: str
    url: str
    published_at: str | None


@dataclass
class TenderFinding:
    watch: str
    native_id: str
    title: str
    source: str
    status: str
    field: str  # the role: winner, bidder, buyer; or title, body
    found: str
    term: str
    url: str


@dataclass
class DemoReport:
    state_dir: str
    results: list[RunResult]
    findings: list[Finding]
    received_subjects: list[str]
    tenders: list[TenderFinding] = field(default_factory=list)
    eml_paths: list[str] = field(default_factory=list)
    html_paths: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        # one line per (watch, article), with every distinct text found in it
        grouped: dict[str, dict[tuple[str, str], list[str]]] = {}
        for f in self.findings:
            texts = grouped.setdefault(f.watch, {}).setdefault((f.title, f.source), [])
            if f.found not in texts:
                texts.append(f.found)
        items = sum(r.new_items for r in self.results)
        articles = sum(len(v) for v in grouped.values())
        lines = [(f"Crawled {len(self.results)} sources: {items} items stored; "
                 f"{articles} findings for {len(grouped)} watches:")]
        for watch, articles_found in grouped.items():
            lines.append(f"\n  {watch}")
            for (title, source), texts in articles_found.items():
                quoted = ", ".join(f"“{t}”" for t in texts)
                lines.append(f"    - {title}\n        [{source}] found {quoted}")
        by_tender: dict[tuple[str, str, str], list[str]] = {}
        for t in self.tenders:
            roles = by_tender.setdefault((t.watch, t.native_id, t.title), [])
            role = f"{t.field} “{t.found}”"
            if role not in roles:
                roles.append(role)
        if by_tender:
            lines.append(f"\n  Tenders ({len(by_tender)} findings):")
        for (watch, native_id, title), roles in by_tender.items():
            lines.append(f"    - {watch} in {native_id}: {title}\n        as {', '.join(roles)}")
        failed = [r for r in self.results if r.status not in ("ok", "partial")]
        for r in failed:
            lines.append(f"\n  ! {r.source}: {r.status}: {r.error}")
        lines.append("")
        for subject in self.received_subjects:
            lines.append(f"The local SMTP server received: {subject}")
        for path in self.eml_paths:
            lines.append(f"Digest saved as {path}")
        for path in self.html_paths:
            lines.append(f"HTML version:   {path}")
        lines.append(f"Database:       {Path(self.state_dir) / 'monitor.db'}")
        lines.append(f"Done in {self.seconds:.1f}s.")
        return "\n".join(lines)


def run_demo(state_dir: str | Path, *, on_step: Callable[[str], None] | None = None) -> DemoReport:
    """Run the demo in `state_dir` (emptied first, so every run shows the same findings)."""
    from monitor import mail

    step = on_step or (lambda _line: None)
    started = time.monotonic()
    state_dir = Path(state_dir).resolve()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    template = (files("monitor.demo") / "sources.yaml").read_text("utf-8")
    with serve_site() as base, _smtp_server() as (smtp_port, inbox):
        step(f"Serving the sample sites at {base}/ and an SMTP server on port {smtp_port}")
        config_path = state_dir / "sources.yaml"
        config_path.write_text(
            template.replace("{{BASE}}", base).replace("{{SMTP_PORT}}", str(smtp_port)),
            "utf-8",
        )
        config = load_config(config_path)

        def progress(event: CrawlEvent) -> None:
            if event.kind == "run_finished":
                r = event.data["result"]
                step(f"  crawled {event.source}: {r['status']}, {r['fetched']} pages, "
                     f"{r['new_items']} items, {r['new_matches']} matches")

        step(f"Crawling {len(config.sources)} sources…")
        report = crawl(config, state_dir, on_event=progress)
        step("Building and delivering the digest…")
        with open_store(state_dir) as store:
            queued = mail.queue_digests(store, config, state_dir)
            mail.deliver(store, config, force=True)
            findings = [Finding(r.watch, r.title, r.source, r.field, r.found, r.term, r.url,
                                r.published_at) for r in store.findings()]
            tenders = [TenderFinding(r.watch, r.native_id or "", r.title, r.source,
                                     r.status or "", r.field, r.found, r.term, r.url)
                       for r in store.tender_findings()]
        # the SMTP server hands the message over asynchronously: give it a moment
        deadline = time.monotonic() + 5
        while len(inbox.messages) < len(queued) and time.monotonic() < deadline:
            time.sleep(0.05)
    return DemoReport(
        state_dir=str(state_dir),
        results=report.results,
        findings=findings,
        tenders=tenders,
        received_subjects=[str(m["Subject"]) for m in inbox.messages],
        eml_paths=[str(q.eml_path) for q in queued],
        html_paths=[str(q.html_path) for q in queued],
        seconds=round(time.monotonic() - started, 1),
    )
