"""News sitemaps: recent URLs from a sitemap (or sitemap index), then their articles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lxml import etree

from crawlers.spiders.base import SourceSpider
from monitor.normalise import parse_date

if TYPE_CHECKING:
    from scrapy.http import Response


class Sitemap(SourceSpider):
    """
    Reads
      An XML sitemap, a Google News sitemap or a sitemap index (`kind: sitemap`), gzipped or
      not, and the article pages it lists.
    Filters
      Only URLs whose `<lastmod>` (or `<news:publication_date>`) is within `max_age_days`;
      a sitemap index's child sitemaps likewise by their `<lastmod>`. URLs without any date
      are taken, up to `max_items`.
    Items
      Title from `<news:title>` when present, else from the page; text by trafilatura.
    Revisits
      A URL already stored is fetched again only when due (`revisit:`, by default 1 h, 1 day
      and 7 days after it was first seen) or when its `<lastmod>` moved, with a conditional
      request (ETag / Last-Modified).
    Caveats
      Big general sitemaps list every page a site ever had: point this at the news sitemap.
    """

    name = "sitemap"

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.start_urls:
            yield self.request(url, self.parse_sitemap, entry=True)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        """Expects `<urlset>` or `<sitemapindex>` XML."""
        self.fetched += 1
        body = response.body
        if body[:2] == b"\x1f\x8b":
            from scrapy.utils.gz import gunzip

            body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        # recover mode reads what it can of a damaged file; its error log says what was lost
        parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.XMLSyntaxError as exc:
            root = None
            problem = str(exc)
        else:
            problem = "empty document"
        entry = bool(response.meta.get("monitor_entry"))
        if root is None:
            self.record_error(f"malformed sitemap at {response.url}: {problem}", entry=entry)
            return
        fatal = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
        if fatal:
            # what could be read is used, but the run says the file was damaged
            self.record_error(f"damaged sitemap at {response.url} (line {fatal[0].line}: "
                              f"{fatal[0].message}); read what was readable")
        kind = etree.QName(root).localname
        if kind not in ("urlset", "sitemapindex"):
            self.record_error(
                f"not a sitemap at {response.url}: root element <{kind}>", entry=entry
            )
            return
        cutoff = datetime.now(UTC) - timedelta(days=self.source.max_age_days)
        for node in root:
            if not isinstance(node.tag, str):
                continue
            fields = _fields(node)
            loc = fields.get("loc")
            if not loc:
                continue
            when = parse_date(fields.get("publication_date") or fields.get("lastmod"))
            if when and datetime.fromisoformat(when) < cutoff:
                continue
            if kind == "sitemapindex":
                yield self.request(response.urljoin(loc), self.parse_sitemap)
                continue
            request = self.follow(
                response.urljoin(loc), self.parse_article, listed_at=fields.get("lastmod"),
                cb_kwargs={"title": fields.get("title"), "published": when},
            )
            if request is None:
                continue  # stored and not due again (counted in the run)
            if not self.take_article():
                continue  # counted: the run says how many were left unread
            yield request

    async def parse_article(self, response: Response, title: str | None,
                      published: str | None) -> AsyncIterator[Any]:
        """Expects an HTML article page."""
        yield self.unchanged(response) or await self.article(
            response, title=title, published=published
        )


def _fields(node: Any) -> dict[str, str]:
    """Text of an entry's descendants by local name (loc, lastmod, news:title, ...)."""
    fields: dict[str, str] = {}
    for child in node.iter():
        if child is node or not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if child.text and child.text.strip() and name not in fields:
            fields[name] = child.text.strip()
    return fields
