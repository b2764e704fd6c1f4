"""The digest: what is new for each recipient, and how every source fared.

    build.py   store -> Digest (entries per finding, sections per watch, Coverage, notices)
    model.py   the values a Digest is made of
    render.py  Digest -> plain text, HTML (templates/) and the CSV of every finding
"""

from monitor.digest.build import build_digest, describe_event, money
from monitor.digest.model import (
    AlsoAt,
    CoverageLine,
    Digest,
    DigestEntry,
    Finding,
    OtherWatch,
    Party,
    TenderEntry,
    UndeliveredDigest,
    WatchSection,
)
from monitor.digest.render import findings_csv, render_html, render_text

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
    "WatchSection",
    "build_digest",
    "describe_event",
    "findings_csv",
    "money",
    "render_html",
    "render_text",
]
