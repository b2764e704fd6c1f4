"""All storage: items and their versions, matches, runs, the digest outbox, tenders with
their versions and events, and where portal spiders stopped reading, in `<state>/monitor.db`.

    db.py            the connection: WAL, BEGIN IMMEDIATE transactions, rows
    migrations.py    the schema as named migrations, in order
    runs.py          source runs (status, counts, errors, warnings)
    items.py         articles, versions, matches
    tenders.py       tenders, versions, events, tender matches
    portal_state.py  portal cursors
    outbox.py        digests, deliveries, the outbox and its claims

`Store` is all of them over one connection: open it once per process (`with Store(state)`)
and hand it to whoever needs it.
"""

from __future__ import annotations

from monitor.store.db import DB_NAME, utcnow
from monitor.store.items import ItemStore
from monitor.store.outbox import MAX_SEND_ATTEMPTS, OutboxStore
from monitor.store.portal_state import PortalStateStore
from monitor.store.runs import RunStore
from monitor.store.tenders import TenderStore

__all__ = ["DB_NAME", "MAX_SEND_ATTEMPTS", "Store", "utcnow"]


class Store(RunStore, ItemStore, TenderStore, PortalStateStore, OutboxStore):
    """The database of one state directory. Open it, use it, `close()` it (or `with`)."""
