"""From a sources.yaml written as a user would, through `monitor crawl` against a local site,
to `monitor digest` and a parsed email at a real SMTP server: the SMTP server is down first
(the digest stays queued), then up (exactly one email), and hostile titles are escaped."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli
from monitor.store import open_store

CONFIG = """\
# an investigator's config
sources:
  - name: observer
    kind: feed
    url: {base}/feed.xml
    follow_links: true
  - name: wire
    kind: page
    url: {base}/wire/index.html
    selectors:
      links: "a.story"
      title: "h1"
      body: "div.text"
  - name: dead
    kind: feed
    url: {base}/dead.xml
watches:
  - name: Nuctech
    aliases: [Нуктек, ნუქტექი]
    priority: high
  - name: Hikvision
    aliases: [Хиквижн]
recipients:
  - email: desk@example.org
smtp:
  host: 127.0.0.1
  port: {smtp_port}
  security: none
  sender: monitor@example.org
crawl:
  delay: 0
  retries: 0
  timeout: 5
"""

HOSTILE = 'Nuctech & "partners": 1 < 2 > 0 &lt;img src=x onerror=alert(1)&gt;'

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Observer</title><link>{base}/</link><description>d</description>
<item><title>{title}</title><link>{base}/a/1.html</link><guid>obs-1</guid>
<pubDate>Sat, 21 Nov 2026 09:00:00 +0400</pubDate><description>x</description></item>
</channel></rss>"""

ARTICLE = """<html><head><title>t</title></head><body><nav>Hikvision Hikvision</nav>
<article><h1>Scanners</h1><p>The Revenue Service signed with Nuctech for four scanners at the
Sarpi crossing, the procurement portal shows. The contract is worth 3.2 million lari and runs
until 2028, with maintenance included.</p><p>Опубликовано также на русском: Нуктек.</p>
</article><aside>Popular: Hikvision cameras</aside></body></html>"""

WIRE = """<html><body><h1>Хиквижн поставит камеры</h1><div class="text"><p>МВД закупит камеры
Хиквижн.</p></div><div class="sidebar">Nuctech</div></body></html>"""


def serve(site) -> str:  # type: ignore[no-untyped-def]
    base = site.url_for("").rstrip("/")
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    site.expect_request("/feed.xml").respond_with_data(
        FEED.format(base=base, title=escaped), content_type="application/rss+xml")
    site.expect_request("/a/1.html").respond_with_data(ARTICLE, content_type="text/html")
    site.expect_request("/wire/index.html").respond_with_data(
        '<a class="story" href="/wire/1.html">1</a>', content_type="text/html")
    site.expect_request("/wire/1.html").respond_with_data(
        WIRE, content_type="text/html; charset=utf-8")
    site.expect_request("/dead.xml").respond_with_data("down", status=503)
    return base


def test_sources_yaml_to_parsed_email(site, smtp_down, tmp_path: Path):
    base = serve(site)
    config = tmp_path / "sources.yaml"
    config.write_text(CONFIG.format(base=base, smtp_port=smtp_down.port), "utf-8")
    state = tmp_path / "state"
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, ["--config", str(config), "--state", str(state), *args])

    crawled = run("crawl")
    assert crawled.exit_code == 0, crawled.output
    assert "dead: HTTP 503" in crawled.output

    again = json.loads(run("crawl", "--json").output)["results"]
    assert {r["source"]: (r["new_items"], r["new_matches"]) for r in again
            if r["status"] == "ok"} == {"observer": (0, 0), "wire": (0, 0)}

    down = run("digest")
    assert down.exit_code == 1
    assert "kept in the outbox" in down.output
    assert smtp_down.messages == []
    stuck = run("digest")  # nothing new, but not a quiet day: the digest is stuck
    assert stuck.exit_code == 1
    assert "but earlier digests are stuck (below)" in stuck.output
    assert "1 digest(s) stuck in the outbox, the oldest #1 to desk@example.org" in stuck.output
    assert "ConnectionRefusedError" in stuck.output

    smtp_down.start()
    up = run("digest")
    assert up.exit_code == 0, up.output
    assert len(smtp_down.messages) == 1
    assert run("digest").exit_code == 0
    assert len(smtp_down.messages) == 1  # nothing sent twice

    message = smtp_down.messages[0]
    assert message["Subject"] == "monitor: 2 new (Nuctech 1, Hikvision 1)"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "dead" in part  # coverage names the failing source
        assert "HTTP 503" in part
    assert "Хиквижн поставит камеры" in text
    assert 'Nuctech & "partners": 1 < 2 > 0' in text
    assert "Nuctech &amp; &#34;partners&#34;: 1 &lt; 2 &gt; 0" in html or \
        "Nuctech &amp; &quot;partners&quot;: 1 &lt; 2 &gt; 0" in html
    assert "<img" not in html and "1 < 2" not in html
    # the sidebar and navigation never match
    assert text.count("Hikvision") <= 2


