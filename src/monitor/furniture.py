"""Pure: a source's site furniture, learnt from its own articles, and dropped before matching.

Extractors keep some of a site's furniture inside the article container: "Follow us on
Facebook and Instagram", "Some information for this report came from Reuters.", newsletter
boxes, "your ad here", related-story teasers, photo credits glued to a sentence. A name in
them is no news about that name. So each source's furniture is learnt from its own pages:

    blocks(text)     the article body's *blocks*: each line (paragraph), and the first and
                     last sentence of a line that has several (where credits, captions and
                     teasers get glued to a paragraph); a block is known by the hash of its
                     normalised text (case-folded, every run of digits one `0`, whitespace
                     collapsed), so "© 2024 VOA" and "© 2025 VOA" are one block
    learn            every new article of a source counts each of its distinct blocks once,
                     with the source's article number and the article's day (its published
                     date, else the day it was learnt): `BlockStats`
    is_furniture     the rule below, on a block's counts
    drop             the body with its furniture blocks blanked out (spaces: offsets are
                     kept), and which blocks those were; the matcher sees only that text

The rule. A block is furniture when it was seen on at least MIN_PAGES (3) distinct articles
of the source and either

- *site-wide*: its share of the source's articles in the stretch where it appears (from the
  first article that had it to the last, or to the MIN_WINDOW'th (20th) after the first if
  that is longer and the source has them) is, with 95 % confidence, at least SHARE (25 %):
  3 of 3 articles is, 3 of 6 or 30 of 100 is not, 40 of 100 is; and it is not only on
  articles of one day (unless on SAME_DAY_PAGES, 8, or more): footers, share bars,
  newsletter boxes, "Advertisement", a teaser of the week's big story. The margin and the
  20 articles keep a few articles close together (three follow-ups learnt one after the
  other) from making a block furniture by chance;
- *recurring credit*: it is short (at most SHORT_CHARS, 80 characters), seen on at least
  RECURRING_PAGES (5) articles over at least RECURRING_DAYS (14) days, and in the body's
  first or last line on at least EDGE_SHARE (80 %) of them: "Jane Doe contributed reporting
  from Kyiv.", a photo credit before the first paragraph, "Xinhua contributed to this
  report." A formula in the middle of stories ("The winning bid came from Nuctech, the
  Chinese supplier." on every tender story Nuctech wins) is news each time, and stays.

What this keeps: a quote or a background paragraph repeated in follow-up stories is real
text. It appears on a few articles, close together in time: never on articles of one day
only (however many share it, up to 7), and not on a third of the source's output over its
stretch unless the source writes about little else. A block is only ever judged from
counts, never from its words, so the rule is the same in every language.

Each article is learnt once (the store counts a block's articles only when it stores an
article for the first time). The counts are re-judged as pages arrive, so a crawl uses
what it has seen so far; what became furniture during a crawl, or stopped being, is settled
at its end (`crawlers.pipelines.furniture`), so that a crawl stores what matching with the
counts it ends with gives, as `monitor explain` and `monitor rematch` do. Blocks seen on one article only are forgotten after
FORGET_ONCE_DAYS, every block after FORGET_DAYS unseen (`Store.prune_furniture`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from monitor.models import Item

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
    "without_furniture",
]

MIN_PAGES = 3
SHARE = 0.25
# the share is counted over at least this many of the source's articles from the block's first
MIN_WINDOW = 20
# z of the one-sided 95 % bound on a share
_Z = 1.645
SAME_DAY_PAGES = 8
SHORT_CHARS = 80
RECURRING_PAGES = 5
EDGE_SHARE = 0.8
RECURRING_DAYS = 14
FORGET_ONCE_DAYS = 30
FORGET_DAYS = 365
# a block's sample text as stored (for `monitor furniture` and explain)
SAMPLE_CHARS = 300

# every digit (ASCII, fullwidth, Arabic-Indic, Devanagari) a 0, then each run of 0s one 0
_ZEROS = {ord(zero) + n: "0" for zero in "0０٠۰०" for n in range(10)}
_RUNS_OF_ZEROS = re.compile("00+")
_LETTER = re.compile(r"[^\W\d_]")
# where a line may break into sentences: end punctuation or a closing bracket, with what
# closes after it; `_sentences` decides from what follows (CJK end punctuation always breaks)
_END = re.compile(r"[.!?…)\]。！？][.!?…\"'”’»)\]」』）]*")
_CJK_END = frozenset("。！？")
# opening quotes or brackets, then the first letter of the next sentence
_OPENING = re.compile(r"[\"'“‘«(\[]?([^\W\d_])")
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
    # in the body's first or last line: where credits and "contributed reporting" sit
    edge: bool = False


@dataclass(slots=True)
class BlockStats:
    """What is known of one block of one source: on how many distinct articles it was seen,
    the source's article numbers of the first and last of them, their days (YYYY-MM-DD), on
    how many it was in the body's first or last line, and a sample of its text (stored from
    its second article on)."""

    pages: int
    first_page: int
    last_page: int
    first_day: str
    last_day: str
    chars: int
    edge_pages: int = 0
    sample: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """One article's blocks as learnt: what the store adds to its counts, in the transaction
    that stores the article (and only when the article is new to it)."""

    source: str
    day: str
    # (key, chars, sample text, whether at an edge of the body) of each distinct block
    blocks: tuple[tuple[str, int, str, bool], ...]


@dataclass(frozen=True, slots=True)
class DroppedBlock:
    """A block of a body that was dropped as the site's furniture."""

    start: int
    end: int
    # distinct articles of the source it was seen on
    pages: int
    text: str
    key: str


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
    folded = text.casefold().translate(_ZEROS)
    if "00" in folded:
        folded = _RUNS_OF_ZEROS.sub("0", folded)
    return " ".join(folded.split())


