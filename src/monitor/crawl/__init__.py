"""Crawls run in a child process (`python -m crawlers.run`); this package starts it, watches
it and accounts for every source it was given.

    runner.py      crawl(): locks, the child, its events, one RunResult per source
    events.py      the child -> parent event lines (both sides import it)
    process.py     the child as a process: log, environment, time limit, process group
    accounting.py  the one run-status rule; runs a dead child left open, closed
    locks.py       one crawl of a source at a time, across processes
"""

from monitor.crawl.accounting import run_status
from monitor.crawl.events import EVENT_PREFIX, CrawlEvent, emit_event, use_event_stream
from monitor.crawl.locks import SourceLock
from monitor.crawl.runner import CrawlReport, crawl

__all__ = [
    "EVENT_PREFIX",
    "CrawlEvent",
    "CrawlReport",
    "SourceLock",
    "crawl",
    "emit_event",
    "run_status",
    "use_event_stream",
]
