"""Reading ``match-file``'s CSV: rows to Contacts, problems named by their line.

The rows are parsed in worker processes on a large file (in order, so the result
is the same). Each row is validated field by field (:mod:`contactsync.matching.csv_values`):
a bad value costs that value only; a row is left out only when its values cannot be
told apart (a wrong number of values) or nothing in it identifies anyone.
"""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from contactsync.matching.csv_values import NOTHING_TO_IDENTIFY, ValueProblem, build_row
from contactsync.model.contact import Contact

CANONICAL_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "birthday",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "organization",
    "job_title",
    "reference",
)
MULTI_VALUED = frozenset({"email", "phone", "street"})
DELIMITERS = (",", ";", "\t", "|")
_CHUNK_ROWS = 2000
csv.field_size_limit(10 * 1024 * 1024)


class MatchFileError(Exception):
    """A problem with the command line or the input file as a whole."""


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class MatchFileResult:
    rows: int = 0
    persons: int = 0
    bad: list[BadRow] = field(default_factory=list)  # rows left out
    values: list[ValueProblem] = field(default_factory=list)  # values dropped or moved
    notes: list[str] = field(default_factory=list)  # about the run as a whole

    @property
    def salvaged(self) -> int:
        return sum(1 for problem in self.values if problem.salvaged)


