"""Every error monitor raises on purpose, as one tree.

    MonitorError
    ├── ConfigError                 the config file is missing, unreadable or invalid
    │   └── MissingEnvVarError      a secret's environment variable is not set
    ├── SourceNotFoundError         a source name given on the command line is not in the config
    ├── WatchNotFoundError          a watch named on the command line is not in the config
    ├── RecordNotFoundError         an item or tender asked for by id is not in the store
    ├── SearchQueryError            a search query cannot be read (unbalanced quotes, ...)
    ├── StoreError                  the SQLite database cannot be opened or written
    │   └── StoreConflictError      a record kept changing while it was being stored
    ├── EvidenceError               a capture cannot be stored, or is missing or altered
    ├── BackupError                 a backup cannot be written, or an archive restored
    ├── CrawlError                  the crawler process could not be started or died
    └── DeliveryError               a digest could not be handed to the SMTP server

The CLI turns each into a one-line message and an exit code (`exit_code`). Messages name the
input (file, key, URL), the problem and the offending value.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class. Raised for every expected failure, from any stage."""

    exit_code = 1


class ConfigError(MonitorError):
    """Raised when the config file is missing, unreadable or invalid, from `monitor.config`."""

    exit_code = 2


class MissingEnvVarError(ConfigError):
    """Raised when an environment variable named in the config is unset, from `monitor.mail`."""


class SourceNotFoundError(MonitorError):
    """Raised when a source named by the user is not in the config, from `monitor.config`."""

    exit_code = 2


class WatchNotFoundError(MonitorError):
    """Raised when a watch named by the user (`monitor explain --watch`) is not in the config,
    from `monitor.explain`."""

    exit_code = 2


class RecordNotFoundError(MonitorError):
    """Raised when an item or tender asked for by its id or number is not in the store, from
    `monitor.explain`."""


class SearchQueryError(MonitorError):
    """Raised when a search query or filter cannot be read (unbalanced quotes or parentheses,
    an operator with nothing after it, nothing to search for), from `monitor.search` and
    `Store.search`."""

    exit_code = 2


class StoreError(MonitorError):
    """Raised when the database cannot be opened, migrated or written, from `monitor.store`."""


class StoreConflictError(StoreError):
    """Raised when a record kept changing in the database while it was being stored."""


class EvidenceError(MonitorError):
    """Raised when a capture cannot be stored, or a stored one is missing or altered, from
    `monitor.evidence`."""


class BackupError(MonitorError):
    """Raised when a backup cannot be written or an archive cannot be restored, from
    `monitor.backup`."""


class CrawlError(MonitorError):
    """Raised when the crawler child process cannot run at all, from `monitor.crawl`."""


class DeliveryError(MonitorError):
    """Raised when queued digests could not be sent (they stay queued), from `monitor.mail`."""


class WebError(MonitorError):
    """Raised when `monitor web` cannot start or its users file is wrong, from `monitor.web`."""

    exit_code = 2
