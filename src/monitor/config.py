"""Load `sources.yaml` once, validate it, and hand out frozen typed objects.

Nothing downstream sees a raw dict. Every problem is reported in one `ConfigError` whose lines
name the file, the key path (`sources[3].url`), the problem and the value.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from monitor.errors import ConfigError, SourceNotFoundError
from monitor.watches import Alias, Exclusion, Related, Rule, Watch, load_watchlist

__all__ = [
    "Config",
    "CrawlSettings",
    "DaemonSettings",
    "DigestSettings",
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
    "write_snapshot",
]

DEFAULT_USER_AGENT = (
    "monitor/0.1 (+https://github.com/monitor-watchdog/monitor; "
    "procurement and news watch for civil-society research)"
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError("not an http(s) URL")
    return value


def _check_slug(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError("must be a lowercase slug: letters, digits and _, starting with a letter")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A validated schedule: `every N[smhd]` (an interval) or calendar times as cron fields.

    Written in sources.yaml as "every 2h", "daily 07:30", "weekdays 07:30",
    "weekly mon 07:30" or a crontab line such as "0 */6 * * *".
    """

    text: str
    seconds: int | None = None  # interval schedules
    cron: tuple[tuple[str, str], ...] = ()  # CronTrigger fields, calendar schedules

    def __str__(self) -> str:
        return self.text

    def trigger(self, timezone: Any, *, jitter: int | None = None,
                start: datetime | None = None) -> Any:
        """The APScheduler trigger (interval triggers count from `start`)."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.seconds is not None:
            return IntervalTrigger(seconds=self.seconds, start_date=start, timezone=timezone,
                                   jitter=jitter)
        return CronTrigger(**dict(self.cron), timezone=timezone, jitter=jitter)

    def next_after(self, when: datetime, timezone: Any) -> datetime:
        """The first time this schedule is due after `when` (an aware datetime)."""
        if self.seconds is not None:
            return when + timedelta(seconds=self.seconds)
        trigger = self.trigger(timezone)
        fire: datetime = trigger.get_next_fire_time(None, when + timedelta(seconds=1))
        return fire

    def interval(self, timezone: Any = UTC) -> timedelta:
        """How long between two runs (for calendar schedules: the first gap after 2026-01-05,
        a Monday; good enough to call a source stale)."""
        if self.seconds is not None:
            return timedelta(seconds=self.seconds)
        first = self.next_after(datetime(2026, 1, 5, tzinfo=UTC), timezone)
        return self.next_after(first, timezone) - first


def parse_schedule(value: str) -> ScheduleSpec:
    """Read a schedule as written in sources.yaml; ValueError says what is wrong."""
    text = " ".join(str(value).split())
    lowered = text.lower()
    every = re.fullmatch(r"every\s*(\d+)\s*([smhd])", lowered)
    if every:
        seconds = int(every.group(1)) * _UNITS[every.group(2)]
        if seconds < 1:
            raise ValueError("an interval must be at least 1s")
        return ScheduleSpec(text=text, seconds=seconds)
    calendar = re.fullmatch(r"(daily|weekdays|weekly\s+(\w{3}))\s+(\d{1,2}):(\d{2})", lowered)
    if calendar:
        hour, minute = int(calendar.group(3)), int(calendar.group(4))
        if hour > 23 or minute > 59:
            raise ValueError(f"not a time of day: {calendar.group(3)}:{calendar.group(4)}")
        fields = [("hour", str(hour)), ("minute", str(minute))]
        if calendar.group(1) == "weekdays":
            fields.append(("day_of_week", "mon-fri"))
        elif calendar.group(2):
            if calendar.group(2) not in _DAYS:
                raise ValueError(f"not a day of the week: {calendar.group(2)!r} "
                                 f"(use {', '.join(_DAYS)})")
            fields.append(("day_of_week", calendar.group(2)))
        return ScheduleSpec(text=text, cron=tuple(fields))
    parts = text.split()
    if len(parts) == 5:
        names = ("minute", "hour", "day", "month", "day_of_week")
        spec = ScheduleSpec(text=text, cron=tuple(zip(names, parts, strict=True)))
        try:
            spec.trigger(UTC)
        except ValueError as exc:
            raise ValueError(f"not a valid crontab line ({exc})") from None
        return spec
    raise ValueError(
        "not a schedule: use 'every 30m' / 'every 2h' / 'every 1d', 'daily 07:30', "
        "'weekdays 07:30', 'weekly mon 07:30' or a crontab line like '0 */6 * * *'"
    )


def _check_schedule(value: Any) -> ScheduleSpec:
    if isinstance(value, ScheduleSpec):
        return value
    if not isinstance(value, str):
        # pydantic reports ValueError (not TypeError) as a validation error with the key path
        raise ValueError("a schedule is a string such as 'every 2h' or 'daily 07:30'")  # noqa: TRY004
    return parse_schedule(value)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a time zone name (e.g. Asia/Tbilisi, Europe/Kyiv, UTC)") from None
    return value


def _check_email(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
        raise ValueError("not an email address")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Slug = Annotated[str, AfterValidator(_check_slug)]
Schedule = Annotated[ScheduleSpec, BeforeValidator(_check_schedule),
                     PlainSerializer(str, return_type=str)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
Email = Annotated[str, AfterValidator(_check_email)]


class Selectors(_Frozen):
    """Where a `page` source finds things. CSS by default; a value starting with `/` or `(` is
    XPath. Missing title/date fall back to the page's metadata, a missing body to trafilatura."""

    links: str
    title: str | None = None
    date: str | None = None
    body: str | None = None
    next_page: str | None = None


