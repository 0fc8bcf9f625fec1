"""Reading ``match-file``'s CSV: rows to matcher features, bad rows named by their line.

The rows are parsed in worker processes on a large file (in order, so the result
is the same); each good row becomes the canonical Contact, validated as any
adapter's record is, and then the matcher's features.
"""

from __future__ import annotations

import csv
import multiprocessing
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

from contactsync.matching_normalise import Features, features
from contactsync.models import (
    Email,
    EmailType,
    FieldError,
    Phone,
    PhoneType,
    normalize_email,
    normalize_phone,
    parse_contact,
)

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
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
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
    bad: list[BadRow] = field(default_factory=list)


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


def row_payload(row: dict[str, str], mapping: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """One CSV row as the data of a canonical Contact."""
    data: dict[str, Any] = {}
    address: dict[str, Any] = {}
    for column, target in mapping:
        value = (row.get(column) or "").strip()
        if not value:
            continue
        if target == "email":
            data.setdefault("emails", []).append({"address": value})
        elif target == "phone":
            data.setdefault("phones", []).append({"number": value})
        elif target == "street":
            address.setdefault("lines", []).append(value)
        elif target in ("city", "region", "postal_code", "country"):
            address[target] = value
        elif target == "organization":
            data["organization"] = {"name": value}
        elif target == "birthday":
            compact = _COMPACT_DATE.match(value)
            data["birthday"] = "-".join(compact.groups()) if compact else value
        else:
            data[target] = value
    if address:
        data["address"] = address
    return data


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
    record_id: str
    item: Features | None
    problem: str | None


def _rows(handle: TextIO, wanted: Sequence[str]) -> tuple[list[str], Iterator[_Row]]:
    sample = handle.read(65536)
    handle.seek(0)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(handle, dialect)
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
    """Turns rows into features (picklable: it runs in worker processes too)."""

    header: tuple[str, ...]
    mapping: tuple[tuple[str, str], ...]
    id_column: str | None
    region: str

    def __call__(self, rows: list[_Row]) -> list[_Parsed]:
        return [self.parse(row) for row in rows]

    def parse(self, row: _Row) -> _Parsed:
        if len(row.values) != len(self.header):
            problem = f"{len(row.values)} values for {len(self.header)} columns"
            return _Parsed(row.line, "", None, problem)
        data = dict(zip(self.header, row.values, strict=True))
        record_id = (data.get(self.id_column) or "").strip() if self.id_column else str(row.line)
        if not record_id:
            return _Parsed(row.line, "", None, f"{self.id_column}: empty id")
        payload = row_payload(data, self.mapping)
        emails, phones, errors = _channels(
            payload.pop("emails", []), payload.pop("phones", []), self.region
        )
        contact, more = parse_contact(payload, self.region)
        errors += more
        if contact is None or errors:
            return _Parsed(row.line, record_id, None, "; ".join(str(e) for e in errors))
        contact.emails, contact.phones = emails, phones
        return _Parsed(row.line, record_id, features(contact), None)


@lru_cache(maxsize=131072)
def _normalised_email(key: str) -> str:
    return normalize_email(key)


@lru_cache(maxsize=131072)
def _normalised_phone(text: str, region: str) -> tuple[str, str | None]:
    return normalize_phone(text, region)


_PLAIN_PHONE = re.compile(r"^\+?[\d\s().-]+$")


def _phone_key(text: str) -> str:
    """A number written with digits and punctuation only parses as its digits do
    (``(404) 555-0101`` like ``404.555.0101``): one cache entry for every format."""
    if _PLAIN_PHONE.match(text):
        return ("+" if text.startswith("+") else "") + "".join(ch for ch in text if ch.isdigit())
    return text


def _channels(
    emails: list[dict[str, str]], phones: list[dict[str, str]], region: str
) -> tuple[list[Email], list[Phone], list[FieldError]]:
    """The row's emails and phones, validated as the Contact model does (with a cache:
    the same address and number come back in many rows)."""
    errors: list[FieldError] = []
    valid_emails: list[Email] = []
    for number, entry in enumerate(emails):
        text = entry["address"]
        try:
            address = _normalised_email(text.strip().lower())
        except ValueError:
            try:  # the message names the value as it was typed
                normalize_email(text)
                message = "invalid email"
            except ValueError as exc:
                message = str(exc)
            errors.append(FieldError(field=f"emails[{number}].address", message=message))
            continue
        valid_emails.append(Email.model_construct(address=address, type=EmailType.OTHER))
    valid_phones: list[Phone] = []
    for number, entry in enumerate(phones):
        text = entry["number"].strip()
        try:
            e164, extension = _normalised_phone(_phone_key(text), region)
        except ValueError:
            try:  # the message names the value as it was typed
                normalize_phone(text, region)
                message = "invalid phone"
            except ValueError as exc:
                message = str(exc)
            errors.append(FieldError(field=f"phones[{number}].number", message=message))
            continue
        valid_phones.append(
            Phone.model_construct(number=e164, type=PhoneType.OTHER, extension=extension)
        )
    return valid_emails, valid_phones, errors


def _chunks(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_features(
    handle: TextIO,
    mapping: Sequence[tuple[str, str]],
    id_column: str | None,
    region: str,
    result: MatchFileResult,
    on_row: Callable[[int], None] | None = None,
    workers: int = 1,
) -> tuple[list[str], list[Features]]:
    """Record ids and features of the good rows; bad rows go to ``result.bad``.

    With ``workers`` > 1 the rows are parsed in that many processes (in order).
    """
    wanted = [c for c, _ in mapping] + ([id_column] if id_column else [])
    header, rows = _rows(handle, wanted)
    parser = _Parser(tuple(header), tuple(mapping), id_column, region)
    chunks = _chunks(rows, _CHUNK_ROWS)
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        parsed = pool.imap(parser, chunks) if pool is not None else map(parser, chunks)
        ids: list[str] = []
        items: list[Features] = []
        seen: dict[str, int] = {}
        for chunk in parsed:
            for entry in chunk:
                result.rows += 1
                if entry.problem is None and entry.record_id in seen:
                    first = seen[entry.record_id]
                    problem = f"{id_column}: id {entry.record_id!r} already on line {first}"
                    result.bad.append(BadRow(entry.line, problem))
                elif entry.problem is not None or entry.item is None:
                    result.bad.append(BadRow(entry.line, entry.problem or "unreadable"))
                else:
                    seen[entry.record_id] = entry.line
                    ids.append(entry.record_id)
                    items.append(entry.item)
            if on_row is not None:
                on_row(result.rows)
    finally:
        if pool is not None:
            pool.terminate()
    return ids, items
