"""`monitor backup` and `monitor restore`."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.app import Context, cli, handle_errors


@cli.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
@handle_errors
def backup(obj: Context, archive: Path) -> None:
    """Back up the whole state: the database (SQLite's online backup, safe while the daemon
    runs), the captures and the outbox, into one .tar.gz. Logs, locks and the HTTP cache are
    left out: they are rebuilt.

    \b
    Example:
        monitor --state /var/lib/monitor backup /backups/monitor-$(date +%F).tar.gz
    """
    from monitor.backup import backup as write_backup

    done = write_backup(obj.state, archive)
    click.echo(f"Backed up {obj.state} to {done.path}: {done.files:,} files, "
               f"{done.bytes / 1e6:.1f} MB, as of {done.created_at}.")


@cli.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
@handle_errors
def restore(obj: Context, archive: Path) -> None:
    """Restore a backup into the state directory (--state), which must be empty or not
    exist: a restore never overwrites a state. Check it afterwards with
    `monitor evidence --verify` and `monitor status`.

    \b
    Example:
        monitor --state /var/lib/monitor-restored restore /backups/monitor-2026-12-04.tar.gz
    """
    from monitor.backup import restore as unpack

    done = unpack(archive, obj.state)
    click.echo(f"Restored {archive} (made {done.created_at}, {done.files:,} files) into "
               f"{done.state_dir}.")
