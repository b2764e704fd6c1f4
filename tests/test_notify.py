"""monitor.notify and monitor.redact: Apprise channels against a real local endpoint (no
mock of Apprise): what arrives, what a 500, a hang and a dropped connection give, and that no
URL or token reaches an error, a log record or the network beyond loopback. The redaction
cases live in tests/cases/redact.yaml."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import NotifySink

from monitor import notify
from monitor.config import parse_config
from monitor.errors import ConfigError, MissingEnvVarError
from monitor.redact import MASK, redact, safe_url, secret_parts

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "redact.yaml").read_text("utf-8"))

TOKEN = "s3cr3tTOKENabcdef123"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Any connection beyond loopback fails the test: Apprise talks to our endpoint only."""
    tried: list[Any] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not host.startswith(("127.", "::1", "localhost", "/")):
            tried.append(address)
            raise AssertionError(f"a connection beyond loopback: {address!r}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield tried
    assert tried == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_redact_case(name: str) -> None:
    case = CASES[name]
    url = case["url"]
    assert safe_url(url) == case["safe"]
    parts = secret_parts(url)
    for secret in case["secret"]:
        assert secret in parts
        # wherever the URL or a part of it is quoted, the secret is gone
        text = f"failed to reach {url}; token was {secret}."
        shown = redact(text, [url])
        assert secret not in shown and MASK in shown
    for piece in case.get("shown", []):
        assert piece not in parts
    data = {"recipients": [{"name": "desk", "notify": [url]}]}
    if case["yaml_ok"]:
        assert parse_config(data).recipients[0].notify == (url,)
    else:
        with pytest.raises(ConfigError) as caught:
            parse_config(data)
        # the error names the key, never the URL (it may be a secret pasted by mistake)
        assert "recipients[0].notify[0]" in str(caught.value)
        for secret in case["secret"]:
            assert secret not in str(caught.value)


def test_redact_any_url_cuts_urls_written_by_third_party_code() -> None:
    text = f"POST http://127.0.0.1:9/hook/{TOKEN} failed; see https://example.org/help"
    shown = redact(text, any_url=True)
    assert TOKEN not in shown
    assert "http://127.0.0.1:9" in shown and "https://example.org" in shown


@pytest.mark.parametrize("scheme", ["json", "form"])
def test_send_delivers_title_and_body_to_the_local_endpoint(notify_sink: NotifySink,
                                                            scheme: str) -> None:
    body = "Nuctech won: NAT230021830\n<b>not markup</b> [not](a link)"
    assert notify.send(notify_sink.url(scheme), "Nuctech won", body) is None
    [message] = notify_sink.messages
    assert message["title"] == "Nuctech won"
    # plain text, as given: the service is not told it is Markdown or HTML
    assert message["message"] == body
    content_type = notify_sink.received[0]["content_type"]
    assert content_type.startswith("application/json" if scheme == "json"
                                   else "application/x-www-form-urlencoded")


@pytest.mark.parametrize(("mode", "said"), [
    ("500", "error=500"),
    ("hang", "connection error"),
    ("drop", "connection error"),
])
def test_send_failure_says_why_without_the_url(notify_sink: NotifySink, mode: str,
                                               said: str) -> None:
    notify_sink.mode = mode
    url = notify_sink.url(path=f"/hook/{TOKEN}")
    started = time.monotonic()
    error = notify.send(url, "title", "body")
    assert error is not None and said in error.lower()
    assert TOKEN not in error and url not in error
    # the URL's own read timeout (rto=1) ends a hang
    assert time.monotonic() - started < 10
    assert notify_sink.messages == []


def test_send_call_timeout_ends_a_hang_whatever_the_url_says(notify_sink: NotifySink) -> None:
    notify_sink.mode = "hang"
    started = time.monotonic()
    error = notify.send(notify_sink.url(rto="20"), "title", "body", timeout=1)
    assert error is not None and "no answer within 1 s" in error
    assert time.monotonic() - started < 10


def test_send_unknown_service_is_refused_before_any_request(notify_sink: NotifySink) -> None:
    error = notify.send("nosuchservice://127.0.0.1/x", "title", "body")
    assert error is not None and "Apprise does not understand nosuchservice://" in error
    assert notify.check("nosuchservice://127.0.0.1/x") == error
    assert notify.check(notify_sink.url()) is None
    assert notify_sink.attempts == 0


def test_send_keeps_apprise_records_out_of_the_application_log(
        notify_sink: NotifySink) -> None:
    # an application that logs everything at its root (pytest's own capture handler is left
    # aside: it attaches itself to every logger, propagating or not)
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = seen.append  # type: ignore[method-assign]
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        notify_sink.mode = "500"
        assert notify.send(notify_sink.url(path=f"/hook/{TOKEN}"), "title", "body")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert [r for r in seen if r.name.startswith("apprise")] == []
    assert logging.getLogger("apprise").propagate is False


def test_resolve_reads_the_url_from_the_environment_only_when_sending() -> None:
    assert notify.resolve("notify:json://h/x") == "json://h/x"
    assert notify.resolve("env:TG_URL", {"TG_URL": " tgram://1:A/2 "}) == "tgram://1:A/2"
    with pytest.raises(MissingEnvVarError, match=r"TG_URL \(notify_env of recipient 'ana'\)"):
        notify.resolve("env:TG_URL", {}, "ana")
    assert notify.label("env:TG_URL") == "$TG_URL"
    assert notify.label("notify:json://127.0.0.1:8/h") == "json://127.0.0.1:8"
    assert notify.label("email") == "email"


def test_urls_lists_every_configured_url_for_the_log_filter() -> None:
    config = parse_config({"recipients": [
        {"email": "a@example.org", "notify": ["json://127.0.0.1:1/h"],
         "notify_env": ["TG_URL", "UNSET_URL"]}]})
    assert notify.urls(config, {"TG_URL": "tgram://1:AAAAbbbbCCCCdddd1234/5"}) == [
        "json://127.0.0.1:1/h", "tgram://1:AAAAbbbbCCCCdddd1234/5"]


def test_importing_apprise_reaches_no_network(tmp_path: Path) -> None:
    # in a fresh interpreter, where Apprise is imported for the first time
    code = (
        "import socket\n"
        "tried = []\n"
        "real = socket.socket.connect\n"
        "def guard(self, address):\n"
        "    tried.append(address)\n"
        "    raise OSError('no network in this test')\n"
        "socket.socket.connect = guard\n"
        "socket.create_connection = lambda *a, **k: guard(None, a[0])\n"
        "from monitor import notify\n"
        "assert notify.check('json://127.0.0.1:9/x') is None\n"
        "print('connections:', tried)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "connections: []"
