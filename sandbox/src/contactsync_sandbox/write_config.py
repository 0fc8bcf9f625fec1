"""Write a complete contactsync config for a running sandbox, and its credentials file.

``write_sandbox_config(path, urls, options)`` writes ``path`` (TOML, the format of
``config.example.toml``) with every served system enabled in both directions, the
create defaults each simulator accepts, a short overlap and a state file beside
the config; and ``path + ".env"`` (mode 0600) with the credentials as
``NAME=value`` lines, so that::

    set -a; . sandbox.toml.env; set +a
    contactsync --config sandbox.toml backfill

works as is. The config itself never holds a secret, only variable names.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from contactsync.adapters.registry import SYSTEMS
from contactsync_sandbox.common import SandboxOptions, VendorSimulator
from contactsync_sandbox.server import SIMULATORS, build_simulators

# Environment variable -> credential key in SandboxOptions.credentials / DEFAULT_CREDENTIALS.
ENV_CREDENTIALS: dict[str, tuple[str, str]] = {
    "TRACKOPS_USERNAME": ("trackops", "trackops_username"),
    "TRACKOPS_TOKEN": ("trackops", "trackops_token"),
    "GROWCRM_TOKEN": ("growcrm", "growcrm_token"),
    "RHYTHM_CLIENT_ID": ("rhythm", "rhythm_client_id"),
    "RHYTHM_CLIENT_SECRET": ("rhythm", "rhythm_client_secret"),
    "PYLON_TOKEN": ("pylon", "pylon_token"),
    "XURRENT_TOKEN": ("xurrent", "xurrent_token"),
}
AUTH_ENV: dict[str, dict[str, str]] = {
    "trackops": {"username_env": "TRACKOPS_USERNAME", "token_env": "TRACKOPS_TOKEN"},
    "growcrm": {"token_env": "GROWCRM_TOKEN"},
    "rhythm": {"client_id_env": "RHYTHM_CLIENT_ID", "client_secret_env": "RHYTHM_CLIENT_SECRET"},
    "pylon": {"token_env": "PYLON_TOKEN"},
    "xurrent": {"token_env": "XURRENT_TOKEN"},
}
SANDBOX_OVERLAP = "5s"  # the sandbox clock is this machine's: a few seconds cover any skew
SANDBOX_INTERVAL = "1m"
SANDBOX_TIMEOUT = 10.0
# Page sizes above the config's default where the vendor allows them: Pylon lists up to
# 999 contacts a page, and as a snapshot system it lists every contact on every run
# under a 60-a-minute list limit, so the largest page is the fewest requests.
SANDBOX_PAGE_SIZES: dict[str, int] = {"pylon": 999}
# Used when a simulator module does not say (they match the simulators' seeded fixtures).
FALLBACK_DEFAULTS: dict[str, dict[str, Any]] = {
    "trackops": {"client_location_id": 12345, "role_id": 6},
    "growcrm": {"client_id": 1},
    "rhythm": {"tenant_id": "sandbox"},
    "pylon": {},
    "xurrent": {"account_id": "sandbox", "organization_ids": []},  # people only
}
LIST_ITEMS_PER_LINE = 12
RHYTHM_TOKEN_PATH = "/oauth2/token"  # unless the rhythm simulator module says otherwise


def _module(system: str) -> ModuleType | None:
    try:
        return importlib.import_module(SIMULATORS[system].partition(":")[0])
    except ImportError:
        return None


def sandbox_credentials(
    options: SandboxOptions, systems: Iterable[str] = SYSTEMS
) -> dict[str, str]:
    """Environment variable -> value: the simulators' defaults overridden by the options."""
    wanted = set(systems)
    values: dict[str, str] = {}
    for variable, (system, key) in ENV_CREDENTIALS.items():
        if system not in wanted:
            continue
        module = _module(system)
        defaults: Mapping[str, str] = getattr(module, "DEFAULT_CREDENTIALS", {})
        value = options.credentials.get(key, defaults.get(key))
        if value is None:
            raise ValueError(f"{system}: no sandbox credential {key!r} (simulator not importable?)")
        values[variable] = value
    return values


