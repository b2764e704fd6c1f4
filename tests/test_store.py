"""monitor.store: the contract every backend keeps (items and their versions, matches, runs,
tenders, the digest outbox), run against each backend in BACKENDS through the `store`
fixture; and the SQLite backend's own part (migrations, WAL, two writers on one file).

Contract tests read tables through `store._rows(sql)`: plain SQL any SQL backend answers."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Watch
from monitor.errors import StoreError
from monitor.match import Matcher
from monitor.models import Item, Match, PortalCursor, RunResult, ScrapedItem, TenderRecord
from monitor.normalise import normalise
from monitor.store import DB_NAME, SQLiteStore, Store, open_store
from monitor.store.migrations import migrations
from monitor.tender import compare, record_tender

MATCHER = Matcher(
    [
        Watch(name="Nuctech", aliases=["Нуктек", "ნუქტექი"]),
        Watch(name="Hikvision", aliases=["Хиквижн"]),
    ]
)


def make_item(
    key: str,
    body: str = "The supplier is Nuctech.",
    *,
    source: str = "demo_news",
    title: str | None = None,
    published: str = "2026-11-20T10:00:00Z",
    raw_hash: str | None = None,
) -> Item:
    return normalise(
        ScrapedItem(
            source=source,
            url=f"https://news.example/{key}.html?utm_source=rss",
            title=title if title is not None else f"Scanners for the border ({key})",
            body=body,
            published=published,
            native_id=key,
            raw_hash=raw_hash,
        )
    )


def add(store: Store, item: Item, run_id: int | None = None) -> tuple[str, int]:
    outcome = store.add(item, MATCHER.match(item), run_id=run_id)
    return outcome.state, outcome.new_matches


def queue(store: Store, recipient: str, match_ids: list[int], n: int = 1) -> int:
    return store.queue_digest(
        recipient=recipient,
        subject=f"monitor: {len(match_ids)} new",
        message_id=f"<digest-{recipient}-{n}@monitor>",
        message=b"Subject: test\r\n\r\nbody\r\n",
        match_ids=match_ids,
        until=f"2026-11-23T0{n}:00:00+00:00",
        eml_path=None,
        html_path=None,
        findings=len(match_ids),
    )


# the backends the contract tests run against: a second backend adds its opener here
BACKENDS: dict[str, Callable[[Path], SQLiteStore]] = {"sqlite": open_store}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, state_dir: Path) -> Iterator[Store]:
    with BACKENDS[request.param](state_dir) as opened:
        yield opened


def test_backend_implements_the_interface(store: Store) -> None:
    assert isinstance(store, Store)


def test_the_interface_is_all_the_backend_offers() -> None:
    """Code written against `Store` can use everything a backend does: no public method of
    the SQLite store is missing from the interface."""
    public = {n for n in dir(SQLiteStore) if not n.startswith("_")} - {"db", "path"}
    declared = {n for n in dir(Store) if not n.startswith("_")}
    assert public - declared == set()


# -- SQLite: opening and migrations -----------------------------------------------------------


def test_store_applies_every_migration_once(state_dir: Path) -> None:
    registered = [m.name for m in migrations._migrations]
    with open_store(state_dir) as store:
        assert [m.name for m in migrations.applied(store.db)] == registered
    with open_store(state_dir) as store:  # reopening applies nothing again
        assert [m.name for m in migrations.applied(store.db)] == registered
        assert migrations.pending(store.db) == []
        tables = set(store.db.table_names())
    expected = {"items", "item_versions", "matches", "runs", "outbox", "deliveries", "digests"}
    assert expected <= tables


def test_store_uses_wal_and_foreign_keys(state_dir: Path) -> None:
    store = open_store(state_dir)
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.path == store.state_dir / DB_NAME
    store.close()


def test_store_reopen_keeps_data(state_dir: Path) -> None:
    with open_store(state_dir) as store:
        add(store, make_item("a"))
    with open_store(state_dir) as store:
        assert store.count("items") == 1
        assert add(store, make_item("a")) == ("unchanged", 0)


def test_store_error_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")
    with pytest.raises(StoreError) as caught:
        open_store(blocker)
    assert str(caught.value).startswith(f"{blocker / DB_NAME}: cannot open the database")


# -- items, versions, matches -------------------------------------------------------------------


def test_add_new_item(store: Store) -> None:
    run_id = store.start_run("demo_news")
    outcome = store.add(make_item("a"), MATCHER.match(make_item("a")), run_id=run_id)
    assert (outcome.state, outcome.new_matches) == ("new", 1)
    [row] = store._rows("SELECT * FROM items")
    assert (row["key"], row["url"], row["version"], row["first_run_id"]) == (
        "a",
        "https://news.example/a.html",
        1,
        run_id,
    )
    assert row["published_at"] == "2026-11-20T10:00:00+00:00"
    assert store.count("item_versions") == 1
    [match] = store._rows("SELECT * FROM matches")
    assert (match["watch"], match["found"], match["field"], match["run_id"]) == (
        "Nuctech",
        "Nuctech",
        "body",
        run_id,
    )


def test_add_unchanged_item_writes_no_rows(store: Store) -> None:
    add(store, make_item("a"))
    before = store._rows("SELECT * FROM items")[0]
    time.sleep(1.05)  # timestamps have second resolution
    assert add(store, make_item("a", raw_hash="r2")) == ("unchanged", 0)
    after = store._rows("SELECT * FROM items")[0]
    assert (store.count("items"), store.count("item_versions"), store.count("matches")) == (1, 1, 1)
    assert after["version"] == 1
    assert after["first_seen_at"] == before["first_seen_at"]
    assert after["last_seen_at"] > before["last_seen_at"]
    assert after["raw_hash"] == "r2"


def test_add_changed_item_keeps_every_version(store: Store) -> None:
    first = make_item("a", "Nuctech will deliver six scanners.")
    add(store, first)
    before = store._rows("SELECT * FROM items")[0]
    time.sleep(1.05)
    second = make_item("a", "Nuctech will deliver seven scanners.")
    assert add(store, second)[0] == "changed"
    third = make_item("a", "Nuctech will deliver seven scanners by March.")
    assert add(store, third)[0] == "changed"
    [row] = store._rows("SELECT * FROM items")
    assert (row["version"], row["text"], row["content_hash"]) == (
        3,
        third.text,
        third.content_hash,
    )
    assert row["first_seen_at"] == before["first_seen_at"]  # an update never resets it
    assert row["changed_at"] > before["changed_at"]
    versions = store._rows("SELECT version, text FROM item_versions ORDER BY version")
    assert versions == [
        {"version": 1, "text": first.text},
        {"version": 2, "text": second.text},
        {"version": 3, "text": third.text},
    ]


def test_matches_are_not_duplicated_on_re_add(store: Store) -> None:
    assert add(store, make_item("a", "Nuctech won.")) == ("new", 1)
    # the same finding in a changed text (other offsets) is not new
    assert add(store, make_item("a", "As reported, Nuctech won.")) == ("changed", 0)
    # a new finding in a changed text is
    assert add(store, make_item("a", "As reported, Nuctech won; Hikvision lost.")) == ("changed", 1)
    # re-adding with the same matches, explicitly
    item = make_item("a", "As reported, Nuctech won; Hikvision lost.")
    assert store.add(item, MATCHER.match(item)).new_matches == 0
    assert sorted(r["watch"] for r in store._rows("SELECT watch FROM matches")) == [
        "Hikvision",
        "Nuctech",
    ]


def test_one_key_in_two_sources_is_two_items(store: Store) -> None:
    add(store, make_item("a", source="civil_ge"))
    add(store, make_item("a", source="oc_media"))
    assert store.count("items") == 2


def test_known_pages_and_touch(store: Store) -> None:
    add(store, make_item("a", raw_hash="abc"))
    add(store, make_item("b"))
    known = store.known_pages("demo_news")
    assert {url: page.raw_hash for url, page in known.items()} == {
        "https://news.example/a.html": "abc", "https://news.example/b.html": None}
    page = known["https://news.example/a.html"]
    assert page.fetched_at == page.first_seen_at and page.etag is None
    assert store.known_pages("other") == {}

    store.db.conn.execute("UPDATE items SET last_seen_at = '2000-01-01T00:00:00+00:00'")
    assert store.touch("demo_news", "https://news.example/a.html", etag='"v2"',
                       last_modified="Wed, 03 Dec 2026 10:00:00 GMT",
                       listed_at="2026-12-03T10:00:00+00:00") is True
    page = store.known_pages("demo_news")["https://news.example/a.html"]
    assert (page.etag, page.last_modified, page.listed_at) == (
        '"v2"', "Wed, 03 Dec 2026 10:00:00 GMT", "2026-12-03T10:00:00+00:00")
    assert page.fetched_at > "2000-01-01T00:00:00+00:00"
    assert store.touch("demo_news", "https://news.example/a.html") is True
    assert store.known_pages("demo_news")["https://news.example/a.html"].etag == '"v2"'
    assert store.touch("demo_news", "https://news.example/nope.html") is False


def test_add_keeps_the_pages_validators_for_the_next_revisit(store: Store) -> None:
    item = make_item("a", raw_hash="abc")
    store.add(replace(item, etag='"v1"', last_modified="Mon, 01 Dec 2026 10:00:00 GMT",
                      listed_at="2026-12-01T10:00:00+00:00"), [])
    page = store.known_pages("demo_news")["https://news.example/a.html"]
    assert (page.etag, page.listed_at) == ('"v1"', "2026-12-01T10:00:00+00:00")
    # a changed page keeps the validators it came with
    store.add(replace(item, title="Edited", content_hash="other", etag='"v2"'), [])
    page = store.known_pages("demo_news")["https://news.example/a.html"]
    assert (page.etag, page.last_modified, page.listed_at) == (
        '"v2"', None, "2026-12-01T10:00:00+00:00")


# -- runs ------------------------------------------------------------------------------------


def test_runs_start_and_finish(store: Store) -> None:
    run_id = store.start_run("civil_ge", pid=4242)
    running = store.run(run_id)
    assert running is not None
    assert (running.status, running.pid, running.finished_at) == ("running", 4242, None)
    result = RunResult(
        source="civil_ge", status="ok", fetched=12, new_items=3, changed_items=1,
        new_matches=2, seconds=4.56789,
    )
    store.finish_run(run_id, result)
    done = store.run(run_id)
    assert done is not None
    assert (done.status, done.fetched, done.new_items, done.changed_items) == (
        "ok", 12, 3, 1,
    )
    assert (done.new_matches, done.seconds) == (2, 4.568)
    assert done.finished_at is not None
    # a finished run is final: a late second report does not overwrite it
    store.finish_run(run_id, RunResult(source="civil_ge", status="error", error="late"))
    assert store.run(run_id) == done
    assert store.run(run_id + 100) is None


def test_close_runs_rebuilds_counts_from_what_was_stored(store: Store) -> None:
    dead = store.start_run("demo_news", pid=999_999)
    add(store, make_item("a"), run_id=dead)
    add(store, make_item("b", "Хиквижн и Нуктек"), run_id=dead)
    finished = store.start_run("civil_ge")
    store.finish_run(finished, RunResult(source="civil_ge", status="ok"))
    closed = store.close_runs([dead, finished], "interrupted", "crawler process died")
    assert closed == 1
    row = store.run(dead)
    assert row is not None
    assert (row.status, row.error, row.new_items, row.new_matches, row.errors) == (
        "interrupted", "crawler process died", 2, 3, 1,
    )
    assert row.finished_at is not None and row.seconds >= 0
    finished_row = store.run(finished)
    assert finished_row is not None and finished_row.status == "ok"
    assert store.close_runs([dead], "interrupted", "again") == 0


def test_runs_finished_between(store: Store) -> None:
    first = store.start_run("civil_ge")
    store.finish_run(first, RunResult(source="civil_ge", status="ok"))
    store.start_run("oc_media")  # still running: not listed
    finished = store.run(first)
    assert finished is not None
    until = datetime.fromisoformat(finished.finished_at) + timedelta(seconds=1)
    rows = store.runs_finished_between(None, until.isoformat())
    assert [r.id for r in rows] == [first]
    assert store.runs_finished_between(until.isoformat(), "9999") == []


# -- digest outbox -----------------------------------------------------------------------------


def stored_match_ids(store: Store) -> list[int]:
    return [r["id"] for r in store._rows("SELECT id FROM matches ORDER BY id")]


def test_undelivered_matches_newest_first_and_filtered_by_watch(store: Store) -> None:
    add(store, make_item("old", "Nuctech", published="2026-11-18T10:00:00Z"))
    add(store, make_item("new", "Nuctech and Хиквижн", published="2026-11-21T10:00:00Z"))
    rows = store.undelivered_matches("desk@example.org", ["Nuctech", "Hikvision"])
    assert [(r.url.rsplit("/", 1)[1], r.watch) for r in rows] == [
        ("new.html", "Nuctech"),
        ("new.html", "Hikvision"),
        ("old.html", "Nuctech"),
    ]
    assert {r.found for r in rows} == {"Nuctech", "Хиквижн"}
    only = store.undelivered_matches("desk@example.org", ["Hikvision"])
    assert [r.watch for r in only] == ["Hikvision"]
    assert store.undelivered_matches("desk@example.org", []) == []
    assert store.undelivered_matches("desk@example.org", ["Nuctech"], since="9999") == []


def test_queue_digest_records_deliveries_for_that_recipient_only(store: Store) -> None:
    add(store, make_item("a", "Nuctech and Хиквижн"))
    ids = stored_match_ids(store)
    outbox_id = queue(store, "desk@example.org", ids)
    assert store.undelivered_matches("desk@example.org", ["Nuctech", "Hikvision"]) == []
    assert len(store.undelivered_matches("editor@example.org", ["Nuctech", "Hikvision"])) == 2
    deliveries = store._rows("SELECT match_id, recipient, outbox_id FROM deliveries")
    assert deliveries == [
        {"match_id": i, "recipient": "desk@example.org", "outbox_id": outbox_id} for i in ids
    ]
    assert store.last_digest_at("desk@example.org") == "2026-11-23T01:00:00+00:00"
    assert store.last_digest_at("editor@example.org") is None
    [queued] = store.queued_messages()
    assert (queued.id, queued.status, queued.findings) == (outbox_id, "queued", 2)


def test_queue_digest_is_atomic(store: Store) -> None:
    """A match already delivered to the recipient makes the whole digest fail: no outbox row,
    no partial deliveries, the digest window unchanged."""
    add(store, make_item("a", "Nuctech"))
    add(store, make_item("b", "Хиквижн"))
    first, second = stored_match_ids(store)
    queue(store, "desk@example.org", [first], n=1)
    with pytest.raises(sqlite3.IntegrityError):
        queue(store, "desk@example.org", [second, first], n=2)
    assert store.count("outbox") == 1
    assert store.count("deliveries") == 1
    assert store.last_digest_at("desk@example.org") == "2026-11-23T01:00:00+00:00"
    # the other match is still waiting, and can go in the next digest
    waiting = store.undelivered_matches("desk@example.org", ["Hikvision"])
    assert [r.match_id for r in waiting] == [second]
    with pytest.raises(sqlite3.IntegrityError):  # a match that does not exist
        queue(store, "desk@example.org", [second, 12345], n=3)
    assert store.count("outbox") == 1


def test_mark_digest_moves_the_window(store: Store) -> None:
    store.mark_digest("desk@example.org", "2026-11-22T07:00:00+00:00")
    store.mark_digest("desk@example.org", "2026-11-23T07:00:00+00:00")
    assert store.last_digest_at("desk@example.org") == "2026-11-23T07:00:00+00:00"


def test_mark_attempt_failed_backs_off_up_to_an_hour(store: Store) -> None:
    outbox_id = queue(store, "desk@example.org", [])
    delays = []
    for attempt in range(1, 9):
        store.mark_attempt_failed(outbox_id, f"connection refused #{attempt}")
        [row] = store._rows("SELECT * FROM outbox WHERE id = ?", (outbox_id,))
        assert (row["status"], row["attempts"]) == ("queued", attempt)
        assert row["last_error"] == f"connection refused #{attempt}"
        waited = datetime.fromisoformat(row["next_attempt_at"]) - datetime.fromisoformat(
            row["last_attempt_at"]
        )
        delays.append(int(waited.total_seconds() // 60))
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    # still queued, but not due yet
    assert [r.id for r in store.queued_messages()] == [outbox_id]
    assert store.queued_messages(due_only=True) == []
    store.mark_sent(outbox_id, "smtp")
    assert store.queued_messages() == []
    [sent] = store.outbox()
    assert (sent.status, sent.attempts, sent.last_error, sent.sent_via) == (
        "sent", 9, None, "smtp",
    )


def test_new_message_is_due_at_once(store: Store) -> None:
    outbox_id = queue(store, "desk@example.org", [])
    assert [r.id for r in store.queued_messages(due_only=True)] == [outbox_id]


# -- two writers on one file --------------------------------------------------------------------


def test_two_stores_writing_from_threads_lose_nothing(state_dir: Path) -> None:
    """Two connections (one Store per thread, as two processes would have) add their own items
    and the same shared items at the same time: every item is stored once, every shared item
    is "new" for exactly one writer, and no write fails."""
    open_store(state_dir).close()  # the database exists, as it does once the daemon has started
    errors: list[BaseException] = []
    states: dict[str, list[tuple[str, str]]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            with open_store(state_dir) as store:
                run_id = store.start_run(f"writer_{name}")
                start.wait()
                for i in range(60):
                    own = make_item(f"{name}-{i}", "Nuctech")
                    store.add(own, MATCHER.match(own), run_id=run_id)
                    shared = make_item(f"shared-{i}", "Хиквижн")
                    outcome = store.add(shared, MATCHER.match(shared), run_id=run_id)
                    states[name].append((shared.key, outcome.state))
                store.finish_run(run_id, RunResult(source=f"writer_{name}", status="ok"))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with open_store(state_dir) as store:
        assert store.count("items") == 180
        assert store.count("item_versions") == 180
        assert store.count("matches") == 180
        assert [r["status"] for r in store._rows("SELECT status FROM runs")] == ["ok", "ok"]
    new = [key for name in states for key, state in states[name] if state == "new"]
    assert sorted(new) == sorted(f"shared-{i}" for i in range(60))


def test_opening_a_new_database_waits_for_another_writer(state_dir: Path) -> None:
    other = sqlite3.connect(state_dir / DB_NAME, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE elsewhere (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO elsewhere VALUES (1)")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with open_store(state_dir) as store:
            assert store.count("items") == 0
    finally:
        release.join()
        other.close()


def test_queue_digest_records_health_told_with_it_atomically(store: Store) -> None:
    add(store, make_item("a", "Nuctech"))
    (match_id,) = stored_match_ids(store)
    common = {"recipient": "desk@example.org", "subject": "s", "message": b"", "eml_path": None,
                  "html_path": None, "findings": 0}
    store.queue_digest(message_id="<1@x>", match_ids=[match_id], until="2026-11-20T07:00:00+00:00",
                       health=[("civil_ge", "failing"), ("oc_media", "stale")], **common)
    with pytest.raises(sqlite3.IntegrityError):  # rolled back: nothing told
        store.queue_digest(message_id="<2@x>", match_ids=[match_id],
                           until="2026-11-21T07:00:00+00:00",
                           health=[("civil_ge", "ok")], **common)
    store.mark_digest("desk@example.org", "2026-11-22T07:00:00+00:00",
                      health=[("oc_media", "ok")])

    reports = store.health_reports("desk@example.org")

    assert {s: (r.health, r.reported_at) for s, r in reports.items()} == {
        "civil_ge": ("failing", "2026-11-20T07:00:00+00:00"),
        "oc_media": ("ok", "2026-11-22T07:00:00+00:00"),  # upserted, at the digest's time
    }
    assert store.health_reports("editor@example.org") == {}


def test_last_run_and_count_runs_skip_running_and_order_by_start(store: Store) -> None:
    def finish(status: str, started: str, items: int = 0) -> int:
        run_id = store.start_run("civil_ge")
        store.finish_run(run_id, RunResult(source="civil_ge", status=status, items=items))
        store.db.conn.execute("UPDATE runs SET started_at = ? WHERE id = ?", (started, run_id))
        return run_id

    ok = finish("ok", "2026-11-20T01:00:00+00:00", items=4)
    empty = finish("ok", "2026-11-20T02:00:00+00:00")
    failed = finish("error", "2026-11-20T03:00:00+00:00")
    finish("error", "2026-11-20T04:00:00+00:00")
    store.start_run("civil_ge")  # running: not finished

    assert store.last_run("civil_ge").status == "error"
    assert store.last_run("civil_ge", ["ok"]).id == empty
    assert store.last_run("civil_ge", ["ok"], min_items=1).id == ok
    assert store.last_run("oc_media") is None
    after = store.last_run("civil_ge", ["ok"])
    assert store.count_runs("civil_ge", ["error"], after=after) == (
        2, store.run(failed).started_at)
    assert store.count_runs("civil_ge", ["ok", "error"]) == (4, "2026-11-20T01:00:00+00:00")
    assert store.count_runs("civil_ge", ["timeout"]) == (0, None)


# -- tenders ---------------------------------------------------------------------------------


def make_tender(**fields: Any) -> TenderRecord:
    base: dict[str, Any] = {
        "source": "prozorro", "native_id": "UA-2025-03-10-000123-a",
        "title": "Сканери для митних постів", "status": "active.tendering",
        "url": "https://prozorro.gov.ua/tender/UA-2025-03-10-000123-a",
        "buyer": {"name": "Державна митна служба України", "id": "43115923",
                  "scheme": "UA-EDR"},
        "value": 96000000.0, "currency": "UAH", "modified": "2025-03-10T10:05:00+00:00",
    }
    return TenderRecord.from_dict({**base, **fields})


AWARD = {"status": "active.awarded", "modified": "2025-04-20T08:00:00+00:00",
         "winners": [{"name": "ТОВ «Скантех Україна»", "id": "41234567", "scheme": "UA-EDR"}]}


def test_add_tender_keeps_every_version_and_describes_each_change(store: Store) -> None:
    new = record_tender(store, make_tender(), run_id=1)
    same = record_tender(store, make_tender(raw_hash="other bytes"), run_id=2)
    awarded = record_tender(store, make_tender(**AWARD), run_id=3)

    assert (new.state, new.version, new.events) == ("new", 1, ())
    assert (same.state, same.version) == ("unchanged", 1)
    assert (awarded.state, awarded.version) == ("changed", 2)
    assert [e.kind for e in awarded.events] == ["status_changed", "awarded"]
    [row] = store.tenders("prozorro")
    assert (row.version, row.status, row.buyer_id, row.value, row.first_run_id) == (
        2, "active.awarded", "UA-EDR:43115923", 96000000.0, 1)
    assert row.record["winners"][0]["name"] == "ТОВ «Скантех Україна»"
    assert row.modified_at == "2025-04-20T08:00:00+00:00"
    versions = store._rows("SELECT version, run_id FROM tender_versions ORDER BY version")
    assert [(v["version"], v["run_id"]) for v in versions] == [(1, 1), (2, 3)]
    events = store.tender_events("prozorro")
    assert [(e.version, e.kind, e.old, e.run_id) for e in events] == [
        (2, "status_changed", "active.tendering", 3), (2, "awarded", [], 3)]
    assert events[1].new == [{"name": "ТОВ «Скантех Україна»", "id": "41234567",
                                 "scheme": "UA-EDR"}]
    assert store.tender_stamps("prozorro") == {
        "UA-2025-03-10-000123-a": "2025-04-20T08:00:00+00:00"}


def test_add_tender_first_seen_awarded_is_an_event_except_in_the_baseline(store: Store) -> None:
    alert = record_tender(store, make_tender(**AWARD))
    quiet = record_tender(store, make_tender(native_id="UA-2", **AWARD), baseline=True)

    assert [e.kind for e in alert.events] == ["awarded"]
    assert quiet.events == ()
    assert [e.native_id for e in store.tender_events()] == ["UA-2025-03-10-000123-a"]


def test_save_tender_writes_nothing_when_the_stored_version_moved_on(store: Store) -> None:
    """Deciding and writing are two steps (the tender module decides): a write based on a
    version another process has since replaced is refused whole, and decided again."""
    first_read = store.stored_tender("prozorro", "UA-2025-03-10-000123-a")
    assert first_read is None
    record_tender(store, make_tender(), run_id=1)  # another writer, meanwhile
    stale = compare(first_read, make_tender(**AWARD))
    assert store.save_tender(make_tender(**AWARD), stale, stored=first_read, run_id=2) is None
    assert store.count("tenders") == 1 and store.tender_events() == []

    second_read = store.stored_tender("prozorro", "UA-2025-03-10-000123-a")
    assert second_read is not None and second_read.version == 1
    record_tender(store, make_tender(**AWARD), run_id=3)  # meanwhile again
    change = compare(second_read, make_tender(**AWARD))
    assert store.save_tender(make_tender(**AWARD), change, stored=second_read) is None

    again = record_tender(store, make_tender(**AWARD, title="Renamed"), run_id=4)
    assert (again.state, again.version) == ("changed", 3)
    assert [e.kind for e in store.tender_events()] == ["status_changed", "awarded"]


def test_touch_tender_marks_it_seen(store: Store) -> None:
    record_tender(store, make_tender())
    store.db.conn.execute("UPDATE tenders SET last_seen_at = '2000-01-01T00:00:00+00:00'")

    assert store.touch_tender("prozorro", "UA-2025-03-10-000123-a") is True
    assert store.touch_tender("prozorro", "UA-missing") is False
    assert store.tenders()[0].last_seen_at > "2000"


def test_portal_cursor_is_saved_per_source_and_api_url(store: Store) -> None:
    api = "https://public-api.prozorro.gov.ua/api/2.5"
    assert store.portal_cursor("prozorro", api) is None

    store.save_portal_cursor(PortalCursor("prozorro", api, "1741601100.0.1.abc",
                                          {"server_id": "srv-1", "retry": {}}))
    store.save_portal_cursor(PortalCursor("prozorro", api, "1741601200.0.1.def",
                                          {"server_id": "srv-2", "retry": {}}))

    saved = store.portal_cursor("prozorro", api)
    assert saved == PortalCursor("prozorro", api, "1741601200.0.1.def",
                                 {"server_id": "srv-2", "retry": {}})
    # pointed at another API (a test server, a mirror): start afresh
    assert store.portal_cursor("prozorro", "http://127.0.0.1:8080/api/2.5") is None
    store.save_portal_cursor(PortalCursor("prozorro", api, None))
    assert store.portal_cursor("prozorro", api) == PortalCursor("prozorro", api, None, {})


def test_a_killed_runs_new_tenders_are_counted_when_it_is_closed(store: Store) -> None:
    run_id = store.start_run("prozorro")
    record_tender(store, make_tender(), run_id=run_id)

    store.close_runs([run_id], "interrupted", "killed")

    assert store.run(run_id).new_items == 1
    assert store.items_since("2000-01-01T00:00:00+00:00") == {"prozorro": 1}


def tender_match(field: str = "winner", found: str = "Nuctech") -> Match:
    return Match(watch="Nuctech", term="Nuctech", term_kind="alias", field=field, start=0,
                 end=len(found), found=found, snippet=found, snippet_start=0,
                 snippet_end=len(found))


def test_tender_matches_are_stored_once_and_baseline_ones_are_no_news(store: Store) -> None:
    first = record_tender(store, make_tender(), matches=[tender_match("bidder")], baseline=True)
    assert first.new_matches == 1
    again = record_tender(store, make_tender(), matches=[tender_match("bidder")])
    assert (again.state, again.new_matches) == ("unchanged", 0)
    assert store.undelivered_tenders("desk@example.org", ["Nuctech"]) == []

    awarded = record_tender(store, make_tender(**AWARD),
                               matches=[tender_match("bidder"), tender_match("winner")])
    assert (awarded.state, awarded.new_matches) == ("changed", 1)
    [news] = store.undelivered_tenders("desk@example.org", ["Nuctech"])
    assert [m.field for m in news.matches if m.new] == ["winner"]
    assert [e.kind for e in news.events] == ["status_changed", "awarded"]
    assert store.undelivered_tenders("desk@example.org", ["Hikvision"]) == []


def test_queue_digest_tells_each_tender_news_once_per_recipient(store: Store) -> None:
    record_tender(store, make_tender(**AWARD), matches=[tender_match()])
    [news] = store.undelivered_tenders("desk@example.org", ["Nuctech"])
    mark = (news.tender.id, "Nuctech", news.matches[-1].id, news.events[-1].id)

    def queue_tender(recipient: str, n: int) -> int:
        return store.queue_digest(
            recipient=recipient, subject="s", message_id=f"<t-{recipient}-{n}@monitor>",
            message=b"", match_ids=[], until=f"2026-11-23T0{n}:00:00+00:00", eml_path=None,
            html_path=None, findings=1, tenders=[mark])

    queue_tender("desk@example.org", 1)
    assert store.undelivered_tenders("desk@example.org", ["Nuctech"]) == []
    # a second process that built the same digest: rolled back, nothing sent twice
    with pytest.raises(sqlite3.IntegrityError):
        queue_tender("desk@example.org", 2)
    assert store.count("outbox") == 1
    # another recipient is told separately
    assert len(store.undelivered_tenders("chief@example.org", ["Nuctech"])) == 1
    queue_tender("chief@example.org", 3)
    # a later change is news again, with only the new event
    record_tender(store, make_tender(**{**AWARD, "value": 99.0}), matches=[tender_match()])
    [later] = store.undelivered_tenders("desk@example.org", ["Nuctech"])
    assert [e.kind for e in later.events] == ["value_changed"]
    assert not any(m.new for m in later.matches)


def test_a_tenders_events_and_its_first_matches_share_one_time(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second that ticks while a tender is written must not put its events before its
    first match (they would be left out of every digest and alert)."""
    seconds = iter(range(60))
    monkeypatch.setattr("monitor.store.tenders.utcnow",
                        lambda: f"2026-11-23T10:00:{next(seconds):02d}+00:00")
    record_tender(store, make_tender(**AWARD), matches=[tender_match()])
    [news] = store.undelivered_tenders("desk@example.org", ["Nuctech"])
    assert news.events and news.first_matched_at == news.events[0].seen_at


