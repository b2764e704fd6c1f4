"""`monitor search` and `monitor reindex`."""

from __future__ import annotations

import json
import sys

import click

from monitor.cli.app import Context, cli, handle_errors


@cli.command()
@click.argument("query")
@click.option("--kind", type=click.Choice(["article", "tender"]), help="Only articles or tenders.")
@click.option("--source", help="Only this source.")
@click.option("--watch", help="Only records this watch matched.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_obj
@handle_errors
def search(obj: Context, query: str, kind: str | None, source: str | None, watch: str | None,
           limit: int, as_json: bool) -> None:
    """Search everything stored (matched or not), newest first.

    Words are all required; "quoted phrases"; OR, NOT, parentheses; word* for every ending.
    Chinese, Japanese and Korean are found by substring. `monitor web` has the same search
    with filters and highlighting.

    \b
    Example:
        monitor search 'Hikvision "city hall"'
        monitor search '华为 OR ჰუავეი' --kind article --json
    """
    from monitor.search import highlight, parse_query
    from monitor.store import open_store

    parsed = parse_query(query)
    with open_store(obj.state) as store:
        page = store.search(parsed, kind={"article": "item", "tender": "tender"}.get(kind or ""),
                            source=source, watch=watch, limit=limit)
    rows = [{"kind": "article" if h.kind == "item" else "tender", "id": h.id,
             "source": h.source, "title": h.title, "url": h.url, "watches": list(h.watches),
             "first_seen_at": h.first_seen_at,
             "snippet": highlight(h.text, parsed, 160).text} for h in page.hits]
    if as_json:
        click.echo(json.dumps({"query": query, "results": rows}, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(click.style(f"[{row['kind']} {row['id']}] {row['title'] or '(no title)'}",
                               bold=True))
        click.echo(f"  {row['source']} · {row['url']}")
        click.echo(f"  {' '.join(row['snippet'].split())}")
    click.echo(f"{len(rows)} shown" + (" (more: --limit)" if page.next_before else ""))


@cli.command()
@click.pass_obj
@handle_errors
def reindex(obj: Context) -> None:
    """Rebuild the search index from every stored article and tender.

    Needed only after an upgrade says so, or to repair an index that SQLite reports as
    malformed. Writers wait until it is done (about 20 s per 100,000 records).

    \b
    Example:
        monitor reindex
    """
    from monitor.store import open_store

    with open_store(obj.state) as store:
        with click.progressbar(length=store.count("items") + store.count("tenders"),
                               label="Indexing", file=sys.stderr) as bar:
            done = [0]

            def progress(count: int, total: int) -> None:
                bar.update(count - done[0])
                done[0] = count

            indexed = store.reindex(on_progress=progress)
    click.echo(f"{indexed} records indexed.")
