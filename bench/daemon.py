"""Benchmark: the daemon's own memory over hundreds of crawl cycles.

    .venv/bin/python bench/daemon.py                 # 200 crawl runs
    .venv/bin/python bench/daemon.py --runs 50

Serves a small local feed (20 entries, some naming a watched company) from a thread, starts
`monitor run` on a temporary state directory with two sources crawled "every 1s" and a
digest every 10s (written to the outbox), and samples the daemon process's resident memory
(VmRSS from /proc) as runs complete. Crawls are child processes, so their memory is not the
daemon's; what this measures is whether the scheduler, the stores it opens and the digests
it builds leak. Prints RSS after the first 10 runs and at the end, and their ratio. Linux
only (/proc). The server and the daemon stop by themselves.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FEED_ITEM = """<item><title>{title}</title><link>{base}/a/{n}</link><guid>bench-{n}</guid>
<pubDate>Fri, 20 Nov 2026 09:00:00 +0000</pubDate><description>{title}: a short summary of
the story, long enough to be matched and stored.</description></item>"""


def feed(base: str) -> bytes:
    titles = [("Nuctech wins a customs tender" if n % 4 == 0 else f"Local news {n}")
              for n in range(20)]
    items = "".join(FEED_ITEM.format(base=base, n=n, title=t) for n, t in enumerate(titles))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench'
            f"</title><link>{base}/</link><description>d</description>{items}</channel></rss>"
            ).encode()


def serve(max_seconds: float) -> ThreadingHTTPServer:
    body: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body["feed"]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    body["feed"] = feed(f"http://127.0.0.1:{server.server_address[1]}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Timer(max_seconds, server.shutdown).start()
    return server


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def finished_runs(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute(
                "SELECT COUNT(*) FROM runs WHERE status != 'running'").fetchone()[0])
    except sqlite3.Error:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="crawl runs to wait for")
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    server = serve(args.max_seconds)
    url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    work = Path(tempfile.mkdtemp(prefix="monitor-daemon-bench-"))
    config = work / "sources.yaml"
    config.write_text(f"""sources:
  - {{name: one, kind: feed, url: "{url}", schedule: every 1s}}
  - {{name: two, kind: feed, url: "{url}", schedule: every 1s}}
watches:
  - {{name: Nuctech}}
recipients:
  - {{email: bench@example.org, digest: every 10s}}
crawl: {{delay: 0, obey_robots: false, http_cache: false}}
daemon: {{max_parallel_crawls: 2, jitter: 0}}
""", "utf-8")
    state = work / "state"
    log = open(work / "daemon.log", "wb")  # noqa: SIM115
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "--state", str(state), "run"],
        stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    db = state / "monitor.db"
    samples: list[tuple[int, int]] = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.max_seconds and daemon.poll() is None:
            runs = finished_runs(db)
            samples.append((runs, rss_kb(daemon.pid)))
            if runs >= args.runs:
                break
            time.sleep(1)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
        server.shutdown()
        log.close()
    early = next((kb for runs, kb in samples if runs >= 10), samples[0][1])
    peak = max(kb for _, kb in samples)
    final_runs, final = samples[-1]
    seconds = time.monotonic() - started
    print(f"{final_runs} crawl runs in {seconds:.0f} s ({final_runs / seconds:.1f} runs/s), "
          f"2 sources every 1s, digest every 10s")
    print(f"daemon RSS after 10 runs: {early / 1024:.1f} MB; after {final_runs}: "
          f"{final / 1024:.1f} MB; peak {peak / 1024:.1f} MB; "
          f"growth {final / early:.2f}x")
    print(f"(log and state: {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
