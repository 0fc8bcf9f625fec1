"""The ``[systems]`` table of the config file, collected from the adapters' registry.

Each vendor declares its ``[systems.<name>]`` model beside its adapter
(``contactsync.adapters.<vendor>.settings``, on the bases of
:mod:`contactsync.adapters.settings_base`); this module only gathers them, so a
new system needs no change here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import create_model

from contactsync.adapters.registry import VENDORS
from contactsync.adapters.settings_base import (
    AuthSettings,
    DefaultsSettings,
    DeletePolicy,
    Direction,
    DuplicatesPolicy,
    Duration,
    RateLimitSettings,
    Schedule,
    StrictTable,
    SystemSettings,
    check_url,
    env_var_name,
    parse_duration,
)

#: system name -> the model of its ``[systems.<name>]`` table, in the canonical order
SYSTEM_MODELS: dict[str, type[SystemSettings]] = {p.name: p.settings for p in VENDORS}


class _SystemsTableBase(StrictTable):
    def as_dict(self) -> dict[str, SystemSettings]:
        return {name: getattr(self, name) for name in SYSTEM_MODELS}


_TABLE_FIELDS: dict[str, Any] = {
    name: (model, model(enabled=False)) for name, model in SYSTEM_MODELS.items()
}

if TYPE_CHECKING:  # one field per registered system, built below; typed as its base
    SystemsTable = _SystemsTableBase
else:
    SystemsTable = create_model(
        "SystemsTable",
        __base__=_SystemsTableBase,
        __doc__="The ``[systems]`` table: an absent system is a disabled one.",
        **_TABLE_FIELDS,
    )

__all__ = [
    "SYSTEM_MODELS",
    "AuthSettings",
    "DefaultsSettings",
    "DeletePolicy",
    "Direction",
    "DuplicatesPolicy",
    "Duration",
    "RateLimitSettings",
    "Schedule",
    "StrictTable",
    "SystemSettings",
    "SystemsTable",
    "check_url",
    "env_var_name",
    "parse_duration",
]
