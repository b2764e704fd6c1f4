"""Findings as a person sees them (the digest renders them; the web and alerts will).

    model.py  Finding (a match with its snippet), DigestEntry (an article), TenderEntry,
              Party, OtherWatch, AlsoAt, Evidence (the capture it was read from)
    build.py  store rows -> entries; the wording of tender events and money
"""

from monitor.findings.build import describe_event, money
from monitor.findings.model import (
    AlsoAt,
    DigestEntry,
    Evidence,
    Finding,
    OtherWatch,
    Party,
    TenderEntry,
    when,
)

__all__ = ["AlsoAt", "DigestEntry", "Evidence", "Finding", "OtherWatch", "Party", "TenderEntry",
           "describe_event", "money", "when"]
