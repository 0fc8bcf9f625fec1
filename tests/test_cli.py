from typer.testing import CliRunner

from contactsync import __version__
from contactsync.cli import app

runner = CliRunner()

COMMANDS = [
    "backfill",
    "sync",
    "plan",
    "run",
    "status",
    "review",
    "sandbox",
    "demo",
    "match-file",
    "mappings",
]


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
    assert "--config" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
