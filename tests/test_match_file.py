"""``contactsync match-file``: CSV in, record_id,person_id out, bad values reported by line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from contactsync.cli.match_file import (
    MatchFileError,
    match_file,
    match_file_command,
    parse_mappings,
)

HEADER = "id,given,family,mail,mail2,tel,dob,street,city,zip,company\n"
ROWS = [
    "a1,Robert,Smith,bob.smith@example.com,,(404) 555-0101,1970-03-04,12 Maple St.,Atlanta,30301,Acme Inc.\n",  # noqa: E501
    "a2,Bob,Smith,BOB.SMITH@example.com ,,404-555-0101,,12 Maple Street,Atlanta,30301,\n",
    "a3,Jane,Smith,jane@example.com,,404-555-0188,1975-09-09,12 Maple Street,Atlanta,30301,\n",
    "a4,Kim,Ng,kim.ng@example.org,kim@work.example,,19900102,,,,\n",
    "a5,Kimberly,Ng,,kim@work.example,,,,,,\n",
]
MAP = [
    "given=first_name",
    "family=last_name",
    "mail=email",
    "mail2=email",
    "tel=phone",
    "dob=birthday",
    "street=street",
    "city=city",
    "zip=postal_code",
    "company=organization",
]


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(header + "".join(rows), encoding="utf-8")
    return path


def run(
    path: Path, id_column: str | None = "id", **kwargs: object
) -> tuple[dict[str, str], object]:
    output = io.StringIO()
    result = match_file(path, parse_mappings(MAP), id_column, output, **kwargs)  # type: ignore[arg-type]
    rows = list(csv.reader(io.StringIO(output.getvalue())))
    assert rows[0] == ["record_id", "person_id"]
    return {record: person for record, person in rows[1:]}, result


def test_rows_of_one_person_share_a_person_id(tmp_path: Path) -> None:
    persons, result = run(write(tmp_path, *ROWS))
    assert set(persons) == {"a1", "a2", "a3", "a4", "a5"}
    assert persons["a1"] == persons["a2"]  # nickname, email case, phone format
    assert persons["a4"] == persons["a5"]  # a shared second email
    assert len({persons["a1"], persons["a3"], persons["a4"]}) == 3  # Jane: same household
    assert result.persons == 3  # type: ignore[attr-defined]
    assert all(p.startswith("P") for p in persons.values())


def test_bad_values_cost_the_value_only_and_are_reported_by_line(tmp_path: Path) -> None:
    rows = [
        ROWS[0],
        "b1,,,nobody@example.com,,,,,,,\n",  # line 3: no name, still an email
        "b2,Ann,Lee,not-an-email,,,,,,,\n",  # line 4: invalid email
        "b3,Ann,Lee,ann@example.com,,,1990-02-31,,,,\n",  # line 5: impossible date
        "b4,Too,Few\n",  # line 6: trailing values left off: read as empty
        "b5,Too,Many,,,,,,,,,x,y\n",  # line 7: more values than columns
        "b6,Ann,Lee,ann@example.com,,,,,,,,,\n",  # line 8: empty values added at the end
        "a1,Dup,Licate,dup@example.com,,,,,,,\n",  # line 9: duplicate id
        ",No,Id,noid@example.com,,,,,,,\n",  # line 10: empty id
        ROWS[1],
    ]
    persons, result = run(write(tmp_path, *rows))
    assert set(persons) == {"a1", "a2", "b1", "b2", "b3", "b4", "b6", "line-9", "line-10"}
    assert persons["a1"] == persons["a2"]
    left_out = {b.line: b.reason for b in result.bad}  # type: ignore[attr-defined]
    assert list(left_out) == [7]  # its values cannot be told apart
    assert "13 values for 11 columns" in left_out[7]
    problems = {p.line: p for p in result.values}  # type: ignore[attr-defined]
    assert sorted(problems) == [4, 5, 6, 8, 9, 10]
    assert "the last 8 read as empty" in problems[6].reason
    assert "the empty ones at the end ignored" in problems[8].reason
    assert (problems[4].column, problems[4].target) == ("mail", "email")
    assert "not-an-email" in problems[4].reason
    assert problems[5].target == "birthday"
    assert "1990-02-31" in problems[5].reason
    assert "already on line 2" in problems[9].reason
    assert "empty id" in problems[10].reason
    assert str(problems[4]).startswith("line 4: mail (email): ")


def test_without_an_id_column_the_line_number_is_the_record_id(tmp_path: Path) -> None:
    persons, _ = run(write(tmp_path, ROWS[0], "\n", ROWS[1]), id_column=None)
    assert set(persons) == {"2", "4"}  # the blank line 3 is skipped
    assert persons["2"] == persons["4"]


def test_quoted_multi_line_values_keep_line_numbers_right(tmp_path: Path) -> None:
    rows = [
        'q1,Ann,Lee,ann@example.com,,,,"1 Long Road\nBuilding 2",,,\n',  # lines 2-3
        "q2,,,,,,,,Atlanta,,\n",  # line 4: nothing that identifies anyone
        "q3,,,,,,not a date,,,,\n",  # line 5: the same, and a bad date
    ]
    _, result = run(write(tmp_path, *rows))
    assert [b.line for b in result.bad] == [4, 5]  # type: ignore[attr-defined]
    assert "nothing to identify anyone" in result.bad[0].reason  # type: ignore[attr-defined]


def test_semicolon_separated_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id;given;family\nx1;Ann;Lee\nx2;Bob;Stone\n", encoding="utf-8")
    output = io.StringIO()
    mapping = parse_mappings(["given=first_name", "family=last_name"])
    result = match_file(path, mapping, "id", output)
    assert result.rows == 2
    assert not result.bad


def test_worker_processes_give_the_same_answer(tmp_path: Path) -> None:
    path = write(tmp_path, *(ROWS * 3))
    one, _ = run(path, id_column=None, workers=1)
    two, _ = run(path, id_column=None, workers=2)
    assert one == two


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[str] = []
    run(write(tmp_path, *ROWS), on_progress=seen.append)
    assert any(text.startswith("read 5 rows") for text in seen)
    assert any(text.startswith("clustering") for text in seen)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["given"], "expected COLUMN=FIELD"),
        (["given=nickname"], "unknown field 'nickname'"),
        (["given=first_name", "given=last_name"], "already mapped"),
        (["a=first_name", "b=first_name"], "takes only one column"),
        ([], "at least one --map"),
    ],
)
def test_bad_mappings_are_refused(specs: list[str], message: str) -> None:
    with pytest.raises(MatchFileError, match=message):
        parse_mappings(specs)


def test_unknown_columns_are_named(tmp_path: Path) -> None:
    output = io.StringIO()
    with pytest.raises(MatchFileError, match="no column 'surname'"):
        match_file(write(tmp_path, *ROWS), parse_mappings(["surname=last_name"]), None, output)


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(match_file_command)
    return app


def test_the_command_writes_the_output_file_and_a_summary(tmp_path: Path) -> None:
    source = write(tmp_path, *ROWS, "b1,,,,,,,,Atlanta,,\n", "b2,Al,Bo,al@@example.com,,,,,,,\n")
    target = tmp_path / "out.csv"
    args = [str(source), "--id-column", "id", "--out", str(target)]
    for spec in MAP:
        args += ["--map", spec]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "record_id,person_id"
    assert len(lines) == 7
    assert "line 7: nothing to identify anyone" in result.output
    assert "line 8: mail (email): " in result.output
    assert "(value dropped)" in result.output
    assert "6 rows matched into" in result.output
    assert "1 bad values dropped, 0 moved to their field; 1 rows left out" in result.output


def test_the_command_fails_cleanly_on_bad_input(tmp_path: Path) -> None:
    missing = CliRunner().invoke(_cli(), [str(tmp_path / "nope.csv"), "--map", "a=first_name"])
    assert missing.exit_code == 2
    assert "no such file" in missing.output
    bad_map = CliRunner().invoke(_cli(), [str(write(tmp_path, *ROWS)), "--map", "given"])
    assert bad_map.exit_code == 2
    assert "expected COLUMN=FIELD" in bad_map.output
