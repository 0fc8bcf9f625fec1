"""Config-driven field mappings: ``mappings/<system>.toml`` <-> the canonical ``Contact``.

A mapping file is data, not code. Format (version 1)::

    system = "trackops"           # one of trackops, growcrm, rhythm, pylon, xurrent
    version = 1

    [enums.status]                # vendor value = canonical value (inbound);
    active = "active"             # outbound takes the FIRST vendor value listed
    inactive = "inactive"         # for a canonical value. Booleans are looked up
                                  # as "true" / "false".

    [[inbound]]                   # vendor -> canonical, applied in file order
    from = "dates.updated"        # vendor path (see mapping_paths): a.b, a[0],
    to = "updated_at"             #   list[key=value].field
    transforms = ["iso_datetime"] # named transforms, in order ("enum:status", ...)
    kind = "mobile"               # emails/phones only: the element's type
    only_if = { source = "contactsync" }  # apply only when these vendor fields match
    unless = "home_address"       # skip when this vendor field holds a value

    [[outbound]]                  # canonical -> vendor
    from = ["phones:work", "organization.channels:general:telephone"]
    to = "phone_office"           # vendor path; [key=value] steps create the element
    transforms = ["e164"]
    # for a single list source, instead of an inline selector:
    # select = "mobile" | index = 0 | all = true
    # value = "contactsync"       # the constant transform's value

Inbound targets are the ``Contact`` fields (``organization.name``, ``organization.ref``
= this system's own organization id, ``address.city`` ... ``address.lines`` appends).
For scalar targets the first rule that yields a value wins; list targets (emails,
phones, address lines) append, dropping duplicates. A missing or null vendor field
yields nothing; a present but unusable value is a field error naming
``vendor path -> canonical field``: that value is left out (or, clearly in the wrong
column, moved), the rest of the record is kept. Only a record left with nothing to
identify anyone by (no name, email, phone or id) is refused.

Outbound sources: any inbound target, plus

* ``LIST[N]`` (N-th element, 0 = primary), ``LIST:KIND`` (first element of that
  kind, e.g. ``phones:work``), ``LIST[*]`` (the whole list); a bare list field means
  its primary element. A phone renders as E.164 plus `` xEXT`` when it has one.
* ``organization.channels:LABEL:ATTR``: the organization's own channel of that label
  (general, service_desk, fax, service_desk_fax), its telephone/email/website.
* ``name``: all name parts, for the ``join_name`` transform (full_name when set).

``from`` may list several sources; the first that holds a value wins. Empty values
are left out of the payload, so it holds only mapped fields that have a value. An
outbound rule may declare its vendor field's limit and how to fit a longer value:
``max_length = 255`` with ``fit = "truncate"`` (and ``marker = "…"``) or ``fit = "drop"``
(see :mod:`contactsync.mapping.fit`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from contactsync.mapping.paths import PathTypeError, read_path, write_path
from contactsync.mapping.rules import compile_mapping
from contactsync.mapping.schema import (
    LIST_FIELDS,
    NAME_FIELDS,
    CompiledMapping,
    InboundRule,
    MappingProblem,
    OutboundRule,
    TransformStep,
)
from contactsync.mapping.transforms import (
    Direction,
    TransformContext,
    TransformError,
    describe,
    enum_key,
    register_transform,
)
from contactsync.mapping.values import (
    ContactBuilder,
    drop_value,
    is_empty,
    jsonable,
    read_source,
    shown,
)
from contactsync.model.contact import (
    DEFAULT_REGION,
    Contact,
    FieldError,
    content_hash,
    parse_contact,
)

__all__ = [
    "Mapping",
    "MappingError",
    "MappingProblem",
    "check_mappings",
    "load_mappings",
    "register_transform",
]

log = structlog.get_logger(__name__)

#: values the model may refuse in one record before it is given up as unreadable
MAX_DROPPED_VALUES = 25


class MappingError(ValueError):
    """A mapping file (or directory) that cannot be used; ``str()`` lists ``FILE:LINE: message``."""

    def __init__(self, problems: list[MappingProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class Mapping:
    """One system's compiled mapping: vendor record <-> canonical ``Contact``."""

    def __init__(self, compiled: CompiledMapping, file: str = "<mapping>") -> None:
        self._compiled = compiled
        self.file = file
        # (step, rule value, direction, region) -> its context: made once, not per value
        self._contexts: dict[tuple[int, int, Direction, str], TransformContext] = {}
        # top-level payload key -> digests of the values the system refused there
        self._refused: dict[str, set[str]] = {}

    @property
    def system(self) -> str:
        return self._compiled.system

    @property
    def system_line(self) -> int:
        """The line of ``system = ...`` in the file."""
        return self._compiled.system_line

    @property
    def inbound_rules(self) -> tuple[InboundRule, ...]:
        return self._compiled.inbound

    @property
    def outbound_rules(self) -> tuple[OutboundRule, ...]:
        return self._compiled.outbound

    @property
    def outbound_fields(self) -> list[str]:
        """The vendor paths outbound may write, in file order."""
        return [rule.target for rule in self._compiled.outbound]

    @classmethod
    def load(cls, path: Path) -> Mapping:
        """Read and compile one file; raises ``MappingError`` (``FILE:LINE: message``)."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError([MappingProblem(str(path), 1, f"cannot read: {exc}")]) from None
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, file: str = "<string>") -> Mapping:
        compiled, problems = compile_mapping(text, file)
        if compiled is None or problems:
            raise MappingError(problems)
        return cls(compiled, file)

    # --- inbound -----------------------------------------------------------------

    def inbound(
        self, raw: dict[str, Any], *, default_region: str = DEFAULT_REGION
    ) -> tuple[Contact | None, list[FieldError]]:
        """Map one vendor record to a Contact; never raises for bad data.

        A bad value costs that value, not the record: it is left out of the contact and
        reported in the errors returned beside it. A value clearly in the wrong column
        (an email address in a phone field, a phone number in an email field) is moved
        where it belongs and reported with ``moved_to``. The contact is None only when
        what is left identifies nobody (no name, email, phone or id).
        """
        if not isinstance(raw, dict):
            message = f"expected a {self.system} record object, got {describe(raw)}"
            return None, [FieldError(field="(record)", message=message)]
        builder = ContactBuilder(self.system, default_region)
        errors: list[FieldError] = []
        for rule in self._compiled.inbound:
            try:
                if not self._applies(rule, raw):
                    continue
                found = read_path(raw, rule.path)
            except PathTypeError as exc:
                errors.append(FieldError(field=rule.label, message=str(exc)))
                continue
            if is_empty(found):
                continue
            items = found if isinstance(found, list) and rule.target in LIST_FIELDS else [found]
            for item in items:
                try:
                    value = self._run(rule.transforms, item, "inbound", rule.value, default_region)
                    if not is_empty(value):
                        builder.put(rule, value)
                except (ValueError, TypeError) as exc:  # TransformError, or a custom transform's
                    moved_to = builder.salvage(rule, item)
                    message = str(exc) if moved_to is None else f"{exc}; moved to {moved_to}"
                    errors.append(
                        FieldError(
                            field=rule.label, message=message, value=shown(item), moved_to=moved_to
                        )
                    )
        return self._validated(builder, errors, default_region), errors

    def _validated(
        self, builder: ContactBuilder, errors: list[FieldError], default_region: str
    ) -> Contact | None:
        """The builder's data as a Contact, leaving out each value the model refuses (a
        country that is no ISO code, an unknown language...) and adding why to
        ``errors``; None when the rest identifies nobody."""
        failed = {error.field for error in errors}
        for _ in range(MAX_DROPPED_VALUES):
            contact, model_errors = parse_contact(builder.data, default_region)
            if contact is not None:
                return contact
            progress = False
            for error in model_errors:
                translated = self._translate(error, builder.origins)
                if translated.field not in failed:
                    errors.append(translated)
                    failed.add(translated.field)
                progress = drop_value(builder.data, error.field) or progress
            if not progress:  # nothing left to leave out: nothing identifies anyone
                return None
        return None

    def _applies(self, rule: InboundRule, raw: dict[str, Any]) -> bool:
        if rule.unless is not None and not is_empty(read_path(raw, rule.unless)):
            return False
        for path, expected in rule.only_if:
            found = read_path(raw, path)
            if is_empty(found) or isinstance(found, dict | list) or enum_key(found) != expected:
                return False
        return True

    def _translate(self, error: FieldError, origins: dict[str, str]) -> FieldError:
        """Rename a Contact validation error after the vendor field that fed it."""
        if error.field == "(record)" and "name" in error.message:
            rules = [r for r in self._compiled.inbound if r.target in NAME_FIELDS]
            sources = ", ".join(dict.fromkeys(r.source for r in rules)) or "(no name rule)"
            targets = "/".join(dict.fromkeys(r.target for r in rules)) or "name"
            return FieldError(field=f"{sources} -> {targets}", message=error.message)
        best = ""
        for location in origins:
            if error.field == location or error.field.startswith((location + ".", location + "[")):
                best = location if len(location) > len(best) else best
        if not best:
            return error
        return FieldError(field=origins[best], message=error.message, value=error.value)

    def _run(
        self,
        steps: tuple[TransformStep, ...],
        value: Any,
        direction: Direction,
        rule_value: Any,
        region: str,
    ) -> Any:
        for step in steps:
            function = step.transform.function(direction)
            if function is None:  # compile rejects this; guard for transforms replaced later
                raise TransformError(f"transform {step.transform.name!r} cannot run {direction}")
            key = (id(step), id(rule_value), direction, region)
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = TransformContext(
                    direction, step.arg, rule_value, region, self._compiled.enums
                )
                self._contexts[key] = ctx
            value = function(value, ctx)
            if is_empty(value):
                return None
        return value

    # --- outbound ----------------------------------------------------------------

    def outbound(self, contact: Contact) -> dict[str, Any]:
        """The vendor-shaped payload of the mapped fields that have a value.

        A value that cannot be rendered (e.g. a status with no vendor equivalent) is
        left out and logged; use :meth:`outbound_checked` to get those errors.
        """
        payload, errors = self.outbound_checked(contact)
        for error in errors:
            log.warning("mapping.outbound_field_skipped", system=self.system, error=str(error))
        return payload

    def outbound_checked(
        self, contact: Contact, *, default_region: str = DEFAULT_REGION
    ) -> tuple[dict[str, Any], list[FieldError]]:
        payload: dict[str, Any] = {}
        errors: list[FieldError] = []
        for rule in self._compiled.outbound:
            candidates = (read_source(contact, s, self.system) for s in rule.sources)
            found = next((value for value in candidates if not is_empty(value)), None)
            if found is None:
                continue
            try:
                if isinstance(found, list):
                    rendered = [
                        self._run(rule.transforms, item, "outbound", rule.value, default_region)
                        for item in found
                    ]
                    value: Any = [jsonable(item) for item in rendered if not is_empty(item)]
                else:
                    value = jsonable(
                        self._run(rule.transforms, found, "outbound", rule.value, default_region)
                    )
                if rule.fit is not None:
                    value = rule.fit.apply(value)
                if not is_empty(value):
                    write_path(payload, rule.path, value)
            except (ValueError, TypeError) as exc:  # TransformError, PathTypeError, custom
                errors.append(FieldError(field=rule.label, message=str(exc), value=shown(found)))
        for key in self._refused.keys() & payload.keys():
            if content_hash(payload[key]) in self._refused[key]:
                del payload[key]  # the system refused exactly this value for this field
        return payload, errors

    def refuse(self, key: str, value_digest: str) -> None:
        """Leave the value whose :func:`~contactsync.model.contact.content_hash` is
        ``value_digest`` out of payload field ``key`` from now on: the system refused it
        there (see :mod:`contactsync.engine.field_fit`), so sending it again cannot help."""
        self._refused.setdefault(key, set()).add(value_digest)


def load_mappings(directory: Path) -> dict[str, Mapping]:
    """Every ``*.toml`` in ``directory`` by system; raises ``MappingError`` listing all problems."""
    mappings, problems = _load_all(directory)
    if problems:
        raise MappingError(problems)
    return mappings


def check_mappings(directory: Path) -> list[MappingProblem]:
    """All problems of the mapping files in ``directory`` (empty when all are fine)."""
    return _load_all(directory)[1]


def _load_all(directory: Path) -> tuple[dict[str, Mapping], list[MappingProblem]]:
    if not directory.is_dir():
        return {}, [MappingProblem(str(directory), 1, "not a directory")]
    files = sorted(directory.glob("*.toml"))
    if not files:
        return {}, [MappingProblem(str(directory), 1, "no *.toml mapping files")]
    mappings: dict[str, Mapping] = {}
    problems: list[MappingProblem] = []
    for path in files:
        try:
            mapping = Mapping.load(path)
        except MappingError as exc:
            problems.extend(exc.problems)
            continue
        if mapping.system in mappings:
            first = mappings[mapping.system].file
            message = f"system {mapping.system!r} is already mapped by {first}"
            problems.append(MappingProblem(str(path), mapping.system_line, message))
            continue
        mappings[mapping.system] = mapping
    return mappings, problems
