"""What the sync benchmarks share: a sandbox in its own process, an engine on it, the
sandbox's request counts, the machine, and how figures and targets are printed.

The sandbox runs in a child process (``multiprocessing``, spawn) so that the
benchmark process holds contactsync alone: its CPU time (``time.process_time``) and
peak RSS are contactsync's, not the simulators', and on a 2-core machine the
simulators get the other core, as a vendor's servers would be elsewhere.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import resource
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from contactsync.adapters.registry import SYSTEMS
from contactsync.config.settings import Settings, load_settings
from contactsync.engine.sync import Engine, RunKindName, RunOutcome
from contactsync.logs import configure_logging
from contactsync.wiring import open_engine
from contactsync_sandbox.common import (
    Bucket,
    BucketState,
    RateMode,
    SandboxOptions,
    VendorSimulator,
)
from contactsync_sandbox.write_config import read_env_file

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STARTUP_TIMEOUT = 600.0


# --- the machine -------------------------------------------------------------------------


def machine() -> str:
    """``2 cores, AMD EPYC, Python 3.11.7, 2026-11-22``: where the figures came from."""
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    today = datetime.now(UTC).date().isoformat()
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, {today}"


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the sandbox in a child process ---------------------------------------------------------


def _serve(options: SandboxOptions, folder: str, pipe: Connection) -> None:
    """Child process: start the sandbox, write its config, report, then answer commands
    (``"windows"``: the rate-limit windows seen so far) until told to stop."""
    from contactsync_sandbox.server import SandboxServer
    from contactsync_sandbox.write_config import write_sandbox_config

    configure_logging("console", level="error")
    started = time.monotonic()
    with SandboxServer(options, port_base=0) as server:
        windows = _count_windows(server.simulators)
        config = Path(folder) / "bench.toml"
        env_path = write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        pipe.send(
            {
                "config": str(config),
                "env": str(env_path),
                "admin": server.admin_urls,
                "records": {
                    name: len(sim.store.records) - len(sim.store.deleted)
                    for name, sim in server.simulators.items()
                },
                "seconds": time.monotonic() - started,
            }
        )
        while True:
            try:
                command = pipe.recv()
            except EOFError:
                return
            if command != "windows":
                return
            rows = sorted(windows.items())
            pipe.send(
                [
                    (*key, int(a), int(r), int(lim), sec, t0, t1)
                    for key, (a, r, lim, sec, t0, t1) in rows
                ]
            )


WindowKey = tuple[str, str, float]  # (system, bucket, window start)


def _count_windows(simulators: Mapping[str, VendorSimulator]) -> dict[WindowKey, list[float]]:
    """Record, for every rate-limit window of every bucket the sandbox enforces, the
    requests it let through and refused, the bucket's (scaled) limit and window, and the
    first and last request's time (the sandbox's windows are fixed and start at a
    bucket's first request: :class:`contactsync_sandbox.common.RateLimiter`)."""
    windows: dict[WindowKey, list[float]] = {}
    for system, sim in simulators.items():
        limiter = sim.limiter
        if limiter is None:
            continue
        original = limiter.hit

        def hit(bucket: Bucket, system: str = system, original: Any = original) -> BucketState:
            state: BucketState = original(bucket)
            now = time.time()
            key = (system, bucket.name, round(state.reset_at - bucket.window, 6))
            row = windows.setdefault(key, [0, 0, state.limit, bucket.window, now, now])
            row[0 if state.allowed else 1] += 1
            row[5] = now
            return state

        limiter.hit = hit  # type: ignore[method-assign]
    return windows


@dataclass(frozen=True)
class Window:
    """One fixed rate-limit window of one bucket, as the sandbox counted it."""

    system: str
    bucket: str
    start: float
    allowed: int
    refused: int
    limit: int
    seconds: float
    first: float
    last: float


