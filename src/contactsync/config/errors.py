"""Config errors: one line each, ``FILE:LINE: key.path: message``.

Turns tomllib and pydantic errors into :class:`ConfigError`, locating the key in
the file text (:mod:`contactsync.config.toml_lines`), suggesting the right name for an
unknown key, and refusing secrets written in the file without repeating them.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from contactsync.config.systems import SYSTEM_MODELS, AuthSettings
from contactsync.config.toml_lines import KeyPath, dotted, locate

_SECRET_WORD = re.compile(r"token|secret|passw|api_?key|bearer|credential|private")
_SECRET_NAMES = {"key", "user", "username", "login", "client_id"}


class ConfigError(Exception):
    """One config problem, printed as ``FILE:LINE: key.path: message``.

    When a file has several problems the first (by line) is raised and all of them
    are in ``problems``.
    """

    def __init__(self, file: str | Path, line: int, key: str, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = " ".join(message.split())
        self.problems: list[ConfigError] = [self]
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


def combined(problems: list[ConfigError]) -> ConfigError:
    """The first problem by line, carrying all of them in ``problems``."""
    problems = sorted(problems, key=lambda p: p.line)
    first = problems[0]
    first.problems = problems
    return first


def syntax_error(exc: tomllib.TOMLDecodeError, path: Path) -> ConfigError:
    """A TOML syntax error, at the line tomllib reports."""
    message = str(exc)
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    line = int(getattr(exc, "lineno", 0) or (found.group(1) if found else 1))
    message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    if found:
        message += f" (column {found.group(2)})"
    return ConfigError(path, line, "(syntax)", f"invalid TOML: {message}")


def from_pydantic(
    err: ErrorDetails, lines: dict[KeyPath, int], path: Path, root: type[BaseModel]
) -> ConfigError:
    """One pydantic error as a located config error; auth and URL values are never echoed."""
    loc = err["loc"]
    if err["type"] == "extra_forbidden":
        message = _unknown_key_message(loc, root)
    else:
        message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        value = err.get("input")
        echo_safe = "auth" not in loc and "base_url" not in loc
        if err["type"] != "value_error" and echo_safe and not isinstance(value, dict | list):
            message += f" (got {repr(value)[:80]})"
    return ConfigError(path, locate(lines, loc), dotted(loc), message)


def _model_at(loc: Sequence[str | int], root: type[BaseModel]) -> type[BaseModel] | None:
    model = root
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        candidates = (field.annotation, *get_args(field.annotation))
        nested = [t for t in candidates if isinstance(t, type) and issubclass(t, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _unknown_key_message(loc: Sequence[str | int], root: type[BaseModel]) -> str:
    key = str(loc[-1])
    parent = loc[:-1]
    system = str(loc[1]) if len(loc) >= 3 and loc[0] == "systems" else None
    model = SYSTEM_MODELS.get(system) if system else None
    if model is not None and system is not None:
        auth_fields = type(model.model_fields["auth"].default)
        defaults_fields = type(model.model_fields["defaults"].default)
        in_auth = len(loc) == 4 and loc[2] == "auth"
        if len(loc) == 3 and key in auth_fields.model_fields:
            return f"unknown key {key!r}: it belongs in [systems.{system}.auth]"
        if len(loc) in (3, 4) and key in defaults_fields.model_fields:
            return f"unknown key {key!r}: it belongs in [systems.{system}.defaults]"
        looks_secret = _SECRET_WORD.search(key.lower()) or key.lower() in _SECRET_NAMES
        if (in_auth and not key.endswith("_env")) or (len(loc) == 3 and looks_secret):
            return _literal_secret_message(system, key, auth_fields, in_auth)
    elif _SECRET_WORD.search(key.lower()):
        return (
            f"unknown key {key!r}: secrets must not be written in the config file; "
            "name an environment variable in [systems.<name>.auth] instead"
        )
    fields = _fields_of(parent, root)
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    allowed = f" (allowed here: {', '.join(fields)})" if fields else ""
    return f"unknown key {key!r}{allowed}"


def _fields_of(parent: Sequence[str | int], root: type[BaseModel]) -> list[str]:
    model = _model_at(parent, root)
    return list(model.model_fields) if model is not None else []


def _literal_secret_message(system: str, key: str, auth: type[AuthSettings], in_auth: bool) -> str:
    env_keys = [name for name in auth.model_fields if name.endswith("_env")]
    secret_keys = [f"{name}_env" for name in auth.secret_fields]
    if f"{key}_env" in env_keys:
        env_key = f"{key}_env"
    else:
        close = difflib.get_close_matches(f"{key}_env", env_keys, n=1, cutoff=0.5)
        env_key = close[0] if close else secret_keys[0]
    variable = auth.model_fields[env_key].default
    where = "" if in_auth else f" under [systems.{system}.auth]"
    return (
        f'a secret must not be written in the config file: use {env_key} = "{variable}"'
        f"{where} and put the value in that environment variable"
    )
