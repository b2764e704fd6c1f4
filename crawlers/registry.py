"""Which spider crawls a source: the generic spiders (`crawlers.spiders`) by source `kind`,
the portal spiders (`crawlers.portals`) by `portal:` value."""

from __future__ import annotations

from crawlers.portals.georgia_spa.spider import GeorgiaSpa
from crawlers.portals.goszakup.spider import Goszakup
from crawlers.portals.ocds.spider import Ocds
from crawlers.portals.prozorro.spider import Prozorro
from crawlers.portals.ted.spider import Ted
from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feed import Feed
from crawlers.spiders.page import Page
from crawlers.spiders.sitemap import Sitemap
from monitor.config import Source

# spider name -> class: a source `kind`, or for `kind: portal` the `portal:` value
SPIDERS: dict[str, type[SourceSpider]] = {
    s.name: s for s in (Feed, Page, Sitemap, Prozorro, Ocds, Goszakup, Ted, GeorgiaSpa)
}


def spider_for(source: Source) -> type[SourceSpider]:
    """The spider class that crawls `source` (config validation allows no other kinds)."""
    return SPIDERS[source.portal if source.kind == "portal" and source.portal else source.kind]