def alert(store: Store, recipient: str, *, match_ids: tuple[int, ...] | list[int] = (),
          tenders: tuple[tuple[int, str, int, int], ...] | list[Any] = (),
          at: str = "2026-11-23T10:00:00+00:00", limit: int | None = None,
          n: int = 1) -> int | None:
    return store.queue_alert(
        recipient=recipient, created_at=at, subject=f"alert {n}", source="demo_news",
        messages=[("email", f"<a-{recipient}-{n}@monitor>", b"Subject: a\r\n\r\nb\r\n"),
                  ("env:DESK_URL", f"<b-{recipient}-{n}@monitor>", b'{"title": "a"}')],
        match_ids=match_ids, tenders=tenders, limit=limit,
        limit_since="2026-11-23T09:00:00+00:00")


def test_queue_alert_is_one_outbox_row_per_channel_and_marks_what_it_told(
        store: Store) -> None:
    add(store, make_item("a", "Nuctech and Хиквижн"))
    ids = stored_match_ids(store)
    alert_id = alert(store, "desk@example.org", match_ids=ids)
    assert alert_id is not None
    rows = store.queued_messages()
    assert [(r.kind, r.channel, r.alert_id) for r in rows] == [
        ("alert", "email", alert_id), ("alert", "env:DESK_URL", alert_id)]
    assert store.alerted_matches("desk@example.org", [*ids, 999]) == {
        i: "2026-11-23T10:00:00+00:00" for i in ids}
    assert store.alerted_matches("editor@example.org", ids) == {}
    # an alert is not a digest: the matches still wait for the digest, to be told there
    assert len(store.undelivered_matches("desk@example.org", ["Nuctech", "Hikvision"])) == 2
    assert store.alerts_since("desk@example.org", "2026-11-23T09:00:00+00:00") == 1
    assert store.alert_sources([alert_id]) == {alert_id: "demo_news"}


