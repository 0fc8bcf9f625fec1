"""Benchmark: contactsync's matcher against splink, recordlinkage and a naive rule.

Run from the repository root (needs the bench extra: ``pip install -e '.[bench]'``)::

    .venv/bin/python bench/matching.py                  # every set, then the scale run
    .venv/bin/python bench/matching.py --quick          # no 200,000-record scale run
    .venv/bin/python bench/matching.py --sets febrl4-id,crm-dirty

Data sets (``--list`` names them; the same rows for every method):

* public: FEBRL1-3 deduplication (all fields; FEBRL3 also names + soc_sec_id only),
  FEBRL4 as a linkage of files A and B (names + soc_sec_id; names + addresses);
* public: pseudopeople's bundled sample (census vs tax 1040 linkage; census, ACS and
  CPS in one file, deduplicated), households included;
* our own CRM-style generator (``matching_crm.py``), clean-ish and dirty exports;
* the sandbox's seeded people (our own generator).

contactsync runs as ``match-file`` does (its own code path, on the set written as a
CSV; a linkage passes ``--source-column`` and ``--dedup-free``). Each method runs in
a child process forked for it, which measures its seconds and its peak memory (the
rise of the child's peak RSS over its size when it started). Printed per set and
method: precision, recall, F1, pair completeness of the blocking where the method
exposes its candidate pairs, seconds, MB; then the targets, met or not.
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matching_baselines import Outcome, naive_rule, recordlinkage_clusters, splink_clusters
from matching_crm import crm_set
from matching_data import (
    FEBRL_NAMES_ADDRESS,
    FEBRL_NAMES_ID,
    ID_COLUMN,
    SOURCE_COLUMN,
    Labelled,
    febrl4_set,
    febrl_dedup_set,
    sandbox_set,
)
from matching_scale import SCALE_PEOPLE, run_scale, scale_worker
from matching_scores import Score, score
from matching_sets import pseudopeople_dedup_set, pseudopeople_linkage_set

PRECISION_MARGIN = 0.005
METHOD_TIMEOUT = 900.0
FAILED = ("error", "timeout")  # a method's note when it did not finish

SETS: dict[str, Callable[[argparse.Namespace], Labelled]] = {
    "febrl1": lambda a: febrl_dedup_set(1),
    "febrl2": lambda a: febrl_dedup_set(2),
    "febrl3": lambda a: febrl_dedup_set(3),
    "febrl3-id": lambda a: febrl_dedup_set(3, FEBRL_NAMES_ID),
    "febrl4-id": lambda a: febrl4_set(FEBRL_NAMES_ID),
    "febrl4-address": lambda a: febrl4_set(FEBRL_NAMES_ADDRESS),
    "pp-linkage": lambda a: pseudopeople_linkage_set(),
    "pp-dedup": lambda a: pseudopeople_dedup_set(),
    "crm-clean": lambda a: crm_set(a.crm_people, 0.04, a.seed, "clean-ish"),
    "crm-dirty": lambda a: crm_set(a.crm_people, 0.15, a.seed + 1, "dirty"),
    "sandbox": lambda a: sandbox_set(a.people, a.seed),
}


# --- contactsync, as match-file runs ---------------------------------------------------


def write_csv(data: Labelled, folder: Path) -> Path:
    path = folder / "input.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=data.header)
        writer.writeheader()
        writer.writerows(data.rows)
    return path


def contactsync_outcome(data: Labelled, path: Path) -> tuple[Outcome, str]:
    from contactsync.cli.match_file import match_file

    output = io.StringIO()
    result = match_file(
        path,
        data.mapping,
        ID_COLUMN,
        output,
        source_column=SOURCE_COLUMN if data.linkage else None,
        dedup_free=data.dedup_free,
    )
    output.seek(0)
    person = {row["record_id"]: row["person_id"] for row in csv.DictReader(output)}
    labels: list[object] = [person.get(str(i), f"left-out-{i}") for i in range(len(data.rows))]
    dropped = len(result.values) - result.salvaged
    note = f"{len(result.bad)} rows left out, {dropped} values dropped, {result.salvaged} moved" + (
        f"; {'; '.join(result.notes)}" if result.notes else ""
    )
    started = time.perf_counter()
    candidates = contactsync_candidates(data, path)
    return Outcome(labels, candidates, time.perf_counter() - started), note


def contactsync_candidates(data: Labelled, path: Path) -> set[tuple[int, int]] | None:
    """The pairs contactsync's blocking compares, if the matcher says which (H2's
    ``candidate_pairs_of``); None otherwise."""
    from contactsync.matching import matcher as matching
    from contactsync.matching.csv_rows import MatchFileResult, open_input, read_contacts

    listing = getattr(matching, "candidate_pairs_of", None)
    if listing is None:
        return None
    with open_input(path) as handle:
        kept = read_contacts(
            handle, data.mapping, ID_COLUMN, "US", MatchFileResult(), None, 1,
            SOURCE_COLUMN if data.linkage else None,
        )  # fmt: skip
    positions = [int(i) for i in kept.ids]
    keywords: dict[str, Any] = {}
    if data.linkage:
        keywords["source_of"] = lambda k: kept.sources[k]
    pairs = listing(
        [(i, c) for i, c in enumerate(kept.contacts) if c], matching.MatchConfig(), **keywords
    )
    return {(min(positions[a], positions[b]), max(positions[a], positions[b])) for a, b in pairs}


# --- each method in a child process ----------------------------------------------------


def _child(run: Callable[[], tuple[Outcome, str]], pipe: Any) -> None:
    import psutil

    try:
        start_rss = psutil.Process().memory_info().rss
        started = time.perf_counter()
        outcome, note = run()
        seconds = time.perf_counter() - started - outcome.untimed
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        pipe.send(("ok", outcome, note, seconds, max(0, peak - start_rss) / 2**20))
    except BaseException:  # the parent reports it and goes on
        pipe.send(("error", None, traceback.format_exc(limit=6), 0.0, 0.0))


def measure(name: str, data: Labelled, run: Callable[[], tuple[Outcome, str]]) -> Score:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(run, sender))
    child.start()
    sender.close()
    status, outcome, note, seconds, megabytes = "timeout", None, "", METHOD_TIMEOUT, 0.0
    if receiver.poll(METHOD_TIMEOUT):
        status, outcome, note, seconds, megabytes = receiver.recv()
    child.join(5)
    if child.is_alive():
        child.kill()
    if status != "ok" or outcome is None:
        print(f"  {name}: {status}\n{note}", file=sys.stderr)
        labels: list[object] = list(range(len(data.rows)))
        return score(name, labels, data.truth, None, seconds, megabytes, status)
    return score(name, outcome.labels, data.truth, outcome.candidates, seconds, megabytes, note)


def run_set(data: Labelled) -> list[Score]:
    folder = Path(tempfile.mkdtemp(prefix="contactsync-bench-"))
    path = write_csv(data, folder)
    methods: list[tuple[str, Callable[[], tuple[Outcome, str]]]] = [
        ("contactsync", lambda: contactsync_outcome(data, path)),
        ("splink (DuckDB, EM)", lambda: (splink_clusters(data), "")),
        ("recordlinkage (ECM)", lambda: (recordlinkage_clusters(data), "")),
        ("naive rule", lambda: (naive_rule(data), "")),
    ]
    scores = [measure(name, data, run) for name, run in methods]
    path.unlink()
    folder.rmdir()
    return scores


def print_set(data: Labelled, scores: list[Score]) -> list[tuple[str, bool]]:
    persons = len(set(data.truth))
    mode = "linkage of " + ", ".join(sorted(set(data.sources or []))) if data.linkage else "dedup"
    print(f"\n{data.name} [{data.origin}; {mode}]: {len(data.rows):,} records, {persons:,} persons")
    print(f"  {'method':<22}{'precision':>10}{'recall':>10}{'F1':>10}{'pairs':>8}"
          f"{'seconds':>9}{'MB':>7}")  # fmt: skip
    for s in scores:
        completeness = "n/a" if s.pair_completeness is None else f"{s.pair_completeness:.4f}"
        if s.note in FAILED:
            print(f"  {s.method:<22}{s.note + ' (see stderr)':>40}")
            continue
        print(
            f"  {s.method:<22}{s.precision:>10.4f}{s.recall:>10.4f}{s.f1:>10.4f}"
            f"{completeness:>8}{s.seconds:>9.2f}{s.megabytes:>7.0f}"
        )
    if scores[0].note not in ("", *FAILED):
        print(f"  contactsync: {scores[0].note}")
    ours, baselines = scores[0], [s for s in scores[1:] if s.note not in FAILED]
    if ours.note in FAILED or not baselines:
        return [(f"{data.name}: contactsync and at least one other method finished", False)]
    best = max(baselines, key=lambda s: s.f1)
    precise = max(baselines, key=lambda s: s.precision)
    splink = next((s for s in scores if s.method.startswith("splink")), ours)
    checks = [
        (f"F1 {ours.f1:.4f} > best other ({best.method}) {best.f1:.4f}", ours.f1 > best.f1),
        (
            f"precision {ours.precision:.4f} >= best other ({precise.method}) "
            f"{precise.precision:.4f} - {PRECISION_MARGIN}",
            ours.precision >= precise.precision - PRECISION_MARGIN,
        ),
        (
            f"time {ours.seconds:.2f}s <= half of splink's {splink.seconds:.2f}s",
            ours.seconds <= splink.seconds / 2,
        ),
    ]
    for text, met in checks:
        print(f"  target {'MET' if met else 'NOT MET'}: {text}")
    return [(f"{data.name}: {text}", met) for text, met in checks]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sets", help=f"comma-separated subset of: {', '.join(SETS)}")
    parser.add_argument("--list", action="store_true", help="list the data sets and stop")
    parser.add_argument("--people", type=int, default=2000, help="sandbox people (default 2000)")
    parser.add_argument("--crm-people", type=int, default=2000, help="CRM people (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale-people", type=int, default=SCALE_PEOPLE)
    parser.add_argument("--quick", action="store_true", help="skip the scale run")
    parser.add_argument("--scale-only", action="store_true", help="only the scale run")
    parser.add_argument("--scale-worker", nargs=2, metavar=("CSV", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_worker:
        scale_worker(Path(args.scale_worker[0]), Path(args.scale_worker[1]))
        return 0
    if args.list:
        print("\n".join(SETS))
        return 0
    names = list(SETS) if not args.sets else [n.strip() for n in args.sets.split(",")]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"unknown set {', '.join(unknown)}; --list names them")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    started = time.perf_counter()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    checks: list[tuple[str, bool]] = []
    if not args.scale_only:
        for name in names:
            data = SETS[name](args)
            checks += print_set(data, run_set(data))
            sys.stdout.flush()
    if not args.quick and (args.scale_only or not args.sets):
        checks += run_scale(args.scale_people, args.seed)
    missed = [text for text, met in checks if not met]
    print(f"\n{len(checks) - len(missed)} of {len(checks)} targets met "
          f"({time.perf_counter() - started:.0f}s in all)")  # fmt: skip
    for text in missed:
        print(f"  not met: {text}")
    return 0 if not missed else 1


if __name__ == "__main__":
    raise SystemExit(main())
