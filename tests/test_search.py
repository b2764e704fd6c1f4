"""Full-text search: the pure part (`monitor.search`: what is indexed, what a query means,
highlighting) from the case table tests/cases/search.yaml; the store's part
(`monitor.store.search`: the indexes kept in step by the store's writes, filters, pages, the
backfill migration) on a real SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
import yaml

from monitor.config import Watch
from monitor.errors import SearchQueryError
from monitor.match import Matcher
from monitor.models import Item, ScrapedItem, TenderRecord
from monitor.normalise import normalise
from monitor.search import Query, Snippet, highlight, index_text, parse_query
from monitor.store import SQLiteStore, open_store
from monitor.store.migrations import migrations
from monitor.tender import record_tender

CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "search.yaml").read_text("utf-8"))


def cases(section: str) -> list[Any]:
    return [pytest.param(case, id=name) for name, case in CASES[section].items()]


# -- the pure part --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("index_text"))
def test_index_text(case: dict[str, str]) -> None:
    assert index_text(case["text"]) == case["indexed"]


@pytest.mark.parametrize("case", cases("parse_query"))
def test_parse_query(case: dict[str, Any]) -> None:
    query = parse_query(case["query"])
    assert query.expression == case["expression"]
    assert [t.text + "*" * t.prefix for t in query.terms] == case["terms"]
    assert query.text == case["query"]


@pytest.mark.parametrize("case", cases("query_errors"))
def test_parse_query_refuses(case: dict[str, str]) -> None:
    with pytest.raises(SearchQueryError) as caught:
        parse_query(case["query"])
    assert str(caught.value) == case["message"]


def test_parse_query_refuses_what_no_person_types() -> None:
    with pytest.raises(SearchQueryError, match=r"longer than 1000 characters \(1006\)"):
        parse_query("Nuctech " * 125 + "Huawei")


def marked(snippet: Snippet) -> str:
    """A snippet as the case table writes it: [hits], … where the text goes on."""
    text = "".join(f"[{part}]" if hit else part for part, hit in snippet.parts)
    return "…" * snippet.cut_before + text + "…" * snippet.cut_after


@pytest.mark.parametrize("case", cases("highlight"))
def test_highlight(case: dict[str, Any]) -> None:
    assert marked(highlight(case["text"], parse_query(case["query"]), case["chars"])) == (
        case["snippet"])


def test_highlight_returns_plain_text_never_markup() -> None:
    snippet = highlight("<b>Nuctech</b> & co", parse_query("Nuctech"))
    assert snippet.parts == (("<b>", False), ("Nuctech", True), ("</b> & co", False))
    assert (snippet.text, snippet.hits) == ("<b>Nuctech</b> & co", ("Nuctech",))


def test_highlight_whole_text_when_chars_is_none() -> None:
    text = "word " * 100 + "Nuctech"
    snippet = highlight(text, parse_query("Nuctech"), None)
    assert (snippet.text, snippet.cut_before, snippet.cut_after) == (text, False, False)


def test_every_fts5_expression_parses_in_sqlite() -> None:
    """Whatever the case table's queries become, SQLite reads it (no FTS5 syntax error)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, content='', "
               "tokenize='unicode61 remove_diacritics 2')")
    for case in CASES["parse_query"].values():
        query = parse_query(case["query"])
        db.execute("SELECT rowid FROM t WHERE t MATCH ?",
                   (f"{{title body}} : ({query.expression})",)).fetchall()


# -- the store -------------------------------------------------------------------------------

MATCHER = Matcher([Watch(name="Nuctech", aliases=["Нуктек", "ნუქტექი", "同方威视"]),
                   Watch(name="Huawei", aliases=["华为", "Хуавей"])])


def make_item(key: str, body: str, *, title: str = "", source: str = "civil_ge",
              language: str | None = None) -> Item:
    return normalise(ScrapedItem(source=source, url=f"https://news.example/{key}",
                                 title=title or f"Story {key}", body=body, native_id=key,
                                 language=language))


def add(store: SQLiteStore, item: Item) -> int:
    return store.add(item, MATCHER.match(item)).item_id


