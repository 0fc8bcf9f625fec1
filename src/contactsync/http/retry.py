"""The transport under every client: throttle, retry, count.

The whole answer, body included, is read here, inside the retry: httpx would
otherwise read the body after the transport returned, and a connection cut in the
middle of it would escape every retry as a bare ``httpx`` exception.

Every transport failure is sorted once (:func:`sort_transport_error`):

- ``NOT_SENT``: the request never left (``ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``, a proxy refusing): retried for any method;
- ``MAYBE_SENT``: anything after the request may have reached the vendor (a read
  or write timeout, a read or write error, a ``RemoteProtocolError`` such as a body
  cut mid-stream): retried for idempotent requests only (GET, HEAD, OPTIONS, PUT,
  DELETE, and a POST marked ``idempotent``);
- ``FATAL``: our side is wrong (``UnsupportedProtocol``, ``LocalProtocolError``):
  never retried, raised as :class:`~contactsync.http.errors.FatalError`.

HTTP 408/5xx are retried for idempotent requests; HTTP 429 for any method, since a
429 means the vendor refused the request unprocessed (RFC 6585);
``RetryPolicy(retry_unsafe_on_429=False)`` turns that off.

A non-idempotent request (POST, PATCH) that may have reached the vendor is never
sent twice: a ``MAYBE_SENT`` failure raises :class:`~contactsync.http.errors.RetriableError`
with ``maybe_applied=True``, and a 5xx answer is returned as is, which
:func:`~contactsync.http.errors.classify` turns into the same error. The caller then
looks the record up (reconciles) before any second attempt.

Waits use exponential backoff with jitter, or the vendor's ``Retry-After`` when it
gives one; attempts and the total wait are both capped. When the cap is reached
the last answer is returned (or the last failure raised) for the caller to classify.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import httpx

from contactsync.http.auth import EXT_RENEWS_ON_401
from contactsync.http.circuit import Circuit
from contactsync.http.errors import (
    FatalError,
    Redactor,
    RetriableError,
    masking_redactor,
    request_secrets,
    transport_failure,
)
from contactsync.http.headers import (
    is_idempotent,
    operation_name,
    parse_retry_after,
    record_id_of,
)
from contactsync.http.ratelimit import RateLimiter

NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
#: failures that no retry can cure: the request itself cannot be sent as it is
FATAL_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)

#: headers describing the body as it came over the wire, no longer true once it is read
_BODY_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class TransportFault(Enum):
    """What a transport failure says about the request (see the module docstring)."""

    NOT_SENT = "not sent"
    MAYBE_SENT = "maybe sent"
    FATAL = "fatal"


def sort_transport_error(exc: httpx.TransportError) -> TransportFault:
    """The one place a transport failure is sorted into resendable or not."""
    if isinstance(exc, FATAL_ERRORS):
        return TransportFault.FATAL
    if isinstance(exc, NOT_SENT_ERRORS):
        return TransportFault.NOT_SENT
    return TransportFault.MAYBE_SENT


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``max_attempts`` counts the first try."""

    max_attempts: int = 5
    max_total_wait: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    retry_unsafe_on_429: bool = True

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed ``attempt`` (1-based): half fixed, half random ("equal jitter")."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


NO_RETRY = RetryPolicy(max_attempts=1, max_total_wait=0.0)


@dataclass
class RequestStats:
    """What one system's client sent, for run summaries (thread-safe)."""

    system: str
    sent: int = 0
    retries: int = 0
    transport_errors: int = 0
    retry_wait_seconds: float = 0.0
    by_status: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_sent(self) -> None:
        with self._lock:
            self.sent += 1

    def record_status(self, status: int) -> None:
        with self._lock:
            self.by_status[status] += 1

    def record_error(self) -> None:
        with self._lock:
            self.transport_errors += 1

    def record_retry(self, wait: float) -> None:
        with self._lock:
            self.retries += 1
            self.retry_wait_seconds += wait

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "system": self.system,
                "sent": self.sent,
                "retries": self.retries,
                "transport_errors": self.transport_errors,
                "retry_wait_seconds": round(self.retry_wait_seconds, 3),
                "by_status": dict(sorted(self.by_status.items())),
            }


