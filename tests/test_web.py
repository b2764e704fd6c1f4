"""`monitor web` over HTTP: the real application served by uvicorn on a free loopback port,
over a store filled through the store's own writes, asked with httpx like a browser would
(cookies, forms with their CSRF token). The browser suite is tests/test_web_browser.py."""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from conftest import TimedServer, free_port

from monitor.cli import cli
from monitor.config import Config, load_config
from monitor.errors import WebError
from monitor.flags.compute import Flagger
from monitor.match import Matcher
from monitor.match.tender import match_tender
from monitor.models import Bid, Item, Organisation, TenderRecord
from monitor.normalise import content_hash
from monitor.store import open_store
from monitor.tender import normalise_tender, record_tender
from monitor.web import check_can_serve, create_app
from monitor.web.users import add_user

WATCHES = [
    {"name": "Nuctech", "aliases": ["Нуктек", "ნუქტექ"], "priority": "high",
     "ids": ["GE-NAPR:404409497"]},
    {"name": "Huawei", "aliases": ["华为", "ჰუავეი"]},
    {"name": "Hikvision"},
]

ARTICLES = [
    ("civil_ge", "en", "Nuctech scanners for the Sarpi crossing",
     "The Revenue Service said Nuctech will deliver the scanners in March."),
    ("netgazeti", "ka", "ჰუავეი და საქართველო",
     "ჰუავეი თბილისში ახალ ოფისს ხსნის, განაცხადა კომპანიამ."),
    ("xinhua", "zh", "华为公司中标", "华为公司在格鲁吉亚中标了一个新的网络项目。"),
    ("civil_ge", "en", "<script>alert(1)</script> Hikvision cameras", "Hikvision cameras "
     "were installed in Batumi, the city hall said."),
    ("civil_ge", "en", "Weather in Tbilisi", "Sunny and warm, nothing about companies."),
]


@dataclass
class Site:
    """A served web app over a filled state."""

    url: str
    state: Path
    config: Config
    items: dict[str, int]
    tender_id: int


def fill(state: Path, config: Config) -> tuple[dict[str, int], int]:
    """Articles (one changed once) and a tender, with the matches the config's watches give."""
    matcher = Matcher(config.watches)
    ids = {}
    with open_store(state) as store:
        for n, (source, language, title, text) in enumerate(ARTICLES):
            item = Item(source=source, key=f"k{n}", url=f"https://{source}.example/{n}",
                        title=title, text=text, language=language,
                        published_at=f"2026-11-2{n}T08:00:00+00:00",
                        content_hash=content_hash(title, text))
            ids[title] = store.add(item, matcher.match(item)).item_id
        changed = Item(source="civil_ge", key="k0", url="https://civil_ge.example/0",
                       title=ARTICLES[0][2], text=ARTICLES[0][3] + " The value is 3.2 M GEL.",
                       language="en", published_at="2026-11-20T08:00:00+00:00",
                       content_hash=content_hash(ARTICLES[0][2], "v2"))
        store.add(changed, matcher.match(changed))
        record = normalise_tender(TenderRecord(
            source="spa", native_id="NAT230021830", title="X-ray scanners for customs",
            url="https://tenders.procurement.gov.ge/public/?lang=en&go=NAT230021830",
            buyer=Organisation("Revenue Service", "204544323", "GE-NAPR"), status="awarded",
            value=3_200_000.0, currency="GEL",
            bidders=(Organisation("შპს ენ-ტექი", "404409497", "GE-NAPR"),
                     Organisation("Smiths Detection", "123456789", "GE-NAPR")),
            winners=(Organisation("შპს ენ-ტექი", "404409497", "GE-NAPR"),), method="open",
            bids=(Bid((Organisation("შპს ენ-ტექი", "404409497", "GE-NAPR"),),
                      value=3_100_000.0, currency="GEL", status="valid"),)))
        outcome = record_tender(store, record, matches=match_tender(matcher, record),
                                flagger=Flagger(store, config))
    return ids, outcome.tender_id


