"""The run commands as a user calls them: subprocesses against a sandbox on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contactsync.state.sqlite.store import StateStore
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sandbox_config(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("cli")
    options = SandboxOptions(people=60, seed=9)
    with SandboxServer(options, port_base=0) as server:
        config = folder / "sandbox.toml"
        env_file = write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        yield config, {**os.environ, **read_env_file(env_file)}


def contactsync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contactsync", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_backfill_json_prints_one_object_with_every_count(
    sandbox_config: tuple[Path, dict[str, str]],
) -> None:
    config, env = sandbox_config
    result = contactsync("--config", str(config), "backfill", "--json", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "ok"
    assert set(summary["systems"]) == {"trackops", "growcrm", "rhythm", "pylon", "xurrent"}
    for counts in summary["systems"].values():
        assert set(counts) >= {
            "extracted",
            "staged",
            "echoes",
            "quarantined",
            "created",
            "updated",
            "deleted",
            "failed",
            "requests",
        }
        assert (counts.pop("status"), counts.pop("error"), counts.pop("circuit")) == (
            "ok",
            None,
            None,
        )
        assert all(isinstance(v, int) for v in counts.values())
        assert counts["requests"] > 0
    assert summary["persons"]["total"] > 0

    status = contactsync("--config", str(config), "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["persons"]["total"] == summary["persons"]["total"]


def test_a_missing_credential_stops_with_one_line_naming_it(
    sandbox_config: tuple[Path, dict[str, str]],
) -> None:
    config, env = sandbox_config
    env = {k: v for k, v in env.items() if k != "PYLON_TOKEN"}
    result = contactsync("--config", str(config), "sync", env=env)
    assert result.returncode == 2
    assert "PYLON_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_second_run_refuses_and_names_the_holder(
    sandbox_config: tuple[Path, dict[str, str]],
) -> None:
    config, env = sandbox_config
    first = subprocess.Popen(
        [sys.executable, "-m", "contactsync", "--config", str(config), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = config.with_suffix(".sqlite")
        holder = None
        deadline = time.monotonic() + 60
        while holder is None and time.monotonic() < deadline:
            time.sleep(0.3)
            if state.exists():
                with StateStore.open(state) as store:
                    holder = store.lease_holder("scheduler")
        assert holder is not None, "the first run never took the lease"
        assert holder.holder.endswith(f":{first.pid}")
        second = contactsync("--config", str(config), "run", env=env)
        assert second.returncode == 1
        assert holder.holder in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert first.returncode == 0
