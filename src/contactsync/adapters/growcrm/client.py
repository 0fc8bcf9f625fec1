"""How contactsync talks to Grow CRM: a bearer key, Laravel's quota headers.

Grow CRM documents no rate limit, but its answers carry Laravel's
``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` without a reset, so the
window is *(assumed)* to be Laravel's default of 60 s.
"""

from __future__ import annotations

from contactsync.adapters._common import pooled_client
from contactsync.adapters.base import AdapterContext
from contactsync.http.client import BearerAuth, SystemClient, VendorHttp
from contactsync.http.errors import FatalError

SYSTEM = "growcrm"
HTTP = VendorHttp(quota_window=60.0)  # (assumed) Laravel's throttle default


def build_client(context: AdapterContext) -> SystemClient:
    """The Grow CRM client: ``Authorization: Bearer <key>``."""
    token = context.credentials.get("token")
    if not token:
        raise FatalError(
            "configuration: missing credential token", system=SYSTEM, operation="connect"
        )
    return pooled_client(SYSTEM, context, BearerAuth(token), HTTP)
