"""What the loader's helpers (recovery, field fitting) use of the loader.

A Protocol, so that :mod:`.recovery` and :mod:`.field_fit` depend on this, not on
:mod:`.load` (which calls them): no import cycle, not even one for types only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from contactsync.adapters.base import Adapter, WriteResult
from contactsync.engine.ports import LoadingState
from contactsync.mapping.mapper import Mapping
from contactsync.state.types import OutboxEntry

__all__ = ["LoaderView"]


class LoaderView(Protocol):
    """One system's loader (:class:`contactsync.engine.load.Loader`)."""

    state: LoadingState
    adapter: Adapter
    mapping: Mapping

    @property
    def redact(self) -> Callable[[str], str]:
        """Scrubs secrets from a message before it is kept or logged."""
        ...

    @property
    def system(self) -> str: ...

    def execute(self, entry: OutboxEntry, *, recovering: bool = False) -> bool:
        """Send one action (claimed first); False if it is left for a later run."""
        ...

    def send_create(self, entry: OutboxEntry, *, reconcile: bool) -> None: ...

    def send_update(self, entry: OutboxEntry, *, recovering: bool = False) -> None: ...

    def landed(self, entry: OutboxEntry) -> str | None:
        """The record a create whose answer was lost made, if the vendor holds it."""
        ...

    def link(self, entry: OutboxEntry, result: WriteResult) -> None:
        """Record a create's new record in the crosswalk and mark the action done."""
        ...