def make_tender(native_id: str = "UA-2025-03-10-000123-a", **fields: Any) -> TenderRecord:
    base: dict[str, Any] = {
        "source": "prozorro", "native_id": native_id,
        "title": "Сканери для митних постів", "status": "active.tendering",
        "url": f"https://prozorro.gov.ua/tender/{native_id}",
        "buyer": {"name": "Державна митна служба України", "id": "43115923",
                  "scheme": "UA-EDR"},
    }
    return TenderRecord.from_dict({**base, **fields})


def found(store: SQLiteStore, text: str, **filters: Any) -> list[tuple[str, int]]:
    return [(h.kind, h.id) for h in store.search(parse_query(text), **filters).hits]


@pytest.fixture
def store(state_dir: Path) -> Iterator[SQLiteStore]:
    with open_store(state_dir) as opened:
        yield opened


@pytest.fixture
def news(store: SQLiteStore) -> dict[str, int]:
    """Articles in five languages, some matching a watch; ids by name."""
    return {
        "ka": add(store, make_item("ka", "საბაჟოზე ნუქტექის სკანერები დამონტაჟდა.",
                                   language="ka")),
        "ru": add(store, make_item("ru", "Таможня закупила сканеры Нуктек для границы.",
                                   language="ru")),
        "kk": add(store, make_item("kk", "Қазақстан әкімдігі шекараға сканер сатып алды.",
                                   language="kk", source="azattyq")),
        "zh": add(store, make_item("zh", "华为公司中标了边境扫描仪项目。", language="zh")),
        "name": add(store, make_item("name", "王建华为了这个项目工作了三年。", language="zh")),
        "en": add(store, make_item("en", "The border scanners were not made by a watched "
                                   "company.", language="en", source="azattyq")),
    }


def test_search_finds_words_in_every_script(store: SQLiteStore, news: dict[str, int]) -> None:
    assert found(store, "ნუქტექის") == [("item", news["ka"])]
    assert found(store, "сканеры") == [("item", news["ru"])]
    assert found(store, "СКАНЕРЫ") == [("item", news["ru"])]
    assert found(store, "әкімдігі") == [("item", news["kk"])]
    assert found(store, "Қазақстан") == [("item", news["kk"])]
    assert found(store, "ᲜᲣᲥᲢᲔᲥᲘᲡ") == [("item", news["ka"])]  # Mtavruli finds Mkhedruli
    assert found(store, "BORDER scanners") == [("item", news["en"])]


def test_search_finds_a_two_character_chinese_name(store: SQLiteStore,
                                                   news: dict[str, int]) -> None:
    # 华为 (Huawei) is a word in 华为公司中标, and also found inside 王建华为了 ("Wang Jianhua
    # did it for ..."): bigrams know no word boundaries, nor does any CJK search without a
    # dictionary; the result page shows the snippet so that a person can tell
    assert found(store, "华为") == [("item", news["name"]), ("item", news["zh"])]
    assert found(store, "华为公司") == [("item", news["zh"])]
    assert found(store, "公司中标") == [("item", news["zh"])]
    assert found(store, "中标公司") == []  # the bigrams in another order are not the phrase
    assert found(store, "华") == [("item", news["name"]), ("item", news["zh"])]
    hit = store.search(parse_query("华为")).hits[1]
    assert marked(highlight(hit.text, parse_query("华为"))) == "[华为]公司中标了边境扫描仪项目。"


def test_search_phrases_and_boolean_queries(store: SQLiteStore, news: dict[str, int]) -> None:
    assert found(store, '"border scanners"') == [("item", news["en"])]
    assert found(store, '"scanners border"') == []
    assert found(store, "сканеры OR ნუქტექის") == [("item", news["ru"]),
                                                  ("item", news["ka"])]
    assert found(store, "(сканеры OR scanners) NOT border") == [("item", news["ru"])]
    assert found(store, "сканеры AND scanners") == []
    assert found(store, "Таможня граница") == []  # both words needed: граница is not границы


def test_search_prefix(store: SQLiteStore, news: dict[str, int]) -> None:
    assert found(store, "границ*") == [("item", news["ru"])]
    assert found(store, "сканер*") == [("item", news["kk"]), ("item", news["ru"])]
    assert found(store, "ნუქტექ*") == [("item", news["ka"])]


def test_search_finds_records_that_matched_nothing(store: SQLiteStore,
                                                   news: dict[str, int]) -> None:
    [hit] = store.search(parse_query("watched company")).hits
    assert (hit.kind, hit.id, hit.watches, hit.source, hit.language) == (
        "item", news["en"], (), "azattyq", "en")
    assert hit.url == "https://news.example/en"
    [matched] = store.search(parse_query("сканеры")).hits
    assert matched.watches == ("Nuctech",)


