"""Benchmark: the requests contactsync makes per system against the fewest the job needs.

Run from the repository root::

    .venv/bin/python bench/requests.py            # 1,000 people, about a minute
    .venv/bin/python bench/requests.py --quick    # 300 people

One sandbox (limits off), one state file, these passes in order:

1. a backfill;
2. the first sync after it, which reads the backfill's own writes back (they are in
   its window: a watermark never passes the start of the run that set it);
3. a no-change sync, once the overlap has passed (windows then hold no echoes);
4. a sync after ``--changes`` user edits spread evenly over the five systems.

For each pass and system, the requests made are what the sandbox counted
(``/_sandbox/stats``, cross-checked with the engine's own count), and the minimum is

* list pages: the records the system had to deliver for its change detection
  (everything for a backfill and for the snapshot systems Rhythm and Pylon; the
  records in the window for Trackops and Xurrent; for Grow CRM's newest-first scan
  those plus the one older record it stops on), at the vendor's largest page size
  (Pylon 999, the others 100), one more page where an exact multiple cannot be
  told from a full page (Trackops); for Xurrent also one page per configured
  organization, whose own channels are a snapshot read every run;
* plus one write per needed change: a record created, deleted, or whose content
  changed (the sandbox's records before and after the pass, server-set timestamps
  and versions left out).

Everything else is overhead and is listed: single-record reads, writes the vendor
refused (a duplicate found only by trying), writes that changed nothing, token
requests. Target: made / minimum at most 1.05 for every system and pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SYSTEMS,
    Requests,
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

from contactsync.engine.sync import Engine

TARGET_RATIO = 1.05
#: the largest page each vendor serves (Trackops' is the sandbox's assumed 100; Rhythm's
#: search pages are fixed by the server)
MAX_PAGE = {"trackops": 100, "growcrm": 100, "rhythm": 100, "pylon": 999, "xurrent": 100}
#: APIs that end paging on a short page: an exact multiple needs one more request
SHORT_PAGE_ENDS = frozenset({"trackops"})
#: APIs read newest first until one record older than the window (Grow CRM)
SORTED_SCAN = frozenset({"growcrm"})
#: server-set fields that change on every write, left out when comparing content
VOLATILE = frozenset(
    {
        "created",
        "updated",
        "created_at",
        "updated_at",
        "dates",
        "sys_version",
        "sys_created_at",
        "sys_last_modified_at",
        "sys_created_by_id",
        "sys_last_modified_by_id",
    }
)

Snapshot = dict[str, dict[str, str]]  # system -> record id -> content digest


def snapshot(box: Sandbox) -> Snapshot:
    """Each system's live records as digests of their content (volatile fields left out)."""
    result: Snapshot = {}
    for system in box.admin_urls:
        digests: dict[str, str] = {}
        for record in box.records(system):
            if record.get("_deleted"):
                continue
            content = {k: v for k, v in record.items() if k not in VOLATILE and k != "_deleted"}
            text = json.dumps(content, sort_keys=True, default=str)
            digests[str(record.get("id"))] = hashlib.sha256(text.encode()).hexdigest()
        result[system] = digests
    return result


@dataclass
class Changes:
    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.deleted


def changes(before: dict[str, str], after: dict[str, str]) -> Changes:
    return Changes(
        created=sum(1 for key in after if key not in before),
        updated=sum(1 for key, digest in after.items() if key in before and before[key] != digest),
        deleted=sum(1 for key in before if key not in after),
    )


def minimum_pages(system: str, delivered: int, window: bool, organizations: int = 0) -> int:
    """List pages needed to read ``delivered`` records (see the module docstring), plus
    one page per configured organization whose own channels Xurrent lists (a snapshot:
    each organization has a handful)."""
    size = MAX_PAGE[system]
    needed = delivered + (1 if window and system in SORTED_SCAN else 0)
    pages = math.ceil(needed / size)
    if system in SHORT_PAGE_ENDS and needed % size == 0:
        pages += 1
    return max(1, pages) + organizations


def organizations(engine: Engine, system: str) -> int:
    """How many organizations' own channels ``system`` lists every run (Xurrent)."""
    defaults = engine.settings.systems[system].defaults
    return len(getattr(defaults, "organization_ids", None) or [])


@dataclass
class Row:
    system: str
    made: Requests
    engine_count: int
    pages: int
    changed: Changes
    writes_attempted: int

    @property
    def minimum(self) -> int:
        return self.pages + self.changed.total

    @property
    def ratio(self) -> float:
        return self.made.total / self.minimum if self.minimum else float("inf")

    @property
    def noop_writes(self) -> int:
        return max(0, self.made.writes_ok - self.changed.total)


