"""Pure: find every watch in an item's fields, with the evidence, in one pass per field.

Built once per crawl: every term of every watch (aliases, keywords, registry ids, related
names, generated transliterations, and the exclusion, rule and context phrases) becomes a
literal *anchor* in an Aho-Corasick automaton, plus a regex that checks the whole term where an
anchor is found (`monitor.names.term_pattern`: words, punctuation between them, case endings,
word boundaries). Matching one field is then

    fold (one to one, offsets kept) -> one automaton pass -> verify each anchor hit
      -> per watch: language, case, exclusions, rule, context -> longest hit wins -> Match

so the cost grows with the text, not with the number of aliases. The fold and the automaton
are the cheapest the text allows (`_Scanner`: Latin text as ASCII bytes, other text as
UTF-16, and `fold` with its offset maps when folding changes lengths). `explain(item)` runs
the same steps and also returns every hit that was dropped, with the reason.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import ahocorasick_rs

from monitor.config import Watch
from monitor.models import Item, Match, Organisation, TenderRecord

if TYPE_CHECKING:
    from monitor.store import Store
from monitor.names import (
    ACCENTED,
    CASEFOLD_ONLY,
    WORD,
    TermPattern,
    fold,
    fold_narrow,
    fold_wide,
    legal_tail,
    name_tokens,
    strip_accents,
    term_pattern,
    transliterations,
    unspaced,
)

__all__ = [
    "Explanation",
    "Matcher",
    "Rejection",
    "RematchReport",
    "explain_tender",
    "fold",
    "match_tender",
    "registry_key",
    "rematch",
]

# roles whose hits are findings; the others only qualify findings
_FINDING_ROLES = ("alias", "keyword", "id")
_WORDS = re.compile(r"[^\W_]+")
_WORDISH = re.compile(WORD)
_CASEFOLD_ONLY = re.compile("[" + "".join(map(re.escape, CASEFOLD_ONLY)) + "]")
# registry ids shorter than this are not looked for in text (too many accidental hits)
_MIN_ID_CHARS = 5


@dataclass(frozen=True, slots=True)
class Rejection:
    """A hit that did not count, and why (for `Matcher.explain`)."""

    watch: str
    term: str
    term_kind: str  # alias | keyword | id
    field: str
    start: int
    end: int
    found: str
    reason: str
    variant: str | None = None
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """What one watch found in one item: the matches kept and the hits rejected."""

    watch: str
    matches: tuple[Match, ...]
    rejected: tuple[Rejection, ...]

    @property
    def matched(self) -> bool:
        return bool(self.matches)


@dataclass(frozen=True, slots=True)
class _Term:
    watch: int  # index into Matcher.watches
    role: str  # alias | keyword | id | exclude | all | any | none | context
    texts: tuple[str, ...]  # as written in the config; several when they fold alike
    # what must surround the anchor (see monitor.names.TermPattern), compiled
    before: re.Pattern[str] | None
    reach: int
    after: re.Pattern[str] | None
    endings: re.Pattern[str] | None
    bounded_left: bool
    bounded_right: bool
    variant: str | None = None
    via: str | None = None
    case_sensitive: bool = False
    needs_context: bool = False
    within: int = 0  # exclude: words around the hit

    @property
    def kind(self) -> str:
        return self.role if self.role in _FINDING_ROLES else "alias"

    def verify(self, folded: str, start: int, end: int) -> tuple[int, int] | None:
        """The whole term's span around an anchor hit at folded[start:end], or None."""
        if self.before is not None:
            found = self.before.search(folded, max(0, start - self.reach), start)
            if found is None:
                return None
            start = found.start()
        if self.after is not None:
            found = self.after.match(folded, end)
            if found is None:
                return None
            end = found.end()
        if self.endings is not None:
            found = self.endings.match(folded, end)
            if found is None:
                return None
            end = found.end()
        # the longest ending that fits is taken; if a letter follows it, no shorter one helps
        if self.bounded_left and start and _WORDISH.match(folded, start - 1):
            return None
        if self.bounded_right and _WORDISH.match(folded, end):
            return None
        return start, end


