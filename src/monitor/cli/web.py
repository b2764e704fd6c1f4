"""`monitor web` and its users."""

from __future__ import annotations

import os
import sys

import click

from monitor.cli.app import Context, cli, handle_errors


@cli.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs users (adduser).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
@handle_errors
def web(ctx: click.Context, host: str, port: int) -> None:
    """Search, triage and act on what was found, in a browser.

    Serves a local web application over the same state directory the daemon and crawls
    write: the findings inbox, finding and tender pages, full-text search, triage with mutes,
    sources and their health, CSV/JSON exports and Atom feeds. Without users it only listens
    on loopback, where everyone is an editor.

    \b
    Example:
        monitor web                                  # http://127.0.0.1:8080
        monitor web adduser nino                     # asks for a password
        monitor web --host 0.0.0.0 --port 8080       # needs users
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from monitor.web import check_can_serve, create_app

    obj: Context = ctx.obj
    check_can_serve(obj.state, host)
    config = obj.config
    public = config.web.public_url or ""
    app = create_app(config, obj.state, https=public.startswith("https://"))
    click.echo(f"monitor web on http://{host}:{port}/ (state: {obj.state}); Ctrl-C stops it",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


@web.command()
@click.argument("name")
@click.option("--role", type=click.Choice(["editor", "reader"]), default="editor",
              show_default=True, help="editor: triage, mutes, feeds; reader: looks only.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (for scripts) instead of asking.")
@click.pass_obj
@handle_errors
def adduser(obj: Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a user of `monitor web` (or set an existing user's password and role).

    The password is stored as an argon2id hash in <state>/web/users.yaml.

    \b
    Example:
        monitor web adduser nino
        monitor web adduser guest --role reader
        printf '%s' "$PW" | monitor web adduser bot --password-stdin
    """
    from monitor.web.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = add_user(obj.state, name, password, role)
    click.echo(f"User {user.name} ({user.role}) saved in {os.path.join(obj.state, 'web', 'users.yaml')}.")


@web.command()
@click.argument("name")
@click.pass_obj
@handle_errors
def deluser(obj: Context, name: str) -> None:
    """Remove a user of `monitor web`.

    \b
    Example:
        monitor web deluser nino
    """
    from monitor.web.users import remove_user

    if not remove_user(obj.state, name):
        click.echo(f"No user named {name!r}.", err=True)
        sys.exit(1)
    click.echo(f"User {name} removed.")


@web.command(name="users")
@click.pass_obj
@handle_errors
def list_users(obj: Context) -> None:
    """List the users of `monitor web` and their roles.

    \b
    Example:
        monitor web users
    """
    from monitor.web.users import list_users as known

    for user in known(obj.state):
        click.echo(f"{user.name}\t{user.role}")
