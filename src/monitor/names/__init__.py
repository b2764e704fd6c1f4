"""How a name can be written: folding, legal forms, case endings and transliteration.

Pure functions and tables that `monitor.match` compiles a watch list with. Nothing here scans
text; everything here decides what a term's pattern is.

- `fold`: the one normalisation of aliases and text (NFKC, case folding, ё = е, Latin
  diacritics dropped), with maps back to the original offsets when lengths change;
  `fold_narrow` / `fold_wide` / `strip_accents`: the same for text to scan, one to one and
  a few times faster (`ScriptCodec`: Cyrillic or Georgian text as a byte a character),
  with `ACCENTED` and `CASEFOLD_ONLY`, the letters the matcher's
  automaton looks for to know when a text needs more.
- `name_tokens`: an alias as folded words, legal forms (LLC, ООО, შპს, 有限公司) stripped from
  its edges.
- `term_pattern`: the regular expression a term is verified with at an automaton hit, and the
  literal anchor the automaton looks for: words joined by any punctuation or spacing, case
  endings (every word of a Cyrillic name, the last of a Georgian one, whose adjectives drop -ი
  in the oblique cases), word boundaries where the
  script has them.
- `transliterations`: Latin <-> Cyrillic <-> Georgian spellings generated for a name;
  `ordinary_word`: whether such a spelling is a common word of its script's languages (our
  word lists in common/).

    fold.py      fold, fold_narrow, fold_wide(_utf16), strip_accents, ACCENTED, CASEFOLD_ONLY,
                 ScriptCodec (CYRILLIC_CODEC, GEORGIAN_CODEC, script_codec)
    words.py     scripts, word characters
    legal.py     legal forms at name edges, name_tokens
    pattern.py   case endings, term_pattern
    translit.py  transliterations
    ordinary.py  ordinary_word, over common/{ka,ru,uk,kk,en}.txt
"""

from monitor.names.fold import (
    ACCENTED,
    CASEFOLD_ONLY,
    CYRILLIC_CODEC,
    GEORGIAN_CODEC,
    ScriptCodec,
    fold,
    fold_narrow,
    fold_wide,
    fold_wide_utf16,
    script_codec,
    strip_accents,
)
from monitor.names.legal import legal_tail, name_tokens
from monitor.names.ordinary import ordinary_word
from monitor.names.pattern import TermPattern, term_pattern
from monitor.names.translit import transliterations
from monitor.names.words import WORD, script_of, unspaced

__all__ = [
    "ACCENTED",
    "CASEFOLD_ONLY",
    "CYRILLIC_CODEC",
    "GEORGIAN_CODEC",
    "WORD",
    "ScriptCodec",
    "TermPattern",
    "fold",
    "fold_narrow",
    "fold_wide",
    "fold_wide_utf16",
    "legal_tail",
    "name_tokens",
    "ordinary_word",
    "script_codec",
    "script_of",
    "strip_accents",
    "term_pattern",
    "transliterations",
    "unspaced",
]
