"""Queue and deliver digests end to end: a real local SMTP server, the outbox, exactly once."""

from __future__ import annotations

import csv
import io
import re
import socket
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from monitor.config import Config
from monitor.digest import build_digest, render_html, render_text
from monitor.errors import ConfigError, MissingEnvVarError
from monitor.mail import compose, deliver, preview, queue_digests, read_eml
from monitor.match import Matcher
from monitor.models import Item, RunResult
from monitor.normalise import content_hash
from monitor.store import MAX_SEND_ATTEMPTS, Store, open_store

# the conftest fixtures `smtp_server` / `smtp_down`: an aiosmtpd sink with .port, .messages
SmtpSink = Any

HOSTILE_TITLE = '<script>alert(1)</script> & "quotes" Nuctech'
WATCHES = [{"name": "Nuctech", "aliases": ["Нуктек"]}, {"name": "Hikvision"}]


def smtp_config(write_config: Callable[..., Config], port: int, **smtp: Any) -> Config:
    return write_config(
        {
            "watches": WATCHES,
            "recipients": [{"email": "ana@example.org", "name": "Ana"}],
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "sender": "digest@monitor.example",
                "timeout": 5,
                **smtp,
            },
        }
    )


def add_hit(
    store: Store,
    config: Config,
    key: str = "1",
    title: str = HOSTILE_TITLE,
    body: str = "Контракт с Нуктек подписан.",
) -> None:
    item = Item(
        source="civil_ge",
        key=key,
        url=f"https://civil.ge/archives/{key}?a=1&b=2",
        title=title,
        text=body,
        published_at="2024-05-01T10:00:00+00:00",
        content_hash=content_hash(title, body),
    )
    store.add(item, Matcher(config.watches).match(item))


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails its start-up check: pick a free port first
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    return plain.get_content(), html.get_content()  # type: ignore[attr-defined]


def test_deliver_sends_queued_digest_exactly_once(
    store: Store, state_dir: Path, write_config: Callable[..., Config], smtp_server: SmtpSink
) -> None:
    config = smtp_config(write_config, smtp_server.port)
    add_hit(store, config)

    (queued,) = queue_digests(store, config, state_dir)
    report = deliver(store, config)

    assert queued.subject == "monitor: 1 new (Nuctech 1)"
    assert queued.findings == 1
    assert re.fullmatch(r"\d{8}T\d{6}-ana-example-org-1\.eml", queued.eml_path.name)
    assert queued.html_path == queued.eml_path.with_suffix(".html")
    assert report.sent == [
        (queued.outbox_id, "ana@example.org", queued.subject, f"smtp:127.0.0.1:{smtp_server.port}")
    ]
    assert report.failed == [] and report.still_queued == 0
    (message,) = smtp_server.messages
    assert smtp_server.envelopes[0].mail_from == "digest@monitor.example"
    assert smtp_server.envelopes[0].rcpt_tos == ["ana@example.org"]
    assert message["Subject"] == "monitor: 1 new (Nuctech 1)"
    assert message["From"] == "digest@monitor.example"
    assert message["To"] == "Ana <ana@example.org>"
    assert message["Date"]
    assert message["Message-ID"].endswith("@monitor.local>")
    assert message["Message-ID"] == read_eml(queued.eml_path)["Message-ID"]
    text, html = parts(message)
    assert HOSTILE_TITLE in text and "[[Nuctech]]" in text
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    assert 'href="https://civil.ge/archives/1?a=1&amp;b=2"' in html
    assert html.replace("\r\n", "\n") == queued.html_path.read_text(encoding="utf-8")

    # nothing new, nothing queued: neither step does anything a second time
    assert queue_digests(store, config, state_dir) == []
    again = deliver(store, config)
    assert again.sent == [] and again.failed == [] and again.still_queued == 0
    assert len(smtp_server.messages) == 1
    assert store.outbox()[0].status == "sent"