@dataclass(slots=True)
class _Hit:
    term: _Term
    field: str
    start: int  # offsets into the original field text
    end: int  # end of the term (with its case ending)
    tail: int  # end of a legal form written after it ("Nuctech| Co., Ltd"), else `end`


@dataclass(slots=True)
class _Scan:
    """One item's hits, grouped by watch, plus (when explaining) the anchor hits that failed."""

    texts: dict[str, str]
    hits: dict[int, list[_Hit]] = field(default_factory=dict)
    misses: dict[int, list[tuple[_Term, str, int, int]]] = field(default_factory=dict)


class _Scanner:
    """The anchors in one automaton per kind of folded text, each found as (slot, start, end)
    with character offsets into the folded text:

    - narrow: the ASCII anchors, over `fold_narrow` bytes (Latin-1 text, a byte a character);
    - wide: the anchors as UTF-16-LE, over `fold_wide` text (two bytes a character, so
      offsets are byte offsets halved), plus every `ACCENTED` and `CASEFOLD_ONLY` letter: a
      text with one is found in the same pass, and only it is folded further and scanned
      again;
    - exact: every anchor as str, for folded text beyond the BMP (emoji), where UTF-16
      offsets would shift; a contiguous NFA, as such text is rare.

    Bytes automata over our own encodings skip what the str API does on every call: a UTF-8
    copy of the text and a table of its offsets, longer than the text. Narrow and wide are
    DFAs: three times faster than the NFA, for memory in proportion to the anchors (about
    40 MB for 5,000 aliases in four scripts)."""

    def __init__(self, anchors: list[str]) -> None:
        dfa = ahocorasick_rs.Implementation.DFA
        self.narrow_slots = [i for i, a in enumerate(anchors) if a.isascii()]
        self.narrow = ahocorasick_rs.BytesAhoCorasick(
            [anchors[i].encode("ascii") for i in self.narrow_slots],
            implementation=dfa) if self.narrow_slots else None
        self.wide_slots = [i for i, a in enumerate(anchors) if max(a) < "\U00010000"]
        self.wide = ahocorasick_rs.BytesAhoCorasick(
            [anchors[i].encode("utf-16-le") for i in self.wide_slots]
            + [letter.encode("utf-16-le") for letter in ACCENTED + CASEFOLD_ONLY],
            implementation=dfa)
        # pattern numbers from which on the wide automaton's patterns are letters
        self.accented_from = len(self.wide_slots)
        self.casefold_only_from = self.accented_from + len(ACCENTED)
        self.exact = ahocorasick_rs.AhoCorasick(
            anchors, implementation=ahocorasick_rs.Implementation.ContiguousNFA)

    def find_narrow(self, folded: bytes) -> list[tuple[int, int, int]]:
        if self.narrow is None:
            return []
        slots = self.narrow_slots
        return [(slots[i], start, end) for i, start, end
                in self.narrow.find_matches_as_indexes(folded, overlapping=True)]

    def find(self, folded: str) -> tuple[str, list[tuple[int, int, int]]] | None:
        """The folded text with accents stripped, and the anchors in it; None when the text
        has a `CASEFOLD_ONLY` letter: fold it with `full` and look again."""
        data = folded.encode("utf-16-le", "surrogatepass")
        if len(data) != 2 * len(folded):
            if _CASEFOLD_ONLY.search(folded):
                return None
            folded = strip_accents(folded)
            return folded, self.exact.find_matches_as_indexes(folded, overlapping=True)
        slots = self.wide_slots
        found = []
        for i, start, end in self.wide.find_matches_as_indexes(data, overlapping=True):
            if start & 1:
                continue  # the end of one character and the start of the next
            if i >= self.accented_from:
                if i >= self.casefold_only_from:
                    return None
                return self.find(strip_accents(folded))
            found.append((slots[i], start >> 1, end >> 1))
        return folded, found


