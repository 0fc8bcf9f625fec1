"""What the planner knows of each system as a write target (built per pass by
:func:`contactsync.engine.pass_outcome.target_systems`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contactsync.config.systems import DuplicatesPolicy
from contactsync.model.contact import Contact, SystemName

__all__ = ["TargetSystem"]


@dataclass(frozen=True)
class TargetSystem:
    """What the planner needs to know about one system as a write target."""

    system: SystemName
    outbound: Callable[[Contact], dict[str, Any]]
    writable: bool
    required_for_create: tuple[str, ...] = ()
    deletes_propagate: bool = False
    #: the organization the system files a record under when its create named none
    #: (Grow CRM's configured default client): on first sight, no word on the org
    default_org_ref: str | None = None
    #: the field keys its outbound mapping writes from (None: every field)
    written: frozenset[str] | None = None
    duplicates: DuplicatesPolicy = "mark"  # its records of one person beyond the first
