"""``match-file`` validates values, not rows: a bad value costs that value only."""

from __future__ import annotations

import csv
import inspect
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from contactsync.cli.match_file import MatchFileResult, match_file, parse_mappings
from contactsync.matching.csv_values import build_row
from contactsync.matching.matcher import cluster

HEADER = ["id", "given", "family", "mail", "tel", "dob", "street", "zip", "country", "ref"]
MAP = parse_mappings(
    [
        "given=first_name",
        "family=last_name",
        "mail=email",
        "tel=phone",
        "dob=birthday",
        "street=street",
        "zip=postal_code",
        "country=country",
        "ref=reference",
    ]
)
GOOD = [
    ["r1", "Robert", "Smith", "bob.smith@example.com", "(404) 555-0101", "1970-03-04",
     "12 Maple St", "30301", "US", "A-1"],
    ["r2", "Jane", "Doe", "jane.doe@example.org", "+44 20 7946 0958", "1981-11-30",
     "1 High St", "SW1A 1AA", "GB", "A-2"],
    ["r3", "Kim", "Ng", "kim@work.example", "404-555-0188", "", "", "", "", ""],
]  # fmt: skip


def write(folder: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path = folder / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(path: Path, **kwargs: object) -> tuple[dict[str, str], MatchFileResult]:
    output = io.StringIO()
    result = match_file(path, MAP, "id", output, **kwargs)  # type: ignore[arg-type]
    rows = list(csv.reader(io.StringIO(output.getvalue())))[1:]
    return {record: person for record, person in rows}, result


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # each example writes and matches a small file
@given(
    row=st.integers(min_value=0, max_value=len(GOOD) - 1),
    column=st.integers(min_value=1, max_value=len(HEADER) - 1),
    garbage=st.text(min_size=1, max_size=40),
)
@example(row=0, column=1, garbage='"0,')  # once misled csv.Sniffer into splitting every row
def test_garbage_in_one_field_never_removes_a_row(row: int, column: int, garbage: str) -> None:
    rows = [list(r) for r in GOOD]
    rows[row][column] = garbage
    with tempfile.TemporaryDirectory() as folder:
        persons, result = run(write(Path(folder), rows))
    assert not result.bad, result.bad
    assert set(persons) == {"r1", "r2", "r3"}
    for problem in result.values:  # whatever was dropped is named by its line and column
        assert problem.line == row + 2
        assert problem.column == HEADER[column]


def test_a_phone_in_the_email_column_is_used_as_a_phone(tmp_path: Path) -> None:
    rows = [GOOD[0], ["r4", "Robert", "Smith", "404.555.0101", "", "", "", "", "", ""]]
    persons, result = run(write(tmp_path, rows))
    assert persons["r4"] == persons["r1"]  # matched on the salvaged number
    (problem,) = result.values
    assert (problem.line, problem.column, problem.target) == (3, "mail", "email")
    assert problem.salvaged
    assert "used as a phone" in problem.reason


def test_an_email_in_the_phone_column_is_used_as_an_email(tmp_path: Path) -> None:
    rows = [GOOD[2], ["r4", "Kim", "Ng", "", "KIM@work.example", "", "", "", "", ""]]
    persons, result = run(write(tmp_path, rows))
    assert persons["r4"] == persons["r3"]
    (problem,) = result.values
    assert (problem.column, problem.target, problem.salvaged) == ("tel", "phone", True)
    assert "used as an email" in problem.reason


def test_invisible_characters_do_not_spoil_a_value() -> None:
    values = [
        ("mail", "email", "bob\u200b.smith@exam\ufeffple.com"),
        ("given", "first_name", "Bo\u200db"),
    ]
    contact, problems = build_row(2, values, "US")
    assert contact is not None
    assert not problems
    assert contact.emails[0].address == "bob.smith@example.com"
    assert contact.first_name == "Bob"


def test_a_row_without_a_name_is_kept_when_something_identifies_it(tmp_path: Path) -> None:
    rows = [GOOD[0], ["r4", "", "", "", "", "", "", "", "", "A-9"], ["r5", "", "", "", "", "",
            "9 Elm St", "30301", "US", ""]]  # fmt: skip
    persons, result = run(write(tmp_path, rows))
    assert set(persons) == {"r1", "r4"}  # r4 by its id; r5 has only an address
    assert [(b.line, "nothing to identify anyone" in b.reason) for b in result.bad] == [(4, True)]


def test_the_command_lists_a_row_left_out_and_each_bad_value(tmp_path: Path) -> None:
    from contactsync.cli.app import app

    rows = [GOOD[0], ["r4", "Al", "Bo", "al@@x", "12", "", "", "", "", ""], ["r5"] + [""] * 9]
    args = ["match-file", str(write(tmp_path, rows)), "--id-column", "id"]
    for column, target in MAP:
        args += ["--map", f"{column}={target}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "line 3: mail (email): " in result.output
    assert "line 3: tel (phone): " in result.output
    assert "line 4: nothing to identify anyone" in result.output
    assert result.stdout.count("P0") == 2  # r1 and r4 are in the output, r5 is not


LINKAGE = "source_of" in inspect.signature(cluster).parameters


@pytest.mark.skipif(
    not LINKAGE, reason="contactsync.matching.matcher.cluster has no 'source_of' keyword"
)
def test_a_source_column_links_only_across_sources(tmp_path: Path) -> None:
    header = [*HEADER, "system"]
    same = GOOD[0][1:]
    rows = [["a1", *same, "crm"], ["a2", *same, "crm"], ["b1", *GOOD[1][1:], "erp"]]
    path = write(tmp_path, rows, header)
    deduplicated, _ = run(path)
    assert deduplicated["a1"] == deduplicated["a2"]
    linked, result = run(path, source_column="system")
    assert not result.notes
    assert linked["a1"] != linked["a2"]  # one source: never compared
    rows.append(["b2", *same, "erp"])
    linked, _ = run(write(tmp_path, rows, header), source_column="system", dedup_free=["crm"])
    assert linked["b2"] in (linked["a1"], linked["a2"])  # across sources: linked
    assert linked["a1"] != linked["a2"]  # crm is free of duplicates: one partner each
