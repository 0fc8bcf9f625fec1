"""What every vendor simulator shares: options, clock, store, rate limits, faults, admin routes.

A simulator is a :class:`VendorSimulator` subclass that supplies its routes, its
auth check, its error shapes and its rate-limit buckets; :func:`build_app` wraps
it in one ASGI middleware that counts every request (``/_sandbox/stats``), injects
seeded faults, enforces rate limits and checks auth, in that order, and adds the
admin routes (``/_sandbox/records|truth|stats|mutate|reset``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

RateMode = Literal["vendor", "fast", "off"]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ADMIN_PREFIX = "/_sandbox"
FAST_FACTOR = 100.0


@dataclass(frozen=True)
class SandboxOptions:
    """How a sandbox instance behaves. ``rate_scale`` multiplies the vendor limits."""

    people: int = 200
    seed: int = 1
    rate_limits: RateMode = "off"
    rate_scale: float | None = None
    faults: float = 0.0
    slow_seconds: float = 3.0
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def limit_factor(self) -> float | None:
        """How much the documented limits are multiplied by; None means no limits."""
        if self.rate_limits == "off":
            return None
        if self.rate_scale is not None:
            return self.rate_scale
        return FAST_FACTOR if self.rate_limits == "fast" else 1.0

    def credential(self, name: str, default: str) -> str:
        return self.credentials.get(name, default)


class SandboxClock:
    """UTC server time that strictly increases on every call (timestamps move on every write)."""

    def __init__(self) -> None:
        self._last = datetime.fromtimestamp(0, UTC)
        self._lock = threading.Lock()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            current = datetime.now(UTC) + self.offset
            if current <= self._last:
                current = self._last + timedelta(microseconds=1)
            self._last = current
            return current


class VendorStore:
    """One simulator's records: id -> vendor-shaped dict, soft deletes, ground truth."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.truth: dict[str, str] = {}
        self._seed_state: tuple[dict[str, dict[str, Any]], set[str], dict[str, str]] | None = None
        self.lock = threading.RLock()

    def live(self) -> list[dict[str, Any]]:
        return [r for key, r in self.records.items() if key not in self.deleted]

    def freeze_seed(self) -> None:
        """Remember the current state as the seeded state that ``reset`` returns to."""
        self._seed_state = (copy.deepcopy(self.records), set(self.deleted), dict(self.truth))

    def reset(self) -> None:
        if self._seed_state is None:
            return
        records, deleted, truth = self._seed_state
        self.records, self.deleted, self.truth = copy.deepcopy(records), set(deleted), dict(truth)


RecordKey = Callable[[dict[str, Any]], Hashable | None]


class KeyIndex:
    """A store's records by a derived key (a name, a unique email), so that a duplicate
    check is a lookup instead of a scan of every record (which made writes to a sandbox
    of 20,000 people cost 5-15 ms of server CPU each).

    Records added to the store are picked up at the next lookup and a reset store is
    indexed afresh; a simulator that changes a record's key fields in place calls
    :meth:`touch`. Every answer is checked against the record itself, so a stale entry
    is never believed.
    """

    def __init__(self, store: VendorStore, key: RecordKey) -> None:
        self.store = store
        self.key = key
        self._indexed: dict[str, dict[str, Any]] | None = None
        self._ids: dict[Hashable, set[str]] = {}
        self._key_of: dict[str, Hashable | None] = {}  # every indexed record's key

    def _sync(self) -> dict[str, dict[str, Any]]:
        records = self.store.records
        if records is not self._indexed:
            self._indexed, self._ids, self._key_of = records, {}, {}
            for record_id in records:
                self._put(record_id)
        elif len(self._key_of) != len(records):
            for record_id in records.keys() - self._key_of.keys():
                self._put(record_id)
            for record_id in self._key_of.keys() - records.keys():
                self._drop(record_id)
        return records

    def _drop(self, record_id: str) -> None:
        old = self._key_of.pop(record_id, None)
        if old is not None:
            self._ids.get(old, set()).discard(record_id)

    def _put(self, record_id: str) -> None:
        self._drop(record_id)
        record = self.store.records.get(record_id)
        if record is None:
            return
        key = self.key(record)
        self._key_of[record_id] = key
        if key is not None:
            self._ids.setdefault(key, set()).add(record_id)

    def touch(self, record_id: str) -> None:
        """``record_id`` was added, changed or removed."""
        with self.store.lock:
            if self.store.records is not self._indexed:
                self._sync()
            else:
                self._put(record_id)

    def find(
        self, key: Hashable, *, ignore: str | None = None, include_deleted: bool = False
    ) -> str | None:
        """The first (lowest id) record whose key is ``key``, other than ``ignore``."""
        with self.store.lock:
            records = self._sync()
            found = [
                record_id
                for record_id in self._ids.get(key, ())
                if record_id != ignore
                and record_id in records
                and (include_deleted or record_id not in self.store.deleted)
                and self.key(records[record_id]) == key
            ]
        return min(found, key=_id_order) if found else None


