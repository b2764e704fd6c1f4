"""`monitor furniture`: what each source's site furniture is, as learnt from its pages."""

from __future__ import annotations

import json

import click

from monitor.cli.app import Context, cli, handle_errors
from monitor.cli.output import _short, table


@cli.command()
@click.argument("source", required=False)
@click.option("--all", "show_all", is_flag=True,
              help="Also blocks seen on several articles that are not furniture (yet).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="At most this many blocks per source.")
@click.option("--json", "as_json", is_flag=True, help="Print the blocks as JSON.")
@click.pass_obj
@handle_errors
def furniture(obj: Context, source: str | None, show_all: bool, limit: int,
              as_json: bool) -> None:
    """Show the text blocks each source repeats across its pages: its site furniture.

    Lines (and sentences) of article bodies that a source repeats on many of its articles
    ("Follow us on Facebook", "Some information for this report came from Reuters.", a
    newsletter box, "your ad here") are learnt from its own pages as they are crawled and
    are not matched: a name in them does not alert. A block is furniture when it is on at
    least 3 of the source's articles, and on a quarter or more of its articles where it
    appears (with 95 % confidence; not all of one day), or is a short credit in the first or
    last line of 5 articles over 14 days or more. The stored body keeps it; `monitor explain
    ITEM_ID` shows the hits it dropped.

    For each block: on how many of the source's articles it was seen, the first and last
    day of those articles, and its text as first seen twice. --all lists the blocks seen on
    two or more articles that are not furniture (yet), marked `-`.

    \b
    Example:
        monitor furniture
        monitor furniture civil_ge --all
        monitor furniture civil_ge --json | jq -r '.[] | select(.furniture) | .text'
    """
    from monitor.furniture import MIN_PAGES, is_furniture
    from monitor.store import open_store
    from monitor.store.rows import FurnitureRow

    if source is not None:
        obj.config.source(source)  # a name not in the config is an error, not an empty list
    with open_store(obj.state) as store:
        rows = store.furniture_blocks(source, min_pages=2 if show_all else MIN_PAGES)
        pages = {name: store.furniture_pages(name) for name in {r.source for r in rows}}
    shown: list[tuple[FurnitureRow, bool]] = []
    per_source: dict[str, int] = {}
    for row in rows:
        judged = is_furniture(row.stats, pages[row.source])
        if (judged or show_all) and per_source.get(row.source, 0) < limit:
            per_source[row.source] = per_source.get(row.source, 0) + 1
            shown.append((row, judged))
    if as_json:
        click.echo(json.dumps(
            [{"source": r.source, "key": r.key, "furniture": judged, "pages": r.pages,
              "first_day": r.first_day, "last_day": r.last_day, "text": r.sample,
              "first_seen_at": r.first_seen_at, "last_seen_at": r.last_seen_at}
             for r, judged in shown], ensure_ascii=False, indent=2))
        return
    if not shown:
        click.echo("No site furniture learnt yet" + (f" for {source}" if source else "")
                   + " (it is learnt as articles are crawled).")
        return
    click.echo(table([("+" if judged else "-", r.source, r.pages, f"{r.first_day} – {r.last_day}",
                       _short(r.sample, 70)) for r, judged in shown],
                     ["", "source", "pages", "days", "text"]))