class Matcher:
    """Built once per crawl from the watch list; `match(item)` is then pure and cheap."""

    def __init__(self, watches: Sequence[Watch], *, snippet_chars: int = 120) -> None:
        self.watches = tuple(watches)
        self.snippet_chars = snippet_chars
        terms: dict[tuple[object, ...], list[str]] = {}
        meta: dict[tuple[object, ...], dict[str, object]] = {}
        for index, watch in enumerate(self.watches):
            for text, role, options in _term_specs(watch):
                pattern = term_pattern(
                    str(options.pop("pattern_text", text)),
                    inflect=role != "id", strip_legal=role != "id")
                if pattern is None:
                    continue
                key = (index, role, pattern, *sorted(options.items()))
                texts = terms.setdefault(key, [])
                if text not in texts:
                    texts.append(text)
                meta[key] = options
        anchors: dict[str, int] = {}
        by_anchor: list[list[_Term]] = []
        for key, texts in terms.items():
            index, role, pattern = key[:3]
            assert isinstance(pattern, TermPattern)
            term = _Term(
                watch=index, role=role, texts=tuple(texts),  # type: ignore[arg-type]
                before=_compile(f"(?:{pattern.before})\\Z") if pattern.before else None,
                reach=pattern.reach,
                after=_compile(pattern.after) if pattern.after else None,
                endings=_endings(pattern.endings),
                bounded_left=pattern.bounded_left, bounded_right=pattern.bounded_right,
                **meta[key],  # type: ignore[arg-type]
            )
            slot = anchors.setdefault(pattern.anchor, len(anchors))
            if slot == len(by_anchor):
                by_anchor.append([])
            by_anchor[slot].append(term)
        self._by_anchor = by_anchor
        # every anchor of every watch in one automaton per kind of text: one pass over it
        self._scanner = _Scanner(list(anchors)) if anchors else None
        # watches whose one hit in an item needs no judging (no languages, rule, case or
        # context to check; exclusions and rules need a second hit)
        self._plain = [not watch.languages and watch.rule is None for watch in self.watches]
        for term in (term for terms in by_anchor for term in terms):
            if term.case_sensitive or term.needs_context:
                self._plain[term.watch] = False

    # -- public --------------------------------------------------------------------------------

    def match(self, item: Item) -> list[Match]:
        """Every finding in the item's title and body (title first, each in text order)."""
        return self.match_fields(_item_fields(item), language=item.language)

    def match_text(self, field: str, text: str, language: str | None = None) -> list[Match]:
        return self.match_fields({field: text}, language=language)

    def match_fields(self, fields: Mapping[str, str] | Iterable[tuple[str, str]],
                     language: str | None = None) -> list[Match]:
        """Findings in several named fields of one item (title, body, buyer, winner, ...).
        Rules and context look at all the fields together."""
        scan = self._scan(fields, explain=False)
        matches: list[Match] = []
        for index, hits in scan.hits.items():
            kept, _ = self._judge(index, hits, scan.texts, language)
            matches.extend(self._to_match(h, scan.texts[h.field]) for h in kept)
        if len(matches) > 1:
            order = {name: i for i, name in enumerate(scan.texts)}
            matches.sort(key=lambda m: (order[m.field], m.start, m.start - m.end))
        return matches

    def explain(self, item: Item) -> list[Explanation]:
        """For every watch: the matches an item gives it and every hit that was dropped, with
        the reason (not a whole word, excluded by "...", rule not satisfied, context missing,
        language, case, inside a longer match)."""
        return self.explain_fields(_item_fields(item), language=item.language)

    def explain_fields(self, fields: Mapping[str, str] | Iterable[tuple[str, str]],
                       language: str | None = None) -> list[Explanation]:
        scan = self._scan(fields, explain=True)
        out = []
        for index, watch in enumerate(self.watches):
            kept, rejected = self._judge(index, scan.hits.get(index, []), scan.texts, language)
            refused = [self._reject(h, reason, scan.texts[h.field]) for h, reason in rejected]
            for term, field_name, start, end in dict.fromkeys(scan.misses.get(index, [])):
                refused.append(_miss(self.watches[index].name, term, field_name,
                                     scan.texts[field_name], start, end))
            out.append(Explanation(
                watch=watch.name,
                matches=tuple(self._to_match(h, scan.texts[h.field]) for h in kept),
                rejected=tuple(sorted(refused, key=lambda r: (r.field, r.start))),
            ))
        return out

    # -- scanning ------------------------------------------------------------------------------

    def _scan(self, fields: Mapping[str, str] | Iterable[tuple[str, str]],
              explain: bool) -> _Scan:
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        scan = _Scan(texts={name: text or "" for name, text in pairs})
        if self._scanner is None:
            return scan
        for name, text in scan.texts.items():
            if text:
                self._scan_field(scan, name, text, explain)
        return scan

    def _scan_field(self, scan: _Scan, name: str, text: str, explain: bool) -> None:
        """Fold the text the cheapest way that keeps its offsets, find the anchors, verify."""
        scanner = self._scanner
        assert scanner is not None
        narrow = fold_narrow(text)
        if narrow is not None:
            found = scanner.find_narrow(narrow)
            if found:
                self._add(scan, *self._verify(name, text, narrow.decode("ascii"), found,
                                              explain))
            return
        wide = fold_wide(text)
        result = None if wide is None else scanner.find(wide[0])
        if wide is not None and result is None:  # ß, ς: str.lower keeps them, casefold not
            wide = fold_wide(text, full=True)
            result = None if wide is None else scanner.find(wide[0])
        if wide is not None and result is not None:
            folded, found = result
            if not found:
                return
            hits, misses = self._verify(name, text, folded, found, explain)
            if wide[1] or all(fold(text[h.start:h.tail])[0] == folded[h.start:h.tail]
                              for h in hits):
                self._add(scan, hits, misses)
                return
            # NFKC changed lengths inside the text after all: offsets are off
        folded, starts, ends = fold(text)
        result = scanner.find(folded)
        assert result is not None  # fold() case-folds
        folded, found = result
        self._add(scan, *self._verify(name, text, folded, found, explain, starts, ends))

    def _verify(self, name: str, text: str, folded: str, found: list[tuple[int, int, int]],
                explain: bool, starts: list[int] | None = None, ends: list[int] | None = None,
                ) -> tuple[list[_Hit], list[tuple[_Term, str, int, int]]]:
        """The hits whose whole term is there around the anchor, and (when explaining) the
        anchor hits of findings that are not; offsets mapped back through starts / ends."""
        hits: list[_Hit] = []
        misses: list[tuple[_Term, str, int, int]] = []
        by_anchor = self._by_anchor
        for slot, start, end in found:
            for term in by_anchor[slot]:
                span = term.verify(folded, start, end)
                if span is None:
                    if explain and term.role in _FINDING_ROLES:
                        misses.append((term, name, *_span(starts, ends, start, end)))
                    continue
                f_start, f_end = span
                tail = legal_tail(folded, f_end) if term.role in _FINDING_ROLES else f_end
                if starts is None:
                    o_start, o_end, o_tail = f_start, f_end, tail
                else:
                    o_start, o_end = _span(starts, ends, f_start, f_end)
                    o_tail = _span(starts, ends, f_start, tail)[1]
                if o_tail != o_end and _lowercase_start(text[o_end:o_tail]):
                    o_tail = o_end  # "Nuctech company said": a noun, not a legal form
                hits.append(_Hit(term, name, o_start, o_end, o_tail))
        return hits, misses

    @staticmethod
    def _add(scan: _Scan, hits: list[_Hit], misses: list[tuple[_Term, str, int, int]]) -> None:
        for hit in hits:
            scan.hits.setdefault(hit.term.watch, []).append(hit)
        for miss in misses:
            scan.misses.setdefault(miss[0].watch, []).append(miss)

    # -- judging -------------------------------------------------------------------------------

    def _judge(self, index: int, hits: list[_Hit], texts: Mapping[str, str],
               language: str | None) -> tuple[list[_Hit], list[tuple[_Hit, str]]]:
        """Which of a watch's hits count: (kept, [(rejected, reason)])."""
        if len(hits) == 1 and self._plain[index]:
            return ([hits[0]] if hits[0].term.role in _FINDING_ROLES else []), []
        watch = self.watches[index]
        findings = [h for h in hits if h.term.role in _FINDING_ROLES]
        if not findings:
            return [], []
        rejected: list[tuple[_Hit, str]] = []
        lang = _language(language)
        if watch.languages and lang and lang not in watch.languages:
            reason = (f"item language {language!r} is not one of the watch's languages "
                      f"({', '.join(watch.languages)})")
            return [], [(h, reason) for h in findings]

        def keep(hit: _Hit) -> str | None:
            """None, or why the hit does not count."""
            term = hit.term
            if term.case_sensitive and not _same_case(texts[hit.field][hit.start:hit.end],
                                                      term.texts[0]):
                return f"case differs from the case-sensitive alias {term.texts[0]!r}"
            for other in hits:
                if other.term.role == "exclude" and other.field == hit.field and (
                    _overlap(hit, other)
                    or _words_between(texts[hit.field], hit, other) <= other.term.within
                ):
                    return f"excluded by {other.term.texts[0]!r}"
            if watch.rule is not None:
                return _rule_problem(watch, hit, hits, texts)
            return None

        kept: list[_Hit] = []
        for hit in findings:
            reason = keep(hit)
            if reason:
                rejected.append((hit, reason))
            else:
                kept.append(hit)
        # an ambiguous alias counts only next to something that confirms the watch
        if any(h.term.needs_context for h in kept):
            confirmed = any(not h.term.needs_context for h in kept) or any(
                h.term.role == "context" for h in hits)
            if not confirmed:
                words = ", ".join(repr(c) for c in watch.context)
                reason = ("context missing: no other name of the watch"
                          + (f" and none of {words}" if words else "") + " in the item")
                rejected.extend((h, reason) for h in kept if h.term.needs_context)
                kept = [h for h in kept if not h.term.needs_context]
        if len(kept) > 1:
            kept, contained = _longest(kept)
            rejected.extend(contained)
        return kept, rejected

    # -- building results ----------------------------------------------------------------------

    def _to_match(self, hit: _Hit, text: str) -> Match:
        term = hit.term
        start, end = hit.start, hit.tail
        found = text[start:end]
        snippet, s_start, s_end = _snippet(text, start, end, self.snippet_chars)
        return Match(
            watch=self.watches[term.watch].name,
            term=_as_written(term.texts, found),
            term_kind=term.kind,  # type: ignore[arg-type]  # alias | keyword | id
            field=hit.field,
            start=start,
            end=end,
            found=found,
            snippet=snippet,
            snippet_start=s_start,
            snippet_end=s_end,
            variant=term.variant,
            via=term.via,
        )

    def _reject(self, hit: _Hit, reason: str, text: str) -> Rejection:
        term = hit.term
        return Rejection(watch=self.watches[term.watch].name, term=term.texts[0],
                         term_kind=term.kind, field=hit.field, start=hit.start, end=hit.tail,
                         found=text[hit.start:hit.tail], reason=reason, variant=term.variant,
                         via=term.via)


