"""The `monitor` command: parse options, call the library, print, exit.

Every `MonitorError` becomes a one-line message on stderr and its `exit_code` (2 for bad
config or arguments, 1 otherwise). Nothing below the CLI prints or exits.

    app.py      the command group, its options, MonitorError -> message and exit code
    output.py   tables and times for the terminal
    backup.py config.py crawl.py digest.py evidence.py explain.py flags.py furniture.py notify.py
    run.py search.py status.py demo.py web.py: one command group each
"""

from monitor.cli import (  # noqa: F401  (they register their commands)
    backup,
    config,
    crawl,
    demo,
    digest,
    evidence,
    explain,
    flags,
    furniture,
    notify,
    run,
    search,
    status,
    web,
)
from monitor.cli.app import cli
from monitor.cli.crawl import Progress

__all__ = ["Progress", "cli", "main"]


def main() -> None:
    cli(prog_name="monitor")
