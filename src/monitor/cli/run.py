"""`monitor run`: the daemon."""

from __future__ import annotations

import click

from monitor.cli.app import Context, cli, handle_errors


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
