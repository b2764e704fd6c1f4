"""Main-text extraction: sidebars stay out, the process pool gives the same answer as the
crawler process, a broken pool falls back instead of failing the crawl, and a body that
advertisements split into several containers is taken whole (tests/cases/extract.yaml)."""

from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import page
from trafilatura import load_html

from crawlers import extract
from crawlers.split_body import take_in_split_parts

HTML = page("page/article-en.html").decode("utf-8")
URL = "https://bizgeorgia.example.ge/news/a"


@pytest.fixture(autouse=True)
def no_pool_left_behind():
    yield
    extract.shutdown()


def test_extract_leaves_navigation_and_sidebars_out():
    result = extract.extract(HTML, URL)
    assert result["title"]
    assert result["text"] and "Huawei" not in result["text"]


def test_extract_async_in_the_pool_matches_in_process(monkeypatch):
    monkeypatch.setenv("MONITOR_EXTRACT_WORKERS", "1")
    pooled = asyncio.run(extract.extract_async(HTML, URL))
    assert extract._pool is not None
    assert pooled == extract.extract(HTML, URL)


def test_extract_async_falls_back_when_the_pool_breaks(monkeypatch):
    class Broken:
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise BrokenProcessPool("a worker died")

        def shutdown(self, **kwargs: Any) -> None:
            pass

    monkeypatch.setenv("MONITOR_EXTRACT_WORKERS", "2")
    monkeypatch.setattr(extract, "_pool", Broken())
    result = asyncio.run(extract.extract_async(HTML, URL))
    assert result == extract.extract(HTML, URL)
    assert extract._pool is None
    assert asyncio.run(extract.extract_async(HTML, URL)) == result  # now in process


# -- split bodies (tests/cases/extract.yaml) -------------------------------------------------

CASES: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "cases" / "extract.yaml")
                                       .read_text("utf-8"))


def page_of(case: dict[str, Any]) -> str:
    layout: str = CASES["layouts"][case["layout"]]
    return layout.replace("{title}", case["title"]).replace("{article}", case["article"])


@pytest.mark.parametrize("case", [pytest.param(case, id=name)
                                  for name, case in CASES["cases"].items()])
def test_extract_case(case: dict[str, Any]) -> None:
    assert case["source"] and case["why"]
    text = extract.extract(page_of(case), "https://news.example/world/a")["text"] or ""

    at = [text.find(expected) for expected in case["contains"]]
    assert [e for e, i in zip(case["contains"], at, strict=True) if i < 0] == [], text
    assert at == sorted(at), f"not in document order: {text}"
    assert [e for e in case["excludes"] if e in text] == [], text
    if case.get("unchanged"):
        tree = load_html(page_of(case))
        assert take_in_split_parts(tree, text) is text


def split_page(first: int, second: int, between: str = '<div class="ad">Advertisement</div>',
               kind: str = 'class="article-body"') -> str:
    paragraphs = [f"<p>Paragraph {n} of the article says something new about the tender and "
                  f"the ministry that ran it, sentence {n}.</p>" for n in range(first + second)]
    return ("<html><body><nav><a href='/'>Huawei deals</a></nav><article><h1>Headline</h1>"
            f"<div {kind}>{''.join(paragraphs[:first])}</div>{between}"
            f"<div {kind}>{''.join(paragraphs[first:])}</div></article>"
            "<footer>Contact</footer></body></html>")


def test_split_parts_before_the_extracted_one_come_first() -> None:
    """Readability's pick may be the longer, later part: the earlier one is taken in before
    it, in document order."""
    tree = load_html(split_page(2, 6))
    later = "\n".join(f"Paragraph {n} of the article says something new about the tender and "
                      f"the ministry that ran it, sentence {n}." for n in range(2, 8))

    text = take_in_split_parts(tree, later)

    assert [int(line.split()[1]) for line in text.splitlines()] == list(range(8))


def test_split_parts_of_a_page_the_text_did_not_come_from_are_not_taken() -> None:
    tree = load_html(split_page(4, 4))

    assert take_in_split_parts(tree, "Some other text altogether, from somewhere else.") \
        == "Some other text altogether, from somewhere else."


@pytest.mark.parametrize("between", [
    "<figure><img src='a.jpg'><figcaption>A photo</figcaption></figure>",
    "<script>ads.push('mid')</script><noscript>Enable JavaScript</noscript>",
    "<aside class='pullquote'>A quote pulled from the text</aside>",
    "<div id='ad-mid-3' class='adunit'></div>",
])
def test_split_parts_across_each_kind_of_interruption(between: str) -> None:
    text = extract.extract(split_page(6, 3, between), URL, metadata=False)["text"] or ""

    assert "sentence 0." in text and "sentence 8." in text
    assert "Huawei" not in text and "Contact" not in text


def test_split_parts_of_a_chinese_body() -> None:
    """Paragraphs without spaces are found by their whole text; the second part is taken in
    once, and the ad label stays out."""
    first = "".join(f"<p>第{n}段：公司周二表示，将在未来三年内向该地区的数据中心投资十亿美元，"
                    "以扩大其云计算业务，并培训当地的技术人员。</p>" for n in range(8))
    second = "".join(f"<p>第{n}段：另一家公司也在同一天宣布了类似的计划，但没有透露投资金额和时间表。</p>"
                     for n in range(8, 11))
    html = (f"<html><body><nav><a href='/'>大华股份</a></nav><article><h1>标题</h1>"
            f"<div class='article-body'>{first}</div><div class='ad'>广告</div>"
            f"<div class='article-body'>{second}</div></article><footer>海康威视</footer>"
            "</body></html>")

    text = extract.extract(html, "https://news.example.cn/a", metadata=False)["text"] or ""

    assert [text.count(f"第{n}段") for n in range(11)] == [1] * 11
    assert "广告" not in text and "大华" not in text and "海康威视" not in text
