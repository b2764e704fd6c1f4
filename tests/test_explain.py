"""monitor.explain: why a stored item or tender matched each watch (what `monitor explain`
prints, also tested through the CLI in test_cli.py and, with site furniture, in
test_furniture.py); here, what it raises, `--watch`, and where a missed name is on the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import Config
from monitor.errors import RecordNotFoundError, WatchNotFoundError
from monitor.evidence import CaptureStore
from monitor.explain import explain_item, explain_tenders
from monitor.furniture import Learner
from monitor.models import CapturedResponse, Item
from monitor.store import Store, open_store

WATCHES = [{"name": "Nuctech"}, {"name": "Hikvision"}, {"name": "Dahua"}, {"name": "ZTE"},
           {"name": "Huawei"}, {"name": "Tiandy"}, {"name": "Meta", "aliases": ["Facebook"]}]

PAGE = """<html><head><title>Scanners for the border</title>
<meta name="description" content="Dahua cameras at the Sarpi crossing">
<script type="application/ld+json">{"@type": "NewsArticle", "keywords": ["Hikvision"]}</script>
<script>window.related = "Ti\\u0061ndy";</script></head>
<body><nav>Home | Huawei deals | Contact</nav>
<article><h1>Scanners for the border</h1>
<p>The revenue service bought scanners from Nuctech for the AZTEC crossing.</p>
<p>Follow us on Facebook</p>
<img src="/a.jpg" alt="A scanner at the Sarpi crossing"></article>
</body></html>"""
BODY = ("The revenue service bought scanners from Nuctech for the AZTEC crossing.\n"
        "Follow us on Facebook")


def _stored(store: Store, state_dir: Path, *, page: bool = True) -> int:
    body = PAGE.encode()
    CaptureStore(state_dir).put(body)
    capture = CapturedResponse(
        url="https://news.example/a", final_url="https://news.example/a", status=200,
        headers=(("Content-Type", "text/html; charset=utf-8" if page else "application/rss+xml"),),
        fetched_at="2026-11-20T10:00:00+00:00", body=body)
    item = Item(source="news", key="a", url="https://news.example/a",
                title="Scanners for the border", text=BODY, published_at=None,
                content_hash="a")
    # the source's footer, learnt from three earlier articles of three days
    learner = Learner("news")
    for n, day in enumerate(("2026-11-17", "2026-11-18", "2026-11-19")):
        sighting = learner.learn(Item(source="news", key=f"e{n}", url=f"https://news.example/{n}",
                                      title="t", text=f"Story {'xyz'[n]}.\nFollow us on Facebook",
                                      published_at=f"{day}T08:00:00+00:00",
                                      content_hash=f"e{n}"))
        store.add(Item(source="news", key=f"e{n}", url=f"https://news.example/{n}", title="t",
                       text="", published_at=None, content_hash=f"e{n}"), [],
                  furniture=sighting)
    return store.add(item, [], capture=capture).item_id


def test_explain_unknown_item_and_tender_name_the_state_and_the_id(write_config, store):
    config = write_config({"sources": [{"name": "a", "kind": "feed",
                                        "url": "https://a.example/rss"}],
                           "watches": [{"name": "Nuctech"}]})
    with pytest.raises(RecordNotFoundError, match=r"no item with id '42' \(for a tender"):
        explain_item(store, config, "42")
    with pytest.raises(RecordNotFoundError, match="no item with id 'NAT1'"):
        explain_item(store, config, "NAT1")
    with pytest.raises(RecordNotFoundError, match="no tender numbered 'NAT1'"):
        explain_tenders(store, config, "NAT1")


def test_explain_unknown_watch_names_the_value_and_the_known_watches(
    write_config: Callable[..., Config], store: Store, state_dir: Path
) -> None:
    config = write_config({"watches": [{"name": "Nuctech"}, {"name": "Hikvision"}]})
    item_id = _stored(store, state_dir)
    with pytest.raises(WatchNotFoundError) as caught:
        explain_item(store, config, str(item_id), watch="Huawei")
    assert str(caught.value) == (f"{config.path}: --watch 'Huawei': no such watch (the "
                                 "watches are: 'Nuctech', 'Hikvision')")
    # case does not matter
    [entry] = explain_item(store, config, str(item_id), watch="nuctech").explanations
    assert entry.watch == "Nuctech" and entry.matches
    result = CliRunner().invoke(cli, ["--config", str(config.path), "--state", str(state_dir),
                                      "explain", "1", "--watch", "Huawei"])
    assert result.exit_code == 2
    assert "Error: " in result.output and "--watch 'Huawei': no such watch" in result.output


def test_explain_says_where_on_the_page_each_missed_name_is(
    write_config: Callable[..., Config], store: Store, state_dir: Path
) -> None:
    config = write_config({"watches": WATCHES})
    explained = explain_item(store, config, str(_stored(store, state_dir)))
    assert explained.page_checked
    places = {w: p.places for w, p in explained.on_page.items()}
    assert places == {
        "Hikvision": ("script",),          # a JSON-LD blob
        "Tiandy": ("script",),             # a script's string, \\u-escaped
        "Dahua": ("attribute",),           # a meta description
        "ZTE": ("main_text",),             # AZTEC: in the text, not a whole word
        "Huawei": ("outside_text",),       # the navigation
        "Meta": ("furniture",),            # the site's footer inside the article
    }
    assert "Nuctech" not in explained.on_page  # matched
    assert explained.outside_text == {"Huawei": "“Huawei” is on the page but outside its main "
                                      "text (navigation, sidebar or footer), which is not "
                                      "matched"}
    assert explained.on_page["Meta"].lines == (
        "“Facebook” is in a block dropped as this site's furniture (seen on 3 of its pages)",)
    [block] = explained.furniture
    assert (block.text, block.pages) == ("Follow us on Facebook", 3)


def test_explain_names_no_page_when_none_was_captured(
    write_config: Callable[..., Config], store: Store, state_dir: Path
) -> None:
    config = write_config({"watches": [{"name": "Huawei"}]})
    explained = explain_item(store, config, str(_stored(store, state_dir, page=False)))
    assert not explained.page_checked
    assert explained.on_page["Huawei"].lines == (
        "not in the item, and no article page was captured to look further",)


def test_explain_cli_prints_the_places_and_keeps_json_one_object(
    write_config: Callable[..., Config], state_dir: Path
) -> None:
    config = write_config({"watches": WATCHES})
    with open_store(state_dir) as store:
        item_id = _stored(store, state_dir)
    base = ["--config", str(config.path), "--state", str(state_dir), "explain", str(item_id)]
    runner = CliRunner()
    text = runner.invoke(cli, base)
    assert text.exit_code == 0, text.output
    assert ("dropped as this site's furniture (seen on 3 of its pages): body [73:94] "
            "'Follow us on Facebook'") in text.output
    assert "Tiandy: “Tiandy” is in a <script> or JSON blob of the page" in text.output
    assert "Dahua: “Dahua” is in an attribute of the page" in text.output
    assert ("  - body [86:94] 'Facebook' (alias 'Facebook'): dropped as this site's furniture "
            "(seen on 3 of its pages)") in text.output
    one = runner.invoke(cli, [*base, "--watch", "Dahua", "--json"])
    data: dict[str, Any] = json.loads(one.output)
    assert set(data) == {"title", "url", "captures", "outside_text", "furniture", "on_page",
                         "page_checked", "explanations"}
    assert [e["watch"] for e in data["explanations"]] == ["Dahua"]
    assert data["on_page"] == {"Dahua": {
        "places": ["attribute"], "found": {"attribute": "Dahua"},
        "lines": ["“Dahua” is in an attribute of the page (an image's alt text, a title or a "
                  "meta description), which is not matched"]}}
