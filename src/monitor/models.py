"""The flow's nouns: what a spider yields, what is stored, what matched, how a run went.

    ScrapedItem --normalise--> Item --match--> [Match] --store--> digest
    TenderRecord --tender--> TenderRecord --store--> [TenderEvent]       (portal spiders)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from monitor import orgids

__all__ = [
    "Bid",
    "BidStatus",
    "Contract",
    "Item",
    "Match",
    "Organisation",
    "PortalCursor",
    "RunResult",
    "RunStatus",
    "ScrapedItem",
    "StoreOutcome",
    "TenderDocument",
    "TenderEvent",
    "TenderEventKind",
    "TenderLot",
    "TenderOutcome",
    "TenderRecord",
]

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
    # True when raw_hash equals the stored one (or the server said 304): nothing to extract
    # or re-match
    unchanged: bool = False
    # the response's validators, sent back on the next revisit (a 304 when unchanged)
    etag: str | None = None
    last_modified: str | None = None
    # the feed entry's `updated` / the sitemap's `lastmod` the page was listed with
    listed_at: str | None = None
    # the response the item was read from, kept as evidence
    capture: CapturedResponse | None = field(default=None, repr=False, compare=False)
    # on an unchanged marker: the stored page is gone ("HTTP 404", "redirects to the front
    # page ..."): taken down, which is news, not a failed fetch
    removed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("capture")  # bytes: evidence is stored, not sent around as JSON
        return data


@dataclass(frozen=True, slots=True)
class CapturedResponse:
    """A response as received, before decoding: the evidence an item version was built
    from (`monitor.evidence` keeps the body, the store the rest)."""

    url: str
    final_url: str
    status: int
    # (name, value) in the server's order; names as Scrapy spells them (case-insensitive)
    headers: tuple[tuple[str, str], ...]
    # UTC, ISO 8601
    fetched_at: str
    body: bytes = field(repr=False)
    # of `body`, computed once (the store, the capture file and the digest all name it)
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.body).hexdigest())


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
    etag: str | None = None
    last_modified: str | None = None
    listed_at: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """One place where a watch's alias or keyword was found in an item."""

    watch: str
    term: str  # the alias, keyword or registry id as written in the config
    term_kind: Literal["alias", "keyword", "id"]
    # title | body; in a tender also the role of the organisation: winner | bidder | buyer
    field: str
    start: int  # offsets into the item's field (cleaned text)
    end: int
    found: str  # the text as it appears in the item
    snippet: str
    # where `found` sits inside `snippet`, for highlighting without re-searching
    snippet_start: int
    snippet_end: int
    # the generated transliteration of `term` that was found (watch `transliterate: true`)
    variant: str | None = None
    # the related organisation (parent, subsidiary, distributor) whose name was found
    via: str | None = None

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
    # what the run noticed without failing: "4,500 entries left unread: raise max_items"
    warnings: list[str] = field(default_factory=list)
    # what it cost: requests made (robots.txt and retries included), stored articles not
    # fetched because no revisit was due (portals: stored records whose stamp is unchanged),
    # conditional requests answered 304
    requests: int = 0
    not_due: int = 0
    not_modified: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- tenders ----------------------------------------------------------------------------------
#
# A tender is not an article: it is a record that changes (announced, awarded, contract
# signed, amended). Portal spiders yield TenderRecords; `monitor.tender` normalises them and
# compares versions; the store keeps every version and each change as a TenderEvent.
#
#     TenderRecord --normalise_tender--> TenderRecord --tender.record_tender--> [TenderEvent]

TenderEventKind = Literal[
    "awarded", "winner_changed", "value_changed", "status_changed", "deadline_changed",
    "cancelled", "document_removed",
]


