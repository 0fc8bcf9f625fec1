"""The shared sandbox machinery: options, clock, store, rate limits, faults, middleware."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from contactsync_sandbox.common import (
    FAULT_KINDS,
    Bucket,
    DroppedConnection,
    FaultInjector,
    KeyIndex,
    RateLimiter,
    SandboxClock,
    SandboxOptions,
    VendorStore,
    build_app,
)
from tests.sandbox.helpers import AUTH, MakeFake


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("mode", "scale", "factor"),
    [("off", None, None), ("vendor", None, 1.0), ("fast", None, 100.0), ("vendor", 0.01, 0.01)],
)
def test_limit_factor_follows_the_mode(
    mode: str, scale: float | None, factor: float | None
) -> None:
    options = SandboxOptions(rate_limits=mode, rate_scale=scale)  # type: ignore[arg-type]
    assert options.limit_factor == factor


def test_credential_falls_back_to_the_default() -> None:
    options = SandboxOptions(credentials={"pylon_token": "mine"})
    assert options.credential("pylon_token", "default") == "mine"
    assert options.credential("growcrm_token", "default") == "default"


def test_clock_is_strictly_increasing_even_when_time_goes_back() -> None:
    clock = SandboxClock()
    first = clock.now()
    clock.offset = timedelta(hours=-1)
    later = [clock.now() for _ in range(100)]
    assert all(b > a for a, b in zip([first, *later], later, strict=False))
    assert first.tzinfo is not None


def test_store_reset_returns_to_the_frozen_seed() -> None:
    store = VendorStore()
    store.records["1"] = {"name": "Ada", "tags": ["a"]}
    store.truth["1"] = "P000001"
    store.freeze_seed()
    store.records["1"]["tags"].append("b")
    store.records["2"] = {"name": "Bob"}
    store.deleted.add("1")
    store.truth["2"] = "P000002"
    assert [r["name"] for r in store.live()] == ["Bob"]
    store.reset()
    assert store.records == {"1": {"name": "Ada", "tags": ["a"]}}
    assert store.deleted == set()
    assert store.truth == {"1": "P000001"}


def _email_key(record: dict[str, object]) -> str | None:
    return str(record.get("email") or "").casefold() or None


def test_key_index_finds_by_key_and_follows_the_store() -> None:
    store = VendorStore()
    store.records = {"2": {"email": "A@x.test"}, "10": {"email": "a@x.test"}, "3": {}}
    index = KeyIndex(store, _email_key)
    assert index.find("a@x.test") == "2"  # the lowest id of several
    assert index.find("a@x.test", ignore="2") == "10"
    assert index.find("b@x.test") is None
    store.records["4"] = {"email": "b@x.test"}  # added without a touch: found anyway
    assert index.find("b@x.test") == "4"
    store.deleted.add("4")
    assert index.find("b@x.test") is None
    assert index.find("b@x.test", include_deleted=True) == "4"


def test_key_index_follows_touched_changes_and_never_believes_a_stale_entry() -> None:
    store = VendorStore()
    store.records = {"1": {"email": "a@x.test"}}
    store.freeze_seed()
    index = KeyIndex(store, _email_key)
    assert index.find("a@x.test") == "1"
    store.records["1"]["email"] = "c@x.test"  # changed in place, not touched yet
    assert index.find("a@x.test") is None
    index.touch("1")
    assert index.find("c@x.test") == "1"
    store.reset()  # a reset store is indexed afresh
    assert index.find("a@x.test") == "1"
    assert index.find("c@x.test") is None


def test_rate_limiter_allows_the_limit_per_window_then_refuses() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    bucket = Bucket("list", 10, 60.0)
    states = [limiter.hit(bucket) for _ in range(12)]
    assert [s.allowed for s in states] == [True] * 10 + [False, False]
    assert [s.remaining for s in states[:3]] == [9, 8, 7]
    assert states[-1].reset_at == pytest.approx(1_060.0)
    clock.now += 60.0
    assert limiter.hit(bucket).allowed


def test_rate_limiter_scales_limits_and_keeps_buckets_apart() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.5, clock=clock)
    reads, writes = Bucket("read", 10, 60.0), Bucket("write", 4, 60.0)
    assert sum(limiter.hit(reads).allowed for _ in range(20)) == 5
    assert sum(limiter.hit(writes).allowed for _ in range(20)) == 2
    assert limiter.hit(Bucket("tiny", 1, 60.0)).limit == 1  # never scaled below one


def test_rate_limiter_admits_the_documented_rate_over_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    bucket = Bucket("minute", 60, 60.0)
    allowed = 0
    for _ in range(3_000):  # ten requests a second for five minutes
        allowed += limiter.hit(bucket).allowed
        clock.now += 0.1
    assert 290 <= allowed <= 310  # 60 a minute


def test_fault_injector_hits_the_configured_rate_with_every_kind() -> None:
    injector = FaultInjector(0.2, seed=3)
    picks = [injector.pick() for _ in range(5_000)]
    faults = [p for p in picks if p is not None]
    assert 0.18 <= len(faults) / len(picks) <= 0.22
    kinds = Counter(faults)
    assert set(kinds) == set(FAULT_KINDS)
    assert min(kinds.values()) > len(faults) / len(FAULT_KINDS) * 0.7


def test_fault_injector_is_reproducible_per_seed() -> None:
    a, b, c = FaultInjector(0.3, seed=11), FaultInjector(0.3, seed=11), FaultInjector(0.3, seed=12)
    run_a = [a.pick() for _ in range(300)]
    assert run_a == [b.pick() for _ in range(300)]
    assert run_a != [c.pick() for _ in range(300)]


def test_no_faults_at_rate_zero() -> None:
    injector = FaultInjector(0.0, seed=1)
    assert all(injector.pick() is None for _ in range(1_000))


def test_middleware_checks_auth_and_counts_requests(fake_simulator: MakeFake) -> None:
    sim = fake_simulator()
    client = TestClient(build_app(sim))
    assert client.get("/api/items").status_code == 401
    assert client.get("/api/items", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/api/items", headers=AUTH)
    assert response.status_code == 200
    assert response.json()[0]["name"] == "Ada"
    stats = client.get("/_sandbox/stats").json()  # admin routes need no auth, are not counted
    assert stats["total"] == 3
    assert {"method": "GET", "path": "/api/items", "status": 401, "count": 2} in stats["requests"]


def test_middleware_refuses_past_the_limit_with_retry_after(fake_simulator: MakeFake) -> None:
    sim = fake_simulator(rate_limits="vendor")
    client = TestClient(build_app(sim))
    statuses = [client.get("/api/items", headers=AUTH).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429, 429]
    refused = client.get("/api/items", headers=AUTH)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_middleware_injects_the_seeded_fault_sequence(fake_simulator: MakeFake) -> None:
    sim = fake_simulator(faults=0.2, seed=4, slow_seconds=0.0)
    client = TestClient(build_app(sim))
    observed: list[int | str] = []
    for _ in range(300):
        try:
            observed.append(client.get("/api/items", headers=AUTH).status_code)
        except DroppedConnection:
            observed.append("dropped")
    replay = FaultInjector(0.2, seed=4)
    shown = {"error_500": 500, "error_503": 503, "drop_after": "dropped", "slow": 200, None: 200}
    assert observed == [shown[replay.pick()] for _ in range(300)]
    failed = sum(status != 200 for status in observed)
    assert 28 <= failed <= 65  # about 0.2 * 300 * 3/4: a slow answer is still a 200


def test_admin_mutate_moves_timestamps_and_reset_restores(fake_simulator: MakeFake) -> None:
    sim = fake_simulator()
    client = TestClient(build_app(sim))
    before = client.get("/_sandbox/records").json()["records"][0]
    assert client.post("/_sandbox/mutate", json={"count": 1, "seed": 5}).json() == {
        "mutated": ["1"]
    }
    after = client.get("/_sandbox/records").json()["records"][0]
    assert after["name"] != before["name"]
    assert after["updated"] > before["updated"]
    assert client.get("/_sandbox/truth").json() == {"1": "P000001"}
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/records").json()["records"][0] == {**before, "_deleted": False}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"count": "three"}', "count"),
        (b'{"count": -1}', "count"),
        (b'{"counts": 1}', "counts"),
        (b"[1, 2]", "body"),
    ],
)
def test_admin_mutate_answers_bad_input_with_400_and_the_reason(
    fake_simulator: MakeFake, body: bytes, reason: str
) -> None:
    sim = fake_simulator()
    client = TestClient(build_app(sim), raise_server_exceptions=False)
    before = client.get("/_sandbox/records").json()["records"]
    answer = client.post("/_sandbox/mutate", content=body)
    assert answer.status_code == 400
    assert reason in answer.json()["reason"]
    assert client.get("/_sandbox/records").json()["records"] == before  # nothing edited
