"""Tender records: clean one, hash it, describe what changed between two versions as events
(pure functions), and store one as its stored version says.

    normalise_tender(record) -> record       text cleaned, dates in UTC, duplicates dropped
    hash_tender(record) -> str               equal for records that say the same thing
    diff_tenders(old, new) -> [TenderEvent]  awarded / winner_changed / value_changed /
                                             status_changed / deadline_changed / cancelled /
                                             document_removed
    compare(stored, record) -> TenderChange  new / changed (with its events) / unchanged
    record_tender(store, record)             compare with the stored version, then store

The rules `diff_tenders` follows (tests/cases/tender.yaml has a case for each):

- `awarded`: the first winners (old had none). A tender seen for the first time that already
  has winners is `awarded` too, except in a source's first run (the baseline), which alerts
  on nothing.
- `winner_changed`: winners were known and are now different people (compared by registry id,
  else by name), including all removed (an award annulled).
- `value_changed`: the estimated value or its currency changed to a known value (field
  `value`), or the awarded value changed once known (field `award_value`). A value that
  disappears is not an event: portals drop fields between views.
- `cancelled`: the status became a cancellation (`cancelled`, `*.cancelled`, OCDS
  `withdrawn`); any other status change is `status_changed`.
- `deadline_changed`: the deadline was set or moved (not when it disappears).
- `document_removed`: a document the portal listed is no longer listed, while the record
  still lists others (an empty list is a view without documents, not a removal); one event
  per document, `old` its URL, title and type.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor import orgids
from monitor.errors import StoreConflictError
from monitor.models import (
    Bid,
    Contract,
    Organisation,
    TenderChange,
    TenderDocument,
    TenderEvent,
    TenderEventKind,
    TenderLot,
    TenderOutcome,
    TenderRecord,
)
from monitor.normalise import clean_text

if TYPE_CHECKING:
    from monitor.flags import Flag
    from monitor.flags.compute import Flagger
    from monitor.models import Match
    from monitor.store import Store
    from monitor.store.rows import FlagRow, StoredTender

__all__ = [
    "compare",
    "diff_tenders",
    "hash_tender",
    "is_cancelled",
    "normalise_stamp",
    "normalise_tender",
    "record_tender",
    "stored_fields",
]

# status codes (or their last dotted part) that mean the procurement was called off
CANCELLED_STATUSES = frozenset({"cancelled", "canceled", "withdrawn"})
# fields that say nothing about the tender itself: left out of the content hash
_BOOKKEEPING = ("raw_hash", "modified", "unchanged", "captures")


def is_cancelled(status: str | None) -> bool:
    """True for `cancelled`, `active.cancelled`-style codes and OCDS `withdrawn`."""
    if not status:
        return False
    return status.strip().lower().rsplit(".", 1)[-1] in CANCELLED_STATUSES


def _date(value: str | None, *, fraction: bool = False) -> str | None:
    """ISO-8601 in UTC, to the second unless `fraction`; a naive time is taken as UTC. Unlike
    `normalise.parse_date` future dates are kept (deadlines are in the future); a value that
    is not ISO-8601 is kept as published rather than lost."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return (parsed if fraction else parsed.replace(microsecond=0)).isoformat()


def normalise_stamp(value: str | None) -> str | None:
    """A portal's last-modified stamp as stored: UTC, with its fraction of a second (two
    changes within one second are two stamps)."""
    return _date(value, fraction=True)


def _line(value: str | None) -> str:
    return clean_text(value).replace("\n", " ").strip()


def _code(value: str | None) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def _organisation(org: Organisation) -> Organisation:
    scheme, ident = orgids.normalise(_code(org.scheme), _code(org.id))
    return Organisation(
        name=_line(org.name), id=ident, scheme=scheme,
        address=_line(org.address) or None, contact=_line(org.contact) or None,
    )


