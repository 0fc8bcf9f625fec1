"""The generic httpx auth schemes; no ``repr`` or error message ever shows a secret.

- :class:`BearerAuth`: ``Authorization: Bearer <token>``
- :class:`OAuthClientCredentials`: a client-credentials token, cached across runs
  through a :class:`TokenCache`, refreshed once on a 401

A vendor's own scheme (Trackops' Basic with ``{username}/token``, Xurrent's account
header) lives with its adapter (``contactsync.adapters.<vendor>.client``).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx

from contactsync.http.errors import (
    MASK,
    FatalError,
    Redactor,
    classify,
    expect_object,
    masking_redactor,
)
from contactsync.http.headers import EXT_IDEMPOTENT, EXT_OPERATION, EXT_RATE_BUCKET


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token={MASK})"


#: request extension: the auth fetches a new token and sends the request again on a 401
#: (so that 401 says nothing about the credentials: see :mod:`contactsync.http.circuit`)
EXT_RENEWS_ON_401 = "contactsync.renews_on_401"


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and the epoch second it expires at."""

    value: str = field(repr=False)
    expires_at: float


class TokenCache(Protocol):
    """Where OAuth tokens live between requests: :class:`InMemoryTokenCache` for one
    process, :class:`contactsync.http.token_file.FileTokenCache` (a 0600 file beside the
    state) across processes. Never the SQLite state: secrets never go there."""

    def get(self, key: str) -> AccessToken | None: ...

    def set(self, key: str, token: AccessToken) -> None: ...


class InMemoryTokenCache:
    """A thread-safe :class:`TokenCache` that lasts as long as the process."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> AccessToken | None:
        with self._lock:
            return self._tokens.get(key)

    def set(self, key: str, token: AccessToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def __repr__(self) -> str:
        return f"InMemoryTokenCache({len(self._tokens)} tokens)"


class OAuthClientCredentials(httpx.Auth):
    """OAuth2 client credentials: one token per lifetime, reused from ``cache``.

    The token is fetched with ``POST token_url`` (form ``grant_type=client_credentials``;
    client id and secret in the form, or as HTTP Basic with ``credentials_in="basic"``)
    and reused until ``refresh_margin`` seconds before it expires (``expires_in`` from
    the answer, else ``default_lifetime``, 24 h). A 401 on an API call fetches a new
    token and resends the request once. Concurrent threads share one fetch.
    ``on_new_token`` sees each token once, fetched or cached, before it is first used
    (wire ``contactsync.logs.register_secret`` there).
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        cache: TokenCache | None = None,
        *,
        scope: str | None = None,
        credentials_in: Literal["body", "basic"] = "body",
        refresh_margin: float = 300.0,
        default_lifetime: float = 24 * 3600.0,
        system: str = "rhythm",
        clock: Callable[[], float] = time.time,
        redact: Redactor | None = None,
        on_new_token: Callable[[str], None] | None = None,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.cache: TokenCache = cache if cache is not None else InMemoryTokenCache()
        self.scope = scope
        self.credentials_in = credentials_in
        self.refresh_margin = refresh_margin
        self.default_lifetime = default_lifetime
        self.system = system
        self._clock = clock
        self._redact = masking_redactor((client_secret,), redact)
        self._on_new_token = on_new_token
        self._announced: set[str] = set()
        self._lock = threading.Lock()
        self.cache_key = f"oauth:{token_url}:{client_id}"

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials(token_url={self.token_url!r}, "
            f"client_id={self.client_id!r}, client_secret={MASK})"
        )

    def _usable(self, token: AccessToken | None) -> bool:
        return token is not None and token.expires_at - self.refresh_margin > self._clock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.cache.get(self.cache_key)
        if token is None or not self._usable(token):
            token = yield from self._refresh(stale=token)
        self._use(request, token)
        request.extensions[EXT_RENEWS_ON_401] = True  # a 401 now is the token's, not ours
        response = yield request
        if response.status_code == 401:
            token = yield from self._refresh(stale=token)
            self._use(request, token)
            request.extensions[EXT_RENEWS_ON_401] = False  # a 401 again: the credentials
            yield request

    def _use(self, request: httpx.Request, token: AccessToken) -> None:
        if self._on_new_token is not None and token.value not in self._announced:
            self._announced.add(token.value)
            self._on_new_token(token.value)
        request.headers["Authorization"] = f"Bearer {token.value}"

    def _refresh(
        self, stale: AccessToken | None
    ) -> Generator[httpx.Request, httpx.Response, AccessToken]:
        """A new token, unless another thread replaced ``stale`` meanwhile."""
        with self._lock:
            current = self.cache.get(self.cache_key)
            if current is not None and current != stale and self._usable(current):
                return current
            response = yield self._token_request()
            token = self._read_token(response)
            self.cache.set(self.cache_key, token)
            return token

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        headers = {"Accept": "application/json"}
        if self.credentials_in == "basic":
            pair = f"{self.client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = self._client_secret
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers=headers,
            extensions={
                EXT_OPERATION: "fetch OAuth token",
                EXT_RATE_BUCKET: "oauth",
                # Safe to resend: a lost answer costs at most one extra token.
                EXT_IDEMPOTENT: True,
            },
        )

    def _read_token(self, response: httpx.Response) -> AccessToken:
        operation = "fetch OAuth token"
        if response.status_code in (400, 401, 403):
            error = classify(self.system, operation, response, redact=self._redact)
            raise FatalError(
                "OAuth client credentials refused",
                system=self.system,
                operation=operation,
                status=response.status_code,
                vendor_message=error.vendor_message,
                body=error.body,
                redact=self._redact,
            )
        data = expect_object(response, self.system, operation, redact=self._redact)
        value = data.get("access_token")
        if not isinstance(value, str) or not value:
            raise FatalError(
                "malformed envelope: token answer has no access_token",
                system=self.system,
                operation=operation,
                status=response.status_code,
                redact=self._redact,
            )
        lifetime = data.get("expires_in")
        seconds = (
            float(lifetime)
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0
            else self.default_lifetime
        )
        return AccessToken(value=value, expires_at=self._clock() + seconds)


__all__ = [
    "AccessToken",
    "BearerAuth",
    "InMemoryTokenCache",
    "OAuthClientCredentials",
    "TokenCache",
]
