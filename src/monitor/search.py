"""Full-text search, the pure part: what is indexed for a text, what a typed query means, and
where a record's text shows the words searched for. The store keeps the index
(`monitor.store.search`); this module never touches it.

The index is SQLite FTS5 with the `unicode61 remove_diacritics 2` tokenizer, which splits
Latin, Cyrillic, Georgian and Kazakh text into words and folds Latin case and accents. Chinese,
Japanese and Korean are written without spaces, so a run of their characters would be one
"word": `index_text` turns each run into overlapping bigrams, which finds a 2-character name
such as 华为 (FTS5's trigram tokenizer finds nothing under 3 characters; `bench/search.py`
measures both). Bigrams do not know word boundaries: 华为 is also found in 王建华为了
("Wang Jianhua did it for ..."), as any CJK search without a dictionary would.

    index_text("王建华为了")   -> "王建 建华 华为 为了"
    parse_query('华为公司 OR Nuctech NOT Хуаве*').expression
        -> '"华为 为公 公司" OR ("Nuctech" NOT "Хуаве"*)'   (NOT binds tighter than OR)
    highlight(text, query)    -> Snippet: the window around the first hit, hits marked
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from monitor.errors import SearchQueryError

__all__ = ["Query", "Snippet", "Term", "highlight", "index_text", "parse_query", "tender_text"]

# Han (with extensions and compatibility ideographs), Hiragana, Katakana (halfwidth too, but
# not the middle dot ・ that separates the parts of a foreign name), Hangul, 々 〆 〇
_CJK = ("\u3005-\u3007\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3131-\u318e"
        "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff\uff66-\uff9f"
        "\U00020000-\U0003134f")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_IS_CJK = re.compile(f"[{_CJK}]")
# a letter or digit: what the tokenizer keeps (it splits on everything else, `_` included)
_WORD_CHAR = r"[^\W_]"
# a letter or digit that is not CJK: the neighbour that ends a word in a spaced script
_SPACED_CHAR = rf"[^\W_{_CJK}]"

# Folds the tokenizer does not make. Georgian written in Mtavruli (capitals, used in headlines
# since Unicode 11) is the same word as in Mkhedruli; Russian ё is written е as often as not.
_FOLD = str.maketrans({
    **{chr(c): chr(c).lower() for c in range(0x1C90, 0x1CC0) if chr(c).lower() != chr(c)},
    "Ё": "Е", "ё": "е",
})
# translate() looks every character up: searching first is ~15x faster on text without any
_NEEDS_FOLD = re.compile("[\u1c90-\u1cbfЁё]")


def _latin_fold_table() -> dict[int, str]:
    """Lower-case accented Latin letter -> its base letter: what `remove_diacritics 2` folds
    (it folds Latin only: й and ә stay themselves), for highlighting what the index found."""
    table: dict[int, str] = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        char = chr(code).lower()
        parts = unicodedata.normalize("NFD", char)
        if len(char) == 1 and len(parts) > 1 and all(unicodedata.combining(p) for p in parts[1:]):
            table[ord(char)] = parts[0]
    table[ord("ё")] = "е"
    return table


_HIGHLIGHT_FOLD = _latin_fold_table()
_NEEDS_HIGHLIGHT_FOLD = re.compile("[" + "".join(map(chr, _HIGHLIGHT_FOLD)) + "]")


def index_text(text: str) -> str:
    """What the index holds for `text`: each run of CJK characters as overlapping bigrams
    separated by spaces (a run of one character stays itself), Mtavruli as Mkhedruli, ё as е;
    everything else as it is (the tokenizer does the rest). Used for queries' terms too."""
    if _NEEDS_FOLD.search(text):
        text = text.translate(_FOLD)
    if not _CJK_RUN.search(text):
        return text
    return _CJK_RUN.sub(_bigrams, text)


def _bigrams(found: re.Match[str]) -> str:
    run, text = found.group(), found.string
    grams = run if len(run) == 1 else " ".join(run[i:i + 2] for i in range(len(run) - 1))
    # a run touching a Latin word (华为Technologies) must not glue onto it
    before = " " if found.start() > 0 and not text[found.start() - 1].isspace() else ""
    after = " " if found.end() < len(text) and not text[found.end()].isspace() else ""
    return f"{before}{grams}{after}"


def _organisation(org: Any) -> str:
    if not isinstance(org, Mapping):
        return ""
    name, number, scheme = org.get("name") or "", org.get("id"), org.get("scheme")
    if not number:
        return str(name)
    return f"{name} {scheme}:{number}" if scheme else f"{name} {number}"