def _organisations(orgs: Iterable[Organisation]) -> tuple[Organisation, ...]:
    """Cleaned, without nameless entries, one per identity, in the portal's order."""
    seen: dict[str, Organisation] = {}
    for org in orgs:
        cleaned = _organisation(org)
        if not cleaned.name and not cleaned.id:
            continue
        seen.setdefault(cleaned.key, cleaned)
    return tuple(seen.values())


def _currency(value: str | None) -> str | None:
    code = _code(value)
    return code.upper() if code else None


def normalise_tender(record: TenderRecord) -> TenderRecord:
    """Clean a record as a spider yielded it: text without markup or stray whitespace, dates
    in UTC, currency codes upper-case, registry schemes upper-case, CPV codes and
    organisations without duplicates (first occurrence kept)."""
    if record.unchanged:
        return record
    buyer = _organisation(record.buyer) if record.buyer else None
    if buyer is not None and not buyer.name and not buyer.id:
        buyer = None
    return replace(
        record,
        native_id=record.native_id.strip(),
        title=_line(record.title),
        description=clean_text(record.description),
        url=record.url.strip(),
        buyer=buyer,
        status=(record.status or "").strip(),
        procedure=(record.procedure or "").strip(),
        cpv=tuple(dict.fromkeys(c.strip() for c in record.cpv if c and c.strip())),
        currency=_currency(record.currency),
        published=_date(record.published),
        deadline=_date(record.deadline),
        award_date=_date(record.award_date),
        contract_date=_date(record.contract_date),
        bidders=_organisations(record.bidders),
        winners=_organisations(record.winners),
        award_currency=_currency(record.award_currency),
        lots=tuple(
            TenderLot(id=lot.id.strip(), title=_line(lot.title), status=_code(lot.status),
                      value=lot.value, currency=_currency(lot.currency))
            for lot in record.lots
        ),
        documents=tuple(
            TenderDocument(url=d.url.strip(), title=_line(d.title), kind=_code(d.kind),
                           published=_date(d.published))
            for d in record.documents if d.url and d.url.strip()
        ),
        modified=normalise_stamp(record.modified),
        method=_code(record.method),
        tender_start=_date(record.tender_start),
        category=_code(record.category),
        award_criteria=_code(record.award_criteria),
        bids=tuple(
            Bid(tenderers=_organisations(b.tenderers), id=_code(b.id), value=b.value,
                currency=_currency(b.currency), date=_date(b.date), status=b.status,
                lot=_code(b.lot))
            for b in record.bids
        ),
        contracts=tuple(
            Contract(id=c.id.strip(), value=c.value, currency=_currency(c.currency),
                     signed=_date(c.signed), end_date=_date(c.end_date),
                     amendments=c.amendments)
            for c in record.contracts
        ),
    )


def stored_fields(record: TenderRecord) -> dict[str, Any]:
    """The record as stored (JSON): everything but the bookkeeping fields."""
    fields = record.to_dict()
    for name in _BOOKKEEPING:
        fields.pop(name, None)
    return fields


