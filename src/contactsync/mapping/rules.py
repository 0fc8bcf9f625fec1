"""Compile a mapping file's TOML text into rules, collecting every problem with its line.

The file format is documented in :mod:`contactsync.mapping.mapper`. Here: the canonical
vocabulary (which fields a rule may target or read), the compiled rule objects, and
the checks behind ``contactsync mappings check``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from functools import partial
from typing import Any

from contactsync.adapters.registry import SYSTEMS
from contactsync.mapping.fit import FIT_KEYS, compile_fit
from contactsync.mapping.locate import TomlLocator
from contactsync.mapping.paths import Key, PathSyntaxError, Step, parse_path
from contactsync.mapping.schema import (
    CHANNEL_ATTRS,
    CHANNEL_LABELS,
    CHANNELS,
    INBOUND_TARGETS,
    LIST_FIELDS,
    OUTBOUND_SOURCES,
    SUPPORTED_VERSIONS,
    CompiledMapping,
    InboundRule,
    MappingProblem,
    OutboundRule,
    Source,
    TransformStep,
)
from contactsync.mapping.transforms import (
    Direction,
    get_transform,
    split_spec,
    transform_names,
)
from contactsync.model.contact import ContactStatus

INBOUND_KEYS = ("from", "to", "transforms", "kind", "value", "only_if", "unless")
OUTBOUND_KEYS = ("from", "to", "transforms", "select", "index", "all", "value", *FIT_KEYS)
TOP_KEYS = ("system", "version", "enums", "inbound", "outbound")

_SOURCE_RE = re.compile(
    r"^(?P<field>[a-z_]+(?:\.[a-z_]+)?)(?:\[(?P<index>\d+|\*)\])?"
    r"(?::(?P<kind>[a-z_]+))?(?::(?P<attr>[a-z_]+))?$"
)
STATUSES = tuple(status.value for status in ContactStatus)
_TOML_LINE_RE = re.compile(r"\(at line (\d+), column \d+\)")


def compile_mapping(text: str, file: str) -> tuple[CompiledMapping | None, list[MappingProblem]]:
    """Parse and check one mapping file; the mapping is ``None`` when any problem was found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE_RE.search(str(exc))
        line = int(found[1]) if found else max(1, len(text.splitlines()))
        message = _TOML_LINE_RE.sub("", str(exc)).strip()
        return None, [MappingProblem(file, line, f"TOML syntax error: {message}")]
    compiler = _Compiler(file, TomlLocator(text))
    compiled = compiler.run(data)
    return (None if compiler.problems else compiled), compiler.problems


