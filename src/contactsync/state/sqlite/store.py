"""contactsync's state: one SQLite file (WAL mode) behind the narrow ``StateStore`` API.

Open it with ``StateStore.open(path)``: the file is created with mode 0600, the
schema is created or upgraded (see ``state_schema``), foreign keys are enforced
and concurrent access waits ``busy_timeout`` instead of failing. Each method is
atomic on its own; group several with ``with store.transaction(): ...`` (which is
also how to make staging thousands of records fast: one commit per batch).

The store is safe to share between the threads of one process, and two
processes may open the same file; ``acquire_lease`` keeps two schedulers apart.
No SQL leaves this package: callers see the value types of ``state_types``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog
from sqlite_utils import Database

from contactsync.adapters.registry import SYSTEMS
from contactsync.model.time import utc_now
from contactsync.state.sqlite.database import Clock, from_iso, to_iso
from contactsync.state.sqlite.duplicates import DuplicatesMixin
from contactsync.state.sqlite.file_check import check_existing, check_opened
from contactsync.state.sqlite.outbox import OutboxMixin
from contactsync.state.sqlite.persons import PersonsMixin, new_person_id
from contactsync.state.sqlite.review import ReviewMixin
from contactsync.state.sqlite.runs import RunsMixin
from contactsync.state.sqlite.scans import RecordScansMixin
from contactsync.state.sqlite.schema import TABLES, migrate
from contactsync.state.sqlite.value_problems import ValueProblemsMixin
from contactsync.state.types import (
    DEFAULT_STREAM,
    FieldRefusal,
    LeaseHolder,
    OutboxEntry,
    OutboxStatus,
    Person,
    PersonEvent,
    PersonEventKind,
    QuarantineEntry,
    RecordChange,
    RecordGlance,
    ReviewItem,
    ReviewStatus,
    RunKind,
    RunRecord,
    RunStatus,
    StateError,
    StatusReport,
    StoredRecord,
    StoredValueProblem,
    SystemStatus,
    UnholdableEntry,
    ValueProblem,
    raw_hash,
)

__all__ = [
    "DEFAULT_STREAM",
    "TABLES",
    "FieldRefusal",
    "LeaseHolder",
    "OutboxEntry",
    "OutboxStatus",
    "Person",
    "PersonEvent",
    "PersonEventKind",
    "QuarantineEntry",
    "RecordChange",
    "RecordGlance",
    "ReviewItem",
    "ReviewStatus",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "StateError",
    "StateStore",
    "StatusReport",
    "StoredRecord",
    "StoredValueProblem",
    "SystemStatus",
    "UnholdableEntry",
    "ValueProblem",
    "default_lease_holder",
    "new_person_id",
    "raw_hash",
]

FILE_MODE = 0o600
DEFAULT_BUSY_TIMEOUT = timedelta(seconds=10)


log = structlog.get_logger(__name__)


def default_lease_holder() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _set_aside_orphans(path: Path, *, older_than: float) -> None:
    """Move aside a ``-wal``/``-shm`` left by a state file that was deleted without them.

    SQLite would replay such a log into the new database and damage it (pages of the
    old file in the new one). They are kept (``.orphaned-<time>``), never deleted: the
    log may hold the old state's last commits. Only files older than this new state's
    draft are touched, so a process that published a state a moment ago keeps its log.
    """
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        try:
            if path.exists() or sidecar.stat().st_mtime >= older_than:
                continue
        except FileNotFoundError:
            continue
        aside = sidecar.with_name(f"{sidecar.name}.orphaned-{int(older_than)}")
        with contextlib.suppress(FileNotFoundError):
            sidecar.rename(aside)
            log.warning("state_orphan_set_aside", path=str(sidecar), kept_as=str(aside))


def _publish_new_state(path: Path) -> None:
    """Build a new, migrated state beside ``path`` and put it in place in one step.

    A state created in place is a zero-byte file for a moment; another contactsync
    process opening it then (two one-shot commands started together) would rightly
    refuse it as empty. Linking a finished file into place is atomic: the loser of a
    race finds the winner's complete state and uses it.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    draft = path.with_name(f".{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    started = time.time()
    try:
        os.close(os.open(draft, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE))
        conn = sqlite3.connect(draft, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            migrate(Database(conn))
            conn.execute("COMMIT")
        finally:
            conn.close()  # a file of its own: no other connection's locks are dropped
        _set_aside_orphans(path, older_than=started)
        # FileExistsError: another process published its state first; that one is used
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"{path}: cannot create the state database: {exc}") from exc
    finally:
        for suffix in ("", "-wal", "-shm"):
            draft.with_name(draft.name + suffix).unlink(missing_ok=True)


