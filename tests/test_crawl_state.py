"""The crawl state extension (`crawlers.extensions.crawl_state`): what earlier runs of a source
left in the store reaches its spider when the spider opens, from the crawl's one store.

Each test builds a crawler with the project's settings (so its extensions, RunRecorder first),
creates the spider as Scrapy would, and sends `spider_opened` and `spider_closed` the way the
engine does; no reactor, no network.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

import crawlers.settings
from crawlers.extensions.crawl_state import CrawlState
from crawlers.portals.base import PortalSpider
from crawlers.portals.prozorro.spider import Prozorro
from crawlers.portals.ted.spider import Ted
from crawlers.spiders import Feed, SourceSpider
from monitor.config import Config
from monitor.models import Organisation, PortalCursor, TenderRecord
from monitor.store import SQLiteStore, Store, open_store
from monitor.tender import normalise_tender, record_tender

PROJECT_SETTINGS = {k: getattr(crawlers.settings, k) for k in dir(crawlers.settings) if k.isupper()}
PROZORRO_API = "https://public-api.prozorro.gov.ua/api/2.5"
TED_API = "https://api.ted.europa.eu/v3/notices/search"
SOURCES: list[dict[str, Any]] = [
    {"name": "prozorro", "kind": "portal", "portal": "prozorro", "url": PROZORRO_API},
    {"name": "ted", "kind": "portal", "portal": "ted", "url": TED_API},
    {"name": "wire", "kind": "feed", "url": "https://wire.example.ge/feed/"},
]


@pytest.fixture
def config(write_config: Callable[..., Config]) -> Config:
    return write_config({"sources": SOURCES})


@contextmanager
def opened(cls: type[SourceSpider], config: Config, state_dir: Path, source_name: str,
           **settings: Any) -> Iterator[tuple[Any, list[tuple[Any, Any]]]]:
    """The spider, created and opened as in a crawl, with what the `spider_opened` handlers
    returned; closed (its run finished, the crawl's store closed) on the way out."""
    crawler = get_crawler(cls, {**PROJECT_SETTINGS, "MONITOR_CONFIG": str(config.path),
                                "MONITOR_STATE": str(state_dir), **settings})
    spider = cls.from_crawler(crawler, source_name=source_name)
    results = crawler.signals.send_catch_log(signals.spider_opened, spider=spider)
    try:
        yield spider, results
    finally:
        crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason="finished")


def failures(results: list[tuple[Any, Any]]) -> list[Failure]:
    return [result for _, result in results if isinstance(result, Failure)]


def store_tender(store: Store, source: str, native_id: str, modified: str,
                 **fields: Any) -> TenderRecord:
    record = normalise_tender(TenderRecord(source=source, native_id=native_id,
                                           title=f"Tender {native_id}", modified=modified,
                                           **fields))
    record_tender(store, record)
    return record


def test_the_extension_runs_after_the_run_recorder_that_opens_the_store() -> None:
    extensions = PROJECT_SETTINGS["EXTENSIONS"]
    assert (extensions["crawlers.extensions.crawl_state.CrawlStateLoader"]
            > extensions["crawlers.extensions.run_recorder.RunRecorder"])


def test_a_portal_spider_gets_its_saved_cursor_and_stamps(
    config: Config, state_dir: Path, store: Store
) -> None:
    store.save_portal_cursor(PortalCursor("prozorro", PROZORRO_API, "2025-03-10T10:00:00+02:00",
                                          {"server_id": "abc", "retry": {"https://x/1": 1}}))
    stored = store_tender(store, "prozorro", "UA-2025-03-10-000001-a",
                          "2025-03-10T09:00:00+02:00")

    with opened(Prozorro, config, state_dir, "prozorro") as (spider, results):
        assert failures(results) == []
        assert spider.cursor == "2025-03-10T10:00:00+02:00"
        assert spider.server_id == "abc"
        assert spider.retries == {"https://x/1": 1}
        assert spider.stamps == {"UA-2025-03-10-000001-a": stored.modified}


