"""Rate-limit buckets and fault injection of the simulators (seeded, reproducible)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Bucket:
    """A rate-limit bucket: ``limit`` requests per ``window`` seconds (documented values)."""

    name: str
    limit: int
    window: float


@dataclass
class BucketState:
    bucket: Bucket
    limit: int
    remaining: int
    reset_at: float
    allowed: bool


class RateLimiter:
    """Fixed-window counters keyed by bucket name; limits are scaled by the sandbox options."""

    def __init__(self, factor: float, clock: Callable[[], float] = time.time) -> None:
        self.factor = factor
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: Bucket) -> BucketState:
        limit = max(1, int(bucket.limit * self.factor))
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(bucket.name, (now, 0))
            if now - start >= bucket.window:
                start, used = now, 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[bucket.name] = (start, used)
        return BucketState(bucket, limit, max(0, limit - used), start + bucket.window, allowed)


FaultKind = Literal["error_500", "error_503", "drop_after", "slow"]
FAULT_KINDS: tuple[FaultKind, ...] = ("error_500", "error_503", "drop_after", "slow")


class FaultInjector:
    """Decides, seeded and reproducibly, which requests fail and how."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._rng = random.Random(seed * 7919 + 17)
        self._lock = threading.Lock()

    def pick(self) -> FaultKind | None:
        if self.rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            return self._rng.choice(FAULT_KINDS)
