"""`sources:`: what to crawl, one model for every kind (feed, page, sitemap, portal)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from monitor.config.schedule import DEFAULT_REVISIT
from monitor.config.types import RevisitPolicy, Schedule, Slug, Url, _Frozen


class Selectors(_Frozen):
    """Where a `page` source finds things. CSS by default; a value starting with `/` or `(` is
    XPath. Missing title/date fall back to the page's metadata, a missing body to trafilatura."""

    links: str
    title: str | None = None
    date: str | None = None
    body: str | None = None
    next_page: str | None = None


PORTALS = ("prozorro", "ocds", "ted", "georgia_spa", "goszakup")
# keys that only `portal` sources take


# keys that only `portal` sources take
_PORTAL_KEYS = ("portal", "since", "token_env", "page_size")


class Source(_Frozen):
    """One site to crawl."""

    name: Slug
    kind: Literal["feed", "page", "sitemap", "portal"]
    url: Url | None = None
    urls: tuple[Url, ...] = ()
    enabled: bool = True
    tags: tuple[str, ...] = ()
    schedule: Schedule | None = None
    language: str | None = None
    # feed: also fetch each entry's link and extract the article's full text
    follow_links: bool = False
    # page: how to read the listing and the article pages
    selectors: Selectors | None = None
    # page: listing pages to follow through selectors.next_page
    max_pages: int = Field(default=1, ge=1, le=100)
    # sitemap: only URLs whose lastmod is this recent
    max_age_days: float = Field(default=3, gt=0)
    # any kind: stop after this many articles per run (a guard against runaway listings)
    max_items: int = Field(default=500, ge=1)
    # page, sitemap, feed with follow_links: when an article already stored is fetched
    # again: [1h, 1d, 7d] after it was first seen (then never), `always`, or `never`; a
    # feed entry or sitemap URL listed with a newer date is fetched again at once
    revisit: RevisitPolicy = DEFAULT_REVISIT
    # hard time limit of one run in seconds (the daemon kills it and records `timeout`);
    # default: daemon.crawl_timeout
    timeout: float | None = Field(default=None, gt=0)
    # false: do not ask this site's robots.txt (default: crawl.obey_robots). For public
    # records that a site's blanket `Disallow: /` would otherwise hide (a procurement
    # portal whose data the law makes public); keep crawl.delay polite
    obey_robots: bool | None = None
    # portal: which procurement system's API `url` is (its base, e.g.
    # https://public-api.prozorro.gov.ua/api/2.5)
    portal: Literal["prozorro", "ocds", "ted", "georgia_spa", "goszakup"] | None = None
    # portal: a backfill: the first run reads records changed since this date and alerts on
    # them; without it the first run is a silent baseline and later runs read what changed
    since: date | None = None
    # portal (goszakup): the NAME of the environment variable holding the API token
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # portal: records per API page; default: the portal's own
    page_size: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _kind_fields(self) -> Source:
        if self.kind == "portal":
            self._portal_fields()
        else:
            for key in _PORTAL_KEYS:
                if getattr(self, key) is not None:
                    raise ValueError(f"`{key}` only applies to `portal` sources, not `{self.kind}`")
        if (self.url is None) == (not self.urls):
            raise ValueError("give exactly one of `url` or `urls`")
        if self.kind == "page" and self.selectors is None:
            raise ValueError("a `page` source needs `selectors` (at least `links`)")
        if self.kind != "page" and self.selectors is not None:
            raise ValueError(f"`selectors` only apply to `page` sources, not `{self.kind}`")
        if self.kind != "feed" and self.follow_links:
            raise ValueError("`follow_links` only applies to `feed` sources")
        if self.revisit != DEFAULT_REVISIT and not self.fetches_articles:
            raise ValueError("`revisit` only applies to sources that fetch article pages: "
                             f"`page`, `sitemap`, `feed` with `follow_links`, not `{self.kind}`"
                             + ("" if self.kind != "feed" else " without follow_links"))
        return self

    @property
    def fetches_articles(self) -> bool:
        """Whether the source fetches article pages it links to (which `revisit` governs)."""
        return self.kind in ("page", "sitemap") or (self.kind == "feed" and self.follow_links)

    def _portal_fields(self) -> None:
        if self.portal is None:
            raise ValueError(f"a `portal` source needs `portal` (one of {', '.join(PORTALS)})")
        if self.urls or self.url is None:
            raise ValueError("a `portal` source takes one `url`: the API's base URL")
        if self.portal == "goszakup" and not self.token_env:
            raise ValueError("a `goszakup` source needs `token_env`: the name of the "
                             "environment variable that holds its API token")
        if self.token_env and self.portal != "goszakup":
            raise ValueError(f"`token_env` only applies to `goszakup`, not `{self.portal}`")

    @property
    def start_urls(self) -> tuple[str, ...]:
        return (self.url,) if self.url else self.urls
