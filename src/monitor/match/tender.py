"""Watches in tenders: names by role (winner, bidder, buyer), text, and registry ids compared
exactly."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

from monitor import orgids
from monitor.match.judge import Explanation
from monitor.match.matcher import Matcher
from monitor.models import Match, Organisation, TenderRecord

# the roles an organisation plays in a tender, strongest first: a winner is also a bidder
TENDER_ROLES = ("winner", "bidder", "buyer")


def registry_key(value: str) -> tuple[str, str]:
    """(SCHEME, id) of `SCHEME:id` as compared: the scheme as `monitor.orgids` names it
    (UA-NAT and ЄДРПОУ are UA-EDR), the id without spaces, dots and dashes (registries
    print `40 44 09 497` and `404-409-497` alike), leading zeros a spreadsheet lost put
    back."""
    scheme, _, ident = value.rpartition(":")
    code, written = orgids.normalise(scheme or None, ident)
    return code or "", re.sub(r"[\s.\-/]", "", written or "").upper()


def _org_key(org: Organisation) -> tuple[str, str] | None:
    if not org.id:
        return None
    return registry_key(f"{org.scheme or ''}:{org.id}")


def match_tender(matcher: Matcher, record: TenderRecord) -> list[Match]:
    """Every finding in a tender: watch names in the winners', bidders' and buyer's names
    (field = the role), keywords and names in the title and description (`title` /
    `body`), and registry ids compared exactly with the organisations' ids (`ids:` on a
    watch). A winner is not also reported as a bidder; an organisation without a scheme
    matches an id of any scheme with the same number."""
    fields, roles = _tender_fields(record)
    return (matcher.match_fields(fields, source=record.source)
            + _id_matches(matcher, roles))


def explain_tender(matcher: Matcher, record: TenderRecord) -> list[Explanation]:
    """`Matcher.explain` for a tender: per watch, the matches (registry ids included) and
    the hits rejected, with the reason."""
    fields, roles = _tender_fields(record)
    by_watch: dict[str, list[Match]] = defaultdict(list)
    for match in _id_matches(matcher, roles):
        by_watch[match.watch].append(match)
    return [replace(e, matches=e.matches + tuple(by_watch.get(e.watch, ())))
            for e in matcher.explain_fields(fields, source=record.source)]


def _tender_fields(record: TenderRecord) -> tuple[list[tuple[str, str]],
                                                  dict[str, tuple[Organisation, ...]]]:
    """The texts to match (title, body, and one per role) and the organisations by role."""
    winners = record.winners
    won = {o.key for o in winners}
    roles: dict[str, tuple[Organisation, ...]] = {
        "winner": winners,
        "bidder": tuple(o for o in record.bidders if o.key not in won),
        "buyer": (record.buyer,) if record.buyer else (),
    }
    fields = [("title", record.title), ("body", record.description)]
    # one line per organisation: names never run into each other across a boundary
    fields += [(role, "\n".join(o.name for o in orgs if o.name)) for role, orgs in roles.items()]
    return [(n, t) for n, t in fields if t], roles


def _id_matches(matcher: Matcher, roles: Mapping[str, tuple[Organisation, ...]]) -> list[Match]:
    wanted: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for watch in matcher.watches:
        for registry_id in watch.ids:
            wanted[registry_key(registry_id)].append((watch.name, registry_id))
    if not wanted:
        return []
    by_number: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (_, number), watches in wanted.items():
        by_number[number].extend(watches)
    found: list[Match] = []
    for role, orgs in roles.items():
        for org in orgs:
            key = _org_key(org)
            if key is None:
                continue
            hits = wanted.get(key, []) if key[0] else by_number.get(key[1], [])
            for watch, registry_id in dict.fromkeys(hits):
                shown = org.registry_id or ""
                snippet = f"{org.name} ({shown})" if org.name else shown
                start = snippet.rfind(shown)
                found.append(Match(
                    watch=watch, term=registry_id, term_kind="id", field=role,
                    start=0, end=len(shown), found=shown, snippet=snippet,
                    snippet_start=start, snippet_end=start + len(shown),
                ))
    return found
