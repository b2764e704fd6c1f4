"""Benchmark: `monitor crawl` against a bare Scrapy spider, on one local site.

    .venv/bin/python bench/crawl.py [--pages 2000] [--concurrency 16] [--repeat 2]

Generates a news site of N article pages (5-10 KB of HTML each, with navigation, a sidebar and
a footer that name Huawei, and article text that names a watched company on about one page in
five) plus one listing page that links to all of them, serves it from a threaded HTTP server on
127.0.0.1 (a free port; it shuts itself down after --max-seconds), and runs, one after the other:

  bare      a Scrapy spider defined below, in its own process: fetch the listing and every
            article with the same concurrency, and nothing else
  monitor   `python -m monitor crawl --json` on a fresh state dir: fetch, decode, extract the
            main text (trafilatura), normalise, match, store in SQLite, keep each page's
            capture (evidence)
  no capture  the same with `evidence.keep: none`: what capturing costs
  re-crawl  the same command again on run 1's state, the site unchanged: stored articles are
            not due again (the default revisit, 1 h after first seen), so only the listing
  changed   then 10 % of the articles are edited and 5 % added (on the listing): the same
            command on run 1's state finds the added ones (not due: the edits wait for their
            revisit) ...
  due       ... and on a copy of run 1's state aged by 2 h, every stored article is due: one
            conditional request each (the site answers 304 when its ETag matches), the edits
            found as changed

The site sends an ETag with every page and answers If-None-Match with a 304, as most do.

Each run is a child process; its wall time, CPU time (user + sys) and peak RSS come from
`os.wait4()`, which on Linux covers the child and every descendant it waited for (`monitor crawl`
runs the crawler as a grandchild). Pages/s is pages fetched / wall time of the whole command,
start-up included; "crawl s" is the time the spider itself reports, start-up excluded.
The HTTP server runs in this process and shares the machine's cores with the crawler.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent

WATCHED = ["Nuctech", "Hikvision", "Huawei", "ZTE", "China Railway"]

# -- the site ----------------------------------------------------------------------------------

WORDS = ["the", "ministry", "said", "contract", "tender", "procurement", "agency", "bidder", "award", "lari", "million", "budget", "supplier", "equipment", "border", "customs", "scanners", "cameras", "network", "data", "centre", "railway", "tunnel", "highway", "section", "government", "city", "hall", "municipality", "project", "financing", "loan", "bank", "signed", "according", "officials", "statement", "transparency", "watchdog", "evaluation", "documents", "disqualified", "price", "offer", "delivery", "maintenance", "years", "months", "region", "capital", "minister", "parliament", "committee", "audit", "report", "investors", "construction", "company", "subsidiary", "distributor", "local", "state", "security", "concerns", "experts", "civil", "society", "organisations", "published", "portal", "records", "Tbilisi", "Batumi", "Kutaisi", "Bishkek", "Almaty", "Tashkent", "Dushanbe", "Astana", "Yerevan", "Baku", "Anaklia"]

NAV = """<header class="site-header">
  <a class="logo" href="/">Caucasus &amp; Central Asia Business Daily</a>
  <nav class="main-menu"><ul>
    <li><a href="/">Home</a></li><li><a href="/politics">Politics</a></li>
    <li><a href="/news">Business</a></li><li><a href="/tenders">Tenders</a></li>
    <li><a href="/tag/huawei">Huawei</a></li><li><a href="/tag/belt-and-road">Belt and Road</a></li>
    <li><a href="/tag/anaklia">Anaklia port</a></li><li><a href="/opinion">Opinion</a></li>
  </ul></nav>
  <div class="ticker">Breaking: Huawei shortlisted for Tbilisi metro Wi-Fi; ZTE opens Almaty lab</div>
</header>"""

SIDEBAR = """<aside class="sidebar">
  <section class="widget most-read"><h3>Most read</h3><ol>
    <li><a href="/news/huawei-office">Huawei opens new Tbilisi office and training centre</a></li>
    <li><a href="/news/anaklia">Anaklia port: who is still bidding?</a></li>
    <li><a href="/news/huawei-5g">Government says no decision yet on Huawei 5G equipment</a></li>
    <li><a href="/news/hikvision-ban">Hikvision cameras: which cities still buy them?</a></li>
  </ol></section>
  <section class="widget newsletter"><p>Get our morning briefing. Sponsored by Huawei.</p>
  <form action="/subscribe"><input name="email" type="email"><button>Subscribe</button></form>
  </section>
