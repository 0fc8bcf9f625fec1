"""Recognise contactsync's own writes whose answer was lost, when they are read back.

A write can land at the vendor while contactsync never hears of it: the connection
drops after the vendor applied it, the process is killed between the answer and
the commit. The action is then left ``failed`` (or ``pending``) in the outbox, and
the next extract shows the written record with a fresh vendor timestamp. Taken
for a user's change, it would feed contactsync's own (derived, sometimes lossy)
values back into the golden record as the newest truth.

:class:`OwnWrites` answers, for one system during one stage step, whether a record
just read is the result of such an open action, and if so records the action as
done and the record as contactsync's own write:

* a create: a record not yet in the crosswalk, stamped with the person id of a
  person whose create in this system is still open;
* an update: a known record that changed in exactly the fields of an open update
  of it, to exactly the values that update sends (compared through the system's
  outbound mapping, as the planner compares).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError

from contactsync.adapters.base import RawRecord
from contactsync.engine.plan import flatten
from contactsync.engine.ports import CrosswalkState
from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import ActionKind, Contact
from contactsync.state.types import OutboxEntry, StateError, StoredRecord

log = structlog.get_logger(__name__)

_OPEN = ("failed", "pending")


@dataclass
class OwnWrites:
    """The open (failed or pending) writes of one system, loaded on first use."""

    state: CrosswalkState
    system: str
    mapping: Mapping
    _creates: dict[str, OutboxEntry] | None = field(default=None, init=False)
    _updates: dict[str, list[OutboxEntry]] | None = field(default=None, init=False)

    def _load(self) -> None:
        self._creates, self._updates = {}, {}
        for status in _OPEN:
            for entry in self.state.list_actions(status, self.system):
                action = entry.action
                if action.kind is ActionKind.CREATE:
                    person = self.state.resolve_person(action.person_id)
                    self._creates.setdefault(person, entry)
                elif action.kind is ActionKind.UPDATE and status == "failed":
                    self._updates.setdefault(action.external_id or "", []).append(entry)

    def adopt_create(self, raw: RawRecord, contact: Contact, digest: str) -> bool:
        """True when ``raw`` (not in the crosswalk) is the result of an open create;
        the create is then recorded as done, linking the record to its person."""
        stamped = contact.sync_id
        if not stamped or self.state.get_person(stamped) is None:
            return False
        if self._creates is None:
            self._load()
        assert self._creates is not None
        entry = self._creates.pop(self.state.resolve_person(stamped), None)
        if entry is None:
            return False
        payload = contact.model_dump(mode="json")
        try:
            with self.state.transaction():
                self.state.complete_create(
                    entry.id,
                    self.system,
                    raw.external_id,
                    entry.action.person_id,
                    digest,
                    payload=payload,
                )
                self._store(raw, contact, digest)
        except StateError as exc:  # e.g. linked meanwhile to someone else: a user's record
            log.warning("not adopted as our create", system=self.system, error=str(exc))
            return False
        log.info("lost create answer recovered", system=self.system, record=raw.external_id)
        return True

    def adopt_update(
        self, stored: StoredRecord, raw: RawRecord, contact: Contact, digest: str
    ) -> bool:
        """True when ``raw`` is ``stored`` changed by exactly an open update of ours;
        the update is then recorded as done."""
        if self._updates is None:
            self._load()
        assert self._updates is not None
        candidates = self._updates.get(raw.external_id)
        if not candidates:
            return False
        try:
            before = flatten(self.mapping.outbound(Contact.model_validate(stored.payload)))
            after = flatten(self.mapping.outbound(contact))
        except (ValidationError, ValueError):
            return False
        for entry in candidates:
            if is_exactly(before, after, flatten(entry.action.payload)):
                candidates.remove(entry)
                with self.state.transaction():
                    self._store(raw, contact, digest)
                    self.state.complete(entry.id, digest)
                log.info("lost update answer recovered", system=self.system, record=raw.external_id)
                return True
        return False

    def _store(self, raw: RawRecord, contact: Contact, digest: str) -> None:
        self.state.upsert_record(
            self.system,
            raw.external_id,
            hash=digest,
            payload=contact.model_dump(mode="json"),
            raw=raw.payload,
            own_write=True,
        )
        self.state.remember_push(self.system, raw.external_id, digest)


def is_exactly(before: dict[str, Any], after: dict[str, Any], written: dict[str, Any]) -> bool:
    """``after`` holds every written value, and differs from ``before`` nowhere else."""
    if any(after.get(path) != value for path, value in written.items()):
        return False
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    return changed <= written.keys()
