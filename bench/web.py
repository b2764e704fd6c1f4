"""Benchmark: `monitor web` on a big store: the server time of its main pages.

    .venv/bin/python bench/web.py [--items 1000000] [--repeat 15] [--state DIR]

Generates (or reuses, with --state) the store bench/search.py makes: N multilingual items of
about 1 KB, ~9 % of them matched (about 100 k matches at 1 M), N/100 tenders, the search index
filled through the store's own `reindex`; serves `monitor web` with uvicorn on a free loopback
port and asks each page --repeat times (after one warm-up), reading the app's own time from
its `Server-Timing` header (the HTTP round trip on loopback is not counted). Target: median
<= 100 ms for the inbox, a search for a rare name and for a common word, and a tender page.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import search as corpus  # noqa: E402  (bench/search.py: the same store)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--state", type=Path, help="keep the generated store here and reuse it")
    args = parser.parse_args()

    import httpx
    import uvicorn

    from monitor.config import parse_config
    from monitor.store import open_store
    from monitor.web import create_app

    work = args.state or Path(tempfile.mkdtemp(prefix="monitor-bench-web-"))
    try:
        if not (work / "monitor.db").exists():
            work.mkdir(parents=True, exist_ok=True)
            print(f"generating {args.items:,} items in {work} ...", flush=True)
            made = corpus.generate(work, args.items)
            started = time.perf_counter()
            with open_store(work) as store:
                store.reindex()
            print(f"  {made['items']:,} items, {made['matches']:,} matches, "
                  f"{made['tenders']:,} tenders in {made['seconds']:.0f} s; indexed in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        with open_store(work) as store:
            items, matches = store.count("items"), store.count("matches")
            tenders = store.count("tenders")
            page = store.inbox(limit=50)
            for _ in range(19):  # the 20th page's position
                page = store.inbox(after=page.next, limit=50)
            deep = page.next
            tender_id = store.tender_matches()[0].tender_id
            article_id = store.inbox(limit=1).rows[0].id
        config = parse_config({"watches": [{"name": w} for w in corpus.WATCHES]})
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(config, work), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        pages = [
            ("inbox, first page", "/findings", True),
            ("inbox, after a new match (counts again)", "/findings", "new match"),
            ("inbox, page 21", f"/findings?after={deep}", False),
            ("inbox, one watch", f"/findings?watch={corpus.RARE_NAME}", False),
            ("inbox, triage: new", "/findings?triage=new", False),
            ("search, rare name", f"/search?q={corpus.RARE_NAME}", True),
            ("search, common word", f"/search?q={corpus.COMMON_WORD}", True),
            ("search, 2-character Chinese name", f"/search?q={corpus.CHINESE_NAME}", False),
            ("search, phrase + filter", f'/search?q="{corpus.COMMON_WORD} was"&kind=article'
             "&source=news_03", False),
            ("tender page", f"/tenders/{tender_id}", True),
            ("article page", f"/articles/{article_id}", False),
        ]
        print(f"store: {items:,} items, {matches:,} matches, {tenders:,} tenders; "
              f"{args.repeat} requests each (after one warm-up), server time from "
              "Server-Timing")
        rows, failed = [], []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for name, path, target in pages:
                times = []
                for n in range(args.repeat + 1):
                    if target == "new match":  # as a crawl would: the counts change
                        _add_match(work, article_id)
                    answer = client.get(path)
                    if answer.status_code != 200:
                        sys.exit(f"{path}: HTTP {answer.status_code}: {answer.text[:500]}")
                    took = float(answer.headers["server-timing"].split("dur=")[1])
                    if n:
                        times.append(took)
                median = statistics.median(times)
                target = target is True
                if target and median > 100:
                    failed.append(name)
                rows.append((name, median, min(times), max(times), target))
        server.should_exit = True
        thread.join(10)
    finally:
        if args.state is None:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'page':{width}}  median ms  min ms  max ms  target")
    for name, median, low, high, target in rows:
        print(f"{name:{width}}  {median:9.1f}  {low:6.1f}  {high:6.1f}  "
              f"{'<= 100' if target else ''}")
    print("all targets met" if not failed else f"over target: {', '.join(failed)}")
    return 0 if not failed else 1


def _add_match(state: Path, item_id: int) -> None:
    import sqlite3

    with sqlite3.connect(state / "monitor.db", timeout=30) as conn:
        conn.execute(
            """INSERT INTO matches (item_id, watch, term, term_kind, field, start, "end", found,
               snippet, snippet_start, snippet_end, matched_at)
               VALUES (?, 'bench', 'bench', 'keyword', 'body', 0, 5, ?, '', 0, 5,
                       datetime('now'))""", (item_id, f"bench {time.perf_counter_ns()}"))


if __name__ == "__main__":
    sys.exit(main())
