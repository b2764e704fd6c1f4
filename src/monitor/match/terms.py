"""What a watch looks for, as terms: each with the anchor the automaton finds and the pattern
that checks the whole term around it (`monitor.names.term_pattern`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from monitor.config import Watch
from monitor.names import WORD, name_tokens, transliterations

# roles whose hits are findings; the others only qualify findings
_FINDING_ROLES = ("alias", "keyword", "id")


_WORDISH = re.compile(WORD)


# registry ids shorter than this are not looked for in text (too many accidental hits)
_MIN_ID_CHARS = 5


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

    def verify(self, folded: str, start: int, end: int,
               text: str | None = None) -> tuple[int, int] | None:
        """The whole term's span around an anchor hit at folded[start:end], or None. `text`:
        the text as written, when folding kept its offsets: a capital right after a small
        letter starts a word there too ("Photo: ReutersChina Railway", a credit glued to
        the sentence it stands before)."""
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
        if self.bounded_left and start and _WORDISH.match(folded, start - 1) and not (
                text is not None and _glued(text, start)):
            return None
        if self.bounded_right and _WORDISH.match(folded, end):
            return None
        return start, end


def _glued(text: str, at: int) -> bool:
    """A capital right after a small letter: where two words were glued together."""
    before, here = text[at - 1], text[at]
    return here.isupper() and before.islower() and here.isalpha() and before.isalpha()


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
