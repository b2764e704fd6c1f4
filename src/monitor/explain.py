"""Why a stored item or tender matched each watch, or why not: the data `monitor explain`
prints (and the web will show)."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config import Config
from monitor.errors import RecordNotFoundError
from monitor.match import Explanation, Matcher, explain_tender
from monitor.models import TenderRecord
from monitor.store import Store

__all__ = ["Explained", "explain_item", "explain_tenders"]


@dataclass(frozen=True, slots=True)
class Explained:
    """One stored record and, per watch, its matches and rejected hits."""

    title: str
    url: str
    explanations: list[Explanation]


def _matcher(config: Config) -> Matcher:
    return Matcher(config.watches, snippet_chars=config.digest.snippet_chars)


def explain_item(store: Store, config: Config, item_id: str) -> Explained:
    """The item with this id (as in `monitor crawl --json` or a digest's .eml)."""
    item = store.item(int(item_id)) if item_id.isdigit() else None
    if item is None:
        raise RecordNotFoundError(f"{store.state_dir}: no item with id {item_id!r} (for a "
                                  "tender, add --tender)")
    return Explained(item.title or "(no title)", item.url, _matcher(config).explain(item))


def explain_tenders(store: Store, config: Config, number: str) -> list[Explained]:
    """Every stored tender with this number or OCID (or id), one per source."""
    matcher = _matcher(config)
    found = []
    for row in store.find_tenders(number):
        record = TenderRecord.from_dict(row.record)
        title = f"[{row.source}] {record.native_id}: {record.title or '(no title)'}"
        found.append(Explained(title, record.url, explain_tender(matcher, record)))
    if not found:
        raise RecordNotFoundError(f"{store.state_dir}: no tender numbered {number!r}")
    return found
