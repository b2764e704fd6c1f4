"""Quality: precision and recall of what monitor reports, on the project's own labelled set.

    .venv/bin/python bench/quality.py                        # documents and pages, this checkout
    .venv/bin/python bench/quality.py --baseline /tmp/old    # and another checkout, side by side
    .venv/bin/python bench/quality.py --part documents --json

The labelled set is bench/labelled/ (its README is the top of each YAML file):

  watches.yaml      the watch list, base forms only, as a new user writes it
  documents/*.yaml  short news texts in Russian, Ukrainian, Kazakh, Georgian, Chinese and
                    English, each labelled with the watches it truly concerns
  pages/<site>/     four fictional news sites (page chrome, in-article furniture, articles
                    labelled with the watches their own text concerns)
  sources.yaml      where each text comes from (title, publisher, licence, URL)

What is measured, over (document, watch) pairs: a pair found and labelled is a true positive,
found and not labelled a false positive, labelled and not found a false negative.

  documents  each text as an item (title + body, normalised as a crawl would) through
             `monitor.match.Matcher` with the watch list
  pages      the whole crawl: each site is served from its own HTTP server on 127.0.0.1, a
             sources.yaml with one `page` or `sitemap` source per site is written, and
             `python -m monitor crawl --json` runs as a child process, once per published
             article: each crawl finds one new article per site on its listing (or sitemap), as
             a site watched hourly does, so the articles are read in publishing order and the
             furniture each site repeats has been seen on the earlier ones. The matches are
             read from the store. Extraction, whatever the crawl learns from earlier pages, and
             matching are all in the figure.

--baseline DIR runs the same measurement with the monitor checked out in DIR (its src/ and
crawlers first on PYTHONPATH; e.g. `git worktree add --detach /tmp/old <commit>`) and prints
both. The output is deterministic: the same code and data give the same figures.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import yaml

ROOT = Path(__file__).resolve().parent.parent
LABELLED = Path(__file__).resolve().parent / "labelled"
LANGUAGES = ("ru", "uk", "kk", "ka", "zh", "en")
SOURCE_FIELDS = ("title", "publisher", "licence", "url")

# -- the labelled set --------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    id: str
    language: str
    title: str
    text: str
    labels: tuple[str, ...]
    source: str
    adapted: str
    note: str = ""


@dataclass(frozen=True)
class Page:
    id: str
    site: str
    slug: str
    date: str
    byline: str
    title: str
    body: str
    labels: tuple[str, ...]
    source: str
    adapted: str
    note: str = ""


@dataclass
class Site:
    """A fictional news site: its chrome, its furniture and its articles (publishing order)."""

    name: str
    title: str
    kind: str
    article_path: str
    container: tuple[str, str]
    ad: str
    furniture: dict[str, str]
    template: str
    article: str
    pages: list[Page]
    listing: str = ""
    links: str = ""
    sitemap: str = ""
    listing_page: str = ""
    listing_item: str = ""

    def path(self, page: Page) -> str:
        return self.article_path.format(date=page.date, slug=page.slug)

    def render_body(self, page: Page) -> str:
        """The article's container(s): furniture markers filled in, <!--split--> as an
        advertisement between two containers."""
        body = page.body
        for name, block in self.furniture.items():
            body = body.replace(f"<!--furniture:{name}-->", block.strip())
        opening, closing = self.container
        body = body.replace("<!--split-->", f"{closing}\n{self.ad.strip()}\n{opening}")
        return f"{opening}\n{body.strip()}\n{closing}"

    def render_article(self, page: Page) -> str:
        main = _fill(self.article, headline=html.escape(page.title), date=page.date,
                     date_human=_human(page.date), byline=html.escape(page.byline),
                     body=self.render_body(page))
        return _fill(self.template, title=html.escape(page.title), main=main)

    def render_listing(self, pages: Sequence[Page]) -> str:
        items = "\n".join(_fill(self.listing_item, url=self.path(p),
                                headline=html.escape(p.title), date_human=_human(p.date))
                          for p in reversed(pages))  # newest first
        return _fill(self.template, title=html.escape(self.title),
                     main=_fill(self.listing_page, items=items))

    def render_sitemap(self, pages: Sequence[Page], base: str, today: str) -> str:
        # each article's own date, as a news sitemap gives it (the source's max_age_days
        # reaches back to the oldest)
        urls = "\n".join(f"  <url><loc>{base}{self.path(p)}</loc><lastmod>{p.date}</lastmod>"
                         "</url>" for p in reversed(pages))
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                f"{urls}\n</urlset>\n")

    def files(self, pages: Sequence[Page], base: str, today: str) -> dict[str, bytes]:
        """What the site serves when `pages` are published: the articles and the listing
        (or sitemap)."""
        out = {self.path(p): self.render_article(p).encode("utf-8") for p in pages}
        if self.kind == "sitemap":
            out[self.sitemap] = self.render_sitemap(pages, base, today).encode("utf-8")
        else:
            out[self.listing] = self.render_listing(pages).encode("utf-8")
        return out


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def _human(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day.strftime('%B %Y')}"


def _read(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def load_sources(root: Path = LABELLED) -> dict[str, dict[str, str]]:
    return dict(_read(root / "sources.yaml")["sources"])


def load_watch_entries(root: Path = LABELLED) -> list[dict[str, Any]]:
    """The watch list as written (dicts), for names and for looking up a missed name."""
    return list(_read(root / "watches.yaml")["watches"])


def load_documents(root: Path = LABELLED, languages: Iterable[str] = LANGUAGES,
                   ) -> list[Document]:
    docs = []
    for language in languages:
        path = root / "documents" / f"{language}.yaml"
        for entry in _read(path)["documents"]:
            docs.append(Document(
                id=str(entry["id"]), language=str(entry["language"]),
                title=str(entry.get("title") or ""), text=str(entry.get("text") or ""),
                labels=tuple(entry.get("labels") or ()), source=str(entry.get("source") or ""),
                adapted=str(entry.get("adapted") or ""), note=str(entry.get("note") or "")))
    return docs


def load_sites(root: Path = LABELLED) -> list[Site]:
    sites = []
    for folder in sorted(p for p in (root / "pages").iterdir() if p.is_dir()):
        spec = _read(folder / "site.yaml")
        pages = [Page(id=str(a["id"]), site=spec["name"], slug=str(a["slug"]),
                      date=str(a["date"]), byline=str(a.get("byline") or ""),
                      title=str(a["title"]), body=str(a["body"]),
                      labels=tuple(a.get("labels") or ()), source=str(a.get("source") or ""),
                      adapted=str(a.get("adapted") or ""), note=str(a.get("note") or ""))
                 for a in _read(folder / "articles.yaml")["articles"]]
        sites.append(Site(
            name=spec["name"], title=spec["title"], kind=spec["kind"],
            article_path=spec["article_path"],
            container=(spec["container"]["open"], spec["container"]["close"]),
            ad=spec.get("ad") or "", furniture=dict(spec.get("furniture") or {}),
            template=spec["template"], article=spec["article"], pages=pages,
            listing=spec.get("listing") or "", links=spec.get("links") or "",
            sitemap=spec.get("sitemap") or "", listing_page=spec.get("listing_page") or "",
            listing_item=spec.get("listing_item") or ""))
    return sites


def check_labelled(root: Path = LABELLED) -> list[str]:
    """Every problem with the labelled set's structure, one line each (empty: all fine)."""
    problems: list[str] = []
    sources = load_sources(root)
    for key, source in sources.items():
        problems += [f"sources.yaml: {key}: no {f}" for f in SOURCE_FIELDS if not source.get(f)]
    watches = {w["name"] for w in load_watch_entries(root)}
    ids: set[str] = set()

    def check(kind: str, item: Document | Page) -> None:
        where = f"{kind} {item.id}"
        if item.id in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(item.id)
        if item.source not in sources:
            problems.append(f"{where}: source {item.source!r} is not in sources.yaml")
        if not item.adapted:
            problems.append(f"{where}: `adapted` is empty: say what was done to the text")
        if not item.title.strip():
            problems.append(f"{where}: no title")
        problems.extend(f"{where}: label {label!r} is not a watch"
                        for label in item.labels if label not in watches)
        if len(set(item.labels)) != len(item.labels):
            problems.append(f"{where}: a label is repeated")

    for doc in load_documents(root):
        check("document", doc)
        if doc.language not in LANGUAGES or not doc.id.startswith(doc.language + "-"):
            problems.append(f"document {doc.id}: language {doc.language!r} does not fit")
        if not doc.text.strip():
            problems.append(f"document {doc.id}: no text")
    for site in load_sites(root):
        for page in site.pages:
            check("page", page)
            body = site.render_body(page)
            if "<!--" in body:
                problems.append(f"page {page.id}: a marker is left: "
                                f"{body[body.index('<!--'):][:40]!r}")
    return problems