def test_deliver_with_smtp_down_keeps_message_queued_until_it_is_up(
    store: Store, state_dir: Path, write_config: Callable[..., Config], smtp_down: SmtpSink
) -> None:
    config = smtp_config(write_config, smtp_down.port)
    add_hit(store, config)
    (queued,) = queue_digests(store, config, state_dir)
    message_id = read_eml(queued.eml_path)["Message-ID"]

    down = deliver(store, config)

    assert down.sent == []
    ((failed_id, to, error),) = down.failed
    assert (failed_id, to) == (queued.outbox_id, "ana@example.org")
    assert error.startswith(f"127.0.0.1:{smtp_down.port}: ConnectionRefusedError")
    assert down.still_queued == 1
    (row,) = store.outbox()
    assert row.status == "queued" and row.attempts == 1 and row.last_error == error
    # its matches are already in that queued digest: a new run does not compose them again
    assert queue_digests(store, config, state_dir) == []
    # not due yet (back-off), so a scheduled delivery leaves it alone
    assert deliver(store, config, force=False).sent == []

    smtp_down.start()
    up = deliver(store, config)

    assert [s[0] for s in up.sent] == [queued.outbox_id]
    assert up.failed == [] and up.still_queued == 0
    (message,) = smtp_down.messages
    assert message["Message-ID"] == message_id  # the stored message, not a recomposed one

    third = deliver(store, config)
    assert third.sent == [] and len(smtp_down.messages) == 1


