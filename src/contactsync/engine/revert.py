"""Reverting a run: the writes that restore, in every system, what the run changed.

The outbox keeps every write a run planned with the fields it changed, before and
after (in the vendor's fields, as the planner compared them). Reverting a run plans,
for each of its writes that landed:

* an update: write the ``before`` values back, field by field, where the record
  still holds what the run wrote; a field changed since (a user's later edit) is left
  as it is and reported;
* a create: delete the record it created (in a system whose deletes propagate, that
  would delete the person everywhere: reported instead);
* a delete: reported; a deleted record cannot be brought back as the same record.

The revert's writes are queued under the run id ``revert:<RUN_ID>``: ``plan`` shows
them, the next sync sends them. When one lands, the loader takes what it wrote for
the record's own content, dated by the vendor's answer (see ``is_revert``): the
restored values are then the newest change of those fields, so the golden record
follows them and the next plans do not write the run's values again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contactsync.engine.plan import flatten, same_value
from contactsync.engine.ports import LoadingState
from contactsync.model.contact import Action, ActionKind, Contact, FieldChange
from contactsync.state.types import OutboxEntry

REVERT_PREFIX = "revert:"

Outbound = Callable[[Contact], dict[str, Any]]


@dataclass
class RevertPlan:
    """The writes restoring what a run changed, and what cannot be restored (why)."""

    run_id: str
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def queue_as(self) -> str:
        return revert_run_id(self.run_id)


def revert_run_id(run_id: str) -> str:
    return f"{REVERT_PREFIX}{run_id}"


def is_revert(entry: OutboxEntry) -> bool:
    """Whether this outbox action restores what an earlier run wrote."""
    return entry.run_id.startswith(REVERT_PREFIX)


def staging_of(
    state: LoadingState, entry: OutboxEntry, answered: Mapping[str, Any]
) -> dict[str, Any]:
    """How the loader stages what an update's answer shows (``upsert_record`` options).

    An ordinary update is contactsync's own write: the record's users' content and
    times stay as they were. A revert's values are an operator's edit: the canonical
    fields it changed take the answer's values into the users' content, dated by the
    answer, and the person is planned again; every other field keeps its users' value
    (an earlier write of ours to another field must not pass for theirs)."""
    if not is_revert(entry):
        return {"own_write": True}
    stored = state.get_record(entry.action.system, entry.action.external_id or "")
    before = dict(stored.payload) if stored is not None else {}
    source = dict(stored.source_payload or before) if stored is not None else {}
    for key in set(before) | set(answered):
        if before.get(key) != answered.get(key):
            source[key] = answered.get(key)
    return {"own_write": False, "unplanned": True, "source_payload": source}


def plan_revert(
    state: LoadingState,
    run_id: str,
    outbound: Mapping[str, Outbound],
    propagating: frozenset[str] = frozenset(),
) -> RevertPlan:
    """What restores the systems to where they were before ``run_id`` wrote to them.

    ``outbound``: each system's outbound mapping (the representation the run's
    changes are in); ``propagating``: systems whose deletes propagate."""
    done = [e for e in state.list_actions("done") if e.run_id == run_id]
    return revert_entries(state, RevertPlan(run_id), done, outbound, propagating)


def plan_revert_since(
    state: LoadingState,
    label: str,
    person_ids: Iterable[str],
    since: datetime,
    outbound: Mapping[str, Outbound],
    propagating: frozenset[str] = frozenset(),
) -> RevertPlan:
    """What restores the writes made for these persons since ``since`` (undoing a
    review decision: everything its replan wrote, and what later syncs wrote for them)."""
    persons = set(person_ids)
    done = [
        e
        for e in state.list_actions("done")
        if e.action.person_id in persons and e.created_at >= since and not is_revert(e)
    ]
    return revert_entries(state, RevertPlan(label), done, outbound, propagating)


def revert_entries(
    state: LoadingState,
    plan: RevertPlan,
    done: list[OutboxEntry],
    outbound: Mapping[str, Outbound],
    propagating: frozenset[str],
) -> RevertPlan:
    """Add to ``plan`` what restores each of these done writes, the last one first."""
    for entry in reversed(done):  # the last write first: each restores what it met
        action = entry.action
        where = f"{action.system} record {action.external_id}"
        if action.kind is ActionKind.DELETE:
            plan.notes.append(f"{where}: deleted by the run; a deleted record cannot be restored")
        elif action.kind is ActionKind.CREATE:
            if action.system in propagating:
                plan.notes.append(
                    f"{where}: created by the run; not deleted, because deletes in "
                    f"{action.system} propagate (it would delete the person everywhere)"
                )
            elif action.external_id is not None:
                plan.actions.append(action.model_copy(update={"kind": ActionKind.DELETE}))
        elif action.system in outbound:
            restored = _restore_update(state, action, outbound[action.system], plan.notes)
            if restored is not None:
                plan.actions.append(restored)
    return plan


def _restore_update(
    state: LoadingState, action: Action, outbound: Outbound, notes: list[str]
) -> Action | None:
    where = f"{action.system} record {action.external_id}"
    record = state.get_record(action.system, action.external_id or "")
    if record is None or record.deleted or not record.payload:
        notes.append(f"{where}: no longer there; nothing to restore")
        return None
    try:
        held = flatten(outbound(Contact.model_validate(record.payload)))
    except ValidationError:
        notes.append(f"{where}: its stored content no longer validates; left as it is")
        return None
    restore: list[FieldChange] = []
    for change in action.changes:
        if same_value(held.get(change.field), change.after):
            restore.append(
                FieldChange(field=change.field, before=change.after, after=change.before)
            )
        else:
            notes.append(f"{where}: {change.field} changed since the run; left as it is")
    if not restore:
        return None
    owner = state.resolve_person(record.person_id) if record.person_id else action.person_id
    return action.model_copy(
        update={
            "payload": unflatten((c.field, c.after) for c in restore),
            "changes": restore,
            "person_id": owner,  # the record's person now (an undone merge moved it back)
        }
    )


def unflatten(paths: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``[("a.b", 1)]`` -> ``{"a": {"b": 1}}``: the inverse of ``planning.flatten``."""
    nested: dict[str, Any] = {}
    for path, value in paths:
        *parents, leaf = path.split(".")
        node = nested
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return nested
