"""Benchmark: what evidence costs on a portal, per 1,000 tender versions.

    .venv/bin/python bench/evidence.py [--tenders 1000] [--changed 0.3] [--repeat 2]

Serves a local Prozorro-shaped API (the feed `/tenders` by modification time with opaque
offsets and `next_page`, details at `/tenders/{id}`; bodies made from our fixtures in
tests/pages/prozorro/, 4-11 KB of JSON each, ids, numbers, titles, values and dates varied per
tender) from a threaded HTTP server on 127.0.0.1, and runs `monitor crawl --json` on it as a
user would (a backfill source with `since`): first every tender once, then again after
--changed of them moved on (announced -> awarded, with bids, awards and a contract), which
makes a second version each. Each pair of runs is done twice, with the default evidence
(`keep: matched`, every tender version's API response captured) and with `keep: none`, in
turn first.

Reports the captures on disk (zstd, deduplicated by SHA-256) per 1,000 tender versions and
the wall / CPU cost of capturing, as ratios of runs made side by side.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "pages" / "prozorro"
PREFIX = "/api/2.5"


def make_tenders(count: int) -> dict[str, dict[str, Any]]:
    announced = json.loads((PAGES / "tender-announced.json").read_text("utf-8"))
    rng = random.Random(7)
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    tenders = {}
    for n in range(1, count + 1):
        body = copy.deepcopy(announced)
        data = body["data"]
        data["id"] = f"{n:032x}"
        data["tenderID"] = f"UA-2025-03-01-{n:06d}-a"
        data["title"] = f"{data['title']} (лот {n}, {rng.randint(1, 999)} од.)"
        data["value"]["amount"] = round(rng.uniform(1e4, 5e6), 2)
        data["dateModified"] = (start + timedelta(minutes=n)).isoformat()
        tenders[data["id"]] = body
    return tenders


def award(tenders: dict[str, dict[str, Any]], share: float) -> int:
    """Move `share` of the tenders on to awarded (a new version each); how many."""
    awarded = json.loads((PAGES / "tender-awarded.json").read_text("utf-8"))
    later = datetime(2025, 4, 1, 9, tzinfo=UTC)
    chosen = sorted(tenders)[:: max(1, round(1 / share))] if share else []
    for i, key in enumerate(chosen):
        old = tenders[key]["data"]
        body = copy.deepcopy(awarded)
        data = body["data"]
        for field in ("id", "tenderID", "title", "value"):
            data[field] = old[field]
        data["dateModified"] = (later + timedelta(minutes=i)).isoformat()
        tenders[key] = body
    return len(chosen)


class Api(BaseHTTPRequestHandler):
    tenders: ClassVar[dict[str, dict[str, Any]]] = {}

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, body: Any, status: int = 200) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _key(data: dict[str, Any]) -> tuple[float, str]:
        return datetime.fromisoformat(data["dateModified"]).timestamp(), data["id"]

    @classmethod
    def _offset(cls, data: dict[str, Any]) -> str:
        stamp, ident = cls._key(data)
        return f"{stamp:.6f}.1.{ident}"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        if url.path.startswith(PREFIX + "/tenders/"):
            body = self.tenders.get(url.path.rsplit("/", 1)[1])
            if body is None:
                self._send({"status": "error", "errors": [{"description": "Not Found"}]}, 404)
            else:
                self._send(body)
            return
        if url.path != PREFIX + "/tenders":
            self._send({"status": "error"}, 404)
            return
        args = {k: v[0] for k, v in parse_qs(url.query).items()}
        offset, limit = args.get("offset", ""), int(args.get("limit", 100))
        ordered = sorted((t["data"] for t in self.tenders.values()), key=self._key)
        if offset[:4].isdigit() and "T" in offset:
            since = datetime.fromisoformat(offset).timestamp()
            chunk = [d for d in ordered if self._key(d)[0] >= since][:limit]
        else:
            stamp, _, _, ident = offset.split(".")[:4] if offset else ("0", "0", "1", "")
            after = (float(f"{stamp}.{_}"), ident)
            chunk = [d for d in ordered if self._key(d) > after][:limit]
        following = self._offset(chunk[-1]) if chunk else offset

        def link(value: str) -> dict[str, str]:
            path = f"{PREFIX}/tenders?limit={limit}&offset={value}"
            return {"offset": value, "path": path, "uri": f"http://{self.headers['Host']}{path}"}

        self._send({"data": [{"id": d["id"], "dateModified": d["dateModified"],
                              "tenderID": d["tenderID"], "status": d["status"],
                              "procurementMethodType": d["procurementMethodType"]}
                             for d in chunk],
                    "next_page": link(following), "prev_page": link(offset)})


def write_config(path: Path, api: str, keep: str) -> None:
    path.write_text(f"""# generated by bench/evidence.py
