"""`monitor explain` and `monitor rematch`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import click

from monitor.cli.app import Context, cli, handle_errors
from monitor.store import open_store


@cli.command()
@click.argument("item_id")
@click.option("--tender", is_flag=True,
              help="ITEM_ID is a tender: its number or OCID (e.g. NAT230021830), or its id.")
@click.option("--watch", "watch", metavar="NAME",
              help="Explain this watch only (its name as in the config).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
@handle_errors
def explain(obj: Context, item_id: str, tender: bool, watch: str | None,
            as_json: bool) -> None:
    """Say why a stored item (or tender) matched each watch, or why it did not.

    ITEM_ID is the `item_id` in `monitor crawl --json`, the database or a digest's .eml;
    with --tender, a tender number as the portal writes it. Every hit is listed: kept (with
    the alias as written, the text as found and the field or role: title, body, winner,
    bidder, buyer) or rejected with the reason (not a whole word, excluded by a phrase,
    rule or context missing, dropped as this site's furniture, ...). Then the responses it
    was read from (capture hash, fetch time) and the blocks of its body dropped as the
    site's furniture (lines the source repeats on many of its pages: `monitor furniture`).

    For a watch the item does not match, it says where its name is on the captured page:
    in the main text but rejected, in a furniture block, outside the main text
    (navigation, sidebar, footer), in a <script> or JSON blob, in an attribute (alt,
    title, a meta description), or not on the page at all.
    A tender's red flags follow: each rule's verdict with the numbers it compared
    (`monitor flags`).

    --json prints one object (a list of them with --tender): title, url, captures,
    outside_text, furniture, on_page (watch -> places, found, lines), page_checked and
    explanations.

    \b
    Example:
        monitor explain 1234
        monitor explain 1234 --watch Huawei
        monitor explain 1234 --json | jq '.explanations[] | select(.matches != [])'
        monitor explain 1234 --json | jq '.on_page.Huawei.places'
        monitor explain 1234 --json | jq -r '.captures[].sha256'
        monitor explain --tender NAT230021830
    """

    from monitor.explain import (
        explain_item,
        explain_tenders,
        furniture_json,
        on_page_json,
        select_watches,
    )

    select_watches(obj.config, watch)  # an unknown name fails before the store is opened
    with open_store(obj.state) as store:
        explained = (explain_tenders(store, obj.config, item_id, watch) if tender
                     else [explain_item(store, obj.config, item_id, watch)])
    if as_json:
        data = [{"title": r.title, "url": r.url,
                 "captures": [asdict(c) for c in r.captures],
                 "outside_text": r.outside_text,
                 "furniture": furniture_json(r.furniture),
                 "on_page": on_page_json(r.on_page),
                 "page_checked": r.page_checked,
                 "explanations": [asdict(e) for e in r.explanations],
                 **({"flags": [asdict(f) for f in r.flags]} if tender else {})}
                for r in explained]
        click.echo(json.dumps(data if tender else data[0], ensure_ascii=False, indent=2))
        return
    for record in explained:
        click.echo(click.style(record.title, bold=True) + f"\n  {record.url}")
        for c in record.captures:
            moved = f" (asked for {c.url})" if c.url != c.final_url else ""
            click.echo(f"  version {c.version}: captured {c.fetched_at}, HTTP {c.status}, "
                       f"{c.size:,} bytes, SHA-256 {c.sha256}{moved}")
        for block in record.furniture:
            click.echo(f"  dropped as this site's furniture (seen on {block.pages} of its "
                       f"pages): body [{block.start}:{block.end}] {_short(block.text)!r}")
        click.echo()
        _print_explanations(record.explanations, record.on_page)
        _print_flags(record.flags)


def _print_flags(flags: Sequence[Any]) -> None:
    """A tender's red flags: the flagged ones with their numbers, then what could not be
    computed and why (never shown as clear)."""
    if not flags:
        return
    click.echo("red flags:")
    for f in flags:
        if f.state == "flagged":
            numbers = ", ".join(f"{k} {v}" for k, v in {**f.inputs, **f.thresholds}.items())
            click.echo(click.style(f"  ! {f.rule}: {f.summary}", fg="red")
                       + (f"\n      ({numbers})" if numbers else ""))
    for f in flags:
        if f.state != "flagged":
            why = f": {f.summary}" if f.summary else ""
            click.echo(f"  {f.state.replace('_', ' ')}: {f.rule}{why}")


def _short(text: str, chars: int = 80) -> str:
    return text if len(text) <= chars else text[:chars - 1] + "…"


def _print_explanations(explained: Sequence[Any], on_page: dict[str, Any]) -> None:
    for entry in explained:
        # for a watch not matched: where its name is on the page, if anywhere
        where = [f"{entry.watch}: {line}" for line in on_page[entry.watch].lines] if (
            entry.watch in on_page) else []
        if not entry.matches and not entry.rejected:
            click.echo(f"{entry.watch}: no alias or keyword occurs in the item")
            for line in where:
                click.echo(line)
            continue
        verdict = "MATCHED" if entry.matches else "not matched"
        click.echo(click.style(f"{entry.watch}: {verdict}", fg="green" if entry.matches
                               else None))
        for m in entry.matches:
            extra = "".join([f", generated variant {m.variant!r}" if m.variant else "",
                             f", via {m.via}" if m.via else ""])
            click.echo(f"  + {m.field} [{m.start}:{m.end}] {m.found!r} "
                       f"(matched {m.term_kind} {m.term!r}{extra})")
        for r in entry.rejected:
            click.echo(f"  - {r.field} [{r.start}:{r.end}] {r.found!r} "
                       f"({r.term_kind} {r.term!r}): {r.reason}")
        for line in where:
            click.echo(line)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
@click.pass_obj
@handle_errors
def rematch(obj: Context, as_json: bool) -> None:
    """Match every stored item again with the current watch list.

    After you add a watch or an alias, this finds it in items crawled earlier. New matches
    go into the next digest marked "found by re-matching an item stored earlier", not as
    news; matches already stored are not repeated. As in a crawl, an article's body is
    matched without its site's furniture (what the store has learnt of its source).

    \b
    Example:
        monitor rematch
        monitor rematch --json
    """
    from monitor.match import Matcher
    from monitor.rematch import rematch as run_rematch

    config = obj.config
    matcher = Matcher(config.watches, snippet_chars=config.digest.snippet_chars)
    with open_store(obj.state) as store:
        total = store.count("items") + store.count("tenders")
        if as_json:
            report = run_rematch(store, matcher)
        else:
            with click.progressbar(length=total, label="Re-matching stored items",
                                   file=sys.stderr) as bar:
                report = run_rematch(store, matcher, on_progress=bar.update)
    if as_json:
        click.echo(json.dumps({"items": report.items, "tenders": report.tenders,
                               "new_matches": report.new_matches,
                               "by_watch": report.by_watch}, ensure_ascii=False, indent=2))
        return
    click.echo(f"{report.items} items and {report.tenders} tenders re-matched: "
               f"{report.new_matches} new match(es)"
               + (" (" + ", ".join(f"{w} {n}" for w, n in report.by_watch.items()) + ")"
                  if report.by_watch else ""))
