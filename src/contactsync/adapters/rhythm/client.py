"""How contactsync talks to Rhythm: OAuth client credentials, bare statuses, a quiet 429.

Rhythm documents no rate limit and sends no rate headers: the throttle learns the
limit from the first 429 (or a configured ``rate_limit`` sets it). Its errors are
status codes only, so :data:`HTTP` says what they mean.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from contactsync.adapters._common import text_of
from contactsync.adapters.base import AdapterContext
from contactsync.http.client import OAuthClientCredentials, SystemClient, VendorHttp, build_client
from contactsync.http.errors import FatalError
from contactsync.http.token_file import FileTokenCache

SYSTEM = "rhythm"
RATE_LIMIT_PAUSE = 10.0  # (assumed) seconds to hold the tenant after a header-less 429

#: what Rhythm's bare statuses mean (its error answers carry no body)
HTTP = VendorHttp(
    status_hints={
        409: "the record refers to a missing object (e.g. organization_id)",
        429: "tenant limit exceeded",
    }
)


class RetryAfterDefault(httpx.BaseTransport):
    """Adds ``Retry-After: <seconds>`` to a 429 that has none, so the throttle pauses the
    whole tenant once (Rhythm documents the 429 but no header)."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = f"{self.seconds:g}"
        return response

    def close(self) -> None:
        self.inner.close()


def required_settings(context: AdapterContext) -> dict[str, str]:
    """tenant_id and token_url (defaults), client_id and client_secret (credentials)."""
    found = {
        "tenant_id": text_of(context.defaults.get("tenant_id")),
        "token_url": text_of(context.defaults.get("token_url")),
        "client_id": text_of(context.credentials.get("client_id")),
        "client_secret": context.credentials.get("client_secret") or None,  # kept verbatim
    }
    missing = [key for key, value in found.items() if value is None]
    if missing:
        raise FatalError(
            f"configuration: missing {', '.join(missing)} "
            "(tenant_id in [systems.rhythm.defaults], token_url in [systems.rhythm.auth], "
            "the client id and secret in the environment)",
            system=SYSTEM,
            operation="connect",
        )
    return {key: value for key, value in found.items() if value is not None}


def oauth(
    context: AdapterContext,
    settings: dict[str, str],
    clock: Callable[[], float],
    on_new_token: Callable[[str], None],
) -> OAuthClientCredentials:
    """The client-credentials auth, its tokens kept in ``context.token_file`` when set."""
    return OAuthClientCredentials(
        token_url=settings["token_url"],
        client_id=settings["client_id"],
        client_secret=settings["client_secret"],
        cache=FileTokenCache(context.token_file) if context.token_file else None,
        system=SYSTEM,
        clock=clock,
        on_new_token=on_new_token,
    )


def rhythm_client(
    context: AdapterContext,
    auth: httpx.Auth,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> SystemClient:
    """The Rhythm client: a pool of at least 10 connections, a 429 read as a pause."""
    connections = max(10, context.concurrency)
    inner = context.transport or httpx.HTTPTransport(
        retries=0,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )
    return build_client(
        SYSTEM,
        base_url=context.base_url,
        auth=auth,
        vendor=HTTP,
        timeout=context.timeout,
        transport=RetryAfterDefault(inner, RATE_LIMIT_PAUSE),
        max_connections=connections,
        rate_limit=context.rate_limit,
        credentials_hint=context.credentials_hint,
        clock=clock,
        sleep=sleep,
    )
