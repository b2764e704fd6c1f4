"""Spiders: one per generic source kind (`feed`, `page`, `sitemap`), on `SourceSpider`
(`base`). The procurement-portal spiders (`kind: portal`) live in `crawlers.portals`;
`crawlers.registry` finds the spider of any source."""

from __future__ import annotations

from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feed import Feed
from crawlers.spiders.page import Page
from crawlers.spiders.sitemap import Sitemap

__all__ = ["Feed", "Page", "Sitemap", "SourceSpider"]
