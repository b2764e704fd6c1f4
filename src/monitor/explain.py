"""Why a stored item or tender matched each watch, or why not: the data `monitor explain`
prints (and the web will show)."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.config import Config
from monitor.errors import RecordNotFoundError
from monitor.evidence import CaptureStore
from monitor.match import Explanation, Matcher, explain_tender
from monitor.models import TenderRecord
from monitor.normalise import decode_html
from monitor.store import Store
from monitor.store.rows import CaptureRow, FlagRow

__all__ = ["Explained", "explain_item", "explain_tender_id", "explain_tenders"]


@dataclass(frozen=True, slots=True)
class Explained:
    """One stored record and, per watch, its matches and rejected hits; the responses it was
    read from; and the watches whose names are on the raw page but not in the main text that
    was matched (a sidebar, the navigation, a "most read" box)."""

    title: str
    url: str
    explanations: list[Explanation]
    captures: list[CaptureRow] = field(default_factory=list)
    # watch -> where on the page, e.g. "“Huawei” in the page but outside its main text"
    outside_text: dict[str, str] = field(default_factory=dict)
    # a tender's red flags on its current version: every rule's verdict with its numbers
    flags: list[FlagRow] = field(default_factory=list)


def _matcher(config: Config) -> Matcher:
    return Matcher(config.watches, snippet_chars=config.digest.snippet_chars)


def explain_item(store: Store, config: Config, item_id: str) -> Explained:
    """The item with this id (as in `monitor crawl --json` or a digest's .eml)."""
    item = store.item(int(item_id)) if item_id.isdigit() else None
    if item is None:
        raise RecordNotFoundError(f"{store.state_dir}: no item with id {item_id!r} (for a "
                                  "tender, add --tender)")
    matcher = _matcher(config)
    explanations = matcher.explain(item)
    captures = store.captures(int(item_id))
    outside: dict[str, str] = {}
    # only an article's own page: a feed or a listing names other stories too
    if captures and _is_page(captures[-1]):
        matched = {e.watch for e in explanations if e.matches}
        for m in matcher.match_text("page", _page_text(store, captures[-1]), item.language):
            if m.watch not in matched and m.watch not in outside:
                outside[m.watch] = (f"“{m.found}” is on the page but outside its main text "
                                    "(navigation, sidebar or footer), which is not matched")
    return Explained(item.title or "(no title)", item.url, explanations, captures, outside)


def _is_page(capture: CaptureRow) -> bool:
    declared = next((v for k, v in capture.headers if k.lower() == "content-type"), "")
    return "html" in declared.lower() and "xml" not in declared.lower()


def _page_text(store: Store, capture: CaptureRow) -> str:
    """The captured page's whole visible text, boilerplate included."""
    from bs4 import BeautifulSoup

    declared = next((v for k, v in capture.headers if k.lower() == "content-type"), "")
    charset = declared.partition("charset=")[2].strip(" ;\"'") or None
    html, _ = decode_html(CaptureStore(store.state_dir).read(capture.sha256), charset)
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return " ".join(soup.get_text(" ").split())


def explain_tender_id(store: Store, config: Config, tender_id: int) -> Explained:
    """The stored tender with this id."""
    row = store.tender(tender_id)
    if row is None:
        raise RecordNotFoundError(f"{store.state_dir}: no tender with id {tender_id}")
    record = TenderRecord.from_dict(row.record)
    title = f"[{row.source}] {record.native_id}: {record.title or '(no title)'}"
    return Explained(title, record.url, explain_tender(_matcher(config), record),
                     store.tender_captures(row.id), flags=store.tender_flags(row.id))


def explain_tenders(store: Store, config: Config, number: str) -> list[Explained]:
    """Every stored tender with this number or OCID (or id), one per source."""
    matcher = _matcher(config)
    found = []
    for row in store.find_tenders(number):
        record = TenderRecord.from_dict(row.record)
        title = f"[{row.source}] {record.native_id}: {record.title or '(no title)'}"
        found.append(Explained(title, record.url, explain_tender(matcher, record),
                               store.tender_captures(row.id), flags=store.tender_flags(row.id)))
    if not found:
        raise RecordNotFoundError(f"{store.state_dir}: no tender numbered {number!r}")
    return found
