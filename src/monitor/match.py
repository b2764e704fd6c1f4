"""Pure: find every watch's aliases and keywords in an item's title and body.

Text and terms go through the same folding (NFKC, case folding, ё = е, one kind of quote,
dash and space), while an offset map keeps every hit pointing at the original text, so the
snippet shows the words as the page wrote them. A hit must sit on word boundaries in scripts
that have them (no "ZTE" inside "AZTEC"); Chinese and Japanese have none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.config import Watch
from monitor.models import Item, Match

__all__ = ["Matcher", "fold"]

_FOLD_TABLE = str.maketrans(
    {
        "ё": "е",
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
        "\u00bb": '"', "\u2033": '"', "\u05f4": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-",
        "\n": " ", "\t": " ",
    }
)


def _fold_char(chars: str) -> str:
    return unicodedata.normalize("NFKC", chars).casefold().translate(_FOLD_TABLE)


def fold(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """Fold text for matching. Returns the folded text and, when folding changed its length,
    maps from each folded character to the start and end of the original characters it came
    from (None, None means one to one)."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD_TABLE)
    if len(folded) == len(text):
        return folded, None, None
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        # a base character with its combining marks folds as one (и + ◌̆ -> й)
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):
            j += 1
        piece = _fold_char(text[i:j])
        out.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    return "".join(out), starts, ends


def _unspaced(ch: str) -> bool:
    """Scripts written without spaces between words: no boundary check there."""
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return False
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "THAI", "HANGUL SYLLABLE"))


def _wordish(ch: str) -> bool:
    """A character that would continue a word. Han, kana and the like do not: a Latin name
    written straight after Chinese text (采购了Hikvision摄像头) is still a whole word."""
    return (ch.isalnum() or unicodedata.category(ch).startswith("M")) and not _unspaced(ch)


@dataclass(frozen=True, slots=True)
class _Term:
    watch: str
    text: str  # as written in the config
    kind: str
    folded: str
    bounded_left: bool
    bounded_right: bool


class Matcher:
    """Built once per crawl from the watch list; `match(item)` is then pure and cheap."""

    def __init__(self, watches: Sequence[Watch], *, snippet_chars: int = 120) -> None:
        self.snippet_chars = snippet_chars
        terms: dict[tuple[str, str], _Term] = {}
        for watch in watches:
            for kind, text in watch.terms:
                folded = " ".join(fold(text)[0].split())
                if not folded or (watch.name, folded) in terms:
                    continue
                terms[(watch.name, folded)] = _Term(
                    watch=watch.name,
                    text=text,
                    kind=kind,
                    folded=folded,
                    bounded_left=not _unspaced(folded[0]),
                    bounded_right=not _unspaced(folded[-1]),
                )
        self._terms = tuple(terms.values())

    def match(self, item: Item) -> list[Match]:
        return [*self.match_text("title", item.title), *self.match_text("body", item.text)]

    def match_text(self, field: str, text: str) -> list[Match]:
        if not text:
            return []
        folded, starts, ends = fold(text)
        hits: list[tuple[int, int, _Term]] = []
        for term in self._terms:
            hits.extend((s, e, term) for s, e in self._find(folded, term))
        hits = _drop_contained(hits)
        matches = []
        for start, end, term in hits:
            o_start = starts[start] if starts else start
            o_end = ends[end - 1] if ends else end
            matches.append(self._match(term, field, text, o_start, o_end))
        return matches

    @staticmethod
    def _find(folded: str, term: _Term) -> Iterable[tuple[int, int]]:
        needle = term.folded
        at = folded.find(needle)
        while at != -1:
            end = at + len(needle)
            left_ok = not term.bounded_left or at == 0 or not _wordish(folded[at - 1])
            right_ok = not term.bounded_right or end == len(folded) or not _wordish(folded[end])
            if left_ok and right_ok:
                yield at, end
            at = folded.find(needle, at + 1)

    def _match(self, term: _Term, field: str, text: str, start: int, end: int) -> Match:
        half = max(10, (self.snippet_chars - (end - start)) // 2)
        s_start = max(0, start - half)
        s_end = min(len(text), end + half)
        # widen to whole words so the snippet does not start or end mid-word
        while s_start > 0 and not text[s_start - 1].isspace() and start - s_start < half + 15:
            s_start -= 1
        while s_end < len(text) and not text[s_end].isspace() and s_end - end < half + 15:
            s_end += 1
        prefix = "…" if s_start > 0 else ""
        suffix = "…" if s_end < len(text) else ""
        before = _one_line(text[s_start:start], strip="left")
        after = _one_line(text[end:s_end], strip="right")
        found = text[start:end]
        snippet = f"{prefix}{before}{found}{after}{suffix}"
        return Match(
            watch=term.watch,
            term=term.text,
            term_kind=term.kind,  # type: ignore[arg-type]  # "alias" | "keyword" by construction
            field=field,
            start=start,
            end=end,
            found=found,
            snippet=snippet,
            snippet_start=len(prefix) + len(before),
            snippet_end=len(prefix) + len(before) + len(found),
        )


def _one_line(text: str, strip: str) -> str:
    """Snippet context on one line: runs of whitespace become one space."""
    collapsed = " ".join(text.split())
    if text[:1].isspace() and strip != "left":
        collapsed = " " + collapsed
    if text[-1:].isspace() and strip != "right" and collapsed:
        collapsed += " "
    return collapsed


def _drop_contained(hits: list[tuple[int, int, _Term]]) -> list[tuple[int, int, _Term]]:
    """Of one watch's overlapping hits keep the longest ("China Railway Group" over
    "China Railway")."""
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    kept: list[tuple[int, int, _Term]] = []
    for hit in hits:
        if any(k[2].watch == hit[2].watch and k[0] <= hit[0] and hit[1] <= k[1] for k in kept):
            continue
        kept.append(hit)
    return kept
