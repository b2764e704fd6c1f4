"""monitor.match: whole-word, Unicode-folded matching of aliases and keywords in five
languages, with offsets into the original text and highlighted snippets. The cases live in
tests/cases/match.yaml; their keys are the test ids."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Watch
from monitor.match import Matcher, fold
from monitor.models import Item, Match

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "match.yaml").read_text("utf-8")
)
WATCHES = tuple(Watch(**w) for w in CASES["watches"])


def params(table: dict[str, dict[str, Any]]) -> list[Any]:
    """One pytest param per case, id = the case's key; `xfail: reason` marks a known gap."""
    out = []
    for name, case in table.items():
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
        out.append(pytest.param(case, id=name, marks=marks))
    return out


def run(case: dict[str, Any]) -> list[Match]:
    watches = tuple(Watch(**w) for w in case["watches"]) if "watches" in case else WATCHES
    matches = Matcher(watches).match_text(case.get("field", "body"), case["text"],
                                          language=case.get("language"))
    return sorted(matches, key=lambda m: (m.start, m.start - m.end, m.watch))


def test_match_cases_precision_and_recall() -> None:
    """Over the whole case table (xfails included): an expected match found is a true
    positive, an expected one missing a false negative, anything else found (the table's
    known `false_positive` matches included) a false positive. The bar is 0.97 on both."""
    tp = fp = fn = 0
    for case in CASES["cases"].values():
        found = [(m.watch, m.found) for m in run(case)]
        right = [(e["watch"], e["found"]) for e in case["expected"] if "false_positive" not in e]
        for pair in right:
            if pair in found:
                found.remove(pair)
                tp += 1
            else:
                fn += 1
        fp += len(found)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"{len(CASES['cases'])} cases: precision {precision:.3f}, recall {recall:.3f} "
          f"(tp {tp}, fp {fp}, fn {fn})")
    assert len(CASES["cases"]) >= 150
    assert precision >= 0.97 and recall >= 0.97, (precision, recall)


def check_offsets(match: Match, text: str) -> None:
    assert text[match.start : match.end] == match.found
    assert match.snippet[match.snippet_start : match.snippet_end] == match.found


@pytest.mark.parametrize("case", params(CASES["cases"]))
def test_match(case: dict[str, Any]) -> None:
    matches = run(case)
    assert [(m.watch, m.found) for m in matches] == [
        (e["watch"], e["found"]) for e in case["expected"]
    ]
    for match, expected in zip(matches, case["expected"], strict=True):
        check_offsets(match, case["text"])
        assert match.field == case.get("field", "body")
        if "term" in expected:
            assert match.term == expected["term"]
        if "kind" in expected:
            assert match.term_kind == expected["kind"]
    if not case["expected"]:
        assert case.get("reason"), "a no-match case says why"


# -- Matcher.match over an item ----------------------------------------------------------------


def item(title: str, text: str) -> Item:
    return Item(
        source="demo_news",
        key="k",
        url="https://news.example/a.html",
        title=title,
        text=text,
        published_at=None,
        content_hash="h",
    )


def test_match_item_reads_title_then_body() -> None:
    matches = Matcher(WATCHES).match(
        item("Hikvision wins Batumi tender", "The cameras are made by Hikvision and Dahua.")
    )
    assert [(m.field, m.watch, m.found) for m in matches] == [
        ("title", "Hikvision", "Hikvision"),
        ("body", "Hikvision", "Hikvision"),
        ("body", "Dahua", "Dahua"),
    ]


def test_match_item_with_empty_fields() -> None:
    assert Matcher(WATCHES).match(item("", "")) == []


def test_match_name_is_an_alias_unless_match_name_is_false() -> None:
    text = "Anaklia port and Belt and Road"
    named = Matcher([Watch(name="Anaklia port", keywords=["Belt and Road"])])
    assert [(m.found, m.term_kind) for m in named.match_text("body", text)] == [
        ("Anaklia port", "alias"),
        ("Belt and Road", "keyword"),
    ]
    unnamed = Matcher([Watch(name="Anaklia port", match_name=False, keywords=["Belt and Road"])])
    assert [m.found for m in unnamed.match_text("body", text)] == ["Belt and Road"]


