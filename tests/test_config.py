"""Config loading: the example file, every class of error, credentials from the environment."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactsync.adapters.trackops import TrackopsSettings
from contactsync.config.settings import (
    DEFAULT_MAPPINGS_DIR,
    ConfigError,
    Settings,
    load_settings,
    parse_duration,
)
from contactsync.config.toml_lines import key_lines, locate

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
ENV = {
    "TRACKOPS_USERNAME": "ops-user",
    "TRACKOPS_TOKEN": "trk-token-0001",
    "GROWCRM_TOKEN": "grow-token-0002",
    "RHYTHM_CLIENT_ID": "rhythm-client",
    "RHYTHM_CLIENT_SECRET": "rhythm-secret-0003",
    "PYLON_TOKEN": "pylon-token-0004",
    "XURRENT_TOKEN": "xurrent-token-0005",
}
MINIMAL = """\
[contactsync]
state = "state/contactsync.sqlite"

[systems.pylon]
base_url = "http://127.0.0.1:8004"
"""


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(text: str, old: str, new: str) -> str:
    """Replace the first ``old``; fail loudly if the example no longer contains it."""
    assert old in text, f"example config no longer contains {old!r}"
    return text.replace(old, new, 1)


def line_of(text: str, needle: str, after: str = "") -> int:
    """1-based line of the first line containing ``needle`` (after the line holding ``after``)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=ENV)
    return caught.value


def assert_error(error: ConfigError, path: Path, line: int, key: str) -> str:
    """Check the one-line ``FILE:LINE: key.path: message`` form; return the message."""
    text = str(error)
    assert "\n" not in text
    match = re.fullmatch(r"(.+):(\d+): (\S+): (.+)", text)
    assert match, text
    assert (match.group(1), int(match.group(2)), match.group(3)) == (str(path), line, key), text
    return match.group(4)


# --- the example config --------------------------------------------------------------


def test_example_config_loads_with_every_system_enabled() -> None:
    settings = load_settings(EXAMPLE, env=ENV)

    assert list(settings.enabled_systems()) == ["trackops", "growcrm", "rhythm", "pylon", "xurrent"]
    trackops = settings.system("trackops")
    assert isinstance(trackops, TrackopsSettings)
    assert trackops.base_url == "https://acme.viewcases.com/api/v1"
    assert (trackops.page_size, trackops.overlap) == (100, timedelta(minutes=5))
    assert trackops.schedule.interval == timedelta(minutes=15)
    assert (trackops.defaults.client_location_id, trackops.defaults.role_id) == (12345, 6)
    assert trackops.is_source
    assert trackops.is_target
    rhythm = settings.system("rhythm")
    assert rhythm.page_size is None
    assert rhythm.schedule.cron == "0 * * * *"
    assert rhythm.auth.token_url.startswith("https://")
    assert settings.system("xurrent").defaults.organization_ids == [1001, 1002]
    assert settings.system("growcrm").defaults.client_id == 1
    priorities = [cfg.priority for cfg in settings.systems.values()]
    assert priorities == [1, 2, 3, 4, 5]
    assert settings.state_path == EXAMPLE.parent / "contactsync.sqlite"
    assert settings.mappings_dir == DEFAULT_MAPPINGS_DIR
    assert (settings.merge_threshold, settings.review_threshold) == (0.92, 0.70)


def test_example_credentials_come_from_the_environment() -> None:
    settings = load_settings(EXAMPLE, env=ENV)

    assert settings.credentials("trackops") == {
        "username": "ops-user",
        "token": "trk-token-0001",
    }
    assert settings.credentials("rhythm") == {
        "client_id": "rhythm-client",
        "client_secret": "rhythm-secret-0003",
    }
    secrets = settings.secret_values()
    for name in ("TRACKOPS_TOKEN", "GROWCRM_TOKEN", "RHYTHM_CLIENT_SECRET", "PYLON_TOKEN"):
        assert ENV[name] in secrets
    assert "b3BzLXVzZXIvdG9rZW46dHJrLXRva2VuLTAwMDE=" in secrets  # base64 of the Basic pair
    assert "ops-user" not in secrets  # user names are not secrets
    settings.check_credentials()


