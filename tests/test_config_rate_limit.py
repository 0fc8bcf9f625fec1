"""``[systems.<name>] rate_limit``: parsing, errors, and what ``--write-config`` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync.adapters.registry import SYSTEMS
from contactsync.config.settings import ConfigError, load_settings
from contactsync.http.client import Budget
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import BASE_PATHS
from contactsync_sandbox.write_config import (
    read_env_file,
    sandbox_rate_limits,
    write_sandbox_config,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
ENV = {
    name: "secret-value"
    for name in (
        "TRACKOPS_USERNAME",
        "TRACKOPS_TOKEN",
        "GROWCRM_TOKEN",
        "RHYTHM_CLIENT_ID",
        "RHYTHM_CLIENT_SECRET",
        "PYLON_TOKEN",
        "XURRENT_TOKEN",
    )
}
COMMENTED = '# rate_limit = { requests = 120, per = "1m" }'


def example_with(tmp_path: Path, rate_limit: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert COMMENTED in text, "the example no longer shows the rate_limit key"
    path = tmp_path / "config.toml"
    path.write_text(text.replace(COMMENTED, rate_limit), encoding="utf-8")
    return path


def test_the_documented_example_becomes_a_client_budget(tmp_path: Path) -> None:
    settings = load_settings(example_with(tmp_path, COMMENTED.lstrip("# ")), env=ENV)
    assert settings.system("trackops").client_budget() == Budget(120, 60.0)
    assert settings.system("growcrm").client_budget() is None  # not set: learned at run time


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{ requests = 0, per = "1m" }', "greater than or equal to 1"),
        ('{ requests = 10, per = "0s" }', "positive duration"),
        ('{ requests = 10, per = "soon" }', "invalid duration"),
        ("{ requests = 10 }", "per"),
        ('{ requests = 10, per = "1m", burst = 3 }', "burst"),
    ],
)
def test_a_bad_rate_limit_names_the_file_line_and_key(
    tmp_path: Path, value: str, message: str
) -> None:
    path = example_with(tmp_path, f"rate_limit = {value}")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=ENV)
    text = str(caught.value)
    assert text.startswith(f"{path}:")
    assert "systems.trackops.rate_limit" in text
    assert message in text


def test_the_sandbox_config_paces_to_the_sandbox_limits(tmp_path: Path) -> None:
    urls = {
        name: f"http://127.0.0.1:{9300 + i}{BASE_PATHS[name]}" for i, name in enumerate(SYSTEMS)
    }
    expected = {  # the simulators' request counts and windows, scaled by the mode
        "vendor": {"trackops": (120, 60.0), "growcrm": (60, 60.0), "rhythm": (100, 10.0)},
        "fast": {"trackops": (12000, 60.0), "growcrm": (6000, 60.0), "rhythm": (10000, 10.0)},
        "off": {},
    }
    for mode, budgets in expected.items():
        config = tmp_path / mode / "sandbox.toml"
        options = SandboxOptions(rate_limits=mode, people=20)  # type: ignore[arg-type]
        env = read_env_file(write_sandbox_config(config, urls, options))
        settings = load_settings(config, env=env)
        written = {
            name: (budget.requests, budget.per_seconds)
            for name in urls
            if (budget := settings.system(name).client_budget()) is not None
        }
        assert written == budgets, mode  # documented limits (Pylon, Xurrent) are not written


def test_sandbox_rate_limits_follow_the_scale() -> None:
    limits = sandbox_rate_limits(SandboxOptions(rate_limits="vendor", rate_scale=0.01))
    assert limits["trackops"] == {"requests": 1, "per": "60s"}  # never below one request
    assert limits["rhythm"] == {"requests": 1, "per": "10s"}
    assert sandbox_rate_limits(SandboxOptions(rate_limits="off")) == {}
