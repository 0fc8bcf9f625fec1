"""Pure planning: golden record and target state in, actions out. No I/O.

For one person and one target system the planner compares what the golden
record maps out to (``desired``) with what the system's own record maps out to
(``current``), both through the same outbound mapping, so only real
differences become actions: every normalisation the mapping applies is applied
to both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contactsync.model.contact import (
    Action,
    ActionKind,
    Contact,
    ContactStatus,
    FieldChange,
    SystemName,
)

Outbound = Callable[[Contact], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """One system as a possible home for the person."""

    system: SystemName
    outbound: Outbound
    #: the system's current record for this person (canonical), None when it holds none
    current: Contact | None = None
    external_id: str | None = None
    writable: bool = True
    propagate_deletes: bool = False
    #: why this system cannot hold the person (e.g. Grow CRM needs an email), else None
    cannot_hold: str | None = None
    #: another person in this system has the same name: creating needs allow_duplicates
    name_taken: bool = False
    #: top-level vendor fields whose current value came from an email or phone the
    #: golden record no longer has (a user removed it): emptied, not left as they are
    clear: frozenset[str] = frozenset()


def flatten(payload: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested vendor payload -> {"a.b": value} so differences name the vendor field."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def diff(
    desired: Mapping[str, Any], current: Mapping[str, Any], clear: Iterable[str] = ()
) -> list[FieldChange]:
    """Fields whose desired value is set and differs from the current one.

    A field the golden record leaves empty is not an instruction to erase it, except
    the ``clear`` fields (top-level) that the current record fills.
    """
    want, have = flatten(desired), flatten(current)
    changes = [
        FieldChange(field=path, before=have.get(path), after=value)
        for path, value in sorted(want.items())
        if value not in (None, "", [], {}) and not same_value(have.get(path), value)
    ]
    for path in sorted(set(clear)):
        if want.get(path) in (None, "", [], {}) and have.get(path) not in (None, "", [], {}):
            changes.append(FieldChange(field=path, before=have.get(path), after=None))
    return changes


def same_value(held: Any, wanted: Any) -> bool:
    """Equal; a list of plain values (Pylon's ``phone_numbers``) counts as equal with the
    same first element (the primary, by the mappings' ``LIST[*]`` convention) and the same
    values after it in any order: that order means nothing to the vendor, and the golden
    record's order of secondary items depends on when each was first seen, so comparing
    it would rewrite lists that hold exactly the same numbers (after a rebuild, say)."""
    if held == wanted:
        return True
    if not (isinstance(held, list) and isinstance(wanted, list)) or not held or not wanted:
        return False
    plain = all(isinstance(v, str | int | float) for v in [*held, *wanted])
    return plain and held[0] == wanted[0] and sorted(map(str, held)) == sorted(map(str, wanted))


def changed_subset(desired: Mapping[str, Any], changes: Iterable[FieldChange]) -> dict[str, Any]:
    """The part of ``desired`` (nested) that holds the changed fields' top-level keys."""
    tops = {change.field.split(".", 1)[0] for change in changes}
    subset = {key: value for key, value in desired.items() if key in tops}
    for change in changes:  # a field to empty (see ``Target.clear``)
        if change.after is None and "." not in change.field:
            subset.setdefault(change.field, None)
    return subset


def plan_person(person_id: str, golden: Contact, targets: Iterable[Target]) -> list[Action]:
    """The actions that make every target agree with ``golden``."""
    actions: list[Action] = []
    deleted = golden.status is ContactStatus.DELETED
    for target in targets:
        if not target.writable:
            continue
        if deleted:
            if target.external_id and target.propagate_deletes:
                actions.append(
                    Action(
                        kind=ActionKind.DELETE,
                        system=target.system,
                        person_id=person_id,
                        external_id=target.external_id,
                    )
                )
            continue
        desired = target.outbound(golden)
        if target.external_id is None:
            if target.cannot_hold is None:
                actions.append(
                    Action(
                        kind=ActionKind.CREATE,
                        system=target.system,
                        person_id=person_id,
                        payload=desired,
                        changes=diff(desired, {}),
                        allow_duplicates=target.name_taken,
                    )
                )
            continue
        current = target.outbound(target.current) if target.current is not None else {}
        changes = diff(desired, current, target.clear)
        if changes:
            actions.append(
                Action(
                    kind=ActionKind.UPDATE,
                    system=target.system,
                    person_id=person_id,
                    external_id=target.external_id,
                    payload=changed_subset(desired, changes),
                    changes=changes,
                )
            )
    return actions


def with_person_id(golden: Contact, person_id: str) -> Contact:
    """The golden record carrying the person id for systems with a foreign-id field."""
    return golden.model_copy(update={"sync_id": person_id})


def by_system(actions: Iterable[Action]) -> dict[str, list[Action]]:
    grouped: dict[str, list[Action]] = {}
    for action in actions:
        grouped.setdefault(action.system, []).append(action)
    return grouped
