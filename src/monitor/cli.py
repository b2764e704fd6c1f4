"""The `monitor` command: parse options, call the library, print, exit.

Every `MonitorError` becomes a one-line message on stderr and its `exit_code` (2 for bad
config or arguments, 1 otherwise). Nothing below the CLI prints or exits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor.config import Config, load_config
from monitor.errors import MonitorError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_CONFIG = "config/sources.yaml"
DEFAULT_STATE = "state"


class Context:
    def __init__(self, config_path: str, state: str) -> None:
        self.config_path = Path(config_path)
        self.state = Path(state)
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


def handle_errors(func: F) -> F:
    """Turn a MonitorError into a clean message and its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MonitorError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="MONITOR_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, help="The sources.yaml to use (env: MONITOR_CONFIG).")
@click.option("--state", envvar="MONITOR_STATE", default=DEFAULT_STATE, show_default=True,
              help="Directory for the database, outbox and logs (env: MONITOR_STATE).")
@click.version_option(package_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: str, state: str) -> None:
    """Watch procurement portals and news sites for companies, people and keywords.

    \b
    Example:
        monitor demo                       # everything, on bundled sample sites
        monitor --config my.yaml crawl     # crawl every enabled source
        monitor digest                     # email what is new
    """
    ctx.obj = Context(config_path, state)


# -- check-config ---------------------------------------------------------------------------


