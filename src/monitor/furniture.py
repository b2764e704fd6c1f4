"""Pure: a source's site furniture, learnt from its own articles, and dropped before matching.

Extractors keep some of a site's furniture inside the article container: "Follow us on
Facebook and Instagram", "Some information for this report came from Reuters.", newsletter
boxes, "your ad here", related-story teasers, photo credits glued to a sentence. A name in
them is no news about that name. So each source's furniture is learnt from its own pages:

    blocks(text)     the article body's *blocks*: each line (paragraph), and each sentence of
                     a line that has several; a block is known by the hash of its normalised
                     text (case-folded, every run of digits one `0`, whitespace collapsed), so
                     "© 2024 VOA" and "© 2025 VOA" are one block
    learn            every new article of a source counts each of its distinct blocks once,
                     with the source's article number and the article's day (its published
                     date, else the day it was learnt): `BlockStats`
    is_furniture     the rule below, on a block's counts
    drop             the body with its furniture blocks blanked out (spaces: offsets are
                     kept), and which blocks those were; the matcher sees only that text

The rule. A block is furniture when it was seen on at least MIN_PAGES (3) distinct articles
of the source and either

- *site-wide*: it is on at least SHARE (30 %) of the source's articles in the stretch where
  it appears (from the first article that had it to the last; counted over at least
  MIN_WINDOW, 6 articles), and not only on articles of one day (unless on SAME_DAY_PAGES, 8,
  or more): footers, share bars, newsletter boxes, "Advertisement";
- *recurring credit*: it is short (at most SHORT_CHARS, 80 characters) and seen on at least
  RECURRING_PAGES (5) articles over at least RECURRING_DAYS (14) days: "Jane Doe contributed
  reporting from Kyiv.", "(AP Photo/Evan Vucci)", "Xinhua contributed to this report."

What this keeps: a quote or a background paragraph repeated in follow-up stories is real
text. It appears on a few articles, close together in time: never on articles of one day
only (however many share it, up to 7), and not on 30 % of the source's output over its
stretch unless the source writes about little else. A block is only ever judged from
counts, never from its words, so the rule is the same in every language.

Each article is learnt once (the store counts a block's articles only when it stores an
article for the first time). The counts are re-judged as pages arrive, so a crawl uses
what it has seen so far, and what became furniture during a crawl is settled at its end
(`crawlers.pipelines.furniture`). Blocks seen on one article only are forgotten after
FORGET_ONCE_DAYS, every block after FORGET_DAYS unseen (`Store.prune_furniture`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from monitor.models import Item, Match

__all__ = [
    "FORGET_DAYS",
    "FORGET_ONCE_DAYS",
    "MIN_PAGES",
    "Block",
    "BlockStats",
    "DroppedBlock",
    "Dropped",
    "Learner",
    "Sighting",
    "block_key",
    "blocks",
    "drop",
    "is_furniture",
    "reason",
    "retracted",
    "without_furniture",
]

MIN_PAGES = 3
SHARE = 0.3
MIN_WINDOW = 6
SAME_DAY_PAGES = 8
SHORT_CHARS = 80
RECURRING_PAGES = 5
RECURRING_DAYS = 14
FORGET_ONCE_DAYS = 30
FORGET_DAYS = 365
# a block's sample text as stored (for `monitor furniture` and explain)
SAMPLE_CHARS = 300

_DIGITS = re.compile(r"\d+")
# where a line breaks into sentences: end punctuation (and closing quotes or brackets), then
# space, then something that does not start in lower case; or a closing bracket before a
# capital ("(AP Photo/Evan Vucci) The"); or CJK end punctuation, with or without space
_BREAK = re.compile(
    r"(?P<end>[.!?…]+[\"'”’»)\]]*|[)\]])\s+(?=[\"'“‘«(\[]?[^\W\d_])"
    r"|(?P<cjk>[。！？]+[”’」』）)]*)\s*")
# words whose full stop ends an abbreviation, not a sentence ("Nuctech Co. Ltd", "Mr. Ren")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt co corp inc ltd llc plc jr sr no nos vs gen gov sen rep col lt "
    "capt sgt jan feb mar apr jun jul aug sep sept oct nov dec approx dept est fig".split())
_LAST_WORD = re.compile(r"([^\W\d_]+)\W*\Z")


@dataclass(frozen=True, slots=True)
class Block:
    """A line, or a sentence of a line, of an article body: where it is and its key."""

    key: str
    start: int
    end: int
    # length of the normalised text: the rule treats short blocks apart
    chars: int


@dataclass(slots=True)
class BlockStats:
    """What is known of one block of one source: on how many distinct articles it was seen,
    the source's article numbers of the first and last of them, their days (YYYY-MM-DD), and
    a sample of its text (stored from its second article on)."""

    pages: int
    first_page: int
    last_page: int
    first_day: str
    last_day: str
    chars: int
    sample: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """One article's blocks as learnt: what the store adds to its counts, in the transaction
    that stores the article (and only when the article is new to it)."""

    source: str
    day: str
    # (key, chars, sample text) of each distinct block
    blocks: tuple[tuple[str, int, str], ...]


@dataclass(frozen=True, slots=True)
class DroppedBlock:
    """A block of a body that was dropped as the site's furniture."""

    start: int
    end: int
    # distinct articles of the source it was seen on
    pages: int
    text: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """A body with its furniture blanked out (same length: offsets into it are offsets into
    the stored body), and the blocks that were."""

    text: str
    blocks: tuple[DroppedBlock, ...] = ()

    def at(self, start: int, end: int) -> DroppedBlock | None:
        """The dropped block that text[start:end] lies in, if any."""
        for block in self.blocks:
            if block.start <= start and end <= block.end:
                return block
        return None


