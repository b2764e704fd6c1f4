"""Digest -> email, through the outbox, exactly once; and every outbox row to its channel.

    queue_digests: build_digest -> compose -> <state>/outbox/*.eml + outbox row (matches
                   recorded as delivered in the same transaction)
    deliver:       outbox row -> SMTP (or, without SMTP settings, the .eml file is the delivery)
                   or, for an immediate alert's `notify` channel, Apprise (monitor.notify)
                   -> marked sent only after the server accepted it

A message is composed once and its bytes stored: a retry sends the very same message (same
Message-ID), and a digest that fails to send stays queued with back-off instead of being lost.
A sender claims each message before sending it, so two processes delivering at once never send
the same digest twice. The one window left is a crash between the server's "250 OK" and
`mark_sent`: once the claim is released (its process is gone), that message is sent again,
recognisable by its Message-ID.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import smtplib
import socket
import sqlite3
import ssl
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path

from monitor import notify
from monitor.config import Config, Recipient, SmtpSettings, quiet_until
from monitor.digest import Digest, build_digest, findings_csv, render_html, render_text
from monitor.errors import ConfigError, MissingEnvVarError
from monitor.store import Store
from monitor.store.rows import OutboxRow

__all__ = [
    "DeliveryReport",
    "QueuedDigest",
    "compose",
    "deliver",
    "preview",
    "queue_digests",
    "read_eml",
]

DEFAULT_SENDER = "monitor@localhost"
OUTBOX_DIR = "outbox"
_CRLF = re.compile(rb"\r?\n")
# who a preview is built for when the config names no recipient: every watch, first-digest window
_PREVIEW_RECIPIENT = "preview@monitor.local"


# no slots: callers serialise it with vars() / __dict__ (the CLI's --json)
@dataclass(frozen=True)
class QueuedDigest:
    outbox_id: int
    recipient: str
    subject: str
    findings: int
    eml_path: Path
    html_path: Path


@dataclass(slots=True)
class DeliveryReport:
    sent: list[tuple[int, str, str, str]] = field(default_factory=list)  # id, to, subject, via
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # id, to, error
    # of `failed`, those given up for good (a permanent refusal, or too many tries)
    given_up: list[tuple[int, str, str]] = field(default_factory=list)
    # queued and not sent, but for those `held`
    still_queued: int = 0
    # alerts to recipients in their quiet hours: (outbox id, recipient); they go out after
    held: list[tuple[int, str]] = field(default_factory=list)
    # outbox id -> alert id, for the immediate alerts among them
    alerts: dict[int, int] = field(default_factory=dict)


# -- compose and queue --------------------------------------------------------------------------


def compose(digest: Digest, config: Config) -> EmailMessage:
    """A multipart/alternative message: text/plain first (the fallback), then text/html;
    with at most `digest.max_per_watch` entries per watch and, when some are not shown, the
    CSV of every finding attached. A message over `digest.max_email_bytes` is made again
    showing fewer entries (the CSV zipped when it alone is large) until it fits."""
    limits = sorted({config.digest.max_per_watch, 10, 5, 2, 1, 0}, reverse=True)
    limits = [n for n in limits if n <= config.digest.max_per_watch]
    table = findings_csv(digest).encode("utf-8")
    if len(table) > config.digest.max_email_bytes // 2:
        table = _zipped(table, f"{_slug(digest.recipient)}-findings.csv")
    for limit in limits:
        shown = digest.limited(limit)
        msg = _message(shown, config, table if shown.hidden else None)
        if len(email_bytes(msg)) <= config.digest.max_email_bytes:
            break
    return msg  # the smallest, if none fits: the server may still take it


# headers written on one line up to RFC 5322's limit: Python 3.11 folds a long subject of
# non-ASCII words into encoded words and loses the space between two of them (a Georgian
# title reads "ვიდეოკამერებისშესყიდვა"); the body was encoded when it was set
_ONE_LINE_HEADERS = policy.default.clone(max_line_length=998)


def email_bytes(msg: EmailMessage) -> bytes:
    """A message as stored in the outbox and sent (digests and alerts): its subject on one
    line, whatever its words."""
    return msg.as_bytes(policy=_ONE_LINE_HEADERS)


def _zipped(data: bytes, name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def _message(digest: Digest, config: Config, table: bytes | None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = config.smtp.sender if config.smtp else DEFAULT_SENDER
    name = next((r.name for r in config.recipients if r.key == digest.recipient), None)
    msg["To"] = Address(display_name=name or "", addr_spec=digest.recipient)
    msg["Date"] = format_datetime(datetime.fromisoformat(digest.generated_at).astimezone(UTC))
    # made once, here: a resend of the stored bytes carries the same id
    msg["Message-ID"] = make_msgid(domain="monitor.local")
    # quoted-printable keeps the message 7-bit clean for any server, long HTML lines included
    qp = "quoted-printable"
    msg.set_content(render_text(digest), subtype="plain", charset="utf-8", cte=qp)
    msg.add_alternative(render_html(digest), subtype="html", charset="utf-8", cte=qp)
    if table is not None:
        # the body becomes multipart/mixed: the two views, then the complete list
        name = f"findings-{digest.until[:10]}"
        if table[:2] == b"PK":
            msg.add_attachment(table, maintype="application", subtype="zip",
                               filename=f"{name}.zip")
        else:
            msg.add_attachment(table.decode("utf-8"), subtype="csv", charset="utf-8",
                               filename=f"{name}.csv")
    return msg


def queue_digests(
    store: Store,
    config: Config,
    state_dir: str | Path,
    *,
    now: datetime | None = None,
    recipients: Sequence[str] | None = None,
) -> list[QueuedDigest]:
    """Build, compose and queue one digest per recipient. An empty digest (nothing new, no
    source health to report) only closes the recipient's window, unless `digest.send_empty`
    is set."""
    if not config.recipients:
        where = config.path or "config"
        raise ConfigError(f"{where}: no `recipients:` configured, so there is no one to "
                          "send a digest to (add at least one `- email: ...`)")
    now = now or datetime.now(UTC)
    outbox = Path(state_dir) / OUTBOX_DIR
    queued = []
    for recipient in config.recipients:
        if recipients is not None and recipient.key not in recipients:
            continue  # the daemon builds each recipient's digest on their own schedule
        if recipient.email is None:
            continue  # alerts only (`notify` channels): digests go by email
        digest = build_digest(store, config, recipient, now=now)
        # what the digest tells about sources is remembered with the digest itself, in the same
        # transaction: told once (and again after `health.remind_after_days`), never unsent
        health = [(n.source, n.recorded_health) for n in digest.health]
        if digest.is_empty and not config.digest.send_empty:
            # an empty digest carries no notices: nothing is recorded as told
            store.mark_digest(recipient.email, digest.until)
            continue
        msg = compose(digest, config)
        data = email_bytes(msg)
        html = _html_part(msg)
        eml_path, html_path = _outbox_paths(outbox, digest)
        # written under temporary names and renamed once the outbox row exists: a crash before
        # the row leaves only *.part files, never an .eml that looks delivered but is not queued
        eml_part = eml_path.with_name(eml_path.name + ".part")
        html_part = html_path.with_name(html_path.name + ".part")
        eml_part.write_bytes(data)
        html_part.write_text(html, encoding="utf-8")
        try:
            outbox_id = store.queue_digest(
                recipient=recipient.email,
                subject=digest.subject,
                message_id=str(msg["Message-ID"]),
                message=data,
                match_ids=digest.match_ids,
                until=digest.until,
                eml_path=str(eml_path),
                html_path=str(html_path),
                findings=digest.findings_count,
                health=health,
                tenders=digest.tender_marks,
            )
        except BaseException as exc:
            eml_part.unlink(missing_ok=True)
            html_part.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.IntegrityError):
                # another process queued some of these matches for this recipient first
                # (deliveries' primary key); the rest wait for the next digest
                continue
            raise
        os.replace(eml_part, eml_path)
        os.replace(html_part, html_path)
        queued.append(
            QueuedDigest(
                outbox_id=outbox_id,
                recipient=recipient.email,
                subject=digest.subject,
                findings=digest.findings_count,
                eml_path=eml_path,
                html_path=html_path,
            )
        )
    return queued


def _html_part(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("html",))
    return body.get_content() if body is not None else ""


def _slug(email: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", email.lower()).strip("-") or "recipient"


def _outbox_paths(outbox: Path, digest: Digest) -> tuple[Path, Path]:
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(digest.until).strftime("%Y%m%dT%H%M%S")
    stem = f"{stamp}-{_slug(digest.recipient)}"
    n = 1
    # two digests for one recipient within a second (a test, a manual re-run) get their own files
    while any((outbox / f"{stem}-{n}{ext}").exists() for ext in (".eml", ".html", ".eml.part")):
        n += 1
    return outbox / f"{stem}-{n}.eml", outbox / f"{stem}-{n}.html"


# -- deliver ------------------------------------------------------------------------------------


def deliver(store: Store, config: Config, *, force: bool = True,
            kinds: Sequence[str] | None = None, now: datetime | None = None) -> DeliveryReport:
    """Send queued digests and alerts (`kinds`: only these, e.g. `("alert",)`). `force=False`
    sends only those whose retry time has come. An alert to a recipient in their quiet hours
    (at `now`) waits.

    Email: without SMTP settings the .eml file in the outbox is the delivery. With them, one
    SMTP connection serves every message. Other channels go through Apprise, each row on its
    own. A message is marked sent only after the server accepted it, and a failure keeps it
    queued for a later retry, with its own back-off per channel.
    """
    report = DeliveryReport()
    owner = _owner()
    store.release_claims(dead_owners=_dead_owners(store))
    quiet = _quiet_now(config, now or datetime.now(UTC))
    messages = [row for row in store.queued_messages(due_only=not force)
                if (kinds is None or row.kind in kinds)
                and not (row.kind == "alert" and row.recipient in quiet)
                and store.claim(row.id, owner)]
    report.alerts = {row.id: row.alert_id for row in messages if row.alert_id}
    email = [row for row in messages if row.channel == notify.EMAIL]
    others = [row for row in messages if row.channel != notify.EMAIL]
    try:
        if email and config.smtp is None:
            for row in email:
                path = _ensure_eml(store, row)
                via = f"file:{path}"
                store.mark_sent(row.id, via)
                report.sent.append((row.id, row.recipient, row.subject, via))
        elif email and config.smtp is not None:
            _send_all(store, config.smtp, email, report)
        if others:
            _notify_all(store, config, others, report)
    finally:
        # whatever was claimed and neither sent nor failed (an exception) goes back
        store.release_claims(dead_owners=[owner])
    for row in store.queued_messages():
        if row.kind == "alert" and row.recipient in quiet:
            report.held.append((row.id, row.recipient))
        else:
            report.still_queued += 1
    return report


def _quiet_now(config: Config, now: datetime) -> set[str]:
    """Recipients in their quiet hours at `now`: their alerts are held."""
    return {r.key for r in config.recipients
            if quiet_until(r.quiet, now, config.daemon.timezone) is not None}


def _notify_all(store: Store, config: Config, messages: list[OutboxRow],
                report: DeliveryReport) -> None:
    """Each alert to its Apprise channel, one at a time: a failing service costs its own
    row a retry, never another channel's message."""
    secrets = notify.urls(config)
    for row in messages:
        via, url = notify.label(row.channel), ""
        error: str | None
        try:
            url = notify.resolve(row.channel, recipient=row.recipient)
        except MissingEnvVarError as exc:
            error = str(exc)
        else:
            content = json.loads(_raw(row).decode("utf-8"))
            error = notify.send(url, content["title"], content["body"], secrets=secrets)
            if error is not None:
                error = f"{via}: {error}"
        if error is None:
            store.mark_sent(row.id, via)
            report.sent.append((row.id, row.recipient, row.subject, via))
            continue
        report.failed.append((row.id, row.recipient, error))
        # a URL from the YAML that Apprise cannot read never will: the row holds it; a
        # variable's may be set right, and then the retry goes through
        permanent = row.channel.startswith("notify:") and notify.check(url) is not None
        if store.mark_attempt_failed(row.id, error, permanent=permanent):
            report.given_up.append((row.id, row.recipient, error))


