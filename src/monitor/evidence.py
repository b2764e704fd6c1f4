"""Evidence: the bytes a finding was built from, as received, kept so that they can be shown
after the page was edited or taken down.

A capture is a response's body before any decoding, with the request URL, the final URL, the
HTTP status, the response headers and the fetch time (UTC). The body is stored once per
SHA-256 under `<state>/captures/ab/cd/<sha256>.zst` (zstd), written to a temporary file and
renamed into place, so a killed crawl leaves no half file; a file is never rewritten (a changed
page is another hash). The store's `captures` rows say which item version each capture is
evidence of, and `verify` re-hashes the files against their names.

    CaptureStore(state).put(body) -> sha256   keep a body (once per hash)
    CaptureStore(state).read(sha256) -> bytes the body, checked against its hash
    CaptureStore(state).verify() -> problems  every stored body re-hashed
    export_warc(store, state, item_ids, out)  the captures as a WARC, with a manifest
    prune(store, state, settings)            drop what `evidence.keep` does not keep
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import zstandard

from monitor.errors import EvidenceError, RecordNotFoundError
from monitor.models import CapturedResponse

if TYPE_CHECKING:
    from monitor.config import EvidenceSettings
    from monitor.store import Store
    from monitor.store.rows import CaptureRow

__all__ = ["CAPTURES_DIR", "CaptureStore", "CapturedResponse", "Manifest", "Problem",
           "Pruned", "Usage", "export_warc", "prune"]

CAPTURES_DIR = "captures"
# zstd's default level: HTML ~5x smaller at ~0.1 ms a page (level 10 cost a first crawl
# several % more for a few % less disk)
_LEVEL = 3


@dataclass(frozen=True, slots=True)
class Usage:
    """Captures stored, and their size on disk (compressed)."""

    captures: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Pruned:
    rows: int
    files: int
    bytes: int


def prune(store: Store, state_dir: str | Path, settings: EvidenceSettings,
          now: datetime | None = None) -> Pruned:
    """Apply `evidence.keep`: with `matched`, capture rows older than `evidence.days` of items
    and tenders that never matched a watch are dropped (a capture a finding points to is
    kept forever, delivered or not), then the bodies no row names any more."""
    if settings.keep == "all":
        return Pruned(0, 0, 0)
    now = now or datetime.now(UTC)
    before = (now - timedelta(days=settings.days)).replace(microsecond=0).isoformat()
    rows = store.prune_unmatched_captures(before)
    files, size = CaptureStore(state_dir).remove_unreferenced(store.capture_hashes())
    return Pruned(rows, files, size)


@dataclass(frozen=True, slots=True)
class Problem:
    """A stored capture whose bytes no longer match its hash, or cannot be read."""

    sha256: str
    path: Path
    problem: str


class CaptureStore:
    """The captured bodies of one state directory."""

    def __init__(self, state_dir: str | Path) -> None:
        self.root = Path(state_dir) / CAPTURES_DIR
        # a crawl stores a body for most pages: one compressor, directories made once
        self._compressor = zstandard.ZstdCompressor(level=_LEVEL)
        self._made: set[str] = set()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zst"

    def put(self, body: bytes, sha256: str | None = None) -> str:
        """Keep `body` (once: a hash already stored is not written again); its SHA-256
        (`sha256`, when the caller has it already)."""
        digest = sha256 or hashlib.sha256(body).hexdigest()
        folder = os.path.join(self.root, digest[:2], digest[2:4])
        target = os.path.join(folder, f"{digest}.zst")
        if os.path.exists(target):
            return digest
        data = self._compressor.compress(body)
        # whole or not at all: written aside under a name no other writer uses, then renamed.
        # Not fsynced, like the database's own commits (WAL, synchronous=NORMAL): a power cut
        # can lose the newest captures with the newest rows, and `verify` names any left empty
        partial = os.path.join(folder, f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            if folder not in self._made:
                os.makedirs(folder, exist_ok=True)
                self._made.add(folder)
            with open(partial, "wb") as out:
                out.write(data)
            os.replace(partial, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise EvidenceError(f"{target}: cannot store the capture: {exc}") from None
        return digest

    def read(self, sha256: str) -> bytes:
        """The body stored under `sha256`; EvidenceError when missing or altered."""
        path = self.path(sha256)
        try:
            body = zstandard.ZstdDecompressor().decompress(path.read_bytes())
        except FileNotFoundError:
            raise EvidenceError(f"{path}: capture {sha256} is missing") from None
        except (OSError, zstandard.ZstdError) as exc:
            raise EvidenceError(f"{path}: capture {sha256} cannot be read: {exc}") from None
        if hashlib.sha256(body).hexdigest() != sha256:
            raise EvidenceError(f"{path}: capture {sha256} was altered: its bytes hash to "
                                f"{hashlib.sha256(body).hexdigest()}")
        return body

    def __iter__(self) -> Iterator[tuple[str, Path]]:
        """(sha256, path) of every stored capture."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/??/*.zst")):
            yield path.name.removesuffix(".zst"), path

    def usage(self) -> Usage:
        """How many captures are stored and how many bytes they take on disk."""
        count = size = 0
        for _, path in self:
            count += 1
            size += path.stat().st_size
        return Usage(count, size)

    def remove_unreferenced(self, referenced: set[str], *,
                            older_than: timedelta = timedelta(hours=1)) -> tuple[int, int]:
        """Delete bodies no capture row names (and older than `older_than`: a crawl writes a
        body just before the row that names it). Returns (files, bytes) removed."""
        cutoff = time.time() - older_than.total_seconds()
        files = size = 0
        for digest, path in self:
            if digest in referenced:
                continue
            try:
                stat = path.stat()
                if stat.st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            files += 1
            size += stat.st_size
        return files, size

    def verify(self) -> list[Problem]:
        """Every stored capture re-hashed: those whose bytes no longer match their name."""
        problems = []
        for digest, path in self:
            try:
                self.read(digest)
            except EvidenceError as exc:
                problems.append(Problem(digest, path, str(exc).split(": ", 1)[1]))
        return problems