def test_absent_systems_are_disabled_and_paths_resolve_next_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, MINIMAL)
    monkeypatch.chdir("/")

    settings = load_settings(path)

    assert list(settings.enabled_systems()) == ["pylon"]
    assert settings.systems["trackops"].enabled is False
    assert settings.state_path == tmp_path.resolve() / "state" / "contactsync.sqlite"
    assert settings.system("pylon").page_size == 100
    assert settings.system("pylon").overlap == timedelta(minutes=5)


def test_disabled_system_may_lack_url_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\n[systems.trackops]\nenabled = false\n")
    assert load_settings(path).systems["trackops"].enabled is False


# --- errors ----------------------------------------------------------------------------


def test_toml_syntax_error_names_file_and_line(tmp_path: Path, example_text: str) -> None:
    text = edit(example_text, "role_id = 6", "role_id = = 6")
    path = write(tmp_path, text)

    message = assert_error(load_error(path), path, line_of(text, "role_id = = 6"), "(syntax)")
    assert "invalid TOML" in message


@pytest.mark.parametrize(
    ("old", "new", "key", "env_key", "variable"),
    [
        (
            'token_env = "TRACKOPS_TOKEN"',
            'token = "Sup3r-Secret-Value"',
            "systems.trackops.auth.token",
            "token_env",
            "TRACKOPS_TOKEN",
        ),
        (
            'client_secret_env = "RHYTHM_CLIENT_SECRET"',
            'client_secret = "Sup3r-Secret-Value"',
            "systems.rhythm.auth.client_secret",
            "client_secret_env",
            "RHYTHM_CLIENT_SECRET",
        ),
        (
            'base_url = "https://api.usepylon.com"',
            'base_url = "https://api.usepylon.com"\napi_key = "Sup3r-Secret-Value"',
            "systems.pylon.api_key",
            "token_env",
            "PYLON_TOKEN",
        ),
    ],
)
def test_literal_secret_is_refused_without_echoing_it(
    tmp_path: Path, example_text: str, old: str, new: str, key: str, env_key: str, variable: str
) -> None:
    text = edit(example_text, old, new)
    path = write(tmp_path, text)

    error = load_error(path)

    message = assert_error(error, path, line_of(text, "Sup3r-Secret-Value"), key)
    assert f'use {env_key} = "{variable}"' in message
    assert "environment variable" in message
    assert "Sup3r-Secret-Value" not in str(error)


def test_env_key_holding_a_secret_instead_of_a_name_is_refused(
    tmp_path: Path, example_text: str
) -> None:
    text = edit(example_text, 'token_env = "XURRENT_TOKEN"', 'token_env = "xr-9f8e7d6c5b"')
    path = write(tmp_path, text)

    error = load_error(path)

    message = assert_error(
        error, path, line_of(text, "xr-9f8e7d6c5b"), "systems.xurrent.auth.token_env"
    )
    assert "NAME of an environment variable" in message
    assert "xr-9f8e7d6c5b" not in str(error)


def test_credentials_in_base_url_are_refused_without_echo(
    tmp_path: Path, example_text: str
) -> None:
    text = edit(example_text, "https://api.usepylon.com", "https://me:Pa55word@api.usepylon.com")
    path = write(tmp_path, text)

    error = load_error(path)

    assert_error(error, path, line_of(text, "Pa55word"), "systems.pylon.base_url")
    assert "Pa55word" not in str(error)


