"""monitor.normalise: canonical URLs, clean text, dates, byte decoding, item identity and
content hash. The cases live in tests/cases/normalise.yaml; their keys are the test ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.models import ScrapedItem
from monitor.normalise import (
    canonical_url,
    clean_text,
    content_hash,
    decode_html,
    normalise,
    parse_date,
)

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "normalise.yaml").read_text("utf-8")
)


def params(table: dict[str, dict[str, Any]]) -> list[Any]:
    """One pytest param per case, id = the case's key; `xfail: reason` marks a known bug."""
    out = []
    for name, case in table.items():
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
        out.append(pytest.param(case, id=name, marks=marks))
    return out


# -- canonical_url ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(CASES["canonical_url"]))
def test_canonical_url(case: dict[str, Any]) -> None:
    url = canonical_url(case["input"])
    if "expected" in case:
        assert url == case["expected"]
    else:
        assert url == canonical_url(case["same_as"])


@pytest.mark.parametrize(
    "case", [c for c in params(CASES["canonical_url"]) if not c.marks]
)
def test_canonical_url_is_idempotent(case: dict[str, Any]) -> None:
    once = canonical_url(case["input"])
    assert canonical_url(once) == once


# -- clean_text ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(CASES["clean_text"]))
def test_clean_text(case: dict[str, Any]) -> None:
    text = clean_text(case["input"])
    if "words" in case:
        assert text.split() == case["words"]
    else:
        assert text == case["expected"]


# -- parse_date ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(CASES["parse_date"]["cases"]))
def test_parse_date(case: dict[str, Any]) -> None:
    now_text = case.get("now", CASES["parse_date"]["now"])
    now = datetime.now(UTC) if now_text == "real" else datetime.fromisoformat(now_text)
    assert parse_date(case["input"], now=now) == case["expected"]


def test_parse_date_without_now_uses_the_clock() -> None:
    assert parse_date("2026-11-18T08:30:00+04:00") == "2026-11-18T04:30:00+00:00"
    assert parse_date("2999-01-01T00:00:00Z") is None


# -- decode_html -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(CASES["decode_html"]))
def test_decode_html(case: dict[str, Any]) -> None:
    body = case["text"].encode(case["saved_as"])
    text, encoding = decode_html(body, case.get("declared"))
    allowed = case["encoding"] if isinstance(case["encoding"], list) else [case["encoding"]]
    assert text == case.get("expected_text", case["text"])
    assert encoding in allowed


def test_decode_html_reads_the_demo_windows_1251_page() -> None:
    page = Path(__file__).parents[1] / "src" / "monitor" / "demo" / "site" / "news"
    text, encoding = decode_html((page / "mvd-cameras-ru.html").read_bytes())
    assert encoding == "cp1251"
    assert "«Хиквижн»" in text


def test_decode_html_undecodable_declared_charset_falls_through() -> None:
    body = "<p>Хуавей построит сеть 5G в Кутаиси и Батуми к 2027 году</p>".encode("cp1251")
    text, _ = decode_html(body, "no-such-charset")
    assert "Хуавей" in text


# -- normalise -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(CASES["normalise"]))
def test_normalise(case: dict[str, Any]) -> None:
    item = normalise(ScrapedItem(**case["input"]))
    got = {key: getattr(item, key) for key in case["expected"]}
    assert got == case["expected"]


def test_normalise_hash_covers_title_text_and_date() -> None:
    item = normalise(ScrapedItem(**CASES["content_hash"]["base"]))
    assert item.content_hash == content_hash(item.title, item.text, item.published_at)
    assert len(item.content_hash) == 64


def test_content_hash_golden_value() -> None:
    golden = CASES["content_hash"]["golden"]
    assert content_hash(*golden["parts"]) == golden["expected"]


def test_content_hash_separates_fields() -> None:
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash(None, "x") == content_hash("", "x")


@pytest.mark.parametrize("case", params(CASES["content_hash"]["pairs"]))
def test_content_hash_pairs(case: dict[str, Any]) -> None:
    base = ScrapedItem(**CASES["content_hash"]["base"])
    other = replace(base, **case["other"])
    same = normalise(base).content_hash == normalise(other).content_hash
    assert same is case["same"]


def test_normalise_is_stable_across_calls() -> None:
    scraped = ScrapedItem(**CASES["content_hash"]["base"])
    assert normalise(scraped) == normalise(scraped)
