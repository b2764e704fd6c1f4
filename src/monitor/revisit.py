"""When an article already stored is fetched again: the revisit policy.

A listing or a feed links to the same articles crawl after crawl. Fetching each of them every
time is the load of a scraper, and the crawl grows with the history instead of the news. Edits
and corrections come early, so a stored article is due again at about 1 h, 1 day and 7 days
after it was first seen, then never (a source sets `revisit:`); a feed entry or sitemap URL
whose `updated` / `lastmod` moved since the article was last fetched is due at once. A due
revisit is a conditional request (ETag / Last-Modified): unchanged, it costs a 304.

    is_due(policy, page, now, listed_at)  whether to fetch a stored article again

The policy itself (`Revisit`, `[1h, 1d, 7d]` by default) is read with the config
(`monitor.config.schedule.parse_revisit`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from monitor.config.schedule import Revisit
from monitor.store.rows import KnownPage

__all__ = ["is_due"]

def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:  # RSS dates are RFC 822
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None  # a listed date nobody can read does not make a page due
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_due(policy: Revisit, page: KnownPage | None, now: datetime,
           listed_at: str | None = None) -> bool:
    """Whether to fetch an article now. Never stored: yes. Listed with an `updated` date
    later than when it was last fetched (or than the date listed then): yes, whatever the
    policy but `never`. Else `always` / `never`, or whether one of the policy's times since it
    was first seen has passed since it was last fetched."""
    if page is None or policy.mode == "always":
        return True
    if policy.mode == "never":
        return False
    fetched = _when(page.fetched_at)
    listed = _when(listed_at)
    if listed is not None:
        # the date listed last time, else when we last fetched it
        reference = _when(page.listed_at) or fetched
        if reference is None or listed > reference:
            return True
    first = _when(page.first_seen_at)
    if first is None or fetched is None:
        return True
    return any(fetched < first + after <= now for after in policy.after)
