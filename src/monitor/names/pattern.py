"""Case endings and the pattern a term is verified with at an automaton hit."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.names.legal import _acronyms, name_tokens
from monitor.names.words import _VOWELS, script_of, unspaced

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
    # Ukrainian: instrumental of surnames in -ін (Бородіним), feminine adjectives (Китайської
    # Народної, у Китайській Народній)
    "им", "ої", "ій",
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
# ... and after a consonant-final name, the possessive itself first (Қытай -> Қытайында)
_KK_POSSESSED = tuple(v + e for v in "ыі" for e in _KK_POSSESSIVE)
# Russian/Ukrainian nouns that drop their last letter: Хуавей -> Хуаве-я, корпорация ->
# корпораци-и, Роснефть -> Роснефт-и, Бидзина -> Бидзин-ой, Петро -> Петр-а (Ukrainian)
_CYR_DROP = {
    "й": ("й", "я", "ю", "ем", "е", "и", "ев", "ям", "ями", "ях", "ї", "ю", "єм", "єві"),
    "ь": ("ь", "я", "ю", "ем", "е", "и", "ей", "ью", "ям", "ями", "ях", "і", "ів"),
    "я": ("я", "и", "ю", "ей", "ею", "й", "ям", "ями", "ях", "і", "ї", "єю"),
    "а": ("а", "ы", "и", "е", "у", "ой", "ою", "ам", "ами", "ах", "і", "ою", "ої", "ій"),
    "о": ("о", "а", "у", "ом", "ові", "е", "і"),
}
_CYR_ADJ = ("ая", "яя", "ый", "ий", "ой", "ое", "ее", "ого", "его", "ому", "ему", "ым", "им",
            "ом", "ем", "ую", "юю", "ою", "ею", "ые", "ие", "ых", "их", "ыми", "ими", "а", "у",
            "ої", "ій", "ого", "ому", "ою", "і", "их", "ими")
# Georgian after a vowel-final name (ჰუავეი-ს, ჰუავეი-მ, ჰუავეი-სთვის, ჰუავეი-ში)
_KA_VOWEL = ("მ", "ს", "თ", "თი", "დ", "ც", "ვე", "ში", "ზე", "თან", "სთან", "სთვის", "თვის",
             "სგან", "გან", "სკენ", "დან", "დანაც", "მდე", "ვით", "სავით", "სა", "საც", "მაც",
             "შიც", "ზეც", "სთვისაც", "სადმი", "ები", "ების", "ებს", "ებმა", "ებით", "ებში", "ებთან",
             # an adjective made of the name: ჰუავეისეული ("Huawei's", "made by Huawei")
             "სეული")
# Georgian after a stem that drops its final -ი/-ა/-ე (ნუქტექი -> ნუქტექ-ის, ნუქტექ-მა)
_KA_STEM = ("ი", "ის", "ს", "სა", "ისადმი", "ით", "მა", "ად", "ო", "ში", "ზე", "თან",
            "ისთვის", "ისგან",
            "ისკენ", "იდან", "ამდე", "ივით", "ისა", "ისაც", "იც", "მაც", "საც", "ზეც", "შიც",
            "ები", "ების", "ებს", "ებმა", "ებით", "ებში", "ებთან", "ებზე", "ებისთვის",
            "ისეული")
# the endings before which a Georgian stem in -ელ/-ალ/-ორ/-ენ... loses that vowel
# (სარტყელი -> სარტყლის, სარტყლით, სარტყლები; but სარტყელმა, სარტყელს keep it)
_KA_SYNCOPE = ("ის", "ით", "ად", "ისა", "ისთვის", "ისგან", "იდან", "ისკენ", "ივით", "ები",
               "ების", "ებს", "ებმა", "ებით", "ებში", "ებთან", "ებზე")
_KA_CONJUNCTIONS = ("და", "ან")  # and, or
_ADJ_ENDINGS = ("ая", "яя", "ый", "ий", "ой", "ое", "ее", "ые", "ие")
# words whose stem changes as they decline, by the prefix all their forms share: the numeral
# "one" loses its и (один пояс -> одного пояса, одному поясу; Ukrainian один шлях -> одного
# шляху, однієї)
_CYR_FLEETING = {
    "один": ("од", ("ин", "ного", "ному", "ним", "ном", "на", "ной", "ною", "ну", "но", "ни",
                    "них", "ними", "нім", "нієї", "ній", "нією", "не", "ні")),
}
_MIN_INFLECTED = 4  # letters a word needs before it takes endings
# Ukrainian dative/locative of a noun in -ка/-га/-ха: Республіка -> Республіці, Ольга -> Ользі
_UK_SOFTENED = {"к": "ц", "г": "з", "х": "с"}
# letters a Georgian name ending in consonant + ი needs for its bare stem to count
_MIN_KA_BARE = 5


def _word_forms(word: str, acronym: bool, last: bool,
                compound: bool = False, in_phrase: bool = False) -> tuple[str, tuple[str, ...]]:
    """(literal prefix, endings that may follow it; () = none, the word as is) for one word of
    a term; `last` for its last word (or a Georgian word before a comma); `compound`: the
    last part of a hyphenated name (Би-би-си), which takes the endings the whole would,
    however short it is; `in_phrase`: the term has other words."""
    script = script_of(word)
    if compound and last and script == "cyrillic" and not acronym:
        return word, _ordered({""} | set(_CYR_NOUN))
    # a short Georgian noun inflects inside a phrase, where the other words anchor it
    # (ერთი გზა -> ერთი გზის); alone, გზ- would be found in many words
    short_ok = in_phrase and script == "georgian" and len(word) >= 3
    if acronym or (len(word) < _MIN_INFLECTED and not short_ok):
        return word, ()
    if script == "georgian" and last:
        suffixes = {""} | set(_KA_VOWEL)
        if word[-1] in "იაე":
            stem_endings = set(_KA_STEM)
            if word[-1] == "ი" and word[-2] not in _VOWELS and len(word) > _MIN_KA_BARE:
                # a foreign name's nominative -ი drops inside a compound name ("შპს
                # ნუქტექ ჯორჯია"): the bare stem counts when it is long enough
                stem_endings.add("")
            if (word[-1] == "ი" and len(word) > _MIN_KA_BARE + 1 and word[-2] in "ლრნმ"
                    and word[-3] in "ეაო" and word[-4] not in _VOWELS):
                # syncope: სარტყელ-ი, სარტყლ-ის (the anchor is the stem before the vowel)
                kept = {word[-1] + s for s in suffixes} | stem_endings
                return word[:-3], _ordered({word[-3:-1] + e for e in kept}
                                           | {word[-2] + e for e in _KA_SYNCOPE})
            return word[:-1], _ordered({word[-1] + s for s in suffixes} | stem_endings)
        if word[-1] in "ოუ":
            # these vowels stay: კოსკო-მ, კოსკო-ს, კოსკო-ში
            return word, _ordered(suffixes)
        return word, _ordered(set(_KA_STEM) | {""})
    if script == "georgian":
        # an adjective before the noun drops its -ი in the oblique cases ("აზიის
        # ინფრასტრუქტურულ საინვესტიციო ბანკში")
        # ("ინფრასტრუქტურულმა ... ბანკმა" in the ergative)
        if word[-1] == "ი" and word[-2] not in _VOWELS and len(word) > _MIN_KA_BARE:
            return word[:-1], ("მა", "ი", "")
        return word, ()
    if script != "cyrillic":
        return word, ()
    if word in _CYR_FLEETING:
        stem, fleeting = _CYR_FLEETING[word]
        return stem, _ordered(set(fleeting))
    if last:
        endings = set(_CYR_NOUN) | (set(_KK_POSSESSIVE) if word[-1] in "ыі" else
                                    set(_KK_POSSESSED))
    else:
        endings = set(_CYR_SINGULAR)
    stem, forms = word, {""} | endings
    # a last word keeps a stem of 4 letters (it may be the whole name, and the anchor); a
    # four-letter first name may drop to 3 (Анн-ы Петровой, Юри-я Иванова), since the
    # surname after it must follow for a hit, and so may the last word of a phrase, after
    # the words before it (один путь -> одного пути)
    if word[-1] in _CYR_DROP and len(word) > _MIN_INFLECTED - (not last or in_phrase):
        # the stem is the anchor; the full word is one of its forms (and on the last word the
        # full word takes endings too: Хуавэй-ге)
        stem = word[:-1]
        drop = set(_CYR_DROP[word[-1]])
        forms = ({word[-1] + s for s in forms} | drop) if last else (
            {word[-1]} | (drop & endings))
    if word[-1] == "а" and word[-2] in _UK_SOFTENED and len(word) > _MIN_INFLECTED + 1:
        # the stem's last consonant softens before -і: Республі-ка / Республі-ці
        stem = word[:-2]
        forms = {word[-2] + f for f in forms} | {_UK_SOFTENED[word[-2]] + "і"}
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
    # Би-би-си: its last part takes the endings of the whole (Би-би-сиге)
    compound = len(words) > 1 and bool(re.search(r"\w-\w+\W*$", text))
    pieces: list[str] = []
    rests: list[str] = []
    longest: list[int] = []
    endings: tuple[str, ...] = ()
    # a comma ends a part that inflects on its own: "ერთი სარტყელი, ერთი გზა" -> "ერთი
    # სარტყლის, ერთი გზის"
    part_ends: set[int] = set()
    count = 0
    for part in text.split(",")[:-1]:
        count += len(list(name_tokens(part, strip_legal=False)))
        part_ends.add(count - 1)
    # ... and so does a Georgian noun before "and" / "or": "სარტყელი და გზა" -> "სარტყლისა
    # და გზის"
    part_ends.update(i for i in range(len(words) - 1) if words[i + 1] in _KA_CONJUNCTIONS)
    for i, word in enumerate(words):
        last = i == len(words) - 1 or (i in part_ends and script_of(word) == "georgian")
        prefix, forms = (_word_forms(word, word in acronyms, last, compound,
                                     in_phrase=len(words) > 1)
                         if inflect else (word, ()))
        pieces.append(prefix)
        longest.append(max(map(len, forms), default=0))
        if i == len(words) - 1:
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
