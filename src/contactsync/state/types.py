"""Plain value types returned by :class:`contactsync.state.sqlite.store.StateStore`.

Nothing here touches SQLite: these are the shapes the rest of contactsync sees, so
a PostgreSQL backend could return the very same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel

from contactsync.model.contact import Action, ActionKind, content_hash

#: the watermark stream of a system that has only one
DEFAULT_STREAM = "default"
#: when a pass last read a system in full: set at extract, it dates the changes of a
#: system without change times (the snapshot before), while the watermark (where the
#: next pass resumes) moves only after load
LAST_READ_STREAM = "last_read"


class StateError(Exception):
    """A state operation that cannot be done as asked; the message names what and why."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunKind(StrEnum):
    BACKFILL = "backfill"
    SYNC = "sync"
    PLAN = "plan"


class RunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # found still running by a later run: its process died


class ReviewStatus(StrEnum):
    OPEN = "open"
    MERGED = "merged"
    SPLIT = "split"
    DISMISSED = "dismissed"
    CLOSED = "closed"  # by contactsync: the question went away (see ReviewItem.note)


class PersonEventKind(StrEnum):
    CREATE = "create"
    MERGE = "merge"
    SPLIT = "split"


class RecordChange(StrEnum):
    """What :meth:`StateStore.upsert_record` did to the stored copy."""

    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class RecordGlance:
    """What staging needs of a stored record (:meth:`StateStore.stage_glances`)."""

    hash: str
    raw_digest: str | None
    deleted: bool
    unplanned: bool

    def unchanged_by(self, raw_digest: str) -> bool:
        """The raw record with this digest (raw record and mapping) was staged into the
        stored hash: mapping it again would give the same content."""
        return self.raw_digest == f"{raw_digest}:{self.hash}"


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One system's record as last staged, and the person it belongs to (the crosswalk)."""

    system: str
    external_id: str
    person_id: str | None
    hash: str
    payload: dict[str, Any]
    raw: Any
    seen_at: datetime
    source_updated_at: datetime | None
    deleted_at: datetime | None
    #: staged (or found deleted) but not yet taken into account by a plan in the outbox
    unplanned: bool = False
    #: the canonical contact as the system's own users last left it (contactsync's own
    #: writes aside); None for a record contactsync created that nobody changed since
    source_payload: dict[str, Any] | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True, slots=True)
class Person:
    """A person's golden record; ``merged_into`` is set once it was absorbed by another."""

    person_id: str
    golden: dict[str, Any]
    provenance: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    merged_into: str | None = None


@dataclass(frozen=True, slots=True)
class PersonEvent:
    id: int
    kind: PersonEventKind
    person_id: str
    other_person_id: str | None
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One durable action and where it stands."""

    id: int
    run_id: str
    action: Action
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.action.key

    @property
    def system(self) -> str:
        return self.action.system

    @property
    def kind(self) -> ActionKind:
        return self.action.kind


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    kind: RunKind
    systems: tuple[str, ...] | None
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    summary: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    system: str
    external_id: str
    reason: str
    raw: Any
    raw_hash: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A possible match waiting for (or having had) a human decision."""

    id: int
    left_system: str
    left_id: str
    right_system: str
    right_id: str
    score: float
    evidence: dict[str, Any]
    status: ReviewStatus
    created_at: datetime
    decided_at: datetime | None
    note: str | None = None  # why contactsync closed it


@dataclass(frozen=True, slots=True)
class UnholdableEntry:
    system: str
    person_id: str
    reason: str
    recorded_at: datetime


class LeaseHolder(NamedTuple):
    holder: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SystemStatus:
    records: int = 0
    deleted: int = 0
    quarantined: int = 0
    outbox_pending: int = 0
    outbox_failed: int = 0
    last_run: RunRecord | None = None
    watermarks: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusReport:
    systems: dict[str, SystemStatus]
    persons_total: int
    persons_merged: int
    review_open: int


@dataclass(frozen=True, slots=True)
class ValueProblem:
    """One value of a source record that staging left out (or moved, ``moved_to``)."""

    field: str
    reason: str
    value: str | None = None
    moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class StoredValueProblem:
    system: str
    external_id: str
    problem: ValueProblem
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class FieldRefusal:
    """A value ``system`` refused for ``field`` (a vendor payload key)."""

    system: str
    field: str
    value_digest: str
    value: str | None
    external_id: str | None
    person_id: str
    reason: str
    refused_at: datetime


@dataclass(frozen=True, slots=True)
class DuplicateEntry:
    system: str
    external_id: str
    person_id: str
    survivor_id: str
    policy: str
    status: str
    recorded_at: datetime


def raw_hash(raw: Any) -> str:
    """The hash the quarantine keeps of a raw source record."""
    return content_hash(raw.model_dump(mode="json") if isinstance(raw, BaseModel) else raw)
