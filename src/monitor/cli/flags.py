"""`monitor flags`: tenders whose latest version carries red flags, and recomputing them."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict

import click

from monitor.cli.app import Context, cli, handle_errors
from monitor.flags.model import FLAG_RULES
from monitor.store import open_store


@cli.command()
@click.option("--rule", "rules", multiple=True, type=click.Choice(FLAG_RULES),
              help="Only this flag (repeatable).")
@click.option("--buyer", help="Only this buyer: a registry id (UA-EDR:43115923) or part of "
              "its name.")
@click.option("--supplier", help="Only tenders won by this supplier: a registry id or part "
              "of its name.")
@click.option("--since", help="Published on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Published on or before this date (YYYY-MM-DD).")
@click.option("--source", help="Only this source.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@click.option("--recompute", is_flag=True, help="First compute the flags again where a "
              "rule changed (or none were computed), with progress on stderr.")
@click.option("--all", "every", is_flag=True, help="With --recompute: every stored version, "
              "not only those of an older rule version.")
@click.pass_obj
@handle_errors
def flags(obj: Context, rules: tuple[str, ...], buyer: str | None, supplier: str | None,
          since: str | None, until: str | None, source: str | None, limit: int | None,
          as_json: bool, as_csv: bool, recompute: bool, every: bool) -> None:
    """List tenders whose latest version carries red flags, newest first, one line a flag.

    Each flag says why an award deserves a look, with the numbers to check it ("single
    bid; submission period 6 days (threshold 15)"); `monitor explain --tender NUMBER`
    shows every rule's verdict on one tender, with its inputs and thresholds. The rules,
    their sources and limits (`flags:` in the config) are in the README.

    \b
    Example:
        monitor flags
        monitor flags --rule single_bid --buyer UA-EDR:43115923 --since 2026-01-01
        monitor flags --supplier Nuctech --csv > nuctech-flags.csv
        monitor flags --recompute
    """
    from monitor.flags.compute import recompute as run_recompute

    if as_json and as_csv:
        raise click.UsageError("--json and --csv: choose one")
    if every and not recompute:
        raise click.UsageError("--all only goes with --recompute")
    with open_store(obj.state) as store:
        if recompute:
            with click.progressbar(length=0, label="Computing red flags", file=sys.stderr,
                                   show_pos=True) as bar:
                def progress(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(1)
                count = run_recompute(store, obj.config, every=every, on_progress=progress)
            click.echo(f"red flags computed for {count:,} tender version(s)", err=True)
        rows = store.flagged_tenders(rules=rules, buyer=buyer, supplier=supplier,
                                     since=since, until=until, source=source, limit=limit)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["published", "source", "tender", "rule", "summary", "title", "buyer",
                         "buyer_id", "winners", "value", "currency", "relative", "url"])
        for r in rows:
            writer.writerow([_cell(v) for v in (
                r.published_at or "", r.source, r.native_id, r.rule, r.summary, r.title,
                r.buyer_name or "", r.buyer_id or "", "; ".join(r.winners),
                "" if r.value is None else r.value, r.currency or "", r.relative, r.url)])
        return
    if not rows:
        click.echo("no flagged tenders" + (" match" if rules or buyer or supplier or since
                                           or until or source else ""))
        return
    for r in rows:
        relative = " (relative to the portal)" if r.relative else ""
        click.echo(f"{(r.published_at or '')[:10]:10}  [{r.source}] {r.native_id}  "
                   + click.style(r.summary, fg="red") + relative)
        who = "; ".join(p for p in (f"buyer {r.buyer_name}" if r.buyer_name else "",
                                    f"won by {', '.join(r.winners)}" if r.winners else "") if p)
        click.echo(f"            {r.title}" + (f" -- {who}" if who else ""))


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: crawled text starting with = + - @ would be
    read as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
