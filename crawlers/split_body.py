"""The rest of an article body that advertisements split into several containers.

Sites cut their article text into pieces to place advertisements, figures and "read more"
boxes between them:

    <div class="article-body"><p>…</p><p>…</p></div>
    <div class="ad">Advertisement</div>
    <div class="article-body"><p>…</p></div>

trafilatura takes one container (the first that looks like a body, or readability's pick when
that is more than twice as long): the rest of the article is lost, with every name in it (a
page kept 3.5 KB of an 8 KB article). `take_in_split_parts` finds in the page the container
whose text trafilatura returned and takes in, in document order, the text of

1. its siblings of the same kind (same tag and class, or same id but for its digits),
   wherever they are among the container's siblings, when they read as article text: not
   mostly links, no headline of their own (the next story of an endless page), no headline
   linking elsewhere (related stories, teasers), not mostly furniture inside (a comment
   thread in a container of the body's class);
2. other siblings (or runs of bare paragraphs) right beside the container, with only
   advertisements, figures, scripts, asides or short blocks between, when they are plainly
   article text: three paragraphs or more, hardly a link, and a third of what was extracted
   or more.

Blocks named as furniture (comments, related, sidebar, newsletter, share, author, …) are
never taken. A container alone in its wrapper is looked at from the wrapper too (up to three
levels), so wrapped pieces are found; there only wrappers of the container's own kind count
(a grid row like the article's row holds something else). The text of what is taken is
trafilatura's own, from each part alone, so boilerplate inside stays out as in the first.
Cost: the page is parsed once for trafilatura and this pass; the pass walks the page's
paragraphs (about 0.35 ms a page of bench/crawl.py's site, on which trafilatura takes 3.4 ms),
and extracts each part taken (about 1 ms each, on split pages only).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from copy import deepcopy
from functools import partial

from lxml.etree import tostring
from lxml.html import HtmlElement
from lxml.html import fromstring as html_fromstring

# elements whose whole text may be a paragraph of trafilatura's output
_LINE_TAGS = ("p", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "dd")
# paragraphs this long are distinctive enough to find the container they came from
_MIN_LINE = 30
_PROBE_WORDS = 12
# text-flow siblings that form one candidate when they stand bare beside the container
_FLOW_TAGS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre"})
# never article text, whatever their size
_NEVER = frozenset({"script", "style", "noscript", "template", "iframe", "ins", "aside", "nav",
                    "footer", "header", "form", "button", "figure", "img", "picture", "video",
                    "audio", "svg", "object", "embed", "hr", "br", "menu", "dialog", "select",
                    "input", "textarea", "label"})
# a block with no more text than this (characters but spaces) between two parts is an
# interruption, not an ending
_SHORT = 200
# class / id words naming furniture (whole words of the attribute, split at - _ and case)
_FURNITURE = frozenset({
    "ad", "ads", "adv", "advert", "adverts", "advertisement", "advertising", "adslot",
    "adunit", "dfp", "gpt", "banner", "sponsor", "sponsored", "promo", "promotion", "taboola",
    "outbrain", "comment", "comments", "disqus", "respond", "reply", "replies", "related",
    "recommended", "recommendations", "trending", "popular", "mostread", "sidebar", "widget",
    "share", "sharing", "social", "newsletter", "subscribe", "subscription", "signup",
    "nav", "navigation", "menu", "breadcrumb", "breadcrumbs", "footer", "tags",
    "author", "byline", "bio", "teaser", "teasers", "cookie", "consent", "modal", "popup",
})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_DIGITS = re.compile(r"\d+")


def take_in_split_parts(tree: HtmlElement, text: str) -> str:
    """`text` (trafilatura's main text of the page `tree`) with the parts of a split body
    it left out added in document order; `text` itself when there are none. `tree` is the
    parsed page, not changed."""
    whole = _norm(text)
    anchor = _container(tree, whole)
    if anchor is None or anchor.tag in ("body", "html"):
        return text  # not found, or the whole page: nothing beside it to take in
    before: list[list[HtmlElement]] = []
    after: list[list[HtmlElement]] = []
    level, length = anchor, _text_length(anchor)
    for _ in range(3):
        earlier, later = _parts_beside(level, anchor, _solid_length(whole))
        before[:0], after[len(after):] = earlier, later
        parent = level.getparent()
        if parent is None or parent.tag in ("body", "html"):
            break
        # climb only out of a bare wrapper: a parent with text of its own beside this level
        # holds the siblings already looked at
        level, wider = parent, _text_length(parent)
        if wider > 1.2 * length + 20:
            break
        length = wider
    # a part trafilatura took after all (its fallbacks read the whole page) is not repeated
    before = [unit for unit in before if not _already_in(unit, whole)]
    after = [unit for unit in after if not _already_in(unit, whole)]
    if not before and not after:
        return text
    head = [_new_lines(_text_of(unit), whole) for unit in before]
    tail = [_new_lines(_text_of(unit), whole) for unit in after]
    return "\n".join(filter(None, [*head, text, *tail]))


def _container(tree: HtmlElement, whole: str) -> HtmlElement | None:
    """The deepest element holding most (4/5) of the extracted text `whole` (spaces
    collapsed), found by the paragraphs whose text is in it; None when too little is."""
    weight: dict[HtmlElement, int] = defaultdict(int)
    found = 0
    for element in tree.iter(*_LINE_TAGS):
        line = tostring(element, method="text", encoding="unicode", with_tail=False)
        if len(line) < _MIN_LINE:
            continue
        # its first dozen words (all of a Chinese paragraph) tell where it is: normalising
        # every paragraph whole would cost more than the rest of this pass
        probe = " ".join(line.split(None, _PROBE_WORDS)[:_PROBE_WORDS])
        if len(probe) >= _MIN_LINE and probe in whole:
            size = _solid_length(line)
            found += size
            for ancestor in element.iterancestors():
                weight[ancestor] += size
    if found < 0.3 * _solid_length(whole):
        return None  # trafilatura's text is not (mostly) the page's paragraphs
    holding = [element for element, held in weight.items() if held >= 0.8 * found]
    return max(holding, key=_depth, default=None)


def _parts_beside(level: HtmlElement, anchor: HtmlElement,
                  extracted: int) -> tuple[list[list[HtmlElement]], list[list[HtmlElement]]]:
    """The parts of the body before and after `level` (the container `anchor`, or a bare
    wrapper of it) among its siblings, each a container or a run of bare paragraphs."""
    parent = level.getparent()
    if parent is None:
        return [], []
    siblings = [child for child in parent if isinstance(child.tag, str)]
    at = siblings.index(level)
    # a wrapper's like must wrap the container's like: <div class="row"> alone says little
    inner = _kind(anchor) if level is not anchor else None
    scan = partial(_scan, kind=_kind(level), inner=inner, extracted=extracted,
                   others=level is anchor)
    return scan(reversed(list(_units(siblings[:at]))))[::-1], scan(_units(siblings[at + 1:]))


def _scan(units: Iterable[list[HtmlElement]], *, kind: tuple[str, str] | None,
          inner: tuple[str, str] | None, extracted: int,
          others: bool) -> list[list[HtmlElement]]:
    """Walking away from the container: its kind wherever found until another story begins;
    other article text (`others`: beside the container itself, not beside a wrapper) only
    while nothing but interruptions stands between."""
    taken: list[list[HtmlElement]] = []
    adjacent = others
    for unit in units:
        first = unit[0]
        if any(_starts_a_story(element) for element in unit):
            break
        if kind is not None and len(unit) == 1 and _kind(first) == kind:
            if ((inner is None or _holds_kind(first, inner))
                    and _reads_as_text(first, links=0.4, paragraphs=1, chars=40)):
                taken.append(unit)
            continue
        if _is_interruption(unit):
            continue
        if (adjacent and not _furniture(first) and _plain_text(unit)
                and _text_length(*unit) >= extracted / 3):
            taken.append(unit)
            continue
        adjacent = False  # a substantial block of something else: only the kind goes on
    return taken


def _holds_kind(element: HtmlElement, kind: tuple[str, str]) -> bool:
    return any(_kind(inside) == kind for inside in element.iter(kind[0]))


def _units(siblings: Iterable[HtmlElement]) -> Iterator[list[HtmlElement]]:
    """Siblings one by one, but runs of bare paragraphs (and headings, lists) as one."""
    run: list[HtmlElement] = []
    for element in siblings:
        if element.tag in _FLOW_TAGS and not element.get("class"):
            run.append(element)
            continue
        if run:
            yield run
            run = []
        yield [element]
    if run:
        yield run


def _kind(element: HtmlElement) -> tuple[str, str] | None:
    """What makes two containers the same kind: the tag and class words (digits and BEM
    modifiers aside), else the tag and the id with its digits blanked; None without either."""
    words = sorted({_DIGITS.sub("#", word) for word in (element.get("class") or "").split()
                    if "--" not in word})
    if words:
        return element.tag, " ".join(words)
    identity = element.get("id")
    if identity:
        return element.tag, "#" + _DIGITS.sub("#", identity)
    return None


def _starts_a_story(element: HtmlElement) -> bool:
    """An element of another story: an <article> of its own, or a headline (h1)."""
    return next(element.iter("article", "h1"), None) is not None


def _is_interruption(unit: list[HtmlElement]) -> bool:
    """Advertisements, figures, scripts, asides, furniture and short blocks: what may stand
    between two parts of a body."""
    first = unit[0]
    if len(unit) == 1 and (first.tag in _NEVER or _furniture(first)):
        return _text_length(first) <= 4 * _SHORT or first.tag in _NEVER
    return _text_length(*unit) <= _SHORT


def _furniture_length(element: HtmlElement) -> int:
    """Text inside furniture-named descendants (the outermost ones)."""
    total, inside = 0, list(element)
    while inside:
        child = inside.pop()
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction
        if _furniture(child):
            total += _text_length(child)
        else:
            inside.extend(child)
    return total


def _furniture(element: HtmlElement) -> bool:
    names = " ".join(filter(None, (element.get("class"), element.get("id"),
                                   element.get("role"), element.get("data-component"))))
    return any(word.lower() in _FURNITURE for word in _WORDS.findall(names))


def _plain_text(unit: list[HtmlElement]) -> bool:
    """Plainly article text: three paragraphs or more, hardly a link."""
    return all(_reads_as_text(element, links=0.15, paragraphs=0, chars=0) for element in unit) \
        and sum(_paragraphs(element) for element in unit) >= 3


def _reads_as_text(element: HtmlElement, *, links: float, paragraphs: int, chars: int) -> bool:
    """Text rather than links: at most `links` of its text in links, `paragraphs` of 25
    characters or more, `chars` of text, and no headline that links elsewhere (a teaser)."""
    total = _text_length(element)
    if total < chars or total == 0:
        return False
    linked = sum(_text_length(a) for a in element.iter("a"))
    if linked > links * total or _paragraphs(element) < paragraphs:
        return False
    # furniture inside (a comment thread, a related box) holding most of it
    if _furniture_length(element) > total / 2:
        return False
    return not any(not (link.get("href") or "#").startswith("#")
                   for heading in element.iter("h2", "h3", "h4", "h5", "h6")
                   for link in heading.iter("a"))


def _paragraphs(element: HtmlElement) -> int:
    if element.tag == "p":
        return int(len(_norm(element.text_content())) >= 25)
    return sum(len(_norm(p.text_content())) >= 25 for p in element.iter("p"))


def _text_of(elements: list[HtmlElement]) -> str:
    """trafilatura's text of one part (a container, or a run of paragraphs) alone: each
    part on its own, as trafilatura would take only the first of several alike."""
    from trafilatura import bare_extraction

    page = html_fromstring("<html><body><article></article></body></html>")
    article = page.find(".//article")
    for element in elements:
        part = deepcopy(element)
        part.tail = None
        article.append(part)
    document = bare_extraction(page, fast=True, with_metadata=False, include_comments=False,
                               include_tables=True)
    return (getattr(document, "text", None) or "") if document is not None else ""


def _already_in(unit: list[HtmlElement], whole: str) -> bool:
    """Most (4/5) of the part's paragraphs are in the extracted text already."""
    lines = [_norm(tostring(element, method="text", encoding="unicode", with_tail=False))
             for top in unit for element in top.iter(*_LINE_TAGS)]
    total = sum(len(line) for line in lines)
    return total > 0 and sum(len(line) for line in lines if line in whole) >= 0.8 * total


def _new_lines(text: str, whole: str) -> str:
    """`text` without the lines trafilatura's extraction (`whole`) has already."""
    return "\n".join(line for line in text.splitlines()
                     if len(_norm(line)) < _MIN_LINE or _norm(line) not in whole)


def _text_length(*elements: HtmlElement) -> int:
    """Characters of text but spaces (cheap on a whole page: one serialisation in C),
    scripts and styles left out."""
    total = 0
    for element in elements:
        total += _solid(element)
        total -= sum(_solid(hidden) for hidden in element.iter("script", "style"))
    return max(total, 0)


def _solid(element: HtmlElement) -> int:
    return _solid_length(tostring(element, method="text", encoding="unicode", with_tail=False))


def _solid_length(text: str) -> int:
    """Characters but spaces and line ends (an HTML source's indentation)."""
    return len(text) - text.count(" ") - text.count("\n")


def _depth(element: HtmlElement) -> int:
    return sum(1 for _ in element.iterancestors())


def _norm(text: str) -> str:
    return " ".join(text.split())

