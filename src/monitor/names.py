"""How a name can be written: folding, legal forms, case endings and transliteration.

Pure functions and tables that `monitor.match` compiles a watch list with. Nothing here scans
text; everything here decides what a term's pattern is.

- `fold`: the one normalisation of aliases and text (NFKC, case folding, ё = е, Latin
  diacritics dropped), with maps back to the original offsets when lengths change;
  `fold_narrow` / `fold_wide` / `strip_accents`: the same for text to scan, one to one and
  a few times faster, with `ACCENTED` and `CASEFOLD_ONLY`, the letters the matcher's
  automaton looks for to know when a text needs more.
- `name_tokens`: an alias as folded words, legal forms (LLC, ООО, შპს, 有限公司) stripped from
  its edges.
- `term_pattern`: the regular expression a term is verified with at an automaton hit, and the
  literal anchor the automaton looks for: words joined by any punctuation or spacing, case
  endings (every word of a Cyrillic name, the last of a Georgian one), word boundaries where the
  script has them.
- `transliterations`: Latin <-> Cyrillic <-> Georgian spellings generated for a name.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ACCENTED",
    "CASEFOLD_ONLY",
    "WORD",
    "TermPattern",
    "fold",
    "fold_narrow",
    "fold_wide",
    "legal_tail",
    "name_tokens",
    "script_of",
    "strip_accents",
    "term_pattern",
    "transliterations",
    "unspaced",
]

# -- folding -------------------------------------------------------------------------------------


def _latin_base(ch: str) -> str | None:
    """é -> e, Š -> s: the ASCII letter under a Latin letter with diacritics."""
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0]
    if len(decomposed) > 1 and base.isascii() and base.isalpha():
        return base.lower()
    return None


_ACCENTS: dict[int, str] = {}
for _code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
    _base = _latin_base(chr(_code))
    if _base is not None:
        _ACCENTS[_code] = _base
# letters without a decomposition that readers still see as the plain letter
_ACCENTS.update({ord(k): v for k, v in {"ø": "o", "ł": "l", "đ": "d", "ı": "i", "ħ": "h",
                                         "ŧ": "t", "ё": "е"}.items()})


def _char_class(codes: list[int]) -> str:
    """A regex class of code points."""
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" if b > a
                         else re.escape(chr(a)) for a, b in ranges) + "]"


_FOLD_TABLE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
        "\u00bb": '"', "\u2033": '"', "\u05f4": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-",
        "\n": " ", "\t": " ",
        **{chr(k): v for k, v in _ACCENTS.items()},
    }
)


_FOLDED = {chr(k): v for k, v in _FOLD_TABLE.items()}
_FOLDABLE = re.compile(_char_class(sorted(_FOLD_TABLE)))


def _fold_chars(chars: str) -> str:
    # a regex pass with a call per change beats str.translate with a dict (a lookup per
    # character) on any text with few quotes, dashes and accents
    return _FOLDABLE.sub(lambda found: _FOLDED[found.group()],
                         unicodedata.normalize("NFKC", chars).casefold())


def _classes() -> tuple[str, str]:
    """Two regex classes, from one pass over the BMP:

    - compat: the characters NFKC changes into letters or digits, and combining marks (plus
      the mathematical and enclosed alphanumerics);
    - uneven: what `fold` must fold on its own: a character whose fold is not one character,
      a combining mark, one that composes with the character before it (a Hangul vowel),
      one whose NFKD starts with such, and everything beyond the BMP."""
    seconds = {0x1161 + i for i in range(21)} | {0x11A8 + i for i in range(27)}  # Hangul V, T
    for code in range(0x80, 0x30000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    compat: list[int] = []
    uneven: list[int] = []
    for code in range(0x80, 0x10000):
        if 0xD800 <= code < 0xE000:
            continue
        ch = chr(code)
        normal = unicodedata.normalize("NFKC", ch)
        combining = unicodedata.combining(ch)
        if combining or (normal != ch and any(x.isalnum() for x in normal)):
            compat.append(code)
        first = unicodedata.normalize("NFKD", ch)[:1]
        # (the translate step of _fold_chars is one to one)
        if (combining or code in seconds or len(normal.casefold()) != 1
                or unicodedata.combining(first) or ord(first) in seconds):
            uneven.append(code)
    return (_char_class(compat)[:-1] + "\U0001d400-\U0001d7ff\U0001f100-\U0001f1ff]",
            _char_class(uneven)[:-1] + "\U00010000-\U0010ffff]")


_COMPAT_CLASS, _UNEVEN_CLASS = _classes()
_COMPAT = re.compile(_COMPAT_CLASS)
_UNEVEN = re.compile(_UNEVEN_CLASS)


def fold(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """Fold text for matching: NFKC, case folding, ё = е, Latin diacritics dropped, one kind of
    quote, dash and space. Returns the folded text and, when folding changed its length, maps
    from each folded character to the start and end of the original characters it came from
    (None, None means one to one)."""
    if unicodedata.is_normalized("NFKC", text):
        folded = _fold_chars(text)
        if len(folded) == len(text):
            return folded, None, None
    # a character that folds to several (ß, №, ﬁ), or a base with its combining marks
    # (и + ◌̆ -> й), is folded on its own; the runs between fold one character to one, all
    # in one call
    clusters: list[tuple[int, int]] = []
    at = 0
    for uneven in _UNEVEN.finditer(text):
        i = uneven.start()
        if i < at:
            continue  # a mark that went with the character before it
        if i > at and unicodedata.combining(text[i]):
            i -= 1  # the base of a mark
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):
            j += 1
        clusters.append((i, j))
        at = j
    runs = [(a, b) for a, b in zip([0] + [j for _, j in clusters],
                                   [i for i, _ in clusters] + [len(text)], strict=True) if a < b]
    even = iter(_split(_fold_chars("".join(text[a:b] for a, b in runs)), runs))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    for i, j in [*clusters, (len(text), len(text))]:
        if at < i:
            out.append(next(even))
            starts.extend(range(at, i))
            ends.extend(range(at + 1, i + 1))
        if i < j:
            piece = _fold_piece(text[i:j])
            out.append(piece)
            starts.extend([i] * len(piece))
            ends.extend([j] * len(piece))
        at = j
    return "".join(out), starts, ends


def _split(folded: str, runs: list[tuple[int, int]]) -> list[str]:
    """`folded` cut back into the runs it was joined from (it folded one to one)."""
    out = []
    at = 0
    for a, b in runs:
        out.append(folded[at:at + b - a])
        at += b - a
    return out


@lru_cache(maxsize=4096)
def _fold_piece(piece: str) -> str:
    return _fold_chars(piece)


def fold_narrow(text: str) -> bytes | None:
    """`fold` of a text in Latin letters, as ASCII bytes, one per character, so offsets into it
    are offsets into `text`; None for other text, and for text with a character that folds to
    more than one (ß, ½) or to a letter outside ASCII (æ).

    Latin-1 text (ASCII, «», é, no-break space) takes one `bytes.translate`, where other text
    needs `str.lower` and more. Other characters that fold to an ASCII letter (Š, ł), and
    punctuation (’ “ — …), are first replaced in the text, one `str.replace` per character
    (English text uses a handful), as long as there are few. Punctuation and symbols outside
    ASCII become a space or "#": term patterns only ask whether a character is a space, a
    word character, ".", ",", "-", or none of these."""
    for _ in range(_MAX_STAND_INS + 1):
        try:
            folded = text.encode("latin-1").translate(_NARROW)
        except UnicodeEncodeError as error:
            stand_in = _stand_in(text[error.start])
            if stand_in is None:
                return None
            text = text.replace(text[error.start], stand_in)
            continue
        return folded if folded.isascii() else None
    return None


_MAX_STAND_INS = 8


@lru_cache(maxsize=1024)
def _stand_in(ch: str) -> str | None:
    """What `fold_narrow` writes for a character outside Latin-1, or None: it cannot."""
    folded = ch.casefold().translate(_ACCENTS)
    if _COMPAT.match(ch) or len(folded) != 1:
        return None
    if folded.isascii():
        return folded
    return _narrow_class(folded)


def _narrow_class(ch: str) -> str | None:
    """A space for a space, "#" for other punctuation and symbols, None for a word character
    (which no ASCII character can stand in for)."""
    if ch.isspace():
        return " "
    return None if re.match(r"\w", ch) else "#"


def _narrow_table() -> bytes:
    table = bytearray(256)
    for code in range(256):
        ch = chr(code)
        folded = ch.casefold().translate(_ACCENTS)
        if _COMPAT.match(ch) or len(folded) != 1:
            table[code] = 0x80  # not ASCII: fold_narrow gives up on the text
        elif folded.isascii():
            table[code] = ord(folded)
        else:
            table[code] = ord(_narrow_class(folded) or "\x80")
    return bytes(table)


_NARROW = _narrow_table()


def fold_wide(text: str, *, full: bool = False) -> tuple[str, bool] | None:
    """`fold` of any text, one to one, with Latin accents left on: (folded, checked), or None
    when the text needs the slow path (ß -> ss changes offsets).

    Folds only what changes letters (NFKC, case, ё), so offsets into the result are offsets
    into `text`; quotes and dashes are left alone since patterns skip any punctuation between
    words. Case goes with `str.lower`, a third faster than `str.casefold`: the two differ only
    on `CASEFOLD_ONLY` letters (ß, ς, Cherokee), which the caller looks for and then folds
    again with `full`. Looking for accents would cost a regex pass over every text; the
    matcher's automaton looks for `ACCENTED` letters instead, and only a text with one goes
    through `strip_accents`. `checked` is False when NFKC changed the text but not its
    length (full-width letters in Chinese text): the caller then checks each hit against
    `fold`."""
    normal = text
    checked = True
    # NFKC only where it changes letters or digits (Ｎｕｃｔｅｃｈ, и + ◌̆): full-width punctuation
    # in Chinese text (，：) separates words as it is
    if not unicodedata.is_normalized("NFKC", text) and _has_compat(text):
        normal = unicodedata.normalize("NFKC", text)
        checked = False
    folded = normal.casefold() if full else normal.lower()
    if len(folded) != len(text):  # ß -> ss, İ -> i̇, ﬁ -> fi: offsets would shift
        return None
    if "ё" in folded:  # the accent of Russian text: a C-speed search and replace
        folded = folded.replace("ё", "е")
    return folded, checked


# what NFKC changes in running text that is neither a letter nor a digit: Chinese full-width
# punctuation, the ideographic and no-break spaces, the ellipsis
_PLAIN_UNNORMALISED = "，：；！？（）～\u3000\xa0…"


def _has_compat(text: str) -> bool:
    """Whether a text that is not NFKC-normalised has a `_COMPAT` character. When the
    characters that kept it from being normalised are only the usual punctuation, a few
    `str.replace` and a second quick check say no, faster than the regex pass (and a
    combining mark that NFKC leaves as it is then does not make the punctuation change)."""
    for ch in _PLAIN_UNNORMALISED:
        if ch in text:
            text = text.replace(ch, " ")
            if unicodedata.is_normalized("NFKC", text):
                return False
    return _COMPAT.search(text) is not None


def strip_accents(folded: str) -> str:
    """é -> e, š -> s in text that `fold_wide` folded."""
    return folded.translate(_ACCENTS)


# letters that `str.lower` keeps and `str.casefold` changes (all in the BMP)
CASEFOLD_ONLY = tuple(sorted(
    ch for ch in map(chr, range(0x10000))
    if not "\ud800" <= ch <= "\udfff" and ch.lower() == ch != ch.casefold()))
# the letters `strip_accents` changes, as `fold_wide` leaves them (ё it does itself)
ACCENTED = tuple(sorted(
    ch for ch in map(chr, _ACCENTS)
    if ch != "ё" and ch not in CASEFOLD_ONLY and ch in (ch.lower(), ch.casefold())))


# -- scripts and words ----------------------------------------------------------------------------

# CJK, kana, Hangul, Thai: written without spaces between words, so no boundary check there
_UNSPACED = (
    "\u0e00-\u0e7f\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff"
)
# a character that continues a word: letters and digits of scripts with spaces
WORD = rf"[^\W{_UNSPACED}]"
_UNSPACED_RE = re.compile(f"[{_UNSPACED}]")
_SPLIT = re.compile(r"[\W_]+")


def unspaced(ch: str) -> bool:
    """True for characters of scripts written without spaces between words."""
    return bool(_UNSPACED_RE.match(ch))


def script_of(word: str) -> str:
    """latin | cyrillic | georgian | cjk | other, by the word's last letter."""
    for ch in reversed(word):
        if ch.isdigit():
            continue
        if "a" <= ch <= "z" or "\u00c0" <= ch <= "\u024f":
            return "latin"
        if "\u0400" <= ch <= "\u04ff":
            return "cyrillic"
        if "\u10a0" <= ch <= "\u10ff" or "\u1c90" <= ch <= "\u1cbf":
            return "georgian"
        if unspaced(ch):
            return "cjk"
        return "other"
    return "other"


