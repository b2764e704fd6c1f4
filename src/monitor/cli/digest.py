"""`monitor digest`: queue and deliver, or preview."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from monitor.cli.app import Context, cli, handle_errors
from monitor.cli.output import _at, _short


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
    under <state>/outbox/. Exit code 1 when something is still queued (alerts held
    by their recipients' quiet hours are not: they wait as they should).

    \b
    Example:
        monitor digest --preview           # look before sending
        monitor digest                     # queue and send
    """
    from monitor import mail
    from monitor.store import open_store

    config = obj.config
    with open_store(obj.state) as store:
        if preview:
            target = Path(html_path) if html_path else obj.state / "digest-preview.html"
            text = mail.preview(store, config, recipient, html_path=target)
            click.echo(text)
            click.echo(f"\nHTML version written to {target} (nothing marked delivered)",
                       err=True)
            return
        queued = mail.queue_digests(store, config, obj.state)
        report = mail.deliver(store, config, force=True)
        # alerts held by their recipients' quiet hours wait as they should: not stuck
        held = {outbox_id for outbox_id, _ in report.held}
        stuck = [row for row in store.queued_messages() if row.id not in held]
    if as_json:
        click.echo(json.dumps(
            {"queued": [asdict(q) for q in queued], "sent": report.sent,
             "failed": report.failed, "given_up": report.given_up,
             "still_queued": report.still_queued, "held": report.held},
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
        if report.held:
            click.echo(f"{len(report.held)} alert message(s) held by quiet hours: "
                       "they go out when the quiet hours end")
        if stuck:
            oldest = stuck[0]
            kinds = {row.kind for row in stuck}
            noun = ("digest(s)" if kinds == {"digest"} else "alert message(s)"
                    if kinds == {"alert"} else "message(s)")
            click.echo(f"{len(stuck)} {noun} stuck in the outbox, the oldest #{oldest.id} "
                       f"to {oldest.recipient} since {_at(oldest.created_at)} after "
                       f"{oldest.attempts} attempt(s); last error: "
                       f"{_short(oldest.last_error, 200) or 'none recorded'}", err=True)
    if report.still_queued:
        sys.exit(1)
