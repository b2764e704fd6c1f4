"""Which hits count: language, case, exclusions, rules, context (generated spellings that are
ordinary words need it too), the longest of overlapping hits; and the reasons the others did
not (for `Matcher.explain`)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.config import Watch
from monitor.match.scan import _Hit, _Miss
from monitor.match.terms import _FINDING_ROLES, _WORDISH
from monitor.models import Match
from monitor.names import fold, name_tokens, ordinary_word, unspaced

_WORDS = re.compile(r"[^\W_]+")


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


def _ordinary(hit: _Hit, texts: Mapping[str, str]) -> str | None:
    """Why a hit of a generated spelling does not count alone: the text it found is an
    ordinary word of the spelling's script, or a case form of one (Kari -> კარი 'door')."""
    variant = hit.term.variant
    if variant is None or " " in variant:
        return None
    found = fold(texts[hit.field][hit.start:hit.end])[0]
    word = ordinary_word(found) if found.isalpha() else None
    if word is None:
        return None
    base, language = word
    what = (f"is an ordinary {language} word" if base == variant
            else f"is a form of the ordinary {language} word {base!r}")
    return (f"generated variant {variant!r} {what}; counted only with another mention of "
            "the watch or its context")


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


def _miss(watch: str, miss: _Miss, text: str) -> Rejection:
    """An anchor found where the whole term is not: name the word it sits in (or, for a
    Chinese hit, the words it straddles: `miss.reason`)."""
    term, start, end = miss.term, miss.start, miss.end
    if miss.reason is not None:
        return Rejection(watch=watch, term=term.texts[0], term_kind=term.kind,
                         field=miss.field, start=start, end=end, found=text[start:end],
                         reason=miss.reason, variant=term.variant, via=term.via)
    while start > 0 and _wordish(text[start - 1]):
        start -= 1
    while end < len(text) and _wordish(text[end]):
        end += 1
    word = text[start:end]
    reason = f"not the whole word: {word!r}"
    if len(term.texts[0].split()) > 1:
        reason = f"the rest of {term.texts[0]!r} does not follow, or not as whole words"
    return Rejection(watch=watch, term=term.texts[0], term_kind=term.kind, field=miss.field,
                     start=start, end=end, found=word, reason=reason, variant=term.variant,
                     via=term.via)


def _wordish(ch: str) -> bool:
    return bool(_WORDISH.match(ch)) and not unspaced(ch)


# -- snippets --------------------------------------------------------------------------------------
