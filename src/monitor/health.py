"""Runs -> health: is each source really being checked?

Reads the store and returns data; never prints. `monitor status` shows `assess`'s answer, and
the digest tells each recipient what changed since they were last told (`health_news`).

    store runs ──assess──> SourceHealth per configured source
    SourceHealth + store.health_reports(recipient) ──health_news──> HealthNotice

The states, worst first (a source in two states shows the worse):

    failing    the last `failing_after` runs all failed (error or timeout)
    error      the last run failed, or no run ever succeeded, but not yet `failing_after` in
               a row: shown by `monitor status`, not yet a notice in the digest (one bad
               night is not news; the digest's Coverage names the failed run itself)
    suspect    the last `suspect_after` successful runs saw no items, where earlier ones did
               (typically a changed site layout: the selectors find nothing)
    stale      enabled, has run, but no run completed within `stale_after_intervals` times
               its schedule's interval, nor within one interval plus the run's time limit
               (the daemon is down, or every run hangs); calendar schedules count
               scheduled times, so "weekdays 07:30" is not stale on Sunday
    never_run  no run finished yet
    ok         none of the above

A run counts as failed when its status is `error` or `timeout`; `partial` is a success (some
pages failed, the source was still read). `interrupted` runs (the daemon was stopped) are the
operator's doing, not the source's: they neither fail a source nor end a failing streak.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from monitor.config import Config, ScheduleSpec, Source
from monitor.store import Store
from monitor.store.rows import HealthReportRow

__all__ = [
    "RANK",
    "UNHEALTHY",
    "Health",
    "HealthNotice",
    "NoticeKind",
    "SourceHealth",
    "assess",
    "health_news",
]

Health = Literal["ok", "failing", "error", "suspect", "stale", "never_run"]
NoticeKind = Literal["new", "reminder", "recovered"]

UNHEALTHY: frozenset[str] = frozenset({"failing", "suspect", "stale"})
_FAILED = ("error", "timeout")
_SUCCESS = ("ok", "partial")
# every status of a finished run (`running` is not finished)
_FINISHED = ("ok", "partial", "error", "timeout", "interrupted")
# worst first: how `monitor status` and the digest order sources
RANK: dict[str, int] = {"failing": 0, "error": 1, "suspect": 2, "stale": 3, "never_run": 4,
                        "ok": 5}
ITEMS_WINDOW = timedelta(days=7)
# a reminder is due a little before `remind_after_days` to the second: a daily digest runs a
# few seconds earlier or later each day, and must not turn "weekly" into "every 8 days"
_REMIND_SLACK = 0.02


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's health and the facts it was judged on. Times are UTC ISO-8601."""

    source: str
    enabled: bool
    schedule: str
    health: Health
    last_status: str | None  # of the newest finished run (interrupted included)
    last_run_at: str | None  # when the newest finished run started
    last_success_at: str | None  # when the newest ok/partial run finished
    last_error: str | None  # of the newest run that was not interrupted
    consecutive_failures: int  # error/timeout runs since the last success
    consecutive_empty: int  # successful runs with no items since the last one with items
    items_7d: int  # items first seen in the last 7 days
    next_run_at: str | None  # when the daemon runs it next (now if overdue); None: disabled
    since: str | None  # when the current unhealthy state began
    # what the newest finished run noticed without failing ("4,500 entries left unread")
    warnings: tuple[str, ...] = ()

    @property
    def unhealthy(self) -> bool:
        return self.health in UNHEALTHY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HealthNotice:
    """What one digest tells one recipient about one source."""

    source: str
    health: Health  # the source's health now
    last_error: str | None
    since: str | None  # when the unhealthy state began (for `recovered`: None)
    kind: NoticeKind  # new: not told before; reminder: told long ago; recovered: ok again
    runs: int = 0  # failing: failed runs in a row; suspect: empty runs in a row
    last_success_at: str | None = None
    schedule: str = ""

    @property
    def recorded_health(self) -> str:
        """What the store remembers this recipient was told."""
        return "ok" if self.kind == "recovered" else self.health


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse(value: str) -> datetime:
    return _aware(datetime.fromisoformat(value))


def assess(store: Store, config: Config, *, now: datetime | None = None) -> list[SourceHealth]:
    """The health of every configured source, in config order."""
    now = _aware(now or datetime.now(UTC))
    timezone = ZoneInfo(config.daemon.timezone)
    started = store.last_started()
    items = store.items_since(_iso(now - ITEMS_WINDOW))
    return [
        _assess_one(store, config, source, now, timezone, started.get(source.name),
                    items.get(source.name, 0))
        for source in config.sources
    ]


