"""Scrapy settings for monitor's crawls.

Every override says Scrapy's default and why we differ. Values that users tune (delay, timeout,
retries, page size, User-Agent, robots.txt, cache) come from the `crawl:` block of sources.yaml
and are applied on top of these by `crawlers.run`; the numbers here are the fallbacks.
"""

BOT_NAME = "monitor"
# default [] — the generic spiders, and the portal spiders (one package per portal)
SPIDER_MODULES = ["crawlers.spiders", "crawlers.portals"]
NEWSPIDER_MODULE = "crawlers.spiders"

# default False — we read other people's sites on a schedule; their rules come first
ROBOTSTXT_OBEY = True

# default "Scrapy/VERSION (+https://scrapy.org)" — site owners should see who we are
USER_AGENT = "monitor/0.1 (+https://github.com/monitor-watchdog/monitor)"

# default 8 — one request at a time per site: we are a watchdog, not a load test
CONCURRENT_REQUESTS_PER_DOMAIN = 1
# default 16 — several sources crawl side by side in one process, each politely
CONCURRENT_REQUESTS = 16
# default 0 — a pause between requests to one site, varied by DOWNLOAD_DELAY_JITTER
DOWNLOAD_DELAY = 2.0
# default 0.5 (0.5x-1.5x) — kept, and said here: jitter avoids a robotic request rhythm.
# (RANDOMIZE_DOWNLOAD_DELAY, its predecessor, is deprecated since Scrapy 2.19: never set it)
DOWNLOAD_DELAY_JITTER = 0.5

# default 180 s — a source that takes minutes per page is down; fail it and say so
DOWNLOAD_TIMEOUT = 30
# default 60 s — same reason
DNS_TIMEOUT = 20
# default 1 GiB — a news page or API response is never that big; protects a small server
DOWNLOAD_MAXSIZE = 10_000_000
# default 32 MiB — warn well before the limit
DOWNLOAD_WARNSIZE = 5_000_000

# default 2 — kept; 429 and 503 with Retry-After are handled by RetryAfterMiddleware first
RETRY_TIMES = 2

DOWNLOADER_MIDDLEWARES = {
    # between RetryMiddleware (550) and the cache (900): sees 429/503 before Retry does
    "crawlers.middlewares.RetryAfterMiddleware": 560,
    # just outside RedirectMiddleware (600): sees each redirect before it is followed
    "crawlers.middlewares.RedirectGuardMiddleware": 610,
}
SPIDER_MIDDLEWARES = {
    # every record a spider yields carries the response it was read from (evidence)
    "crawlers.middlewares.CaptureMiddleware": 950,
}
# default off, DummyPolicy — RFC 2616 revalidation sends If-None-Match / If-Modified-Since,
# so an unchanged page costs a 304 and no extraction
HTTPCACHE_ENABLED = True
HTTPCACHE_POLICY = "scrapy.extensions.httpcache.RFC2616Policy"
# default [] — errors must reach the spider, never be replayed from the cache
HTTPCACHE_IGNORE_HTTP_CODES = [401, 403, 404, 408, 429, 500, 502, 503, 504]
HTTPCACHE_GZIP = True

# default 100 — Scrapy starts this many worker tasks for every callback's output, even a
# single item: most of a crawl's CPU on a 2-core machine. Our pipeline is synchronous, so
# processing items in parallel gains nothing
CONCURRENT_ITEMS = 1

# one step each (crawlers/pipelines/__init__.py); the store or, in a dry run, the events
ITEM_PIPELINES = {
    "crawlers.pipelines.NormalisePipeline": 100,
    "crawlers.pipelines.FurniturePipeline": 150,
    "crawlers.pipelines.MatchPipeline": 200,
    "crawlers.pipelines.StorePipeline": 300,
    "crawlers.pipelines.DryRunPipeline": 300,
}
# the source's run: its row, counts, status, warnings and progress events to the parent;
# then the source's crawl state, read from the store RunRecorder opened (so: a higher number)
EXTENSIONS = {
    "crawlers.extensions.run_recorder.RunRecorder": 0,
    "crawlers.extensions.crawl_state.CrawlStateLoader": 10,
}

# default True — an open port that runs Python in the crawl (Scrapy 2.19); never on a server
REMOTE_CONTROL_ENABLED = False
# default 1 — same reason: no telnet console on a server
TELNETCONSOLE_ENABLED = False

# default "DEBUG" — the crawl log under <state>/logs/ stays readable
LOG_LEVEL = "INFO"
# default None — periodic stats lines add nothing to our own progress events
LOGSTATS_INTERVAL = 0