</aside>"""

FOOTER = """<footer class="site-footer">
  <nav><a href="/about">About us</a> | <a href="/advertise">Advertise</a> |
  <a href="/privacy">Privacy</a> | <a href="mailto:editor@example.ge">Contact</a></nav>
  <p>Partners: Huawei Technologies, Bank of Georgia, TBC Bank, Kazakhtelecom.</p>
  <p>&copy; 2025 Caucasus &amp; Central Asia Business Daily. All rights reserved.</p>
</footer>"""


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(12, 24))
    return " ".join(words).capitalize() + "."


def article_page(i: int, rng: random.Random) -> tuple[str, bytes]:
    """One article: (path, HTML bytes), 5-10 KB."""
    mention = WATCHED[i % len(WATCHED)] if i % 5 == 0 else None
    day = 1 + i % 28
    title = f"{'Tender' if i % 2 else 'Contract'} {i}: " + " ".join(rng.choices(WORDS, k=6))
    if mention:
        title = f"{mention} wins {title.lower()}"
    paragraphs = []
    for p in range(rng.randint(5, 9)):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
        if mention and p == 1:
            text += f" The winning bid came from {mention}, the Chinese supplier."
        paragraphs.append(f"      <p>{text}</p>")
    body = "\n".join(paragraphs)
    path = f"/news/2025/03/{day:02d}/story-{i}"
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} | Caucasus &amp; Central Asia Business Daily</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta property="og:title" content="{title}">
  <meta property="article:published_time" content="2025-03-{day:02d}T09:30:00+04:00">
  <link rel="stylesheet" href="/static/site.css">
</head>
<body>
{NAV}
<main class="layout">
  <article class="post">
    <h1 class="post-title">{title}</h1>
    <div class="byline">By <span class="author">Desk {i % 7}</span>,
      <time datetime="2025-03-{day:02d}T09:30:00+04:00">{day} March 2025</time></div>
    <div class="post-body">
{body}
    </div>
  </article>
{SIDEBAR}
</main>
{FOOTER}
</body>
</html>
"""
    return path, html.encode("utf-8")


def build_site(pages: int, seed: int = 2025) -> dict[str, bytes]:
    rng = random.Random(seed)
    site: dict[str, bytes] = {}
    for i in range(pages):
        path, html = article_page(i, rng)
        site[path] = html
    site["/news"] = listing_page(list(site))
    site["/robots.txt"] = b"User-agent: *\nAllow: /\n"
    return site


def listing_page(paths: list[str]) -> bytes:
    links = [f'    <li><a href="{path}">Story {i}</a></li>' for i, path in enumerate(paths)]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Business news</title></head><body>\n" + NAV + "\n<main><h1>Business news</h1>\n"
        "  <ul class=\"news-list\">\n" + "\n".join(links) + "\n  </ul>\n</main>\n" + SIDEBAR
        + "\n" + FOOTER + "\n</body></html>\n"
    ).encode("utf-8")


