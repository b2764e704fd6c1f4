"""The watch list: what to look for, as validated config objects, and the `watchlist:` include.

A watch in sources.yaml (every key but `name` optional; unknown keys are errors):

    - name: Nuctech                      # also searched for, unless match_name: false
      aliases:
        - Нуктек                         # a plain string, or a mapping:
        - {text: NUC, case_sensitive: true, needs_context: true}
      keywords: [border scanners]        # reported as keywords, not aliases
      ids: ["GE-NAPR:204567890"]         # registry ids, SCHEME:value
      related:                           # matched, reported "via Tsinghua Tongfang"
        - {name: Tsinghua Tongfang, aliases: [清华同方], relation: parent}
      exclude:                           # a hit inside (or within N words of) these is dropped
        - Nuctech Labs
        - {text: Huawei P40, within: 3}
      mute:                              # hits of this alias in this source are not reported
        - {alias: NUC, source: civil_ge}
      rule: {all: [...], any: [...], none: [...], within: 10}
      context: [scanner, customs]        # what makes a needs_context alias count
      languages: [ka, ru]                # only items in these languages (when known)
      transliterate: true                # also look for generated Latin/Cyrillic/Georgian forms
      tags: [surveillance]
      priority: high
      alert: immediate                   # also sent at once, not only in the digest
      on: [awarded, winner_changed]      # ... for these tender events only (default: any)

`watchlist:` at the top level of sources.yaml names one or more YAML or CSV files (relative to
the config file) whose watches are added to `watches:`. A YAML file is a list of watches (or a
mapping with a `watches:` key); a CSV file has a header row with `name` and any of `aliases`,
`keywords`, `ids`, `tags` (each `;`-separated), `priority`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.errors import ConfigError

__all__ = [
    "ALERT_EVENTS",
    "yaml_on",
    "AlertEvent",
    "Alias",
    "Exclusion",
    "Mute",
    "Related",
    "Rule",
    "Watch",
    "load_watchlist",
]

# org-id.guide style: a country code, an optional register, then the value (GE-NAPR:204567890,
# UA-EDR:41234567, EU-VAT:DE811128135)
REGISTRY_ID = re.compile(r"^[A-Z]{2}(-[A-Z0-9]+)?:\S+$")
CSV_COLUMNS = ("name", "aliases", "keywords", "ids", "tags", "priority")

# what an immediate alert may be asked for (`on:`): any news, a `new` finding (an article, or
# a tender found for the watch for the first time), or one of the tender events
# (monitor.models.TenderEventKind)
AlertEvent = Literal["any", "new", "awarded", "winner_changed", "value_changed",
                     "status_changed", "deadline_changed", "cancelled", "document_removed"]
ALERT_EVENTS: tuple[str, ...] = get_args(AlertEvent)


def yaml_on(value: Any) -> Any:
    """A mapping read by YAML 1.1 (PyYAML) has `on:` as the key True (`on` is a boolean
    there, as `yes` is): give it back its name, so `on: [awarded]` means what it says."""
    if isinstance(value, dict) and True in value and "on" not in value:
        return {("on" if key is True else key): item for key, item in value.items()}
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _check_term(value: str) -> str:
    if not value.strip():
        raise ValueError("empty alias or keyword")
    return value


def _check_id(value: str) -> str:
    if not REGISTRY_ID.match(value):
        raise ValueError(
            "not a registry id: write SCHEME:value, e.g. GE-NAPR:204567890, UA-EDR:41234567, "
            "KZ-BIN:123456789012, EU-VAT:DE811128135"
        )
    return value


def _check_language(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}", value):
        raise ValueError("a language is a two- or three-letter code such as en, ka, ru, kk, zh")
    return value


Term = Annotated[str, AfterValidator(_check_term)]
RegistryId = Annotated[str, AfterValidator(_check_id)]
Language = Annotated[str, AfterValidator(_check_language)]


class _FromString(_Frozen):
    """A model also written as a bare string, which becomes its `text`."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value


