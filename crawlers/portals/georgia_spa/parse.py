"""Georgia's e-procurement portal's HTML fragments as values: the search list's rows, a
tender's overview, bids, results and status history, a company profile, and what they say
together as a `TenderRecord`. Pure functions over the fragments' text (parsel, no Scrapy);
a fragment that does not look like the portal's pages raises `ShapeError`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

from parsel import Selector, SelectorList

from crawlers.portals.common import folded, registered
from monitor.models import Bid as ModelBid
from monitor.models import Organisation, TenderDocument, TenderRecord

# the portal's dates and times are Tbilisi's (UTC+4 all year: Georgia has no summer time)
TBILISI = timezone(timedelta(hours=4), "Asia/Tbilisi")
# the register a company profile's identification code (საიდენტიფიკაციო კოდი) belongs to
SCHEME = "GE-NAPR"

# app_status codes (the stat<N>.png icon) as statuses in the dotted style of the other
# portals; a cancellation ends in `cancelled` (monitor.tender.is_cancelled)
STATUSES: dict[str, str] = {
    "10": "active.announced",          # გამოცხადებულია
    "20": "active.tendering",          # წინადადებების მიღება დაწყებულია
    "30": "active.tendering_closed",   # წინადადებების მიღება დასრულებულია
    "40": "active.qualification",      # შერჩევა/შეფასება
    "50": "active.awarded",            # გამარჯვებული გამოვლენილია
    "100": "unsuccessful",             # დასრულებულია უარყოფითი შედეგით
    "110": "unsuccessful.not_held",    # არ შედგა
    "120": "cancelled",                # შეწყვეტილია
    "130": "active.contract_pending",  # მიმდინარეობს ხელშეკრულების მომზადება
    "140": "complete",                 # ხელშეკრულება დადებულია
}
# the same statuses by their Georgian labels (app_main without an icon, the status history)
LABEL_CODES: dict[str, str] = {
    "გამოცხადებულია": "10",
    "წინადადებების მიღება დაწყებულია": "20",
    "წინადადებების მიღება დასრულებულია": "30",
    "შერჩევა/შეფასება": "40",
    "გამარჯვებული გამოვლენილია": "50",
    "დასრულებულია უარყოფითი შედეგით": "100",
    "არ შედგა": "110",
    "შეწყვეტილია": "120",
    "მიმდინარეობს ხელშეკრულების მომზადება": "130",
    "ხელშეკრულება დადებულია": "140",
}
# statuses from which the winner is known
AWARDED = frozenset({"50", "130", "140"})

# "5 ჩანაწერი (გვერდი: 1/2)": records, this page, pages
_PAGER = re.compile(r"(\d+)\s*ჩანაწერი\s*\(\s*გვერდი:\s*(\d+)\s*/\s*(\d+)\s*\)")
_NUMBER = re.compile(r"[A-Z]{2,4}\d{6,}")
_STAT = re.compile(r"stat(\d+)\.png")
_PROFILE = re.compile(r"ShowProfile\(\s*(\d+)")
_SHOW_APP = re.compile(r"ShowApp\(\s*(\d+)")
_WHEN = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+(\d{1,2}):(\d{2}))?")
_MONEY = re.compile(r"\d[\d`'’\s,]*(?:\.\d+)?")
_CPV = re.compile(r"\b(\d{8})\b")
# a search row's winner line; the contract status may come before it and the bidder count
# after it on the same line
_ROW_WINNER = re.compile(r"(?:^|\s)გამარჯვებული\s*:\s*(.+?)(?:\s+მონაწილეთა რაოდენობა\b.*)?$")
# what PHP prints instead of a fragment: "[8] Undefined index: lang :: .../controller.php -
# Line:8" (a lost session), "Undefined offset" (an unknown app_id), fatal errors
_PHP_ERROR = re.compile(r"Undefined (?:index|offset|variable)|(?:Fatal|Parse) error|"
                        r"Uncaught \w+|\.php\s*-\s*Line:?\s*\d+", re.IGNORECASE)


class ShapeError(Exception):
    """Raised when a fragment does not look like the portal's pages (the portal changed),
    from the `read_*` functions; its message says what was expected."""


@dataclass(slots=True)
class Row:
    """A row of the search list: a tender whose status changed on the day searched."""

    # None: a row without a tender id (its `id` attribute is `row_id`)
    app_id: str | None
    row_id: str | None
    number: str | None
    # the status icon's code (stat<N>.png)
    code: str | None
    # the row's "გამარჯვებული: ..." line
    winner: str | None


@dataclass(slots=True)
class Bid:
    """A row of the bids table."""

    name: str
    org_id: str | None
    amount: float | None
    # the portal highlights the winning bid (activebid1)
    winner: bool


@dataclass(slots=True)
class Contract:
    """A contract block of the results (the layout that shows it there)."""

    name: str
    org_id: str | None
    value: float | None
    signed: str | None


@dataclass(eq=False)
class Fragments:
    """What one tender's fragments say, read one after another."""

    app_id: str
    # the search row's "გამარჯვებული: ..." line (None: not read from a search row)
    row_winner: str | None = None
    # app_main, as `read_main` gives it
    main: dict[str, Any] = field(default_factory=dict)
    bids: list[Bid] = field(default_factory=list)
    documents: list[TenderDocument] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    # (ISO time, status label), newest first
    history: list[tuple[str, str]] = field(default_factory=list)

    def org_ids(self) -> list[str]:
        """The profile ids of the buyer, the bidders and the contracts' suppliers, once each."""
        ids = [self.main.get("buyer_id")] + [b.org_id for b in self.bids]
        ids += [c.org_id for c in self.contracts]
        return list(dict.fromkeys(i for i in ids if i))


