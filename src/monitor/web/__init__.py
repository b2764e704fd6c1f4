"""`monitor web`: the investigator's workbench over the same state the daemon writes.

    app.py        the application: routes, sessions, login, CSRF, security headers
    users.py      users (argon2id hashes, roles) and the session secret, under <state>/web/
    render.py     HTML pages, their JSON twins, CSV
    auth.py       logging in and out
    inbox.py      the findings inbox: filters, counts per watch, pages, exports
    findings.py   an article, a tender, an organisation; raw captures and WARC downloads
    triage.py     relevant / not relevant / follow-up, mutes and exclusions, the audit log
    search.py     full-text search over everything stored; "watch this query"
    sources.py    the sources' health and runs; test-source
    feeds.py      Atom feeds per watch or saved search, behind revocable tokens
"""

from __future__ import annotations

from monitor.web.app import check_can_serve, create_app

__all__ = ["check_can_serve", "create_app"]
