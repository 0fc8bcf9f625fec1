"""The adaptive throttle: quota headers, client-side budgets, buckets, threads."""

from __future__ import annotations

import math
import random
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from contactsync.adapters.pylon.client import pylon_bucket
from contactsync.adapters.registry import vendor
from contactsync.http.budgets import path_template
from contactsync.http.client import BearerAuth, Budget, RateLimiter, SystemClient, build_client

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
        vendor=vendor(system).http,  # what the vendor's adapter declares
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


def test_low_quota_of_a_long_window_is_spread_over_the_time_left() -> None:
    clock = FakeClock()
    transport = httpx.MockTransport(lambda r: quota_response(10, START + 550, limit=100))
    client = client_for("xurrent", transport, clock)
    client.get("/people")
    client.get("/people")
    # 10 left of 100 (under 20 %), 550 s to the reset: spread over 11 steps.
    assert clock.sleeps == [pytest.approx(550 / 11)]


def test_low_quota_of_a_short_window_goes_at_full_speed_then_waits() -> None:
    clock = FakeClock()
    server = QuotaServer(clock, limit=10, window=60.0)
    client = client_for("pylon", httpx.MockTransport(server), clock, budgets={})
    for _ in range(20):
        assert client.get("/issues").status_code == 200
    # The first window's ten go at once; the next ten as soon as it has reset.
    assert server.sent_at[:10] == [START] * 10
    assert server.sent_at[10:] == [pytest.approx(START + 60.5)] * 10


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


def test_xurrent_burst_limit_makes_the_21st_request_wait_with_the_margin() -> None:
    clock = FakeClock()
    client = client_for("xurrent", httpx.MockTransport(lambda r: httpx.Response(200)), clock)
    for _ in range(20):
        client.get("/people")
    assert clock.sleeps == []
    client.get("/people")
    # 20 per 2 s, the period stretched by the default 5 % margin
    assert clock.sleeps == [pytest.approx(2.1)]


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
    assert clock.sleeps == [pytest.approx(61.0)]  # 60 s and the margin (5 %, at most 1 s)
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
        "trackops",
        budgets={"*": Budget(10, 1.0)},
        budget_margin=0.0,
        clock=lambda: START,
        sleep=lambda s: None,
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


# --- limits the vendor does not document: assumed windows, learning, in-flight requests ---


class FixedWindowVendor:
    """A vendor whose fixed window opens with the first request after the last window
    ended (the sandbox's and Laravel's rule). ``headers``: ``"laravel"`` sends Limit and
    Remaining without a reset, ``"none"`` nothing; a 429 says ``Retry-After`` if asked."""

    def __init__(
        self,
        clock: FakeClock,
        limit: int,
        window: float,
        headers: str = "none",
        retry_after: bool = True,
    ) -> None:
        self.clock, self.limit, self.window = clock, limit, window
        self.headers, self.retry_after = headers, retry_after
        self.start: float | None = None
        self.used = 0
        self.log: list[tuple[float, float, int]] = []  # (window start, arrival, status)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.time()
        if self.start is None or now - self.start >= self.window:
            self.start, self.used = now, 0
        allowed = self.used < self.limit
        self.used += allowed
        headers: dict[str, str] = {}
        if self.headers == "laravel":
            headers["X-RateLimit-Limit"] = str(self.limit)
            headers["X-RateLimit-Remaining"] = str(self.limit - self.used)
        if not allowed and self.retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(self.start + self.window - now)))
        status = 200 if allowed else 429
        self.log.append((self.start, now, status))
        return httpx.Response(status, json=[], headers=headers)

    def per_window(self, status: int) -> list[int]:
        counts: dict[float, int] = {}
        for start, _, seen in self.log:
            counts[start] = counts.get(start, 0) + (seen == status)
        return list(counts.values())


