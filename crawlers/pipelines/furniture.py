"""Found article -> Found with its body's site furniture (`monitor.furniture`): a new article
is learnt from first (its blocks counted, in memory now and by the store when it stores
the article), then the blocks that are the source's furniture are blanked out for
MatchPipeline. The counts come from the store the first time a block is met, so a crawl
judges with everything earlier crawls learnt plus what it has seen so far.

When the crawl ends, the articles it stored with matches in their body are looked at again:
a block that became furniture after an article was matched (a first crawl's first pages)
has its matches taken back, unless a digest already holds them. Then blocks seen once long
ago are forgotten."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawlers.extensions.run_recorder import RunState, run_state
from crawlers.pipelines.found import Found
from monitor.furniture import Learner, retracted, without_furniture
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
            learner = Learner(
                source, pages=store.furniture_pages(source) if store is not None else 0,
                lookup=(lambda keys: store.furniture(source, keys)) if store is not None
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
        """Take back the matches this run stored in what became furniture after."""
        store, result = state.store, state.result
        assert store is not None
        if state.matcher is None or result.run_id is None:
            return
        for article in state.matched_articles:
            learner = self.learners.get(article.item.source)
            if learner is None:
                continue
            dropped = learner.drop(article.item.text)
            if tuple((b.start, b.end) for b in dropped.blocks) == article.dropped:
                continue
            again = state.matcher.match(without_furniture(article.item, dropped))
            gone = retracted(article.matches, again)
            if gone:
                result.new_matches -= store.retract_matches(article.item_id, gone,
                                                            result.run_id)