# -- legal forms ---------------------------------------------------------------------------------

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


def legal_tail(folded: str, end: int) -> int:
    """Where a legal form written right after a name ends ("Nuctech| Co., Ltd."), else `end`:
    the found text then shows the whole company name."""
    pattern = _LEGAL_TAIL_CJK if end and unspaced(folded[end - 1]) else _LEGAL_TAIL
    found = pattern.match(folded, end)
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


# -- case endings --------------------------------------------------------------------------------
#
# A closed list per script: a name followed by one of these, and then a word boundary, is the
# name. Only words of 4 letters or more take endings (Georgian, Cyrillic), so short names and
# acronyms never match inside other words. In Cyrillic every word of a name inflects (Ивана
# Петрова, Бидзиной Иванишвили, Петра Порошенка); a word before the last takes only the
# Russian and Ukrainian singular endings, since a person's first name is not plural and
# Kazakh puts the ending on the last word alone. Georgian, too, declines the last word only
# (ბიძინა ივანიშვილის).

# Russian and Ukrainian singular endings (with -ым: Петровым, Путиным)
_CYR_SINGULAR = (
    "а", "я", "у", "ю", "ом", "ем", "ём", "е", "ы", "и", "ой", "ей", "ою", "ею", "ью",
    "ым", "ові", "еві", "єві", "і", "ї", "єм", "єю",
)
_CYR_NOUN = (
    *_CYR_SINGULAR,
    # Russian and Ukrainian plural (Петровых, двух Нуктеков)
    "ов", "ев", "ам", "ям", "ами", "ями", "ах", "ях", "ых", "ыми", "ів", "їв",
    # Kazakh (both vowel-harmony series, after voiced and voiceless consonants)
    "тың", "тің", "дың", "дің", "ның", "нің", "қа", "ке", "ға", "ге", "ты", "ті", "ды", "ді",
    "ны", "ні", "та", "те", "да", "де", "тан", "тен", "дан", "ден", "нан", "нен", "мен", "бен",
    "пен", "тағы", "тегі", "дағы", "дегі", "лар", "лер", "дар", "дер", "тар", "тер",
    "лардың", "лердің", "ларға", "лерге", "ларды", "лерді", "ларда", "лерде", "лармен",
    "лермен",
)
# Kazakh after a possessive -ы/-і (жолы -> жолының, жолына, жолымен)
_KK_POSSESSIVE = ("ның", "нің", "на", "не", "н", "нда", "нде", "нан", "нен", "мен", "ндағы",
                  "ндегі")
