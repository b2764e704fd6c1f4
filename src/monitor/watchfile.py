"""The watch file `monitor web` manages (`web.watch_file`, default web-watches.yaml beside the
config): watches added from a search ("watch this query"), and mutes and exclusions added
when a finding is marked not relevant. The config includes it like a `watchlist:` file, so
the next crawl applies it; the user's sources.yaml is never rewritten.

    # managed by monitor web
    watches:                       # watches, as in sources.yaml
      - {name: "search: Hikvision ministry", match_name: false, keywords: [Hikvision], ...}
    mutes:                         # added to the named watch's `mute:`
      - {watch: Nuctech, alias: Nuctech, source: civil_ge, by: nino, at: ..., note: ...}
    excludes:                      # added to the named watch's `exclude:`
      - {watch: Huawei, text: Huawei P40, by: nino, at: ...}
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError

HEADER = ("# Managed by `monitor web`: watches added from searches, mutes and exclusions added\n"
          "# in triage. Included in the watch list like a `watchlist:` file. Edit with care.\n")
SECTIONS = ("watches", "mutes", "excludes")


def read(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The file's sections (empty when the file does not exist); ConfigError names the file,
    the entry and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {key: [] for key in SECTIONS}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the web watch file: {exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the web watch file is a mapping with "
                          f"{', '.join(SECTIONS)}, not a {type(data).__name__}")
    unknown = [k for k in data if k not in SECTIONS]
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown key (allowed: {', '.join(SECTIONS)})")
    out: dict[str, list[dict[str, Any]]] = {}
    for key in SECTIONS:
        entries = data.get(key) or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f"{path}: {key}: a list of mappings, not {entries!r}")
        out[key] = entries
    return out


def merge(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The config's data with the file's watches added and its mutes and exclusions attached
    to the watches they name."""
    sections = read(path)
    if not any(sections.values()):
        return data
    watches = data.get("watches") or []
    if not isinstance(watches, list):
        return data  # the model reports it
    names = {w.get("name"): i for i, w in enumerate(watches) if isinstance(w, dict)}
    for i, watch in enumerate(sections["watches"]):
        if watch.get("name") in names:
            raise ConfigError(f"{path}: watches[{i}]: watch {watch.get('name')!r} is also "
                              "defined in the config; remove it from one of them")
    # who added a watch and when is the file's record, not the watch's
    watches = [dict(w) if isinstance(w, dict) else w for w in watches] + [
        {k: v for k, v in w.items() if k not in ("by", "at", "note")}
        for w in sections["watches"]]
    names = {w.get("name"): i for i, w in enumerate(watches) if isinstance(w, dict)}
    for key, field in (("mutes", "mute"), ("excludes", "exclude")):
        for i, entry in enumerate(sections[key]):
            rest = {k: v for k, v in entry.items() if k != "watch"}
            if field == "exclude":
                rest = {k: v for k, v in rest.items() if k in ("text", "within")}
            target = names.get(entry.get("watch"))
            if target is None:
                raise ConfigError(f"{path}: {key}[{i}]: no watch named {entry.get('watch')!r} "
                                  "(it was removed from the config?): remove this entry")
            watch = watches[target]
            watch[field] = [*(watch.get(field) or []), rest]
    return {**data, "watches": watches}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (web workers, a second `monitor web`)."""
    lock = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the web watch file: {exc} (set web.watch_file "
                          "to a writable path)") from None


def _write(path: Path, sections: dict[str, list[dict[str, Any]]]) -> None:
    body = yaml.safe_dump({k: v for k, v in sections.items() if v}, allow_unicode=True,
                          sort_keys=False)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(HEADER + body, "utf-8")
    os.replace(partial, path)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def add(path: Path, section: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Append an entry (stamped with the time) to a section; the entry as written. An entry
    equal to one already there (but for who and when) is not added twice."""
    with _locked(path):
        sections = read(path)
        same = {k: v for k, v in entry.items() if k not in ("by", "at", "note")}
        for old in sections[section]:
            if {k: v for k, v in old.items() if k not in ("by", "at", "note")} == same:
                return old
        written = {**entry, "at": _now()}
        sections[section].append(written)
        try:
            _write(path, sections)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write the web watch file: {exc}") from None
        return written


def remove(path: Path, section: str, index: int) -> dict[str, Any]:
    """Take entry `index` of a section out; the entry removed."""
    with _locked(path):
        sections = read(path)
        if not 0 <= index < len(sections[section]):
            raise ConfigError(f"{path}: {section}[{index}]: no such entry")
        entry = sections[section].pop(index)
        try:
            _write(path, sections)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write the web watch file: {exc}") from None
        return entry
