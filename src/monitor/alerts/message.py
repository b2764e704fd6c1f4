"""Findings -> short immediate messages: a title and a few lines of plain text with the link
to the finding (on `monitor web` when `web.public_url` is set, else at its source), red
flags one line each; several folded into one past the hourly limit; and the email form.

Crawled text is shown as plain text: control characters removed, each line flattened and
cut. Plain text is what Apprise is given, so no service reads a crawled title as Markdown or
HTML (Apprise escapes it for those that want HTML).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from monitor.findings.model import DigestEntry, OtherWatch, TenderEntry, when
from monitor.mail import email_bytes

__all__ = ["Alert", "article_alert", "email_bytes", "email_message", "fold", "tender_alert",
           "test_alert"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
TITLE_CHARS = 200
LINE_CHARS = 300
# a folded message lists this many findings, then "and N more"
FOLD_SHOWN = 5


def _line(value: object, limit: int = LINE_CHARS) -> str:
    """Crawled text on one line: no control or direction-override characters, cut."""
    text = " ".join(_CONTROL.sub("", str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Alert:
    """One immediate message to one recipient, and what the store records as alerted with
    it (`match_ids`; `tender_marks`: tender id, watch, last match id, last event id)."""

    title: str
    body: str
    source: str | None
    # one line for a folded message: what, where, the link
    line: str
    # sort keys: the watch's priority (0 high), then the finding's date
    priority: int = 1
    date: str = ""
    match_ids: tuple[int, ...] = ()
    tender_marks: tuple[tuple[int, str, int, int], ...] = ()
    findings: int = 1
    folded: bool = False


def link(kind: str, ref_id: int, url: str | None, public_url: str | None) -> str:
    """Where the reader goes: the finding's page on `monitor web` (`/articles/ID`,
    `/tenders/ID`) when it has a public address, else the source's own page."""
    if public_url:
        return f"{public_url.rstrip('/')}/{kind}s/{ref_id}"
    return url or ""


def _watches(first: str, how: str, others: tuple[OtherWatch, ...]) -> str:
    told = [f"{first} ({how})" if how else first, *(str(o) for o in others)]
    return _line("; ".join(told))


def article_alert(entry: DigestEntry, public_url: str | None = None,
                  priority: int = 1) -> Alert:
    """An article that concerns a watch (and maybe others): the watch and how it was found,
    the headline, the source and date, the snippet, the link."""
    headline = _line(entry.title or "(untitled)", TITLE_CHARS)
    target = link("article", entry.item_id, entry.link, public_url)
    finding = next((f for f in entry.findings if f.watch is None), None)
    lines = [
        _watches(entry.watch, entry.how, entry.other_watches),
        headline,
        _line(f"{entry.source}, {when(entry.published_at) or 'first seen ' + when(entry.first_seen_at)}"),
    ]
    if finding is not None and finding.snippet:
        lines.append(f"“{_line(finding.snippet)}”")
    if entry.also:
        lines.append(_line("also at " + ", ".join(a.source for a in entry.also)))
    if target:
        lines.append(target)
    title = _line(f"{entry.watch}: {headline}", TITLE_CHARS)
    return Alert(title=title, body="\n".join(lines), source=entry.source,
                 line=_line(f"{title} ({entry.source})") + (f" {target}" if target else ""),
                 priority=priority, date=entry.date, match_ids=entry.match_ids)


def tender_alert(entries: list[TenderEntry], public_url: str | None = None,
                 priority: int = 1) -> Alert:
    """A tender with news for one or more watches: what happened for the first (highest
    priority) watch, every change, buyer, winners, amounts, red flags one line each, the
    other watches, the link."""
    tender, others = entries[0], entries[1:]
    number = f"{tender.reference} " if tender.reference else ""
    name = _line(f"{number}{tender.title or '(untitled)'}", TITLE_CHARS)
    title = _line(f"{tender.watch} {tender.headline}: {name}", TITLE_CHARS)
    target = link("tender", tender.tender_id, tender.link, public_url)
    changes = list(dict.fromkeys(c for e in entries for c in e.changes))
    lines = [title]
    lines += [_line(change) for change in changes] or [_line(tender.novelty)]
    if tender.buyer is not None:
        lines.append(_line(f"buyer: {tender.buyer}"))
    if tender.winners and not any(c.startswith(("awarded to", "winner changed"))
                                  for c in changes):
        lines.append(_line("winners: " + ", ".join(map(str, tender.winners))))
    if tender.amounts:
        lines.append(_line(tender.amounts))
    lines += [_line(f"RED FLAG: {flag}") for flag in tender.flags]
    also = [*tender.other_watches, *(OtherWatch(e.watch, e.headline) for e in others)]
    if also:
        lines.append(_line("also: " + "; ".join(map(str, also))))
    lines.append(_line(f"{tender.source}, status {tender.status or 'unknown'}"))
    if target:
        lines.append(target)
    marks = tuple(mark for e in entries
                  for mark in ((e.tender_id, e.watch, e.last_match_id, e.last_event_id),
                               *e.other_marks))
    return Alert(title=title, body="\n".join(lines), source=tender.source,
                 line=_line(f"{title} ({tender.source})") + (f" {target}" if target else ""),
                 priority=priority, date=tender.date, tender_marks=marks)


def fold(alerts: list[Alert], limit: int) -> Alert:
    """Several findings in one message, past the recipient's `limit` an hour: the first
    FOLD_SHOWN one line each, then "and N more"; all of them count as alerted."""
    count = len(alerts)
    shown = alerts[:FOLD_SHOWN]
    lines = [f"{count} more findings this hour (alert_limit: {limit} messages an hour):"]
    lines += [f"- {a.line}" for a in shown]
    if count > len(shown):
        lines.append(f"and {count - len(shown)} more: they are in your next digest, and on "
                     "`monitor web`")
    return Alert(
        title=f"{count} more findings (alert limit reached)",
        body="\n".join(lines), source=alerts[0].source if alerts else None,
        line=f"{count} more findings", date=max((a.date for a in alerts), default=""),
        match_ids=tuple(i for a in alerts for i in a.match_ids),
        tender_marks=tuple(m for a in alerts for m in a.tender_marks),
        findings=count, folded=True)


def test_alert(recipient: str) -> Alert:
    """What `monitor notify-test` sends."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return Alert(title="monitor: test alert",
                 body=(f"A test message for {recipient}, sent at {when(now)} by "
                       "`monitor notify-test`: immediate alerts reach this channel."),
                 source=None, line="test alert")


def email_message(alert: Alert, *, to: str, name: str | None, sender: str,
                  subject_prefix: str, footer: str = "") -> EmailMessage:
    """The alert as a short plain-text email, composed once (its Message-ID is kept with it,
    so a retry sends the very same message)."""
    msg = EmailMessage()
    msg["Subject"] = _line(f"{subject_prefix} alert: {alert.title}", TITLE_CHARS + 40)
    msg["From"] = sender
    msg["To"] = Address(display_name=name or "", addr_spec=to)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="monitor.local")
    body = alert.body + (f"\n\n-- \n{footer}" if footer else "")
    msg.set_content(body + "\n", subtype="plain", charset="utf-8", cte="quoted-printable")
    return msg
