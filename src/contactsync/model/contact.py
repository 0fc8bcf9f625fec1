"""The canonical contact model every system is mapped into and out of.

A ``Contact`` is what one system says about one person, in one vocabulary. Validation
is strict on shape and forgiving on spelling: emails are normalised by ``email-validator``,
phones by ``phonenumbers`` (to E.164, the default region passed as validation context),
dates and datetimes by pydantic. Anything that cannot be understood is a field-level
error that names the field and the value (see :func:`field_errors`); nothing here raises
past pydantic's ``ValidationError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contactsync.model.time import opt_as_utc

#: a system's name. The known names are ``contactsync.adapters.registry.SYSTEMS``,
#: which the model cannot import (it is the bottom layer): a name is checked against
#: the registry where it enters, in the config (the ``[systems]`` table accepts only
#: registered systems) and in mapping files (``mapping.rules``); everything the
#: model is built from comes through one of the two.
SystemName = str
DEFAULT_REGION = "US"


class EmailType(StrEnum):
    WORK = "work"
    HOME = "home"
    OTHER = "other"


class PhoneType(StrEnum):
    MOBILE = "mobile"
    HOME = "home"
    WORK = "work"
    FAX = "fax"
    OTHER = "other"


class ContactStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


class ChannelLabel(StrEnum):
    """Labels of an organization's own channels (Xurrent's vocabulary, the richest)."""

    GENERAL = "general"
    SERVICE_DESK = "service_desk"
    FAX = "fax"
    SERVICE_DESK_FAX = "service_desk_fax"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


#: Distinct values remembered by each normaliser below (and the mapping transforms'
#: phone and name parsers). A run sees each address and number several times (mapping
#: in, validating the Contact, the state's stored copies, outbound payloads, the
#: vendors' answers) and parsing is the costly part of mapping (0.1-1 ms a value);
#: 16,384 entries hold a run of a few thousand people in about 5 MB a cache.
NORMALIZE_CACHE_SIZE = 1 << 14


def normalize_email(value: str) -> str:
    """Trim, validate and case-fold an address; raises ``ValueError`` naming the value."""
    normalized, error = _normalized_email(value.strip())
    if error is not None:
        raise ValueError(error)
    return normalized


@lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _normalized_email(candidate: str) -> tuple[str, str | None]:
    """(normalized, None) or ("", the error message): a pure function, so cached."""
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        return "", f"invalid email {candidate!r}: {exc}"
    return result.normalized.lower(), None


def normalize_phone(value: str, default_region: str = DEFAULT_REGION) -> tuple[str, str | None]:
    """Parse a phone number to (E.164, extension); raises ``ValueError`` naming the value."""
    e164, extension, error = _normalized_phone(value.strip(), default_region)
    if error is not None:
        raise ValueError(error)
    return e164, extension


@lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _normalized_phone(candidate: str, default_region: str) -> tuple[str, str | None, str | None]:
    """(E.164, extension, None) or ("", None, the error message); pure, so cached."""
    try:
        parsed = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException as exc:
        return "", None, f"invalid phone {candidate!r}: {exc}"
    if not phonenumbers.is_possible_number(parsed):
        return "", None, f"invalid phone {candidate!r}: not a possible number"
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164, parsed.extension or None, None


class Email(_Model):
    address: str
    type: EmailType = EmailType.OTHER

    @field_validator("address", mode="before")
    @classmethod
    def _normalize(cls, value: object) -> object:
        return normalize_email(value) if isinstance(value, str) else value


class Phone(_Model):
    number: str = Field(description="E.164, e.g. +14045555555")
    type: PhoneType = PhoneType.OTHER
    extension: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, str):
            data = {"number": data}
        if isinstance(data, dict) and isinstance(data.get("number"), str):
            region = (info.context or {}).get("default_region", DEFAULT_REGION)
            number, extension = normalize_phone(data["number"], region)
            data = {**data, "number": number}
            if extension and not data.get("extension"):
                data["extension"] = extension
        return data


class OrgChannel(_Model):
    """One of an organization's own contact channels: exactly one of telephone, email, website."""

    label: ChannelLabel = ChannelLabel.GENERAL
    telephone: str | None = None
    email: str | None = None
    website: str | None = None
    external_id: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> OrgChannel:
        set_values = [v for v in (self.telephone, self.email, self.website) if v]
        if len(set_values) != 1:
            raise ValueError("an organization channel needs one of telephone, email, website")
        if self.label in (ChannelLabel.FAX, ChannelLabel.SERVICE_DESK_FAX) and not self.telephone:
            raise ValueError(f"label {self.label.value!r} is for telephones only")
        return self


class Organization(_Model):
    name: str | None = None
    refs: dict[str, str] = Field(default_factory=dict, description="system name -> its org id")
    channels: list[OrgChannel] = Field(default_factory=list)


