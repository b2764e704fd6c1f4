"""The crawler child process: `python -m crawlers.run --config F --state D SOURCE...`.

Started by `monitor.crawl.crawl()`, which reads the event lines this process prints on stdout.
Scrapy's own log goes to stderr, which the parent saves under <state>/logs/.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawlers.settings")

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawlers import extract
from crawlers.registry import spider_for
from monitor.config import Config, load_config
from monitor.crawl.events import emit_event, use_event_stream
from monitor.errors import MonitorError


def build_settings(config: Config, state_dir: Path, *, dry_run: bool = False) -> Settings:
    """Project settings, overridden by the config's `crawl:` block."""
    settings = get_project_settings()
    crawl = config.crawl
    settings.setdict(
        {
            "MONITOR_CONFIG": str(config.path),
            "MONITOR_STATE": str(state_dir),
            "MONITOR_DRY_RUN": dry_run,
            "MONITOR_CAPTURE": config.evidence.keep != "none",
            "DOWNLOAD_DELAY": crawl.delay,
            "DOWNLOAD_TIMEOUT": crawl.timeout,
            "DNS_TIMEOUT": min(crawl.timeout, settings.getfloat("DNS_TIMEOUT")),
            "RETRY_TIMES": crawl.retries,
            "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
            "DOWNLOAD_WARNSIZE": crawl.max_page_bytes // 2,
            "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
            "USER_AGENT": crawl.user_agent,
            # on when any source obeys; sources that do not say so on their requests
            "ROBOTSTXT_OBEY": crawl.obey_robots or any(s.obey_robots for s in config.sources),
            # a test-source run must see the live page, not yesterday's copy
            "HTTPCACHE_ENABLED": crawl.http_cache and not dry_run,
            "HTTPCACHE_DIR": str(state_dir / "httpcache"),
        },
        priority="cmdline",
    )
    return settings


def _keep_events_to_ourselves() -> None:
    """Events go to the parent on a private copy of stdout, which processes we start
    (extraction workers, multiprocessing's resource tracker) do not inherit; their fd 1 is
    the log. Otherwise a worker outliving this process (kill -9, OOM) would hold the parent's
    pipe open, and the parent, waiting for its end, would wait forever."""
    sys.stdout.flush()
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)  # dup: not inheritable
    os.dup2(2, 1)
    use_event_stream(events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.run", description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--dry-run", action="store_true")
    # a backfill for portal sources: read from this date (YYYY-MM-DD), not from the cursor
    parser.add_argument("--since", type=date.fromisoformat, default=None)
    parser.add_argument("sources", nargs="+")
    args = parser.parse_args(argv)
    _keep_events_to_ourselves()
    try:
        config = load_config(args.config)
        sources = config.select(args.sources)
    except MonitorError as exc:
        emit_event("error", None, message=str(exc))
        print(exc, file=sys.stderr)
        return 2
    state_dir = Path(args.state).resolve()
    settings = build_settings(config, state_dir, dry_run=args.dry_run)
    if args.since is not None:
        settings.set("MONITOR_SINCE", args.since.isoformat(), priority="cmdline")
    process = CrawlerProcess(settings)
    for source in sources:
        process.crawl(spider_for(source), source_name=source.name)
    try:
        process.start()
    finally:
        extract.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
