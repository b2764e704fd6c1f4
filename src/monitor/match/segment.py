"""Chinese word boundaries: whether a hit of a Chinese alias is a word of the text or a piece
of other words (华为 in "王建华为了", 大华 in "十大华人"), by jieba's segmentation of the text
around the hit.

Chinese has no spaces, so the automaton's hit says nothing about words. `ChineseWords` asks
jieba, with the watch list's Chinese aliases added to its dictionary, how the few characters
around a hit divide into words, and keeps the hit when its edges are word boundaries:

- a word that straddles an edge ("王建华/为了", "十大/华人", "中华/为") rejects it;
- a dictionary word that holds the alias and more keeps it when the rest is a company's
  (华为公司, 中兴通讯) or what precedes the alias is words of their own (浙江大华), and
  rejects it otherwise ("inside the word '中远期'");
- a person's name that jieba's dictionary lacks ("刘国华为了": the dictionary's 华为 wins
  over the unknown 刘国华) is caught by a common surname two characters before the hit that
  jieba's HMM joins with them and the hit's first character into one word;
- a hit followed by a company suffix or a particle (公司, 集团, 的, 在, 与, 和, ...) counts
  whatever precedes it: "对华为的制裁" (对华 is a word, "towards China") is about Huawei.

The text around a hit is divided only when a dictionary word crosses one of its edges (or a
surname stands before it); a hit between other characters costs a few dictionary look-ups.
An alias weighs twice its dictionary frequency (or what jieba suggests for a word it lacks):
jieba's own weight loses "美国对华为的制裁" to 对华 (by a factor 1.7, measured), a larger one
starts to win over names ("马荣华为人低调").

jieba's dictionary (350,000 words) is read once per process, on the first hit that needs it
(about a second, 60 MB), never at import; every Matcher then gets its own `jieba.Tokenizer`
with a copy of it and its own aliases (15 MB, 10 ms), so watch lists never mix and jieba's
process-wide tokenizer is left alone. jieba's loader is not used: it logs to stderr and
caches the dictionary in the shared temporary directory.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

# Han characters (the unified ideographs, extension A, compatibility, the supplementary planes)
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
# characters of text on either side of a hit that jieba sees: enough for the words that touch
# the hit and their neighbours, whose choice moves the words that touch it
_REACH = 8
# after these the hit ends a word whatever comes before it: company suffixes and the particles
# and conjunctions that follow a name (the brief of issue 16)
_SUFFIXES = ("公司", "集团", "集團", "股份", "有限", "控股", "的", "在", "与", "與", "和",
             "及", "等")
# a dictionary word made of the alias and one of these is the company (华为公司, 中兴通讯);
# made of the alias and another word it is something else (中兴大学 a university, 中远期
# 'medium and long term', 大华银行 a bank)
_COMPANY = ("公司", "集团", "集團", "股份", "控股", "有限", "科技", "技术", "技術", "通讯",
            "通訊", "通信", "电子", "電子", "国际", "國際", "实业", "實業")
_BOOST = 2
# a word of two characters rarer than this may be the start of a name (马荣 7; 李宁 60,
# 汤姆 88, 方面 19,000 are not)
_RARE = 20
# the most common Chinese surnames (simplified and traditional), less those that are also
# common words before a name (和 and, 于 at, 向 towards, 时, 成, 全, 应, 明, 单, 解, 商, 华)
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍喻祁蒲房滕屈饶牟"
    "艾尤穆农卓吉缪简车项芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬师仇栾隋"
    "刁荣巫寇桑郎甄丛仲虞敖巩佘池麻苑迟邝"
    "張劉陳楊黃趙吳孫馬鄭謝許韓馮鄧蕭蔣葉蘇呂盧鍾譚陸賈韋鄒龍賀顧龔錢嚴湯聶魯嚴歐蘭"
    "紀畢裴塗駱藍鮑饒鄔邊欒隋鄺")

_lock = threading.Lock()
_shared: tuple[dict[str, int], int] | None = None


def _han(ch: str) -> bool:
    return bool(_HAN.match(ch))


def _dictionary() -> tuple[dict[str, int], int]:
    """jieba's prefix dictionary (word -> frequency, 0 for a prefix that is no word) and the
    total of the frequencies; read once per process."""
    global _shared
    with _lock:
        if _shared is None:
            jieba = _jieba()
            with resources.files("jieba").joinpath("dict.txt").open("rb") as f:
                _shared = jieba.Tokenizer.gen_pfdict(f)
        return _shared


@cache
def _jieba() -> Any:
    """jieba, imported quietly (once: catch_warnings changes process-wide state): it adds a
    handler that writes to stderr and sets its logger to DEBUG, and its helpers import
    pkg_resources, which warns on recent setuptools."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jieba
        import jieba.finalseg  # noqa: F401  (the HMM, imported here and not on a first hit)
    logger = logging.getLogger("jieba")
    logger.removeHandler(jieba.log_console)
    logger.setLevel(logging.WARNING)
    return jieba


