"""`monitor test-source`: every normalised, matched record goes to the parent as an `item`
event instead of into the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawlers.extensions.run_recorder import run_state
from crawlers.pipelines.found import Found
from monitor.crawl.events import emit_event
from monitor.models import TenderRecord
from monitor.tender import stored_fields

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class DryRunPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DryRunPipeline:
        if not crawler.settings.getbool("MONITOR_DRY_RUN"):
            raise NotConfigured  # only in dry runs (no message: Scrapy would warn)
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Found):
            return item
        record, matches = item.record, [m.to_dict() for m in item.matches]
        if isinstance(record, TenderRecord):
            emit_event("item", record.source, item=_tender_item(record),
                       tender=stored_fields(record), matches=matches)
        else:
            emit_event("item", record.source, item=_asdict(record), matches=matches)
        result = run_state(self.crawler).result
        result.new_items += 1
        result.new_matches += len(matches)
        return item


def _tender_item(record: TenderRecord) -> dict[str, Any]:
    """A tender in the shape of a dry run's items (`monitor test-source` prints these)."""
    return {"source": record.source, "key": record.native_id, "url": record.url,
            "title": record.title, "text": record.description,
            "published_at": record.published, "content_hash": None}


def _asdict(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}
