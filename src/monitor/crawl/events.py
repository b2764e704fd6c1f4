"""The crawler child's events to its parent: one JSON object a line on the child's stdout,
after a marker; both sides import this module (the child writes, the parent reads)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import IO, Any

# marks our lines on the child's stdout; anything else there is ignored
EVENT_PREFIX = "@@monitor-event "
# after SIGTERM, how long Scrapy gets to close spiders and record their runs


# the crawler child's channel to us (`use_event_stream`); stdout when unset
_event_stream: IO[str] | None = None


def use_event_stream(stream: IO[str]) -> None:
    """Send this process's events to `stream` (the crawler child's private copy of the pipe
    to its parent, which its own children do not inherit)."""
    global _event_stream
    _event_stream = stream


def emit_event(kind: str, source: str | None = None, stream: IO[str] | None = None,
               **data: Any) -> None:
    """Write one event line (used by the crawler child)."""
    stream = stream or _event_stream or sys.stdout
    line = json.dumps({"kind": kind, "source": source, **data}, ensure_ascii=False, default=str)
    stream.write(EVENT_PREFIX + line + "\n")
    stream.flush()


@dataclass(frozen=True, slots=True)
class CrawlEvent:
    """`run_started`, `progress`, `item` (dry runs), `error` or `run_finished`."""

    kind: str
    source: str | None
    data: dict[str, Any]


def parse_event(line: str) -> CrawlEvent | None:
    try:
        raw = json.loads(line[len(EVENT_PREFIX):])
    except json.JSONDecodeError:
        return None
    kind = raw.pop("kind", None)
    source = raw.pop("source", None)
    return CrawlEvent(kind=str(kind), source=source, data=raw) if kind else None
