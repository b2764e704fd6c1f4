"""`monitor notify-test`."""

from __future__ import annotations

import json
import sys

import click

from monitor.cli.app import Context, cli, handle_errors


@cli.command(name="notify-test")
@click.argument("recipient")
@click.option("--json", "as_json", is_flag=True, help="Print each channel's result as JSON.")
@click.pass_obj
@handle_errors
def notify_test(obj: Context, recipient: str, as_json: bool) -> None:
    """Send a test message to every alert channel of RECIPIENT (an email or a name) and say
    how each went: the email (SMTP, or a file under <state>/outbox/ without `smtp:`) and
    each `notify` / `notify_env` Apprise URL. Sent now, not through the outbox. Exit code 1
    when a channel failed.

    \b
    Example:
        monitor notify-test ana@example.org
        TELEGRAM_URL='tgram://...' monitor notify-test ana@example.org --json
    """
    from monitor.alerts import notify_test as run_test

    results = run_test(obj.config, recipient, obj.state)
    if as_json:
        click.echo(json.dumps([{"channel": r.channel, "ok": r.error is None,
                                "error": r.error, "via": r.via or None} for r in results],
                              ensure_ascii=False, indent=2))
    else:
        for r in results:
            if r.error is None:
                via = f" ({r.via})" if r.via else ""
                click.echo(f"{r.channel}: sent{via}")
            else:
                click.echo(f"{r.channel}: FAILED: {r.error}", err=True)
    if any(r.error is not None for r in results):
        sys.exit(1)
