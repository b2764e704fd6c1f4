"""What passes between the pipelines once an item has been cleaned."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.furniture import Dropped, Sighting
from monitor.models import CapturedResponse, Item, Match, TenderRecord


@dataclass(slots=True)
class Found:
    """A normalised article or tender, and (after MatchPipeline) what it matched."""

    record: Item | TenderRecord
    matches: list[Match] = field(default_factory=list)
    # the response an article was read from, kept as evidence by the store pipeline
    capture: CapturedResponse | None = None
    # (FurniturePipeline) an article's body with its site's furniture blanked out, which is
    # what is matched; and its blocks, counted by the store when the article is new
    furniture: Dropped | None = None
    sighting: Sighting | None = None
