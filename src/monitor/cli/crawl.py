"""`monitor crawl` and `monitor test-source`, with progress on the terminal."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime
from typing import Any

import click

from monitor.cli.app import Context, cli, handle_errors
from monitor.cli.output import table
from monitor.errors import MonitorError


class Progress:
    """A one-line live status on a terminal; one line per finished source otherwise."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = total
        self.done = 0
        self.live: dict[str, str] = {}

    def __call__(self, event: Any) -> None:
        from monitor.crawl import CrawlEvent

        assert isinstance(event, CrawlEvent)
        name = event.source or "?"
        data = event.data
        if event.kind == "run_started":
            self.live[name] = "starting"
        elif event.kind == "progress":
            self.live[name] = (f"{data['fetched']} fetched, {data['new_items']} new, "
                               f"{data['new_matches']} matches")
        elif event.kind == "run_finished":
            self.done += 1
            self.live.pop(name, None)
            result = data["result"]
            self._clear()
            click.echo(f"  {name}: {result['status']} ({result['fetched']} fetched, "
                       f"{result['new_items']} new, {result['new_matches']} new matches)",
                       file=self.stream)
        elif event.kind == "error":
            self._clear()
            click.echo(f"  {data.get('message')}", file=self.stream)
        self._draw()

    def _clear(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")

    def _draw(self) -> None:
        if not self.tty:
            return
        running = " · ".join(f"{k}: {v}" for k, v in list(self.live.items())[:3])
        line = f"[{self.done}/{self.total}] {running}"
        width = shutil.get_terminal_size().columns
        self.stream.write("\r\x1b[K" + line[: width - 1])
        self.stream.flush()

    def close(self) -> None:
        self._clear()
        if self.tty:
            self.stream.flush()


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--timeout", type=float, default=None,
              help="Kill the crawl after this many seconds (runs recorded as timeout).")
@click.option("--wait", type=float, default=0, show_default=True,
              help="Seconds to wait for a source that another process (e.g. the daemon) "
                   "is crawling; after that it is skipped.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              metavar="YYYY-MM-DD",
              help="Portal sources only: backfill records changed since this date (read "
                   "from there, not from where the last run stopped) and report them, "
                   "instead of a first run's silent baseline.")
@click.pass_obj
@handle_errors
def crawl(obj: Context, sources: tuple[str, ...], as_json: bool, timeout: float | None,
          wait: float, since: datetime | None) -> None:
    """Crawl SOURCES (default: every enabled source), store and match what they publish.

    One failing source never stops the others; its error is recorded and shown. Exit code 1
    only when every source failed. When it ends, the immediate alerts of what it found
    (watches or recipients with `alert: immediate`) are queued and delivered.

    \b
    Example:
        monitor crawl                      # all enabled sources
        monitor crawl civil_ge oc_media    # just these two
        monitor crawl --json | jq '.results[] | select(.status != "ok")'
        monitor crawl prozorro --since 2026-01-01   # backfill a portal from that date
    """
    from monitor.crawl import crawl as run_crawl

    config = obj.config
    selected = config.select(sources)
    if since is not None and not sources:
        # a backfill of "everything" means every portal source
        selected = tuple(s for s in selected if s.kind == "portal")
        sources = tuple(s.name for s in selected)
    if not selected:
        raise MonitorError(f"{config.path}: no enabled sources to crawl")
    progress = None if as_json else Progress(len(selected))
    if progress is not None:
        click.echo(f"Crawling {len(selected)} source(s)…", err=True)
    try:
        report = run_crawl(config, obj.state, sources, on_event=progress, timeout=timeout,
                           wait=wait, since=since.date() if since else None)
    finally:
        if progress is not None:
            progress.close()
    results = report.results
    busy = [{"source": name, "held_by": who} for name, who in report.busy]
    alerts = _alerts(obj, results)
    if as_json:
        click.echo(json.dumps({"results": [r.to_dict() for r in results], "busy": busy,
                               "log": str(report.log_path), "alerts": alerts},
                              ensure_ascii=False, indent=2))
    else:
        rows = [(r.source, r.status, r.requests, r.fetched, r.not_due, r.not_modified,
                 r.new_items, r.changed_items, r.new_matches, r.errors, f"{r.seconds:.1f}")
                for r in results]
        if rows:
            # requests: made (robots.txt included); not due: stored articles left alone;
            # 304: revisits the server answered "not modified"
            click.echo(table(rows, ["source", "status", "requests", "fetched", "not due",
                                    "304", "new items", "changed", "new matches", "errors",
                                    "seconds"]))
        for r in results:
            if r.error:
                click.echo(f"{r.source}: {r.error}", err=True)
        for entry in busy:
            click.echo(f"{entry['source']}: skipped, another process is crawling it "
                       f"({entry['held_by']}); try again later or use --wait SECONDS", err=True)
        if results:
            new = sum(r.new_matches for r in results)
            click.echo(f"\n{new} new match(es). Crawl log: {report.log_path}")
        _print_alerts(alerts)
    if report.all_failed or not results:
        sys.exit(1)