def test_queue_alert_is_atomic_and_refuses_what_was_told(store: Store) -> None:
    add(store, make_item("a", "Nuctech"))
    add(store, make_item("b", "Хиквижн"))
    first, second = stored_match_ids(store)
    alert(store, "desk@example.org", match_ids=[first], n=1)
    # another process alerted of it first: nothing written
    with pytest.raises(sqlite3.IntegrityError):
        alert(store, "desk@example.org", match_ids=[second, first], n=2)
    # a digest took it first: nothing written
    queue(store, "desk@example.org", [second])
    with pytest.raises(sqlite3.IntegrityError):
        alert(store, "desk@example.org", match_ids=[second], n=3)
    assert store.count("outbox") == 2 + 1
    assert store.alerted_matches("desk@example.org", [first, second]) == {
        first: "2026-11-23T10:00:00+00:00"}


def test_queue_alert_past_the_limit_writes_nothing(store: Store) -> None:
    add(store, make_item("a", "Nuctech and Хиквижн"))
    first, second = stored_match_ids(store)
    assert alert(store, "desk@example.org", match_ids=[first], limit=1, n=1) is not None
    assert alert(store, "desk@example.org", match_ids=[second], limit=1, n=2) is None
    assert store.alerted_matches("desk@example.org", [second]) == {}
    # counted per recipient, over the window asked
    assert alert(store, "editor@example.org", match_ids=[second], limit=1, n=3) is not None
    assert alert(store, "desk@example.org", match_ids=[second], limit=1, n=4,
                 at="2026-11-23T11:30:00+00:00") is None  # 10:00 is still after 09:00