def test_repeated_alias_is_one_term() -> None:
    matcher = Matcher([Watch(name="ZTE", aliases=["ZTE", "zte", " ZTE "])])
    assert len(matcher.match_text("body", "ZTE radios")) == 1


def test_alias_with_extra_spaces_in_config_still_matches() -> None:
    matcher = Matcher([Watch(name="China Railway", aliases=["China   Railway  Group"])])
    [match] = matcher.match_text("body", "China Railway Group won")
    assert match.found == "China Railway Group"


def test_same_alias_in_two_watches_is_reported_for_each() -> None:
    matcher = Matcher([Watch(name="Huawei"), Watch(name="Telecom vendors", aliases=["Huawei"])])
    assert sorted(m.watch for m in matcher.match_text("body", "Huawei")) == [
        "Huawei",
        "Telecom vendors",
    ]


# -- snippets ----------------------------------------------------------------------------------

LONG = (
    "The Revenue Service has signed a contract worth 9.4 million GEL for six vehicle X-ray "
    "scanners to be installed at the Sarpi and Kazbegi border crossings, according to "
    "documents published on the state procurement portal.\n\nThe supplier is Nuctech "
    "Company Ltd, the Beijing-based maker of security-screening equipment whose scanners are "
    "already in use at the Poti and Batumi seaports. The tender drew two bids; the second "
    "bidder was disqualified for failing to submit a bank guarantee."
)


@pytest.mark.parametrize("chars", [20, 60, 120, 300])
def test_snippet_is_whole_words_around_the_match(chars: int) -> None:
    [match] = Matcher(WATCHES, snippet_chars=chars).match_text("body", LONG)
    check_offsets(match, LONG)
    inner = match.snippet.removeprefix("…").removesuffix("…")
    # whole words of the text, on one line, about as long as asked
    assert set(inner.split()) <= set(LONG.split())
    assert inner.strip() == inner
    assert "\n" not in match.snippet
    assert len(match.snippet) <= max(chars, len(match.found) + 20) + 40
    assert match.snippet.startswith("…") == (not LONG.startswith(inner))
    assert match.snippet.endswith("…") == (not LONG.endswith(inner))


def test_snippet_of_a_short_text_is_the_text() -> None:
    [match] = Matcher(WATCHES).match_text("title", "Nuctech wins")
    assert (match.snippet, match.snippet_start, match.snippet_end) == ("Nuctech wins", 0, 7)


def test_snippet_offsets_after_text_that_folds_longer() -> None:
    text = "ﬁ " * 80 + "Straße … Nuctech … " + "ﬂ " * 80
    [match] = Matcher(WATCHES, snippet_chars=40).match_text("body", text)
    check_offsets(match, text)


# -- fold ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("NUCTECH", "nuctech"),
        ("Ёлкин", "елкин"),
        ("«Хуавей» — „ჰუავეი“", '"хуавей" - "ჰუავეი"'),
        ("Ｎｕｃｔｅｃｈ", "nuctech"),
        ("line\nbreak\ttab", "line break tab"),
        ("ЦИФРЛЫҚ", "цифрлық"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text)[0] == folded


def test_fold_maps_every_folded_character_back_when_length_changes() -> None:
    text = "Straße ﬁ Nuctech"
    folded, starts, ends = fold(text)
    assert starts is not None and ends is not None
    assert len(starts) == len(ends) == len(folded)
    assert folded[starts.index(text.index("N")) :].startswith("nuctech")
    # "ß" folds to "ss": both characters point back at the one original character
    at = text.index("ß")
    assert [i for i, s in enumerate(starts) if s == at] == [4, 5]
    assert ends[4] == ends[5] == at + 1


def test_fold_agrees_with_folding_one_character_at_a_time() -> None:
    """fold() folds the runs between characters that change length (№, ß, ﬁ, и + ◌̆) in one
    call: the same as folding every character (with its combining marks) on its own."""
    import random
    import unicodedata

    from monitor.names.fold import _fold_chars

    def one_at_a_time(text: str) -> tuple[str, list[int], list[int]]:
        out, starts, ends, i = [], [], [], 0
        while i < len(text):
            j = i + 1
            while j < len(text) and unicodedata.combining(text[j]):
                j += 1
            piece = _fold_chars(text[i:j])
            out.append(piece)
            starts += [i] * len(piece)
            ends += [j] * len(piece)
            i = j
        return "".join(out), starts, ends

    rng = random.Random(1)
    odd = [*"ßﬁ№…½Ｎ，\u0306\u0301\u0308ᄀ가\u1161\u11a8ㅏ\u0f73\u0f71İΐ", "😀", "\U0001d400"]
    plain = [*"abc XYZ.,-«»\n\tхуавейКИЁ ნუქტექი 华为"]
    for _ in range(3000):
        text = "".join(rng.choice(odd) if rng.random() < 0.2 else rng.choice(plain)
                       for _ in range(rng.randint(1, 30)))
        folded, starts, ends = fold(text)
        if starts is None:
            assert folded == one_at_a_time(text)[0]
        else:
            assert (folded, starts, ends) == one_at_a_time(text), repr(text)