def _hashed(norm: str) -> str:
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


def _keyed(text: str) -> tuple[str, int] | None:
    """(key, normalised length) of a block's text; None when it has no letter."""
    if _LETTER.search(text) is None:
        return None
    norm = _normalised(text)
    return _hashed(norm), len(norm)


def block_key(text: str) -> str | None:
    """The key of a block's text, or None for text with no letter in it (a date, a rule of
    dashes: nothing a name could be in)."""
    keyed = _keyed(text)
    return keyed[0] if keyed else None


def _is_abbreviation(line: str, end: int) -> bool:
    """Whether the full stop at line[end] ends an abbreviation or an initial."""
    found = _LAST_WORD.search(line, max(0, end - 12), end + 1)
    if found is None:
        return False
    word = found.group(1)
    return len(word) == 1 or word.casefold() in _ABBREVIATIONS


def _break(line: str, found: re.Match[str]) -> tuple[int, int] | None:
    """Where a sentence ends and the next starts, if the punctuation `found` ends one."""
    size = len(line)
    end = after = found.end()
    while after < size and line[after].isspace():
        after += 1
    if after == size:
        return None
    if not _CJK_END.intersection(found.group()):
        # Latin and the like: space, then a letter not in lower case ("(AP Photo) The"), and
        # not the full stop of an abbreviation or an initial ("Co. Ltd", "J. Doe")
        following = _OPENING.match(line, after)
        if after == end or following is None or following.group(1).islower() or (
                line[found.start()] == "." and _is_abbreviation(line, found.start())):
            return None
    return end, after


def _edge_sentences(line: str) -> tuple[int, int] | None:
    """Where a line's first sentence ends and its last starts; None for one sentence."""
    candidates = list(_END.finditer(line))
    first = next((cut for found in candidates if (cut := _break(line, found)) is not None),
                 None)
    if first is None:
        return None
    last = next(cut for found in reversed(candidates) if (cut := _break(line, found)) is not None)
    return first[0], last[1]


def blocks(text: str) -> list[Block]:
    """Every block of a body: each non-empty line, and the first and last sentence of a line
    that has several (where credits, captions and teasers get glued to a paragraph)."""
    found: list[Block] = []
    offset = 0
    lines = text.split("\n")
    # the first and last lines with a letter: the body's edges
    filled = [n for n, line in enumerate(lines) if _LETTER.search(line) is not None]
    edges = {filled[0], filled[-1]} if filled else set()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped and _LETTER.search(stripped) is not None:
            lead = offset + len(line) - len(line.lstrip())
            edge = number in edges
            norm = _normalised(stripped)
            found.append(Block(_hashed(norm), lead, lead + len(stripped), len(norm), edge))
            cut = _edge_sentences(stripped)
            if cut is not None:
                for start, end in ((0, cut[0]), (cut[1], len(stripped))):
                    norm = _normalised(stripped[start:end])
                    if _LETTER.search(norm) is not None:
                        found.append(Block(_hashed(norm), lead + start, lead + end,
                                           len(norm), edge))
        offset += len(line) + 1
    return found