def error_body(text: str) -> str | None:
    """What a response that is an error sent with HTTP 200 says (an empty body, a PHP
    notice); None when it is a fragment."""
    stripped = text.strip()
    if not stripped:
        return "empty response"
    if not _PHP_ERROR.search(stripped[:3000]):
        return None
    problem = " ".join(Selector(text=stripped).xpath("string()").get("").split())[:200]
    if "Undefined index: lang" in problem:
        problem += " (no portal session: the home page's SPALITE cookie is missing)"
    return problem


# -- the search list ----------------------------------------------------------------------------


def read_search(text: str, day: date, page: int) -> tuple[list[Row], int]:
    """The rows of search page `page` (of the changes on `day`) and the number of pages (0
    for an empty list)."""
    selector = Selector(text=text)
    table = selector.css("table#list_apps_by_subject")
    if not table:
        raise ShapeError("no result list (expected table#list_apps_by_subject)")
    rows = table.css("tr[id^='A']")
    pager = _PAGER.search(" ".join(selector.css(".pager ::text").getall())) or \
        _PAGER.search(" ".join(selector.xpath("//text()").getall()))
    pages = 0
    if rows:
        if pager is None:
            raise ShapeError("no page count (expected a pager 'N ჩანაწერი (გვერდი: "
                             "page/pages)')")
        current, pages = int(pager.group(2)), int(pager.group(3))
        if current != page:
            raise ShapeError(f"asked for page {page} of {day}, got page {current} of {pages}")
    elif pager is None and "ჩანაწერები არ არის" not in _text(table):
        raise ShapeError("neither tender rows (tr#A<app_id>) nor the empty list's "
                         "'ჩანაწერები არ არის'")
    return [_row(row) for row in rows], pages


def _row(row: Selector) -> Row:
    match = re.fullmatch(r"A(\d+)", row.attrib.get("id", "")) or _SHOW_APP.search(
        row.attrib.get("onclick", ""))
    return Row(app_id=match.group(1) if match else None, row_id=row.attrib.get("id"),
               number=_text(row.xpath(".//p[contains(., 'ნომერი')]/strong")) or None,
               code=_status_code(row.css("img::attr(src)").get()), winner=_row_winner(row))


# -- a tender's fragments -------------------------------------------------------------------------


