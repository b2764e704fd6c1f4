"""Red flags as tenders are stored: the context each rule needs, read from the store once
per tender (its earlier versions, its buyer's tenders) or once per crawl (the portal's
fences), and the buyer findings a watch's `flags:` holds back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from monitor.config import Config
from monitor.config.settings import Thresholds
from monitor.flags import Context, Fences, Flag, compute_flags, fences_of
from monitor.flags.rules import (
    PORTAL_THRESHOLDS,
    award_when,
    competitive,
    just_under,
    subject,
    when,
)
from monitor.models import Match, TenderRecord
from monitor.store import Store
from monitor.store.rows import StoredTender

__all__ = ["Flagger"]

_FENCES_AGE = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow_dt() -> datetime:
    return datetime.now(UTC)


# a buyer's tenders published this long before a tender are compared with it (the rules
# look 12 months back from an award; an award comes months after publication)
_BUYER_WINDOW = timedelta(days=730)


class Flagger:
    """Built once per crawl (or `monitor flags --recompute`) over one store and config;
    `flags(record, stored)` gives every rule's verdict on a record about to be stored."""

    def __init__(self, store: Store, config: Config,
                 progress: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.config = config
        self.settings = config.flags
        self._fences: dict[str, Fences] = {}
        self._progress = progress

    def thresholds_of(self, source: str) -> Thresholds | None:
        if source in self.settings.thresholds:
            return self.settings.thresholds[source]
        try:
            portal = self.config.source(source).portal
        except Exception:  # noqa: BLE001 - a source since removed from the config
            return None
        return PORTAL_THRESHOLDS.get(portal or "")

    def fences(self, source: str) -> Fences:
        """The portal's fences over every stored record of the source (their latest
        versions): taken again when the kept ones are a day old (a portal's distribution
        moves slowly; reading 100,000 records takes seconds), once per Flagger."""
        if source not in self._fences:
            kept = self.store.flag_fences(source)
            fresh = kept is not None and (when(kept[0]) or _EPOCH) > utcnow_dt() - _FENCES_AGE
            if kept is not None and fresh:
                self._fences[source] = Fences.from_dict(kept[1])
            else:
                records = (TenderRecord.from_dict(r) for r in self.store.tender_records(source))
                fences = fences_of(records, self.settings.relative_min_records)
                self.store.save_flag_fences(source, fences.to_dict())
                self._fences[source] = fences
        return self._fences[source]

    def flags(self, record: TenderRecord, stored: StoredTender | None,
              *, before_version: int | None = None) -> list[Flag]:
        """Every rule's verdict on `record` (normalised), the next version of `stored`
        (None: first seen); `before_version`: recomputing a stored version, compare with
        the versions before it only."""
        versions: tuple[TenderRecord, ...] = ()
        if stored is not None:
            versions = tuple(TenderRecord.from_dict(v.record)
                             for v in self.store.tender_versions(stored.id)
                             if before_version is None or v.version < before_version)
        thresholds = self.thresholds_of(record.source)
        context = Context(settings=self.settings, thresholds=thresholds, versions=versions,
                          buyer_tenders=self._buyer_tenders(record, stored, thresholds))
        return compute_flags(record, context, self.fences(record.source))

    def _buyer_tenders(self, record: TenderRecord, stored: StoredTender | None,
                       thresholds: Thresholds | None) -> tuple[TenderRecord, ...]:
        """The buyer's other awarded tenders that the buyer-level rules could count with
        this one: for a direct award, those of its subject (split purchases); for an award
        just under the threshold, all of them (repeated awards). None otherwise: most
        records need none, and a big buyer has thousands."""
        buyer = record.buyer
        if buyer is None or not buyer.registry_id or not record.winners:
            return ()
        day = award_when(record) or when(record.published)
        since = (day - _BUYER_WINDOW).isoformat() if day else None
        found: dict[int, StoredTender] = {}
        if competitive(record) is False and (cpv := subject(record)):
            found |= {s.id: s for s in self.store.buyer_tenders(
                record.source, buyer.registry_id, published_since=since, cpv_prefix=cpv,
                awarded=True)}
        if just_under(record, thresholds, self.settings):
            found |= {s.id: s for s in self.store.buyer_tenders(
                record.source, buyer.registry_id, published_since=since, awarded=True)}
        return tuple(TenderRecord.from_dict(s.record) for s in found.values()
                     if stored is None or s.id != stored.id)

    def keep(self, matches: Sequence[Match], flags: Sequence[Flag]) -> list[Match]:
        """The matches to store: a watch with `flags:` keeps a match as the buyer only when
        the record carries one of its flags (as a winner, bidder or by name, always)."""
        flagged = {f.rule for f in flags if f.flagged}
        wanted = {w.name: set(w.flags) for w in self.config.watches if w.flags}
        return [m for m in matches if m.field != "buyer" or m.watch not in wanted
                or wanted[m.watch] & flagged]



def recompute(store: Store, config: Config, *, every: bool = False,
              on_progress: Callable[[int, int], None] | None = None) -> int:
    """Compute again the flags of every stored tender version whose flags are missing or
    from an older rule version (`every`: all of them), each version in its own
    transaction; the number of versions done. A version is compared with the versions
    before it and with its buyer's tenders as stored now."""
    from monitor.flags import RULE_VERSION

    todo = store.versions_to_flag(RULE_VERSION, every=every)
    flagger = Flagger(store, config)
    for done, (tender_id, version) in enumerate(todo, 1):
        row = next(v for v in store.tender_versions(tender_id) if v.version == version)
        stored = StoredTender(id=tender_id, version=version, content_hash=row.content_hash,
                              record=row.record)
        record = TenderRecord.from_dict(row.record)
        store.save_flags(tender_id, version,
                         flagger.flags(record, stored, before_version=version))
        if on_progress is not None:
            on_progress(done, len(todo))
    return len(todo)
