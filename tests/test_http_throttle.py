"""The adaptive throttle: quota headers, client-side budgets, buckets, threads."""

from __future__ import annotations

import math
import random
import threading
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from contactsync.http import BearerAuth, Budget, RateLimiter, SystemClient, build_client
from contactsync.http_ratelimit import path_template, pylon_bucket

START = 1_750_000_000.0


class FakeClock:
    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class QuotaServer:
    """A vendor with a fixed-window quota that advertises X-RateLimit-* and answers 429 past it."""

    def __init__(self, clock: FakeClock, limit: int, window: float) -> None:
        self.clock, self.limit, self.window = clock, limit, window
        self.start: float | None = None
        self.used = 0
        self.statuses: list[int] = []
        self.sent_at: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.time()
        self.sent_at.append(now)
        if self.start is None or now - self.start >= self.window:
            self.start, self.used = now, 0
        reset = math.ceil(self.start + self.window)
        allowed = self.used < self.limit
        self.used += allowed
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self.used),
            "X-RateLimit-Reset": str(reset),
        }
        status = 200 if allowed else 429
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        self.statuses.append(status)
        return httpx.Response(status, json=[], headers=headers)


def client_for(
    system: str, handler: httpx.MockTransport, clock: FakeClock, **kwargs: object
) -> SystemClient:
    return build_client(
        system,
        base_url=str(kwargs.pop("base_url", "https://vendor.test")),
        auth=BearerAuth("t0ken-abc"),
        transport=handler,
        clock=clock.time,
        sleep=clock.sleep,
        rng=random.Random(1),
        **kwargs,  # type: ignore[arg-type]
    )


def quota_response(remaining: int, reset: float, limit: int = 3600) -> httpx.Response:
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
    }
    return httpx.Response(200, json=[], headers=headers)


def test_exhausted_quota_waits_for_the_reset_before_sending() -> None:
    clock = FakeClock()
    answers = iter([quota_response(0, START + 100), quota_response(3599, START + 3700)])
    client = client_for("xurrent", httpx.MockTransport(lambda r: next(answers)), clock)
    client.get("/people")
    assert clock.sleeps == []
    client.get("/people")
    assert clock.sleeps == [pytest.approx(100.5)]


def test_plenty_of_quota_means_no_waiting() -> None:
    clock = FakeClock()
    transport = httpx.MockTransport(lambda r: quota_response(3000, START + 3600))
    client = client_for("xurrent", transport, clock)
    for _ in range(10):
        client.get("/people")
    assert clock.sleeps == []


def test_low_quota_is_spread_over_the_time_left() -> None:
    clock = FakeClock()
    transport = httpx.MockTransport(lambda r: quota_response(10, START + 50, limit=100))
    client = client_for("xurrent", transport, clock)
    client.get("/people")
    client.get("/people")
    # 10 left of 100 (under 20 %), 50 s to the reset: spread over 11 steps.
    assert clock.sleeps == [pytest.approx(50 / 11)]


def test_a_run_against_a_quota_never_meets_a_429() -> None:
    clock = FakeClock()
    server = QuotaServer(clock, limit=10, window=60.0)
    client = client_for("pylon", httpx.MockTransport(server), clock, budgets={})
    for _ in range(30):
        assert client.get("/issues").status_code == 200
    assert 429 not in server.statuses
    assert len(server.statuses) == 30
    assert clock.now - START >= 120  # three windows' worth of requests
    for first in server.sent_at:
        in_window = [t for t in server.sent_at if first <= t < first + 60.0]
        assert len(in_window) <= 10


def test_xurrent_burst_limit_makes_the_21st_request_wait() -> None:
    clock = FakeClock()
    client = client_for("xurrent", httpx.MockTransport(lambda r: httpx.Response(200)), clock)
    for _ in range(20):
        client.get("/people")
    assert clock.sleeps == []
    client.get("/people")
    assert clock.sleeps == [pytest.approx(2.0)]


def test_pylon_budgets_are_per_endpoint_under_a_base_path() -> None:
    clock = FakeClock()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(200, json={})

    client = client_for(
        "pylon", httpx.MockTransport(handler), clock, base_url="http://sandbox.test/pylon"
    )
    for number in range(10):
        client.delete(f"/contacts/c-{number}")
    client.get("/contacts", params={"limit": 100})
    assert clock.sleeps == []
    client.delete("/contacts/c-10")
    assert clock.sleeps == [pytest.approx(60.0)]
    names = {view.name for view in client.limiter.view()}
    assert names == {"DELETE /contacts/{id}", "GET /contacts"}


def test_429_blocks_the_bucket_for_every_caller() -> None:
    clock = FakeClock()
    limiter = RateLimiter("rhythm", clock=clock.time, sleep=clock.sleep)
    limiter.acquire("default")
    limiter.observe("default", httpx.Response(429, headers={"Retry-After": "9"}))
    assert limiter.acquire("default") == pytest.approx(9.0)
    assert limiter.acquire("other") == 0.0


def test_threads_share_one_budget() -> None:
    waits: list[float] = []
    lock = threading.Lock()
    limiter = RateLimiter(
        "trackops", budgets={"*": Budget(10, 1.0)}, clock=lambda: START, sleep=lambda s: None
    )

    def work() -> None:
        for _ in range(10):
            wait = limiter.acquire("default")
            limiter.observe("default", httpx.Response(200))
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [0.0] * 10 + [1.0] * 10 + [2.0] * 10


def test_in_flight_requests_count_against_the_remaining_quota() -> None:
    clock = FakeClock()
    limiter = RateLimiter("xurrent", pace_below=0.0, clock=clock.time, sleep=clock.sleep)
    limiter.acquire("default")
    limiter.observe("default", quota_response(2, START + 30, limit=100))
    assert limiter.acquire("default") == 0.0  # two left: both may go ...
    assert limiter.acquire("default") == 0.0
    waited = limiter.acquire("default")  # ... but with both in flight, none is left
    assert waited == pytest.approx(30.5)


def test_bucket_names() -> None:
    assert path_template("/v1/contacts/123/notes") == "/v1/contacts/{id}/notes"
    assert path_template("/contacts/search") == "/contacts/search"
    assert pylon_bucket("delete", "/contacts/abc-def") == "DELETE /contacts/{id}"
    assert pylon_bucket("POST", "/contacts/search") == "POST /contacts/search"
    with pytest.raises(ValueError):
        Budget(0, 1.0)


def test_vendor_clock_skew_and_absurd_resets_are_corrected() -> None:
    clock = FakeClock()
    vendor_now = START - 600  # the vendor's clock is ten minutes behind ours
    skewed = quota_response(0, vendor_now + 100)
    skewed.headers["Date"] = format_datetime(
        datetime.fromtimestamp(vendor_now, tz=UTC), usegmt=True
    )
    limiter = RateLimiter("xurrent", clock=clock.time, sleep=clock.sleep)
    limiter.acquire("default")
    limiter.observe("default", skewed)
    assert limiter.acquire("default") == pytest.approx(100.5)

    limiter = RateLimiter("xurrent", max_reset_wait=3600, clock=clock.time, sleep=clock.sleep)
    limiter.acquire("default")
    limiter.observe("default", quota_response(0, clock.now + 365 * 86400))
    assert limiter.acquire("default") == pytest.approx(3600.5)