# Russian/Ukrainian nouns that drop their last letter: Хуавей -> Хуаве-я, корпорация ->
# корпораци-и, Роснефть -> Роснефт-и, Бидзина -> Бидзин-ой, Петро -> Петр-а (Ukrainian)
_CYR_DROP = {
    "й": ("й", "я", "ю", "ем", "е", "и", "ев", "ям", "ями", "ях", "ї", "ю", "єм", "єві"),
    "ь": ("ь", "я", "ю", "ем", "е", "и", "ей", "ью", "ям", "ями", "ях", "і", "ів"),
    "я": ("я", "и", "ю", "ей", "ею", "й", "ям", "ями", "ях", "і", "ї", "єю"),
    "а": ("а", "ы", "и", "е", "у", "ой", "ою", "ам", "ами", "ах", "і", "ою"),
    "о": ("о", "а", "у", "ом", "ові", "е", "і"),
}
_CYR_ADJ = ("ая", "яя", "ый", "ий", "ой", "ое", "ее", "ого", "его", "ому", "ему", "ым", "им",
            "ом", "ем", "ую", "юю", "ою", "ею", "ые", "ие", "ых", "их", "ыми", "ими", "а", "у",
            "ої", "ій", "ого", "ому", "ою", "і", "их", "ими")
# Georgian after a vowel-final name (ჰუავეი-ს, ჰუავეი-მ, ჰუავეი-სთვის, ჰუავეი-ში)
_KA_VOWEL = ("მ", "ს", "თ", "თი", "დ", "ც", "ვე", "ში", "ზე", "თან", "სთან", "სთვის", "თვის",
             "სგან", "გან", "სკენ", "დან", "დანაც", "მდე", "ვით", "სავით", "სა", "საც", "მაც",
             "შიც", "ზეც", "სთვისაც", "ები", "ების", "ებს", "ებმა", "ებით", "ებში", "ებთან")