def test_fold_keeps_combining_marks_with_their_base() -> None:
    text = "Хуавеи\u0306 builds"
    folded, starts, ends = fold(text)
    assert folded.startswith("хуавей ")
    assert starts is not None and ends is not None
    assert ends[5] == 7  # the folded й covers и and its combining breve


# -- explain -------------------------------------------------------------------------------------


def test_explain_gives_every_watch_its_kept_and_rejected_hits() -> None:
    matcher = Matcher([
        Watch(name="ZTE"),
        Watch(name="Huawei", exclude=["Huawei P40"]),
        Watch(name="CEFC", aliases=[{"text": "CEFC", "needs_context": True}]),
        Watch(name="Nuctech", languages=["ka"]),
    ])
    report = {e.watch: e for e in matcher.explain(
        Item(source="s", key="k", url="https://x.example/", title="AZTEC gold and ZTE radios",
             text="Huawei P40 review. CEFC exam. Nuctech scanners.", published_at=None,
             content_hash="h", language="en"))}
    assert list(report) == ["ZTE", "Huawei", "CEFC", "Nuctech"]
    assert [m.found for m in report["ZTE"].matches] == ["ZTE"]
    assert [(r.found, r.reason) for r in report["ZTE"].rejected] == [
        ("AZTEC", "not the whole word: 'AZTEC'")]
    assert not report["Huawei"].matched
    assert report["Huawei"].rejected[0].reason == "excluded by 'Huawei P40'"
    assert report["CEFC"].rejected[0].reason.startswith("context missing")
    assert "language 'en'" in report["Nuctech"].rejected[0].reason


def test_explain_names_the_longer_match_that_won() -> None:
    [explanation] = Matcher([Watch(name="China Railway", aliases=["China Railway Group"])]
                            ).explain(item("", "China Railway Group won"))
    assert [m.found for m in explanation.matches] == ["China Railway Group"]
    assert explanation.rejected[0].reason == "inside the longer match of 'China Railway Group'"


def test_explain_names_the_chinese_words_a_hit_straddles() -> None:
    [huawei] = [e for e in Matcher(WATCHES).explain(item("", "王建华为了公司的发展"))
                if e.watch == "Huawei"]
    assert not huawei.matched
    assert [(r.found, r.reason) for r in huawei.rejected] == [
        ("华为", "across the words '王建华' and '为了' (Chinese word boundaries: "
                 "王建华/为了/公司)")]


def test_chinese_words_off_takes_a_chinese_hit_anywhere() -> None:
    text = "王建华为了公司的发展"
    assert Matcher(WATCHES).match_text("body", text) == []
    assert [m.found for m in Matcher(WATCHES, chinese_words=False).match_text("body", text)
            ] == ["华为"]