def test_queue_alert_tells_a_tender_once_per_recipient(store: Store) -> None:
    record_tender(store, make_tender(**AWARD), matches=[tender_match()])
    [news] = store.undelivered_tenders("desk@example.org", ["Nuctech"])
    mark = (news.tender.id, "Nuctech", news.matches[-1].id, news.events[-1].id)
    alert(store, "desk@example.org", tenders=[mark], n=1)
    [told] = store.alerted_tenders("desk@example.org").values()
    assert told.covers(mark[2], mark[3]) and not told.covers(mark[2], mark[3] + 1)
    with pytest.raises(sqlite3.IntegrityError):
        alert(store, "desk@example.org", tenders=[mark], n=2)
    assert store.count("outbox") == 2


# -- what monitor web reads and writes ----------------------------------------------------------


def test_the_inbox_pages_by_position_newest_match_first_one_row_per_finding(
        store: Store) -> None:
    from monitor.store import InboxFilter

    for n in range(5):
        add(store, make_item(f"n{n}", "Nuctech and Хиквижн won."))
    add(store, make_item("quiet", "Nothing to see."))
    first = store.inbox(limit=2)
    assert [r.title for r in first.rows] == ["Scanners for the border (n4)",
                                            "Scanners for the border (n3)"]
    assert set(first.rows[0].watches) == {"Nuctech", "Hikvision"} and first.next is not None
    second = store.inbox(after=first.next, limit=2)
    third = store.inbox(after=second.next, limit=2)
    assert [r.title[-3:] for r in (*second.rows, *third.rows)] == ["n2)", "n1)", "n0)"]
    assert third.next is None
    only = store.inbox(InboxFilter(watches=("Hikvision",), source="elsewhere"))
    assert only.rows == ()
    with pytest.raises(StoreError, match="not a page position: 'x'"):
        store.inbox(after="x")
    assert store.watch_counts() == {"Hikvision": 5, "Nuctech": 5}