class Address(_Model):
    lines: list[str] = Field(default_factory=list)
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")

    @field_validator("lines", mode="before")
    @classmethod
    def _drop_blank_lines(cls, value: object) -> object:
        if isinstance(value, list):
            return [line for line in value if not (isinstance(line, str) and not line.strip())]
        return value

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        code = value.upper()
        if len(code) != 2 or not code.isalpha() or not code.isascii():
            raise ValueError(f"invalid country {value!r}: expected an ISO 3166-1 alpha-2 code")
        return code

    def is_empty(self) -> bool:
        return not (self.lines or self.city or self.region or self.postal_code or self.country)


class SourceRef(_Model):
    system: SystemName
    external_id: str


NO_IDENTITY = "a contact needs a name, an email, a phone or an id (reference or sync id)"


class Contact(_Model):
    """What one system holds about one person, in canonical form."""

    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    full_name: str | None = Field(default=None, description="the source's own full-name string")
    nickname: str | None = None
    maiden_name: str | None = None
    emails: list[Email] = Field(default_factory=list, description="primary first")
    phones: list[Phone] = Field(default_factory=list, description="primary first")
    job_title: str | None = None
    organization: Organization | None = None
    address: Address | None = None
    birthday: date | None = None
    language: str | None = Field(default=None, description="ISO 639-1")
    notes: str | None = None
    reference: str | None = Field(default=None, description="the organisation's id for the person")
    sync_id: str | None = Field(default=None, description="contactsync person id stamped there")
    status: ContactStatus = ContactStatus.ACTIVE
    updated_at: datetime | None = None
    source: SourceRef | None = None

    @field_validator("updated_at")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        return opt_as_utc(value)

    @field_validator("language")
    @classmethod
    def _iso_language(cls, value: str | None) -> str | None:
        if not value:
            return None
        code = value.lower()
        if len(code) != 2 or not code.isalpha() or not code.isascii():
            raise ValueError(f"invalid language {value!r}: expected an ISO 639-1 code")
        return code

    @model_validator(mode="after")
    def _needs_an_identity(self) -> Contact:
        if not self.is_identifiable():  # an email, phone or id but no name is still somebody
            raise ValueError(NO_IDENTITY)
        return self

    def is_identifiable(self) -> bool:
        """A name, an email, a phone or an id (the person's reference or sync id)."""
        named = self.first_name or self.last_name or self.full_name
        return bool(named or self.emails or self.phones or self.reference or self.sync_id)

    @property
    def primary_email(self) -> str | None:
        return self.emails[0].address if self.emails else None

    @property
    def display_name(self) -> str:
        if self.full_name:
            return self.full_name
        parts = (self.first_name, self.middle_name, self.last_name)
        return " ".join(p for p in parts if p)

    def content_hash(self) -> str:
        """A stable hash of the person's fields (not of the source or timestamp)."""
        return content_hash(self.model_dump(mode="json", exclude=set(_NOT_CONTENT)))


#: fields of a Contact that are not the person's content (see :meth:`Contact.content_hash`)
_NOT_CONTENT = frozenset({"source", "updated_at"})


def dumped_content_hash(dumped: Mapping[str, Any]) -> str:
    """:meth:`Contact.content_hash` of a contact already dumped in JSON mode."""
    return content_hash({key: value for key, value in dumped.items() if key not in _NOT_CONTENT})


def content_hash(payload: Any) -> str:
    """sha256 over canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class FieldError(_Model):
    """One field-level problem, ready to print: ``field: message (value)``."""

    field: str
    message: str
    value: str | None = None
    #: the canonical field a value clearly in the wrong column was moved to (salvaged)
    moved_to: str | None = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (got {self.value})"
        return f"{self.field}: {self.message}{shown}"


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(record)"


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Turn pydantic's error into a list naming each field and the value it got."""
    errors: list[FieldError] = []
    for err in exc.errors(include_url=False):
        value = err.get("input")
        shown = None if isinstance(value, dict) else repr(value)[:200]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append(FieldError(field=_loc_to_path(err["loc"]), message=message, value=shown))
    return errors


def parse_contact(
    data: dict[str, Any], default_region: str = DEFAULT_REGION
) -> tuple[Contact | None, list[FieldError]]:
    """Validate ``data`` into a Contact; never raises for bad data."""
    try:
        return Contact.model_validate(data, context={"default_region": default_region}), []
    except ValidationError as exc:
        return None, field_errors(exc)


# --- actions and run summaries -------------------------------------------------------


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class FieldChange(_Model):
    field: str
    before: Any = None
    after: Any = None


class Action(_Model):
    """One planned write to one system, as the planner emits it and the outbox keeps it."""

    kind: ActionKind
    system: SystemName
    person_id: str
    external_id: str | None = None
    changes: list[FieldChange] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    allow_duplicates: bool = False

    @property
    def key(self) -> str:
        """Idempotency key: one create per person per system, one update per content."""
        if self.kind is ActionKind.CREATE:
            return f"create:{self.system}:{self.person_id}"
        return f"{self.kind.value}:{self.system}:{self.external_id}:{content_hash(self.payload)}"
