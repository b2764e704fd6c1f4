"""Benchmark: full-text search over a large store, and what keeping the index costs.

    .venv/bin/python bench/search.py [--items 1000000] [--repeat 15] [--adds 10000]
    .venv/bin/python bench/search.py --items 200000 --state /tmp/search-200k   # keep, reuse
    .venv/bin/python bench/search.py --items 0 --adds 0 --crawl-pages 2000     # crawl cost only

1. Generates a store of N items (and N/100 tenders) in a temp state directory: the schema
   through the store's own migrations, the rows directly with SQL (executemany, big
   transactions). Text is ~1 KB per item in English, Russian, Georgian, Kazakh and Chinese
   (words drawn with a Zipf distribution from each language's vocabulary, so the index has a
   realistic long tail); every item has the common word "contract"; the rare name Nuctech is
   in 10 items and the 2-character Chinese name 华为 in 10 Chinese ones (华 is otherwise never
   drawn); 9 % of the items have matches of 11 watches (~100 k match rows; ~3 % Huawei), the
   watch Nuctech only the 10 items and 2 tenders naming it; 20 sources of Zipf sizes
   (news_05 ~5 %, news_19 ~1.4 %); first seen over two years in id order.
2. Indexes it all with `Store.reindex` (what migration 018 does to an existing store).
3. Times `Store.search` (the page of 50 with its records) and the page's `highlight`s, median
   of --repeat runs after one warm-up, for a rare name, a common word, 华为 and a prefix,
   without a filter and with each filter.
4. Measures the alternative the issue names on the same data: an FTS5 trigram index (which
   finds nothing under 3 characters) with a LIKE scan for shorter queries: build time, size,
   and the same queries.
5. Indexing cost: --adds items stored through `ItemStore.add` into three fresh stores side by
   side in batches of 500, in turn first: with our index write, with none, and with a
   trigram index write instead; time per item and database size.
6. With --crawl-pages: a first `monitor crawl` of bench/crawl.py's local site, with and
   without the index write, pairs side by side: what the index adds to a crawl's wall time.

Warm page cache throughout (the median of repeated runs); figures compare runs on one machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import monitor.store.items as store_items  # noqa: E402 (after the path is set)
from monitor.models import Item  # noqa: E402
from monitor.search import Query, highlight, parse_query, tender_text  # noqa: E402
from monitor.store import DB_NAME, SQLiteStore, open_store  # noqa: E402
from monitor.store.search import KINDS, _Filters  # noqa: E402

SEED = 15
RARE_NAME = "Nuctech"
CHINESE_NAME = "华为"
COMMON_WORD = "contract"
WATCHES = ["Huawei", "ZTE", "Hikvision", "Nuctech", "China Railway", "Dahua", "CRBC",
           "Sinohydro", "PowerChina", "CNPC", "Tianjin", "Anaklia"]
OTHER_WATCHES = [w for w in WATCHES if w != RARE_NAME]
LANGUAGES = [("en", 0.40), ("ru", 0.25), ("ka", 0.15), ("kk", 0.10), ("zh", 0.10)]
START = datetime(2024, 12, 1, tzinfo=UTC)
SPAN = timedelta(days=730)

# frequent real words first (they take the top of the Zipf curve), then made-up words from
# each script's syllables: a vocabulary with a long tail, as real text has
FREQUENT = {
    "en": "the of and to in a is that for on was with said by it as at from his be this are "
          "have an which not has or had were their been but they will its one all also more "
          "government ministry minister tender company border port road project million",
    "ru": "и в не на что с по как это к из у о за от для же но бы так то все он она мы они "
          "было министр правительство компания тендер граница проект миллионов закупки",
    "ka": "და რომ არ ეს თუ რა ის ან მაგრამ უნდა მისი კი ამ იყო არის ჩვენ მათ მთავრობა "
          "სამინისტრო კომპანია ტენდერი საზღვარი პროექტი მილიონი შესყიდვა",
    "kk": "және бұл да мен үшін деп бар бір ол осы еді жоқ де қазақстан үкімет министрлік "
          "компания тендер шекара жоба миллион сатып алу",
}
SYLLABLES = {
    "en": "ba be bi bo bu ca ce co da de di do fa fe fi ga ge go ha he hi ka ke la le li lo "
          "ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi "
          "tion ment ing er al an en on in st str pr tr".split(),
    "ru": "ба бе би бо ва ве ви во га ге го да де ди до жа за зе зи ка ке ки ко ла ле ли ло "
          "ма ме ми мо на не ни но па пе пи по ра ре ри ро са се си со та те ти то ва ка ция "
          "ость ение ный ская ство".split(),
    "ka": "ბა ბე ბი ბო გა გე გი და დე დი ვა ვე ვი ზა ზე თა თე თი კა კე კი ლა ლე ლი მა მე მი "
          "ნა ნე ნი პა პე რა რე რი სა სე სი ტა ტე ტი უ ფა ქა ქე ღა ყა შა ჩა ცა ძა წა ჭა ხა "
          "ჯა ჰა ობა ება ული ის ში".split(),
    "kk": "ба бе бі да де ді жа же жі қа қе қы ға ғе ла ле лі ма ме мі на не ні ңа са се сі "
          "та те ті ұл үл өз әр ша ше ты ды лар лер дың тің ға ке".split(),
}


def vocabulary(rng: random.Random, language: str, size: int) -> list[str]:
    words = dict.fromkeys(FREQUENT[language].split())
    while len(words) < size:
        word = "".join(rng.choices(SYLLABLES[language], k=rng.choice((2, 2, 3, 3, 3, 4, 5))))
        words.setdefault(word)
    return list(words)


def zipf(size: int) -> list[float]:
    """Cumulative weights of a Zipf distribution (s = 1) over `size` ranks."""
    total, cumulative = 0.0, []
    for rank in range(1, size + 1):
        total += 1 / rank
        cumulative.append(total)
    return cumulative


class Writer:
    """Made-up text in one language: ~1 KB of sentences."""

    def __init__(self, rng: random.Random, language: str) -> None:
        self.rng, self.language = rng, language
        if language == "zh":
            # 3,000 common-range Han characters, never 华: 华为 is only where it is put
            pool = [chr(c) for c in range(0x4E00, 0x9FA6) if chr(c) != "华"]
            self.words = rng.sample(pool, 3000)
        else:
            self.words = vocabulary(rng, language, 30_000)
        self.weights = zipf(len(self.words))

    def sentence(self, length: int) -> str:
        words = self.rng.choices(self.words, cum_weights=self.weights, k=length)
        if self.language == "zh":
            return "".join(words) + "。"
        return " ".join(words).capitalize() + "."

    def text(self, extra: str = "") -> str:
        """~1,000 characters (Chinese: ~350, which is ~1 KB in UTF-8), `extra` in a
        sentence of its own at a random place."""
        zh = self.language == "zh"
        sentences: list[str] = []
        size = 0
        while size < (350 if zh else 1000):
            sentence = self.sentence(self.rng.randint(12, 30) if zh else self.rng.randint(6, 16))
            sentences.append(sentence)
            size += len(sentence) + 1
        if extra:
            sentences.insert(self.rng.randrange(len(sentences) + 1), extra)
        return ("" if zh else " ").join(sentences)

    def title(self) -> str:
        return self.sentence(self.rng.randint(8, 14) if self.language == "zh" else
                             self.rng.randint(4, 9)).rstrip(".。")


def stamp(n: int, total: int) -> str:
    return (START + SPAN * n / total).replace(microsecond=0).isoformat()


def sources(rng: random.Random, n: int) -> list[str]:
    names = [f"news_{i:02d}" for i in range(20)]
    return rng.choices(names, cum_weights=zipf(len(names)), k=n)


def generate(state: Path, n_items: int) -> dict[str, Any]:
    """The store: schema by migrations, rows by SQL; the index left empty (see `index`)."""
    rng = random.Random(SEED)
    with open_store(state):
        pass  # every migration, 018_search included (nothing to index yet)
    conn = sqlite3.connect(state / DB_NAME, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")  # generation only: the store's own writes are timed
    writers = {lang: Writer(rng, lang) for lang, _ in LANGUAGES}
    languages = rng.choices([lang for lang, _ in LANGUAGES],
                            weights=[w for _, w in LANGUAGES], k=n_items)
    item_sources = sources(rng, n_items)
    rare = set(rng.sample(range(1, n_items + 1), 10))
    zh_ids = [i for i in range(1, n_items + 1) if languages[i - 1] == "zh"]
    chinese = set(rng.sample(zh_ids, min(10, len(zh_ids))))
    watch_weights = zipf(len(OTHER_WATCHES))
    matches = 0
    batch: list[tuple[Any, ...]] = []
    match_rows: list[tuple[Any, ...]] = []

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany(
            """INSERT INTO items (id, source, key, url, title, text, published_at, language,
               content_hash, version, first_seen_at, last_seen_at, changed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)""", batch)
        conn.executemany(
            """INSERT INTO matches (item_id, watch, term, term_kind, field, start, "end", found,
               snippet, snippet_start, snippet_end, matched_at)
               VALUES (?, ?, ?, 'alias', 'body', 0, 7, ?, ?, 0, 7, ?)""", match_rows)
        conn.execute("COMMIT")
        batch.clear()
        match_rows.clear()

    started = time.perf_counter()
    for i in range(1, n_items + 1):
        lang = languages[i - 1]
        writer = writers[lang]
        extra = f"The {COMMON_WORD} was signed."
        if i in rare:
            extra += f" The scanners were made by {RARE_NAME} Company Ltd."
        if i in chinese:
            extra += f"{CHINESE_NAME}公司中标。"
        text = writer.text(extra)
        seen = stamp(i, n_items)
        batch.append((i, item_sources[i - 1], f"k{i}", f"https://{item_sources[i - 1]}.example/{i}",
                      writer.title(), text, seen, lang,
                      hashlib.sha256(text.encode()).hexdigest(), seen, seen, seen))
        if i in rare or rng.random() < 0.09:
            watch = RARE_NAME if i in rare else rng.choices(OTHER_WATCHES,
                                                            cum_weights=watch_weights)[0]
            match_rows.append((i, watch, watch, watch, text[:200], seen))
            if rng.random() < 0.1:  # a second watch in the same item (the rare one never)
                other = rng.choice(WATCHES[:3])
                if other != watch:
                    match_rows.append((i, other, other, other, text[:200], seen))
        if len(batch) == 20_000:
            matches += len(match_rows)
            flush()
    matches += len(match_rows)
    if batch:
        flush()
    tenders = generate_tenders(conn, rng, max(1, n_items // 100), writers)
    conn.close()
    return {"items": n_items, "tenders": tenders, "matches": matches,
            "seconds": time.perf_counter() - started}


def generate_tenders(conn: sqlite3.Connection, rng: random.Random, n: int,
                     writers: dict[str, Writer]) -> int:
    rows, tender_matches = [], []
    companies = [f"{writers['ru'].title().split()[0]} ООО" for _ in range(200)]
    for t in range(1, n + 1):
        writer = writers[rng.choice(("ru", "ka", "kk", "en"))]
        winner = {"name": rng.choice(companies), "id": str(rng.randint(10**7, 10**8)),
                  "scheme": "UA-EDR"}
        if t % max(1, n // 5) == 0:  # a few won by the rare name
            winner = {"name": f"{RARE_NAME} Company Ltd", "id": "91110000100017642E",
                      "scheme": "CN-USCC"}
            tender_matches.append((t, RARE_NAME))
        record = {
            "source": "prozorro", "native_id": f"UA-2025-{t:06d}-a", "title": writer.title(),
            "description": writer.sentence(20) + f" {COMMON_WORD}.",
            "buyer": {"name": writer.title(), "id": str(rng.randint(10**7, 10**8)),
                      "scheme": "UA-EDR"},
            "winners": [winner], "bidders": [winner, {"name": rng.choice(companies)}],
            "lots": [{"id": "1", "title": writer.title()}], "documents": [],
        }
        seen = stamp(t, n)
        rows.append((t, "prozorro", record["native_id"], record["title"], json.dumps(record),
                     hashlib.sha256(json.dumps(record).encode()).hexdigest(), seen, seen, seen,
                     seen))
    conn.execute("BEGIN")
    conn.executemany(
        """INSERT INTO tenders (id, source, native_id, title, record, content_hash,
           published_at, first_seen_at, last_seen_at, changed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)
    conn.executemany(
        """INSERT INTO tender_matches (tender_id, watch, term, term_kind, field, start, "end",
           found, snippet, snippet_start, snippet_end, version, matched_at)
           VALUES (?, ?, ?, 'alias', 'winner', 0, 7, ?, '', 0, 7, 1, '2025-01-01')""",
        [(t, w, w, w) for t, w in tender_matches])
    conn.execute("COMMIT")
    return n


