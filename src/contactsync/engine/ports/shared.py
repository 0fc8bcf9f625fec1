"""The parts of the state that more than one step needs (see :mod:`contactsync.engine.ports`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from contactsync.model.contact import Action
from contactsync.state.types import (
    OutboxEntry,
    OutboxStatus,
    Person,
    RecordChange,
    StoredRecord,
)


class Transactions(Protocol):
    """One atomic unit of work: everything inside commits together or not at all."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all; nested blocks are savepoints."""
        ...


class PersonLookup(Protocol):
    """Who a record belongs to, and the person (golden record) itself."""

    def resolve_person(self, person_id: str) -> str:
        """Follow ``merged_into`` links to the person that absorbed ``person_id``."""
        ...

    def get_person(self, person_id: str) -> Person | None: ...

    def person_for(self, system: str, external_id: str) -> str | None:
        """The crosswalk: which person a system's record belongs to."""
        ...


class RecordWrites(Protocol):
    """The crosswalk as staging and the loader both keep it: a record read or
    written, its last push, and the outbox entries that wrote it."""

    def get_record(self, system: str, external_id: str) -> StoredRecord | None: ...

    # packed by hand: one line per parameter would repeat the backend's signature
    # fmt: off
    def upsert_record(
        self, system: str, external_id: str, *, hash: str,
        payload: Mapping[str, Any] | BaseModel, source_updated_at: datetime | None = None,
        person_id: str | None = None, raw: Any = None, unplanned: bool = False,
        own_write: bool = False, raw_digest: str | None = None,
        source_payload: Mapping[str, Any] | None = None,
    ) -> RecordChange:
        """Stage a record: store its canonical payload and hash, mark it seen now."""
        ...
    # fmt: on

    def count_live_records(self, system: str) -> int: ...

    def remember_push(
        self, system: str, external_id: str, hash: str, at: datetime | None = None
    ) -> None: ...

    def list_actions(
        self,
        status: OutboxStatus | str,
        system: str | None = None,
        *,
        except_run: str | None = None,
    ) -> list[OutboxEntry]:
        """Actions with that status (queued by another run than ``except_run``, if given),
        in the order they were queued."""
        ...

    def complete(self, action_id: int, pushed_hash: str | None = None) -> None:
        """An update or delete succeeded: mark it done, remember the pushed hash, and for a
        delete mark the record deleted, all in one transaction."""
        ...

    def complete_create(
        self,
        action_id: int,
        system: str,
        external_id: str,
        person_id: str,
        pushed_hash: str,
        *,
        payload: Mapping[str, Any] | BaseModel | None = None,
    ) -> None:
        """A create succeeded: in ONE transaction, link the new record to the person in the
        crosswalk, remember the push, and mark the action done."""
        ...


class OutboxWrites(Protocol):
    """Planned writes entering the outbox, and persons a system cannot hold."""

    def enqueue(self, actions: Iterable[Action], run_id: str) -> int:
        """Queue actions; returns how many were queued (new or re-armed)."""
        ...

    def mark_planned(self, keys: Iterable[tuple[str, str]]) -> None:
        """The plan for these ``(system, external_id)`` records is in the outbox."""
        ...

    def mark_unholdable(self, system: str, person_id: str, reason: str) -> bool:
        """Note that ``system`` cannot hold this person; True only the first time."""
        ...


class CrosswalkState(Transactions, PersonLookup, RecordWrites, Protocol):
    """Recognising our own writes read back: what staging and the loader both do."""
