"""The versioned schema of the state database (sqlite-utils migrations).

Add a change as a new ``@MIGRATIONS()`` function at the end; never edit one that
has shipped. Every time column is ISO-8601 UTC text (see ``state_core``), every
JSON column canonical JSON text.

Tables
------
``watermarks``
    How far change detection got, per system and stream: ``stream`` is
    ``default`` for most systems; Xurrent keeps ``people`` and
    ``org_contacts:<organization id>``.
``persons``
    One row per person: the golden record (canonical contact JSON), its
    provenance (field -> which system said it, when) and, once absorbed by a
    merge, ``merged_into`` (the survivor). Rows are never deleted.
``records``
    Each system's record as last staged: its content hash, the canonical contact
    (``payload``), optionally the raw source record, when contactsync saw it,
    the source's own last-changed time and, if it disappeared, ``deleted_at``.
    ``(system, external_id) -> person_id`` is the crosswalk. ``unplanned`` is 1
    from the moment a changed (or vanished) record is staged until the plan that
    takes it into account is in the outbox: a run killed in between finds it
    again, even though its hash no longer differs. ``source_payload`` is the
    record as its own users last left it (what survivorship merges), with
    ``updated_at`` and ``seen_at`` of that content; contactsync's own writes change
    ``payload`` and ``hash`` only, so they never feed back into the golden
    record. NULL for a record contactsync created and nobody has changed since.
    ``raw_digest`` is ``"<digest of the raw record and the mapping>:<hash>"`` for
    the raw record whose mapping gave ``hash``: an extract of the same raw record
    under the same mapping is then known unchanged without mapping it again.
``pushed``
    The hash contactsync last wrote to each record, so reading back its own
    write is recognised as an echo.
``runs``
    One row per backfill / sync / plan run, its systems (JSON list, NULL for
    all), status and summary (a ``RunSummary`` as JSON).
``outbox``
    Durable planned writes. ``action_key`` (``models.Action.key``) is unique, so
    planning the same action twice never queues it twice. Status moves
    pending -> in_flight -> done | failed | skipped.
``quarantine``
    Records that failed validation, with the reason and the raw record; the raw
    record's hash recognises a re-extract of the same bad record. A row goes
    away when the record later stages cleanly.
``review``
    Uncertain matches between two records waiting for a human: the pair is
    stored in sorted order and at most one open review exists per pair. An item
    whose question went away (both records now one person, or one of them gone) is
    ``closed`` by contactsync with a ``note`` saying why.
``person_events``
    The history of identity: a person created, two merged, a record split off.
``lease``
    A named lease with an expiry so that two schedulers never run at once.
``unholdable``
    A person a system cannot hold (Grow CRM needs an email, for instance),
    recorded once so it is reported once and not retried every run.
``value_problems``
    Values staging left out of a record (invalid) or moved to the right field,
    per record and field; replaced whenever the record is mapped again.
``field_refusals``
    Values a target refused for one field; left out of later writes there.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from contactsync.state.sqlite.duplicates import create_duplicates_table

MIGRATIONS = Migrations("contactsync.state.sqlite.store")

TABLES: tuple[str, ...] = (
    "watermarks",
    "persons",
    "records",
    "pushed",
    "runs",
    "outbox",
    "quarantine",
    "review",
    "person_events",
    "lease",
    "unholdable",
    "value_problems",
    "field_refusals",
)

_INITIAL = (
    """
    CREATE TABLE watermarks (
        system TEXT NOT NULL,
        stream TEXT NOT NULL DEFAULT 'default',
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (system, stream)
    )
    """,
    """
    CREATE TABLE persons (
        person_id TEXT PRIMARY KEY,
        golden TEXT NOT NULL DEFAULT '{}',
        provenance TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        merged_into TEXT REFERENCES persons (person_id)
    )
    """,
    """
    CREATE TABLE records (
        system TEXT NOT NULL,
        external_id TEXT NOT NULL,
        person_id TEXT REFERENCES persons (person_id),
        hash TEXT NOT NULL,
        payload TEXT NOT NULL,
        raw TEXT,
        seen_at TEXT NOT NULL,
        updated_at TEXT,
        deleted_at TEXT,
        PRIMARY KEY (system, external_id)
    )
    """,
    "CREATE INDEX records_person_id ON records (person_id)",
    """
    CREATE TABLE pushed (
        system TEXT NOT NULL,
        external_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        pushed_at TEXT NOT NULL,
        PRIMARY KEY (system, external_id)
    )
    """,
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('backfill', 'sync', 'plan')),
        systems TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed')),
        summary TEXT
    )
    """,
    "CREATE INDEX runs_started_at ON runs (started_at)",
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        action_key TEXT NOT NULL UNIQUE,
        system TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
        person_id TEXT NOT NULL REFERENCES persons (person_id),
        external_id TEXT,
        payload TEXT NOT NULL,
        changes TEXT NOT NULL,
        allow_duplicates INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'in_flight', 'done', 'failed', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX outbox_system_status ON outbox (system, status)",
    "CREATE INDEX outbox_person_id ON outbox (person_id)",
    """
    CREATE TABLE quarantine (
        system TEXT NOT NULL,
        external_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT,
        raw_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (system, external_id)
    )
    """,
    """
    CREATE TABLE review (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        left_system TEXT NOT NULL,
        left_id TEXT NOT NULL,
        right_system TEXT NOT NULL,
        right_id TEXT NOT NULL,
        score REAL NOT NULL,
        evidence TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'open'
            CHECK (status IN ('open', 'merged', 'split', 'dismissed')),
        created_at TEXT NOT NULL,
        decided_at TEXT,
        CHECK ((left_system, left_id) < (right_system, right_id))
    )
    """,
    """
    CREATE UNIQUE INDEX review_open_pair
        ON review (left_system, left_id, right_system, right_id) WHERE status = 'open'
    """,
    "CREATE INDEX review_pair ON review (left_system, left_id, right_system, right_id)",
    """
    CREATE TABLE person_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('create', 'merge', 'split')),
        person_id TEXT NOT NULL REFERENCES persons (person_id),
        other_person_id TEXT REFERENCES persons (person_id),
        at TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX person_events_person_id ON person_events (person_id)",
    """
    CREATE TABLE lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE unholdable (
        system TEXT NOT NULL,
        person_id TEXT NOT NULL REFERENCES persons (person_id),
        reason TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (system, person_id)
    )
    """,
)


@MIGRATIONS(name="0001_initial")
def _initial(db: Database) -> None:
    for statement in _INITIAL:
        db.execute(statement)


@MIGRATIONS(name="0002_records_unplanned_and_source")
def _records_unplanned_and_source(db: Database) -> None:
    db.execute("ALTER TABLE records ADD COLUMN unplanned INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX records_unplanned ON records (unplanned) WHERE unplanned = 1")
    db.execute("ALTER TABLE records ADD COLUMN source_payload TEXT")
    db.execute("UPDATE records SET source_payload = payload")


@MIGRATIONS(name="0003_records_raw_digest_and_run_indexes")
def _records_raw_digest_and_run_indexes(db: Database) -> None:
    """The raw digest, and indexes so that a run's bookkeeping never reads every row:
    a system's live ids and counts (records), the persons count, open actions by
    status, and a record's earlier actions (outbox)."""
    db.execute("ALTER TABLE records ADD COLUMN raw_digest TEXT")
    db.execute("CREATE INDEX records_system_live ON records (system, deleted_at, external_id)")
    db.execute("CREATE INDEX persons_merged_into ON persons (merged_into)")
    db.execute("CREATE INDEX outbox_status ON outbox (status)")
    db.execute("CREATE INDEX outbox_record ON outbox (system, external_id)")


