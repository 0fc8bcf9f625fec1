"""Benchmark: peak memory of a backfill of 20,000 people.

Run from the repository root::

    .venv/bin/python bench/memory.py            # 20,000 people, read-only, about 3 minutes
    .venv/bin/python bench/memory.py --full     # 20,000 people with the writes (much longer)
    .venv/bin/python bench/memory.py --quick    # 5,000 people

The sandbox (limits off) runs in its own process, so this process holds contactsync
alone: its resident set is sampled every 0.1 s during the backfill (with ``psutil``
from the ``bench`` extra, else only the kernel's peak), and the peak is the
kernel's own high-water mark (``getrusage``). Printed: the resident set before the
run (interpreter, libraries, engine), the peak and when it came (the extract, the
match and plan between the last read and the first write, or the load), and the
run's counts. By default the backfill runs with every system ``direction = "source"``
(extract, stage, match, merge; no plan, no writes), which fits in five minutes at
20,000 people on a 2-core machine; ``--full`` plans and writes as well (the load of
some 90,000 writes then takes most of the time, and the planned actions of everyone
are held in memory together before they are queued).

Target: peak under 500 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Target,
    peak_rss_mb,
    print_header,
    print_table,
    print_targets,
    quiet_logs,
    sandbox,
)

TARGET_MB = 500.0


class Sampler:
    """Resident set of this process every ``interval`` seconds, in MB."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        try:
            import psutil  # type: ignore[import-untyped]

            self._process: object | None = psutil.Process()
        except ImportError:
            self._process = None

    def _rss(self) -> float:
        if self._process is None:
            return peak_rss_mb()
        return float(self._process.memory_info().rss) / 2**20  # type: ignore[attr-defined]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append((time.perf_counter(), self._rss()))

    def __enter__(self) -> Sampler:
        self.samples.append((time.perf_counter(), self._rss()))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), self._rss()))


class WriteClock:
    """Times of the first and last request sent from a worker thread (the load), and of
    the last one sent from the main thread (the extract)."""

    def __init__(self) -> None:
        self.last_read = 0.0
        self.first_write = 0.0
        self.last_write = 0.0
        self._lock = threading.Lock()

    def hook(self, request: httpx.Request) -> None:
        now = time.perf_counter()
        with self._lock:
            if threading.current_thread() is threading.main_thread():
                self.last_read = now
            else:
                self.first_write = self.first_write or now
                self.last_write = now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=20_000, help="seeded people (20,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="plan and write too (much longer)")
    parser.add_argument("--read-only", action="store_true", help="direction = source (default)")
    parser.add_argument("--quick", action="store_true", help="5,000 people")
    args = parser.parse_args(argv)
    people = 5000 if args.quick else args.people
    command = "python bench/memory.py" + (" --quick" if args.quick else "")
    read_only = not args.full
    command += " --full" if args.full else ""
    kind = "read-only backfill" if read_only else "backfill"
    print_header(f"peak memory of a {kind} of {people:,} people", command)
    quiet_logs()
    with sandbox(people, seed=args.seed) as box, tempfile.TemporaryDirectory() as folder:
        print(
            f"sandbox: {sum(box.seeded.values()):,} records over five systems "
            f"({box.startup_seconds:.0f} s to seed, in its own process)"
        )
        engine = box.engine(
            Path(folder) / "state.sqlite",
            every={"direction": "source"} if read_only else None,
        )
        clock = WriteClock()
        for adapter in engine.adapters.values():
            adapter.client.event_hooks["request"].append(clock.hook)
        before = peak_rss_mb()
        started = time.perf_counter()
        try:
            with Sampler() as sampler:
                outcome = engine.run("backfill")
            failed = [
                f"{entry.key}: {entry.last_error}" for entry in engine.state.list_actions("failed")
            ]
        finally:
            engine.close()
        wall = time.perf_counter() - started
        peak = peak_rss_mb()
    at, highest = max(sampler.samples, key=lambda sample: sample[1])
    if clock.first_write and at >= clock.first_write:
        phase = "while loading"
    elif at > clock.last_read:
        phase = "while matching, merging and planning"
    else:
        phase = "while extracting and staging"
    summary = outcome.summary
    print(f"\n{kind}: {summary.status} in {wall:.0f} s; {summary.persons.total:,} persons")
    print_table(
        ["system", "extracted", "staged", "created", "updated", "failed", "requests"],
        [
            [name, c.extracted, c.staged, c.created, c.updated, c.failed, c.requests]
            for name, c in summary.systems.items()
        ],
    )
    print(
        f"\nresident set: {before:.0f} MB before the run, peak {peak:.0f} MB "
        f"(sampled peak {highest:.0f} MB at {at - started:.0f} s, {phase})"
    )
    marks = [s for s in sampler.samples[:: max(1, len(sampler.samples) // 10)]]
    print("  timeline: " + ", ".join(f"{t - started:.0f} s {mb:.0f} MB" for t, mb in marks))
    for error in outcome.errors[:5]:
        print(f"  error: {error}")
    for write in failed[:5]:
        print(f"  failed write (retried on the next run): {write}")
    targets = [
        Target(
            f"peak resident set {peak:.0f} MB under {TARGET_MB:.0f} MB",
            peak < TARGET_MB,
            f"peak reached {phase}",
        ),
        Target(f"backfill status ok ({summary.status})", summary.status == "ok"),
    ]
    return print_targets(targets)


if __name__ == "__main__":
    raise SystemExit(main())