@cli.command(name="check-config")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.pass_obj
@handle_errors
def check_config(obj: Context, as_json: bool) -> None:
    """Validate the config file and say what it contains; exit 2 when it is invalid.

    \b
    Example:
        monitor --config config/sources.yaml check-config
    """
    config = obj.config
    config.require_sources()
    summary = {
        "config": str(config.path),
        "sources": [s.name for s in config.sources],
        "enabled": [s.name for s in config.sources if s.enabled],
        "watches": [w.name for w in config.watches],
        "recipients": [r.email for r in config.recipients],
        "smtp": f"{config.smtp.host}:{config.smtp.effective_port}" if config.smtp else None,
        "warnings": config.unset_secrets(os.environ) + (
            [] if any(s.enabled for s in config.sources)
            else ["no source is enabled: `monitor run` would crawl nothing"]),
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(f"{config.path}: OK")
    click.echo(f"  {len(config.sources)} sources ({len(summary['enabled'])} enabled), "
               f"{len(config.watches)} watches, {len(config.recipients)} recipients")
    click.echo("  delivery: " + (f"SMTP {summary['smtp']}" if config.smtp
                                 else f"files in {obj.state / 'outbox'}"))
    for warning in summary["warnings"]:
        click.echo(f"  warning: {warning}")


# -- crawl ----------------------------------------------------------------------------------


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


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


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
    only when every source failed.

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
    if as_json:
        click.echo(json.dumps({"results": [r.to_dict() for r in results], "busy": busy,
                               "log": str(report.log_path)}, ensure_ascii=False, indent=2))
    else:
        rows = [(r.source, r.status, r.fetched, r.new_items, r.new_matches, r.errors,
                 f"{r.seconds:.1f}") for r in results]
        if rows:
            click.echo(table(rows, ["source", "status", "fetched", "new items", "new matches",
                                    "errors", "seconds"]))
        for r in results:
            if r.error:
                click.echo(f"{r.source}: {r.error}", err=True)
        for entry in busy:
            click.echo(f"{entry['source']}: skipped, another process is crawling it "
                       f"({entry['held_by']}); try again later or use --wait SECONDS", err=True)
        if results:
            new = sum(r.new_matches for r in results)
            click.echo(f"\n{new} new match(es). Crawl log: {report.log_path}")
    if report.all_failed or not results:
        sys.exit(1)


# -- test-source ----------------------------------------------------------------------------


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


# -- digest ---------------------------------------------------------------------------------


@cli.command()
@click.option("--preview", is_flag=True,
              help="Print the text version and write the HTML; mark nothing delivered.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Where --preview writes the HTML [default: <state>/digest-preview.html].")
@click.option("--recipient", default=None, help="With --preview: whose digest to show.")
@click.option("--json", "as_json", is_flag=True, help="Print what was queued and sent as JSON.")
@click.pass_obj
@handle_errors
def digest(obj: Context, preview: bool, html_path: str | None, recipient: str | None,
           as_json: bool) -> None:
    """Build each recipient's digest of new matches and deliver it, exactly once.

    Digests go to the outbox first and are marked sent only when the SMTP server accepts
    them; a digest that could not be sent stays queued and goes out with the next
    `monitor digest`. Without `smtp:` in the config, digests are written as .eml files
    under <state>/outbox/. Exit code 1 when something is still queued.

    \b
    Example:
        monitor digest --preview           # look before sending
        monitor digest                     # queue and send
    """
    from monitor import mail
    from monitor.store import Store

    config = obj.config
    with Store(obj.state) as store:
        if preview:
            target = Path(html_path) if html_path else obj.state / "digest-preview.html"
            text = mail.preview(store, config, recipient, html_path=target)
            click.echo(text)
            click.echo(f"\nHTML version written to {target} (nothing marked delivered)",
                       err=True)
            return
        queued = mail.queue_digests(store, config, obj.state)
        report = mail.deliver(store, config, force=True)
        stuck = store.queued_messages()
    if as_json:
        click.echo(json.dumps(
            {"queued": [asdict(q) for q in queued], "sent": report.sent,
             "failed": report.failed, "given_up": report.given_up,
             "still_queued": report.still_queued},
            ensure_ascii=False, indent=2, default=str))
    else:
        if not queued:
            click.echo("No new digest: nothing new matched and every source was fine"
                       + (", but earlier digests are stuck (below)." if stuck else "."))
        for q in queued:
            click.echo(f"Queued for {q.recipient}: {q.subject} ({q.eml_path})")
        for outbox_id, recipient_email, subject, via in report.sent:
            click.echo(f"Sent #{outbox_id} to {recipient_email} via {via}")
        given_up = {entry[0] for entry in report.given_up}
        for outbox_id, recipient_email, error in report.failed:
            if outbox_id in given_up:
                click.echo(f"Gave up on #{outbox_id} to {recipient_email}: {error} (refused "
                           "for good; kept in the outbox as failed, see `monitor status`)",
                           err=True)
            else:
                click.echo(f"Not sent #{outbox_id} to {recipient_email}: {error} "
                           "(kept in the outbox; the next `monitor digest` retries)", err=True)
        if stuck:
            oldest = stuck[0]
            click.echo(f"{len(stuck)} digest(s) stuck in the outbox, the oldest #{oldest['id']} "
                       f"to {oldest['recipient']} since {_at(oldest['created_at'])} after "
                       f"{oldest['attempts']} attempt(s); last error: "
                       f"{_short(oldest['last_error'], 200) or 'none recorded'}", err=True)
    if report.still_queued:
        sys.exit(1)


# -- explain and rematch --------------------------------------------------------------------


@cli.command()
@click.argument("item_id")
@click.option("--tender", is_flag=True,
              help="ITEM_ID is a tender: its number or OCID (e.g. NAT230021830), or its id.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
@handle_errors
def explain(obj: Context, item_id: str, tender: bool, as_json: bool) -> None:
    """Say why a stored item (or tender) matched each watch, or why it did not.

    ITEM_ID is the `item_id` in `monitor crawl --json`, the database or a digest's .eml;
    with --tender, a tender number as the portal writes it. Every hit is listed: kept (with
    the alias as written, the text as found and the field or role: title, body, winner,
    bidder, buyer) or rejected with the reason (not a whole word, excluded by a phrase,
    rule or context missing, ...).

    \b
    Example:
        monitor explain 1234
        monitor explain 1234 --json | jq '.[] | select(.matches != [])'
        monitor explain --tender NAT230021830
    """
    from dataclasses import asdict

    from monitor.explain import explain_item, explain_tenders
    from monitor.store import Store

    with Store(obj.state) as store:
        explained = (explain_tenders(store, obj.config, item_id) if tender
                     else [explain_item(store, obj.config, item_id)])
    if as_json:
        data = [[asdict(e) for e in record.explanations] for record in explained]
        click.echo(json.dumps(data if tender else data[0], ensure_ascii=False, indent=2))
        return
    for record in explained:
        click.echo(click.style(record.title, bold=True) + f"\n  {record.url}\n")
        _print_explanations(record.explanations)


def _print_explanations(explained: Sequence[Any]) -> None:
    for entry in explained:
        if not entry.matches and not entry.rejected:
            click.echo(f"{entry.watch}: no alias or keyword occurs in the item")
            continue
        verdict = "MATCHED" if entry.matches else "not matched"
        click.echo(click.style(f"{entry.watch}: {verdict}", fg="green" if entry.matches
                               else None))
        for m in entry.matches:
            extra = "".join([f", generated variant {m.variant!r}" if m.variant else "",
                             f", via {m.via}" if m.via else ""])
            click.echo(f"  + {m.field} [{m.start}:{m.end}] {m.found!r} "
                       f"(matched {m.term_kind} {m.term!r}{extra})")
        for r in entry.rejected:
            click.echo(f"  - {r.field} [{r.start}:{r.end}] {r.found!r} "
                       f"({r.term_kind} {r.term!r}): {r.reason}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
@click.pass_obj
@handle_errors
def rematch(obj: Context, as_json: bool) -> None:
    """Match every stored item again with the current watch list.

    After you add a watch or an alias, this finds it in items crawled earlier. New matches
    go into the next digest marked "found by re-matching an item stored earlier", not as
    news; matches already stored are not repeated.

    \b
    Example:
        monitor rematch
        monitor rematch --json
    """
    from monitor.match import Matcher
    from monitor.rematch import rematch as run_rematch
    from monitor.store import Store

    config = obj.config
    matcher = Matcher(config.watches, snippet_chars=config.digest.snippet_chars)
    with Store(obj.state) as store:
        total = store.count("items") + store.count("tenders")
        if as_json:
            report = run_rematch(store, matcher)
        else:
            with click.progressbar(length=total, label="Re-matching stored items",
                                   file=sys.stderr) as bar:
                report = run_rematch(store, matcher, on_progress=bar.update)
    if as_json:
        click.echo(json.dumps({"items": report.items, "tenders": report.tenders,
                               "new_matches": report.new_matches,
                               "by_watch": report.by_watch}, ensure_ascii=False, indent=2))
        return
    click.echo(f"{report.items} items and {report.tenders} tenders re-matched: "
               f"{report.new_matches} new match(es)"
               + (" (" + ", ".join(f"{w} {n}" for w, n in report.by_watch.items()) + ")"
                  if report.by_watch else ""))


# -- run ------------------------------------------------------------------------------------


@cli.command()
@click.pass_obj
@handle_errors
def run(obj: Context) -> None:
    """Run the daemon: crawl every enabled source on its schedule and send each recipient's
    digest on theirs, until stopped.

    One daemon per state directory. SIGHUP re-reads the config (a broken one is refused and
    the running one kept); SIGTERM or Ctrl-C stops it, giving running crawls
    `daemon.stop_grace` seconds. Events are logged one per line to stderr and to
    <state>/logs/monitor.log. See README.md for a systemd unit.

    \b
    Example:
        monitor --config /etc/monitor/sources.yaml --state /var/lib/monitor run
        kill -HUP "$(cat /var/lib/monitor/monitor.pid)"   # reload the config
    """
    from monitor.scheduler import Daemon, configure_logging

    config = obj.config  # a bad config stops us here, with exit code 2
    config.require_sources()
    configure_logging(obj.state, config)
    Daemon(obj.config_path, obj.state).run()


# -- status ---------------------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _short(text: str | None, limit: int = 60) -> str:
    """A stored string for a terminal cell: one line, no control characters, cut to `limit`."""
    flat = " ".join(_CONTROL.sub("", text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= size):
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _ago(value: str | None, now: datetime) -> str:
    if not value:
        return "never"
    return f"{_span((now - datetime.fromisoformat(value)).total_seconds())} ago"


def _at(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print every source's health and the outbox as JSON.")
@click.pass_obj
@handle_errors
def status(obj: Context, as_json: bool) -> None:
    """Show each source's health, last run, last success, items, next run and last error.

    Unhealthy sources come first: failing (its last runs all failed), error (its last run
    failed, or it never succeeded), suspect (its last runs found no items where it used to
    find some), stale (no completed run for twice its interval), then never_run and ok. A
    line about the outbox follows. Exit code 0 whenever the state could be read: this is a
    report (filter --json to alert on it).

    \b
    Example:
        monitor status
        monitor status --json | jq '.sources[] | select(.health != "ok")'
    """
    from monitor.health import RANK
    from monitor.scheduler import daemon_pid
    from monitor.status import status as read_status
    from monitor.store import DB_NAME, Store

    config = obj.config
    if not (obj.state / DB_NAME).exists():
        click.echo(f"No database at {obj.state / DB_NAME} yet: nothing has run.", err=True)
    with Store(obj.state) as store:
        report = read_status(store, config)
    pid = daemon_pid(obj.state)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "config": str(config.path),
                               "daemon_pid": pid}, ensure_ascii=False, indent=2))
        return
    now = datetime.fromisoformat(report.now)
    assessed, outbox = report.sources, report.outbox
    rows = []
    for h in assessed:
        if h.next_run_at is None:
            next_run = "disabled"
        elif h.next_run_at <= now.isoformat():
            next_run = "due now"
        else:
            next_run = f"in {_span((datetime.fromisoformat(h.next_run_at) - now).total_seconds())}"
        last_run = f"{h.last_status}, {_ago(h.last_run_at, now)}" if h.last_status else "never"
        rows.append((h.source, h.health, last_run, _ago(h.last_success_at, now), h.items_7d,
                     next_run, _short(h.last_error)))
    if rows:
        click.echo(table(rows, ["source", "health", "last run", "last success", "items 7d",
                                "next run", "last error"]))
        counts = {state: sum(h.health == state for h in assessed) for state in RANK}
        click.echo(f"\n{len(assessed)} source(s): "
                   + ", ".join(f"{n} {state}" for state, n in counts.items() if n))
        warned = [h for h in assessed if h.warnings]
        if warned:
            click.echo("\nWarnings from the last run:")
            for h in warned:
                for warning in h.warnings:
                    click.echo(f"  {h.source}: {warning}")
    else:
        click.echo(f"{config.path}: no sources configured")
    if outbox.queued:
        line = (f"Outbox: {outbox.queued} digest{'s' if outbox.queued != 1 else ''} queued, "
                f"oldest from {_at(outbox.oldest_created_at)}")
        if outbox.last_error:
            line += f"; last send error: {_short(outbox.last_error, 120)}"
        click.echo(line + " (retried with back-off; `monitor digest` sends them now)")
    else:
        click.echo("Outbox: no digest waiting to be sent.")
    for row in outbox.failed:
        click.echo(f"Outbox: digest #{row['id']} to {row['recipient']} of "
                   f"{_at(row['created_at'])} FAILED after {row['attempts']} attempt(s), not "
                   f"retried: {_short(row['last_error'], 160)} (kept: {row['eml_path']})")
    click.echo(f"Daemon: running (pid {pid})" if pid else
               f"Daemon: not running on {obj.state} (start it with `monitor run`)")


# -- demo -----------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_obj
@handle_errors
def demo(obj: Context, as_json: bool) -> None:
    """Run everything on bundled sample sites, with no network and no configuration.

    Serves sample news sites on localhost, crawls them, matches a sample watch list, stores
    to <state>/demo/, and delivers the digest to a local SMTP server started for the demo.

    \b
    Example:
        monitor demo
        monitor --state /tmp/monitor-demo demo --json
    """
    from monitor.demo import run_demo

    def show(line: str) -> None:
        if not as_json:
            click.echo(line, err=True)

    report = run_demo(obj.state / "demo", on_step=show)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(report.render())


def main() -> None:
    cli(prog_name="monitor")
