"""``[systems.trackops]``: Basic credentials and the ids every created contact needs."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from contactsync.adapters.settings_base import (
    AuthSettings,
    DefaultsSettings,
    SystemSettings,
    priority_field,
)


class TrackopsAuthSettings(AuthSettings):
    """HTTP Basic: user ``"{username}/token"``, password = the API token."""

    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    username_env: str = "TRACKOPS_USERNAME"
    token_env: str = "TRACKOPS_TOKEN"

    def derived_secrets(self, credentials: Mapping[str, str]) -> list[str]:
        """The encoded Basic credentials, in case a header is ever printed."""
        username, token = credentials.get("username"), credentials.get("token")
        if not (username and token):
            return []
        return [base64.b64encode(f"{username}/token:{token}".encode()).decode()]


class TrackopsDefaults(DefaultsSettings):
    required: ClassVar[tuple[str, ...]] = ("client_location_id", "role_id")
    client_location_id: int | None = Field(default=None, gt=0)
    role_id: int | None = Field(default=None, gt=0)


class TrackopsSettings(SystemSettings):
    name: ClassVar[str] = "trackops"
    priority: int = priority_field(1)
    page_size_max: ClassVar[int | None] = 1000  # undocumented maximum (assumed)
    page_size: int | None = 100
    auth: TrackopsAuthSettings = TrackopsAuthSettings()
    defaults: TrackopsDefaults = TrackopsDefaults()