def test_triage_is_one_state_per_finding_with_every_change_in_the_audit_log(
        store: Store) -> None:
    from monitor.store import InboxFilter

    item_id = store.add(make_item("t"), MATCHER.match(make_item("t"))).item_id
    store.set_triage("article", item_id, "follow_up", user="nino", note="ask the ministry")
    store.set_triage("article", item_id, "not_relevant", user="dato")
    triage = store.triage_of("article", item_id)
    assert triage is not None and (triage.state, triage.user, triage.note) == (
        "not_relevant", "dato", "")
    assert store.dismissed("article", [item_id, 999]) == {item_id}
    assert [r.id for r in store.inbox(InboxFilter(triage="not_relevant")).rows] == [item_id]
    assert store.inbox(InboxFilter(triage="new")).rows == ()
    store.set_triage("article", item_id, None, user="nino")
    assert store.triage_of("article", item_id) is None
    assert [(a.user, a.detail["state"]) for a in store.audit_log(f"article:{item_id}")] == [
        ("nino", None), ("dato", "not_relevant"), ("nino", "follow_up")]
    with pytest.raises(StoreError, match="no article with id 999"):
        store.set_triage("article", 999, "relevant", user="nino")
    with pytest.raises(StoreError, match="state 'maybe' is not one of"):
        store.set_triage("article", item_id, "maybe", user="nino")