def _alerts(obj: Context, results: list[Any]) -> dict[str, Any]:
    """The crawl's immediate alerts, queued and delivered now (`monitor.alerts`)."""
    from monitor.alerts import after_crawl
    from monitor.store import open_store

    if not results or not obj.config.recipients:
        return {}
    with open_store(obj.state) as store:
        report = after_crawl(store, obj.config, results)
    delivery = report.delivery
    return {
        "queued": [{"alert_id": a, "recipient": r, "subject": s, "findings": n}
                   for a, r, s, n in report.queue.queued],
        "waiting": [{"recipient": r, "findings": n, "why": why}
                    for r, n, why in report.queue.waiting],
        "sent": [{"outbox_id": i, "recipient": r, "via": via}
                 for i, r, _, via in (delivery.sent if delivery else [])],
        "failed": [{"outbox_id": i, "recipient": r, "error": e}
                   for i, r, e in (delivery.failed if delivery else [])],
        "error": report.error,
    }


def _print_alerts(alerts: dict[str, Any]) -> None:
    if not alerts or not any(alerts.values()):
        return
    for entry in alerts["queued"]:
        click.echo(f"Alert for {entry['recipient']}: {entry['subject']}", err=True)
    for entry in alerts["waiting"]:
        click.echo(f"Alerts for {entry['recipient']} wait ({entry['findings']} finding(s)): "
                   f"{entry['why']}", err=True)
    for entry in alerts["sent"]:
        click.echo(f"  sent #{entry['outbox_id']} to {entry['recipient']} via {entry['via']}",
                   err=True)
    for entry in alerts["failed"]:
        click.echo(f"  NOT sent #{entry['outbox_id']} to {entry['recipient']}: "
                   f"{entry['error']} (kept in the outbox, retried later; `monitor status`)",
                   err=True)
    if alerts["error"]:
        click.echo(f"Alerts not delivered: {alerts['error']} (they stay in the outbox)",
                   err=True)


# -- test-source ------------------------------------------------------------


@cli.command(name="test-source")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print items and matches as JSON.")
@click.option("--limit", type=int, default=20, show_default=True, help="Items to show.")
@click.pass_obj
@handle_errors
def test_source(obj: Context, name: str, as_json: bool, limit: int) -> None:
    """Crawl one source, normalise and match, and print what was found.

    Stores nothing and sends nothing: use it while writing a source's selectors.

    \b
    Example:
        monitor test-source civil_ge
        monitor test-source my_page_source --limit 5 --json
    """
    from monitor.crawl import crawl as run_crawl

    config = obj.config
    config.source(name)
    report = run_crawl(config, obj.state, [name], dry_run=True)
    result = report.results[0]
    if as_json:
        click.echo(json.dumps({"result": result.to_dict(), "items": report.items[:limit]},
                              ensure_ascii=False, indent=2))
    else:
        for entry in report.items[:limit]:
            item = entry["item"]
            click.echo(click.style(item["title"] or "(no title)", bold=True))
            click.echo(f"  {item['url']}")
            click.echo(f"  published: {item['published_at'] or 'unknown'}; "
                       f"{len(item['text'])} characters of text")
            text = " ".join(item["text"].split())
            click.echo(f"  text: {text[:160]}{'…' if len(text) > 160 else ''}")
            for match in entry["matches"]:
                click.echo(click.style(f"  MATCH {match['watch']}", fg="green")
                           + f" ({match['field']}): {match['snippet']}")
        click.echo(f"\n{name}: {result.status}, {result.fetched} fetched, "
                   f"{len(report.items)} items, "
                   f"{sum(len(e['matches']) for e in report.items)} matches")
        for detail in result.error_details or ([result.error] if result.error else []):
            click.echo(f"  error: {detail}", err=True)
    if result.status in ("error", "timeout", "interrupted"):
        sys.exit(1)
