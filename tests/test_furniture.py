"""monitor.furniture: blocks, the rule and learning from tests/cases/furniture.yaml (their keys
are the test ids); then a crawl of a local site whose furniture names a watch on every page
and whose real text names it on one: only that one alerts, and explain says why the others
do not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import TimedServer

from monitor.config import Config
from monitor.crawl import crawl
from monitor.furniture import (
    BlockStats,
    Learner,
    block_key,
    blocks,
    drop,
    is_furniture,
    without_furniture,
)
from monitor.match import Matcher
from monitor.models import Item
from monitor.store import open_store

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "furniture.yaml").read_text("utf-8"))


def _params(table: dict[str, Any]) -> list[Any]:
    return [pytest.param(case, id=name) for name, case in table.items()]


def _item(text: str, day: str | None, n: int = 0, source: str = "voa") -> Item:
    return Item(source=source, key=f"k{n}", url=f"https://voa.example/{n}", title=f"Story {n}",
                text=text, published_at=f"{day}T10:00:00+00:00" if day else None,
                content_hash=f"h{n}")


def _word(n: int) -> str:
    """A word no other filler page has (letters only: digits would fold together)."""
    letters = "bcdfghjklmnpqrstvwxz"
    word = ""
    while True:
        word = letters[n % len(letters)] + word
        n //= len(letters)
        if not n:
            return "q" + word


# -- the case table ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params(CASES["blocks"]))
def test_blocks_case(case: dict[str, Any]) -> None:
    if "same_key" in case:
        keys = {block_key(text) for text in case["same_key"]}
        assert len(keys) == 1 and None not in keys
        return
    text = case["text"]
    assert [text[b.start:b.end] for b in blocks(text)] == case["expected"]


@pytest.mark.parametrize("case", _params(CASES["rule"]))
def test_rule_case(case: dict[str, Any]) -> None:
    stats = BlockStats(**case["stats"])
    pages = case.get("pages", stats.last_page)
    assert is_furniture(stats, pages) is case["furniture"], case["reason"]


@pytest.mark.parametrize("case", _params(CASES["learning"]))
def test_learning_case(case: dict[str, Any]) -> None:
    learner = Learner("voa")
    n = 0
    for page in case["pages"]:
        if "filler" in page:
            for _ in range(page["filler"]):
                n += 1
                text = f"Other story {_word(n)}: nothing in common with the rest."
                if "glued" in page:
                    text += " " + page["glued"]
                if "glued_line" in page:
                    text += "\n" + page["glued_line"]
                if "middle" in page:
                    text += f"\n{page['middle']}\nAnd {_word(n)} ends it."
                learner.learn(_item(text, page["day"], n))
        else:
            n += 1
            learner.learn(_item(page["text"], page["day"], n))
    body = case["body"]
    if case.get("learn_body"):
        learner.learn(_item(body, case.get("day", case["pages"][-1]["day"]), n + 1))
    dropped = learner.drop(body)
    assert [b.text for b in dropped.blocks] == case["dropped"]
    assert len(dropped.text) == len(body)
    for block in dropped.blocks:
        assert body[block.start:block.end] == block.text
        assert dropped.text[block.start:block.end].strip() == ""
    for text, expected in case["judged"].items():
        assert learner.is_furniture(block_key(text) or "") is expected, text


def test_cases_cite_their_sources() -> None:
    for table in ("blocks", "learning"):
        for name, case in CASES[table].items():
            assert case.get("source"), name


# -- dropping and the matcher ----------------------------------------------------------------------


def test_drop_keeps_offsets_so_matches_point_into_the_stored_body() -> None:
    body = ("Follow us on Facebook and Instagram\n"
            "Facebook removed a network of fake accounts on Tuesday.\n"
            "Follow us on Facebook and Instagram")
    footer = BlockStats(pages=9, first_page=1, last_page=9, first_day="2025-01-01",
                        last_day="2025-01-09", chars=35)
    dropped = drop(body, lambda keys: {k: footer for k in keys
                                       if k == block_key("follow us on facebook and instagram")},
                   9)
    assert [(b.start, b.pages) for b in dropped.blocks] == [(0, 9), (92, 9)]
    item = _item(body, "2025-01-10")
    [match] = _matcher([{"name": "Meta", "aliases": ["Facebook"]}]).match(
        without_furniture(item, dropped))
    assert body[match.start:match.end] == "Facebook" and match.start == 36
    assert "Follow us" not in match.snippet
    assert dropped.at(match.start, match.end) is None and dropped.at(14, 22) is not None


def _matcher(watches: list[dict[str, Any]]) -> Matcher:
    from monitor.config import Watch

    return Matcher([Watch(**w) for w in watches])


def test_a_line_that_is_furniture_is_listed_once_not_with_its_sentences() -> None:
    body = "Sign up for our newsletter. It is free.\nThe ministry said so."
    stats = BlockStats(pages=5, first_page=1, last_page=5, first_day="2025-01-01",
                       last_day="2025-01-05", chars=40)
    line, first, second = (block_key(t) for t in (
        "Sign up for our newsletter. It is free.", "Sign up for our newsletter.", "It is free."))
    dropped = drop(body, lambda keys: {k: stats for k in keys if k in (line, first, second)},
                   5)
    assert [b.text for b in dropped.blocks] == ["Sign up for our newsletter. It is free."]


def test_learner_asks_the_store_once_per_block_and_counts_from_its_numbers() -> None:
    asked: list[list[str]] = []
    footer = block_key("your ad here")
    stored = {footer: BlockStats(2, 40, 41, "2025-03-01", "2025-03-02", 12)}

    def lookup(keys: Any) -> dict[str, BlockStats]:
        asked.append(list(keys))
        return {k: stored[k] for k in keys if k in stored}

    learner = Learner("voa", pages=41, lookup=lookup)
    sighting = learner.learn(_item("A story.\nyour ad here", "2025-03-03", 1))
    learner.learn(_item("Another story.\nyour ad here", None, 2), today="2025-03-04")
    assert len(asked) == 2 and footer in asked[0] and footer not in asked[1]
    stats = learner.known[footer]
    assert (stats.pages, stats.first_page, stats.last_page) == (4, 40, 43)
    assert (stats.first_day, stats.last_day, stats.sample) == ("2025-03-01", "2025-03-04",
                                                               "your ad here")
    assert sighting.day == "2025-03-03" and {k for k, *_ in sighting.blocks} == {
        footer, block_key("A story.")}
    assert learner.drop("Third.\nyour ad here").blocks[0].pages == 4


# -- a crawl of a site whose furniture names a watch ----------------------------------------------

PAGE = """<html><head><title>{title}</title></head><body>
<nav>Home | World | Technology</nav>
<article><h1>{title}</h1>
<p>{lead}</p>
<p>Related: Huawei opens a 5G lab in Tbilisi</p>
<p>{more}</p>
</article>
<footer>© Sample News</footer></body></html>"""

LEADS = [
    "Georgia's revenue service bought new border scanners for the Sarpi crossing point.",
    "A new tunnel on the Rikoti pass will shorten the road from Tbilisi to Batumi.",
    "Huawei will supply the core network of the new mobile operator, the regulator said.",
    "The Anaklia port project has a new preferred bidder after two years of delays.",
    "Tbilisi city hall ordered traffic cameras for twelve junctions in the centre.",
    "The harvest in Rtveli ended early this year because of the dry summer.",
]
SEVENTH = "Batumi's port will get new cranes next spring, the port authority said."
# a page's other paragraphs are its own: only the teaser is shared
MORE = [
    "The contract is worth about four million lari and runs for three years, officials said.",
    "Work is due to start in the spring and to take at least two years to finish.",
    "The operator plans to cover every city with more than fifty thousand people first.",
    "The government said it expected the first berth to open within four years.",
    "The cameras will read number plates and send fines to drivers automatically.",
    "Winemakers said the grapes were sweeter than usual but there were fewer of them.",
    "The cranes were bought with a loan that the city will repay over ten years.",
]

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Sample</title><link>{base}/</link><description>d</description>
{items}</channel></rss>"""
ENTRY = """<item><title>Story {n}</title><link>{base}/a/{n}.html</link>
<guid isPermaLink="false">story-{n}</guid><pubDate>{day} Nov 2026 09:00:00 +0000</pubDate>
<description>Story {n}.</description></item>"""


