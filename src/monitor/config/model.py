"""`Config`: the whole validated file, and what it answers (a source by name, its schedule and time limit, unset secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import (
    PrivateAttr,
    model_validator,
)

from monitor.config.schedule import ScheduleSpec
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
from monitor.config.sources import Source
from monitor.config.types import _Frozen
from monitor.errors import ConfigError, SourceNotFoundError
from monitor.watches import Watch


class Config(_Frozen):
    sources: tuple[Source, ...] = ()
    watches: tuple[Watch, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    smtp: SmtpSettings | None = None
    crawl: CrawlSettings = CrawlSettings()
    digest: DigestSettings = DigestSettings()
    daemon: DaemonSettings = DaemonSettings()
    health: HealthSettings = HealthSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    web: WebSettings = WebSettings()
    flags: FlagSettings = FlagSettings()
    # files (YAML or CSV, relative to this config) whose watches are added to `watches`;
    # parse_config reads them (see monitor.watches)
    watchlist: str | tuple[str, ...] | None = None

    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file this config was read from (the crawler child re-reads it)."""
        return self._path

    @model_validator(mode="after")
    def _unique_and_linked(self) -> Config:
        _no_duplicates("sources", [s.name for s in self.sources], "name")
        _no_duplicates("watches", [w.name for w in self.watches], "name")
        _no_duplicates("recipients", [r.key for r in self.recipients], "email")
        names = {w.name for w in self.watches}
        for i, recipient in enumerate(self.recipients):
            for name in recipient.watches:
                if name not in names:
                    raise ValueError(
                        f"recipients[{i}].watches: no watch named {name!r} "
                        f"(watches are: {', '.join(sorted(names)) or 'none'})"
                    )
        sources = {s.name for s in self.sources}
        for name in self.flags.thresholds:
            if name not in sources:
                raise ValueError(f"flags.thresholds: no source named {name!r} (sources are: "
                                 f"{', '.join(sorted(sources)) or 'none'})")
        return self

    @property
    def watch_file(self) -> Path | None:
        """The watch file `monitor web` manages (`web.watch_file`, beside this config)."""
        if self.web.watch_file is None or self._path is None:
            return None
        return self._path.parent / self.web.watch_file

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise SourceNotFoundError(f"{self._where()}: no source named {name!r} (sources: {known})")

    def require_sources(self) -> None:
        """Raise ConfigError when the config has no source at all: checked by `monitor
        check-config` and the daemon, which would otherwise idle on an empty file and look
        like a quiet week."""
        if not self.sources:
            raise ConfigError(f"{self._where()}: no sources: there is nothing to watch; add "
                              "at least one under `sources:` (config/sources.yaml has "
                              "commented examples)")

    def unset_secrets(self, environ: Mapping[str, str]) -> list[str]:
        """What will fail for want of a secret: enabled sources and SMTP whose environment
        variable (named in the config) is unset or empty in `environ`. Names the variables,
        never their values."""
        problems = [
            f"source {s.name!r}: the environment variable {s.token_env} (token_env) is not set: "
            "its runs will fail as not configured"
            for s in self.sources if s.enabled and s.token_env and not environ.get(s.token_env)
        ]
        smtp = self.smtp
        if smtp is not None and smtp.password_env and not environ.get(smtp.password_env):
            problems.append(f"smtp: the environment variable {smtp.password_env} "
                            "(password_env) is not set: sending will fail")
        problems += [
            f"recipient {r.key!r}: the environment variable {name} (notify_env) is not set: "
            "alerts to that channel will wait in the outbox until it is"
            for r in self.recipients for name in r.notify_env if not environ.get(name)]
        return problems

    def recipient(self, key: str) -> Recipient:
        """The recipient with this email (any case) or name."""
        for recipient in self.recipients:
            if key.casefold() in (recipient.key.casefold(), (recipient.name or "").casefold()):
                return recipient
        known = ", ".join(r.key for r in self.recipients) or "none"
        raise ConfigError(f"{self._where()}: no recipient {key!r} (recipients: {known})")

    def select(self, names: tuple[str, ...] | list[str] = ()) -> tuple[Source, ...]:
        """The named sources (even disabled ones: naming one is asking for it), or every
        enabled source."""
        if names:
            return tuple(self.source(n) for n in dict.fromkeys(names))
        return tuple(s for s in self.sources if s.enabled)

    def schedule_of(self, source: Source) -> ScheduleSpec:
        return source.schedule or self.daemon.default_schedule

    def digest_schedule_of(self, recipient: Recipient) -> ScheduleSpec:
        return recipient.digest or self.daemon.digest_schedule

    def timeout_of(self, source: Source) -> float:
        return source.timeout or self.daemon.crawl_timeout

    def _where(self) -> str:
        return str(self._path) if self._path else "config"


def _no_duplicates(key: str, values: list[str], field: str) -> None:
    seen: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in seen:
            raise ValueError(
                f"{key}[{i}].{field}: duplicate {value!r} (already used by {key}[{seen[value]}])"
            )
        seen[value] = i