def _owner() -> str:
    # unique per deliver() call: two threads of one process must not share a claim
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _dead_owners(store: Store) -> list[str]:
    """Claims held by processes on this host that no longer exist."""
    host = socket.gethostname()
    dead = []
    for claim in store.claims():
        owner_host, _, pid = (claim.claimed_by or "").rsplit(":", 1)[0].rpartition(":")
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            dead.append(claim.claimed_by)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ensure_eml(store: Store, row: OutboxRow) -> Path:
    """The row's .eml file, rewritten from the stored bytes if it went missing (a crash between
    queueing and the rename, or someone tidying the folder)."""
    if row.eml_path:
        path = Path(row.eml_path)
    else:
        path = store.state_dir / OUTBOX_DIR / f"outbox-{row.id}.eml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_raw(row))
    return path


def _raw(row: OutboxRow) -> bytes:
    data = row.message
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def _password(smtp: SmtpSettings) -> str:
    if smtp.password_env is None:
        raise ConfigError(
            f"smtp.username is set ({smtp.username!r}) but smtp.password_env is not: "
            "name the environment variable that holds the password"
        )
    password = os.environ.get(smtp.password_env)
    if password is None:
        raise MissingEnvVarError(
            f"environment variable {smtp.password_env} is not set "
            f"(named by smtp.password_env): it must hold the SMTP password for {smtp.username!r}"
        )
    return password


