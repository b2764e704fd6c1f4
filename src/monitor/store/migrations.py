"""The schema as named migrations, applied in this order when the store opens (sqlite-utils
records which ran). Each adds; none rewrites what an earlier one made, so a database of any
age opens."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("monitor")


@migrations(name="001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            published_at TEXT,
            language TEXT,
            content_hash TEXT NOT NULL,
            raw_hash TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            first_run_id INTEGER,
            UNIQUE (source, key)
        );
        CREATE INDEX items_source_url ON items (source, url);
        CREATE TABLE item_versions (
            item_id INTEGER NOT NULL REFERENCES items (id),
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            published_at TEXT,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (item_id, version)
        );
        CREATE TABLE matches (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items (id),
            watch TEXT NOT NULL,
            term TEXT NOT NULL,
            term_kind TEXT NOT NULL,
            field TEXT NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            found TEXT NOT NULL,
            snippet TEXT NOT NULL,
            snippet_start INTEGER NOT NULL,
            snippet_end INTEGER NOT NULL,
            run_id INTEGER,
            matched_at TEXT NOT NULL,
            UNIQUE (item_id, watch, field, term, found)
        );
        CREATE INDEX matches_watch ON matches (watch, matched_at);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            seconds REAL,
            fetched INTEGER NOT NULL DEFAULT 0,
            new_items INTEGER NOT NULL DEFAULT 0,
            changed_items INTEGER NOT NULL DEFAULT 0,
            new_matches INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            pid INTEGER
        );
        CREATE INDEX runs_source_started ON runs (source, started_at);
        CREATE INDEX runs_finished ON runs (finished_at);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            message BLOB NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            next_attempt_at TEXT,
            last_error TEXT,
            sent_at TEXT,
            sent_via TEXT,
            eml_path TEXT,
            html_path TEXT,
            findings INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX outbox_status ON outbox (status);
        CREATE TABLE deliveries (
            match_id INTEGER NOT NULL REFERENCES matches (id),
            recipient TEXT NOT NULL,
            outbox_id INTEGER NOT NULL REFERENCES outbox (id),
            PRIMARY KEY (match_id, recipient)
        );
        CREATE TABLE digests (
            recipient TEXT PRIMARY KEY,
            last_digest_at TEXT NOT NULL
        );
        """
    )


@migrations(name="002_outbox_claims")
def _outbox_claims(db: sqlite_utils.Database) -> None:
    # a sender claims a message (status 'sending') before talking to the SMTP server, so two
    # processes delivering at once never send the same digest twice
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_at TEXT")


@migrations(name="003_run_items_and_health_reports")
def _run_items_and_health_reports(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- items a run saw, new or not: a run that sees none where earlier runs saw some is
        -- how a changed site layout shows (health: suspect)
        ALTER TABLE runs ADD COLUMN items INTEGER NOT NULL DEFAULT 0;
        -- what each recipient was last told about each source's health, so a failing
        -- source is named once (and again weekly), and its recovery once
        CREATE TABLE health_reports (
            recipient TEXT NOT NULL,
            source TEXT NOT NULL,
            health TEXT NOT NULL,
            reported_at TEXT NOT NULL,
            PRIMARY KEY (recipient, source)
        );
        """
    )


@migrations(name="004_match_variant_via")
def _match_variant_via(db: sqlite_utils.Database) -> None:
    # a match from a generated transliteration records it; a match through a related
    # organisation (parent, subsidiary, distributor) records which
    db.execute("ALTER TABLE matches ADD COLUMN variant TEXT")
    db.execute("ALTER TABLE matches ADD COLUMN via TEXT")


@migrations(name="005_match_origin")
def _match_origin(db: sqlite_utils.Database) -> None:
    # 'crawl' or 'rematch': a match found by re-matching stored items is old news
    db.execute("ALTER TABLE matches ADD COLUMN origin TEXT NOT NULL DEFAULT 'crawl'")


@migrations(name="010_tenders")
def _tenders(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- procurement records from portal spiders: the current version's fields as JSON
        -- (`record`), with the ones worth querying as columns
        CREATE TABLE tenders (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT '',
            buyer_name TEXT,
            buyer_id TEXT,
            value REAL,
            currency TEXT,
            published_at TEXT,
            deadline_at TEXT,
            -- the portal's last-modified stamp: an unchanged stamp skips the details
            modified_at TEXT,
            record TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            raw_hash TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            first_run_id INTEGER,
            UNIQUE (source, native_id)
        );
        CREATE TABLE tender_versions (
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            record TEXT NOT NULL,
            run_id INTEGER,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (tender_id, version)
        );
        -- what changed between a version and the one before, field by field; old and new
        -- are JSON values
        CREATE TABLE tender_events (
            id INTEGER PRIMARY KEY,
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            field TEXT NOT NULL,
            old TEXT,
            new TEXT,
            run_id INTEGER,
            seen_at TEXT NOT NULL
        );
        CREATE INDEX tender_events_tender ON tender_events (tender_id, version);
        CREATE INDEX tender_events_seen ON tender_events (seen_at);
        -- where each portal source's feed reading stopped; `url` is the API base the cursor
        -- belongs to, `state` spider-specific extras as JSON
        CREATE TABLE portal_cursors (
            source TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            cursor TEXT,
            state TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        );
        """
    )


