"""Benchmark: incremental syncs over 1,000, 5,000 and 20,000 seeded people, their
requests and CPU seconds.

Run from the repository root::

    .venv/bin/python bench/incremental.py            # 1,000 / 5,000 / 20,000 people
    .venv/bin/python bench/incremental.py --quick    # 500 / 2,000 people

For each size, a sandbox (limits off; all sizes are seeded side by side in child
processes while the first is measured) and a state prepared by a backfill. By
default that backfill reads only (every system ``direction = "source"``): it stages,
matches and merges everyone but writes nothing, so that 20,000 people are prepared
in a couple of minutes; ``--full`` runs the real backfill instead (much longer). The
measured syncs run with every system ``both``. Xurrent's organization channels (a
snapshot, one request per configured organization) are read for the same 20
organizations at every size: the sandbox's config lists every seeded organization,
one per 20 people, which would make that snapshot grow with the people count.

Measured, with the CPU seconds of this process (contactsync alone: the sandbox is in
its own process) and the requests per system from ``/_sandbox/stats``:

A. a no-change sync;
C. right after it, a no-change sync of Trackops, Grow CRM and Xurrent only
   (``--systems``): the window and sorted-scan systems;
B. a sync after ``--changes`` user edits spread over the five systems;
D. once the overlap has passed (and a sync of those three has read B's writes back),
   a sync of those three after ``--changes`` edits spread over them.

Targets: for Trackops, Grow CRM and Xurrent people the cost tracks the number of
changes, not the number of people (C and D: requests and CPU at the largest size at
most 1.5x the smallest's); a no-change sync (A) over
20,000 people uses under 2 CPU seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SYSTEMS,
    Requests,
    Sandbox,
    SandboxProcess,
    Target,
    Timed,
    print_header,
    print_table,
    print_targets,
    quiet_logs,
    requests_between,
    timed_run,
)

from contactsync.engine.sync import Engine

WINDOWED = ("trackops", "growcrm", "xurrent")
ORGANIZATIONS = 20
NO_CHANGE_CPU = 2.0
TRACKING_FACTOR = 1.5


@dataclass
class Size:
    people: int
    records: int = 0
    persons: int = 0
    prepare_seconds: float = 0.0
    prepare_cpu: float = 0.0
    passes: dict[str, Timed] = field(default_factory=dict)


def spread(total: int, systems: tuple[str, ...]) -> dict[str, int]:
    """``total`` edits over ``systems`` as evenly as whole numbers allow."""
    share, extra = divmod(total, len(systems))
    return {system: share + (1 if i < extra else 0) for i, system in enumerate(systems)}


def measure(box: Sandbox, folder: Path, people: int, changes: int, full: bool) -> Size:
    size = Size(people, records=sum(box.seeded.values()))
    state = folder / f"state-{people}.sqlite"
    prepare = box.engine(state, every=None if full else {"direction": "source"})
    try:
        prepared = timed_run(box, prepare, "backfill")
    finally:
        prepare.close()
    size.prepare_seconds, size.prepare_cpu = prepared.wall, prepared.cpu
    size.persons = prepared.outcome.summary.persons.total
    engine = box.engine(state, each={"xurrent": {"defaults": few_organizations(box, state)}})
    try:
        if full:
            settle(engine, SYSTEMS)
        size.passes["A"] = timed_run(box, engine, "sync")
        size.passes["C"] = timed_sync(box, engine, WINDOWED)  # nothing written since A
        for system, count in spread(changes, SYSTEMS).items():
            box.mutate(system, count, seed=people)
        size.passes["B"] = timed_run(box, engine, "sync")
        settle(engine, WINDOWED)
        for system, count in spread(changes, WINDOWED).items():
            box.mutate(system, count, seed=people + 1)
        size.passes["D"] = timed_sync(box, engine, WINDOWED)
    finally:
        engine.close()
    return size


def few_organizations(box: Sandbox, state: Path) -> object:
    defaults = box.settings(state).systems["xurrent"].defaults
    ids = list(getattr(defaults, "organization_ids", None) or [])[:ORGANIZATIONS]
    return defaults.model_copy(update={"organization_ids": ids})


def settle(engine: Engine, systems: tuple[str, ...]) -> None:
    """Wait out the overlap, then sync: the next window holds no echo of our writes."""
    overlap = max(s.overlap.total_seconds() for s in engine.settings.systems.values())
    time.sleep(overlap + 1.0)
    engine.run("sync", systems=list(systems))


def timed_sync(box: Sandbox, engine: Engine, systems: tuple[str, ...]) -> Timed:
    before = box.stats()
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = engine.run("sync", systems=list(systems))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Timed(outcome, wall, cpu, requests_between(before, box.stats()))


def people_requests(made: Requests, system: str) -> int:
    """Requests other than Xurrent's organization-channel snapshot."""
    if system != "xurrent":
        return made.total
    organizations = sum(
        count for route, count in made.by_route.items() if "/organizations/" in route
    )
    return made.total - organizations


