"""All storage: items and their versions, matches, runs, the outbox (digests and alerts),
tenders with their versions and events, and where portal spiders stopped reading.

    interface.py     `Store`: what the rest of monitor may ask of a store (a Protocol)
    rows.py          the typed rows it answers with
    db.py            SQLite: the connection, WAL, BEGIN IMMEDIATE transactions
    migrations.py    SQLite: the schema as named migrations, in order
    runs.py          SQLite: source runs (status, counts, errors, warnings)
    items.py         SQLite: articles, versions, matches
    tenders.py       SQLite: tenders, versions, events, tender matches
    portal_state.py  SQLite: portal cursors
    outbox.py        SQLite: digests, deliveries, the outbox and its claims
    alerts.py        SQLite: immediate alerts, what each recipient was alerted of
    search.py        SQLite: the full-text index (FTS5) of items and tenders, and search
    inbox.py         SQLite: what `monitor web` lists: findings newest first, versions
    triage.py        SQLite: what people said of findings, the audit log, feed tokens
    flags.py         SQLite: red flags on tender versions, and what their rules compare with
    furniture.py     SQLite: each source's site furniture, learnt from its articles

`open_store(state_dir)` opens `<state>/monitor.db`: once per process (`with open_store(...)`),
handed to whoever needs it.
"""

from __future__ import annotations

from pathlib import Path

from monitor.store.alerts import AlertStore
from monitor.store.db import DB_NAME, utcnow
from monitor.store.flags import FlagStore
from monitor.store.furniture import FurnitureStore
from monitor.store.inbox import InboxFilter, InboxStore
from monitor.store.interface import Store
from monitor.store.items import ItemStore
from monitor.store.outbox import MAX_SEND_ATTEMPTS
from monitor.store.portal_state import PortalStateStore
from monitor.store.runs import RunStore
from monitor.store.search import SearchStore
from monitor.store.tenders import TenderStore
from monitor.store.triage import TRIAGE_STATES, TriageStore

__all__ = ["DB_NAME", "MAX_SEND_ATTEMPTS", "TRIAGE_STATES", "InboxFilter", "SQLiteStore", "Store",
           "open_store", "utcnow"]


class SQLiteStore(RunStore, ItemStore, TenderStore, PortalStateStore, AlertStore, InboxStore,
                  TriageStore, SearchStore, FlagStore, FurnitureStore):
    """The `Store` of one state directory in SQLite (`<state>/monitor.db`)."""


def open_store(state_dir: str | Path) -> SQLiteStore:
    """The store of a state directory, created and migrated as needed."""
    return SQLiteStore(state_dir)
