"""A finding as a person sees it: an article or a tender that concerns a watch, with where
the watch was found (snippets, roles), what changed, the other watches it concerns and the
links; shared by the digest, the web pages and immediate alerts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

# where a watch was found in a tender, strongest evidence first
ROLE_ORDER = {role: i for i, role in enumerate(("winner", "bidder", "buyer", "title", "body"))}


_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# a subject names at most this many watches; the rest become "+N more"


@dataclass(frozen=True, slots=True)
class Finding:
    """One alias or keyword found in an entry's title or body."""

    term: str  # as written in the config
    term_kind: str  # alias | keyword
    found: str  # as written on the page
    field: str  # title | body
    snippet: str
    snippet_start: int
    snippet_end: int
    # found through a generated transliteration of `term` / through a related organisation
    variant: str | None = None
    via: str | None = None
    # "rematch": found in an item stored earlier, after the watch list changed: not news
    origin: str = "crawl"
    # set when the finding belongs to another watch than its entry's (one entry per finding)
    watch: str | None = None

    @property
    def parts(self) -> tuple[str, str, str]:
        """(before, found, after) of the snippet, for highlighting. Templates escape each part;
        offsets that do not fit the snippet give no highlight rather than a wrong one."""
        s, e = self.snippet_start, self.snippet_end
        if 0 <= s < e <= len(self.snippet):
            return self.snippet[:s], self.snippet[s:e], self.snippet[e:]
        return self.snippet, "", ""

    @property
    def spelled_differently(self) -> bool:
        """True when the page wrote something other than the configured term (a transliteration,
        a case ending): worth saying which alias matched. Case alone does not count."""
        return " ".join(self.found.split()).casefold() != " ".join(self.term.split()).casefold()


@dataclass(frozen=True, slots=True)
class Evidence:
    """The capture a finding was read from (`monitor evidence` exports it): its SHA-256 and
    when it was fetched."""

    sha256: str
    fetched_at: str

    @property
    def short(self) -> str:
        """Enough of the hash to find the capture again (`monitor explain` shows it all)."""
        return self.sha256[:16]


@dataclass(frozen=True, slots=True)
class RemovedEntry:
    """An article that concerned a watch and was then taken down from its site: news in
    itself, with the last capture of what it said."""

    item_id: int
    source: str
    title: str
    url: str
    removed_at: str
    # what the site answered: "HTTP 404", "redirects to the front page ..."
    reason: str
    watches: tuple[str, ...]
    evidence: Evidence | None = None


@dataclass(frozen=True, slots=True)
class AlsoAt:
    """The same story at another source (republished, syndicated, translated by a wire)."""

    source: str
    url: str
    published_at: str | None
    item_id: int = 0

    @property
    def link(self) -> str | None:
        return self.url if _is_web_url(self.url) else None