# -- a procurement portal ---------------------------------------------------------------------

PORTAL_CONFIG = """\
sources:
  - name: spa_ocds
    kind: portal
    portal: ocds
    url: {base}/api/releases.json
watches:
  - name: Nuctech
    aliases: [Нуктек, ნუქტექი]
    ids: ["GE-NAPR:404409497"]
recipients:
  - email: desk@example.org
smtp:
  host: 127.0.0.1
  port: {smtp_port}
  security: none
  sender: monitor@example.org
crawl:
  delay: 0
  retries: 0
  timeout: 5
"""

REVENUE = {"id": "GE-NAPR-204412345", "name": "შემოსავლების სამსახური", "roles": ["buyer"],
           "identifier": {"scheme": "GE-NAPR", "id": "204412345"}}
NUCTECH = {"id": "GE-NAPR-404409497", "name": "შპს ნუქტექ ჯორჯია",
           "identifier": {"scheme": "GE-NAPR", "id": "404409497"}}
SCAN = {"id": "GE-NAPR-205001234", "name": "შპს სმარტ სკანი",
        "identifier": {"scheme": "GE-NAPR", "id": "205001234"}}


def _tender_release(ocid: str, title: str, amount: float, tenderers: list[dict]) -> dict:
    return {
        "ocid": ocid, "id": f"{ocid}-tender", "date": "2026-11-02T10:00:00+04:00",
        "tag": ["tender"], "initiationType": "tender",
        "parties": [REVENUE, *[{**t, "roles": ["tenderer"]} for t in tenderers]],
        "buyer": {"id": REVENUE["id"], "name": REVENUE["name"]},
        "tender": {"id": ocid.rsplit("-", 1)[-1], "title": title, "status": "active",
                   "value": {"amount": amount, "currency": "GEL"},
                   "tenderers": [{"id": t["id"], "name": t["name"]} for t in tenderers],
                   "tenderPeriod": {"endDate": "2026-11-20T18:00:00+04:00"}},
    }


def _award_release(ocid: str, winner: dict, amount: float) -> dict:
    return {
        "ocid": ocid, "id": f"{ocid}-award", "date": "2026-11-22T12:00:00+04:00",
        "tag": ["award"], "initiationType": "tender",
        "parties": [{**winner, "roles": ["supplier"]}],
        "tender": {"status": "complete"},
        "awards": [{"id": "1", "status": "active", "date": "2026-11-22T12:00:00+04:00",
                    "value": {"amount": amount, "currency": "GEL"},
                    "suppliers": [{"id": winner["id"], "name": winner["name"]}]}],
    }


def _package(base: str, releases: list[dict]) -> dict:
    return {"uri": f"{base}/api/releases.json", "version": "1.1",
            "publishedDate": "2026-11-22T13:00:00Z", "publisher": {"name": "SPA"},
            "releases": releases, "links": {}}