def _assess_one(
    store: Store,
    config: Config,
    source: Source,
    now: datetime,
    timezone: ZoneInfo,
    last_started: str | None,
    items_7d: int,
) -> SourceHealth:
    rules = config.health
    name = source.name
    schedule = config.schedule_of(source)
    finished, first_started = store.count_runs(name, _FINISHED)
    newest = store.last_run(name)
    checked = store.last_run(name, (*_SUCCESS, *_FAILED))
    success = store.last_run(name, _SUCCESS)
    failures, failing_since = store.count_runs(name, _FAILED, after=success)
    productive = store.last_run(name, _SUCCESS, min_items=1)
    empty, empty_since = (
        store.count_runs(name, _SUCCESS, after=productive) if productive else (0, None)
    )
    last_success_at = (success.finished_at or success.started_at) if success else None

    health: Health = "ok"
    since: str | None = None
    if finished == 0:
        health = "never_run"
    elif failures >= rules.failing_after:
        health = "failing"
        since = failing_since
    elif failures or (success is None and checked is not None):
        # one failure is not a streak yet, and a source that never worked is not "ok"
        health = "error"
        since = failing_since
    elif empty >= rules.suspect_after:
        health = "suspect"
        since = empty_since
    elif source.enabled:
        # measured from the last completed run, or from the first try of one that never did
        reference = last_success_at or first_started
        if reference is not None:
            start = _parse(reference)
            deadline = _stale_after(schedule, start, rules.stale_after_intervals, timezone)
            # a run may take up to its time limit: a schedule shorter than a run is busy,
            # not stale (and a source never flips stale/ok between two runs)
            allowance = timedelta(seconds=config.timeout_of(source))
            deadline = max(deadline, schedule.next_after(start, timezone) + allowance)
            if now > deadline:
                health = "stale"
                since = _iso(deadline)

    return SourceHealth(
        source=name,
        enabled=source.enabled,
        schedule=str(schedule),
        health=health,
        last_status=newest.status if newest else None,
        last_run_at=newest.started_at if newest else None,
        last_success_at=last_success_at,
        last_error=checked.error if checked else None,
        consecutive_failures=failures,
        consecutive_empty=empty,
        items_7d=items_7d,
        next_run_at=_next_run(source, config, last_started, now, timezone),
        since=since,
        warnings=tuple(newest.warnings) if newest else (),
    )


def _stale_after(schedule: ScheduleSpec, reference: datetime, intervals: float,
                 timezone: ZoneInfo) -> datetime:
    """When a source whose last completed run was at `reference` turns stale: `intervals`
    times its interval later. Calendar schedules count their own fire times instead of a
    fixed interval, so "weekdays 07:30" is not stale over a weekend, nor "daily" at a DST
    change."""
    if schedule.seconds is not None:
        return reference + schedule.interval(timezone) * intervals
    whole = int(intervals)
    deadline = reference
    for _ in range(whole):
        deadline = schedule.next_after(deadline, timezone)
    if intervals > whole:
        deadline += (schedule.next_after(deadline, timezone) - deadline) * (intervals - whole)
    return deadline


def _next_run(source: Source, config: Config, last_started: str | None, now: datetime,
              timezone: ZoneInfo) -> str | None:
    """When the daemon runs the source next: its schedule after the last start (interval
    schedules count from it), or now when that moment has passed or it never ran (the daemon
    runs overdue sources on start)."""
    if not source.enabled:
        return None
    if last_started is None:
        return _iso(now)
    due = config.schedule_of(source).next_after(_parse(last_started), timezone)
    return _iso(max(due, now))


def health_news(
    assessed: list[SourceHealth],
    reports: dict[str, HealthReportRow],
    config: Config,
    now: datetime,
) -> list[HealthNotice]:
    """What a digest should tell a recipient, given what they were told before (`reports`:
    source -> health_reports row). An unhealthy source is told when the recipient was never
    told, was told another state, or was told `remind_after_days` ago or longer (less 2%, so
    a daily digest a few seconds early still reminds on the 7th day); a source ok again after
    the recipient was told it was not is told once. Disabled sources are not checked, so
    nothing is said about them. Worst first, recoveries last."""
    now = _aware(now)
    remind = timedelta(days=config.health.remind_after_days) * (1 - _REMIND_SLACK)
    notices = []
    for state in assessed:
        if not state.enabled:
            continue
        report = reports.get(state.source)
        told = report.health if report else None
        kind: NoticeKind | None = None
        if state.unhealthy:
            if told != state.health:
                kind = "new"
            elif report is not None and now - _parse(report.reported_at) >= remind:
                kind = "reminder"
        elif state.health == "ok" and told in UNHEALTHY:
            kind = "recovered"
        if kind is None:
            continue
        runs = {"failing": state.consecutive_failures,
                "suspect": state.consecutive_empty}.get(state.health, 0)
        notices.append(
            HealthNotice(
                source=state.source,
                health=state.health,
                last_error=state.last_error,
                since=state.since,
                kind=kind,
                runs=runs,
                last_success_at=state.last_success_at,
                schedule=state.schedule,
            )
        )
    notices.sort(key=lambda n: (n.kind == "recovered", RANK[n.health]))
    return notices
