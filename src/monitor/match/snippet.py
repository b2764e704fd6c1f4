"""The text around a finding, on one line, cut at word boundaries."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s")


_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def _snippet(text: str, start: int, end: int, chars: int) -> tuple[str, int, int]:
    """About `chars` characters of whole words around text[start:end], on one line, with
    where the found text sits in it."""
    half = max(10, (chars - (end - start)) // 2)
    length = len(text)
    lo = start - half - 15
    window = text[lo if lo > 0 else 0:end + half + 15]
    if window.isprintable() and "  " not in window:
        # the usual text around a finding: single spaces its only whitespace (printable text
        # has no other), so str methods find word edges and nothing is collapsed
        return _plain_snippet(text, start, end, half, length)
    # widen to whole words (by up to 15 characters) so the snippet does not start or end
    # mid-word
    s_start = start - half
    if s_start > 0:
        left = s_start - 15 if s_start > 15 else 0
        space = _LAST_SPACE.search(text, left, s_start)
        s_start = space.end() if space else left
    else:
        s_start = 0
    s_end = end + half
    if s_end < length:
        right = min(length, s_end + 15)
        space = _SPACE.search(text, s_end, right)
        s_end = space.start() if space else right
    else:
        s_end = length
    prefix = "…" if s_start else ""
    suffix = "…" if s_end < length else ""
    before = text[s_start:start]
    after = text[end:s_end]
    # on one line: runs of whitespace become one space. Most contexts have none to change:
    # printable text has no whitespace but the space (all other is a separator or a control)
    if _uneven(before):
        before = _one_line(before, strip="left")
    else:
        before = before.lstrip(" ")
    if _uneven(after):
        after = _one_line(after, strip="right")
    elif after[:1] == " ":
        after = " " + after[1:].rstrip(" ")  # a space after the found text stays
    else:
        after = after.rstrip(" ")
    found = text[start:end]
    at = len(prefix) + len(before)
    return f"{prefix}{before}{found}{after}{suffix}", at, at + len(found)


def _plain_snippet(text: str, start: int, end: int, half: int,
                   length: int) -> tuple[str, int, int]:
    """`_snippet` where spaces are the only whitespace within reach."""
    s_start = start - half
    if s_start > 0:
        left = s_start - 15 if s_start > 15 else 0
        s_start = text.rfind(" ", left, s_start) + 1 or left
    else:
        s_start = 0
    s_end = end + half
    if s_end < length:
        right = s_end + 15 if s_end + 15 < length else length
        space = text.find(" ", s_end, right)
        s_end = right if space < 0 else space
    else:
        s_end = length
    before = text[s_start:start].lstrip(" ")
    after = text[end:s_end]
    after = " " + after[1:].rstrip(" ") if after[:1] == " " else after.rstrip(" ")
    prefix = "…" if s_start else ""
    at = len(prefix) + len(before)
    return (f"{prefix}{before}{text[start:end]}{after}{'…' if s_end < length else ''}",
            at, at + end - start)


def _uneven(text: str) -> bool:
    """Whether `text` has whitespace other than single spaces (or may have: not printable)."""
    return not text.isprintable() or "  " in text


def _one_line(text: str, strip: str) -> str:
    """Snippet context on one line: runs of whitespace become one space."""
    collapsed = " ".join(text.split())
    if text[:1].isspace() and strip != "left":
        collapsed = " " + collapsed
    if text[-1:].isspace() and strip != "right" and collapsed:
        collapsed += " "
    return collapsed
