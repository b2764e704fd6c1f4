"""The `monitor` command group: global options, the context every command gets, and the one
place a `MonitorError` becomes a message and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
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
