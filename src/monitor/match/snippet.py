"""The text around a finding, on one line, cut at word boundaries."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s")


_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def _snippet(text: str, start: int, end: int, chars: int) -> tuple[str, int, int]:
    """About `chars` characters of whole words around text[start:end], on one line, with
    where the found text sits in it."""
    half = max(10, (chars - (end - start)) // 2)
    s_start = max(0, start - half)
    s_end = min(len(text), end + half)
    # widen to whole words (by up to 15 characters) so the snippet does not start or end
    # mid-word
    left = max(0, start - half - 15)
    if s_start > left:
        space = _LAST_SPACE.search(text, left, s_start)
        s_start = space.end() if space else left
    right = min(len(text), end + half + 15)
    if s_end < right:
        space = _SPACE.search(text, s_end, right)
        s_end = space.start() if space else right
    prefix = "…" if s_start > 0 else ""
    suffix = "…" if s_end < len(text) else ""
    before = _one_line(text[s_start:start], strip="left")
    after = _one_line(text[end:s_end], strip="right")
    found = text[start:end]
    snippet = f"{prefix}{before}{found}{after}{suffix}"
    return snippet, len(prefix) + len(before), len(prefix) + len(before) + len(found)


def _one_line(text: str, strip: str) -> str:
    """Snippet context on one line: runs of whitespace become one space."""
    collapsed = " ".join(text.split())
    if text[:1].isspace() and strip != "left":
        collapsed = " " + collapsed
    if text[-1:].isspace() and strip != "right" and collapsed:
        collapsed += " "
    return collapsed
