"""The flow's nouns: what a spider yields, what is stored, what matched, how a run went.

    ScrapedItem --normalise--> Item --match--> [Match] --store--> digest
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Item", "Match", "RunResult", "RunStatus", "ScrapedItem", "StoreOutcome"]

RunStatus = Literal["running", "ok", "partial", "error", "timeout", "interrupted"]


@dataclass(frozen=True, slots=True)
class ScrapedItem:
    """What a spider yields: raw fields as found on the page, not yet cleaned."""

    source: str
    url: str
    title: str = ""
    # plain text or HTML; normalise() strips markup either way
    body: str = ""
    # as found: ISO-8601, RFC 822, a human date; normalise() parses it
    published: str | None = None
    # a stable id from the source (feed guid, tender number) when it has one
    native_id: str | None = None
    # sha256 of the raw response body: an unchanged page skips extraction next time
    raw_hash: str | None = None
    language: str | None = None
    # True when raw_hash equals the stored one: nothing to extract or re-match
    unchanged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Item:
    """A cleaned, identified article or record, ready to match and store."""

    source: str
    # (source, key) identifies an item across crawls: native id, else canonical URL
    key: str
    url: str
    title: str
    text: str
    published_at: str | None  # UTC ISO-8601
    content_hash: str
    raw_hash: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """One place where a watch's alias or keyword was found in an item."""

    watch: str
    term: str  # the alias or keyword as written in the config
    term_kind: Literal["alias", "keyword"]
    field: str  # title | body
    start: int  # offsets into the item's field (cleaned text)
    end: int
    found: str  # the text as it appears in the item
    snippet: str
    # where `found` sits inside `snippet`, for highlighting without re-searching
    snippet_start: int
    snippet_end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What storing one item did."""

    item_id: int
    state: Literal["new", "changed", "unchanged"]
    new_matches: int


@dataclass(slots=True)
class RunResult:
    """One source's run: a row of the `runs` table and of the crawl summary."""

    source: str
    status: RunStatus
    run_id: int | None = None
    fetched: int = 0
    items: int = 0  # items seen, new or not
    new_items: int = 0
    changed_items: int = 0
    new_matches: int = 0
    errors: int = 0
    error: str | None = None
    seconds: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    error_details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
