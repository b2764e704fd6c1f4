"""Found article -> Found with its body's site furniture (`monitor.furniture`): a new article
is learnt from first (its blocks counted, in memory now and by the store when it stores
the article), then the blocks that are the source's furniture are blanked out for
MatchPipeline. The counts come from the store the first time a block is met, so a crawl
judges with everything earlier crawls learnt plus what it has seen so far.

When the crawl ends, the articles it stored are looked at again: where a block became
furniture after an article was matched (a first crawl's first pages), or stopped being (a
few articles close together early on), the article is matched again and the run's matches
made what that gives (those a digest already holds stay). The crawl then stores what
`monitor explain` and `monitor rematch` show. Then blocks seen once long ago are forgotten."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawlers.extensions.run_recorder import RunState, run_state
from crawlers.pipelines.found import Found
from monitor.furniture import Learner, without_furniture
from monitor.models import Item

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class FurniturePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.learners: dict[str, Learner] = {}
        # keys of the articles learnt in this crawl: each is counted once
        self.learnt: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FurniturePipeline:
        return cls(crawler)

    def _learner(self, source: str, state: RunState) -> Learner:
        learner = self.learners.get(source)
        if learner is None:
            store = state.store  # None in a dry run: it learns from this crawl only
            pages = store.furniture_pages(source) if store is not None else 0
            # a source's first crawl has nothing stored to look up
            learner = Learner(source, pages=pages, lookup=(
                lambda keys: store.furniture(source, keys)) if store is not None and pages
                else None)
            self.learners[source] = learner
        return learner

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Found) or not isinstance(item.record, Item):
            return item
        record = item.record
        if not record.text:
            return item
        learner = self._learner(record.source, run_state(self.crawler))
        # an article stored by an earlier run (a changed page) was counted then
        known = getattr(self.crawler.spider, "known_pages", {})
        if record.url not in known and (record.source, record.key) not in self.learnt:
            self.learnt.add((record.source, record.key))
            item.sighting = learner.learn(record)
        item.furniture = learner.drop(record.text)
        return item

    def close_spider(self) -> None:
        state: RunState | None = getattr(self.crawler, "monitor_run", None)
        if state is None or state.store is None:
            return
        spider = self.crawler.spider
        try:
            self._settle(state)
            for source in self.learners:
                state.store.prune_furniture(source)
        except Exception as exc:  # the store failed: the run must say so
            record_error = getattr(spider, "record_error", None)
            if record_error is None:
                raise
            record_error(f"cannot settle the source's site furniture: "
                         f"{type(exc).__name__}: {exc}")

    def _settle(self, state: RunState) -> None:
        """Match again each article stored in this run whose furniture changed after it was
        matched (a block became furniture, or stopped being), and store what that gives."""
        store, result = state.store, state.result
        assert store is not None
        if state.matcher is None or result.run_id is None:
            return
        for article in state.stored_articles:
            learner = self.learners.get(article.source)
            if learner is None:
                continue
            changed = any(not learner.is_furniture(key) for key in article.dropped)
            if not changed and article.item is not None:
                now = learner.drop(article.item.text)
                changed = {b.key for b in now.blocks} != article.dropped
            item = article.item or (store.item(article.item_id) if changed else None)
            if not changed or item is None:
                continue
            again = state.matcher.match(without_furniture(item, learner.drop(item.text)))
            added, deleted = store.settle_matches(article.item_id, again, result.run_id)
            result.new_matches += len(added) - deleted