def test_laravel_quota_without_a_reset_is_paced_to_an_assumed_window() -> None:
    """Grow CRM: Limit and Remaining but no reset; the window is assumed to be 60 s."""
    clock = FakeClock()
    vendor = FixedWindowVendor(clock, limit=10, window=60.0, headers="laravel")
    client = client_for("growcrm", httpx.MockTransport(vendor), clock)
    for _ in range(35):
        assert client.get("/contacts").status_code == 200
    assert [status for _, _, status in vendor.log].count(429) == 0
    assert vendor.per_window(200) == [10, 10, 10, 5]
    assert clock.now - START == pytest.approx(3 * 60.5)  # each window waited out once


def test_an_undocumented_limit_is_learned_from_the_first_429() -> None:
    """Trackops: no headers. The first 429 teaches the budget; no 429 after it."""
    clock = FakeClock()
    vendor = FixedWindowVendor(clock, limit=10, window=60.0, headers="none")
    client = client_for("trackops", httpx.MockTransport(vendor), clock)
    for _ in range(35):
        assert client.get("/client/contacts").status_code == 200
    assert vendor.per_window(429) == [1, 0, 0, 0]
    assert vendor.per_window(200) == [10, 10, 10, 5]
    [bucket] = client.limiter.view()
    assert bucket.learned == Budget(10, 60.0)  # the requests let through, the window seen


def test_a_429_without_retry_after_holds_the_bucket_for_the_known_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter("growcrm", quota_window=60.0, clock=clock.time, sleep=clock.sleep)
    limiter.acquire("default")
    limiter.observe("default", httpx.Response(429))
    assert limiter.acquire("default") == pytest.approx(60.0)

    unknown = RateLimiter("trackops", clock=clock.time, sleep=clock.sleep)
    unknown.acquire("default")
    unknown.observe("default", httpx.Response(429))
    assert unknown.acquire("default") == 0.0  # nothing to go on: the retry's backoff decides


def test_while_the_limit_is_unknown_one_request_is_in_flight_at_a_time() -> None:
    limiter = RateLimiter("trackops")
    limiter.acquire("default")  # in flight
    second_sent = threading.Event()
    waiter = threading.Thread(target=lambda: (limiter.acquire("default"), second_sent.set()))
    waiter.start()
    assert not second_sent.wait(0.2), "a second request went out beside the first"
    limiter.observe("default", httpx.Response(200))
    assert second_sent.wait(5)
    waiter.join(5)
    # Quota headers make the limit known: the cap goes.
    limiter.observe("default", quota_response(50, time.time() + 60, limit=60))
    both = threading.Thread(target=lambda: [limiter.acquire("default") for _ in range(2)])
    both.start()
    both.join(5)
    assert not both.is_alive()
    assert limiter.view()[0].in_flight == 2


def test_a_sender_asleep_when_a_429_arrives_plans_again() -> None:
    """After the first refusal no request is sent in that window: a sender already
    waiting for its budget slot wakes up, sees the block and waits for its end."""
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        if not answered:  # meanwhile the request in flight is refused
            answered.append(True)
            limiter.observe("default", httpx.Response(429, headers={"Retry-After": "30"}))
        clock.sleep(seconds)

    answered: list[bool] = []
    limiter = RateLimiter(
        "x", budgets={"*": Budget(1, 10.0)}, budget_margin=0.0, clock=clock.time, sleep=sleep
    )
    assert limiter.acquire("default") == 0.0  # in flight
    assert limiter.acquire("default") == pytest.approx(30.0)  # not 10: the block came
    assert clock.sleeps == [pytest.approx(10.0), pytest.approx(20.0)]
    assert limiter.view()[0].in_flight == 1


