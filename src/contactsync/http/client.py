"""One httpx client factory for every adapter: auth, timeouts, retries, throttle, counters.

Use::

    # HTTP: what Pylon's adapter declares (contactsync.adapters.pylon.client.HTTP)
    client = build_client("pylon", base_url=URL, auth=BearerAuth(token), vendor=HTTP)
    response = client.post("/contacts", json=body, extensions={"operation": "create contact"})
    data = expect_object(response, "pylon", "create contact")
    client.stats.snapshot()  # {"sent": 1, "retries": 0, "by_status": {200: 1}, ...}

Retries and writes (details in :mod:`contactsync.http.retry`): idempotent requests
(GET, HEAD, OPTIONS, PUT, DELETE, and a POST sent with ``extensions=READ_ONLY``)
are retried on every transport failure (a body cut mid-stream included: the body
is read inside the retry), 408, 429 and 5xx with exponential backoff and jitter,
honouring ``Retry-After``, within ``RetryPolicy.max_attempts`` and
``RetryPolicy.max_total_wait``. A non-idempotent POST or PATCH is NEVER sent twice
once it may have reached the vendor: it is retried only when the connection failed
before sending (``ConnectError``/``ConnectTimeout``/``PoolTimeout``/``ProxyError``) or
on a 429 (refused unprocessed). A read timeout or a cut answer raises
``RetriableError(maybe_applied=True)``;
a 5xx answer is returned and :func:`~contactsync.http.errors.classify` turns it into the
same error. The caller must then look the record up before any second attempt.

Throttle (details in :mod:`contactsync.http.ratelimit`): a :class:`RateLimiter` per
client holds per-bucket state, waits before a bucket is predicted exhausted, reads
``X-RateLimit-*`` headers and learns an undocumented limit from the first 429.
A vendor's documented facts (budgets, bucket chooser, the window of quota headers
without a reset, what its bare statuses mean) come in as one :class:`VendorHttp`,
which the vendor's adapter declares (``contactsync.adapters.<vendor>.client``);
this module names no vendor. ``budgets`` replaces the documented budgets and
``rate_limit`` adds a configured one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from contactsync.http.auth import (
    AccessToken,
    BearerAuth,
    InMemoryTokenCache,
    OAuthClientCredentials,
    TokenCache,
)
from contactsync.http.budgets import (
    BucketChooser,
    Budget,
    endpoint_bucket,
    single_bucket,
)
from contactsync.http.circuit import Circuit, CircuitOpen
from contactsync.http.errors import Redactor
from contactsync.http.headers import (
    EXT_IDEMPOTENT,
    EXT_OPERATION,
    EXT_RATE_BUCKET,
    EXT_RECORD_ID,
    EXT_STATUS_HINTS,
    READ_ONLY,
    is_idempotent,
)
from contactsync.http.ratelimit import DEFAULT_BUDGET_MARGIN, RateLimiter
from contactsync.http.retry import NO_RETRY, RequestStats, RetryingTransport, RetryPolicy

USER_AGENT = "contactsync/0.1"


@dataclass(frozen=True)
class VendorHttp:
    """What the http layer is told about one vendor before its first request.

    ``budgets`` maps bucket names (``"*"``: every bucket) to documented client-side
    limits; ``bucket_for`` picks a request's bucket from (method, path relative to
    the base URL); ``quota_window`` is the window assumed for quota headers that
    carry no reset (None: unknown); ``status_hints`` says what a bare status means.
    """

    budgets: Mapping[str, Budget] = field(default_factory=dict)
    bucket_for: BucketChooser = single_bucket
    quota_window: float | None = None
    status_hints: Mapping[int, str] = field(default_factory=dict)

    def scaled_budgets(self, factor: float = 1.0) -> dict[str, Budget]:
        """The documented budgets with ``factor`` times the requests (a fast sandbox)."""
        return {name: budget.scaled(factor) for name, budget in self.budgets.items()}


UNDOCUMENTED = VendorHttp()
"""A vendor that documents no limit (its limit is learned from the first 429)."""


def _mark_hints(hints: Mapping[int, str], request: httpx.Request) -> None:
    request.extensions[EXT_STATUS_HINTS] = hints


class SystemClient(httpx.Client):
    """An ``httpx.Client`` that knows its system and exposes its throttle and counters."""

    def __init__(
        self,
        *,
        system: str,
        stats: RequestStats,
        limiter: RateLimiter,
        circuit: Circuit,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.system = system
        self.stats = stats
        self.limiter = limiter
        #: open once the credentials are refused; the engine closes it after each pass
        self.circuit = circuit

    def __repr__(self) -> str:
        return f"SystemClient(system={self.system!r}, base_url={str(self.base_url)!r})"


def build_client(
    system: str,
    *,
    base_url: str,
    auth: httpx.Auth | None,
    vendor: VendorHttp = UNDOCUMENTED,
    rate_scale: float = 1.0,
    timeout: float = 30.0,
    connect_timeout: float | None = 10.0,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    budgets: Mapping[str, Budget] | None = None,
    bucket_for: BucketChooser | None = None,
    read_rate_headers: bool = True,
    rate_limit: Budget | None = None,
    budget_margin: float = DEFAULT_BUDGET_MARGIN,
    quota_window: float | None = None,
    probe_concurrency: int | None = 1,
    retry: RetryPolicy | None = None,
    max_connections: int = 10,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    redact: Redactor | None = None,
    credentials_hint: str | None = None,
) -> SystemClient:
    """The client for ``system``; every request is throttled, retried and counted.

    ``vendor`` is what the vendor documents (its adapter's :class:`VendorHttp`;
    default: nothing). ``transport`` replaces the network (tests pass
    ``httpx.MockTransport``). ``budgets`` maps bucket names (``"*"`` for every
    bucket) to client-side limits; ``None`` means the vendor's, times
    ``rate_scale``; ``{}`` means none. ``bucket_for`` (default: the vendor's) picks
    a request's bucket from (method, path relative to ``base_url``).
    ``rate_limit`` is a configured budget for all the system's requests together
    (``[systems.<name>] rate_limit``), on top of ``budgets``. ``budget_margin``
    stretches every budget's period (5 %). ``quota_window`` is the window assumed
    for quota headers without a reset (default: the vendor's).
    ``probe_concurrency`` caps the requests in flight in a bucket whose limit is
    still unknown (None: no cap). See :mod:`contactsync.http.ratelimit`.
    ``credentials_hint`` names what to fix when the credentials are refused (the
    environment variable, never its value): see :mod:`contactsync.http.circuit`.
    """
    limiter = RateLimiter(
        system,
        budgets=vendor.scaled_budgets(rate_scale) if budgets is None else budgets,
        bucket_for=bucket_for or vendor.bucket_for,
        base_path=httpx.URL(base_url).path,
        read_headers=read_rate_headers,
        account_budget=rate_limit,
        budget_margin=budget_margin,
        quota_window=vendor.quota_window if quota_window is None else quota_window,
        probe_concurrency=probe_concurrency,
        clock=clock,
        sleep=sleep,
    )
    stats = RequestStats(system)
    circuit = Circuit(system, credentials_hint=credentials_hint)
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    inner = transport or httpx.HTTPTransport(retries=0, limits=limits)
    wrapped = RetryingTransport(
        system,
        inner,
        policy=retry or RetryPolicy(),
        limiter=limiter,
        stats=stats,
        clock=clock,
        sleep=sleep,
        rng=rng,
        redact=redact,
        circuit=circuit,
    )
    merged_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    merged_headers.update(headers or {})
    return SystemClient(
        system=system,
        stats=stats,
        limiter=limiter,
        circuit=circuit,
        base_url=base_url,
        auth=auth,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        headers=merged_headers,
        transport=wrapped,
        follow_redirects=False,
        event_hooks={"request": [partial(_mark_hints, vendor.status_hints)]},
    )


__all__ = [
    "EXT_IDEMPOTENT",
    "EXT_OPERATION",
    "EXT_RATE_BUCKET",
    "EXT_RECORD_ID",
    "NO_RETRY",
    "READ_ONLY",
    "UNDOCUMENTED",
    "AccessToken",
    "BearerAuth",
    "BucketChooser",
    "Budget",
    "Circuit",
    "CircuitOpen",
    "InMemoryTokenCache",
    "OAuthClientCredentials",
    "RateLimiter",
    "RequestStats",
    "RetryPolicy",
    "SystemClient",
    "TokenCache",
    "VendorHttp",
    "build_client",
    "endpoint_bucket",
    "is_idempotent",
    "single_bucket",
]