def test_feed_tokens_are_secret_revocable_and_audited(store: Store) -> None:
    token = store.create_feed_token("watch", "Nuctech", user="nino")
    assert len(token.token) >= 32 and store.feed_token(token.token) == token
    assert store.revoke_feed_token(token.token, user="nino")
    assert store.feed_token(token.token) is None and store.feed_tokens() == []
    assert not store.revoke_feed_token(token.token, user="nino")
    assert [a.action for a in store.audit_log()] == ["feed_revoked", "feed_created"]


def test_copies_and_versions_of_an_article(store: Store) -> None:
    a = store.add(make_item("a", "Same text everywhere.", title="Story"), []).item_id
    b = store.add(make_item("b", "Same text everywhere.", title="Story", source="other"),
                  []).item_id
    assert [r.id for r in store.copies(b)] == [a]
    store.add(make_item("a", "Same text everywhere, edited.", title="Story"), [])
    assert [c.id for c in store.copies(b)] == []  # a's text changed since
    assert [v.version for v in store.item_versions(a)] == [1, 2]
    # a long headline is the same story even when the texts differ
    long = "Nuctech wins the Sarpi scanner tender"
    c = store.add(make_item("c", "One wording.", title=long), []).item_id
    d = store.add(make_item("d", "Another wording.", title=long, source="other"), []).item_id
    assert [r.id for r in store.copies(d)] == [c]