class ChineseWords:
    """Word boundaries around hits in Chinese text, with a watch list's aliases as words."""

    def __init__(self, aliases: Iterable[str]) -> None:
        self._aliases = tuple(dict.fromkeys(a for a in aliases if a and all(map(_han, a))))
        self._tokenizer: Any = None

    def _load(self) -> Any:
        if self._tokenizer is None:
            freq, total = _dictionary()
            jieba = _jieba()
            tokenizer = jieba.Tokenizer()
            # a copy (a dict of the same keys): a ChainMap of the aliases over the shared
            # dictionary makes a check three times slower
            tokenizer.FREQ = dict(freq)
            tokenizer.total = total
            tokenizer.initialized = True  # FREQ is set: no loading, no cache file
            for alias in self._aliases:
                weight = max(freq.get(alias) or 0, tokenizer.suggest_freq(alias))
                tokenizer.add_word(alias, weight * _BOOST)
            self._tokenizer = tokenizer
        return self._tokenizer

    def problem(self, text: str, start: int, end: int) -> str | None:
        """None when text[start:end] is whole words of the text; else why not ("inside the
        word '王建华' (Chinese word boundaries: 王建华/为了/公司)")."""
        left = start > 0 and _han(text[start - 1]) and _han(text[start])
        right = end < len(text) and _han(text[end - 1]) and _han(text[end])
        if not (left or right) or (right and text.startswith(_SUFFIXES, end)):
            return None
        tokenizer = self._load()
        if not (left and (self._crossed(text, start) or text[start - 2:start - 1] in _SURNAMES)
                or right and self._crossed(text, end)):
            return None  # no dictionary word crosses an edge: no division into words can
        w_start = max(0, start - _REACH)
        window = text[w_start:min(len(text), end + _REACH)]
        spans: list[tuple[int, int, str]] = []
        at = w_start
        # the dictionary alone (HMM=False): its Viterbi pass over runs of single characters
        # costs more than the rest, and only names need it (`_unknown_name`)
        for word in tokenizer.cut(window, HMM=False):
            spans.append((at, at + len(word), word))
            at += len(word)
        inside = [s for s in spans if s[0] < end and start < s[1]]
        crossing = [w for a, b, w in inside if a < start < b or a < end < b]
        if len(inside) == 1 and crossing:  # one word holds the hit and more
            a, b, word = inside[0]
            if (a == start and word[end - a:].startswith(_COMPANY)) or (
                    b == end and self._words(word[:start - a])):
                return None
            return (f"inside the word {word!r} (Chinese word boundaries: "
                    f"{_around(spans, start, end)})")
        if crossing:
            words = " and ".join(map(repr, crossing))
            what = "inside the word" if len(crossing) == 1 else "across the words"
            return f"{what} {words} (Chinese word boundaries: {_around(spans, start, end)})"
        if left:
            return self._unknown_name(spans, text, start)
        return None

    def _crossed(self, text: str, at: int) -> bool:
        """Whether a dictionary word of the text starts before `at` and ends after it (found
        as jieba's own `get_DAG` finds words: its dictionary holds every word's prefixes)."""
        freq = self._tokenizer.FREQ
        for a in range(max(0, at - _REACH + 1), at):
            # such a word starts with text[a:at + 1], which is then in the dictionary too
            for b in range(at + 1, min(len(text), a + _REACH) + 1):
                found = freq.get(text[a:b])
                if found is None:
                    break  # not even the start of a word
                if found:
                    return True
        return False

    def _words(self, rest: str) -> bool:
        """`rest` is dictionary words of two characters or more: 浙江 in 浙江大华."""
        return all(len(w) > 1 and self._tokenizer.FREQ.get(w)
                   for w in self._tokenizer.cut(rest, HMM=False))

    def _unknown_name(self, spans: list[tuple[int, int, str]], text: str,
                      start: int) -> str | None:
        """A person's name the dictionary lacks, ending in the hit's first character
        ("刘国华为了": the dictionary gives 刘/国/华为/了): a common surname and a character
        before the hit (two single characters, or a rare word: 马荣) that jieba's HMM (what
        its `cut` runs on characters the dictionary leaves single) joins with the hit's first
        character into one word. The HMM alone joins too much ("他/说华为"), the surname
        alone too ("向华为")."""
        before = [w for a, b, w in spans if b <= start][-2:]
        if len(before) == 2 and len(before[0]) == len(before[1]) == 1:
            pair = before[0] + before[1]
        elif before and len(before[-1]) == 2 and (
                self._tokenizer.FREQ.get(before[-1]) or 0) < _RARE:
            pair = before[-1]  # 马荣, a rare word: a name in the dictionary
        else:
            return None
        if pair[0] not in _SURNAMES:
            return None
        from jieba import finalseg

        name = pair + text[start]
        if list(finalseg.cut(name)) != [name]:
            return None
        return (f"inside the name {name!r}, by a surname and jieba's HMM (Chinese word "
                f"boundaries: {_around(spans, start - 2, start + 1)})")


def _around(spans: list[tuple[int, int, str]], start: int, end: int) -> str:
    """The words that overlap a hit and one on either side, as jieba divided them."""
    at = [i for i, (a, b, _) in enumerate(spans) if a < end and start < b]
    lo, hi = max(0, at[0] - 1), min(len(spans), at[-1] + 2)
    return "/".join(w for _, _, w in spans[lo:hi] if w.strip())
