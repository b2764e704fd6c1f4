"""`Matcher`: built once per crawl from the watch list; `match(item)` is then pure and cheap."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from monitor.config import Watch
from monitor.match.judge import (
    Explanation,
    Rejection,
    _as_written,
    _language,
    _longest,
    _lowercase_start,
    _miss,
    _ordinary,
    _overlap,
    _rule_problem,
    _same_case,
    _span,
    _words_between,
)
from monitor.match.scan import _Hit, _Miss, _Scan, _Scanner
from monitor.match.segment import ChineseWords
from monitor.match.snippet import _snippet
from monitor.match.terms import (
    _FINDING_ROLES,
    _WORDISH,
    _compile,
    _endings,
    _glued,
    _Term,
    _term_specs,
)
from monitor.models import Item, Match
from monitor.names import (
    TermPattern,
    fold,
    fold_narrow,
    fold_wide_utf16,
    legal_tail,
    script_codec,
    term_pattern,
)


class Matcher:
    """Built once per crawl from the watch list; `match(item)` is then pure and cheap."""

    def __init__(self, watches: Sequence[Watch], *, snippet_chars: int = 120,
                 chinese_words: bool = True) -> None:
        """`chinese_words=False` takes a hit of a Chinese alias wherever it is, as before
        word boundaries were checked (bench/match.py measures their cost with it)."""
        self.watches = tuple(watches)
        self._names = [watch.name for watch in self.watches]
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
        chinese: list[str] = []  # the Chinese words of findings, for the segmenter
        for key, texts in terms.items():
            index, role, pattern = key[:3]
            assert isinstance(pattern, TermPattern)
            if role in _FINDING_ROLES and not (pattern.bounded_left and pattern.bounded_right):
                chinese.append("".join(pattern.pieces))
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
        self._gates = [_gates(terms) for terms in by_anchor]
        # jieba's dictionary is read on the first Chinese hit that needs it, not here
        self._chinese = ChineseWords(chinese) if chinese and chinese_words else None
        # every anchor of every watch in one automaton per kind of text: one pass over it
        self._scanner = _Scanner(list(anchors)) if anchors else None
        # watches whose one hit in an item needs no judging (no languages, rule, case or
        # context to check; exclusions and rules need a second hit)
        self._plain = [not watch.languages and watch.rule is None and not watch.mute
                       for watch in self.watches]
        for term in (term for terms in by_anchor for term in terms):
            # a generated spelling may be an ordinary word, which needs context (`_ordinary`)
            if term.case_sensitive or term.needs_context or term.variant is not None:
                self._plain[term.watch] = False

    # -- public --------------------------------------------------------------------------------

    def match(self, item: Item) -> list[Match]:
        """Every finding in the item's title and body (title first, each in text order)."""
        return self.match_fields(_item_fields(item), language=item.language, source=item.source)

    def match_text(self, field: str, text: str, language: str | None = None) -> list[Match]:
        return self.match_fields({field: text}, language=language)

    def match_fields(self, fields: Mapping[str, str] | Iterable[tuple[str, str]],
                     language: str | None = None, source: str | None = None) -> list[Match]:
        """Findings in several named fields of one item (title, body, buyer, winner, ...).
        Rules and context look at all the fields together; `source` for watches' mutes."""
        scan = self._scan(fields, explain=False)
        if not scan.hits:
            return []
        matches: list[Match] = []
        for index, hits in scan.hits.items():
            kept, _ = self._judge(index, hits, scan.texts, language, source)
            matches.extend(self._to_match(h, scan.texts[h.field]) for h in kept)
        if len(matches) > 1:
            order = {name: i for i, name in enumerate(scan.texts)}
            matches.sort(key=lambda m: (order[m.field], m.start, m.start - m.end))
        return matches

    def explain(self, item: Item) -> list[Explanation]:
        """For every watch: the matches an item gives it and every hit that was dropped, with
        the reason (not a whole word, excluded by "...", rule not satisfied, context missing,
        language, case, inside a longer match)."""
        return self.explain_fields(_item_fields(item), language=item.language,
                                   source=item.source)

    def explain_fields(self, fields: Mapping[str, str] | Iterable[tuple[str, str]],
                       language: str | None = None,
                       source: str | None = None) -> list[Explanation]:
        scan = self._scan(fields, explain=True)
        out = []
        for index, watch in enumerate(self.watches):
            kept, rejected = self._judge(index, scan.hits.get(index, []), scan.texts, language,
                                         source)
            refused = [self._reject(h, reason, scan.texts[h.field]) for h, reason in rejected]
            for miss in dict.fromkeys(scan.misses.get(index, [])):
                refused.append(_miss(self.watches[index].name, miss, scan.texts[miss.field]))
            out.append(Explanation(
                watch=watch.name,
                matches=tuple(self._to_match(h, scan.texts[h.field]) for h in kept),
                rejected=tuple(sorted(refused, key=lambda r: (r.field, r.start))),
            ))
        return out

    # -- scanning ------------------------------------------------------------------------------

    def _scan(self, fields: Mapping[str, str] | Iterable[tuple[str, str]],
              explain: bool) -> _Scan:
        # (a dict first: isinstance of an ABC costs more than the rest of a field's overhead)
        pairs = (fields.items() if type(fields) is dict or isinstance(fields, Mapping)
                 else fields)
        scan = _Scan({name: text or "" for name, text in pairs})
        if self._scanner is None:
            return scan
        chinese = self._chinese
        for name, text in scan.texts.items():
            if text:
                self._scan_field(scan, name, text, explain, chinese)
        return scan

    def _scan_field(self, scan: _Scan, name: str, text: str, explain: bool,
                    chinese: ChineseWords | None = None) -> None:
        """Fold the text the cheapest way that keeps its offsets, find the anchors, verify."""
        scanner = self._scanner
        assert scanner is not None
        # a letter beyond Latin in the middle: not Latin text, and fold_narrow would only find
        # that out through an exception (a tenth of the time of all the rest on short text)
        middle = text[len(text) >> 1]
        if middle > "\u024f" and middle.isalpha():
            codec = script_codec(middle)
        else:
            narrow = fold_narrow(text)
            if isinstance(narrow, bytes):
                found = scanner.find_narrow(narrow)
                if found:
                    self._add(scan, *self._verify(name, text, narrow.decode("ascii"), found,
                                                  explain))
                return
            # Latin text that names someone in Cyrillic or Georgian
            codec = script_codec(narrow) if narrow else None
        if codec is not None:
            # Cyrillic or Georgian with nothing beyond ASCII and the press's punctuation: a
            # byte a character, folded by a table (a third of fold_wide's and UTF-16's cost)
            data = codec.fold(text)
            if data is not None:
                found = scanner.find_codec(codec, data)
                if found:
                    self._add(scan, *self._verify(name, text, codec.decode(data), found,
                                                  explain, chinese))
                return
        wide = fold_wide_utf16(text)
        result = None if wide is None else scanner.find(*wide[:3], wide.plain)
        if wide is not None and result is None:  # ß, ς: str.lower keeps them, casefold not
            wide = fold_wide_utf16(text, full=True)
            result = None if wide is None else scanner.find(*wide[:3], wide.plain)
        if wide is not None and result is not None:
            folded, found = result
            if not found:
                return
            hits, misses = self._verify(
                name, text, folded, found, explain, chinese,
                cased=None if wide.checked else unicodedata.normalize("NFKC", text))
            if wide.checked or all(fold(text[h.start:h.tail])[0] == folded[h.start:h.tail]
                              for h in hits):
                self._add(scan, hits, misses)
                return
            # NFKC changed lengths inside the text after all: offsets are off
        folded, starts, ends = fold(text)
        result = scanner.find(folded)
        assert result is not None  # fold() case-folds
        folded, found = result
        self._add(scan, *self._verify(name, text, folded, found, explain, chinese, starts,
                                      ends))

    def _verify(self, name: str, text: str, folded: str, found: list[tuple[int, int, int]],
                explain: bool, chinese: ChineseWords | None = None,
                starts: list[int] | None = None, ends: list[int] | None = None,
                cased: str | None = None) -> tuple[list[_Hit], list[_Miss]]:
        """The hits whose whole term is there around the anchor, and (when explaining) the
        anchor hits of findings that are not; offsets mapped back through starts / ends. A
        Chinese hit must also be whole words of the text (`chinese`). `cased`: the text in
        its own case, a character for each of `folded`'s (for glued words), when that is
        not `text` (NFKC changed it, keeping its length)."""
        hits: list[_Hit] = []
        misses: list[_Miss] = []
        if cased is None:
            cased = text if starts is None else "".join(map(text.__getitem__, starts))
        by_anchor = self._by_anchor
        gates = self._gates
        for slot, start, end in found:
            after_gate, before_gate, reach, candidates, edges = gates[slot]
            # a letter right before (after) an anchor whose every term must start (end)
            # there: a longer word, whatever the terms (one check for all of them)
            if edges and not explain and (
                    (edges & 1 and start and _WORDISH.match(folded, start - 1)
                     and not _glued(cased, start))
                    or (edges & 2 and _WORDISH.match(folded, end))):
                continue
            # a term with words after (before) the anchor can match only where one of them
            # does: one regex for all of an anchor's terms instead of one per term
            no_after = after_gate is not None and after_gate.match(folded, end) is None
            no_before = before_gate is not None and before_gate.search(
                folded, max(0, start - reach), start) is None
            # (explaining lists every term that failed, so it goes through them all)
            for term in by_anchor[slot] if explain else candidates[2 * no_after + no_before]:
                if (no_after and term.after is not None) or (
                        no_before and term.before is not None):
                    span = None
                else:
                    span = term.verify(folded, start, end, cased)
                if span is None:
                    if explain and term.role in _FINDING_ROLES:
                        misses.append(_Miss(term, name, *_span(starts, ends, start, end)))
                    continue
                f_start, f_end = span
                finding = term.role in _FINDING_ROLES
                tail = legal_tail(folded, f_end) if finding else f_end
                if starts is None:
                    o_start, o_end, o_tail = f_start, f_end, tail
                else:
                    o_start, o_end = _span(starts, ends, f_start, f_end)
                    o_tail = _span(starts, ends, f_start, tail)[1]
                if o_tail != o_end and _lowercase_start(text[o_end:o_tail]):
                    o_tail = o_end  # "Nuctech company said": a noun, not a legal form
                if chinese is not None and finding and not (
                        term.bounded_left and term.bounded_right):
                    reason = chinese.problem(text, o_start, o_end)
                    if reason is not None:
                        if explain:
                            misses.append(_Miss(term, name, o_start, o_end, reason))
                        continue
                hits.append(_Hit(term, name, o_start, o_end, o_tail))
        return hits, misses

    @staticmethod
    def _add(scan: _Scan, hits: list[_Hit], misses: list[_Miss]) -> None:
        for hit in hits:
            scan.hits.setdefault(hit.term.watch, []).append(hit)
        for miss in misses:
            scan.misses.setdefault(miss.term.watch, []).append(miss)

    # -- judging -------------------------------------------------------------------------------

    def _judge(self, index: int, hits: list[_Hit], texts: Mapping[str, str],
               language: str | None, source: str | None = None,
               ) -> tuple[list[_Hit], list[tuple[_Hit, str]]]:
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
            for mute in watch.mute:
                if any(mute.applies(text, source) for text in term.texts):
                    return mute.describe()
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
        # an ambiguous alias, and a generated spelling that is an ordinary word, count only
        # next to something that confirms the watch
        ordinary = {id(h): why for h in kept if (why := _ordinary(h, texts)) is not None}
        if ordinary or any(h.term.needs_context for h in kept):
            named = any(not h.term.needs_context and id(h) not in ordinary for h in kept)
            context = any(h.term.role == "context" for h in hits)
            # ... and for a word, a rule's terms too: the rule already holds if one is here
            rule = any(h.term.role in ("all", "any") for h in hits)
            words = ", ".join(repr(c) for c in watch.context)
            missing = ("context missing: no other name of the watch"
                       + (f" and none of {words}" if words else "") + " in the item")
            still = []
            for hit in kept:
                if hit.term.needs_context and not (named or context):
                    rejected.append((hit, missing))
                elif id(hit) in ordinary and not (named or context or rule):
                    rejected.append((hit, ordinary[id(hit)]))
                else:
                    still.append(hit)
            kept = still
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
            watch=self._names[term.watch],
            term=_as_written(term.texts, found) if len(term.texts) > 1 else term.texts[0],
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


