"""Benchmark: the project's Matcher against a bare Aho-Corasick scan, on one generated corpus.

    .venv/bin/python bench/match.py [--aliases 5000] [--mb 50] [--seed 1] [--repeat 5]

Generates a watch list of N aliases in four scripts (a quarter each: Latin company names of one
to three words with a legal form on some, Cyrillic, Georgian, Chinese), one alias per watch,
and about `--mb` MB (UTF-8) of ~5 KB articles, each in one of the four scripts: pseudo-words of
the script with punctuation and quotes, and now and then an alias as a news text writes it
(capitalised or upper case, with a case ending in Russian, Kazakh and Georgian, in quotes,
followed by a legal form), a near miss (the alias glued into a longer word), or a name of
another script. Then, in one process:

  build     Matcher(watches): fold and compile every alias, build the automata (seconds)
  jieba     the first Chinese hit that needs word boundaries: jieba's dictionary read once per
            process, the Matcher's own copy with its Chinese aliases (seconds, MB of RSS)
  matcher   Matcher.match_text("body", article) for every article: fold, one automaton pass,
            verify each hit (boundaries, endings; a Chinese hit between Chinese characters
            against jieba's words), judge per watch, build Match objects
  no words  the same with Matcher(watches, chinese_words=False): a Chinese hit counts
            wherever it is, as before issue 16; the difference is what word boundaries cost
  bare      ahocorasick_rs.AhoCorasick(the aliases as written, DFA).find_matches_as_indexes(
            article, overlapping=True) for every article: the same engine, the same patterns,
            no normalisation, no boundaries, no Match objects

and prints MB/s of each, over the whole corpus and over its Chinese articles alone, their
ratios, the build time, and memory (the RSS the Matcher adds, most of it its automata, which
tracemalloc does not see; tracemalloc's peak for its Python objects; the process's peak RSS).
Throughput is MB of UTF-8 text / wall time, best of `--repeat` passes; the passes alternate,
so that load from other work on the machine falls on all alike.

Measured on the 2-core development machine (2026-12-04, 10 MB, best of 3, shared with other
work): see bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Sized
from pathlib import Path

import ahocorasick_rs

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))

from monitor.config import Watch  # after the path tweak, for a plain checkout
from monitor.match import Matcher

LATIN = ["ka", "lo", "ver", "tan", "mi", "ro", "sen", "dal", "bri", "gos", "ne", "pha", "tor",
         "vik", "zu", "mar", "sol", "den", "tex", "qui", "ba", "che", "lin", "ost"]
CYRILLIC = ["ка", "ло", "вер", "тан", "ми", "ро", "сен", "дал", "бри", "гос", "не", "фа", "тор",
            "вик", "зу", "мар", "сол", "ден", "тех", "кви", "ғы", "қа", "ің", "ұл", "өр", "жа"]
GEORGIAN = ["კა", "ლო", "ვერ", "ტან", "მი", "რო", "სენ", "დალ", "ბრი", "გოს", "ნე", "ფა",
            "ტორ", "ვიკ", "ზუ", "მარ", "სოლ", "დენ", "ტექ", "ქვი", "შა", "ღო", "წყა", "ჯი"]
HAN = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种"
       "面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业"
       "本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利"
       "比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文"
       "总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干")
# chance that a word of running text is a mention (or a near miss) of some alias: about one
# in three articles names someone on the list, as in a news feed filtered for a region
MENTION_RATE = 0.0005
ENDINGS = {"cyrillic": ["а", "у", "ом", "е", "ге", "мен", "дің"],
           "georgian": ["ის", "მა", "ს", "ით", "ისთვის", "ში"]}
LEGAL = ["Co., Ltd", "LLC", "Company Limited", "GmbH"]


def _word(rng: random.Random, syllables: list[str]) -> str:
    return "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))


# names are made of other syllables than the running text, as real company names mostly are;
# a quarter of the Latin names start with a common word ("Ka Zorvex"), as "China ..." does
LATIN_NAMES = ["zor", "vex", "qua", "nix", "dra", "kon", "bel", "tri", "mo", "sal", "fen", "gri"]
CYRILLIC_NAMES = ["зор", "век", "ква", "ник", "дра", "кон", "бел", "три", "мо", "сал", "фен"]
GEORGIAN_NAMES = ["ზორ", "ვექ", "კვა", "ნიკ", "დრა", "კონ", "ბელ", "ტრი", "მო", "სალ", "ფენ"]


def watch_list(count: int, seed: int) -> list[tuple[str, str]]:
    """(script, alias) pairs, a quarter per script, all different."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []

    def latin() -> str:
        words = [_word(rng, LATIN_NAMES).capitalize() + "ex" for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.25:
            words.insert(0, rng.choice(LATIN).capitalize())
        return " ".join(words)

    makers = {
        "latin": latin,
        "cyrillic": lambda: " ".join(_word(rng, CYRILLIC_NAMES).capitalize()
                                     for _ in range(rng.randint(1, 2))) + "екс",
        "georgian": lambda: _word(rng, GEORGIAN_NAMES) + "ექსი",
        "chinese": lambda: "".join(rng.choice(HAN) for _ in range(rng.randint(3, 4))),
    }
    for i in range(count):
        script = list(makers)[i % 4]
        while True:
            alias = makers[script]()
            if alias not in seen:
                seen.add(alias)
                out.append((script, alias))
                break
    return out


def _mention(rng: random.Random, script: str, alias: str) -> str:
    """An alias as a news text or a tender record writes it."""
    roll = rng.random()
    if script in ENDINGS and roll < 0.4:
        stem = alias[:-1] if script == "georgian" else alias
        return stem + rng.choice(ENDINGS[script])
    if script == "latin" and roll < 0.3:
        return f"{alias} {rng.choice(LEGAL)}"
    if roll < 0.5:
        return f"«{alias}»"
    if roll < 0.6:
        return alias.upper()
    if roll < 0.7:
        return alias + rng.choice(["ness", "ский", "ური", ""])  # near miss (or exact for zh)
    return alias


def articles(megabytes: float, aliases: list[tuple[str, str]], seed: int,
             size: int = 5000) -> list[str]:
    rng = random.Random(seed)
    by_script = {s: [a for sc, a in aliases if sc == s] for s in ("latin", "cyrillic",
                                                                  "georgian", "chinese")}
    syllables = {"latin": LATIN, "cyrillic": CYRILLIC, "georgian": GEORGIAN}
    out: list[str] = []
    total = 0
    while total < megabytes * 1_000_000:
        script = rng.choice(list(by_script))
        words: list[str] = []
        length = 0
        while length < size:
            if rng.random() < MENTION_RATE:
                other = script if rng.random() < 0.8 else rng.choice(list(by_script))
                word = _mention(rng, other, rng.choice(by_script[other]))
            elif script == "chinese":
                word = "".join(rng.choice(HAN) for _ in range(rng.randint(1, 3)))
                if rng.random() < 0.1:
                    word += rng.choice("，。、“”")
            else:
                word = _word(rng, syllables[script])
                roll = rng.random()
                if roll < 0.05:
                    word = word.capitalize()
                elif roll < 0.12:
                    word += ","
                elif roll < 0.17:
                    word += "."
                elif roll < 0.19:
                    word = f"«{word}»"
            words.append(word)
            length += len(word.encode()) + 1
        text = ("" if script == "chinese" else " ").join(words)
        out.append(text)
        total += len(text.encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aliases", type=int, default=5000)
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    aliases = watch_list(args.aliases, args.seed)
    corpus = articles(args.mb, aliases, args.seed + 1)
    megabytes = sum(len(a.encode()) for a in corpus) / 1e6
    print(f"corpus: {len(aliases)} aliases, {len(corpus)} articles, {megabytes:.1f} MB "
          f"(generated in {time.perf_counter() - t0:.1f} s)")
    watches = [Watch(name=f"watch {i}", match_name=False, aliases=[alias])
               for i, (_, alias) in enumerate(aliases)]

    gc.collect()
    rss_before = _rss()
    t0 = time.perf_counter()
    matcher = Matcher(watches)
    build = time.perf_counter() - t0
    matcher_rss = _rss() - rss_before
    # jieba's dictionary, on the first Chinese hit between Chinese characters (here: the
    # first alias of the list in a sentence; not before 的, after which a name ends a word
    # without asking)
    chinese = next(alias for script, alias in aliases if script == "chinese")
    rss_before = _rss()
    t0 = time.perf_counter()
    matcher.match_text("body", f"今年{chinese}发布")
    jieba_load = time.perf_counter() - t0
    jieba_rss = _rss() - rss_before
    plain = Matcher(watches, chinese_words=False)
    # Python objects of a second build (tracemalloc slows the build, so not the one timed)
    tracemalloc.start()
    Matcher(watches)
    build_peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    t0 = time.perf_counter()
    # the same engine as the Matcher's automata, built the same way (DFA)
    bare = ahocorasick_rs.AhoCorasick([alias for _, alias in aliases],
                                      implementation=ahocorasick_rs.Implementation.DFA)
    bare_build = time.perf_counter() - t0

    def bare_scan(text: str) -> Sized:
        return bare.find_matches_as_indexes(text, overlapping=True)

    def matcher_scan(text: str) -> Sized:
        return matcher.match_text("body", text)

    def plain_scan(text: str) -> Sized:
        return plain.match_text("body", text)

    # passes alternate, so that all see the same load on a shared machine; the best pass
    # of each counts, over the whole corpus and over its Chinese articles. The bare scan's
    # first pass also converts every str to UTF-8, which CPython then keeps in the str
    # object: its later passes skip that work.
    han = [text for text in corpus if "\u4e00" <= text[0] <= "\u9fff"]
    han_mb = sum(len(text.encode()) for text in han) / 1e6
    scans = (bare_scan, matcher_scan, plain_scan)
    best = dict.fromkeys(scans, float("inf"))
    best_han = dict.fromkeys(scans, float("inf"))
    found = dict.fromkeys(scans, 0)
    first_bare = 0.0
    for _ in range(args.repeat):
        for scan in scans:
            t = time.perf_counter()
            found[scan] = sum(len(scan(text)) for text in corpus)
            took = time.perf_counter() - t
            first_bare = first_bare or took
            best[scan] = min(best[scan], took)
            t = time.perf_counter()
            for text in han:
                scan(text)
            best_han[scan] = min(best_han[scan], time.perf_counter() - t)
    bare_rate, match_rate = megabytes / best[bare_scan], megabytes / best[matcher_scan]
    plain_rate = megabytes / best[plain_scan]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"build     Matcher {build:.2f} s, bare automaton {bare_build:.2f} s")
    print(f"memory    Matcher +{matcher_rss:.0f} MB RSS (automata, and {build_peak:.0f} MB of "
          f"Python objects by tracemalloc)")
    print(f"jieba     first Chinese hit {jieba_load:.2f} s, +{jieba_rss:.0f} MB RSS "
          f"(its dictionary once per process, and this Matcher's copy)")
    print(f"bare      {bare_rate:7.1f} MB/s  {found[bare_scan]} raw hits "
          f"(first pass, before CPython keeps each text's UTF-8: "
          f"{megabytes / first_bare:.0f} MB/s)")
    print(f"matcher   {match_rate:7.1f} MB/s  {found[matcher_scan]} matches "
          f"({found[matcher_scan] / len(corpus):.2f} per article)")
    print(f"no words  {plain_rate:7.1f} MB/s  {found[plain_scan]} matches "
          f"(chinese_words=False: Chinese hits unchecked)")
    print(f"ratio     {match_rate / bare_rate:.2f}x of the bare scan, word boundaries "
          f"{match_rate / plain_rate:.2f}x of the same pass without (best of {args.repeat} "
          f"alternating passes each)")
    rates = {scan: han_mb / best_han[scan] for scan in scans}
    print(f"chinese   {len(han)} articles, {han_mb:.1f} MB: bare {rates[bare_scan]:.1f}, "
          f"matcher {rates[matcher_scan]:.1f}, no words {rates[plain_scan]:.1f} MB/s "
          f"({rates[matcher_scan] / rates[plain_scan]:.2f}x)")
    print(f"peak RSS  {rss:.0f} MB (process, corpus included)")


def _rss() -> float:
    """Resident memory now, MB (Linux; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * resource.getpagesize() / 1e6

if __name__ == "__main__":
    main()