@pytest.mark.parametrize(
    ("old", "new", "key", "hint"),
    [
        (
            "page_size = 100\noverlap",
            "pagesize = 100\noverlap",
            "systems.trackops.pagesize",
            "'page_size'",
        ),
        ("[systems.pylon]", "[systems.pylom]", "systems.pylom", "'pylon'"),
        ("default_region =", "default_regoin =", "contactsync.default_regoin", "'default_region'"),
        ("role_id = 6", "rol_id = 6", "systems.trackops.defaults.rol_id", "'role_id'"),
    ],
)
def test_unknown_key_is_an_error_with_a_suggestion(
    tmp_path: Path, example_text: str, old: str, new: str, key: str, hint: str
) -> None:
    text = edit(example_text, old, new)
    path = write(tmp_path, text)
    written = new.split("\n")[0]

    message = assert_error(load_error(path), path, line_of(text, written), key)
    assert message.endswith(f"did you mean {hint}?")


def test_unknown_key_without_a_close_match_lists_the_allowed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "colour = 'blue'\n")
    message = assert_error(load_error(path), path, 6, "systems.pylon.colour")
    assert "allowed here:" in message
    assert "page_size" in message


def test_bad_direction_is_an_error(tmp_path: Path, example_text: str) -> None:
    text = edit(
        example_text,
        'direction = "both"\n# limit: 1..100',
        'direction = "sideways"\n# limit: 1..100',
    )
    path = write(tmp_path, text)

    message = assert_error(
        load_error(path), path, line_of(text, "sideways"), "systems.growcrm.direction"
    )
    assert "'both', 'source' or 'target'" in message
    assert "sideways" in message


def test_bad_cron_points_at_the_inline_table_line(tmp_path: Path, example_text: str) -> None:
    text = edit(example_text, '{ cron = "0 * * * *" }', '{ cron = "61 * * * *" }')
    path = write(tmp_path, text)

    message = assert_error(
        load_error(path), path, line_of(text, "61 * * * *"), "systems.rhythm.schedule.cron"
    )
    assert "invalid cron expression" in message


def test_schedule_needs_exactly_one_of_interval_and_cron(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'schedule = { interval = "5m", cron = "0 * * * *" }\n')
    message = assert_error(load_error(path), path, 6, "systems.pylon.schedule")
    assert "exactly one" in message


def test_bad_duration_is_an_error(tmp_path: Path, example_text: str) -> None:
    text = edit(example_text, 'overlap = "5m"', 'overlap = "5 minutes"')
    path = write(tmp_path, text)

    message = assert_error(
        load_error(path), path, line_of(text, "5 minutes"), "systems.trackops.overlap"
    )
    assert "invalid duration" in message


@pytest.mark.parametrize(
    ("system", "old", "new"),
    [
        ("growcrm", "# limit: 1..100.\npage_size = 100", "# limit: 1..100.\npage_size = 101"),
        ("pylon", "# limit: 1..999.\npage_size = 100", "# limit: 1..999.\npage_size = 1000"),
        ("trackops", "page_size = 100", "page_size = 0"),
        ("rhythm", "# No page_size", "page_size = 50\n# No page_size"),
    ],
)
def test_out_of_range_page_size_is_an_error(
    tmp_path: Path, example_text: str, system: str, old: str, new: str
) -> None:
    text = edit(example_text, old, new)
    path = write(tmp_path, text)
    written = next(part for part in new.splitlines() if part.startswith("page_size"))
    line = line_of(text, written, after=f"[systems.{system}]")

    message = assert_error(load_error(path), path, line, f"systems.{system}.page_size")
    assert system in message


def test_missing_env_var_names_system_key_and_variable(tmp_path: Path, example_text: str) -> None:
    path = write(tmp_path, example_text)
    env = {k: v for k, v in ENV.items() if k != "PYLON_TOKEN"}
    settings = load_settings(path, env=env)

    with pytest.raises(ConfigError) as caught:
        settings.credentials("pylon")

    line = line_of(example_text, 'token_env = "PYLON_TOKEN"')
    message = assert_error(caught.value, path, line, "systems.pylon.auth.token_env")
    assert "PYLON_TOKEN is not set" in message
    assert "pylon" in message
    for value in env.values():
        assert value not in str(caught.value)