def table_sizes(conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes on disk per table, its indexes and (for FTS5) its shadow tables."""
    sizes: dict[str, int] = {}
    for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        for prefix in ("search_tri", "search", "items", "matches", "tenders"):
            if name == prefix or name.startswith(prefix + "_") or (
                    name.startswith("sqlite_autoindex_" + prefix + "_")):
                sizes[prefix] = sizes.get(prefix, 0) + size
                break
        else:
            sizes["other"] = sizes.get("other", 0) + size
    return sizes


def median_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = run()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


# -- the trigram alternative ----------------------------------------------------------------


def build_trigram(store: SQLiteStore) -> float:
    conn = store.db.conn
    conn.create_function("tender_text", 1, lambda r: tender_text(json.loads(r)),
                         deterministic=True)
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DROP TABLE IF EXISTS search_tri")
    conn.execute("CREATE VIRTUAL TABLE search_tri USING fts5(title, body, content='', "
                 "tokenize='trigram')")
    conn.execute("INSERT INTO search_tri (rowid, title, body) "
                 "SELECT id * 2, title, text FROM items")
    conn.execute("INSERT INTO search_tri (rowid, title, body) "
                 "SELECT id * 2 + 1, title, tender_text(record) FROM tenders")
    conn.execute("COMMIT")
    return time.perf_counter() - started


def our_ids(store: SQLiteStore, query: Query, limit: int = 50) -> list[int]:
    """What `Store.search` does before reading the page's records: the first page's places
    (id * 2, tenders + 1), from both indexes."""
    nothing = _Filters(None, None, None, None, None)
    return sorted((k.place(i) for k in KINDS.values()
                   for i in store._search_ids(k, query, nothing, 2**62, limit + 1)),
                  reverse=True)[:limit + 1]


def trigram_search(store: SQLiteStore, text: str, limit: int = 50) -> list[int]:
    """The alternative: trigram MATCH for 3 characters or more, else a LIKE scan newest
    first (items and tenders), stopping at a page."""
    conn = store.db.conn
    if len(text) >= 3:
        return [r[0] for r in conn.execute(
            "SELECT rowid FROM search_tri WHERE search_tri MATCH ? ORDER BY rowid DESC "
            "LIMIT ?", ('"' + text + '"', limit + 1))]
    like = f"%{text}%"
    rows = [r[0] * 2 for r in conn.execute(
        "SELECT id FROM items WHERE title LIKE ? OR text LIKE ? ORDER BY id DESC LIMIT ?",
        (like, like, limit + 1))]
    rows += [r[0] * 2 + 1 for r in conn.execute(
        "SELECT id FROM tenders WHERE title LIKE ? OR record LIKE ? ORDER BY id DESC LIMIT ?",
        (like, like, limit + 1))]
    return sorted(rows, reverse=True)[:limit + 1]


# -- indexing cost -----------------------------------------------------------------------------


@contextmanager
def index_write(kind: str) -> Iterator[None]:
    """ItemStore.add with our index write ("bigram"), none, or a trigram index write."""
    ours = store_items.index_item

    def trigram(conn: sqlite3.Connection, item_id: int, item: Item, *, replacing: bool) -> None:
        conn.execute("INSERT INTO search_tri (rowid, title, body) VALUES (?, ?, ?)",
                     (item_id, item.title, item.text))

    replacement = {"bigram": ours, "none": lambda *a, **k: None, "trigram": trigram}[kind]
    store_items.index_item = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        store_items.index_item = ours


def add_cost(base: Path, n: int) -> None:
    rng = random.Random(SEED + 1)
    writers = {lang: Writer(rng, lang) for lang, _ in LANGUAGES}
    langs = rng.choices([lang for lang, _ in LANGUAGES], weights=[w for _, w in LANGUAGES], k=n)
    items = []
    for i, lang in enumerate(langs):
        text = writers[lang].text(f"The {COMMON_WORD} was signed.")
        items.append(Item(source="news_00", key=f"k{i}", url=f"https://news.example/{i}",
                          title=writers[lang].title(), text=text,
                          published_at=stamp(i, n), language=lang,
                          content_hash=hashlib.sha256(text.encode()).hexdigest()))
    kinds = ["bigram", "none", "trigram"]
    stores = {k: open_store(base / f"add-{k}") for k in kinds}
    stores["trigram"].db.conn.execute(
        "CREATE VIRTUAL TABLE search_tri USING fts5(title, body, content='', "
        "tokenize='trigram')")
    seconds = dict.fromkeys(kinds, 0.0)
    for b, start in enumerate(range(0, n, 500)):
        order = kinds[b % 3:] + kinds[:b % 3]  # each first in turn
        for kind in order:
            with index_write(kind):
                started = time.perf_counter()
                for item in items[start:start + 500]:
                    stores[kind].add(item, [])
                seconds[kind] += time.perf_counter() - started
    sizes = {}
    for kind, store in stores.items():
        store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes[kind] = store.path.stat().st_size
        store.close()
    none = seconds["none"]
    print(f"\nindexing cost: {n:,} items (~1 KB) stored one by one through ItemStore.add, "
          "in batches of 500 side by side (no matches)")
    print(f"{'index write':<12} {'ms/item':>8} {'vs none':>8} {'db size':>9} {'vs none':>8}")
    for kind in kinds:
        print(f"{kind:<12} {seconds[kind] / n * 1000:8.3f} {seconds[kind] / none:7.2f}x "
              f"{mb(sizes[kind]):>9} {sizes[kind] / sizes['none']:7.2f}x")
    extra = (seconds["bigram"] - none) / n * 1000
    print(f"our index adds {extra:.3f} ms per new item; bench/crawl.py's first crawl takes "
          f"~5.2 ms of wall time per page (2,000 pages in 10.3 s): +{extra / 5.2:.1%} of it")


def crawl_cost(base: Path, pages: int, pairs: int) -> None:
    """A first `monitor crawl` of bench/crawl.py's local site (fetch, extract, match, store,
    capture), with and without the index write, side by side, in turn first: the crawl's
    processes get a sitecustomize that imports the store's items module in both (the same
    start-up) and, for "without", stubs its index write."""
    sys.path.insert(0, str(ROOT / "bench"))
    import crawl as crawl_bench  # bench/crawl.py

    # one sitecustomize per mode, chosen by PYTHONPATH (which monitor crawl passes on to
    # its crawler child, unlike other variables)
    for mode, stub in (("on", ""), ("off", "items.index_item = lambda *args, **kwargs: None\n")):
        (base / f"hook-{mode}").mkdir()
        (base / f"hook-{mode}" / "sitecustomize.py").write_text(
            "import monitor.store.items as items\n" + stub, "utf-8")
    site = crawl_bench.build_site(pages)
    server = crawl_bench.serve(site, max_seconds=3600)
    config = base / "crawl.yaml"
    crawl_bench.write_config(config, f"http://127.0.0.1:{server.server_address[1]}", pages, 16)
    walls: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for n in range(pairs):
            for mode in ("on", "off") if n % 2 == 0 else ("off", "on"):
                env = {**crawl_bench._env(), "PYTHONPATH": str(base / f"hook-{mode}")}
                state = base / f"crawl-{mode}-{n}"
                command = [sys.executable, "-m", "monitor", "--config", str(config),
                           "--state", str(state), "crawl", "--json"]
                code, out, err, wall, _, _ = crawl_bench.run_child(command, env=env)
                result = json.loads(out)["results"][0]
                if code or result["new_items"] != pages:
                    sys.exit(f"crawl {mode}: exit {code}, {result}\n{err[-2000:]}")
                with sqlite3.connect(state / DB_NAME) as db:
                    indexed = db.execute("SELECT COUNT(*) FROM search_items_docsize").fetchone()
                if indexed[0] != (pages if mode == "on" else 0):
                    sys.exit(f"crawl {mode}: {indexed[0]} items indexed")
                walls[mode].append(wall)
    finally:
        server.shutdown()
        server.server_close()
    ratios = [on / off for on, off in zip(walls["on"], walls["off"], strict=True)]
    print(f"\nfirst crawl of {pages:,} pages (bench/crawl.py's site), with / without the index "
          f"write, {pairs} pairs: " + ", ".join(
              f"{on:.1f} / {off:.1f} s" for on, off in zip(walls["on"], walls["off"],
                                                         strict=True))
          + f"; median {statistics.median(ratios) - 1:+.1%} wall (target <= +15 %)")


# -- main ----------------------------------------------------------------------------------------

QUERIES = [("rare name", RARE_NAME), ("common word", COMMON_WORD),
           ("2-char Chinese name", CHINESE_NAME), ("prefix", "Nuctec*")]


def filters(n_items: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("no filter", {}),
        ("source news_05", {"source": "news_05"}),
        ("source news_19", {"source": "news_19"}),
        ("language ka", {"language": "ka"}),
        ("kind tender", {"kind": "tender"}),
        ("watch Huawei", {"watch": "Huawei"}),
        ("watch Nuctech", {"watch": RARE_NAME}),
        ("since last 30 days", {"since": (START + SPAN - timedelta(days=30)).isoformat()}),
        ("until first 10 %", {"until": (START + SPAN / 10).isoformat()}),
    ]


def run(state: Path, args: argparse.Namespace) -> None:
    if not (state / DB_NAME).exists():
        facts = generate(state, args.items)
        print(f"generated {facts['items']:,} items, {facts['tenders']:,} tenders, "
              f"{facts['matches']:,} matches in {facts['seconds']:.0f} s")
        with open_store(state) as store:
            last = [0.0]

            def progress(done: int, total: int) -> None:
                if time.perf_counter() - last[0] > 30:
                    last[0] = time.perf_counter()
                    print(f"  indexing {done:,} / {total:,}", flush=True)

            started = time.perf_counter()
            indexed = store.reindex(progress)
            took = time.perf_counter() - started
            print(f"indexed {indexed:,} records with Store.reindex (= migration 018 on an "
                  f"existing store) in {took:.0f} s, {indexed / took:,.0f} records/s")
    with open_store(state) as store:
        n_items = store.count("items")
        print(f"\nstore: {n_items:,} items, {store.count('tenders'):,} tenders, "
              f"{store.count('matches'):,} matches; {state}")
        built = None
        if not store.db.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'search_tri'").fetchone():
            built = build_trigram(store)
        sizes = table_sizes(store.db.conn)
        print(f"sizes: items {mb(sizes['items'])}, our index {mb(sizes['search'])} "
              f"({sizes['search'] / sizes['items']:.2f}x items), trigram index "
              f"{mb(sizes['search_tri'])} ({sizes['search_tri'] / sizes['items']:.2f}x items, "
              f"{sizes['search_tri'] / sizes['search']:.2f}x ours)"
              + (f"; trigram index built in {built:.0f} s" if built else ""))

        print(f"\nsearch: median ms of {args.repeat} runs: `search` (a page of 50 with its "
              "records), `highlight` of the page's texts, `search_count` up to 1000; without a "
              "filter, the page's ids alone against the trigram alternative's")
        print(f"{'query':<20} {'filter':<20} {'search':>7} {'hl':>5} {'count':>6} {'hits':>5} "
              f"{'ids':>6} {'trigram':>8} {'tri/ours':>8}")
        for label, text in QUERIES:
            query = parse_query(text)
            for name, where in filters(n_items):
                ours, page = median_ms(lambda q=query, w=where: store.search(q, **w),
                                       args.repeat)
                hl, _ = median_ms(lambda p=page, q=query: [highlight(h.text, q)
                                                          for h in p.hits], args.repeat)
                counting, count = median_ms(
                    lambda q=query, w=where: store.search_count(q, **w), args.repeat)
                tri = ""
                if not where:
                    ids, _ = median_ms(lambda q=query: our_ids(store, q), args.repeat)
                    bare = text.rstrip("*")
                    tri_ms, _ = median_ms(lambda b=bare: trigram_search(store, b),
                                          max(3, args.repeat // 3))
                    tri = f"{ids:6.1f} {tri_ms:8.1f} {tri_ms / ids:7.1f}x"
                print(f"{label:<20} {name:<20} {ours:7.1f} {hl:5.1f} {counting:6.1f} "
                      f"{count if count < 1000 else '1000+':>5} {tri}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="items (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per query (15)")
    parser.add_argument("--adds", type=int, default=10_000,
                        help="items stored one by one for the indexing cost (10,000; 0: skip)")
    parser.add_argument("--crawl-pages", type=int, default=0,
                        help="also time a first crawl of this many pages with and without the "
                        "index write (0: skip)")
    parser.add_argument("--crawl-pairs", type=int, default=4, help="pairs of crawls (4)")
    parser.add_argument("--state", type=Path,
                        help="state dir to keep the generated store in (reused when it exists)")
    args = parser.parse_args()
    temp = Path(tempfile.mkdtemp(prefix="monitor-search-"))
    try:
        if args.items:
            run(args.state or temp / "state", args)
        if args.adds:
            add_cost(temp, args.adds)
        if args.crawl_pages:
            crawl_cost(temp, args.crawl_pages, args.crawl_pairs)
    finally:
        shutil.rmtree(temp)


if __name__ == "__main__":
    main()
