"""`monitor check-config`."""

from __future__ import annotations

import json
import os

import click

from monitor.cli.app import Context, cli, handle_errors


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
