"""Benchmark: backfill throughput with limits off, against a bare httpx loop making the
same requests.

Run from the repository root::

    .venv/bin/python bench/throughput.py            # 1,000 people, 3 rounds, about 2 minutes
    .venv/bin/python bench/throughput.py --quick    # 300 people, one round

One sandbox with rate limits off (in its own process, so on this 2-core machine the
simulators get one core and contactsync the other). The pipeline backfills it with
``--concurrency`` write workers per system; Trackops and Rhythm document no limit,
so without a configured ``rate_limit`` the throttle would probe them one request at
a time: they are given one no vendor could reach (the sandbox has none), which lets
their writes run at the same concurrency as the others'.

Every request the pipeline sends is recorded (method, URL, headers, body, thread,
time). The sandbox is then reset to its seeded state and a bare loop replays them
with ``httpx`` and nothing else: the extract's requests one after another in their
order, then each system's load requests through a pool of the same number of
workers, systems one after another (or side by side, where the pipeline's loads
overlapped). Target: the pipeline's wall time at most 2x the bare loop's.

A round is one backfill (into a fresh state, the sandbox freshly seeded) and the bare
replay of its requests right after it; the figure is the median round's ratio. On a
shared machine whose speed drifts from one minute to the next, the two halves of a
pair see the same machine, and the median drops a round caught by a slow spell.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SYSTEMS,
    Sandbox,
    Target,
    Timed,
    print_header,
    print_table,
    print_targets,
    quiet_logs,
    sandbox,
    timed_run,
)

from contactsync.config.systems import RateLimitSettings

TARGET_RATIO = 2.0
#: what the pipeline is told about the vendors that document no limit (none in the sandbox)
NO_LIMIT = RateLimitSettings(requests=1_000_000, per=timedelta(seconds=1))
UNDOCUMENTED = ("trackops", "growcrm", "rhythm")


@dataclass(frozen=True)
class Sent:
    system: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    content: bytes
    thread: str
    at: float


class Recorder:
    """An httpx request hook per system that keeps every request the pipeline sends."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def hook(self, system: str) -> Callable[[httpx.Request], None]:
        def record(request: httpx.Request) -> None:
            sent = Sent(
                system,
                request.method,
                str(request.url),
                tuple((k, v) for k, v in request.headers.multi_items() if k != "content-length"),
                request.read(),
                threading.current_thread().name,
                time.perf_counter(),
            )
            with self._lock:
                self.sent.append(sent)

        return record


def load_groups(sent: list[Sent]) -> list[list[str]]:
    """Systems whose load requests overlapped in time go together, the groups in order."""
    spans: dict[str, tuple[float, float]] = {}
    for request in sent:
        if request.thread == "MainThread":
            continue
        first, last = spans.get(request.system, (request.at, request.at))
        spans[request.system] = (min(first, request.at), max(last, request.at))
    groups: list[list[str]] = []
    end = float("-inf")
    for system, (first, last) in sorted(spans.items(), key=lambda item: item[1][0]):
        if groups and first <= end:
            groups[-1].append(system)
            end = max(end, last)
        else:
            groups.append([system])
            end = last
    return groups


def phases(sent: list[Sent], started: float, ended: float) -> list[tuple[str, float]]:
    """Where the pipeline's wall time went, read off the requests' times: reading (the
    extract's requests and the staging between them), matching and planning (from
    the last read to the first write), loading (to the last write), and the rest."""
    reads = [r.at for r in sent if r.thread == "MainThread"]
    writes = [r.at for r in sent if r.thread != "MainThread"]
    if not reads or not writes:
        return [("all", ended - started)]
    last_read, first_write, last_write = max(reads), min(writes), max(writes)
    return [
        ("extract and stage", last_read - started),
        ("match, merge, plan", first_write - last_read),
        ("load", last_write - first_write),
        ("commit and report", ended - last_write),
    ]


def replay(sent: list[Sent], concurrency: dict[str, int]) -> tuple[float, float, int]:
    """Send ``sent`` again with bare httpx clients; (wall seconds, CPU seconds, errors)."""
    clients = {
        system: httpx.Client(
            timeout=60,
            limits=httpx.Limits(
                max_connections=concurrency[system],
                max_keepalive_connections=concurrency[system],
            ),
        )
        for system in SYSTEMS
    }
    failures = [0]

    def send(request: Sent) -> None:
        try:
            response = clients[request.system].request(
                request.method, request.url, headers=dict(request.headers), content=request.content
            )
            response.read()
        except httpx.HTTPError:
            failures[0] += 1

    extract = [r for r in sent if r.thread == "MainThread"]
    loads: dict[str, list[Sent]] = defaultdict(list)
    for request in sent:
        if request.thread != "MainThread":
            loads[request.system].append(request)
    wall, cpu = time.perf_counter(), time.process_time()
    for request in extract:
        send(request)
    for group in load_groups(sent):
        pools = [ThreadPoolExecutor(max_workers=concurrency[system]) for system in group]
        futures = [
            pool.submit(send, request)
            for pool, system in zip(pools, group, strict=True)
            for request in loads[system]
        ]
        for future in futures:
            future.result()
        for pool in pools:
            pool.shutdown()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for client in clients.values():
        client.close()
    return wall, cpu, failures[0]


