"""Main-text extraction: sidebars stay out, the process pool gives the same answer as the
crawler process, and a broken pool falls back instead of failing the crawl."""

from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest
from conftest import page

from crawlers import extract

HTML = page("page/article-en.html").decode("utf-8")
URL = "https://bizgeorgia.example.ge/news/a"


@pytest.fixture(autouse=True)
def no_pool_left_behind():
    yield
    extract.shutdown()


def test_extract_leaves_navigation_and_sidebars_out():
    result = extract.extract(HTML, URL)
    assert result["title"]
    assert result["text"] and "Huawei" not in result["text"]


def test_extract_async_in_the_pool_matches_in_process(monkeypatch):
    monkeypatch.setenv("MONITOR_EXTRACT_WORKERS", "1")
    pooled = asyncio.run(extract.extract_async(HTML, URL))
    assert extract._pool is not None
    assert pooled == extract.extract(HTML, URL)


def test_extract_async_falls_back_when_the_pool_breaks(monkeypatch):
    class Broken:
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise BrokenProcessPool("a worker died")

        def shutdown(self, **kwargs: Any) -> None:
            pass

    monkeypatch.setenv("MONITOR_EXTRACT_WORKERS", "2")
    monkeypatch.setattr(extract, "_pool", Broken())
    result = asyncio.run(extract.extract_async(HTML, URL))
    assert result == extract.extract(HTML, URL)
    assert extract._pool is None
    assert asyncio.run(extract.extract_async(HTML, URL)) == result  # now in process
