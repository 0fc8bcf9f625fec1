"""The matching benchmark's scale run: ``match-file`` on about 200,000 sandbox records."""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from matching_scores import link_pairs

SCALE_PEOPLE = 91_000  # about 200,000 records over the five systems
SCALE_SECONDS = 60.0
SCALE_MEGABYTES = 2048.0

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
    from contactsync_sandbox.people import generate

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
    command = [
        sys.executable,
        str(Path(__file__).with_name("matching.py")),
        "--scale-worker",
        str(source),
        str(output),
    ]
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
    from contactsync.cli.match_file import match_file, parse_mappings

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