PORTALS = ("prozorro", "ocds", "ted", "georgia_spa", "goszakup")
# keys that only `portal` sources take
_PORTAL_KEYS = ("portal", "since", "token_env", "page_size")


class Source(_Frozen):
    """One site to crawl."""

    name: Slug
    kind: Literal["feed", "page", "sitemap", "portal"]
    url: Url | None = None
    urls: tuple[Url, ...] = ()
    enabled: bool = True
    tags: tuple[str, ...] = ()
    schedule: Schedule | None = None
    language: str | None = None
    # feed: also fetch each entry's link and extract the article's full text
    follow_links: bool = False
    # page: how to read the listing and the article pages
    selectors: Selectors | None = None
    # page: listing pages to follow through selectors.next_page
    max_pages: int = Field(default=1, ge=1, le=100)
    # sitemap: only URLs whose lastmod is this recent
    max_age_days: float = Field(default=3, gt=0)
    # any kind: stop after this many articles per run (a guard against runaway listings)
    max_items: int = Field(default=500, ge=1)
    # hard time limit of one run in seconds (the daemon kills it and records `timeout`);
    # default: daemon.crawl_timeout
    timeout: float | None = Field(default=None, gt=0)
    # false: do not ask this site's robots.txt (default: crawl.obey_robots). For public
    # records that a site's blanket `Disallow: /` would otherwise hide (a procurement
    # portal whose data the law makes public); keep crawl.delay polite
    obey_robots: bool | None = None
    # portal: which procurement system's API `url` is (its base, e.g.
    # https://public-api.prozorro.gov.ua/api/2.5)
    portal: Literal["prozorro", "ocds", "ted", "georgia_spa", "goszakup"] | None = None
    # portal: a backfill: the first run reads records changed since this date and alerts on
    # them; without it the first run is a silent baseline and later runs read what changed
    since: date | None = None
    # portal (goszakup): the NAME of the environment variable holding the API token
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # portal: records per API page; default: the portal's own
    page_size: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _kind_fields(self) -> Source:
        if self.kind == "portal":
            self._portal_fields()
        else:
            for key in _PORTAL_KEYS:
                if getattr(self, key) is not None:
                    raise ValueError(f"`{key}` only applies to `portal` sources, not `{self.kind}`")
        if (self.url is None) == (not self.urls):
            raise ValueError("give exactly one of `url` or `urls`")
        if self.kind == "page" and self.selectors is None:
            raise ValueError("a `page` source needs `selectors` (at least `links`)")
        if self.kind != "page" and self.selectors is not None:
            raise ValueError(f"`selectors` only apply to `page` sources, not `{self.kind}`")
        if self.kind != "feed" and self.follow_links:
            raise ValueError("`follow_links` only applies to `feed` sources")
        return self

    def _portal_fields(self) -> None:
        if self.portal is None:
            raise ValueError(f"a `portal` source needs `portal` (one of {', '.join(PORTALS)})")
        if self.urls or self.url is None:
            raise ValueError("a `portal` source takes one `url`: the API's base URL")
        if self.portal == "goszakup" and not self.token_env:
            raise ValueError("a `goszakup` source needs `token_env`: the name of the "
                             "environment variable that holds its API token")
        if self.token_env and self.portal != "goszakup":
            raise ValueError(f"`token_env` only applies to `goszakup`, not `{self.portal}`")

    @property
    def start_urls(self) -> tuple[str, ...]:
        return (self.url,) if self.url else self.urls