def _restrict(path: Path) -> None:
    """chmod 0600 if we own the file; a file we cannot chmod is left as it is."""
    try:
        if (path.stat().st_mode & 0o777) != FILE_MODE:
            path.chmod(FILE_MODE)
    except OSError:
        pass


class StateStore(
    OutboxMixin,
    RunsMixin,
    PersonsMixin,
    ReviewMixin,
    RecordScansMixin,
    ValueProblemsMixin,
    DuplicatesMixin,
):
    """Every piece of state contactsync keeps, behind typed methods.

    Method groups (see the mixins for each one's contract): watermarks,
    records / crosswalk, pushed hashes and quarantine (``state_records``);
    persons, merges, splits and unholdable persons (``state_persons``); the review
    queue (``state_review``); duplicate records (``state_duplicates``); outbox
    (``state_outbox``); runs (``state_runs``); lease and status (here).
    """

    def __init__(self, db: Database, path: Path, clock: Clock) -> None:
        super().__init__(db, clock)
        self.path = path

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT,
        clock: Clock = utc_now,
    ) -> Self:
        """Open (creating if needed, mode 0600) and migrate the state database.

        Only a missing file is a new state: an existing one that is empty, unreadable,
        damaged or not contactsync's is refused (``state_file``)."""
        path = Path(path)
        if not path.exists():
            _publish_new_state(path)
        check_existing(path)
        try:
            _restrict(path)
            conn = sqlite3.connect(
                path,
                timeout=busy_timeout.total_seconds(),
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"{path}: cannot open the state database: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout.total_seconds() * 1000)}")
            check_opened(conn, path)
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StateError(f"{path}: SQLite refused WAL mode (journal mode is {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            store = cls(Database(conn), path, clock)
            with store.transaction():
                migrate(store._db)
        except sqlite3.Error as exc:
            conn.close()
            raise StateError(f"{path}: not a usable state database: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        for suffix in ("-wal", "-shm"):
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                _restrict(sidecar)
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- lease -----------------------------------------------------------------------

    def acquire_lease(
        self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None
    ) -> bool:
        """Take the lease if it is free, expired, or already ours (then it is extended).

        One SQL statement does the check and the take, so two processes racing
        for it cannot both win.
        """
        if ttl <= timedelta(0):
            raise StateError(f"lease {name!r}: ttl must be positive, got {ttl}")
        at = self._now(now)
        return bool(
            self._write(
                """
                INSERT INTO lease (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET
                    acquired_at = CASE WHEN lease.holder = excluded.holder
                                       THEN lease.acquired_at ELSE excluded.acquired_at END,
                    holder = excluded.holder, expires_at = excluded.expires_at
                WHERE lease.holder = excluded.holder OR lease.expires_at <= excluded.acquired_at
                """,
                (name, holder, to_iso(at), to_iso(at + ttl)),
            )
        )

    def renew_lease(
        self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None
    ) -> bool:
        """Push our lease's expiry to now + ttl; False if someone else holds it."""
        at = self._now(now)
        return bool(
            self._write(
                "UPDATE lease SET expires_at = ? WHERE name = ? AND holder = ?",
                (to_iso(at + ttl), name, holder),
            )
        )

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up; False if it was not ours."""
        return bool(self._write("DELETE FROM lease WHERE name = ? AND holder = ?", (name, holder)))

    def lease_holder(self, name: str, *, now: datetime | None = None) -> LeaseHolder | None:
        """Who holds the lease until when, or None if it is free or expired."""
        row = self._one(
            "SELECT holder, expires_at FROM lease WHERE name = ? AND expires_at > ?",
            (name, to_iso(self._now(now))),
        )
        return None if row is None else LeaseHolder(row["holder"], from_iso(row["expires_at"]))

    # --- runs that died ---------------------------------------------------------------

    def close_interrupted_runs(self, current_run_id: str) -> list[str]:
        """Close as ``interrupted`` every run but ``current_run_id`` still marked
        ``running``, and return their ids. Only the lease holder starts runs that write,
        one at a time (``plan`` works on a copy), so such a run's process died."""
        with self.transaction():
            rows = self._all(
                "SELECT run_id FROM runs WHERE status = 'running' AND run_id != ?",
                (current_run_id,),
            )
            self._write(
                "UPDATE runs SET status = 'interrupted', finished_at = ? "
                "WHERE status = 'running' AND run_id != ?",
                (to_iso(self._now()), current_run_id),
            )
        return [str(row["run_id"]) for row in rows]

    # --- status ----------------------------------------------------------------------

    def status_counts(self) -> StatusReport:
        """Per-system counts, last run and watermarks; persons and open reviews."""
        with self._snapshot():
            records = self._all(
                "SELECT system, COUNT(*) AS total, COUNT(deleted_at) AS deleted "
                "FROM records GROUP BY system"
            )
            quarantined = self._all("SELECT system, COUNT(*) AS n FROM quarantine GROUP BY system")
            outbox = self._all(
                "SELECT system, status, COUNT(*) AS n FROM outbox "
                "WHERE status IN ('pending', 'failed') GROUP BY system, status"
            )
            marks = self._all("SELECT DISTINCT system FROM watermarks")
            names = set(SYSTEMS)
            for rows in (records, quarantined, outbox, marks):
                names.update(row["system"] for row in rows)
            systems: dict[str, SystemStatus] = {}
            for system in sorted(names):
                total = next((r for r in records if r["system"] == system), None)
                by_status = {r["status"]: r["n"] for r in outbox if r["system"] == system}
                systems[system] = SystemStatus(
                    records=int(total["total"]) - int(total["deleted"]) if total else 0,
                    deleted=int(total["deleted"]) if total else 0,
                    quarantined=sum(int(r["n"]) for r in quarantined if r["system"] == system),
                    outbox_pending=int(by_status.get("pending", 0)),
                    outbox_failed=int(by_status.get("failed", 0)),
                    last_run=self.last_pass(system),
                    watermarks=self.watermarks(system),
                )
            persons = self._one(
                "SELECT COUNT(*) AS total, COUNT(merged_into) AS merged FROM persons"
            )
            review_open = self._scalar("SELECT COUNT(*) FROM review WHERE status = 'open'")
        assert persons is not None
        return StatusReport(
            systems=systems,
            persons_total=int(persons["total"]) - int(persons["merged"]),
            persons_merged=int(persons["merged"]),
            review_open=int(review_open or 0),
        )

    # --- matcher weights -------------------------------------------------------------

    def stored_match_weights(self) -> tuple[str, int] | None:
        """The matcher weights last fitted (as JSON text) and the record count they saw."""
        row = self._one("SELECT weights, record_count FROM match_weights WHERE id = 1")
        if row is None:
            return None
        return str(row["weights"]), int(row["record_count"])

    def store_match_weights(self, weights_json: str, record_count: int) -> None:
        """Keep newly fitted matcher weights (one row: a new fit replaces the old)."""
        self._write(
            "INSERT INTO match_weights (id, weights, record_count, fitted_at) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET weights = excluded.weights, "
            "record_count = excluded.record_count, fitted_at = excluded.fitted_at",
            (weights_json, record_count, self._now().isoformat()),
        )