def _ocds_portal(site, smtp_server, tmp_path: Path, config_text: str,  # type: ignore[no-untyped-def]
                 pages: dict) -> object:
    """An OCDS API on the local site that serves `pages["body"]` (a test changes it between
    crawls), a config for it, and `run(*args)`: the CLI on that config, asserted to succeed."""
    def handler(request):  # type: ignore[no-untyped-def]
        from werkzeug import Response

        return Response(json.dumps(pages["body"], ensure_ascii=False),
                        content_type="application/json")

    site.expect_request("/api/releases.json").respond_with_handler(handler)
    base = site.url_for("").rstrip("/")
    config = tmp_path / "sources.yaml"
    config.write_text(config_text.format(base=base, smtp_port=smtp_server.port), "utf-8")
    state = tmp_path / "state"
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, ["--config", str(config), "--state", str(state), *args])
        assert result.exit_code == 0, result.output
        return result

    return run


def test_portal_tender_announced_then_awarded_gives_one_event_and_one_email_entry(
        site, smtp_server, tmp_path: Path):


    base = site.url_for("").rstrip("/")
    scanners = "ocds-a1b2c3-NAT260012345"
    cameras = "ocds-a1b2c3-NAT260012399"
    announced = [
        _tender_release(scanners, "რენტგენის სკანერების შესყიდვა", 2_100_000, [NUCTECH, SCAN]),
        _tender_release(cameras, "ვიდეოკამერების შესყიდვა", 480_000, [NUCTECH, SCAN]),
    ]
    awarded = [*announced, _award_release(scanners, NUCTECH, 3_200_000),
               _award_release(cameras, SCAN, 455_000)]
    pages = {"body": _package(base, announced)}
    run = _ocds_portal(site, smtp_server, tmp_path, PORTAL_CONFIG, pages)
    state = tmp_path / "state"

    # first run: the baseline, stored and not alerted
    [baseline] = json.loads(run("crawl", "--json").output)["results"]
    assert (baseline["status"], baseline["new_items"], baseline["new_matches"]) == ("ok", 2, 0)
    run("digest")
    assert smtp_server.messages == []

    pages["body"] = _package(base, awarded)
    run("crawl")
    run("crawl")  # nothing new the second time
    with open_store(state) as store:
        events = [(e.native_id, e.kind) for e in store.tender_events()
                  if e.kind == "awarded"]
    assert sorted(events) == [(scanners, "awarded"), (cameras, "awarded")]

    run("digest")
    run("digest")
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["Subject"] == "monitor: 2 new (Nuctech 2)"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.count("* TENDER ") == 2
    assert "Nuctech won" in text
    assert "> awarded to შპს ნუქტექ ჯორჯია (GE-NAPR:404409497)" in text
    assert "> value 2.1 M -> 3.2 M GEL" not in text  # the estimate did not change
    assert "awarded 3.2 M GEL" in text
    assert "Nuctech bid and lost (awarded to შპს სმარტ სკანი (GE-NAPR:205001234))" in text
    assert "buyer: შემოსავლების სამსახური (GE-NAPR:204412345)" in text
    assert "Nuctech won</strong>" in html and "bid and lost</strong>" in html


ALERT_CONFIG = PORTAL_CONFIG.replace('''    ids: ["GE-NAPR:404409497"]
recipients:
  - email: desk@example.org
''', '''    ids: ["GE-NAPR:404409497"]
    alert: immediate
    on: [awarded, winner_changed]
recipients:
  - email: desk@example.org
    notify: ['{notify_url}']
web:
  public_url: https://monitor.example.org
''')


