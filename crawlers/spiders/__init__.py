"""Spiders: one per source kind (`feed`, `page`, `sitemap`), later one per portal."""

from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feed import Feed
from crawlers.spiders.page import Page
from crawlers.spiders.sitemap import Sitemap

# source `kind` -> spider class
SPIDERS: dict[str, type[SourceSpider]] = {s.name: s for s in (Feed, Page, Sitemap)}

__all__ = ["SPIDERS", "Feed", "Page", "Sitemap", "SourceSpider"]
