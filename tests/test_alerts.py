"""Immediate alerts end to end: findings -> the outbox (one row per channel) -> a real local
Apprise endpoint (json:// and form://, which can answer 500, hang or drop the connection)
and the local SMTP server. Exactly once when the endpoint is down then up, when the process
that queued them is killed right after, and with two senders at once; the hourly limit and
quiet hours with a fake clock; the digest marks what was alerted. The pure rules' cases live
in tests/cases/alert_rules.yaml."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from conftest import NotifySink, SmtpSink
from test_digest import NUCTECH, OTHER, store_tender, tender  # the same tenders

from monitor.alerts import after_crawl, alert_events, notify_test, plan, queue_alerts
from monitor.alerts.rules import wanted
from monitor.cli import cli
from monitor.config import Config, parse_config, quiet_until
from monitor.crawl.process import _child_environment
from monitor.digest import build_digest, render_html, render_text
from monitor.flags import Flag
from monitor.mail import deliver, queue_digests
from monitor.match import Matcher
from monitor.models import Item, RunResult
from monitor.normalise import content_hash
from monitor.status import status
from monitor.store import Store, open_store

RULES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "alert_rules.yaml").read_text("utf-8"))

TOKEN = "s3cr3tTOKENabcdef123"
NOW = datetime.now(UTC).replace(microsecond=0)


def config_with(write_config: Callable[..., Config], sink: NotifySink, *,
                smtp: SmtpSink | None = None, watches: list[dict[str, Any]] | None = None,
                **recipient: Any) -> Config:
    data: dict[str, Any] = {
        "watches": watches or [{"name": "Nuctech", "aliases": ["Нуктек"],
                                "alert": "immediate"},
                               {"name": "Hikvision"}],
        "recipients": [{"email": "ana@example.org", "name": "Ana",
                        "notify": [sink.url()], **recipient}],
    }
    if smtp is not None:
        data["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                        "sender": "alerts@monitor.example", "timeout": 5}
    return write_config(data)


def add_article(store: Store, config: Config, key: str, title: str,
                body: str = "Контракт с Нуктек подписан.") -> None:
    item = Item(source="civil_ge", key=key, url=f"https://civil.ge/archives/{key}",
                title=title, text=body, published_at="2026-12-01T10:00:00+00:00",
                content_hash=content_hash(title, body))
    store.add(item, Matcher(config.watches).match(item))


def alerts_in_outbox(store: Store) -> list[Any]:
    return sorted((r for r in store.outbox(limit=1000) if r.kind == "alert"),
                  key=lambda r: r.id)


# -- the pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RULES["quiet"]))
def test_quiet_until_case(name: str) -> None:
    case = RULES["quiet"][name]
    until = quiet_until(case["quiet"], datetime.fromisoformat(case["now"]), case["zone"])
    assert (until.isoformat() if until else None) == case["until"]


@pytest.mark.parametrize("name", sorted(RULES["plan"]))
def test_plan_case(name: str) -> None:
    case = RULES["plan"][name]
    assert plan(case["count"], case["used"], case["limit"]) == (case["singles"],
                                                                case["folded"])


@pytest.mark.parametrize("name", sorted(RULES["wanted"]))
def test_wanted_case(name: str) -> None:
    case = RULES["wanted"][name]
    assert wanted(frozenset(case["events"]), found=case["found"], first=case["first"],
                  kinds=case["kinds"]) is case["wanted"]


def test_alert_events_the_recipient_decides_over_the_watch() -> None:
    config = parse_config({
        "watches": [{"name": "Nuctech", "alert": "immediate", "on": ["awarded"]},
                    {"name": "Hikvision", "tags": ["cctv"]}],
        "recipients": [{"email": "a@example.org"},
                       {"email": "b@example.org", "alert": "digest"},
                       {"email": "c@example.org", "alert": "immediate", "tags": ["cctv"]},
                       {"email": "d@example.org", "alert": "immediate", "on": ["new"]}]})
    nuctech, hikvision = config.watches
    a, b, c, d = config.recipients
    assert alert_events(a, nuctech) == {"awarded"} and alert_events(a, hikvision) == set()
    assert alert_events(b, nuctech) == set()
    # c gets only the cctv watch, and all its news at once
    assert alert_events(c, nuctech) == set() and alert_events(c, hikvision) == {"any"}
    assert alert_events(d, nuctech) == {"new"} == alert_events(d, hikvision)


# -- queue and deliver ------------------------------------------------------------------------


def test_alert_reaches_every_channel_once(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink,
        smtp_server: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_FORM_URL", notify_sink.url("form", path=f"/form/{TOKEN}"))
    config = config_with(write_config, notify_sink, smtp=smtp_server,
                         notify_env=["DESK_FORM_URL"])
    add_article(store, config, "1", "Customs sign with Nuctech\nfor [scanners](x)")

    queued = queue_alerts(store, config)
    assert [(r, s, n) for _, r, s, n in queued.queued] == [
        ("ana@example.org", "Nuctech: Customs sign with Nuctech for [scanners](x)", 1)]
    rows = alerts_in_outbox(store)
    assert [r.channel for r in rows] == ["email", f"notify:{notify_sink.url()}",
                                         "env:DESK_FORM_URL"]
    report = deliver(store, config)
    assert sorted(via for *_, via in report.sent) == sorted([
        f"smtp:127.0.0.1:{smtp_server.port}", f"json://127.0.0.1:{notify_sink.port}",
        "$DESK_FORM_URL"])

    # json and form each got the message once: title, and a body with the link
    assert sorted(r["path"] for r in notify_sink.received) == [f"/form/{TOKEN}", "/hook"]
    for message in notify_sink.messages:
        assert message["title"] == "Nuctech: Customs sign with Nuctech for [scanners](x)"
        lines = message["message"].split("\n")
        assert lines[0] == "Nuctech (in title and body: “Nuctech”, “Нуктек”)"
        assert "https://civil.ge/archives/1" in lines
    [email] = smtp_server.messages
    assert email["Subject"] == ("monitor alert: Nuctech: Customs sign with Nuctech for "
                                "[scanners](x)")
    assert email["To"] == "Ana <ana@example.org>"
    assert "already alerted" in email.get_content()

    # nothing new: nothing queued, nothing sent again
    assert queue_alerts(store, config).queued == []
    again = deliver(store, config)
    assert again.sent == [] and again.failed == []
    assert len(notify_sink.messages) == 2 and len(smtp_server.messages) == 1
    # the token never reached the store: the env channel is named, not resolved
    assert all(TOKEN not in (r.channel + (r.sent_via or "")) for r in alerts_in_outbox(store))


@pytest.mark.parametrize("mode", ["500", "hang", "drop"])
def test_endpoint_down_then_up_gets_the_alert_exactly_once_and_email_is_not_held(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink,
        smtp_server: SmtpSink, mode: str) -> None:
    config = config_with(write_config, notify_sink, smtp=smtp_server)
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    queue_alerts(store, config)
    notify_sink.mode = mode

    first = deliver(store, config)
    # the email went; the broken channel is kept for a retry, with why
    assert len(smtp_server.messages) == 1 and notify_sink.messages == []
    [(outbox_id, recipient, error)] = first.failed
    assert recipient == "ana@example.org" and error.startswith(
        f"json://127.0.0.1:{notify_sink.port}: ")
    assert first.given_up == [] and first.still_queued == 1
    failing = status(store, config).outbox.alerts_failing
    assert [(f["id"], f["channel"]) for f in failing] == [
        (outbox_id, f"json://127.0.0.1:{notify_sink.port}")]
    # waiting for its back-off: a due-only pass leaves it
    assert deliver(store, config, force=False).sent == []

    notify_sink.mode = "ok"
    second = deliver(store, config)
    assert [entry[0] for entry in second.sent] == [outbox_id]
    assert len(notify_sink.messages) == 1 and len(smtp_server.messages) == 1
    assert deliver(store, config).sent == []
    assert len(notify_sink.messages) == 1
    assert {r.status for r in alerts_in_outbox(store)} == {"sent"}


def test_alert_queued_by_a_process_killed_right_after_is_sent_once(
        state_dir: Path, write_config: Callable[..., Config], notify_sink: NotifySink,
        smtp_server: SmtpSink) -> None:
    config = config_with(write_config, notify_sink, smtp=smtp_server)
    with open_store(state_dir) as store:
        add_article(store, config, "1", "Nuctech wins at Sarpi")
        add_article(store, config, "2", "Nuctech scanners arrive")
    # the crawl's end in another process: it queues, claims the first row to send it, and
    # is killed before a byte leaves
    code = (
        "import os, signal, socket, sys\n"
        "from monitor.alerts import queue_alerts\n"
        "from monitor.config import load_config\n"
        "from monitor.store import open_store\n"
        "config = load_config(sys.argv[1])\n"
        "with open_store(sys.argv[2]) as store:\n"
        "    queued = queue_alerts(store, config).queued\n"
        "    print(len(queued), flush=True)\n"
        "    row = store.queued_messages()[0]\n"
        "    store.claim(row.id, f'{socket.gethostname()}:{os.getpid()}:x')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(config.path), str(state_dir)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert result.stdout.strip() == "2"
    assert notify_sink.attempts == 0 and smtp_server.messages == []

    with open_store(state_dir) as store:
        assert [r.status for r in alerts_in_outbox(store)].count("sending") == 1
        # the next pass (the next crawl's end, the daemon's tick) finds them all
        assert queue_alerts(store, config).queued == []
        report = deliver(store, config)
        assert len(report.sent) == 4
        assert deliver(store, config).sent == []
    assert sorted(m["title"] for m in notify_sink.messages) == [
        "Nuctech: Nuctech scanners arrive", "Nuctech: Nuctech wins at Sarpi"]
    assert len(smtp_server.messages) == 2


def test_two_senders_at_once_send_each_alert_once(
        state_dir: Path, write_config: Callable[..., Config], notify_sink: NotifySink,
        smtp_server: SmtpSink) -> None:
    config = config_with(write_config, notify_sink, smtp=smtp_server)
    with open_store(state_dir) as store:
        for n in range(4):
            add_article(store, config, str(n), f"Nuctech story number {n}")
        assert len(queue_alerts(store, config).queued) == 4
    notify_sink.delay = 0.2  # both senders are still at it when the other looks
    barrier = threading.Barrier(2)

    def sender() -> None:
        with open_store(state_dir) as own:  # each its own connection, as two processes
            barrier.wait()
            deliver(own, config)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    titles = sorted(m["title"] for m in notify_sink.messages)
    assert titles == [f"Nuctech: Nuctech story number {n}" for n in range(4)]
    assert notify_sink.attempts == 4 and len(smtp_server.messages) == 4


def test_two_processes_queueing_at_once_queue_each_finding_once(
        state_dir: Path, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    config = config_with(write_config, notify_sink)
    with open_store(state_dir) as store:
        for n in range(6):
            add_article(store, config, str(n), f"Nuctech story number {n}")
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def queuer() -> None:
        with open_store(state_dir) as own:
            barrier.wait()
            counts.append(len(queue_alerts(own, config).queued))

    threads = [threading.Thread(target=queuer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 6
    with open_store(state_dir) as store:
        assert len(alerts_in_outbox(store)) == 6 * 2  # email and json


# -- the hourly limit and quiet hours, on a fake clock ------------------------------------


def test_alert_limit_folds_the_rest_into_one_message_per_hour(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    config = config_with(write_config, notify_sink, alert_limit=3)
    for n in range(8):
        add_article(store, config, str(n), f"Nuctech story number {n}")

    first = queue_alerts(store, config, now=NOW)
    assert [n for *_, n in first.queued] == [1, 1, 6]
    deliver(store, config, now=NOW)
    singles, folded = notify_sink.messages[:2], notify_sink.messages[2]
    assert all(m["title"].startswith("Nuctech: Nuctech story number") for m in singles)
    assert folded["title"] == "6 more findings (alert limit reached)"
    lines = folded["message"].split("\n")
    assert lines[0] == "6 more findings this hour (alert_limit: 3 messages an hour):"
    assert len([line for line in lines if line.startswith("- Nuctech: ")]) == 5
    assert lines[-1].startswith("and 1 more: they are in your next digest")

    # within the hour the limit is used up: news waits, un-alerted
    for n in range(8, 10):
        add_article(store, config, str(n), f"Nuctech story number {n}")
    later = queue_alerts(store, config, now=NOW + timedelta(minutes=10))
    assert later.queued == []
    assert later.waiting == [("ana@example.org", 2, "alert_limit: 3 messages an hour")]
    # the hour moved on: each goes on its own
    hour = queue_alerts(store, config, now=NOW + timedelta(minutes=61))
    assert [n for *_, n in hour.queued] == [1, 1]
    deliver(store, config, now=NOW + timedelta(minutes=61))
    assert len(notify_sink.messages) == 5

    # the digest tells all ten, as already alerted
    digest = build_digest(store, config, config.recipients[0],
                          now=NOW + timedelta(minutes=62))
    assert digest.subject == "monitor: 0 new, 10 already alerted (Nuctech 10)"


def _window_around(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_quiet_hours_hold_alerts_until_the_window_ends(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    zone = "Asia/Tbilisi"
    quiet = _window_around(NOW, zone)
    config = config_with(write_config, notify_sink, quiet=quiet)
    config = config.model_copy(update={"daemon": config.daemon.model_copy(
        update={"timezone": zone})})
    # queued before the window, not yet sent when it starts
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    assert len(queue_alerts(store, config, now=NOW - timedelta(hours=3)).queued) == 1
    held = deliver(store, config, now=NOW, kinds=("alert",))
    # the email and the json row wait, and are not counted as stuck
    assert held.sent == [] and held.still_queued == 0
    assert [who for _, who in held.held] == ["ana@example.org"] * 2

    add_article(store, config, "2", "Nuctech scanners arrive")
    quiet_pass = queue_alerts(store, config, now=NOW)
    assert quiet_pass.queued == []
    [(who, count, why)] = quiet_pass.waiting
    assert (who, count) == ("ana@example.org", 1)
    end = quiet_until(quiet, NOW, zone)
    assert end is not None and why == f"quiet hours until {end:%Y-%m-%d %H:%M} UTC"
    assert notify_sink.attempts == 0

    after = NOW + timedelta(hours=1, minutes=5)
    assert len(queue_alerts(store, config, now=after).queued) == 1
    sent = deliver(store, config, now=after, kinds=("alert",))
    assert len(sent.sent) == 4  # both findings, email (file) and json each
    assert sorted(m["title"] for m in notify_sink.messages) == [
        "Nuctech: Nuctech scanners arrive", "Nuctech: Nuctech wins at Sarpi"]


def test_monitor_digest_says_alerts_held_by_quiet_hours_wait_and_exits_0(
        store: Store, state_dir: Path, tmp_path: Path, write_config: Callable[..., Config],
        notify_sink: NotifySink) -> None:
    """An alert queued before its recipient's quiet hours began waits in the outbox; a
    `monitor digest` in those hours sends the digest and neither calls the alert stuck nor
    fails."""
    now = datetime.now(UTC)  # the command's own clock; daemon.timezone is UTC by default
    config = config_with(write_config, notify_sink, quiet=_window_around(now, "UTC"))
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    assert len(queue_alerts(store, config, now=now - timedelta(hours=3)).queued) == 1

    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "sources.yaml"), "--state",
                                      str(state_dir), "digest"])

    assert result.exit_code == 0, result.output
    assert "2 alert message(s) held by quiet hours" in result.output
    assert "stuck" not in result.output
    assert notify_sink.attempts == 0
    assert [r.status for r in alerts_in_outbox(store)] == ["queued", "queued"]


def test_news_older_than_a_day_waits_for_the_digest(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    config = config_with(write_config, notify_sink)
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    assert queue_alerts(store, config, now=NOW + timedelta(hours=25)).queued == []
    assert len(queue_alerts(store, config, now=NOW + timedelta(hours=23)).queued) == 1


# -- with the digest ------------------------------------------------------------------------


def test_digest_marks_an_alerted_finding_already_alerted_and_tells_the_rest_as_new(
        store: Store, state_dir: Path, write_config: Callable[..., Config],
        notify_sink: NotifySink) -> None:
    config = config_with(write_config, notify_sink)
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    add_article(store, config, "2", "Hikvision cameras in Batumi", body="Hikvision again.")
    queue_alerts(store, config)
    deliver(store, config)

    digest = build_digest(store, config, config.recipients[0])
    assert digest.subject == "monitor: 1 new, 1 already alerted (Hikvision 1, Nuctech 1)"
    [hikvision, nuctech] = digest.sections
    assert nuctech.entries[0].alerted_at is not None and hikvision.entries[0].alerted_at is None
    text = render_text(digest)
    assert "== Nuctech: 0 new, 1 already alerted ==" in text
    assert "already alerted " in text and "(not new)" in text
    assert "== Hikvision: 1 new ==" in text
    assert "already alerted" in render_html(digest)

    # the digest delivers it all the same: never again, as new or as an alert
    [queued] = queue_digests(store, config, state_dir)
    assert queued.findings == 2
    assert build_digest(store, config, config.recipients[0]).sections == ()
    assert queue_alerts(store, config).queued == []


def test_a_finding_told_by_a_digest_first_is_not_alerted(
        store: Store, state_dir: Path, write_config: Callable[..., Config],
        notify_sink: NotifySink) -> None:
    config = config_with(write_config, notify_sink)
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    queue_digests(store, config, state_dir)
    assert queue_alerts(store, config).queued == []
    assert notify_sink.attempts == 0


def test_tender_alerts_only_for_the_events_asked_with_red_flags_and_the_web_link(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    config = write_config({
        "watches": [{"name": "Nuctech", "ids": ["GE-NAPR:404409497"], "alert": "immediate",
                     "on": ["awarded", "winner_changed"]}],
        "recipients": [{"email": "ana@example.org", "notify": [notify_sink.url()]}],
        "web": {"public_url": "https://monitor.example.org/"},
    })
    # a baseline is stored, not news; a new tender naming a bidder is not an award
    store_tender(store, config, tender(native_id="NAT1", bidders=(NUCTECH,)), baseline=True)
    store_tender(store, config, tender(native_id="NAT2", bidders=(NUCTECH, OTHER)))
    assert queue_alerts(store, config).queued == []
    # a value change is not asked for either
    store_tender(store, config, tender(native_id="NAT2", bidders=(NUCTECH, OTHER),
                                       value=2_500_000.0))
    assert queue_alerts(store, config).queued == []

    outcome = store_tender(store, config, tender(
        native_id="NAT2", status="complete", value=2_500_000.0, bidders=(NUCTECH, OTHER),
        winners=(NUCTECH,), award_value=2_450_000.0))
    store.save_flags(outcome.tender_id, outcome.version, [
        Flag("single_bid", "flagged", "single bid (lot 1: 1 bid of 1 received)"),
        Flag("short_period", "flagged", "submission period 6 days (threshold 15)")])
    [(_, _, subject, _)] = queue_alerts(store, config).queued
    assert subject == "Nuctech won: NAT2 X-ray inspection systems for customs checkpoints"
    deliver(store, config)
    [message] = notify_sink.messages
    lines = message["message"].split("\n")
    assert "awarded to Nuctech Company Limited (GE-NAPR:404409497)" in lines
    assert "RED FLAG: single bid (lot 1: 1 bid of 1 received)" in lines
    assert "RED FLAG: submission period 6 days (threshold 15)" in lines
    assert "buyer: Revenue Service (GE-NAPR:204385929)" in lines
    assert lines[-1] == f"https://monitor.example.org/tenders/{outcome.tender_id}"

    # the digest tells the tender (all its news since the first report) as already alerted
    digest = build_digest(store, config, config.recipients[0])
    [entry] = digest.tender_entries
    assert entry.alerted_at is not None and entry.novelty.startswith("already alerted ")
    assert "already alerted" in render_text(digest)


def test_rematch_and_baseline_findings_are_not_alerted(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    config = config_with(write_config, notify_sink)
    item = Item(source="civil_ge", key="old", url="https://civil.ge/old", title="Customs",
                text="Nuctech was here.", published_at=None,
                content_hash=content_hash("Customs", "x"))
    outcome = store.add(item, [])
    store.add_rematches(outcome.item_id, Matcher(config.watches).match(item))
    store_tender(store, config, tender(winners=(NUCTECH,)), baseline=True)
    assert queue_alerts(store, config).queued == []


def test_a_dismissed_finding_is_not_alerted(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    config = config_with(write_config, notify_sink)
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    [item_id] = {r.item_id for r in store.undelivered_matches("ana@example.org", ["Nuctech"])}
    store.set_triage("article", item_id, "not_relevant", user="nino")
    assert queue_alerts(store, config).queued == []


def test_recipient_with_channels_and_no_email_gets_alerts_and_no_digest(
        store: Store, state_dir: Path, write_config: Callable[..., Config],
        notify_sink: NotifySink) -> None:
    config = write_config({
        "watches": [{"name": "Nuctech"}],
        "recipients": [{"name": "desk", "notify": [notify_sink.url()], "alert": "immediate"}],
    })
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    [(_, who, _, _)] = queue_alerts(store, config).queued
    assert who == "desk"
    assert [r.channel for r in alerts_in_outbox(store)] == [f"notify:{notify_sink.url()}"]
    deliver(store, config)
    assert len(notify_sink.messages) == 1
    assert queue_digests(store, config, state_dir) == []


def test_an_alert_given_up_is_told_by_the_next_digest(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink) -> None:
    # Apprise knows no such service: a URL from the YAML that never works is given up
    config = config_with(write_config, notify_sink, notify=["nosuchservice://127.0.0.1/x"])
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    queue_alerts(store, config)
    report = deliver(store, config)
    [(outbox_id, _, error)] = report.given_up
    assert "Apprise does not understand nosuchservice://" in error
    digest = build_digest(store, config, config.recipients[0])
    text = render_text(digest)
    assert f"alert #{outbox_id} to ana@example.org via nosuchservice://127.0.0.1" in text
    assert "Not delivered" in render_html(digest)
    [failed] = status(store, config).outbox.failed
    assert (failed["kind"], failed["channel"]) == ("alert", "nosuchservice://127.0.0.1")


# -- the end of a crawl ---------------------------------------------------------------------


def test_after_crawl_puts_an_undelivered_alert_on_its_run_without_the_token(
        store: Store, write_config: Callable[..., Config], notify_sink: NotifySink,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = notify_sink.url(path=f"/hook/{TOKEN}")
    monkeypatch.setenv("DESK_URL", url)
    config = config_with(write_config, notify_sink, notify=[], notify_env=["DESK_URL"])
    run_id = store.start_run("civil_ge")
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    store.finish_run(run_id, RunResult(source="civil_ge", status="ok", run_id=run_id))
    notify_sink.mode = "500"

    report = after_crawl(store, config, [RunResult(source="civil_ge", status="ok",
                                                   run_id=run_id)])
    assert len(report.queue.queued) == 1 and report.sent == 1  # the email, as a file
    [(outbox_id, _, error)] = report.failed
    run = store.run(run_id)
    assert run is not None
    [warning] = run.warnings
    assert warning.startswith(f"alert #{outbox_id} to ana@example.org not delivered: "
                              "$DESK_URL: Failed to send JSON POST notification")
    assert warning.endswith("kept in the outbox, retried with back-off")
    digest = build_digest(store, config, config.recipients[0])
    text = render_text(digest)
    assert f"alert #{outbox_id} to ana@example.org via $DESK_URL" in text
    shown = [text, render_html(digest), error, warning,
             str(status(store, config).to_dict())]
    assert not any(TOKEN in s or url in s for s in shown)


def test_crawler_child_never_gets_a_notification_url() -> None:
    config = parse_config({"sources": [{"name": "kz", "kind": "portal",
                                        "portal": "goszakup",
                                        "url": "https://ows.goszakup.gov.kz",
                                        "token_env": "GOSZAKUP_TOKEN"}],
                           "recipients": [{"email": "a@example.org",
                                           "notify_env": ["DESK_URL"]}]})
    environ = {"PATH": "/usr/bin", "GOSZAKUP_TOKEN": "t", "DESK_URL": f"json://h/{TOKEN}"}
    child = _child_environment(environ, config.sources)
    assert child == {"PATH": "/usr/bin", "GOSZAKUP_TOKEN": "t"}


# -- monitor notify-test --------------------------------------------------------------------


def test_notify_test_reports_each_channel(
        tmp_path: Path, notify_sink: NotifySink, smtp_server: SmtpSink,
        monkeypatch: pytest.MonkeyPatch) -> None:
    broken = NotifySink()
    broken.mode = "500"
    try:
        monkeypatch.setenv("BROKEN_URL", broken.url(path=f"/hook/{TOKEN}"))
        config_path = tmp_path / "sources.yaml"
        config_path.write_text(yaml.safe_dump({
            "recipients": [{"email": "ana@example.org", "name": "Ana",
                            "notify": [notify_sink.url("form")],
                            "notify_env": ["BROKEN_URL", "UNSET_URL"]}],
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "security": "none"},
        }), "utf-8")
        runner = CliRunner()
        args = ["--config", str(config_path), "--state", str(tmp_path / "state")]
        result = runner.invoke(cli, [*args, "notify-test", "Ana"])
        assert result.exit_code == 1
        assert f"email: sent (smtp:127.0.0.1:{smtp_server.port})" in result.output
        assert f"form://127.0.0.1:{broken.port}" not in result.output
        assert f"form://127.0.0.1:{notify_sink.port}: sent" in result.output
        assert "$BROKEN_URL: FAILED: " in result.output and "error=500" in result.output
        assert "$UNSET_URL: FAILED: environment variable UNSET_URL" in result.output
        assert TOKEN not in result.output
        assert [m["title"] for m in notify_sink.messages] == ["monitor: test alert"]
        assert smtp_server.messages[0]["Subject"] == "monitor alert: monitor: test alert"
        # nothing went through the outbox
        with open_store(tmp_path / "state") as store:
            assert store.outbox() == []

        monkeypatch.delenv("BROKEN_URL")
        results = notify_test(parse_config({"recipients": [
            {"name": "desk", "notify": [notify_sink.url()]}]}), "desk", tmp_path)
        assert [(r.channel, r.error) for r in results] == [
            (f"json://127.0.0.1:{notify_sink.port}", None)]
    finally:
        broken.close()


def test_notify_test_unknown_recipient_is_a_config_error(tmp_path: Path) -> None:
    config_path = tmp_path / "sources.yaml"
    config_path.write_text("recipients: [{email: ana@example.org}]\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config_path), "--state",
                                      str(tmp_path / "state"), "notify-test", "bo"])
    assert result.exit_code == 2
    assert "no recipient 'bo' (recipients: ana@example.org)" in result.output


def test_check_config_warns_of_an_unset_notify_env_and_an_unknown_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SET_URL", f"nosuchservice://h/{TOKEN}")
    config_path = tmp_path / "sources.yaml"
    config_path.write_text(yaml.safe_dump({
        "sources": [{"name": "wire", "kind": "feed", "url": "https://example.org/feed"}],
        "recipients": [{"email": "ana@example.org",
                        "notify_env": ["UNSET_URL", "SET_URL"]}]}), "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config_path), "check-config"])
    assert result.exit_code == 0, result.output
    assert ("warning: recipient 'ana@example.org': the environment variable UNSET_URL "
            "(notify_env) is not set") in result.output
    assert ("warning: recipient 'ana@example.org': $SET_URL: Apprise does not understand "
            "nosuchservice://") in result.output
    assert TOKEN not in result.output
    assert os.environ["SET_URL"].endswith(TOKEN)


def test_after_crawl_with_smtp_unusable_keeps_alerts_queued_and_says_so_on_the_run(
        store: Store, write_config: Callable[..., Config], smtp_server: SmtpSink) -> None:
    data = {"watches": [{"name": "Nuctech", "alert": "immediate"}],
            "recipients": [{"email": "ana@example.org"}],
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "security": "none",
                     "username": "desk", "password_env": "UNSET_SMTP_PASSWORD"}}
    config = write_config(data)
    run_id = store.start_run("civil_ge")
    add_article(store, config, "1", "Nuctech wins at Sarpi")
    store.finish_run(run_id, RunResult(source="civil_ge", status="ok", run_id=run_id))
    report = after_crawl(store, config, [RunResult(source="civil_ge", status="ok",
                                                   run_id=run_id)])
    assert report.error is not None and "UNSET_SMTP_PASSWORD" in report.error
    run = store.run(run_id)
    assert run is not None and run.warnings[0].startswith("alerts not delivered: ")
    assert [r.status for r in alerts_in_outbox(store)] == ["queued"]
    assert smtp_server.messages == []
