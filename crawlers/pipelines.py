"""Item pipeline: ScrapedItem -> monitor.normalise -> monitor.match -> monitor.store, and
TenderRecord -> monitor.tender -> monitor.store (tenders with versions and events; the
portal's feed position is saved when a spider yields a PortalCursor).

Thin on purpose: the stages live in `monitor`. This class also keeps the source's `runs` row:
opened when the spider opens, closed with status and counts when it closes (however it
closes), and reports progress to the parent process as event lines.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from scrapy import signals

from monitor.crawl.accounting import run_status
from monitor.crawl.events import emit_event
from monitor.match import Matcher, match_tender
from monitor.models import PortalCursor, RunResult, ScrapedItem, TenderRecord
from monitor.normalise import canonical_url, looks_misdecoded, normalise
from monitor.store import Store, utcnow
from monitor.tender import normalise_tender, stored_fields

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawlers.spiders.base import SourceSpider

# how often (seconds) progress events go to the parent
PROGRESS_EVERY_S = 0.5


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.dry_run = crawler.settings.getbool("MONITOR_DRY_RUN")
        self.state_dir = crawler.settings["MONITOR_STATE"]
        self.store: Store | None = None
        self.matcher: Matcher | None = None
        self.result: RunResult | None = None
        self.baseline = False
        self._started = 0.0
        self._last_progress = 0.0
        # items whose text still looks mis-decoded after decoding: a run warning
        self.misdecoded = 0
        self.misdecoded_example = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(crawler)
        # spider_closed carries the reason (finished / shutdown), close_spider does not
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def spider(self) -> SourceSpider:
        return self.crawler.spider  # type: ignore[return-value]

    def open_spider(self) -> None:
        spider = self.spider
        config = spider.config
        self.matcher = Matcher(config.watches, snippet_chars=config.digest.snippet_chars)
        self._started = time.monotonic()
        self.result = RunResult(source=spider.source.name, status="running",
                                started_at=utcnow())
        if not self.dry_run:
            self.store = Store(self.state_dir)
            # a portal source's first run is a silent baseline, unless `since` asks for a
            # backfill: tenders first seen already awarded make no events
            source = spider.source
            self.baseline = (source.kind == "portal" and source.since is None
                             and self.store.last_run(source.name, ("ok", "partial")) is None)
            self.result.run_id = self.store.start_run(
                spider.source.name, pid=os.getpid(),
                backfill_since=self.crawler.settings.get("MONITOR_SINCE"))
        emit_event("run_started", spider.source.name, run_id=self.result.run_id)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, TenderRecord):
            self._tender(item)
            self._progress()
            return item
        if isinstance(item, PortalCursor):
            if self.store is not None:
                self.store.save_portal_cursor(item)
            return item
        if not isinstance(item, ScrapedItem):
            return item
        assert self.result is not None and self.matcher is not None
        result = self.result
        result.items += 1
        if item.unchanged:
            if self.store is not None:
                self.store.touch(item.source, canonical_url(item.url))
        else:
            normalised = normalise(item)
            if looks_misdecoded(f"{normalised.title}\n{normalised.text}"):
                self.misdecoded += 1
                self.misdecoded_example = self.misdecoded_example or normalised.url
            matches = self.matcher.match(normalised)
            if self.store is None:
                emit_event("item", item.source, item=_asdict(normalised),
                           matches=[m.to_dict() for m in matches])
                result.new_items += 1
                result.new_matches += len(matches)
            else:
                outcome = self.store.add(normalised, matches, run_id=result.run_id)
                result.new_items += outcome.state == "new"
                result.changed_items += outcome.state == "changed"
                result.new_matches += outcome.new_matches
        self._progress()
        return item

    def _tender(self, record: TenderRecord) -> None:
        """A portal's tender: normalised, matched (roles, registry ids, text) and stored with
        its version, events and matches (in a source's first run, the baseline, a tender
        first seen awarded makes no event and its matches are not news)."""
        assert self.result is not None
        result = self.result
        result.items += 1
        if record.unchanged:
            if self.store is not None:
                self.store.touch_tender(record.source, record.native_id)
            return
        assert self.matcher is not None
        record = normalise_tender(record)
        matches = match_tender(self.matcher, record)
        if self.store is None:
            emit_event("item", record.source, item=_tender_item(record),
                       tender=stored_fields(record), matches=[m.to_dict() for m in matches])
            result.new_items += 1
            result.new_matches += len(matches)
            return
        outcome = self.store.add_tender(record, result.run_id, baseline=self.baseline,
                                        matches=matches)
        result.new_items += outcome.state == "new"
        result.changed_items += outcome.state == "changed"
        # a baseline's matches are stored as old news, not counted as new
        result.new_matches += 0 if self.baseline else outcome.new_matches

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        assert self.result is not None
        self.result.fetched = self.spider.fetched
        emit_event("progress", self.result.source, fetched=self.spider.fetched,
                   new_items=self.result.new_items, new_matches=self.result.new_matches,
                   errors=len(self.spider.errors))

    def spider_closed(self, spider: SourceSpider, reason: str) -> None:
        result = self.result
        if result is None:
            return
        result.fetched = spider.fetched
        result.warnings = spider.run_warnings()
        if self.misdecoded:
            result.warnings.append(
                f"text of {self.misdecoded} item(s) looks mis-decoded (e.g. "
                f"{self.misdecoded_example}): the site's declared charset is wrong or its "
                "text was garbled before it was published")
        result.errors = len(spider.errors)
        result.error_details = spider.errors[:20]
        result.seconds = round(time.monotonic() - self._started, 3)
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
        if self.store is not None and result.run_id is not None:
            self.store.finish_run(result.run_id, result)
            self.store.close()
        emit_event("run_finished", result.source, result=result.to_dict())


def _tender_item(record: TenderRecord) -> dict[str, Any]:
    """A tender in the shape of a dry run's items (`monitor test-source` prints these)."""
    return {"source": record.source, "key": record.native_id, "url": record.url,
            "title": record.title, "text": record.description,
            "published_at": record.published, "content_hash": None}


def _asdict(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}