def read_main(text: str) -> dict[str, Any]:
    """The overview (`div#app_main`): number, status, buyer, procedure, dates, value, CPV
    codes, subject and description."""
    root = _root(text, "#app_main", "no tender overview (expected div#app_main with a "
                 "label/value table)")
    rows = _label_rows(root.css("table.with-label tr") or root.css("#print_area table tr"))
    number_cell = _cell(rows, ("განცხადების ნომერი", "სატენდერო განცხადების ნომერი",
                               "ტენდერის ნომერი"), "ნომერი")
    number = (_text(number_cell.css("strong")) or _text(number_cell)) if number_cell else ""
    if not _NUMBER.fullmatch(number):
        raise ShapeError("no tender number (expected a 'განცხადების ნომერი' row like "
                         f"NAT250021073, got {number!r})")
    status_cell = _cell(rows, ("შესყიდვის სტატუსი", "ტენდერის სტატუსი"), "სტატუსი")
    if status_cell is None:
        raise ShapeError("no status (expected a 'შესყიდვის სტატუსი' row)")
    label = _text(status_cell)
    buyer = _cell(rows, ("შემსყიდველი", "ადმინისტრირებას უწევს"))
    kind = _cell(rows, ("შესყიდვის ტიპი", "ტენდერის ტიპი"))
    value = _cell({k: v for k, v in rows.items() if not k.startswith("ერთეულის")},
                  ("შესყიდვის სავარაუდო ღირებულება", "პრეისკურანტის სავარაუდო ღირებულება"),
                  "სავარაუდო ღირებულება")  # not ერთეულის (a unit's) estimate
    category = _cell(rows, ("შესყიდვის კატეგორია",), "CPV")
    subject = _cell(rows, ("შესყიდვის ობიექტი",))
    value_text = _text(value) if value is not None else ""
    codes = _CPV.findall(_text(category)) if category is not None else []
    for item in root.css("table.with-label li, #print_area li"):
        codes += _CPV.findall(" ".join(item.xpath("./text()").getall()))
    edited = next((t for t in root.css("ul.date li::text").getall() if "შესწორება" in t), "")
    return {
        "number": number,
        "status_code": _status_code(status_cell.css("img::attr(src)").get())
        or LABEL_CODES.get(label),
        "status_label": label,
        "procedure": _text(kind) if kind is not None else "",
        "buyer_name": _text(buyer) if buyer is not None else "",
        "buyer_id": _profile_id(buyer),
        "published": _when(_text(_cell(rows, (), "გამოცხადების თარიღი"))),
        "deadline": _when(_text(_cell(rows, ("წინადადებების მიღება მთავრდება",),
                                      "მიღების ვადა"))),
        "value": _money(value_text),
        "currency": _currency(value_text) if value_text else None,
        "category": _text(category) if category is not None else "",
        "cpv": list(dict.fromkeys(codes)),
        "subject": _text(subject) if subject is not None else "",
        "description": " ".join(_text(d) for d in root.css("div.blabla")).strip(),
        "edited": _when(edited.rsplit("::", 1)[-1]) if edited else None,
    }


def read_bids(text: str) -> list[Bid]:
    """The bids table (`div#app_bids`); empty before bids open and while they are taken."""
    root = _root(text, "#app_bids", "no bids tab (expected div#app_bids)")
    rows = root.css("tr[id^='B']")
    if not rows:
        # before bids open the table is empty; while they are taken, a countdown
        if root.css("table.ktable") or root.css("#TenderCountdown"):
            return []
        raise ShapeError("no bids table (expected a table.ktable of bidders, "
                         "tr#B<app_id><bidder>, or the #TenderCountdown of an open tender)")
    bids: list[Bid] = []
    for tr in rows:
        cells = tr.xpath("./td")
        name = (_text(cells[0].css("span.color-1")) or _text(cells[0])) if cells else ""
        if len(cells) < 2 or not name:
            raise ShapeError(f"bid row {tr.attrib.get('id')!r} without a bidder and an amount "
                             "(expected bidder, last bid, first bid, count cells)")
        last = _text(cells[1].css("strong")) or (cells[1].xpath("./text()").get() or "")
        bids.append(Bid(name=name, org_id=_profile_id(cells[0]), amount=_money(last),
                        winner=any("activebid1" in c.attrib.get("class", "") for c in cells)))
    return bids


