"""A per-system throttle that slows down before the vendor says 429.

Each request falls in a *bucket* chosen by a callable ``(method, path) -> name``
(``path`` relative to the client's base URL; see :func:`endpoint_bucket`). A bucket
can carry two independent limits, and a request waits for the later of them:

- a client-side :class:`Budget` (``requests`` per ``per_seconds``), enforced as a
  sliding window, so no window of that length ever holds more than ``requests``
  sends (Xurrent's burst limit of 20 per 2 s, Pylon's documented per-endpoint
  per-minute limits, configured budgets for Trackops, Grow CRM and Rhythm);
- the vendor's quota headers (``X-RateLimit-Limit/Remaining/Reset``). Requests sent
  but not yet answered count against ``Remaining``. Above ``pace_below`` of the
  limit requests go at full speed; below it the remaining requests are spread
  evenly over the time to the reset; with none left the bucket waits for the reset.
  An epoch reset is corrected for the vendor's clock skew (its ``Date`` header) and
  never believed beyond ``max_reset_wait`` seconds.

A 429's ``Retry-After`` blocks the whole bucket (every thread) until it passes.
The throttle is thread-safe; the clock and the sleep function are injectable.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from contactsync.http_headers import (
    EXT_RATE_BUCKET,
    Quota,
    clock_skew,
    parse_retry_after,
    read_quota,
)

BucketChooser = Callable[[str, str], str]
DEFAULT_BUCKET = "default"
ANY_BUCKET = "*"


@dataclass(frozen=True)
class Budget:
    """At most ``requests`` sends in any window of ``per_seconds`` seconds."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError(f"a budget needs requests >= 1 and a positive period: {self}")

    def scaled(self, factor: float) -> Budget:
        """The same period with ``factor`` times the requests (at least one)."""
        return Budget(max(1, int(self.requests * factor)), self.per_seconds)


def single_bucket(method: str, path: str) -> str:
    """Every request in one bucket (one account-wide quota)."""
    return DEFAULT_BUCKET


def path_template(path: str) -> str:
    """``/contacts/123`` -> ``/contacts/{id}``: segments holding a digit become ``{id}``.

    Version segments such as ``v1`` are kept.
    """
    segments = []
    for segment in path.strip("/").split("/"):
        is_version = len(segment) <= 3 and segment[:1] == "v" and segment[1:].isdigit()
        has_digit = any(char.isdigit() for char in segment)
        segments.append("{id}" if has_digit and not is_version else segment)
    return "/" + "/".join(segment for segment in segments if segment)


def endpoint_bucket(method: str, path: str) -> str:
    """One bucket per endpoint: ``"GET /contacts/{id}"``."""
    return f"{method.upper()} {path_template(path)}"


def pylon_bucket(method: str, path: str) -> str:
    """Pylon's per-endpoint buckets; a contact id becomes ``{id}`` whatever it looks like."""
    parts = [part for part in path.split("/") if part]
    if parts and parts[0] == "contacts" and len(parts) == 2 and parts[1] != "search":
        return f"{method.upper()} /contacts/{{id}}"
    return endpoint_bucket(method, path)


@dataclass
class _Bucket:
    sent: deque[float] = field(default_factory=deque)
    last_planned: float = float("-inf")
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    in_flight: int = 0
    blocked_until: float = 0.0


@dataclass(frozen=True)
class BucketView:
    """A bucket's state, for run summaries and tests."""

    name: str
    limit: int | None
    remaining: int | None
    reset_at: float | None
    in_flight: int
    blocked_until: float


