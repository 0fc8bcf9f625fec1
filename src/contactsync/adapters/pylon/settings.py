"""``[systems.pylon]``: a bearer token; a create needs no configured ids."""

from __future__ import annotations

from typing import ClassVar

from contactsync.adapters.settings_base import (
    AuthSettings,
    DefaultsSettings,
    SystemSettings,
    priority_field,
)


class PylonAuthSettings(AuthSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    token_env: str = "PYLON_TOKEN"


class PylonDefaults(DefaultsSettings):
    pass


class PylonSettings(SystemSettings):
    name: ClassVar[str] = "pylon"
    priority: int = priority_field(4)
    page_size_max: ClassVar[int | None] = 999
    page_size: int | None = 100
    auth: PylonAuthSettings = PylonAuthSettings()
    defaults: PylonDefaults = PylonDefaults()