def _connect(smtp: SmtpSettings, password: str | None) -> smtplib.SMTP:
    host, port = smtp.host, smtp.effective_port
    client: smtplib.SMTP
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(
            host, port, timeout=smtp.timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=smtp.timeout)
    try:
        if smtp.security == "starttls":
            client.ehlo()
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, password or "")
    except BaseException:
        _close(client)
        raise
    return client


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _send_all(
    store: Store, smtp: SmtpSettings, messages: list[OutboxRow], report: DeliveryReport
) -> None:
    # resolved before any connection: a missing secret is a config error, not a send failure
    password = _password(smtp) if smtp.username else None
    where = f"{smtp.host}:{smtp.effective_port}"
    client: smtplib.SMTP | None = None
    try:
        for index, row in enumerate(messages):
            outbox_id, recipient = row.id, row.recipient
            if client is None:
                try:
                    client = _connect(smtp, password)
                except (OSError, smtplib.SMTPException) as exc:
                    # nothing else will get through this time: every remaining message waits
                    error = f"{where}: {_describe(exc)}"
                    for rest in messages[index:]:
                        report.failed.append((rest.id, rest.recipient, error))
                        if store.mark_attempt_failed(rest.id, error):
                            report.given_up.append((rest.id, rest.recipient, error))
                    return
            try:
                # the stored message itself, so every attempt carries the same Message-ID;
                # smtplib sends bytes as given, and SMTP wants CRLF line ends (the .eml has LF)
                client.sendmail(smtp.sender, [recipient], _CRLF.sub(b"\r\n", _raw(row)))
            except (OSError, smtplib.SMTPException) as exc:
                error = f"{where}: {_describe(exc)}"
                report.failed.append((outbox_id, recipient, error))
                if store.mark_attempt_failed(outbox_id, error, permanent=_permanent(exc)):
                    report.given_up.append((outbox_id, recipient, error))
                if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                    # the connection is gone; the next message reconnects
                    client.close()
                    client = None
                continue
            via = f"smtp:{where}"
            store.mark_sent(outbox_id, via)
            report.sent.append((outbox_id, recipient, row.subject, via))
    finally:
        if client is not None:
            _close(client)