@dataclass(frozen=True, slots=True)
class OtherWatch:
    """Another watch that one finding concerns: it is listed once, under its first watch
    (highest priority), and names the others with how each was found."""

    watch: str
    how: str  # "won", "bid and lost", "in title: “Хиквижн”"

    def __str__(self) -> str:
        return f"{self.watch} ({self.how})" if self.how else self.watch


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One item for one watch, with every place the watch's terms were found in it, and
    the other sources that published the same story (`also`, earliest first)."""

    watch: str
    item_id: int
    title: str
    url: str
    source: str
    published_at: str | None  # UTC ISO-8601
    first_seen_at: str
    findings: tuple[Finding, ...]
    match_ids: tuple[int, ...]
    also: tuple[AlsoAt, ...] = ()
    # the other watches this item concerns (their matches are delivered with it)
    other_watches: tuple[OtherWatch, ...] = ()
    # the response the item's current version was read from
    evidence: Evidence | None = None
    # when the recipient was sent it as an immediate alert (monitor.alerts): not new then
    alerted_at: str | None = None

    @property
    def date(self) -> str:
        """The date to sort and show by: published, else when we first saw it."""
        return self.published_at or self.first_seen_at

    @property
    def item_ids(self) -> tuple[int, ...]:
        """This item and the copies of the story at other sources."""
        return (self.item_id, *(a.item_id for a in self.also))

    @property
    def how(self) -> str:
        """How the watch was found, in a few words: "in title: “Хиквижн”"."""
        own = [f for f in self.findings if f.watch is None]
        fields = dict.fromkeys(f.field for f in own)
        found = dict.fromkeys(f.found for f in own)
        return f"in {' and '.join(fields)}: " + ", ".join(f"“{f}”" for f in found)

    @property
    def link(self) -> str | None:
        """The URL when it is safe to put in an href (http/https only), else None."""
        return self.url if _is_web_url(self.url) else None


@dataclass(frozen=True, slots=True)
class Party:
    """An organisation in a tender entry, with its registry id when the portal gives it."""

    name: str
    registry_id: str | None = None

    def __str__(self) -> str:
        if self.registry_id and self.name:
            return f"{self.name} ({self.registry_id})"
        return self.name or self.registry_id or "(unnamed)"


@dataclass(frozen=True, slots=True)
class TenderEntry:
    """One tender for one watch: where the watch was found in it (the role: winner, bidder,
    buyer, or the text), the tender's state, and what changed since the recipient's last
    digest."""

    watch: str
    tender_id: int
    native_id: str
    title: str
    url: str
    source: str
    status: str
    buyer: Party | None
    winners: tuple[Party, ...]
    value: str | None  # "2.1 M GEL"
    award_value: str | None
    deadline: str | None
    published_at: str | None
    first_seen_at: str
    findings: tuple[Finding, ...]
    # what changed, one sentence each ("awarded to ...", "value 2.1 M -> 3.2 M GEL")
    changes: tuple[str, ...]
    # the watch bid (was found as a bidder, not a winner) and the tender went to others
    lost: bool
    # first time this recipient hears of this tender for this watch
    first_report: bool
    last_match_id: int
    last_event_id: int
    # the other watches this tender concerns, and what the store records as told for them
    other_watches: tuple[OtherWatch, ...] = ()
    other_marks: tuple[tuple[int, str, int, int], ...] = ()
    # set when the recipient first hears of a tender that was stored earlier (a silent
    # baseline, or a watch added later): when it was first seen
    tracked_since: str | None = None
    # the last API response the tender's current version was built from
    evidence: Evidence | None = None
    # red flags on the current version ("single bid; submission period 6 days (threshold
    # 15)"), one line each (`monitor.flags`)
    flags: tuple[str, ...] = ()
    # when the recipient was sent all of this as an immediate alert (monitor.alerts)
    alerted_at: str | None = None

    @property
    def date(self) -> str:
        return self.published_at or self.first_seen_at

    @property
    def link(self) -> str | None:
        return self.url if _is_web_url(self.url) else None

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles the watch was found in, strongest first (winner, bidder, buyer, text)."""
        found = {f.field for f in self.findings if f.watch is None}
        return tuple(r for r in ROLE_ORDER if r in found)

    @property
    def amounts(self) -> str:
        """"value 2.1 M GEL; awarded 2 M GEL; deadline 2026-12-01 10:00 UTC" (what is known)."""
        parts = [f"value {self.value}" if self.value else "",
                 f"awarded {self.award_value}" if self.award_value else "",
                 f"deadline {when(self.deadline)}" if self.deadline else ""]
        return "; ".join(p for p in parts if p)

    @property
    def reference(self) -> str:
        """The tender's number as a reader quotes it; empty when the portal's key is an
        internal id (TED's procedure UUID: the title then starts with the notice number)."""
        return "" if _UUID.fullmatch(self.native_id) else self.native_id

    @property
    def novelty(self) -> str:
        """"new", "updated", or, for a tender stored before (a silent baseline, a watch added
        later) that this recipient hears of now, what it is and since when it was tracked;
        "already alerted ..." when an immediate alert told it."""
        if self.alerted_at:
            return f"already alerted {when(self.alerted_at)}"
        if not self.first_report:
            return "updated"
        if self.tracked_since:
            return f"first reported now, tracked since {self.tracked_since[:10]}"
        return "new"

    @property
    def headline(self) -> str:
        """What happened for this watch, in a few words."""
        roles = self.roles
        if roles and roles[0] == "winner":
            return "won"
        if self.lost:
            return "bid and lost"
        if roles and roles[0] == "bidder":
            return "bid"
        if roles and roles[0] == "buyer":
            return "is the buyer"
        return "mentioned"


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def when(value: str | None) -> str:
    """'2024-05-01T10:00:00+00:00' -> '2024-05-01 10:00 UTC' (input as stored, UTC ISO). A
    date without a time stays a date ('2024-05-01'): portals that publish a deadline's day
    only are stored at midnight UTC, which is not a time anybody set."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if len(value) == 10 or (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")
