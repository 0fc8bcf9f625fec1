"""Refusing a state file from another installation (issue 15).

Every record contactsync links carries the person id it was linked to (see
:mod:`contactsync.engine.rebuild`). A state that holds persons but meets many stamps
it does not know, or stamps naming another person than the record's link, is not
the state these systems were synced with (a copy from another installation, an old
backup): syncing on would adopt or overwrite those identities silently. The pass
stops before it plans anything and says how to go on: ``rebuild`` into a new file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contactsync.engine.ports import LinkingState
from contactsync.engine.rebuild import is_person_id
from contactsync.engine.stage import StagedRecord

# Records of one system whose stamps disagree with the state before the pass is
# refused. A few are normal (a record copied by hand with its stamp, a person
# deleted here and kept there); a foreign state disagrees on nearly every record.
DEFAULT_FOREIGN_STAMP_LIMIT = 10
_EXAMPLES = 3
# the words of the refusal that say what it is, found again in a pass's errors
_REFUSAL_MARK = "looks like the state of another installation"


class ForeignStateError(Exception):
    """The state does not belong to these systems; a usage error (exit 2)."""


@dataclass
class StampDisagreements:
    unknown: int = 0  # a well-formed stamp of a person the state never held
    elsewhere: int = 0  # the stamp names another person than the record's link
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.unknown + self.elsewhere


def stamp_disagreements(
    state: LinkingState, system: str, staged: Iterable[StagedRecord]
) -> StampDisagreements:
    """The staged records of ``system`` whose stamped person id the state contradicts."""
    found = StampDisagreements()
    for item in staged:
        stored = state.linked_payload(item.system, item.external_id)
        if stored is None:
            continue
        linked, payload = stored
        stamp = payload.get("sync_id")
        if not isinstance(stamp, str) or not is_person_id(stamp):
            continue  # unstamped, or a user's value in the field: the matcher decides
        if state.get_person(stamp) is None:
            found.unknown += 1
        elif linked is not None and state.resolve_person(linked) != state.resolve_person(stamp):
            found.elsewhere += 1
        else:
            continue
        if len(found.examples) < _EXAMPLES:
            found.examples.append(f"{system}/{item.external_id} stamped {stamp}")
    return found


def refuse_foreign_state(
    state: LinkingState,
    system: str,
    staged: Iterable[StagedRecord],
    limit: int = DEFAULT_FOREIGN_STAMP_LIMIT,
) -> None:
    """Raise :class:`ForeignStateError` when ``limit`` or more staged records of
    ``system`` carry stamps the state contradicts. A state without persons (new, or
    being rebuilt) is never refused: it adopts the stamps instead."""
    if limit <= 0 or next(iter(state.iter_persons()), None) is None:
        return
    found = stamp_disagreements(state, system, staged)
    if found.total < limit:
        return
    raise ForeignStateError(
        f"{state.path}: {found.total} {system} records carry person ids this state "
        f"contradicts ({found.unknown} unknown to it, {found.elsewhere} linked to another "
        f"person here), e.g. {'; '.join(found.examples)}. This {_REFUSAL_MARK}; "
        "nothing was planned or written to the systems. Keep it aside and run "
        "`contactsync rebuild` with a new state file to rebuild it from them."
    )


def foreign_refusal(errors: Iterable[str]) -> str | None:
    """The refusal among a failed pass's errors, if it was refused for a foreign state:
    the command turns it into a usage error (exit 2) instead of a failed run (exit 1)."""
    return next((error for error in errors if _REFUSAL_MARK in error), None)
