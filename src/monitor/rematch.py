"""Match every stored item and tender again after the watch list changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from monitor.furniture import drop, without_furniture
from monitor.match import Matcher, match_tender
from monitor.models import Match
from monitor.store import Store

__all__ = ["RematchReport", "rematch"]


@dataclass(slots=True)
class RematchReport:
    items: int = 0
    tenders: int = 0
    new_matches: int = 0
    by_watch: dict[str, int] = field(default_factory=dict)


def rematch(store: Store, matcher: Matcher, *,
            on_progress: Callable[[int], None] | None = None) -> RematchReport:
    """Match every stored item and tender again (after the watch list changed): a new alias
    finds last month's articles and tenders. New matches are stored with origin `rematch`,
    so the next digest shows them as found again, not as news; matches already stored are
    left as they are. An article's body is matched as a crawl matches it: without its site's
    furniture (`monitor.furniture`). `on_progress(1)` after each item or tender."""
    report = RematchReport()
    pages: dict[str, int] = {}  # per source: its articles furniture was learnt from
    for item_id, item in store.iter_items():
        if item.source not in pages:
            pages[item.source] = store.furniture_pages(item.source)
        dropped = drop(item.text, partial(store.furniture, item.source), pages[item.source])
        added = store.add_rematches(item_id, matcher.match(without_furniture(item, dropped)))
        report.items += 1
        _count(report, added)
        if on_progress is not None:
            on_progress(1)
    for tender_id, record in store.iter_tenders():
        added = store.add_tender_rematches(tender_id, match_tender(matcher, record))
        report.tenders += 1
        _count(report, added)
        if on_progress is not None:
            on_progress(1)
    return report


def _count(report: RematchReport, added: Sequence[Match]) -> None:
    report.new_matches += len(added)
    for match in added:
        report.by_watch[match.watch] = report.by_watch.get(match.watch, 0) + 1


# -- tenders -----------------------------------------------------------------------------------

# the roles an organisation plays in a tender, strongest first: a winner is also a bidder