def _id_order(record_id: str) -> tuple[int, int, str]:
    return (0, int(record_id), "") if record_id.isdigit() else (1, 0, record_id)


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


def json_body_error(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


class VendorSimulator(ABC):
    """One vendor's API. Subclasses fill the store from seed data and define routes."""

    name: ClassVar[str]

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.clock = SandboxClock()
        self.store = VendorStore()
        factor = options.limit_factor
        self.limiter = RateLimiter(factor) if factor is not None else None
        self.faults = FaultInjector(options.faults, options.seed)
        self.stats: Counter[tuple[str, str, int]] = Counter()
        self._stats_lock = threading.Lock()

    # --- what each vendor supplies ---------------------------------------------------

    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The vendor's API routes (paths as the vendor has them)."""

    @abstractmethod
    def authenticate(self, request: Request) -> Response | None:
        """None when the request carries valid credentials, else the vendor's 401."""

    @abstractmethod
    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        """Edit one live record as a user would (and move its server timestamps)."""

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        """Rate-limit buckets a request counts against (none by default)."""
        return []

    def rate_headers(self, states: list[BucketState]) -> dict[str, str]:
        """Headers advertising the remaining quota on every answer (none by default)."""
        return {}

    def too_many_requests(self, state: BucketState) -> Response:
        retry_after = max(1, int(state.reset_at - time.time() + 0.999))
        return JSONResponse(
            {"message": "Too Many Requests"},
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )

    def server_error(self, status: int) -> Response:
        return JSONResponse({"message": "Internal Server Error"}, status_code=status)

    def public_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as the API shows it (default: as stored)."""
        return record

    def extra_admin_info(self) -> dict[str, Any]:
        """Anything a simulator adds to /_sandbox/records (e.g. Xurrent org contacts)."""
        return {}

    # --- shared behaviour ------------------------------------------------------------

    def count(self, method: str, template: str, status: int) -> None:
        with self._stats_lock:
            self.stats[(method, template, status)] += 1

    def stats_payload(self) -> dict[str, Any]:
        with self._stats_lock:
            rows = [
                {"method": m, "path": p, "status": s, "count": c}
                for (m, p, s), c in sorted(self.stats.items())
            ]
        return {"system": self.name, "requests": rows, "total": sum(r["count"] for r in rows)}

    def mutate(self, count: int, seed: int) -> list[str]:
        rng = random.Random(seed)
        with self.store.lock:
            candidates = sorted(k for k in self.store.records if k not in self.store.deleted)
            chosen = rng.sample(candidates, min(count, len(candidates)))
            for record_id in chosen:
                self.mutate_record(record_id, rng)
        return chosen

    def admin_routes(self) -> list[BaseRoute]:
        async def records(_: Request) -> Response:
            with self.store.lock:
                rows = [
                    {**self.public_record(r), "_deleted": key in self.store.deleted}
                    for key, r in self.store.records.items()
                ]
            return JSONResponse({"system": self.name, "records": rows, **self.extra_admin_info()})

        async def truth(_: Request) -> Response:
            return JSONResponse(dict(self.store.truth))

        async def stats(_: Request) -> Response:
            return JSONResponse(self.stats_payload())

        async def mutate(request: Request) -> Response:
            body = await request.json() if await request.body() else {}
            ids = self.mutate(int(body.get("count", 1)), int(body.get("seed", 0)))
            return JSONResponse({"mutated": ids})

        async def reset(_: Request) -> Response:
            with self.store.lock:
                self.store.reset()
            with self._stats_lock:
                self.stats.clear()
            return JSONResponse({"reset": True})

        return [
            Route(f"{ADMIN_PREFIX}/records", records, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/truth", truth, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
            Route(f"{ADMIN_PREFIX}/mutate", mutate, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/reset", reset, methods=["POST"]),
        ]


class SandboxMiddleware:
    """Stats, faults, rate limits and auth around a simulator's routes (pure ASGI)."""

    def __init__(self, app: ASGIApp, sim: VendorSimulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        status_seen: list[int] = []

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)

        try:
            await self._handle(scope, receive, counting_send)
        finally:
            template = _route_template(scope)
            self.sim.count(scope["method"], template, status_seen[0] if status_seen else 0)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        template = _match_template(self.app, scope)
        fault = self.sim.faults.pick()
        if fault in ("error_500", "error_503"):
            await self.sim.server_error(500 if fault == "error_500" else 503)(scope, receive, send)
            return
        extra_headers: dict[str, str] = {}
        if self.sim.limiter is not None:
            states = [self.sim.limiter.hit(b) for b in self.sim.buckets(scope["method"], template)]
            refused = next((s for s in states if not s.allowed), None)
            if refused is not None:
                response = self.sim.too_many_requests(refused)
                response.headers.update(self.sim.rate_headers(states))
                await response(scope, receive, send)
                return
            extra_headers = self.sim.rate_headers(states)
        denied = self.sim.authenticate(request)
        if denied is not None:
            await denied(scope, receive, send)
            return
        if fault == "slow":
            await asyncio.sleep(self.sim.options.slow_seconds)
        send_with_headers = _add_headers(send, extra_headers)
        if fault == "drop_after":
            await self.app(scope, receive, _dropping(send_with_headers))
            return
        await self.app(scope, receive, send_with_headers)


class DroppedConnection(Exception):
    """Raised after the app ran, so the server closes the connection mid-response."""


def _dropping(send: Send) -> Send:
    async def dropping_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", b"1000000"))
            await send({**message, "headers": headers})
            return
        if message["type"] == "http.response.body":
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise DroppedConnection("sandbox fault: connection dropped after the write")

    return dropping_send


def _add_headers(send: Send, headers: dict[str, str]) -> Send:
    if not headers:
        return send
    encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def send_with(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *encoded]}
        await send(message)

    return send_with


def _match_template(app: ASGIApp, scope: Scope) -> str:
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match.name == "FULL":
            return str(getattr(route, "path", scope["path"]))
    return str(scope["path"])


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", None) or scope["path"])


class SandboxApp:
    """A simulator's ASGI app: its routes and the admin routes behind the middleware."""

    def __init__(self, sim: VendorSimulator) -> None:
        self.sim = sim
        self.inner = Starlette(routes=[*sim.admin_routes(), *sim.routes()])
        self.router = self.inner.router
        self._wrapped = SandboxMiddleware(self.inner, sim)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.inner(scope, receive, send)
            return
        await self._wrapped(scope, receive, send)


def build_app(sim: VendorSimulator) -> SandboxApp:
    return SandboxApp(sim)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
