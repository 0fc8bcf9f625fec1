"""Shared machinery of the reliability tests: sandboxes, the CLI as a subprocess, end states.

* :func:`sandbox` serves the five simulators on free loopback ports (in this
  process, a background thread) and writes a contactsync config for them.
* :func:`contactsync` runs the real command line in a subprocess, optionally with
  ``CONTACTSYNC_CRASH_AT`` set (see ``contactsync.engine.faultpoints``).
* :func:`end_state` reads every system's records through ``/_sandbox/records``
  and reduces them to what a person's contact data is: server-made ids,
  timestamps, version counters and the person ids contactsync stamps are dropped,
  and each system becomes a multiset of the remaining JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config

SYSTEMS = ("trackops", "growcrm", "rhythm", "pylon", "xurrent")

#: Keys whose values the vendor's server makes (ids, clocks, counters) or that carry
#: contactsync's own person id (random per run): not part of a person's contact data.
SERVER_MADE = frozenset(
    {
        "id",  # every record's and every Xurrent channel's id
        "number",  # Rhythm's running record number
        "created",  # Trackops
        "updated",  # Trackops
        "dates",  # Grow CRM {created, updated}
        "created_at",  # Xurrent
        "updated_at",  # Xurrent
        "account_code",  # Trackops: the stamped person id
        "origin_service_record_id",  # Rhythm: the stamped person id
        "sourceID",  # Xurrent: the stamped person id
        "_deleted",
    }
)
STAMP_LABEL = "contactsync"  # Pylon keeps the person id in external_ids under this label


def scrub(value: Any) -> Any:
    """``value`` without server-made keys (Rhythm's ``sys_*`` too) or Pylon's stamp."""
    if isinstance(value, dict):
        return {
            key: scrub(item)
            for key, item in sorted(value.items())
            if key not in SERVER_MADE and not key.startswith("sys_")
        }
    if isinstance(value, list):
        return [
            scrub(item)
            for item in value
            if not (isinstance(item, dict) and item.get("label") == STAMP_LABEL)
        ]
    return value


EndState = dict[str, Counter[str]]


def describe_difference(expected: EndState, actual: EndState, limit: int = 4) -> str:
    """How two end states differ ('' when equal): per system the counts, and for a few
    records only one side has, the fields that differ from the closest other record."""
    lines: list[str] = []
    for system in sorted(set(expected) | set(actual)):
        want, got = expected.get(system, Counter()), actual.get(system, Counter())
        if want == got:
            continue
        lines.append(f"{system}: expected {sum(want.values())} records, got {sum(got.values())}")
        missing = [json.loads(text) for text in (want - got).elements()]
        extra = [json.loads(text) for text in (got - want).elements()]
        for record in missing[:limit]:
            closest = max(extra, key=lambda other: _shared(record, other), default=None)
            if closest is None:
                lines.append(f"  only expected: {json.dumps(record)[:300]}")
                continue
            fields = sorted(
                k for k in set(record) | set(closest) if record.get(k) != closest.get(k)
            )
            changes = ", ".join(
                f"{k}: expected {record.get(k)!r} got {closest.get(k)!r}" for k in fields
            )
            lines.append(f"  record {record.get('name') or record.get('last_name')!r}: {changes}")
        if len(extra) > len(missing):
            lines += [
                f"  only actual: {json.dumps(r)[:300]}" for r in extra[len(missing) :][:limit]
            ]
    return "\n".join(lines)


def _shared(left: dict[str, Any], right: dict[str, Any]) -> int:
    return sum(1 for key, value in left.items() if right.get(key) == value)


@dataclass
class Sandbox:
    """A served sandbox, its contactsync config and the environment to run against it."""

    server: SandboxServer
    options: SandboxOptions
    config: Path
    credentials: dict[str, str]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def state_path(self) -> Path:
        return self.config.with_suffix(".sqlite")

    @property
    def env(self) -> dict[str, str]:
        """The environment for a subprocess: this one's, plus the sandbox credentials."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTSYNC_")}
        return {**base, **self.credentials}

    def admin(self, system: str, what: str) -> Any:
        answer = self.http.get(self.server.admin_url(system, what))
        answer.raise_for_status()
        return answer.json()

    def records(self, system: str) -> list[dict[str, Any]]:
        """The system's live records as its API shows them."""
        rows: list[dict[str, Any]] = self.admin(system, "records")["records"]
        return [row for row in rows if not row.get("_deleted")]

    def end_state(self) -> EndState:
        return {
            system: Counter(
                json.dumps(scrub(record), sort_keys=True) for record in self.records(system)
            )
            for system in SYSTEMS
        }

    def reset(self) -> None:
        """Every system back to its seeded records, with no requests counted
        (``/_sandbox/reset``): a test sharing the served sandbox starts from the seed."""
        for system in SYSTEMS:
            self.http.post(self.server.admin_url(system, "reset")).raise_for_status()

    def write_requests(self) -> int:
        """Write requests answered so far, all systems together (OAuth and searches aside)."""
        total = 0
        for system in SYSTEMS:
            for row in self.admin(system, "stats")["requests"]:
                if (
                    row["method"] in {"POST", "PUT", "PATCH", "DELETE"}
                    and not row["path"].endswith("/search")
                    and "oauth" not in row["path"]
                ):
                    total += int(row["count"])
        return total


@contextmanager
def sandbox(folder: Path, options: SandboxOptions, name: str = "sandbox") -> Iterator[Sandbox]:
    """Serve a sandbox and write ``folder/<name>.toml`` (state ``<name>.sqlite``) for it."""
    folder.mkdir(parents=True, exist_ok=True)
    with SandboxServer(options, port_base=0) as server:
        config = folder / f"{name}.toml"
        env_file = write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        handle = Sandbox(server, options, config, read_env_file(env_file))
        try:
            yield handle
        finally:
            handle.http.close()


def contactsync(
    *args: str,
    config: Path,
    env: Mapping[str, str],
    crash_at: str | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """``contactsync --config CONFIG ARGS...`` in a subprocess; never raises on failure."""
    environment = dict(env)
    if crash_at is not None:
        environment["CONTACTSYNC_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "contactsync", "--config", str(config), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
