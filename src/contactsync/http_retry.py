"""The transport under every client: throttle, retry, count.

What is retried (see :class:`RetryPolicy`):

- a failure before the request left (``ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``): any method, since nothing reached the vendor;
- a read timeout, a broken connection or an HTTP 408/5xx: idempotent requests
  only (GET, HEAD, OPTIONS, PUT, DELETE, and a POST marked ``idempotent``);
- HTTP 429: any method, since a 429 means the vendor refused the request
  unprocessed (RFC 6585); ``RetryPolicy(retry_unsafe_on_429=False)`` turns that off.

A non-idempotent request (POST, PATCH) that may have reached the vendor is never
sent twice: a read timeout raises :class:`~contactsync.errors.RetriableError`
with ``maybe_applied=True``, and a 5xx answer is returned as is, which
:func:`~contactsync.errors.classify` turns into the same error. The caller then
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

import httpx

from contactsync.errors import Redactor, transport_failure
from contactsync.http_headers import is_idempotent, parse_retry_after
from contactsync.http_ratelimit import RateLimiter

NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


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
    ) -> None:
        self.system = system
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
            self.limiter.acquire(bucket)
            sent_at = self._clock()
            self.stats.record_sent()
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError as exc:
                self.limiter.observe(bucket, None, sent_at)
                self.stats.record_error()
                reached_vendor = not isinstance(exc, NOT_SENT_ERRORS)
                wait = self._retry_wait(attempt, None)
                if (idempotent or not reached_vendor) and self._may_wait(attempt, waited, wait):
                    self._pause(wait)
                    waited += wait
                    continue
                raise transport_failure(
                    self.system,
                    request,
                    exc,
                    maybe_applied=reached_vendor and not idempotent,
                    redact=self._redact,
                ) from exc
            except BaseException:
                self.limiter.observe(bucket, None, sent_at)  # never leave a slot held
                raise
            self.limiter.observe(bucket, response, sent_at)
            self.stats.record_status(response.status_code)
            if not self._status_is_retriable(request, response.status_code):
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            wait = self._retry_wait(attempt, retry_after)
            if not self._may_wait(attempt, waited, wait):
                return response
            response.close()
            self._pause(wait)
            waited += wait

    def close(self) -> None:
        self.inner.close()
