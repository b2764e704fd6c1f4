"""Found -> Found with every watch it matches (`monitor.match`): built once per crawl."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawlers.pipelines.found import Found
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
            item.matches = (match_tender(self.matcher, record) if isinstance(record, TenderRecord)
                            else self.matcher.match(record))
        return item
