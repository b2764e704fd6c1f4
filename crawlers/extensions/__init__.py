"""Scrapy extensions: what a crawl does around its items (the run's record, the source's state
from earlier runs)."""