# -- WARC export ------------------------------------------------------------------------------

# hop-by-hop and framing headers: the WARC holds the body as decoded by the crawler (Scrapy
# undoes gzip and chunking and drops Content-Encoding), so the exported response says its
# own length
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True, slots=True)
class ExportedCapture:
    sha256: str
    url: str
    final_url: str
    status: int
    fetched_at: str
    size: int
    version: int | None


@dataclass(frozen=True, slots=True)
class ExportedFinding:
    kind: str  # item, tender
    # the item's or tender's id in the store (`monitor explain` takes it)
    id: int
    source: str
    title: str
    url: str
    captures: tuple[ExportedCapture, ...]
    # (watch, field, found, snippet)
    matches: tuple[tuple[str, str, str, str], ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an evidence export holds, for a person (`text()`) and for tools (`to_dict()`)."""

    warc: str
    exported_at: str
    findings: tuple[ExportedFinding, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lines = [f"Evidence exported {self.exported_at} to {self.warc}", ""]
        for f in self.findings:
            lines.append(f"{f.kind.capitalize()} {f.id} [{f.source}] {f.title}")
            lines.append(f"  {f.url}")
            for c in f.captures:
                moved = f" (redirected from {c.url})" if c.url != c.final_url else ""
                lines.append(f"  version {c.version}: fetched {c.fetched_at}, HTTP {c.status}, "
                             f"{c.size:,} bytes, SHA-256 {c.sha256}{moved}")
            for watch, field, found, snippet in f.matches:
                lines.append(f"  {watch} in {field}: “{found}” … {snippet}")
            lines.append("")
        return "\n".join(lines)


def _warc_date(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_warc(store: Store, state_dir: str | Path, item_ids: Sequence[int],
                out: str | Path, *, tender_numbers: Sequence[str] = ()) -> Manifest:
    """Write the captures of these items and tenders (by number or OCID, every source) to a
    gzipped WARC at `out` (a response record per capture, its WARC-Date the fetch time and
    WARC-Payload-Digest the stored SHA-256, with a request record), and `out` + `.json` /
    `.txt` manifests; RecordNotFoundError for a record that is not stored or has no capture,
    EvidenceError for a body missing or altered."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    bodies = CaptureStore(state_dir)
    out = Path(out)
    findings = []
    records: dict[tuple[str, str, str], tuple[CaptureRow, bytes]] = {}

    def keep(captures: Sequence[CaptureRow]) -> tuple[ExportedCapture, ...]:
        for c in captures:
            # one response shared by several records (a search page) is written once
            records.setdefault((c.sha256, c.fetched_at, c.final_url),
                               (c, bodies.read(c.sha256)))
        return tuple(ExportedCapture(c.sha256, c.url, c.final_url, c.status, c.fetched_at,
                                     c.size, c.version) for c in captures)

    for item_id in item_ids:
        item = store.item(item_id)
        captures = store.captures(item_id)
        if item is None or not captures:
            raise RecordNotFoundError(
                f"{Path(state_dir)}: item {item_id} " + ("is not stored" if item is None else
                "has no capture (it was stored before captures were kept)"))
        findings.append(ExportedFinding(
            kind="item", id=item_id, source=item.source, title=item.title, url=item.url,
            captures=keep(captures),
            matches=tuple((m.watch, m.field, m.found, m.snippet)
                          for m in store.item_matches(item_id))))
    for number in tender_numbers:
        tenders = store.find_tenders(number)
        if not tenders:
            raise RecordNotFoundError(f"{Path(state_dir)}: no tender numbered {number!r}")
        for tender in tenders:
            captures = store.tender_captures(tender.id)
            if not captures:
                raise RecordNotFoundError(
                    f"{Path(state_dir)}: tender {number} of {tender.source} has no capture "
                    "(it was stored before captures were kept)")
            findings.append(ExportedFinding(
                kind="tender", id=tender.id, source=tender.source,
                title=f"{tender.native_id}: {tender.title}", url=tender.url,
                captures=keep(captures),
                matches=tuple((m.watch, m.field, m.found, m.snippet)
                              for m in store.tender_matches(tender.id))))
    partial = out.with_name(f".{out.name}.tmp")
    try:
        with partial.open("wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            writer.write_record(writer.create_warcinfo_record(
                out.name, {"software": "monitor (evidence export)",
                           "format": "WARC File Format 1.1"}))
            for capture, body in records.values():
                when = _warc_date(capture.fetched_at)
                headers = [(k, v) for k, v in capture.headers if k.lower() not in _FRAMING]
                headers.append(("Content-Length", str(len(body))))
                try:
                    reason = HTTPStatus(capture.status).phrase
                except ValueError:
                    reason = ""
                response = writer.create_warc_record(
                    # the length given: without it warcio spools the body to a temp file
                    capture.final_url, "response", payload=io.BytesIO(body), length=len(body),
                    http_headers=StatusAndHeaders(f"{capture.status} {reason}".strip(), headers,
                                                  protocol="HTTP/1.1"),
                    warc_headers_dict={
                        "WARC-Date": when,
                        "WARC-Payload-Digest": "sha256:" + base64.b32encode(
                            bytes.fromhex(capture.sha256)).decode("ascii")})
                writer.write_record(response)
                target = urlsplit(capture.final_url)
                path = (target.path or "/") + (f"?{target.query}" if target.query else "")
                writer.write_record(writer.create_warc_record(
                    capture.final_url, "request",
                    http_headers=StatusAndHeaders(f"GET {path} HTTP/1.1",
                                                  [("Host", target.netloc)],
                                                  is_http_request=True),
                    warc_headers_dict={
                        "WARC-Date": when,
                        "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")}))
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise EvidenceError(f"{out}: cannot write the WARC: {exc}") from None
    manifest = Manifest(warc=str(out),
                        exported_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
                        findings=tuple(findings))
    out.with_name(out.name + ".json").write_text(
        json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2), "utf-8")
    out.with_name(out.name + ".txt").write_text(manifest.text(), "utf-8")
    return manifest
