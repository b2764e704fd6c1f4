"""Item pipelines, one step each, in the order of ITEM_PIPELINES (crawlers/settings.py):

    NormalisePipeline  ScrapedItem -> Found(Item); TenderRecord -> Found(TenderRecord), cleaned
    FurniturePipeline  Found article -> learnt from (if new) and its site furniture marked;
                       at the end, matches in what became furniture during the crawl go
    MatchPipeline      Found -> Found with its matches (names, keywords; tender roles, ids)
    StorePipeline      Found, unchanged markers and PortalCursors -> the store, counted in the run
    DryRunPipeline     instead of StorePipeline in a dry run: Found -> an `item` event

Thin on purpose: the stages live in `monitor`. The run itself (its row, counts, status,
progress events) is kept by `crawlers.extensions.run_recorder.RunRecorder`.
"""

from crawlers.pipelines.dry_run import DryRunPipeline
from crawlers.pipelines.found import Found
from crawlers.pipelines.furniture import FurniturePipeline
from crawlers.pipelines.match import MatchPipeline
from crawlers.pipelines.normalise import NormalisePipeline
from crawlers.pipelines.store import StorePipeline

__all__ = ["DryRunPipeline", "Found", "FurniturePipeline", "MatchPipeline", "NormalisePipeline",
           "StorePipeline"]
