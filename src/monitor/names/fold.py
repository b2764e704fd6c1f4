"""Folding: the one normalisation of aliases and text (NFKC, case folding, ё = е, Latin
diacritics dropped), with maps back to the original offsets; and the faster one-to-one folds
for text to scan."""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple


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


def fold_narrow(text: str) -> bytes | str:
    """`fold` of a text in Latin letters, as ASCII bytes, one per character, so offsets into it
    are offsets into `text`; for other text, and for text with a character that folds to
    more than one (ß, ½) or to a letter outside ASCII (æ), the character that stopped it
    ("" when it was a Latin-1 one), which tells `script_codec` may take the text instead.

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
            stop = text[error.start]
            stand_in = _stand_in(stop)
            if stand_in is None:
                return stop
            text = text.replace(stop, stand_in)
            continue
        return folded if folded.isascii() else ""
    return ""


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
    matcher looks for `ACCENTED` letters instead (by the high bytes of the text's UTF-16),
    and only a text with one goes through `strip_accents`. `checked` is False when NFKC
    changed the text but not its length (full-width letters in Chinese text): the caller
    then checks each hit against `fold`."""
    wide = fold_wide_utf16(text, full=full)
    return None if wide is None else (wide.folded, wide.checked)


class Wide(NamedTuple):
    """`fold_wide_utf16`'s fold of a text."""

    folded: str
    utf16: bytes  # UTF-16-LE
    high: bytes  # its high bytes
    checked: bool  # see `fold_wide`
    plain: bool  # no letter of `ACCENTED` or `CASEFOLD_ONLY` for certain


def fold_wide_utf16(text: str, *, full: bool = False) -> Wide | None:
    """`fold_wide`, with the folded text's UTF-16-LE bytes and their high bytes. Reading
    the high bytes (and the Latin-1 letters) first tells when `str.lower` has nothing to do
    and no letter needs more (Chinese text, with ASCII in lower case): no letter of a cased
    script, or an accented one, is there."""
    normal = text
    checked = True
    # NFKC only where it changes letters or digits (Ｎｕｃｔｅｃｈ, и + ◌̆): full-width punctuation
    # in Chinese text (，：) separates words as it is
    if not unicodedata.is_normalized("NFKC", text) and _has_compat(text):
        normal = unicodedata.normalize("NFKC", text)
        checked = False
    data = normal.encode("utf-16-le", "surrogatepass")
    high = data[1::2]
    latin1 = normal.encode("latin-1", "ignore")
    if not (full or high.translate(None, _PLAIN_HIGH) or latin1.translate(None, _PLAIN_LATIN1)):
        return None if len(normal) != len(text) else Wide(normal, data, high, checked, True)
    if (full or high.translate(None, _UNCASED_HIGH)
            or latin1.translate(None, _UNCASED_LATIN1)):
        folded = normal.casefold() if full else normal.lower()
        if len(folded) != len(text):  # ß -> ss, İ -> i̇, ﬁ -> fi: offsets would shift
            return None
        if "ё" in folded:  # the accent of Russian text: a C-speed search and replace
            folded = folded.replace("ё", "е")
        data = folded.encode("utf-16-le", "surrogatepass")
        return Wide(folded, data, data[1::2], checked, False)
    return None if len(normal) != len(text) else Wide(normal, data, high, checked, False)


# the high bytes (in UTF-16) of the letters that `str.lower` changes, beyond Latin-1 and
# other than compatibility characters (which NFKC has changed first: Ａ, Ⓐ), and of
# surrogates (tests/test_match.py checks the list against Unicode); and those of Latin-1
_CASED_HIGH = {0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x13, 0x1C, 0x1E, 0x1F, 0x21, 0x2C, 0xA6,
               0xA7, *range(0xD8, 0xE0)}
_UNCASED_HIGH = bytes(sorted(set(range(256)) - _CASED_HIGH))
_UNCASED_LATIN1 = bytes(code for code in range(256) if chr(code).lower() == chr(code))


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


