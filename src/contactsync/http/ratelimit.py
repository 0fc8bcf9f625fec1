"""A per-system throttle that slows down before the vendor says 429, and learns when it does.

Each request falls in a *bucket* chosen by a callable ``(method, path) -> name``
(``path`` relative to the client's base URL; see
:func:`~contactsync.http.budgets.endpoint_bucket`). A request waits for the latest of:

- a client-side :class:`~contactsync.http.budgets.Budget` per bucket (``requests``
  per ``per_seconds``), enforced as a sliding window (Xurrent's burst limit, Pylon's
  per-endpoint limits); an ``account_budget`` (a configured ``rate_limit``) counts
  the sends of all buckets together. Every budget's period is stretched by
  ``budget_margin`` (5 %), at most ``budget_margin_cap`` seconds (1 s): the client
  counts a request when it leaves, the vendor when it arrives, and network jitter
  must not push one more into a vendor window. Jitter does not grow with the window,
  so a minute's budget waits one second more, not three (an hour's, not three minutes);
- the vendor's quota headers (``X-RateLimit-Limit/Remaining/Reset``). Requests sent
  but not yet answered count against ``Remaining``. Above ``pace_below`` of the
  limit requests go at full speed; below it, in a window that resets more than
  ``spread_beyond`` seconds (2 min) from now (an hourly quota), the remaining requests
  are spread evenly over the time to the reset, so a long window is not emptied and
  then waited out; a shorter window is used at full speed, since spreading its last
  requests gains no throughput and delays the end of a run by up to a window (and a
  budget's sliding window then repeats the spread in every later window). With none
  left the bucket waits for the reset.
  An epoch reset is corrected for the vendor's clock skew (its ``Date`` header) and
  never believed beyond ``max_reset_wait`` seconds. A vendor that sends Limit and
  Remaining without a reset (Laravel: Grow CRM) gets an assumed window of
  ``quota_window`` seconds, started at the first answer seen after the last one
  ended (a conservative estimate: the true window started no later);
- a 429: its ``Retry-After`` (else the header reset, else ``quota_window``) blocks
  the bucket for every thread. A thread already sleeping towards a planned send
  re-plans when a 429 arrives meanwhile, so after the first refusal no further
  request is *sent* in that window;
- a learned budget: on a 429 the requests of this bucket answered without a 429
  since the last block (the *epoch*), and sent inside the vendor's window (its
  length ``quota_window`` or a budget's period when known, else from the epoch's
  first send to the reset), are the limit: the bucket paces to ``Budget(that count,
  that window)`` from then on;
- a concurrency cap: while a bucket knows nothing of its limit (no budget, no quota
  header seen, nothing learned), at most ``probe_concurrency`` (1) of its requests
  are in flight, so the request that meets an undocumented limit is the only one
  refused; once the limit is known the cap goes.

The throttle is thread-safe; the clock and the sleep function are injectable.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from contactsync.http.budgets import ANY_BUCKET, BucketChooser, Budget, single_bucket
from contactsync.http.headers import (
    EXT_RATE_BUCKET,
    Quota,
    clock_skew,
    parse_retry_after,
    read_quota,
)

DEFAULT_BUDGET_MARGIN = 0.05
#: the most, in seconds, that the margin stretches a budget's period
DEFAULT_BUDGET_MARGIN_CAP = 1.0
MAX_LEARN_WINDOW = 3600.0


@dataclass
class _Bucket:
    sent: deque[float] = field(default_factory=deque)  # planned send times, in order
    last_planned: float = float("-inf")
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    reset_estimated: bool = False
    estimate_ended: float = float("-inf")  # answers to earlier sends belong to an old window
    knows_quota: bool = False
    in_flight: int = 0
    blocked_until: float = 0.0
    blocks: int = 0  # bumped on every 429 block: sleeping senders re-plan
    epoch_start: float | None = None  # first send since the last block
    accepted: deque[float] = field(default_factory=deque)  # send times answered without 429
    learned: Budget | None = None


@dataclass(frozen=True)
class BucketView:
    """A bucket's state, for run summaries and tests."""

    name: str
    limit: int | None
    remaining: int | None
    reset_at: float | None
    in_flight: int
    blocked_until: float
    learned: Budget | None = None


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
        spread_beyond: float = 120.0,
        reset_margin: float = 0.5,
        max_reset_wait: float = 3600.0,
        account_budget: Budget | None = None,
        budget_margin: float = DEFAULT_BUDGET_MARGIN,
        budget_margin_cap: float = DEFAULT_BUDGET_MARGIN_CAP,
        quota_window: float | None = None,
        probe_concurrency: int | None = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if budget_margin < 0 or budget_margin_cap < 0:
            raise ValueError("budget_margin and budget_margin_cap must be >= 0")
        if quota_window is not None and quota_window <= 0:
            raise ValueError("quota_window must be positive")
        if probe_concurrency is not None and probe_concurrency < 1:
            raise ValueError("probe_concurrency must be at least 1 (None: no cap)")
        self.system = system
        self.budgets = dict(budgets or {})
        self.bucket_for = bucket_for
        self.base_path = base_path.rstrip("/")
        self.read_headers = read_headers
        self.pace_below = pace_below
        self.spread_beyond = spread_beyond
        self.reset_margin = reset_margin
        self.max_reset_wait = max_reset_wait
        self.account_budget = account_budget
        self.budget_margin = budget_margin
        self.budget_margin_cap = budget_margin_cap
        self.quota_window = quota_window
        self.probe_concurrency = probe_concurrency
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._account_sent: deque[float] = deque()
        self._cond = threading.Condition(threading.Lock())
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

    def _probing(self, name: str, bucket: _Bucket) -> bool:
        """True while nothing is known of the bucket's limit (the concurrency cap holds)."""
        known = (
            bucket.knows_quota
            or bucket.learned is not None
            or self.account_budget is not None
            or self._budget(name) is not None
        )
        return self.probe_concurrency is not None and not known

    # --- sending ---------------------------------------------------------------------

    def acquire(self, name: str) -> float:
        """Reserve a send slot in bucket ``name``, sleeping until it comes; returns the wait."""
        waited = 0.0
        with self._cond:
            bucket = self._buckets.setdefault(name, _Bucket())
            while True:
                while self._probing(name, bucket) and bucket.in_flight >= (
                    self.probe_concurrency or 1
                ):
                    self._cond.wait()
                now = self._clock()
                send_at = self._plan(name, bucket, now)
                self._reserve(bucket, send_at)
                wait = send_at - now
                if wait <= 0:
                    break
                blocks = bucket.blocks
                self.waits += 1
                self.waited_seconds += wait
                self._cond.release()
                try:
                    self._sleep(wait)
                except BaseException:
                    self._cond.acquire()
                    self._cancel(bucket, send_at)  # interrupted: the slot is not used
                    raise
                self._cond.acquire()
                waited += wait
                if bucket.blocks == blocks or bucket.blocked_until <= self._clock():
                    break
                self._cancel(bucket, send_at)  # a 429 came while asleep: plan again
            if bucket.epoch_start is None:
                bucket.epoch_start = send_at
        return waited

    def _plan(self, name: str, bucket: _Bucket, now: float) -> float:
        send_at = max(now, bucket.blocked_until)
        for budget in (self._budget(name), bucket.learned):
            if budget is not None:
                send_at = max(send_at, self._window_slot(bucket.sent, budget, now))
        if self.account_budget is not None:
            send_at = max(send_at, self._window_slot(self._account_sent, self.account_budget, now))
        return max(send_at, self._quota_slot(bucket, now))

    def _reserve(self, bucket: _Bucket, send_at: float) -> None:
        bucket.last_planned = max(bucket.last_planned, send_at)
        horizon = self._clock() - max([0.0, *(self._period(b) for b in self._all_budgets())])
        for log in (bucket.sent, self._account_sent):
            while log and log[0] < horizon:  # only budgets look back, never further
                log.popleft()
        bucket.sent.append(send_at)
        if self.account_budget is not None:
            self._account_sent.append(send_at)
        bucket.in_flight += 1

    def _cancel(self, bucket: _Bucket, send_at: float) -> None:
        bucket.in_flight = max(0, bucket.in_flight - 1)
        for log in (bucket.sent, self._account_sent):
            if send_at in log:
                log.remove(send_at)
        self._cond.notify_all()

    def _period(self, budget: Budget) -> float:
        margin = min(budget.per_seconds * self.budget_margin, self.budget_margin_cap)
        return budget.per_seconds + margin

    def _window_slot(self, sent: deque[float], budget: Budget, now: float) -> float:
        """The earliest send, after every planned one, that keeps ``budget`` in any window."""
        period = self._period(budget)
        if not sent:
            return now
        if len(sent) < budget.requests:
            return max(now, sent[-1])
        return max(now, sent[-budget.requests] + period, sent[-1])

    def _all_budgets(self) -> list[Budget]:
        found = [*self.budgets.values(), *(b.learned for b in self._buckets.values() if b.learned)]
        return found + ([self.account_budget] if self.account_budget else [])

    def _expire(self, bucket: _Bucket, now: float) -> None:
        """Forget a quota window that has reset (fresh headers will come)."""
        if bucket.reset_at is not None and bucket.reset_at <= now:
            if bucket.reset_estimated:
                bucket.estimate_ended = bucket.reset_at
            bucket.remaining = bucket.reset_at = bucket.limit = None
            bucket.reset_estimated = False

    def _quota_slot(self, bucket: _Bucket, now: float) -> float:
        self._expire(bucket, now)
        if bucket.remaining is None or bucket.reset_at is None:
            return now
        left = bucket.remaining - bucket.in_flight
        if left <= 0:
            return bucket.reset_at + self.reset_margin
        threshold = bucket.limit * self.pace_below if bucket.limit else 0.0
        if left > threshold or bucket.reset_at - now <= self.spread_beyond:
            return now
        # Spread what is left evenly, the last one a step before the reset.
        spacing = (bucket.reset_at - now) / (left + 1)
        return max(now, bucket.last_planned + spacing)

    # --- answers ---------------------------------------------------------------------

    def observe(
        self, name: str, response: httpx.Response | None, sent_at: float | None = None
    ) -> None:
        """Account for the answer (or the failure, ``None``) to a request in bucket ``name``
        sent at ``sent_at`` (default: now)."""
        with self._cond:
            now = self._clock()
            sent = now if sent_at is None else sent_at
            bucket = self._buckets.setdefault(name, _Bucket())
            bucket.in_flight = max(0, bucket.in_flight - 1)
            self._cond.notify_all()
            if response is None:
                return
            if self.read_headers:
                self._update_quota(bucket, response, now, sent)
            if response.status_code == 429:
                self._refused(name, bucket, response, now)
            elif bucket.epoch_start is not None and sent >= bucket.epoch_start:
                bucket.accepted.append(sent)
                while bucket.accepted[0] < now - MAX_LEARN_WINDOW:
                    bucket.accepted.popleft()

    def _refused(self, name: str, bucket: _Bucket, response: httpx.Response, now: float) -> None:
        delay = parse_retry_after(response.headers.get("Retry-After"), now)
        if delay is not None:
            reset_at: float | None = now + delay
        elif bucket.reset_at is not None and bucket.reset_at > now:
            reset_at = bucket.reset_at
        elif self.quota_window is not None:
            reset_at = now + self.quota_window
        else:
            reset_at = None  # the retry's backoff is all there is to go on
        if reset_at is None:
            return
        bucket.blocked_until = max(bucket.blocked_until, reset_at)
        bucket.blocks += 1
        self._learn(name, bucket, reset_at)

    def _window_hint(self, name: str) -> float | None:
        """The vendor window's length when known: assumed, or a known budget's period."""
        if self.quota_window is not None:
            return self.quota_window
        for budget in (self._budget(name), self.account_budget):
            if budget is not None:
                return budget.per_seconds
        return None

    def _learn(self, name: str, bucket: _Bucket, reset_at: float) -> None:
        """The requests accepted in the vendor's window before this 429 are its limit."""
        start = bucket.epoch_start
        accepted = bucket.accepted
        bucket.epoch_start, bucket.accepted = None, deque()  # a new epoch after the block
        if start is None:
            return  # a second 429 of the same window: learnt already
        window = self._window_hint(name) or min(reset_at - start, MAX_LEARN_WINDOW)
        opened = max(start, reset_at - window)
        count = sum(1 for sent in accepted if sent >= opened)
        if count >= 1 and window > 0:
            bucket.learned = Budget(count, window)

    def _update_quota(
        self, bucket: _Bucket, response: httpx.Response, now: float, sent_at: float
    ) -> None:
        quota = read_quota(response.headers, now)
        if quota is None:
            return
        bucket.knows_quota = True
        self._expire(bucket, now)
        if quota.reset_at is None:
            self._estimate_window(bucket, quota, now, sent_at)
            return
        # The vendor's clock may differ from ours: shift its epoch reset by the skew its
        # Date header shows, and never believe a reset beyond max_reset_wait.
        reset_at = min(quota.reset_at + clock_skew(response, now), now + self.max_reset_wait)
        same_window = (
            bucket.remaining is not None
            and bucket.reset_at is not None
            and not bucket.reset_estimated
            and abs(reset_at - bucket.reset_at) < 1.5
        )
        # Answers to concurrent requests arrive out of order: within one window the
        # lowest remaining count is the freshest.
        bucket.remaining = (
            min(bucket.remaining, quota.remaining)
            if same_window and bucket.remaining is not None
            else quota.remaining
        )
        bucket.limit = quota.limit
        bucket.reset_at = reset_at
        bucket.reset_estimated = False

    def _estimate_window(self, bucket: _Bucket, quota: Quota, now: float, sent_at: float) -> None:
        """Limit and Remaining without a reset: assume a window of ``quota_window``."""
        if bucket.reset_at is not None:  # a window is running: the lowest count is freshest
            fresher = quota.remaining if bucket.remaining is None else bucket.remaining
            bucket.remaining = min(fresher, quota.remaining)
            bucket.limit = quota.limit or bucket.limit
            return
        if self.quota_window is None or sent_at < bucket.estimate_ended:
            return  # no window to assume, or an answer from the window that just ended
        bucket.remaining, bucket.limit = quota.remaining, quota.limit
        bucket.reset_at = now + self.quota_window
        bucket.reset_estimated = True

    def view(self) -> list[BucketView]:
        with self._cond:
            return [
                BucketView(
                    name, b.limit, b.remaining, b.reset_at, b.in_flight, b.blocked_until, b.learned
                )
                for name, b in sorted(self._buckets.items())
            ]
