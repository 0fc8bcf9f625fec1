"""``[matching] untimed_conflicts``: how an untimed change meets a timestamped one."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync.config.settings import ConfigError, load_settings

BASE = """\
[contactsync]
state = "state.sqlite"

[matching]
{line}

[systems.pylon]
base_url = "http://127.0.0.1:8004"
"""


def settings_with(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE.format(line=line), encoding="utf-8")
    return path


def test_the_timestamped_change_wins_unless_configured_otherwise(tmp_path: Path) -> None:
    assert load_settings(settings_with(tmp_path, "")).untimed_conflicts == "timestamped_wins"
    chosen = load_settings(settings_with(tmp_path, 'untimed_conflicts = "priority"'))
    assert chosen.untimed_conflicts == "priority"


def test_an_unknown_rule_is_refused_with_its_line(tmp_path: Path) -> None:
    path = settings_with(tmp_path, 'untimed_conflicts = "seen_last"')
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:5: matching.untimed_conflicts")
    assert "timestamped_wins" in message
