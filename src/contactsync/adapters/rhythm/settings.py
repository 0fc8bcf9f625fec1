"""``[systems.rhythm]``: OAuth client credentials, the token URL and the tenant."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from contactsync.adapters.settings_base import (
    AuthSettings,
    DefaultsSettings,
    SystemSettings,
    check_url,
    priority_field,
)


class RhythmAuthSettings(AuthSettings):
    """OAuth2 client credentials; ``token_url`` is where the bearer JWT is fetched."""

    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret",)
    required: ClassVar[tuple[str, ...]] = ("token_url",)
    client_id_env: str = "RHYTHM_CLIENT_ID"
    client_secret_env: str = "RHYTHM_CLIENT_SECRET"
    token_url: str = ""

    @field_validator("token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value, what="token_url")


class RhythmDefaults(DefaultsSettings):
    required: ClassVar[tuple[str, ...]] = ("tenant_id",)
    tenant_id: str | None = Field(default=None, min_length=1)


class RhythmSettings(SystemSettings):
    name: ClassVar[str] = "rhythm"
    priority: int = priority_field(3)
    page_size_max: ClassVar[int | None] = None  # search pages by LastEvaluatedKey only
    auth: RhythmAuthSettings = RhythmAuthSettings()
    defaults: RhythmDefaults = RhythmDefaults()
