"""``contactsync doctor``: can every enabled system be reached, does it accept our
credentials, and does each mapping read vendor fields that the system really sends?

Per enabled system, in order (a failed step skips the later ones for that system):

1. ``reachable``: a TCP connection to the base URL's host (as ``sync``'s preflight).
2. ``credentials``: one cheap authenticated read, the first few records of a full
   extract; a 401/403 names the environment variables to check.
3. ``fields``: each inbound rule's vendor path against those sample records. A path
   no sample holds, nor its top-level key, is reported with the rule's FILE:LINE. It
   fails when every sampled record has the same top-level keys (the vendor lists every
   field, empty ones as null: a key none has is not the vendor's, e.g. a misspelled
   ``from = "nmae"``); it is only a *warning* when the records' keys differ (the
   vendor leaves empty fields out, so an optional field all samples lack looks the
   same as a misspelling).

Exit status: 0 when nothing failed (warnings included), 1 otherwise.

Read-only: adapters are built on their own (no engine, no state file, no lease).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contactsync.adapters.base import Adapter, RawRecord, Window
from contactsync.adapters.registry import adapter_class
from contactsync.cli.run import console, fail, load
from contactsync.config.settings import ConfigError, Settings
from contactsync.engine.pass_outcome import adapter_context
from contactsync.engine.preflight import MAX_WAIT, connect_target
from contactsync.http.errors import SyncError
from contactsync.logs import redact, register_secret
from contactsync.mapping.mapper import Mapping, MappingError, load_mappings
from contactsync.mapping.paths import MISSING, Key, format_path, read_path

SAMPLE_SIZE = 25  # records read per system: enough to see each mapped top-level key
REFUSED = (401, 403)


@dataclass
class Check:
    """One line of the report. JSON keys: system, check (reachable | credentials |
    fields | mappings), ok (false: failed), warning (ok, but worth a look), result,
    fix (empty when ok), file and line (a mapping's rule, for ``fields``; else null)."""

    system: str
    check: str
    ok: bool
    result: str
    fix: str = ""
    file: str | None = None
    line: int | None = None
    warning: bool = False


def reachability(settings: Settings, name: str) -> Check:
    system = settings.system(name)
    target = connect_target(system.base_url or "")
    if target is None:
        return Check(name, "reachable", False, "no base_url host", f"set systems.{name}.base_url")
    where = f"{target[0]}:{target[1]}"
    try:
        socket.create_connection(target, timeout=min(MAX_WAIT, system.timeout)).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        fix = str(settings.error(("systems", name, "base_url"), "check this address"))
        return Check(name, "reachable", False, f"cannot reach {where} ({why})", fix)
    return Check(name, "reachable", True, f"connected to {where}")


def _env_names(settings: Settings, name: str) -> str:
    return ", ".join(settings.system(name).auth.env_fields().values())


def sample_records(
    settings: Settings, name: str, env: dict[str, str]
) -> tuple[Check, list[dict[str, Any]]]:
    """The credentials check and the vendor payloads it read (at most SAMPLE_SIZE)."""
    variables = _env_names(settings, name)
    try:
        credentials = settings.credentials(name, env)
    except ConfigError as exc:
        return Check(name, "credentials", False, str(exc), f"set {variables}"), []
    adapter: Adapter = adapter_class(name)(
        adapter_context(name, settings.system(name), credentials)
    )
    if hasattr(adapter, "on_new_token"):  # an OAuth token learned now is a secret too
        adapter.on_new_token = register_secret
    try:
        records: list[RawRecord] = list(
            islice(adapter.extract(Window(None, datetime.now(UTC))), SAMPLE_SIZE)
        )
    except SyncError as exc:
        if exc.status in REFUSED:
            result = f"credentials refused (HTTP {exc.status})"
            return Check(name, "credentials", False, result, f"check the env var {variables}"), []
        return Check(name, "credentials", False, redact(str(exc)), "see the error"), []
    finally:
        adapter.close()
    payloads = [record.payload for record in records if record.problem is None]
    return Check(name, "credentials", True, f"read {len(payloads)} sample record(s)"), payloads


def field_checks(name: str, mapping: Mapping, samples: list[dict[str, Any]]) -> list[Check]:
    """A problem per inbound rule whose vendor path no sample has, nor its top-level key."""
    if not samples:
        return [Check(name, "fields", True, "no records to compare the mapping with")]
    problems = []
    # every record with the same keys: the vendor sends empty fields too (as null)
    lists_every_field = len(samples) > 1 and len({frozenset(s) for s in samples}) == 1
    for rule in mapping.inbound_rules:
        if not rule.path:
            continue
        first = rule.path[0]
        top = first.name if isinstance(first, Key) else None
        held = any(read_path(sample, rule.path) is not MISSING for sample in samples)
        if held or (top is not None and any(top in sample for sample in samples)):
            continue
        path = format_path(rule.path)
        result = f"no sample record has {path!r} (from {rule.label})"
        fix = f"{mapping.file}:{rule.line}: check the vendor field name"
        if not lists_every_field:
            result += "; the vendor leaves empty fields out, so it may be optional"
        problems.append(
            Check(
                name,
                "fields",
                not lists_every_field,
                result,
                fix,
                mapping.file,
                rule.line,
                warning=not lists_every_field,
            )
        )
    if problems:
        return problems
    return [Check(name, "fields", True, f"{len(mapping.inbound_rules)} rule(s) found in samples")]


def diagnose(settings: Settings, env: dict[str, str]) -> list[Check]:
    """Every check of every enabled system, in config order."""
    checks: list[Check] = []
    try:
        mappings = load_mappings(settings.mappings_dir)
    except MappingError as exc:
        for problem in exc.problems:
            where = f"{problem.file}:{problem.line}"
            checks.append(Check("mappings", "mappings", False, problem.message, where))
        mappings = {}
    for name in settings.enabled_systems():
        reachable = reachability(settings, name)
        checks.append(reachable)
        if not reachable.ok:
            continue
        credentials, samples = sample_records(settings, name, env)
        checks.append(credentials)
        if credentials.ok and name in mappings:
            checks.extend(field_checks(name, mappings[name], samples))
    return checks


def print_checks(checks: list[Check]) -> None:
    """The report as a table; a system's field warnings on one row (``--json`` has each)."""
    table = Table(title="contactsync doctor")
    for column in ("system", "check", "result", "fix"):
        table.add_column(column, overflow="fold")
    for check in grouped_warnings(checks):
        mark = (
            "[red]FAIL[/red]"
            if not check.ok
            else "[yellow]WARN[/yellow]"
            if check.warning
            else "[green]ok[/green]"
        )
        table.add_row(
            escape(check.system),
            escape(check.check),
            f"{mark} {escape(redact(check.result))}",
            escape(redact(check.fix)),
        )
    console.print(table)


def grouped_warnings(checks: list[Check]) -> list[Check]:
    """``checks`` with each system's field warnings as one check, where the first was."""
    warned: dict[str, list[Check]] = {}
    for check in checks:
        if check.warning:
            warned.setdefault(check.system, []).append(check)
    shown: list[Check] = []
    for check in checks:
        if not check.warning:
            shown.append(check)
        elif check is warned[check.system][0]:
            group = warned[check.system]
            lines = ", ".join(str(c.line) for c in group)
            result = f"{len(group)} mapped field(s) in none of the sample records" + (
                f" ({check.result.split(' (from', 1)[0].removeprefix('no sample record has ')}"
                + (f" and {len(group) - 1} more)" if len(group) > 1 else ")")
            )
            fix = f"{check.file}, lines {lines}: optional fields, or misspelled? (--json)"
            shown.append(Check(check.system, check.check, True, result, fix, warning=True))
    return shown


def doctor_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check each enabled system: reachable, credentials accepted, mapped fields present.

    ``--json``: {"status": "ok" | "warnings" | "failed", "checks": [Check...]} (see
    Check's keys). Exit 0 when no check failed (warnings aside), 1 when any did."""
    config: Path = ctx.obj.config
    settings = load(config, ctx.obj.log_format, as_json=as_json)
    try:
        checks = diagnose(settings, dict(os.environ))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    failed = any(not check.ok for check in checks)
    warned = any(check.warning for check in checks)
    if as_json:
        payload = {
            "status": "failed" if failed else "warnings" if warned else "ok",
            "checks": [
                {**asdict(c), "result": redact(c.result), "fix": redact(c.fix)} for c in checks
            ],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        print_checks(checks)
    raise typer.Exit(1 if failed else 0)
