"""Findings as a person sees them (the digest renders them; the web and alerts will).

    model.py  Finding (a match with its snippet), DigestEntry (an article), TenderEntry,
              Party, OtherWatch, AlsoAt, Evidence (the capture it was read from),
              RemovedEntry (a finding's page taken down)
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
    RemovedEntry,
    TenderEntry,
    when,
)

__all__ = ["AlsoAt", "DigestEntry", "Evidence", "Finding", "OtherWatch", "Party", "RemovedEntry", "TenderEntry",
           "describe_event", "money", "when"]