# -- building the term list ------------------------------------------------------------------------


def _term_specs(watch: Watch) -> Iterable[tuple[str, str, dict[str, object]]]:
    """(text as written, role, options) for everything a watch looks for."""
    names: list[tuple[str, dict[str, object]]] = []
    # the name is an alias, unless an alias spells it the same way with its own options
    # (`{text: ZTE, case_sensitive: true}` makes the watch ZTE case-sensitive)
    if watch.match_name and name_tokens(watch.name) not in {
            name_tokens(a.text) for a in watch.aliases if a.case_sensitive or a.needs_context}:
        names.append((watch.name, {}))
    for alias in watch.aliases:
        names.append((alias.text, {"case_sensitive": alias.case_sensitive,
                                   "needs_context": alias.needs_context}))
    for related in watch.related:
        names.append((related.name, {"via": related.name}))
        for alias in related.aliases:
            names.append((alias.text, {"via": related.name,
                                       "case_sensitive": alias.case_sensitive,
                                       "needs_context": alias.needs_context}))
    written = {name_tokens(text) for text, _ in names}
    for text, options in names:
        yield text, "alias", _options(options)
        if watch.transliterate:
            for variant in transliterations(text):
                if len(variant) >= 4 and name_tokens(variant) not in written:
                    yield text, "alias", _options({**options, "variant": variant,
                                                   "case_sensitive": False,
                                                   "pattern_text": variant})
    for keyword in watch.keywords:
        yield keyword, "keyword", _options({})
    for registry_id in watch.ids:
        value = registry_id.split(":", 1)[1]
        if len(value) >= _MIN_ID_CHARS:
            yield registry_id, "id", _options({"pattern_text": value})
    for exclusion in watch.exclude:
        yield exclusion.text, "exclude", _options({"within": exclusion.within})
    if watch.rule is not None:
        for role in ("all", "any", "none"):
            for text in getattr(watch.rule, role):
                yield text, role, _options({})
    for word in watch.context:
        yield word, "context", _options({})


