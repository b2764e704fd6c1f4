"""`monitor web` in a real browser: Debian's chromium driven by Playwright (executable_path;
nothing is downloaded), against the app served on loopback over a state filled by a real
crawl of a local site. Marked `browser`: `pytest -m browser` runs these alone.

What an investigator does: log in, search in Georgian and Chinese, open a finding, mark it not
relevant and mute the alias in that source, crawl again and see the muted hit not reported
(while the article is still stored and searchable), export CSV, and see a crawled title with
`<script>` shown as text. Screenshots of the main pages are taken on the way."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TimedServer
from test_web import Served

from monitor.config import Config, load_config
from monitor.crawl import crawl
from monitor.web import create_app
from monitor.web.users import add_user

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# as root in a container chromium needs --no-sandbox; the rest keep it off the network
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def feed(site: TimedServer, entries: list[tuple[str, str, str]]) -> None:
    items = "".join(
        f"<item><title>{title}</title><link>{site.url_for(path)}</link><guid>{path}</guid>"
        f"<description>{text}</description></item>" for path, title, text in entries)
    site.clear()
    site.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    site.expect_request("/feed.xml").respond_with_data(
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>wire</title>'
        f"{items}</channel></rss>", content_type="application/rss+xml; charset=utf-8")


FIRST = [
    ("/1", "ჰუავეი ხსნის ოფისს თბილისში", "ჰუავეი თბილისში ახალ ოფისს ხსნის."),
    ("/2", "华为公司中标", "华为公司在格鲁吉亚中标了一个新的网络项目。"),
    # escaped twice in the XML: the title as published is the text "<script>..."
    ("/3", "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; Hikvision cameras in Batumi",
     "Hikvision cameras were installed in Batumi, the city hall said."),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (Debian), which "
                    "`sh requirements/install test` does when run as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def test_an_investigator_searches_triages_mutes_and_exports(
        browser: Any, site: TimedServer, state_dir: Path, tmp_path: Path,
        write_config: Callable[..., Config]) -> None:
    feed(site, FIRST)
    config = write_config({
        "sources": [{"name": "wire", "kind": "feed", "url": site.url_for("/feed.xml"),
                     "obey_robots": False}],
        "watches": [{"name": "Huawei", "aliases": ["华为", "ჰუავეი"]}, {"name": "Hikvision"}]})
    [first] = crawl(config, state_dir).results
    assert (first.status, first.new_items) == ("ok", 3), first.error
    add_user(state_dir, "nino", "correct horse battery", "editor")
    shots = tmp_path / "shots"
    shots.mkdir()
    dialogs: list[str] = []
    with Served(create_app(config, state_dir)) as url:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url)
                else None)

        page.goto(url + "/findings")
        assert page.url.startswith(url + "/login")
        page.fill("input[name=name]", "nino")
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url(url + "/findings")
        # the crawled title is text on the page, not a script that ran
        assert page.get_by_text("<script>alert(1)</script> Hikvision cameras in Batumi").count() == 1
        page.screenshot(path=str(shots / "inbox.png"), full_page=True)

        page.goto(url + "/search")
        page.fill("input[name=q]", "ჰუავეი")
        page.click("form.filters button[type=submit]")
        assert page.locator("ul.findings li").count() == 1
        assert page.locator("ul.findings mark").first.inner_text() == "ჰუავეი"
        page.fill("input[name=q]", "华为")
        page.click("form.filters button[type=submit]")
        assert page.locator("ul.findings .title").inner_text() == "华为公司中标"
        page.screenshot(path=str(shots / "search.png"), full_page=True)

        page.goto(url + "/findings?watch=Hikvision")
        page.click("ul.findings .title a")
        assert "/articles/" in page.url
        page.screenshot(path=str(shots / "finding.png"), full_page=True)
        assert page.locator("textarea[name=note]").count() == 1, page.content()[:3000]
        page.fill("textarea[name=note]", "city hall cameras, not a tender")
        page.click("button[value=not_relevant]")
        page.wait_for_url("**/mute")
        page.click("button[value=mute_source]")
        page.wait_for_url("**/articles/*")
        assert "muted: 'Hikvision' in source 'wire'" in page.inner_text("main")

        # CSV of the inbox, as a journalist would download it
        with page.expect_download() as download:
            page.goto(url + "/findings")
            page.click("text=CSV")
        rows = list(csv.DictReader(io.StringIO(
            Path(download.value.path()).read_text("utf-8-sig"))))
        assert {r["title"] for r in rows} == {t for _, t, _ in FIRST[:2]} | {
            "<script>alert(1)</script> Hikvision cameras in Batumi"}
        assert [r["triage"] for r in rows if "Hikvision" in r["title"]] == ["not_relevant"]

        # the next crawl applies the mute: a new Hikvision story from this source is stored
        # but not reported
        feed(site, [*FIRST, ("/4", "Hikvision wins the Batumi contract",
                             "Hikvision will supply cameras to Batumi.")])
        [second] = crawl(load_config(config.path), state_dir).results  # type: ignore[arg-type]
        assert (second.status, second.new_items, second.new_matches) == ("ok", 1, 0)
        page.goto(url + "/findings")
        assert "Hikvision wins the Batumi contract" not in page.inner_text("main")
        page.goto(url + "/search?q=Batumi+contract")
        assert page.locator("ul.findings .title").inner_text() == \
            "Hikvision wins the Batumi contract"

        page.goto(url + "/sources")
        page.screenshot(path=str(shots / "sources.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.goto(url + "/findings")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "inbox-phone.png"), full_page=True)
    assert dialogs == []
    assert outside == []
    assert sorted(p.name for p in shots.iterdir()) == [
        "finding.png", "inbox-phone.png", "inbox.png", "search.png", "sources.png"]


def test_the_pages_work_with_javascript_off(
        browser: Any, state_dir: Path, write_config: Callable[..., Config]) -> None:
    from test_web import WATCHES, fill

    config = write_config({"watches": WATCHES})
    items, tender_id = fill(state_dir, config)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    with Served(create_app(config, state_dir)) as url:
        page.goto(url + "/findings")
        page.select_option("select[name=watch]", "Huawei")
        page.click("form.filters button[type=submit]")
        assert page.locator("ul.findings li").count() == 2
        page.goto(url + f"/tenders/{tender_id}")
        page.click("button[value=relevant]")
        page.wait_for_url(url + f"/tenders/{tender_id}")
        assert "Marked relevant by local" in page.inner_text("main")
    context.close()
