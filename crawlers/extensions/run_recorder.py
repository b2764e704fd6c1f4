"""The source's `runs` row: opened when the spider opens, closed with status, counts, errors
and warnings when it closes (however it closes), with progress events to the parent process
in between. The pipelines count into the same `RunState`.

One store is opened for the crawl here and shared with the pipelines through the run state;
a dry run (`monitor test-source`) opens none.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals

from monitor.crawl.accounting import run_status
from monitor.crawl.events import emit_event
from monitor.match import Matcher
from monitor.models import Item, PortalCursor, RunResult
from monitor.store import Store, open_store, utcnow

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawlers.spiders.base import SourceSpider

# how often (seconds) progress events go to the parent
PROGRESS_EVERY_S = 0.5


@dataclass(slots=True)
class RunState:
    """One source's run while it crawls: its result (counts), its store, whether it is the
    silent baseline of a portal, and what the pipelines noticed."""

    result: RunResult
    store: Store | None
    # a portal source's first run: tenders first seen already awarded make no events
    baseline: bool
    started: float
    last_progress: float = 0.0
    # items whose text still looks mis-decoded after decoding: a warning
    misdecoded: int = 0
    misdecoded_example: str = ""
    # the crawl's matcher (MatchPipeline), and the articles stored (StorePipeline): what
    # FurniturePipeline settles when the crawl ends
    matcher: Matcher | None = None
    stored_articles: list[StoredArticle] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article stored in this run with matches in its body or furniture dropped from it:
    its id and source, the keys of the blocks dropped when it was matched, and (when it
    matched in its body) the article, to match again if what is furniture changed."""

    item_id: int
    source: str
    dropped: frozenset[str]
    item: Item | None = None


def run_state(crawler: Crawler) -> RunState:
    """The crawl's run state (set when the spider opened)."""
    state: RunState | None = getattr(crawler, "monitor_run", None)
    assert state is not None, "RunRecorder is not enabled (crawlers.settings EXTENSIONS)"
    return state


class RunRecorder:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.dry_run = crawler.settings.getbool("MONITOR_DRY_RUN")
        self.state_dir = crawler.settings["MONITOR_STATE"]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        recorder = cls(crawler)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        # spider_closed carries the reason (finished / shutdown), close_spider does not
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(recorder.item_scraped, signal=signals.item_scraped)
        # a pipeline that fails (the disk is full, a capture cannot be written) loses that
        # item: Scrapy only logs it, the run must say so
        crawler.signals.connect(recorder.item_error, signal=signals.item_error)
        return recorder

    def spider_opened(self, spider: SourceSpider) -> None:
        source = spider.source
        result = RunResult(source=source.name, status="running", started_at=utcnow())
        store, baseline = None, False
        if not self.dry_run:
            store = open_store(self.state_dir)
            # a portal source's first run is a silent baseline, unless `since` asks for a
            # backfill
            baseline = (source.kind == "portal" and source.since is None
                        and store.last_run(source.name, ("ok", "partial")) is None)
            result.run_id = store.start_run(
                source.name, pid=os.getpid(),
                backfill_since=self.crawler.settings.get("MONITOR_SINCE"))
        self.crawler.monitor_run = RunState(  # type: ignore[attr-defined]
            result=result, store=store, baseline=baseline, started=time.monotonic())
        emit_event("run_started", source.name, run_id=result.run_id)

    def item_scraped(self, item: Any, spider: SourceSpider) -> None:
        if isinstance(item, PortalCursor):
            return
        state = run_state(self.crawler)
        state.result.items += 1
        self.progress(state, spider)

    def item_error(self, item: Any, response: Any, spider: SourceSpider,
                   failure: Any) -> None:
        record = getattr(item, "record", item)
        where = getattr(record, "url", None) or getattr(response, "url", "?")
        spider.record_error(f"{where} was not stored: {type(failure.value).__name__}: "
                            f"{failure.value}")

    def progress(self, state: RunState, spider: SourceSpider) -> None:
        now = time.monotonic()
        if now - state.last_progress < PROGRESS_EVERY_S:
            return
        state.last_progress = now
        result = state.result
        result.fetched = spider.fetched
        emit_event("progress", result.source, fetched=spider.fetched,
                   new_items=result.new_items, new_matches=result.new_matches,
                   errors=len(spider.errors))

    def spider_closed(self, spider: SourceSpider, reason: str) -> None:
        state: RunState | None = getattr(self.crawler, "monitor_run", None)
        if state is None:
            return
        result = state.result
        result.fetched = spider.fetched
        result.warnings = spider.run_warnings()
        if state.misdecoded:
            result.warnings.append(
                f"text of {state.misdecoded} item(s) looks mis-decoded (e.g. "
                f"{state.misdecoded_example}): the site's declared charset is wrong or its "
                "text was garbled before it was published")
        result.requests = self.crawler.stats.get_value("downloader/request_count", 0)
        result.not_due = getattr(spider, "not_due", 0)
        result.not_modified = getattr(spider, "not_modified", 0)
        result.errors = len(spider.errors)
        result.error_details = spider.errors[:20]
        result.seconds = round(time.monotonic() - state.started, 3)
        result.finished_at = utcnow()
        result.status = run_status(shutdown=reason == "shutdown",
                                   entry_requests=spider.entry_requests,
                                   entry_failures=spider.entry_failures,
                                   errors=len(spider.errors))
        if result.status == "interrupted":
            result.error = "crawl interrupted (shutdown)"
        if spider.errors and result.error is None:
            more = f" (and {len(spider.errors) - 1} more)" if len(spider.errors) > 1 else ""
            result.error = spider.errors[0] + more
        if state.store is not None and result.run_id is not None:
            state.store.finish_run(result.run_id, result)
            state.store.close()
        emit_event("run_finished", result.source, result=result.to_dict())
