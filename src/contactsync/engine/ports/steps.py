"""One port per step of a run, and the run's own (see :mod:`contactsync.engine.ports`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from contactsync.engine.ports.shared import (
    CrosswalkState,
    OutboxWrites,
    PersonLookup,
    Transactions,
)
from contactsync.matching.stored_weights import WeightsStore
from contactsync.model.field_changes import FieldTimes
from contactsync.state.types import (
    DEFAULT_STREAM,
    FieldRefusal,
    OutboxEntry,
    Person,
    QuarantineEntry,
    RecordGlance,
    ReviewItem,
    RunKind,
    RunStatus,
    StatusReport,
    StoredRecord,
    UnholdableEntry,
    ValueProblem,
)


class StagingState(CrosswalkState, Protocol):
    """What extract and stage need: watermarks, the stored records and the quarantine."""

    def get_watermark(self, system: str, stream: str = DEFAULT_STREAM) -> datetime | None:
        """How far change detection for ``system``/``stream`` got (aware UTC), or None."""
        ...

    def changed_by_users_since_push(self, system: str, external_id: str) -> bool:
        """Whether a user's change to the record was staged after contactsync last wrote it
        (so content equal to that write is no echo of it)."""
        ...

    def is_same_quarantined(self, system: str, external_id: str, raw_hash: str) -> bool:
        """True when exactly this raw record (by hash) is already in quarantine."""
        ...

    def live_external_ids(self, system: str) -> set[str]:
        """The ids of a system's records not marked deleted (no payloads read)."""
        ...

    def pushed_hash(self, system: str, external_id: str) -> str | None: ...

    def quarantine(self, system: str, external_id: str, reason: str, raw: Any) -> QuarantineEntry:
        """Keep a record that failed validation, with why; re-quarantining updates it."""
        ...

    def refresh_raw(
        self, system: str, external_id: str, *, hash: str, raw: Any, raw_digest: str
    ) -> None:
        """Keep the raw record last seen (and its digest) of a record whose content, by
        ``hash``, did not change: the next update starts from it, the next extract of it is
        recognised without mapping."""
        ...

    def replace_value_problems(
        self, system: str, external_id: str, problems: Iterable[ValueProblem]
    ) -> None:
        """The record's problems are now ``problems`` (none: its earlier ones are cleared)."""
        ...

    def stage_glances(self, system: str, external_ids: Iterable[str]) -> dict[str, RecordGlance]:
        """external id -> what staging needs to know of a stored record, without its
        payloads: one query per batch of ids (a snapshot lists every record every run)."""
        ...

    def unplanned_keys(self) -> list[tuple[str, str]]:
        """(system, external id) of every record waiting for a plan (see
        :meth:`RecordsMixin.unplanned_records`), without reading the records."""
        ...


