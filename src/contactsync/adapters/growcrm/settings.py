"""``[systems.growcrm]``: a bearer token and the client every created contact joins."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contactsync.adapters.settings_base import (
    AuthSettings,
    DefaultsSettings,
    SystemSettings,
    priority_field,
)


class GrowcrmAuthSettings(AuthSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    token_env: str = "GROWCRM_TOKEN"


class GrowcrmDefaults(DefaultsSettings):
    required: ClassVar[tuple[str, ...]] = ("client_id",)
    client_id: int | None = Field(default=None, gt=0)


class GrowcrmSettings(SystemSettings):
    name: ClassVar[str] = "growcrm"
    priority: int = priority_field(2)
    page_size_max: ClassVar[int | None] = 100
    page_size: int | None = 100
    auth: GrowcrmAuthSettings = GrowcrmAuthSettings()
    defaults: GrowcrmDefaults = GrowcrmDefaults()