sources:
  - name: prozorro
    kind: portal
    portal: prozorro
    url: {api}
    since: 2025-02-01
    page_size: 100
    max_items: 1000000
watches:
  - name: Nuctech
crawl:
  delay: 0
  concurrency_per_domain: 16
  http_cache: false
  retries: 0
evidence:
  keep: {keep}
""", "utf-8")


def run(config: Path, state: Path) -> tuple[dict[str, Any], float]:
    """`monitor crawl --json`: its result and wall seconds."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config),
                            "--state", str(state), "crawl", "--json"],
                           capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    try:
        [result] = json.loads(child.stdout)["results"]
    except (ValueError, KeyError):
        sys.exit(f"monitor crawl failed ({child.returncode}):\n{child.stdout[-2000:]}\n"
                 f"{child.stderr[-2000:]}")
    if result["status"] != "ok":
        sys.exit(f"monitor crawl: {result['status']}: {result.get('error')}")
    return result, wall


def _children_cpu() -> float:
    """CPU seconds of every child waited for so far (`monitor crawl` waits for its crawler)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenders", type=int, default=1000, help="tenders (default 1000)")
    parser.add_argument("--changed", type=float, default=0.3,
                        help="share of them awarded before the second run (default 0.3)")
    parser.add_argument("--repeat", type=int, default=2, help="pairs of runs (default 2)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="monitor-bench-evidence-"))
    Api.tenders = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    costs: list[tuple[float, float]] = []
    size = versions = captures = bodies = 0
    try:
        for n in range(1, args.repeat + 1):
            totals: dict[str, tuple[float, float]] = {}
            for keep in ("matched", "none") if n % 2 else ("none", "matched"):
                Api.tenders = make_tenders(args.tenders)
                config, state = work / f"{keep}{n}.yaml", work / f"{keep}{n}"
                write_config(config, api, keep)
                before = _children_cpu()
                first, wall1 = run(config, state)
                changed = award(Api.tenders, args.changed)
                second, wall2 = run(config, state)
                cpu = _children_cpu() - before
                assert first["new_items"] == args.tenders, first
                assert second["changed_items"] == changed, (second, changed)
                totals[keep] = (wall1 + wall2, cpu)
                print(f"run {n}, evidence.keep {keep}: {first['new_items']} new, then "
                      f"{second['changed_items']} changed; wall {wall1 + wall2:.1f} s, "
                      f"CPU {cpu:.1f} s", flush=True)
                if keep == "matched" and n == 1:
                    files = list((state / "captures").rglob("*.zst"))
                    size, bodies = sum(p.stat().st_size for p in files), len(files)
                    with sqlite3.connect(state / "monitor.db") as db:
                        versions = db.execute("SELECT COUNT(*) FROM tender_versions").fetchone()[0]
                        captures = db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
            costs.append((totals["matched"][0] / totals["none"][0],
                          totals["matched"][1] / totals["none"][1]))
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"evidence: {versions} tender versions, {captures} captures, {bodies} bodies "
          f"on disk: {size / 1e6:.2f} MB, {size / versions * 1000 / 1e6:.2f} MB per 1,000 "
          f"tender versions")
    walls = sorted(w for w, _ in costs)
    cpus = sorted(c for _, c in costs)
    print("capturing, both runs vs the same without (pairs side by side): "
          + ", ".join(f"{100 * (w - 1):+.0f} % wall, {100 * (c - 1):+.0f} % CPU" for w, c in costs)
          + f"; median {100 * (walls[len(walls) // 2] - 1):+.0f} % wall, "
            f"{100 * (cpus[len(cpus) // 2] - 1):+.0f} % CPU (target <= +10 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