def change_site(site: dict[str, bytes], pages: int, seed: int = 7) -> tuple[int, int, int]:
    """Edit 10 % of the articles and add 5 % (linked from the listing, newest first).
    Returns (edited, added, added pages that name a watched company)."""
    rng = random.Random(seed)
    articles = [p for p in site if p.startswith("/news/")]
    edited = rng.sample(articles, pages // 10)
    for path in edited:
        site[path] = site[path].replace(b"</article>", b"<p>Correction: the contract was "
                                        b"signed with ZTE, the ministry said.</p></article>")
    added = [article_page(pages + i, rng) for i in range(pages // 20)]
    for path, html in added:
        site[path] = html
    site["/news"] = listing_page([p for p, _ in reversed(added)] + articles)
    mentions = sum(1 for _, html in added if b"The winning bid came from" in html)
    return len(edited), len(added), mentions


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Scrapy uses it
    site: ClassVar[dict[str, bytes]] = {}
    # requests answered since the last reset: [total, 304s]
    counts: ClassVar[list[int]] = [0, 0]
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.counts[0] += 1
        body = self.site.get(self.path.split("?", 1)[0])
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") == etag:
            with self.lock:
                self.counts[1] += 1
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(site: dict[str, bytes], max_seconds: float) -> ThreadingHTTPServer:
    """Serve `site` (changes to it show at once) on 127.0.0.1 (free port) in a daemon thread;
    stops after max_seconds."""
    handler = type("Handler", (_Handler,), {"site": site, "counts": [0, 0]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="bench-site", daemon=True).start()
    timer = threading.Timer(max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    return server


# -- running and measuring children ------------------------------------------------------------


@dataclass
class Run:
    name: str
    pages: int
    wall: float
    crawl: float | None
    cpu: float
    peak_rss_mb: float
    note: str = ""
    # requests the site answered, and how many of them with a 304
    requests: int = 0
    not_modified: int = 0

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall if self.wall else 0.0


def run_child(command: list[str], *, env: dict[str, str] | None = None,
              timeout: float = 300, cwd: Path = ROOT,
              ) -> tuple[int, str, str, float, float, float]:
    """Run a command; return (exit code, stdout, stderr, wall s, cpu s, peak RSS MB) of the
    child and every descendant it waited for (os.wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 env=env, cwd=cwd, start_new_session=True)
        killer = threading.Timer(timeout, _interrupt, (child,))
        killer.daemon = True
        killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
        child.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    # ru_maxrss is in kilobytes on Linux
    return code, stdout, stderr, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _interrupt(child: subprocess.Popen[bytes], grace: float = 20) -> None:
    """Ctrl-C the child's process group (monitor crawl then stops its own crawler child, which
    runs in a session of its own), then kill the group if it is still there."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(child.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def write_config(path: Path, base_url: str, pages: int, concurrency: int,
                 keep: str = "matched") -> None:
    watches = "\n".join(f"  - name: {name}" for name in WATCHED)
    path.write_text(
        f"""# generated by bench/crawl.py
sources:
  - name: bench_site
    kind: page
    url: {base_url}/news
    max_items: {pages * 2}
    selectors:
      links: "ul.news-list a"
watches:
{watches}
crawl:
  delay: 0
  concurrency_per_domain: {concurrency}
  obey_robots: false
  http_cache: false
  retries: 0
  timeout: 30
evidence:
  keep: {keep}
""",
        "utf-8",
    )


def run_monitor(name: str, config: Path, state: Path, expected: int,
                checkout: Path = ROOT) -> Run:
    command = [sys.executable, "-m", "monitor", "--config", str(config), "--state", str(state),
               "crawl", "--json"]
    env = _env()
    if checkout != ROOT:  # another version of monitor: its code first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(checkout / "src"), str(checkout)])
    code, stdout, stderr, wall, cpu, rss = run_child(command, env=env, cwd=checkout)
    try:
        result = json.loads(stdout)["results"][0]
    except (ValueError, KeyError, IndexError):
        sys.exit(f"{name}: monitor crawl failed (exit {code}):\n{stdout[-2000:]}\n{stderr[-2000:]}")
    note = (f"{result['status']}, {result['new_items']} new, {result['changed_items']} changed, "
            f"{result['new_matches']} matches, {result['not_due']} not due")
    if result["fetched"] != expected or result["status"] != "ok":
        note += f" (expected {expected} pages: see {json.loads(stdout).get('log')})"
    return Run(name, result["fetched"], wall, result["seconds"], cpu, rss, note)


def run_counted(server: ThreadingHTTPServer, run: Callable[[], Run]) -> Run:
    """`run()` with the requests the site answered meanwhile."""
    counts = server.RequestHandlerClass.counts  # type: ignore[attr-defined]
    counts[:] = [0, 0]
    result = run()
    result.requests, result.not_modified = counts
    return result


def age_state(state: Path, hours: float) -> None:
    """As if every stored article had been first seen and last fetched `hours` ago."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    when = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
    with sqlite3.connect(state / "monitor.db") as db:
        db.execute("UPDATE items SET first_seen_at = ?, last_seen_at = ?", (when, when))


def run_bare(name: str, base_url: str, concurrency: int, expected: int) -> Run:
    command = [sys.executable, str(Path(__file__).resolve()), "--bare-spider", f"{base_url}/news",
               "--concurrency", str(concurrency)]
    code, stdout, stderr, wall, cpu, rss = run_child(command, env=_env(bare=True))
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        sys.exit(f"{name}: bare spider failed (exit {code}):\n{stdout[-2000:]}\n{stderr[-2000:]}")
    note = f"{result['bytes'] / 1e6:.1f} MB"
    if result["pages"] != expected:
        note += f" (expected {expected} pages)"
    return Run(name, result["pages"], wall, result["seconds"], cpu, rss, note)


def _env(bare: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MONITOR_") and k != "SCRAPY_SETTINGS_MODULE"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- the bare spider (runs in the child) -------------------------------------------------------


def bare_spider(url: str, concurrency: int) -> int:
    """Fetch the listing and every article it links to; count pages and bytes; nothing else."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    stats: dict[str, float] = {"pages": 0, "bytes": 0}

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self) -> Any:
            stats["started"] = time.perf_counter()
            yield scrapy.Request(url, callback=self.parse_listing)

        def parse_listing(self, response: Any) -> Any:
            self._count(response)
            for href in response.css("ul.news-list a::attr(href)").getall():
                yield response.follow(href, callback=self.parse_article)

        def parse_article(self, response: Any) -> None:
            self._count(response)

        def _count(self, response: Any) -> None:
            stats["pages"] += 1
            stats["bytes"] += len(response.body)

        def closed(self, reason: str) -> None:
            stats["seconds"] = time.perf_counter() - stats["started"]

    process = CrawlerProcess({
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "HTTPCACHE_ENABLED": False,
        "RETRY_TIMES": 0,
        "DOWNLOAD_TIMEOUT": 30,
        "LOG_LEVEL": "WARNING",
        "LOGSTATS_INTERVAL": 0,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
    })
    process.crawl(Bare)
    process.start()
    print(json.dumps({"pages": int(stats["pages"]), "bytes": int(stats["bytes"]),
                      "seconds": round(stats.get("seconds", 0.0), 3)}))
    return 0


# -- main --------------------------------------------------------------------------------------


def table(runs: list[Run]) -> str:
    headers = ["run", "requests", "304", "pages", "wall s", "÷ bare", "crawl s", "CPU s",
               "CPU ms/page", "peak RSS MB", "notes"]
    bare = min(r.wall for r in runs if r.name.startswith("bare"))
    rows = [[r.name, str(r.requests), str(r.not_modified), str(r.pages), f"{r.wall:.1f}",
             f"{r.wall / bare:.2f}", "" if r.crawl is None else f"{r.crawl:.1f}",
             f"{r.cpu:.1f}", f"{1000 * r.cpu / max(r.pages, 1):.1f}", f"{r.peak_rss_mb:.0f}",
             r.note] for r in runs]
    widths = [max(len(x) for x in col) for col in zip(headers, *rows, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000, help="article pages (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="requests in flight, both crawlers (default 16; monitor's "
                        "CONCURRENT_REQUESTS in crawlers/settings.py caps it at 16)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each cold crawl (default 2)")
    parser.add_argument("--max-seconds", type=float, default=1200,
                        help="the site shuts down after this long, whatever happens")
    parser.add_argument("--keep", action="store_true", help="keep the temp state dirs")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="also run each first crawl with the monitor checked out in DIR "
                        "(e.g. `git worktree add /tmp/old <commit>`), in turn with this one")
    parser.add_argument("--bare-spider", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_spider:
        return bare_spider(args.bare_spider, args.concurrency)

    site = build_site(args.pages)
    sizes = sorted(len(v) for k, v in site.items() if k.startswith("/news/"))
    server = serve(site, args.max_seconds)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    expected = args.pages + 1  # the listing and every article
    work = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    print(f"site: {args.pages} articles, {sizes[0] / 1024:.1f}-{sizes[-1] / 1024:.1f} KB "
          f"(median {sizes[len(sizes) // 2] / 1024:.1f} KB), 1 listing, at {base_url}; "
          f"concurrency {args.concurrency}; {os.cpu_count()} CPUs", flush=True)
    runs: list[Run] = []
    started = time.perf_counter()
    try:
        config = work / "sources.yaml"
        write_config(config, base_url, args.pages, args.concurrency)
        bare_config = work / "no-capture.yaml"
        write_config(bare_config, base_url, args.pages, args.concurrency, keep="none")
        for n in range(1, args.repeat + 1):
            print(f"bare spider, run {n}...", flush=True)
            runs.append(run_counted(server, lambda n=n: run_bare(
                f"bare #{n}", base_url, args.concurrency, expected)))
            # with and without captures, in turn first (what runs second is often faster)
            pair = [(f"monitor #{n}", "", config, work / f"state{n}"),
                    (f"no capture #{n}", " without captures (evidence.keep: none)",
                     bare_config, work / f"nocap{n}")]
            if args.baseline:
                pair.append((f"baseline #{n}", f" of {args.baseline}", config,
                             work / f"baseline{n}"))
            for name, how, conf, state in pair if n % 2 else pair[::-1]:
                print(f"monitor crawl{how}, run {n} (fresh state)...", flush=True)
                checkout = args.baseline if name.startswith("baseline") else ROOT
                runs.append(run_counted(server, lambda name=name, conf=conf, state=state,
                                        checkout=checkout:
                                        run_monitor(name, conf, state, expected, checkout)))
        print("monitor crawl again on run 1's state (site unchanged)...", flush=True)
        runs.append(run_counted(server, lambda: run_monitor(
            "re-crawl", config, work / "state1", 1)))
        shutil.copytree(work / "state1", work / "aged")
        age_state(work / "aged", hours=2)
        edited, added, mentions = change_site(site, args.pages)
        print(f"{edited} articles edited, {added} added ({mentions} naming a watched company); "
              "monitor crawl on run 1's state...", flush=True)
        runs.append(run_counted(server, lambda: run_monitor(
            "changed", config, work / "state1", 1 + added)))
        print("... and on a copy of it aged by 2 h (every stored article due)...", flush=True)
        runs.append(run_counted(server, lambda: run_monitor(
            "due", config, work / "aged", expected + added)))
        captures = [p for p in (work / "state1" / "captures").rglob("*.zst")]
        evidence = (len(captures), sum(p.stat().st_size for p in captures))
    finally:
        server.shutdown()
        server.server_close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(table(runs))
    bare = [r for r in runs if r.name.startswith("bare")]
    cold = [r for r in runs if r.name.startswith("monitor #")]
    by_name = {r.name: r for r in runs}
    best_bare = min(r.wall for r in bare)
    best_cold = min(r.wall for r in cold)
    print()
    print(f"first crawl wall / bare Scrapy wall (best runs): {best_cold:.1f} / {best_bare:.1f} s "
          f"= {best_cold / best_bare:.2f}x")
    for name in ("re-crawl", "changed", "due"):
        run = by_name[name]
        print(f"{name:8}  {run.requests} requests, wall {run.wall:.1f} s = "
              f"{run.wall / best_cold:.2f}x the first crawl, {run.wall / best_bare:.2f}x bare: "
              f"{run.note}")
    print(f"expected on 'changed': {added} new, {mentions} of them naming a watched company "
          f"(2 matches each: title and text); on 'due': also {edited} changed")
    pairs = [(by_name[f"monitor #{n}"], by_name[f"no capture #{n}"])
             for n in range(1, args.repeat + 1)]
    costs = ", ".join(f"{100 * (c.wall / b.wall - 1):+.0f} % wall, "
                      f"{100 * (c.cpu / b.cpu - 1):+.0f} % CPU" for c, b in pairs)
    walls = sorted(c.wall / b.wall for c, b in pairs)
    cpus = sorted(c.cpu / b.cpu for c, b in pairs)
    print(f"capturing evidence, first crawl vs the same without (pairs run side by side): "
          f"{costs}; median {100 * (walls[len(walls) // 2] - 1):+.0f} % wall, "
          f"{100 * (cpus[len(cpus) // 2] - 1):+.0f} % CPU (target <= +10 %)")
    if args.baseline:
        ratios = sorted(by_name[f"monitor #{n}"].wall / by_name[f"baseline #{n}"].wall
                        for n in range(1, args.repeat + 1))
        print(f"first crawl, this checkout vs {args.baseline} (pairs side by side): "
              + ", ".join(f"{100 * (r - 1):+.0f} %" for r in ratios)
              + f"; median {100 * (ratios[len(ratios) // 2] - 1):+.0f} % wall")
    count, size = evidence
    print(f"evidence: {count} captures (run 1's pages, the edits and additions) take "
          f"{size / 1e6:.1f} MB on disk, {size / max(count, 1) * 1000 / 1e6:.1f} MB per 1,000 "
          f"pages (site: {sum(sizes) / len(sizes) / 1024:.1f} KB a page before compression)")
    cpu_ratio = (min(r.cpu for r in cold) / args.pages) / (min(r.cpu for r in bare) / args.pages)
    print(f"CPU per page, monitor crawl / bare: {cpu_ratio:.1f}x; total bench time "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
