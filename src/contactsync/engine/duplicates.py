"""Duplicate records in one system: a person holding two (or more) live records there,
after a ``review merge`` or a matcher's link joined two persons. The planner writes the
golden record to the first of them (the survivor); this module decides, per the system's
``duplicates`` setting, what happens to the others:

* ``mark`` (the default): both stay. The other record is noted once
  (:mod:`contactsync.state.sqlite.duplicates`) and ``status`` lists it. Nothing is deleted.
* ``merge``: the survivor gets the golden record (what the other held is merged into it),
  and the other is deleted (archived where the vendor archives) by a delete action that
  ``plan`` shows like any other. A system whose API cannot delete (Trackops) falls back
  to ``mark``.
* ``keep``: both stay, unlisted (the administrator keeps duplicates on purpose).

Either way, an update the vendor refuses because the same person's other record holds
the unique value is not warned about on every pass: it is resolved or listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog
from pydantic import ValidationError

from contactsync.config.systems import DuplicatesPolicy
from contactsync.engine.ports import LinkingState, LoadingState
from contactsync.engine.targets import TargetSystem
from contactsync.model.contact import Action, ActionKind, Contact
from contactsync.state.types import OutboxEntry, StoredRecord

log = structlog.get_logger(__name__)


def resolve_duplicates(
    state: LinkingState,
    person_id: str,
    records: Sequence[StoredRecord],
    targets: Iterable[TargetSystem],
    golden: Contact,
) -> list[Action]:
    """Note each duplicate of the person's records, and the deletes ``merge`` asks for.
    ``records`` are the person's records (deleted ones too); the survivor of a system's
    live ones is the planner's (:func:`survivor_first`)."""
    actions: list[Action] = []
    for target in targets:
        live = survivor_first(
            [r for r in records if r.system == target.system and not r.deleted],
            golden,
            target.duplicates,
        )
        if len(live) < 2 or target.duplicates == "keep" or not target.writable:
            continue
        deleting = target.duplicates == "merge" and target.deletes_propagate
        survivor = live[0].external_id
        for other in live[1:]:
            policy = "merge" if deleting else "mark"
            if state.note_duplicate(target.system, other.external_id, person_id, survivor, policy):
                log.info(
                    "duplicate record",
                    system=target.system,
                    record=other.external_id,
                    survivor=survivor,
                    person=person_id,
                    policy=policy,
                )
            if deleting:
                actions.append(
                    Action(
                        kind=ActionKind.DELETE,
                        system=target.system,
                        person_id=person_id,
                        external_id=other.external_id,
                    )
                )
    return actions


def complete_delete(state: LoadingState, entry: OutboxEntry) -> None:
    """A delete the vendor answered: done, and when it removed a duplicate, that record
    is settled in the same transaction (see :meth:`LoadingState.duplicate_deleted`)."""
    with state.transaction():
        state.complete(entry.id)
        state.duplicate_deleted(entry.action.system, entry.action.external_id or "")


def survivor_first(
    live: list[StoredRecord], golden: Contact, policy: DuplicatesPolicy
) -> list[StoredRecord]:
    """A system's live records of one person, the one the golden record is written to
    first. Under ``merge``: the first holding the golden record's primary email, else
    the first. Vendors keep emails unique, so the survivor's update then claims no email
    the one deleted held, not even where a deleted record keeps its email (Grow CRM's
    soft deletes). Otherwise the first, as before there were policies: both records
    stay, and which one contactsync writes to does not change (``review undo`` restores
    the record it wrote)."""
    if len(live) < 2 or not golden.emails or policy != "merge":
        return live
    primary = golden.emails[0].address

    def holds_primary(record: StoredRecord) -> bool:
        try:
            contact = Contact.model_validate(record.payload)
        except ValidationError:  # a payload that no longer validates holds nothing known
            return False
        return any(e.address == primary for e in contact.emails)

    return sorted(live, key=lambda record: not holds_primary(record))  # stable sort
