"""Immediate alerts: news that cannot wait for the morning digest, sent when the crawl that
finds it ends, through the same outbox (exactly once, claims, retries) as digests.

    rules.py    who is alerted of what (`alert`, `on`), the hourly limit's plan
    message.py  findings -> short plain-text messages with the link; the fold; the email form
    queue.py    the store -> wanted, un-alerted findings -> outbox rows, one per channel
    send.py     after a crawl: queue, deliver, warn the runs; `monitor notify-test`

Channels: the recipient's email (SMTP, as digests) and Apprise URLs (monitor.notify). A
finding alerted is marked "already alerted" in the recipient's next digest.
"""

from monitor.alerts.message import Alert
from monitor.alerts.queue import ALERT_MAX_AGE, QueueReport, queue_alerts
from monitor.alerts.rules import alert_events, plan
from monitor.alerts.send import AlertReport, ChannelResult, after_crawl, notify_test

__all__ = [
    "ALERT_MAX_AGE",
    "Alert",
    "AlertReport",
    "ChannelResult",
    "QueueReport",
    "after_crawl",
    "alert_events",
    "notify_test",
    "plan",
    "queue_alerts",
]