def read_results(text: str, base: str) -> tuple[list[TenderDocument], list[Contract]]:
    """The results tab (`div#agency_docs`): its documents (links made absolute on `base`,
    the public pages) and the contract blocks some layouts show there."""
    root = _root(text, "#agency_docs", "no results tab (expected div#agency_docs)")
    table = root.css("table#reports")
    if not table:
        raise ShapeError("no results table (expected table#reports of result documents)")
    documents: list[TenderDocument] = []
    for tr in table.css("tr"):
        link = tr.css("a[href*='files.php']")
        if not link:
            continue
        classes = link.xpath("ancestor::td[1]/@class").get("")
        if "obsolete1" in classes:
            continue  # a superseded upload
        kind = re.search(r"doctype\d+", classes)
        documents.append(TenderDocument(
            url=urljoin(base, link.attrib["href"]), title=_text(link),
            kind=kind.group(0) if kind else None,
            published=_when(_text(tr.css("td.date")).split("::")[0])))
    contracts: list[Contract] = []
    for block in root.xpath("./div[contains(@class, 'ui-state-highlight')]"):
        block_text = _text(block)
        if ("ნომერი/თანხა" not in block_text or "ცვლილება" in block_text
                or not block.css("strong")):
            continue  # amendments and disqualifications are not the award
        value = re.search(r"ნომერი/თანხა:.*?/\s*(\d[\d`\s.,]*)\s*(?:ლარი|GEL)", block_text)
        signed = re.search(r"ხელშეკრულების თარიღი:\s*([\d.]+)", block_text)
        contracts.append(Contract(
            name=_text(block.css("strong")), org_id=_profile_id(block),
            value=_money(value.group(1)) if value else None,
            signed=_when(signed.group(1) if signed else _text(block.css("span.date")))))
    return documents, contracts


def read_history(text: str) -> list[tuple[str, str]]:
    """The status history (`div#z`): (ISO time, status label) rows, newest first."""
    table = _root(text, "table.with-free-label-history, #z table", "no status history "
                  "(expected div#z with table.with-free-label-history of time/status rows)")
    history: list[tuple[str, str]] = []
    for tr in table.css("tr"):
        cells = tr.xpath("./td")
        if len(cells) < 2:
            continue
        when = _when(_text(cells[0]))
        if when is None:
            raise ShapeError(f"a status time {_text(cells[0])!r} (expected DD.MM.YYYY HH:MM)")
        history.append((when, _text(cells[1])))
    return history


def read_profile(text: str) -> Organisation:
    """A company profile (`div#profile_dialog`): its name and identification code."""
    root = _root(text, "#profile_dialog, table.with-label", "no company profile (expected "
                 "div#profile_dialog with a table.with-label)")
    rows = _label_rows(root.css("tr"))
    role = _cell(rows, ("მიმწოდებელი", "შემსყიდველი"))
    code = rows.get("საიდენტიფიკაციო კოდი")
    if code is None:
        raise ShapeError("no identification code (expected a 'საიდენტიფიკაციო კოდი' row)")
    name = (_text(role.css("strong")) or _text(role)) if role is not None else ""
    return registered(name, _text(code), SCHEME)


# -- the record -----------------------------------------------------------------------------------


def tender_record(tender: Fragments, *, source: str, url: str,
                  profiles: dict[str, Organisation | None],
                  raw_hash: str | None) -> TenderRecord:
    """The fragments read as a record (not yet normalised); `profiles` gives each company's
    registry code by its profile id (None: the profile failed)."""
    main = tender.main
    code = main["status_code"]
    winners, award_value = _winners(tender, code, profiles)
    award_date = next((t for t, label in tender.history
                       if LABEL_CODES.get(label) == "50"), None)
    contract_date = next((c.signed for c in tender.contracts if c.signed), None) or next(
        (t for t, label in tender.history if LABEL_CODES.get(label) == "140"), None)
    description = main["description"]
    title = main["subject"] or _clip(description) or main["category"] or main["number"]
    return TenderRecord(
        source=source,
        native_id=main["number"],
        title=title,
        description="\n".join(t for t in (description, main["category"]) if t),
        url=url,
        buyer=_org(main["buyer_name"], main["buyer_id"], profiles) if main["buyer_name"]
        or main["buyer_id"] else None,
        status=STATUSES.get(code or "", main["status_label"]),
        procedure=main["procedure"],
        cpv=tuple(main["cpv"]),
        value=main["value"],
        currency=main["currency"],
        published=main["published"],
        deadline=main["deadline"],
        award_date=award_date,
        contract_date=contract_date,
        bidders=tuple(_org(b.name, b.org_id, profiles) for b in tender.bids),
        winners=tuple(winners),
        award_value=award_value,
        award_currency="GEL" if award_value is not None else None,
        documents=tuple(tender.documents),
        modified=max((t for t, _ in tender.history), default=None) or main["edited"],
        raw_hash=raw_hash,
        # the bids tab gives each bidder's last price, not its time or fate
        bids=tuple(ModelBid(tenderers=(_org(b.name, b.org_id, profiles),), value=b.amount,
                            currency="GEL" if b.amount is not None else None)
                   for b in tender.bids),
    )


