"""TED's search responses as values: a notice as a `TenderRecord` of its procedure, a later
notice merged into what is known of it, and the language maps, organisation lists, money and
dates TED writes. Pure functions; no Scrapy."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC
from typing import Any

from crawlers.portals.common import error_in, local_datetime, mapping
from monitor.models import Organisation, TenderDocument, TenderLot, TenderRecord
from monitor.tender import normalise_stamp

# a notice's page when its response has no `links`
NOTICE_URL = "https://ted.europa.eu/en/notice/-/detail/{number}"

# VAT numbers start with the member state's code (Greece: EL; XI: Northern Ireland)
EU_VAT = re.compile(
    r"^(AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI)"
    r"(?=(?:[A-Z]*\d){6})[0-9A-Z]{8,12}$"
)
# ISO 3166 alpha-3 (TED's country codes) -> alpha-2 (org-id.guide's), for national ids
ISO2 = dict(pair.split(":") for pair in ["AUT:AT", "BEL:BE", "BGR:BG", "CYP:CY", "CZE:CZ", "DEU:DE", "DNK:DK", "EST:EE", "GRC:GR", "ESP:ES", "FIN:FI", "FRA:FR", "HRV:HR", "HUN:HU", "IRL:IE", "ITA:IT", "LTU:LT", "LUX:LU", "LVA:LV", "MLT:MT", "NLD:NL", "POL:PL", "PRT:PT", "ROU:RO", "SWE:SE", "SVN:SI", "SVK:SK", "ISL:IS", "LIE:LI", "NOR:NO", "CHE:CH", "GBR:GB", "ALB:AL", "BIH:BA", "MNE:ME", "MKD:MK", "SRB:RS", "TUR:TR", "UKR:UA", "MDA:MD", "GEO:GE", "ARM:AM", "AZE:AZ", "KAZ:KZ", "BLR:BY", "RUS:RU", "CHN:CN", "HKG:HK", "TWN:TW", "JPN:JP", "KOR:KR", "ISR:IL", "IND:IN", "USA:US", "CAN:CA", "AUS:AU"])

# a TED date: 2025-03-04+01:00, 2025-03-04Z, 2025-03-04, 20250304
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(Z|[+-]\d{2}:?\d{2})?$")
_TIME = re.compile(r"^(\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?$")
# a title headed by a publication number (`numbered`), or that number alone
_NUMBERED = re.compile(r"^\d+-\d{4}(?:\s+–\s+|$)")


def notice_record(notice: dict[str, Any], *, source: str) -> TenderRecord:
    """One notice (an entry of a search response's `notices`, with a `publication-number`) as a
    record of its procedure (not yet merged, not yet normalised)."""
    number = str(notice["publication-number"]).strip()
    procedure = text(notice.get("procedure-identifier"))
    published = _iso(text(notice.get("publication-date")))
    bidders = organisations(texts(notice.get("organisation-name-tenderer")),
                            texts(notice.get("organisation-identifier-tenderer")),
                            texts(notice.get("organisation-country-tenderer")))
    # winner names come per lot, their identifiers per organisation in another order:
    # several winners get their ids from the tenderers' lists (see `organisations`)
    winners = organisations(texts(notice.get("winner-name")),
                            texts(notice.get("winner-identifier")),
                            texts(notice.get("winner-country")),
                            in_order=False, known=bidders)
    buyers = organisations(texts(notice.get("buyer-name"))[:1],
                           texts(notice.get("buyer-identifier"))[:1],
                           texts(notice.get("buyer-country"))[:1])
    value, currency = _money(notice.get("estimated-value-proc"),
                             notice.get("estimated-value-cur-proc"))
    if value is None:
        value, currency = _money(notice.get("estimated-value-lot"),
                                 notice.get("estimated-value-cur-lot"))
    award_value, award_currency = _money(notice.get("total-value"),
                                         notice.get("total-value-cur"))
    if award_value is None:
        award_value, award_currency = _money(notice.get("result-value-notice"),
                                             notice.get("result-value-cur-notice"))
    if award_value is None:
        award_value, award_currency = _money(notice.get("tender-value"),
                                             notice.get("tender-value-cur"))
    url = notice_link(notice) or NOTICE_URL.format(number=number)
    lot_ids = texts(notice.get("identifier-lot"))
    lot_titles = texts(notice.get("title-lot"))
    notice_type = text(notice.get("notice-type"))
    return TenderRecord(
        source=source,
        native_id=procedure or number,
        title=text(notice.get("notice-title")) or text(notice.get("title-proc")),
        description="\n".join(texts(notice.get("description-proc"))),
        url=url,
        buyer=buyers[0] if buyers else None,
        status=status_of(text(notice.get("form-type")), notice_type, bool(winners)),
        procedure=text(notice.get("procedure-type")),
        cpv=tuple(texts(notice.get("classification-cpv"))),
        value=value,
        currency=currency,
        published=published,
        deadline=_deadline(notice),
        award_date=_earliest(_iso(d) for d in texts(notice.get("winner-decision-date"))),
        contract_date=_earliest(
            _iso(d) for d in texts(notice.get("contract-conclusion-date"))),
        # winners are bidders too (normalising drops the repeats)
        bidders=tuple(bidders + winners),
        winners=tuple(winners),
        award_value=award_value if winners else None,
        award_currency=award_currency if winners else None,
        bids_received=_received(notice),
        lots=tuple(
            TenderLot(id=lot, title=lot_titles[i] if len(lot_titles) == len(lot_ids) else "")
            for i, lot in enumerate(lot_ids)
        ),
        documents=(TenderDocument(url=url, title=f"{notice_type or 'notice'} {number}",
                                  kind=notice_type or None, published=published),),
        modified=_stamp(text(notice.get("publication-date")), number),
        raw_hash=hashlib.sha256(json.dumps(notice, sort_keys=True).encode()).hexdigest(),
    )


# -- language maps and lists -------------------------------------------------------------------


def texts(value: Any) -> list[str]:
    """A TED value as a list of strings: a language map read in English (`eng`), else in
    its first language; a list as its strings; a string or number as itself. Blank strings
    and nulls are dropped."""
    if isinstance(value, dict):
        if not value:
            return []
        key = "eng" if "eng" in value else "ENG" if "ENG" in value else next(iter(value))
        return texts(value[key])
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    if isinstance(value, bool) or value is None:
        return []
    string = str(value).strip()
    return [string] if string else []


def text(value: Any) -> str:
    """The first of `texts(value)`, or ""."""
    found = texts(value)
    return found[0] if found else ""


def notice_link(notice: dict[str, Any]) -> str | None:
    """The notice's English page on ted.europa.eu as TED links it (`links.html.ENG`); None
    without one. Not `htmlDirect` (the bare notice, without TED's page around it) nor a page
    in another language: the page built from the publication number is the better link."""
    url = mapping(mapping(notice.get("links")).get("html")).get("ENG")
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def numbered(title: str, number: str) -> str:
    """`title` headed by the publication number of the notice it was read from ("151207-2025
    – Poland – X-ray apparatus – ..."), a number it carried before replaced."""
    heading = _NUMBERED.sub("", title.strip())
    return f"{number} – {heading}" if heading else number


# -- organisations ---------------------------------------------------------------------------


def organisations(names: list[str], ids: list[str], countries: list[str], *,
                  in_order: bool = True, known: Sequence[Organisation] = ()
                  ) -> list[Organisation]:
    """Organisations from TED's parallel lists, with every identifier TED gives. Names are
    taken once each (a winner of three lots is named three times); identifiers and
    countries are per organisation, and one organisation may have several identifiers (a
    Slovak IČO and DIČ), so:

    - one organisation: all its identifiers, the first on it and each other one on an entry
      of the same name (a watch may know it by either);
    - several, `in_order` (the tenderers' lists, which TED writes organisation by
      organisation): paired by position when the counts agree;
    - several winners (`in_order=False`): their names are in lot order and their
      identifiers in organisation order, which TED does not keep the same (a real award
      notice lists four winners' ids in reverse), so ids come only from `known`
      organisations of the same name (the tenderers), each one they have;
    - identifiers that cannot be paired with a name are kept on entries without a name:
      nothing TED gives is dropped, and a watch's registry id still finds them."""
    unique = list(dict.fromkeys(n for n in names if n))
    registered = [registry_id(i, c) for i, c in zip(ids, _country_per_id(ids, countries),
                                                    strict=True)]
    if len(unique) == 1:
        return [Organisation(name=unique[0], id=registry, scheme=scheme)
                for registry, scheme in dict.fromkeys(r for r in registered if r[0])
                ] or [Organisation(name=unique[0])]
    out: list[Organisation] = []
    if in_order and len(ids) == len(unique):
        out = [Organisation(name=name, id=registered[i][0], scheme=registered[i][1])
               for i, name in enumerate(unique)]
    elif in_order:
        out = [Organisation(name=name) for name in unique]
    else:
        for name in unique:
            same = [replace(o, name=name) for o in known
                    if o.id and o.name.casefold() == name.casefold()]
            out += list(dict.fromkeys(same)) or [Organisation(name=name)]
    paired = {_compact(o.id) for o in out if o.id}
    out += [Organisation(name="", id=registry, scheme=scheme)
            for registry, scheme in dict.fromkeys(r for r in registered if r[0])
            if _compact(registry) not in paired]
    return out


def _country_per_id(ids: list[str], countries: list[str]) -> list[str]:
    """A country for each identifier: paired by position when the counts agree, else the
    only country given, else none."""
    if len(countries) == len(ids):
        return list(countries)
    if len(set(countries)) == 1:
        return countries[:1] * len(ids)
    return [""] * len(ids)


def _compact(identifier: str | None) -> str:
    return re.sub(r"[\s.\-/]", "", identifier or "").upper()


def registry_id(identifier: str, country: str) -> tuple[str | None, str | None]:
    """(id, scheme) of an identifier TED gives: a VAT number as EU-VAT (spaces, dots and
    dashes dropped), else the national identifier as written, scheme `<ISO2>-NAT` from the
    organisation's country (None when the country is unknown)."""
    raw = identifier.strip()
    if not raw:
        return None, None
    compact = re.sub(r"[\s.\-/]", "", raw).upper()
    if EU_VAT.match(compact):
        return compact, "EU-VAT"
    iso2 = ISO2.get(country.strip().upper()) or (
        country.strip().upper() if len(country.strip()) == 2 else None)
    return raw, f"{iso2}-NAT" if iso2 else None


# -- status, money, dates ----------------------------------------------------------------------


def _received(notice: dict[str, Any]) -> int | None:
    """The tenders received (eForms BT-759, where its type BT-760 is `tenders`), the fewest
    of any lot that drew one: a result notice lists, per lot result, the counts by type
    (`tenders`, `t-sme`, `t-esubm`, `part-req`, ...) as two lists in step, with nothing that
    ties them to a lot; so one lot that drew a single tender makes the whole a single bid,
    and a lot that drew none (not awarded) says nothing of the others. None when the notice
    gives no count, or lists that are not in step."""
    codes = texts(notice.get("received-submissions-type-code"))
    values = texts(notice.get("received-submissions-type-val"))
    if len(codes) != len(values):
        return None
    counts = [int(value) for code, value in zip(codes, values, strict=True)
              if code == "tenders" and value.isdigit()]
    return _fewest(*counts)


def _fewest(*counts: int | None) -> int | None:
    """The fewest tenders of lots that drew any (0 when none did; None without a count)."""
    known = [c for c in counts if c is not None]
    drew = [c for c in known if c > 0]
    return min(drew) if drew else (0 if known else None)


def status_of(form_type: str, notice_type: str, has_winners: bool) -> str:
    """The tender's status from the notice's form type (eForms `form-type`)."""
    if form_type == "cont-modif" or notice_type.startswith("can-modif"):
        return "modified"
    if has_winners and form_type != "planning":
        return "awarded"
    return {"planning": "planned", "competition": "announced", "change": "announced",
            "result": "closed", "dir-awa-pre": "announced"}.get(form_type, form_type
                                                                or notice_type)


def merge(old: TenderRecord | None, new: TenderRecord) -> TenderRecord:
    """A later notice of a procedure (`new`) over what is known of it (`old`): the new
    notice's fields, with the old ones where it leaves them out; the earliest publication
    date; lots and documents of both. Winners: a notice that covers only some of the known
    lots adds its winners to the others' (one award notice per lot); a notice that names no
    winner after an award keeps the award: a correction of the call, a result notice for
    lots not awarded, or a contract modification (TED's modification notices carry no
    `winner-name`; the status still becomes `modified`)."""
    if old is None:
        return new
    new_lots = {lot.id for lot in new.lots}
    partial = bool(new_lots) and not {lot.id for lot in old.lots} <= new_lots
    winners, bidders, status = new.winners, new.bidders, new.status
    award = (new.award_value, new.award_currency)
    if old.winners and not new.winners:
        winners, award = old.winners, (old.award_value, old.award_currency)
        bidders = old.bidders + tuple(b for b in new.bidders if b not in old.bidders)
        status = new.status if new.status == "modified" else old.status
    elif old.winners and partial:
        winners, bidders = old.winners + new.winners, old.bidders + new.bidders
        if (old.award_value is not None and new.award_value is not None
                and old.award_currency == new.award_currency):
            award = (round(old.award_value + new.award_value, 2), new.award_currency)
        elif new.award_value is None:
            award = (old.award_value, old.award_currency)
    value = (new.value, new.currency) if new.value is not None else (old.value, old.currency)
    received = (_fewest(new.bids_received, old.bids_received) if partial
                or new.bids_received is None else new.bids_received)
    urls = {d.url for d in new.documents}
    return replace(
        new,
        title=new.title or old.title,
        description=new.description or old.description,
        buyer=new.buyer or old.buyer,
        status=status,
        procedure=new.procedure or old.procedure,
        cpv=tuple(dict.fromkeys(new.cpv + old.cpv)),
        value=value[0],
        currency=value[1],
        published=_earliest([old.published, new.published]),
        deadline=new.deadline or old.deadline,
        award_date=new.award_date or old.award_date,
        contract_date=new.contract_date or old.contract_date,
        winners=winners,
        bidders=bidders,
        award_value=award[0],
        award_currency=award[1],
        bids_received=received,
        lots=new.lots + tuple(lot for lot in old.lots if lot.id not in new_lots),
        documents=new.documents + tuple(d for d in old.documents if d.url not in urls),
    )


def _money(amounts: Any, currencies: Any) -> tuple[float | None, str | None]:
    """A value (or the sum of a list of values, all in one currency, to the cent) and its
    currency. TED writes -1 for a value not given (`"total-value": -1`, `"result-value-lot":
    ["-1", "-1"]`): a negative amount makes the value unknown."""
    numbers: list[float] = []
    for amount in texts(amounts):
        try:
            numbers.append(float(amount))
        except ValueError:
            return None, None
    codes = {c.upper() for c in texts(currencies)}
    if not numbers or len(codes) > 1 or min(numbers) < 0:
        return None, None
    return round(math.fsum(numbers), 2), codes.pop() if codes else None


def _iso(value: str | None, time: str | None = None) -> str | None:
    """A TED date (`2025-03-04+01:00`) as an ISO-8601 date-time: with `time`
    (`10:00:00+02:00`) the moment it names; without, the calendar day at 00:00 UTC (its
    midnight in +01:00 would be the day before in UTC, and show as that day). A value in
    another form is kept as it came."""
    if not value:
        return None
    found = _DATE.match(value.strip())
    if not found:
        return value.strip()
    year, month, day, zone = found.groups()
    clock, zone = "00:00:00", None
    if time and (at := _TIME.match(time.strip())):
        clock = at.group(1) if at.group(1).count(":") == 2 else at.group(1) + ":00"
        zone = at.group(2) or found.group(4)
    zone = "+00:00" if zone in (None, "Z") else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    return f"{year}-{month}-{day}T{clock}{zone}"


def publication_day(value: Any) -> str | None:
    """A publication date as YYYYMMDD (the query's form)."""
    found = _DATE.match(text(value))
    return "".join(found.groups()[:3]) if found else None


def _stamp(published: str, number: str) -> str | None:
    """The record's stamp: the publication date, with the publication number's serial as
    microseconds so that two notices of one day keep their order."""
    iso = _iso(published)
    serial = number.split("-", 1)[0]
    if not iso or not _DATE.match(published.strip()) or not serial.isdigit():
        return iso
    return f"{iso[:19]}.{min(int(serial), 999_999):06d}{iso[19:]}"


def later(stamp: str, than: str) -> bool:
    """Whether `stamp` is after `than` (unreadable stamps: when they differ)."""
    a, b = local_datetime(stamp, UTC), local_datetime(than, UTC)
    return a > b if a is not None and b is not None else normalise_stamp(stamp) != than


def _earliest(values: Iterable[str | None]) -> str | None:
    """The earliest of ISO-8601 date-times (compared as times, not as strings)."""
    given = [v for v in values if v]
    dated = [(p, v) for v in given if (p := local_datetime(v, UTC)) is not None]
    return min(dated)[1] if dated else next(iter(given), None)


def _deadline(notice: dict[str, Any]) -> str | None:
    """The earliest lot deadline for tenders, else for requests to participate."""
    for kind in ("tender", "request"):
        dates = texts(notice.get(f"deadline-receipt-{kind}-date-lot"))
        times = texts(notice.get(f"deadline-receipt-{kind}-time-lot"))
        found = _earliest(_iso(d, times[i] if len(times) == len(dates) else None)
                          for i, d in enumerate(dates))
        if found:
            return found
    return None


def error_text(body: bytes) -> str:
    """What an error response says: its `message`, its errors, else its start."""
    try:
        data = json.loads(body)
    except ValueError:
        return repr(body[:200].decode("utf-8", "replace").strip())
    if isinstance(data, dict):
        message = data.get("message") or data.get("detail") or error_in(data)
        if message:
            return str(message)
    return json.dumps(data, ensure_ascii=False)[:200]
