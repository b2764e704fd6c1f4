"""Ordinary words: whether a spelling generated for a name in another script is a common word
of that script's languages, or a case form of one ("Kari" -> კარი 'door', კარის 'of the
door'; "Volna" -> волна 'wave'; "Alma" -> алма 'apple', Алматы).

The word lists are ours, shipped in the package (`common/{ka,ru,uk,kk,en}.txt`: frequent
short words, base forms, lower case). A word of a list takes the case endings the matcher
accepts for a name of its script (`monitor.names.pattern`), so a found form is ordinary when
it is a list word's stem followed by one of that word's endings; Cyrillic words of three
letters, which the matcher never inflects, take the noun endings too (мир -> мира).
The lists are read once per process, on the first question.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from monitor.names.fold import fold
from monitor.names.pattern import _CYR_NOUN, _word_forms
from monitor.names.words import script_of

# list -> the script its words are written in, and the language's name in explanations
LISTS = {"ka": ("georgian", "Georgian"), "ru": ("cyrillic", "Russian"),
         "uk": ("cyrillic", "Ukrainian"), "kk": ("cyrillic", "Kazakh"),
         "en": ("latin", "English")}

_Entry = tuple[frozenset[str], str, str]  # endings, the word, its language's name


def ordinary_word(text: str) -> tuple[str, str] | None:
    """(the word, its language) when `text` (one word, folded) is an ordinary word of the
    languages of its script, or a case form of one: "კარის" -> ("კარი", "Georgian")."""
    index = _index(script_of(text))
    for cut in range(len(text), 0, -1):
        for endings, word, language in index.get(text[:cut], ()):
            if text[cut:] in endings:
                return word, language
    return None


def words(code: str) -> list[str]:
    """The words of one list, folded, in file order."""
    path = resources.files("monitor.names").joinpath("common", f"{code}.txt")
    out: dict[str, None] = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out[fold(line)[0]] = None
    return list(out)


@cache
def _index(script: str) -> dict[str, list[_Entry]]:
    """Stem -> the list words of a script that have it, with their endings."""
    index: dict[str, list[_Entry]] = {}
    for code, (of_script, language) in LISTS.items():
        if of_script != script:
            continue
        for word in words(code):
            stem, endings = _word_forms(word, acronym=False, last=True)
            forms = set(endings) or {""}
            if script == "cyrillic" and len(word) == 3:
                forms |= set(_CYR_NOUN)
            index.setdefault(stem, []).append((frozenset(forms), word, language))
    return index