@dataclass
class Sandbox:
    """A running sandbox: its config, credentials, admin URLs and seeded record counts."""

    options: SandboxOptions
    config: Path
    env: dict[str, str]
    admin_urls: dict[str, str]
    seeded: dict[str, int]
    startup_seconds: float
    pid: int
    pipe: Connection
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))

    def settings(
        self,
        state: Path,
        every: Mapping[str, Any] | None = None,
        each: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Settings:
        """The sandbox's config with its state at ``state``; ``every`` (e.g.
        ``{"concurrency": 8}``) updates every system's settings, ``each`` one system's."""
        settings = load_settings(self.config, env=self.env)
        systems = {
            name: cfg.model_copy(update={**(every or {}), **(each or {}).get(name, {})})
            for name, cfg in settings.systems.items()
        }
        return settings.model_copy(update={"state_path": state, "systems": systems})

    def engine(
        self,
        state: Path,
        every: Mapping[str, Any] | None = None,
        each: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Engine:
        return open_engine(self.settings(state, every, each), self.env)

    # --- admin routes ----------------------------------------------------------------------

    def stats(self) -> dict[str, list[dict[str, Any]]]:
        """System -> ``[{method, path, status, count}]`` since the start (or the last reset)."""
        rows: dict[str, list[dict[str, Any]]] = {}
        for system, admin in self.admin_urls.items():
            answer = self.http.get(f"{admin}/_sandbox/stats")
            answer.raise_for_status()
            rows[system] = answer.json()["requests"]
        return rows

    def mutate(self, system: str, count: int, seed: int) -> list[str]:
        answer = self.http.post(
            f"{self.admin_urls[system]}/_sandbox/mutate", json={"count": count, "seed": seed}
        )
        answer.raise_for_status()
        return [str(i) for i in answer.json()["mutated"]]

    def windows(self) -> list[Window]:
        """Every rate-limit window the sandbox has opened so far, with its counts."""
        self.pipe.send("windows")
        return [Window(*row) for row in self.pipe.recv()]

    def records(self, system: str) -> list[dict[str, Any]]:
        """What ``system`` holds now, deleted records included (flagged ``_deleted``)."""
        answer = self.http.get(f"{self.admin_urls[system]}/_sandbox/records")
        answer.raise_for_status()
        rows: list[dict[str, Any]] = answer.json()["records"]
        return rows

    def child_cpu_seconds(self) -> float:
        """CPU seconds the sandbox process has used (user + system)."""
        try:
            import psutil  # type: ignore[import-untyped]
        except ImportError:
            return float("nan")
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)


class SandboxProcess:
    """A sandbox being seeded and served in a child process: :meth:`start` returns at
    once (several can seed side by side), :meth:`wait` returns the running sandbox."""

    def __init__(
        self,
        people: int,
        *,
        seed: int = 1,
        rate_limits: RateMode = "off",
        rate_scale: float | None = None,
    ) -> None:
        self.options = SandboxOptions(
            people=people, seed=seed, rate_limits=rate_limits, rate_scale=rate_scale
        )
        self._context = multiprocessing.get_context("spawn")
        self._ours, self._theirs = self._context.Pipe()
        self._folder = tempfile.TemporaryDirectory(prefix="contactsync-bench-")
        self._child: Any = None
        self._box: Sandbox | None = None

    def start(self) -> SandboxProcess:
        args = (self.options, self._folder.name, self._theirs)
        self._child = self._context.Process(target=_serve, args=args, daemon=True)
        self._child.start()
        return self

    def wait(self) -> Sandbox:
        if self._box is not None:
            return self._box
        if self._child is None:
            self.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._ours.poll(1.0):
            if not self._child.is_alive():
                self.stop()
                raise RuntimeError(f"the sandbox process died (exit {self._child.exitcode})")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start within {STARTUP_TIMEOUT:.0f}s")
        info = self._ours.recv()
        self._box = Sandbox(
            options=self.options,
            config=Path(info["config"]),
            env=read_env_file(Path(info["env"])),
            admin_urls=info["admin"],
            seeded=info["records"],
            startup_seconds=info["seconds"],
            pid=self._child.pid or 0,
            pipe=self._ours,
        )
        return self._box

    def stop(self) -> None:
        if self._box is not None:
            self._box.http.close()
        child = self._child
        if child is not None and child.is_alive():
            with suppress(OSError):
                self._ours.send("stop")
            child.join(30)
            if child.is_alive():
                child.terminate()
                child.join(5)
        self._folder.cleanup()


@contextmanager
def sandbox(
    people: int,
    *,
    seed: int = 1,
    rate_limits: RateMode = "off",
    rate_scale: float | None = None,
) -> Iterator[Sandbox]:
    """Seed and serve ``people`` in a child process; yield once every port accepts."""
    process = SandboxProcess(people, seed=seed, rate_limits=rate_limits, rate_scale=rate_scale)
    try:
        yield process.start().wait()
    finally:
        process.stop()


def quiet_logs() -> None:
    configure_logging("console", level="error")


# --- request counts --------------------------------------------------------------------------


@dataclass
class Requests:
    """One system's requests between two stats snapshots, by kind."""

    lists: int = 0  # list / search pages (reads of many records)
    reads: int = 0  # single-record reads
    writes_ok: int = 0  # writes answered 2xx
    writes_refused: int = 0  # writes answered 4xx/5xx (duplicates, validation)
    auth: int = 0  # token requests
    throttled: int = 0  # answers 429 (any kind)
    by_route: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.lists + self.reads + self.writes_ok + self.writes_refused + self.auth


def _kind(method: str, path: str) -> str:
    if "oauth" in path or path.endswith("/token"):
        return "auth"
    if method == "GET":  # one record's path ends in its id: /contacts/{id}
        return "read" if path.rstrip("/").endswith("}") else "list"
    if method == "POST" and path.endswith("/search"):
        return "list"
    return "write"


def requests_between(
    before: Mapping[str, list[dict[str, Any]]], after: Mapping[str, list[dict[str, Any]]]
) -> dict[str, Requests]:
    """System -> the requests the sandbox counted between ``before`` and ``after``."""
    result: dict[str, Requests] = {}
    for system, rows in after.items():
        counts: Counter[tuple[str, str, int]] = Counter()
        for row in rows:
            counts[(row["method"], row["path"], row["status"])] += row["count"]
        for row in before.get(system, []):
            counts[(row["method"], row["path"], row["status"])] -= row["count"]
        made = Requests()
        for (method, path, status), count in counts.items():
            if count <= 0:
                continue
            made.by_route[f"{method} {path} {status}"] += count
            if status == 429:
                made.throttled += count
                continue
            kind = _kind(method, path)
            if kind == "auth":
                made.auth += count
            elif kind == "list":
                made.lists += count
            elif kind == "read":
                made.reads += count
            elif 200 <= status < 300:
                made.writes_ok += count
            else:
                made.writes_refused += count
        result[system] = made
    return result


# --- running and timing ----------------------------------------------------------------------


@dataclass
class Timed:
    outcome: RunOutcome
    wall: float
    cpu: float
    requests: dict[str, Requests]


def timed_run(box: Sandbox, engine: Engine, kind: RunKindName) -> Timed:
    """One engine pass, its wall and CPU seconds (this process) and the sandbox's counts."""
    before = box.stats()
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = engine.run(kind)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Timed(outcome, wall, cpu, requests_between(before, box.stats()))


def writes_done(outcome: RunOutcome, system: str) -> int:
    counts = outcome.summary.systems[system]
    return counts.created + counts.updated + counts.deleted


# --- printing --------------------------------------------------------------------------------


@dataclass
class Target:
    text: str
    met: bool
    why: str = ""


def print_header(title: str, command: str) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{title}\nmachine: {machine()}; load average {load}\ncommand: {command}\n")


def print_table(headers: list[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(
        "  "
        + "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    for row in cells:
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_targets(targets: list[Target]) -> int:
    """Print each target as MET or NOT MET; the exit code is 1 when any is not met."""
    print()
    for target in targets:
        line = f"target {'MET' if target.met else 'NOT MET'}: {target.text}"
        print(line + (f"\n    why: {target.why}" if target.why and not target.met else ""))
    return 0 if all(t.met for t in targets) else 1


__all__ = [
    "SYSTEMS",
    "Requests",
    "Sandbox",
    "SandboxProcess",
    "Target",
    "Timed",
    "Window",
    "machine",
    "peak_rss_mb",
    "print_header",
    "print_table",
    "print_targets",
    "quiet_logs",
    "requests_between",
    "sandbox",
    "timed_run",
    "writes_done",
]
