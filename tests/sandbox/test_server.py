"""The sandbox over real HTTP: ports, base URLs, faults on the wire, config, CLI, startup time."""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from contactsync.adapters.registry import SYSTEMS
from contactsync.config.settings import load_settings
from contactsync_sandbox.cli import is_loopback, sandbox_command
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.people import generate
from contactsync_sandbox.server import (
    BASE_PATHS,
    SIMULATORS,
    SandboxError,
    SandboxServer,
    build_simulators,
    missing_simulators,
    simulator_class,
)
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config
from tests.sandbox.helpers import AUTH, MakeFake

ALL_CREDENTIALS = {
    "trackops_username": "ops-user",
    "trackops_token": "t0k3n trackops",
    "growcrm_token": "grow-secret",
    "rhythm_client_id": "rhythm-client",
    "rhythm_client_secret": "rhythm-secret$",
    "pylon_token": "pylon-secret",
    "xurrent_token": "xurrent-secret",
}


def test_registry_lists_the_five_systems_in_port_order() -> None:
    assert tuple(SIMULATORS) == SYSTEMS
    assert SIMULATORS["growcrm"] == "contactsync_sandbox.growcrm:GrowcrmSimulator"
    assert set(BASE_PATHS) == set(SYSTEMS)


def test_unknown_or_missing_simulators_are_named() -> None:
    registry = {"ghost": "contactsync_sandbox.nowhere:GhostSimulator"}
    with pytest.raises(SandboxError, match="ghost: simulator module"):
        simulator_class("ghost", registry)
    with pytest.raises(SandboxError, match="unknown system 'nope'"):
        simulator_class("nope")
    bad_class = {"odd": "contactsync_sandbox.common:SandboxOptions"}
    assert "no simulator class" in missing_simulators(bad_class)["odd"]


def test_fake_simulators_are_served_on_their_own_ports(fake_simulator: MakeFake) -> None:
    sims = {"trackops": fake_simulator(), "xurrent": fake_simulator()}
    server = SandboxServer(SandboxOptions(), port_base=0, simulators=sims)
    with server:
        ports = server.ports
        assert len(set(ports.values())) == 2
        assert server.urls["trackops"] == f"http://127.0.0.1:{ports['trackops']}/api/v1"
        assert server.urls["xurrent"] == f"http://127.0.0.1:{ports['xurrent']}/v1"
        root = server.admin_urls["trackops"]
        assert httpx.get(f"{root}/api/items", headers=AUTH).json()[0]["name"] == "Ada"
        stats = httpx.get(server.admin_url("trackops", "stats")).json()
        assert stats["total"] == 1
        assert httpx.get(server.admin_url("xurrent", "stats")).json()["total"] == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{root}/api/items", headers=AUTH, timeout=2.0)


def test_fixed_ports_follow_the_offsets_and_a_busy_port_is_named(fake_simulator: MakeFake) -> None:
    planned = SandboxServer(
        SandboxOptions(), port_base=9100, simulators={"rhythm": fake_simulator()}
    )
    assert planned.ports == {"rhythm": 9102}
    assert planned.urls == {"rhythm": "http://127.0.0.1:9102"}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        server = SandboxServer(
            SandboxOptions(), port_base=port, simulators={"trackops": fake_simulator()}
        )
        with pytest.raises(SandboxError, match=rf"trackops: cannot listen on 127.0.0.1:{port}"):
            server.start()
    assert not server.running


def test_ports_of_an_os_chosen_base_exist_only_once_started(fake_simulator: MakeFake) -> None:
    server = SandboxServer(SandboxOptions(), port_base=0, simulators={"pylon": fake_simulator()})
    with pytest.raises(SandboxError, match="call start"):
        _ = server.urls


def test_drop_after_fault_loses_the_answer_but_not_the_write(
    fake_simulator: MakeFake, caplog: pytest.LogCaptureFixture
) -> None:
    sim = fake_simulator()
    sim.faults.pick = lambda: "drop_after"  # type: ignore[method-assign]
    with SandboxServer(SandboxOptions(), port_base=0, simulators={"growcrm": sim}) as server:
        root = server.admin_urls["growcrm"]
        with (
            caplog.at_level(logging.ERROR),
            pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        ):
            httpx.post(f"{root}/api/items", json={"name": "Grace"}, headers=AUTH, timeout=5.0)
        records = httpx.get(server.admin_url("growcrm", "records")).json()["records"]
    assert [r["name"] for r in records] == ["Ada", "Grace"]
    assert not [r for r in caplog.records if "Exception in ASGI" in r.getMessage()]


