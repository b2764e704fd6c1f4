"""monitor: watch procurement portals and news sites for companies, people and keywords.

The flow, one module per stage:

    config -> (crawlers/ spiders) -> normalise -> match -> store -> digest -> mail
          (portal spiders) -> tender (tender records: versions, events) -> store
"""

from monitor.config import Config, Recipient, Source, Watch, load_config
from monitor.crawl import CrawlReport, crawl
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
from monitor.normalise import normalise
from monitor.store import Store
from monitor.tender import diff_tenders, normalise_tender

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
    "queue_digests",
    "render_html",
    "render_text",
]