@dataclass
class Round:
    """One pipeline backfill and the bare replay of its requests, run back to back."""

    run: Timed
    server_cpu: float
    phases: list[tuple[str, float]]
    load_groups: list[list[str]]
    bare_wall: float
    bare_cpu: float
    bare_server_cpu: float
    bare_requests: int
    failures: int

    @property
    def ratio(self) -> float:
        return self.run.wall / self.bare_wall


def reset(box: Sandbox) -> None:
    for admin in box.admin_urls.values():
        box.http.post(f"{admin}/_sandbox/reset").raise_for_status()


def one_round(box: Sandbox, state: Path, concurrency: int) -> tuple[Round, dict[str, int]]:
    """A backfill of the freshly seeded sandbox into a new state, then (the sandbox seeded
    afresh again) the bare loop replaying the requests it made."""
    reset(box)
    each = {name: {"rate_limit": NO_LIMIT} for name in UNDOCUMENTED}
    engine = box.engine(state, every={"concurrency": concurrency}, each=each)
    recorder = Recorder()
    for name, adapter in engine.adapters.items():
        adapter.client.event_hooks["request"].append(recorder.hook(name))
    workers = {name: engine.settings.systems[name].concurrency for name in SYSTEMS}
    server_cpu = box.child_cpu_seconds()
    started = time.perf_counter()
    try:
        run = timed_run(box, engine, "backfill")
    finally:
        engine.close()
    server_cpu = box.child_cpu_seconds() - server_cpu
    reset(box)
    bare_server = box.child_cpu_seconds()
    bare_wall, bare_cpu, failures = replay(recorder.sent, workers)
    bare_server = box.child_cpu_seconds() - bare_server
    again = sum(row["count"] for rows in box.stats().values() for row in rows)
    done = Round(
        run,
        server_cpu,
        phases(recorder.sent, started, started + run.wall),
        load_groups(recorder.sent),
        bare_wall,
        bare_cpu,
        bare_server,
        again,
        failures,
    )
    return done, workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1000, help="seeded people (1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="write workers per system")
    parser.add_argument("--rounds", type=int, default=3, help="pipeline/bare pairs (3)")
    parser.add_argument("--quick", action="store_true", help="300 people, one round")
    args = parser.parse_args(argv)
    people = 300 if args.quick else args.people
    rounds = 1 if args.quick else max(1, args.rounds)
    command = "python bench/throughput.py" + (" --quick" if args.quick else "")
    print_header(f"backfill throughput, limits off ({people:,} people)", command)
    quiet_logs()
    done: list[Round] = []
    with sandbox(people, seed=args.seed) as box, tempfile.TemporaryDirectory() as folder:
        for index in range(rounds):
            pair, concurrency = one_round(
                box, Path(folder) / f"state-{index}.sqlite", args.concurrency
            )
            done.append(pair)
    print(
        "concurrency per system: "
        + ", ".join(f"{name} {workers}" for name, workers in concurrency.items())
        + f" ({', '.join(UNDOCUMENTED)} told of no limit: rate_limit 1,000,000/s)"
    )
    print(f"groups of systems loaded side by side: {done[0].load_groups}\n")
    rows: list[list[object]] = []
    for index, pair in enumerate(done, 1):
        run = pair.run
        persons = run.outcome.summary.persons.total
        records = sum(c.extracted for c in run.outcome.summary.systems.values())
        made = sum(r.total + r.throttled for r in run.requests.values())
        rows.append(
            [f"{index}. pipeline", run.wall, run.cpu, pair.server_cpu, made, persons / run.wall, ""]
        )
        rows.append(
            [
                f"{index}. bare httpx loop",
                pair.bare_wall,
                pair.bare_cpu,
                pair.bare_server_cpu,
                pair.bare_requests,
                persons / pair.bare_wall,
                f"{pair.ratio:.2f}x",
            ]
        )
    print_table(
        ["round", "wall s", "CPU s", "sandbox CPU s", "requests", "people/s", "pipeline/bare"],
        rows,
    )
    middle = sorted(done, key=lambda pair: pair.ratio)[len(done) // 2]
    run = middle.run
    summary = run.outcome.summary
    persons = summary.persons.total
    records = sum(c.extracted for c in summary.systems.values())
    print(
        "\nmedian round's pipeline wall time: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in middle.phases)
    )
    print(
        f"\n{persons:,} people ({records:,} records) in {run.wall:.1f} s: "
        f"{persons / run.wall:.0f} people/s; pipeline/bare wall {middle.ratio:.2f}x "
        f"(the median of {len(done)} rounds: "
        + ", ".join(f"{pair.ratio:.2f}x" for pair in done)
        + ")"
        + (f"; {middle.failures} replayed requests failed" if middle.failures else "")
    )
    for error in run.outcome.errors[:5]:
        print(f"  error: {error}")
    statuses = sorted({pair.run.outcome.summary.status for pair in done})
    targets = [
        Target(
            f"pipeline wall {run.wall:.1f} s at most {TARGET_RATIO:.0f}x the bare loop's "
            f"{middle.bare_wall:.1f} s ({middle.ratio:.2f}x, the median round)",
            middle.ratio <= TARGET_RATIO,
            f"the pipeline spends {run.cpu:.1f} CPU s against the bare loop's "
            f"{middle.bare_cpu:.1f} s; see the report for where",
        ),
        Target(f"every backfill's status ok ({', '.join(statuses)})", statuses == ["ok"]),
    ]
    return print_targets(targets)


if __name__ == "__main__":
    raise SystemExit(main())
