"""`monitor check-config`."""

from __future__ import annotations

import json
import os

import click

from monitor.cli.app import Context, cli, handle_errors
from monitor.config import Config


@cli.command(name="check-config")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.pass_obj
@handle_errors
def check_config(obj: Context, as_json: bool) -> None:
    """Validate the config file and say what it contains; exit 2 when it is invalid.

    Warns of secrets whose environment variable is unset (`token_env`, `password_env`,
    `notify_env`) and of alert channels whose Apprise URL Apprise cannot read (their URLs
    are never printed).

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
        "recipients": [r.key for r in config.recipients],
        "smtp": f"{config.smtp.host}:{config.smtp.effective_port}" if config.smtp else None,
        "warnings": config.unset_secrets(os.environ) + _channel_problems(config) + (
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


def _channel_problems(config: Config) -> list[str]:
    """Alert channels (`notify`, and `notify_env` variables that are set) whose URL Apprise
    does not understand: their alerts would never be delivered."""
    from monitor import notify

    problems = []
    for recipient in config.recipients:
        for channel in recipient.channels:
            if channel == notify.EMAIL or (channel.startswith("env:")
                                           and not os.environ.get(channel[4:])):
                continue
            error = notify.check(notify.resolve(channel, recipient=recipient.key))
            if error is not None:
                problems.append(f"recipient {recipient.key!r}: {notify.label(channel)}: "
                                f"{error}: its alerts would never be delivered")
    return problems
