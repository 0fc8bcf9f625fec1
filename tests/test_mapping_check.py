"""``contactsync mappings check``: every problem printed as FILE:LINE: message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactsync.cli.mappings import mappings_app
from contactsync.mapping.locate import TomlLocator
from contactsync.mapping.mapper import check_mappings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "mappings"

GOOD_HEAD = 'system = "pylon"\nversion = 1\n'


def check(directory: Path) -> tuple[int, str]:
    result = CliRunner().invoke(mappings_app, ["check", str(directory)])
    return result.exit_code, result.output


def write(tmp_path: Path, text: str, name: str = "pylon.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_mappings_pass() -> None:
    code, output = check(SHIPPED)
    assert code == 0, output
    assert output.strip() == f"OK: 5 mapping file(s) in {SHIPPED} are valid"


def test_default_directory_is_mappings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "mappings")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(mappings_app, ["check"])
    assert result.exit_code == 0
    assert "OK: 5 mapping file(s) in mappings" in result.output


def test_unknown_transform_points_at_the_transforms_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD_HEAD + '\n[[inbound]]\nfrom = "name"\nto = "full_name"\ntransforms = ["strp"]\n',
    )
    code, output = check(tmp_path)
    assert code == 1
    assert f"{path}:7: inbound rule 1: unknown transform 'strp'" in output


def test_unknown_canonical_field_in_either_direction(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD_HEAD
        + '\n[[inbound]]\nfrom = "name"\nto = "full_name"\n'
        + '\n[[inbound]]\nfrom = "email"\nto = "email"\n'
        + '\n[[outbound]]\nfrom = "phone"\nto = "phone_numbers"\n',
    )
    code, output = check(tmp_path)
    assert code == 1
    assert f"{path}:10: inbound rule 2: unknown canonical field 'email'" in output
    assert f"{path}:13: outbound rule 1: unknown canonical field 'phone'" in output


def test_toml_syntax_error_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + '\n[[inbound]]\nfrom = "name"\nto = full_name\n')
    code, output = check(tmp_path)
    assert code == 1
    assert output.startswith(f"{path}:6: TOML syntax error: ")


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ('[[inbound]]\nfrom = "name"\nto = "full_name"\ntransfroms = []\n', 7,
         "inbound rule 1: unknown key 'transfroms'"),
        ('[[inbound]]\nfrom = "name"\n', 4, "inbound rule 1: missing 'to'"),
        ('[[outbound]]\nto = "name"\n', 4, "outbound rule 1: missing 'from'"),
        ('[[inbound]]\nfrom = "p"\nto = "phones"\nkind = "cell"\n', 7,
         "inbound rule 1: bad kind 'cell' for phones (expected mobile|home|work|fax|other)"),
        ('[[inbound]]\nfrom = "p"\nto = "job_title"\nkind = "work"\n', 7,
         "inbound rule 1: kind only applies to emails and phones"),
        ('[[outbound]]\nfrom = "phones"\nselect = "cell"\nto = "p"\n', 6,
         "outbound rule 1: bad select 'cell'"),
        ('[[outbound]]\nfrom = "job_title"\nindex = 0\nto = "p"\n', 6,
         "outbound rule 1: index only applies to emails, phones, address.lines"),
        ('[[outbound]]\nfrom = "phones:cell"\nto = "p"\n', 5,
         "outbound rule 1: bad kind 'cell' in 'phones:cell'"),
        ('[[inbound]]\nfrom = "s"\nto = "status"\ntransforms = ["enum:status"]\n', 7,
         "inbound rule 1: enum table 'status' is not defined (add [enums.status])"),
        ('[[inbound]]\nfrom = "n"\nto = "first_name"\ntransforms = ["join_name"]\n', 7,
         "inbound rule 1: transform 'join_name' only works outbound"),
        ('[[inbound]]\nfrom = "n"\nto = "first_name"\ntransforms = ["split_name:given"]\n', 7,
         "transform 'split_name' argument 'given' is not one of first, middle, last"),
        ('[[outbound]]\nfrom = "name"\nto = "name"\n', 5,
         "outbound rule 1: source 'name' needs transform join_name"),
        ('[[outbound]]\nfrom = "sync_id"\nto = "source"\ntransforms = ["constant"]\n', 7,
         "transform 'constant' needs a 'value' key"),
        ('[[outbound]]\nfrom = "sync_id"\nto = "a[label=x]"\n', 6,
         "outbound rule 1: 'to' must end with a field name"),
        ('[[outbound]]\nfrom = "sync_id"\nto = "a"\n\n[[outbound]]\nfrom = "notes"\nto = "a"\n',
         8, "outbound rule 2: 'a' is already written by outbound rule 1"),
        ('[enums.status]\nactive = "on"\n\n[[inbound]]\nfrom = "s"\nto = "status"\n'
         'transforms = ["enum:status"]\n', 10,
         "[enums.status] maps to on, not a canonical status"),
        ('[[inbound]]\nfrom = "a[x]"\nto = "notes"\n', 5, "inbound rule 1: bad bracket [x]"),
    ],
)  # fmt: skip
def test_rule_problems(tmp_path: Path, body: str, line: int, message: str) -> None:
    path = write(tmp_path, GOOD_HEAD + "\n" + body)
    code, output = check(tmp_path)
    assert code == 1
    assert f"{path}:{line}: " in output
    assert message in output


def test_system_must_be_one_of_the_five(tmp_path: Path) -> None:
    path = write(tmp_path, '# a comment\nsystem = "salesforce"\nversion = 1\n')
    code, output = check(tmp_path)
    assert code == 1
    assert f"{path}:2: system is 'salesforce'; expected one of trackops" in output


def test_two_files_for_one_system(tmp_path: Path) -> None:
    write(tmp_path, GOOD_HEAD, "a.toml")
    second = write(tmp_path, "\n" + GOOD_HEAD, "b.toml")
    problems = check_mappings(tmp_path)
    assert [str(p) for p in problems] == [
        f"{second}:2: system 'pylon' is already mapped by {tmp_path / 'a.toml'}"
    ]


def test_every_broken_file_is_reported(tmp_path: Path) -> None:
    for name in ("trackops", "growcrm", "rhythm"):
        shutil.copy(SHIPPED / f"{name}.toml", tmp_path)
    broken = tmp_path / "growcrm.toml"
    broken.write_text(broken.read_text().replace('to = "job_title"', 'to = "jobtitle"', 1))
    write(tmp_path, "system = \n", "pylon.toml")
    code, output = check(tmp_path)
    assert code == 1
    lines = [line for line in output.splitlines() if line.startswith(str(tmp_path))]
    assert len(lines) == 2
    assert "growcrm.toml" in lines[0]
    assert "unknown canonical field 'jobtitle'" in lines[0]
    assert lines[1].startswith(f"{tmp_path / 'pylon.toml'}:1: TOML syntax error")


def test_missing_directory_and_empty_directory(tmp_path: Path) -> None:
    assert check(tmp_path / "nope")[0] == 1
    code, output = check(tmp_path)
    assert code == 1
    assert "no *.toml mapping files" in output


def test_locator_finds_entries_keys_and_tables() -> None:
    text = (
        'system = "x"\n'
        "[enums.status]\n"
        'a = "b"\n'
        "[[inbound]]  # first\n"
        'from = "a"\n'
        'notes = """\n'
        'to = "not a key"\n'
        '"""\n'
        "[[inbound]]\n"
        'to = "b"\n'
    )
    at = TomlLocator(text)
    assert at.top_key("system") == 1
    assert at.section("enums.status") == 2
    assert at.section("inbound", 1) == 9
    assert at.key("inbound", 0, "from") == 5
    assert at.key("inbound", 0, "to") == 4  # only inside the string: falls back to the header
    assert at.key("inbound", 1, "to") == 10


def test_without_argument_checks_the_configs_mappings_dir(tmp_path: Path) -> None:
    """`contactsync -c FILE mappings check` checks the folder FILE names, not ./mappings."""
    from contactsync.cli.app import app

    custom = tmp_path / "custom"
    shutil.copytree(SHIPPED, custom)
    (custom / "pylon.toml").write_text(GOOD_HEAD + "[fields]\nnot valid toml = \n")
    config = tmp_path / "contactsync.toml"
    config.write_text('[contactsync]\nstate = "s.sqlite"\nmappings_dir = "custom"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "mappings", "check"])
    assert result.exit_code == 1, result.output
    assert f"{custom / 'pylon.toml'}:" in result.output


def test_config_without_mappings_dir_checks_the_shipped_mappings(tmp_path: Path) -> None:
    from contactsync.cli.app import app
    from contactsync.config.settings import DEFAULT_MAPPINGS_DIR

    config = tmp_path / "contactsync.toml"
    config.write_text('[contactsync]\nstate = "s.sqlite"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "mappings", "check"])
    assert result.exit_code == 0, result.output
    assert f"in {DEFAULT_MAPPINGS_DIR} are valid" in result.output
