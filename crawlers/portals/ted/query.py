"""TED's expert query from the watch list: the names to search for, batched into clauses
that fit TED's limits, each clause with the source's own restriction and the day to read
from. Pure functions; no Scrapy."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

from monitor.watches import Alias, Watch

# the organisation-name fields each watch name is looked for in (expert-search field names)
NAME_FIELDS = ("winner-name", "organisation-name-tenderer", "buyer-name")

# the notice fields asked for; `links` comes with every notice without being asked for
FIELDS = (
    "publication-number", "publication-date", "notice-type", "form-type",
    "procedure-identifier", "procedure-type", "notice-title", "title-proc",
    "description-proc", "buyer-name", "buyer-identifier", "buyer-country",
    "winner-name", "winner-identifier", "winner-country", "organisation-name-tenderer",
    "organisation-identifier-tenderer", "organisation-country-tenderer",
    "classification-cpv", "estimated-value-proc", "estimated-value-cur-proc",
    "estimated-value-lot", "estimated-value-cur-lot", "total-value", "total-value-cur",
    "result-value-notice", "result-value-cur-notice", "tender-value", "tender-value-cur",
    "deadline-receipt-tender-date-lot", "deadline-receipt-tender-time-lot",
    "deadline-receipt-request-date-lot", "deadline-receipt-request-time-lot",
    "winner-decision-date", "contract-conclusion-date", "identifier-lot", "title-lot",
    "received-submissions-type-code", "received-submissions-type-val",
)

# the API's limits: notices per batch, and notices x fields per batch
MAX_LIMIT = 250
MAX_FIELDS_PER_BATCH = 10_000

# the letters an alias may have to be searched for in TED: Latin script, digits, punctuation
_LATIN = re.compile(r"^[0-9A-Za-z\u00C0-\u024F\u1E00-\u1EFF\s&.,:;'’()+/-]+$")
_SORT = " SORT BY publication-date ASC"


@dataclass(frozen=True, slots=True)
class Chain:
    """One search: a batch of names (and the source's own restriction), read batch by batch
    through iteration tokens. `key` identifies its saved position."""

    key: str
    clause: str


def chains_for(watches: Sequence[Watch], restriction: str, fields: Sequence[str],
                 max_names: int, max_chars: int) -> list[Chain]:
    """The searches for the watch list's names (see `name_clauses`); with no names, the
    source's `restriction` alone (one search without a clause of its own); with neither,
    none."""
    clauses: list[str] = name_clauses(watch_names(watches), fields, max_names, max_chars)
    if not clauses and restriction:
        clauses = [""]
    return [Chain(hashlib.sha1(c.encode()).hexdigest()[:12], c) for c in clauses]


def expert_query(chain: Chain, restriction: str, start: str) -> str:
    """The expert query of one search: its names, the source's restriction, notices
    published from `start` (YYYYMMDD), oldest first."""
    parts = [f"({text})" for text in (chain.clause, restriction) if text]
    parts.append(f"publication-date >= {start}")
    return " AND ".join(parts) + _SORT


def endpoint_of(url: str) -> str:
    """The source's `url` without its query string (which narrows the search)."""
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


def restriction_of(url: str) -> str:
    """The expert query on the source's `url` (`?query=...`), joined to every search."""
    values = parse_qs(urlsplit(url).query).get("query") or [""]
    return values[0].strip()


def batch_limit(page_size: int, fields: Sequence[str]) -> int:
    """Notices per batch: the source's page size within TED's limits, which count the
    `links` TED always sends as one more field."""
    return max(1, min(page_size, MAX_LIMIT, MAX_FIELDS_PER_BATCH // (len(fields) + 1)))


def watch_names(watches: Sequence[Watch]) -> list[str]:
    """The names to search TED for: each watch's name (unless `match_name: false`), its
    aliases and its related organisations' names and aliases; Latin script only (TED's
    names are written in EU languages), aliases that need context left out, each once."""

    def plain(aliases: Iterable[Alias]) -> list[str]:
        return [a.text for a in aliases if not a.needs_context]

    names: dict[str, str] = {}
    for watch in watches:
        found = ([watch.name] if watch.match_name else []) + plain(watch.aliases)
        for related in watch.related:
            found += [related.name, *plain(related.aliases)]
        for name in found:
            cleaned = " ".join(name.replace('"', " ").replace("\\", " ").split())
            if (_LATIN.match(cleaned) and sum(c.isalnum() for c in cleaned) >= 3
                    and cleaned.casefold() not in names):
                names[cleaned.casefold()] = cleaned
    return list(names.values())


def name_clauses(names: Sequence[str], fields: Sequence[str], max_names: int,
                 max_chars: int) -> list[str]:
    """`field ~ "name"` for every field and name, OR-ed, in as few clauses as fit
    `max_names` names and `max_chars` characters each (a longer name gets one of its own)."""
    clauses: list[str] = []
    current: list[str] = []
    for name in names:
        part = " OR ".join(f'{field} ~ "{name}"' for field in fields)
        if current and (len(current) >= max_names
                        or len(" OR ".join([*current, part])) > max_chars):
            clauses.append(" OR ".join(current))
            current = []
        current.append(part)
    if current:
        clauses.append(" OR ".join(current))
    return clauses