def sandbox_defaults(
    options: SandboxOptions, simulators: Mapping[str, VendorSimulator] | None = None
) -> dict[str, dict[str, Any]]:
    """System -> the ``[systems.<name>.defaults]`` values its simulator accepts on create.

    Read from the simulators when given (Xurrent's organization ids exist only
    there), else from the simulator modules' constants, else the fallbacks.
    """
    sims = simulators or {}
    result = {system: dict(values) for system, values in FALLBACK_DEFAULTS.items()}
    trackops = _module("trackops")
    locations = getattr(trackops, "CLIENT_LOCATIONS", None)
    roles = getattr(trackops, "CONTACT_ROLES", None)
    if locations and roles:
        result["trackops"] = {"client_location_id": min(locations), "role_id": min(roles)}
    clients = getattr(sims.get("growcrm"), "clients", None)
    if clients:
        result["growcrm"]["client_id"] = min(clients)
    rhythm = sims.get("rhythm")
    tenant = getattr(_module("rhythm"), "DEFAULT_TENANT_ID", result["rhythm"]["tenant_id"])
    result["rhythm"]["tenant_id"] = getattr(
        rhythm, "tenant_id", options.credential("rhythm_tenant_id", tenant)
    )
    xurrent = sims.get("xurrent")
    account = getattr(_module("xurrent"), "DEFAULT_ACCOUNT_ID", result["xurrent"]["account_id"])
    result["xurrent"]["account_id"] = getattr(
        xurrent, "account_id", options.credential("xurrent_account", account)
    )
    organizations = getattr(getattr(xurrent, "store", None), "organizations", None)
    if organizations is not None:
        result["xurrent"]["organization_ids"] = sorted(int(key) for key in organizations)
    return result


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        items = [_toml(v) for v in value]
        if len(items) <= LIST_ITEMS_PER_LINE:
            return "[" + ", ".join(items) + "]"
        rows = [
            items[i : i + LIST_ITEMS_PER_LINE] for i in range(0, len(items), LIST_ITEMS_PER_LINE)
        ]
        return "[\n" + "".join("    " + ", ".join(row) + ",\n" for row in rows) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    return [f"[{name}]", *(f"{key} = {_toml(value)}" for key, value in values.items()), ""]


# System -> (simulator class, attribute of its request count, its window in seconds or the
# attribute holding it): the sandbox limits of the vendors that document none.
UNDOCUMENTED_LIMITS: dict[str, tuple[str, str, float | str]] = {
    "trackops": ("TrackopsSimulator", "requests_per_minute", 60.0),
    "growcrm": ("GrowcrmSimulator", "requests_per_minute", 60.0),
    "rhythm": ("RhythmSimulator", "TENANT_LIMIT", "TENANT_WINDOW"),
}


def sandbox_rate_limits(options: SandboxOptions) -> dict[str, dict[str, Any]]:
    """System -> ``{requests, per}``: the limits the sandbox enforces where the vendor
    documents none, scaled as the sandbox scales them (none when limits are off), so a
    sandbox config paces correctly from the first request."""
    factor = options.limit_factor
    if factor is None:
        return {}
    limits: dict[str, dict[str, Any]] = {}
    for system, (class_name, count_name, window) in UNDOCUMENTED_LIMITS.items():
        simulator = getattr(_module(system), class_name, None)
        count = getattr(simulator, count_name, None)
        seconds = getattr(simulator, window, None) if isinstance(window, str) else window
        if isinstance(count, int) and isinstance(seconds, int | float) and seconds > 0:
            # the sandbox's own rounding (common.RateLimiter.hit)
            limits[system] = {"requests": max(1, int(count * factor)), "per": f"{seconds:g}s"}
    return limits


