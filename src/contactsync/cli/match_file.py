"""``contactsync match-file``: deduplicate (or link) a CSV of people with the sync's matcher.

``--map COLUMN=FIELD`` names the canonical field of each column used (a field may
take several columns: two email columns, two street lines). Every row kept gets
an output row ``record_id,person_id``: the ``--id-column`` value (else the row's
line number) and a person id shared by the rows of one person.

Validation is per value, never per row: an invalid email, phone, date or id costs
that value only, reported on stderr with its line, column and reason, and the row
is matched on the rest; a phone in an email column (or an email in a phone column)
is used where it belongs, and reported. A row is left out, and listed, only when
nothing in it can identify anyone (no usable name, email, phone or id) or its
values cannot be assigned to the columns.

``--source-column`` makes it a linkage: only records of different sources are
compared; ``--dedup-free SOURCE`` says a source holds no duplicates (each of its
records keeps one best partner). Both pass through to :func:`contactsync.matching.matcher.cluster`.
"""

from __future__ import annotations

import csv
import gc
import inspect
import os
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from contactsync.matching.csv_rows import (
    CANONICAL_FIELDS,
    BadRow,
    MatchFileError,
    MatchFileResult,
    open_input,
    parse_mappings,
    read_contacts,
)
from contactsync.matching.csv_values import ValueProblem
from contactsync.matching.matcher import MatchConfig, cluster
from contactsync.model.contact import DEFAULT_REGION, Contact

__all__ = [
    "CANONICAL_FIELDS",
    "BadRow",
    "MatchFileError",
    "MatchFileResult",
    "ValueProblem",
    "cluster_keywords",
    "match_file",
    "match_file_command",
    "parse_mappings",
]

MAX_WORKERS = 2
PARALLEL_FROM_BYTES = 2_000_000  # smaller files are parsed in this process
LINKAGE_KEYWORDS = ("source_of", "dedup_free")


def cluster_keywords(
    source_of: Callable[[int], str] | None, dedup_free: Collection[str]
) -> tuple[dict[str, Any], list[str]]:
    """The linkage keywords this matcher's :func:`cluster` takes, and a note per keyword
    asked for that it does not take (then the file is matched as one deduplication)."""
    accepted = inspect.signature(cluster).parameters
    wanted: dict[str, Any] = {}
    if source_of is not None:
        wanted["source_of"] = source_of
    if dedup_free:
        wanted["dedup_free"] = tuple(dedup_free)
    keywords = {k: v for k, v in wanted.items() if k in accepted}
    notes = [
        f"this matcher's cluster() takes no {k!r}: matched as one deduplication"
        for k in wanted
        if k not in accepted
    ]
    return keywords, notes


def _drained(contacts: list[Contact | None]) -> Iterator[tuple[int, Contact]]:
    """(position, contact), each contact let go once the matcher has taken its
    features: 200,000 Contacts held to the end would double the peak memory."""
    for position, contact in enumerate(contacts):
        if contact is not None:
            contacts[position] = None
            yield position, contact


def match_file(
    path: Path,
    mapping: Sequence[tuple[str, str]],
    id_column: str | None,
    output: TextIO,
    region: str = DEFAULT_REGION,
    config: MatchConfig | None = None,
    on_progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    source_column: str | None = None,
    dedup_free: Collection[str] = (),
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
    gc.disable()  # millions of small objects and no cycles: about twice as fast
    try:
        with open_input(path) as handle:
            kept = read_contacts(
                handle, mapping, id_column, region, result, rows_read, workers, source_column
            )
        sources = kept.sources
        keywords, result.notes = cluster_keywords(
            sources.__getitem__ if source_column else None, dedup_free
        )
        numbers = cluster(_drained(kept.contacts), config, on_stage=on_progress, **keywords)
    finally:
        if collecting:
            gc.enable()
    labels = [numbers[position] for position in range(len(kept.ids))]
    renumbered = {label: n for n, label in enumerate(dict.fromkeys(labels))}
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(["record_id", "person_id"])
    width = max(6, len(str(len(renumbered))))
    for record_id, label in zip(kept.ids, labels, strict=True):
        writer.writerow([record_id, f"P{renumbered[label] + 1:0{width}d}"])
    result.persons = len(renumbered)
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
    source_column: Annotated[
        str | None,
        typer.Option(
            "--source-column",
            metavar="COLUMN",
            help="Link across sources: the column naming each row's source (system, file); "
            "only rows of different sources are compared.",
        ),
    ] = None,
    dedup_free: Annotated[
        list[str] | None,
        typer.Option(
            "--dedup-free",
            metavar="SOURCE",
            help="A source known to hold no duplicates (each of its rows keeps one best "
            "partner); repeat. Needs --source-column.",
        ),
    ] = None,
) -> None:
    """Deduplicate a CSV of people with the matcher: record_id,person_id per row.

    A bad email, phone, date or id costs that value only (reported on stderr with
    its line); a row is left out only when nothing in it identifies anyone.
    """
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)
    try:
        mapping = parse_mappings(map_)
        if dedup_free and not source_column:
            raise MatchFileError("--dedup-free needs --source-column")
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
                source_column=source_column,
                dedup_free=dedup_free or (),
            )
    except MatchFileError as exc:
        console.print(f"match-file: {exc}", style="red", highlight=False)
        raise typer.Exit(2) from None
    for note in result.notes:
        console.print(f"match-file: {note}", style="yellow", highlight=False, markup=False)
    for problem in result.values:
        kind = "moved" if problem.salvaged else "value dropped"
        console.print(f"{input_csv}: {problem} ({kind})", highlight=False, markup=False)
    for bad in result.bad:
        console.print(f"{input_csv}: {bad} (row left out)", highlight=False, markup=False)
    good = result.rows - len(result.bad)
    dropped = len(result.values) - result.salvaged
    console.print(
        f"{good:,} rows matched into {result.persons:,} persons; "
        f"{dropped:,} bad values dropped, {result.salvaged:,} moved to their field; "
        f"{len(result.bad):,} rows left out",
        highlight=False,
    )


def main() -> None:
    """``python -m contactsync.cli.match_file``: the command on its own (for benchmarks)."""
    app = typer.Typer(add_completion=False)
    app.command()(match_file_command)
    app()


if __name__ == "__main__":
    main()
