"""Red flags as tenders are stored: the context each rule needs, read from the store once
per tender (its earlier versions, its buyer's tenders) or once per crawl (the portal's
fences), and the buyer findings a watch's `flags:` holds back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from monitor.config import Config
from monitor.flags import Context, Fences, Flag, compute_flags, fences_of
from monitor.flags.rules import PORTAL_THRESHOLDS, when
from monitor.models import Match, TenderRecord
from monitor.store import Store
from monitor.store.rows import StoredTender

__all__ = ["Flagger"]

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

    def thresholds_of(self, source: str):  # noqa: ANN201 - Thresholds | None
        if source in self.settings.thresholds:
            return self.settings.thresholds[source]
        try:
            portal = self.config.source(source).portal
        except Exception:  # noqa: BLE001 - a source since removed from the config
            return None
        return PORTAL_THRESHOLDS.get(portal or "")

    def fences(self, source: str) -> Fences:
        """The portal's fences, taken once per Flagger: over every stored record of the
        source (their latest versions)."""
        if source not in self._fences:
            if self._progress:
                self._progress(f"{source}: reading the stored tenders for the relative rules")
            records = (TenderRecord.from_dict(r) for r in self.store.tender_records(source))
            self._fences[source] = fences_of(records, self.settings.relative_min_records)
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
        buyer: tuple[TenderRecord, ...] = ()
        if record.buyer is not None and record.buyer.registry_id:
            published = when(record.published)
            since = (published - _BUYER_WINDOW).isoformat() if published else None
            buyer = tuple(TenderRecord.from_dict(s.record) for s in self.store.buyer_tenders(
                record.source, record.buyer.registry_id, published_since=since)
                if stored is None or s.id != stored.id)
        context = Context(settings=self.settings, thresholds=self.thresholds_of(record.source),
                          versions=versions, buyer_tenders=buyer)
        return compute_flags(record, context, self.fences(record.source))

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
