"""The TOML config file -> validated :class:`Settings`; secrets come from the environment.

Every problem is a :class:`ConfigError` whose ``str`` is one line,
``FILE:LINE: key.path: message``, so an operator can jump straight to it. The
config never holds a secret: ``[systems.<name>.auth]`` holds only the *names* of
environment variables (``token_env = "TRACKOPS_TOKEN"``), read when credentials
are resolved (:meth:`Settings.credentials`). A literal secret in the file is
refused, and no message ever repeats what was written in an auth table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import phonenumbers
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator

from contactsync.config.errors import ConfigError, combined, from_pydantic, syntax_error
from contactsync.config.systems import (
    SYSTEM_MODELS,
    AuthSettings,
    DefaultsSettings,
    DeletePolicy,
    Direction,
    Schedule,
    StrictTable,
    SystemSettings,
    SystemsTable,
    parse_duration,
)
from contactsync.config.toml_lines import KeyPath, dotted, key_lines, locate, split_key

__all__ = [
    "DEFAULT_MAPPINGS_DIR",
    "SYSTEM_MODELS",
    "AuthSettings",
    "ConfigError",
    "DefaultsSettings",
    "DeletePolicy",
    "Direction",
    "LogFormat",
    "LogLevel",
    "Schedule",
    "Settings",
    "SystemSettings",
    "load_settings",
    "parse_duration",
    "parse_settings",
]

DEFAULT_MAPPINGS_DIR = Path(__file__).resolve().parents[3] / "mappings"
LogFormat = Literal["console", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]


#: how survivorship decides an untimed change against a timestamped one it overlaps
#: (see :mod:`contactsync.engine.golden`)
UntimedConflicts = Literal["timestamped_wins", "priority"]

# --- the file's tables -----------------------------------------------------------


class GeneralSection(StrictTable):
    """``[contactsync]``."""

    state: str = "contactsync.sqlite"
    default_region: str = "US"
    mappings_dir: str | None = None
    log_format: LogFormat = "console"
    log_level: LogLevel = "info"

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}: expected an ISO 3166-1 code like US, GB")
        return region


class MatchingSection(StrictTable):
    """``[matching]``: scores at or above ``merge_threshold`` merge, between wait for review."""

    merge_threshold: float = Field(default=0.92, ge=0.0, le=1.0)
    review_threshold: float = Field(default=0.70, ge=0.0, le=1.0)
    #: a change in a system without timestamps (dated by the interval between two
    #: snapshots) against a timestamped change of the same field inside that interval
    untimed_conflicts: UntimedConflicts = "timestamped_wins"


class _Document(StrictTable):
    contactsync: GeneralSection = GeneralSection()
    matching: MatchingSection = MatchingSection()
    systems: SystemsTable = SystemsTable()


# --- settings ----------------------------------------------------------------------


class Settings(BaseModel, frozen=True, extra="forbid"):
    """Validated settings with paths resolved; build with :func:`load_settings`."""

    config_path: Path | None = None
    state_path: Path = Path("contactsync.sqlite")
    mappings_dir: Path = DEFAULT_MAPPINGS_DIR
    default_region: str = "US"
    log_format: LogFormat = "console"
    log_level: LogLevel = "info"
    merge_threshold: float = 0.92
    review_threshold: float = 0.70
    untimed_conflicts: UntimedConflicts = "timestamped_wins"
    systems: dict[str, SystemSettings] = Field(default_factory=lambda: SystemsTable().as_dict())

    _env: Mapping[str, str] | None = PrivateAttr(default=None)
    _lines: dict[KeyPath, int] = PrivateAttr(default_factory=dict)

    @field_validator("systems")
    @classmethod
    def _all_systems(cls, value: dict[str, SystemSettings]) -> dict[str, SystemSettings]:
        for name, cfg in value.items():
            if SYSTEM_MODELS.get(name) is not type(cfg):
                raise ValueError(f"systems[{name!r}] must be a {name} settings object")
        absent = SystemsTable().as_dict()
        return {name: value.get(name, absent[name]) for name in SYSTEM_MODELS}

    def enabled_systems(self) -> dict[str, SystemSettings]:
        """The enabled systems, in the canonical order of ``adapters.registry.SYSTEMS``."""
        return {name: cfg for name, cfg in self.systems.items() if cfg.enabled}

    def system(self, name: str) -> SystemSettings:
        """One system's settings (its vendor's model: ``adapters.<vendor>.settings``)."""
        if name not in self.systems:
            raise self.error(("systems", name), f"unknown system; expected one of {_names()}")
        return self.systems[name]

    def error(self, key: str | Sequence[str | int], message: str) -> ConfigError:
        """A :class:`ConfigError` pointing at the line where ``key`` is written."""
        path = split_key(key) if isinstance(key, str) else tuple(key)
        file = self.config_path if self.config_path is not None else "<settings>"
        return ConfigError(file, locate(self._lines, path), dotted(path), message)

    def _environ(self, env: Mapping[str, str] | None) -> Mapping[str, str]:
        if env is not None:
            return env
        return self._env if self._env is not None else os.environ

    def credentials(self, system: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Read a system's credentials from the environment: ``{"token": ...}`` etc.

        Keys are the auth field names without ``_env`` (trackops: ``username``,
        ``token``; rhythm: ``client_id``, ``client_secret``; others: ``token``).
        A missing or empty variable is a :class:`ConfigError` naming the system,
        the key and the variable, never a value.
        """
        auth = self.system(system).auth
        environ = self._environ(env)
        values: dict[str, str] = {}
        for credential, variable in auth.env_fields().items():
            value = environ.get(variable, "")
            if not value:
                state = "is empty" if variable in environ else "is not set"
                raise self.error(
                    ("systems", system, "auth", f"{credential}_env"),
                    f"environment variable {variable} {state}: {system} needs its "
                    f"{credential} there",
                )
            values[credential] = value
        return values

    def check_credentials(self, env: Mapping[str, str] | None = None) -> None:
        """Resolve the credentials of every enabled system; raise all problems at once."""
        problems: list[ConfigError] = []
        for name in self.enabled_systems():
            try:
                self.credentials(name, env)
            except ConfigError as exc:
                problems.append(exc)
        if problems:
            raise combined(problems)

    def secret_values(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Every secret the environment holds for any system, for the log redactor.

        Includes what each vendor's auth settings derive from the credentials (the
        encoded HTTP Basic credentials of Trackops, in case a header is ever
        printed). User names and client ids are not treated as secrets.
        """
        environ = self._environ(env)
        secrets: list[str] = []
        for cfg in self.systems.values():
            names = cfg.auth.env_fields()
            found = {key: environ.get(var, "") for key, var in names.items()}
            secrets += [found[key] for key in type(cfg.auth).secret_fields if found.get(key)]
            secrets += cfg.auth.derived_secrets(found)
        return list(dict.fromkeys(secrets))


def _names() -> str:
    return ", ".join(SYSTEM_MODELS)


# --- loading -------------------------------------------------------------------------


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and resolve the config file at ``path``.

    ``env`` is where credentials are looked up later (default: ``os.environ`` at
    the time of the lookup). Raises :class:`ConfigError`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            path, 1, "(file)", f"cannot read the config file: {exc.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(path, 1, "(file)", "the config file is not UTF-8 text") from None
    return parse_settings(text, path, env)


def parse_settings(text: str, path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Like :func:`load_settings` for text already read; ``path`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise syntax_error(exc, path) from None
    lines = key_lines(text)
    try:
        document = _Document.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise combined([from_pydantic(err, lines, path, _Document) for err in errors]) from None
    problems = [
        ConfigError(path, locate(lines, key), dotted(key), message)
        for key, message in _cross_checks(document)
    ]
    general = document.contactsync
    mappings_dir = _resolve(path, general.mappings_dir) if general.mappings_dir else None
    if mappings_dir is not None and not mappings_dir.is_dir():
        key = ("contactsync", "mappings_dir")
        problems.append(ConfigError(path, locate(lines, key), dotted(key), "folder not found"))
    if problems:
        raise combined(problems)
    settings = Settings(
        config_path=path,
        state_path=_resolve(path, general.state),
        mappings_dir=mappings_dir or DEFAULT_MAPPINGS_DIR,
        default_region=general.default_region,
        log_format=general.log_format,
        log_level=general.log_level,
        merge_threshold=document.matching.merge_threshold,
        review_threshold=document.matching.review_threshold,
        untimed_conflicts=document.matching.untimed_conflicts,
        systems=document.systems.as_dict(),
    )
    settings._env = env
    settings._lines = lines
    return settings


def _resolve(config_path: Path, value: str) -> Path:
    if value == ":memory:":
        return Path(value)
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else config_path.parent.resolve() / candidate


def _cross_checks(document: _Document) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    matching = document.matching
    if matching.review_threshold > matching.merge_threshold:
        problems.append(
            (("matching", "review_threshold"), "must not be above matching.merge_threshold")
        )
    taken: dict[int, str] = {}
    for name, cfg in document.systems.as_dict().items():
        if not cfg.enabled:
            continue
        for missing in cfg.missing_required():
            key = ("systems", name, *missing.split("."))
            problems.append((key, "required when the system is enabled"))
        if cfg.priority in taken:
            problems.append(
                (
                    ("systems", name, "priority"),
                    f"priority {cfg.priority} is also used by systems.{taken[cfg.priority]}; "
                    "priorities of enabled systems must differ",
                )
            )
        taken.setdefault(cfg.priority, name)
    return problems