# -- outcomes and scores -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One (document, watch) pair that was labelled, found or both."""

    group: str  # a language, or a site
    item: str
    watch: str
    kind: str  # tp | fp | fn
    found: str = ""  # what the matcher reported (tp, fp)
    context: str = ""  # the text around it; for a miss, around a form of the watch's names


@dataclass
class Row:
    group: str
    items: int
    pairs: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


def outcomes_for(group: str, item: str, labels: Iterable[str],
                 found: dict[str, tuple[str, str]], missed: dict[str, str]) -> list[Outcome]:
    """Classify one item's pairs. `found`: watch -> (found text, snippet) of its first match;
    `missed`: watch -> where a form of its names is in the text (for false negatives)."""
    labels = set(labels)
    out = []
    for watch in sorted(labels | set(found)):
        if watch in found:
            text, snippet = found[watch]
            out.append(Outcome(group, item, watch, "tp" if watch in labels else "fp",
                               text, snippet))
        else:
            out.append(Outcome(group, item, watch, "fn", "", missed.get(watch, "")))
    return out


def score(outcomes: Sequence[Outcome], items: dict[str, list[str]], total: str) -> list[Row]:
    """One row per group (`items`: group -> its item ids, in display order) and a total."""
    rows = []
    for group, ids in items.items():
        mine = [o for o in outcomes if o.group == group]
        count = {k: sum(1 for o in mine if o.kind == k) for k in ("tp", "fp", "fn")}
        rows.append(Row(group, len(ids), count["tp"] + count["fn"], **count))
    rows.append(Row(total, sum(r.items for r in rows), sum(r.pairs for r in rows),
                    sum(r.tp for r in rows), sum(r.fp for r in rows), sum(r.fn for r in rows)))
    return rows