def parse_mappings(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``COLUMN=FIELD`` options -> (column, field) pairs; errors name the option."""
    pairs: list[tuple[str, str]] = []
    for spec in specs:
        column, sep, target = spec.rpartition("=")
        column, target = column.strip(), target.strip()
        if not sep or not column or not target:
            raise MatchFileError(f"--map {spec!r}: expected COLUMN=FIELD")
        if target not in CANONICAL_FIELDS:
            raise MatchFileError(
                f"--map {spec!r}: unknown field {target!r}; "
                f"expected one of {', '.join(CANONICAL_FIELDS)}"
            )
        taken = [f for c, f in pairs if c == column]
        if taken:
            raise MatchFileError(f"--map {spec!r}: column {column!r} is already mapped")
        if target not in MULTI_VALUED and any(f == target for _, f in pairs):
            raise MatchFileError(f"--map {spec!r}: field {target!r} takes only one column")
        pairs.append((column, target))
    if not pairs:
        raise MatchFileError("give at least one --map COLUMN=FIELD")
    return pairs


def open_input(path: Path) -> TextIO:
    try:
        return path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise MatchFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise MatchFileError(f"{path}: cannot read ({exc.strerror})") from None


@dataclass(frozen=True)
class _Row:
    line: int
    values: list[str]


@dataclass(frozen=True)
class _Parsed:
    line: int
    record_id: str  # "" when the id column is empty
    source: str
    contact: Contact | None
    problem: str | None  # why the row is left out
    values: list[ValueProblem]


def _rows(handle: TextIO, wanted: Sequence[str]) -> tuple[list[str], Iterator[_Row]]:
    # The delimiter is the one the header line uses most; quoting is the standard one.
    # (csv.Sniffer reads the values too, and a value such as '"0,' misleads it into
    # another quote character, which splits every row wrongly.)
    first_line = handle.readline()
    handle.seek(0)
    delimiter = max(DELIMITERS, key=lambda d: (first_line.count(d), d == ","))
    reader = csv.reader(handle, csv.excel, delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise MatchFileError("the input file is empty (no header row)") from None
    missing = [column for column in wanted if column not in header]
    if missing:
        raise MatchFileError(
            f"no column {', '.join(repr(c) for c in missing)} in the header "
            f"(columns: {', '.join(header)})"
        )

    def rows() -> Iterator[_Row]:
        line = reader.line_num + 1
        for values in reader:
            start, line = line, reader.line_num + 1
            if any(value.strip() for value in values):
                yield _Row(start, values)

    return header, rows()


@dataclass(frozen=True)
class _Parser:
    """Turns rows into Contacts (picklable: it runs in worker processes too)."""

    header: tuple[str, ...]
    mapping: tuple[tuple[str, str], ...]
    id_column: str | None
    source_column: str | None
    region: str

    def __call__(self, rows: list[_Row]) -> list[_Parsed]:
        return [self.parse(row) for row in rows]

    def parse(self, row: _Row) -> _Parsed:
        width, cells = len(self.header), row.values
        shape: list[ValueProblem] = []
        if len(cells) > width and any(v.strip() for v in cells[width:]):
            problem = (
                f"{len(cells)} values for {width} columns "
                "(which value belongs to which column cannot be told)"
            )
            return _Parsed(row.line, "", "", None, problem, [])
        if len(cells) != width:  # trailing cells left off, or empty ones added (spreadsheets)
            what = f"{len(cells)} values for {width} columns: " + (
                f"the last {width - len(cells)} read as empty"
                if len(cells) < width
                else "the empty ones at the end ignored"
            )
            shape.append(ValueProblem(row.line, "(row)", "columns", what))
            cells = (cells + [""] * width)[:width]
        data = dict(zip(self.header, cells, strict=True))
        record_id = (data.get(self.id_column) or "").strip() if self.id_column else str(row.line)
        source = (data.get(self.source_column) or "").strip() if self.source_column else ""
        values = [(column, target, data.get(column) or "") for column, target in self.mapping]
        contact, problems = build_row(row.line, values, self.region)
        left_out = NOTHING_TO_IDENTIFY if contact is None else None
        return _Parsed(row.line, record_id, source, contact, left_out, shape + problems)


def _chunks(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class ReadRows:
    """The rows kept, in file order: their record ids, sources and Contacts."""

    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    contacts: list[Contact | None] = field(default_factory=list)  # None once matched


def read_contacts(
    handle: TextIO,
    mapping: Sequence[tuple[str, str]],
    id_column: str | None,
    region: str,
    result: MatchFileResult,
    on_row: Callable[[int], None] | None = None,
    workers: int = 1,
    source_column: str | None = None,
) -> ReadRows:
    """Every identifiable row's Contact; dropped values and left-out rows go to ``result``.

    An empty or repeated id costs the id only: the row is written as ``line-N``.
    With ``workers`` > 1 the rows are parsed in that many processes (in order).
    """
    wanted = [c for c, _ in mapping] + [c for c in (id_column, source_column) if c]
    header, rows = _rows(handle, wanted)
    parser = _Parser(tuple(header), tuple(mapping), id_column, source_column, region)
    chunks = _chunks(rows, _CHUNK_ROWS)
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    kept = ReadRows()
    try:
        parsed = pool.imap(parser, chunks) if pool is not None else map(parser, chunks)
        seen: dict[str, int] = {}
        for chunk in parsed:
            for entry in chunk:
                result.rows += 1
                result.values += entry.values
                if entry.problem is not None or entry.contact is None:
                    result.bad.append(BadRow(entry.line, entry.problem or "unreadable"))
                    continue
                kept.ids.append(_record_id(entry, id_column, seen, result))
                kept.sources.append(entry.source)
                kept.contacts.append(entry.contact)
            if on_row is not None:
                on_row(result.rows)
    finally:
        if pool is not None:
            pool.terminate()
    return kept


def _record_id(
    entry: _Parsed, id_column: str | None, seen: dict[str, int], result: MatchFileResult
) -> str:
    record_id = entry.record_id
    if record_id and record_id not in seen:
        seen[record_id] = entry.line
        return record_id
    fallback = f"line-{entry.line}"
    column = id_column or "id"
    reason = (
        f"id {record_id!r} already on line {seen[record_id]}: written as {fallback!r}"
        if record_id
        else f"empty id: written as {fallback!r}"
    )
    result.values.append(ValueProblem(entry.line, column, "id", reason))
    seen.setdefault(fallback, entry.line)
    return fallback
