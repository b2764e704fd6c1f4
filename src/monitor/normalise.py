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

from courlan import normalize_url
from dateutil import parser as dateparser

from monitor.models import Item, ScrapedItem

__all__ = [
    "canonical_url",
    "clean_text",
    "content_hash",
    "decode_html",
    "looks_misdecoded",
    "normalise",
    "parse_date",
]

_MARKUP = re.compile(r"<[a-zA-Z/!][^>]*>")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# C0/C1 controls except tab and newline, zero-width characters, soft hyphen, BOM
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2060\ufeff]")
# elements that end a line of text: without a break their words would run together
_BLOCKS = [
    "address", "article", "aside", "blockquote", "caption", "dd", "details", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "tr", "ul",
]
_CELLS = ["td", "th"]
_SERVER_DEFAULTS = ("latin-1", "iso8859-1", "cp1252", "ascii")
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports, tracking parameters (utm_*, fbclid,
    gclid, ...) and the fragment; sort the query."""
    url = url.strip()
    try:
        normalised = normalize_url(url, strict=False)
    except (ValueError, AttributeError):
        normalised = url
    # %e1%83%9c and %E1%83%9C are one URL (RFC 3986 6.2.2.1): one item, not two
    return _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), urldefrag(normalised)[0])


def clean_text(value: str | None) -> str:
    """Plain, NFC-normalised text: markup removed, entities decoded, whitespace collapsed,
    paragraphs kept as single blank lines."""
    if not value:
        return ""
    if _MARKUP.search(value):
        # imported here: bs4 (with soupsieve) costs ~0.1 s at every crawler start, and most
        # text reaches here without markup
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(value, "html.parser")
        for tag in soup(["script", "style", "noscript", "template"]):
            tag.decompose()
        for tag in soup.find_all(["br"]):
            tag.replace_with("\n")
        for tag in soup.find_all(_CELLS):
            tag.insert_after(" ")
        for tag in soup.find_all(_BLOCKS):
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
        parsed = datetime.fromisoformat(raw)  # ISO 8601, as in Atom and <time datetime>
    except ValueError:
        try:
            parsed = parsedate_to_datetime(raw)  # RFC 822, as in RSS
        except (TypeError, ValueError, IndexError):
            parsed = _parse_complete_date(raw)
    if parsed is None:
        return None
    try:
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. an offset of +9999
        return None
    now = now or datetime.now(UTC)
    if (parsed - now).total_seconds() > 86400 or parsed.year < 1990:
        return None
    return parsed.replace(microsecond=0).isoformat()


def _parse_complete_date(raw: str) -> datetime | None:
    """dateutil fills missing parts from a default date, so "1" or "Nov 2026" would become
    a made-up day. Parse against two different defaults: a date that changes with the
    default was incomplete."""
    dayfirst = not re.match(r"\d{4}-", raw)
    results = []
    for default in (datetime(2000, 1, 1), datetime(2001, 2, 2)):
        try:
            results.append(dateparser.parse(raw, dayfirst=dayfirst, default=default))
        except (ValueError, OverflowError, dateparser.ParserError):
            return None
    first, second = results
    if first is None or second is None or first.date() != second.date():
        return None
    return first


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def decode_html(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode a response body and say which encoding was used.

    Valid UTF-8 wins over any declaration (servers often send Georgian or Russian UTF-8 pages
    labelled ISO-8859-1 or windows-1252; the reverse, legacy bytes that happen to be valid
    UTF-8, is vanishingly rare). Then the HTTP header's charset, then the page's
    <meta charset>; for pages that declare nothing, legacy Cyrillic when the text reads as
    Cyrillic words (`_cyrillic_reading`), then a statistical guess.
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
    header = _codec(declared)
    in_page = _codec(meta.group(1).decode("ascii", "ignore")) if meta else None
    candidates = [header, in_page]
    if header in _SERVER_DEFAULTS and in_page:
        # a bare latin-1 header is usually the web server's default, the page's own <meta>
        # is the author's word
        candidates = [in_page, header]
    for encoding in candidates:
        if encoding in ("iso8859-1", "latin-1", "ascii"):
            encoding = "cp1252"  # as browsers do (WHATWG Encoding): same letters, plus € ’ “ ”
        if encoding:
            try:
                text = body.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
            if encoding in _SERVER_DEFAULTS and looks_misdecoded(text):
                # a Western label on text that reads as mojibake ("Õóàâåé"): the label is
                # the server's default, not the text's; read the bytes instead
                reread = _cyrillic_reading(body)
                if reread is not None:
                    return reread
            return text, encoding
    cyrillic = _cyrillic_reading(body)
    if cyrillic is not None:
        return cyrillic
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding:
        return str(best), _codec(best.encoding) or best.encoding
    fallback = next((e for e in candidates if e), "cp1252")
    return body.decode(fallback, "replace"), fallback


# UTF-8 read as windows-1252 / latin-1: "Ð¥Ñƒ" for "Ху", "Ã©" for "é", "â€™" for "’"
_UTF8_AS_LATIN = re.compile(
    "(?:[\u00c2-\u00c5\u00d0\u00d1\u00e0-\u00ef]"
    # continuation bytes as cp1252 shows them; not NBSP, « and », which French puts by é
    "[\u0080-\u009f\u00a1-\u00aa\u00ac-\u00ba\u00bc-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122])"
)
_WORD = re.compile(r"[^\W\d_]{3,}")
_LATIN1_LETTERS = re.compile(r"^[\u00c0-\u00ff]+$")
_CYRILLIC_WORD = re.compile(r"^[\u0400-\u04ff]+$")


def looks_misdecoded(text: str) -> bool:
    """True when text reads as mojibake rather than any language: UTF-8 read as a Western
    code page ("Ð¥ÑƒÐ°Ð²ÐµÐ¹"), a Cyrillic code page read as a Western one (words made
    wholly of accented letters: "Õóàâåé ïîñòðîèò"), or bytes that no code page could read
    (U+FFFD). Real text in French, German, Vietnamese or Hungarian has accented letters
    inside words of plain ones, not whole words of them."""
    if text.count("\ufffd") >= 3:
        return True
    if len(_UTF8_AS_LATIN.findall(text)) >= 3:
        return True
    # among words with a letter beyond ASCII (markup and English do not dilute it)
    words = [word for word in _WORD.findall(text) if not word.isascii()]
    accented = sum(1 for word in words if _LATIN1_LETTERS.match(word))
    return accented >= 3 and accented >= 0.5 * len(words)


# Letters that make up most of any Russian, Ukrainian or Kazakh text (~80 %); a wrong
# single-byte code page scrambles the alphabet and the case, so a misreading scores far lower
_COMMON_CYRILLIC = frozenset("оаеинтрсвлікдмуп")
_CYRILLIC_CODECS = ("cp1251", "koi8_r", "koi8_u")
# what legacy Cyrillic text carries besides letters: quotes, dashes, numero, no-break space
_CYRILLIC_PUNCTUATION = frozenset("«»„“”‘’–—…№\u00a0•·")


def _cyrillic_reading(body: bytes) -> tuple[str, str] | None:
    """Undeclared legacy Cyrillic, decided by what the text reads as, not by a statistical
    guesser: a short windows-1251 line is too little text for charset_normalizer, whose
    answer (Korean cp949, say) changes between its releases. A code page wins when nearly
    every non-ASCII character is a Cyrillic letter or Cyrillic typography, the words with
    such letters are Cyrillic words, the letters mostly lower-case and mostly the alphabet's
    common ones; windows-1251
    read as KOI8-R (or the reverse) swaps the case and scrambles the letters, so at most one
    code page passes."""
    best: tuple[float, str, str] | None = None
    for codec in _CYRILLIC_CODECS:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _cyrillic_score(text)
        if score is not None and (best is None or score > best[0]):
            best = (score, text, codecs.lookup(codec).name)
    return (best[1], best[2]) if best else None


def _cyrillic_score(text: str) -> float | None:
    foreign = cyrillic = lower = common = 0
    for char in text:
        if char.isascii():
            continue
        if "\u0400" <= char <= "\u04ff" and char.isalpha():
            cyrillic += 1
            lower += char.islower()
            common += char.lower() in _COMMON_CYRILLIC
        elif char not in _CYRILLIC_PUNCTUATION:
            foreign += 1
    if cyrillic < 4 or foreign > 0.02 * cyrillic:
        return None
    # Cyrillic words, not Cyrillic letters inside Latin words (French read as windows-1251:
    # "ministиre")
    words = [word for word in _WORD.findall(text) if not word.isascii()]
    if sum(1 for word in words if _CYRILLIC_WORD.match(word)) < 0.8 * len(words):
        return None
    if lower < 0.6 * cyrillic or common < 0.6 * cyrillic:
        return None
    return (lower + common) / cyrillic


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
    if title and (text == title or text.startswith(title + "\n")):
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
        etag=scraped.etag,
        last_modified=scraped.last_modified,
        listed_at=parse_date(scraped.listed_at),
    )