def test_empty_env_var_without_auth_table_points_at_the_system(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    settings = load_settings(path, env={"PYLON_TOKEN": ""})

    with pytest.raises(ConfigError) as caught:
        settings.check_credentials()

    message = assert_error(caught.value, path, 4, "systems.pylon.auth.token_env")
    assert "PYLON_TOKEN is empty" in message


def test_required_defaults_of_an_enabled_system(tmp_path: Path, example_text: str) -> None:
    text = edit(example_text, "role_id = 6\n", "")
    path = write(tmp_path, text)

    message = assert_error(
        load_error(path),
        path,
        line_of(text, "[systems.trackops.defaults]"),
        "systems.trackops.defaults.role_id",
    )
    assert "required when the system is enabled" in message


def test_every_problem_is_collected_in_line_order(tmp_path: Path, example_text: str) -> None:
    text = edit(example_text, 'direction = "both"', 'direction = "up"')
    text = edit(text, "concurrency = 2", "concurrency = 99")
    text = edit(text, "review_threshold = 0.70", "review_threshold = 1.5")
    path = write(tmp_path, text)

    error = load_error(path)

    keys = [problem.key for problem in error.problems]
    assert keys == [
        "matching.review_threshold",
        "systems.trackops.direction",
        "systems.rhythm.concurrency",
    ]
    assert [p.line for p in error.problems] == sorted(p.line for p in error.problems)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("priority = 5", "priority = 1", "systems.xurrent.priority"),
        ("review_threshold = 0.70", "review_threshold = 0.95", "matching.review_threshold"),
        ('default_region = "US"', 'default_region = "XX"', "contactsync.default_region"),
        ('base_url = "https://crm.example.com/api"', 'base_url = ""', "systems.growcrm.base_url"),
    ],
)
def test_cross_field_and_value_checks(
    tmp_path: Path, example_text: str, old: str, new: str, key: str
) -> None:
    text = edit(example_text, old, new)
    path = write(tmp_path, text)
    assert_error(
        load_error(path), path, line_of(text, new, after=f"[{key.rsplit('.', 1)[0]}]"), key
    )


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    assert_error(load_error(path), path, 1, "(file)")


def test_settings_built_in_code_fill_in_absent_systems() -> None:
    settings = Settings(systems={"trackops": TrackopsSettings(base_url="http://127.0.0.1:9")})
    assert list(settings.systems) == ["trackops", "growcrm", "rhythm", "pylon", "xurrent"]
    assert list(settings.enabled_systems()) == ["trackops"]
    with pytest.raises(ConfigError, match=r"^<settings>:1: systems\.nope: unknown system"):
        settings.system("nope")


# --- durations and the line locator ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (90, 90),
        (0, 0),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["5 minutes", "", "-5m", "5x", "m5", True, -1, None])
def test_parse_duration_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_locator_handles_dotted_inline_multiline_and_quoted_keys() -> None:
    text = (
        "# c\n"  # 1
        '[ systems . "trackops" ]\n'  # 2
        'notes = """\nfake = 1\n"""\n'  # 3-5
        "auth.token_env = 'X'\n"  # 6
        "schedule = { interval = '5m', more = { deep = 1 } }\n"  # 7
        "items = [\n  { name = 'a' },\n  { other = 2 },\n]\n"  # 8-11
        "[systems.trackops.defaults]\n"  # 12
    )
    lines = key_lines(text)

    assert lines[("systems", "trackops")] == 2
    assert ("systems", "trackops", "fake") not in lines
    assert lines[("systems", "trackops", "auth", "token_env")] == 6
    assert lines[("systems", "trackops", "schedule", "more", "deep")] == 7
    assert lines[("systems", "trackops", "items", "other")] == 10
    assert locate(lines, ("systems", "trackops", "defaults", "role_id")) == 12
    assert locate(lines, ("systems", "trackops", "items", 1, "other")) == 10
    assert locate(lines, ("nowhere", "at_all")) == 1


@given(st.text(max_size=300))
def test_locator_never_raises_on_arbitrary_text(text: str) -> None:
    lines = key_lines(text)
    assert all(1 <= line <= text.count("\n") + 1 for line in lines.values())