def send_now(config: Config, to: str, data: bytes,
             state_dir: str | Path) -> tuple[str, str | None]:
    """Send one composed message now, without the outbox (`monitor notify-test`): (how it
    went, the error or None). Without SMTP settings it is written under <state>/outbox/."""
    if config.smtp is None:
        outbox = Path(state_dir) / OUTBOX_DIR
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = outbox / f"test-{stamp}-{_slug(to)}.eml"
        path.write_bytes(data)
        return f"file:{path}", None
    smtp = config.smtp
    where = f"{smtp.host}:{smtp.effective_port}"
    try:
        client = _connect(smtp, _password(smtp) if smtp.username else None)
    except (OSError, smtplib.SMTPException) as exc:
        return f"smtp:{where}", f"{where}: {_describe(exc)}"
    try:
        client.sendmail(smtp.sender, [to], _CRLF.sub(b"\r\n", data))
    except (OSError, smtplib.SMTPException) as exc:
        return f"smtp:{where}", f"{where}: {_describe(exc)}"
    finally:
        _close(client)
    return f"smtp:{where}", None


def _permanent(exc: BaseException) -> bool:
    """The server refused this message for good (5xx on the recipient or on the message):
    sending it again gives the same answer. Connection trouble and 4xx are worth a retry."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return False  # our `smtp.sender` is wrong: every digest waits for the config's fix
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"{type(exc).__name__}: {exc.smtp_code} {' '.join(text.split())}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{to} ({code})" for to, (code, _) in exc.recipients.items())
        return f"recipient refused: {refused}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# -- preview ------------------------------------------------------------------------------------


def preview(
    store: Store, config: Config, recipient: str | None = None, *, html_path: str | Path
) -> str:
    """Build the digest the first (or the named) recipient would get next, write its HTML to
    `html_path` and return its text. Queues nothing and marks nothing."""
    chosen = _recipient(config, recipient)
    digest = build_digest(store, config, chosen)
    path = Path(html_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(digest), encoding="utf-8")
    return render_text(digest)


def _recipient(config: Config, email: str | None) -> Recipient:
    if email is None:
        if config.recipients:
            return config.recipients[0]
        return Recipient(email=_PREVIEW_RECIPIENT)
    return config.recipient(email)


def read_eml(path: str | Path) -> EmailMessage:
    """Parse an outbox .eml file (for tests and for showing what was sent)."""
    with open(path, "rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)  # type: ignore[return-value]
