"""One automaton pass over a folded field: every anchor of every watch found at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

import ahocorasick_rs

from monitor.match.terms import _Term
from monitor.names import (
    ACCENTED,
    CASEFOLD_ONLY,
    CYRILLIC_CODEC,
    GEORGIAN_CODEC,
    ScriptCodec,
    strip_accents,
)

_CASEFOLD_ONLY = re.compile("[" + "".join(map(re.escape, CASEFOLD_ONLY)) + "]")
# registry ids shorter than this are not looked for in text (too many accidental hits)


@dataclass(slots=True)
class _Hit:
    term: _Term
    field: str
    start: int  # offsets into the original field text
    end: int  # end of the term (with its case ending)
    tail: int  # end of a legal form written after it ("Nuctech| Co., Ltd"), else `end`


@dataclass(frozen=True, slots=True)
class _Miss:
    """An anchor hit of a finding that is not the whole term: where, and why when it is not
    the pattern that failed (a Chinese hit inside other words)."""

    term: _Term
    field: str
    start: int
    end: int
    reason: str | None = None


class _Scan:
    """One item's hits, grouped by watch, plus (when explaining) the anchor hits that failed.
    (A plain class: a dataclass's default factories cost more than a field without hits.)"""

    __slots__ = ("texts", "hits", "misses")

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        self.hits: dict[int, list[_Hit]] = {}
        self.misses: dict[int, list[_Miss]] = {}


class _Scanner:
    """The anchors in one automaton per kind of folded text, each found as (slot, start, end)
    with character offsets into the folded text:

    - narrow: the ASCII anchors, over `fold_narrow` bytes (Latin-1 text, a byte a character);
    - wide: the anchors' low bytes in UTF-16, over the low bytes of `fold_wide` text (a byte
      a character, so offsets are character offsets): each hit is a candidate, kept where
      the folded text there is the anchor. Two characters share a low byte one time in 256,
      so candidates that are not hits are few, and the automaton reads half the bytes that
      UTF-16 has, where every Chinese character can start an anchor and the automaton
      seldom rests in its start state. A text that may hold an `ACCENTED` or
      `CASEFOLD_ONLY` letter (its high byte says so, or its Latin-1 part) is looked at
      further and folded again first;
    - per `ScriptCodec` (Cyrillic, Georgian): the anchors it encodes, over text folded in
      it (a byte a character): a Cyrillic or Georgian text without other scripts' letters
      skips `fold_wide`'s NFKC check and `str.lower`, and the automaton reads half the bytes;
    - exact: every anchor as str, for folded text beyond the BMP (emoji), where UTF-16
      offsets would shift; a contiguous NFA, as such text is rare.

    Bytes automata over our own encodings skip what the str API does on every call: a UTF-8
    copy of the text and a table of its offsets, longer than the text. Narrow and the codecs'
    are DFAs (three times faster than an NFA; 0.5-3 MB each for 5,000 aliases in four
    scripts). Wide is a contiguous NFA: its DFA takes 20 MB (a low byte can be any of 256)
    and, read from memory rather than cache on Chinese text, is no faster in a pass that
    also verifies and builds matches."""

    def __init__(self, anchors: list[str]) -> None:
        dfa = ahocorasick_rs.Implementation.DFA
        self.narrow_slots = [i for i, a in enumerate(anchors) if a.isascii()]
        self.narrow = ahocorasick_rs.BytesAhoCorasick(
            [anchors[i].encode("ascii") for i in self.narrow_slots],
            implementation=dfa) if self.narrow_slots else None
        self.anchors = anchors
        # anchors that share their low bytes share a pattern: (pattern -> slots)
        low: dict[bytes, list[int]] = {}
        for i, anchor in enumerate(anchors):
            if max(anchor) < "\U00010000":
                low.setdefault(anchor.encode("utf-16-le")[::2], []).append(i)
        self.low_slots = list(low.values())
        self.low = ahocorasick_rs.BytesAhoCorasick(
            list(low), implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        ) if low else None
        self.codecs: dict[ScriptCodec, tuple[ahocorasick_rs.BytesAhoCorasick, list[int]]] = {}
        for codec in (CYRILLIC_CODEC, GEORGIAN_CODEC):
            encoded = [(i, codec.encode(a)) for i, a in enumerate(anchors)]
            patterns = [(i, data) for i, data in encoded if data is not None]
            if patterns:
                self.codecs[codec] = (ahocorasick_rs.BytesAhoCorasick(
                    [data for _, data in patterns], implementation=dfa),
                    [i for i, _ in patterns])
        self.exact = ahocorasick_rs.AhoCorasick(
            anchors, implementation=ahocorasick_rs.Implementation.ContiguousNFA)

    def find_narrow(self, folded: bytes) -> list[tuple[int, int, int]]:
        if self.narrow is None:
            return []
        found = self.narrow.find_matches_as_indexes(folded, overlapping=True)
        if not found:
            return found
        slots = self.narrow_slots
        return [(slots[i], start, end) for i, start, end in found]

    def find_codec(self, codec: ScriptCodec, folded: bytes) -> list[tuple[int, int, int]]:
        """The anchors in text that `codec.fold` folded (none when it encodes no anchor)."""
        automaton, slots = self.codecs.get(codec, (None, []))
        if automaton is None:
            return []
        found = automaton.find_matches_as_indexes(folded, overlapping=True)
        if not found:
            return found
        return [(slots[i], start, end) for i, start, end in found]

    def find(self, folded: str, data: bytes | None = None, high: bytes | None = None,
             plain: bool = False) -> tuple[str, list[tuple[int, int, int]]] | None:
        """The folded text with accents stripped, and the anchors in it; None when the text
        has a `CASEFOLD_ONLY` letter: fold it with `full` and look again. (`data`, `high`
        and `plain` as `fold_wide_utf16` gives them, when it has.)"""
        if data is None or high is None:
            data = folded.encode("utf-16-le", "surrogatepass")
            high = data[1::2]
        if len(data) != 2 * len(folded):
            if _CASEFOLD_ONLY.search(folded):
                return None
            folded = strip_accents(folded)
            return folded, self.exact.find_matches_as_indexes(folded, overlapping=True)
        if not plain and _maybe_marked(folded, high):
            if _CASEFOLD_ONLY.search(folded):
                return None
            stripped = strip_accents(folded)
            if stripped != folded:
                folded = stripped
                data = folded.encode("utf-16-le")
        anchors = self.anchors
        slots = self.low_slots
        found: list[tuple[int, int, int]] = []
        if self.low is None:
            return folded, found
        for i, start, end in self.low.find_matches_as_indexes(data[::2], overlapping=True):
            for slot in slots[i]:
                if folded.startswith(anchors[slot], start):
                    found.append((slot, start, end))
        return folded, found


# the high bytes (in UTF-16) of the `ACCENTED` and `CASEFOLD_ONLY` letters beyond Latin-1, and
# those letters in Latin-1: `bytes.translate` deletes every other byte
_MARKED = ACCENTED + CASEFOLD_ONLY
_UNMARKED_HIGH = bytes(sorted(set(range(256)) - {ord(ch) >> 8 for ch in _MARKED} | {0}))
_UNMARKED_LATIN1 = bytes(sorted(set(range(256)) - {ord(ch) for ch in _MARKED if ch < "\u0100"}))


def _maybe_marked(folded: str, high: bytes) -> bool:
    """Whether `folded` (`high`: the high bytes of its UTF-16) may have an `ACCENTED` or
    `CASEFOLD_ONLY` letter: one of its characters shares its high byte with one beyond
    Latin-1 (Chinese and Cyrillic never do; Greek and Latin Extended do), or its Latin-1
    characters include one."""
    return bool(high.translate(None, _UNMARKED_HIGH)
                or folded.encode("latin-1", "ignore").translate(None, _UNMARKED_LATIN1))