def tender_text(record: Mapping[str, Any]) -> str:
    """The searchable text of a tender besides its title, from its record as stored
    (`tender.stored_fields`): number, description, buyer, winners and bidders with their
    registry ids (`UA-EDR:41234567`), the titles of its lots and documents. Read from the
    stored mapping, not a `TenderRecord`, so that the text indexed for any stored version can
    be recomputed exactly (removing a record from the index needs what was indexed)."""
    lines = [str(record.get("native_id") or ""), str(record.get("description") or ""),
             _organisation(record.get("buyer"))]
    for role in ("winners", "bidders"):
        lines.extend(_organisation(o) for o in record.get(role) or ())
    for part in ("lots", "documents"):
        lines.extend(str(p.get("title") or "") for p in record.get(part) or ()
                     if isinstance(p, Mapping))
    # a winner is a bidder too: once
    return "\n".join(dict.fromkeys(line for line in lines if line))


# -- queries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """A word or "quoted phrase" as the user typed it; `prefix`: typed with a trailing `*`."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search: `expression` is an FTS5 MATCH expression in which every term is
    quoted (user input cannot be FTS5 syntax), `terms` the terms to highlight (those not
    under NOT), in the order typed."""

    text: str
    expression: str
    terms: tuple[Term, ...]


# nodes of a parsed query: a term, ("AND", keep, leave_out) or ("OR", alternatives)
_Node = Any

_TOKEN = re.compile(r'\s+|(?P<paren>[()])|"(?P<phrase>[^"]*)"(?P<pstar>\*)?|(?P<word>[^\s"()]+)'
                    r'|(?P<open>")')
_KEYWORDS = ("AND", "OR", "NOT")
# a prefix shorter than this matches too many words (`a*`) to be worth the time it takes
_MIN_PREFIX = 3
# what a person types; longer or deeper is a machine's, and would cost the server dearly
_MAX_LENGTH = 1000
_MAX_DEPTH = 10


class _Parser:
    """Recursive descent over the tokens, with the usual precedence: OR binds loosest, then
    AND (written or implied by a space); `a NOT b` is `a AND NOT b`, and needs an `a`."""

    def __init__(self, text: str) -> None:
        self.text = text
        if len(text) > _MAX_LENGTH:
            self.fail(f"longer than {_MAX_LENGTH} characters ({len(text)})")
        self.tokens: list[tuple[str, Any, int]] = []
        self.depth = 0
        for found in _TOKEN.finditer(text):
            if found.group("open") is not None:
                self.fail(f"the quote at character {found.start() + 1} is never closed")
            if found.group("paren"):
                self.tokens.append((found.group("paren"), None, found.start()))
            elif found.group("phrase") is not None:
                self.term(found.group("phrase"), bool(found.group("pstar")), found.start(),
                          phrase=True)
            elif found.group("word") in _KEYWORDS:
                self.tokens.append((found.group("word"), None, found.start()))
            elif found.group("word"):
                word = found.group("word")
                self.term(word.rstrip("*"), word.endswith("*"), found.start())
        self.pos = 0

    def fail(self, problem: str) -> NoReturn:
        raise SearchQueryError(f"search query {self.text!r}: {problem}")

    def term(self, text: str, prefix: bool, at: int, *, phrase: bool = False) -> None:
        words = " ".join(text.split())
        if phrase and not words:
            self.fail(f"empty quotes at character {at + 1}")
        if not re.search(_WORD_CHAR, words):
            return  # punctuation only: the tokenizer would find no word in it
        last = re.findall(_WORD_CHAR + "+", words)[-1]
        if prefix and len(last) < _MIN_PREFIX and not _IS_CJK.match(last):
            self.fail(f"a prefix needs at least {_MIN_PREFIX} letters before *: {words + '*'!r}")
        self.tokens.append(("TERM", Term(words, prefix), at))

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, Any, int]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> _Node:
        if not self.tokens:
            self.fail("nothing to search for" if self.text.strip() else "empty query")
        node = self.alternatives()
        if self.pos < len(self.tokens):
            _, _, at = self.tokens[self.pos]
            self.fail(f"')' at character {at + 1} closes no '('")
        return node

    def alternatives(self) -> _Node:
        options = [self.conjunction()]
        while self.peek() == "OR":
            self.operator()
            options.append(self.conjunction())
        return options[0] if len(options) == 1 else ("OR", options)

    def operator(self) -> str:
        """Take an operator that must have a term (or a parenthesis) after it."""
        kind, _, at = self.take()
        if self.peek() in (None, ")", "OR", "AND", "NOT") and not (
                kind == "AND" and self.peek() == "NOT"):
            self.fail(f"{kind} at character {at + 1} needs a term after it")
        return kind

    def conjunction(self) -> _Node:
        keep: list[_Node] = []
        leave_out: list[_Node] = []
        while (kind := self.peek()) not in (None, ")", "OR") or not keep:
            if kind is None:
                self.fail("nothing to search for")
            if kind in ("AND", "NOT", "OR") and not keep:
                _, _, at = self.tokens[self.pos]
                self.fail(f"{kind} at character {at + 1} needs a term before it"
                          + (" (search for what to keep, then NOT what to leave out)"
                             if kind == "NOT" else ""))
            if kind == ")":
                _, _, at = self.tokens[self.pos]
                self.fail(f"')' at character {at + 1} closes no '('")
            if kind in ("AND", "NOT"):
                if self.operator() == "AND" and self.peek() == "NOT":
                    self.operator()  # `a AND NOT b` is `a NOT b`
                    kind = "NOT"
            (leave_out if kind == "NOT" else keep).append(self.operand())
        if len(keep) == 1 and not leave_out:
            return keep[0]
        return ("AND", keep, leave_out)

    def operand(self) -> _Node:
        kind, value, at = self.take()
        if kind == "TERM":
            return value
        if kind == "(":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                self.fail(f"parentheses nested deeper than {_MAX_DEPTH} at character {at + 1}")
            if self.peek() == ")":
                self.fail(f"empty parentheses at character {at + 1}")
            if self.peek() is None:
                self.fail(f"'(' at character {at + 1} is never closed")
            node = self.alternatives()
            if self.peek() != ")":
                self.fail(f"'(' at character {at + 1} is never closed")
            self.take()
            self.depth -= 1
            return node
        self.fail(f"{kind!r} at character {at + 1} needs a term before it")


def _fts_term(term: Term) -> str:
    """One term as an FTS5 string: the indexed form (CJK as a phrase of bigrams) quoted, `"`
    doubled; a prefix, or a phrase ending in one CJK character (a bigram's first half),
    matches words that start with it."""
    text = " ".join(index_text(term.text).split())
    last = text.rsplit(" ", 1)[-1]
    prefix = term.prefix or (len(last) == 1 and _IS_CJK.match(last) is not None)
    quoted = '"' + text.replace('"', '""') + '"'
    return quoted + "*" if prefix else quoted


def _expression(node: _Node, *, nested: bool = False) -> str:
    if isinstance(node, Term):
        return _fts_term(node)
    if node[0] == "OR":
        text = " OR ".join(_expression(n, nested=True) for n in node[1])
    else:
        _, keep, leave_out = node
        text = " AND ".join(_expression(n, nested=True) for n in keep)
        if leave_out:
            if len(keep) > 1:
                text = f"({text})"
            dropped = " OR ".join(_expression(n, nested=True) for n in leave_out)
            text = f"{text} NOT ({dropped})" if len(leave_out) > 1 else f"{text} NOT {dropped}"
    return f"({text})" if nested else text


def _terms(node: _Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    children = node[1]  # OR's alternatives, AND's kept terms; never what NOT leaves out
    return [t for child in children for t in _terms(child)]


def parse_query(text: str) -> Query:
    """What a user typed as a safe FTS5 expression: words, "quoted phrases", AND / OR / NOT
    (upper case; in lower case they are words), a space meaning AND, parentheses, and a
    trailing `*` for words that start with a prefix (`Хуаве*`, at least 3 letters). Chinese,
    Japanese and Korean terms become phrases of bigrams (华为公司 -> "华为 为公 公司"); a
    single CJK character matches the bigrams it starts. Words of punctuation only are
    dropped. Raises `SearchQueryError` naming the query and the problem (unbalanced quotes or
    parentheses, an operator with nothing on one side, nothing to search for)."""
    node = _Parser(text).parse()
    terms = tuple(dict.fromkeys(_terms(node)))
    return Query(text=text, expression=_expression(node), terms=terms)


# -- highlighting ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snippet:
    """A window of a text with the searched words marked: `parts` are (text, is_hit) in
    order; `cut_before` / `cut_after` say the text goes on (show an ellipsis). Plain strings:
    whoever renders it escapes them."""

    parts: tuple[tuple[str, bool], ...]
    cut_before: bool = False
    cut_after: bool = False

    @property
    def text(self) -> str:
        return "".join(part for part, _ in self.parts)

    @property
    def hits(self) -> tuple[str, ...]:
        return tuple(part for part, hit in self.parts if hit)


def _fold(text: str) -> tuple[str, list[int] | None]:
    """`text` folded as the index folds it (case, Latin accents, ё) and, when folding changed
    its length (İ -> i̇), where each folded character came from; None: the same place."""
    folded = text.lower()
    if _NEEDS_HIGHLIGHT_FOLD.search(folded):
        folded = folded.translate(_HIGHLIGHT_FOLD)
    if len(folded) == len(text):
        return folded, None
    chars, origin = [], []
    for i, char in enumerate(text):
        low = char.lower().translate(_HIGHLIGHT_FOLD)
        chars.append(low)
        origin.extend([i] * len(low))
    return "".join(chars), origin


def _term_pattern(term: Term) -> str | None:
    """A regex over folded text finding what the index matches for `term`: its words in order
    with anything but letters and digits between them, whole words in spaced scripts (the
    rest of the word too for a prefix), CJK anywhere."""
    words = re.findall(_WORD_CHAR + "+", _fold(" ".join(term.text.split()))[0])
    if not words:
        return None
    pieces: list[str] = []
    for word in words:
        # split at script changes: 华为Technologies is 华为 then technologies
        parts = re.findall(f"[{_CJK}]+|{_SPACED_CHAR}+", word)
        pieces.append(r"[\W_]*".join(re.escape(p) for p in parts))
    pattern = r"[\W_]+".join(pieces)
    first, last = words[0][0], words[-1][-1]
    if not _IS_CJK.match(first):
        pattern = rf"(?<!{_SPACED_CHAR})" + pattern
    if not _IS_CJK.match(last):
        pattern += f"{_SPACED_CHAR}*" if term.prefix else rf"(?!{_SPACED_CHAR})"
    return pattern


def _hits(text: str, query: Query) -> list[tuple[int, int]]:
    patterns = [p for p in map(_term_pattern, query.terms) if p]
    if not patterns:
        return []
    folded, origin = _fold(text)
    # longest first: at one place a phrase wins over the word it starts with
    finder = re.compile("|".join(sorted(patterns, key=len, reverse=True)))
    spans = [(m.start(), m.end()) for m in finder.finditer(folded) if m.end() > m.start()]
    if origin is None:
        return spans
    return [(origin[start], origin[end - 1] + 1) for start, end in spans]


def _snap_start(text: str, start: int, limit: int) -> int:
    """Move a window's start just past a space within 15 characters (not past `limit`), so
    that the snippet does not begin in the middle of a word."""
    for i in range(start, min(start + 16, limit)):
        if text[i].isspace():
            return i + 1
    return start


def _snap_end(text: str, end: int, limit: int) -> int:
    """Move a window's end back to a space within 15 characters (not before `limit`)."""
    for i in range(end - 1, max(end - 17, limit - 1), -1):
        if text[i].isspace():
            return i
    return end


def highlight(text: str, query: Query, chars: int | None = 200) -> Snippet:
    """About `chars` characters of `text` around the first place where one of the query's
    terms is (case and Latin accents aside; CJK by substring), with every hit in that window
    marked; the whole text when `chars` is None or the text is short. Without a hit (the
    record matched in another field), the text's beginning, nothing marked."""
    hits = _hits(text, query)
    if chars is None or len(text) <= chars:
        start, end = 0, len(text)
    elif not hits:
        start, end = 0, _snap_end(text, chars, 0)
    else:
        first_start, first_end = hits[0]
        start = max(0, first_start - chars // 3)
        end = min(len(text), max(start + chars, first_end))
        start = max(0, min(start, end - chars))
        if start > 0:
            start = _snap_start(text, start, first_start)
        if end < len(text):
            end = _snap_end(text, end, first_end)
    parts: list[tuple[str, bool]] = []
    at = start
    for hit_start, hit_end in hits:
        if hit_start < at or hit_start >= end:
            continue
        hit_end = min(hit_end, end)
        if hit_start > at:
            parts.append((text[at:hit_start], False))
        parts.append((text[hit_start:hit_end], True))
        at = hit_end
    if at < end:
        parts.append((text[at:end], False))
    return Snippet(tuple(parts), cut_before=start > 0, cut_after=end < len(text))
