"""Pure functions: raw scraped fields -> a clean, identified `Item`.

Canonical URLs (tracking parameters and fragments dropped), text without markup or stray
whitespace, dates in UTC, and a content hash that tells a changed item from an unchanged one.
Also the byte decoding that spiders use before they parse a page, because servers lie about
charsets.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urldefrag

from bs4 import BeautifulSoup
from courlan import normalize_url
from dateutil import parser as dateparser

from monitor.models import Item, ScrapedItem

__all__ = [
    "canonical_url",
    "clean_text",
    "content_hash",
    "decode_html",
    "normalise",
    "parse_date",
]

_MARKUP = re.compile(r"<[a-zA-Z/!][^>]*>")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# C0/C1 controls except tab and newline, zero-width characters, soft hyphen, BOM
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2060\ufeff]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports, tracking parameters (utm_*, fbclid,
    gclid, ...) and the fragment; sort the query."""
    url = url.strip()
    try:
        normalised = normalize_url(url, strict=False)
    except (ValueError, AttributeError):
        normalised = url
    return urldefrag(normalised)[0]


def clean_text(value: str | None) -> str:
    """Plain, NFC-normalised text: markup removed, entities decoded, whitespace collapsed,
    paragraphs kept as single blank lines."""
    if not value:
        return ""
    if _MARKUP.search(value):
        soup = BeautifulSoup(value, "html.parser")
        for tag in soup(["script", "style", "noscript", "template"]):
            tag.decompose()
        for tag in soup.find_all(["br"]):
            tag.replace_with("\n")
        for tag in soup.find_all(["p", "div", "li", "h1", "h2", "h3", "h4", "tr", "blockquote"]):
            tag.insert_after("\n\n")
        value = soup.get_text()
    else:
        value = html.unescape(value)
    value = unicodedata.normalize("NFC", value)
    value = _INVISIBLE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = _SPACES.sub(" ", value)
    value = "\n".join(line.strip() for line in value.split("\n"))
    return _BLANK_LINES.sub("\n\n", value).strip()


def parse_date(raw: str | None, *, now: datetime | None = None) -> str | None:
    """Parse a date as found on a page or in a feed into UTC ISO-8601 (seconds).

    Naive times are taken as UTC. Unparseable dates and dates more than a day in the future
    (a typo or a placeholder) give None: the item then sorts by when it was first seen.
    """
    if not raw or not raw.strip():
        return None
    raw = raw.strip()
    parsed: datetime | None = None
    try:
        parsed = parsedate_to_datetime(raw)  # RFC 822, as in RSS
    except (TypeError, ValueError, IndexError):
        try:
            parsed = dateparser.parse(raw, dayfirst=not re.match(r"\d{4}-", raw))
        except (ValueError, OverflowError, dateparser.ParserError):
            return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    now = now or datetime.now(UTC)
    if (parsed - now).total_seconds() > 86400 or parsed.year < 1990:
        return None
    return parsed.replace(microsecond=0).isoformat()


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def decode_html(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode a response body and say which encoding was used.

    Valid UTF-8 with non-ASCII bytes wins over any declaration (servers often send Georgian or
    Russian UTF-8 pages labelled ISO-8859-1 or windows-1252; the reverse, legacy bytes that
    happen to be valid UTF-8, is vanishingly rare). Then the HTTP header's charset, then the
    page's <meta charset>, then a statistical guess.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, "utf-8"
    meta = _META_CHARSET.search(body[:4096])
    candidates = [_codec(declared), _codec(meta.group(1).decode("ascii", "ignore")) if meta else None]
    for encoding in candidates:
        # latin-1 / windows-1252 labels decode any bytes; trust them only when no better guess
        if encoding and encoding not in ("latin-1", "iso8859-1", "cp1252"):
            try:
                return body.decode(encoding), encoding
            except (UnicodeDecodeError, LookupError):
                continue
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding:
        return str(best), _codec(best.encoding) or best.encoding
    fallback = next((e for e in candidates if e), "cp1252")
    return body.decode(fallback, "replace"), fallback


def content_hash(*parts: str | None) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def normalise(scraped: ScrapedItem) -> Item:
    """Clean a scraped item and give it its identity and content hash."""
    url = canonical_url(scraped.url)
    title = clean_text(scraped.title).replace("\n", " ")
    text = clean_text(scraped.body)
    if title and text.startswith(title):
        # extractors repeat the headline as the body's first line; match it once, as title
        text = text[len(title):].lstrip()
    published_at = parse_date(scraped.published)
    key = scraped.native_id.strip() if scraped.native_id and scraped.native_id.strip() else url
    return Item(
        source=scraped.source,
        key=key,
        url=url,
        title=title,
        text=text,
        published_at=published_at,
        content_hash=content_hash(title, text, published_at),
        raw_hash=scraped.raw_hash,
        language=scraped.language,
    )