def test_slow_fault_trips_a_short_client_timeout(fake_simulator: MakeFake) -> None:
    sim = fake_simulator(slow_seconds=1.0)
    sim.faults.pick = lambda: "slow"  # type: ignore[method-assign]
    with SandboxServer(SandboxOptions(), port_base=0, simulators={"pylon": sim}) as server:
        url = f"{server.admin_urls['pylon']}/api/items"
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(url, headers=AUTH, timeout=0.2)
        assert time.perf_counter() - started < 0.9
        sim.faults.pick = lambda: None  # type: ignore[method-assign]
        assert httpx.get(url, headers=AUTH, timeout=2.0).status_code == 200


def test_write_config_round_trip(tmp_path: Path) -> None:
    options = SandboxOptions(people=40, seed=2, credentials=ALL_CREDENTIALS)
    urls = {
        name: f"http://127.0.0.1:{9200 + i}{BASE_PATHS[name]}" for i, name in enumerate(SYSTEMS)
    }
    del urls["pylon"]
    config = tmp_path / "conf" / "sandbox.toml"
    env_path = write_sandbox_config(config, urls, options)
    assert env_path == tmp_path / "conf" / "sandbox.toml.env"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    env = read_env_file(env_path)
    assert env["TRACKOPS_TOKEN"] == "t0k3n trackops"
    assert env["RHYTHM_CLIENT_SECRET"] == "rhythm-secret$"
    assert "PYLON_TOKEN" not in env
    text = config.read_text()
    assert not [secret for secret in ALL_CREDENTIALS.values() if secret in text]
    settings = load_settings(config, env=env)
    settings.check_credentials()
    assert list(settings.enabled_systems()) == ["trackops", "growcrm", "rhythm", "xurrent"]
    assert settings.state_path == config.parent.resolve() / "sandbox.sqlite"
    assert settings.system("trackops").base_url == urls["trackops"]
    assert settings.credentials("trackops") == {"username": "ops-user", "token": "t0k3n trackops"}
    assert settings.system("rhythm").auth.token_url == "http://127.0.0.1:9202/oauth2/token"
    for name, cfg in settings.enabled_systems().items():
        assert cfg.direction == "both"
        assert cfg.overlap.total_seconds() <= 60, name
        assert cfg.missing_required() == [], name
    assert settings.system("xurrent").defaults.organization_ids  # the seeded organizations


def _check_system_with_config(name: str, settings: Any, env: dict[str, str]) -> None:
    """An authenticated create with the config's defaults and credentials must succeed."""
    cfg = settings.system(name)
    creds = settings.credentials(name, env)
    base, defaults = cfg.base_url, cfg.defaults
    if name == "trackops":
        response = httpx.post(
            f"{base}/client/contacts",
            auth=(f"{creds['username']}/token", creds["token"]),
            json={
                "contact": {
                    "client_id": defaults.client_location_id,
                    "role_id": defaults.role_id,
                    "last_name": "Configcheck",
                },
                "allow_duplicates": True,
            },
        )
    elif name == "growcrm":
        response = httpx.post(
            f"{base}/contacts",
            headers={"Authorization": f"Bearer {creds['token']}"},
            json={
                "first_name": "Zed",
                "last_name": "Configcheck",
                "email": "zed.configcheck@example.com",
                "clientid": defaults.client_id,
            },
        )
    elif name == "rhythm":
        token = httpx.post(
            cfg.auth.token_url,
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        ).json()["access_token"]
        response = httpx.post(
            f"{base}/contacts/{defaults.tenant_id}",
            headers={"Authorization": f"Bearer {token}"},
            json={"first_name": "Zed", "last_name": "Configcheck"},
        )
    elif name == "pylon":
        response = httpx.post(
            f"{base}/contacts",
            headers={"Authorization": f"Bearer {creds['token']}"},
            json={"name": "Zed Configcheck"},
        )
    else:
        headers = {
            "Authorization": f"Bearer {creds['token']}",
            "X-Xurrent-Account": defaults.account_id,
        }
        org_id = defaults.organization_ids[0]
        assert httpx.get(f"{base}/organizations/{org_id}/contacts", headers=headers).is_success
        response = httpx.post(
            f"{base}/people",
            headers=headers,
            json={
                "name": "Zed Configcheck",
                "primary_email": "zed.configcheck@example.com",
                "organization_id": org_id,
            },
        )
    assert response.is_success, (name, response.status_code, response.text)


