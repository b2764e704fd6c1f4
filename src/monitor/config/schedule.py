"""Schedules: `every 30m`, `daily 07:30`, `weekdays 08:00`, cron-like, as `ScheduleSpec`;
revisit policies: when a stored article is fetched again (`[1h, 1d, 7d]`, `always`, `never`);
and quiet hours ("22:00-07:00"): when a recipient gets no alert."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

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


_REVISIT_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")


@dataclass(frozen=True, slots=True)
class Revisit:
    """When a stored article is fetched again (`monitor.revisit.is_due`). `schedule`: once
    at each of `after`, counted from when it was first seen; `always`: every crawl (a page
    that is itself the thing watched); `never`."""

    mode: Literal["schedule", "always", "never"]
    after: tuple[timedelta, ...] = ()

    def __str__(self) -> str:
        if self.mode != "schedule":
            return self.mode
        return "[" + ", ".join(_duration_text(d) for d in self.after) + "]"

    def to_yaml(self) -> str | list[str]:
        return self.mode if self.mode != "schedule" else [_duration_text(d) for d in self.after]


# edits and corrections come early
DEFAULT_REVISIT = Revisit("schedule", (timedelta(hours=1), timedelta(days=1), timedelta(days=7)))


def _duration_text(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("d", "h"):
        if seconds % _REVISIT_UNITS[unit] == 0:
            return f"{seconds // _REVISIT_UNITS[unit]}{unit}"
    return f"{seconds / 60:g}m"


def parse_revisit(value: Any) -> Revisit:
    """A source's `revisit:` as written: a list of durations (`[1h, 1d, 7d]`; units m, h, d,
    w), `always` or `never`. ValueError says what is wrong."""
    if isinstance(value, Revisit):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("always", "never"):
            return Revisit(word)  # type: ignore[arg-type]
        value = [part for part in re.split(r"[,\s]+", word.strip("[]")) if part]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"expected a list of durations such as [1h, 1d, 7d], `always` or "
                         f"`never`, got {value!r}")
    after = []
    for item in value:
        match = _DURATION.fullmatch(str(item).strip().lower())
        if match is None:
            raise ValueError(f"not a duration: {item!r} (a number and m, h, d or w: 1h, 7d)")
        seconds = float(match.group(1)) * _REVISIT_UNITS[match.group(2)]
        if seconds <= 0:
            raise ValueError(f"a revisit must come after the first visit, got {item!r}")
        after.append(timedelta(seconds=seconds))
    return Revisit("schedule", tuple(sorted(set(after))))


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(quiet: str | None, now: datetime, timezone: str) -> datetime | None:
    """When the quiet window ("22:00-07:00", in `timezone`) that `now` falls in ends, in UTC;
    None when `now` is outside it (or there is none). A window whose start is after its end
    runs over midnight."""
    if not quiet:
        return None
    start_text, end_text = quiet.split("-")
    start, end = _clock(start_text), _clock(end_text)
    zone = ZoneInfo(timezone)
    local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        if not start <= clock < end:
            return None
        day = local.date()
    else:
        if end <= clock < start:
            return None
        day = local.date() + timedelta(days=1) if clock >= start else local.date()
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