def client_rate_scale(options: SandboxOptions) -> float:
    """How far the client may scale the vendors' documented limits for this sandbox."""
    factor = options.limit_factor
    return 1000.0 if factor is None else min(1000.0, factor)


def render_config(
    urls: Mapping[str, str],
    options: SandboxOptions,
    state: str,
    defaults: Mapping[str, Mapping[str, Any]],
    env_file_name: str,
) -> str:
    rate_limits = sandbox_rate_limits(options)
    lines = [
        "# contactsync config for the local sandbox, written by `contactsync sandbox`.",
        f"# Sandbox: {options.people} people, seed {options.seed}, "
        f"rate limits {options.rate_limits}, faults {options.faults}.",
        f"# Credentials are in {env_file_name}:",
        f"#   set -a; . {shlex.quote(env_file_name)}; set +a",
        "",
        *_table(
            "contactsync",
            {"state": state, "default_region": "US", "log_format": "console", "log_level": "info"},
        ),
    ]
    for priority, system in enumerate(SYSTEMS, start=1):
        if system not in urls:
            lines += _table(f"systems.{system}", {"enabled": False})
            continue
        settings: dict[str, Any] = {
            "enabled": True,
            "base_url": urls[system],
            "direction": "both",
            "overlap": SANDBOX_OVERLAP,
            "schedule": {"interval": SANDBOX_INTERVAL},
            "priority": priority,
            "timeout": SANDBOX_TIMEOUT,
            "rate_limit_scale": client_rate_scale(options),
        }
        if system in SANDBOX_PAGE_SIZES:
            settings["page_size"] = SANDBOX_PAGE_SIZES[system]
        if system in rate_limits:
            settings["rate_limit"] = rate_limits[system]
        auth: dict[str, Any] = dict(AUTH_ENV[system])
        if system == "rhythm":
            token_path = getattr(_module("rhythm"), "TOKEN_PATH", RHYTHM_TOKEN_PATH)
            auth["token_url"] = urls[system].rstrip("/") + token_path
        lines += _table(f"systems.{system}", settings)
        lines += _table(f"systems.{system}.auth", auth)
        if defaults.get(system):
            lines += _table(f"systems.{system}.defaults", defaults[system])
    return "\n".join(lines)


def render_env(credentials: Mapping[str, str]) -> str:
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in credentials.items())


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``NAME=value`` file as written by :func:`write_sandbox_config` (sh quoting)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"{path}:{number}: expected NAME=value")
        parts = shlex.split(rest)
        values[name] = parts[0] if parts else ""
    return values


def _write_atomically(path: Path, text: str, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def env_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".env")


def write_sandbox_config(
    path: Path,
    urls: Mapping[str, str],
    options: SandboxOptions,
    state_path: Path | None = None,
    *,
    simulators: Mapping[str, VendorSimulator] | None = None,
) -> Path:
    """Write the config at ``path`` and the credentials at ``path + ".env"``; returns the latter.

    ``urls`` are the served systems' base URLs (``SandboxServer.urls``); systems
    missing from it are written disabled. The state file defaults to
    ``<config stem>.sqlite`` beside the config. Both files are replaced atomically,
    the credentials file is readable by its owner only.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = str(state_path) if state_path is not None else f"{path.stem}.sqlite"
    env_path = env_path_for(path)
    credentials = sandbox_credentials(options, urls)
    if "xurrent" in urls and (simulators is None or "xurrent" not in simulators):
        # Its organization ids are server-made: ask a simulator built from the same seed.
        simulators = {**(simulators or {}), **build_simulators(options, ["xurrent"])}
    _write_atomically(env_path, render_env(credentials), 0o600)
    text = render_config(urls, options, state, sandbox_defaults(options, simulators), env_path.name)
    _write_atomically(path, text, 0o644)
    return env_path
