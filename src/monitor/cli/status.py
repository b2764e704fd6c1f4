"""`monitor status`."""

from __future__ import annotations

import json
from datetime import datetime

import click

from monitor.cli.app import Context, cli, handle_errors
from monitor.cli.output import _ago, _at, _short, _span, table


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
    from monitor.store import DB_NAME, open_store

    config = obj.config
    if not (obj.state / DB_NAME).exists():
        click.echo(f"No database at {obj.state / DB_NAME} yet: nothing has run.", err=True)
    with open_store(obj.state) as store:
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
        digests = outbox.queued - outbox.alerts_queued
        what = [f"{digests} digest{'s' if digests != 1 else ''}" if digests else "",
                f"{outbox.alerts_queued} alert{'s' if outbox.alerts_queued != 1 else ''}"
                if outbox.alerts_queued else ""]
        line = (f"Outbox: {' and '.join(w for w in what if w)} queued, "
                f"oldest from {_at(outbox.oldest_created_at)}")
        if outbox.last_error:
            line += f"; last send error: {_short(outbox.last_error, 120)}"
        click.echo(line + " (retried with back-off; `monitor digest` sends them now)")
    else:
        click.echo("Outbox: no digest waiting to be sent.")
    for row in outbox.alerts_failing:
        click.echo(f"Outbox: alert #{row['id']} to {row['recipient']} via {row['channel']} "
                   f"not delivered after {row['attempts']} attempt(s), retried: "
                   f"{_short(row['last_error'], 160)}")
    for row in outbox.failed:
        kept = f" (kept: {row['eml_path']})" if row["eml_path"] else ""
        via = f" via {row['channel']}" if row["channel"] != "email" else ""
        click.echo(f"Outbox: {row['kind']} #{row['id']} to {row['recipient']}{via} of "
                   f"{_at(row['created_at'])} FAILED after {row['attempts']} attempt(s), not "
                   f"retried: {_short(row['last_error'], 160)}{kept}")
    if report.evidence is not None:
        click.echo(f"Evidence: {report.evidence.captures:,} capture(s), "
                   f"{report.evidence.bytes / 1e6:.1f} MB on disk; keeping {report.keep} "
                   "(`monitor evidence --verify` checks them)")
    click.echo(f"Daemon: running (pid {pid})" if pid else
               f"Daemon: not running on {obj.state} (start it with `monitor run`)")