def measure(
    box: Sandbox,
    engine: Engine,
    label: str,
    kind: str,
    results: list[tuple[str, list[Row]]],
    verbose: bool = False,
) -> Timed:
    before = snapshot(box)
    timed = timed_run(box, engine, "backfill" if kind == "backfill" else "sync")
    after = snapshot(box)
    rows = []
    for system in SYSTEMS:
        made = timed.requests[system]
        counts = timed.outcome.summary.systems[system]
        rows.append(
            Row(
                system=system,
                made=made,
                engine_count=counts.requests,
                pages=minimum_pages(
                    system,
                    counts.extracted,
                    window=kind != "backfill",
                    organizations=organizations(engine, system),
                ),
                changed=changes(before[system], after[system]),
                writes_attempted=made.writes_ok + made.writes_refused,
            )
        )
    results.append((label, rows))
    print_pass(label, timed, rows)
    if verbose:
        for system in SYSTEMS:
            counts = timed.outcome.summary.systems[system]
            routes = ", ".join(
                f"{k}: {v}" for k, v in sorted(timed.requests[system].by_route.items())
            )
            print(f"  {system}: {counts.model_dump()}\n    {routes}")
    return timed


def print_pass(label: str, timed: Timed, rows: list[Row]) -> None:
    status = timed.outcome.summary.status
    print(f"\n{label} ({status}, {timed.wall:.1f} s)")
    headers = [
        "system",
        "made",
        "min",
        "ratio",
        "list",
        "min pages",
        "writes ok",
        "changes",
        "refused",
        "no-op",
        "reads",
        "auth",
    ]
    table = [
        [
            row.system,
            row.made.total,
            row.minimum,
            f"{row.ratio:.3f}",
            row.made.lists,
            row.pages,
            row.made.writes_ok,
            row.changed.total,
            row.made.writes_refused,
            row.noop_writes,
            row.made.reads,
            row.made.auth,
        ]
        for row in rows
    ]
    print_table(headers, table)
    for row in rows:
        if row.engine_count != row.made.total:
            print(
                f"  note: {row.system}: the engine counted {row.engine_count} requests, "
                f"the sandbox {row.made.total} (429s and retries count once per attempt)"
            )
    for error in timed.outcome.errors[:5]:
        print(f"  error: {error}")


def overhead_reasons(row: Row) -> list[str]:
    reasons = []
    if row.made.writes_refused:
        reasons.append(
            f"{row.made.writes_refused} writes refused by {row.system} (a create whose "
            "unique value another person's record holds, found only by trying)"
        )
    if row.made.reads:
        reasons.append(f"{row.made.reads} single-record reads")
    if row.made.lists > row.pages:
        reasons.append(
            f"{row.made.lists - row.pages} list pages more than the minimum (lookups after "
            "refused writes, or a page size below the vendor's largest)"
        )
    if row.noop_writes:
        reasons.append(f"{row.noop_writes} writes that changed nothing")
    return reasons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1000, help="seeded people (1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes", type=int, default=100, help="user edits before pass 4")
    parser.add_argument("--quick", action="store_true", help="300 people")
    parser.add_argument("--verbose", action="store_true", help="requests by route, engine counts")
    args = parser.parse_args(argv)
    people = 300 if args.quick else args.people
    command = "python bench/requests.py" + (" --quick" if args.quick else "")
    print_header(
        f"requests per system against the minimum the job needs ({people:,} people)", command
    )
    quiet_logs()
    results: list[tuple[str, list[Row]]] = []
    with sandbox(people, seed=args.seed) as box, tempfile.TemporaryDirectory() as folder:
        print(f"sandbox: {box.seeded} records ({box.startup_seconds:.1f} s to seed)")
        engine = box.engine(Path(folder) / "state.sqlite")
        try:
            measure(box, engine, "1. backfill", "backfill", results, args.verbose)
            measure(box, engine, "2. first sync after the backfill", "sync", results, args.verbose)
            overlap = max(s.overlap.total_seconds() for s in engine.settings.systems.values())
            time.sleep(overlap + 1.0)
            engine.run("sync")  # its window still reaches back before the wait
            measure(box, engine, "3. no-change sync", "sync", results, args.verbose)
            per_system = args.changes // len(SYSTEMS)
            edited = {s: len(box.mutate(s, per_system, seed=11)) for s in SYSTEMS}
            label = f"4. sync after {sum(edited.values())} user edits ({per_system} per system)"
            measure(box, engine, label, "sync", results, args.verbose)
        finally:
            engine.close()
    targets = []
    for label, rows in results:
        worst = max(rows, key=lambda row: row.ratio)
        reasons = [f"{r.system}: {reason}" for r in rows for reason in overhead_reasons(r)]
        targets.append(
            Target(
                f"{label}: made/minimum at most {TARGET_RATIO:.2f} for every system "
                f"(worst {worst.system} {worst.ratio:.3f})",
                all(row.ratio <= TARGET_RATIO for row in rows),
                "; ".join(reasons),
            )
        )
    return print_targets(targets)


if __name__ == "__main__":
    raise SystemExit(main())