def _winners(tender: Fragments, code: str | None, profiles: dict[str, Organisation | None],
             ) -> tuple[list[Organisation], float | None]:
    """A contract's supplier, else (once a winner is chosen) the highlighted bid, else
    the list's winner line; and the value awarded."""
    if tender.contracts:
        values = [c.value for c in tender.contracts if c.value is not None]
        return ([_org(c.name, c.org_id, profiles) for c in tender.contracts],
                sum(values) if values else None)
    if code not in AWARDED:
        return [], None
    won = [b for b in tender.bids if b.winner]
    if not won and tender.row_winner:
        wanted = folded(tender.row_winner)
        won = [b for b in tender.bids if folded(b.name) == wanted] or [
            Bid(name=tender.row_winner, org_id=None, amount=None, winner=True)]
    amounts = [b.amount for b in won if b.amount is not None]
    return [_org(b.name, b.org_id, profiles) for b in won], sum(amounts) if amounts else None


def _org(name: str, org_id: str | None,
         profiles: dict[str, Organisation | None]) -> Organisation:
    """A company as the fragment names it, with its profile's registry code."""
    profile = profiles.get(org_id) if org_id else None
    if profile is None:
        return Organisation(name=name)
    return Organisation(name=name or profile.name, id=profile.id, scheme=profile.scheme)


# -- reading fragments ----------------------------------------------------------------------------


def _root(text: str, css: str, missing: str) -> Selector:
    """The fragment's element `css`; `missing` says what was expected when it has none."""
    found = Selector(text=text).css(css)
    if not found:
        raise ShapeError(missing)
    return found[0]


def _label_rows(rows: SelectorList[Selector]) -> dict[str, Selector]:
    """Label -> value cell of a two-column label/value table, the first of each label."""
    cells_by_label: dict[str, Selector] = {}
    for tr in rows:
        cells = tr.xpath("./td")
        if len(cells) == 2 and (label := _text(cells[0])):
            cells_by_label.setdefault(label, cells[1])
    return cells_by_label


def _text(node: Selector | SelectorList[Selector] | None) -> str:
    """An element's text, whitespace collapsed ("" for None)."""
    if node is None:
        return ""
    parts = node.xpath(".//text()").getall()
    return " ".join(" ".join(parts).split())


def _cell(rows: dict[str, Selector], labels: tuple[str, ...],
          contains: str | None = None) -> Selector | None:
    """The value cell of the first of `labels`, else of a label containing `contains`."""
    for label in labels:
        if label in rows:
            return rows[label]
    if contains:
        return next((cell for label, cell in rows.items() if contains in label), None)
    return None


def _row_winner(row: Selector) -> str | None:
    """The search row's "გამარჯვებული: <name>" line. The status paragraph's lines (contract
    status, winner, "მონაწილეთა რაოდენობა - N") are split by <br/> in some rows and only by
    line breaks inside one text node in others, so the text is split on both."""
    for text in row.css("p.status::text").getall():
        for line in text.splitlines():
            match = _ROW_WINNER.search(" ".join(line.split()))
            if match:
                return match.group(1)
    return None


def _status_code(src: str | None) -> str | None:
    match = _STAT.search(src or "")
    return match.group(1) if match else None


def _profile_id(node: Selector | None) -> str | None:
    if node is None:
        return None
    match = _PROFILE.search(" ".join(node.xpath(".//@onclick").getall()))
    return match.group(1) if match else None


def _when(text: str | None) -> str | None:
    """DD.MM.YYYY [HH:MM], Tbilisi time, as ISO-8601."""
    match = _WHEN.search(text or "")
    if match is None:
        return None
    day, month, year, hour, minute = match.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                        tzinfo=TBILISI)
    except ValueError:
        return None
    return when.isoformat()


def _money(text: str | None) -> float | None:
    """4`250`000.00 GEL (backticks group thousands) as a number."""
    match = _MONEY.search(text or "")
    if match is None:
        return None
    digits = re.sub(r"[`'’\s,]", "", match.group(0))
    try:
        return float(digits)
    except ValueError:
        return None


def _currency(text: str) -> str:
    """GEL for "GEL" and "ლარი" (the portal writes both), else the code written."""
    code = re.search(r"\b([A-Z]{3})\b", text)
    return "GEL" if "ლარ" in text or code is None else code.group(1)


def _clip(text: str, limit: int = 200) -> str:
    """The first line of `text`, cut at a word before `limit` characters."""
    line = text.strip().split("\n", 1)[0]
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0] + "…"
