import json
from pathlib import Path

from typer.testing import CliRunner

from contactsync import __version__
from contactsync.cli.app import app

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
    "state",
    "doctor",
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


def _every_command_help() -> list[list[str]]:
    groups = {
        "review": ["list", "merge", "split", "dismiss"],
        "mappings": ["check"],
        "state": ["export", "import"],
    }
    paths = [[]] + [[c] for c in COMMANDS]
    paths += [[g, sub] for g, subs in groups.items() for sub in subs]
    return paths


def test_help_never_shows_a_value_placeholder_for_a_flag() -> None:
    for path in _every_command_help():
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, path


def test_a_bad_log_format_or_level_is_a_usage_error_not_a_traceback() -> None:
    for args in (["--log-format", "yaml"], ["--log-level", "chatty"]):
        result = runner.invoke(app, [*args, "status"])
        assert result.exit_code == 2, (args, result.output)
        assert args[0] in result.output
        assert "Traceback" not in result.output


def test_with_json_a_config_error_is_also_one_json_object_on_stdout(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = CliRunner().invoke(app, ["--config", str(missing), "status", "--json"])
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer["status"] == "failed"
    assert "nowhere.toml" in answer["error"]


def test_shell_completion_is_offered() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.output