def test_a_backfill_clears_the_cursor_but_keeps_the_stamps(
    config: Config, state_dir: Path, store: Store
) -> None:
    store.save_portal_cursor(PortalCursor("prozorro", PROZORRO_API, "2025-03-10T10:00:00+02:00"))
    stored = store_tender(store, "prozorro", "UA-2025-03-10-000001-a",
                          "2025-03-10T09:00:00+02:00")

    with opened(Prozorro, config, state_dir, "prozorro",
                MONITOR_SINCE="2025-01-01") as (spider, results):
        assert failures(results) == []
        assert spider.cursor is None  # read from `since`, not from where the last run stopped
        assert spider.backfill
        assert spider.stamps == {"UA-2025-03-10-000001-a": stored.modified}


def test_ted_gets_its_stored_tender_records(config: Config, state_dir: Path,
                                            store: Store) -> None:
    buyer = Organisation(name="Valstybės sienos apsaugos tarnyba", id="188700111",
                         scheme="LT-RC")
    stored = store_tender(store, "ted", "9f0c3f6e-1111-2222-3333-444455556666",
                          "2025-03-04T00:00:00+01:00", buyer=buyer, status="announced")
    store.save_portal_cursor(PortalCursor("ted", TED_API, "20250304",
                                          {"positions": {"k": "20250304"}}))

    with opened(Ted, config, state_dir, "ted") as (spider, results):
        assert failures(results) == []
        [known] = spider.known.values()
        assert (known.native_id, known.title, known.buyer, known.status) == (
            stored.native_id, stored.title, buyer, "announced")
        assert spider.positions == {"k": "20250304"}
        assert spider.stamps == {stored.native_id: stored.modified}


@pytest.mark.parametrize("cls, name", [(Prozorro, "prozorro"), (Feed, "wire")])
def test_spiders_that_merge_nothing_load_no_tender_records(
    cls: type[SourceSpider], name: str, config: Config, state_dir: Path, store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_tender(store, name, "T-1", "2025-03-04T00:00:00+00:00")
    loaded: list[CrawlState] = []
    monkeypatch.setattr(cls, "load_state", lambda self, state: loaded.append(state))

    def read_every_record(self: Store, source: str) -> Iterator[dict[str, Any]]:
        raise AssertionError("every stored record read for a spider that does not want them")

    monkeypatch.setattr(SQLiteStore, "tender_records", read_every_record)

    with opened(cls, config, state_dir, name) as (spider, results):
        assert failures(results) == []
        [state] = loaded
        assert state.tender_records == ()
        if isinstance(spider, PortalSpider):
            assert state.stamps == {"T-1": "2025-03-04T00:00:00+00:00"}
        else:  # a position in a feed means nothing to a page spider
            assert (state.cursor, state.stamps) == (None, {})


def test_a_dry_run_loads_nothing_and_opens_no_store(
    config: Config, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[CrawlState] = []
    monkeypatch.setattr(Prozorro, "load_state", lambda self, state: loaded.append(state))

    with opened(Prozorro, config, state_dir, "prozorro",
                MONITOR_DRY_RUN=True) as (spider, results):
        assert failures(results) == []
        assert loaded == []
        assert (spider.cursor, spider.stamps, spider.known_pages) == (None, {}, {})
    assert list(state_dir.iterdir()) == []  # no monitor.db


def test_a_store_that_cannot_be_read_fails_the_run_instead_of_crawling_without_state(
    config: Config, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Store, source: str) -> dict[str, str]:
        raise sqlite3.OperationalError("database disk image is malformed")

    monkeypatch.setattr(SQLiteStore, "tender_stamps", broken)

    with opened(Prozorro, config, state_dir, "prozorro") as (spider, results):
        [failure] = failures(results)
        assert failure.check(CloseSpider)
        assert failure.value.reason == "crawl_state_unreadable"
        assert spider.errors == ["cannot read the source's crawl state from the store: "
                                 "OperationalError: database disk image is malformed"]

    with open_store(state_dir) as store:
        run = store.last_run("prozorro")
    assert run is not None and run.status == "error"