class Alias(_FromString):
    """One spelling. A bare string in YAML is an alias with the defaults."""

    text: Term
    # the text must have the same upper/lower case as written (ZTE, not "zte" or "Zte")
    case_sensitive: bool = False
    # counts only when the same item also names the watch otherwise (another alias, a
    # keyword, a related name, an id) or one of the watch's `context` words
    needs_context: bool = False


class Exclusion(_FromString):
    """A phrase that cancels a hit it overlaps, or that lies within `within` words of it."""

    text: Term
    within: int = Field(default=0, ge=0, le=1000)


class Mute(_Frozen):
    """A hit of `alias` (an alias or keyword of the watch, as written) that is not reported:
    in `source` only, or anywhere when no source is given. `monitor web` writes these when
    a finding is marked not relevant; `by`, `at` and `note` say who, when and why."""

    alias: Term
    source: str | None = None
    by: str | None = None
    at: str | None = None
    note: str | None = None

    def applies(self, term: str, source: str | None) -> bool:
        return (self.alias.casefold() == term.casefold()
                and (self.source is None or self.source == source))

    def describe(self) -> str:
        where = f"in source {self.source!r}" if self.source else "in every source"
        who = ", ".join(x for x in (f"by {self.by}" if self.by else "",
                                    f"on {self.at[:10]}" if self.at else "") if x)
        why = f": {self.note}" if self.note else ""
        return f"muted: {self.alias!r} {where}" + (f" ({who}{why})" if who or why else "")


class Related(_Frozen):
    """A parent, subsidiary or local distributor: its hits count for the watch, "via" it."""

    name: str = Field(min_length=1)
    aliases: tuple[Alias, ...] = ()
    relation: str | None = None  # free text: parent, subsidiary, distributor, ...


class Rule(_Frozen):
    """Conditions on other terms for the watch's hits to count: every term of `all`, at least
    one of `any`, none of `none`; in the whole item, or within `within` words of the hit."""

    all: tuple[Term, ...] = ()
    any: tuple[Term, ...] = ()
    none: tuple[Term, ...] = ()
    within: int | None = Field(default=None, ge=1, le=10000)

    @model_validator(mode="after")
    def _not_empty(self) -> Rule:
        if not (self.all or self.any or self.none):
            raise ValueError("a rule needs at least one of `all`, `any`, `none`")
        return self


class Watch(_Frozen):
    """A company, person or topic to look for."""

    name: str = Field(min_length=1)
    # the name is itself an alias unless this is false (a topic watch named in prose)
    match_name: bool = True
    aliases: tuple[Alias, ...] = ()
    keywords: tuple[Term, ...] = ()
    ids: tuple[RegistryId, ...] = ()
    related: tuple[Related, ...] = ()
    exclude: tuple[Exclusion, ...] = ()
    mute: tuple[Mute, ...] = ()
    rule: Rule | None = None
    context: tuple[Term, ...] = ()
    languages: tuple[Language, ...] = ()
    transliterate: bool = False
    tags: tuple[str, ...] = ()
    priority: Literal["high", "normal", "low"] = "normal"
    # tenders where this watch is only the buyer are reported only when they carry one of
    # these red flags (`monitor.flags`); empty: every award, as for any watch
    flags: tuple[str, ...] = ()
    # `immediate`: its news is also sent at once, when the crawl that finds it ends, to
    # everyone who gets this watch (monitor.alerts); `digest`: only in their digests
    alert: Literal["digest", "immediate"] = "digest"
    # with `alert: immediate`, which news: `any` (the default), `new` findings, or tender
    # events (`awarded`, `winner_changed`, ...); the rest waits for the digest
    on: tuple[AlertEvent, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, value: Any) -> Any:
        return yaml_on(value)

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from monitor.flags.model import FLAG_RULES  # not at import: flags reads the config

        unknown = [f for f in value if f not in FLAG_RULES]
        if unknown:
            raise ValueError(f"unknown red flag {unknown[0]!r}: one of {', '.join(FLAG_RULES)}")
        return value

    @model_validator(mode="after")
    def _has_terms(self) -> Watch:
        if not (self.match_name or self.aliases or self.keywords or self.ids or self.related):
            raise ValueError("a watch with `match_name: false` needs `aliases` or `keywords`")
        if self.on and self.alert != "immediate":
            raise ValueError("`on` chooses which news alerts at once: it needs "
                             "`alert: immediate`")
        return self

    @property
    def alias_texts(self) -> tuple[str, ...]:
        """Every alias as written, the name first unless match_name is false."""
        names = (self.name,) if self.match_name else ()
        return tuple(dict.fromkeys((*names, *(a.text for a in self.aliases))))

    @property
    def terms(self) -> tuple[tuple[str, str], ...]:
        """(kind, text) for every alias (the name too, unless match_name is false) and
        keyword."""
        return tuple(("alias", a) for a in self.alias_texts) + tuple(
            ("keyword", k) for k in self.keywords
        )


