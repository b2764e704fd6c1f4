"""A `Digest` as plain text and as HTML (jinja2 templates in monitor/templates/), and every
finding of it as CSV (the complete list, when the email shows only the newest per watch)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import jinja2

from monitor.digest.model import FIRST_DIGEST_DAYS, Digest
from monitor.findings.model import when
from monitor.health import HealthNotice

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _plain(value: object) -> str:
    """Crawled text for a terminal: no control characters (no escape sequences)."""
    return _CONTROL.sub("", str(value))


def _oneline(value: object, limit: int = 300) -> str:
    """An error message on one line, cut to a readable length (tracebacks belong in logs)."""
    text = " ".join(_plain(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _notice(notice: HealthNotice) -> str:
    """A health notice as one sentence (plain text; the HTML template escapes it)."""
    name = _plain(notice.source)
    still = "still " if notice.kind == "reminder" else ""
    if notice.kind == "recovered":
        done = f" at {when(notice.last_success_at)}" if notice.last_success_at else ""
        return f"{name} has RECOVERED: it completed a run again{done}"
    if notice.health == "failing":
        runs = "run" if notice.runs == 1 else "runs"
        since = f" since {when(notice.since)}" if notice.since else ""
        text = f"{name} is {still}FAILING: {notice.runs} failed {runs} in a row{since}"
    elif notice.health == "suspect":
        last = "its last run" if notice.runs == 1 else f"its last {notice.runs} runs"
        text = (f"{name} is {still}SUSPECT: {last} found no items (it used to find some): "
                "its layout may have changed")
    else:
        done = (f"since {when(notice.last_success_at)}" if notice.last_success_at
                else "yet")
        text = f"{name} is {still}STALE: no completed run {done} (schedule: {notice.schedule})"
    if notice.last_error:
        text += f"; last error: {_oneline(notice.last_error)}"
    return text


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "templates"),
        # every crawled string in the HTML is escaped; the text template must not be
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = when
    env.filters["plain"] = _plain
    env.filters["oneline"] = _oneline
    env.filters["notice"] = _notice
    env.globals["first_digest_days"] = FIRST_DIGEST_DAYS
    return env


_ENV = _environment()


def render_text(digest: Digest) -> str:
    return _ENV.get_template("digest.txt.j2").render(digest=digest)


def render_html(digest: Digest) -> str:
    return _ENV.get_template("digest.html.j2").render(digest=digest)


CSV_COLUMNS = ("watch", "also_about", "kind", "title", "source", "date", "url", "what",
               "found", "buyer", "winners", "value", "status")


def findings_csv(digest: Digest) -> str:
    """Every finding of the digest, shown or not, one row each (UTF-8 with a BOM, so that
    spreadsheet programs read Georgian and Cyrillic right). Cells that a spreadsheet would
    run as a formula are quoted with a leading apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for section in digest.sections:
        for tender in section.tenders:
            writer.writerow(_cells((
                section.watch, "; ".join(map(str, tender.other_watches)), "tender",
                f"{tender.native_id}: {tender.title}", tender.source, tender.date, tender.url,
                f"{tender.headline}; {tender.novelty}" + "".join(f"; {c}" for c in tender.changes),
                ", ".join(dict.fromkeys(f.found for f in tender.findings)),
                str(tender.buyer or ""), ", ".join(map(str, tender.winners)),
                tender.award_value or tender.value or "", tender.status)))
        for entry in section.entries:
            writer.writerow(_cells((
                section.watch, "; ".join(map(str, entry.other_watches)), "article", entry.title,
                entry.source, entry.date, entry.url, entry.how,
                ", ".join(dict.fromkeys(f.found for f in entry.findings)), "", "", "", "")))
    return out.getvalue()


def _cells(values: tuple[str, ...]) -> list[str]:
    return [f"'{v}" if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
            for v in (_plain(v) for v in values)]