@MIGRATIONS(name="0004_unholdable_by_person")
def _unholdable_by_person(db: Database) -> None:
    """A person's unholdable notes without reading everyone's (a sync of a few edits)."""
    db.execute("CREATE INDEX unholdable_person ON unholdable (person_id)")


@MIGRATIONS(name="0005_field_times")
def _field_times(db: Database) -> None:
    """``records.field_times``: per field key, when it last changed in that record and
    how that time is known (see :mod:`contactsync.model.field_changes`). NULL for a record
    stored before: its times are derived from ``source_payload`` when next needed."""
    db.execute("ALTER TABLE records ADD COLUMN field_times TEXT")


@MIGRATIONS(name="0006_value_problems")
def _value_problems(db: Database) -> None:
    """``value_problems``: values staging left out of a record (or moved to the right
    field), per record and field, with the value shortened and why; replaced each time
    the record is mapped, so a value that changed or became valid drops out.
    ``field_refusals``: values a target refused for one field (a 422 naming it); the
    write was sent again without it, and the value is left out of later writes there."""
    db.execute(
        """
        CREATE TABLE value_problems (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            system TEXT NOT NULL,
            external_id TEXT NOT NULL,
            field TEXT NOT NULL,
            value TEXT,
            reason TEXT NOT NULL,
            moved_to TEXT,
            seen_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX value_problems_record ON value_problems (system, external_id)")
    db.execute(
        """
        CREATE TABLE field_refusals (
            system TEXT NOT NULL,
            field TEXT NOT NULL,
            value_digest TEXT NOT NULL,
            value TEXT,
            external_id TEXT,
            person_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            refused_at TEXT NOT NULL,
            PRIMARY KEY (system, field, value_digest)
        )
        """
    )


@MIGRATIONS(name="0007_runs_interrupted")
def _runs_interrupted(db: Database) -> None:
    """``runs.status`` may be ``interrupted``: a run a later one finds still
    ``running`` (its process died) is closed so. SQLite cannot change a CHECK
    constraint in place, so the table is rebuilt (nothing refers to it)."""
    db.execute(
        """
        CREATE TABLE runs_rebuilt (
            run_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('backfill', 'sync', 'plan')),
            systems TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
            summary TEXT
        )
        """
    )
    db.execute(
        "INSERT INTO runs_rebuilt (run_id, kind, systems, started_at, finished_at, status, "
        "summary) SELECT run_id, kind, systems, started_at, finished_at, status, summary "
        "FROM runs"
    )
    db.execute("DROP TABLE runs")
    db.execute("ALTER TABLE runs_rebuilt RENAME TO runs")
    db.execute("CREATE INDEX runs_started_at ON runs (started_at)")


@MIGRATIONS(name="0008_match_weights")
def _match_weights(db: Database) -> None:
    """``match_weights``: the matcher's weights fitted on the stored records (one row),
    with the record count they were fitted on; refitted once the records have grown
    (see :mod:`contactsync.matching.stored_weights`)."""
    db.execute(
        """
        CREATE TABLE match_weights (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            weights TEXT NOT NULL,
            record_count INTEGER NOT NULL,
            fitted_at TEXT NOT NULL
        )
        """
    )


@MIGRATIONS(name="0009_review_closed")
def _review_closed(db: Database) -> None:
    """``review.status`` may be ``closed`` (by contactsync: the question went away) and
    ``review.note`` says why. The CHECK constraint cannot change in place: rebuilt."""
    db.execute(
        """
        CREATE TABLE review_rebuilt (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            left_system TEXT NOT NULL,
            left_id TEXT NOT NULL,
            right_system TEXT NOT NULL,
            right_id TEXT NOT NULL,
            score REAL NOT NULL,
            evidence TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'merged', 'split', 'dismissed', 'closed')),
            created_at TEXT NOT NULL,
            decided_at TEXT,
            note TEXT,
            CHECK ((left_system, left_id) < (right_system, right_id))
        )
        """
    )
    db.execute(
        "INSERT INTO review_rebuilt (id, left_system, left_id, right_system, right_id, score, "
        "evidence, status, created_at, decided_at) SELECT id, left_system, left_id, "
        "right_system, right_id, score, evidence, status, created_at, decided_at FROM review"
    )
    db.execute("DROP TABLE review")
    db.execute("ALTER TABLE review_rebuilt RENAME TO review")
    db.execute(
        "CREATE UNIQUE INDEX review_open_pair ON review "
        "(left_system, left_id, right_system, right_id) WHERE status = 'open'"
    )
    db.execute("CREATE INDEX review_pair ON review (left_system, left_id, right_system, right_id)")


MIGRATIONS(name="0010_duplicates")(create_duplicates_table)  # the table is documented there


def migrate(db: Database) -> None:
    """Apply pending migrations; the caller holds a write transaction."""
    MIGRATIONS.apply(db)