def test_written_config_works_against_the_live_sandbox(
    sandbox_server: SandboxServer, tmp_path: Path, admin_get: Callable[..., Any]
) -> None:
    config = tmp_path / "live.toml"
    env_path = write_sandbox_config(
        config, sandbox_server.urls, sandbox_server.options, simulators=sandbox_server.simulators
    )
    env = read_env_file(env_path)
    settings = load_settings(config, env=env)
    try:
        for name in SYSTEMS:
            before = len(admin_get(sandbox_server, name, "records")["records"])
            _check_system_with_config(name, settings, env)
            assert len(admin_get(sandbox_server, name, "records")["records"]) == before + 1
    finally:
        for name in SYSTEMS:
            httpx.post(sandbox_server.admin_url(name, "reset"))


def test_live_sandbox_serves_the_five_systems_with_their_truth(
    sandbox_server: SandboxServer, admin_get: Callable[..., Any]
) -> None:
    seed = generate(120, 7)  # what the fixture serves
    assert list(sandbox_server.urls) == list(SYSTEMS)
    for name, url in sandbox_server.urls.items():
        assert url.endswith(f":{sandbox_server.ports[name]}{BASE_PATHS[name]}")
        assert admin_get(sandbox_server, name, "stats")["system"] == name
        held = set(admin_get(sandbox_server, name, "truth").values())
        copies = {record.person_key for record in seed.records[name]}
        assert held <= copies, name
        assert len(held) >= 0.9 * len(copies), name  # a vendor may refuse a few seed copies


def test_startup_with_two_thousand_people_is_quick() -> None:
    started = time.perf_counter()
    server = SandboxServer(SandboxOptions(people=2000, seed=1), port_base=0)
    server.start()
    elapsed = time.perf_counter() - started
    try:
        print(f"sandbox startup, 2000 people: {elapsed:.2f}s")
        assert elapsed < 5.0
        assert httpx.get(server.admin_url("pylon", "stats")).status_code == 200
    finally:
        server.stop()


def test_build_simulators_shares_one_seed() -> None:
    sims = build_simulators(SandboxOptions(people=60, seed=5), ["trackops", "pylon"])
    assert list(sims) == ["trackops", "pylon"]
    persons = [set(sim.store.truth.values()) for sim in sims.values()]
    assert persons[0] & persons[1]  # the same people, seen from two systems


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.8.0.1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("sandbox")(sandbox_command)
    app.command("noop")(lambda: None)  # keep "sandbox" a subcommand, as in the real CLI
    return app


def test_cli_refuses_a_remote_host_without_allow_remote() -> None:
    result = CliRunner().invoke(_cli(), ["sandbox", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def test_cli_rejects_unknown_systems_and_modes() -> None:
    result = CliRunner().invoke(_cli(), ["sandbox", "--systems", "trackops,nope"])
    assert result.exit_code == 2
    assert "nope" in result.output
    result = CliRunner().invoke(_cli(), ["sandbox", "--rate-limits", "turbo"])
    assert result.exit_code == 2


@pytest.mark.slow
def test_subprocess_serves_until_sigterm(tmp_path: Path) -> None:
    served = ["trackops", "rhythm", "xurrent"]  # a subset: --systems is honoured
    config = tmp_path / "sub.toml"
    command = [sys.executable, "-m", "contactsync_sandbox", "--port-base", "0", "--people", "30"]
    command += ["--systems", ",".join(served), "--write-config", str(config)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    try:
        deadline = time.monotonic() + 30
        while not config.exists():
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the sandbox did not write its config in 30s"
            time.sleep(0.05)
        settings = load_settings(config, env=read_env_file(Path(f"{config}.env")))
        assert list(settings.enabled_systems()) == served
        for name in served:
            base = settings.system(name).base_url
            root = base.removesuffix(BASE_PATHS[name])
            assert httpx.get(f"{root}/_sandbox/stats").json()["system"] == name
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "sandbox stopped" in output
