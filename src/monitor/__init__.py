"""monitor: watch procurement portals and news sites for companies, people and keywords.

The flow, one module per stage:

    config -> (crawlers/ spiders) -> normalise -> match -> store -> digest -> mail
          (portal spiders) -> tender (tender records: versions, events) -> store
                                               store -> alerts (at a crawl's end) -> mail
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

# these two share their name with their module: bound here, or importing the module (as the
# CLI and the crawler do) would leave `monitor.crawl` naming the module, not the function
from monitor.crawl import crawl
from monitor.normalise import normalise

if TYPE_CHECKING:
    from monitor.alerts import after_crawl, queue_alerts
    from monitor.config import Config, Recipient, Source, Watch, load_config
    from monitor.crawl import CrawlReport
    from monitor.digest import Digest, build_digest, render_html, render_text
    from monitor.errors import (
        ConfigError,
        CrawlError,
        DeliveryError,
        MissingEnvVarError,
        MonitorError,
        SourceNotFoundError,
        StoreError,
    )
    from monitor.health import SourceHealth, assess
    from monitor.mail import compose, deliver, preview, queue_digests
    from monitor.match import Matcher
    from monitor.models import Item, Match, RunResult, ScrapedItem, TenderEvent, TenderRecord
    from monitor.store import Store
    from monitor.tender import diff_tenders, normalise_tender

# name -> the module that defines it: imported on first use, so that a command (or the
# crawler child) loads only the stages it runs: importing them all costs ~0.6 s at every start
_EXPORTS = {
    **dict.fromkeys(("after_crawl", "queue_alerts"), "monitor.alerts"),
    **dict.fromkeys(("Config", "Recipient", "Source", "Watch", "load_config"), "monitor.config"),
    "CrawlReport": "monitor.crawl",
    **dict.fromkeys(("Digest", "build_digest", "render_html", "render_text"), "monitor.digest"),
    **dict.fromkeys(("ConfigError", "CrawlError", "DeliveryError", "MissingEnvVarError",
                     "MonitorError", "SourceNotFoundError", "StoreError"), "monitor.errors"),
    **dict.fromkeys(("SourceHealth", "assess"), "monitor.health"),
    **dict.fromkeys(("compose", "deliver", "preview", "queue_digests"), "monitor.mail"),
    "Matcher": "monitor.match",
    **dict.fromkeys(("Item", "Match", "RunResult", "ScrapedItem", "TenderEvent",
                     "TenderRecord"), "monitor.models"),
    "Store": "monitor.store",
    **dict.fromkeys(("diff_tenders", "normalise_tender"), "monitor.tender"),
}


def __dir__() -> list[str]:
    # the public names, loaded or not, and the stage modules imported so far
    return sorted({*__all__, *(n for n, v in globals().items() if isinstance(v, ModuleType))})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "CrawlError",
    "CrawlReport",
    "DeliveryError",
    "Digest",
    "Item",
    "Match",
    "Matcher",
    "MissingEnvVarError",
    "MonitorError",
    "Recipient",
    "RunResult",
    "ScrapedItem",
    "Source",
    "SourceHealth",
    "SourceNotFoundError",
    "Store",
    "StoreError",
    "TenderEvent",
    "TenderRecord",
    "Watch",
    "after_crawl",
    "assess",
    "build_digest",
    "compose",
    "crawl",
    "deliver",
    "diff_tenders",
    "load_config",
    "normalise",
    "normalise_tender",
    "preview",
    "queue_alerts",
    "queue_digests",
    "render_html",
    "render_text",
]