def test_an_award_to_a_watched_company_alerts_at_the_crawls_end_once_then_the_digest_knows(
        site, smtp_server, notify_sink, tmp_path: Path):
    """`monitor crawl` by hand: the baseline alerts nobody; the awards alert at once, on the
    JSON webhook and by email, once each; the digest then tells them as already alerted."""
    base = site.url_for("").rstrip("/")
    scanners = "ocds-a1b2c3-NAT260012345"
    cameras = "ocds-a1b2c3-NAT260012399"
    announced = [
        _tender_release(scanners, "რენტგენის სკანერების შესყიდვა", 2_100_000, [NUCTECH, SCAN]),
        _tender_release(cameras, "ვიდეოკამერების შესყიდვა", 480_000, [NUCTECH, SCAN]),
    ]
    pages = {"body": _package(base, announced)}
    config = ALERT_CONFIG.replace("{notify_url}", notify_sink.url())
    run = _ocds_portal(site, smtp_server, tmp_path, config, pages)

    run("crawl")
    assert notify_sink.messages == [] and smtp_server.messages == []

    pages["body"] = _package(base, [*announced, _award_release(scanners, NUCTECH, 3_200_000),
                                    _award_release(cameras, SCAN, 455_000)])
    crawled = run("crawl")
    assert f"Alert for desk@example.org: Nuctech won: {scanners}" in crawled.output
    run("crawl")  # nothing new: nothing sent again
    titles = sorted(m["title"] for m in notify_sink.messages)
    assert titles == [f"Nuctech bid and lost: {cameras} ვიდეოკამერების შესყიდვა",
                      f"Nuctech won: {scanners} რენტგენის სკანერების შესყიდვა"]
    won = next(m["message"] for m in notify_sink.messages if "won" in m["title"])
    assert "awarded to შპს ნუქტექ ჯორჯია (GE-NAPR:404409497)" in won
    with open_store(tmp_path / "state") as store:
        tender_id = next(t.id for t in store.tenders() if t.native_id == scanners)
    assert won.endswith(f"https://monitor.example.org/tenders/{tender_id}")
    assert sorted(m["Subject"] for m in smtp_server.messages) == [
        f"monitor alert: {t}" for t in titles]

    run("digest")
    digest = smtp_server.messages[-1]
    assert digest["Subject"] == "monitor: 0 new, 2 already alerted (Nuctech 2)"
    assert "already alerted" in digest.get_body(("plain",)).get_content()
    run("crawl")
    assert len(notify_sink.messages) == 2 and len(smtp_server.messages) == 3


def test_portal_backfill_with_since_reports_on_the_first_run(site, smtp_server, tmp_path: Path):


    base = site.url_for("").rstrip("/")
    scanners = "ocds-a1b2c3-NAT260012345"
    old = _tender_release("ocds-a1b2c3-NAT190000001", "ძველი ტენდერი", 10_000, [NUCTECH])
    old["date"] = "2019-01-10T10:00:00+04:00"
    releases = [old, _tender_release(scanners, "სკანერები", 2_100_000, [NUCTECH, SCAN]),
                _award_release(scanners, NUCTECH, 3_200_000)]
    site.expect_request("/api/releases.json").respond_with_data(
        json.dumps(_package(base, releases)), content_type="application/json")
    config = tmp_path / "sources.yaml"
    config.write_text(PORTAL_CONFIG.replace("watches:", f"""\
  - name: news
    kind: feed
    url: {base}/feed.xml
watches:""").format(base=base, smtp_port=smtp_server.port), "utf-8")
    state = tmp_path / "state"
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, ["--config", str(config), "--state", str(state), *args])

    mixed = run("crawl", "news", "spa_ocds", "--since", "2026-11-01")
    assert mixed.exit_code == 1
    assert "--since 2026-11-01: only portal sources take a backfill date; not news" in mixed.output
    bad = run("crawl", "spa_ocds", "--since", "1 Nov")
    assert bad.exit_code == 2 and "'1 Nov' does not match the format '%Y-%m-%d'" in bad.output

    # without names, --since backfills every portal source (the feed is left alone)
    done = run("crawl", "--since", "2026-11-01", "--json")
    assert done.exit_code == 0, done.output
    [result] = json.loads(done.output)["results"]
    # as the winner, by name (ნუქტექ, the bare Georgian stem) and by registry id
    assert (result["source"], result["new_matches"]) == ("spa_ocds", 2)
    with open_store(state) as store:
        assert [t.native_id for t in store.tenders()] == [scanners]  # 2019 left out
        assert [e.kind for e in store.tender_events()] == ["awarded"]
    assert run("digest").exit_code == 0
    [message] = smtp_server.messages
    text = message.get_body(("plain",)).get_content()
    assert "> awarded to შპს ნუქტექ ჯორჯია (GE-NAPR:404409497)" in text
    # old records found on request are not news of the day: the subject says so
    assert message["Subject"].startswith("monitor (backfill since 2026-11-01): 1 new")
    assert "This digest includes a BACKFILL: records since 2026-11-01" in text