# -- red flags ---------------------------------------------------------------------------------


def test_flags_are_stored_per_version_and_listed_for_the_latest_only(store: Store) -> None:
    from monitor.flags import Flag

    first = record_tender(store, make_tender(published="2025-03-10T10:00:00+00:00"))
    single = Flag("single_bid", "flagged", "single bid", {"bids": {"tender": 1}},
                  {"flagged at": 1})
    store.save_flags(first.tender_id, 1, [single, Flag("short_period", "not_computable",
                                                       "no period start")])
    [row] = [f for f in store.tender_flags(first.tender_id) if f.state == "flagged"]
    assert (row.rule, row.summary, row.inputs, row.thresholds, row.relative) == (
        "single_bid", "single bid", {"bids": {"tender": 1}}, {"flagged at": 1}, False)
    [listed] = store.flagged_tenders()
    assert (listed.native_id, listed.rule, listed.buyer_id) == (
        "UA-2025-03-10-000123-a", "single_bid", "UA-EDR:43115923")
    assert store.flagged_tenders(rules=["short_period"]) == []
    assert store.flagged_tenders(buyer="митна")[0].rule == "single_bid"
    assert store.flagged_tenders(since="2025-03-11") == []
    assert store.flagged_tenders(until="2025-03-10")[0].rule == "single_bid"

    # a new version without flags: nothing is listed for the tender any more, and the
    # version waits for `--recompute`
    second = record_tender(store, make_tender(**AWARD))
    assert second.version == 2
    assert store.flagged_tenders() == []
    assert store.tender_flags(first.tender_id, 1)[0].rule == "single_bid"
    assert store.versions_to_flag(1) == [(first.tender_id, 2)]
    assert store.versions_to_flag(1, every=True) == [(first.tender_id, 1),
                                                     (first.tender_id, 2)]


def test_buyer_tenders_are_the_buyers_latest_versions_at_one_source(store: Store) -> None:
    record_tender(store, make_tender(published="2025-03-10T10:00:00+00:00"))
    record_tender(store, make_tender(native_id="UA-2", published="2023-01-01T00:00:00+00:00"))
    record_tender(store, make_tender(native_id="UA-3", source="other"))
    record_tender(store, make_tender(native_id="UA-4", buyer={"name": "Інший", "id": "1",
                                                              "scheme": "UA-EDR"}))
    found = store.buyer_tenders("prozorro", "UA-EDR:43115923")
    assert sorted(s.record["native_id"] for s in found) == ["UA-2", "UA-2025-03-10-000123-a"]
    recent = store.buyer_tenders("prozorro", "UA-EDR:43115923",
                                 published_since="2024-01-01T00:00:00+00:00")
    assert [s.record["native_id"] for s in recent] == ["UA-2025-03-10-000123-a"]
    record_tender(store, make_tender(native_id="UA-5", cpv=["30213100-6"], **{
        k: v for k, v in AWARD.items() if k != "modified"}))
    assert [s.record["native_id"] for s in store.buyer_tenders(
        "prozorro", "UA-EDR:43115923", cpv_prefix="3021", awarded=True)] == ["UA-5"]
    assert store.buyer_tenders("prozorro", "UA-EDR:43115923", cpv_prefix="4523") == []
    assert [s.record["native_id"] for s in store.buyer_tenders(
        "prozorro", "UA-EDR:43115923", awarded=True)] == ["UA-5"]


