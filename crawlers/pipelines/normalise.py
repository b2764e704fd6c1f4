"""ScrapedItem and TenderRecord -> cleaned, identified records (`monitor.normalise`,
`monitor.tender`); text that still looks mis-decoded is counted for the run's warning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawlers.extensions.run_recorder import run_state
from crawlers.pipelines.found import Found
from monitor.models import ScrapedItem, TenderRecord
from monitor.normalise import looks_misdecoded, normalise
from monitor.tender import normalise_tender

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class NormalisePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalisePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, TenderRecord) and not item.unchanged:
            return Found(normalise_tender(item))
        if not isinstance(item, ScrapedItem) or item.unchanged:
            return item  # cursors and unchanged markers go to the store as they are
        normalised = normalise(item)
        if looks_misdecoded(f"{normalised.title}\n{normalised.text}"):
            state = run_state(self.crawler)
            state.misdecoded += 1
            state.misdecoded_example = state.misdecoded_example or normalised.url
        return Found(normalised, capture=item.capture)
