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
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from monitor.errors import EvidenceError
from monitor.models import CapturedResponse

__all__ = ["CAPTURES_DIR", "CaptureStore", "CapturedResponse", "Problem"]

CAPTURES_DIR = "captures"
# zstd level: ~4x smaller HTML than gzip's default at a few ms a page
_LEVEL = 10


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

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zst"

    def put(self, body: bytes) -> str:
        """Keep `body` (once: a hash already stored is not written again); its SHA-256."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.path(digest)
        if path.exists():
            return digest
        data = zstandard.ZstdCompressor(level=_LEVEL).compress(body)
        partial: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", suffix=".tmp",
                                             delete=False) as out:
                partial = Path(out.name)
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        except OSError as exc:
            if partial is not None:
                partial.unlink(missing_ok=True)
            raise EvidenceError(f"{path}: cannot store the capture: {exc}") from None
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

    def verify(self) -> list[Problem]:
        """Every stored capture re-hashed: those whose bytes no longer match their name."""
        problems = []
        for digest, path in self:
            try:
                self.read(digest)
            except EvidenceError as exc:
                problems.append(Problem(digest, path, str(exc).split(": ", 1)[1]))
        return problems
