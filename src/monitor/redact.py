"""Secrets in notification URLs: which parts of an Apprise URL may be secret, and their
redaction from any text shown to a person or written to a log.

An Apprise URL carries its service's credentials inside it (`tgram://BOT_TOKEN/CHAT_ID`,
`slack://TokenA/TokenB/TokenC`, `mailto://user:password@host`). Such URLs come only from
environment variables (a recipient's `notify_env`), never from the YAML; what the YAML may
hold (`notify:`) is refused when a part of it looks like a secret. Wherever an Apprise URL
could show (log lines, run warnings, `monitor status`, the digest's Coverage, errors), it is
replaced by its label and its secret-looking parts by `***`.

Nothing here imports the rest of monitor: the config, the alerts and the daemon's log filter
all use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote

__all__ = ["MASK", "looks_secret", "redact", "safe_url", "secret_parts"]

MASK = "***"

# query keys whose values are credentials in Apprise's plugins (and elsewhere)
_SECRET_KEYS = frozenset({"token", "key", "apikey", "api_key", "secret", "pass", "password",
                          "pwd", "auth", "access", "accesstoken", "access_token", "webhook",
                          "bot", "botkey", "user_key", "userkey", "app", "apptoken"})
_URL = re.compile(r"^([a-z][a-z0-9+.-]*)://(\S*)$", re.IGNORECASE)
# any URL-looking run of text, to mask inside messages that third-party code wrote
_ANY_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)
_PIECES = re.compile(r"[/:@?&=#.,;!$]+")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_\-~+]+$")


def looks_secret(piece: str) -> bool:
    """A piece of a URL that looks like a token or key: 12 characters or more mixing letters
    and digits, or 20 or more token characters of any kind (API keys, webhook secrets, bot
    tokens). Host names, ports, chat ids and ordinary words do not."""
    if _TOKEN_CHARS.match(piece) is None:
        return False
    has_letter = any(c.isalpha() for c in piece)
    has_digit = any(c.isdigit() for c in piece)
    return (len(piece) >= 12 and has_letter and has_digit) or (len(piece) >= 20 and has_letter)


def _split(url: str) -> tuple[str, str, str, str]:
    """(scheme, user info, host and path, query) of a URL, without urllib's port checks
    (`tgram://123:ABC/chat` has no port)."""
    match = _URL.match(url.strip())
    if match is None:
        return "", "", url, ""
    scheme, rest = match.group(1), match.group(2)
    rest, _, query = rest.partition("?")
    rest = rest.partition("#")[0]
    userinfo = ""
    host_end = rest.find("/")
    authority = rest if host_end < 0 else rest[:host_end]
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        rest = authority + ("" if host_end < 0 else rest[host_end:])
    return scheme.lower(), userinfo, rest, query


def secret_parts(url: str) -> list[str]:
    """The parts of `url` that may be secret, longest first: the user info (user and
    password), every query value under a credential-like key, and every piece of the host or
    path that `looks_secret`. Empty for a URL that holds none of these."""
    _, userinfo, rest, query = _split(url)
    parts: list[str] = []
    if userinfo:
        user, _, password = userinfo.partition(":")
        parts += [userinfo, user, password, unquote(user), unquote(password)]
    for key, value in parse_qsl(query, keep_blank_values=False):
        if key.lower() in _SECRET_KEYS or looks_secret(value):
            parts.append(value)
    parts += [p for p in _PIECES.split(unquote(rest)) if looks_secret(p)]
    return sorted({p for p in parts if len(p) >= 3}, key=len, reverse=True)


def safe_url(url: str) -> str:
    """What may be shown of a URL: its scheme and, when nothing in it looks secret, its host
    (`json://127.0.0.1:8080`); else the scheme alone (`tgram://***`)."""
    scheme, userinfo, rest, _ = _split(url)
    if not scheme:
        return MASK
    host = rest.partition("/")[0]
    if userinfo or not host or any(looks_secret(p) for p in _PIECES.split(host)):
        return f"{scheme}://{MASK}"
    return f"{scheme}://{host}"


def redact(text: str, urls: Iterable[str] = (), *, any_url: bool = False) -> str:
    """`text` with every one of `urls` replaced by its `safe_url` and every secret part of
    them by `***`; with `any_url`, every URL in the text is cut to its safe form too (for
    messages written by third-party code, which may quote a URL we did not give it)."""
    out = text
    for url in sorted({u for u in urls if u}, key=len, reverse=True):
        out = out.replace(url, safe_url(url))
        for part in secret_parts(url):
            out = out.replace(part, MASK)
    if any_url:
        out = _ANY_URL.sub(lambda m: safe_url(m.group(0)), out)
    return out