# -- blocks ----------------------------------------------------------------------------------


def _normalised(text: str) -> str:
    return " ".join(_DIGITS.sub("0", text.casefold()).split())


def block_key(text: str) -> str | None:
    """The key of a block's text, or None for text with no letter in it (a date, a rule of
    dashes: nothing a name could be in)."""
    norm = _normalised(text)
    if not any(ch.isalpha() for ch in norm):
        return None
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


def _is_abbreviation(line: str, end: int) -> bool:
    """Whether the full stop at line[end] ends an abbreviation or an initial."""
    found = _LAST_WORD.search(line, max(0, end - 12), end + 1)
    if found is None:
        return False
    word = found.group(1)
    return len(word) == 1 or word.casefold() in _ABBREVIATIONS


def _sentences(line: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of one line, trailing space left out."""
    spans, start = [], 0
    for found in _BREAK.finditer(line):
        if found.group("end"):
            end = found.end("end")
            following = next((ch for ch in line[found.end():found.end() + 3] if ch.isalpha()),
                             "")
            if following.islower() or (found.group("end")[0] == "." and _is_abbreviation(
                    line, found.start("end"))):
                continue
        else:
            end = found.end("cjk")
        if end > start:
            spans.append((start, end))
        start = found.end()
    if start < len(line):
        spans.append((start, len(line)))
    return spans


def blocks(text: str) -> list[Block]:
    """Every block of a body: each non-empty line, then each sentence of a line that has
    several (a line with one sentence is one block)."""
    found: list[Block] = []
    offset = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            lead = offset + len(line) - len(line.lstrip())
            key = block_key(stripped)
            if key is not None:
                found.append(Block(key, lead, lead + len(stripped), len(_normalised(stripped))))
            sentences = _sentences(stripped)
            if len(sentences) > 1:
                for s_start, s_end in sentences:
                    sentence = stripped[s_start:s_end]
                    key = block_key(sentence)
                    if key is not None:
                        found.append(Block(key, lead + s_start, lead + s_end,
                                           len(_normalised(sentence))))
        offset += len(line) + 1
    return found


# -- the rule --------------------------------------------------------------------------------


def _days(first: str, last: str) -> int:
    try:
        return (date.fromisoformat(last) - date.fromisoformat(first)).days
    except ValueError:
        return 0


def is_furniture(stats: BlockStats) -> bool:
    """Whether a block with these counts is its source's furniture (the rule above)."""
    if stats.pages < MIN_PAGES:
        return False
    window = max(MIN_WINDOW, stats.last_page - stats.first_page + 1)
    if stats.pages >= SHARE * window and (stats.first_day != stats.last_day
                                          or stats.pages >= SAME_DAY_PAGES):
        return True
    return (stats.chars <= SHORT_CHARS and stats.pages >= RECURRING_PAGES
            and _days(stats.first_day, stats.last_day) >= RECURRING_DAYS)


def reason(pages: int) -> str:
    """What explain says of a hit inside a furniture block."""
    return f"dropped as this site's furniture (seen on {pages} of its pages)"


# -- dropping --------------------------------------------------------------------------------

Lookup = Callable[[Sequence[str]], Mapping[str, BlockStats]]


def drop(text: str, lookup: Lookup) -> Dropped:
    """The body with its furniture blanked out. `lookup(keys)` gives what is known of those
    blocks of the item's source (the store's counts, or a crawl's `Learner`)."""
    found = blocks(text)
    if not found:
        return Dropped(text)
    known = lookup(list(dict.fromkeys(b.key for b in found)))
    dropped = []
    for found_block in found:
        stats = known.get(found_block.key)
        if stats is not None and is_furniture(stats):
            dropped.append(DroppedBlock(found_block.start, found_block.end, stats.pages,
                                        text[found_block.start:found_block.end]))
    if not dropped:
        return Dropped(text)
    chars = list(text)
    outer: list[DroppedBlock] = []
    # a sentence of a line that is furniture as a whole is listed once, as the line
    for block in sorted(dropped, key=lambda b: (b.start, -b.end)):
        chars[block.start:block.end] = " " * (block.end - block.start)
        if not outer or block.end > outer[-1].end:
            outer.append(block)
    return Dropped("".join(chars), tuple(outer))


def without_furniture(item: Item, dropped: Dropped) -> Item:
    """The item as the matcher sees it: its body with the furniture blanked out."""
    return item if not dropped.blocks else replace(item, text=dropped.text)


def retracted(stored: Sequence[Match], again: Iterable[Match]) -> list[Match]:
    """Of the matches stored for an item, those a match of it now (`again`, with what has
    become furniture since dropped) no longer makes; one stored match stands for every hit
    with its watch, field, term and text."""
    def key(m: Match) -> tuple[str, str, str, str]:
        return (m.watch, m.field, m.term, m.found)

    kept = {key(m) for m in again}
    return [m for m in stored if key(m) not in kept]


# -- learning ----------------------------------------------------------------------------------


def _day(published_at: str | None, today: str) -> str:
    if published_at and re.match(r"\d{4}-\d\d-\d\d", published_at):
        return published_at[:10]
    return today


@dataclass(slots=True)
class Learner:
    """One source's furniture as a crawl learns it: the counts of the blocks its articles
    had (read from the store the first time a block is met, `lookup`) and the number of
    articles learnt, both kept in step with what the store adds for each new article."""

    source: str
    # articles of the source learnt so far (stored ones included)
    pages: int = 0
    lookup: Lookup | None = None
    known: dict[str, BlockStats] = field(default_factory=dict)
    # keys the store had nothing for (asked once)
    _unknown: set[str] = field(default_factory=set)

    def stats(self, keys: Sequence[str]) -> dict[str, BlockStats]:
        missing = [k for k in keys if k not in self.known and k not in self._unknown]
        if missing and self.lookup is not None:
            self.known.update(self.lookup(missing))
        self._unknown.update(k for k in missing if k not in self.known)
        return {k: self.known[k] for k in keys if k in self.known}

    def learn(self, item: Item, today: str | None = None) -> Sighting:
        """Count a new article's blocks (each once); what the store should add for it."""
        today = today or datetime.now(UTC).date().isoformat()
        day = _day(item.published_at, today)
        found: dict[str, tuple[str, int, str]] = {}
        for block in blocks(item.text):
            if block.key not in found:
                found[block.key] = (block.key, block.chars,
                                    item.text[block.start:block.end][:SAMPLE_CHARS])
        self.stats(list(found))
        self.pages += 1
        for key, chars, sample in found.values():
            stats = self.known.get(key)
            if stats is None:
                self.known[key] = BlockStats(1, self.pages, self.pages, day, day, chars)
                self._unknown.discard(key)
                continue
            stats.pages += 1
            stats.last_page = self.pages
            stats.first_day = min(stats.first_day, day)
            stats.last_day = max(stats.last_day, day)
            stats.sample = stats.sample or sample
        return Sighting(item.source, day, tuple(found.values()))

    def drop(self, text: str) -> Dropped:
        return drop(text, self.stats)
