"""What is new and wanted at once -> immediate messages in the outbox, one row per channel.

    store.undelivered_matches / undelivered_tenders (the last ALERT_MAX_AGE, not yet in a
    digest) - already alerted - not wanted (`alert`, `on`) - baseline, re-match, backfill
    -> findings (monitor.findings) -> one Alert per article or tender -> quiet hours and the
    hourly limit -> store.queue_alert (alerted marks and outbox rows in one transaction)

Nothing is lost by waiting: a finding held by quiet hours or the limit stays un-alerted, and
the next pass (the end of the next crawl, the daemon's outbox tick every minute) takes it; a
digest that goes first tells it as new, and then no alert repeats it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid

from monitor import notify
from monitor.alerts.message import (
    Alert,
    article_alert,
    email_bytes,
    email_message,
    fold,
    tender_alert,
)
from monitor.alerts.rules import LIMIT_WINDOW, alert_events, plan, quiet_until, wanted
from monitor.config import Config, Recipient
from monitor.digest.model import PRIORITY_ORDER
from monitor.findings.build import article_entries, tender_entry
from monitor.findings.model import DigestEntry, OtherWatch, TenderEntry, when
from monitor.mail import DEFAULT_SENDER
from monitor.store import Store

__all__ = ["ALERT_MAX_AGE", "QueueReport", "queue_alerts"]

# news older than this is no longer "immediate": it waits for the digest
ALERT_MAX_AGE = timedelta(hours=24)

_FOOTER = ("An immediate alert from monitor: your next digest shows this finding as "
           "\"already alerted\".")


@dataclass(slots=True)
class QueueReport:
    # (alert id, recipient, subject, findings)
    queued: list[tuple[int, str, str, int]] = field(default_factory=list)
    # (recipient, findings, why they wait: quiet hours, the hourly limit)
    waiting: list[tuple[str, int, str]] = field(default_factory=list)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def queue_alerts(store: Store, config: Config, *, now: datetime | None = None,
                 recipients: Sequence[str] | None = None) -> QueueReport:
    """Queue an immediate message for every finding that one of its recipients wants at
    once, on each of their channels; findings past a recipient's hourly limit fold into one
    message, and in their quiet hours nothing is queued. `now` is the clock the quiet hours
    and the limit read (a test's fake one)."""
    now = now or datetime.now(UTC)
    report = QueueReport()
    since = _iso(now - ALERT_MAX_AGE)
    backfill = store.backfill_run_ids(since)
    for recipient in config.recipients:
        if recipients is not None and recipient.key not in recipients:
            continue
        rules = {w.name: events for w in config.watches
                 if (events := alert_events(recipient, w))}
        if not rules:
            continue
        alerts = _articles(store, config, recipient, rules, since)
        alerts += _tenders(store, config, recipient, rules, since, backfill)
        if not alerts:
            continue
        held = quiet_until(recipient.quiet, now, config.daemon.timezone)
        if held is not None:
            report.waiting.append((recipient.key, len(alerts),
                                   f"quiet hours until {when(_iso(held))}"))
            continue
        limit_since = _iso(now - LIMIT_WINDOW)
        used = store.alerts_since(recipient.key, limit_since)
        singles, folded = plan(len(alerts), used, recipient.alert_limit)
        # the highest-priority watches, then the newest, get a message of their own
        alerts.sort(key=lambda a: a.date, reverse=True)
        alerts.sort(key=lambda a: a.priority)
        batch = alerts[:singles] + ([fold(alerts[singles:], recipient.alert_limit)]
                                    if folded else [])
        if not batch:
            report.waiting.append((recipient.key, len(alerts),
                                   f"alert_limit: {recipient.alert_limit} messages an hour"))
            continue
        for alert in batch:
            alert_id = _queue(store, config, recipient, alert, now, limit_since)
            if alert_id is None:
                # another process took the last free message meanwhile: the rest waits
                report.waiting.append((recipient.key, alert.findings, "alert_limit"))
                break
            if alert_id:
                report.queued.append((alert_id, recipient.key, alert.title, alert.findings))
    return report


def _articles(store: Store, config: Config, recipient: Recipient,
              rules: dict[str, frozenset[str]], since: str) -> list[Alert]:
    rows = [r for r in store.undelivered_matches(recipient.key, list(rules), since=since)
            # a baseline or a re-match of stored items is not news
            if r.origin == "crawl" and wanted(rules[r.watch], found=True)]
    alerted = store.alerted_matches(recipient.key, [r.match_id for r in rows])
    rows = [r for r in rows if r.match_id not in alerted]
    dismissed = store.dismissed("article", {r.item_id for r in rows})
    rows = [r for r in rows if r.item_id not in dismissed]
    entries: dict[int, DigestEntry] = {}  # item id -> the entry of its first watch
    for watch in _by_priority(config, rules):
        for entry in article_entries(watch, [r for r in rows if r.watch == watch]):
            host_id = next((i for i in entry.item_ids if i in entries), None)
            if host_id is None:
                for item_id in entry.item_ids:
                    entries[item_id] = entry
                continue
            host = entries[host_id]
            merged = replace(host, match_ids=host.match_ids + entry.match_ids,
                             other_watches=(*host.other_watches,
                                            OtherWatch(watch, entry.how)))
            for item_id in merged.item_ids:
                entries[item_id] = merged
    unique = {id(e): e for e in entries.values()}.values()
    return [article_alert(e, config.web.public_url, _priority(config, e.watch))
            for e in unique]


def _tenders(store: Store, config: Config, recipient: Recipient,
             rules: dict[str, frozenset[str]], since: str, backfill: set[int]) -> list[Alert]:
    by_tender: dict[int, list[TenderEntry]] = {}
    news = store.undelivered_tenders(recipient.key, list(rules), since=since)
    if not news:
        return []
    marks = store.alerted_tenders(recipient.key, [n.tender.id for n in news])
    dismissed = store.dismissed("tender", {n.tender.id for n in news})
    for item in news:
        if item.tender.id in dismissed:
            continue
        mark = marks.get((item.tender.id, item.watch))
        told_match, told_event = (mark.match_id, mark.event_id) if mark else (0, 0)
        matches = tuple(replace(m, new=(m.new and m.id > told_match and m.origin == "crawl"
                                        and m.run_id not in backfill))
                        for m in item.matches)
        events = tuple(e for e in item.events
                       if e.id > told_event and e.run_id not in backfill)
        found = any(m.new for m in matches)
        first = item.told_match == 0 and item.told_event == 0 and mark is None
        if not wanted(rules[item.watch], found=found, first=first,
                      kinds=[e.kind for e in events]):
            continue
        entry = tender_entry(replace(item, matches=matches, events=events), since)
        by_tender.setdefault(entry.tender_id, []).append(entry)
    order = {name: i for i, name in enumerate(_by_priority(config, rules))}
    alerts = []
    for entries in by_tender.values():
        entries.sort(key=lambda e: order[e.watch])
        alerts.append(tender_alert(entries, config.web.public_url,
                                   _priority(config, entries[0].watch)))
    return alerts


def _by_priority(config: Config, rules: dict[str, frozenset[str]]) -> list[str]:
    watches = [w for w in config.watches if w.name in rules]
    watches.sort(key=lambda w: (PRIORITY_ORDER[w.priority], w.name.casefold()))
    return [w.name for w in watches]


def _priority(config: Config, watch: str) -> int:
    return next((PRIORITY_ORDER[w.priority] for w in config.watches if w.name == watch), 1)


def _queue(store: Store, config: Config, recipient: Recipient, alert: Alert, now: datetime,
           limit_since: str) -> int | None:
    """One alert on every channel of the recipient: its id; None when the hourly limit was
    reached meanwhile; 0 when another process alerted of it first (or a digest took it)."""
    messages: list[tuple[str, str, bytes]] = []
    for channel in recipient.channels:
        if channel == notify.EMAIL and recipient.email:
            sender = config.smtp.sender if config.smtp else DEFAULT_SENDER
            msg = email_message(alert, to=recipient.email, name=recipient.name, sender=sender,
                                subject_prefix=config.digest.subject_prefix, footer=_FOOTER)
            messages.append((channel, str(msg["Message-ID"]), email_bytes(msg)))
        else:
            content = {"title": alert.title, "body": alert.body}
            messages.append((channel, make_msgid(domain="monitor.local"),
                             json.dumps(content, ensure_ascii=False).encode("utf-8")))
    try:
        return store.queue_alert(
            recipient=recipient.key, created_at=_iso(now), subject=alert.title,
            source=alert.source, messages=messages, match_ids=alert.match_ids,
            tenders=alert.tender_marks, findings=alert.findings, folded=alert.folded,
            limit=recipient.alert_limit, limit_since=limit_since)
    except sqlite3.IntegrityError:
        return 0
