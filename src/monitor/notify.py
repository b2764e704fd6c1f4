"""Alert channels besides email, through Apprise (one URL per service: Telegram, Signal,
Slack, Matrix, Mattermost, Teams, ntfy, a JSON webhook, ...).

    channel   how the outbox names it: `notify:<URL>` (from the YAML, no secret in it) or
              `env:<NAME>` (the URL, token and all, is read from that environment variable
              when the message is sent, and never stored)
    label     what may be shown of a channel: `json://127.0.0.1:8080`, `$TELEGRAM_URL`
    send      one message to one channel: None when the service accepted it, else why not,
              redacted (no URL, no token)

Apprise is imported on first use (it takes a third of a second), reaches nothing at import,
and keeps no state on disk (its persistent store has no path unless one is given). Its log
records never travel up the logging tree: each send's records come back in its result and
only their redacted text is kept (the outbox's `last_error`, run warnings, `monitor status`).
(Requests' urllib3 logs each request line at DEBUG; monitor never sets up the root logger,
so those records go nowhere unless an embedding application asks for them.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING

from monitor.errors import MissingEnvVarError
from monitor.redact import redact, safe_url

if TYPE_CHECKING:
    from monitor.config import Config

__all__ = ["EMAIL", "NOTIFY_TIMEOUT_S", "check", "label", "resolve", "send", "urls"]

EMAIL = "email"
# the whole of one send, whatever the URL's own connect / read timeouts (`cto`, `rto`:
# Apprise's default is 4 s each) say: a hanging service must not hold the others
NOTIFY_TIMEOUT_S = 30.0
# an Apprise message body is cut here (services cap theirs: Telegram at 4096 characters)
MAX_BODY_CHARS = 3500
# the levels (Apprise's log entries carry their name) whose lines say why a send failed
_PROBLEMS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def label(channel: str) -> str:
    """What may be shown of a channel (logs, status, the digest): never a secret."""
    kind, _, value = channel.partition(":")
    if kind == "env":
        return f"${value}"
    if kind == "notify":
        return safe_url(value)
    return channel


def resolve(channel: str, environ: Mapping[str, str] | None = None,
            recipient: str = "") -> str:
    """The Apprise URL of a `notify:` or `env:` channel. MissingEnvVarError when the variable
    is unset or empty: the message stays queued until it is set."""
    kind, _, value = channel.partition(":")
    if kind == "notify":
        return value
    if kind != "env":
        raise ValueError(f"not an Apprise channel: {channel!r}")
    url = (os.environ if environ is None else environ).get(value, "").strip()
    if not url:
        who = f" of recipient {recipient!r}" if recipient else ""
        raise MissingEnvVarError(
            f"environment variable {value} (notify_env{who}) is not set: it must hold the "
            "whole Apprise URL of the channel")
    return url


def urls(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every Apprise URL the config reaches (the YAML's and the variables' that are set):
    what the logs must never show."""
    env = os.environ if environ is None else environ
    found = [url for r in config.recipients for url in r.notify]
    found += [env[name] for r in config.recipients for name in r.notify_env if env.get(name)]
    return found


def _apprise() -> ModuleType:
    import apprise

    # its records stay with each send's result; nothing reaches a handler of the
    # application's (a URL in a debug line of some plugin would be one leak too many)
    logging.getLogger("apprise").propagate = False
    return apprise


def check(url: str) -> str | None:
    """None when Apprise knows the URL's service and its form; else why not (redacted)."""
    apprise = _apprise()
    service = apprise.Apprise()
    if service.add(url):
        return None
    return (f"Apprise does not understand {safe_url(url)} (an unknown service, or a URL "
            "missing a part the service needs)")


def send(url: str, title: str, body: str, *, timeout: float = NOTIFY_TIMEOUT_S,
         secrets: Iterable[str] = ()) -> str | None:
    """Send one plain-text message; None when the service accepted it, else why not, with
    the URL and anything in `secrets` redacted."""
    apprise = _apprise()
    service = apprise.Apprise()
    if not service.add(url):
        return check(url)
    if len(body) > MAX_BODY_CHARS:
        body = body[: MAX_BODY_CHARS - 1] + "…"
    try:
        # plain text: a crawled title is never read as Markdown or HTML by the service;
        # Apprise escapes it for services that want HTML
        result = service.notify(body=body, title=title,
                                body_format=apprise.NotifyFormat.TEXT, timeout=timeout)
    except Exception as exc:  # noqa: BLE001  (a plugin's bug is this channel's failure)
        return redact(f"{type(exc).__name__}: {exc}", [url, *secrets], any_url=True)
    if result:
        return None
    lines = [" ".join(entry.message.split()) for entry in result.logs()
             if entry.level in _PROBLEMS and entry.message]
    status = result.status.name.lower()
    reason = "; ".join(dict.fromkeys(lines)) or f"not accepted ({status})"
    if status == "timeout":
        reason = f"no answer within {timeout:g} s; {reason}"
    return redact(reason, [url, *secrets], any_url=True)