class Served:
    """uvicorn in a thread, stopped at the end."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("monitor web did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def web(state_dir: Path, write_config: Callable[..., Config]) -> Iterator[Site]:
    config = write_config({"watches": WATCHES})
    items, tender_id = fill(state_dir, config)
    with Served(create_app(config, state_dir)) as url:
        yield Site(url, state_dir, config, items, tender_id)


@pytest.fixture
def client(web: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, follow_redirects=False, timeout=30) as c:
        yield c


def csrf_of(client: httpx.Client, path: str = "/feeds") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


# -- the inbox ---------------------------------------------------------------------------


def test_the_inbox_lists_findings_newest_first_with_counts_and_filters(
        web: Site, client: httpx.Client) -> None:
    page = client.get("/findings")
    assert page.status_code == 200
    data = client.get("/findings.json").json()
    kinds = [(f["kind"], f["title"]) for f in data["findings"]]
    # newest match first (in one second, articles and tenders in either order); the weather
    # matched nothing
    assert [title for kind, title in kinds if kind == "article"] == [
        "<script>alert(1)</script> Hikvision cameras", "华为公司中标", "ჰუავეი და საქართველო",
        "Nuctech scanners for the Sarpi crossing"]
    assert ("tender", "X-ray scanners for customs") in kinds and len(kinds) == 5
    assert data["counts"] == {"Nuctech": 2, "Huawei": 2, "Hikvision": 1}
    assert "Nuctech · 2" in page.text

    def titles(**params: str) -> list[str]:
        return [f["title"] for f in client.get("/findings.json", params=params).json()[
            "findings"]]

    assert titles(watch="Huawei") == ["华为公司中标", "ჰუავეი და საქართველო"]
    assert titles(kind="tender") == ["X-ray scanners for customs"]
    assert titles(language="ka") == ["ჰუავეი და საქართველო"]
    assert sorted(titles(priority="high")) == ["Nuctech scanners for the Sarpi crossing",
                                               "X-ray scanners for customs"]
    assert titles(source="xinhua") == ["华为公司中标"]
    assert titles(since="2999-01-01") == []
    assert len(titles(triage="new")) == 5
    bad = client.get("/findings", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since: not a date (YYYY-MM-DD): &#39;yesterday&#39;" in bad.text


def test_the_inbox_exports_csv_and_json_of_a_filter(web: Site, client: httpx.Client) -> None:
    exported = client.get("/findings.csv", params={"watch": "Hikvision"})
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("kind,id,found_at,watches,source,title,url")
    assert len(lines) == 2 and "Hikvision cameras" in lines[1]


def test_the_inbox_says_which_findings_an_alert_told_of(web: Site,
                                                       client: httpx.Client) -> None:
    item_id = web.items["Nuctech scanners for the Sarpi crossing"]
    with open_store(web.state) as store:
        match_ids = [m.match_id for m in store.item_matches(item_id)]
        store.queue_alert(recipient="ana@example.org", created_at="2026-11-30T09:00:00+00:00",
                          subject="monitor alert: Nuctech", source="civil_ge",
                          messages=[("email", "<a@monitor.local>", b"Subject: x\r\n\r\nx")],
                          match_ids=match_ids,
                          tenders=[(web.tender_id, "Nuctech", 0, 0)], findings=2)

    data = client.get("/findings.json").json()["findings"]
    alerted = {f["title"]: f["alerted_at"] for f in data}
    assert alerted["Nuctech scanners for the Sarpi crossing"] == "2026-11-30T09:00:00+00:00"
    assert alerted["X-ray scanners for customs"] == "2026-11-30T09:00:00+00:00"
    assert alerted["华为公司中标"] is None
    assert client.get("/findings").text.count('<span class="alerted">alerted ') == 2
    lines = client.get("/findings.csv").text.lstrip("\ufeff").splitlines()
    assert lines[0].endswith(",removed_at,alerted_at")


def test_pages_escape_crawled_text_and_load_nothing_from_outside(
        web: Site, client: httpx.Client) -> None:
    item_id = web.items["<script>alert(1)</script> Hikvision cameras"]
    for path in ("/findings", f"/articles/{item_id}", "/search?q=Hikvision"):
        html = client.get(path).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script" not in html  # no JavaScript at all
        assert not re.search(r'(?:src|href)="(?:https?:)?//(?!127\.0\.0\.1)[^"]*"[^>]*'
                             r'rel="stylesheet"', html)
        assert re.findall(r'<link[^>]+href="([^"]+)"', html) == ["/static/style.css"]
    headers = client.get("/findings").headers
    assert "default-src 'none'" in headers["content-security-policy"]


# -- a finding, a tender, an organisation ---------------------------------------------------


def test_an_article_shows_its_matches_highlighted_versions_diffed_and_evidence(
        web: Site, client: httpx.Client) -> None:
    item_id = web.items["Nuctech scanners for the Sarpi crossing"]
    html = client.get(f"/articles/{item_id}").text
    assert '<mark title="Nuctech: Nuctech">Nuctech</mark> scanners' in html
    assert "<ins>" in html and "3.2" in html  # the second version's addition
    assert "No capture" in html
    data = client.get(f"/articles/{item_id}.json").json()
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert {m["watch"] for m in data["matches"]} == {"Nuctech"}
    assert client.get("/articles/99999").status_code == 404


def test_a_tender_shows_parties_with_registry_ids_and_its_organisation_page(
        web: Site, client: httpx.Client) -> None:
    html = client.get(f"/tenders/{web.tender_id}").text
    assert "NAT230021830" in html and "3,200,000.00 GEL" in html
    assert 'href="/orgs/GE-NAPR%3A404409497"' in html
    # its red flags, with the numbers, and what could not be computed
    assert "Red flags" in html and '<strong class="bad">single bid</strong>' in html
    assert "not computable here: short_period" in html.casefold()
    data = client.get(f"/tenders/{web.tender_id}.json").json()
    assert data["number"] == "NAT230021830" and data["timeline"][0]["version"] == 1
    assert {f["rule"]: f["state"] for f in data["flags"]}["single_bid"] == "flagged"
    org = client.get("/orgs/GE-NAPR:404409497.json").json()
    assert org["names"] == ["შპს ენ-ტექი"]
    assert [(t["number"], t["roles"]) for t in org["tenders"]] == [
        ("NAT230021830", ["bidder", "winner"])]
    buyer = client.get("/orgs/GE-NAPR:204544323.json").json()
    assert [t["roles"] for t in buyer["tenders"]] == [["buyer"]]


# -- triage ------------------------------------------------------------------------------


def test_triage_needs_the_csrf_token_and_is_in_the_audit_log(
        web: Site, client: httpx.Client) -> None:
    item_id = web.items["Nuctech scanners for the Sarpi crossing"]
    refused = client.post(f"/triage/article/{item_id}", data={"state": "relevant"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    token = csrf_of(client)
    done = client.post(f"/triage/article/{item_id}",
                       data={"state": "follow_up", "note": "call the ministry",
                             "csrf": token})
    assert done.status_code == 303 and done.headers["location"] == f"/articles/{item_id}"
    assert "call the ministry" in client.get(f"/articles/{item_id}").text
    followed = client.get("/findings.json", params={"triage": "follow_up"}).json()
    assert [f["id"] for f in followed["findings"]] == [item_id]
    audit = client.get("/audit.json").json()["audit"]
    assert (audit[0]["user"], audit[0]["action"], audit[0]["target"]) == (
        "local", "triage", f"article:{item_id}")
    assert audit[0]["detail"] == {"state": "follow_up", "note": "call the ministry"}


def test_not_relevant_mutes_the_alias_in_its_source_for_future_matching(
        web: Site, client: httpx.Client) -> None:
    item_id = web.items["<script>alert(1)</script> Hikvision cameras"]
    token = csrf_of(client)
    marked = client.post(f"/triage/article/{item_id}",
                         data={"state": "not_relevant", "csrf": token})
    assert marked.headers["location"] == f"/triage/article/{item_id}/mute"
    offer = client.get(marked.headers["location"]).text
    assert "Mute “Hikvision” in civil_ge" in offer
    muted = client.post(f"/triage/article/{item_id}/mute", data={
        "csrf": token, "watch": "Hikvision", "term": "Hikvision", "action": "mute_source",
        "note": "city hall cameras, not news"})
    assert muted.status_code == 303
    assert web.config.watch_file is not None
    written = web.config.watch_file.read_text("utf-8")
    assert "alias: Hikvision" in written and "source: civil_ge" in written
    # the config now carries the mute: the same text from civil_ge matches no more, from
    # another source it still does
    config = load_config(web.config.path)  # type: ignore[arg-type]
    matcher = Matcher(config.watches)
    again = Item(source="civil_ge", key="new", url="https://civil_ge.example/new",
                 title="Hikvision again", text="", published_at=None, content_hash="x")
    assert matcher.match(again) == []
    elsewhere = Item(source="netgazeti", key="n", url="https://n.example/n",
                     title="Hikvision again", text="", published_at=None, content_hash="y")
    assert [m.watch for m in matcher.match(elsewhere)] == ["Hikvision"]
    [explained] = [e for e in matcher.explain(again) if e.watch == "Hikvision"]
    assert explained.rejected[0].reason.startswith("muted: 'Hikvision' in source 'civil_ge'")
    # the page names the rule, the audit log the action, the watch file page the entry
    assert "muted: &#39;Hikvision&#39; in source &#39;civil_ge&#39;" in client.get(
        f"/articles/{item_id}").text
    assert client.get("/audit.json").json()["audit"][0]["action"] == "mute_source"
    entries = client.get("/watchfile.json").json()["mutes"]
    assert entries[0]["by"] == "local" and entries[0]["note"] == "city hall cameras, not news"
    removed = client.post("/watchfile/remove", data={"csrf": token, "section": "mutes",
                                                     "index": "0"})
    assert removed.status_code == 303 and "civil_ge" not in web.config.watch_file.read_text()


def test_a_finding_marked_not_relevant_is_left_out_of_the_digest(
        web: Site, client: httpx.Client) -> None:
    from monitor.digest import build_digest

    item_id = web.items["ჰუავეი და საქართველო"]
    client.post(f"/triage/article/{item_id}",
                data={"state": "not_relevant", "csrf": csrf_of(client)})
    config = load_config(web.config.path)  # type: ignore[arg-type]
    from monitor.config import Recipient

    with open_store(web.state) as store:
        digest = build_digest(store, config, Recipient(email="desk@example.org"))
    shown = {e.title for s in digest.sections for e in s.entries}
    assert "ჰუავეი და საქართველო" not in shown and "华为公司中标" in shown


# -- search --------------------------------------------------------------------------------


def test_search_finds_georgian_chinese_and_phrases_with_highlights(
        web: Site, client: httpx.Client) -> None:
    def found(q: str, **params: str) -> list[str]:
        return [r["title"] for r in client.get("/search.json", params={"q": q, **params})
                .json()["results"]]

    assert found("ჰუავეი") == ["ჰუავეი და საქართველო"]
    assert found("华为") == ["华为公司中标"]
    assert found('"the city hall"') == ["<script>alert(1)</script> Hikvision cameras"]
    assert found("Tbilisi") == ["Weather in Tbilisi"]  # matched nothing, still searchable
    assert found("scanners NOT Sarpi") == ["X-ray scanners for customs"]
    assert found("Hikvision", kind="tender") == []
    assert found("ენ-ტექი") == ["X-ray scanners for customs"]
    html = client.get("/search", params={"q": "华为"}).text
    assert "<mark>华为</mark>" in html
    bad = client.get("/search", params={"q": '"unclosed'})
    assert bad.status_code == 400 and "unclosed" in bad.text


def test_watch_this_query_adds_a_keyword_watch_to_the_web_watch_file(
        web: Site, client: httpx.Client) -> None:
    token = csrf_of(client, "/search?q=x")
    added = client.post("/search/watch", data={"csrf": token, "q": "scanners customs",
                                               "name": "customs scanners"})
    assert added.status_code == 303
    config = load_config(web.config.path)  # type: ignore[arg-type]
    [watch] = [w for w in config.watches if w.name == "customs scanners"]
    assert watch.keywords == ("scanners",) and watch.rule is not None
    assert watch.rule.all == ("customs",)
    refused = client.post("/search/watch", data={"csrf": token, "q": "scan*"})
    assert refused.status_code == 400 and "prefixes" in refused.text


# -- feeds ---------------------------------------------------------------------------------


def test_an_atom_feed_per_watch_behind_a_revocable_token(web: Site, client: httpx.Client) -> None:
    token = csrf_of(client, "/feeds")
    client.post("/feeds", data={"csrf": token, "kind": "watch", "target": "Nuctech"})
    [feed] = client.get("/feeds.json").json()["feeds"]
    anonymous = httpx.get(web.url + feed["url"])
    assert anonymous.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(anonymous.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert sorted(titles) == ["Nuctech scanners for the Sarpi crossing",
                              "X-ray scanners for customs"]
    secret = feed["url"].split("/")[2].removesuffix(".atom")
    client.post(f"/feeds/{secret}/revoke", data={"csrf": token})
    assert httpx.get(web.url + feed["url"]).status_code == 404


# -- sources -----------------------------------------------------------------------------


def test_sources_show_health_and_test_source_runs_a_dry_crawl(
        site: TimedServer, state_dir: Path, write_config: Callable[..., Config]) -> None:
    site.expect_request("/feed.xml").respond_with_data(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        '<title>Nuctech wins</title><link>https://example.org/1</link><guid>1</guid>'
        '<description>Nuctech won the tender.</description></item></channel></rss>',
        content_type="application/rss+xml")
    config = write_config({"sources": [{"name": "wire", "kind": "feed",
                                        "url": site.url_for("/feed.xml")}],
                           "watches": WATCHES})
    with Served(create_app(config, state_dir)) as url, httpx.Client(base_url=url) as c:
        assert "wire" in c.get("/sources").text
        token = csrf_of(c, "/sources")
        tested = c.post("/sources/wire/test", data={"csrf": token}, timeout=120)
        assert tested.status_code == 200, tested.text
        assert "test-source wire" in tested.text and "Nuctech wins" in tested.text
    with open_store(state_dir) as store:
        assert store.count("items") == 0  # a dry run stores nothing


# -- access ------------------------------------------------------------------------------


def test_with_users_pages_need_a_login_and_readers_cannot_change_anything(
        state_dir: Path, write_config: Callable[..., Config]) -> None:
    config = write_config({"watches": WATCHES})
    items, _ = fill(state_dir, config)
    add_user(state_dir, "nino", "correct horse", "editor")
    add_user(state_dir, "guest", "guest password", "reader")
    with Served(create_app(config, state_dir)) as url:
        with httpx.Client(base_url=url) as anonymous:
            first = anonymous.get("/findings?watch=Huawei")
            assert first.status_code == 303
            assert first.headers["location"] == "/login?next=%2Ffindings%3Fwatch%3DHuawei"
            assert anonymous.get("/findings.json").status_code == 401
            token = csrf_of(anonymous, "/login")
            wrong = anonymous.post("/login", data={"csrf": token, "name": "nino",
                                                   "password": "wrong one"})
            assert wrong.status_code == 401 and "wrong password" in wrong.text
            away = anonymous.post("/login", data={"csrf": token, "name": "nino",
                                                  "password": "correct horse",
                                                  "next": "https://evil.example/"})
            assert away.headers["location"] == "/findings"  # never another site
        with httpx.Client(base_url=url) as reader:
            token = csrf_of(reader, "/login")
            reader.post("/login", data={"csrf": token, "name": "guest",
                                        "password": "guest password"})
            assert reader.get("/findings").status_code == 200
            item_id = next(iter(items.values()))
            page = reader.get(f"/articles/{item_id}").text
            assert "Not relevant" not in page  # no triage buttons for a reader
            refused = reader.post(f"/triage/article/{item_id}",
                                  data={"csrf": csrf_of(reader, "/findings"),
                                        "state": "relevant"})
            assert refused.status_code == 403 and "may look but not change" in refused.text
            reader.post("/logout", data={"csrf": csrf_of(reader)})
            assert reader.get("/findings").status_code == 303
    users_file = state_dir / "web" / "users.yaml"
    assert "correct horse" not in users_file.read_text() and "$argon2id$" in users_file.read_text()
    assert oct(users_file.stat().st_mode & 0o777) == "0o600"


def test_it_refuses_a_network_address_without_users(state_dir: Path) -> None:
    check_can_serve(state_dir, "127.0.0.1")
    with pytest.raises(WebError, match="refusing to listen on 0.0.0.0 without users"):
        check_can_serve(state_dir, "0.0.0.0")
    add_user(state_dir, "nino", "correct horse")
    check_can_serve(state_dir, "0.0.0.0")


def test_web_adduser_from_stdin_and_the_commands_help(
        state_dir: Path, write_config: Callable[..., Config]) -> None:
    config = write_config({"watches": WATCHES})
    runner = CliRunner()
    base = ["--config", str(config.path), "--state", str(state_dir), "web"]
    added = runner.invoke(cli, [*base, "adduser", "nino", "--role", "reader",
                                "--password-stdin"], input="long enough\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(cli, [*base, "users"]).output == "nino\treader\n"
    short = runner.invoke(cli, [*base, "adduser", "x", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    refused = runner.invoke(cli, [*base, "--host", "0.0.0.0", "deluser", "nino"])
    assert refused.exit_code == 0
    served = runner.invoke(cli, [*base, "--host", "0.0.0.0"])
    assert served.exit_code == 2 and "refusing to listen on 0.0.0.0" in served.output
    for command in ([], ["adduser"], ["deluser"], ["users"]):
        assert "Example:" in runner.invoke(cli, [*base, *command, "--help"]).output


def test_an_atom_feed_of_a_saved_search_links_to_its_findings(
        web: Site, client: httpx.Client) -> None:
    token = csrf_of(client, "/feeds")
    client.post("/feeds", data={"csrf": token, "kind": "search", "target": "华为 OR ჰუავეი"})
    [feed] = client.get("/feeds.json").json()["feeds"]
    root = ET.fromstring(httpx.get(web.url + feed["url"]).content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = sorted(e.find("a:link", ns).get("href")  # type: ignore[union-attr]
                   for e in root.findall("a:entry", ns))
    assert links == sorted(f"{web.url}/articles/{web.items[t]}"
                           for t in ("华为公司中标", "ჰუავეი და საქართველო"))
    refused = client.post("/feeds", data={"csrf": token, "kind": "search", "target": '"x'})
    assert refused.status_code == 400


def test_an_article_says_which_of_its_blocks_are_the_sites_furniture(
        web: Site, client: httpx.Client) -> None:
    from monitor.furniture import Learner

    footer = "Follow Civil Georgia on Facebook and on Hikvision’s smart screens"
    learner = Learner("civil_ge")
    with open_store(web.state) as store:
        for n, day in enumerate(("2026-11-10", "2026-11-11", "2026-11-12")):
            item = Item(source="civil_ge", key=f"f{n}", url=f"https://civil_ge.example/f{n}",
                        title=f"Story {n}", text=f"Story number {'xyz'[n]}.\n{footer}",
                        published_at=f"{day}T08:00:00+00:00", content_hash=f"f{n}")
            store.add(item, [], furniture=learner.learn(item))
    item_id = web.items["Nuctech scanners for the Sarpi crossing"]
    with open_store(web.state) as store:
        item = store.item(item_id)
        assert item is not None
        store.add(replace(item, text=f"{item.text}\n{footer}", content_hash="v3"), [])
    html = client.get(f"/articles/{item_id}").text
    assert "Left out of matching as this site's furniture (1)" in html
    assert ("“Hikvision” (body): dropped as this site&#39;s furniture (seen on 3 of its pages)"
            in html)
    data = client.get(f"/articles/{item_id}.json").json()
    assert [(b["text"], b["pages"]) for b in data["furniture"]] == [(footer, 3)]
    assert data["on_page"]["Hikvision"]["places"] == ["furniture"]
