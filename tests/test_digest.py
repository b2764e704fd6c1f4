"""build_digest over a real Store, and the text/HTML renderings."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Config, Recipient
from monitor.digest import (
    CoverageLine,
    Digest,
    DigestEntry,
    Finding,
    WatchSection,
    build_digest,
    render_html,
    render_text,
)
from monitor.health import HealthNotice
from monitor.match import Matcher, match_tender
from monitor.models import Item, Organisation, RunResult, RunStatus, ScrapedItem, TenderRecord
from monitor.normalise import content_hash, normalise
from monitor.store import Store
from monitor.tender import normalise_tender, record_tender

SNAPSHOTS = Path(__file__).parent / "snapshots"

WATCHES: list[dict[str, Any]] = [
    {"name": "Nuctech", "aliases": ["Нуктек", "ნუქტექი"], "tags": ["china"], "priority": "high",
     "ids": ["GE-NAPR:404409497"]},
    {"name": "Hikvision", "aliases": ["Хиквижн"], "tags": ["china", "cctv"]},
    {"name": "Anaklia port", "keywords": ["Anaklia"], "priority": "low"},
]

HOSTILE_TITLE = '<script>alert(1)</script> & "quotes" Nuctech'


@pytest.fixture
def config(write_config: Callable[..., Config]) -> Config:
    return write_config(
        {
            "watches": WATCHES,
            "recipients": [
                {"email": "all@example.org"},
                {"email": "china@example.org", "tags": ["cctv"]},
                {"email": "port@example.org", "watches": ["Anaklia port"]},
            ],
            "digest": {"subject_prefix": "watch"},
        }
    )


def add(
    store: Store,
    config: Config,
    *,
    source: str = "civil_ge",
    url: str,
    title: str = "",
    body: str = "",
    published: str | None = None,
    run_id: int | None = None,
) -> int:
    item = normalise(
        ScrapedItem(source=source, url=url, title=title, body=body, published=published)
    )
    return store_item(store, config, item, run_id)


def store_item(store: Store, config: Config, item: Item, run_id: int | None = None) -> int:
    matches = Matcher(config.watches).match(item)
    assert matches, f"fixture item matches nothing: {item.title!r}"
    return store.add(item, matches, run_id).item_id


def run(
    store: Store, source: str, status: RunStatus, error: str | None = None, **counts: int
) -> None:
    run_id = store.start_run(source)
    store.finish_run(run_id, RunResult(source=source, status=status, error=error, **counts))


def recipient(config: Config, email: str) -> Recipient:
    return next(r for r in config.recipients if r.email == email)


def test_build_digest_groups_one_item_into_one_entry_title_first(
    store: Store, config: Config
) -> None:
    add(
        store,
        config,
        url="https://civil.ge/archives/1",
        title="Scanner deal goes to Nuctech",
        body="The ministry signed with Нуктек. Later, ნუქტექი delivered.",
        published="2024-05-01T10:00:00Z",
    )

    digest = build_digest(store, config, recipient(config, "all@example.org"))

    assert [s.watch for s in digest.sections] == ["Nuctech"]
    (entry,) = digest.sections[0].entries
    assert [f.field for f in entry.findings] == ["title", "body", "body"]
    assert [f.found for f in entry.findings] == ["Nuctech", "Нуктек", "ნუქტექი"]
    assert len(entry.match_ids) == 3
    assert digest.findings_count == 1
    assert sorted(digest.match_ids) == sorted(entry.match_ids)


def test_build_digest_orders_by_priority_name_then_newest(store: Store, config: Config) -> None:
    add(store, config, url="https://a.ge/1", title="Anaklia port news", published="2024-01-01")
    add(store, config, url="https://a.ge/2", title="Hikvision old", published="2024-01-02")
    add(store, config, url="https://a.ge/3", title="Hikvision newer", published="2024-03-02")
    # no date: sorted by when it was first seen (now), so newest
    add(store, config, url="https://a.ge/4", title="Hikvision undated")
    add(store, config, url="https://a.ge/5", title="Nuctech", published="2023-01-01")

    digest = build_digest(store, config, recipient(config, "all@example.org"))

    assert [(s.watch, s.priority) for s in digest.sections] == [
        ("Nuctech", "high"),
        ("Hikvision", "normal"),
        ("Anaklia port", "low"),
    ]
    assert [e.title for e in digest.sections[1].entries] == [
        "Hikvision undated",
        "Hikvision newer",
        "Hikvision old",
    ]
    assert digest.subject == "watch: 5 new (Nuctech 1, Hikvision 3, Anaklia port 1)"


def test_build_digest_item_matching_two_watches_is_one_entry_naming_both(
    store: Store, config: Config
) -> None:
    add(store, config, url="https://a.ge/1", title="Nuctech and Hikvision at the border")

    digest = build_digest(store, config, recipient(config, "all@example.org"))

    # one finding, one entry: under the first watch, naming the other
    assert [s.watch for s in digest.sections] == ["Nuctech"]
    [entry] = digest.entries
    assert [str(w) for w in entry.other_watches] == ["Hikvision (in title: “Hikvision”)"]
    assert [(f.watch, f.found) for f in entry.findings] == [
        (None, "Nuctech"), ("Hikvision", "Hikvision")]
    assert digest.findings_count == 1
    assert digest.subject == "watch: 1 new (Nuctech 1)"
    # both watches' matches are delivered with it
    assert len(digest.match_ids) == 2
    text = render_text(digest)
    assert "\n  also about: Hikvision (in title: “Hikvision”)\n  https://a.ge/1\n" in text
    assert "[Hikvision] in title" in text


def test_build_digest_coverage_counts_what_the_digest_shows(store: Store, config: Config) -> None:
    """A match stored by a run that finished before the window (or told late) is counted
    where it is shown, not as "0 new matches" above it."""
    add(store, config, url="https://a.ge/1", title="Nuctech scanners")
    add(store, config, url="https://a.ge/2", title="Hikvision cameras")
    run(store, "civil_ge", "ok", fetched=2, new_items=0, new_matches=0)

    digest = build_digest(store, config, recipient(config, "all@example.org"))

    assert {line.source: line.findings for line in digest.coverage} == {"civil_ge": 2}
    assert "0 new items, 2 in this digest" in render_text(digest)


def test_build_digest_filters_watches_by_recipient(store: Store, config: Config) -> None:
    add(store, config, url="https://a.ge/1", title="Nuctech scanners")
    add(store, config, url="https://a.ge/2", title="Hikvision cameras")
    add(store, config, url="https://a.ge/3", title="Anaklia deep sea port")

    def watches(email: str) -> list[str]:
        return [s.watch for s in build_digest(store, config, recipient(config, email)).sections]

    assert watches("all@example.org") == ["Nuctech", "Hikvision", "Anaklia port"]
    assert watches("china@example.org") == ["Hikvision"]  # by tag
    assert watches("port@example.org") == ["Anaklia port"]  # by name


def test_build_digest_coverage_lists_failing_sources_first_with_error(
    store: Store, config: Config
) -> None:
    run(store, "civil_ge", "ok", fetched=12, new_items=3, new_matches=1)
    run(store, "civil_ge", "ok", fetched=10)
    run(store, "oc_media", "error", error="HTTP 503 from https://oc-media.org/feed/")
    run(store, "oc_media", "timeout", error="killed after 600 s")
    run(store, "eurasianet", "error", error="DNS lookup failed")
    run(store, "eurasianet", "ok", fetched=4)
    run(store, "prozorro", "partial", error="2 pages failed", fetched=40)

    digest = build_digest(store, config, recipient(config, "all@example.org"))

    by_source = {line.source: line for line in digest.coverage}
    assert [line.source for line in digest.coverage] == [
        "oc_media",  # failing
        "eurasianet",  # recovered
        "civil_ge",
        "prozorro",
    ]
    assert by_source["oc_media"] == CoverageLine(
        source="oc_media",
        runs=2,
        failed=2,
        last_status="timeout",
        last_error="killed after 600 s",
        fetched=0,
        new_items=0,
        new_matches=0,
        seconds=0.0,
    )
    assert by_source["civil_ge"].runs == 2 and by_source["civil_ge"].fetched == 22
    assert by_source["eurasianet"].recovered and not by_source["eurasianet"].failing
    assert not by_source["prozorro"].failing
    assert [line.source for line in digest.failed_sources] == ["oc_media"]
    # two failed runs are not yet a failing source (failing_after: 3): no news on their own
    assert digest.health == ()
    assert digest.is_empty
    assert digest.subject == "watch: nothing new"

    text = render_text(digest)
    assert "FAILED     oc_media: last run timeout, 2 of 2 runs failed" in text
    assert "killed after 600 s" in text
    assert "recovered  eurasianet" in text and "DNS lookup failed" in text
    assert text.index("oc_media") < text.index("civil_ge")
    html = render_html(digest)
    assert "oc_media" in html and "killed after 600 s" in html
    assert "Nothing new for your watch list." in html


def test_build_digest_coverage_only_since_last_digest(store: Store, config: Config) -> None:
    run(store, "oc_media", "error", error="old failure")
    later = datetime.now(UTC) + timedelta(seconds=5)
    store.mark_digest("all@example.org", later.replace(microsecond=0).isoformat())

    digest = build_digest(
        store, config, recipient(config, "all@example.org"), now=later + timedelta(hours=1)
    )

    assert digest.coverage == ()
    assert digest.is_empty
    assert "nothing was checked" in render_text(digest)


def test_build_digest_subject_counts_sources_needing_attention(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = health_config(write_config, ["a_site", "b_site", "c_site"], failing_after=1)
    run(store, "a_site", "error", error="boom")
    run(store, "b_site", "timeout", error="killed")
    run(store, "c_site", "interrupted", error="SIGTERM")  # the operator's doing, not c_site's

    digest = build_digest(store, config, config.recipients[0])

    assert [(n.source, n.health) for n in digest.health] == [
        ("a_site", "failing"), ("b_site", "failing")
    ]
    assert digest.subject == "watch: nothing new; 2 sources need attention"


def test_build_digest_empty(store: Store, config: Config) -> None:
    run(store, "civil_ge", "ok", fetched=5)

    digest = build_digest(store, config, recipient(config, "all@example.org"))

    assert digest.sections == ()
    assert digest.is_empty
    assert digest.findings_count == 0 and digest.match_ids == ()
    assert digest.subject == "watch: nothing new"
    assert "Nothing new for your watch list." in render_text(digest)


def test_build_digest_first_digest_only_covers_last_seven_days(
    store: Store, config: Config
) -> None:
    add(store, config, url="https://a.ge/old", title="Nuctech old news")
    add(store, config, url="https://a.ge/new", title="Nuctech new news")
    old = (datetime.now(UTC) - timedelta(days=30)).replace(microsecond=0).isoformat()
    store.db.conn.execute(
        "UPDATE matches SET matched_at = ? WHERE item_id = "
        "(SELECT id FROM items WHERE url = 'https://a.ge/old')",
        (old,),
    )
    email = "all@example.org"

    first = build_digest(store, config, recipient(config, email))
    assert [e.title for e in first.entries] == ["Nuctech new news"]
    assert first.since is None
    assert "first digest: findings of the last 7 days" in render_text(first)

    # a recipient who had a digest before gets everything not yet delivered
    store.mark_digest(email, (datetime.now(UTC) - timedelta(days=60)).isoformat())
    later = build_digest(store, config, recipient(config, email))
    assert sorted(e.title for e in later.entries) == ["Nuctech new news", "Nuctech old news"]


def test_build_digest_leaves_matches_after_now_for_the_next_digest(
    store: Store, config: Config
) -> None:
    add(store, config, url="https://a.ge/1", title="Nuctech")
    past = datetime.now(UTC) - timedelta(hours=1)
    who = recipient(config, "all@example.org")

    early = build_digest(store, config, who, now=past)
    assert early.is_empty
    store.queue_digest(recipient="all@example.org", subject=early.subject,
                       message_id="<early@monitor.local>", message=b"",
                       match_ids=early.match_ids, until=early.until, eml_path=None,
                       html_path=None, findings=early.findings_count)

    later = build_digest(store, config, who)
    assert later.since == early.until
    assert later.findings_count == 1 and not later.is_empty


def test_build_digest_skips_delivered_matches(store: Store, config: Config) -> None:
    add(store, config, url="https://a.ge/1", title="Nuctech")
    first = build_digest(store, config, recipient(config, "all@example.org"))
    store.queue_digest(
        recipient="all@example.org",
        subject=first.subject,
        message_id="<1@monitor.local>",
        message=b"",
        match_ids=first.match_ids,
        until=first.until,
        eml_path=None,
        html_path=None,
        findings=first.findings_count,
    )

    again = build_digest(store, config, recipient(config, "all@example.org"))
    other = build_digest(store, config, recipient(config, "port@example.org"))

    assert again.is_empty and again.since == first.until
    assert other.is_empty  # wants only Anaklia port


def test_render_html_escapes_hostile_crawled_strings(store: Store, config: Config) -> None:
    hostile_body = 'Body <img src=x onerror=alert(2)> says Hikvision & "more"'
    for url, title, body in [
        ("https://evil.example/a?x=1&y=\"><script>", HOSTILE_TITLE, hostile_body),
        ("javascript:alert(3)", "Nuctech javascript link", ""),
    ]:
        item = Item(
            source="evil_site",
            key=url,
            url=url,
            title=title,
            text=body,
            published_at=None,
            content_hash=content_hash(title, body),
        )
        store_item(store, config, item)
    digest = build_digest(store, config, recipient(config, "all@example.org"))

    html = render_html(digest)
    text = render_text(digest)

    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34; " in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert '<mark style="background:#ffe58a;color:#1f1f1f;padding:0 2px;">Nuctech</mark>' in html
    assert 'href="https://evil.example/a?x=1&amp;y=&#34;&gt;&lt;script&gt;"' in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert "javascript:alert(3)" in html  # shown, as text only
    # no external resources, no stylesheet (mail clients strip it)
    assert "src=" not in html.replace("&lt;img src=x", "")
    assert "<style" not in html and "<link" not in html
    # the text part carries the strings as they are
    assert HOSTILE_TITLE in text
    assert "[[Nuctech]]" in text and "[[Hikvision]]" in text


def test_render_shows_alias_when_page_spells_it_differently(store: Store, config: Config) -> None:
    add(store, config, url="https://a.ge/1", title="NUCTECH wins", body="Контракт с Нуктёк")
    digest = build_digest(store, config, recipient(config, "all@example.org"))

    text = render_text(digest)
    html = render_html(digest)

    # case alone is not a different spelling; ё for е is
    assert "in title: [[NUCTECH]] wins" in text
    assert 'in body, matched alias "Нуктек": Контракт с [[Нуктёк]]' in text
    assert "matched alias &ldquo;Нуктек&rdquo;:" in html


def test_finding_parts_with_offsets_outside_the_snippet_highlight_nothing() -> None:
    finding = Finding("Nuctech", "alias", "Nuctech", "body", "short", 3, 40)

    assert finding.parts == ("short", "", "")


def _snapshot_digest() -> Digest:
    entry = DigestEntry(
        watch="Nuctech",
        item_id=1,
        title='Customs buys scanners from <Nuctech> & "partners"',
        url="https://civil.ge/archives/600001?utm=x&y=1",
        source="civil_ge",
        published_at="2024-05-01T10:00:00+00:00",
        first_seen_at="2024-05-01T11:00:00+00:00",
        findings=(
            Finding("Nuctech", "alias", "Nuctech", "title", "…from <Nuctech> & …", 7, 14),
            Finding("ნუქტექი", "alias", "ნუქტექს", "body", "კონტრაქტი ნუქტექს გადაეცა", 10, 17),
        ),
        match_ids=(1, 2),
    )
    undated = DigestEntry(
        watch="Hikvision",
        item_id=2,
        title="Cameras",
        url="ftp://example.org/file",
        source="oc_media",
        published_at=None,
        first_seen_at="2024-05-02T08:30:00+00:00",
        findings=(Finding("Hikvision", "alias", "Hikvision", "body", "Hikvision cameras", 0, 9),),
        match_ids=(3,),
    )
    return Digest(
        recipient="ana@example.org",
        generated_at="2024-05-03T07:00:00+00:00",
        since="2024-05-02T07:00:00+00:00",
        until="2024-05-03T07:00:00+00:00",
        sections=(
            WatchSection("Nuctech", "high", (entry,)),
            WatchSection("Hikvision", "normal", (undated,)),
        ),
        coverage=(
            CoverageLine("oc_media", 3, 3, "error", "HTTP 503 <html>", 0, 0, 0, 12.5,
                         findings=1),
            CoverageLine("civil_ge", 3, 0, "ok", None, 25, 4, 2, 30.1, findings=1),
            CoverageLine("ipn", 1, 0, "ok", None, 0, 0, 0, 1.0),
        ),
        subject="monitor: 2 new (Nuctech 1, Hikvision 1)",
        health=(
            HealthNotice("oc_media", "failing", "HTTP 503 <html>", "2024-05-02T09:00:00+00:00",
                         "new", runs=3, last_success_at="2024-05-02T07:00:00+00:00"),
            HealthNotice("ipn", "suspect", None, "2024-04-20T07:00:00+00:00", "reminder",
                         runs=4, last_success_at="2024-05-03T06:00:00+00:00"),
            HealthNotice("eurasianet", "ok", None, None, "recovered",
                         last_success_at="2024-05-03T06:30:00+00:00"),
        ),
    )


@pytest.mark.parametrize(
    ("name", "render"), [("digest.txt", render_text), ("digest.html", render_html)]
)
def test_render_matches_snapshot(name: str, render: Callable[[Digest], str]) -> None:
    """Golden output; regenerate with MONITOR_UPDATE_SNAPSHOTS=1 after an intended change."""
    rendered = render(_snapshot_digest())
    path = SNAPSHOTS / name
    if os.environ.get("MONITOR_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


# -- source health in the digest ----------------------------------------------------------------


def health_config(
    write_config: Callable[..., Config], sources: list[str], **health: Any
) -> Config:
    """Sources named `name` or `name:schedule` (default: every 30 days, never stale here)."""
    return write_config(
        {
            "sources": [
                {"name": name, "kind": "feed", "url": f"https://{name}.example/feed",
                 "schedule": schedule or "every 30d"}
                for name, _, schedule in (source.partition(":") for source in sources)
            ],
            "watches": WATCHES,
            "recipients": [{"email": "ana@example.org"}],
            "digest": {"subject_prefix": "watch"},
            "health": health,
        }
    )


def queue(store: Store, digest: Digest) -> None:
    """Queue a digest as monitor.mail does: its notices recorded with it."""
    store.queue_digest(
        recipient=digest.recipient, subject=digest.subject,
        message_id=f"<{digest.until}-{len(store.outbox())}@monitor.local>", message=b"",
        match_ids=digest.match_ids, until=digest.until, eml_path=None, html_path=None,
        findings=digest.findings_count,
        health=[(n.source, n.recorded_health) for n in digest.health],
    )


def test_build_digest_needs_attention_names_unhealthy_sources_in_text_and_html(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = health_config(write_config, ["civil_ge", "oc_media", "fine_site", "ipn:every 1h"])
    add(store, config, url="https://a.ge/1", title="Nuctech")
    run(store, "civil_ge", "ok", items=4)
    for _ in range(3):
        run(store, "civil_ge", "error", error='HTTP 500 from https://civil.ge/<feed> & "x"')
    run(store, "oc_media", "ok", items=9)
    for _ in range(3):
        run(store, "oc_media", "ok", items=0)
    run(store, "fine_site", "ok", items=2)
    run(store, "ipn", "ok", items=2)
    since = store.recent_runs("civil_ge")[2].started_at

    digest = build_digest(store, config, config.recipients[0],
                          now=datetime.now(UTC) + timedelta(hours=3))

    assert [(n.source, n.health, n.kind) for n in digest.attention] == [
        ("civil_ge", "failing", "new"), ("oc_media", "suspect", "new"), ("ipn", "stale", "new"),
    ]
    assert digest.subject == "watch: 1 new (Nuctech 1)"  # findings lead the subject
    text, html = render_text(digest), render_html(digest)
    failing = (f"civil_ge is FAILING: 3 failed runs in a row since "
               f"{datetime.fromisoformat(since).strftime('%Y-%m-%d %H:%M')} UTC; last error: "
               'HTTP 500 from https://civil.ge/<feed> & "x"')
    suspect = ("oc_media is SUSPECT: its last 3 runs found no items (it used to find some): "
               "its layout may have changed")
    assert f"Needs attention:\n  ! {failing}\n  ! {suspect}\n  ! ipn is STALE: no completed run " \
           "since " in text
    assert "(schedule: every 1h)" in text
    assert text.index("Needs attention:") > text.index("== Coverage ==")
    assert text.index("Needs attention:") < text.index("FAILED     civil_ge")  # at the top
    assert "fine_site is" not in text
    assert "Needs attention</div>" in html
    assert failing.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&#34;") in html
    assert suspect in html and "ipn is STALE" in html
    assert "<feed>" not in html


def test_build_digest_recovered_is_said_once(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = health_config(write_config, ["civil_ge"], failing_after=1)
    email = config.recipients[0]
    run(store, "civil_ge", "error", error="HTTP 500")
    first = build_digest(store, config, email)
    assert first.subject == "watch: nothing new; 1 source needs attention"
    queue(store, first)
    run(store, "civil_ge", "ok", items=3)

    second = build_digest(store, config, email)
    third_before_queueing = build_digest(store, config, email)
    queue(store, second)
    third = build_digest(store, config, email)

    assert [(n.source, n.kind) for n in second.health] == [("civil_ge", "recovered")]
    assert second.subject == "watch: nothing new; 1 source recovered"
    assert not second.is_empty
    assert second.recoveries == second.health and second.attention == ()
    assert "Recovered:\n  + civil_ge has RECOVERED: it completed a run again at " in render_text(
        second)
    assert "civil_ge has RECOVERED" in render_html(second)
    assert third_before_queueing.health == second.health  # building alone records nothing
    assert third.health == () and third.is_empty


def test_build_digest_failing_source_named_again_only_after_remind_after_days(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = health_config(write_config, ["civil_ge"], failing_after=1, remind_after_days=7)
    email = config.recipients[0]
    run(store, "civil_ge", "error", error="HTTP 500")
    now = datetime.now(UTC) + timedelta(seconds=1)
    queue(store, build_digest(store, config, email, now=now))

    for days in (1, 3, 6):
        digest = build_digest(store, config, email, now=now + timedelta(days=days))
        assert digest.health == () and digest.is_empty, days
        store.mark_digest(email.email, digest.until)
    reminder = build_digest(store, config, email, now=now + timedelta(days=7))

    assert [(n.source, n.kind) for n in reminder.health] == [("civil_ge", "reminder")]
    assert "  ! civil_ge is still FAILING: 1 failed run in a row since" in render_text(reminder)
    queue(store, reminder)
    later = build_digest(store, config, email, now=now + timedelta(days=8))
    assert later.health == ()


# -- tenders ----------------------------------------------------------------------------------

REVENUE = Organisation("Revenue Service", "204385929", "GE-NAPR")
NUCTECH = Organisation("Nuctech Company Limited", "404409497", "GE-NAPR")
OTHER = Organisation("Smart Scan LLC", "205001234", "GE-NAPR")


def tender(**fields: Any) -> TenderRecord:
    data: dict[str, Any] = {
        "source": "georgia_spa", "native_id": "NAT230021830",
        "title": "X-ray inspection systems for customs checkpoints",
        "url": "https://tenders.procurement.gov.ge/public/?go=500123", "buyer": REVENUE,
        "status": "active", "value": 2_100_000.0, "currency": "GEL", **fields,
    }
    return normalise_tender(TenderRecord(**data))


def store_tender(store: Store, config: Config, record: TenderRecord, *,
                 baseline: bool = False) -> Any:
    matches = match_tender(Matcher(config.watches), record)
    return record_tender(store, record, None, baseline=baseline, matches=matches)


def queue_all(store: Store, digest: Digest) -> None:
    store.queue_digest(
        recipient=digest.recipient, subject=digest.subject,
        message_id=f"<{digest.until}-{len(store.outbox())}@monitor.local>", message=b"",
        match_ids=digest.match_ids, until=digest.until, eml_path=None, html_path=None,
        findings=digest.findings_count, tenders=digest.tender_marks,
    )


def test_tender_announced_then_awarded_is_one_entry_saying_what_changed(
    store: Store, config: Config
) -> None:
    # the source's first run (baseline): Nuctech among the bidders is stored, not news
    store_tender(store, config, tender(bidders=(NUCTECH, OTHER)), baseline=True)
    ana = recipient(config, "all@example.org")
    digest = build_digest(store, config, ana)
    assert digest.tender_entries == ()
    queue_all(store, digest)

    outcome = store_tender(store, config, tender(
        status="complete", value=3_200_000.0, bidders=(NUCTECH, OTHER), winners=(NUCTECH,),
        award_value=3_150_000.0, award_currency="GEL"))
    assert [e.kind for e in outcome.events] == ["status_changed", "awarded", "value_changed"]
    digest = build_digest(store, config, ana, now=datetime.now(UTC) + timedelta(seconds=1))
    [entry] = digest.tender_entries
    assert (entry.watch, entry.native_id, entry.headline) == ("Nuctech", "NAT230021830", "won")
    assert entry.changes == (
        "status active -> complete",
        "awarded to Nuctech Company Limited (GE-NAPR:404409497)",
        "value 2.1 M -> 3.2 M GEL",
    )
    # first_report: this recipient never heard of the tender (the baseline told no one),
    # and it is not called "new": it was tracked before
    assert entry.roles == ("winner",) and not entry.lost and entry.first_report
    assert entry.tracked_since is not None
    assert entry.novelty == f"first reported now, tracked since {entry.tracked_since[:10]}"
    assert {f.term_kind for f in entry.findings} == {"alias", "id"}
    assert str(entry.buyer) == "Revenue Service (GE-NAPR:204385929)"
    assert entry.award_value == "3.15 M GEL"
    assert digest.subject == "watch: 1 new (Nuctech 1)"
    text = render_text(digest)
    assert "* TENDER NAT230021830: X-ray inspection systems" in text
    assert "Nuctech won" in text and "> awarded to Nuctech Company Limited" in text
    assert "> value 2.1 M -> 3.2 M GEL" in text
    assert "  value 3.2 M GEL; awarded 3.15 M GEL\n" in text
    assert ': [[Nuctech Company Limited]]' in text
    assert "as winner: Nuctech Company Limited ([[GE-NAPR:404409497]])" in text
    html = render_html(digest)
    assert "awarded to Nuctech Company Limited (GE-NAPR:404409497)</li>" in html

    # told once: the next digest has nothing, another recipient still gets it
    queue_all(store, digest)
    later = datetime.now(UTC) + timedelta(seconds=2)
    assert build_digest(store, config, ana, now=later).tender_entries == ()
    assert len(build_digest(store, config, recipient(config, "china@example.org"),
                            now=later).tender_entries) == 0  # tags: cctv only
    # an unchanged crawl adds nothing
    store_tender(store, config, tender(
        status="complete", value=3_200_000.0, bidders=(NUCTECH, OTHER), winners=(NUCTECH,),
        award_value=3_150_000.0, award_currency="GEL"))
    assert build_digest(store, config, ana, now=later).tender_entries == ()


def test_tender_a_watched_bidder_lost_is_reported(store: Store, config: Config) -> None:
    store_tender(store, config, tender(bidders=(NUCTECH, OTHER)), baseline=True)
    store_tender(store, config, tender(bidders=(NUCTECH, OTHER), winners=(OTHER,)))
    digest = build_digest(store, config, recipient(config, "all@example.org"),
                          now=datetime.now(UTC) + timedelta(seconds=1))
    [entry] = digest.tender_entries
    assert entry.lost and entry.headline == "bid and lost"
    assert entry.changes == ("awarded to Smart Scan LLC (GE-NAPR:205001234)",)
    text = render_text(digest)
    assert "Nuctech bid and lost (awarded to Smart Scan LLC (GE-NAPR:205001234))" in text


def test_tender_without_a_value_or_with_a_date_only_deadline(store: Store,
                                                             config: Config) -> None:
    store_tender(store, config, tender(value=0.0, deadline="2026-12-01", winners=(NUCTECH,)))
    [entry] = build_digest(store, config, recipient(config, "all@example.org"),
                           now=datetime.now(UTC) + timedelta(seconds=1)).tender_entries
    assert (entry.value, entry.amounts) == (None, "deadline 2026-12-01")


def test_tender_from_ted_is_headed_by_its_notice_and_lists_a_winner_once(
    store: Store, config: Config
) -> None:
    zeta = Organisation("Nuctech Warsaw Sp. z o.o.", "51234567", "SK-NAT")
    zeta_vat = Organisation("Nuctech Warsaw Sp. z o.o.", "2120123456", "EU-VAT")
    store_tender(store, config, tender(
        source="ted", native_id="6f1b1b6e-3c1e-4f5a-9d1e-2b7c9a0e4d11",
        title="151207-2025 – Poland – X-ray scanners", winners=(zeta, zeta_vat)))
    digest = build_digest(store, config, recipient(config, "all@example.org"),
                          now=datetime.now(UTC) + timedelta(seconds=1))
    [entry] = digest.tender_entries
    assert entry.reference == ""
    assert [str(w) for w in entry.winners] == [
        "Nuctech Warsaw Sp. z o.o. (SK-NAT:51234567, EU-VAT:2120123456)"]
    text = render_text(digest)
    assert "* TENDER 151207-2025 – Poland – X-ray scanners" in text
    assert "6f1b1b6e" not in text.split("\n  ")[0]


def test_tender_concerning_two_watches_is_one_entry(store: Store, config: Config) -> None:
    hikvision = Organisation("Hikvision Digital Technology", "913300", "CN-USCC")
    store_tender(store, config, tender(bidders=(NUCTECH, hikvision), winners=(NUCTECH,)))
    digest = build_digest(store, config, recipient(config, "all@example.org"),
                          now=datetime.now(UTC) + timedelta(seconds=1))
    [entry] = digest.tender_entries
    assert (entry.watch, entry.headline, entry.novelty) == ("Nuctech", "won", "new")
    assert [str(w) for w in entry.other_watches] == ["Hikvision (bid and lost)"]
    assert {mark[1] for mark in digest.tender_marks} == {"Nuctech", "Hikvision"}
    assert digest.subject == "watch: 1 new (Nuctech 1)"
    assert "Nuctech won\n  also: Hikvision (bid and lost)\n  georgia_spa, new;" in render_text(digest)
    # told for both watches: nothing comes back under the second one
    queue_all(store, digest)
    assert build_digest(store, config, recipient(config, "all@example.org"),
                        now=datetime.now(UTC) + timedelta(seconds=2)).tender_entries == ()


def test_tender_first_seen_awarded_by_registry_id_only(store: Store, config: Config) -> None:
    # the supplier's name is written in a way no alias covers; its registry id is watched
    renamed = Organisation("შპს ენ-ტექ სისტემს", "404 409 497", "ge-napr")
    store_tender(store, config, tender(winners=(renamed,), bidders=(renamed,)))
    [entry] = build_digest(store, config, recipient(config, "all@example.org"),
                           now=datetime.now(UTC) + timedelta(seconds=1)).tender_entries
    assert entry.first_report and entry.headline == "won"
    [finding] = entry.findings
    assert (finding.field, finding.term_kind, finding.term) == ("winner", "id",
                                                                "GE-NAPR:404409497")
    # the registry id as written one way across portals (monitor.orgids)
    assert entry.changes == ("awarded to შპს ენ-ტექ სისტემს (GE-NAPR:404409497)",)


def test_tender_events_of_unwatched_tenders_are_not_reported(
    store: Store, config: Config
) -> None:
    store_tender(store, config, tender(native_id="NAT1", title="Office chairs"), baseline=True)
    store_tender(store, config, tender(native_id="NAT1", title="Office chairs",
                                       winners=(OTHER,)))
    digest = build_digest(store, config, recipient(config, "all@example.org"),
                          now=datetime.now(UTC) + timedelta(seconds=1))
    assert digest.tender_entries == () and digest.is_empty


def test_tender_html_escapes_portal_strings(store: Store, config: Config) -> None:
    hostile = Organisation('<img src=x onerror=alert(1)> & "Nuctech"', "1", "X")
    store_tender(store, config, tender(title="<b>bold</b> scanners", winners=(hostile,)))
    html = render_html(build_digest(store, config, recipient(config, "all@example.org"),
                                    now=datetime.now(UTC) + timedelta(seconds=1)))
    # normalising already drops markup; what is left is escaped
    assert "<img" not in html and "<b>bold" not in html
    assert "<td style=\"padding:1px 0;\">&amp; &#34;Nuctech&#34; (X:1)</td>" in html


# -- one story at several sources -------------------------------------------------------------


def test_same_story_at_several_sources_is_one_entry_at_the_earliest_publisher(
    store: Store, config: Config
) -> None:
    headline = "Nuctech wins the Sarpi scanner tender"
    add(store, config, source="interpressnews", url="https://ipn.ge/1", title=headline,
        body="The Revenue Service chose Nuctech.", published="2026-11-20T09:00:00+00:00")
    add(store, config, source="civil_ge", url="https://civil.ge/1", title=headline + ".",
        body="Republished: the Revenue Service chose Nuctech.",
        published="2026-11-20T08:00:00+00:00")
    # the same source's follow-up with the same headline is another story
    add(store, config, source="civil_ge", url="https://civil.ge/2", title=headline,
        body="Update: the losing bidder appeals.", published="2026-11-21T08:00:00+00:00")
    # a short headline says too little to group on
    add(store, config, source="a", url="https://a.ge/1", title="Nuctech", body="one")
    add(store, config, source="b", url="https://b.ge/1", title="Nuctech", body="two")
    digest = build_digest(store, config, recipient(config, "all@example.org"),
                          now=datetime.now(UTC) + timedelta(seconds=1))
    entries = {(e.source, e.url): e for e in digest.entries}
    first = entries[("civil_ge", "https://civil.ge/1")]
    assert [(a.source, a.url) for a in first.also] == [("interpressnews", "https://ipn.ge/1")]
    assert len(first.match_ids) == 4  # both items' matches (title, body) go with it
    assert ("interpressnews", "https://ipn.ge/1") not in entries
    assert ("civil_ge", "https://civil.ge/2") in entries
    assert {("a", "https://a.ge/1"), ("b", "https://b.ge/1")} <= set(entries)
    assert digest.subject == "watch: 4 new (Nuctech 4)"
    assert "also at interpressnews, 2026-11-20 09:00 UTC: https://ipn.ge/1" in render_text(digest)
    assert 'also at <a href="https://ipn.ge/1"' in render_html(digest)
