"""RSS and Atom feeds."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from xml.sax import SAXParseException

import feedparser

from crawlers.middlewares import capture_of
from crawlers.spiders.base import CHARSET, SourceSpider
from monitor.models import ScrapedItem
from monitor.normalise import canonical_url, decode_html, looks_misdecoded

if TYPE_CHECKING:
    from scrapy.http import Response
    from twisted.python.failure import Failure

_XML_ENCODING = re.compile(rb"""^\s*(?:\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)""")


class Feed(SourceSpider):
    """
    Reads
      Any RSS 0.9x/2.0, RDF or Atom feed (`kind: feed`), through feedparser.
    Items
      One per entry: title, summary (or full content), date, link; the entry's guid is its
      identity, so an edited entry is a new version of the same item, not a new item.
    With `follow_links: true`
      Also fetches each entry's link and extracts the article's main text with trafilatura
      (navigation, sidebars and footers left out; a body that advertisements split into
      several containers is taken whole); the feed's summary is kept when the page yields
      no text. A linked article already stored is fetched again only when due
      (`revisit:`, by default 1 h, 1 day and 7 days after it was first seen) or when its
      entry's `updated` date moved, with a conditional request (ETag / Last-Modified).
      When an article page cannot be read (an HTTP error, a timeout, a refused connection,
      bot protection, robots.txt), the entry's own title and summary become the item, so a
      watch named in the summary still alerts; the failed fetch is in the run's errors (run
      `partial`). The page is asked for again at every crawl that lists the entry until it
      is read, and its text then becomes a new version of the same item. A page read before
      that fails on a revisit keeps its stored text (404 or 410: marked taken down).
    Caveats
      A feed that is not XML, or that has no entries and a parse error, fails the run.
      Feeds show only their latest entries: crawl them more often than they roll over.
    """

    name = "feed"

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.start_urls:
            yield self.request(url, self.parse_feed, entry=True)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        """Expects an XML feed document; the charset comes from the XML declaration."""
        self.fetched += 1
        parsed = feedparser.parse(*_document(response))
        if not parsed.entries and (parsed.bozo or not parsed.version):
            problem = parsed.get("bozo_exception") or "no RSS or Atom entries found"
            self.record_error(f"malformed feed at {response.url}: {problem}", entry=True)
            return
        if isinstance(parsed.get("bozo_exception"), SAXParseException):
            # entries before the damage were read; say the feed was damaged (run: partial)
            self.record_error(f"damaged feed at {response.url}: {parsed.bozo_exception}; "
                              f"read {len(parsed.entries)} entries")
        # the feed is the evidence of items built from its entries alone (their pages failed)
        meta = ({"monitor_feed_capture": capture_of(response)}
                if self.source.follow_links and self._capturing() else None)
        for entry in parsed.entries:
            if not self.take_article():
                continue  # counted: the run says how many were left unread
            link = entry.get("link") or ""
            if link:
                link = response.urljoin(link)
            guid = entry.get("id") or link or None
            summary = _content(entry)
            published = entry.get("published") or entry.get("updated") or entry.get("created")
            if not link and not guid:
                self.record_error(f"feed entry without link or id at {response.url}")
                continue
            if self.source.follow_links and link:
                request = self.follow(
                    # dict.get: feedparser's own would map a missing `updated` to `published`
                    link, self.parse_article, listed_at=dict.get(entry, "updated") or published,
                    cb_kwargs={"title": entry.get("title"), "published": published,
                               "native_id": guid, "summary": summary},
                    errback=self.on_article_error, meta=meta,
                )
                if request is not None:  # else stored and not due again (counted)
                    yield request
            else:
                yield ScrapedItem(
                    source=self.source.name, url=link or response.url,
                    title=entry.get("title", ""), body=summary, published=published,
                    native_id=guid, language=self.source.language,
                )

    async def parse_article(self, response: Response, title: str | None, published: str | None,
                      native_id: str | None, summary: str) -> AsyncIterator[ScrapedItem]:
        """Expects the HTML article an entry links to."""
        yield self.unchanged(response) or await self.article(
            response, title=title, published=published, native_id=native_id,
            fallback_body=summary,
        )

    def on_article_error(self, failure: Failure) -> list[ScrapedItem]:
        """An article page that could not be read: the failure goes to the run's errors, and
        the feed entry's own title and summary (the request's `cb_kwargs`) are the item, at
        the article's URL, unless the page was read before (its stored text stays). Its
        evidence is the feed, not what the page answered (a challenge page, an error)."""
        self.on_error(failure)
        request = failure.request  # type: ignore[attr-defined]
        # the link as the feed gave it, not where a redirect led before the failure
        asked = (request.meta.get("redirect_urls") or [request.url])[0]
        known = self.known_pages.get(canonical_url(asked))
        if known is not None and known.raw_hash is not None:
            return []
        entry = request.cb_kwargs
        return [ScrapedItem(
            source=self.source.name, url=asked, title=entry.get("title") or "",
            body=entry.get("summary") or "", published=entry.get("published"),
            native_id=entry.get("native_id"), language=self.source.language,
            capture=request.meta.get("monitor_feed_capture"),
        )]

    def _capturing(self) -> bool:
        """Whether this crawl keeps evidence: `CaptureMiddleware`'s own rule."""
        settings = self.crawler.settings
        return (not settings.getbool("MONITOR_DRY_RUN")
                and settings.getbool("MONITOR_CAPTURE", True))


def _document(response: Response) -> tuple[bytes, dict[str, str]]:
    """The feed's bytes and the Content-Type for feedparser, so that it decodes the text the
    way the author wrote it. Servers label feeds iso-8859-1 by default, and windows-1251
    feeds arrive labelled utf-8 with no encoding in the XML declaration: feedparser would
    fall back to windows-1252 and store mojibake without an error. A declaration that the
    bytes contradict (not valid in it, or mojibake in it) is replaced by what the bytes say
    (`monitor.normalise.decode_html`), and the feed re-encoded as UTF-8."""
    content_type = response.headers.get("Content-Type", b"").decode("latin-1")
    media_type = content_type.partition(";")[0].strip() or "application/xml"
    body = response.body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # valid UTF-8 is the author's own word, whatever the label says
        return body, {"content-type": media_type}
    in_xml = _XML_ENCODING.match(body[:200])
    header = CHARSET.search(content_type)
    declared = in_xml.group(1).decode("ascii") if in_xml else header.group(1) if header else None
    if declared and _reads_as(body, declared):
        return body, {"content-type": media_type if in_xml else content_type}
    text, _ = decode_html(body, None if declared and _utf8(declared) else declared)
    xml = _XML_ENCODING.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + b"utf-8",
                            text.encode("utf-8"), count=1)
    return xml, {"content-type": media_type}


def _utf8(label: str) -> bool:
    return label.strip().lower().replace("_", "-") in ("utf-8", "utf8")


def _reads_as(body: bytes, label: str) -> bool:
    """The bytes decode in `label` to text that reads as a language, not as mojibake."""
    try:
        text = body.decode(label)
    except (UnicodeDecodeError, LookupError):
        return False
    return not looks_misdecoded(text)


def _content(entry: Any) -> str:
    """The fullest text an entry carries: content:encoded / atom content, else summary."""
    contents = entry.get("content") or []
    best = max((c.get("value", "") for c in contents), key=len, default="")
    summary = entry.get("summary", "") or ""
    return best if len(best) > len(summary) else summary
