"""monitor: watch procurement portals and news sites for companies, people and keywords.

The flow, one module per stage:

    config -> (crawlers/ spiders) -> normalise -> match -> store -> digest -> mail
"""

from monitor.config import Config, Recipient, Source, Watch, load_config
from monitor.crawl import CrawlReport, crawl
from monitor.digest import Digest, build_digest, render_html, render_text
from monitor.health import SourceHealth, assess
from monitor.errors import (
    ConfigError,
    CrawlError,
    DeliveryError,
    MissingEnvVarError,
    MonitorError,
    SourceNotFoundError,
    StoreError,
)
from monitor.mail import compose, deliver, preview, queue_digests
from monitor.match import Matcher
from monitor.models import Item, Match, RunResult, ScrapedItem
from monitor.normalise import normalise
from monitor.store import Store

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
    "RunResult",
    "ScrapedItem",
    "Source",
    "SourceHealth",
    "SourceNotFoundError",
    "Store",
    "StoreError",
    "Recipient",
    "Watch",
    "assess",
    "build_digest",
    "compose",
    "crawl",
    "deliver",
    "load_config",
    "normalise",
    "preview",
    "queue_digests",
    "render_html",
    "render_text",
]