# -- the rule --------------------------------------------------------------------------------


def _days(first: str, last: str) -> int:
    try:
        return (date.fromisoformat(last) - date.fromisoformat(first)).days
    except ValueError:
        return 0


def _share_at_least(pages: int, window: int) -> float:
    """The share `pages / window` can be said to be at least (the lower end of its 95 %
    Wilson interval): 3 of 3 articles is a share of at least 53 %, 3 of 10 only of 13 %,
    300 of 1,000 of 28 %."""
    share, z2 = pages / window, _Z * _Z
    centre = share + z2 / (2 * window)
    spread = _Z * math.sqrt(share * (1 - share) / window + z2 / (4 * window * window))
    return (centre - spread) / (1 + z2 / window)


def is_furniture(stats: BlockStats, pages: int) -> bool:
    """Whether a block with these counts is its source's furniture (the rule above), when
    `pages` articles of the source have been learnt."""
    if stats.pages < MIN_PAGES:
        return False
    window = max(stats.last_page - stats.first_page + 1,
                 min(pages - stats.first_page + 1, MIN_WINDOW))
    if _share_at_least(stats.pages, window) >= SHARE and (
            stats.first_day != stats.last_day or stats.pages >= SAME_DAY_PAGES):
        return True
    return (stats.chars <= SHORT_CHARS and stats.pages >= RECURRING_PAGES
            and stats.edge_pages >= EDGE_SHARE * stats.pages
            and _days(stats.first_day, stats.last_day) >= RECURRING_DAYS)


def reason(pages: int) -> str:
    """What explain says of a hit inside a furniture block."""
    return f"dropped as this site's furniture (seen on {pages} of its pages)"


# -- dropping --------------------------------------------------------------------------------

Lookup = Callable[[Sequence[str]], Mapping[str, BlockStats]]


def drop(text: str, lookup: Lookup, pages: int, found: list[Block] | None = None) -> Dropped:
    """The body with its furniture blanked out. `lookup(keys)` gives what is known of those
    blocks of the item's source (the store's counts, or a crawl's `Learner`), `pages` how
    many of its articles were learnt; `found`, the text's blocks when they are at hand."""
    found = blocks(text) if found is None else found
    if not found:
        return Dropped(text)
    known = lookup(list(dict.fromkeys(b.key for b in found)))
    dropped = []
    for found_block in found:
        stats = known.get(found_block.key)
        if stats is not None and is_furniture(stats, pages):
            dropped.append(DroppedBlock(found_block.start, found_block.end, stats.pages,
                                        text[found_block.start:found_block.end],
                                        found_block.key))
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
    # the blocks of the text learnt last: a crawl drops from the text it has just learnt
    _last: tuple[str, list[Block]] | None = None

    def _blocks(self, text: str) -> list[Block]:
        if self._last is None or self._last[0] is not text:
            self._last = (text, blocks(text))
        return self._last[1]

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
        found: dict[str, tuple[str, int, str, bool]] = {}
        for block in self._blocks(item.text):
            seen = found.get(block.key)
            if seen is None or (block.edge and not seen[3]):
                found[block.key] = (block.key, block.chars,
                                    item.text[block.start:block.end][:SAMPLE_CHARS], block.edge)
        self.stats(list(found))
        self.pages += 1
        for key, chars, sample, edge in found.values():
            stats = self.known.get(key)
            if stats is None:
                self.known[key] = BlockStats(1, self.pages, self.pages, day, day, chars,
                                             int(edge))
                self._unknown.discard(key)
                continue
            stats.pages += 1
            stats.edge_pages += edge
            stats.last_page = self.pages
            stats.first_day = min(stats.first_day, day)
            stats.last_day = max(stats.last_day, day)
            stats.sample = stats.sample or sample
        return Sighting(item.source, day, tuple(found.values()))

    def drop(self, text: str) -> Dropped:
        return drop(text, self.stats, self.pages, self._blocks(text))

    def is_furniture(self, key: str) -> bool:
        """Whether the block with this key is furniture now (as far as this learner knows)."""
        stats = self.known.get(key)
        return stats is not None and is_furniture(stats, self.pages)