# Georgian after a stem that drops its final -ი/-ა/-ე (ნუქტექი -> ნუქტექ-ის, ნუქტექ-მა)
_KA_STEM = ("ი", "ის", "ს", "ით", "მა", "ად", "ო", "ში", "ზე", "თან", "ისთვის", "ისგან",
            "ისკენ", "იდან", "ამდე", "ივით", "ისა", "ისაც", "იც", "მაც", "საც", "ზეც", "შიც",
            "ები", "ების", "ებს", "ებმა", "ებით", "ებში", "ებთან", "ებზე", "ებისთვის")
_ADJ_ENDINGS = ("ая", "яя", "ый", "ий", "ой", "ое", "ее", "ые", "ие")
_MIN_INFLECTED = 4  # letters a word needs before it takes endings
# letters a Georgian name ending in consonant + ი needs for its bare stem to count
_MIN_KA_BARE = 5


def _word_forms(word: str, acronym: bool, last: bool) -> tuple[str, tuple[str, ...]]:
    """(literal prefix, endings that may follow it; () = none, the word as is) for one word of
    a term; `last` for its last word."""
    script = script_of(word)
    if acronym or len(word) < _MIN_INFLECTED:
        return word, ()
    if script == "georgian" and last:
        suffixes = {""} | set(_KA_VOWEL)
        if word[-1] in "იაე":
            stem_endings = set(_KA_STEM)
            if word[-1] == "ი" and word[-2] not in _VOWELS and len(word) > _MIN_KA_BARE:
                # a foreign name's nominative -ი drops inside a compound name ("შპს
                # ნუქტექ ჯორჯია"): the bare stem counts when it is long enough
                stem_endings.add("")
            return word[:-1], _ordered({word[-1] + s for s in suffixes} | stem_endings)
        return word, _ordered(set(_KA_STEM) | {""})
    if script != "cyrillic":
        return word, ()
    if last:
        endings = set(_CYR_NOUN) | (set(_KK_POSSESSIVE) if word[-1] in "ыі" else set())
    else:
        endings = set(_CYR_SINGULAR)
    stem, forms = word, {""} | endings
    # a last word keeps a stem of 4 letters (it may be the whole name, and the anchor); a
    # four-letter first name may drop to 3 (Анн-ы Петровой, Юри-я Иванова), since the
    # surname after it must follow for a hit
    if word[-1] in _CYR_DROP and len(word) > _MIN_INFLECTED - (not last):
        # the stem is the anchor; the full word is one of its forms (and on the last word the
        # full word takes endings too: Хуавэй-ге)
        stem = word[:-1]
        drop = set(_CYR_DROP[word[-1]])
        forms = ({word[-1] + s for s in forms} | drop) if last else (
            {word[-1]} | (drop & endings))
    if len(word) > _MIN_INFLECTED and word.endswith(_ADJ_ENDINGS):
        # an adjective, or a surname declined like one: Китайской, Зеленского, Толстым
        between = word[len(word) - 2:len(stem)]
        stem = word[:-2]
        forms = {between + s for s in forms} | set(_CYR_ADJ)
    return stem, _ordered(forms)