@migrations(name="011_tender_matches")
def _tender_matches(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- watches found in a tender: `field` is the role (winner / bidder / buyer) or the
        -- text (title / body); `version` the tender's version when first found; origin
        -- 'crawl', 'baseline' (a portal source's first run: stored, not news) or 'rematch'
        CREATE TABLE tender_matches (
            id INTEGER PRIMARY KEY,
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            watch TEXT NOT NULL,
            term TEXT NOT NULL,
            term_kind TEXT NOT NULL,
            field TEXT NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            found TEXT NOT NULL,
            snippet TEXT NOT NULL,
            snippet_start INTEGER NOT NULL,
            snippet_end INTEGER NOT NULL,
            variant TEXT,
            via TEXT,
            version INTEGER NOT NULL,
            run_id INTEGER,
            matched_at TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT 'crawl',
            UNIQUE (tender_id, watch, field, term, found)
        );
        CREATE INDEX tender_matches_watch ON tender_matches (watch, tender_id);
        -- how far each recipient has been told about a tender for a watch: the last match
        -- and the last event put in one of their digests
        CREATE TABLE tender_deliveries (
            recipient TEXT NOT NULL,
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            watch TEXT NOT NULL,
            match_id INTEGER NOT NULL DEFAULT 0,
            event_id INTEGER NOT NULL DEFAULT 0,
            outbox_id INTEGER NOT NULL REFERENCES outbox (id),
            PRIMARY KEY (recipient, tender_id, watch)
        );
        """
    )


@migrations(name="012_run_warnings")
def _run_warnings(db: sqlite_utils.Database) -> None:
    # what a run noticed without failing (a feed cut at max_items, text that looks
    # mis-decoded, a portal cursor restarted): a JSON list of sentences, NULL when none
    db.execute("ALTER TABLE runs ADD COLUMN warnings TEXT")


@migrations(name="013_run_backfill")
def _run_backfill(db: sqlite_utils.Database) -> None:
    # `monitor crawl SOURCE --since DATE`: the run reads old records on purpose, and the
    # digest that reports them says it is a backfill
    db.execute("ALTER TABLE runs ADD COLUMN backfill_since TEXT")


@migrations(name="014_revisits")
def _revisits(db: sqlite_utils.Database) -> None:
    # what a due revisit needs: the page's validators for a conditional request (a 304 when
    # unchanged) and the date its feed entry / sitemap URL was listed with when last fetched
    # (a later one makes it due at once); items.last_seen_at is when it was last fetched
    for column in ("etag", "last_modified", "listed_at"):
        db.execute(f"ALTER TABLE items ADD COLUMN {column} TEXT")
    # the run's cost: requests made, stored articles not due (not fetched), 304 answers
    for column in ("requests", "not_due", "not_modified"):
        db.execute(f"ALTER TABLE runs ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")


@migrations(name="015_captures")
def _captures(db: sqlite_utils.Database) -> None:
    # evidence: each response an item version was read from (the body itself is in
    # <state>/captures, named by its SHA-256); never updated, a new fetch is a new row
    db.executescript(
        """
        CREATE TABLE captures (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL,
            url TEXT NOT NULL,
            final_url TEXT NOT NULL,
            status INTEGER NOT NULL,
            headers TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            size INTEGER NOT NULL,
            item_id INTEGER REFERENCES items (id),
            version INTEGER,
            run_id INTEGER
        );
        CREATE INDEX captures_item ON captures (item_id, version);
        CREATE INDEX captures_sha256 ON captures (sha256);
        """
    )


@migrations(name="016_tender_captures")
def _tender_captures(db: sqlite_utils.Database) -> None:
    # a tender version points at every API response it was built from
    db.executescript(
        """
        ALTER TABLE captures ADD COLUMN tender_id INTEGER REFERENCES tenders (id);
        CREATE INDEX captures_tender ON captures (tender_id, version);
        """
    )


@migrations(name="017_removed_items")
def _removed_items(db: sqlite_utils.Database) -> None:
    # a stored article whose page was taken down (404/410, or a redirect to the front page)
    # on a revisit: when, and what the site answered; its captures are kept
    db.execute("ALTER TABLE items ADD COLUMN removed_at TEXT")
    db.execute("ALTER TABLE items ADD COLUMN removed_reason TEXT")


@migrations(name="018_search")
def _search(db: sqlite_utils.Database) -> None:
    # full text over every item and tender, matched or not (`monitor.store.search`): one
    # index per kind, rowid = the record's id, contentless (the text is in items and tenders
    # already); title and body as `monitor.search.index_text` makes them (CJK as bigrams),
    # meta the words for the source and language filters; filled here from what is stored,
    # then kept in step by the store's own writes
    for index in ("search_items", "search_tenders"):
        db.execute(f"CREATE VIRTUAL TABLE {index} USING fts5(title, body, meta, content='', "
                   "tokenize='unicode61 remove_diacritics 2')")
    # imported here: store.search builds on store.db, which imports this module
    from monitor.store.search import fill_index

    fill_index(db.conn)


@migrations(name="019_web")
def _web(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- what a person said of a finding in `monitor web`: its state now (one row per
        -- finding; `kind` article | tender, `ref_id` the item's or tender's id)
        CREATE TABLE triage (
            kind TEXT NOT NULL,
            ref_id INTEGER NOT NULL,
            state TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            user TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (kind, ref_id)
        );
        CREATE INDEX triage_state ON triage (state, kind);
        -- every triage action, mute, watch and feed token change, by whom and when; never
        -- updated or deleted
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        -- Atom feeds for feed readers: the token is the URL's secret; revoked ones answer 404
        CREATE TABLE feed_tokens (
            token TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            user TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        -- the inbox walks matches newest first, per watch too
        CREATE INDEX matches_watch_id ON matches (watch, id);
        -- findings per watch, counted off the index alone
        CREATE INDEX matches_watch_item ON matches (watch, item_id);
        CREATE INDEX tender_matches_watch_id ON tender_matches (watch, id);
        CREATE INDEX tender_matches_tender ON tender_matches (tender_id, id);
        -- a finding's copies at other sources ("also at"): the same text or headline
        CREATE INDEX items_content_hash ON items (content_hash);
        CREATE INDEX items_title ON items (title);
        """
    )


@migrations(name="020_furniture")
def _furniture(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- each source's site furniture as learnt from its articles (`monitor.furniture`): a
        -- block (a line or sentence of a body) by the hash of its normalised text, on how
        -- many distinct articles it was seen, the source's article numbers of the first and
        -- last of them, their days, on how many it was in the body's first or last line, and
        -- a sample of its text from its second article on; blocks seen once are forgotten
        -- after a month, all after a year unseen
        CREATE TABLE furniture_blocks (
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            pages INTEGER NOT NULL,
            first_page INTEGER NOT NULL,
            last_page INTEGER NOT NULL,
            first_day TEXT NOT NULL,
            last_day TEXT NOT NULL,
            chars INTEGER NOT NULL,
            edge_pages INTEGER NOT NULL,
            sample TEXT,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            PRIMARY KEY (source, key)
        ) WITHOUT ROWID;
        -- how many articles of each source furniture was learnt from
        CREATE TABLE furniture_sources (
            source TEXT PRIMARY KEY,
            pages INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


@migrations(name="021_flags")
def _flags(db: sqlite_utils.Database) -> None:
    # red flags (`monitor.flags`): every rule's verdict on every stored tender version, with
    # the values it read and the limits it compared them with (JSON), and the rule's version
    # (`monitor flags --recompute` redoes older ones)
    db.executescript(
        """
        CREATE TABLE tender_flags (
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            version INTEGER NOT NULL,
            rule TEXT NOT NULL,
            state TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            inputs TEXT NOT NULL DEFAULT '{}',
            thresholds TEXT NOT NULL DEFAULT '{}',
            rule_version INTEGER NOT NULL,
            relative INTEGER NOT NULL DEFAULT 0,
            computed_at TEXT NOT NULL,
            PRIMARY KEY (tender_id, version, rule)
        );
        CREATE INDEX tender_flags_rule ON tender_flags (rule, state);
        -- the relative rules' fences over a source's records, taken at most once a day
        CREATE TABLE flag_fences (
            source TEXT PRIMARY KEY,
            computed_at TEXT NOT NULL,
            fences TEXT NOT NULL
        );
        -- a buyer's other tenders (split purchases, repeated awards)
        CREATE INDEX tenders_buyer ON tenders (source, buyer_id);
        """
    )


@migrations(name="022_alerts")
def _alerts(db: sqlite_utils.Database) -> None:
    # immediate alerts (`monitor.alerts`) share the outbox with digests: each message to
    # each channel is its own row with its own retries. `kind` digest | alert; `channel`
    # email | notify:<URL without secrets> | env:<NAME of the variable holding the URL>
    db.executescript(
        """
        -- one immediate message to one recipient (on every channel of theirs): one finding,
        -- or several folded into one past `alert_limit`; `created_at` by the clock of the
        -- process that queued it, which the hourly limit counts with
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            recipient TEXT NOT NULL,
            created_at TEXT NOT NULL,
            subject TEXT NOT NULL,
            source TEXT,
            findings INTEGER NOT NULL DEFAULT 1,
            folded INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX alerts_recipient ON alerts (recipient, created_at);
        ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'digest';
        ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
        ALTER TABLE outbox ADD COLUMN alert_id INTEGER REFERENCES alerts (id);
        -- what each recipient was alerted of, as deliveries / tender_deliveries record what
        -- their digests told: a match is in one alert per recipient at most, and the next
        -- digest shows it as "already alerted"
        CREATE TABLE alerted_matches (
            match_id INTEGER NOT NULL REFERENCES matches (id),
            recipient TEXT NOT NULL,
            alert_id INTEGER NOT NULL REFERENCES alerts (id),
            PRIMARY KEY (match_id, recipient)
        );
        CREATE TABLE alerted_tenders (
            recipient TEXT NOT NULL,
            tender_id INTEGER NOT NULL REFERENCES tenders (id),
            watch TEXT NOT NULL,
            match_id INTEGER NOT NULL DEFAULT 0,
            event_id INTEGER NOT NULL DEFAULT 0,
            alert_id INTEGER NOT NULL REFERENCES alerts (id),
            PRIMARY KEY (recipient, tender_id, watch)
        );
        """
    )


@migrations(name="023_alerted_tenders_index")
def _alerted_tenders_index(db: sqlite_utils.Database) -> None:
    # the inbox says which findings an alert told of: tenders are looked up by id
    db.executescript(
        "CREATE INDEX alerted_tenders_tender ON alerted_tenders (tender_id);"
    )