def test_flag_fences_are_kept_per_source(store: Store) -> None:
    assert store.flag_fences("prozorro") is None
    store.save_flag_fences("prozorro", {"by_measure": {"discount": [0.5, 1.2, 140]}})
    store.save_flag_fences("prozorro", {"by_measure": {"discount": [0.4, 1.1, 150]}})
    when, fences = store.flag_fences("prozorro") or ("", {})
    assert fences == {"by_measure": {"discount": [0.4, 1.1, 150]}} and when
# -- site furniture ------------------------------------------------------------------------------


def _learnt(item: Item, pages: int = 0) -> Any:
    from monitor.furniture import Learner

    return Learner(item.source, pages=pages).learn(item)


def test_furniture_counts_an_article_once_when_it_is_first_stored(store: Store) -> None:
    footer = "Follow us on Facebook and Instagram"
    first = make_item("a", f"Nuctech won.\n{footer}", published="2026-11-18T10:00:00Z")
    store.add(first, [], furniture=_learnt(first))
    # a changed version of a stored article is not another article
    again = make_item("a", f"Nuctech won again.\n{footer}")
    assert store.add(again, [], furniture=_learnt(again)).state == "changed"
    second = make_item("b", f"Hikvision lost.\n{footer}", published="2026-11-21T10:00:00Z")
    store.add(second, [], furniture=_learnt(second, pages=1))
    other = make_item("c", f"Other news.\n{footer}", source="civil_ge")
    store.add(other, [], furniture=_learnt(other))

    from monitor.furniture import block_key

    key = block_key(footer)
    assert key is not None
    [stats] = store.furniture("demo_news", [key, "0" * 16]).values()
    assert (stats.pages, stats.first_page, stats.last_page) == (2, 1, 2)
    assert (stats.first_day, stats.last_day) == ("2026-11-18", "2026-11-21")
    assert stats.sample == footer  # kept from its second article on
    once = store.furniture("demo_news", [block_key("Nuctech won.") or ""])
    assert [s.sample for s in once.values()] == [None]
    assert store.furniture_pages("demo_news") == 2 and store.furniture_pages("nowhere") == 0
    assert [r.sample for r in store.furniture_blocks("demo_news", min_pages=2)] == [footer]
    assert {r.source for r in store.furniture_blocks(min_pages=1)} == {"demo_news", "civil_ge"}


def test_furniture_is_counted_with_its_article_or_not_at_all(store: Store) -> None:
    item = make_item("a", "Nuctech won.\nyour ad here")
    sighting = _learnt(item)
    # a block without a key cannot be stored: the article is not stored either
    broken = replace(sighting, blocks=(*sighting.blocks, (None, 0, "", False)))
    with pytest.raises(Exception):  # noqa: B017  (each backend raises its own)
        store.add(item, MATCHER.match(item), furniture=broken)
    assert (store.count("items"), store.count("matches")) == (0, 0)
    assert store.furniture_pages("demo_news") == 0 and store.furniture_blocks(min_pages=1) == []


def test_prune_furniture_forgets_blocks_seen_once_long_ago(store: Store) -> None:
    from datetime import UTC

    from monitor.furniture import FORGET_DAYS, FORGET_ONCE_DAYS

    for key in ("a", "b"):
        item = make_item(key, f"Story {key}.\nyour ad here")
        store.add(item, [], furniture=_learnt(item))
    now = datetime.now(UTC)
    assert store.prune_furniture("demo_news", now=now) == 0
    # a month on, the one-article blocks go; the footer on two stays until a year unseen
    assert store.prune_furniture("demo_news",
                                 now=now + timedelta(days=FORGET_ONCE_DAYS, hours=1)) == 2
    assert [r.pages for r in store.furniture_blocks(min_pages=1)] == [2]
    assert store.prune_furniture("civil_ge", now=now + timedelta(days=FORGET_DAYS + 1)) == 0
    assert store.prune_furniture("demo_news", now=now + timedelta(days=FORGET_DAYS + 1)) == 1


def test_settle_matches_makes_a_runs_matches_what_matching_gives_now(store: Store) -> None:
    run = store.start_run("demo_news")
    earlier = store.start_run("demo_news")
    a = make_item("a", "Nuctech and Хиквижн")
    b = make_item("b", "Nuctech")
    a_id = store.add(a, MATCHER.match(a), run_id=run).item_id
    b_id = store.add(b, MATCHER.match(b), run_id=earlier).item_id
    delivered = [r["id"] for r in store._rows(
        "SELECT id FROM matches WHERE item_id = ? AND watch = 'Hikvision'", (a_id,))]
    queue(store, "desk@example.org", delivered)
    # matching now gives nothing in the body: Hikvision went into a digest and stays, a's
    # Nuctech goes, b's Nuctech is another run's and stays
    title_only = [m for m in MATCHER.match(a) if m.field == "title"]
    assert store.settle_matches(a_id, title_only, run) == ([], 1)
    assert store.settle_matches(b_id, [], run) == ([], 0)
    # and a match it gives now that was not stored is added as the run's
    added, deleted = store.settle_matches(a_id, MATCHER.match(a), run)
    assert [m.watch for m in added] == ["Nuctech"] and deleted == 0
    rows = store._rows("SELECT item_id, watch, run_id, origin FROM matches ORDER BY id")
    assert sorted((r["item_id"], r["watch"], r["run_id"], r["origin"]) for r in rows) == sorted(
        [(a_id, "Hikvision", run, "crawl"), (b_id, "Nuctech", earlier, "crawl"),
         (a_id, "Nuctech", run, "crawl")])
