"""Reading: YAML -> `Config`, every problem named by file, key path and value; `watchlist:` files included; snapshots for the crawler child."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from monitor import watchfile
from monitor.config.model import Config
from monitor.config.settings import (
    CrawlSettings,
    DaemonSettings,
    DigestSettings,
    EvidenceSettings,
    FlagSettings,
    HealthSettings,
    Recipient,
    SmtpSettings,
    WebSettings,
)
from monitor.config.sources import Selectors, Source
from monitor.errors import ConfigError
from monitor.watches import Alias, Exclusion, Related, Rule, Watch, load_watchlist


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(error: Any, model_fields: dict[tuple[int | str, ...], list[str]]) -> str:
    loc = tuple(error["loc"])
    where = _loc(loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        allowed = model_fields.get(loc[:-1])
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"{where}: unknown key{hint}"
    if error["type"] == "value_error" and re.match(r"^\w+\[\d+\]\.", message):
        return message  # a cross-field check that already names its own path
    value = error.get("input")
    # a notification URL may be a secret pasted by mistake: never repeat it
    secret = any(part in ("notify", "notify_env") for part in loc)
    shown = "" if isinstance(value, dict) or value is None or secret else f": {value!r}"
    return f"{where or '(top level)'}: {message}{shown}"


def _allowed_keys(data: Any) -> dict[tuple[int | str, ...], list[str]]:
    """Map a dict's key path to the keys its model accepts, for 'unknown key' hints."""
    table: dict[tuple[int | str, ...], list[str]] = {(): list(Config.model_fields)}
    sections: dict[str, type[BaseModel]] = {
        "sources": Source,
        "watches": Watch,
        "recipients": Recipient,
    }
    if isinstance(data, dict):
        for key, model in sections.items():
            items = data.get(key)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    table[(key, i)] = list(model.model_fields)
                    if key == "sources" and isinstance(item, dict):
                        table[(key, i, "selectors")] = list(Selectors.model_fields)
                    if key == "watches" and isinstance(item, dict):
                        _watch_keys(table, (key, i), item)
        table[("smtp",)] = list(SmtpSettings.model_fields)
        table[("crawl",)] = list(CrawlSettings.model_fields)
        table[("digest",)] = list(DigestSettings.model_fields)
        table[("daemon",)] = list(DaemonSettings.model_fields)
        table[("health",)] = list(HealthSettings.model_fields)
        table[("evidence",)] = list(EvidenceSettings.model_fields)
        table[("web",)] = list(WebSettings.model_fields)
        table[("flags",)] = list(FlagSettings.model_fields)
    return table


def _watch_keys(table: dict[tuple[int | str, ...], list[str]], at: tuple[int | str, ...],
                item: dict[str, Any]) -> None:
    """'unknown key' hints inside a watch: its aliases, related, exclude and rule."""
    parts: dict[str, type[BaseModel]] = {"aliases": Alias, "exclude": Exclusion,
                                         "related": Related}
    for key, model in parts.items():
        if isinstance(item.get(key), list):
            for j, part in enumerate(item[key]):
                table[(*at, key, j)] = list(model.model_fields)
                if key == "related" and isinstance(part, dict) and isinstance(
                        part.get("aliases"), list):
                    for k in range(len(part["aliases"])):
                        table[(*at, key, j, "aliases", k)] = list(Alias.model_fields)
    table[(*at, "rule")] = list(Rule.model_fields)


def _include_watchlist(data: dict[str, Any], where: str, base: Path | None) -> dict[str, Any]:
    """Add the watches of the `watchlist:` files to `watches:`, naming clashes by file."""
    included = load_watchlist(data["watchlist"], base, where)
    inline = data.get("watches") or []
    if not isinstance(inline, list):
        return data  # the model reports it
    names = {w.get("name"): i for i, w in enumerate(inline) if isinstance(w, dict)}
    for watch in included:
        if watch.name in names:
            raise ConfigError(f"{where}: watchlist: watch {watch.name!r} is also defined in "
                              f"the config (watches[{names[watch.name]}])")
    return {**data, "watches": [*inline, *included]}


def _watch_file(data: dict[str, Any], base: Path | None) -> Path | None:
    """The web's watch file (`web.watch_file`, default web-watches.yaml beside the config),
    when there is one to include: only for a config read from a file."""
    web = data.get("web")
    if base is None or (web is not None and not isinstance(web, dict)):
        return None
    name = (web or {}).get("watch_file", WebSettings.model_fields["watch_file"].default)
    if not isinstance(name, str) or not name.strip():
        return None  # null turns it off; a wrong type is the model's to report
    return base / name


def parse_config(data: Any, where: str = "config", base: Path | None = None) -> Config:
    """Validate already-parsed YAML data. `where` names the input in error messages; `base` is
    the directory `watchlist:` files are relative to (default: the working directory)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping, not {type(data).__name__}")
    if data.get("watchlist") is not None:
        if not isinstance(data["watchlist"], str | list):
            raise ConfigError(f"{where}: watchlist: a file name or a list of file names, "
                              f"not {data['watchlist']!r}")
        data = _include_watchlist(data, where, base)
    watch_file = _watch_file(data, base)
    if watch_file is not None:
        data = watchfile.merge(data, watch_file)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        allowed = _allowed_keys(data)
        lines = [_describe(e, allowed) for e in exc.errors()]
        if len(lines) == 1:
            raise ConfigError(f"{where}: {lines[0]}") from None
        listed = "\n".join(f"  {line}" for line in lines)
        raise ConfigError(f"{where}: {len(lines)} problems:\n{listed}") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a sources.yaml file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (give one with --config or MONITOR_CONFIG)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{at}: {problem}") from None
    config = parse_config(data, str(path), base=path.resolve().parent)
    config._path = path.resolve()
    return config


SNAPSHOTS_KEPT_S = 86400


def write_snapshot(config: Config, directory: str | Path) -> Path:
    """The validated config as one self-contained YAML file (the `watchlist:` files' watches
    included) under `directory`, for a crawler child to read: it crawls exactly what the
    parent validated, even after the file on disk changed or broke (the daemon keeps its
    config when a SIGHUP finds the file broken). Named by its content's hash, written
    atomically and never rewritten; snapshots unused for a day are removed."""
    directory = Path(directory)
    # defaults left out: they are not validated (smtp.sender's monitor@localhost), and the
    # reader fills them in again
    data = config.model_dump(mode="json", exclude={"watchlist"}, exclude_defaults=True)
    # the web's watch file is in `watches` already
    data["web"] = {**data.get("web", {}), "watch_file": None}
    text = ("# a snapshot of a validated monitor config, written for its crawler processes;\n"
            f"# edit {config.path or 'the config file'}, not this\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    name = f"config-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}.yaml"
    path = directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            partial = directory / f".{name}.{os.getpid()}.tmp"
            partial.write_text(text, "utf-8")
            os.replace(partial, path)
        now = time.time()
        os.utime(path)
        for old in directory.glob("config-*.yaml"):
            if old != path and now - old.stat().st_mtime > SNAPSHOTS_KEPT_S:
                old.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the config snapshot for the crawler: "
                          f"{exc}") from None
    return path
