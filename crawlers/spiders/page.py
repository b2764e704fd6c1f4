"""News sites without a feed: a listing page and its articles, read by selectors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawlers.spiders.base import SourceSpider, select, text_of

if TYPE_CHECKING:
    from scrapy.http import Response


class Page(SourceSpider):
    """
    Reads
      A listing page (`kind: page`, `url` or `urls`) whose links lead to articles.
    Selectors (sources.yaml `selectors:`; CSS, or XPath when starting with `/` or `(`)
      links      the article links on the listing (elements with href, or href strings)
      title      the article's headline (default: the page's metadata / <h1>)
      date       its publication date; `datetime` and `content` attributes are read first
      body       its text (default: trafilatura's main-text extraction)
      next_page  the listing's "older" link, followed up to `max_pages` listing pages
    Revisits
      An article already stored is fetched again only when due (`revisit:`, by default 1 h,
      1 day and 7 days after it was first seen), with a conditional request; `revisit:
      always` for pages that are themselves the thing watched.
    Caveats
      A listing where `links` matches nothing fails the run: the site's layout has changed,
      and silence would look like "no news". Update the selector with
      `monitor test-source NAME`.
    """

    name = "page"

    def __init__(self, source_name: str = "", **kwargs: Any) -> None:
        super().__init__(source_name, **kwargs)
        # an article linked from two listing pages is fetched once
        self.seen_links: set[str] = set()

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.start_urls:
            yield self.request(url, self.parse_listing, entry=True, meta={"listing_page": 1})

    def parse_listing(self, response: Response) -> Iterator[Any]:
        """Expects an HTML page with article links."""
        selectors = self.source.selectors
        assert selectors is not None  # config validation guarantees it for `page`
        _, selector = self.decode(response)
        links = []
        for result in select(selector, selectors.links):
            href = result.root if isinstance(result.root, str) else result.attrib.get("href")
            if not href or not href.strip() or href.strip().startswith("#"):
                continue
            link = response.urljoin(href.strip())
            # mailto:, tel:, javascript: and the like are not articles
            if urlsplit(link).scheme in ("http", "https"):
                links.append(link)
        if not links:
            self.record_error(
                f"selectors.links {selectors.links!r} matched no links on {response.url}",
                entry=bool(response.meta.get("monitor_entry")),
            )
            return
        for link in dict.fromkeys(links):
            if link in self.seen_links:
                continue
            self.seen_links.add(link)
            request = self.follow(link, self.parse_article)
            if request is None:
                continue  # stored and not due again (counted in the run)
            if not self.take_article():
                continue  # counted: the run says how many were left unread
            yield request
        page = response.meta.get("listing_page", 1)
        if self.left_unread:
            return  # the budget is spent: further listing pages would only be counted
        if selectors.next_page and page < self.source.max_pages:
            next_url = text_of(select(selector, selectors.next_page), ("href",))
            if next_url:
                yield self.request(response.urljoin(next_url), self.parse_listing,
                                   meta={"listing_page": page + 1})

    async def parse_article(self, response: Response) -> AsyncIterator[Any]:
        """Expects an HTML article page."""
        yield self.unchanged(response) or await self.article(response)
