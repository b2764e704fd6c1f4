"""Legal forms (LLC, ООО, შპს, 有限公司) at the edges of names."""

from __future__ import annotations

import re
import unicodedata

from monitor.names.fold import fold
from monitor.names.words import _SPLIT, WORD, script_of, unspaced

# folded word sequences; stripped from an alias's edges and absorbed after a hit in the text
_LEGAL_WORDS = [
    # English and international
    "co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc",
    "llp", "lp", "plc", "gmbh", "ag", "sa", "s a", "spa", "s p a", "srl", "s r l", "sarl",
    "bv", "nv", "oy", "ab", "jsc", "ojsc", "cjsc", "pjsc", "pte", "pty", "kft", "zrt",
    "sp z o o", "co ltd", "company limited", "company ltd", "co limited", "corp ltd",
    "pte ltd", "pty ltd", "co llc", "joint stock company", "limited liability company",
    "public joint stock company", "closed joint stock company", "open joint stock company",
    "public limited company",
    # Russian, Kazakh, Ukrainian
    "ооо", "оао", "зао", "пао", "ао", "нао", "тоо", "жшс", "ақ", "тов", "пат", "прат", "ат",
    "общество с ограниченной ответственностью", "акционерное общество",
    "публичное акционерное общество", "товарищество с ограниченной ответственностью",
    "жауапкершілігі шектеулі серіктестік", "акционерлік қоғам",
    "товариство з обмеженою відповідальністю", "акціонерне товариство",
    # Georgian
    "შპს", "სს", "ი მ", "შეზღუდული პასუხისმგებლობის საზოგადოება", "სააქციო საზოგადოება",
]
_LEGAL_SEQS = sorted({tuple(w.split()) for w in _LEGAL_WORDS}, key=len, reverse=True)
# Chinese company suffixes (no spaces: stripped as text)
_LEGAL_CJK = ("集团股份有限公司", "股份有限公司", "有限责任公司", "有限公司", "股份公司")
_LEGAL_TAIL = re.compile(
    r"(?:[\s.,]+(?:"
    + "|".join(r"[\s.,]+".join(map(re.escape, seq)) for seq in _LEGAL_SEQS)
    + rf")(?!{WORD}|-))+"
)
_LEGAL_TAIL_CJK = re.compile("(?:" + "|".join(_LEGAL_CJK) + ")")
# what `_LEGAL_TAIL` can start with: the first word of a legal form after separators
_NEXT_WORD = re.compile(rf"[\s.,]+({WORD}+)")
_FIRST_WORDS = frozenset(seq[0] for seq in _LEGAL_SEQS)


def legal_tail(folded: str, end: int) -> int:
    """Where a legal form written right after a name ends ("Nuctech| Co., Ltd."), else `end`:
    the found text then shows the whole company name."""
    if end and unspaced(folded[end - 1]):
        found = _LEGAL_TAIL_CJK.match(folded, end)
    else:
        # the word after the name first: one short regex, where most are no legal form
        word = _NEXT_WORD.match(folded, end)
        if word is None or word.group(1) not in _FIRST_WORDS:
            return end
        found = _LEGAL_TAIL.match(folded, end)
    return found.end() if found else end


def _strip_legal(words: list[str]) -> list[str]:
    """Legal-form words off both edges; never down to nothing."""
    changed = True
    while changed and len(words) > 1:
        changed = False
        for seq in _LEGAL_SEQS:
            n = len(seq)
            if n < len(words) and tuple(words[-n:]) == seq:
                words = words[:-n]
                changed = True
                break
            if n < len(words) and tuple(words[:n]) == seq:
                words = words[n:]
                changed = True
                break
    if len(words) == 1 and script_of(words[0]) == "cjk":
        for suffix in _LEGAL_CJK:
            if words[0].endswith(suffix) and len(words[0]) > len(suffix) + 1:
                words = [words[0][: -len(suffix)]]
                break
    return words


def name_tokens(text: str, *, strip_legal: bool = True) -> tuple[str, ...]:
    """The folded words of a name, legal forms stripped from its edges:
    "NUCTECH CO., LTD" -> ("nuctech",), "ООО «Хуавей»" -> ("хуавей",)."""
    words = [w for w in _SPLIT.split(fold(text)[0]) if w]
    return tuple(_strip_legal(words) if strip_legal else words)


def _acronyms(text: str) -> set[str]:
    """Folded words written in capitals in the config (ZTE, ТБЕА): they take no endings."""
    return {
        w.casefold()
        for w in _SPLIT.split(unicodedata.normalize("NFKC", text))
        if w and len(w) <= 5 and w.isupper()
    }
