"""Who is alerted of what, when, and how many: pure functions over the config and a clock.

    alert_events  the news of a watch that alerts a recipient at once (`alert`, `on`)
    wanted        whether a piece of news is among them
    quiet_until   the end of the recipient's quiet window `now` falls in, if it does
                  (monitor.config.schedule: the daemon's outbox reads it too)
    plan          how many findings go one per message, and how many fold into one, when a
                  recipient has used part of their hourly `alert_limit`
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from monitor.config import Recipient, Watch, quiet_until

__all__ = ["LIMIT_WINDOW", "alert_events", "plan", "quiet_until", "wanted"]

# the span `alert_limit` counts messages over
LIMIT_WINDOW = timedelta(hours=1)


def alert_events(recipient: Recipient, watch: Watch) -> frozenset[str]:
    """The news of `watch` that alerts `recipient` at once; empty when none does (a watch
    they do not get, `alert: digest` on the recipient, or neither asks for `immediate`). The
    recipient's `alert` and `on`, when set, decide over the watch's."""
    if not recipient.wants(watch) or recipient.alert == "digest":
        return frozenset()
    if recipient.alert == "immediate":
        return frozenset(recipient.on or ("any",))
    if watch.alert == "immediate":
        return frozenset(watch.on or ("any",))
    return frozenset()


def wanted(events: frozenset[str], *, found: bool, first: bool = True,
           kinds: Iterable[str] = ()) -> bool:
    """Whether news alerts: `found`, the watch newly found in the article or tender (`first`:
    the recipient never heard of it before); `kinds`, the tender events it brings."""
    kinds = set(kinds)
    if "any" in events and (found or kinds):
        return True
    if "new" in events and found and first:
        return True
    return bool(events & kinds)


def plan(count: int, used: int, limit: int) -> tuple[int, int]:
    """(findings sent one per message, findings folded into one more message) of `count`
    new findings for a recipient who has had `used` of their `limit` messages this hour.
    Within the limit each finding is its own message; past it the last free message carries
    the rest ("and N more"); with none free, everything waits for the hour to move on."""
    free = max(0, limit - used)
    if count <= free:
        return count, 0
    if free == 0:
        return 0, 0
    return free - 1, count - (free - 1)
