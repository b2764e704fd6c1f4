"""Source health: assess() over a real Store's runs, and health_news() per recipient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Config
from monitor.health import SourceHealth, assess, health_news
from monitor.models import Item, RunResult, RunStatus
from monitor.normalise import content_hash
from monitor.store import Store
from monitor.store.rows import HealthReportRow

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


@pytest.fixture
def config(write_config: Callable[..., Config]) -> Config:
    return write_config(
        {
            "sources": [
                {"name": "civil_ge", "kind": "feed", "url": "https://civil.ge/feed",
                 "schedule": "every 1h"},
                {"name": "oc_media", "kind": "feed", "url": "https://oc-media.org/feed",
                 "schedule": "every 1h"},
                # 07:30 in Tbilisi is 03:30 UTC
                {"name": "tenders_ge", "kind": "feed", "url": "https://tenders.ge/feed",
                 "schedule": "daily 07:30"},
                {"name": "retired", "kind": "feed", "url": "https://retired.ge/feed",
                 "enabled": False, "schedule": "every 1h"},
            ],
            "daemon": {"timezone": "Asia/Tbilisi"},
        }
    )


def add_run(
    store: Store,
    source: str,
    status: RunStatus,
    at: datetime,
    *,
    items: int = 0,
    error: str | None = None,
    seconds: float = 60,
) -> int:
    """A finished run that started at `at` and took `seconds`."""
    run_id = store.start_run(source)
    store.finish_run(run_id, RunResult(source=source, status=status, items=items, error=error))
    store.db.conn.execute(
        "UPDATE runs SET started_at = ?, finished_at = ? WHERE id = ?",
        (iso(at), iso(at + timedelta(seconds=seconds)), run_id),
    )
    return run_id


def health_of(store: Store, config: Config, source: str = "civil_ge") -> SourceHealth:
    return {h.source: h for h in assess(store, config, now=NOW)}[source]


def test_assess_every_configured_source_in_config_order_never_run(
    store: Store, config: Config
) -> None:
    add_run(store, "not_configured", "error", ago(minutes=5), error="x")

    assessed = assess(store, config, now=NOW)

    assert [h.source for h in assessed] == ["civil_ge", "oc_media", "tenders_ge", "retired"]
    assert {h.health for h in assessed} == {"never_run"}
    civil = assessed[0]
    assert civil == SourceHealth(
        source="civil_ge", enabled=True, schedule="every 1h", health="never_run",
        last_status=None, last_run_at=None, last_success_at=None, last_error=None,
        consecutive_failures=0, consecutive_empty=0, items_7d=0,
        next_run_at=iso(NOW),  # due: the daemon runs it on start
        since=None,
    )
    assert assessed[3].next_run_at is None  # disabled


def test_assess_a_running_run_is_not_a_finished_one(store: Store, config: Config) -> None:
    store.start_run("civil_ge")

    assert health_of(store, config).health == "never_run"


def test_assess_ok_with_facts(store: Store, config: Config) -> None:
    add_run(store, "civil_ge", "ok", ago(minutes=50), items=12)
    add_run(store, "civil_ge", "partial", ago(minutes=20), items=10, error="2 pages failed")
    for key, seen in (("new", ago(days=1)), ("old", ago(days=8))):
        item = Item(source="civil_ge", key=key, url=f"https://civil.ge/{key}", title=key,
                    text="", published_at=None, content_hash=content_hash(key, ""))
        store.add(item, [])
        store.db.conn.execute("UPDATE items SET first_seen_at = ? WHERE key = ?",
                              (iso(seen), key))

    health = health_of(store, config)

    assert health.health == "ok" and not health.unhealthy
    assert health.last_status == "partial"
    assert health.last_run_at == iso(ago(minutes=20))
    assert health.last_success_at == iso(ago(minutes=19))  # when it finished
    assert health.last_error == "2 pages failed"
    assert (health.consecutive_failures, health.consecutive_empty) == (0, 0)
    assert health.items_7d == 1
    assert health.next_run_at == iso(ago(minutes=20) + timedelta(hours=1))
    assert health.since is None


def test_assess_failing_after_three_failed_runs_in_a_row(store: Store, config: Config) -> None:
    add_run(store, "civil_ge", "ok", ago(minutes=50), items=3)
    add_run(store, "civil_ge", "error", ago(minutes=40), error="HTTP 500 from https://civil.ge/")
    add_run(store, "civil_ge", "timeout", ago(minutes=30), error="killed after 1800s")
    two = health_of(store, config)
    # two are not yet failing, but the source is not "ok" either: its last run failed
    assert (two.health, two.unhealthy, two.since) == ("error", False, iso(ago(minutes=40)))

    add_run(store, "civil_ge", "error", ago(minutes=20), error="HTTP 502 from https://civil.ge/")
    health = health_of(store, config)

    assert health.health == "failing" and health.unhealthy
    assert health.consecutive_failures == 3
    assert health.since == iso(ago(minutes=40))  # the first failure of the streak
    assert health.last_error == "HTTP 502 from https://civil.ge/"
    assert health.last_success_at == iso(ago(minutes=49))


def test_assess_interrupted_runs_neither_fail_nor_end_a_failing_streak(
    store: Store, config: Config
) -> None:
    add_run(store, "civil_ge", "ok", ago(hours=6), items=3)
    add_run(store, "civil_ge", "interrupted", ago(hours=5), error="SIGTERM")
    add_run(store, "civil_ge", "interrupted", ago(hours=4), error="SIGTERM")
    add_run(store, "civil_ge", "interrupted", ago(hours=3), error="SIGTERM")
    add_run(store, "oc_media", "error", ago(hours=5), error="DNS lookup failed")
    add_run(store, "oc_media", "interrupted", ago(hours=4), error="SIGTERM")
    add_run(store, "oc_media", "error", ago(hours=3), error="DNS lookup failed")
    add_run(store, "oc_media", "timeout", ago(hours=2), error="killed")
    add_run(store, "oc_media", "interrupted", ago(hours=1), error="SIGTERM")

    civil, oc_media = health_of(store, config), health_of(store, config, "oc_media")

    # civil_ge: stopped three times by the operator, but its last completed run is 6 h old
    assert civil.health == "stale" and civil.consecutive_failures == 0
    assert oc_media.health == "failing" and oc_media.consecutive_failures == 3
    assert oc_media.last_status == "interrupted"
    assert oc_media.last_error == "killed"  # of the last run that was not interrupted


def test_assess_partial_counts_as_a_success(store: Store, config: Config) -> None:
    add_run(store, "civil_ge", "error", ago(minutes=50), error="boom")
    add_run(store, "civil_ge", "error", ago(minutes=40), error="boom")
    add_run(store, "civil_ge", "partial", ago(minutes=30), items=4, error="1 page failed")
    add_run(store, "civil_ge", "error", ago(minutes=20), error="boom")
    add_run(store, "civil_ge", "error", ago(minutes=10), error="boom")

    health = health_of(store, config)

    # the streak restarted at the partial run: two failures since, an error, not failing
    assert health.health == "error" and health.consecutive_failures == 2


def test_assess_a_source_that_never_succeeded_is_not_ok(store: Store, config: Config) -> None:
    add_run(store, "civil_ge", "error", ago(minutes=10), error="HTTP 404 from https://civil.ge/")
    health = health_of(store, config)
    assert (health.health, health.last_success_at) == ("error", None)
    assert health.last_error == "HTTP 404 from https://civil.ge/"

    add_run(store, "civil_ge", "ok", ago(minutes=5), items=2)
    assert health_of(store, config).health == "ok"


def test_assess_suspect_after_empty_runs_where_it_used_to_find_items(
    store: Store, config: Config
) -> None:
    add_run(store, "civil_ge", "ok", ago(minutes=50), items=20)
    add_run(store, "civil_ge", "ok", ago(minutes=40), items=0)
    add_run(store, "civil_ge", "error", ago(minutes=35), error="HTTP 503")  # not counted
    add_run(store, "civil_ge", "partial", ago(minutes=30), items=0, error="1 page failed")
    assert health_of(store, config).health == "ok"

    add_run(store, "civil_ge", "ok", ago(minutes=20), items=0)
    health = health_of(store, config)

    assert health.health == "suspect"
    assert health.consecutive_empty == 3
    assert health.since == iso(ago(minutes=40))


def test_assess_a_source_that_never_found_items_is_not_suspect(
    store: Store, config: Config
) -> None:
    for minutes in (50, 40, 30, 20):
        add_run(store, "civil_ge", "ok", ago(minutes=minutes), items=0)

    assert health_of(store, config).health == "ok"


def test_assess_suspect_ends_with_a_run_that_finds_items(store: Store, config: Config) -> None:
    add_run(store, "civil_ge", "ok", ago(minutes=50), items=20)
    for minutes in (40, 30, 20):
        add_run(store, "civil_ge", "ok", ago(minutes=minutes), items=0)
    add_run(store, "civil_ge", "ok", ago(minutes=10), items=1)

    health = health_of(store, config)

    assert health.health == "ok" and health.consecutive_empty == 0


def test_assess_stale_after_twice_the_interval_without_a_completed_run(
    store: Store, config: Config
) -> None:
    add_run(store, "civil_ge", "ok", ago(minutes=119), items=5, seconds=0)
    add_run(store, "oc_media", "ok", ago(minutes=121), items=5, seconds=0)
    add_run(store, "retired", "ok", ago(days=30), items=5, seconds=0)

    civil, oc_media = health_of(store, config), health_of(store, config, "oc_media")
    retired = health_of(store, config, "retired")

    assert civil.health == "ok"
    assert oc_media.health == "stale"
    assert oc_media.since == iso(ago(minutes=1))  # when 2 h had passed
    assert retired.health == "ok"  # disabled: not expected to run
    assert retired.next_run_at is None


def test_assess_stale_for_calendar_schedules_and_sources_that_never_completed(
    store: Store, config: Config
) -> None:
    # daily 07:30 in Tbilisi (03:30 UTC): stale once two scheduled runs passed without one
    add_run(store, "tenders_ge", "ok", datetime(2026, 11, 22, 3, 30, tzinfo=UTC), items=5)
    assert health_of(store, config, "tenders_ge").health == "ok"  # Monday's run missed
    tuesday = {h.source: h for h in assess(store, config, now=NOW + timedelta(days=1))}
    assert tuesday["tenders_ge"].health == "stale"  # and Tuesday's
    assert tuesday["tenders_ge"].since == "2026-11-24T03:30:00+00:00"
    # never completed: measured from its first try
    add_run(store, "civil_ge", "interrupted", ago(hours=3), error="SIGTERM")
    health = health_of(store, config)
    assert health.health == "stale" and health.last_success_at is None
    add_run(store, "oc_media", "interrupted", ago(minutes=30), error="SIGTERM")
    assert health_of(store, config, "oc_media").health == "ok"


def test_assess_stale_counts_calendar_fire_times_not_a_fixed_interval(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = write_config(
        {
            "sources": [{"name": "weekday_site", "kind": "feed", "url": "https://w.ge/feed",
                         "schedule": "weekdays 07:30"}],
            "daemon": {"timezone": "Asia/Tbilisi"},  # 07:30 there is 03:30 UTC
        }
    )
    friday = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    add_run(store, "weekday_site", "ok", friday, items=3)

    # Monday noon: two days since Friday, but only one weekday run (Monday's) was due
    assert health_of(store, config, "weekday_site").health == "ok"
    tuesday = {h.source: h for h in assess(store, config, now=NOW + timedelta(days=1))}
    assert tuesday["weekday_site"].health == "stale"
    assert tuesday["weekday_site"].since == "2026-11-24T03:30:00+00:00"


def test_assess_precedence_failing_then_suspect_then_stale(store: Store, config: Config) -> None:
    # suspect and stale: suspect
    add_run(store, "civil_ge", "ok", ago(hours=10), items=5)
    for hours in (9, 8, 7):
        add_run(store, "civil_ge", "ok", ago(hours=hours), items=0)
    assert health_of(store, config).health == "suspect"
    # suspect, stale and failing: failing
    for hours in (6, 5, 4):
        add_run(store, "civil_ge", "error", ago(hours=hours), error="HTTP 500")
    health = health_of(store, config)
    assert health.health == "failing"
    assert (health.consecutive_failures, health.consecutive_empty) == (3, 3)
    assert health.since == iso(ago(hours=6))


def test_assess_thresholds_come_from_config(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = write_config(
        {
            "sources": [{"name": "civil_ge", "kind": "feed", "url": "https://civil.ge/feed",
                         "schedule": "every 1h"}],
            "health": {"failing_after": 1, "suspect_after": 1, "stale_after_intervals": 5},
        }
    )
    add_run(store, "civil_ge", "ok", ago(hours=4), items=5)
    add_run(store, "civil_ge", "ok", ago(hours=3), items=0)
    assert health_of(store, config).health == "suspect"  # not stale before 5 h
    add_run(store, "civil_ge", "error", ago(hours=2), error="boom")
    assert health_of(store, config).health == "failing"


def test_assess_next_run_at(store: Store, config: Config) -> None:
    add_run(store, "civil_ge", "ok", ago(minutes=20), items=1)
    add_run(store, "oc_media", "ok", ago(hours=3), items=1)  # overdue
    add_run(store, "tenders_ge", "ok", datetime(2026, 11, 23, 3, 30, tzinfo=UTC), items=1)
    add_run(store, "retired", "ok", ago(minutes=20), items=1)

    by_source = {h.source: h.next_run_at for h in assess(store, config, now=NOW)}

    assert by_source == {
        "civil_ge": iso(ago(minutes=20) + timedelta(hours=1)),
        "oc_media": iso(NOW),
        # daily 07:30 in Asia/Tbilisi (UTC+4)
        "tenders_ge": "2026-11-24T03:30:00+00:00",
        "retired": None,
    }
    # a run in progress counts: the next is an interval after it started
    running = store.start_run("oc_media")
    store.db.conn.execute("UPDATE runs SET started_at = ? WHERE id = ?",
                          (iso(ago(minutes=10)), running))
    assert health_of(store, config, "oc_media").next_run_at == iso(ago(minutes=10) + timedelta(
        hours=1))


# -- health_news --------------------------------------------------------------------------------


def state(source: str, health: str, **fields: Any) -> SourceHealth:
    base = SourceHealth(
        source=source, enabled=True, schedule="every 1h", health=health,  # type: ignore[arg-type]
        last_status="error", last_run_at=iso(ago(hours=1)), last_success_at=iso(ago(days=1)),
        last_error="HTTP 500", consecutive_failures=4, consecutive_empty=0, items_7d=0,
        next_run_at=iso(NOW), since=iso(ago(hours=4)),
    )
    return replace(base, **fields)


def told(health: str, **delta: float) -> HealthReportRow:
    return HealthReportRow(recipient="ana@example.org", source="a", health=health,
                           reported_at=iso(ago(**delta)))


def news(config: Config, assessed: list[SourceHealth],
         reports: dict[str, HealthReportRow]) -> list[tuple[str, str, str]]:
    return [(n.source, n.health, n.kind) for n in health_news(assessed, reports, config, NOW)]


def test_health_news_new_when_never_told_or_told_something_else(config: Config) -> None:
    assessed = [state("a", "failing"), state("b", "stale"), state("c", "suspect")]

    assert news(config, assessed, {"b": told("failing", hours=1)}) == [
        ("a", "failing", "new"), ("c", "suspect", "new"), ("b", "stale", "new")
    ]
    (notice, *_) = health_news(assessed, {}, config, NOW)
    assert notice.last_error == "HTTP 500" and notice.since == iso(ago(hours=4))
    assert notice.runs == 4 and notice.recorded_health == "failing"


def test_health_news_does_not_repeat_until_a_reminder_is_due(config: Config) -> None:
    assessed = [state("a", "failing")]

    assert news(config, assessed, {"a": told("failing", days=6)}) == []
    # a daily digest a few seconds early on the 7th day still reminds
    assert news(config, assessed, {"a": told("failing", days=7, seconds=-10)}) == [
        ("a", "failing", "reminder")
    ]
    assert news(config, assessed, {"a": told("failing", days=30)}) == [
        ("a", "failing", "reminder")
    ]


def test_health_news_recovered_once(config: Config) -> None:
    ok = [state("a", "ok", since=None)]

    (notice,) = health_news(ok, {"a": told("failing", days=1)}, config, NOW)
    assert (notice.kind, notice.recorded_health) == ("recovered", "ok")
    assert news(config, ok, {"a": told("ok", hours=1)}) == []  # said once
    assert news(config, ok, {}) == []  # healthy and never told: nothing


def test_health_news_says_nothing_of_never_run_or_disabled_sources(config: Config) -> None:
    assessed = [state("a", "never_run"), state("b", "failing", enabled=False),
                state("c", "ok", enabled=False)]

    assert news(config, assessed, {"c": told("failing", days=1)}) == []


def test_health_news_worst_first_recoveries_last(config: Config) -> None:
    assessed = [state("r", "ok"), state("s", "stale"), state("u", "suspect"),
                state("f", "failing")]

    assert news(config, assessed, {"r": told("stale", days=1)}) == [
        ("f", "failing", "new"), ("u", "suspect", "new"), ("s", "stale", "new"),
        ("r", "ok", "recovered"),
    ]


def test_assess_a_schedule_shorter_than_a_run_is_busy_not_stale(
    store: Store, write_config: Callable[..., Config]
) -> None:
    """`every 1s` with runs that take seconds: stale only after one interval plus the run's
    time limit, so health does not flip between stale and ok from run to run."""
    fast = write_config({"sources": [{"name": "fast", "kind": "feed",
                                      "url": "https://a.ge/rss", "schedule": "every 1s",
                                      "timeout": 60}]})
    add_run(store, "fast", "ok", ago(seconds=30), items=5, seconds=0)
    assert health_of(store, fast, "fast").health == "ok"
    add_run(store, "fast", "ok", ago(seconds=62), items=5, seconds=0)
    store.db.conn.execute("DELETE FROM runs WHERE started_at > ?", (iso(ago(seconds=40)),))
    assert health_of(store, fast, "fast").health == "stale"
