"""The digest: what is new for each recipient, and how every source fared.

    build.py   store -> Digest (entries per finding, sections per watch, Coverage, notices)
    model.py   the values a Digest is made of (its findings: monitor.findings)
    render.py  Digest -> plain text, HTML (templates/) and the CSV of every finding
"""

from monitor.digest.build import build_digest
from monitor.digest.model import (
    CoverageLine,
    Digest,
    UndeliveredDigest,
    WaitingAlert,
    WatchSection,
)
from monitor.digest.render import findings_csv, render_html, render_text
from monitor.findings import (
    AlsoAt,
    DigestEntry,
    Finding,
    OtherWatch,
    Party,
    TenderEntry,
    describe_event,
    money,
)

__all__ = [
    "AlsoAt",
    "CoverageLine",
    "Digest",
    "DigestEntry",
    "Finding",
    "OtherWatch",
    "Party",
    "TenderEntry",
    "UndeliveredDigest",
    "WaitingAlert",
    "WatchSection",
    "build_digest",
    "describe_event",
    "findings_csv",
    "money",
    "render_html",
    "render_text",
]