def _ordered(suffixes: set[str]) -> tuple[str, ...]:
    """Longest first, so that the longest ending wins in an alternation."""
    return tuple(sorted(suffixes, key=lambda s: (-len(s), s)))


@dataclass(frozen=True, slots=True)
class TermPattern:
    """How to find one term: its words as literal `pieces` of folded text (a word that takes
    endings: its stem), each followed by `rests` (a regex of the endings of a word before the
    last; "" for none) and the last by one of `endings` (longest first; () means none), any
    punctuation between words, and word boundaries where `bounded_left` / `bounded_right`
    say. The automaton looks for piece `at`, the `anchor`; at a hit, `before` must end right
    at it and `after` start right after it."""

    pieces: tuple[str, ...]
    rests: tuple[str, ...]
    endings: tuple[str, ...]
    bounded_left: bool
    bounded_right: bool
    longest: tuple[int, ...]  # the longest ending of each word
    at: int = 0

    @property
    def anchor(self) -> str:
        return self.pieces[self.at]

    @property
    def before(self) -> str:
        return "".join(re.escape(p) + r + _SEP
                       for p, r in zip(self.pieces[:self.at], self.rests[:self.at], strict=True))

    @property
    def after(self) -> str:
        return self.rests[self.at] + "".join(
            _SEP + re.escape(p) + r
            for p, r in zip(self.pieces[self.at + 1:], self.rests[self.at + 1:], strict=True))

    @property
    def reach(self) -> int:
        """How far before the anchor `before` can start: the words, their longest endings,
        and room for punctuation between words."""
        return sum(len(self.pieces[i]) + self.longest[i] + 12 for i in range(self.at))


