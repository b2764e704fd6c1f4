"""Spiders: one per generic source kind (`feed`, `page`, `sitemap`) and one per procurement
portal (`kind: portal` with `portal: prozorro`, `ocds`, ...)."""

from __future__ import annotations

from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feed import Feed
from crawlers.spiders.georgia_spa import GeorgiaSpa
from crawlers.spiders.goszakup import Goszakup
from crawlers.spiders.ocds import Ocds
from crawlers.spiders.page import Page
from crawlers.spiders.portal_base import PortalSpider
from crawlers.spiders.prozorro import Prozorro
from crawlers.spiders.sitemap import Sitemap
from crawlers.spiders.ted import Ted
from monitor.config import Source

# spider name -> class: a source `kind`, or for `kind: portal` the `portal:` value
SPIDERS: dict[str, type[SourceSpider]] = {
    s.name: s for s in (Feed, Page, Sitemap, Prozorro, Ocds, Goszakup, Ted, GeorgiaSpa)
}


def spider_for(source: Source) -> type[SourceSpider]:
    """The spider class that crawls `source` (config validation allows no other kinds)."""
    return SPIDERS[source.portal if source.kind == "portal" and source.portal else source.kind]


__all__ = ["SPIDERS", "Feed", "GeorgiaSpa", "Goszakup", "Ocds", "Page", "PortalSpider",
           "Prozorro", "Sitemap", "SourceSpider", "Ted", "spider_for"]