class Recipient(_Frozen):
    """Who gets a digest, and of what: watches named in `watches` or carrying one of `tags`;
    everything when both are empty."""

    email: Email
    name: str | None = None
    watches: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # when the daemon sends this person's digest; default: daemon.digest_schedule
    digest: Schedule | None = None

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


class Config(_Frozen):
    sources: tuple[Source, ...] = ()
    watches: tuple[Watch, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    smtp: SmtpSettings | None = None
    crawl: CrawlSettings = CrawlSettings()
    digest: DigestSettings = DigestSettings()
    daemon: DaemonSettings = DaemonSettings()
    health: HealthSettings = HealthSettings()
    # files (YAML or CSV, relative to this config) whose watches are added to `watches`;
    # parse_config reads them (see monitor.watches)
    watchlist: str | tuple[str, ...] | None = None

    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file this config was read from (the crawler child re-reads it)."""
        return self._path

    @model_validator(mode="after")
    def _unique_and_linked(self) -> Config:
        _no_duplicates("sources", [s.name for s in self.sources], "name")
        _no_duplicates("watches", [w.name for w in self.watches], "name")
        _no_duplicates("recipients", [r.email for r in self.recipients], "email")
        names = {w.name for w in self.watches}
        for i, recipient in enumerate(self.recipients):
            for name in recipient.watches:
                if name not in names:
                    raise ValueError(
                        f"recipients[{i}].watches: no watch named {name!r} "
                        f"(watches are: {', '.join(sorted(names)) or 'none'})"
                    )
        return self

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise SourceNotFoundError(f"{self._where()}: no source named {name!r} (sources: {known})")

    def require_sources(self) -> None:
        """Raise ConfigError when the config has no source at all: checked by `monitor
        check-config` and the daemon, which would otherwise idle on an empty file and look
        like a quiet week."""
        if not self.sources:
            raise ConfigError(f"{self._where()}: no sources: there is nothing to watch; add "
                              "at least one under `sources:` (config/sources.yaml has "
                              "commented examples)")

    def unset_secrets(self, environ: Mapping[str, str]) -> list[str]:
        """What will fail for want of a secret: enabled sources and SMTP whose environment
        variable (named in the config) is unset or empty in `environ`. Names the variables,
        never their values."""
        problems = [
            f"source {s.name!r}: the environment variable {s.token_env} (token_env) is not set: "
            "its runs will fail as not configured"
            for s in self.sources if s.enabled and s.token_env and not environ.get(s.token_env)
        ]
        smtp = self.smtp
        if smtp is not None and smtp.password_env and not environ.get(smtp.password_env):
            problems.append(f"smtp: the environment variable {smtp.password_env} "
                            "(password_env) is not set: sending will fail")
        return problems

    def select(self, names: tuple[str, ...] | list[str] = ()) -> tuple[Source, ...]:
        """The named sources (even disabled ones: naming one is asking for it), or every
        enabled source."""
        if names:
            return tuple(self.source(n) for n in dict.fromkeys(names))
        return tuple(s for s in self.sources if s.enabled)

    def schedule_of(self, source: Source) -> ScheduleSpec:
        return source.schedule or self.daemon.default_schedule

    def digest_schedule_of(self, recipient: Recipient) -> ScheduleSpec:
        return recipient.digest or self.daemon.digest_schedule

    def timeout_of(self, source: Source) -> float:
        return source.timeout or self.daemon.crawl_timeout

    def _where(self) -> str:
        return str(self._path) if self._path else "config"


def _no_duplicates(key: str, values: list[str], field: str) -> None:
    seen: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in seen:
            raise ValueError(
                f"{key}[{i}].{field}: duplicate {value!r} (already used by {key}[{seen[value]}])"
            )
        seen[value] = i


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(error: Any, model_fields: dict[tuple[int | str, ...], list[str]]) -> str:
    loc = tuple(error["loc"])
    where = _loc(loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        allowed = model_fields.get(loc[:-1])
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"{where}: unknown key{hint}"
    if error["type"] == "value_error" and re.match(r"^\w+\[\d+\]\.", message):
        return message  # a cross-field check that already names its own path
    value = error.get("input")
    shown = "" if isinstance(value, dict) or value is None else f": {value!r}"
    return f"{where or '(top level)'}: {message}{shown}"


def _allowed_keys(data: Any) -> dict[tuple[int | str, ...], list[str]]:
    """Map a dict's key path to the keys its model accepts, for 'unknown key' hints."""
    table: dict[tuple[int | str, ...], list[str]] = {(): list(Config.model_fields)}
    sections: dict[str, type[BaseModel]] = {
        "sources": Source,
        "watches": Watch,
        "recipients": Recipient,
    }
    if isinstance(data, dict):
        for key, model in sections.items():
            items = data.get(key)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    table[(key, i)] = list(model.model_fields)
                    if key == "sources" and isinstance(item, dict):
                        table[(key, i, "selectors")] = list(Selectors.model_fields)
                    if key == "watches" and isinstance(item, dict):
                        _watch_keys(table, (key, i), item)
        table[("smtp",)] = list(SmtpSettings.model_fields)
        table[("crawl",)] = list(CrawlSettings.model_fields)
        table[("digest",)] = list(DigestSettings.model_fields)
        table[("daemon",)] = list(DaemonSettings.model_fields)
        table[("health",)] = list(HealthSettings.model_fields)
    return table


def _watch_keys(table: dict[tuple[int | str, ...], list[str]], at: tuple[int | str, ...],
                item: dict[str, Any]) -> None:
    """'unknown key' hints inside a watch: its aliases, related, exclude and rule."""
    parts: dict[str, type[BaseModel]] = {"aliases": Alias, "exclude": Exclusion,
                                         "related": Related}
    for key, model in parts.items():
        if isinstance(item.get(key), list):
            for j, part in enumerate(item[key]):
                table[(*at, key, j)] = list(model.model_fields)
                if key == "related" and isinstance(part, dict) and isinstance(
                        part.get("aliases"), list):
                    for k in range(len(part["aliases"])):
                        table[(*at, key, j, "aliases", k)] = list(Alias.model_fields)
    table[(*at, "rule")] = list(Rule.model_fields)


def _include_watchlist(data: dict[str, Any], where: str, base: Path | None) -> dict[str, Any]:
    """Add the watches of the `watchlist:` files to `watches:`, naming clashes by file."""
    included = load_watchlist(data["watchlist"], base, where)
    inline = data.get("watches") or []
    if not isinstance(inline, list):
        return data  # the model reports it
    names = {w.get("name"): i for i, w in enumerate(inline) if isinstance(w, dict)}
    for watch in included:
        if watch.name in names:
            raise ConfigError(f"{where}: watchlist: watch {watch.name!r} is also defined in "
                              f"the config (watches[{names[watch.name]}])")
    return {**data, "watches": [*inline, *included]}


def parse_config(data: Any, where: str = "config", base: Path | None = None) -> Config:
    """Validate already-parsed YAML data. `where` names the input in error messages; `base` is
    the directory `watchlist:` files are relative to (default: the working directory)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping, not {type(data).__name__}")
    if data.get("watchlist") is not None:
        if not isinstance(data["watchlist"], str | list):
            raise ConfigError(f"{where}: watchlist: a file name or a list of file names, "
                              f"not {data['watchlist']!r}")
        data = _include_watchlist(data, where, base)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        allowed = _allowed_keys(data)
        lines = [_describe(e, allowed) for e in exc.errors()]
        if len(lines) == 1:
            raise ConfigError(f"{where}: {lines[0]}") from None
        listed = "\n".join(f"  {line}" for line in lines)
        raise ConfigError(f"{where}: {len(lines)} problems:\n{listed}") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a sources.yaml file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (give one with --config or MONITOR_CONFIG)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{at}: {problem}") from None
    config = parse_config(data, str(path), base=path.resolve().parent)
    config._path = path.resolve()
    return config


SNAPSHOTS_KEPT_S = 86400


def write_snapshot(config: Config, directory: str | Path) -> Path:
    """The validated config as one self-contained YAML file (the `watchlist:` files' watches
    included) under `directory`, for a crawler child to read: it crawls exactly what the
    parent validated, even after the file on disk changed or broke (the daemon keeps its
    config when a SIGHUP finds the file broken). Named by its content's hash, written
    atomically and never rewritten; snapshots unused for a day are removed."""
    directory = Path(directory)
    # defaults left out: they are not validated (smtp.sender's monitor@localhost), and the
    # reader fills them in again
    data = config.model_dump(mode="json", exclude={"watchlist"}, exclude_defaults=True)
    text = ("# a snapshot of a validated monitor config, written for its crawler processes;\n"
            f"# edit {config.path or 'the config file'}, not this\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    name = f"config-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}.yaml"
    path = directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            partial = directory / f".{name}.{os.getpid()}.tmp"
            partial.write_text(text, "utf-8")
            os.replace(partial, path)
        now = time.time()
        os.utime(path)
        for old in directory.glob("config-*.yaml"):
            if old != path and now - old.stat().st_mtime > SNAPSHOTS_KEPT_S:
                old.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the config snapshot for the crawler: "
                          f"{exc}") from None
    return path
