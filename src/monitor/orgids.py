"""Registry ids of organisations, written one way across portals, so that a supplier is one
organisation across processes and sources.

Portals write the same register differently: Prozorro `UA-EDR:00034051`, a TED notice the
same company as `UA-NAT:34051` (its national id, leading zeros lost), a spreadsheet export
`ЄДРПОУ 00 034 051`. `normalise(scheme, id)` maps them to one (scheme, id) in org-id.guide
codes:

    UA-EDR    Ukraine, ЄДРПОУ (8 digits; a sole trader's tax number has 10)
    GE-NAPR   Georgia, identification code (9 digits; a person's number has 11); the tax id
              is the same number
    KZ-BIN    Kazakhstan, BIN / IIN (12 digits)
    MD-IDNO   Moldova, IDNO (13 digits)
    EU-VAT    an EU VAT number with its country prefix (Greece as EL)

An id that does not have its register's shape is kept as written (without spaces, dots and
dashes) under the mapped scheme: it still compares equal to itself, and no digits are made
up for it. Schemes not listed here are kept, upper-case.
"""

from __future__ import annotations

import re

__all__ = ["SCHEMES", "key", "normalise"]

# scheme as a portal or a person writes it -> org-id.guide code
SCHEMES: dict[str, str] = {
    **dict.fromkeys(("UA-EDR", "UA-EDRPOU", "EDRPOU", "ЄДРПОУ", "EDR", "UA-NAT"), "UA-EDR"),
    **dict.fromkeys(("GE-NAPR", "NAPR", "GE-NAT", "GE-TIN", "GE-RS"), "GE-NAPR"),
    **dict.fromkeys(("KZ-BIN", "KZ-BIIN", "KZ-IIN", "BIN", "BIIN", "KZ-NAT"), "KZ-BIN"),
    **dict.fromkeys(("MD-IDNO", "IDNO", "MD-NAT"), "MD-IDNO"),
    **dict.fromkeys(("EU-VAT", "VAT"), "EU-VAT"),
}
# digits each register's ids have; shorter ones lost leading zeros in a spreadsheet
_DIGITS: dict[str, tuple[int, ...]] = {
    "UA-EDR": (8, 10), "GE-NAPR": (9, 11), "KZ-BIN": (12,), "MD-IDNO": (13,),
}
_SEPARATORS = re.compile(r"[\s.\-/]")


def normalise(scheme: str | None, ident: str | None) -> tuple[str | None, str | None]:
    """(scheme, id) as stored: a known register's id in its one form; another scheme's id
    as written (`DE-NAT:HRB 22222`); (scheme, None) without an id."""
    code = " ".join((scheme or "").split()).upper() or None
    code = SCHEMES.get(code, code) if code else None
    written = " ".join((ident or "").split())
    compact = _SEPARATORS.sub("", written).upper()
    if not compact:
        return code, None
    if code not in _DIGITS and code != "EU-VAT":
        return code, written
    if code in _DIGITS and compact.isdigit():
        lengths = _DIGITS[code]
        if len(compact) < lengths[0] and len(compact) >= lengths[0] - 3:
            compact = compact.zfill(lengths[0])
    elif code == "EU-VAT" and compact.startswith("GR"):
        compact = "EL" + compact[2:]
    return code, compact


def key(scheme: str | None, ident: str | None) -> str | None:
    """`SCHEME:ID` normalised (`ID` alone without a scheme); None without an id."""
    code, written = normalise(scheme, ident)
    if written is None:
        return None
    compact = _SEPARATORS.sub("", written).upper()
    return f"{code}:{compact}" if code else compact
