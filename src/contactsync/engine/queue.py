"""Planned actions on their way to the outbox, a batch at a time.

A backfill of tens of thousands of people plans on the order of a hundred thousand
actions; holding them all until the end of planning cost most of a gigabyte. The
queue writes them to the outbox (inside the run's planning transaction, so they
still commit together with everything else) as they are planned, and keeps only
their keys, and the actions themselves only when asked to (``plan`` prints them).

One decision needs the whole plan: a create whose name another person holds, or is
about to, is sent with ``allow_duplicates``. The queue remembers its creates (system,
person, key) and flags the shared ones in the outbox once planning is over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from contactsync.engine.ports import LoadingState
from contactsync.model.contact import Action, ActionKind

#: actions written to the outbox per batch
ENQUEUE_BATCH = 500

#: (first name, last name), casefolded -> the persons holding it in one system
NameTable = dict[tuple[str, str], set[str]]
NamesTaken = Mapping[str, NameTable]
Table = TypeVar("Table")


class PerSystem(Mapping[str, Table]):
    """One table per system (e.g. the names its records hold), read from the state the
    first time it is asked for. Only creates need them, so a run that plans no create
    in a system never reads what everyone there holds: the cost of a sync of a few
    edits does not grow with the people stored."""

    def __init__(self, systems: Iterable[str], read: Callable[[str], Table]) -> None:
        self._systems = tuple(dict.fromkeys(systems))
        self._read = read
        self._tables: dict[str, Table] = {}

    def __getitem__(self, system: str) -> Table:
        if system not in self._systems:
            raise KeyError(system)
        if system not in self._tables:
            self._tables[system] = self._read(system)
        return self._tables[system]

    def __contains__(self, system: object) -> bool:
        return system in self._systems

    def __iter__(self) -> Iterator[str]:
        return iter(self._systems)

    def __len__(self) -> int:
        return len(self._systems)

    @property
    def read(self) -> list[str]:
        """The systems whose table has been read so far."""
        return list(self._tables)


def shared_name_persons(taken: NamesTaken) -> dict[str, set[str]]:
    """Per system, the persons whose name another person there holds (or will)."""
    shared: dict[str, set[str]] = {}
    for system, by_name in taken.items():
        for key, persons in by_name.items():
            if len(persons) > 1 and any(key):
                shared.setdefault(system, set()).update(persons)
    return shared


def allow_shared_names(actions: Iterable[Action], taken: NamesTaken) -> None:
    """A create whose name another person holds (or is about to) is sent with
    ``allow_duplicates``: the matcher decided they are different people."""
    shared = shared_name_persons(taken)
    for action in actions:
        if action.kind is ActionKind.CREATE and action.person_id in shared.get(action.system, ()):
            action.allow_duplicates = True


class PlanQueue:
    """Collects a run's planned actions and writes them to the outbox in batches."""

    def __init__(self, state: LoadingState, run_id: str, *, keep: bool = False) -> None:
        self.state = state
        self.run_id = run_id
        self.keep = keep
        #: every planned action's key (what supersedes an earlier run's leftovers)
        self.planned_keys: set[str] = set()
        #: the actions themselves, when ``keep``
        self.kept: list[Action] = []
        self._batch: list[Action] = []
        self._creates: list[tuple[str, str, str]] = []  # (system, person id, action key)

    def add(self, actions: Iterable[Action]) -> None:
        for action in actions:
            self.planned_keys.add(action.key)
            if action.kind is ActionKind.CREATE:
                self._creates.append((action.system, action.person_id, action.key))
            self._batch.append(action)
        if len(self._batch) >= ENQUEUE_BATCH:
            self._flush()

    def finish(self, taken: NamesTaken) -> None:
        """Write what is left, then flag the creates whose name is shared."""
        self._flush()
        if not self._creates:
            return
        creating = {system for system, _person, _key in self._creates}
        shared = shared_name_persons({s: taken[s] for s in creating if s in taken})
        keys = {
            key for system, person_id, key in self._creates if person_id in shared.get(system, ())
        }
        if not keys:
            return
        self.state.allow_duplicates(keys, self.run_id)
        for action in self.kept:
            if action.key in keys:
                action.allow_duplicates = True

    def _flush(self) -> None:
        if not self._batch:
            return
        self.state.enqueue(self._batch, self.run_id)
        if self.keep:
            self.kept.extend(self._batch)
        self._batch = []
