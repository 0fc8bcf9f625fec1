"""What every ``[systems.<name>]`` table of the config file holds: the base models.

Each vendor declares its own subclass of :class:`SystemSettings` beside its adapter
(``contactsync.adapters.<vendor>.settings``), narrowing ``auth`` (names of
environment variables, never secrets) and ``defaults`` (the ids a create needs)
and setting its page-size bounds and priority. :mod:`contactsync.config` collects
them from the registry (:mod:`contactsync.adapters.registry`).

These bases live in ``adapters`` rather than ``config`` because the vendors'
models subclass them and the adapters sit below config in the layers: config
imports the adapters' settings, never the other way round. Values a created record
needs are optional here and checked by :meth:`SystemSettings.missing_required` only
when the system is enabled, so a disabled system may stay half written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contactsync.http.budgets import Budget

Direction = Literal["both", "source", "target"]
DeletePolicy = Literal["ignore", "propagate"]
#: two live records of the system found to be one person (see engine.duplicates)
DuplicatesPolicy = Literal["merge", "mark", "keep"]

_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """``30s``, ``5m``, ``2h``, ``1d``, ``1h30m`` or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 2h, 1d or a number of seconds")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        parts = list(_DURATION_PART.finditer(text))
        if not parts or "".join(p.group(0) for p in parts) != re.sub(r"(?<=[a-z])\s+", "", text):
            raise ValueError(
                f"invalid duration {value!r}: expected e.g. 30s, 5m, 2h, 1d, 1h30m "
                "or a number of seconds"
            )
        seconds = sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2)] for p in parts)
    else:
        raise ValueError("expected a duration like 30s, 5m, 2h, 1d or a number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def check_url(value: str, *, what: str = "URL") -> str:
    """An absolute http(s) URL without credentials; trailing slash dropped.

    Messages never repeat the value: a URL may carry a secret.
    """
    text = value.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL like https://host/path")
    if parts.username or parts.password:
        raise ValueError(f"{what} must not carry credentials; use the auth *_env keys")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not carry a query string or fragment")
    return text.rstrip("/")


def env_var_name(value: str) -> str:
    """Accept a variable *name*; refuse anything that looks like the secret itself."""
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            "must be the NAME of an environment variable (upper-case letters, digits and "
            "underscores, like TRACKOPS_TOKEN), not the secret itself: put the value in "
            "that environment variable"
        )
    return value


class StrictTable(BaseModel):
    """A config table: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Schedule(StrictTable):
    """When the scheduler runs a system: every ``interval`` or on a ``cron`` expression."""

    interval: Duration | None = None
    cron: str | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronTrigger.from_crontab(value, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        if (self.interval is None) == (self.cron is None):
            raise ValueError("set exactly one of interval or cron")
        if self.interval is not None and self.interval < timedelta(seconds=1):
            raise ValueError("interval must be at least 1s")
        return self

    def trigger(self) -> CronTrigger | timedelta:
        """A ready CronTrigger (UTC) for cron schedules, else the interval."""
        if self.cron is not None:
            return CronTrigger.from_crontab(self.cron, timezone="UTC")
        assert self.interval is not None
        return self.interval


class AuthSettings(StrictTable):
    """Names of environment variables holding a system's credentials (``*_env`` fields)."""

    secret_fields: ClassVar[tuple[str, ...]] = ()  # credentials to redact from logs
    #: fields other than ``*_env`` an enabled system must set (e.g. a token URL)
    required: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="after")
    @classmethod
    def _names_only(cls, value: Any, info: ValidationInfo) -> Any:
        if str(info.field_name).endswith("_env") and isinstance(value, str):
            return env_var_name(value)
        return value

    def env_fields(self) -> dict[str, str]:
        """``{"token": "TRACKOPS_TOKEN", ...}``: credential name -> variable name."""
        return {
            name.removesuffix("_env"): str(getattr(self, name))
            for name in type(self).model_fields
            if name.endswith("_env")
        }

    def derived_secrets(self, credentials: Mapping[str, str]) -> list[str]:
        """Secrets made of the credentials (an encoded Basic header) to redact as well."""
        return []


class DefaultsSettings(StrictTable):
    """Values every record created in a system needs; required when it is enabled."""

    required: ClassVar[tuple[str, ...]] = ()


class RateLimitSettings(StrictTable):
    """``rate_limit = { requests = 120, per = "1m" }``: the client sends at most
    ``requests`` in any ``per``, all of the system's requests together."""

    requests: int = Field(ge=1, le=1_000_000)
    per: Duration

    @field_validator("per")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("per must be a positive duration like 1m or 10s")
        return value

    def budget(self) -> Budget:
        return Budget(self.requests, self.per.total_seconds())


def priority_field(default: int) -> Any:
    return Field(default=default, ge=1, le=99, description="lower number wins conflict ties")


class SystemSettings(StrictTable):
    """What every ``[systems.<name>]`` table holds."""

    name: ClassVar[str]
    page_size_max: ClassVar[int | None]

    enabled: bool = True
    base_url: str = ""
    direction: Direction = "both"
    page_size: int | None = None
    overlap: Duration = timedelta(minutes=5)
    schedule: Schedule = Schedule(interval=timedelta(minutes=15))
    priority: int = priority_field(1)
    deletes: DeletePolicy = "ignore"
    max_delete_share: float = Field(default=0.10, ge=0.0, le=1.0)
    duplicates: DuplicatesPolicy = "mark"  # never a silent delete unless asked for
    timeout: float = Field(default=30.0, gt=0.0, le=600.0)
    concurrency: int = Field(default=4, ge=1, le=32)
    rate_limit_scale: float = Field(default=1.0, gt=0.0, le=1000.0)
    rate_limit: RateLimitSettings | None = None
    auth: AuthSettings = AuthSettings()
    defaults: DefaultsSettings = DefaultsSettings()

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value, what="base_url")

    @field_validator("page_size")
    @classmethod
    def _page_size(cls, value: int | None) -> int | None:
        if cls.page_size_max is None:
            if value is not None:
                raise ValueError(f"{cls.name} has no page-size parameter; remove page_size")
            return None
        if value is not None and not 1 <= value <= cls.page_size_max:
            raise ValueError(f"must be between 1 and {cls.page_size_max} for {cls.name}")
        return value

    def client_budget(self) -> Budget | None:
        """The configured ``rate_limit`` as the http layer's budget (None: not set)."""
        return self.rate_limit.budget() if self.rate_limit is not None else None

    @property
    def is_source(self) -> bool:
        """Records are read from this system."""
        return self.direction in ("both", "source")

    @property
    def is_target(self) -> bool:
        """The golden record is written back to this system."""
        return self.direction in ("both", "target")

    def missing_required(self) -> list[str]:
        """Sub-paths (``base_url``, ``defaults.role_id``, ...) an enabled system still lacks."""
        missing = [] if self.base_url else ["base_url"]
        missing += [f"auth.{key}" for key in self.auth.required if not getattr(self.auth, key)]
        missing += [
            f"defaults.{key}"
            for key in self.defaults.required
            if getattr(self.defaults, key) is None
        ]
        return missing