# what `fold_wide_utf16` finds plain: the high bytes (UTF-16) and Latin-1 characters of no
# cased, `ACCENTED` or `CASEFOLD_ONLY` letter
_PLAIN_HIGH = bytes(sorted(set(range(256)) - _CASED_HIGH
                           - {ord(ch) >> 8 for ch in ACCENTED + CASEFOLD_ONLY} | {0}))
_PLAIN_LATIN1 = bytes(sorted(set(_UNCASED_LATIN1)
                             - {ord(ch) for ch in ACCENTED + CASEFOLD_ONLY if ch < "\u0100"}))


class ScriptCodec:
    """A one-byte encoding of ASCII and one script's letters (`letters`, both cases) with the
    usual punctuation of its press, and the table that folds it: for a text in it, `fold_wide`
    as one `charmap_encode` and one `bytes.translate` (no NFKC check: nothing in it is a
    compatibility character), and half the bytes of UTF-16 for the automaton. Offsets into
    the bytes are offsets into the text. A character whose fold is not one character of the
    table (an accented letter, one `str.lower` and `str.casefold` disagree on) is left out:
    a text with it takes `fold_wide`."""

    def __init__(self, letters: str) -> None:
        chars = [chr(code) for code in range(128)]
        for ch in dict.fromkeys(letters + letters.upper() + _CODEC_PUNCTUATION):
            if (ord(ch) >= 128 and not _COMPAT.match(ch) and not unicodedata.combining(ch)
                    and ch not in CASEFOLD_ONLY and ch not in ACCENTED):
                chars.append(ch)
        folds = [ch.lower().replace("ё", "е") for ch in chars]
        kept = [ch for ch, f in zip(chars, folds, strict=True)
                if len(f) == 1 and f in chars and f not in ACCENTED]
        if len(kept) > 256:
            raise ValueError(f"ScriptCodec: {len(kept)} characters, more than a byte holds")
        self.decoding = "".join(kept) + "\ufffe" * (256 - len(kept))
        self._encoding = codecs.charmap_build(self.decoding)
        index = {ch: i for i, ch in enumerate(kept)}
        self._fold = bytes([index[ch.lower().replace("ё", "е")] for ch in kept]
                           + list(range(len(kept), 256)))

    def encode(self, text: str) -> bytes | None:
        """`text` in this encoding, or None when a character of it is not in the table."""
        try:
            return codecs.charmap_encode(text, "strict", self._encoding)[0]
        except UnicodeEncodeError:
            return None

    def fold(self, text: str) -> bytes | None:
        """`fold_wide(text)` in this encoding, or None when the text is not all in it."""
        try:
            return codecs.charmap_encode(text, "strict", self._encoding)[0].translate(self._fold)
        except UnicodeEncodeError:
            return None

    def decode(self, data: bytes) -> str:
        return codecs.charmap_decode(data, "strict", self.decoding)[0]


# what news text in these scripts writes between words besides ASCII (not №, which NFKC
# changes to "No")
_CODEC_PUNCTUATION = "«»—–“”„’‘…\xa0"
# the scripts with a `ScriptCodec` of their own: Cyrillic of Russian, Ukrainian, Belarusian
# and Kazakh (what fits beside ASCII in a byte), Georgian Mkhedruli (and Mtavruli capitals)
CYRILLIC_CODEC = ScriptCodec(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяєіїґўәғқңөұүһ")
GEORGIAN_CODEC = ScriptCodec("".join(map(chr, range(0x10D0, 0x10FB))))


def script_codec(ch: str) -> ScriptCodec | None:
    """The `ScriptCodec` of a letter's script (Cyrillic, Georgian), or None."""
    if "\u0400" <= ch <= "\u04ff":
        return CYRILLIC_CODEC
    if "\u10a0" <= ch <= "\u10ff" or "\u1c90" <= ch <= "\u1cbf":
        return GEORGIAN_CODEC
    return None
