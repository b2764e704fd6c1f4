"""Why a stored item or tender matched each watch, or why not: the data `monitor explain`
prints and the web's finding pages show.

An article is explained as the crawl matched it: its body without its site's furniture
(`monitor.furniture`, with what the store has learnt of the source so far), a hit inside a
furniture block listed as dropped with the number of the source's pages the block was seen
on. For a watch the item does not match, the captured page says where else its name is:
in the main text but rejected, in a furniture block, elsewhere on the page (navigation,
sidebar, footer), in a <script> or JSON blob, in an attribute (alt, title, a meta
description), or nowhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from monitor.config import Config, Watch
from monitor.errors import RecordNotFoundError, WatchNotFoundError
from monitor.evidence import CaptureStore
from monitor.furniture import Dropped, DroppedBlock, drop, reason, without_furniture
from monitor.match import Explanation, Matcher, Rejection, explain_tender
from monitor.models import Item, TenderRecord
from monitor.normalise import decode_html
from monitor.store import Store
from monitor.store.rows import CaptureRow, FlagRow

__all__ = ["PLACES", "Explained", "OnPage", "explain_item", "explain_tender_id",
           "explain_tenders", "furniture_json", "on_page_json", "select_watches"]

# where a missed watch's name can be, in the order they are told
PLACES = ("main_text", "furniture", "outside_text", "script", "attribute")
# attributes whose text a reader may see or a search engine reads, but the main text is not
_ATTRIBUTES = ("alt", "title", "aria-label", "content")
_JS_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_PAGE_LINES = {
    "outside_text": ("“{}” is on the page but outside its main text (navigation, sidebar or "
                     "footer), which is not matched"),
    "script": "“{}” is in a <script> or JSON blob of the page, which is not matched",
    "attribute": ("“{}” is in an attribute of the page (an image's alt text, a title or a meta "
                  "description), which is not matched"),
}


@dataclass(frozen=True, slots=True)
class OnPage:
    """Where the name of a watch the item does not match occurs: `places` (of PLACES, in that
    order; empty when it is nowhere), what was found in each, and a line per place for a
    person."""

    places: tuple[str, ...]
    found: dict[str, str]
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Explained:
    """One stored record and, per watch, its matches and rejected hits; the responses it was
    read from; the blocks of its body dropped as the site's furniture; and, for each watch it
    does not match, where on the captured page its name is."""

    title: str
    url: str
    explanations: list[Explanation]
    captures: list[CaptureRow] = field(default_factory=list)
    # watch -> where on the page, e.g. "“Huawei” is on the page but outside its main text ..."
    outside_text: dict[str, str] = field(default_factory=dict)
    furniture: list[DroppedBlock] = field(default_factory=list)
    on_page: dict[str, OnPage] = field(default_factory=dict)
    # whether an article page was captured to look at (not for feed entries and tenders)
    page_checked: bool = False
    # a tender's red flags on its current version: every rule's verdict with its numbers
    flags: list[FlagRow] = field(default_factory=list)


def select_watches(config: Config, name: str | None) -> list[Watch]:
    """Every watch, or the one named (case does not matter)."""
    if name is None:
        return list(config.watches)
    wanted = [w for w in config.watches if w.name == name] or [
        w for w in config.watches if w.name.casefold() == name.casefold()]
    if len(wanted) != 1:
        known = ", ".join(repr(w.name) for w in config.watches) or "none"
        raise WatchNotFoundError(f"{config.path}: --watch {name!r}: no such watch (the watches "
                                 f"are: {known})")
    return wanted


def _matcher(config: Config, watch: str | None = None) -> Matcher:
    return Matcher(select_watches(config, watch), snippet_chars=config.digest.snippet_chars)


def explain_item(store: Store, config: Config, item_id: str,
                 watch: str | None = None) -> Explained:
    """The item with this id (as in `monitor crawl --json` or a digest's .eml); `watch`: only
    that one."""
    matcher = _matcher(config, watch)
    item = store.item(int(item_id)) if item_id.isdigit() else None
    if item is None:
        raise RecordNotFoundError(f"{store.state_dir}: no item with id {item_id!r} (for a "
                                  "tender, add --tender)")
    dropped = drop(item.text, lambda keys: store.furniture(item.source, keys),
                   store.furniture_pages(item.source))
    explanations = matcher.explain(without_furniture(item, dropped))
    if dropped.blocks:
        explanations = _with_furniture_hits(matcher, item, dropped, explanations)
    captures = store.captures(int(item_id))
    missed = [e for e in explanations if not e.matches]
    # only an article's own page: a feed or a listing names other stories too
    page = _page(store, captures[-1]) if captures and _is_page(captures[-1]) else None
    on_page = {e.watch: _where(matcher, item, e, page) for e in missed}
    outside = {w: p.lines[p.places.index("outside_text")] for w, p in on_page.items()
               if "outside_text" in p.places}
    return Explained(item.title or "(no title)", item.url, explanations, captures, outside,
                     list(dropped.blocks), on_page, page is not None)


def _with_furniture_hits(matcher: Matcher, item: Item, dropped: Dropped,
                         explanations: list[Explanation]) -> list[Explanation]:
    """Each watch's hits inside the body's furniture, added to its rejected hits."""
    full = matcher.explain_fields([("body", item.text)], language=item.language,
                                  source=item.source)
    extra: dict[str, list[Rejection]] = {}
    for entry in full:
        for m in entry.matches:
            block = dropped.at(m.start, m.end)
            if block is not None:
                extra.setdefault(entry.watch, []).append(Rejection(
                    watch=m.watch, term=m.term, term_kind=m.term_kind, field=m.field,
                    start=m.start, end=m.end, found=m.found, reason=reason(block.pages),
                    variant=m.variant, via=m.via))
    return [replace(e, rejected=tuple(sorted(e.rejected + tuple(extra[e.watch]),
                                             key=lambda r: (r.field, r.start))))
            if e.watch in extra else e for e in explanations]


# -- where a missed name is on the page ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Page:
    """A captured page's texts, by where they are."""

    # the visible text, in pieces (one per text node)
    pieces: tuple[str, ...]
    scripts: str
    attributes: str


def _is_page(capture: CaptureRow) -> bool:
    declared = next((v for k, v in capture.headers if k.lower() == "content-type"), "")
    return "html" in declared.lower() and "xml" not in declared.lower()


def _page(store: Store, capture: CaptureRow) -> _Page:
    """The captured page's visible text, scripts and attribute texts."""
    from bs4 import BeautifulSoup

    declared = next((v for k, v in capture.headers if k.lower() == "content-type"), "")
    charset = declared.partition("charset=")[2].strip(" ;\"'") or None
    html, _ = decode_html(CaptureStore(store.state_dir).read(capture.sha256), charset)
    soup = BeautifulSoup(html, "html.parser")
    scripts = [_script_text(tag.get("type"), tag.get_text()) for tag in soup("script")]
    attributes = [value for tag in soup.find_all(True) for name in _ATTRIBUTES
                  if isinstance(value := tag.get(name), str) and value.strip()]
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    pieces = tuple(" ".join(s.split()) for s in soup.stripped_strings)
    return _Page(pieces, "\n".join(s for s in scripts if s), "\n".join(attributes))


def _script_text(kind: Any, text: str) -> str:
    """A script's strings: a JSON blob's values, or the script with its \\u escapes read."""
    if isinstance(kind, str) and "json" in kind.lower():
        try:
            return "\n".join(_strings(json.loads(text)))
        except ValueError:
            pass
    return _JS_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text.replace("\\/", "/"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def _where(matcher: Matcher, item: Item, entry: Explanation, page: _Page | None) -> OnPage:
    """Where the name of a watch the item does not match is (`OnPage`)."""
    found: dict[str, str] = {}
    lines: dict[str, str] = {}
    furniture = [r for r in entry.rejected if r.reason.startswith("dropped as this site's")]
    if furniture:
        found["furniture"] = furniture[0].found
        lines["furniture"] = f"“{furniture[0].found}” is in a block {furniture[0].reason}"
    rejected = [r for r in entry.rejected if r not in furniture]
    if rejected:
        found["main_text"] = rejected[0].found
        lines["main_text"] = (f"“{rejected[0].found}” is in the main text, but its hits did "
                              "not count (the reasons are above)")
    if page is not None:
        main = " ".join(f"{item.title}\n{item.text}".split())
        texts = {
            # the pieces of visible text that are not part of the main text (the title
            # and body as extracted)
            "outside_text": "\n".join(p for p in page.pieces if p not in main),
            "script": page.scripts,
            "attribute": page.attributes,
        }
        for place, text in texts.items():
            hit = _first_hit(matcher, entry.watch, place, text, item.language)
            if hit is not None:
                found[place] = hit
        for place, template in _PAGE_LINES.items():
            if place in found:
                lines[place] = template.format(found[place])
    places = tuple(p for p in PLACES if p in found)
    if not places:
        lines[""] = ("not on the captured page at all" if page is not None else
                     "not in the item, and no article page was captured to look further")
    return OnPage(places, found, tuple(lines[p] for p in (*places, "") if p in lines))


def _first_hit(matcher: Matcher, watch: str, field_name: str, text: str,
               language: str | None) -> str | None:
    if not text:
        return None
    return next((m.found for m in matcher.match_text(field_name, text, language)
                 if m.watch == watch), None)


# -- tenders -------------------------------------------------------------------------------------


def _tender_title(source: str, record: TenderRecord) -> str:
    return f"[{source}] {record.native_id}: {record.title or '(no title)'}"


def explain_tender_id(store: Store, config: Config, tender_id: int,
                      watch: str | None = None) -> Explained:
    """The stored tender with this id."""
    matcher = _matcher(config, watch)
    row = store.tender(tender_id)
    if row is None:
        raise RecordNotFoundError(f"{store.state_dir}: no tender with id {tender_id}")
    record = TenderRecord.from_dict(row.record)
    return Explained(_tender_title(row.source, record), record.url,
                     explain_tender(matcher, record), store.tender_captures(row.id),
                     flags=store.tender_flags(row.id))


def explain_tenders(store: Store, config: Config, number: str,
                    watch: str | None = None) -> list[Explained]:
    """Every stored tender with this number or OCID (or id), one per source."""
    matcher = _matcher(config, watch)
    found = []
    for row in store.find_tenders(number):
        record = TenderRecord.from_dict(row.record)
        found.append(Explained(_tender_title(row.source, record), record.url,
                               explain_tender(matcher, record), store.tender_captures(row.id),
                               flags=store.tender_flags(row.id)))
    if not found:
        raise RecordNotFoundError(f"{store.state_dir}: no tender numbered {number!r}")
    return found


def on_page_json(on_page: dict[str, OnPage]) -> dict[str, Any]:
    """`on_page` as JSON: watch -> places, found (place -> text) and lines."""
    return {w: {"places": list(p.places), "found": p.found, "lines": list(p.lines)}
            for w, p in on_page.items()}


def furniture_json(blocks: Sequence[DroppedBlock]) -> list[dict[str, Any]]:
    return [{"start": b.start, "end": b.end, "pages": b.pages, "text": b.text} for b in blocks]