LABELS = {
    "A": "A. no-change sync",
    "B": "B. sync after the edits",
    "C": "C. no-change sync, Trackops/Grow CRM/Xurrent only",
    "D": "D. sync after the edits, those three only",
}


def report(sizes: list[Size], changes: int) -> list[Target]:
    print(
        "\nprepared state (backfill): "
        + "; ".join(
            f"{s.people:,} people: {s.records:,} records, {s.persons:,} persons, "
            f"{s.prepare_seconds:.0f} s ({s.prepare_cpu:.0f} CPU s)"
            for s in sizes
        )
    )
    for key, label in LABELS.items():
        print(f"\n{label}" + (f" ({changes} edits)" if key in "BD" else ""))
        headers = ["people", "CPU s", "wall s", *SYSTEMS, "xurrent orgs", "status"]
        rows = []
        for size in sizes:
            timed = size.passes[key]
            made = timed.requests
            chosen = SYSTEMS if key in "AB" else WINDOWED
            rows.append(
                [
                    size.people,
                    timed.cpu,
                    timed.wall,
                    *(people_requests(made[s], s) if s in chosen else "-" for s in SYSTEMS),
                    made["xurrent"].total - people_requests(made["xurrent"], "xurrent"),
                    timed.outcome.summary.status,
                ]
            )
        print_table(headers, rows)
    smallest, largest = sizes[0], sizes[-1]
    targets = []
    for key in ("C", "D"):
        low, high = smallest.passes[key], largest.passes[key]
        low_made = sum(people_requests(low.requests[s], s) for s in WINDOWED)
        high_made = sum(people_requests(high.requests[s], s) for s in WINDOWED)
        same = high_made <= TRACKING_FACTOR * low_made
        ratio = high.cpu / low.cpu if low.cpu else float("inf")
        targets.append(
            Target(
                f"{LABELS[key]}: requests at {largest.people:,} people at most "
                f"{TRACKING_FACTOR}x those at {smallest.people:,} ({high_made} vs {low_made})",
                same,
            )
        )
        targets.append(
            Target(
                f"{LABELS[key]}: CPU at {largest.people:,} people at most "
                f"{TRACKING_FACTOR}x that at {smallest.people:,} ({high.cpu:.2f} s vs "
                f"{low.cpu:.2f} s: {ratio:.1f}x)",
                ratio <= TRACKING_FACTOR,
                "work proportional to everyone stored, done on every run whatever changed "
                "(profile the pass: README, Performance)",
            )
        )
    a = largest.passes["A"]
    targets.append(
        Target(
            f"A. no-change sync over {largest.people:,} people under {NO_CHANGE_CPU:.0f} CPU s "
            f"({a.cpu:.2f} s)",
            a.cpu < NO_CHANGE_CPU and largest.people >= 20_000,
            "Rhythm and Pylon are snapshots (every record is read and staged every run), "
            "and work proportional to everyone stored is done on every run (README, Performance)"
            if a.cpu >= NO_CHANGE_CPU
            else f"the largest size measured is {largest.people:,} people, not 20,000",
        )
    )
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="seeded people, comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes", type=int, default=100, help="user edits per edit pass")
    parser.add_argument("--full", action="store_true", help="prepare with a real backfill")
    parser.add_argument("--quick", action="store_true", help="500 and 2,000 people")
    args = parser.parse_args(argv)
    people = [500, 2000] if args.quick else [int(n) for n in args.sizes.split(",") if n.strip()]
    command = "python bench/incremental.py" + (" --quick" if args.quick else "")
    print_header(
        "incremental syncs: requests and CPU seconds over "
        + ", ".join(f"{n:,}" for n in people)
        + " people",
        command,
    )
    quiet_logs()
    processes = [SandboxProcess(n, seed=args.seed).start() for n in people]
    sizes = []
    try:
        with tempfile.TemporaryDirectory(prefix="contactsync-bench-") as folder:
            for process in processes:
                box = process.wait()
                started = time.perf_counter()
                sizes.append(
                    measure(box, Path(folder), box.options.people, args.changes, args.full)
                )
                print(
                    f"{box.options.people:,} people measured in "
                    f"{time.perf_counter() - started:.0f} s",
                    flush=True,
                )
                process.stop()
    finally:
        for process in processes:
            process.stop()
    return print_targets(report(sizes, args.changes))


if __name__ == "__main__":
    raise SystemExit(main())
