"""The engine's ports: what each step of a run needs from the state, as Protocols.

The engine never imports a state backend (the import contracts in pyproject.toml say
so); it is handed an object that has these methods. The SQLite store
(:mod:`contactsync.state.sqlite`) is the one backend today, and
``tests/state_contract.py`` holds the behaviour any backend must show; a PostgreSQL
state would implement these methods and inherit that contract test class.

Narrow on purpose: staging sees only :class:`StagingState`, matching and planning
:class:`LinkingState`, the loader :class:`LoadingState`; only the run itself
(:class:`EngineState`) holds all of them. Where two steps share methods, the shared
part is its own Protocol (:class:`RecordWrites`: staging recognises our own writes
read back, the loader records them).
"""

from contactsync.engine.ports.shared import (
    CrosswalkState,
    OutboxWrites,
    PersonLookup,
    RecordWrites,
    Transactions,
)
from contactsync.engine.ports.steps import EngineState, LinkingState, LoadingState, StagingState

__all__ = [
    "CrosswalkState",
    "EngineState",
    "LinkingState",
    "LoadingState",
    "OutboxWrites",
    "PersonLookup",
    "RecordWrites",
    "StagingState",
    "Transactions",
]
