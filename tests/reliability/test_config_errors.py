"""Config and mapping errors: a corrupt config, a missing environment variable, an
unreachable system, a mapping that names a field that does not exist. Each ``sync``
stops with exit status 2 and exactly one line on stderr naming what is wrong and where
(file and line), and changes no state: the state file a good run left is the same
afterwards, row for row.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contactsync.config.settings import DEFAULT_MAPPINGS_DIR
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import Sandbox, contactsync, sandbox

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Breakage:
    """How to break a working setup: the config text and the environment it runs with."""

    config: Callable[[str, Sandbox, Path], str]
    env: Callable[[dict[str, str]], dict[str, str]]
    #: what the one line must say: (file name it names, then words in it)
    names: tuple[str, ...]


def unchanged(text: str, box: Sandbox, folder: Path) -> str:
    return text


def corrupt(text: str, box: Sandbox, folder: Path) -> str:
    return text.replace("[systems.pylon]", "[systems.pylon", 1)


def unreachable(text: str, box: Sandbox, folder: Path) -> str:
    return text.replace(box.server.urls["growcrm"], "http://127.0.0.1:9/api")


def misspelt_mapping(text: str, box: Sandbox, folder: Path) -> str:
    mappings = folder / "mappings"
    if not mappings.exists():
        shutil.copytree(DEFAULT_MAPPINGS_DIR, mappings)
        trackops = mappings / "trackops.toml"
        trackops.write_text(
            trackops.read_text(encoding="utf-8").replace('to = "job_title"', 'to = "job_titel"', 1)
        )
    return text.replace("[contactsync]\n", '[contactsync]\nmappings_dir = "mappings"\n', 1)


def without(variable: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda env: {k: v for k, v in env.items() if k != variable}


BREAKAGES = {
    "corrupt config": Breakage(corrupt, dict, ("broken.toml:", "invalid TOML")),
    "missing variable": Breakage(
        unchanged,
        without("XURRENT_TOKEN"),
        ("broken.toml:", "systems.xurrent.auth.token_env", "XURRENT_TOKEN is not set"),
    ),
    "unreachable system": Breakage(
        unreachable, dict, ("broken.toml:", "systems.growcrm.base_url", "cannot reach 127.0.0.1:9")
    ),
    "mapping names an absent field": Breakage(
        misspelt_mapping, dict, ("trackops.toml:", "unknown canonical field 'job_titel'")
    ),
}


@pytest.fixture(scope="module")
def synced_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox, and a state file one good sync left."""
    with sandbox(
        tmp_path_factory.mktemp("config-errors"), SandboxOptions(people=15, seed=4)
    ) as box:
        first = contactsync("sync", config=box.config, env=box.env)
        assert first.returncode == 0, first.stderr[-2000:]
        yield box


def dump(state: Path) -> list[str]:
    connection = sqlite3.connect(state)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_a_setup_error_stops_with_one_line_and_changes_no_state(
    synced_once: Sandbox, name: str
) -> None:
    box = synced_once
    breakage = BREAKAGES[name]
    broken = box.config.with_name("broken.toml")  # same folder: the same state file
    broken.write_text(breakage.config(box.config.read_text(), box, box.config.parent))
    before = dump(box.state_path)
    result = contactsync("sync", config=broken, env=breakage.env(box.env))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("error: ")
    for words in breakage.names:
        assert words in lines[0], lines[0]
    assert result.stdout == ""
    assert dump(box.state_path) == before, "the state changed"
