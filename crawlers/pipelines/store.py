"""Found records, unchanged markers and portal cursors -> the store, one transaction each;
what is new or changed is counted in the run. An article's response body is kept as
evidence (`monitor.evidence`) before its row names it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawlers.extensions.run_recorder import StoredArticle, run_state
from crawlers.pipelines.found import Found
from monitor.evidence import CaptureStore
from monitor.flags.compute import Flagger
from monitor.models import Item, PortalCursor, ScrapedItem, TenderRecord
from monitor.normalise import canonical_url, parse_date
from monitor.tender import record_tender

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.captures = CaptureStore(crawler.settings["MONITOR_STATE"])
        self.flagger: Flagger | None = None
        # one copy of each set of dropped keys (most articles of a site share theirs)
        self._keys: dict[frozenset[str], frozenset[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        if crawler.settings.getbool("MONITOR_DRY_RUN"):
            raise NotConfigured  # a dry run stores nothing (no message: Scrapy would warn)
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        state = run_state(self.crawler)
        store, result = state.store, state.result
        assert store is not None
        if isinstance(item, PortalCursor):
            store.save_portal_cursor(item)
        elif isinstance(item, ScrapedItem) and item.removed:
            store.mark_removed(item.source, canonical_url(item.url), item.removed)
        elif isinstance(item, ScrapedItem) and item.unchanged:
            store.touch(item.source, canonical_url(item.url), etag=item.etag,
                        last_modified=item.last_modified, listed_at=parse_date(item.listed_at))
        elif isinstance(item, TenderRecord) and item.unchanged:
            store.touch_tender(item.source, item.native_id)
        elif isinstance(item, Found) and isinstance(item.record, TenderRecord):
            for capture in item.record.captures:
                self.captures.put(capture.body, capture.sha256)  # before the rows naming them
            # in a portal's baseline run a tender first seen awarded makes no event, and its
            # matches are stored as old news, not counted as new
            if self.flagger is None:
                # once per crawl: the relative rules' fences are read from the store once
                self.flagger = Flagger(store, self.crawler.spider.config)  # type: ignore[union-attr]
            outcome = record_tender(store, item.record, result.run_id,
                                    baseline=state.baseline, matches=item.matches,
                                    flagger=self.flagger)
            result.new_items += outcome.state == "new"
            result.changed_items += outcome.state == "changed"
            result.new_matches += 0 if state.baseline else outcome.new_matches
        elif isinstance(item, Found) and isinstance(item.record, Item):
            if item.capture is not None:
                # the bytes first: a capture row never names a body that is not on disk
                self.captures.put(item.capture.body, item.capture.sha256)
            added = store.add(item.record, item.matches, run_id=result.run_id,
                              capture=item.capture, furniture=item.sighting)
            result.new_items += added.state == "new"
            result.changed_items += added.state == "changed"
            result.new_matches += added.new_matches
            dropped = item.furniture.blocks if item.furniture is not None else ()
            matched = any(m.field == "body" for m in item.matches)
            if added.state != "unchanged" and (dropped or matched):
                # what became furniture later in the crawl, or stopped being, is settled at
                # its end: the article itself is kept only when it matched in its body
                keys = frozenset(b.key for b in dropped)
                state.stored_articles.append(StoredArticle(
                    added.item_id, item.record.source, self._keys.setdefault(keys, keys),
                    item.record if matched else None))
        return item