@dataclass(frozen=True, slots=True)
class Organisation:
    """A buyer, bidder or winner (a company, a public body, a sole trader) as the portal names
    it. `scheme` says which register `id` belongs to, in org-id.guide codes: GE-NAPR (Georgia),
    UA-EDR (Ukraine), MD-IDNO (Moldova), KZ-BIN (Kazakhstan), a VAT or national register code
    in TED notices."""

    name: str
    id: str | None = None
    scheme: str | None = None
    # where the portal gives them: one line of postal address, and a contact (e-mail, phone);
    # competing bidders that share one are "linked" (`monitor.flags`)
    address: str | None = None
    contact: str | None = None

    @property
    def registry_id(self) -> str | None:
        """`SCHEME:ID` as a watch list writes it (`UA-EDR:41234567`); None without an id."""
        if not self.id:
            return None
        return f"{self.scheme}:{self.id}" if self.scheme else self.id

    @property
    def key(self) -> str:
        """Identity across versions and portals: the registry id as `monitor.orgids`
        writes it (UA-NAT:34051 and UA-EDR:00034051 are one), else the case-folded name."""
        return orgids.key(self.scheme, self.id) or " ".join(self.name.casefold().split())


@dataclass(frozen=True, slots=True)
class TenderLot:
    """One lot of a tender split into lots."""

    id: str
    title: str = ""
    status: str | None = None
    value: float | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class TenderDocument:
    """A document published with a tender (notice, tender documents, award decision, ...)."""

    url: str
    title: str = ""
    # the portal's document type: tenderNotice, awardNotice, contractSigned, ...
    kind: str | None = None
    published: str | None = None


# bid statuses, as OCDS's bidStatus codelist names them; portals' own codes are mapped on
# reading (Prozorro's `unsuccessful` award on a bid and `invalid` bid -> disqualified)
BidStatus = Literal["pending", "valid", "disqualified", "withdrawn"]


@dataclass(frozen=True, slots=True)
class Bid:
    """One bid as the portal publishes it (Prozorro `bids[]`, OCDS `bids.details[]`): who
    bid, the price, when it was received, and what became of it."""

    tenderers: tuple[Organisation, ...]
    id: str | None = None
    value: float | None = None
    currency: str | None = None
    # when the bid was received
    date: str | None = None
    status: BidStatus | None = None
    # the lot the bid is for (a bid on several lots is one Bid per lot)
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    """A signed contract of a tender: its value and term as this version states them. Two
    versions of a tender show whether a price change came with a longer term."""

    id: str
    value: float | None = None
    currency: str | None = None
    signed: str | None = None
    end_date: str | None = None
    # amendments the portal lists (OCDS `contracts[].amendments`)
    amendments: int = 0


# added after tenders were first stored: see `TenderRecord.to_dict`
_ADDED_FIELDS = ("method", "tender_start", "category", "award_criteria", "bids_received",
                 "bids", "contracts")
_ADDED_ORG_FIELDS = ("address", "contact")


