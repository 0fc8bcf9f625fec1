"""``contactsync match-file``: deduplicate a CSV of people with the sync's own matcher.

``--map COLUMN=FIELD`` names the canonical field of each column used (a field may
take several columns: two email columns, two street lines). Every good row gets
an output row ``record_id,person_id``: the ``--id-column`` value (else the row's
line number) and a person id shared by the rows of one person. A row that cannot
become a contact (no name, an invalid email, an impossible date, a duplicate
id ...) is reported with its line and the field at fault, and kept out.
"""

from __future__ import annotations

import csv
import gc
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, TextIO

import typer

from contactsync.match_file_rows import (
    CANONICAL_FIELDS,
    BadRow,
    MatchFileError,
    MatchFileResult,
    open_input,
    parse_mappings,
    read_features,
    row_payload,
)
from contactsync.matching import MatchConfig
from contactsync.matching_clustering import cluster_features
from contactsync.models import DEFAULT_REGION

__all__ = [
    "CANONICAL_FIELDS",
    "BadRow",
    "MatchFileError",
    "MatchFileResult",
    "match_file",
    "match_file_command",
    "parse_mappings",
    "row_payload",
]

MAX_WORKERS = 2
PARALLEL_FROM_BYTES = 2_000_000  # smaller files are parsed in this process


def match_file(
    path: Path,
    mapping: Sequence[tuple[str, str]],
    id_column: str | None,
    output: TextIO,
    region: str = DEFAULT_REGION,
    config: MatchConfig | None = None,
    on_progress: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> MatchFileResult:
    """Read, match and write ``record_id,person_id`` rows; returns what happened."""
    config = config or MatchConfig(default_region=region)
    result = MatchFileResult()
    if workers is None:
        workers = min(MAX_WORKERS, len(os.sched_getaffinity(0)))
        if path.stat().st_size < PARALLEL_FROM_BYTES:
            workers = 1

    def rows_read(count: int) -> None:
        if on_progress is not None:
            on_progress(f"read {count:,} rows")

    collecting = gc.isenabled()
    gc.disable()
    try:
        with open_input(path) as handle:
            ids, items = read_features(
                handle, mapping, id_column, region, result, rows_read, workers
            )
        if on_progress is not None:
            on_progress(f"comparing {len(items):,} records")
        numbers, _ = cluster_features(items, config.merge_threshold, on_stage=on_progress)
    finally:
        if collecting:
            gc.enable()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(["record_id", "person_id"])
    width = max(6, len(str(max(numbers, default=0) + 1)))
    for record_id, number in zip(ids, numbers, strict=True):
        writer.writerow([record_id, f"P{number + 1:0{width}d}"])
    result.persons = len(set(numbers))
    return result


def match_file_command(
    input_csv: Annotated[
        Path, typer.Argument(metavar="INPUT.csv", help="CSV of people, with a header row.")
    ],
    map_: Annotated[
        list[str],
        typer.Option(
            "--map",
            metavar="COLUMN=FIELD",
            help=f"Map a column to a field ({', '.join(CANONICAL_FIELDS)}); repeat.",
        ),
    ],
    id_column: Annotated[
        str | None,
        typer.Option("--id-column", metavar="COLUMN", help="Column with each row's id."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="OUTPUT.csv", help="Write here instead of stdout."),
    ] = None,
    region: Annotated[
        str, typer.Option("--region", help="Default region for phone numbers.")
    ] = DEFAULT_REGION,
) -> None:
    """Deduplicate a CSV of people with the matcher: record_id,person_id per row."""
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)
    try:
        mapping = parse_mappings(map_)
        if not input_csv.is_file():
            raise MatchFileError(f"{input_csv}: no such file")
        target = out.open("w", newline="", encoding="utf-8") if out else nullcontext(sys.stdout)
    except MatchFileError as exc:
        console.print(f"match-file: {exc}", style="red", highlight=False)
        raise typer.Exit(2) from None
    except OSError as exc:
        console.print(f"match-file: {out}: cannot write ({exc.strerror})", style="red")
        raise typer.Exit(2) from None
    try:
        with console.status("matching ...") as status, target as handle:
            result = match_file(
                input_csv,
                mapping,
                id_column,
                handle,
                region=region.upper(),
                on_progress=lambda text: status.update(f"matching: {text}"),
            )
    except MatchFileError as exc:
        console.print(f"match-file: {exc}", style="red", highlight=False)
        raise typer.Exit(2) from None
    for bad in result.bad:
        console.print(f"{input_csv}: {bad}", highlight=False, markup=False)
    good = result.rows - len(result.bad)
    console.print(
        f"{good:,} rows matched into {result.persons:,} persons; "
        f"{len(result.bad):,} bad rows left out",
        highlight=False,
    )


def main() -> None:
    """``python -m contactsync.match_file``: the command on its own (for benchmarks)."""
    app = typer.Typer(add_completion=False)
    app.command()(match_file_command)
    app()


if __name__ == "__main__":
    main()
