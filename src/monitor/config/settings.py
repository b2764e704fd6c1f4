"""The settings blocks: `recipients:`, `smtp:`, `crawl:`, `digest:`, `daemon:`, `health:`,
`evidence:`, `web:`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from monitor.config.schedule import parse_schedule
from monitor.config.types import (
    Email,
    EnvName,
    NotifyUrl,
    QuietHours,
    Schedule,
    TimeZoneName,
    _Frozen,
)
from monitor.watches import AlertEvent, Watch, yaml_on

DEFAULT_USER_AGENT = (
    "monitor/0.1 (+https://github.com/monitor-watchdog/monitor; "
    "procurement and news watch for civil-society research)"
)


class Recipient(_Frozen):
    """Who gets a digest (by email) and immediate alerts (by email and `notify` channels), and
    of what: watches named in `watches` or carrying one of `tags`; everything when both are
    empty."""

    # digests go by email only: a recipient without one gets alerts alone
    email: Email | None = None
    name: str | None = None
    watches: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # when the daemon sends this person's digest; default: daemon.digest_schedule
    digest: Schedule | None = None
    # alert channels (monitor.alerts) besides the email: Apprise URLs that hold no secret,
    # and the NAMES of environment variables that each hold a whole Apprise URL, token and all
    notify: tuple[NotifyUrl, ...] = ()
    notify_env: tuple[EnvName, ...] = ()
    # `immediate`: every watch this person gets alerts them at once; `digest`: none does,
    # whatever the watch says; unset: as each watch's `alert` says
    alert: Literal["immediate", "digest"] | None = None
    # with `alert: immediate`, which news alerts (default: any)
    on: tuple[AlertEvent, ...] = ()
    # "22:00-07:00" in daemon.timezone: no alert is sent then; what was found waits until the
    # window ends (or goes in a digest sent before)
    quiet: QuietHours | None = None
    # immediate messages per hour at most; beyond it they fold into one "and N more"
    alert_limit: int = Field(default=10, ge=1, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, value: Any) -> Any:
        return yaml_on(value)

    @model_validator(mode="after")
    def _reachable(self) -> Recipient:
        if self.email is None and not (self.notify or self.notify_env):
            raise ValueError("a recipient needs an `email`, or alert channels in `notify` / "
                             "`notify_env`")
        if self.email is None and not self.name:
            raise ValueError("a recipient without `email` needs a `name`: it is how the "
                             "outbox and `monitor notify-test` name them")
        if self.on and self.alert != "immediate":
            raise ValueError("`on` chooses which news alerts at once: it needs "
                             "`alert: immediate`")
        return self

    @property
    def key(self) -> str:
        """Who this is in the store (deliveries, the outbox, alerts): the email, else the
        name."""
        return self.email or self.name or ""

    @property
    def channels(self) -> tuple[str, ...]:
        """Where alerts go, as stored in the outbox: `email`, `notify:<url>`, `env:<NAME>`."""
        return (*(("email",) if self.email else ()),
                *(f"notify:{url}" for url in self.notify),
                *(f"env:{name}" for name in self.notify_env))

    def wants(self, watch: Watch) -> bool:
        if not self.watches and not self.tags:
            return True
        return watch.name in self.watches or bool(set(self.tags) & set(watch.tags))


class SmtpSettings(_Frozen):
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    # the NAME of the environment variable holding the password, never the password itself
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    sender: Email = "monitor@localhost"
    timeout: float = Field(default=30, gt=0)

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class CrawlSettings(_Frozen):
    """Politeness and safety limits shared by every spider."""

    # seconds between two requests to one site; Scrapy varies it 0.5x-1.5x
    delay: float = Field(default=2.0, ge=0)
    timeout: float = Field(default=30, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    max_page_bytes: int = Field(default=10_000_000, ge=10_000)
    concurrency_per_domain: int = Field(default=1, ge=1, le=32)
    user_agent: str = DEFAULT_USER_AGENT
    obey_robots: bool = True
    http_cache: bool = True


class DigestSettings(_Frozen):
    subject_prefix: str = "monitor"
    # send a digest even when nothing matched and every source was fine
    send_empty: bool = False
    snippet_chars: int = Field(default=120, ge=20, le=1000)
    # entries shown per watch (newest first, tenders before articles); the rest are counted
    # ("and 12 more") and every finding is in the attached CSV
    max_per_watch: int = Field(default=20, ge=1)
    # mail servers reject, and readers skip, huge messages: fewer entries are shown (the CSV
    # still lists them all, compressed if need be) until the message fits
    max_email_bytes: int = Field(default=1_000_000, ge=50_000)


class DaemonSettings(_Frozen):
    """How `monitor run` schedules crawls and digests."""

    # the zone of calendar schedules ("daily 07:30" is 07:30 here) and of dates in digests
    timezone: TimeZoneName = "UTC"
    # sources without `schedule:`
    default_schedule: Schedule = parse_schedule("every 6h")
    # recipients without `digest:`
    digest_schedule: Schedule = parse_schedule("daily 07:30")
    # a random delay of up to this many seconds spreads runs of many sources; default: a
    # tenth of the source's interval, at most 5 minutes
    jitter: int | None = Field(default=None, ge=0)
    # hard time limit of one source's run (seconds), unless the source sets `timeout`
    crawl_timeout: float = Field(default=1800, gt=0)
    # crawls running at the same time (each its own process)
    max_parallel_crawls: int = Field(default=2, ge=1, le=16)
    # a run that could not start on time (daemon busy or asleep) still starts within this
    misfire_grace: float = Field(default=3600, gt=0)
    # on SIGTERM, how long running crawls get to finish before they are killed
    stop_grace: float = Field(default=30, ge=0)


class HealthSettings(_Frozen):
    """When a source counts as failing, suspect or stale (`monitor status`, the digest)."""

    # failing: this many failed runs in a row
    failing_after: int = Field(default=3, ge=1)
    # suspect: this many runs in a row that found no items, where earlier runs found some
    suspect_after: int = Field(default=3, ge=1)
    # stale: no completed run for this many times the source's interval
    stale_after_intervals: float = Field(default=2, gt=1)
    # a source that stays unhealthy is named in the digest again after this many days
    remind_after_days: float = Field(default=7, gt=0)


class EvidenceSettings(_Frozen):
    """How long captures (`monitor.evidence`) are kept."""

    # matched: captures of items and tenders that matched a watch forever, the rest for
    # `days`; all: everything forever; none: capture nothing new (those kept stay, pruned
    # as with matched) -- findings then have no evidence
    keep: Literal["matched", "all", "none"] = "matched"
    days: int = Field(default=30, ge=1)


class WebSettings(_Frozen):
    """`monitor web`: the local web application over the same state."""

    # the address people open, e.g. https://monitor.example.org (behind a reverse proxy):
    # links in feeds and alerts point there; https makes the session cookie secure-only
    public_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # the watch file the web manages (watches added from searches, mutes), relative to this
    # config; included in the watch list like a `watchlist:` file. null: none
    watch_file: str | None = "web-watches.yaml"
    # a login lasts this long without a visit
    session_hours: float = Field(default=12, gt=0, le=24 * 90)


class Thresholds(_Frozen):
    """A portal's thresholds above which a purchase must be an open procedure, by the
    tender's category (goods, services, works), in `currency`."""

    goods: float = Field(gt=0)
    services: float = Field(gt=0)
    works: float = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    def of(self, category: str | None) -> float | None:
        return {"goods": self.goods, "services": self.services,
                "works": self.works}.get((category or "").lower())


class FlagSettings(_Frozen):
    """`flags:`: the limits the red-flag rules (`monitor.flags`) compare with."""

    # a submission period shorter than this many days is short; by procedure (the
    # portal's code, e.g. aboveThresholdEU) or method (open, selective); `open` is the
    # default for competitive procedures that are not listed
    min_period_days: dict[str, float] = Field(default_factory=lambda: {"open": 15.0})
    # open-procedure thresholds per source (its name), beside the built-in ones per portal
    # (Prozorro: 400,000 UAH goods and services, 1,500,000 UAH works)
    thresholds: dict[str, Thresholds] = Field(default_factory=dict)
    # repeated awards just under a threshold: this many awards from one buyer to one
    # supplier within `repeat_months`, each at most `repeat_below_percent` % under it
    repeat_count: int = Field(default=2, ge=2)
    repeat_below_percent: float = Field(default=5.0, gt=0, lt=100)
    repeat_months: int = Field(default=12, ge=1)
    # dataset-relative rules run once a portal has this many stored records to compare with
    relative_min_records: int = Field(default=100, ge=20)
