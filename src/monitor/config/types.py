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


Url = Annotated[str, AfterValidator(_check_url)]


Slug = Annotated[str, AfterValidator(_check_slug)]


Schedule = Annotated[ScheduleSpec, BeforeValidator(_check_schedule),
                     PlainSerializer(str, return_type=str)]


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


Email = Annotated[str, AfterValidator(_check_email)]


RevisitPolicy = Annotated[Revisit, BeforeValidator(parse_revisit),
                          PlainSerializer(Revisit.to_yaml)]