def test_search_filters(store: SQLiteStore, news: dict[str, int]) -> None:
    record_tender(store, make_tender(description="Поставка сканерів Nuctech для кордону."))
    everything = found(store, "сканер* OR scanners OR ნუქტექის OR Nuctech")
    assert len(everything) == 5
    assert found(store, "сканер* OR scanners", source="azattyq") == [
        ("item", news["en"]), ("item", news["kk"])]
    assert found(store, "сканер* OR scanners", language="kk") == [("item", news["kk"])]
    assert found(store, "Nuctech OR сканеры", kind="tender") == [("tender", 1)]
    assert found(store, "Nuctech OR сканеры", kind="item") == [("item", news["ru"])]
    assert found(store, "Nuctech OR сканеры", kind="tender", language="ru") == []
    assert found(store, "сканер* OR ნუქტექის", watch="Nuctech") == [
        ("item", news["ru"]), ("item", news["ka"])]
    assert found(store, "сканер*", watch="Huawei") == []
    assert found(store, "сканер*", source="nowhere") == []


@pytest.mark.parametrize(("common", "probe_max", "dense"),
                         [(10**9, 500, 3000), (1, 500, 3000), (1, 0, 3000), (1, 0, 1)],
                         ids=["rare_query_checks_each_record_found",
                              "common_query_looks_up_the_watchs_few_records",
                              "common_query_checks_against_the_watchs_records",
                              "common_query_checks_each_record_found_in_a_dense_watch"])
def test_search_watch_filter_every_way(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch,
                                        common: int, probe_max: int, dense: int) -> None:
    """How a watch filter is applied depends on how common the query is and how many
    records the watch has (`_COMMON`, `_PROBE_MAX`, `_DENSE_WATCH`): the same hits, pages and
    counts every way."""
    monkeypatch.setattr("monitor.store.search._COMMON", common)
    monkeypatch.setattr("monitor.store.search._PROBE_MAX", probe_max)
    monkeypatch.setattr("monitor.store.search._DENSE_WATCH", dense)
    ids = [add(store, make_item(f"n{i}", f"Contract {i}" + (" by Nuctech." if i % 3 else ".")))
           for i in range(10)]
    nuctech = [i for n, i in enumerate(ids) if n % 3]
    query = parse_query("contract")
    assert store.search_count(query, watch="Nuctech") == len(nuctech) == 6
    assert store.search_count(query, watch="Nuctech", at_most=4) == 4
    page = store.search(query, watch="Nuctech", limit=4)
    assert [h.id for h in page.hits] == nuctech[::-1][:4]
    rest = store.search(query, watch="Nuctech", limit=4, before=page.next_before)
    assert [h.id for h in rest.hits] == nuctech[::-1][4:]
    assert rest.next_before is None
    assert found(store, "contract", watch="Huawei") == []
    assert store.search_count(query, watch="Huawei") == 0
    assert found(store, "nothing", watch="Nuctech") == []


def test_search_date_filters_are_when_found(store: SQLiteStore, news: dict[str, int]) -> None:
    for day, key in enumerate(("ka", "ru", "kk", "zh", "name", "en"), start=1):
        store.db.conn.execute("UPDATE items SET first_seen_at = ? WHERE id = ?",
                              (f"2026-03-0{day}T12:00:00+00:00", news[key]))
    words = "сканер* OR scanners OR ნუქტექის"
    assert found(store, words, since="2026-03-03") == [("item", news["en"]),
                                                       ("item", news["kk"])]
    assert found(store, words, until="2026-03-03") == [("item", news["ru"]),
                                                       ("item", news["ka"])]
    assert found(store, words, since="2026-03-02T12:00:00", until="2026-03-03T13:00:00Z") == [
        ("item", news["kk"]), ("item", news["ru"])]
    assert found(store, words, since="2026-04-01") == []
    assert found(store, words, until="2026-01-01") == []