def _item_fields(item: Item) -> tuple[tuple[str, str], ...]:
    return (("title", item.title), ("body", item.text))


def _gates(terms: list[_Term]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None, int,
                                        tuple[list[_Term], ...], int]:
    """(after, before, reach, candidates, edges) for one anchor's terms: the union of their
    `after` patterns, which must match right after an anchor hit for any of them to, and of
    their `before` patterns (searched `reach` characters back), None where fewer than two
    terms have one (the term's own check is then as cheap); the terms that remain, in their
    order, when both match, when `after` does not, when `before` does not, when neither;
    and 1 | 2 when every term starts | ends at the anchor's edge, which must then be a
    word's (`_Term.verify`'s boundaries)."""
    afters = [t.after.pattern for t in terms if t.after is not None]
    befores = [t.before.pattern for t in terms if t.before is not None]
    after = re.compile("|".join(f"(?:{p})" for p in afters)) if len(afters) > 1 else None
    before = (re.compile("|".join(f"(?:{p})" for p in befores)) if len(befores) > 1
              else None)
    # (a gate that is None never rules out: the lists it would pick are shared)
    lists: dict[tuple[bool, bool], list[_Term]] = {(False, False): terms}
    for no_after in (False, after is not None):
        for no_before in (False, before is not None):
            lists[no_after, no_before] = terms if not (no_after or no_before) else [
                t for t in terms if not (no_after and t.after is not None)
                and not (no_before and t.before is not None)]
    candidates = tuple(lists[no_after and after is not None, no_before and before is not None]
                       for no_after in (False, True) for no_before in (False, True))
    edges = (all(t.before is None and t.bounded_left for t in terms)
             | all(t.after is None and t.endings is None and t.bounded_right
                   for t in terms) << 1)
    return (after, before, max((t.reach for t in terms if t.before is not None), default=0),
            candidates, edges)


# -- judging helpers -------------------------------------------------------------------------------
