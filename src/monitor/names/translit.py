"""Transliteration: Latin <-> Cyrillic <-> Georgian spellings generated for a name."""

from __future__ import annotations

import itertools

from monitor.names.legal import name_tokens
from monitor.names.words import _VOWELS, script_of

# Small hand-written tables, several choices per sound (c -> к / ц / с): names reach Russian
# and Georgian through English, so spellings vary. Every combination up to _MAX_VARIANTS is
# generated, the most usual ones first. anyascii and unidecode give one Latin form only (and
# unidecode is GPL), and no brand's own spelling (anyascii: ნუქტექი -> nukt'eki, Хиквижн ->
# Khikvizhn).

_LAT_CYR: dict[str, tuple[str, ...]] = {
    "shch": ("щ",), "sch": ("ш", "щ"), "sion": ("жн", "жен", "зион"), "tion": ("шн", "ция"),
    "wei": ("вей", "вэй"), "sh": ("ш",), "ch": ("ч", "к", "х"), "zh": ("ж",), "kh": ("х",),
    "ts": ("ц",), "tz": ("ц",), "ya": ("я",), "yu": ("ю",), "yo": ("ё",), "ye": ("е",),
    "ck": ("к",), "ph": ("ф",), "th": ("т",), "qu": ("кв",), "ee": ("и",), "oo": ("у",),
    "ou": ("у", "оу"), "ai": ("ай",), "ay": ("ай",), "ei": ("ей", "эй"), "ey": ("ей", "эй"),
    "oy": ("ой",), "oi": ("ой",), "ia": ("ия",), "x": ("кс",), "a": ("а",), "b": ("б",),
    "c": ("к", "ц", "с"), "d": ("д",), "e": ("е", "э"), "f": ("ф",), "g": ("г",),
    "h": ("х",), "i": ("и",), "j": ("дж", "ж"), "k": ("к",), "l": ("л",), "m": ("м",),
    "n": ("н",), "o": ("о",), "p": ("п",), "q": ("к",), "r": ("р",), "s": ("с",),
    "t": ("т",), "u": ("у",), "v": ("в",), "w": ("в",), "y": ("и", "й"), "z": ("з",),
}
_LAT_KA: dict[str, tuple[str, ...]] = {
    "sion": ("ჟენ", "ჟნ", "ზიონ"), "tion": ("შენ", "ცია"), "sh": ("შ",), "ch": ("ჩ", "ქ", "ხ"),
    "zh": ("ჟ",), "kh": ("ხ",), "ts": ("ც",), "tz": ("ც",), "ck": ("კ",), "ph": ("ფ",),
    "th": ("თ",), "qu": ("კვ",), "ee": ("ი",), "oo": ("უ",), "ya": ("ია",), "yu": ("იუ",),
    "x": ("ქს",), "a": ("ა",), "b": ("ბ",), "c": ("ქ", "კ", "ც"), "d": ("დ",), "e": ("ე",),
    "f": ("ფ",), "g": ("გ",), "h": ("ჰ",), "i": ("ი",), "j": ("ჯ",), "k": ("კ", "ქ"),
    "l": ("ლ",), "m": ("მ",), "n": ("ნ",), "o": ("ო",), "p": ("პ",), "q": ("ქ",),
    "r": ("რ",), "s": ("ს",), "t": ("ტ", "თ"), "u": ("უ",), "v": ("ვ",), "w": ("ვ",),
    "y": ("ი",), "z": ("ზ",),
}
_CYR_LAT: dict[str, tuple[str, ...]] = {
    "ей": ("ei", "ey"), "эй": ("ei", "ey"), "ай": ("ai", "ay"), "ой": ("oi", "oy"),
    "кс": ("x", "ks"), "а": ("a",), "б": ("b",), "в": ("v", "w"), "г": ("g",), "д": ("d",),
    "е": ("e",), "ж": ("zh", "j"), "з": ("z",), "и": ("i",), "й": ("y", "i"),
    "к": ("k", "c"), "л": ("l",), "м": ("m",), "н": ("n",), "о": ("o",), "п": ("p",),
    "р": ("r",), "с": ("s",), "т": ("t",), "у": ("u",), "ф": ("f",), "х": ("kh", "h"),
    "ц": ("ts", "c"), "ч": ("ch",), "ш": ("sh",), "щ": ("shch",), "ъ": ("",), "ы": ("y",),
    "ь": ("",), "э": ("e",), "ю": ("yu",), "я": ("ya",), "ә": ("a",), "ғ": ("gh",),
    "қ": ("q", "k"), "ң": ("ng",), "ө": ("o",), "ұ": ("u",), "ү": ("u",), "һ": ("h",),
    "і": ("i",), "ґ": ("g",), "є": ("ye",), "ї": ("yi",),
}
_CYR_KA: dict[str, tuple[str, ...]] = {
    "а": ("ა",), "б": ("ბ",), "в": ("ვ",), "г": ("გ",), "д": ("დ",), "е": ("ე",), "ж": ("ჟ",),
    "з": ("ზ",), "и": ("ი",), "й": ("ი",), "к": ("ქ", "კ"), "л": ("ლ",), "м": ("მ",),
    "н": ("ნ",), "о": ("ო",), "п": ("პ",), "р": ("რ",), "с": ("ს",), "т": ("ტ", "თ"),
    "у": ("უ",), "ф": ("ფ",), "х": ("ხ", "ჰ"), "ц": ("ც",), "ч": ("ჩ",), "ш": ("შ",),
    "щ": ("შ",), "ъ": ("",), "ы": ("ი",), "ь": ("",), "э": ("ე",), "ю": ("იუ",), "я": ("ია",),
    "ә": ("ა",), "ғ": ("ღ",), "қ": ("ყ", "ქ"), "ң": ("ნგ",), "ө": ("ო",), "ұ": ("უ",),
    "ү": ("უ",), "һ": ("ჰ",), "і": ("ი",), "ґ": ("გ",), "є": ("ე",), "ї": ("ი",),
}
_KA_LAT: dict[str, tuple[str, ...]] = {
    "ა": ("a",), "ბ": ("b",), "გ": ("g",), "დ": ("d",), "ე": ("e",), "ვ": ("v", "w"),
    "ზ": ("z",), "თ": ("t",), "ი": ("i",), "კ": ("k",), "ლ": ("l",), "მ": ("m",), "ნ": ("n",),
    "ო": ("o",), "პ": ("p",), "ჟ": ("zh", "j"), "რ": ("r",), "ს": ("s",), "ტ": ("t",),
    "უ": ("u",), "ფ": ("p", "f"), "ქ": ("k", "c", "ch"), "ღ": ("gh",), "ყ": ("q", "k"),
    "შ": ("sh",), "ჩ": ("ch",), "ც": ("ts", "c"), "ძ": ("dz",), "წ": ("ts",), "ჭ": ("ch",),
    "ხ": ("kh", "h"), "ჯ": ("j",), "ჰ": ("h",),
}
_KA_CYR: dict[str, tuple[str, ...]] = {
    "ა": ("а",), "ბ": ("б",), "გ": ("г",), "დ": ("д",), "ე": ("е",), "ვ": ("в",), "ზ": ("з",),
    "თ": ("т",), "ი": ("и",), "კ": ("к",), "ლ": ("л",), "მ": ("м",), "ნ": ("н",), "ო": ("о",),
    "პ": ("п",), "ჟ": ("ж",), "რ": ("р",), "ს": ("с",), "ტ": ("т",), "უ": ("у",), "ფ": ("ф",),
    "ქ": ("к",), "ღ": ("г",), "ყ": ("к",), "შ": ("ш",), "ჩ": ("ч",), "ც": ("ц",), "ძ": ("дз",),
    "წ": ("ц",), "ჭ": ("ч",), "ხ": ("х",), "ჯ": ("дж",), "ჰ": ("х",),
}
_TABLES = {
    ("latin", "cyrillic"): _LAT_CYR, ("latin", "georgian"): _LAT_KA,
    ("cyrillic", "latin"): _CYR_LAT, ("cyrillic", "georgian"): _CYR_KA,
    ("georgian", "latin"): _KA_LAT, ("georgian", "cyrillic"): _KA_CYR,
}
_MAX_VARIANTS = 12


