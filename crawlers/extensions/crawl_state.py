"""A source's crawl state, loaded once per crawl when the spider opens and handed to the
spider (`spider.load_state(state)`): what is known of its stored article pages (their hashes,
when first seen and last fetched, their validators: pages not due are not fetched again, due
ones conditionally, unchanged ones not extracted again), and for portal spiders where the last run stopped in the feed and the
stored tenders' stamps (unchanged tenders are not fetched again), plus the stored tender
records themselves for spiders that merge later notices into them (`wants_known_tenders`).

It is read here, from the crawl's one store (opened by `RunRecorder`), so that spiders never
open a store of their own: they only chain requests. A dry run has no store and loads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import CloseSpider

from crawlers.extensions.run_recorder import run_state
from crawlers.portals.base import PortalSpider
from monitor.models import PortalCursor

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawlers.spiders.base import SourceSpider
    from monitor.store import Store
    from monitor.store.rows import KnownPage


@dataclass(frozen=True, slots=True)
class CrawlState:
    """What the last runs of a source left for this one."""

    # canonical URL -> the stored article page (hash, first seen, last fetched, validators)
    known_pages: dict[str, KnownPage]
    # where the last run stopped reading the portal's feed (portal spiders only)
    cursor: PortalCursor | None = None
    # native id -> the portal's modified stamp of the stored tender (portal spiders only)
    stamps: dict[str, str] = field(default_factory=dict)
    # the stored tender records, as stored (only for spiders that want them)
    tender_records: tuple[dict[str, Any], ...] = ()

    @classmethod
    def load(cls, store: Store, spider: SourceSpider) -> CrawlState:
        name = spider.source.name
        if not isinstance(spider, PortalSpider):
            return cls(known_pages=store.known_pages(name))
        # every record of a big portal is costly to read: only for spiders that merge into them
        records = tuple(store.tender_records(name)) if spider.wants_known_tenders else ()
        return cls(known_pages={}, cursor=store.portal_cursor(name, spider.api_url),
                   stamps=store.tender_stamps(name), tender_records=records)


class CrawlStateLoader:
    """Loads the spider's `CrawlState` at `spider_opened`. Listed after `RunRecorder` in
    EXTENSIONS: its handler then runs after the one that opens the store. Scrapy sends
    `spider_opened` before it iterates `start()`, so the state is in place for the first
    request."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlStateLoader:
        loader = cls(crawler)
        crawler.signals.connect(loader.spider_opened, signal=signals.spider_opened)
        return loader

    def spider_opened(self, spider: SourceSpider) -> None:
        try:
            store = run_state(self.crawler).store
            if store is None:  # a dry run
                return
            state = CrawlState.load(store, spider)
        except Exception as exc:
            # Scrapy would log the error and crawl on without the state: a portal would be
            # read again from its baseline, as if it never ran. Fail the run instead.
            spider.entry_requests += 1
            spider.record_error(f"cannot read the source's crawl state from the store: "
                                f"{type(exc).__name__}: {exc}", entry=True)
            raise CloseSpider("crawl_state_unreadable") from exc
        spider.load_state(state)
