"""When a crawl ends: queue its alerts and deliver them, and say on the crawl's runs what
could not be delivered; and `monitor notify-test`: one test message to each channel.

The sender runs in the parent process (the CLI, the daemon), never in the crawler child:
the child gets no notification URL and no token (monitor.crawl.process builds its
environment from an allow list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from monitor import mail, notify
from monitor.alerts.message import email_bytes, email_message, test_alert
from monitor.alerts.queue import QueueReport, queue_alerts
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.mail import DEFAULT_SENDER, DeliveryReport
from monitor.models import RunResult
from monitor.redact import redact
from monitor.store import Store

__all__ = ["AlertReport", "ChannelResult", "after_crawl", "notify_test"]


@dataclass(slots=True)
class AlertReport:
    queue: QueueReport = field(default_factory=QueueReport)
    delivery: DeliveryReport | None = None
    # why nothing could be delivered at all (an SMTP password's variable unset, ...)
    error: str | None = None

    @property
    def sent(self) -> int:
        return len(self.delivery.sent) if self.delivery else 0

    @property
    def failed(self) -> list[tuple[int, str, str]]:
        return self.delivery.failed if self.delivery else []


def after_crawl(store: Store, config: Config, results: Sequence[RunResult], *,
                now: datetime | None = None) -> AlertReport:
    """Queue the alerts of everything new (this crawl's findings, and any an earlier pass
    left un-alerted), deliver every alert that is due, and add a warning to this crawl's
    runs for each one that could not be delivered (`monitor status`, the digest's
    Coverage). Digests are left to their schedule."""
    report = AlertReport(queue=queue_alerts(store, config, now=now))
    if report.queue.queued or any(r.kind == "alert"
                                  for r in store.queued_messages(due_only=True)):
        try:
            report.delivery = mail.deliver(store, config, force=False, kinds=("alert",),
                                           now=now)
        except MonitorError as exc:
            # the alerts stay queued; the crawl's runs and its caller say why
            report.error = redact(str(exc), notify.urls(config))
            for run_id in {r.run_id for r in results if r.run_id is not None}:
                store.add_run_warning(run_id, f"alerts not delivered: {report.error}; they "
                                              "stay in the outbox")
            return report
        _warn(store, results, report.delivery)
    return report


def _warn(store: Store, results: Sequence[RunResult], delivery: DeliveryReport) -> None:
    runs = {r.source: r.run_id for r in results if r.run_id is not None}
    if not runs or not delivery.failed:
        return
    sources = store.alert_sources(list({delivery.alerts.get(f[0], 0) for f in delivery.failed}))
    given_up = {entry[0] for entry in delivery.given_up}
    for outbox_id, recipient, error in delivery.failed:
        then = ("given up (kept in the outbox as failed)" if outbox_id in given_up
                else "kept in the outbox, retried with back-off")
        warning = f"alert #{outbox_id} to {recipient} not delivered: {error}; {then}"
        source = sources.get(delivery.alerts.get(outbox_id, 0))
        for run_id in ([runs[source]] if source in runs else runs.values()):
            store.add_run_warning(run_id, warning)


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: str  # its label: never a secret
    error: str | None  # None: accepted
    via: str = ""


def notify_test(config: Config, recipient: str, state_dir: str | Path, *,
                environ: Mapping[str, str] | None = None) -> list[ChannelResult]:
    """Send a test message to every channel of `recipient` (email and `notify` /
    `notify_env`), now and without the outbox, and say how each went."""
    chosen = config.recipient(recipient)
    alert = test_alert(chosen.key)
    secrets = notify.urls(config, environ)
    results = []
    for channel in chosen.channels:
        name = notify.label(channel)
        if channel == notify.EMAIL and chosen.email:
            sender = config.smtp.sender if config.smtp else DEFAULT_SENDER
            msg = email_message(alert, to=chosen.email, name=chosen.name, sender=sender,
                                subject_prefix=config.digest.subject_prefix)
            via, error = mail.send_now(config, chosen.email, email_bytes(msg), state_dir)
            results.append(ChannelResult(name, error, via))
            continue
        try:
            url = notify.resolve(channel, environ, chosen.key)
        except MonitorError as exc:
            results.append(ChannelResult(name, str(exc)))
            continue
        error = notify.check(url) or notify.send(url, alert.title, alert.body,
                                                 secrets=secrets)
        results.append(ChannelResult(name, redact(error, secrets) if error else None))
    return results