def _options(options: dict[str, object]) -> dict[str, object]:
    """Drop defaults so equal terms share one key."""
    defaults = {"case_sensitive": False, "needs_context": False, "within": 0, "via": None,
                "variant": None}
    return {k: v for k, v in options.items() if defaults.get(k, ...) != v}


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=64)
def _endings(endings: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation per list of endings, shared by every term that takes them."""
    if not endings:
        return None
    return re.compile("(?:" + "|".join(map(re.escape, endings)) + ")")


def _item_fields(item: Item) -> tuple[tuple[str, str], ...]:
    return (("title", item.title), ("body", item.text))


# -- judging helpers -------------------------------------------------------------------------------


def _language(language: str | None) -> str | None:
    """"ru-RU" -> "ru"."""
    if not language:
        return None
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0] or None


def _overlap(a: _Hit, b: _Hit) -> bool:
    return a.start < b.tail and b.start < a.tail


def _words_between(text: str, a: _Hit, b: _Hit) -> int:
    """Words strictly between two hits of one field (0 when they touch or overlap)."""
    if _overlap(a, b):
        return 0
    left, right = (a, b) if a.start < b.start else (b, a)
    return len(_WORDS.findall(text, left.tail, right.start))


def _near(hit: _Hit, others: Iterable[_Hit], texts: Mapping[str, str],
          within: int | None) -> set[str]:
    """Rule terms (as written) found in the item, or within `within` words of the hit."""
    found: set[str] = set()
    for other in others:
        if within is None or (other.field == hit.field
                              and _words_between(texts[hit.field], hit, other) <= within):
            found.update(other.term.texts)
    return found


def _rule_problem(watch: Watch, hit: _Hit, hits: list[_Hit],
                  texts: Mapping[str, str]) -> str | None:
    rule = watch.rule
    assert rule is not None
    where = f"within {rule.within} words" if rule.within else "in the item"
    by_role: dict[str, list[_Hit]] = defaultdict(list)
    for other in hits:
        by_role[other.term.role].append(other)
    have_all = _near(hit, by_role["all"], texts, rule.within)
    missing = [t for t in rule.all if t not in have_all]
    if missing:
        return f"rule not satisfied: {missing[0]!r} (all) not found {where}"
    if rule.any and not _near(hit, by_role["any"], texts, rule.within) & set(rule.any):
        return f"rule not satisfied: none of {', '.join(map(repr, rule.any))} (any) {where}"
    present = _near(hit, by_role["none"], texts, rule.within) & set(rule.none)
    if present:
        return f"rule not satisfied: {min(present)!r} (none) found {where}"
    return None


def _same_case(found: str, alias: str) -> bool:
    """The found words start with the alias's words letter for letter, case included."""
    words = [w for w in re.split(r"[\W_]+", found) if w]
    wanted = [w for w in re.split(r"[\W_]+", alias) if w]
    return len(words) >= len(wanted) and all(
        f.startswith(w) for f, w in zip(words, wanted, strict=False))


def _lowercase_start(text: str) -> bool:
    letter = next((ch for ch in text if ch.isalpha()), "")
    return letter.islower()


def _longest(hits: list[_Hit]) -> tuple[list[_Hit], list[tuple[_Hit, str]]]:
    """Of one watch's overlapping hits keep the longest ("China Railway Group" over
    "China Railway"); on a tie, the spelling as written over a generated one."""
    hits = sorted(hits, key=lambda h: (h.field, h.start, -(h.tail - h.start),
                                       h.term.variant is not None,
                                       _FINDING_ROLES.index(h.term.role)))
    kept: list[_Hit] = []
    rejected: list[tuple[_Hit, str]] = []
    for hit in hits:
        outer = next((k for k in kept if k.field == hit.field and k.start <= hit.start
                      and hit.tail <= k.tail), None)
        if outer is None:
            kept.append(hit)
        elif (outer.start, outer.tail) != (hit.start, hit.tail):
            rejected.append((hit, f"inside the longer match of {outer.term.texts[0]!r}"))
    return kept, rejected


def _as_written(texts: tuple[str, ...], found: str) -> str:
    """The configured spelling that the found text is (legal form included), else the first:
    "Nuctech Company Ltd" in the text reports the alias "Nuctech Company Ltd", not "Nuctech"."""
    if len(texts) > 1:
        words = name_tokens(found, strip_legal=False)
        for text in texts:
            if name_tokens(text, strip_legal=False) == words:
                return text
    return texts[0]


def _span(starts: list[int] | None, ends: list[int] | None, start: int,
          end: int) -> tuple[int, int]:
    """Folded offsets -> original offsets."""
    if starts is None or ends is None:
        return start, end
    return starts[start], ends[end - 1]


def _miss(watch: str, term: _Term, field_name: str, text: str, start: int,
          end: int) -> Rejection:
    """An anchor found where the whole term is not: name the word it sits in."""
    while start > 0 and _wordish(text[start - 1]):
        start -= 1
    while end < len(text) and _wordish(text[end]):
        end += 1
    word = text[start:end]
    reason = f"not the whole word: {word!r}"
    if len(term.texts[0].split()) > 1:
        reason = f"the rest of {term.texts[0]!r} does not follow, or not as whole words"
    return Rejection(watch=watch, term=term.texts[0], term_kind=term.kind, field=field_name,
                     start=start, end=end, found=word, reason=reason, variant=term.variant,
                     via=term.via)


def _wordish(ch: str) -> bool:
    return bool(_WORDISH.match(ch)) and not unspaced(ch)


# -- snippets --------------------------------------------------------------------------------------


_SPACE = re.compile(r"\s")
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def _snippet(text: str, start: int, end: int, chars: int) -> tuple[str, int, int]:
    """About `chars` characters of whole words around text[start:end], on one line, with
    where the found text sits in it."""
    half = max(10, (chars - (end - start)) // 2)
    s_start = max(0, start - half)
    s_end = min(len(text), end + half)
    # widen to whole words (by up to 15 characters) so the snippet does not start or end
    # mid-word
    left = max(0, start - half - 15)
    if s_start > left:
        space = _LAST_SPACE.search(text, left, s_start)
        s_start = space.end() if space else left
    right = min(len(text), end + half + 15)
    if s_end < right:
        space = _SPACE.search(text, s_end, right)
        s_end = space.start() if space else right
    prefix = "…" if s_start > 0 else ""
    suffix = "…" if s_end < len(text) else ""
    before = _one_line(text[s_start:start], strip="left")
    after = _one_line(text[end:s_end], strip="right")
    found = text[start:end]
    snippet = f"{prefix}{before}{found}{after}{suffix}"
    return snippet, len(prefix) + len(before), len(prefix) + len(before) + len(found)


def _one_line(text: str, strip: str) -> str:
    """Snippet context on one line: runs of whitespace become one space."""
    collapsed = " ".join(text.split())
    if text[:1].isspace() and strip != "left":
        collapsed = " " + collapsed
    if text[-1:].isspace() and strip != "right" and collapsed:
        collapsed += " "
    return collapsed


@dataclass(slots=True)
class RematchReport:
    items: int = 0
    tenders: int = 0
    new_matches: int = 0
    by_watch: dict[str, int] = field(default_factory=dict)


def rematch(store: Store, matcher: Matcher, *,
            on_progress: Callable[[int], None] | None = None) -> RematchReport:
    """Match every stored item and tender again (after the watch list changed): a new alias
    finds last month's articles and tenders. New matches are stored with origin `rematch`,
    so the next digest shows them as found again, not as news; matches already stored are
    left as they are. `on_progress(1)` after each item or tender."""
    report = RematchReport()
    for item_id, item in store.iter_items():
        added = store.add_rematches(item_id, matcher.match(item))
        report.items += 1
        _count(report, added)
        if on_progress is not None:
            on_progress(1)
    for tender_id, record in store.iter_tenders():
        added = store.add_tender_rematches(tender_id, match_tender(matcher, record))
        report.tenders += 1
        _count(report, added)
        if on_progress is not None:
            on_progress(1)
    return report


def _count(report: RematchReport, added: Sequence[Match]) -> None:
    report.new_matches += len(added)
    for match in added:
        report.by_watch[match.watch] = report.by_watch.get(match.watch, 0) + 1


# -- tenders -----------------------------------------------------------------------------------

# the roles an organisation plays in a tender, strongest first: a winner is also a bidder
TENDER_ROLES = ("winner", "bidder", "buyer")


def registry_key(value: str) -> tuple[str, str]:
    """(SCHEME, id) of `SCHEME:id` as compared: scheme upper-case, the id without spaces,
    dots and dashes (registries print `40 44 09 497` and `404-409-497` alike)."""
    scheme, _, ident = value.rpartition(":")
    return scheme.strip().upper(), re.sub(r"[\s.\-/]", "", ident).upper()


def _org_key(org: Organisation) -> tuple[str, str] | None:
    if not org.id:
        return None
    return registry_key(f"{org.scheme or ''}:{org.id}")


def match_tender(matcher: Matcher, record: TenderRecord) -> list[Match]:
    """Every finding in a tender: watch names in the winners', bidders' and buyer's names
    (field = the role), keywords and names in the title and description (`title` /
    `body`), and registry ids compared exactly with the organisations' ids (`ids:` on a
    watch). A winner is not also reported as a bidder; an organisation without a scheme
    matches an id of any scheme with the same number."""
    fields, roles = _tender_fields(record)
    return matcher.match_fields(fields) + _id_matches(matcher, roles)


def explain_tender(matcher: Matcher, record: TenderRecord) -> list[Explanation]:
    """`Matcher.explain` for a tender: per watch, the matches (registry ids included) and
    the hits rejected, with the reason."""
    fields, roles = _tender_fields(record)
    by_watch: dict[str, list[Match]] = defaultdict(list)
    for match in _id_matches(matcher, roles):
        by_watch[match.watch].append(match)
    return [replace(e, matches=e.matches + tuple(by_watch.get(e.watch, ())))
            for e in matcher.explain_fields(fields)]


def _tender_fields(record: TenderRecord) -> tuple[list[tuple[str, str]],
                                                  dict[str, tuple[Organisation, ...]]]:
    """The texts to match (title, body, and one per role) and the organisations by role."""
    winners = record.winners
    won = {o.key for o in winners}
    roles: dict[str, tuple[Organisation, ...]] = {
        "winner": winners,
        "bidder": tuple(o for o in record.bidders if o.key not in won),
        "buyer": (record.buyer,) if record.buyer else (),
    }
    fields = [("title", record.title), ("body", record.description)]
    # one line per organisation: names never run into each other across a boundary
    fields += [(role, "\n".join(o.name for o in orgs if o.name)) for role, orgs in roles.items()]
    return [(n, t) for n, t in fields if t], roles


def _id_matches(matcher: Matcher, roles: Mapping[str, tuple[Organisation, ...]]) -> list[Match]:
    wanted: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for watch in matcher.watches:
        for registry_id in watch.ids:
            wanted[registry_key(registry_id)].append((watch.name, registry_id))
    if not wanted:
        return []
    by_number: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (_, number), watches in wanted.items():
        by_number[number].extend(watches)
    found: list[Match] = []
    for role, orgs in roles.items():
        for org in orgs:
            key = _org_key(org)
            if key is None:
                continue
            hits = wanted.get(key, []) if key[0] else by_number.get(key[1], [])
            for watch, registry_id in dict.fromkeys(hits):
                shown = org.registry_id or ""
                snippet = f"{org.name} ({shown})" if org.name else shown
                start = snippet.rfind(shown)
                found.append(Match(
                    watch=watch, term=registry_id, term_kind="id", field=role,
                    start=0, end=len(shown), found=shown, snippet=snippet,
                    snippet_start=start, snippet_end=start + len(shown),
                ))
    return found