def _serve(site: TimedServer, leads: list[str]) -> None:
    base = site.url_for("").rstrip("/")
    items = "".join(ENTRY.format(n=n, base=base, day=10 + n) for n in range(1, len(leads) + 1))
    site.expect_request("/feed.xml").respond_with_data(
        RSS.format(base=base, items=items), content_type="application/rss+xml")
    for n, lead in enumerate(leads, 1):
        site.expect_request(f"/a/{n}.html").respond_with_data(
            PAGE.format(title=f"Story {n}", lead=lead, more=MORE[n - 1]),
            content_type="text/html; charset=utf-8")


def test_a_name_only_in_the_sites_furniture_alerts_on_no_page(
    site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    from monitor.cli import cli

    _serve(site, LEADS)
    config = write_config({
        "sources": [{"name": "sample", "kind": "feed", "url": site.url_for("/feed.xml"),
                     "follow_links": True}],
        "watches": [{"name": "Huawei"}, {"name": "Nuctech"}],
        "recipients": [{"email": "desk@example.org"}]})
    [result] = crawl(config, state_dir).results
    assert result.status == "ok", result.error
    assert result.new_items == 6
    with open_store(state_dir) as store:
        rows = store._rows("SELECT i.key, m.found, m.snippet FROM matches m "
                           "JOIN items i ON i.id = m.item_id")
        ids = {r["key"]: r["id"] for r in store._rows("SELECT id, key FROM items")}
        [teaser] = [r for r in store.furniture_blocks("sample")
                    if r.sample == "Related: Huawei opens a 5G lab in Tbilisi"]
        undelivered = store.undelivered_matches("desk@example.org", ["Huawei"])
    # only the article whose own text names Huawei, its snippet without the teaser
    assert [(r["key"], r["found"]) for r in rows] == [("story-3", "Huawei")]
    assert "Related" not in rows[0]["snippet"]
    assert result.new_matches == 1 and len(undelivered) == 1
    assert teaser.pages == 6 and is_furniture(teaser.stats, 6)

    runner = CliRunner()
    base = ["--config", str(config.path), "--state", str(state_dir)]
    other = runner.invoke(cli, [*base, "explain", str(ids["story-1"]), "--watch", "Huawei"])
    assert other.exit_code == 0, other.output
    assert ("- body" in other.output and "dropped as this site's furniture (seen on 6 of its "
            "pages)") in other.output
    assert "Nuctech" not in other.output  # --watch: that watch only
    as_json = json.loads(runner.invoke(cli, [*base, "explain", str(ids["story-1"]),
                                             "--json"]).output)
    assert as_json["on_page"]["Huawei"]["places"] == ["furniture"]
    assert as_json["on_page"]["Nuctech"]["places"] == []
    assert as_json["on_page"]["Nuctech"]["lines"] == ["not on the captured page at all"]
    assert [b["text"] for b in as_json["furniture"]] == [
        "Related: Huawei opens a 5G lab in Tbilisi"]
    real = json.loads(runner.invoke(cli, [*base, "explain", str(ids["story-3"]),
                                          "--json"]).output)
    [huawei] = [e for e in real["explanations"] if e["watch"] == "Huawei"]
    assert [m["found"] for m in huawei["matches"]] == ["Huawei"]
    assert [r["reason"] for r in huawei["rejected"]] == [
        "dropped as this site's furniture (seen on 6 of its pages)"]

    # rematch agrees with the crawl; the listing shows the teaser
    again = runner.invoke(cli, [*base, "rematch", "--json"])
    assert json.loads(again.output)["new_matches"] == 0, again.output
    listed = runner.invoke(cli, [*base, "furniture", "sample"])
    assert listed.exit_code == 0 and "Related: Huawei opens a 5G lab in Tbilisi" in listed.output

    # the next crawl drops the teaser of a new page at once
    site.clear()
    site.expect_request("/robots.txt").respond_with_data("", content_type="text/plain")
    _serve(site, [*LEADS, SEVENTH])
    [second] = crawl(config, state_dir).results
    assert (second.status, second.new_items, second.new_matches) == ("ok", 1, 0)


def test_a_sentence_that_only_looked_like_furniture_early_in_a_crawl_is_matched_in_the_end(
    site: TimedServer, write_config: Callable[..., Config], state_dir: Path
) -> None:
    """Three follow-ups that repeat a sentence, read one after the other (a feed's entries are
    stored in its order), make it look like furniture by the third; twenty other stories
    later it is not, and the end of the crawl matches the third again."""
    base = site.url_for("").rstrip("/")
    quote = "Huawei said it would appeal against the decision."
    bodies = [f"The regulator fined the operator on day {_word(n)}. {quote}" for n in range(3)]
    bodies += [f"Other news of the region, story {_word(n)}." for n in range(3, 23)]
    entries = "".join(
        f"<item><title>Story {n}</title><link>{base}/s/{n}.html</link>"
        f"<guid isPermaLink=\"false\">s-{n}</guid>"
        f"<pubDate>{1 + n % 28} Nov 2026 09:00:00 +0000</pubDate>"
        f"<description>{body}</description></item>" for n, body in enumerate(bodies))
    site.expect_request("/feed.xml").respond_with_data(
        RSS.format(base=base, items=entries), content_type="application/rss+xml")
    config = write_config({
        "sources": [{"name": "wire", "kind": "feed", "url": site.url_for("/feed.xml")}],
        "watches": [{"name": "Huawei"}]})
    [result] = crawl(config, state_dir).results
    assert result.status == "ok", result.error
    with open_store(state_dir) as store:
        keys = sorted(r["key"] for r in store._rows(
            "SELECT i.key FROM matches m JOIN items i ON i.id = m.item_id "
            "WHERE m.field = 'body'"))
        [row] = [r for r in store.furniture_blocks("wire") if r.sample == quote]
    assert keys == ["s-0", "s-1", "s-2"] and result.new_matches == 3
    assert not is_furniture(row.stats, 23)