class _RefusingHandler:
    """Accepts mail except to one address."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.received: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.refuse:
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


@pytest.fixture
def refusing_server() -> Iterator[tuple[_RefusingHandler, int]]:
    handler = _RefusingHandler("gone@example.org")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_deliver_one_refused_recipient_does_not_stop_the_others(
    store: Store,
    state_dir: Path,
    write_config: Callable[..., Config],
    refusing_server: tuple[_RefusingHandler, int],
) -> None:
    handler, port = refusing_server
    config = smtp_config(write_config, port)
    config = config.model_copy(
        update={
            "recipients": (
                *config.recipients,
                config.recipients[0].model_copy(update={"email": "gone@example.org"}),
                config.recipients[0].model_copy(update={"email": "zoe@example.org"}),
            )
        }
    )
    add_hit(store, config)
    queue_digests(store, config, state_dir)

    report = deliver(store, config)

    assert [s[1] for s in report.sent] == ["ana@example.org", "zoe@example.org"]
    ((_, to, error),) = report.failed
    assert to == "gone@example.org" and "550" in error
    assert handler.received == ["ana@example.org", "zoe@example.org"]
    # a 5xx naming the recipient is final: given up, not retried forever
    assert report.given_up == report.failed and report.still_queued == 0


def test_deliver_permanent_refusal_is_kept_failed_and_told_in_the_next_digest(
    store: Store,
    state_dir: Path,
    write_config: Callable[..., Config],
    refusing_server: tuple[_RefusingHandler, int],
) -> None:
    _, port = refusing_server
    config = smtp_config(write_config, port)
    config = config.model_copy(update={"recipients": (
        config.recipients[0].model_copy(update={"email": "gone@example.org"}),
        *config.recipients)})
    add_hit(store, config)
    queue_digests(store, config, state_dir)
    first = deliver(store, config)
    [(lost_id, _, _)] = first.given_up

    again = deliver(store, config)  # nothing retried
    assert again.sent == again.failed == [] and again.still_queued == 0
    [failed] = store.failed_messages()
    assert (failed.id, failed.recipient) == (lost_id, "gone@example.org")
    assert failed.eml_path and Path(failed.eml_path).exists()  # kept

    add_hit(store, config, key="2", title="Нуктек again")
    digest = build_digest(store, config, config.recipients[1])
    [told] = digest.undelivered
    assert (told.outbox_id, told.recipient) == (lost_id, "gone@example.org")
    text = render_text(digest)
    assert "Not delivered" in text and "gone@example.org" in text and "550" in text
    assert "Not delivered" in render_html(digest)


def test_deliver_temporary_refusal_is_retried_then_given_up_after_many_tries(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    class Busy:
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                              options: Any) -> str:
            return "451 try again later"

    port = free_port()
    controller = Controller(Busy(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = smtp_config(write_config, port)
        add_hit(store, config)
        queue_digests(store, config, state_dir)
        for _ in range(MAX_SEND_ATTEMPTS - 1):
            report = deliver(store, config)
            assert report.given_up == [] and report.still_queued == 1
        last = deliver(store, config)
    finally:
        controller.stop()
    assert len(last.given_up) == 1 and "451" in last.given_up[0][2]
    assert last.still_queued == 0
    [failed] = store.failed_messages()
    assert failed.attempts == MAX_SEND_ATTEMPTS


def test_deliver_without_smtp_writes_eml_and_marks_it_sent(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    config = write_config({"watches": WATCHES, "recipients": [{"email": "ana@example.org"}]})
    add_hit(store, config)

    (queued,) = queue_digests(store, config, state_dir)
    report = deliver(store, config)

    assert queued.eml_path.parent == state_dir / "outbox"
    assert sorted(p.name for p in queued.eml_path.parent.iterdir()) == sorted(
        [queued.eml_path.name, queued.html_path.name]
    )  # no *.part left behind
    assert report.sent == [
        (queued.outbox_id, "ana@example.org", queued.subject, f"file:{queued.eml_path}")
    ]
    message = read_eml(queued.eml_path)
    assert message["From"] == "monitor@localhost"
    assert message["To"] == "ana@example.org"
    text, html = parts(message)
    assert HOSTILE_TITLE in text and "&lt;script&gt;" in html
    assert store.outbox()[0].status == "sent"
    assert deliver(store, config).sent == []


def test_deliver_without_smtp_rewrites_a_missing_eml(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    config = write_config({"watches": WATCHES, "recipients": [{"email": "ana@example.org"}]})
    add_hit(store, config)
    (queued,) = queue_digests(store, config, state_dir)
    original = queued.eml_path.read_bytes()
    queued.eml_path.unlink()

    deliver(store, config)

    assert queued.eml_path.read_bytes() == original


def test_deliver_missing_password_env_raises_and_keeps_message_queued(
    store: Store,
    state_dir: Path,
    write_config: Callable[..., Config],
    smtp_server: SmtpSink,
) -> None:
    config = smtp_config(
        write_config, smtp_server.port, username="ana", password_env="MONITOR_SMTP_PASSWORD"
    )
    add_hit(store, config)
    queue_digests(store, config, state_dir)

    with pytest.raises(MissingEnvVarError, match="MONITOR_SMTP_PASSWORD") as caught:
        deliver(store, config)

    assert "smtp.password_env" in str(caught.value)
    (row,) = store.outbox()
    assert row.status == "queued" and row.attempts == 0
    assert smtp_server.messages == []


def test_deliver_username_without_password_env_is_a_config_error(
    store: Store, state_dir: Path, write_config: Callable[..., Config], smtp_server: SmtpSink
) -> None:
    config = smtp_config(write_config, smtp_server.port, username="ana")
    add_hit(store, config)
    queue_digests(store, config, state_dir)

    with pytest.raises(ConfigError, match="smtp.password_env"):
        deliver(store, config)


@pytest.fixture
def auth_server() -> Iterator[tuple[list[tuple[bytes, bytes]], int]]:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append((data.login, data.password))
        # handled=False: aiosmtpd then answers 535 itself (by default it leaves that to us)
        return AuthResult(success=data.password == b"s3cret pass", handled=False)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,  # a local test server; real servers use starttls or ssl
    )
    controller.start()
    yield logins, port
    controller.stop()


def test_deliver_logs_in_with_password_from_env(
    store: Store,
    state_dir: Path,
    write_config: Callable[..., Config],
    auth_server: tuple[list[tuple[bytes, bytes]], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logins, port = auth_server
    config = smtp_config(write_config, port, username="ana", password_env="MONITOR_SMTP_PASSWORD")
    add_hit(store, config)
    queue_digests(store, config, state_dir)

    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "wrong")
    refused = deliver(store, config)
    assert [f[0] for f in refused.failed] == [1] and refused.still_queued == 1
    assert "SMTPAuthenticationError: 535" in refused.failed[0][2]
    assert "wrong" not in refused.failed[0][2]

    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret pass")
    accepted = deliver(store, config)
    assert [s[0] for s in accepted.sent] == [1] and accepted.still_queued == 0
    # smtplib tries each mechanism the server offers before giving up
    assert {login for login in logins[:-1]} == {(b"ana", b"wrong")}
    assert logins[-1] == (b"ana", b"s3cret pass")


def test_queue_digests_empty_digest_closes_the_window_without_mail(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    config = write_config({"watches": WATCHES, "recipients": [{"email": "ana@example.org"}]})

    assert queue_digests(store, config, state_dir) == []

    assert store.last_digest_at("ana@example.org") is not None
    assert store.outbox() == []


def test_queue_digests_sends_empty_digest_when_configured(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    config = write_config(
        {
            "watches": WATCHES,
            "recipients": [{"email": "ana@example.org"}],
            "digest": {"send_empty": True},
        }
    )

    (queued,) = queue_digests(store, config, state_dir)

    assert queued.subject == "monitor: nothing new" and queued.findings == 0


def source_config(write_config: Callable[..., Config], **health: Any) -> Config:
    return write_config(
        {
            "sources": [{"name": "oc_media", "kind": "feed", "url": "https://oc-media.org/feed/"}],
            "watches": WATCHES,
            "recipients": [{"email": "ana@example.org"}],
            "health": health,
        }
    )


def fail(store: Store, source: str = "oc_media", times: int = 1) -> None:
    for _ in range(times):
        run_id = store.start_run(source)
        store.finish_run(run_id, RunResult(source=source, status="error", error="HTTP 503"))


def test_queue_digests_lone_failed_run_is_not_mailed(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    config = source_config(write_config)  # failing after 3 failed runs
    fail(store)

    assert queue_digests(store, config, state_dir) == []

    assert store.outbox() == []
    assert store.last_digest_at("ana@example.org") is not None
    assert store.health_reports("ana@example.org") == {}


@pytest.mark.parametrize(("failing_after", "failures"), [(1, 1), (3, 3)])
def test_queue_digests_failing_source_alone_is_mailed_once(
    store: Store,
    state_dir: Path,
    write_config: Callable[..., Config],
    failing_after: int,
    failures: int,
) -> None:
    config = source_config(write_config, failing_after=failing_after)
    fail(store, times=failures)

    (queued,) = queue_digests(store, config, state_dir)

    assert queued.subject == "monitor: nothing new; 1 source needs attention"
    text, html = parts(read_eml(queued.eml_path))
    runs = "run" if failures == 1 else "runs"
    assert f"oc_media is FAILING: {failures} failed {runs} in a row since" in text
    assert "last error: HTTP 503" in text and "HTTP 503" in html
    (report,) = store.health_reports("ana@example.org").values()
    assert (report.source, report.health) == ("oc_media", "failing")
    assert report.reported_at == store.last_digest_at("ana@example.org")
    # told once: the next digest has nothing to say (a reminder comes after a week)
    fail(store)
    assert queue_digests(store, config, state_dir) == []


def test_queue_digests_records_health_only_with_the_queued_digest(
    store: Store,
    state_dir: Path,
    write_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = source_config(write_config, failing_after=1)
    add_hit(store, config)
    # a digest another process built, carrying matches this process is about to queue
    stale = build_digest(store, config, config.recipients[0])
    (first,) = queue_digests(store, config, state_dir)
    fail(store)
    (notice,) = build_digest(store, config, config.recipients[0]).health
    monkeypatch.setattr("monitor.mail.build_digest",
                        lambda *args, **kwargs: replace(stale, health=(notice,)))

    # its matches were queued already: the digest is dropped, and with it what it would tell
    assert queue_digests(store, config, state_dir) == []

    assert [row.id for row in store.outbox()] == [first.outbox_id]
    assert store.health_reports("ana@example.org") == {}
    monkeypatch.setattr("monitor.mail.build_digest", build_digest)
    (second,) = queue_digests(store, config, state_dir)
    assert second.subject == "monitor: nothing new; 1 source needs attention"
    assert store.health_reports("ana@example.org")["oc_media"].health == "failing"


def test_queue_digests_new_match_after_a_digest_goes_in_the_next_one(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    config = write_config({"watches": WATCHES, "recipients": [{"email": "ana@example.org"}]})
    add_hit(store, config, key="1", title="Nuctech one")
    (first,) = queue_digests(store, config, state_dir)
    add_hit(store, config, key="2", title="Hikvision two", body="")

    (second,) = queue_digests(store, config, state_dir)

    assert first.subject == "monitor: 1 new (Nuctech 1)"
    assert second.subject == "monitor: 1 new (Hikvision 1)"
    assert second.eml_path != first.eml_path


def test_compose_makes_a_new_message_id_each_time(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = write_config({"watches": WATCHES, "recipients": [{"email": "ana@example.org"}]})
    digest = build_digest(store, config, config.recipients[0])

    one, two = compose(digest, config), compose(digest, config)

    assert one["Message-ID"] != two["Message-ID"]
    assert one.as_bytes().isascii()  # quoted-printable: any server takes it


def test_preview_queues_and_marks_nothing(
    store: Store, tmp_path: Path, write_config: Callable[..., Config]
) -> None:
    config = write_config(
        {
            "watches": WATCHES,
            "recipients": [{"email": "ana@example.org"}, {"email": "bo@example.org"}],
        }
    )
    add_hit(store, config)
    html_path = tmp_path / "preview" / "digest.html"

    text = preview(store, config, "bo@example.org", html_path=html_path)

    assert "For bo@example.org" in text and HOSTILE_TITLE in text
    assert "&lt;script&gt;" in html_path.read_text(encoding="utf-8")
    assert store.outbox() == [] and store.count("deliveries") == 0
    assert store.last_digest_at("bo@example.org") is None
    with pytest.raises(ConfigError, match="nobody@example.org"):
        preview(store, config, "nobody@example.org", html_path=html_path)


def test_queue_digests_racing_process_does_not_queue_matches_twice(
    store: Store,
    state_dir: Path,
    write_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config({"watches": WATCHES, "recipients": [{"email": "ana@example.org"}]})
    add_hit(store, config)
    # the digest another process built before this one queued the same matches
    stale = build_digest(store, config, config.recipients[0])
    (queued,) = queue_digests(store, config, state_dir)
    monkeypatch.setattr("monitor.mail.build_digest", lambda *args, **kwargs: stale)

    assert queue_digests(store, config, state_dir) == []

    assert [row.id for row in store.outbox()] == [queued.outbox_id]
    assert sorted(p.name for p in (state_dir / "outbox").iterdir()) == sorted(
        [queued.eml_path.name, queued.html_path.name]
    )


def test_deliver_concurrent_senders_send_each_message_once(
    state_dir: Path, write_config: Callable[..., Config], smtp_server: SmtpSink
) -> None:
    import threading

    config = smtp_config(write_config, smtp_server.port)
    with open_store(state_dir) as store:
        add_hit(store, config)
        queue_digests(store, config, state_dir)
    barrier = threading.Barrier(4)

    def sender() -> None:
        with open_store(state_dir) as own:  # each its own connection, as two processes would
            barrier.wait()
            deliver(own, config)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(smtp_server.messages) == 1
    with open_store(state_dir) as store:
        assert [row.status for row in store.outbox()] == ["sent"]


def test_deliver_releases_the_claim_of_a_sender_that_died(
    store: Store, state_dir: Path, write_config: Callable[..., Config], smtp_server: SmtpSink
) -> None:
    config = smtp_config(write_config, smtp_server.port)
    add_hit(store, config)
    (queued,) = queue_digests(store, config, state_dir)
    # a sender on this host, pid that cannot exist, killed between claim and send
    assert store.claim(queued.outbox_id, f"{socket.gethostname()}:999999999:dead")
    assert deliver(store, config).sent != []
    assert len(smtp_server.messages) == 1


def test_deliver_leaves_a_live_senders_claim_alone(
    store: Store, state_dir: Path, write_config: Callable[..., Config], smtp_server: SmtpSink
) -> None:
    import os

    config = smtp_config(write_config, smtp_server.port)
    add_hit(store, config)
    (queued,) = queue_digests(store, config, state_dir)
    assert store.claim(queued.outbox_id, f"{socket.gethostname()}:{os.getppid()}:live")
    report = deliver(store, config)
    assert report.sent == [] and smtp_server.messages == []
    assert store.outbox()[0].status == "sending"


def test_queue_digests_without_recipients_is_a_config_error(
    store: Store, state_dir: Path, write_config: Callable[..., Config]
) -> None:
    config = write_config({"watches": WATCHES})
    with pytest.raises(ConfigError, match="no `recipients:` configured"):
        queue_digests(store, config, state_dir)


# -- a digest an inbox accepts ------------------------------------------------------------------


def _many_hits(store: Store, config: Config, count: int) -> None:
    for n in range(count):
        add_hit(store, config, key=f"bulk-{n}", title=f"Нуктек news number {n}",
                body=f"Контракт с Нуктек номер {n} подписан. " + "Подробности. " * 40)


def test_compose_caps_each_watch_and_attaches_every_finding_as_csv(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = smtp_config(write_config, 25)
    _many_hits(store, config, 600)
    digest = build_digest(store, config, config.recipients[0])
    message = compose(digest, config)

    assert len(message.as_bytes()) <= config.digest.max_email_bytes
    assert message.get_content_type() == "multipart/mixed"
    body, attachment = message.iter_parts()
    plain = body.get_body(("plain",)).get_content()
    assert plain.count("\n* ") == 20  # the newest 20 of the watch
    assert "... and 580 more for Nuctech (every finding is in the attached CSV)" in plain
    assert attachment.get_filename().endswith(".csv")
    rows = list(csv.reader(io.StringIO(attachment.get_content().lstrip("\ufeff"))))
    assert rows[0][:3] == ["watch", "also_about", "kind"] and len(rows) == 601
    assert digest.findings_count == 600 and len(digest.match_ids) >= 600  # all delivered


def test_compose_shrinks_to_the_size_limit_and_zips_a_large_list(
    store: Store, write_config: Callable[..., Config]
) -> None:
    config = smtp_config(write_config, 25)
    config = config.model_copy(update={"digest": config.digest.model_copy(
        update={"max_per_watch": 500, "max_email_bytes": 60_000})})
    _many_hits(store, config, 300)
    message = compose(build_digest(store, config, config.recipients[0]), config)

    assert len(message.as_bytes()) <= 60_000
    body, attachment = message.iter_parts()
    plain = body.get_body(("plain",)).get_content()
    assert 0 < plain.count("\n* ") < 300 and " more for Nuctech" in plain
    assert attachment.get_content_type() == "application/zip"
    with zipfile.ZipFile(io.BytesIO(attachment.get_content())) as archive:
        [name] = archive.namelist()
        assert archive.read(name).decode("utf-8-sig").count("\r\n") == 301


def test_findings_csv_quotes_cells_a_spreadsheet_would_run() -> None:
    from monitor.digest import Digest, DigestEntry, Finding, WatchSection, findings_csv

    entry = DigestEntry(watch="Nuctech", item_id=1, title="=HYPERLINK(\"http://x\")",
                        url="https://a.example/1", source="s", published_at=None,
                        first_seen_at="2024-05-01T00:00:00+00:00",
                        findings=(Finding("Nuctech", "alias", "Nuctech", "title", "t", 0, 1),),
                        match_ids=(1,))
    digest = Digest(recipient="a@example.org", generated_at="2024-05-02T00:00:00+00:00",
                    since=None, until="2024-05-02T00:00:00+00:00",
                    sections=(WatchSection("Nuctech", "normal", (entry,)),), coverage=(),
                    subject="s")
    [_, row] = list(csv.reader(io.StringIO(findings_csv(digest).lstrip("\ufeff"))))
    assert row[3] == "'=HYPERLINK(\"http://x\")"


def test_a_long_subject_of_non_ascii_names_keeps_its_spaces(
    store: Store, state_dir: Path, write_config: Callable[..., Config], smtp_server: SmtpSink
) -> None:
    """Python folds a long subject of non-ASCII words into encoded words and can lose the
    space between two of them: digests are written with the subject on
    one line, as alerts are."""
    watches = [{"name": "China Railway"}, {"name": "Китайская железнодорожная корпорация"}]
    config = write_config({
        "watches": watches,
        "recipients": [{"email": "ana@example.org", "name": "Ana"}],
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "security": "none",
                 "sender": "digest@monitor.example"},
    })
    add_hit(store, config, key="1", title="China Railway", body="")
    add_hit(store, config, key="2", title="China Railway wins", body="")
    add_hit(store, config, key="3", body="Китайская железнодорожная корпорация")

    (queued,) = queue_digests(store, config, state_dir)
    deliver(store, config)

    # (folded at 78 characters, this one reads "Китайскаяжелезнодорожная")
    assert queued.subject == (
        "monitor: 3 new (China Railway 2, Китайская железнодорожная корпорация 1)")
    (message,) = smtp_server.messages
    assert message["Subject"] == queued.subject
    assert read_eml(queued.eml_path)["Subject"] == queued.subject