# -- watchlist: include ---------------------------------------------------------------------------


def load_watchlist(paths: str | list[str] | tuple[str, ...], base: Path | None,
                   where: str) -> list[Watch]:
    """Read the watches of every file in `paths` (relative to `base`). ConfigError names the
    file, the row or entry, the key and the value."""
    files = [paths] if isinstance(paths, str) else list(paths)
    watches: list[Watch] = []
    for name in files:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: watchlist: not a file name: {name!r}")
        path = Path(name)
        if not path.is_absolute() and base is not None:
            path = base / path
        if path.suffix.lower() == ".csv":
            entries = _read_csv(path, where)
        elif path.suffix.lower() in (".yaml", ".yml"):
            entries = _read_yaml(path, where)
        else:
            raise ConfigError(f"{where}: watchlist: {name!r}: use a .yaml, .yml or .csv file")
        for label, entry in entries:
            try:
                watches.append(Watch.model_validate(entry))
            except ValidationError as exc:
                problems = "; ".join(_problem(e) for e in exc.errors())
                raise ConfigError(f"{path}: {label}: {problems}") from None
    return watches


def _problem(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{loc}: unknown key (allowed: {', '.join(Watch.model_fields)})"
    value = error.get("input")
    shown = "" if isinstance(value, dict) or value is None else f": {value!r}"
    return f"{loc or '(entry)'}: {message}{shown}"


def _read_text(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{where}: watchlist: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: watchlist: cannot read {path}: {exc}") from None


def _read_yaml(path: Path, where: str) -> list[tuple[str, Any]]:
    try:
        data = yaml.safe_load(_read_text(path, where))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if isinstance(data, dict) and set(data) == {"watches"}:
        data = data["watches"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{path}: a watchlist file is a list of watches (or `watches:` and "
                          f"a list), not a {type(data).__name__}")
    return [(f"watches[{i}]" + (f" ({e['name']!r})" if isinstance(e, dict) and "name" in e
                                else ""), e) for i, e in enumerate(data)]


def _read_csv(path: Path, where: str) -> list[tuple[str, Any]]:
    rows = list(csv.reader(_read_text(path, where).splitlines()))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown or "name" not in header:
        problem = f"unknown column {unknown[0]!r}" if unknown else "no `name` column"
        raise ConfigError(f"{path}: row 1: {problem} (columns: {', '.join(CSV_COLUMNS)}; "
                          "`name` is required)")
    entries: list[tuple[str, Any]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise ConfigError(f"{path}: row {number}: {len(row)} cells, the header has "
                              f"{len(header)} (quote values that contain commas)")
        cells = dict(zip(header, row, strict=False))
        entry: dict[str, Any] = {"name": cells.get("name", "")}
        for key in ("aliases", "keywords", "ids", "tags"):
            values = [v.strip() for v in cells.get(key, "").split(";") if v.strip()]
            if values:
                entry[key] = values
        if cells.get("priority", "").strip():
            entry["priority"] = cells["priority"].strip()
        entries.append((f"row {number} ({entry['name']!r})", entry))
    return entries
