"""Secrets: with distinctive credentials, a full backfill and sync (both log formats, debug
level, vendors failing with bodies that echo the credentials) leave none of them in the
log output, the SQLite files, the error messages or the cassettes.

Three systems sit behind :func:`echoing_vendor`: Grow CRM refuses every list with a
401 that echoes the token, Xurrent refuses every write with a 422 echoing it, Rhythm
refuses every update with a 400 echoing the OAuth access token it was sent. The
forbidden strings are the configured secrets, the Trackops Basic credential, and every
access token the Rhythm sandbox issued.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from contactsync.adapters.base import Window
from contactsync.adapters.registry import adapter_class
from contactsync.config.settings import load_settings
from contactsync.engine.sync import adapter_context
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import BASE_PATHS
from contactsync_sandbox.write_config import sandbox_credentials
from tests.adapters.conftest import CASSETTES, make_vcr
from tests.reliability.echo_vendor import echoing_vendor
from tests.reliability.helpers import SYSTEMS, Sandbox, contactsync, sandbox

pytestmark = pytest.mark.slow

SECRETS = {
    "trackops_token": "TrkS3cr3t-9f1c-token-ZZQ",
    "growcrm_token": "GrwS3cr3t-77b2-key-XXW",
    "rhythm_client_secret": "RhyS3cr3t-9c3d-client-YYV",
    "pylon_token": "PylS3cr3t-e4f0-bearer-UUT",
    "xurrent_token": "XurS3cr3t-a1b7-bearer-SSR",
}
USERNAME = "secrets-test-user"
MASK = "***"


def fail_rule(system: str) -> object:
    def rule(method: str, path: str) -> int | None:
        if system == "growcrm" and method == "GET" and path.endswith("/contacts"):
            return 401
        if system == "xurrent" and method in ("POST", "PATCH"):
            return 422
        if system == "rhythm" and method in ("PUT", "PATCH"):
            return 400
        return None

    return rule


FRAGMENT = 12  # a secret cut short in a trimmed message still leaks this much of it


def forbidden(box: Sandbox) -> set[str]:
    """Every stretch of FRAGMENT characters of every secret, in the forms it could leak
    in: the configured values, the Trackops Basic credential, and the signature of each
    access token the Rhythm sandbox issued (its header and claims are not secret)."""
    values = set(SECRETS.values())
    basic = f"{USERNAME}/token:{SECRETS['trackops_token']}".encode()
    values.add(base64.b64encode(basic).decode())
    issued = box.server.simulators["rhythm"].tokens._tokens  # type: ignore[attr-defined]
    values |= {token.rsplit(".", 1)[-1] for token in issued}
    values |= {quote(value, safe="") for value in values}
    return {
        value[start : start + FRAGMENT]
        for value in values
        for start in range(max(1, len(value) - FRAGMENT + 1))
    }


def leaks(text: str | bytes, secrets: set[str]) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    return sorted(secret for secret in secrets if secret.encode() in data)[:3]


@pytest.fixture(scope="module")
def secret_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    credentials = {**SECRETS, "trackops_username": USERNAME}
    options = SandboxOptions(people=20, seed=17, credentials=credentials)
    with sandbox(tmp_path_factory.mktemp("secrets"), options) as box:
        yield box


def _behind_echoing_vendors(box: Sandbox, stack: list[object]) -> str:
    """The sandbox config with Grow CRM, Rhythm and Xurrent behind echoing proxies."""
    text = box.config.read_text(encoding="utf-8").replace(
        'log_level = "info"', 'log_level = "debug"'
    )
    for system in ("growcrm", "rhythm", "xurrent"):
        manager = echoing_vendor(box.server.admin_urls[system], fail_rule(system))  # type: ignore[arg-type]
        root = manager.__enter__()
        stack.append(manager)
        text = text.replace(box.server.urls[system], root + BASE_PATHS[system])
    return text


def test_no_secret_in_logs_state_or_errors(secret_box: Sandbox, tmp_path: Path) -> None:
    box = secret_box
    stack: list[object] = []
    outputs: list[subprocess.CompletedProcess[str]] = []
    try:
        text = _behind_echoing_vendors(box, stack)
        states = []
        for name, first, second in (("a", "console", "json"), ("b", "json", "console")):
            config = tmp_path / f"{name}.toml"
            config.write_text(text.replace('state = "sandbox.sqlite"', f'state = "{name}.sqlite"'))
            states.append(tmp_path / f"{name}.sqlite")
            for log_format, command in ((first, "backfill"), (second, "sync")):
                run = contactsync(
                    "--log-format", log_format, command, "--json", config=config, env=box.env
                )
                outputs.append(run)
            outputs.append(contactsync("status", "--json", config=config, env=box.env))
    finally:
        for manager in reversed(stack):
            manager.__exit__(None, None, None)  # type: ignore[attr-defined]

    secrets = forbidden(box)
    assert box.server.simulators["rhythm"].tokens.issued > 0  # type: ignore[attr-defined]
    for run in outputs:
        assert run.returncode in (0, 1), run.stderr[-2000:]
        assert not leaks(run.stdout, secrets), f"in the output of {run.args[3:]}"
        assert not leaks(run.stderr, secrets), f"in the log of {run.args[3:]}"
    for state in states:
        for suffix in ("", "-wal", "-shm"):
            file = state.with_name(state.name + suffix)
            if file.exists():
                assert not leaks(file.read_bytes(), secrets), f"in {file.name}"
    # The failures really happened, their messages carried the echoed credentials, and
    # what reached the user shows the mask instead.
    summary = json.loads(outputs[0].stdout)
    assert any(e.startswith("growcrm list contacts: HTTP 401") for e in summary["errors"])
    assert summary["systems"]["xurrent"]["failed"] > 0
    assert summary["systems"]["rhythm"]["failed"] > 0
    assert MASK in outputs[0].stdout
    json_log = outputs[1].stderr.splitlines()  # state a's sync logged as JSON, at debug level
    assert json_log
    for line in json_log:
        assert json.loads(line)["event"], line
    assert any('"level": "debug"' in line for line in json_log)


def test_no_secret_in_a_recorded_cassette(secret_box: Sandbox, tmp_path: Path) -> None:
    """Cassettes are recorded with the same scrubbing as ``make cassettes``."""
    box = secret_box
    settings = load_settings(box.config, env=box.credentials)
    recorder = make_vcr("all")
    for system in SYSTEMS:
        context = adapter_context(system, settings.systems[system], settings.credentials(system))
        adapter = adapter_class(system)(context)
        try:
            with recorder.use_cassette(str(tmp_path / f"{system}.yaml")):
                records = list(adapter.extract(Window(None, datetime.now(UTC))))
                assert records
        finally:
            adapter.close()
    cassettes = sorted(tmp_path.glob("*.yaml"))
    assert len(cassettes) == len(SYSTEMS)
    secrets = forbidden(box)
    for cassette in cassettes:
        assert not leaks(cassette.read_bytes(), secrets), f"in {cassette.name}"


def test_no_secret_in_the_committed_cassettes() -> None:
    """The cassettes in the repository were recorded with the sandbox's own credentials."""
    env = sandbox_credentials(SandboxOptions())
    secrets = {env[name] for name in env if name.endswith(("_TOKEN", "_SECRET"))}
    basic = f"{env['TRACKOPS_USERNAME']}/token:{env['TRACKOPS_TOKEN']}".encode()
    secrets.add(base64.b64encode(basic).decode())
    cassettes = sorted(CASSETTES.rglob("*.yaml"))
    assert cassettes
    for cassette in cassettes:
        assert not leaks(cassette.read_bytes(), secrets), f"in {cassette}"