FLAGS_CONFIG = PORTAL_CONFIG.replace("""watches:
  - name: Nuctech
    aliases: [Нуктек, ნუქტექი]
    ids: ["GE-NAPR:404409497"]
""", """watches:
  - name: Revenue Service
    match_name: false
    ids: ["GE-NAPR:204412345"]
    flags: [single_bid, short_period]
""")


def test_a_single_bid_award_to_a_watched_buyer_reaches_the_digest_with_its_numbers(
        site, smtp_server, tmp_path: Path):
    """A buyer watch with `flags:` hears of the buyer's award that carries them (one bid,
    a 6-day submission period), with the numbers, and not of one that does not."""
    base = site.url_for("").rstrip("/")
    scanners = "ocds-a1b2c3-NAT260012345"
    cameras = "ocds-a1b2c3-NAT260012399"
    announced = [
        _tender_release(scanners, "რენტგენის სკანერების შესყიდვა", 2_100_000, [NUCTECH]),
        _tender_release(cameras, "ვიდეოკამერების შესყიდვა", 480_000, [NUCTECH, SCAN]),
    ]
    for release in announced:
        release["tender"].update(procurementMethod="open")
    announced[0]["tender"]["tenderPeriod"]["startDate"] = "2026-11-14T18:00:00+04:00"
    announced[1]["tender"]["tenderPeriod"]["startDate"] = "2026-10-20T18:00:00+04:00"
    bids = {
        scanners: [(NUCTECH, 2_050_000)],
        cameras: [(NUCTECH, 470_000), (SCAN, 455_000)],
    }
    awarded = [*announced, _award_release(scanners, NUCTECH, 2_050_000),
               _award_release(cameras, SCAN, 455_000)]
    for release in awarded[2:]:
        release["bids"] = {"details": [
            {"id": str(i), "status": "valid", "date": "2026-11-19T10:00:00+04:00",
             "value": {"amount": amount, "currency": "GEL"},
             "tenderers": [{"id": who["id"], "name": who["name"]}]}
            for i, (who, amount) in enumerate(bids[release["ocid"]])]}
    pages = {"body": _package(base, announced)}
    run = _ocds_portal(site, smtp_server, tmp_path, FLAGS_CONFIG, pages)

    run("crawl")  # the baseline: announced, nothing to report
    run("digest")
    assert smtp_server.messages == []

    pages["body"] = _package(base, awarded)
    run("crawl")
    run("digest")
    [message] = smtp_server.messages
    assert message["Subject"] == "monitor: 1 new (Revenue Service 1)"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.count("* TENDER ") == 1
    assert "რენტგენის სკანერების შესყიდვა" in text and "ვიდეოკამერების" not in text
    assert "RED FLAGS: single bid; submission period 6 days (threshold 15)" in text
    assert "<strong>Red flags:</strong> single bid; submission period 6 days" in html

    flags = run("flags", "--json")
    listed = json.loads(flags.output)
    assert [(t["native_id"], t["rule"]) for t in listed] == [
        (scanners, "single_bid"), (scanners, "short_period")]
    assert "single bid" in run("explain", "--tender", scanners).output
