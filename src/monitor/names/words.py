"""Scripts and words: which scripts write words without spaces, and word characters."""

from __future__ import annotations

import re

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


# vowels of the Latin, Cyrillic and Georgian alphabets (case endings, transliteration)
_VOWELS = set("aeiouаеиоуыэюяәөұүіეიოუა")