def test_429s_of_requests_already_in_flight_are_learned_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter("trackops", probe_concurrency=None, clock=clock.time, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire("default")
        limiter.observe("default", httpx.Response(200))
    limiter.acquire("default")
    limiter.acquire("default")  # two in flight when the limit is met
    refused = httpx.Response(429, headers={"Retry-After": "55"})
    limiter.observe("default", refused)
    limiter.observe("default", refused)
    [bucket] = limiter.view()
    assert bucket.learned == Budget(5, 55.0)
    assert bucket.blocked_until == pytest.approx(START + 55)


def test_answers_from_an_assumed_window_that_ended_do_not_open_the_next() -> None:
    clock = FakeClock()
    limiter = RateLimiter("growcrm", quota_window=60.0, clock=clock.time, sleep=clock.sleep)
    laravel = {"X-RateLimit-Limit": "10"}
    limiter.acquire("default")
    limiter.observe(
        "default", httpx.Response(200, headers={**laravel, "X-RateLimit-Remaining": "5"})
    )
    limiter.acquire("default")  # sent at START, answered late
    clock.now = START + 61  # the assumed window (START .. START + 60) is over
    assert limiter.acquire("default") == 0.0
    stale = httpx.Response(200, headers={**laravel, "X-RateLimit-Remaining": "0"})
    limiter.observe("default", stale, sent_at=START)
    assert limiter.acquire("default") == 0.0  # the stale 0 did not close the new window


def test_the_budget_margin_is_configurable() -> None:
    for margin, wait in ((0.0, 2.0), (0.25, 2.5)):
        clock = FakeClock()
        transport = httpx.MockTransport(lambda r: httpx.Response(200))
        client = client_for("xurrent", transport, clock, budget_margin=margin)
        for _ in range(21):
            client.get("/people")
        assert clock.sleeps == [pytest.approx(wait)]


@pytest.mark.parametrize(
    ("per_seconds", "waited"),
    [(2.0, 2.1), (20.0, 21.0), (60.0, 61.0), (3600.0, 3601.0)],
)
def test_the_budget_margin_is_at_most_a_second(per_seconds: float, waited: float) -> None:
    """5 % of the window, but jitter does not grow with the window: a minute's budget
    waits one second more than the window, not three (an hour's, not three minutes)."""
    clock = FakeClock()
    limiter = RateLimiter(
        "x", budgets={"*": Budget(2, per_seconds)}, clock=clock.time, sleep=clock.sleep
    )
    for _ in range(3):
        limiter.acquire("default")
        limiter.observe("default", httpx.Response(200))
    assert clock.sleeps == [pytest.approx(waited)]


def test_a_configured_rate_limit_counts_every_bucket_together() -> None:
    clock = FakeClock()
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={}))
    client = client_for("pylon", transport, clock, budgets={}, rate_limit=Budget(3, 10.0))
    client.get("/contacts")
    client.post("/contacts/search", json={})
    client.delete("/contacts/c-1")
    assert clock.sleeps == []
    client.get("/contacts/c-2")
    assert clock.sleeps == [pytest.approx(10.5)]
    assert len(client.limiter.view()) == 4  # four endpoint buckets, one shared budget


def test_a_request_that_crashes_releases_its_slot() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in a transport")
        return httpx.Response(200)

    client = client_for("trackops", httpx.MockTransport(handler), FakeClock())
    with pytest.raises(RuntimeError):
        client.get("/client/contacts")
    second = threading.Thread(target=lambda: client.get("/client/contacts"))
    second.start()
    second.join(5)
    assert not second.is_alive(), "the crashed request kept the only probing slot"
    assert len(calls) == 2


def test_an_interrupted_wait_gives_its_slot_back() -> None:
    clock = FakeClock()

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    limiter = RateLimiter("x", budgets={"*": Budget(1, 10.0)}, clock=clock.time, sleep=interrupted)
    limiter.acquire("default")
    limiter.observe("default", httpx.Response(200))
    with pytest.raises(KeyboardInterrupt):
        limiter.acquire("default")
    assert limiter.view()[0].in_flight == 0
    clock.now += 10.5
    assert limiter.acquire("default") == 0.0  # the interrupted slot was not counted
