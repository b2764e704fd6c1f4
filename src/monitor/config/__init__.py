"""Load `sources.yaml` once, validate it, and hand out frozen typed objects.

Nothing downstream sees a raw dict. Every problem is reported in one `ConfigError` whose lines
name the file, the key path (`sources[3].url`), the problem and the value.

    load.py      YAML -> Config, error messages, watchlist includes, snapshots
    model.py     Config
    sources.py   Source (every kind), Selectors
    settings.py  recipients, smtp, crawl, digest, daemon, health, evidence
    schedule.py  ScheduleSpec, parse_schedule, quiet_until
    types.py     checked value types, the frozen base model
"""

from monitor.config.load import load_config, parse_config, write_snapshot
from monitor.config.model import Config
from monitor.config.schedule import ScheduleSpec, parse_schedule, quiet_until
from monitor.config.settings import (
    CrawlSettings,
    DaemonSettings,
    DigestSettings,
    EvidenceSettings,
    FlagSettings,
    HealthSettings,
    Recipient,
    SmtpSettings,
    WebSettings,
)
from monitor.config.sources import Selectors, Source
from monitor.watches import Watch

__all__ = [
    "Config",
    "CrawlSettings",
    "DaemonSettings",
    "DigestSettings",
    "EvidenceSettings",
    "FlagSettings",
    "WebSettings",
    "HealthSettings",
    "Recipient",
    "ScheduleSpec",
    "Selectors",
    "SmtpSettings",
    "Source",
    "Watch",
    "load_config",
    "parse_config",
    "parse_schedule",
    "quiet_until",
    "write_snapshot",
]