class RetryingTransport(httpx.BaseTransport):
    """Wraps the real transport with the throttle, the retry policy and the counters."""

    def __init__(
        self,
        system: str,
        inner: httpx.BaseTransport,
        *,
        policy: RetryPolicy,
        limiter: RateLimiter,
        stats: RequestStats,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        redact: Redactor | None = None,
        circuit: Circuit | None = None,
    ) -> None:
        self.system = system
        #: consulted before each request, tripped on the answers (see http_circuit)
        self.circuit = circuit or Circuit(system)
        self.inner = inner
        self.policy = policy
        self.limiter = limiter
        self.stats = stats
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._redact = redact

    def _retry_wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        with self._rng_lock:
            return self.policy.backoff(attempt, self._rng)

    def _may_wait(self, attempt: int, waited: float, wait: float) -> bool:
        return attempt < self.policy.max_attempts and waited + wait <= self.policy.max_total_wait

    def _pause(self, wait: float) -> None:
        self.stats.record_retry(wait)
        if wait > 0:
            self._sleep(wait)

    def _status_is_retriable(self, request: httpx.Request, status: int) -> bool:
        if status not in self.policy.retry_statuses:
            return False
        if status == 429 and self.policy.retry_unsafe_on_429:
            return True
        return is_idempotent(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        idempotent = is_idempotent(request)
        bucket = self.limiter.bucket_name(request)
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            self.circuit.check()
            self.limiter.acquire(bucket)
            sent_at = self._clock()
            self.stats.record_sent()
            try:
                response = self._exchange(request)
            except httpx.TransportError as exc:
                self.limiter.observe(bucket, None, sent_at)
                self.stats.record_error()
                fault = sort_transport_error(exc)
                resendable = fault is TransportFault.NOT_SENT or (
                    fault is TransportFault.MAYBE_SENT and idempotent
                )
                wait = self._retry_wait(attempt, None)
                if resendable and self._may_wait(attempt, waited, wait):
                    self._pause(wait)
                    waited += wait
                    continue
                self.circuit.observe_failure()
                raise self._failure(request, exc, fault, idempotent) from exc
            except BaseException:
                self.limiter.observe(bucket, None, sent_at)  # never leave a slot held
                raise
            self.limiter.observe(bucket, response, sent_at)
            self.stats.record_status(response.status_code)
            if not self._status_is_retriable(request, response.status_code):
                if not (response.status_code == 401 and request.extensions.get(EXT_RENEWS_ON_401)):
                    self.circuit.observe_status(response.status_code)
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            wait = self._retry_wait(attempt, retry_after)
            if not self._may_wait(attempt, waited, wait):
                self.circuit.observe_status(response.status_code)
                return response
            self._pause(wait)
            waited += wait

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its whole body, so that a connection cut mid-body
        fails here, where it is retried, and not later in httpx's ``Client.send``. The
        answer is handed on decoded, as an in-memory body."""
        response = self.inner.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        headers = [
            (key, value)
            for key, value in response.headers.multi_items()
            if key.lower() not in _BODY_FRAMING
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=body,
            extensions=response.extensions,
            request=request,
        )

    def _failure(
        self,
        request: httpx.Request,
        exc: httpx.TransportError,
        fault: TransportFault,
        idempotent: bool,
    ) -> FatalError | RetriableError:
        if fault is TransportFault.FATAL:
            return FatalError(
                f"request cannot be sent ({type(exc).__name__})",
                system=self.system,
                operation=operation_name(request),
                record_id=record_id_of(request),
                vendor_message=str(exc) or None,
                redact=masking_redactor(request_secrets(request), self._redact),
            )
        return transport_failure(
            self.system,
            request,
            exc,
            maybe_applied=fault is TransportFault.MAYBE_SENT and not idempotent,
            redact=self._redact,
        )

    def close(self) -> None:
        self.inner.close()