class RateLimiter:
    """Per-bucket throttle for one system; see the module docstring."""

    def __init__(
        self,
        system: str,
        *,
        budgets: Mapping[str, Budget] | None = None,
        bucket_for: BucketChooser = single_bucket,
        base_path: str = "",
        read_headers: bool = True,
        pace_below: float = 0.2,
        reset_margin: float = 0.5,
        max_reset_wait: float = 3600.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.budgets = dict(budgets or {})
        self.bucket_for = bucket_for
        self.base_path = base_path.rstrip("/")
        self.read_headers = read_headers
        self.pace_below = pace_below
        self.reset_margin = reset_margin
        self.max_reset_wait = max_reset_wait
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self.waits = 0
        self.waited_seconds = 0.0

    def bucket_name(self, request: httpx.Request) -> str:
        forced = request.extensions.get(EXT_RATE_BUCKET)
        if isinstance(forced, str) and forced:
            return forced
        path = request.url.path
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path) :] or "/"
        return self.bucket_for(request.method.upper(), path)

    def _budget(self, name: str) -> Budget | None:
        return self.budgets.get(name) or self.budgets.get(ANY_BUCKET)

    def acquire(self, name: str) -> float:
        """Reserve a send slot in bucket ``name``, sleeping until it comes; returns the wait."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(name, _Bucket())
            send_at = max(now, bucket.blocked_until)
            send_at = max(send_at, self._window_slot(bucket, self._budget(name), now))
            send_at = max(send_at, self._quota_slot(bucket, now))
            bucket.last_planned = max(bucket.last_planned, send_at)
            if self._budget(name) is not None:
                bucket.sent.append(send_at)
            bucket.in_flight += 1
            wait = send_at - now
            if wait > 0:
                self.waits += 1
                self.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    @staticmethod
    def _window_slot(bucket: _Bucket, budget: Budget | None, now: float) -> float:
        if budget is None:
            return now
        while bucket.sent and bucket.sent[0] <= now - budget.per_seconds:
            bucket.sent.popleft()
        if len(bucket.sent) < budget.requests:
            return max(now, bucket.sent[-1]) if bucket.sent else now
        return max(bucket.sent[-budget.requests] + budget.per_seconds, bucket.sent[-1])

    def _quota_slot(self, bucket: _Bucket, now: float) -> float:
        if bucket.remaining is None or bucket.reset_at is None:
            return now
        if bucket.reset_at <= now:  # the window has reset; wait for fresh headers
            bucket.remaining = bucket.reset_at = bucket.limit = None
            return now
        left = bucket.remaining - bucket.in_flight
        if left <= 0:
            return bucket.reset_at + self.reset_margin
        threshold = bucket.limit * self.pace_below if bucket.limit else 0.0
        if left > threshold:
            return now
        # Spread what is left evenly, the last one a step before the reset.
        spacing = (bucket.reset_at - now) / (left + 1)
        return max(now, bucket.last_planned + spacing)

    def observe(self, name: str, response: httpx.Response | None) -> None:
        """Account for the answer (or the failure, ``None``) to a request in bucket ``name``."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(name, _Bucket())
            bucket.in_flight = max(0, bucket.in_flight - 1)
            if response is None:
                return
            if self.read_headers:
                self._update_quota(bucket, response, now, self.max_reset_wait)
            if response.status_code == 429:
                delay = parse_retry_after(response.headers.get("Retry-After"), now)
                if delay is not None:
                    bucket.blocked_until = max(bucket.blocked_until, now + delay)
                elif bucket.reset_at is not None:
                    bucket.blocked_until = max(bucket.blocked_until, bucket.reset_at)

    @staticmethod
    def _update_quota(
        bucket: _Bucket, response: httpx.Response, now: float, max_wait: float
    ) -> None:
        quota = read_quota(response.headers, now)
        if quota is None:
            return
        reset_at = quota.reset_at
        if reset_at is not None:
            # The vendor's clock may differ from ours: shift its epoch reset by the
            # skew its Date header shows, and never believe a reset beyond max_wait.
            reset_at = min(reset_at + clock_skew(response, now), now + max_wait)
            quota = Quota(quota.limit, quota.remaining, reset_at)
        same_window = (
            bucket.remaining is not None
            and bucket.reset_at is not None
            and quota.reset_at is not None
            and abs(quota.reset_at - bucket.reset_at) < 1.5
        )
        # Answers to concurrent requests arrive out of order: within one window the
        # lowest remaining count is the freshest.
        bucket.remaining = (
            min(bucket.remaining, quota.remaining)
            if same_window and bucket.remaining is not None
            else quota.remaining
        )
        bucket.limit = quota.limit
        bucket.reset_at = quota.reset_at

    def view(self) -> list[BucketView]:
        with self._lock:
            return [
                BucketView(name, b.limit, b.remaining, b.reset_at, b.in_flight, b.blocked_until)
                for name, b in sorted(self._buckets.items())
            ]


# Documented limits. Pylon: per organization, per endpoint, per minute (OpenAPI
# descriptions). Xurrent: burst limit of 20 requests per 2 s; its hourly quota
# (3600/h) is read from the X-RateLimit headers.
PYLON_BUDGETS: dict[str, Budget] = {
    "GET /contacts": Budget(60, 60.0),
    "POST /contacts": Budget(60, 60.0),
    "GET /contacts/{id}": Budget(60, 60.0),
    "PATCH /contacts/{id}": Budget(60, 60.0),
    "POST /contacts/search": Budget(20, 60.0),
    "DELETE /contacts/{id}": Budget(10, 60.0),
}
XURRENT_BUDGETS: dict[str, Budget] = {ANY_BUCKET: Budget(20, 2.0)}
BUCKETS_BY_SYSTEM: dict[str, BucketChooser] = {"pylon": pylon_bucket}


def default_budgets(system: str, scale: float = 1.0) -> dict[str, Budget]:
    """The documented client-side budgets of ``system`` (none for undocumented ones).

    ``scale`` multiplies the requests allowed, e.g. for a sandbox with faster limits.
    """
    table = {"pylon": PYLON_BUDGETS, "xurrent": XURRENT_BUDGETS}.get(system, {})
    return {name: budget.scaled(scale) for name, budget in table.items()}


def default_bucket_for(system: str) -> BucketChooser:
    """Per-endpoint buckets for Pylon, one account-wide bucket elsewhere."""
    return BUCKETS_BY_SYSTEM.get(system, single_bucket)
