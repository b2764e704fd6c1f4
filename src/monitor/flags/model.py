"""A red flag as stored and shown: which rule, its verdict, and the numbers to check it by
hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# every rule, in the order verdicts are shown (`rules` and `relative` define them)
FLAG_RULES = (
    "single_bid", "short_period", "all_but_winner_disqualified", "lowest_bid_disqualified",
    "identical_prices", "late_winning_bid", "split_purchase", "repeated_under_threshold",
    "price_change_with_extension", "linked_bidders", "close_to_winning_bid",
    "heavily_discounted", "excessive_disqualifications", "heterogeneous_supplier",
)

# flagged: the rule's condition holds; clear: it was checked and does not; not_computable:
# the portal does not publish what it needs (never shown as clear); not_applicable: the rule
# is not about this kind of procedure (a single bid on a direct award)
FlagState = Literal["flagged", "clear", "not_computable", "not_applicable"]


@dataclass(frozen=True, slots=True)
class Flag:
    """One rule's verdict on one tender version. `inputs` are the record's values the rule
    read, `thresholds` the limits it compared them with: with both, an investigator can
    redo it by hand. `relative` rules compare with the portal's other stored records."""

    rule: str
    state: FlagState
    # one line with the key numbers: "single bid (lot 1: 1 bid of 1 received)"
    summary: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    relative: bool = False

    @property
    def flagged(self) -> bool:
        return self.state == "flagged"

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "state": self.state, "summary": self.summary,
                "inputs": self.inputs, "thresholds": self.thresholds,
                "version": self.version, "relative": self.relative}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flag:
        return cls(**data)
