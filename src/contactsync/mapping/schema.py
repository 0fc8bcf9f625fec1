"""The canonical vocabulary of mapping files and the compiled rule objects.

Which canonical fields an inbound rule may fill and an outbound rule may read, the
kinds list elements may have, and the immutable rules :mod:`mapping_rules` compiles
a mapping file into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from contactsync.mapping.fit import FieldFit
from contactsync.mapping.paths import Step
from contactsync.mapping.transforms import Transform
from contactsync.model.contact import ChannelLabel, EmailType, PhoneType

SUPPORTED_VERSIONS = (1,)

#: canonical scalar fields holding text (ids given as integers are turned into text)
TEXT_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "nickname",
    "maiden_name",
    "job_title",
    "organization.name",
    "organization.ref",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country",
    "language",
    "notes",
    "reference",
    "sync_id",
    "status",
)
#: canonical scalar fields holding a date / a timestamp (ISO text is accepted inbound)
VALUE_FIELDS = ("birthday", "updated_at")
#: canonical list fields and the kinds their elements may have
LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "emails": tuple(kind.value for kind in EmailType),
    "phones": tuple(kind.value for kind in PhoneType),
    "address.lines": (),
}
NAME_FIELDS = ("first_name", "middle_name", "last_name", "full_name")
INBOUND_TARGETS = (*TEXT_FIELDS, *VALUE_FIELDS, *LIST_FIELDS)
#: outbound-only sources: ``name`` (all name parts, for join_name) and organization channels
CHANNELS = "organization.channels"
CHANNEL_LABELS = tuple(label.value for label in ChannelLabel)
CHANNEL_ATTRS = ("telephone", "email", "website")
OUTBOUND_SOURCES = (*INBOUND_TARGETS, "name", CHANNELS)


@dataclass(frozen=True)
class MappingProblem:
    """One problem in a mapping file; ``str()`` is ``FILE:LINE: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class TransformStep:
    spec: str
    transform: Transform
    arg: str | None


@dataclass(frozen=True)
class Source:
    """Where an outbound value comes from in a Contact (see the module docs of mapping)."""

    text: str
    field: str
    index: int | None = None
    kind: str | None = None
    all: bool = False
    attr: str | None = None


@dataclass(frozen=True)
class InboundRule:
    number: int
    line: int
    source: str
    path: tuple[Step, ...]
    target: str
    kind: str | None
    transforms: tuple[TransformStep, ...]
    value: Any = None
    only_if: tuple[tuple[tuple[Step, ...], str], ...] = ()
    unless: tuple[Step, ...] | None = None

    @cached_property
    def label(self) -> str:
        return f"{self.source} -> {self.target}"


@dataclass(frozen=True)
class OutboundRule:
    number: int
    line: int
    sources: tuple[Source, ...]
    target: str
    path: tuple[Step, ...]
    transforms: tuple[TransformStep, ...]
    value: Any = None
    #: the vendor field's limit and how a longer value is fitted to it (see mapping_fit)
    fit: FieldFit | None = None

    @property
    def label(self) -> str:
        return f"{' | '.join(s.text for s in self.sources)} -> {self.target}"


@dataclass(frozen=True)
class CompiledMapping:
    system: str
    version: int
    enums: dict[str, dict[str, str]] = field(default_factory=dict)
    inbound: tuple[InboundRule, ...] = ()
    outbound: tuple[OutboundRule, ...] = ()
    system_line: int = 1
