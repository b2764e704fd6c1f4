"""`monitor evidence`: a finding's captures as a WARC, or a check of every stored capture."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from monitor.cli.app import Context, cli, handle_errors


@cli.command()
@click.argument("item_ids", nargs=-1, type=int)
@click.option("--tender", "tenders", multiple=True, metavar="NUMBER",
              help="A tender's number or OCID (as in the digest); repeatable.")
@click.option("--all", "every", is_flag=True,
              help="Every finding captured since --since (items that matched a watch).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="With --all: the first day, YYYY-MM-DD.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The WARC file to write (default evidence-<item ids or day>.warc.gz); the "
                   "manifest goes next to it as .json and .txt.")
@click.option("--verify", is_flag=True,
              help="Re-hash every stored capture instead; exit 1 if any was altered or lost.")
@click.pass_obj
@handle_errors
def evidence(obj: Context, item_ids: tuple[int, ...], tenders: tuple[str, ...], every: bool,
             since: datetime | None, out: Path | None, verify: bool) -> None:
    """Export what the sources said: the responses stored items were read from, as a WARC
    (the web-archiving standard: pywb, ReplayWeb.page and `warcio` read it) with each
    response's fetch time and SHA-256, and a manifest of the items, their versions and which
    watch matched where. Or, with --verify, check that no stored capture changed.

    \b
    Example:
        monitor evidence 1234 --out nuctech-sarpi.warc.gz
        monitor evidence --tender NAT230021830
        monitor evidence --all --since 2026-12-01
        monitor evidence --verify
    """
    from monitor.evidence import CaptureStore, export_warc
    from monitor.store import open_store

    if verify:
        captures = CaptureStore(obj.state)
        problems = captures.verify()
        checked = sum(1 for _ in captures)
        for problem in problems:
            click.echo(f"{problem.path}: {problem.problem}", err=True)
        if problems:
            click.echo(f"{len(problems)} of {checked} capture(s) no longer match their hash.",
                       err=True)
            sys.exit(1)
        click.echo(f"{checked} capture(s) verified: every one matches its SHA-256.")
        return
    if every == bool(item_ids or tenders) or (every and since is None):
        raise click.UsageError("give item ids or --tender NUMBER, or --all with --since "
                               "YYYY-MM-DD")
    with open_store(obj.state) as store:
        ids = list(item_ids) if not every else store.captured_findings(
            since.date().isoformat())
        if every and not ids:
            click.echo(f"No finding was captured since {since:%Y-%m-%d}.", err=True)
            return
        name = ("-".join([*map(str, item_ids), *tenders]) if not every
                else f"since-{since:%Y-%m-%d}")
        manifest = export_warc(store, obj.state, ids, out or Path(f"evidence-{name}.warc.gz"),
                               tender_numbers=tenders)
    click.echo(manifest.text())
    click.echo(f"Written: {manifest.warc} (+ .json, .txt manifests)")