class _Compiler:
    def __init__(self, file: str, locator: TomlLocator) -> None:
        self.file = file
        self.at = locator
        self.problems: list[MappingProblem] = []
        self.enums: dict[str, dict[str, str]] = {}

    def problem(self, line: int, message: str) -> None:
        self.problems.append(MappingProblem(self.file, line, message))

    def run(self, data: dict[str, Any]) -> CompiledMapping:
        for key in data:
            if key not in TOP_KEYS:
                self.problem(self.at.top_key(key), f"unknown top-level key {key!r}")
        system = data.get("system")
        if system not in SYSTEMS:
            shown = "missing" if system is None else f"{system!r}"
            line = self.at.top_key("system")
            self.problem(line, f"system is {shown}; expected one of {', '.join(SYSTEMS)}")
        version = data.get("version")
        if version not in SUPPORTED_VERSIONS:
            self.problem(self.at.top_key("version"), f"version must be 1 (got {version!r})")
        self.enums = self._enums(data.get("enums", {}))
        inbound = [self._inbound(i, r) for i, r in enumerate(self._array(data, "inbound"))]
        outbound = [self._outbound(i, r) for i, r in enumerate(self._array(data, "outbound"))]
        self._duplicate_targets([r for r in outbound if r is not None])
        return CompiledMapping(
            system=str(system),
            version=version if isinstance(version, int) else 0,
            enums=self.enums,
            inbound=tuple(r for r in inbound if r is not None),
            outbound=tuple(r for r in outbound if r is not None),
            system_line=self.at.top_key("system"),
        )

    def _array(self, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(self.at.top_key(name), f"{name} must be written as [[{name}]] tables")
            return []
        return value

    def _enums(self, raw: Any) -> dict[str, dict[str, str]]:
        if not isinstance(raw, dict):
            self.problem(self.at.top_key("enums"), "enums must be tables: [enums.NAME]")
            return {}
        tables: dict[str, dict[str, str]] = {}
        for name, table in raw.items():
            line = self.at.section(f"enums.{name}")
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                self.problem(line, f"[enums.{name}] must map vendor values to canonical text")
                continue
            tables[name] = dict(table)
        return tables

    # --- rules -------------------------------------------------------------------

    def _keys(
        self, section: str, index: int, rule: dict[str, Any], allowed: tuple[str, ...]
    ) -> bool:
        ok = True
        for key in rule:
            if key not in allowed:
                line = self.at.key(section, index, key)
                self.problem(
                    line,
                    f"{section} rule {index + 1}: unknown key {key!r} "
                    f"(allowed: {', '.join(allowed)})",
                )
        for key in ("from", "to"):
            if key not in rule:
                line = self.at.section(section, index)
                self.problem(line, f"{section} rule {index + 1}: missing {key!r}")
                ok = False
        return ok

    def _inbound(self, index: int, rule: dict[str, Any]) -> InboundRule | None:
        where = f"inbound rule {index + 1}"
        line_of = partial(self.at.key, "inbound", index)
        if not self._keys("inbound", index, rule, INBOUND_KEYS):
            return None
        path = self._path(rule["from"], line_of("from"), where)
        target = rule["to"]
        if target not in INBOUND_TARGETS:
            self.problem(
                line_of("to"),
                f"{where}: unknown canonical field {target!r} "
                f"(known: {', '.join(INBOUND_TARGETS)})",
            )
        kind = rule.get("kind")
        if kind is not None:
            kinds = LIST_FIELDS.get(target, ())
            if not kinds:
                self.problem(line_of("kind"), f"{where}: kind only applies to emails and phones")
            elif kind not in kinds:
                self.problem(
                    line_of("kind"),
                    f"{where}: bad kind {kind!r} for {target} (expected {'|'.join(kinds)})",
                )
        transforms = self._transforms("inbound", index, rule)
        if target == "status" and transforms:
            self._status_enum(transforms, line_of("transforms"), where)
        only_if = self._only_if(rule.get("only_if"), line_of("only_if"), where)
        unless = rule.get("unless")
        unless_path = None if unless is None else self._path(unless, line_of("unless"), where)
        if path is None or target not in INBOUND_TARGETS or transforms is None:
            return None
        return InboundRule(
            index + 1,
            self.at.section("inbound", index),
            str(rule["from"]),
            path,
            target,
            kind,
            transforms,
            rule.get("value"),
            only_if,
            unless_path,
        )

    def _outbound(self, index: int, rule: dict[str, Any]) -> OutboundRule | None:
        where = f"outbound rule {index + 1}"
        line_of = partial(self.at.key, "outbound", index)
        if not self._keys("outbound", index, rule, OUTBOUND_KEYS):
            return None
        sources = self._sources(rule, line_of, where)
        path = self._path(rule["to"], line_of("to"), where)
        if path is not None and not isinstance(path[-1], Key):
            self.problem(line_of("to"), f"{where}: 'to' must end with a field name")
            path = None
        transforms = self._transforms("outbound", index, rule)
        if sources and transforms is not None:
            joined = any(t.transform.name == "join_name" for t in transforms)
            if any(s.field == "name" for s in sources) and not joined:
                self.problem(line_of("from"), f"{where}: source 'name' needs transform join_name")
        fit, fit_problems = compile_fit(rule, line_of, where)
        for line, message in fit_problems:
            self.problem(line, message)
        if not sources or path is None or transforms is None or fit_problems:
            return None
        return OutboundRule(
            index + 1,
            self.at.section("outbound", index),
            sources,
            str(rule["to"]),
            path,
            transforms,
            rule.get("value"),
            fit,
        )

    def _status_enum(self, transforms: tuple[TransformStep, ...], line: int, where: str) -> None:
        """An enum feeding ``status`` must map to canonical statuses only."""
        for step in transforms:
            table = self.enums.get(step.arg or "") if step.transform.name == "enum" else None
            wrong = sorted({v for v in (table or {}).values() if v not in STATUSES})
            if wrong:
                self.problem(
                    line,
                    f"{where}: [enums.{step.arg}] maps to {', '.join(wrong)}, "
                    f"not a canonical status ({', '.join(STATUSES)})",
                )

    def _path(self, raw: Any, line: int, where: str) -> tuple[Step, ...] | None:
        try:
            return parse_path(raw)
        except PathSyntaxError as exc:
            self.problem(line, f"{where}: {exc}")
            return None

    def _only_if(self, raw: Any, line: int, where: str) -> tuple[tuple[tuple[Step, ...], str], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, dict) or not all(
            isinstance(v, str | int | bool) for v in raw.values()
        ):
            self.problem(line, f"{where}: only_if must be a table of vendor path = value")
            return ()
        pairs = []
        for key, value in raw.items():
            path = self._path(key, line, where)
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            if path is not None:
                pairs.append((path, text))
        return tuple(pairs)

    def _transforms(
        self, section: Direction, index: int, rule: dict[str, Any]
    ) -> tuple[TransformStep, ...] | None:
        where = f"{section} rule {index + 1}"
        line = self.at.key(section, index, "transforms")
        raw = rule.get("transforms", [])
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            self.problem(line, f"{where}: transforms must be a list of names")
            return None
        steps: list[TransformStep] = []
        ok = True
        for spec in raw:
            name, arg = split_spec(spec)
            transform = get_transform(name)
            message = None
            if transform is None:
                message = f"unknown transform {name!r} (known: {', '.join(transform_names())})"
            elif transform.function(section) is None:
                other = "inbound" if section == "outbound" else "outbound"
                message = f"transform {name!r} only works {other}"
            elif (arg_problem := transform.check_arg(arg)) is not None:
                message = f"transform {name!r} {arg_problem}"
            elif name == "enum" and arg not in self.enums:
                message = f"enum table {arg!r} is not defined (add [enums.{arg}])"
            elif name == "constant" and rule.get("value") is None and arg is None:
                message = "transform 'constant' needs a 'value' key"
            if message or transform is None:
                self.problem(line, f"{where}: {message}")
                ok = False
                continue
            steps.append(TransformStep(spec, transform, arg))
        if "value" in rule and not any(s.transform.name == "constant" for s in steps) and ok:
            self.problem(
                self.at.key(section, index, "value"),
                f"{where}: 'value' is only used by the constant transform",
            )
            ok = False
        return tuple(steps) if ok else None

    def _sources(
        self, rule: dict[str, Any], line_of: Callable[[str], int], where: str
    ) -> tuple[Source, ...]:
        raw = rule["from"]
        texts = [raw] if isinstance(raw, str) else raw
        line = line_of("from")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            self.problem(line, f"{where}: 'from' must be a field or a list of fields")
            return ()
        sources = [self._source(text, line, where) for text in texts]
        if any(s is None for s in sources):
            return ()
        found = [s for s in sources if s is not None]
        extra: dict[str, Any] = {k: rule[k] for k in ("select", "index", "all") if k in rule}
        if extra:
            merged = self._apply_selection(found, extra, line_of, where)
            return tuple(merged) if merged is not None else ()
        return tuple(found)

    def _apply_selection(
        self,
        sources: list[Source],
        extra: dict[str, Any],
        line_of: Callable[[str], int],
        where: str,
    ) -> list[Source] | None:
        key = next(iter(extra))
        line = line_of(key)
        if len(extra) > 1:
            self.problem(line, f"{where}: use only one of select, index, all")
            return None
        if len(sources) != 1 or sources[0].index is not None or sources[0].kind or sources[0].all:
            self.problem(
                line,
                f"{where}: {key} needs a single list field in 'from' "
                '(write fallbacks inline: "phones:work")',
            )
            return None
        source = sources[0]
        value = extra[key]
        kinds = LIST_FIELDS.get(source.field)
        if kinds is None:
            self.problem(line, f"{where}: {key} only applies to {', '.join(LIST_FIELDS)}")
            return None
        if key == "select" and value not in kinds:
            expected = "|".join(kinds) or "nothing: this list has no kinds"
            self.problem(line, f"{where}: bad select {value!r} (expected {expected})")
            return None
        if key == "index" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            self.problem(line, f"{where}: index must be a whole number >= 0")
            return None
        if key == "all" and not isinstance(value, bool):
            self.problem(line, f"{where}: all must be true or false")
            return None
        return [
            Source(
                source.text,
                source.field,
                index=value if key == "index" else None,
                kind=value if key == "select" else None,
                all=key == "all" and value,
            )
        ]

    def _source(self, text: str, line: int, where: str) -> Source | None:
        match = _SOURCE_RE.match(text.strip())
        if match is None or match["field"] not in OUTBOUND_SOURCES:
            self.problem(
                line,
                f"{where}: unknown canonical field {text!r} (known: {', '.join(OUTBOUND_SOURCES)})",
            )
            return None
        name, index, kind, attr = match["field"], match["index"], match["kind"], match["attr"]
        if name == CHANNELS:
            if kind not in CHANNEL_LABELS or attr not in CHANNEL_ATTRS or index is not None:
                self.problem(
                    line,
                    f"{where}: write organization channels as "
                    f"organization.channels:LABEL:ATTR (LABEL {'|'.join(CHANNEL_LABELS)}; "
                    f"ATTR {'|'.join(CHANNEL_ATTRS)})",
                )
                return None
            return Source(text, name, kind=kind, attr=attr)
        kinds = LIST_FIELDS.get(name)
        if attr is not None or ((index or kind) and kinds is None) or (index and kind):
            self.problem(line, f"{where}: bad selector in {text!r}")
            return None
        if kind is not None and kind not in (kinds or ()):
            self.problem(
                line, f"{where}: bad kind {kind!r} in {text!r} (expected {'|'.join(kinds or ())})"
            )
            return None
        position = None if index in (None, "*") else int(index)
        return Source(text, name, index=position, kind=kind, all=index == "*")

    def _duplicate_targets(self, rules: list[OutboundRule]) -> None:
        seen: dict[str, int] = {}
        for rule in rules:
            if rule.target in seen:
                self.problem(
                    rule.line,
                    f"outbound rule {rule.number}: {rule.target!r} is "
                    f"already written by outbound rule {seen[rule.target]}",
                )
            seen.setdefault(rule.target, rule.number)