def hash_tender(record: TenderRecord) -> str:
    """A content hash over what the record says. The portal's modified stamp and the raw
    response hash are left out: a tender whose visible fields did not change is unchanged."""
    text = json.dumps(stored_fields(record), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _people(orgs: Iterable[Organisation]) -> list[dict[str, Any]]:
    return [{"name": o.name, "id": o.id, "scheme": o.scheme} for o in orgs]


def _money(amount: float | None, currency: str | None) -> dict[str, Any] | None:
    if amount is None and currency is None:
        return None
    return {"amount": amount, "currency": currency}


def diff_tenders(old: TenderRecord | None, new: TenderRecord, *,
                 baseline: bool = False) -> tuple[TenderEvent, ...]:
    """What changed from `old` (None: first seen) to `new`, as events in a fixed order:
    status, winners, value, deadline, documents. `baseline`: the source's first run, where a tender
    first seen already awarded is stored without an event."""
    if old is None:
        if new.winners and not baseline:
            return (TenderEvent("awarded", "winners", [], _people(new.winners)),)
        return ()
    events: list[TenderEvent] = []
    if new.status and new.status != old.status:
        kind: TenderEventKind = (
            "cancelled" if is_cancelled(new.status) and not is_cancelled(old.status)
            else "status_changed")
        events.append(TenderEvent(kind, "status", old.status or None, new.status))
    old_winners = {o.key for o in old.winners}
    new_winners = {o.key for o in new.winners}
    if not old.winners and new.winners:
        events.append(TenderEvent("awarded", "winners", [], _people(new.winners)))
    elif old.winners and old_winners != new_winners:
        events.append(TenderEvent("winner_changed", "winners", _people(old.winners),
                                  _people(new.winners)))
    if new.value is not None and (new.value, new.currency) != (old.value, old.currency):
        events.append(TenderEvent("value_changed", "value", _money(old.value, old.currency),
                                  _money(new.value, new.currency)))
    if (old.award_value is not None and new.award_value is not None
            and (new.award_value, new.award_currency) != (old.award_value, old.award_currency)):
        events.append(TenderEvent("value_changed", "award_value",
                                  _money(old.award_value, old.award_currency),
                                  _money(new.award_value, new.award_currency)))
    if new.deadline and new.deadline != old.deadline:
        events.append(TenderEvent("deadline_changed", "deadline", old.deadline, new.deadline))
    if new.documents:
        listed = {d.url for d in new.documents}
        for doc in old.documents:
            if doc.url not in listed:
                events.append(TenderEvent("document_removed", "documents",
                                          {"url": doc.url, "title": doc.title,
                                           "kind": doc.kind}, None))
    return tuple(events)


def compare(stored: StoredTender | None, record: TenderRecord, *,
            baseline: bool = False) -> TenderChange:
    """`record` against the stored version of its tender (None: first seen): new, changed
    with the events that describe the change, or unchanged (same content hash)."""
    digest = hash_tender(record)
    fields = stored_fields(record)
    if stored is None:
        return TenderChange("new", digest, fields, diff_tenders(None, record, baseline=baseline))
    if stored.content_hash == digest:
        return TenderChange("unchanged", digest, fields)
    previous = TenderRecord.from_dict(stored.record)
    return TenderChange("changed", digest, fields, diff_tenders(previous, record))


# a write that finds the tender changed since it was read is decided again this many times
_CONFLICT_RETRIES = 3


def record_tender(store: Store, record: TenderRecord, run_id: int | None = None, *,
                  baseline: bool = False, matches: Sequence[Match] = (),
                  flagger: Flagger | None = None) -> TenderOutcome:
    """Store a (normalised) tender record: a new tender, a new version of a changed one with
    its events, or, unchanged, only the time it was seen; with the watches' `matches` in it
    (those not stored yet). `baseline`: the source's first run, where a tender first seen
    already awarded gets no `awarded` event and its matches are stored as old news.
    `flagger`: a new version gets its red flags (`monitor.flags`), stored with it, and a
    watch's `flags:` holds back the buyer findings without them."""
    for _ in range(_CONFLICT_RETRIES):
        stored = store.stored_tender(record.source, record.native_id)
        change = compare(stored, record, baseline=baseline)
        flags = ()
        kept = matches
        if flagger is not None:
            if change.state != "unchanged":
                flags = tuple(flagger.flags(record, stored))
                kept = flagger.keep(matches, flags)
            elif stored is not None:
                kept = flagger.keep(matches, [_as_flag(f) for f in store.tender_flags(
                    stored.id, stored.version)])
        outcome = store.save_tender(record, change, stored=stored, run_id=run_id,
                                    matches=kept, baseline=baseline,
                                    captures=record.captures, flags=flags)
        if outcome is not None:
            return outcome
    raise StoreConflictError(
        f"tender {record.source}/{record.native_id}: changed by another process while it was "
        f"stored, {_CONFLICT_RETRIES} times")


def _as_flag(row: FlagRow) -> Flag:
    from monitor.flags import Flag

    return Flag(row.rule, row.state, row.summary, row.inputs, row.thresholds,  # type: ignore[arg-type]
                row.rule_version, row.relative)