def test_search_pages_newest_first_by_position(store: SQLiteStore) -> None:
    ids = [add(store, make_item(f"n{i}", f"Contract number {i} was signed.")) for i in range(7)]
    record_tender(store, make_tender(description="The contract was signed."))
    query = parse_query("contract")
    seen: list[tuple[str, int]] = []
    page = store.search(query, limit=3)
    pages = 1
    while page.next_before is not None:
        seen += [(h.kind, h.id) for h in page.hits]
        assert len(page.hits) == 3
        assert page.next_before == page.hits[-1].rowid
        page = store.search(query, limit=3, before=page.next_before)
        pages += 1
    seen += [(h.kind, h.id) for h in page.hits]
    # newest first by id, the kinds interleaved by place: item id * 2, tender id * 2 + 1
    assert seen == [*[("item", i) for i in reversed(ids[1:])], ("tender", 1), ("item", 1)]
    assert [h.rowid for h in page.hits] == [3, 2]
    assert pages == 3
    assert store.search_count(query) == 8
    assert store.search_count(query, at_most=5) == 5
    assert store.search_count(query, kind="tender") == 1


def test_search_changed_item_is_no_longer_found_by_its_old_words(store: SQLiteStore) -> None:
    first = add(store, make_item("a", "Scanners bought from Nuctech.", title="Border deal"))
    again = add(store, make_item("a", "Scanners bought from Hikvision.", title="Border deal"))
    assert first == again
    assert found(store, "Nuctech") == []
    assert found(store, "Hikvision") == [("item", first)]
    assert found(store, "Border deal") == [("item", first)]
    assert store.search_count(parse_query("Scanners")) == 1
    _check_integrity(store)


def test_search_finds_tenders_by_bidders_winners_and_registry_ids(store: SQLiteStore) -> None:
    bidders = [{"name": "Nuctech Company Ltd", "id": "91110000100017642E",
                "scheme": "CN-USCC"},
               {"name": "ТОВ «Скантех Україна»", "id": "41234567", "scheme": "UA-EDR"}]
    record_tender(store, make_tender(bidders=bidders,
                                     lots=[{"id": "1", "title": "Рентгенівські сканери"}]))
    for text in ("Nuctech", "Скантех", "41234567", "UA-EDR:41234567", "91110000100017642E",
                 "Державна митна служба", "43115923", "UA-2025-03-10-000123-a",
                 "Рентгенівські", "митних постів"):
        assert found(store, text) == [("tender", 1)], text
    [hit] = store.search(parse_query("41234567")).hits
    assert (hit.native_id, hit.status, hit.source) == (
        "UA-2025-03-10-000123-a", "active.tendering", "prozorro")
    assert "ТОВ «Скантех Україна» UA-EDR:41234567" in hit.text
    # a new version names another winner: the old bidders are no longer found
    record_tender(store, make_tender(status="active.awarded",
                                     winners=[{"name": "Hikvision", "id": "1"}]))
    assert found(store, "Nuctech") == []
    assert found(store, "Hikvision") == [("tender", 1)]
    assert found(store, "Скантех") == []
    # a version that changes only what is not searched (the status) keeps the index as it is
    record_tender(store, make_tender(status="complete",
                                     winners=[{"name": "Hikvision", "id": "1"}]))
    assert found(store, "Hikvision") == [("tender", 1)]
    _check_integrity(store)


