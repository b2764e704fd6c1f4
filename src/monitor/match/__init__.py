"""Pure: find every watch in an item's fields, with the evidence, in one pass per field.

Built once per crawl: every term of every watch (aliases, keywords, registry ids, related
names, generated transliterations, and the exclusion, rule and context phrases) becomes a
literal *anchor* in an Aho-Corasick automaton, plus a regex that checks the whole term where an
anchor is found (`monitor.names.term_pattern`: words, punctuation between them, case endings,
word boundaries). Matching one field is then

    fold (one to one, offsets kept) -> one automaton pass -> verify each anchor hit
      (a Chinese one against jieba's words) -> per watch: language, case, exclusions, rule,
      context -> longest hit wins -> Match

so the cost grows with the text, not with the number of aliases. The fold and the automaton
are the cheapest the text allows (`_Scanner`: Latin text as ASCII bytes, Cyrillic and
Georgian text a byte a character through a `ScriptCodec`, other text by the low bytes of its
UTF-16, and `fold` with its offset maps when folding changes lengths). `explain(item)` runs
the same steps and also returns every hit that was dropped, with the reason.

    terms.py    what each watch looks for: anchors and whole-term patterns
    scan.py     the automata and one pass over a folded field
    segment.py  Chinese word boundaries around a Chinese hit (jieba)
    judge.py    which hits count, and why the others do not
    snippet.py  the text around a finding
    matcher.py  Matcher: the steps above, per item or per set of fields
    tender.py   tenders: names by role, registry ids

Re-matching stored items after the watch list changed reads the store: `monitor.rematch`.
"""

from monitor.match.judge import Explanation, Rejection
from monitor.match.matcher import Matcher
from monitor.match.tender import TENDER_ROLES, explain_tender, match_tender, registry_key
from monitor.names import fold

__all__ = [
    "TENDER_ROLES",
    "Explanation",
    "Matcher",
    "Rejection",
    "explain_tender",
    "fold",
    "match_tender",
    "registry_key",
]