def test_jieba_loads_on_the_first_chinese_hit_quietly() -> None:
    """Not at import, not for text without a Chinese hit, and nothing on stderr or in the
    temporary directory (jieba's own loader logs and writes a cache file there)."""
    import subprocess
    import sys
    import tempfile

    script = (
        "import sys\n"
        "from monitor.config import Watch\n"
        "from monitor.match import Matcher\n"
        "m = Matcher([Watch(name='Huawei', aliases=['华为'])])\n"
        "m.match_text('body', 'Huawei and Хуавей, 华为。')\n"
        "print('jieba' in sys.modules)\n"
        "print([x.found for x in m.match_text('body', '王建华为了公司，美国对华为实施制裁')])\n"
        "print('jieba' in sys.modules)\n"
    )
    before = set(Path(tempfile.gettempdir()).glob("jieba*"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.split("\n")[:3] == ["False", "['华为']", "True"]
    assert done.stderr == ""
    assert set(Path(tempfile.gettempdir()).glob("jieba*")) == before


def test_explain_says_a_generated_spelling_is_an_ordinary_word() -> None:
    matcher = Matcher([Watch(name="Kari", transliterate=True),
                       Watch(name="Mira", transliterate=True)])
    report = {e.watch: e for e in matcher.explain(item("", "კარი ღიაა. Во имя мира."))}
    assert not report["Kari"].matched and not report["Mira"].matched
    assert [(r.found, r.variant, r.reason) for r in report["Kari"].rejected] == [
        ("კარი", "კარი", "generated variant 'კარი' is an ordinary Georgian word; counted only "
                        "with another mention of the watch or its context")]
    assert [(r.found, r.reason) for r in report["Mira"].rejected] == [
        ("мира", "generated variant 'мира' is a form of the ordinary Russian word 'мир'; "
                 "counted only with another mention of the watch or its context")]


def test_ordinary_word_lists_ship_in_the_package() -> None:
    """Each list is there, of a few hundred words, lower case, one word a line, in its
    script; and a word of it is found in its case forms."""
    from monitor.names import ordinary_word, script_of
    from monitor.names.ordinary import LISTS, words

    for code, (script, _) in LISTS.items():
        listed = words(code)
        assert len(listed) >= 300, code
        assert all(w == w.lower() and " " not in w for w in listed), code
        assert sum(script_of(w) == script for w in listed) >= 0.95 * len(listed), code
    assert ordinary_word("ქარმა") == ("ქარი", "Georgian")
    assert ordinary_word("волны") == ("волна", "Russian")
    assert ordinary_word("алманы") == ("алма", "Kazakh")
    assert ordinary_word("most") == ("most", "English")
    assert ordinary_word("нуктек") is None


def test_match_records_variant_and_via() -> None:
    matcher = Matcher([Watch(name="Nuctech", transliterate=True,
                             related=[{"name": "Tsinghua Tongfang", "relation": "parent"}])])
    found = {m.found: (m.term, m.variant, m.via)
             for m in matcher.match_text("body", "Нуктек and Tsinghua Tongfang")}
    assert found == {"Нуктек": ("Nuctech", "нуктек", None),
                     "Tsinghua Tongfang": ("Tsinghua Tongfang", None, "Tsinghua Tongfang")}


def test_match_fields_reads_any_named_fields() -> None:
    matcher = Matcher(WATCHES)
    matches = matcher.match_fields({"buyer": "Revenue Service", "winner": "NUCTECH CO., LTD"})
    assert [(m.field, m.found) for m in matches] == [("winner", "NUCTECH CO., LTD")]


def test_text_with_ligatures_and_full_width_punctuation_keeps_offsets() -> None:
    text = "ﬁnal：华为，Ｈｕａｗｅｉ and Хуавея"
    matches = Matcher(WATCHES).match_text("body", text)
    assert [m.found for m in matches] == ["华为", "Ｈｕａｗｅｉ", "Хуавея"]
    for m in matches:
        check_offsets(m, text)


# -- the fast ways of folding agree with fold() -------------------------------------------------

TRICKY = [
    "The supplier is Nuctech’s “subsidiary” — Nuctech Co.—Ltd… said NUCTECH\u2009CO.,\u2009LTD",
    "Škoda Transportation and ŠKODA TRANSPORTATION; Société Générale, SOCIÉTÉ GÉNÉRALE",
    "Łódź Tech (ŁÓDŹ TECH) and İş Bankası, IŞ BANKASI; Straße Bau, STRASSE BAU",
    "Łódź Tech and ŁÓDŹ TECH won; Škoda’s bid",
    "Банк Société Générale и SOCIÉTÉ GÉNÉRALE, Škoda в Москве",
    "Заявление Ираклия Кобахидзе и «ХУАВЕЯ»; Ёлкин, ЁЛКИНЫМ, Хуавеи\u0306, № 5",
    "ΟΤΕ ΣΥΣΤΗΜΑΣ και ο ΟΤΕ Σύστημας; ᲜᲣᲥᲢᲔᲥᲘ და ნუქტექის 😀 Nuctech",
    "公司名称：ＨＵＡＷＥＩ，华为技术有限公司\U00020000；ﬁnal Nuctech²",
    "Қазақтелеком ҚАЗАҚТЕЛЕКОМНЫҢ and Ꭰ CHEROKEE, ꭰ cherokee‿x",
    # Latin text that names someone in Cyrillic (the Cyrillic codec), and in Georgian
    "The deal with «Хуавей» and ХУАВЕЕМ — Nuctech Co., Ltd and Ираклий Кобахидзе",
    "Nuctech, or ნუქტექი, and NUCTECH-ის bid: Irakli Kobakhidze",
    # characters whose low bytes in UTF-16 are those of 华为 (N: and 乎为): candidates only
    "型号N:7，乎为华为公司的，N:华为",
    # Chinese text with upper case to fold: ASCII, full-width (NFKC first), Cyrillic
    "华为与NUCTECH公司，同方威视（ＮＵＣＴＥＣＨ）及ХУАВЕЙ",
    "华为与NUCTECH公司，同方威视",
    # a credit glued to the name (a capital after a small letter), in text with ß
    "Photo: ReutersNuctech scanners at Straße Bau; ФотоХуавей",
    # № grows under NFKC and и + ◌̆ shrinks: the same length, the case read from the NFKC text
    "Лот № 5: ФотоХуавей, ООО Краи\u0306",
    # all in one ScriptCodec (Cyrillic, Georgian with Mtavruli capitals)
    "Заявление Ираклия Кобахидзе и «ХУАВЕЯ» —\xa0Ёлкин, ЁЛКИНЫМ… ҚАЗАҚТЕЛЕКОМНЫҢ; Nuctech Co., Ltd",
    "ᲜᲣᲥᲢᲔᲥᲘ და ნუქტექის —\xa0ნუქტექმა და ჩინური ნუქტექისთვის «Nuctech»… NUCTECH-ის",
]
TRICKY_WATCHES = [
    *WATCHES, Watch(name="Skoda Transportation"), Watch(name="Société Générale"),
    Watch(name="Łódź Tech"), Watch(name="İş Bankası"), Watch(name="Straße Bau"),
    Watch(name="ΟΤΕ Σύστημα"), Watch(name="Қазақтелеком"), Watch(name="Ёлкин"),
    Watch(name="Irakli Kobakhidze", aliases=["Ираклий Кобахидзе"]), Watch(name="Ꭰ Cherokee"),
]


@functools.cache
def tricky_matcher() -> Matcher:
    return Matcher(TRICKY_WATCHES)


@pytest.mark.parametrize("text", TRICKY + [case["text"] for case in CASES["cases"].values()])
def test_fast_folding_finds_what_fold_finds(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """fold_narrow (Latin-1 text, bytes.translate), the script codecs (Cyrillic, Georgian: a
    charmap and bytes.translate) and fold_wide (str.lower, accents and casefold-only letters
    found by the automaton) give the matches that the slow path through fold() gives, offsets
    and snippets included."""
    fast = tricky_matcher().match_text("body", text)
    import monitor.match.matcher
    from monitor.names import ScriptCodec

    none = ScriptCodec("")  # ASCII alone: no Cyrillic or Georgian text is in it
    monkeypatch.setattr(monitor.match.matcher, "script_codec", lambda ch: none)
    assert tricky_matcher().match_text("body", text) == fast  # through fold_wide
    monkeypatch.setattr(monitor.match.matcher, "fold_narrow", lambda text: "")
    monkeypatch.setattr(monitor.match.matcher, "fold_wide_utf16", lambda text, full=False: None)
    assert tricky_matcher().match_text("body", text) == fast


@pytest.mark.parametrize("codec", ["CYRILLIC_CODEC", "GEORGIAN_CODEC"])
def test_script_codec_folds_as_fold_wide(codec: str) -> None:
    """Each character of a script codec folds, and decodes, as fold_wide folds it; the text
    of a codec's script with its press's punctuation is in it, another script's is not."""
    import monitor.names
    from monitor.names import fold_wide

    script = getattr(monitor.names, codec)
    chars = script.decoding.rstrip("\ufffe")
    assert "\ufffe" not in chars
    for ch in chars:
        data = script.fold(ch)
        assert data is not None and script.decode(data) == fold_wide(ch)[0], hex(ord(ch))
    text = TRICKY[-2] if codec == "CYRILLIC_CODEC" else TRICKY[-1]
    folded = script.fold(text)
    assert not text[len(text) >> 1].isascii()  # the matcher takes the codec's path
    assert folded is not None and script.decode(folded) == fold_wide(text)[0]
    assert script.fold("华为") is None and script.fold(TRICKY[-2 if text == TRICKY[-1] else -1]) is None


def test_fold_wide_knows_every_cased_block() -> None:
    """fold_wide skips str.lower for text whose UTF-16 high bytes are none of _CASED_HIGH and
    whose Latin-1 letters are in lower case: no other letter that str.lower changes (but
    compatibility characters, which NFKC has changed before) is outside those blocks."""
    from monitor.names.fold import _CASED_HIGH, _COMPAT, _UNCASED_LATIN1

    for code in range(0x100, 0x10000):
        ch = chr(code)
        if not 0xD800 <= code < 0xE000 and ch.lower() != ch and not _COMPAT.match(ch):
            assert code >> 8 in _CASED_HIGH, hex(code)
    assert {c for c in range(256) if chr(c).lower() != chr(c)} == set(range(256)) - set(
        _UNCASED_LATIN1)


def test_fast_folding_markers_cover_every_character() -> None:
    """Every letter that str.lower leaves and str.casefold changes is a CASEFOLD_ONLY marker;
    every accented letter that lower or casefold leaves is an ACCENTED one (ё aside: fold_wide
    replaces it); the punctuation that fold_wide skips in its NFKC check is no _COMPAT."""
    from monitor.names.fold import _ACCENTS, _COMPAT, _PLAIN_UNNORMALISED, ACCENTED, CASEFOLD_ONLY

    assert not _COMPAT.search(_PLAIN_UNNORMALISED)
    casefold_only, accented = set(CASEFOLD_ONLY), set(ACCENTED)
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        ch = chr(code)
        lower, folded = ch.lower(), ch.casefold()
        if len(lower) == 1 and lower not in casefold_only:
            assert lower == folded, hex(code)
        for left in {lower, folded}:
            if len(left) == 1 and ord(left) in _ACCENTS and left != "ё":
                assert left in accented or left in casefold_only, hex(code)


# -- tenders ----------------------------------------------------------------------------------


def _tender_matches(watches: list[dict[str, Any]], **fields: Any) -> list[tuple[str, str, str]]:
    from monitor.match import match_tender
    from monitor.models import TenderRecord

    matcher = Matcher([Watch.model_validate(w) for w in watches])
    record = TenderRecord(source="p", native_id="T-1", **fields)
    return [(m.watch, m.field, m.found) for m in match_tender(matcher, record)]


def test_match_tender_reports_the_role_and_a_winner_not_also_as_bidder() -> None:
    from monitor.models import Organisation

    nuctech = Organisation("TOO «Nuctech Kazakhstan»", "123456789012", "KZ-BIN")
    found = _tender_matches(
        [{"name": "Nuctech"}, {"name": "Akimat", "match_name": False, "aliases": ["Акимат"]},
         {"name": "Scanners", "match_name": False, "keywords": ["досмотровый комплекс"]}],
        title="Поставка: досмотровый комплекс", buyer=Organisation("ГУ Акимат Алматы"),
        bidders=(nuctech, Organisation("ТОО Сканер")), winners=(nuctech,),
    )
    assert found == [("Scanners", "title", "досмотровый комплекс"),
                     ("Nuctech", "winner", "Nuctech"),
                     ("Akimat", "buyer", "Акимат")]


def test_match_tender_registry_ids_are_exact_and_scheme_checked() -> None:
    from monitor.models import Organisation

    watch = {"name": "Nuctech", "ids": ["GE-NAPR:404409497", "UA-EDR:41234567"]}
    spaced = Organisation("შპს ენ-ტექი", "404 409 497", "GE-NAPR")
    other_scheme = Organisation("Somebody", "41234567", "MD-IDNO")
    no_scheme = Organisation("ТОВ Хтось", "41234567")
    longer = Organisation("Another", "4044094970", "GE-NAPR")
    found = _tender_matches([watch], bidders=(spaced, other_scheme, no_scheme, longer))
    assert found == [("Nuctech", "bidder", "GE-NAPR:404 409 497"),
                     ("Nuctech", "bidder", "41234567")]