def _terms(entry: dict[str, Any]) -> list[str]:
    terms = [] if entry.get("match_name") is False else [entry["name"]]
    for alias in entry.get("aliases") or ():
        terms.append(alias["text"] if isinstance(alias, dict) else alias)
    terms += list(entry.get("keywords") or ())
    return terms


def trace(text: str, entry: dict[str, Any]) -> str:
    """Where a form of the watch's names is in `text` (a miss's likely cause), or ''. Each
    term is looked for whole, then by the start of its longest word (Хуавей -> 'хуав',
    სარტყელი -> 'სარტყ'), case-insensitively."""
    folded = text.casefold()
    probes = []
    for term in _terms(entry):
        probes.append(term.casefold())
    for term in _terms(entry):
        longest = max(re.split(r"[\s,\-–—]+", term.casefold()), key=len)
        probes.append(longest[:max(3, len(longest) * 2 // 3)])
    for probe in probes:
        at = folded.find(probe)
        if at >= 0 and probe:
            start, end = max(0, at - 40), min(len(text), at + len(probe) + 50)
            return ("…" if start else "") + " ".join(text[start:end].split()) + (
                "…" if end < len(text) else "")
    return ""


def _untraced(entry: dict[str, Any]) -> str:
    if entry.get("transliterate"):
        return "none of its names as written (transliterate: generated spellings not looked for)"
    return ""


# -- documents through the matcher -------------------------------------------------------------


def measure_documents(documents: Sequence[Document], root: Path = LABELLED) -> list[Outcome]:
    """Each document as a crawl would store it, through `monitor.match.Matcher`."""
    from monitor.match import Matcher
    from monitor.models import ScrapedItem
    from monitor.normalise import normalise
    from monitor.watches import load_watchlist

    watches = load_watchlist(str(root / "watches.yaml"), None, "bench/labelled/watches.yaml")
    entries = {e["name"]: e for e in load_watch_entries(root)}
    matcher = Matcher(watches)
    outcomes = []
    for doc in documents:
        item = normalise(ScrapedItem(source=f"labelled_{doc.language}",
                                     url=f"https://labelled.example/{doc.id}", title=doc.title,
                                     body=doc.text, language=doc.language))
        found: dict[str, tuple[str, str]] = {}
        for match in matcher.match(item):
            found.setdefault(match.watch, (match.found, " ".join(match.snippet.split())))
        full = f"{item.title}\n{item.text}"
        missed = {w: trace(full, entries[w]) or _untraced(entries[w])
                  for w in doc.labels if w not in found}
        outcomes += outcomes_for(doc.language, doc.id, doc.labels, found, missed)
    return outcomes


def document_report(documents: Sequence[Document], outcomes: Sequence[Outcome],
                    ) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for doc in documents:
        groups.setdefault(doc.language, []).append(doc.id)
    rows = score(outcomes, groups, "all")
    return {"rows": [r.to_dict() for r in rows],
            "outcomes": [asdict(o) for o in outcomes if o.kind != "tp"]}


# -- pages through the crawl -------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path.split("?", 1)[0])
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        kind = "application/xml" if self.path.endswith(".xml") else "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class _Served:
    site: Site
    server: ThreadingHTTPServer
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, count: int, today: str) -> None:
        """Show the first `count` articles (and a listing or sitemap naming them)."""
        self.files.clear()
        self.files.update(self.site.files(self.site.pages[:count], self.base, today))


def serve(sites: Sequence[Site], max_seconds: float) -> list[_Served]:
    """Each site on its own loopback server in a daemon thread; all stop after max_seconds."""
    served = []
    for site in sites:
        files: dict[str, bytes] = {}
        handler = type(f"Handler_{site.name}", (_Handler,), {"files": files})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"site-{site.name}",
                         daemon=True).start()
        timer = threading.Timer(max_seconds, server.shutdown)
        timer.daemon = True
        timer.start()
        served.append(_Served(site, server, files))
    return served


def write_config(path: Path, served: Sequence[_Served], root: Path = LABELLED) -> None:
    sources: list[dict[str, Any]] = []
    for one in served:
        site = one.site
        if site.kind == "sitemap":
            sources.append({"name": site.name, "kind": "sitemap",
                            "url": one.base + site.sitemap, "language": "en",
                            "max_age_days": 36500})
        else:
            sources.append({"name": site.name, "kind": "page", "url": one.base + site.listing,
                            "language": "en", "selectors": {"links": site.links}})
    config = {
        "watchlist": str((root / "watches.yaml").resolve()),
        "sources": sources,
        "crawl": {"delay": 0, "concurrency_per_domain": 1, "obey_robots": False,
                  "http_cache": False, "retries": 0, "timeout": 30},
        "evidence": {"keep": "none"},
    }
    path.write_text("# generated by bench/quality.py\n"
                    + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")


def _env(checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MONITOR_") and k != "SCRAPY_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(checkout / "src"), str(checkout)])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def crawl_pages(served: Sequence[_Served], checkout: Path, work: Path, per_crawl: int = 1,
                timeout: float = 300) -> tuple[Path, list[str]]:
    """Publish `per_crawl` more articles per site (0: all of them) and run `monitor crawl` on
    one state dir, until every article is out. Returns the database and what went wrong (a
    source not ok, fewer new articles than published)."""
    config, state = work / "sources.yaml", work / "state"
    write_config(config, served)
    today = datetime.now(UTC).date().isoformat()
    problems = []
    most = max(len(one.site.pages) for one in served)
    step = per_crawl if per_crawl > 0 else most
    command = [sys.executable, "-m", "monitor", "--config", str(config), "--state", str(state),
               "crawl", "--json"]
    for count in range(step, most + step, step):
        for one in served:
            one.publish(count, today)
        run = subprocess.run(command, env=_env(checkout), cwd=checkout, capture_output=True,
                             text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        try:
            results = json.loads(run.stdout)["results"]
        except (ValueError, KeyError):
            raise SystemExit(f"monitor crawl failed (exit {run.returncode}) in {checkout}:\n"
                             f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}") from None
        for result in results:
            pages = len(_site(served, result["source"]).pages)
            expected = max(0, min(count, pages) - max(0, count - step))
            if result["status"] != "ok" or result["new_items"] != expected:
                problems.append(f"crawl {count // step}: {result['source']}: {result['status']}, "
                                f"{result['new_items']} new (expected {expected}): "
                                f"{result.get('error') or ''}".rstrip(": "))
    return state / "monitor.db", problems


def _site(served: Sequence[_Served], name: str) -> Site:
    return next(one.site for one in served if one.site.name == name)


def _url_key(url: str) -> str:
    path = re.sub(r"^[a-z]+://[^/]+", "", url).split("?", 1)[0].split("#", 1)[0]
    return path.rstrip("/").lower()


def read_store(db: Path) -> dict[str, dict[str, Any]]:
    """url key -> {title, text, matches: [(watch, found, snippet)]} of every stored item."""
    items: dict[int, dict[str, Any]] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for item_id, url, title, text in conn.execute(
                "SELECT id, url, title, text FROM items ORDER BY id"):
            items[item_id] = {"url": url, "title": title, "text": text, "matches": []}
        for item_id, watch, found, snippet in conn.execute(
                'SELECT item_id, watch, found, snippet FROM matches ORDER BY item_id, field, '
                'start'):
            if item_id in items:
                items[item_id]["matches"].append((watch, found, " ".join(snippet.split())))
    return {_url_key(v["url"]): v for v in items.values()}


def _visible_text(page_html: str) -> str:
    text = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page_html)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def measure_pages(sites: Sequence[Site], checkout: Path, work: Path, max_seconds: float,
                  per_crawl: int = 1, root: Path = LABELLED) -> tuple[list[Outcome], list[str]]:
    entries = {e["name"]: e for e in load_watch_entries(root)}
    served = serve(sites, max_seconds)
    try:
        db, problems = crawl_pages(served, checkout, work, per_crawl)
    finally:
        for one in served:
            one.server.shutdown()
            one.server.server_close()
    stored = read_store(db)
    outcomes = []
    for site in sites:
        for page in site.pages:
            item = stored.get(_url_key(site.path(page)))
            found: dict[str, tuple[str, str]] = {}
            missed: dict[str, str] = {}
            if item is None:
                problems.append(f"{page.id}: not stored")
                missed = {w: "the page was not stored" for w in page.labels}
            else:
                for watch, text, snippet in item["matches"]:
                    found.setdefault(watch, (text, snippet))
                extracted = f"{item['title']}\n{item['text']}"
                raw = _visible_text(site.render_article(page))
                for watch in page.labels:
                    if watch in found:
                        continue
                    where = trace(extracted, entries[watch])
                    if not where:
                        on_page = trace(raw, entries[watch])
                        where = ("not in the extracted text"
                                 + (f"; on the page: {on_page}" if on_page else ""))
                    missed[watch] = where
            outcomes += outcomes_for(site.name, page.id, page.labels, found, missed)
    return outcomes, problems


def page_report(sites: Sequence[Site], outcomes: Sequence[Outcome], problems: list[str],
                ) -> dict[str, Any]:
    rows = score(outcomes, {s.name: [p.id for p in s.pages] for s in sites}, "all pages")
    return {"rows": [r.to_dict() for r in rows],
            "outcomes": [asdict(o) for o in outcomes if o.kind != "tp"],
            "problems": problems}


# -- one checkout ------------------------------------------------------------------------------


def describe(checkout: Path) -> str:
    """The checkout's commit (and whether its tree has changes), for the record."""
    try:
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(checkout)
    return f"{checkout} at {commit}" + (" with uncommitted changes" if dirty else "")


def run_documents_in(checkout: Path) -> dict[str, Any]:
    """The documents' report from a child process that imports the checkout's monitor."""
    command = [sys.executable, str(Path(__file__).resolve()), "--part", "documents",
               "--json", "--as-child"]
    run = subprocess.run(command, env=_env(checkout), cwd=checkout, capture_output=True,
                         text=True, timeout=600, stdin=subprocess.DEVNULL)
    try:
        report: dict[str, Any] = json.loads(run.stdout)["checkouts"][0]["documents"]
        return report
    except (ValueError, KeyError, IndexError):
        raise SystemExit(f"the documents' measurement failed in {checkout} "
                         f"(exit {run.returncode}):\n{run.stderr[-3000:]}") from None


def measure(checkout: Path, part: str, max_seconds: float, keep: bool, per_crawl: int = 1,
            in_process: bool = False) -> dict[str, Any]:
    report: dict[str, Any] = {"checkout": describe(checkout)}
    started = time.perf_counter()
    if part in ("documents", "both"):
        if in_process:
            documents = load_documents()
            report["documents"] = document_report(documents, measure_documents(documents))
        else:
            report["documents"] = run_documents_in(checkout)
    if part in ("pages", "both"):
        sites = load_sites()
        work = Path(tempfile.mkdtemp(prefix="monitor-quality-"))
        try:
            outcomes, problems = measure_pages(sites, checkout, work, max_seconds, per_crawl)
        finally:
            if keep:
                print(f"kept {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)
        report["pages"] = page_report(sites, outcomes, problems)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


# -- printing ----------------------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(rows: Sequence[dict[str, Any]], first: str, count: str = "documents") -> str:
    headers = [first, count, "pairs", "tp", "fp", "fn", "precision", "recall"]
    cells = [[r["group"], str(r["items"]), str(r["pairs"]), str(r["tp"]), str(r["fp"]),
              str(r["fn"]), _ratio(r["precision"]), _ratio(r["recall"])] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(headers, *cells, strict=True)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in [headers, *cells]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def misses(outcomes: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for o in sorted(outcomes, key=lambda o: (o["kind"], o["group"], o["item"], o["watch"])):
        if o["kind"] == "fp":
            lines.append(f"  FP {o['item']:7} {o['watch']}: found {o['found']!r} in "
                         f"{o['context']!r}")
        else:
            lines.append(f"  FN {o['item']:7} {o['watch']}: "
                         + (repr(o["context"]) if o["context"] else "no form of its names in "
                            "the text"))
    return lines


def print_report(name: str, report: dict[str, Any]) -> None:
    print(f"\n== {name}: {report['checkout']} ({report['seconds']} s)")
    if "documents" in report:
        print("\nDocuments through monitor.match.Matcher\n")
        print(table(report["documents"]["rows"], "language"))
        print("\n".join(misses(report["documents"]["outcomes"])) or "  no misses")
    if "pages" in report:
        print("\nArticle pages through monitor crawl (extraction, learning, matching)\n")
        print(table(report["pages"]["rows"], "site", "pages"))
        print("\n".join(misses(report["pages"]["outcomes"])) or "  no misses")
        for problem in report["pages"]["problems"]:
            print(f"  problem: {problem}")


def print_comparison(before: dict[str, Any], after: dict[str, Any]) -> None:
    print("\n== side by side: precision / recall, baseline -> this checkout\n")
    lines = [("set", "pairs", "baseline P / R", "this P / R", "fp", "fn")]
    for part in ("documents", "pages"):
        if part not in before or part not in after:
            continue
        old = {r["group"]: r for r in before[part]["rows"]}
        for row in after[part]["rows"]:
            was = old.get(row["group"])
            if was is None:
                continue
            lines.append((row["group"], str(row["pairs"]),
                          f"{_ratio(was['precision'])} / {_ratio(was['recall'])}",
                          f"{_ratio(row['precision'])} / {_ratio(row['recall'])}",
                          f"{was['fp']} -> {row['fp']}", f"{was['fn']} -> {row['fn']}"))
    widths = [max(len(x[i]) for x in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("documents", "pages", "both"), default="both",
                        help="what to measure (default both)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="also measure the monitor checked out in DIR, and compare")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the crawls' state dirs")
    parser.add_argument("--max-seconds", type=float, default=900,
                        help="the sites shut down after this long, whatever happens")
    parser.add_argument("--per-crawl", type=int, default=1, metavar="N",
                        help="articles each site publishes between two crawls (default 1: "
                        "publishing order, deterministic); 0: all in one first crawl, in the "
                        "order Scrapy fetches them (not deterministic)")
    parser.add_argument("--as-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.as_child:  # the documents' half for run_documents_in: this process's monitor
        report = measure(ROOT, "documents", args.max_seconds, False, in_process=True)
        import monitor

        report["documents"]["monitor"] = monitor.__file__
        print(json.dumps({"checkouts": [report]}, ensure_ascii=False))
        return 0
    problems = check_labelled()
    if problems:
        raise SystemExit("bench/labelled is not consistent:\n" + "\n".join(problems))
    reports = []
    if args.baseline:
        if not (args.baseline / "src" / "monitor").is_dir():
            raise SystemExit(f"--baseline {args.baseline}: no src/monitor there")
        reports.append(("baseline", measure(args.baseline.resolve(), args.part,
                                            args.max_seconds, args.keep, args.per_crawl)))
    reports.append(("this checkout", measure(ROOT, args.part, args.max_seconds, args.keep,
                                             args.per_crawl)))
    if args.json:
        print(json.dumps({"checkouts": [{"name": n, **r} for n, r in reports]},
                         ensure_ascii=False, indent=1))
        return 0
    for name, report in reports:
        print_report(name, report)
    if len(reports) == 2:
        print_comparison(reports[0][1], reports[1][1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
