"""``contactsync doctor`` against the sandbox: each check passes on a working setup,
and each kind of mistake fails its own check with a fix that names what to change
(never a secret's value)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contactsync.cli.app import app
from contactsync.config.settings import DEFAULT_MAPPINGS_DIR
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import Sandbox, sandbox

runner = CliRunner()
SYSTEMS = ("trackops", "growcrm", "rhythm", "pylon", "xurrent")


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=3, rate_limits="off")) as served:
        for name, value in served.credentials.items():
            monkeypatch.setenv(name, value)
        yield served


def doctor(config: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["--config", str(config), "doctor", "--json"])
    return result.exit_code, json.loads(result.stdout)


def failures(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [check for check in report["checks"] if not check["ok"]]


def warnings(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["result"]) for c in report["checks"] if c["warning"]]


def test_a_working_setup_passes_every_check_of_every_system(box: Sandbox) -> None:
    code, report = doctor(box.config)
    assert (code, failures(report)) == (0, []), failures(report)
    # an optional field all sampled records lack (a vendor leaving empties out) warns
    assert report["status"] == ("warnings" if warnings(report) else "ok")
    for system in SYSTEMS:
        kinds = {c["check"] for c in report["checks"] if c["system"] == system}
        assert kinds == {"reachable", "credentials", "fields"}, system


def test_refused_credentials_name_the_variables_and_never_the_value(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYLON_TOKEN", "revoked-token-value-123")
    code, report = doctor(box.config)
    assert code == 1
    [failed] = failures(report)
    assert (failed["system"], failed["check"]) == ("pylon", "credentials")
    assert "credentials refused (HTTP 401)" in failed["result"]
    assert "PYLON_TOKEN" in failed["fix"]
    assert "revoked-token-value-123" not in json.dumps(report)


def test_a_misspelled_vendor_field_fails_at_its_mapping_line(box: Sandbox) -> None:
    mappings = box.config.parent / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS_DIR, mappings)
    text = (mappings / "trackops.toml").read_text()
    assert 'from = "title"' in text
    (mappings / "trackops.toml").write_text(text.replace('from = "title"', 'from = "titel"', 1))
    line = text.splitlines().index('from = "title"') + 1
    config = box.config.read_text().replace(
        "[contactsync]\n", '[contactsync]\nmappings_dir = "mappings"\n', 1
    )
    box.config.write_text(config)
    code, report = doctor(box.config)
    assert code == 1  # Trackops sends every field (null when empty): "titel" is none
    [failed] = failures(report)
    assert (failed["system"], failed["check"]) == ("trackops", "fields")
    assert "'titel'" in failed["result"]
    assert failed["file"].endswith("trackops.toml")
    assert failed["line"] in (line, line - 1)  # the rule's line: its [[inbound]] or from
    assert f"trackops.toml:{failed['line']}" in failed["fix"]


def test_an_unreachable_system_fails_reachable_and_skips_its_other_checks(box: Sandbox) -> None:
    config = box.config.read_text()
    start = config.index('base_url = "', config.index("[systems.xurrent]"))
    end = config.index("\n", start)
    box.config.write_text(config[:start] + 'base_url = "http://127.0.0.1:9/v1"' + config[end:])
    code, report = doctor(box.config)
    assert code == 1
    [failed] = failures(report)
    assert (failed["system"], failed["check"]) == ("xurrent", "reachable")
    assert "127.0.0.1:9" in failed["result"]
    assert not [
        c for c in report["checks"] if c["system"] == "xurrent" and c["check"] != "reachable"
    ]


def test_mappings_check_live_names_the_misspelled_field_at_its_line(box: Sandbox) -> None:
    mappings = box.config.parent / "live-mappings"
    shutil.copytree(DEFAULT_MAPPINGS_DIR, mappings)
    text = (mappings / "trackops.toml").read_text()
    (mappings / "trackops.toml").write_text(text.replace('from = "title"', 'from = "titel"', 1))
    args = ["--config", str(box.config), "mappings", "check", str(mappings)]
    assert runner.invoke(app, args).exit_code == 0  # the file itself is valid
    result = runner.invoke(app, [*args, "--live"])
    assert result.exit_code == 1, result.output
    [line] = [row for row in result.stdout.splitlines() if "'titel'" in row]
    assert line.startswith(f"{mappings / 'trackops.toml'}:")
    shutil.copy(DEFAULT_MAPPINGS_DIR / "trackops.toml", mappings / "trackops.toml")
    assert runner.invoke(app, [*args, "--live"]).exit_code == 0