class LinkingState(Transactions, PersonLookup, WeightsStore, Protocol):
    """What matching, merging and planning need: persons, links, reviews, the matcher's weights."""

    def get_record(self, system: str, external_id: str) -> StoredRecord | None: ...

    @property
    def path(self) -> Path:
        """Where this state is kept (named in messages about it)."""
        ...

    def note_duplicate(
        self, system: str, external_id: str, person_id: str, survivor_id: str, policy: str
    ) -> bool:
        """Record ``external_id`` as a duplicate of ``survivor_id``; True only the first
        time (a later pass finding it again changes nothing, so it is reported once)."""
        ...

    def add_review(
        self,
        left_system: str,
        left_id: str,
        right_system: str,
        right_id: str,
        score: float,
        evidence: Mapping[str, Any] | None = None,
    ) -> ReviewItem:
        """Queue a possible match for a human, or return the review the pair already has."""
        ...

    def clear_unholdable(self, system: str, person_id: str) -> bool:
        """Forget the note (the person changed, e.g."""
        ...

    def create_person(
        self,
        golden: Mapping[str, Any] | BaseModel | None = None,
        provenance: Mapping[str, Any] | None = None,
        *,
        person_id: str | None = None,
    ) -> str:
        """Start a new person (a ``create`` event is recorded) and return its id."""
        ...

    def field_times_of_person(self, person_id: str) -> dict[tuple[str, str], FieldTimes]:
        """(system, external id) -> field times, for every record of the person."""
        ...

    def is_deleted_duplicate(self, system: str, external_id: str) -> bool: ...

    def is_unholdable(self, system: str, person_id: str) -> bool: ...

    def iter_linked_contacts(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        """(system, external id, person id, canonical payload) of every live record linked
        to a person, in pages: what the matcher's index is built from."""
        ...

    def iter_persons(self, *, include_merged: bool = False) -> Iterator[Person]:
        """Every person, oldest id first, read in pages."""
        ...

    def iter_records(
        self, system: str | None = None, *, include_deleted: bool = False
    ) -> Iterator[StoredRecord]:
        """Every staged record, read in pages of a few hundred (never all at once)."""
        ...

    def link(self, system: str, external_id: str, person_id: str) -> None:
        """Point an already staged record at a person (resolved through merges)."""
        ...

    def linked_names(self, systems: Iterable[str]) -> Iterator[tuple[str, str, str, str]]:
        """(system, person id, first name, last name) of every live linked record of
        ``systems``, read by SQLite from the stored payloads (no JSON parsed here)."""
        ...

    def linked_payload(
        self, system: str, external_id: str
    ) -> tuple[str | None, dict[str, Any]] | None:
        """(person id, canonical payload) of one stored record, or None if it is unknown:
        what matching needs of a staged record, without its raw and source copies."""
        ...

    def linked_unique_values(
        self, system: str, fields: Iterable[str]
    ) -> list[tuple[str, str, str]]:
        """(value, person id, external id) for each text value of the top-level ``fields``
        of the raw record of every live linked record of ``system`` (a list field gives each
        of its text items), in external id order: one query, read by SQLite."""
        ...

    def list_unholdable(self, system: str | None = None) -> list[UnholdableEntry]: ...

    def merge_persons(self, person_id: str, other_person_id: str) -> str:
        """Merge two persons; the older id (smaller) survives and is returned."""
        ...

    def records_for_person(
        self, person_id: str, *, include_deleted: bool = False
    ) -> list[StoredRecord]: ...

    def save_person(
        self, person_id: str, golden: Mapping[str, Any] | BaseModel, provenance: Mapping[str, Any]
    ) -> None:
        """Store a person's golden record and provenance (creating the row if new)."""
        ...

    def unholdable_count(self) -> int: ...

    def unholdable_systems(self, person_id: str) -> list[str]:
        """The systems noted as unable to hold ``person_id``."""
        ...


class LoadingState(StagingState, OutboxWrites, Protocol):
    """What the loader needs: the outbox's life cycle, refused fields and duplicate records.

    It holds staging's port too: a conditional write that finds the target changed
    since the plan re-stages that record instead of writing (engine.conditional)."""

    def allow_duplicates(self, keys: Iterable[str], run_id: str) -> int:
        """Send these actions queued by ``run_id`` with ``allow_duplicates``."""
        ...

    def clear_field_refusal(self, system: str, field: str, value_digest: str) -> None:
        """Forget a refusal: the person no longer has that value (it changed, or left)."""
        ...

    def duplicate_deleted(self, system: str, external_id: str) -> bool:
        """After the vendor deleted (or archived) a duplicate (see the module docstring)."""
        ...

    def fail(self, action_id: int, error: str) -> None:
        """Record a failed attempt (the error must not contain secrets)."""
        ...

    def get_action(self, action_id: int) -> OutboxEntry | None: ...

    def in_flight_actions(self, system: str | None = None) -> list[OutboxEntry]:
        """Actions started but never finished: after a crash, check before retrying."""
        ...

    def list_field_refusals(self, system: str | None = None) -> list[FieldRefusal]: ...

    def mark_in_flight(self, action_id: int) -> bool:
        """Claim a pending action (counts an attempt); False if it was not pending."""
        ...

    def pending_page(
        self, system: str, *, creates: bool, after_id: int, limit: int
    ) -> list[OutboxEntry]:
        """Up to ``limit`` pending creates (or other actions) of ``system`` queued after the
        action ``after_id``, in queue order: a loader reads its outbox a page at a time, not
        all of it at once."""
        ...

    def record_field_refusal(self, refusal: FieldRefusal) -> None:
        """Remember that ``refusal.system`` refused this value for this field."""
        ...

    def record_raw(self, system: str, external_id: str) -> Any:
        """The vendor record as last read or written (None if unknown), without parsing the
        rest of the stored record."""
        ...

    def release(self, action_id: int) -> bool:
        """Put a claimed action back to pending, its attempt uncounted: it was never sent
        (the system's circuit is open: :mod:`contactsync.http.circuit`)."""
        ...

    def requeue(self, action_id: int) -> bool:
        """Put a failed, skipped or stuck in-flight action back to pending."""
        ...

    def skip(self, action_id: int, reason: str) -> None:
        """Give up on an action on purpose (e.g."""
        ...


class EngineState(LoadingState, LinkingState, Protocol):
    """Everything one run needs: each step's port (loading includes staging), and the run
    log, watermarks and status."""

    def close(self) -> None: ...

    def close_interrupted_runs(self, current_run_id: str) -> list[str]:
        """Close as ``interrupted`` every run but ``current_run_id`` still marked
        ``running``, and return their ids."""
        ...

    def close_stale_reviews(self) -> list[ReviewItem]:
        """Close the open reviews whose question went away, each with a note: both records
        now belong to one person (a merge, by review or by the matcher), or one of them is
        deleted or no longer linked."""
        ...

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str,
        summary: BaseModel | Mapping[str, Any] | None = None,
    ) -> None: ...

    def mark_deleted(self, system: str, external_id: str, at: datetime | None = None) -> bool:
        """Note that a record disappeared from its system (it then waits for a plan, see
        :meth:`unplanned_records`); False if it was never staged."""
        ...

    def set_watermark(self, system: str, value: datetime, stream: str = DEFAULT_STREAM) -> None:
        """Store the watermark (moving it back is allowed: a backfill resets it)."""
        ...

    def start_run(self, kind: RunKind | str, systems: Sequence[str] | None = None) -> str:
        """Open a run (status ``running``); ``systems=None`` means all of them."""
        ...

    def status_counts(self) -> StatusReport:
        """Per-system counts, last run and watermarks; persons and open reviews."""
        ...
