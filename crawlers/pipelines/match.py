"""Found -> Found with every watch it matches (`monitor.match`): built once per crawl. An
article's body is matched without its site's furniture (FurniturePipeline)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawlers.extensions.run_recorder import run_state
from crawlers.pipelines.found import Found
from monitor.furniture import without_furniture
from monitor.match import Matcher, match_tender
from monitor.models import TenderRecord

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class MatchPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.matcher: Matcher | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MatchPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        config = self.crawler.spider.config  # type: ignore[union-attr]
        self.matcher = Matcher(config.watches, snippet_chars=config.digest.snippet_chars)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Found):
            assert self.matcher is not None
            record = item.record
            # FurniturePipeline matches again what became furniture later in the crawl (the
            # run state is set after the pipelines open, so here)
            run_state(self.crawler).matcher = self.matcher
            if isinstance(record, TenderRecord):
                item.matches = match_tender(self.matcher, record)
            elif item.furniture is not None:
                item.matches = self.matcher.match(without_furniture(record, item.furniture))
            else:
                item.matches = self.matcher.match(record)
        return item