def _convert(word: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    """Every spelling of one word through `table`, the most usual first."""
    longest = max(map(len, table))
    pieces: list[tuple[str, ...]] = []
    i = 0
    while i < len(word):
        for size in range(min(longest, len(word) - i), 0, -1):
            chunk = word[i : i + size]
            if chunk in table:
                pieces.append(table[chunk])
                i += size
                break
        else:
            pieces.append((word[i],))
            i += 1
    # fewest second choices first: Nuctech -> Нуктеч, Нуктек, Нуктех, ...
    combos = sorted(itertools.islice(itertools.product(*(range(len(p)) for p in pieces)), 4096),
                    key=lambda c: (sum(1 for x in c if x), c))
    return ["".join(p[k] for p, k in zip(pieces, combo, strict=True))
            for combo in combos[:_MAX_VARIANTS]]


def transliterations(text: str) -> list[str]:
    """Spellings of a name in the other two of Latin, Cyrillic and Georgian (folded, legal
    forms stripped): "Nuctech" -> нуктек, ნუქტექი, ...; "Хуавей" -> huavei, ჰუავეი, ...
    Georgian forms of names ending in a consonant get the nominative -ი."""
    words = name_tokens(text)
    if not words:
        return []
    source = script_of(words[-1])
    out: list[str] = []
    for target in ("latin", "cyrillic", "georgian"):
        table = _TABLES.get((source, target))
        if table is None:
            continue
        per_word = [_convert(w if source != "georgian" else _drop_nominative(w), table)
                    for w in words]
        for combo in itertools.islice(itertools.product(*per_word), _MAX_VARIANTS):
            spelled = " ".join(combo)
            if target == "georgian" and spelled[-1:] not in _VOWELS:
                spelled += "ი"
            if spelled not in out:
                out.append(spelled)
    return out


def _drop_nominative(word: str) -> str:
    """ნუქტექი -> ნუქტექ: the -ი after a consonant is a case ending, not part of the name."""
    if len(word) > 3 and word.endswith("ი") and word[-2] not in _VOWELS:
        return word[:-1]
    return word
