"""Downloader middlewares: honour `Retry-After`, which Scrapy's RetryMiddleware ignores, and
turn a redirect that goes nowhere into an error that names the chain. A spider middleware:
attach to every record the response it was read from, as evidence."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from w3lib.url import safe_url_string

from monitor.models import CapturedResponse, ScrapedItem, TenderRecord
from monitor.normalise import canonical_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# a server asking for more than this is effectively down for this run: report, don't wait
MAX_WAIT_S = 300.0


def retry_after_seconds(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime form and "-0000": HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


class RetryAfterMiddleware:
    """On 429 or 503 with a Retry-After header, wait that long (this request only) and retry,
    at most RETRY_TIMES times; a wait above MAX_WAIT_S gives the response to the spider as
    an error instead. Either way RetryMiddleware does not retry it on top.

    A request can carry a default wait in `meta["monitor_retry_after_default"]` (seconds) for
    servers that say "slow down" without a Retry-After header (portal APIs): it is used as if
    the header had said so."""

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler.settings.getint("RETRY_TIMES"))

    async def process_request(self, request: Request) -> None:
        wait = request.meta.pop("monitor_retry_after", None)
        if wait:
            await asyncio.sleep(wait)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in (429, 503):
            return response
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        # whose wait it is, for the log: a wrong guess of ours must not read as the server's
        why = "as Retry-After asks"
        if wait is None:
            wait = request.meta.get("monitor_retry_after_default")
            why = "the default back-off: no Retry-After header"
        if wait is None:
            return response  # RetryMiddleware's plain retry applies
        tries = request.meta.get("monitor_retry_after_times", 0)
        if tries >= self.max_retries or wait > MAX_WAIT_S:
            logger.warning(
                "Giving up on %s: HTTP %s, wait %gs (%s) (try %s)",
                request.url, response.status, wait, why, tries + 1,
            )
            # the server said when to come back; RetryMiddleware's immediate retries would
            # ignore that and add requests it asked us not to send
            request.meta["dont_retry"] = True
            return response
        logger.info("HTTP %s at %s: waiting %.0fs (%s)", response.status, request.url, wait,
                    why)
        meta: dict[str, Any] = {
            "monitor_retry_after_times": tries + 1,
            "monitor_retry_after": wait,
        }
        return request.replace(meta={**request.meta, **meta}, dont_filter=True)


class RedirectError(IgnoreRequest):
    """Raised when a response redirects in a loop, too many times, or to a URL that is not
    http(s), from `RedirectGuardMiddleware`; the request's errback records it."""


class RedirectGuardMiddleware:
    """Before Scrapy's RedirectMiddleware follows a redirect, check where it leads. A loop
    (A -> B -> A) is otherwise dropped in silence by the duplicate filter, and a moved feed
    then looks like a quiet week: `ok`, 0 fetched, forever. A loop, a chain longer than
    REDIRECT_MAX_TIMES and a redirect to another scheme (ftp:, javascript:) are errors."""

    _CODES = frozenset({301, 302, 303, 307, 308})

    def __init__(self, max_times: int) -> None:
        self.max_times = max_times

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectGuardMiddleware:
        return cls(crawler.settings.getint("REDIRECT_MAX_TIMES"))

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get("Location")
        if (response.status not in self._CODES or not location
                or request.meta.get("dont_redirect")):
            return response
        target = urljoin(request.url, safe_url_string(location.decode("latin-1").strip()))
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if urlsplit(target).scheme not in ("http", "https"):
            raise RedirectError(f"redirect to a non-http URL: {_chain([*chain, target])}")
        if canonical_url(target) in {canonical_url(url) for url in chain}:
            raise RedirectError(f"redirect loop: {_chain([*chain, target])}")
        if len(chain) > self.max_times:
            raise RedirectError(f"too many redirects ({len(chain)}): {_chain([*chain, target])}")
        return response


def _chain(urls: list[str]) -> str:
    shown = urls if len(urls) <= 6 else [*urls[:3], f"... ({len(urls) - 5} more)", *urls[-2:]]
    return " -> ".join(shown)


def capture_of(response: Response) -> CapturedResponse:
    """The response as evidence: its bytes as received (Scrapy has undone gzip and chunking
    and dropped Content-Encoding), the URL asked for (a redirect's first), the final URL,
    status, headers and the time now."""
    return CapturedResponse(
        url=(response.meta.get("redirect_urls") or [response.url])[0],
        final_url=response.url, status=response.status,
        headers=tuple((name.decode("latin-1"), value.decode("latin-1"))
                      for name, values in response.headers.items() for value in values),
        fetched_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        body=response.body)


class CaptureMiddleware(BaseSpiderMiddleware):
    """Attaches to every article and tender record a spider yields the response it was read
    from, kept by the store pipeline as evidence (`monitor.evidence`): a feed entry gets the
    feed, an article its page, a tender the API response. Markers of unchanged records get
    none. Off in a dry run, which stores nothing, and with `evidence.keep: none`."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureMiddleware:
        if (crawler.settings.getbool("MONITOR_DRY_RUN")
                or not crawler.settings.getbool("MONITOR_CAPTURE", True)):
            raise NotConfigured
        return cls(crawler)

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        # a feed's or a search page's records share their response: captured (hashed) once
        self._last: tuple[Response, CapturedResponse] | None = None

    def _capture(self, response: Response) -> CapturedResponse:
        if self._last is None or self._last[0] is not response:
            self._last = (response, capture_of(response))
        return self._last[1]

    def get_processed_item(self, item: Any, response: Response | None) -> Any:
        if response is None or getattr(item, "unchanged", True) or response.status == 304:
            return item
        if isinstance(item, ScrapedItem) and item.capture is None:
            return replace(item, capture=self._capture(response))
        if isinstance(item, TenderRecord) and not item.captures:
            # responses read earlier in the record's chain, then the one that completed it
            earlier = tuple(response.meta.get("monitor_captures", ()))
            return replace(item, captures=(*earlier, self._capture(response)))
        return item