def test_search_write_that_fails_leaves_no_trace_in_the_index(
        store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(SQLiteStore, "_insert_captures", staticmethod(broken))
        with pytest.raises(sqlite3.OperationalError):
            add(store, make_item("a", "Scanners bought from Nuctech."))
    assert found(store, "Nuctech") == []
    item_id = add(store, make_item("a", "Scanners bought from Nuctech."))
    assert found(store, "Nuctech") == [("item", item_id)]
    _check_integrity(store)


def test_search_backfill_migration_indexes_what_was_stored_before_it(state_dir: Path) -> None:
    conn = sqlite3.connect(state_dir / "monitor.db", isolation_level=None)
    db = sqlite_utils.Database(conn)
    migrations.apply(db, stop_before="018_search")
    now = "2026-01-01T00:00:00+00:00"
    conn.execute(
        """INSERT INTO items (source, key, url, title, text, language, content_hash,
           first_seen_at, last_seen_at, changed_at) VALUES
           ('civil_ge', 'a', 'https://civil.ge/a', 'Old story', '华为公司 and Nuctech', 'en',
            'h1', ?, ?, ?)""", (now, now, now))
    record = ('{"source": "prozorro", "native_id": "UA-1", "title": "Сканери", '
              '"winners": [{"name": "Скантех", "id": "41234567", "scheme": "UA-EDR"}]}')
    conn.execute(
        """INSERT INTO tenders (source, native_id, title, record, content_hash, first_seen_at,
           last_seen_at, changed_at) VALUES ('prozorro', 'UA-1', 'Сканери', ?, 'h2', ?, ?, ?)
        """, (record, now, now, now))
    conn.close()
    with open_store(state_dir) as store:
        assert found(store, "华为") == [("item", 1)]
        assert found(store, "Nuctech", source="civil_ge", language="en") == [("item", 1)]
        assert found(store, "41234567") == [("tender", 1)]
        # what the backfill indexed is what a change removes
        assert add(store, make_item("a", "Something else entirely.", source="civil_ge")) == 1
        assert found(store, "Nuctech") == []
        _check_integrity(store)


def test_reindex_rebuilds_the_same_index(store: SQLiteStore, news: dict[str, int]) -> None:
    record_tender(store, make_tender())
    before = found(store, "сканер* OR 华为 OR митних")
    progress: list[tuple[int, int]] = []
    assert store.reindex(lambda done, total: progress.append((done, total))) == 7
    assert found(store, "сканер* OR 华为 OR митних") == before
    assert progress[-1] == (7, 7)
    _check_integrity(store)


def test_search_unhappy_paths(store: SQLiteStore, news: dict[str, int]) -> None:
    query = parse_query("scanners")
    with pytest.raises(SearchQueryError, match=r"search filter kind: not one of item, "
                                               r"tender: 'article'"):
        store.search(query, kind="article")
    with pytest.raises(SearchQueryError, match=r"search filter since: not an ISO 8601 date "
                                               r"or time: 'last week'"):
        store.search(query, since="last week")
    with pytest.raises(ValueError, match="limit must be 1 to 1000: 0"):
        store.search(query, limit=0)
    # a query made by hand that FTS5 cannot read is reported with what was typed
    broken = Query(text="scanners AND", expression='"scanners" AND', terms=())
    with pytest.raises(SearchQueryError, match=r"search query 'scanners AND': fts5: syntax"):
        store.search(broken)


def _check_integrity(store: SQLiteStore) -> None:
    """FTS5's own check of each index's structure (a contentless index cannot be compared
    with its content, but a 'delete' with the wrong values shows up here as a corrupt
    doclist sooner or later) and that every record is indexed once."""
    conn = store.db.conn
    for index, table in (("search_items", "items"), ("search_tenders", "tenders")):
        conn.execute(f"INSERT INTO {index} ({index}) VALUES ('integrity-check')")
        assert conn.execute(f"SELECT COUNT(*) FROM {index}_docsize").fetchone()[0] == (
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_the_search_and_reindex_commands(tmp_path: Path) -> None:
    import json as json_

    from click.testing import CliRunner

    from monitor.cli import cli
    from monitor.models import Item
    from monitor.normalise import content_hash
    from monitor.store import open_store

    state = tmp_path / "state"
    with open_store(state) as store:
        for n, (title, text) in enumerate([("华为公司中标", "华为公司在格鲁吉亚中标。"),
                                           ("ჰუავეი თბილისში", "ჰუავეი ხსნის ოფისს.")]):
            store.add(Item(source="news", key=str(n), url=f"https://news.example/{n}",
                           title=title, text=text, published_at=None,
                           content_hash=content_hash(title, text)), [])
    runner = CliRunner()
    base = ["--config", str(tmp_path / "none.yaml"), "--state", str(state)]
    found = runner.invoke(cli, [*base, "search", "华为 OR ჰუავეი", "--json"])
    assert found.exit_code == 0, found.output
    assert [r["title"] for r in json_.loads(found.output)["results"]] == [
        "ჰუავეი თბილისში", "华为公司中标"]
    bad = runner.invoke(cli, [*base, "search", '"open'])
    assert bad.exit_code == 2 and "open" in bad.output
    again = runner.invoke(cli, [*base, "reindex"])
    assert again.exit_code == 0 and "2 records indexed." in again.output
    assert "华为公司中标" in runner.invoke(cli, [*base, "search", "华为"]).output
    for command in ("search", "reindex"):
        assert "Example:" in runner.invoke(cli, [command, "--help"]).output