_SEP = r"[\W_]+"


def term_pattern(text: str, *, inflect: bool = True,
                 strip_legal: bool = True) -> TermPattern | None:
    """The pattern of a term (None when nothing is left to look for): its words with any
    punctuation or spacing between them ("Co.,Ltd" = "Co Ltd"), case endings (on every
    Cyrillic word, on the last Georgian word), word boundaries except next to Chinese or
    Japanese. Anchored on its longest piece: "railway" rather than "china" in "China Railway
    Group" means fewer automaton hits to verify."""
    words = list(name_tokens(text, strip_legal=strip_legal))
    if not words:
        return None
    acronyms = _acronyms(text)
    pieces: list[str] = []
    rests: list[str] = []
    longest: list[int] = []
    endings: tuple[str, ...] = ()
    for i, word in enumerate(words):
        last = i == len(words) - 1
        prefix, forms = _word_forms(word, word in acronyms, last) if inflect else (word, ())
        pieces.append(prefix)
        longest.append(max(map(len, forms), default=0))
        if last:
            endings = forms
            rests.append("")
        else:
            rests.append("(?:" + "|".join(map(re.escape, forms)) + ")" if forms else "")
    return TermPattern(
        pieces=tuple(pieces), rests=tuple(rests), endings=endings,
        bounded_left=not unspaced(words[0][0]), bounded_right=not unspaced(words[-1][-1]),
        longest=tuple(longest),
        at=max(range(len(words)), key=lambda i: (len(pieces[i]), -i)),
    )


# -- transliteration -----------------------------------------------------------------------------
#
# Small hand-written tables, several choices per sound (c -> к / ц / с): names reach Russian
# and Georgian through English, so spellings vary. Every combination up to _MAX_VARIANTS is
# generated, the most usual ones first. anyascii and unidecode give one Latin form only (and
# unidecode is GPL), and no brand's own spelling (DESIGN.md 7a).

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
_VOWELS = set("aeiouаеиоуыэюяәөұүіეიოუა")


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
