"""`monitor demo`."""

from __future__ import annotations

import json

import click

from monitor.cli.app import Context, cli, handle_errors


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
