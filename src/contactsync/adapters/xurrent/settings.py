"""``[systems.xurrent]``: a bearer token, the account and the organizations synced."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from contactsync.adapters.settings_base import (
    AuthSettings,
    DefaultsSettings,
    SystemSettings,
    priority_field,
)


class XurrentAuthSettings(AuthSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    token_env: str = "XURRENT_TOKEN"


class XurrentDefaults(DefaultsSettings):
    required: ClassVar[tuple[str, ...]] = ("account_id", "organization_ids")
    account_id: str | None = Field(default=None, min_length=1, description="X-Xurrent-Account")
    organization_ids: list[Annotated[int, Field(gt=0)]] | None = Field(
        default=None, description="organizations whose own contacts to sync; may be empty"
    )


class XurrentSettings(SystemSettings):
    name: ClassVar[str] = "xurrent"
    priority: int = priority_field(5)
    page_size_max: ClassVar[int | None] = 100
    page_size: int | None = 100
    auth: XurrentAuthSettings = XurrentAuthSettings()
    defaults: XurrentDefaults = XurrentDefaults()