@dataclass(frozen=True, slots=True)
class TenderRecord:
    """One tender as a portal spider reads it: yielded like a ScrapedItem, cleaned by
    `monitor.tender.normalise_tender`, stored with every version by `tender.record_tender`.

    `status` is the portal's own code (Prozorro `active.tendering`, OCDS `active`); a
    cancelled tender's status ends in `cancelled` (or OCDS `withdrawn`). Dates are ISO-8601 as
    published; normalising makes them UTC. Winners are the suppliers of the active awards,
    bidders everyone who bid (winners included) where the portal shows bids.
    """

    source: str
    # tender number / OCID / publication number: (source, native_id) is the identity
    native_id: str
    title: str = ""
    description: str = ""
    # the notice a person reads (not the API URL, where the portal has a public page)
    url: str = ""
    buyer: Organisation | None = None
    status: str = ""
    # procurement method or procedure type, as the portal names it
    procedure: str = ""
    cpv: tuple[str, ...] = ()
    # the tender's estimated value
    value: float | None = None
    currency: str | None = None
    published: str | None = None
    deadline: str | None = None
    award_date: str | None = None
    contract_date: str | None = None
    bidders: tuple[Organisation, ...] = ()
    winners: tuple[Organisation, ...] = ()
    # the sum of the active awards' values
    award_value: float | None = None
    award_currency: str | None = None
    lots: tuple[TenderLot, ...] = ()
    documents: tuple[TenderDocument, ...] = ()
    # -- what red flags are computed from (`monitor.flags`); empty where a portal does not
    # publish it, which makes a flag "not computable", never "clear"
    # open / selective / limited / direct (OCDS procurementMethod): whether bids competed
    method: str | None = None
    # when bids could first be submitted (the deadline is when the tender period ends)
    tender_start: str | None = None
    # goods / services / works (OCDS mainProcurementCategory)
    category: str | None = None
    # how the winner is chosen, as the portal codes it (lowestCost, priceOnly, ...)
    award_criteria: str | None = None
    # the number of bids received as the portal states it, where it lists no bids (TED)
    bids_received: int | None = None
    bids: tuple[Bid, ...] = ()
    contracts: tuple[Contract, ...] = ()
    # the portal's last-modified stamp: an unchanged stamp skips fetching the details again
    modified: str | None = None
    # sha256 of the raw API response
    raw_hash: str | None = None
    # True for a marker that says "seen again, not fetched": nothing to compare or store
    unchanged: bool = False
    # the API responses the record was built from, kept as evidence of its version
    captures: tuple[CapturedResponse, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON values; fields added after tenders were first stored are left
        out while empty, so that the stored form (and content hash) of a record that has
        none of them is what it was before they existed."""
        data = asdict(replace(self, captures=()))
        data.pop("captures")  # bytes: evidence is stored, not sent around as JSON
        for name in _ADDED_FIELDS:
            if data[name] in (None, (), []):
                del data[name]
        orgs = [data["buyer"], *data["bidders"], *data["winners"],
                *(o for b in data.get("bids", ()) for o in b["tenderers"])]
        for org in orgs:
            for name in _ADDED_ORG_FIELDS:
                if org is not None and org.get(name) is None:
                    org.pop(name, None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TenderRecord:
        """The inverse of `to_dict` (a stored version, a test case)."""
        fields = dict(data)
        buyer = fields.get("buyer")
        fields["buyer"] = Organisation(**buyer) if buyer else None
        for key in ("bidders", "winners"):
            fields[key] = tuple(Organisation(**o) for o in fields.get(key) or ())
        fields["bids"] = tuple(
            Bid(**{**b, "tenderers": tuple(Organisation(**o) for o in b.get("tenderers") or ())})
            for b in fields.get("bids") or ())
        fields["contracts"] = tuple(Contract(**c) for c in fields.get("contracts") or ())
        fields["lots"] = tuple(TenderLot(**lot) for lot in fields.get("lots") or ())
        fields["documents"] = tuple(TenderDocument(**d) for d in fields.get("documents") or ())
        fields["cpv"] = tuple(fields.get("cpv") or ())
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class TenderEvent:
    """One change between two versions of a tender, field by field: what the digest says
    ("awarded to ...", "value 2.1 M -> 3.2 M GEL") instead of showing a diff. `old` and `new`
    are JSON values: a status or date string, a list of organisations as dicts, or
    `{"amount": ..., "currency": ...}`."""

    kind: TenderEventKind
    field: str
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TenderChange:
    """What a tender record is against its stored version, decided by `tender.compare`: the
    store writes it as it is."""

    state: Literal["new", "changed", "unchanged"]
    content_hash: str
    # the record as stored (`tender.stored_fields`)
    stored: dict[str, Any]
    events: tuple[TenderEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class TenderOutcome:
    """What storing one tender did."""

    tender_id: int
    state: Literal["new", "changed", "unchanged"]
    version: int
    events: tuple[TenderEvent, ...] = ()
    # findings of watches not stored for this tender before
    new_matches: int = 0


@dataclass(frozen=True, slots=True)
class PortalCursor:
    """Where a portal spider has got to in the portal's feed. Spiders yield one after every
    completed page; the pipeline saves it, and the next run continues from there. `url` is
    the source's API base: a cursor saved for another URL is ignored. `cursor` None drops the
    saved position (the portal said it is invalid)."""

    source: str
    url: str
    cursor: str | None
    # spider-specific extras: the server-id cookie, details to fetch again, ...
    state: dict[str, Any] = field(default_factory=dict)
