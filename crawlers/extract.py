"""Article main-text extraction (trafilatura), on the cores the crawler leaves free.

Extraction is most of a crawl's CPU time (trafilatura takes about 38 ms a page with its date
search, several times the cost of fetching it on a 2-core machine). The crawler's own process
runs Scrapy, parsing and the store on one core; extraction goes to a small process pool so
the other cores work too. This module imports nothing heavy, so pool workers start quickly,
and they are started (`warm_up`) when a crawl first fetches an article, not before.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from copy import deepcopy
from multiprocessing import get_context

logger = logging.getLogger(__name__)
# trafilatura reports every page it finds too short at INFO and WARNING: noise in crawl logs
logging.getLogger("trafilatura").setLevel(logging.ERROR)

_pool: ProcessPoolExecutor | None = None
# set when the pool broke: the rest of this crawl extracts in-process
_pool_failed = False


def extract(html: str, url: str, metadata: bool = True) -> dict[str, str | None]:
    """Main text, title and date of an article page; nav, sidebars and footers left out,
    and a body split by advertisements taken in whole (`crawlers.split_body`). `metadata=False`
    when the source already gave the title and date: the date search (htmldate, slowest on
    pages that carry no date) is about half of extraction's time."""
    from trafilatura import bare_extraction, load_html

    from crawlers.split_body import take_in_split_parts

    tree = load_html(html)
    if tree is None:
        return {}
    # trafilatura cleans the tree it is given; the page's own is read again below
    document = bare_extraction(
        deepcopy(tree), url=url, with_metadata=metadata, include_comments=False,
        include_tables=True,
        date_extraction_params={"extensive_search": True, "original_date": True,
                                "outputformat": "%Y-%m-%dT%H:%M:%S%z"},
    )
    if document is None:
        return {}
    text = getattr(document, "text", None)
    return {
        "text": take_in_split_parts(tree, text) if text else text,
        "title": getattr(document, "title", None),
        "date": getattr(document, "date", None),
    }


def _workers() -> int:
    value = os.environ.get("MONITOR_EXTRACT_WORKERS")
    if value is not None and value.strip().isdigit():
        return int(value)
    # one core is the crawler's own (Scrapy, parsing, matching, the store): a worker on every
    # core made a 2-core machine's first crawl of 1,000 pages ~12 % slower than one worker
    return max(1, (os.cpu_count() or 1) - 1)


def _get_pool() -> ProcessPoolExecutor | None:
    global _pool
    if _pool is None and _workers() > 0 and not _pool_failed:
        # spawn, not fork: the parent runs a reactor and threads that a fork would copy
        _pool = ProcessPoolExecutor(max_workers=_workers(), mp_context=get_context("spawn"))
    return _pool


_WARM_PAGE = ("<html><head><title>t</title></head><body><article><h1>t</h1>"
              + "<p>A paragraph of warm-up text long enough to be kept as main text.</p>" * 4
              + "</article></body></html>")


def _warm() -> None:
    extract(_WARM_PAGE, "http://localhost/warm")


def warm_up() -> None:
    """Start the pool's workers now and have each import trafilatura and run it once, while
    the crawl fetches its listing: a spawned worker's imports cost as much as extracting
    many pages, and would otherwise delay the first articles."""
    pool = _get_pool()
    if pool is not None:
        for _ in range(_workers()):
            pool.submit(_warm)


async def extract_async(html: str, url: str, metadata: bool = True) -> dict[str, str | None]:
    """`extract` in the pool (MONITOR_EXTRACT_WORKERS, default one per core but one; 0 = in this
    process). A broken pool falls back to extracting here."""
    global _pool, _pool_failed
    pool = _get_pool()
    if pool is None:
        return extract(html, url, metadata)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, extract, html, url,
                                                                metadata)
    except BrokenProcessPool:
        logger.warning("extraction pool broke; extracting in the crawler process from now on")
        _pool, _pool_failed = None, True
        return extract(html, url, metadata)


def shutdown() -> None:
    global _pool, _pool_failed
    _pool_failed = False
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None
