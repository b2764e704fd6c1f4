"""Red flags on tenders: why an award deserves a look, with the numbers to check it.

    compute_flags(record, context, fences) -> [Flag]    every rule's verdict on one version

`rules` holds the rules on one tender and on its buyer's other tenders, `relative` those
that compare with the portal's stored records; `model` the `Flag` a verdict is. Each flag
keeps the values it read and the limits it compared them with, and the rule's version, so
that `monitor flags --recompute` knows what to redo and an investigator can redo it by hand.
"""

from __future__ import annotations

from dataclasses import replace

from monitor.flags.model import FLAG_RULES, Flag, FlagState
from monitor.flags.relative import Fences, fences_of, relative_flags
from monitor.flags.rules import PORTAL_THRESHOLDS, RULES, Context, competitive
from monitor.models import TenderRecord

__all__ = ["ALL_RULES", "PORTAL_THRESHOLDS", "RULE_VERSION", "Context", "Fences", "Flag",
           "FlagState", "competitive", "compute_flags", "fences_of"]

# raised when any rule's definition changes: stored flags of an older version are redone
RULE_VERSION = 1
ALL_RULES = FLAG_RULES


def compute_flags(record: TenderRecord, context: Context,
                  fences: Fences | None = None) -> list[Flag]:
    """Every rule's verdict on `record` (a normalised TenderRecord); the relative rules
    only with `fences`, else not computable."""
    flags = [replace(rule(record, context), version=RULE_VERSION) for rule in RULES.values()]
    min_records = context.settings.relative_min_records
    if fences is None:
        fences = Fences({}, {}, {})
    flags += [replace(f, version=RULE_VERSION)
              for f in relative_flags(record, fences, min_records)]
    return flags
