"""The checked value types every part of the config uses (URLs, slugs, e-mail addresses, time zones, schedules) and the frozen, strict base model."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
)

from monitor.config.schedule import Revisit, ScheduleSpec, parse_revisit, parse_schedule
from monitor.redact import safe_url, secret_parts


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError("not an http(s) URL")
    return value


def _check_slug(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError("must be a lowercase slug: letters, digits and _, starting with a letter")
    return value


def _check_schedule(value: Any) -> ScheduleSpec:
    if isinstance(value, ScheduleSpec):
        return value
    if not isinstance(value, str):
        # pydantic reports ValueError (not TypeError) as a validation error with the key path
        raise ValueError("a schedule is a string such as 'every 2h' or 'daily 07:30'")  # noqa: TRY004
    return parse_schedule(value)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a time zone name (e.g. Asia/Tbilisi, Europe/Kyiv, UTC)") from None
    return value


def _check_email(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
        raise ValueError("not an email address")
    return value


def _check_notify_url(value: str) -> str:
    """An Apprise URL written in the YAML: it must hold no secret. The error never repeats
    the URL (it may be a secret pasted by mistake): only its scheme."""
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", value, re.IGNORECASE):
        raise ValueError("not a notification URL: an Apprise URL such as "
                         "json://host/path, ntfy://host/topic or tgram://... (see "
                         "https://github.com/caronc/apprise/wiki)")
    if secret_parts(value):
        raise ValueError(
            f"this {safe_url(value).split('://')[0]}:// URL seems to carry a secret (a "
            "password, a token or a key): put the whole URL in an environment variable and "
            "name the variable in `notify_env`, so that it never sits in the YAML")
    return value


def _check_env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError("the NAME of an environment variable (letters, digits, _), not its "
                         "value")
    return value


_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d"


def _check_quiet(value: str) -> str:
    if not re.fullmatch(rf"{_CLOCK}\s*-\s*{_CLOCK}", value):
        raise ValueError('quiet hours are "HH:MM-HH:MM" in daemon.timezone, e.g. "22:00-07:00"')
    start, end = (part.strip() for part in value.split("-"))
    if start == end:
        raise ValueError("quiet hours that start and end at the same minute are empty: "
                         "leave `quiet` out")
    return f"{start}-{end}"


Url = Annotated[str, AfterValidator(_check_url)]


NotifyUrl = Annotated[str, AfterValidator(_check_notify_url)]


EnvName = Annotated[str, AfterValidator(_check_env_name)]


QuietHours = Annotated[str, AfterValidator(_check_quiet)]


Slug = Annotated[str, AfterValidator(_check_slug)]


Schedule = Annotated[ScheduleSpec, BeforeValidator(_check_schedule),
                     PlainSerializer(str, return_type=str)]


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


Email = Annotated[str, AfterValidator(_check_email)]


RevisitPolicy = Annotated[Revisit, BeforeValidator(parse_revisit),
                          PlainSerializer(Revisit.to_yaml)]
