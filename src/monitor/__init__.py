"""monitor: watch procurement portals and news sites for companies, people and keywords.

The flow, one module per stage:

    config -> (crawlers/ spiders) -> normalise -> match -> store -> digest -> mail
"""

from monitor.config import Config, Recipient, Source, Watch, load_config
from monitor.errors import (
    ConfigError,
    CrawlError,
    DeliveryError,
    MissingEnvVarError,
    MonitorError,
    SourceNotFoundError,
    StoreError,
)
from monitor.match import Matcher
from monitor.models import Item, Match, RunResult, ScrapedItem
from monitor.normalise import normalise
from monitor.store import Store

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "CrawlError",
    "DeliveryError",
    "Item",
    "Match",
    "Matcher",
    "MissingEnvVarError",
    "MonitorError",
    "RunResult",
    "ScrapedItem",
    "Source",
    "SourceNotFoundError",
    "Store",
    "StoreError",
    "Recipient",
    "Watch",
    "load_config",
    "normalise",
]
